import numpy as np
import pytest

from har_edge.data.splits import Normalizer, normalize_splits, split_by_subject
from har_edge.data.windows import WindowConfig, find_gaps, make_windows
from har_edge.errors import InputError
from har_edge.types import UNLABELLED
from tests.conftest import make_dataset, make_recording


def _blocks(*pairs: tuple[int, int]) -> np.ndarray:
    """Label track from (label, length) pairs."""
    return np.concatenate([np.full(n, label) for label, n in pairs])


def test_window_count_follows_length_window_and_hop():
    rec = make_recording(np.zeros(1000, dtype=int))
    windows, report = make_windows(make_dataset([rec]), WindowConfig(window=200, hop=100))
    assert len(windows) == (1000 - 200) // 100 + 1 == report.windows
    assert windows.x.shape == (9, 200, 3)
    np.testing.assert_array_equal(windows.start, np.arange(9) * 100)


def test_window_samples_are_the_recording_samples_at_the_native_rate():
    rec = make_recording(np.zeros(400, dtype=int))
    windows, _ = make_windows(make_dataset([rec]), WindowConfig(window=100, hop=50))
    np.testing.assert_allclose(windows.x[3], rec.samples[150:250], atol=1e-5)


def test_majority_labeling_keeps_mixed_windows_and_strict_drops_them():
    labels = _blocks((0, 150), (1, 250))
    dataset = make_dataset([make_recording(labels)])
    majority, _ = make_windows(dataset, WindowConfig(window=100, hop=50, labeling="majority"))
    strict, report = make_windows(dataset, WindowConfig(window=100, hop=50, labeling="strict"))
    # window starting at 100 covers 50 of label 0 and 50 of label 1: no majority, dropped by both
    assert 100 not in majority.start.tolist()
    # window starting at 50 is 100 % label 0 ... starting at 150 is 100 % label 1
    assert majority.y[majority.start.tolist().index(50)] == 0
    assert len(strict) == len(majority)  # hop 50 on a 150/250 split: every majority window is pure
    assert report.dropped_impure == 1


def test_majority_window_takes_the_label_covering_more_than_half():
    labels = _blocks((0, 160), (1, 240))
    windows, _ = make_windows(make_dataset([make_recording(labels)]), WindowConfig(window=100, hop=20))
    by_start = dict(zip(windows.start.tolist(), windows.y.tolist(), strict=True))
    assert by_start[100] == 0  # 60 of label 0
    assert by_start[120] == 1  # 60 of label 1
    assert 110 not in by_start


def test_unlabelled_windows_are_dropped_and_counted():
    labels = _blocks((0, 200), (UNLABELLED, 200), (1, 200))
    windows, report = make_windows(make_dataset([make_recording(labels)]), WindowConfig(window=100, hop=100))
    assert set(windows.y.tolist()) == {0, 1}
    assert report.dropped_unlabelled == 2


def test_keep_unlabelled_keeps_every_window_for_prediction():
    labels = _blocks((0, 200), (UNLABELLED, 200), (1, 200))
    windows, report = make_windows(
        make_dataset([make_recording(labels)]), WindowConfig(window=100, hop=100), keep_unlabelled=True
    )
    assert windows.y.tolist() == [0, 0, UNLABELLED, UNLABELLED, 1, 1]
    assert report.dropped_unlabelled == report.dropped_impure == 0


def test_resampling_to_half_rate_halves_the_window_count():
    rec = make_recording(np.zeros(2000, dtype=int), rate_hz=100.0)
    windows, _ = make_windows(make_dataset([rec]), WindowConfig(rate_hz=50.0, window=100, hop=100))
    assert len(windows) == 10  # 20 s at 50 Hz = 1000 samples -> 10 windows of 100


def test_uneven_timestamps_are_resampled_onto_a_uniform_grid(rng):
    t = np.cumsum(rng.uniform(0.015, 0.025, 1000))
    ramp = np.stack([t, np.zeros_like(t), np.zeros_like(t)], axis=1).astype(np.float32)
    rec = make_recording(np.zeros(1000, dtype=int), timestamps=t, samples=ramp)
    windows, _ = make_windows(make_dataset([rec]), WindowConfig(rate_hz=50.0, window=50, hop=50))
    # acc_x equals time, so a linear resampling yields steps of exactly 1/50 s
    np.testing.assert_allclose(np.diff(windows.x[0, :, 0]), 0.02, atol=1e-4)


def test_windows_never_span_a_nan_gap_and_the_gap_is_reported():
    rec = make_recording(np.zeros(1000, dtype=int))
    rec.samples[480:520, 1] = np.nan
    windows, report = make_windows(make_dataset([rec]), WindowConfig(window=100, hop=50))
    assert not np.isnan(windows.x).any()
    assert len(windows) == 2 * ((480 - 100) // 50 + 1)
    assert [g.kind for g in report.gaps] == ["nan"]
    assert report.gaps[0].duration_s == pytest.approx(40 / 50)


def test_a_time_jump_splits_the_recording_and_is_reported():
    t = np.concatenate([np.arange(500), np.arange(500) + 10_000]) / 50.0
    rec = make_recording(np.zeros(1000, dtype=int), timestamps=t)
    windows, report = make_windows(make_dataset([rec]), WindowConfig(window=100, hop=100))
    assert len(windows) == 10  # 5 per side; without the cut, resampling would invent 200 s of data
    assert [g.kind for g in find_gaps(rec)] == ["time_jump"]
    assert report.gap_seconds == pytest.approx(9_500 / 50 + 1 / 50)


def test_recording_shorter_than_one_window_is_an_error_naming_it():
    rec = make_recording(np.zeros(150, dtype=int), subject="7")
    with pytest.raises(InputError, match=r"test-subject-7.*shorter than one window"):
        make_windows(make_dataset([rec]), WindowConfig(window=200, hop=100))


def test_short_recordings_can_be_skipped_and_are_reported():
    short = make_recording(np.zeros(150, dtype=int), subject="7")
    long = make_recording(np.zeros(400, dtype=int), subject="8")
    windows, report = make_windows(make_dataset([short, long]), WindowConfig(), on_short="skip")
    assert report.skipped_short == ("test-subject-7",)
    assert set(windows.subject.tolist()) == {"8"}


def test_unknown_channel_selection_lists_the_available_channels():
    with pytest.raises(InputError, match="acc_x"):
        make_windows(
            make_dataset([make_recording(np.zeros(400, dtype=int))]), WindowConfig(channels=("gyro_x",))
        )


def _many_subjects(n: int, rng) -> list:
    labels = _blocks((0, 600), (1, 600), (2, 600))
    return [make_recording(labels, subject=str(i), rng=rng) for i in range(n)]


def test_subject_split_puts_no_subject_in_two_splits(rng):
    windows, _ = make_windows(make_dataset(_many_subjects(10, rng)), WindowConfig())
    splits = split_by_subject(windows, seed=3)
    train, val, test = (set(s.subject.tolist()) for s in (splits.train, splits.val, splits.test))
    assert train and val and test
    assert not (train & val) and not (train & test) and not (val & test)
    assert len(splits.train) + len(splits.val) + len(splits.test) == len(windows)
    assert (len(test), len(val)) == (2, 2)


def test_subject_split_is_deterministic_for_a_seed_and_changes_with_it(rng):
    windows, _ = make_windows(make_dataset(_many_subjects(10, rng)), WindowConfig())
    first = split_by_subject(windows, seed=1).test.subjects
    assert split_by_subject(windows, seed=1).test.subjects == first
    assert any(split_by_subject(windows, seed=s).test.subjects != first for s in range(2, 6))


def test_single_subject_split_by_occurrence_keeps_overlapping_windows_in_one_split(rng):
    labels = np.concatenate([_blocks((c, 400)) for _ in range(5) for c in range(3)])
    windows, _ = make_windows(
        make_dataset([make_recording(labels, rng=rng)]), WindowConfig(window=100, hop=50)
    )
    splits = split_by_subject(windows, seed=0)
    assert splits.grouping == "occurrence"
    spans = [
        (start, k)
        for k, part in enumerate((splits.train, splits.val, splits.test))
        for start in part.start.tolist()
    ]
    assert all(n > 0 for n in splits.sizes().values())
    for start_a, split_a in spans:
        for start_b, split_b in spans:
            if abs(start_a - start_b) < 100:
                assert split_a == split_b, "overlapping windows ended up in different splits"
    for part in (splits.train, splits.val, splits.test):
        assert set(part.y.tolist()) == {0, 1, 2}


def test_two_subjects_cannot_be_split_three_ways(rng):
    windows, _ = make_windows(make_dataset(_many_subjects(2, rng)), WindowConfig())
    with pytest.raises(InputError, match="at least 3"):
        split_by_subject(windows)


def test_normalizer_is_fitted_on_the_training_split_only(rng):
    recs = _many_subjects(6, rng)
    for i, rec in enumerate(recs):
        rec.samples[:, 1] += 100.0 * i**2  # each subject has its own offset on acc_y
    windows, _ = make_windows(make_dataset(recs), WindowConfig())
    splits = split_by_subject(windows, seed=0)
    normalized, normalizer = normalize_splits(splits)
    train_flat = splits.train.x.reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(normalizer.mean, train_flat.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(normalizer.std[:2], train_flat.std(axis=0)[:2], rtol=1e-4)
    assert normalizer.std[2] == Normalizer.MIN_STD  # acc_z is constant: the floor avoids dividing by 0
    assert abs(normalizer.mean[1] - windows.x[..., 1].mean()) > 1.0
    np.testing.assert_allclose(normalized.train.x.reshape(-1, 3).mean(axis=0), 0, atol=1e-4)
    assert abs(normalized.test.x[..., 1].mean()) > 0.1  # test subjects are not centred by their own stats


def test_normalizer_round_trips_through_a_dict_and_rejects_bad_statistics():
    normalizer = Normalizer((1.0, 2.0), (0.5, 4.0))
    assert Normalizer.from_dict(normalizer.to_dict()) == normalizer
    with pytest.raises(InputError, match="std"):
        Normalizer.from_dict({"mean": [0.0], "std": [0.0]})
    with pytest.raises(InputError, match="'mean'"):
        Normalizer.from_dict({"std": [1.0]})
