"""From parsed tables to recordings: label codes and class indices, per-key row groups, timestamp
checks, the nominal rate, notes naming lines, and the ``Recording`` with the dtypes every loader
promises."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from har_edge.data.formats.text import NOTE_MAX_LINES, Table, one_of
from har_edge.errors import DataFormatError
from har_edge.types import LABEL_DTYPE, Recording


def class_indices(
    path: Path,
    codes: np.ndarray,
    levels: Sequence[object],
    lines: np.ndarray,
    mapping: Mapping[object, int],
    *,
    field: str,
) -> np.ndarray:
    """Class indices of label ``codes`` (indexing ``levels``); an unmapped value fails at its first row."""
    lookup = np.empty(len(levels), dtype=LABEL_DTYPE)
    for code, value in enumerate(levels):
        if value not in mapping:
            line = int(lines[np.argmax(codes == code)])
            raise DataFormatError(
                path, f"unknown label {value!r}", line=line, field=field, expected=one_of(mapping)
            )
        lookup[code] = mapping[value]
    return lookup[codes]


def row_groups(keys: np.ndarray) -> list[np.ndarray]:
    """Row indices per distinct key, in key order; rows keep their file order within a group."""
    order = np.argsort(keys, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(keys[order])) + 1)


def require_increasing(path: Path, times_s: np.ndarray, lines: np.ndarray, *, field: str) -> None:
    steps = np.diff(times_s)
    bad = np.flatnonzero(~(steps > 0))  # also catches NaN
    if bad.size:
        i = bad[0] + 1
        how = "repeats the timestamp of" if steps[bad[0]] == 0 else "is not later than"
        raise DataFormatError(
            path,
            f"timestamp {float(times_s[i])} {how} line {lines[i - 1]} ({float(times_s[i - 1])})",
            line=int(lines[i]),
            field=field,
            expected="strictly increasing timestamps",
        )


def nominal_rate(path: Path, steps_s: np.ndarray, rate_hz: float | None) -> float:
    """``rate_hz`` if given, else the rate of the median time step."""
    if rate_hz is not None:
        return float(rate_hz)
    if not len(steps_s):
        raise DataFormatError(path, "cannot estimate the rate of a single sample", expected="rate_hz=...")
    return float(1.0 / np.median(steps_s))


def lines_note(path: Path, message: str, lines: np.ndarray) -> str:
    shown = ", ".join(map(str, lines[:NOTE_MAX_LINES].tolist()))
    more = f" and {len(lines) - NOTE_MAX_LINES} more" if len(lines) > NOTE_MAX_LINES else ""
    return f"{path}: {message} (lines {shown}{more})"


def stack_columns(table: Table, names: Sequence[str]) -> np.ndarray:
    return np.column_stack([table.columns[name] for name in names]).astype(np.float32, copy=False)


def make_recording(
    samples: np.ndarray, timestamps_s: np.ndarray, labels: np.ndarray, **meta: object
) -> Recording:
    """A Recording with the dtypes every loader promises: float32 samples, float64 times, int32 labels."""
    return Recording(
        samples=np.ascontiguousarray(samples, dtype=np.float32),
        timestamps_s=np.asarray(timestamps_s, dtype=np.float64),
        labels=np.asarray(labels, dtype=LABEL_DTYPE),
        **meta,
    )
