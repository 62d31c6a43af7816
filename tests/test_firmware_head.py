"""The C head against the head's TFLite signatures in LiteRT: train_step, infer, and the rollback guard,
on the host gcc build and on the emulated Cortex-M4F (mps2-an386) build."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from har_edge.codegen.head import HeadSpec, head_spec
from har_edge.firmware.head_harness import HeadCommands, HeadFirmware
from har_edge.runtime.bundle import open_bundle
from har_edge.runtime.classifier import HeadSession
from har_edge.runtime.head import HeadWeights
from har_edge.runtime.training import DIVERGED_LOSS

GOLDEN = Path(__file__).parent / "golden" / "dense_int8"
APPLIED, ROLLED_BACK = 0, 1
STEPS = 100
BATCHES = (1, 32, 7)  # cycled: batch 1, a full batch and a partial one
RATE = 0.01
TRAIN_TOLERANCE = 1e-5  # relative, after 1 and after 100 steps
INFER_TOLERANCE = 1e-6


def relative_difference(got: np.ndarray, want: np.ndarray) -> float:
    """max |got - want| relative to the largest |want| of the tensor (float32 summation order differs)."""
    return float(np.abs(got.astype(np.float64) - want).max() / np.abs(want).max())


@pytest.fixture(scope="module")
def golden_spec() -> HeadSpec:
    return head_spec(open_bundle(GOLDEN))


@pytest.fixture(scope="module")
def hidden_head() -> tuple[HeadSpec, bytes]:
    """A two-layer head (ReLU between) of 24 features, 8 hidden units, 4 classes, and its .tflite."""
    from har_edge.export.head import head_tflite

    weights = HeadWeights.random(24, 4, hidden=8, seed=3)
    rng = np.random.default_rng(4)
    b0 = rng.normal(0, 0.1, 8).astype(np.float32)  # non-zero biases: some units start inactive
    weights = HeadWeights(((weights.layers[0][0], b0), weights.layers[1]))
    spec = HeadSpec(weights, ("a", "b", "c", "d"), "1" * 64, "2" * 64, max_batch=32)
    return spec, head_tflite(weights)


BOARDS = ["host", "mps2-an386"]


def build(spec: HeadSpec, board: str, tmp_path_factory) -> HeadFirmware:
    if board != "host":
        from tests.arm_tools import require_arm_tools

        require_arm_tools()
    return HeadFirmware(spec, board, tmp_path_factory.mktemp(f"head_{board}"))


def random_steps(rng: np.random.Generator, n_features: int, n_classes: int):
    for k in range(STEPS):
        n = BATCHES[k % len(BATCHES)]
        x = rng.normal(0, 1, (n, n_features)).astype(np.float32)
        yield x, np.eye(n_classes, dtype=np.float32)[rng.integers(0, n_classes, n)]


def compare_training(firmware: HeadFirmware, head_model: bytes, rng: np.random.Generator) -> dict[str, float]:
    """100 SGD steps in C and through the `train` signature; the worst relative differences."""
    spec = firmware.spec
    session = HeadSession(head_model, num_threads=1)
    session.set_weights(spec.weights)
    commands = HeadCommands(spec)
    steps = list(random_steps(rng, spec.weights.n_features, spec.weights.n_classes))
    litert_losses, litert_after_1 = [], None
    for k, (x, y) in enumerate(steps):
        commands.train(x, y, RATE)
        litert_losses.append(session.train_step(x, y, RATE))
        if k == 0:
            commands.get_weights()
            litert_after_1 = session.named_weights()
    commands.get_weights()
    probe = rng.normal(0, 1, (16, spec.weights.n_features)).astype(np.float32)
    commands.infer(probe)
    replies = firmware.run(commands).results
    train_replies = [r for r in replies if hasattr(r, "loss")]
    after_1, after_100, probabilities = (r for r in replies if not hasattr(r, "loss"))
    assert [r.status for r in train_replies] == [APPLIED] * STEPS
    c_losses = np.array([r.loss for r in train_replies])
    return {
        "loss": float(np.max(np.abs(c_losses - litert_losses) / np.abs(litert_losses))),
        "weights_after_1": max(relative_difference(after_1[k], v) for k, v in litert_after_1.items()),
        "weights_after_100": max(
            relative_difference(after_100[k], v) for k, v in session.named_weights().items()
        ),
        "infer": float(np.abs(probabilities - session.probabilities(probe)).max()),
    }


@pytest.mark.parametrize("board", BOARDS)
def test_c_train_step_matches_the_train_signature_after_1_and_100_steps(board, golden_spec, tmp_path_factory):
    firmware = build(golden_spec, board, tmp_path_factory)
    worst = compare_training(firmware, open_bundle(GOLDEN).head, np.random.default_rng(11))
    assert worst["loss"] < TRAIN_TOLERANCE
    assert worst["weights_after_1"] < TRAIN_TOLERANCE
    assert worst["weights_after_100"] < TRAIN_TOLERANCE
    assert worst["infer"] < INFER_TOLERANCE


@pytest.mark.parametrize("board", BOARDS)
def test_c_two_layer_head_follows_the_relu_gradient_of_the_train_signature(
    board, hidden_head, tmp_path_factory
):
    spec, model = hidden_head
    firmware = build(spec, board, tmp_path_factory)
    worst = compare_training(firmware, model, np.random.default_rng(12))
    assert max(worst["loss"], worst["weights_after_1"], worst["weights_after_100"]) < TRAIN_TOLERANCE
    assert worst["infer"] < INFER_TOLERANCE


@pytest.fixture(scope="module")
def host_firmware(golden_spec, tmp_path_factory) -> HeadFirmware:
    return build(golden_spec, "host", tmp_path_factory)


def test_step_with_an_infinite_rate_is_rolled_back_and_counted(host_firmware):
    spec, rng = host_firmware.spec, np.random.default_rng(5)
    x = rng.normal(0, 1, (4, spec.weights.n_features)).astype(np.float32)
    y = np.eye(spec.weights.n_classes, dtype=np.float32)[[0, 1, 2, 3]]
    commands = HeadCommands(spec)
    commands.train(x, y, np.inf)
    commands.train(4 * x, y, float(np.finfo(np.float32).max))  # a sane loss, but the weights overflow
    huge = x.copy()
    huge[0, 0] = 3e38  # a diverged loss (above -ln(FLT_MIN))
    commands.train(huge, y, RATE)
    commands.get_weights()
    commands.counters()
    commands.train(x, y, RATE)  # a sane step after the rollbacks applies
    commands.get_weights()
    commands.counters()
    inf_rate, huge_rate, huge_feature, unchanged, rolled_back, sane, after, still = host_firmware.run(
        commands
    ).results
    assert [inf_rate.status, huge_rate.status, huge_feature.status] == [ROLLED_BACK] * 3
    assert np.isfinite(huge_rate.loss) and huge_rate.loss < 10
    assert not huge_feature.loss <= DIVERGED_LOSS
    for name, array in spec.weights.named().items():
        np.testing.assert_array_equal(unchanged[name], array)
    assert rolled_back == 3
    assert sane.status == APPLIED and still == 3
    session = HeadSession(open_bundle(GOLDEN).head, num_threads=1)
    session.train_step(x, y, RATE)
    for name, array in session.named_weights().items():
        assert relative_difference(after[name], array) < TRAIN_TOLERANCE


def test_generated_initial_weights_are_the_bundle_head_bit_for_bit(host_firmware):
    commands = HeadCommands(host_firmware.spec)
    commands.get_weights()
    (weights,) = host_firmware.run(commands).results
    for name, array in host_firmware.spec.weights.named().items():
        np.testing.assert_array_equal(weights[name], array)


def test_ram_report_counts_parameters_scratch_and_batch_cache(host_firmware):
    spec = host_firmware.spec
    run = host_firmware.run(HeadCommands(spec))
    f, c, batch = spec.weights.n_features, spec.weights.n_classes, spec.max_batch
    assert run.ram_bytes == spec.ram_bytes == 4 * (f * c + c + batch * c)
    assert run.batch_cache_bytes == spec.batch_cache_bytes == 4 * batch * (f + c)


def test_step_near_overflow_is_checked_exactly_and_applied_when_finite(host_firmware):
    """Weights of 2e38 exceed the fast bound (FLT_MAX / 2), but their feature is 0 in the batch: every
    updated value is finite, so the exact check passes and the step matches the train signature."""
    spec, rng = host_firmware.spec, np.random.default_rng(6)
    w0, b0 = (np.array(a) for a in spec.weights.layers[0])
    w0[5] = 2e38
    huge = HeadWeights(((w0, b0),))
    x = rng.normal(0, 1, (8, spec.weights.n_features)).astype(np.float32)
    x[:, 5] = 0.0
    y = np.eye(spec.weights.n_classes, dtype=np.float32)[rng.integers(0, 4, 8)]
    commands = HeadCommands(spec)
    commands.set_weights(huge)
    commands.train(x, y, RATE)
    commands.get_weights()
    commands.counters()
    step, after, rolled_back = host_firmware.run(commands).results
    session = HeadSession(open_bundle(GOLDEN).head, num_threads=1)
    session.set_weights(huge)
    loss = session.train_step(x, y, RATE)
    assert (step.status, rolled_back) == (APPLIED, 0)
    assert abs(step.loss - loss) < TRAIN_TOLERANCE * loss
    expected = session.named_weights()
    np.testing.assert_array_equal(after["w0"][5], expected["w0"][5])
    assert (
        relative_difference(np.delete(after["w0"], 5, 0), np.delete(expected["w0"], 5, 0)) < TRAIN_TOLERANCE
    )
    assert relative_difference(after["b0"], expected["b0"]) < TRAIN_TOLERANCE


COMPILERS = {
    "host": ["gcc"],
    "mps2-an386": [
        "arm-none-eabi-gcc",
        "-mcpu=cortex-m4",
        "-mthumb",
        "-mfpu=fpv4-sp-d16",
        "-mfloat-abi=hard",
    ],
}


@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("standard", ["c99", "c11"])
def test_head_sources_compile_warning_free_as_iso_c(board, standard, golden_spec, tmp_path):
    import subprocess

    from har_edge.codegen.head import write_head
    from har_edge.firmware.boards import FIRMWARE_DIR

    if board != "host":
        from tests.arm_tools import require_arm_tools

        require_arm_tools()
    write_head(golden_spec, tmp_path, harness="head_harness.c")
    flags = [f"-std={standard}", "-pedantic", "-Wall", "-Wextra", "-Werror", "-O2"]
    includes = [f"-I{tmp_path}", f"-I{FIRMWARE_DIR / 'harness'}"]
    for source in sorted(tmp_path.glob("*.c")):
        command = [*COMPILERS[board], *flags, *includes, "-c", str(source), "-o", str(tmp_path / "out.o")]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"base_sha256": "xyz"}, "base_sha256 must be 64 lowercase hex digits"),
        ({"max_batch": 0}, "max_batch must be a positive integer"),
        ({"labels": ("a", "b")}, "2 labels for a head with 4 classes"),
    ],
)
def test_head_spec_refuses_a_bad_identity_batch_or_label_count(golden_spec, change, message):
    import dataclasses

    from har_edge.errors import InputError

    with pytest.raises(InputError, match=message):
        dataclasses.replace(golden_spec, **change)


def test_head_spec_refuses_weights_of_another_shape_than_the_bundle_head():
    from har_edge.errors import InputError

    with pytest.raises(InputError, match="exported with"):
        head_spec(open_bundle(GOLDEN), weights=HeadWeights.random(400, 3, seed=0))
