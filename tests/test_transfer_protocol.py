"""The transfer protocol: subject-disjoint duration splits, nested stratified adaptation subsets, label
mapping."""

from __future__ import annotations

import numpy as np
import pytest

from har_edge.data import load_dataset
from har_edge.data.windows import make_windows
from har_edge.errors import InputError
from har_edge.transfer.protocol import (
    LabelMapping,
    adaptation_order,
    adaptation_subset,
    majority_f1,
    protocol,
    relabel,
    split_by_duration,
)

CLASSES = ("WALKING", "SITTING", "STANDING", "LAYING")


@pytest.fixture(scope="module")
def wrist():
    dataset = load_dataset(
        "synthetic:wrist:smartwatch", subjects=10, seconds_per_activity=12, classes=CLASSES, gyroscope=False
    )
    return make_windows(dataset, protocol("gjoreski2019").window_config())[0]


def test_gjoreski2019_is_25_hz_4_s_windows_2_s_hop_and_40_10_50(wrist):
    chosen = protocol("gjoreski2019")
    assert (chosen.rate_hz, chosen.window, chosen.hop, chosen.fractions) == (25.0, 100, 50, (0.4, 0.1, 0.5))
    assert wrist.x.shape[1:] == (100, 3) and wrist.rate_hz == 25.0


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_every_split_is_subject_disjoint_and_covers_every_window(wrist, seed):
    splits = split_by_duration(wrist, (0.4, 0.1, 0.5), seed)
    parts = [set(splits.train.subjects), set(splits.val.subjects), set(splits.test.subjects)]
    assert all(parts) and not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert len(splits.train) + len(splits.val) + len(splits.test) == len(wrist)


def test_split_shares_follow_the_duration_fractions_within_one_subject(wrist):
    splits = split_by_duration(wrist, (0.4, 0.1, 0.5), seed=3)
    per_subject = max(np.count_nonzero(wrist.subject == s) for s in wrist.subjects) / len(wrist)
    assert abs(len(splits.train) / len(wrist) - 0.4) <= per_subject
    assert abs(len(splits.test) / len(wrist) - 0.5) <= per_subject


def test_three_subjects_still_give_three_nonempty_splits(wrist):
    three = wrist.take(np.flatnonzero(np.isin(wrist.subject, ["1", "2", "3"])))
    splits = split_by_duration(three, (0.4, 0.1, 0.5), seed=0)
    assert [len(s.subjects) for s in (splits.train, splits.val, splits.test)] == [1, 1, 1]


def test_two_subjects_cannot_be_split(wrist):
    with pytest.raises(InputError, match="at least 3 subjects"):
        split_by_duration(wrist.take(np.flatnonzero(np.isin(wrist.subject, ["1", "2"]))), (0.4, 0.1, 0.5), 0)


@pytest.mark.parametrize("seed", [0, 5])
def test_adaptation_subsets_are_nested_and_drawn_from_the_training_subjects(wrist, seed):
    train = split_by_duration(wrist, (0.4, 0.1, 0.5), seed=0).train
    keys = [
        set(zip(s.subject, s.x[:, 0, 0], strict=True))
        for s in (adaptation_subset(train, n, seed) for n in (4, 10, 25, None))
    ]
    assert all(small < large for small, large in zip(keys, keys[1:], strict=False))
    assert len(keys[-1]) == len(train)
    assert {subject for subject, _ in keys[-1]} <= set(train.subjects)


def test_every_prefix_of_the_adaptation_order_is_stratified(rng):
    labels = rng.choice(4, size=400, p=[0.4, 0.3, 0.2, 0.1])
    order = adaptation_order(labels, seed=2)
    assert sorted(order) == list(range(400))
    share = np.bincount(labels, minlength=4) / 400
    for n in (8, 20, 50, 133):
        counts = np.bincount(labels[order[:n]], minlength=4)
        assert np.all(np.abs(counts - share * n) <= 1.0 + 1e-9), (n, counts, share * n)


def test_another_seed_draws_another_adaptation_subset(wrist):
    train = split_by_duration(wrist, (0.4, 0.1, 0.5), seed=0).train
    first, second = (adaptation_subset(train, 10, s) for s in (0, 1))
    assert not np.array_equal(first.x, second.x)


def test_mapping_relabels_source_classes_and_reports_the_dropped_ones(wrist):
    mapping = LabelMapping((("WALKING", "walk"), ("SITTING", "rest"), ("STANDING", "rest")))
    shared = mapping.shared_labels(CLASSES, ("walk", "rest", "cycle"))
    assert shared == ("walk", "rest")
    relabelled, dropped = relabel(wrist, mapping.source_to_shared(CLASSES, shared), shared)
    counts = wrist.class_counts()
    assert dropped == {"LAYING": counts[3]}
    assert relabelled.class_names == shared
    assert list(relabelled.class_counts()) == [counts[0], counts[1] + counts[2]]


def test_a_mapping_naming_missing_classes_is_refused():
    with pytest.raises(InputError, match="lacks: source \\['RUNNING'\\]"):
        LabelMapping((("RUNNING", "run"),)).shared_labels(CLASSES, ("run",))


def test_majority_f1_is_the_test_share_of_the_most_common_training_class(wrist):
    splits = split_by_duration(wrist, (0.4, 0.1, 0.5), seed=0)
    top = np.argmax(splits.train.class_counts())
    assert majority_f1(splits.train, splits.test) == pytest.approx(np.mean(splits.test.y == top))
