"""WISDM v1.1 raw: ``user,activity,timestamp,x,y,z;`` records, tolerating the file's known breakage."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from har_edge.data.formats.records import class_indices, lines_note, make_recording, row_groups
from har_edge.data.formats.text import (
    NUMBER,
    XYZ,
    factorize,
    open_text,
    require_choice,
    require_file,
    require_in_range,
    require_rate,
)
from har_edge.errors import DataFormatError
from har_edge.types import ACC_CHANNELS, Dataset

WISDM_CLASSES: tuple[str, ...] = ("Walking", "Jogging", "Upstairs", "Downstairs", "Sitting", "Standing")


WISDM_RATE_HZ = 20.0


_WISDM_FIELDS = (  # up to 18 digits, so user and timestamp always fit int64
    ("user", r"\d{1,18}"),
    ("activity", r"[A-Za-z]+"),
    ("timestamp", r"\d{1,18}"),
    ("x", NUMBER),
    ("y", NUMBER),
    ("z", NUMBER),
)


_WISDM_RECORD = re.compile("(" + ",".join(p for _, p in _WISDM_FIELDS) + "),?", re.ASCII)  # ",;" is common


_WISDM_DTYPE = np.dtype(
    [("user", "i8"), ("activity", "O"), ("timestamp", "i8"), ("x", "f4"), ("y", "f4"), ("z", "f4")]
)


_WISDM_EXPECTED = "a record user,activity,timestamp,x,y,z;"


_WISDM_LABELS: Mapping[str, int] = {name: i for i, name in enumerate(WISDM_CLASSES)}


def load_wisdm(path: str | Path, *, on_bad_line: str = "skip", rate_hz: float = WISDM_RATE_HZ) -> Dataset:
    """Load WISDM v1.1 raw (``WISDM_ar_v1.1_raw.txt``): records ``user,activity,timestamp,x,y,z;`` in m/s².

    Tolerated: several records per line, a comma before ';', empty lines. A broken record (missing or
    malformed field) is skipped with a note naming its line (``on_bad_line="skip"``) or raises
    (``"error"``). Always dropped with a note: records with timestamp 0 and a user's record repeating the
    previous timestamp. Timestamps (ns) of a user that jump backwards start a new recording (noted).
    An unknown activity is always an error.
    """
    path = require_file(path)
    require_choice("on_bad_line", on_bad_line, ("skip", "error"))
    require_rate(rate_hz)
    records, lines, notes = _read_wisdm_records(path, on_bad_line)
    table = np.loadtxt(records, dtype=_WISDM_DTYPE, delimiter=",", comments=None, ndmin=1)
    for axis in XYZ:
        require_in_range(path, axis, table[axis], lines)
    activities: dict[str, int] = {}
    activity_codes = factorize(table["activity"], activities)
    labels = class_indices(path, activity_codes, tuple(activities), lines, _WISDM_LABELS, field="activity")
    zero_time = table["timestamp"] == 0
    if zero_time.any():
        message = f"dropped {zero_time.sum()} records with timestamp 0"
        notes.append(lines_note(path, message, lines[zero_time]))
    timed = np.flatnonzero(~zero_time)
    if not timed.size:
        raise DataFormatError(path, "every record has timestamp 0", expected="timestamps in ns")
    recordings = [
        make_recording(
            np.column_stack([table[axis][run] for axis in XYZ]),
            table["timestamp"][run] / 1e9,
            labels[run],
            subject=str(table["user"][run[0]]),
            channels=ACC_CHANNELS,
            class_names=WISDM_CLASSES,
            nominal_rate_hz=rate_hz,
            source=f"{path}, user {table['user'][run[0]]} from line {lines[run[0]]}",
            domain="pocket",
        )
        for user_rows in row_groups(table["user"][timed])
        for run in _wisdm_increasing_runs(path, timed[user_rows], table, lines, notes)
    ]
    return Dataset("wisdm", tuple(recordings), ACC_CHANNELS, WISDM_CLASSES, notes=tuple(notes))


def _read_wisdm_records(path: Path, on_bad_line: str) -> tuple[list[str], np.ndarray, list[str]]:
    """Well-formed records (without ';' or trailing comma), the line of each, and notes on skipped ones."""
    records, lines, notes = [], [], []
    with open_text(path) as stream:
        for line, text in enumerate(stream, 1):
            for piece in text.split(";"):
                record = piece.strip()
                if not record:
                    continue
                match = _WISDM_RECORD.fullmatch(record)
                if match:
                    records.append(match[1])
                    lines.append(line)
                    continue
                error = _wisdm_record_error(path, line, record)
                if on_bad_line == "error":
                    raise error
                notes.append(f"skipped: {error}")
    if not records:
        raise DataFormatError(path, "no valid records", expected=_WISDM_EXPECTED)
    return records, np.array(lines), notes


def _wisdm_record_error(path: Path, line: int, record: str) -> DataFormatError:
    values = record.removesuffix(",").split(",")
    if len(values) != len(_WISDM_FIELDS):
        problem = f"record {record!r} has {len(values)} fields"
        return DataFormatError(path, problem, line=line, expected=_WISDM_EXPECTED)
    name, value = next(
        (name, value)
        for (name, pattern), value in zip(_WISDM_FIELDS, values, strict=True)
        if not re.fullmatch(pattern, value, re.ASCII)
    )
    return DataFormatError(
        path, f"record {record!r}: bad {name} {value!r}", line=line, field=name, expected=_WISDM_EXPECTED
    )


def _wisdm_increasing_runs(
    path: Path, rows: np.ndarray, table: np.ndarray, lines: np.ndarray, notes: list[str]
) -> list[np.ndarray]:
    """Split one user's rows (file order) into strictly increasing runs, dropping repeated timestamps."""
    user = table["user"][rows[0]]
    repeated = np.flatnonzero(np.diff(table["timestamp"][rows]) == 0) + 1
    if repeated.size:
        message = f"user {user}: dropped {repeated.size} records repeating the previous timestamp"
        notes.append(lines_note(path, message, lines[rows[repeated]]))
        rows = np.delete(rows, repeated)
    jumps = np.flatnonzero(np.diff(table["timestamp"][rows]) < 0) + 1
    if jumps.size:
        message = f"user {user}: split into {jumps.size + 1} recordings where the timestamp jumps backwards"
        notes.append(lines_note(path, message, lines[rows[jumps]]))
    return np.split(rows, jumps)
