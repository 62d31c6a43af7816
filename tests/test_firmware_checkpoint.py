"""Two-slot head checkpoints: the C writer/loader (host build), the Python reader/writer of the same
bytes, torn writes, corrupted slots, identity checks, and checkpoint exchange with the host Personalizer."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from har_edge.codegen.head import HEADER_BYTES, HeadSpec, head_spec
from har_edge.firmware.checkpoint import (
    CorruptSlotError,
    ModelMismatchError,
    ShapeMismatchError,
    Slot,
    SlotIdentity,
    SlotStorage,
    device_storage,
    host_checkpoint,
)
from har_edge.firmware.head_harness import HeadCommands, HeadFirmware
from har_edge.runtime.bundle import open_bundle
from har_edge.runtime.checkpoint import Checkpoint
from har_edge.runtime.classifier import Classifier
from har_edge.runtime.head import HeadWeights
from har_edge.runtime.personalize import Personalizer

GOLDEN = Path(__file__).parent / "golden" / "dense_int8"
OK, WRONG_SHAPE, WRONG_MODEL, BAD_CRC, NOT_FINITE, IO_ERROR, NO_VALID_SLOT = 0, 3, 4, 5, 6, 7, 8


@pytest.fixture(scope="module")
def spec() -> HeadSpec:
    return head_spec(open_bundle(GOLDEN))


@pytest.fixture(scope="module")
def firmware(spec, tmp_path_factory) -> HeadFirmware:
    return HeadFirmware(spec, "host", tmp_path_factory.mktemp("checkpoint_host"))


def trained_commands(spec: HeadSpec, seed: int, steps: int = 3) -> HeadCommands:
    """Commands for a few SGD steps from the bundle's weights (so every save holds other weights)."""
    rng = np.random.default_rng(seed)
    commands = HeadCommands(spec)
    for _ in range(steps):
        x = rng.normal(0, 1, (8, spec.weights.n_features)).astype(np.float32)
        commands.train(x, np.eye(spec.weights.n_classes, dtype=np.float32)[rng.integers(0, 4, 8)], 0.05)
    return commands


def weights_only(results: list) -> list[dict]:
    return [r for r in results if isinstance(r, dict)]


def assert_same_weights(got: dict | HeadWeights, want: dict | HeadWeights) -> None:
    got = got.named() if isinstance(got, HeadWeights) else got
    want = want.named() if isinstance(want, HeadWeights) else want
    assert got.keys() == want.keys()
    for name in want:
        np.testing.assert_array_equal(got[name], want[name])


@pytest.fixture(scope="module")
def saved_once(spec, firmware):
    """Storage after training and one save (slot 0, sequence 1), and the weights it holds."""
    commands = trained_commands(spec, seed=1)
    commands.get_weights()
    commands.save()
    run = firmware.run(commands)
    (weights,) = weights_only(run.results)
    assert run.results[-1].status == OK
    return run.storage, weights


def load_in_c(firmware: HeadFirmware, storage: bytes):
    """Reset to the bundle's weights, load the storage; (load reply, weights after the load)."""
    commands = HeadCommands(firmware.spec)
    commands.load()
    commands.get_weights()
    reply, weights = firmware.run(commands, storage).results
    return reply, weights


def test_c_save_alternates_slots_and_load_takes_the_newest(spec, firmware, saved_once):
    storage, first = saved_once
    commands = trained_commands(spec, seed=2)
    commands.save()
    commands.get_weights()
    run = firmware.run(commands, storage)
    save_reply, second = run.results[-2:]
    assert (save_reply.status, save_reply.active_slot, save_reply.sequence) == (OK, 1, 2)
    reply, loaded = load_in_c(firmware, run.storage)
    assert (reply.status, reply.active_slot, reply.sequence, reply.slot_status) == (OK, 1, 2, (OK, OK))
    assert_same_weights(loaded, second)
    assert not np.array_equal(second["w0"], first["w0"])


@pytest.mark.parametrize("where", ["header", "payload", "trailer"])
def test_torn_write_keeps_the_previous_slot_loadable(spec, firmware, saved_once, where):
    storage, first = saved_once
    tear_after = {
        "header": HEADER_BYTES // 2,
        "payload": HEADER_BYTES + 1000,
        "trailer": HEADER_BYTES + 4 * spec.n_parameters + 2,
    }
    commands = trained_commands(spec, seed=3)
    commands.save(tear_after=tear_after[where])
    run = firmware.run(commands, storage)
    assert run.results[-1].status == IO_ERROR
    reply, loaded = load_in_c(firmware, run.storage)
    assert (reply.status, reply.active_slot, reply.sequence) == (OK, 0, 1)
    assert_same_weights(loaded, first)
    with pytest.raises(CorruptSlotError):
        SlotStorage(run.storage, spec.slot_bytes).slot(1)
    assert SlotStorage(run.storage, spec.slot_bytes).newest()[0] == 0


def flipped(storage: bytes, offset: int) -> bytes:
    data = bytearray(storage)
    data[offset] ^= 0x10
    return bytes(data)


def test_corrupted_slot_is_refused_and_the_other_one_loads(spec, firmware, saved_once):
    storage, first = saved_once
    newer = SlotStorage(storage, spec.slot_bytes).saved(
        HeadWeights.random(400, 4, seed=9), SlotIdentity.of(spec)
    )
    corrupted = flipped(newer.data, spec.slot_bytes + HEADER_BYTES + 123)  # a payload byte of slot 1
    reply, loaded = load_in_c(firmware, corrupted)
    assert (reply.status, reply.active_slot, reply.slot_status) == (OK, 0, (OK, BAD_CRC))
    assert_same_weights(loaded, first)
    with pytest.raises(CorruptSlotError, match="CRC-32"):
        SlotStorage(corrupted, spec.slot_bytes).slot(1)


def test_no_valid_slot_leaves_the_weights_unchanged(spec, firmware, saved_once):
    storage, _ = saved_once
    reply, loaded = load_in_c(firmware, flipped(storage, 40))  # a byte of slot 0's base hash
    assert (reply.status, reply.active_slot) == (NO_VALID_SLOT, -1)
    assert_same_weights(loaded, spec.weights)
    with pytest.raises(CorruptSlotError, match="no valid checkpoint"):
        host_checkpoint(flipped(storage, 40), spec)


@pytest.mark.parametrize("field", ["base_sha256", "labels_crc32"])
def test_c_refuses_a_slot_of_another_model_or_label_set(spec, firmware, field):
    other = dataclasses.replace(SlotIdentity.of(spec), **{field: "9" * 64 if field == "base_sha256" else 7})
    storage = SlotStorage.erased(spec.slot_bytes).saved(HeadWeights.random(400, 4, seed=1), other)
    reply, loaded = load_in_c(firmware, storage.data)
    assert (reply.status, reply.slot_status) == (NO_VALID_SLOT, (WRONG_MODEL, 1))
    assert_same_weights(loaded, spec.weights)


def test_c_refuses_a_slot_of_another_shape(spec, firmware):
    storage = SlotStorage.erased(spec.slot_bytes).saved(
        HeadWeights.random(400, 3, seed=1), SlotIdentity.of(spec)
    )
    reply, _ = load_in_c(firmware, storage.data)
    assert reply.slot_status[0] == WRONG_SHAPE


def test_python_reads_the_c_slot_and_c_loads_the_python_slot(spec, firmware, saved_once):
    storage, first = saved_once
    index, slot = SlotStorage(storage, spec.slot_bytes).newest()
    assert (index, slot.sequence, slot.identity) == (0, 1, SlotIdentity.of(spec))
    assert_same_weights(slot.weights, first)
    mine = HeadWeights.random(400, 4, seed=21)
    written = SlotStorage(storage, spec.slot_bytes).saved(mine, SlotIdentity.of(spec))
    reply, loaded = load_in_c(firmware, written.data)
    assert (reply.status, reply.active_slot, reply.sequence) == (OK, 1, 2)
    assert_same_weights(loaded, mine)


def test_python_newest_slot_wins_across_the_sequence_wrap(spec):
    identity = SlotIdentity.of(spec)
    storage = SlotStorage.erased(spec.slot_bytes)
    old, new = HeadWeights.random(400, 4, seed=1), HeadWeights.random(400, 4, seed=2)
    image = Slot(2**32 - 1, old, identity).to_bytes().ljust(spec.slot_bytes, b"\xff") + Slot(
        0, new, identity
    ).to_bytes().ljust(spec.slot_bytes, b"\xff")
    index, slot = SlotStorage(image, spec.slot_bytes).newest()
    assert index == 1
    assert_same_weights(slot.weights, new)
    assert storage.saved(old, identity).newest()[1].sequence == 1


@pytest.fixture
def personalizer() -> Personalizer:
    return Personalizer(Classifier(GOLDEN))


def test_c_checkpoint_loads_into_the_host_personalizer(spec, saved_once, personalizer, tmp_path):
    storage, first = saved_once
    path = tmp_path / "from_device.ckpt"
    path.write_bytes(host_checkpoint(storage, spec).to_bytes())
    personalizer.restore(path)
    assert_same_weights(personalizer.weights(), first)
    assert_same_weights(personalizer.classifier.head_weights(), first)


def test_host_checkpoint_converts_to_a_slot_the_c_head_loads(spec, firmware, personalizer, tmp_path):
    rng = np.random.default_rng(8)
    personalizer.add(rng.normal(0, 3, (24, 50, 3)), ["WALKING", "SITTING", "STANDING", "LAYING"] * 6)
    personalizer.fit(epochs=2, holdout=0.0)
    personalizer.save(tmp_path / "host.ckpt")
    checkpoint = Checkpoint.from_bytes((tmp_path / "host.ckpt").read_bytes(), "host.ckpt")
    reply, loaded = load_in_c(firmware, device_storage(checkpoint, spec))
    assert (reply.status, reply.active_slot, reply.sequence) == (OK, 0, 1)
    assert_same_weights(loaded, personalizer.weights())


def test_exchange_refuses_another_base_and_another_shape_with_typed_errors(spec, saved_once):
    storage, _ = saved_once
    other_base = dataclasses.replace(spec, base_sha256="0" * 64)
    with pytest.raises(ModelMismatchError, match="base model") as caught:
        host_checkpoint(storage, other_base)
    assert caught.value.field == "base model"
    checkpoint = host_checkpoint(storage, spec)
    with pytest.raises(ModelMismatchError, match="base model"):
        device_storage(checkpoint, other_base)
    narrow = dataclasses.replace(
        checkpoint, weights=HeadWeights.random(400, 3, seed=0), labels=("a", "b", "c")
    )
    with pytest.raises(ShapeMismatchError):
        device_storage(narrow, spec)


def test_a_slot_with_a_valid_crc_but_nan_weights_is_refused_by_c_and_python(spec, firmware):
    import struct
    import zlib

    good = Slot(1, HeadWeights.random(400, 4, seed=1), SlotIdentity.of(spec)).to_bytes()
    body = bytearray(good[:-4])
    body[HEADER_BYTES : HEADER_BYTES + 4] = np.float32(np.nan).tobytes()
    image = (bytes(body) + struct.pack("<I", zlib.crc32(body))).ljust(spec.slot_bytes, b"\xff")
    storage = image + b"\xff" * spec.slot_bytes
    reply, loaded = load_in_c(firmware, storage)
    assert (reply.status, reply.slot_status[0]) == (NO_VALID_SLOT, NOT_FINITE)
    assert_same_weights(loaded, spec.weights)
    with pytest.raises(CorruptSlotError, match="NaN"):
        SlotStorage(storage, spec.slot_bytes).slot(0)


def test_python_refuses_an_unknown_version_and_a_storage_of_the_wrong_size(spec):
    good = Slot(1, HeadWeights.random(400, 4, seed=1), SlotIdentity.of(spec)).to_bytes()
    newer = bytearray(good)
    newer[4] = 2  # format version 2
    with pytest.raises(CorruptSlotError, match="format version 2"):
        Slot.from_bytes(bytes(newer), "slot")
    with pytest.raises(CorruptSlotError, match="two slots"):
        SlotStorage(good, spec.slot_bytes)


def test_python_picks_the_newest_slot_the_firmware_would_load_as_the_c_loader_does(spec, firmware):
    mine = HeadWeights.random(400, 4, seed=1)
    other = dataclasses.replace(SlotIdentity.of(spec), base_sha256="9" * 64)
    storage = SlotStorage.erased(spec.slot_bytes).saved(mine, SlotIdentity.of(spec))
    storage = storage.saved(HeadWeights.random(400, 4, seed=2), other)  # newer, of another model
    reply, loaded = load_in_c(firmware, storage.data)
    assert (reply.status, reply.active_slot) == (OK, 0)
    assert_same_weights(host_checkpoint(storage.data, spec).weights, loaded)
    assert_same_weights(loaded, mine)


@pytest.mark.parametrize(
    ("edit", "message"),
    [("zero features", "F and C must be >= 1"), ("huge weight", "absurd")],
)
def test_a_slot_with_zero_shapes_or_absurd_weights_is_refused(spec, edit, message):
    import struct
    import zlib

    weights = HeadWeights.random(400, 4, seed=1)
    if edit == "huge weight":
        weights = HeadWeights(((np.full_like(weights.layers[0][0], 3e38), weights.layers[0][1]),))
    data = bytearray(Slot(1, weights, SlotIdentity.of(spec)).to_bytes())
    if edit == "zero features":
        struct.pack_into("<I", data, 12, 0)
        end = len(data) - 4
        struct.pack_into("<I", data, end, zlib.crc32(bytes(data[:end])))
    with pytest.raises(CorruptSlotError, match=message):
        Slot.from_bytes(bytes(data), "slot")
