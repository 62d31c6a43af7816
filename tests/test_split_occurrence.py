"""Issue 20 as the user met it: windows lost after gaps (start indices restarting per segment), a
one-subject validation split that held only the activities occurring 3 times or more, and a
validation subject that lacked classes."""

from __future__ import annotations

import numpy as np

from har_edge.data.splits import split_by_subject
from har_edge.data.windows import WindowConfig, make_windows
from tests.conftest import make_dataset, make_recording

RATE_HZ = 50.0


def _labels(*runs: tuple[int, float], rate_hz: float) -> np.ndarray:
    """Label track from (label, seconds) runs."""
    return np.concatenate([np.full(int(seconds * rate_hz), label) for label, seconds in runs])


def _watch_with_gaps(rng) -> tuple:
    """About 100 Hz rows with jitter and a short gap (50-300 ms) every 3-9 s, as a real HHAR watch
    writes them; acc_y holds the row's time, so every window says when it starts."""
    labels = _labels(*[(c, 40.0) for _ in range(3) for c in range(3)], rate_hz=100.0)
    steps = rng.uniform(0.009, 0.011, len(labels))
    gap_rows = np.cumsum(rng.integers(300, 900, len(labels) // 300))
    gap_rows = gap_rows[gap_rows < len(labels)]
    steps[gap_rows] += rng.uniform(0.05, 0.3, len(gap_rows))
    t = np.concatenate([[0.0], np.cumsum(steps[1:])])
    samples = np.stack([labels * 10.0, t, np.full(len(t), 9.81)], axis=1)
    return make_recording(labels, timestamps=t, samples=samples), len(gap_rows)


def _spans(part) -> np.ndarray:
    """(first, last) true time of each window, read from the time channel."""
    return np.stack([part.x[:, 0, 1], part.x[:, -1, 1]], axis=1)


def _overlapping(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(((a[:, None, 0] <= b[None, :, 1]) & (b[None, :, 0] <= a[:, None, 1])).any())


def test_window_starts_count_from_the_recording_start_across_gaps(rng):
    recording, n_gaps = _watch_with_gaps(rng)
    windows, report = make_windows(make_dataset([recording]), WindowConfig(rate_hz=RATE_HZ))
    assert n_gaps > 10 and sum(g.kind == "time_jump" for g in report.gaps) == n_gaps
    first_sample_time = windows.x[:, 0, 1]
    np.testing.assert_allclose(windows.start / RATE_HZ, first_sample_time, atol=1.0 / RATE_HZ)
    assert np.all(np.diff(windows.start) > 0)


def test_one_subject_split_with_short_gaps_drops_only_windows_straddling_two_splits(rng):
    recording, _ = _watch_with_gaps(rng)
    windows, _ = make_windows(make_dataset([recording]), WindowConfig(rate_hz=RATE_HZ))
    splits = split_by_subject(windows, seed=0)
    parts = (splits.train, splits.val, splits.test)
    for i, a in enumerate(parts):
        for b in parts[i + 1 :]:
            assert not _overlapping(_spans(a), _spans(b)), "a sample is in two splits"
    # Each cut between two occurrences in different splits costs at most one window on either side
    # (window = 2 hops); with start indices restarting after every gap, most windows were dropped.
    occurrence_cuts = 9 - 1
    assert len(windows) - sum(splits.sizes().values()) <= 2 * occurrence_cuts
    for part in parts:
        assert set(part.y.tolist()) == {0, 1, 2}


def test_one_subject_validation_and_test_hold_every_activity_even_with_two_occurrences(rng):
    # Postures (1, 2) occur twice, as in a real HAPT user; walking (0) four times.
    runs = [(0, 30.0), (1, 60.0), (0, 30.0), (2, 60.0), (0, 30.0), (1, 60.0), (0, 30.0), (2, 60.0)]
    windows, _ = make_windows(
        make_dataset([make_recording(_labels(*runs, rate_hz=RATE_HZ), rng=rng)]), WindowConfig()
    )
    for seed in range(4):
        splits = split_by_subject(windows, seed=seed)
        assert splits.grouping == "occurrence"
        for part in (splits.train, splits.val, splits.test):
            assert set(part.y.tolist()) == {0, 1, 2}
        starts = [set(p.start.tolist()) for p in (splits.train, splits.val, splits.test)]
        for i in range(3):
            for j in range(i + 1, 3):
                assert all(abs(a - b) >= windows.window for a in starts[i] for b in starts[j])


def test_validation_subject_lacking_a_class_is_replaced_by_occurrences_of_the_training_subjects(rng):
    everything = _labels(*[(c, 24.0) for _ in range(3) for c in range(3)], rate_hz=RATE_HZ)
    no_c = _labels(*[(c, 24.0) for _ in range(3) for c in range(2)], rate_hz=RATE_HZ)
    recordings = [
        make_recording(everything, subject="1", rng=rng),
        make_recording(no_c, subject="2", rng=rng),
    ]
    windows, _ = make_windows(make_dataset(recordings), WindowConfig())
    for seed in range(4):
        splits = split_by_subject(windows, test_fraction=0.0, seed=seed)
        assert splits.grouping == "subject" and splits.val_grouping == "occurrence"
        assert set(splits.val.y.tolist()) == set(splits.train.y.tolist()) == {0, 1, 2}


def test_validation_subjects_covering_every_class_stay_a_subject_split(rng):
    labels = _labels(*[(c, 12.0) for c in range(3)], rate_hz=RATE_HZ)
    recordings = [make_recording(labels, subject=str(i), rng=rng) for i in range(6)]
    windows, _ = make_windows(make_dataset(recordings), WindowConfig())
    splits = split_by_subject(windows, seed=1)
    assert splits.val_grouping is None
    assert not set(splits.val.subjects) & set(splits.train.subjects)
