"""Training windows cut denser than validation and test windows (issue 20's recipe on real data):
more, shifted training examples from the training stretches only, the held-out splits unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from har_edge.data.plan import split_for_training, split_windows, window_config_for
from har_edge.data.windows import WindowConfig, make_windows
from har_edge.errors import InputError
from tests.conftest import make_dataset, make_recording

RATE_HZ = 50.0


def _recording(rng, subject: str, cycles: int = 3):
    """Three activities of 40 s, ``cycles`` times; acc_y holds the time, so a window says when it is."""
    labels = np.concatenate([np.full(int(40 * RATE_HZ), c) for _ in range(cycles) for c in range(3)])
    t = np.arange(len(labels)) / RATE_HZ
    samples = np.stack([labels * 10.0 + rng.normal(0, 0.1, len(t)), t, np.full(len(t), 9.81)], axis=1)
    return make_recording(labels, subject=subject, timestamps=t, samples=samples.astype(np.float32))


def _times(part) -> set[tuple[str, float]]:
    """(subject, time) of every sample a split holds."""
    return {(s, round(float(v), 3)) for s, x in zip(part.subject, part.x, strict=True) for v in x[:, 1]}


def _same(a, b) -> bool:
    return np.array_equal(a.x, b.x) and np.array_equal(a.start, b.start) and np.array_equal(a.y, b.y)


def _split(dataset, config: WindowConfig):
    windows, _ = make_windows(dataset, config)
    return split_windows(windows, cases=False, seed=0), split_for_training(
        dataset, windows, config, cases=False, seed=0
    )


@pytest.mark.parametrize("subjects", [1, 5])
def test_denser_training_windows_share_no_sample_with_validation_or_test_which_stay_unchanged(rng, subjects):
    dataset = make_dataset([_recording(rng, str(s)) for s in range(1, subjects + 1)])
    config = WindowConfig(rate_hz=RATE_HZ, window=200, hop=100, train_hop=25)
    coarse, dense = _split(dataset, config)
    for held_out in ("val", "test"):
        assert _same(getattr(dense, held_out), getattr(coarse, held_out))
        assert not _times(dense.train) & _times(getattr(dense, held_out)), f"a {held_out} sample trains"
    starts = set(zip(dense.train.recording.tolist(), dense.train.start.tolist(), strict=True))
    assert set(zip(coarse.train.recording.tolist(), coarse.train.start.tolist(), strict=True)) <= starts
    assert len(dense.train) > 3 * len(coarse.train) and dense.train.hop == 25
    assert dense.train.subjects == coarse.train.subjects
    assert set(dense.train.y.tolist()) == {0, 1, 2}


def test_recordings_default_to_training_windows_every_quarter_hop_and_a_given_train_hop_wins(rng):
    dataset = make_dataset([_recording(rng, "1")])
    assert window_config_for(dataset).train_hop == 25
    assert window_config_for(dataset, hop=40).train_hop == 10
    assert window_config_for(dataset, train_hop=50).train_hop == 50
    coarse, same = _split(dataset, WindowConfig(rate_hz=RATE_HZ, train_hop=100))
    assert _same(same.train, coarse.train)


def test_a_training_hop_longer_than_the_hop_is_refused():
    with pytest.raises(InputError, match="train_hop must be between 1 and hop"):
        WindowConfig(hop=50, train_hop=60)


@pytest.mark.slow
def test_optimize_rebuilds_the_training_windows_at_the_training_hop_the_card_records(tmp_path):
    from har_edge.cli import EXIT_OK
    from har_edge.optimize.pipeline import load_for_optimize
    from tests.test_realdata_cli import run

    argv = ["train", "--data", "synthetic", "--subjects", "4", "--train-hop", "50", "--epochs", "1"]
    code, _, err = run(argv + ["--out", str(tmp_path / "run"), "--no-progress"])
    assert code == EXIT_OK, err
    _, card, splits = load_for_optimize(tmp_path / "run" / "model")
    assert card.notes["data"]["train_hop"] == 50 and card.hop == 100
    assert (splits.train.hop, splits.val.hop, splits.test.hop) == (50, 100, 100)
    assert splits.sizes() == card.notes["split_sizes"]
