"""Shared frozen data types of the data path.

Units everywhere: accelerometer channels in m/s² (loaders convert from g where a format stores g),
gyroscope channels in rad/s, time in seconds. Per-sample labels index ``class_names``; ``UNLABELLED``
(-1) marks samples with no activity (transients, 'null' labels, unknown rows).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from har_edge.errors import DataFormatError

UNLABELLED = -1
LABEL_DTYPE = np.int32
GRAVITY_M_S2 = 9.80665

ACC_CHANNELS: tuple[str, ...] = ("acc_x", "acc_y", "acc_z")
GYRO_CHANNELS: tuple[str, ...] = ("gyro_x", "gyro_y", "gyro_z")


def sorted_subjects(subjects: Iterable[str]) -> tuple[str, ...]:
    """Distinct subject ids in natural order: "2" before "10", numbers before names."""

    def key(subject: str) -> tuple[bool, int, str]:
        return (not subject.isdigit(), int(subject) if subject.isdigit() else 0, subject)

    return tuple(sorted(set(subjects), key=key))


@dataclass(frozen=True, eq=False)
class Recording:
    """One capture of one subject with one device: samples, their times and a per-sample label track.

    ``samples`` is float32 (n, channels) and may hold NaN for missing samples (gaps are found and
    reported by windowing, never interpolated across). ``timestamps_s`` is float64 (n,), strictly
    increasing, and may be uneven (real devices jitter); ``nominal_rate_hz`` is what the device claimed.
    ``domain`` describes where and with what it was recorded (e.g. ``"waist/phone-a"``). ``max_gap_s``,
    when a loader sets it (measured from the device's timing jitter, or given), is the longest time step
    that windowing interpolates across; None leaves it to windowing's rule of nominal periods.
    """

    subject: str
    samples: np.ndarray
    timestamps_s: np.ndarray
    labels: np.ndarray
    channels: tuple[str, ...]
    class_names: tuple[str, ...]
    nominal_rate_hz: float
    source: str
    domain: str = ""
    max_gap_s: float | None = None

    def __post_init__(self) -> None:
        """A last line of defence behind the loaders' own checks: a violation is a ``DataFormatError``
        naming the source (infinite samples, which no gap or normalization can handle, included)."""
        n = len(self.timestamps_s)
        if self.samples.ndim != 2 or self.samples.shape != (n, len(self.channels)):
            channels = len(self.channels)
            self._refuse(
                f"samples shape {self.samples.shape} does not match {n} timestamps x {channels} channels"
            )
        if self.labels.shape != (n,):
            self._refuse(f"labels shape {self.labels.shape}, expected ({n},)")
        if n > 1 and not np.all(np.diff(self.timestamps_s) > 0):
            self._refuse("timestamps are not strictly increasing")
        if n and (self.labels.min() < UNLABELLED or self.labels.max() >= len(self.class_names)):
            self._refuse(f"label outside [-1, {len(self.class_names)})")
        if not (self.nominal_rate_hz > 0 and math.isfinite(self.nominal_rate_hz)):
            self._refuse(f"nominal_rate_hz must be a finite number > 0, got {self.nominal_rate_hz!r}")
        if self.max_gap_s is not None and not (self.max_gap_s > 0 and math.isfinite(self.max_gap_s)):
            self._refuse(f"max_gap_s must be a finite number > 0, got {self.max_gap_s!r}")
        if np.isinf(self.samples).any():
            row = int(np.flatnonzero(np.isinf(self.samples).any(axis=1))[0])
            self._refuse(f"sample {row} is infinite (or beyond float32's range)", "finite values or NaN gaps")

    def _refuse(self, problem: str, expected: str | None = None) -> None:
        raise DataFormatError(self.source, f"recording of {self.subject!r}: {problem}", expected=expected)

    @property
    def duration_s(self) -> float:
        return float(self.timestamps_s[-1] - self.timestamps_s[0]) if len(self.timestamps_s) > 1 else 0.0

    def __len__(self) -> int:
        return len(self.timestamps_s)


@dataclass(frozen=True, eq=False)
class Dataset:
    """Recordings that share one channel layout and one class set, as a loader or the generator returns.

    ``notes`` lists what a loader tolerated and skipped (e.g. broken WISDM lines), with file and line,
    so nothing is dropped silently. ``cases`` marks a data set of labelled cases (UEA/UCR): each recording
    is one window already, and its "subject" is only a case number, so splits go by case, not by subject.
    """

    name: str
    recordings: tuple[Recording, ...]
    channels: tuple[str, ...]
    class_names: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())
    cases: bool = False

    def __post_init__(self) -> None:
        for rec in self.recordings:
            if rec.channels != self.channels:
                raise ValueError(f"{rec.source}: channels {rec.channels} differ from dataset {self.channels}")
            if rec.class_names != self.class_names:
                raise ValueError(f"{rec.source}: class set differs from dataset {self.name!r}")

    @property
    def subjects(self) -> tuple[str, ...]:
        return sorted_subjects(r.subject for r in self.recordings)
