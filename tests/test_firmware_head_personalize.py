"""A whole personalization run inside the firmware (int8 base in C, SGD in C, best epoch kept in the
checkpoint slots) against the host Personalizer with the same schedule and seed."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from har_edge.codegen.head import head_spec
from har_edge.data.synthetic import SyntheticConfig, generate
from har_edge.data.windows import WindowConfig, make_windows
from har_edge.firmware.checkpoint import SlotStorage, host_checkpoint
from har_edge.firmware.personalize import Schedule, personalize_on_board, personalize_on_host
from har_edge.runtime.bundle import open_bundle
from har_edge.types import ACC_CHANNELS

GOLDEN = Path(__file__).parent / "golden" / "dense_int8"
CLASSES = ("WALKING", "SITTING", "STANDING", "LAYING")
SCHEDULE = Schedule(epochs=12, batch_size=32, learning_rate=0.5, holdout=0.2, patience=4, seed=2)


@functools.cache
def wearer():
    """A new wearer (wrist smartwatch; the golden bundle knows waist phones): first half to learn from,
    second half to evaluate on."""
    dataset = generate(
        SyntheticConfig(
            subjects=1,
            seconds_per_activity=40,
            position="wrist",
            device="smartwatch",
            seed=11,
            classes=CLASSES,
            gyroscope=False,
        )
    )
    windows, _ = make_windows(dataset, WindowConfig(window=50, hop=25, channels=ACC_CHANNELS))
    labels = np.asarray(windows.class_names)[windows.y]
    first = windows.start < windows.start.max() / 2
    return windows.x[first], labels[first], windows.x[~first], labels[~first]


@pytest.mark.parametrize("board", ["host", "mps2-an386"])
def test_on_board_personalization_matches_the_host_personalizer_on_the_firmware_features(board, tmp_path):
    if board != "host":
        from tests.arm_tools import require_arm_tools

        require_arm_tools()
    on_board = personalize_on_board(GOLDEN, *wearer(), board=board, schedule=SCHEDULE, workdir=tmp_path)
    host = personalize_on_host(GOLDEN, *wearer(), schedule=SCHEDULE, mcu_base=True)
    assert on_board.accuracy_before == host.accuracy_before
    assert abs(on_board.accuracy_after - host.accuracy_after) <= 0.01
    assert on_board.accuracy_after >= on_board.accuracy_before + 0.2
    assert (on_board.best_epoch, on_board.epochs_run) == (host.history.best_epoch, host.history.epochs_run)
    np.testing.assert_allclose(on_board.holdout_loss, host.history.holdout_loss, rtol=1e-3)
    for name, array in host.weights.items():
        assert np.abs(on_board.weights[name] - array).max() <= 1e-4 * np.abs(array).max()
    assert on_board.rolled_back_steps == 0


def test_the_checkpoint_the_firmware_wrote_holds_its_final_weights_for_the_host(tmp_path):
    on_board = personalize_on_board(GOLDEN, *wearer(), board="host", schedule=SCHEDULE, workdir=tmp_path)
    checkpoint = host_checkpoint(on_board.storage, head_spec(open_bundle(GOLDEN)))
    for name, array in checkpoint.weights.named().items():
        np.testing.assert_array_equal(array, on_board.weights[name])
    assert checkpoint.labels == CLASSES
    assert on_board.host_checkpoint().to_bytes() == checkpoint.to_bytes()
    summary = "\n".join(on_board.summary())
    assert f"accuracy {on_board.accuracy_before:.3f} -> {on_board.accuracy_after:.3f}" in summary
    index, slot = SlotStorage(on_board.storage, on_board.spec.slot_bytes).newest()
    assert f"checkpoint: slot {index}, sequence {slot.sequence}" in summary and slot.sequence > 1


def test_a_new_label_set_starts_the_same_fresh_head_on_the_board_as_on_the_host(tmp_path):
    renamed = {"WALKING": "walk", "SITTING": "sit", "STANDING": "stand", "LAYING": "lie"}
    x, y, x_eval, y_eval = wearer()
    data = (x, [renamed[v] for v in y], x_eval, [renamed[v] for v in y_eval])
    labels = ("lie", "sit", "stand", "walk")
    short = Schedule(epochs=4, learning_rate=0.5, holdout=0.2, seed=5)
    on_board = personalize_on_board(
        GOLDEN, *data, board="host", schedule=short, head_labels=labels, workdir=tmp_path
    )
    host = personalize_on_host(GOLDEN, *data, schedule=short, mcu_base=True, head_labels=labels)
    assert on_board.accuracy_before == host.accuracy_before
    assert abs(on_board.accuracy_after - host.accuracy_after) <= 0.01
    for name, array in host.weights.items():
        assert np.abs(on_board.weights[name] - array).max() <= 1e-4 * np.abs(array).max()
    assert host_checkpoint(on_board.storage, head_spec(open_bundle(GOLDEN), labels=labels)).labels == labels
