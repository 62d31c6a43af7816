"""Labelled windows -> subject-disjoint train/validation/test splits -> per-channel normalization
fitted on the training split only (the statistics travel with the model)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from har_edge.data.windows import WindowSet
from har_edge.errors import InputError


@dataclass(frozen=True)
class Splits:
    train: WindowSet
    val: WindowSet
    test: WindowSet
    grouping: Literal["subject", "occurrence", "case"]

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def split_by_subject(
    windows: WindowSet, *, val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0
) -> Splits:
    """Subject-disjoint train/validation/test splits: no subject has windows in two splits.

    With a single subject, activity occurrences (contiguous label runs) are split instead, stratified
    by class, and windows that overlap a window of another split are dropped, so neighbouring windows
    never straddle splits. ``test_fraction`` 0 (the test data comes from elsewhere) holds no test split.
    """
    if not (0 < val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise InputError("split fractions must be in (0, 1) (test may be 0) and sum to less than 1")
    rng = np.random.default_rng(seed)
    subjects = windows.subjects
    min_test = 1 if test_fraction else 0
    if len(subjects) >= 2 + min_test:
        order = [subjects[i] for i in rng.permutation(len(subjects))]
        n_test = max(min_test, round(len(subjects) * test_fraction))
        n_val = max(1, round(len(subjects) * val_fraction))
        if n_test + n_val >= len(subjects):
            n_test, n_val = min_test, 1
        test_set, val_set = set(order[:n_test]), set(order[n_test : n_test + n_val])
        split_of = np.array([2 if s in test_set else 1 if s in val_set else 0 for s in windows.subject])
        grouping = "subject"
    elif len(subjects) == 1:
        split_of = _split_occurrences(windows, val_fraction, test_fraction, rng)
        grouping = "occurrence"
    else:
        raise InputError(
            f"cannot split {len(subjects)} subjects into train/validation/test subject-disjointly: need 1 "
            "subject (then activity occurrences are split) or at least 3; give a separate test set with "
            "--test-data (then 2 subjects suffice) or add subjects"
        )
    parts = [windows.take(np.flatnonzero(split_of == k)) for k in range(3)]
    return Splits(parts[0], parts[1], parts[2], grouping)


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


def _split_occurrences(
    windows: WindowSet, val_fraction: float, test_fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """Assign whole occurrences to splits per class, then purge windows overlapping another split."""
    group = windows.recording.astype(np.int64) * 1_000_000 + windows.occurrence
    split_of = np.zeros(len(windows), dtype=np.int64)
    for cls in np.unique(windows.y):
        groups = np.unique(group[windows.y == cls])
        groups = groups[rng.permutation(len(groups))]
        n_test = int(round(len(groups) * test_fraction)) if len(groups) >= 3 else 0
        n_val = int(round(len(groups) * val_fraction)) if len(groups) >= 3 else 0
        split_of[np.isin(group, groups[:n_test])] = 2
        split_of[np.isin(group, groups[n_test : n_test + n_val])] = 1
    keep = np.ones(len(windows), dtype=bool)
    for rec in np.unique(windows.recording):
        idx = np.flatnonzero(windows.recording == rec)
        idx = idx[np.argsort(windows.start[idx])]
        for lag in range(1, len(idx)):
            a, b = idx[:-lag], idx[lag:]
            overlaps = windows.start[b] < windows.start[a] + windows.window
            if not overlaps.any():
                break
            clash = overlaps & (split_of[a] != split_of[b])
            keep[a[clash]] = keep[b[clash]] = False
    return np.where(keep, split_of, -1)
