"""HHAR (Heterogeneity Activity Recognition): one activity CSV of phones or watches."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from har_edge.data.formats.records import (
    class_indices,
    make_recording,
    nominal_rate,
    require_increasing,
    row_groups,
)
from har_edge.data.formats.text import (
    XYZ,
    Field,
    Table,
    parse_exact_integer,
    parse_number,
    read_header,
    read_table,
    require_file,
    require_rate,
)
from har_edge.data.formats.timing import GapRule
from har_edge.errors import DataFormatError
from har_edge.types import ACC_CHANNELS, GYRO_CHANNELS, UNLABELLED, Dataset, Recording

HHAR_CLASSES: tuple[str, ...] = ("stand", "sit", "walk", "stairsup", "stairsdown", "bike")


_HHAR_HEADER = ("Index", "Arrival_Time", "Creation_Time", "x", "y", "z", "User", "Model", "Device", "gt")


_HHAR_FIELDS = (
    Field("Index", "skip"),
    Field("Arrival_Time", "skip"),
    Field("Creation_Time", "i8e"),
    *(Field(axis) for axis in XYZ),
    *(Field(name, "text") for name in ("User", "Model", "Device", "gt")),
)


_HHAR_LABELS: Mapping[str, int] = {name: i for i, name in enumerate(HHAR_CLASSES)} | {"null": UNLABELLED}


_HHAR_FILE = re.compile(r"(phone|watch)s?_(accelerometer|gyroscope)", re.IGNORECASE)


def load_hhar(
    path: str | Path,
    *,
    rate_hz: float | None = None,
    sort_by_time: bool = True,
    max_gap_s: float | None = None,
) -> Dataset:
    """Load one HHAR activity file (e.g. ``Phones_accelerometer.csv``): one recording per (User, Device).

    The file name says phone or watch and accelerometer (m/s²) or gyroscope (rad/s). Timestamps are
    ``Creation_Time`` (ns) in seconds; ``gt`` 'null' is UNLABELLED. ``nominal_rate_hz`` is ``rate_hz`` or,
    per recording, the rate of the median time step. The real files have rows out of time order and
    repeated ``Creation_Time`` values within a device: by default each device's rows are sorted by
    time (stable) and of rows sharing a time the first in the file is kept; both are counted in the
    notes. ``sort_by_time=False`` refuses such a file instead, naming the first offending line.

    Copies as they circulate are read too, each noted: without the header line (told by line 1 being a
    data row of the 10 columns), and with ``Creation_Time`` in E-notation (``1.42469663191325E+018``)
    where that denotes an integer exactly (a fraction is refused, naming line and field). A time step is
    a gap when longer than ``max_gap_s``, or by default than the recording's measured timing jitter
    allows (``timing.jitter_gap_s``): watches stall for tens of ms often, and a fixed rule of 2.5 periods
    would cut them into pieces shorter than a window.
    Caveat: one file per call; accelerometer and gyroscope are not merged (their timestamps differ).
    """
    path = require_file(path)
    require_rate(rate_hz)
    gap_rule = GapRule(max_gap_s)
    device_kind, channels = _hhar_file_kind(path)
    skip_lines, header_notes = _hhar_header(path)
    table = read_table(path, _HHAR_FIELDS, delimiter=",", skip_lines=skip_lines)
    labels = class_indices(
        path, table.columns["gt"], table.levels["gt"], table.lines, _HHAR_LABELS, field="gt"
    )
    users, devices = table.columns["User"].astype(np.int64), table.columns["Device"]
    device_key = users * len(table.levels["Device"]) + devices
    recordings, repairs = [], _Repairs()
    for rows in row_groups(device_key):
        if sort_by_time:
            rows = repairs.in_time_order(table, rows)
        recording = _hhar_recording(path, table, rows, labels, channels, device_kind, rate_hz, gap_rule)
        recordings.append(recording)
    recordings.sort(key=lambda rec: (rec.subject, rec.domain))
    notes = header_notes + _e_notation_notes(path, table) + repairs.notes(path) + gap_rule.notes(path)
    return Dataset("hhar", tuple(recordings), channels, HHAR_CLASSES, notes=notes)


def _hhar_header(path: Path) -> tuple[int, tuple[str, ...]]:
    """Lines to skip (1: the header, 0: none) and the note of a headerless file."""
    first = read_header(path, ",")
    if tuple(first) == _HHAR_HEADER:
        return 1, ()
    if _is_hhar_row(first):
        return 0, (
            f"{path}: no header line (line 1 is a data row: {len(first)} fields, numbers in Index to z, "
            f"a known gt {first[-1]!r}); columns taken as {','.join(_HHAR_HEADER)}",
        )
    raise DataFormatError(
        path,
        f"header {','.join(first)[:80]!r}",
        line=1,
        expected=f"{','.join(_HHAR_HEADER)}, or no header and a data row of {len(_HHAR_HEADER)} fields",
    )


def _is_hhar_row(values: list[str]) -> bool:
    if len(values) != len(_HHAR_HEADER) or values[-1] not in _HHAR_LABELS:
        return False
    try:
        parse_exact_integer(values[0])
        parse_exact_integer(values[2])
        for value in values[1:6]:
            parse_number(value)
    except ValueError:
        return False
    return True


def _e_notation_notes(path: Path, table: Table) -> tuple[str, ...]:
    found = table.e_notation.get("Creation_Time")
    if found is None:
        return ()
    return (
        f"{path}: {found.count:,} Creation_Time values were written in E-notation (e.g. {found.example}); "
        f"read as the integers they denote exactly (to {found.resolution / 1000:g} µs at the coarsest)",
    )


class _Repairs:
    """Sorts a device's rows by time, keeps the first of rows sharing a time, and counts both."""

    def __init__(self) -> None:
        self.rows = self.out_of_order = self.repeats = self.differing = 0
        self.devices: set[str] = set()

    def in_time_order(self, table: Table, rows: np.ndarray) -> np.ndarray:
        times = table.columns["Creation_Time"][rows]
        self.rows += len(rows)
        late = np.flatnonzero(np.diff(times) < 0)
        if late.size:
            self.out_of_order += int(np.count_nonzero(times < np.maximum.accumulate(times)))
            rows, times = rows[np.argsort(times, kind="stable")], np.sort(times, kind="stable")
        repeat = np.concatenate([[False], np.diff(times) == 0])
        if repeat.any():
            values = np.column_stack([table.columns[axis][rows] for axis in XYZ])
            first = np.maximum.accumulate(np.where(repeat, 0, np.arange(len(rows))))
            self.differing += int(np.count_nonzero(repeat & (values != values[first]).any(axis=1)))
            self.repeats += int(np.count_nonzero(repeat))
            rows = rows[~repeat]
        if late.size or repeat.any():
            self.devices.add(table.text("Device", rows[0]))
        return rows

    def notes(self, path: Path) -> tuple[str, ...]:
        if not (self.out_of_order or self.repeats):
            return ()
        return (
            f"{path}: {self.out_of_order:,} of {self.rows:,} rows were out of time order within their device "
            f"(sorted by Creation_Time); dropped {self.repeats:,} rows repeating a device's Creation_Time "
            f"({self.differing:,} of them with other values; the first row in the file was kept); devices: "
            f"{', '.join(sorted(self.devices))}",
        )


def _hhar_file_kind(path: Path) -> tuple[str, tuple[str, ...]]:
    match = _HHAR_FILE.search(path.name)
    if match is None:
        raise DataFormatError(
            path,
            "cannot tell phone or watch, accelerometer or gyroscope from the file name",
            expected="a name like Phones_accelerometer.csv or Watch_gyroscope.csv",
        )
    device_kind, sensor = match[1].lower(), match[2].lower()
    return device_kind, ACC_CHANNELS if sensor == "accelerometer" else GYRO_CHANNELS


def _hhar_recording(
    path: Path,
    table: Table,
    rows: np.ndarray,
    labels: np.ndarray,
    channels: tuple[str, ...],
    device_kind: str,
    rate_hz: float | None,
    gap_rule: GapRule,
) -> Recording:
    creation_ns = table.columns["Creation_Time"][rows]
    times_s = creation_ns / 1e9
    steps_s = np.diff(creation_ns) / 1e9  # exact steps, unlike np.diff(times_s)
    require_increasing(path, times_s, table.lines[rows], field="Creation_Time")
    user, model, device = (table.text(name, rows[0]) for name in ("User", "Model", "Device"))
    other_model = np.flatnonzero(table.columns["Model"][rows] != table.columns["Model"][rows[0]])
    if other_model.size:
        line = int(table.lines[rows[other_model[0]]])
        problem = f"device {device!r} changes its model"
        raise DataFormatError(path, problem, line=line, field="Model", expected=model)
    return make_recording(
        np.column_stack([table.columns[axis][rows] for axis in XYZ]),
        times_s,
        labels[rows],
        subject=user,
        channels=channels,
        class_names=HHAR_CLASSES,
        nominal_rate_hz=nominal_rate(path, steps_s, rate_hz),
        source=f"{path}#{user}/{device}",
        domain=f"{device_kind}/{model}/{device}",
        max_gap_s=gap_rule.threshold(steps_s) if len(steps_s) else None,
    )
