"""Recordings -> labelled windows -> subject-disjoint splits -> normalization fitted on train.

Gaps (NaN runs, time jumps) cut a recording into gap-free segments; each segment is resampled to the
target rate on its own and windows never span a gap, so nothing is interpolated across missing data.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from har_edge.arrays import count_per_row
from har_edge.errors import InputError
from har_edge.types import UNLABELLED, Dataset, Recording, sorted_subjects

Labeling = Literal["majority", "strict"]
OnShort = Literal["error", "skip"]
MAX_UPSAMPLING = 256  # resampled points per source sample: refused above, before the grid is allocated


@dataclass(frozen=True)
class WindowConfig:
    """``window`` and ``hop`` are in samples at ``rate_hz`` (200/100 at 50 Hz = 4 s windows, 2 s overlap).

    A time step longer than ``max_gap_factor`` nominal periods counts as a gap (unless the recording
    carries its own ``max_gap_s``).
    ``labeling='majority'`` keeps a window whose most common label covers more than half of it;
    ``'strict'`` keeps only windows with a single label throughout.
    ``train_hop`` (None: ``hop``) is the hop of the training split's windows when they are cut
    denser than the validation and test windows (``data.plan.split_for_training``); ``make_windows``
    itself cuts every ``hop`` samples.
    """

    rate_hz: float = 50.0
    window: int = 200
    hop: int = 100
    labeling: Labeling = "majority"
    max_gap_factor: float = 2.5
    channels: tuple[str, ...] | None = None
    train_hop: int | None = None

    def __post_init__(self) -> None:
        if self.rate_hz <= 0 or self.window < 1 or self.hop < 1:
            raise InputError(f"window config: rate_hz, window and hop must be positive, got {self}")
        if self.train_hop is not None and not 1 <= self.train_hop <= self.hop:
            raise InputError(
                f"window config: train_hop must be between 1 and hop ({self.hop}), got {self.train_hop}"
            )
        if self.labeling not in ("majority", "strict"):
            raise InputError(f"window config: labeling {self.labeling!r}, expected 'majority' or 'strict'")
        if self.max_gap_factor <= 1:
            raise InputError("window config: max_gap_factor must be > 1")

    @property
    def window_seconds(self) -> float:
        return self.window / self.rate_hz


@dataclass(frozen=True)
class Gap:
    """A stretch of missing data in one recording: a NaN run or a time jump."""

    source: str
    kind: Literal["nan", "time_jump"]
    start_s: float
    duration_s: float


@dataclass(frozen=True, eq=False)
class WindowSet:
    """Fixed-length windows ``x`` (n, window, channels) float32 with labels and provenance per window.

    ``recording`` indexes the source recordings, ``start`` is the first sample's index in that
    recording's time base at ``rate_hz`` (counted from the recording's first sample, across gaps: two
    windows overlap in time exactly when their starts are less than a window apart), ``occurrence``
    numbers contiguous label runs per recording (used to split a single subject's data without
    neighbouring windows straddling splits).
    """

    x: np.ndarray
    y: np.ndarray
    subject: np.ndarray
    recording: np.ndarray
    start: np.ndarray
    occurrence: np.ndarray
    class_names: tuple[str, ...]
    channels: tuple[str, ...]
    rate_hz: float
    window: int
    hop: int

    def __len__(self) -> int:
        return len(self.y)

    def take(self, index: np.ndarray) -> WindowSet:
        return replace(
            self,
            x=self.x[index],
            y=self.y[index],
            subject=self.subject[index],
            recording=self.recording[index],
            start=self.start[index],
            occurrence=self.occurrence[index],
        )

    def with_x(self, x: np.ndarray) -> WindowSet:
        return replace(self, x=x)

    @property
    def subjects(self) -> tuple[str, ...]:
        return sorted_subjects(self.subject.tolist())

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.y, minlength=len(self.class_names))


@dataclass(frozen=True)
class WindowingReport:
    """What windowing kept and dropped, and every gap it found (never interpolated across)."""

    windows: int
    dropped_unlabelled: int
    dropped_impure: int
    gaps: tuple[Gap, ...]
    skipped_short: tuple[str, ...] = field(default=())

    @property
    def gap_seconds(self) -> float:
        return float(sum(g.duration_s for g in self.gaps))

    def summary(self) -> str:
        nan = sum(g.kind == "nan" for g in self.gaps)
        jumps = len(self.gaps) - nan
        text = (
            f"{self.windows} windows; dropped {self.dropped_unlabelled} unlabelled and "
            f"{self.dropped_impure} mixed-label windows; gaps: {nan} NaN runs, {jumps} time jumps "
            f"({self.gap_seconds:.1f} s)"
        )
        if self.skipped_short:
            text += f"; skipped {len(self.skipped_short)} recordings shorter than one window"
        return text


def max_step_s(recording: Recording, max_gap_factor: float) -> float:
    """The longest time step that is not a gap: the recording's own ``max_gap_s`` when its loader set
    one, else ``max_gap_factor`` nominal periods."""
    if recording.max_gap_s is not None:
        return recording.max_gap_s
    return max_gap_factor / recording.nominal_rate_hz


def find_gaps(recording: Recording, max_gap_factor: float = 2.5) -> tuple[Gap, ...]:
    """NaN runs (any channel NaN) and time steps longer than ``max_step_s``."""
    t = recording.timestamps_s
    gaps = []
    missing = np.isnan(recording.samples).any(axis=1)
    for first, last in _runs(missing):
        end_t = t[last + 1] if last + 1 < len(t) else t[last]
        gaps.append(Gap(recording.source, "nan", float(t[first]), float(end_t - t[first])))
    steps = np.diff(t)
    for i in np.flatnonzero(steps > max_step_s(recording, max_gap_factor)):
        gaps.append(Gap(recording.source, "time_jump", float(t[i]), float(steps[i])))
    return tuple(sorted(gaps, key=lambda g: g.start_s))


def make_windows(
    dataset: Dataset, config: WindowConfig, *, on_short: OnShort = "error", keep_unlabelled: bool = False
) -> tuple[WindowSet, WindowingReport]:
    """Resample every gap-free segment to ``config.rate_hz``, cut windows, label them.

    A recording shorter than one window raises ``InputError`` (``on_short='skip'`` skips and reports
    it instead). Windows whose label is UNLABELLED or not pure enough are dropped and counted, unless
    ``keep_unlabelled`` (for prediction): then every window is kept, labelled with its most common
    label, which may be UNLABELLED.
    """
    channel_index = _channel_index(dataset, config.channels)
    pieces: list[dict[str, np.ndarray]] = []
    gaps: list[Gap] = []
    skipped: list[str] = []
    dropped_unlabelled = dropped_impure = 0
    for rec_id, rec in enumerate(dataset.recordings):
        if rec.duration_s + 1.0 / rec.nominal_rate_hz < config.window_seconds:
            if on_short == "skip":
                skipped.append(rec.source)
                continue
            raise InputError(
                f"{rec.source} (subject {rec.subject}): recording lasts {rec.duration_s:.2f} s, shorter "
                f"than one window of {config.window_seconds:.2f} s"
            )
        gaps.extend(find_gaps(rec, config.max_gap_factor))
        occurrence_offset = 0
        for first, last in _gap_free_segments(rec, config.max_gap_factor):
            x, labels = _resample(rec, first, last, config.rate_hz, channel_index)
            segment, n_unlabelled, n_impure = _window_segment(x, labels, config, keep_unlabelled)
            # rounded up, so a segment after a gap never starts on the previous segment's last sample
            offset = int(np.ceil((rec.timestamps_s[first] - rec.timestamps_s[0]) * config.rate_hz - 1e-6))
            dropped_unlabelled += n_unlabelled
            dropped_impure += n_impure
            if segment:
                segment["recording"] = np.full(len(segment["y"]), rec_id)
                segment["subject"] = np.full(len(segment["y"]), rec.subject, dtype=object)
                segment["occurrence"] += occurrence_offset
                segment["start"] += offset
                pieces.append(segment)
            occurrence_offset += _count_runs(labels)
    channels = tuple(dataset.channels[i] for i in channel_index)
    windows = _concatenate(pieces, dataset.class_names, channels, config)
    report = WindowingReport(len(windows), dropped_unlabelled, dropped_impure, tuple(gaps), tuple(skipped))
    return windows, report


# ---------------------------------------------------------------------------------------------- helpers


def _channel_index(dataset: Dataset, wanted: tuple[str, ...] | None) -> list[int]:
    if wanted is None:
        return list(range(len(dataset.channels)))
    missing = [c for c in wanted if c not in dataset.channels]
    if missing:
        raise InputError(
            f"channels {missing} not in data set {dataset.name!r}; it has {list(dataset.channels)}"
        )
    return [dataset.channels.index(c) for c in wanted]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) inclusive index pairs of the True runs in a boolean mask."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.diff(padded)
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1, strict=True))


def _count_runs(labels: np.ndarray) -> int:
    return int(np.count_nonzero(np.diff(labels))) + 1 if len(labels) else 0


def _gap_free_segments(rec: Recording, max_gap_factor: float) -> list[tuple[int, int]]:
    """(first, last) inclusive sample ranges without NaN rows and without over-long time steps."""
    valid = ~np.isnan(rec.samples).any(axis=1)
    breaks = np.zeros(len(rec), dtype=bool)
    breaks[1:] = np.diff(rec.timestamps_s) > max_step_s(rec, max_gap_factor)
    segments = []
    for first, last in _runs(valid):
        cuts = [first] + [i for i in np.flatnonzero(breaks[first + 1 : last + 1]) + first + 1] + [last + 1]
        segments.extend((a, b - 1) for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b - 1 > a)
    return segments


def _resample(
    rec: Recording, first: int, last: int, rate_hz: float, channel_index: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation of one gap-free segment onto a uniform grid; labels by nearest-previous."""
    t = rec.timestamps_s[first : last + 1]
    points = int(np.floor((t[-1] - t[0]) * rate_hz + 1e-9)) + 1
    if points > MAX_UPSAMPLING * len(t):
        raise InputError(
            f"recording {rec.subject}: {len(t)} samples over {t[-1] - t[0]:.6g} s would resample to "
            f"{points:,} points at {rate_hz:g} Hz, more than {MAX_UPSAMPLING}x its samples "
            "(timestamps far apart or in the wrong unit?)"
        )
    grid = t[0] + np.arange(points) / rate_hz
    samples = rec.samples[first : last + 1][:, channel_index].astype(np.float64)
    x = np.stack([np.interp(grid, t, samples[:, c]) for c in range(samples.shape[1])], axis=1)
    nearest = np.clip(np.searchsorted(t, grid + 0.5 / rate_hz, side="right") - 1, 0, len(t) - 1)
    return x.astype(np.float32), rec.labels[first : last + 1][nearest]


def _window_segment(
    x: np.ndarray, labels: np.ndarray, config: WindowConfig, keep_all: bool = False
) -> tuple[dict[str, np.ndarray], int, int]:
    n_windows = (len(x) - config.window) // config.hop + 1
    if n_windows <= 0:
        return {}, 0, 0
    starts = np.arange(n_windows) * config.hop
    index = starts[:, None] + np.arange(config.window)[None, :]
    window_labels = labels[index]
    run_id = np.concatenate([[0], np.cumsum(np.diff(labels) != 0)])
    majority, count = _majority(window_labels)
    needed = config.window if config.labeling == "strict" else config.window // 2 + 1
    pure = count >= needed
    labelled = majority != UNLABELLED
    keep = np.ones(len(starts), dtype=bool) if keep_all else pure & labelled
    centre_runs = run_id[starts + config.window // 2]
    segment = {
        "x": x[index[keep]],
        "y": majority[keep].astype(np.int64),
        "start": starts[keep],
        "occurrence": centre_runs[keep],
    }
    n_unlabelled = 0 if keep_all else int(np.count_nonzero(pure & ~labelled))
    n_impure = 0 if keep_all else int(np.count_nonzero(~pure))
    return (segment if keep.any() else {}), n_unlabelled, n_impure


def _majority(window_labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Most common label per row (UNLABELLED included as a candidate) and its count."""
    shifted = window_labels.astype(np.int64) - UNLABELLED
    counts = count_per_row(shifted, int(shifted.max()) + 1)
    best = counts.argmax(axis=1)
    return best + UNLABELLED, counts[np.arange(len(best)), best]


def _concatenate(
    pieces: list[dict[str, np.ndarray]],
    class_names: tuple[str, ...],
    channels: tuple[str, ...],
    config: WindowConfig,
) -> WindowSet:
    def cat(key: str, empty: np.ndarray) -> np.ndarray:
        return np.concatenate([p[key] for p in pieces]) if pieces else empty

    return WindowSet(
        x=cat("x", np.zeros((0, config.window, len(channels)), np.float32)),
        y=cat("y", np.zeros(0, np.int64)),
        subject=cat("subject", np.zeros(0, object)),
        recording=cat("recording", np.zeros(0, np.int64)),
        start=cat("start", np.zeros(0, np.int64)),
        occurrence=cat("occurrence", np.zeros(0, np.int64)),
        class_names=class_names,
        channels=channels,
        rate_hz=config.rate_hz,
        window=config.window,
        hop=config.hop,
    )
