"""Labelled windows -> subject-disjoint train/validation/test splits -> per-channel normalization
fitted on the training split only (the statistics travel with the model)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from har_edge.data.windows import WindowSet
from har_edge.errors import InputError

MIN_SPLIT_WINDOWS = 10


@dataclass(frozen=True)
class Splits:
    """``grouping`` is what the test (and by default the validation) split holds out whole;
    ``val_grouping`` "occurrence" says the validation split was taken by activity occurrence from the
    training subjects instead (their validation subjects lacked classes)."""

    train: WindowSet
    val: WindowSet
    test: WindowSet
    grouping: Literal["subject", "occurrence", "case"]
    val_grouping: Literal["occurrence"] | None = None

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def split_by_subject(
    windows: WindowSet, *, val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0
) -> Splits:
    """Subject-disjoint train/validation/test splits: no subject has windows in two splits.

    With a single subject, activity occurrences are split instead (``split_by_occurrence``). With
    several, when the validation subjects lack a class that the non-test subjects could spare an
    occurrence of (or the training subjects lack a class the validation ones have), validation is
    taken by occurrence from all non-test subjects instead, so early stopping never watches a
    class-starved split. ``test_fraction`` 0 (the test data comes from
    elsewhere) holds no test split.
    """
    if not (0 < val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise InputError("split fractions must be in (0, 1) (test may be 0) and sum to less than 1")
    rng = np.random.default_rng(seed)
    subjects = windows.subjects
    min_test = 1 if test_fraction else 0
    if len(subjects) == 1:
        return _parts(windows, split_by_occurrence(windows, val_fraction, test_fraction, rng), "occurrence")
    if len(subjects) < 2 + min_test:
        raise InputError(
            f"cannot split {len(subjects)} subjects into train/validation/test subject-disjointly: need 1 "
            "subject (then activity occurrences are split) or at least 3; give a separate test set with "
            "--test-data (then 2 subjects suffice) or add subjects"
        )
    order = [subjects[i] for i in rng.permutation(len(subjects))]
    n_test = max(min_test, round(len(subjects) * test_fraction))
    n_val = max(1, round(len(subjects) * val_fraction))
    if n_test + n_val >= len(subjects):
        n_test, n_val = min_test, 1
    test_set, val_set = set(order[:n_test]), set(order[n_test : n_test + n_val])
    split_of = np.array([2 if s in test_set else 1 if s in val_set else 0 for s in windows.subject])
    pool = np.flatnonzero(split_of != 2)
    by_occurrence = split_by_occurrence(windows.take(pool), val_fraction / (1 - test_fraction), 0.0, rng)
    spare = set(windows.y[pool][by_occurrence == 1].tolist())
    covered = spare <= set(windows.y[split_of == 1].tolist())
    if covered and set(windows.y[pool].tolist()) <= set(windows.y[split_of == 0].tolist()):
        return _parts(windows, split_of, "subject")
    split_of[pool] = by_occurrence
    return _parts(windows, split_of, "subject", val_grouping="occurrence")


def _parts(windows: WindowSet, split_of: np.ndarray, grouping, val_grouping=None) -> Splits:
    parts = [windows.take(np.flatnonzero(split_of == k)) for k in range(3)]
    return Splits(parts[0], parts[1], parts[2], grouping, val_grouping)


@dataclass(frozen=True)
class Normalizer:
    """Per-channel standardization, fitted on the training split only; travels with the model."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    MIN_STD = 1e-6

    @classmethod
    def fit(cls, train: WindowSet) -> Normalizer:
        flat = train.x.reshape(-1, train.x.shape[-1]).astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):  # non-finite statistics are refused below
            mean, std = flat.mean(axis=0), np.maximum(flat.std(axis=0), cls.MIN_STD)
        if not (np.isfinite(mean).all() and np.isfinite(std).all()):
            raise InputError(
                f"training windows hold infinite or NaN values (channel means {mean.tolist()}): "
                "refusing to normalize or train on them"
            )
        return cls(tuple(mean.tolist()), tuple(std.tolist()))

    def apply(self, x: np.ndarray) -> np.ndarray:
        if x.shape[-1] != len(self.mean):
            raise InputError(f"normalizer expects {len(self.mean)} channels, got {x.shape[-1]}")
        return ((x - np.asarray(self.mean)) / np.asarray(self.std)).astype(np.float32)

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, data: dict) -> Normalizer:
        try:
            mean, std = tuple(float(v) for v in data["mean"]), tuple(float(v) for v in data["std"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"normalization statistics: expected lists 'mean' and 'std' ({exc})") from exc
        if (
            len(mean) != len(std)
            or not all(math.isfinite(v) for v in mean + std)
            or min(std, default=1.0) <= 0
        ):
            raise InputError(
                "normalization statistics: 'mean' and 'std' must match in length, be finite, std > 0"
            )
        return cls(mean, std)


def normalize_splits(splits: Splits) -> tuple[Splits, Normalizer]:
    """Fit a Normalizer on ``splits.train`` and apply it to all three splits."""
    normalizer = Normalizer.fit(splits.train)
    return apply_normalizer(splits, normalizer), normalizer


def apply_normalizer(splits: Splits, normalizer: Normalizer) -> Splits:
    """All three splits standardized with ``normalizer`` (e.g. the statistics in a model card)."""
    return replace(
        splits,
        train=splits.train.with_x(normalizer.apply(splits.train.x)),
        val=splits.val.with_x(normalizer.apply(splits.val.x)),
        test=splits.test.with_x(normalizer.apply(splits.test.x)),
    )


def split_by_occurrence(
    windows: WindowSet, val_fraction: float, test_fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """The split of each window (0 train, 1 validation, 2 test, -1 dropped) by activity occurrence.

    Per class, whole units are shuffled and dealt out: the given fractions of them, rounded, but at
    least one unit to validation (and to test when ``test_fraction`` > 0) whenever the class has units
    to spare after one for training; validation is served before test. A class of fewer than
    ``MIN_SPLIT_WINDOWS`` windows (one subject's few postural transitions) only trains: a window or
    two of it would decide early stopping without saying anything about the model. A unit is an occurrence (a
    contiguous label run of one recording); a class with too few occurrences has its longest ones cut
    in time into contiguous blocks (``_units``). Windows overlapping a window of another split in time
    are dropped, so no sample is in two splits.
    """
    needed = 3 if test_fraction else 2
    unit = _units(windows, needed)
    split_of = np.zeros(len(windows), dtype=np.int64)
    for cls in np.unique(windows.y):
        units = np.unique(unit[windows.y == cls])
        units = units[rng.permutation(len(units))]
        spare = len(units) - 1 if np.count_nonzero(windows.y == cls) >= MIN_SPLIT_WINDOWS else 0
        n_val = min(spare, max(1, round(len(units) * val_fraction)))
        n_test = min(spare - n_val, max(1, round(len(units) * test_fraction))) if test_fraction else 0
        split_of[np.isin(unit, units[:n_val])] = 1
        split_of[np.isin(unit, units[n_val : n_val + n_test])] = 2
    return np.where(_overlap_free(windows, split_of), split_of, -1)


def _units(windows: WindowSet, needed: int) -> np.ndarray:
    """A unit id per window: its occurrence, except that a class with fewer than ``needed``
    occurrences has its longest unit halved in time (repeatedly) while each half keeps at least
    ``2 * overlap + 1`` windows, ``overlap`` being how many later windows one window overlaps (the
    windows a cut between splits costs on each side)."""
    unit = windows.recording.astype(np.int64) * 1_000_000 + windows.occurrence
    overlap = -(-windows.window // windows.hop) - 1
    next_id = int(unit.max(initial=0)) + 1
    for cls in np.unique(windows.y):
        members = np.flatnonzero(windows.y == cls)
        while len(np.unique(unit[members])) < needed:
            ids, counts = np.unique(unit[members], return_counts=True)
            if counts.max() < 2 * (2 * overlap + 1):
                break
            longest = members[unit[members] == ids[counts.argmax()]]
            longest = longest[np.argsort(windows.start[longest], kind="stable")]
            unit[longest[len(longest) // 2 :]] = next_id
            next_id += 1
    return unit


def _overlap_free(windows: WindowSet, split_of: np.ndarray) -> np.ndarray:
    """False for every window that overlaps, in time, a window of another split."""
    keep = np.ones(len(windows), dtype=bool)
    for rec in np.unique(windows.recording):
        idx = np.flatnonzero(windows.recording == rec)
        idx = idx[np.argsort(windows.start[idx], kind="stable")]
        for lag in range(1, len(idx)):
            a, b = idx[:-lag], idx[lag:]
            overlaps = windows.start[b] < windows.start[a] + windows.window
            if not overlaps.any():
                break
            clash = overlaps & (split_of[a] != split_of[b])
            keep[a[clash]] = keep[b[clash]] = False
    return keep


def densify_train(splits: Splits, dense: WindowSet) -> Splits:
    """``splits`` with its training split replaced by the windows of ``dense`` (the same recordings
    windowed with a shorter hop) that overlap a training window and no validation or test window in
    time: more, shifted training examples from the same stretches of data, no sample shared with the
    held-out splits, validation and test untouched."""
    if (dense.window, dense.channels, dense.rate_hz) != (
        splits.train.window,
        splits.train.channels,
        splits.train.rate_hz,
    ):
        raise InputError("densify_train: the dense windows must have the splits' window, channels and rate")
    inside = _overlaps_any(dense, splits.train)
    held_out = _overlaps_any(dense, splits.val) | _overlaps_any(dense, splits.test)
    return replace(splits, train=dense.take(np.flatnonzero(inside & ~held_out)))


def _overlaps_any(windows: WindowSet, others: WindowSet) -> np.ndarray:
    """True for every window of ``windows`` sharing a sample with a window of ``others`` (same recording)."""
    hit = np.zeros(len(windows), dtype=bool)
    for rec in np.intersect1d(np.unique(windows.recording), np.unique(others.recording)):
        mine = np.flatnonzero(windows.recording == rec)
        starts = np.sort(others.start[others.recording == rec])
        first = np.searchsorted(starts, windows.start[mine] - others.window, side="right")
        last = np.searchsorted(starts, windows.start[mine] + windows.window, side="left")
        hit[mine] = last > first
    return hit
