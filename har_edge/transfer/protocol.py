"""The evaluation protocol: windows, subject-disjoint splits by duration (by activity occurrence for a
domain of 1-2 subjects), nested adaptation subsets.

``gjoreski2019`` follows the published cross-dataset study: 25 Hz, 100-sample (4 s) windows with a
50-sample hop (2 s overlap), subjects split 40/10/50 % (train/validation/test) by recorded duration,
micro-F1 (= accuracy for single-label windows). A subject's duration is counted as its labelled windows
times the hop, so the fractions are of labelled time. The split is drawn once per study (``split_seed``),
so the target test split never changes across the grid; adaptation subsets come from the target's
training subjects only and are prefixes of one stratified order per seed, hence nested.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from har_edge.data.splits import Splits
from har_edge.data.windows import WindowConfig, WindowSet
from har_edge.errors import InputError
from har_edge.types import ACC_CHANNELS


@dataclass(frozen=True)
class Protocol:
    name: str
    rate_hz: float
    window: int
    hop: int
    fractions: tuple[float, float, float]  # train, validation, test (of the target's duration)

    def window_config(self) -> WindowConfig:
        return WindowConfig(rate_hz=self.rate_hz, window=self.window, hop=self.hop, channels=ACC_CHANNELS)


PROTOCOLS = {"gjoreski2019": Protocol("gjoreski2019", 25.0, 100, 50, (0.4, 0.1, 0.5))}
# The source is split for training, not for the study: most of it trains, a slice stops early, a
# slice measures the source model on its own domain.
SOURCE_FRACTIONS = (0.7, 0.1, 0.2)


def protocol(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise InputError(f"unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]


# A domain of at most this many subjects cannot be split subject-disjointly in three: its activity
# occurrences are split instead, as the cross-dataset study does for its single-subject data set.
FEW_SUBJECTS = 2


def split_domain(windows: WindowSet, fractions: tuple[float, float, float], seed: int) -> Splits:
    """``split_by_duration`` for 3 subjects or more, else ``split_by_occurrence``."""
    if len(windows.subjects) > FEW_SUBJECTS:
        return split_by_duration(windows, fractions, seed)
    return split_by_occurrence(windows, fractions, seed)


def split_by_occurrence(windows: WindowSet, fractions: tuple[float, float, float], seed: int) -> Splits:
    """Train/validation/test splits of whole activity occurrences (contiguous label runs in time), per
    class about ``fractions`` of its occurrences (``data.splits`` rules: a class with fewer than 3 trains
    only), windows overlapping a window of another split dropped. Every split must get windows."""
    from har_edge.data.splits import split_by_occurrence as occurrence_split_of

    _require_fractions(fractions)
    split_of = occurrence_split_of(windows, fractions[1], fractions[2], np.random.default_rng(seed))
    parts = [windows.take(np.flatnonzero(split_of == k)) for k in range(3)]
    empty = [name for name, part in zip(("train", "validation", "test"), parts, strict=True) if not len(part)]
    if empty:
        group = windows.recording.astype(np.int64) * 1_000_000 + windows.occurrence
        counts = {windows.class_names[c]: len(np.unique(group[windows.y == c])) for c in np.unique(windows.y)}
        raise InputError(
            f"{len(windows.subjects)} subject(s), so activity occurrences are split "
            f"({'/'.join(f'{f:g}' for f in fractions)}), but the {' and '.join(empty)} split got no windows; "
            f"occurrences per class: {', '.join(f'{k} {v}' for k, v in counts.items())} (a class needs at "
            "least 3, and more for small fractions); record more, or add subjects"
        )
    return Splits(parts[0], parts[1], parts[2], "occurrence")


def _require_fractions(fractions: tuple[float, float, float]) -> None:
    if len(fractions) != 3 or min(fractions) <= 0 or abs(sum(fractions) - 1) > 1e-6:
        raise InputError(f"split fractions must be 3 positive numbers summing to 1, got {fractions}")


def split_by_duration(windows: WindowSet, fractions: tuple[float, float, float], seed: int) -> Splits:
    """Subject-disjoint train/validation/test splits holding about ``fractions`` of the labelled time.

    Subjects are laid end to end in a seeded random order; each goes to the split whose share of the
    total holds the middle of its time. A split left empty takes a subject from the largest one, so
    every split has a subject (3 subjects are needed).
    """
    subjects = list(windows.subjects)
    if len(subjects) < 3:
        raise InputError(f"a subject-disjoint 3-way split needs at least 3 subjects, got {len(subjects)}")
    _require_fractions(fractions)
    order = [subjects[i] for i in np.random.default_rng(seed).permutation(len(subjects))]
    counts = {s: int(np.count_nonzero(windows.subject == s)) for s in order}
    total = sum(counts.values())
    bounds = np.cumsum(fractions[:2]) * total
    starts = np.cumsum([0] + [counts[s] for s in order[:-1]])
    middles = starts + np.array([counts[s] for s in order]) / 2
    part_of = np.searchsorted(bounds, middles, side="right")  # the split holding a subject's middle
    for empty in (p for p in (2, 1, 0) if not np.any(part_of == p)):
        donor = int(np.argmax(np.bincount(part_of, minlength=3)))  # a split with 2+ subjects
        part_of[np.flatnonzero(part_of == donor)[-1 if donor < empty else 0]] = empty
    assignment = dict(zip(order, part_of.tolist(), strict=True))
    split_of = np.array([assignment[s] for s in windows.subject])
    parts = [windows.take(np.flatnonzero(split_of == k)) for k in range(3)]
    return Splits(parts[0], parts[1], parts[2], "subject")


def adaptation_order(labels: np.ndarray, seed: int) -> np.ndarray:
    """A permutation of ``range(len(labels))`` whose every prefix is stratified by class.

    Each class's windows are shuffled; the i-th of n_c windows of class c gets the key (i + u) / n_c
    (u uniform in [0, 1)), and windows are sorted by key, so any prefix holds each class in proportion
    to its share (up to one window; a prefix shorter than the number of classes misses some).
    """
    rng = np.random.default_rng(seed)
    keys = np.empty(len(labels))
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        members = members[rng.permutation(len(members))]
        keys[members] = (np.arange(len(members)) + rng.random(len(members))) / len(members)
    return np.argsort(keys, kind="stable")


def adaptation_subset(train: WindowSet, size: int | None, seed: int) -> WindowSet:
    """The first ``size`` windows (None: all) of ``adaptation_order(train.y, seed)``."""
    order = adaptation_order(train.y, seed)
    return train.take(order if size is None else order[: min(size, len(order))])


def majority_f1(train: WindowSet, test: WindowSet) -> float:
    """Micro-F1 on ``test`` of always predicting the most common training class."""
    majority = int(np.argmax(train.class_counts()))
    return float(np.mean(test.y == majority))


# --- label sets ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelMapping:
    """Source class -> target class. ``None``: classes with the same name correspond."""

    pairs: tuple[tuple[str, str], ...] | None = None

    def to_dict(self) -> dict[str, str] | None:
        return None if self.pairs is None else dict(self.pairs)

    def shared_labels(self, source: tuple[str, ...], target: tuple[str, ...]) -> tuple[str, ...]:
        """The study's label set, in the target's order: targets of mapped source classes."""
        if self.pairs is None:
            return tuple(name for name in target if name in source)
        unknown_source = [s for s, _ in self.pairs if s not in source]
        unknown_target = [t for _, t in self.pairs if t not in target]
        if unknown_source or unknown_target:
            raise InputError(
                f"class mapping names classes the data lacks: source {unknown_source} (has "
                f"{', '.join(source)}), target {unknown_target} (has {', '.join(target)})"
            )
        mapped = {t for _, t in self.pairs}
        return tuple(name for name in target if name in mapped)

    def source_to_shared(self, source: tuple[str, ...], shared: tuple[str, ...]) -> dict[str, str]:
        if self.pairs is None:
            return {name: name for name in source if name in shared}
        return {s: t for s, t in self.pairs}


def relabel(windows: WindowSet, names: dict[str, str], shared: tuple[str, ...]) -> tuple[WindowSet, dict]:
    """Windows of classes in ``names`` relabelled to their index in ``shared``; the rest dropped.

    Returns the windows and ``{dropped class: window count}``.
    """
    table = np.array([shared.index(names[c]) if c in names else -1 for c in windows.class_names])
    mapped = table[windows.y] if len(windows) else np.zeros(0, np.int64)
    dropped = {
        windows.class_names[c]: int(n)
        for c, n in enumerate(np.bincount(windows.y, minlength=len(windows.class_names)))
        if table[c] < 0 and n
    }
    kept = windows.take(np.flatnonzero(mapped >= 0))
    return replace(kept, y=mapped[mapped >= 0].astype(np.int64), class_names=shared), dropped


def domain_summary(splits: Splits) -> dict[str, Any]:
    """How the domain was split (by subject or by occurrence), subjects and windows per split."""
    return {
        "grouping": splits.grouping,
        **{
            name: {"subjects": list(part.subjects), "windows": len(part)}
            for name, part in (("train", splits.train), ("val", splits.val), ("test", splits.test))
        },
    }


# --- prepared splits on disk (shared with workers) -----------------------------------------------------

_PARTS = ("train", "val", "test")


def store_splits(path, named: dict[str, Splits]) -> None:
    """Write several Splits (e.g. ``{"source": ..., "target": ...}``) to one ``.npz``, atomically."""
    import io

    from har_edge.fsutil import atomic_write_bytes

    arrays: dict[str, np.ndarray] = {}
    for name, splits in named.items():
        first = splits.train
        arrays[f"{name}.meta"] = np.array(
            [
                json.dumps(
                    {
                        "classes": first.class_names,
                        "channels": first.channels,
                        "rate_hz": first.rate_hz,
                        "window": first.window,
                        "hop": first.hop,
                    }
                )
            ]
        )
        for part in _PARTS:
            windows = getattr(splits, part)
            arrays[f"{name}.{part}.x"] = windows.x
            arrays[f"{name}.{part}.y"] = windows.y
            arrays[f"{name}.{part}.subject"] = windows.subject.astype(str)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def load_splits(path, name: str) -> Splits:
    """The Splits stored under ``name`` by ``store_splits`` (provenance other than subjects is not kept)."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data[f"{name}.meta"][0]))
        parts = []
        for part in _PARTS:
            y = data[f"{name}.{part}.y"]
            zeros = np.zeros(len(y), np.int64)
            parts.append(
                WindowSet(
                    x=data[f"{name}.{part}.x"],
                    y=y,
                    subject=data[f"{name}.{part}.subject"].astype(object),
                    recording=zeros,
                    start=zeros,
                    occurrence=zeros,
                    class_names=tuple(meta["classes"]),
                    channels=tuple(meta["channels"]),
                    rate_hz=meta["rate_hz"],
                    window=meta["window"],
                    hop=meta["hop"],
                )
            )
    return Splits(*parts, "subject")
