"""Any CSV with a header: the caller maps its columns to channels, label, subject and time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from har_edge.data.formats.records import (
    class_indices,
    make_recording,
    nominal_rate,
    require_increasing,
    row_groups,
    stack_columns,
)
from har_edge.data.formats.text import (
    Field,
    Table,
    number_array,
    one_of,
    parse_number,
    read_header,
    read_table,
    require_choice,
    require_file,
    require_rate,
)
from har_edge.errors import DataFormatError, InputError
from har_edge.types import ACC_CHANNELS, GRAVITY_M_S2, LABEL_DTYPE, UNLABELLED, Dataset

_TIME_UNITS_S: Mapping[str, float] = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


_ACC_UNITS_M_S2: Mapping[str, float] = {"m/s2": 1.0, "g": GRAVITY_M_S2, "mg": GRAVITY_M_S2 / 1000}


PLAUSIBLE_MEDIAN_G = (0.5, 2.0)  # median |a| of a worn accelerometer (gravity included), in g


def load_csv(
    path: str | Path,
    *,
    columns: Mapping[str, str],
    label_column: str | None = None,
    subject_column: str | None = None,
    time_column: str | None = None,
    time_unit: str = "s",
    rate_hz: float | None = None,
    acc_unit: str = "m/s2",
    class_names: Sequence[str] | None = None,
    delimiter: str = ",",
    domain: str = "",
) -> Dataset:
    """Load a CSV with a header; ``columns`` maps our channel names (in order) to the file's column names.

    One recording per ``subject_column`` value (else one, subject = file stem), rows in file order.
    Without ``time_column``, ``rate_hz`` is required and timestamps are row index / rate; with it, the
    nominal rate is ``rate_hz`` or estimated from the median step. A time column holds numbers in
    ``time_unit`` or ISO date-times (``1970-01-01 00:04:40.015``, no time zone; ``time_unit`` is then
    ignored). ``acc_unit`` "g" or "mg" scales the channels named in ``ACC_CHANNELS``; a median |a| far
    from 1 g for the declared unit is noted (a wrong unit, or gravity removed). Labels: an empty cell is
    UNLABELLED; with ``class_names`` any other value must be one of them, else the classes are the
    sorted distinct values.
    """
    path = require_file(path)
    require_choice("time_unit", time_unit, _TIME_UNITS_S)
    require_choice("acc_unit", acc_unit, _ACC_UNITS_M_S2)
    require_rate(rate_hz)
    if time_column is None and rate_hz is None:
        raise InputError("load_csv needs time_column or rate_hz")
    kinds = _csv_column_kinds(columns, time_column, label_column, subject_column)
    table = read_table(path, _csv_fields(path, delimiter, kinds), delimiter=delimiter, skip_lines=1)
    labels, classes = _csv_labels(path, table, label_column, class_names)
    channels = tuple(columns)
    g_to_m_s2 = _ACC_UNITS_M_S2[acc_unit]
    acc_scale = np.array([g_to_m_s2 if c in ACC_CHANNELS else 1.0 for c in channels], dtype=np.float32)
    samples = stack_columns(table, list(columns.values())) * acc_scale
    all_times_s = _time_values(path, table, time_column, time_unit) if time_column else None
    subject_codes = table.columns[subject_column] if subject_column else np.zeros(len(table.lines), np.int32)
    recordings = []
    for rows in row_groups(subject_codes):
        subject = table.text(subject_column, rows[0]) if subject_column else path.stem
        if time_column is None:
            times_s = np.arange(len(rows)) / rate_hz
        else:
            times_s = all_times_s[rows]
            require_increasing(path, times_s, table.lines[rows], field=time_column)
        recordings.append(
            make_recording(
                samples[rows],
                times_s,
                labels[rows],
                subject=subject,
                channels=channels,
                class_names=classes,
                nominal_rate_hz=nominal_rate(path, np.diff(times_s), rate_hz),
                source=f"{path}#{subject}" if subject_column else str(path),
                domain=domain,
            )
        )
    notes = _magnitude_note(path, samples, channels, acc_unit)
    return Dataset(path.stem, tuple(recordings), channels, classes, notes=notes)


def _time_values(path: Path, table: Table, column: str, unit: str) -> np.ndarray:
    """Seconds per row: numbers in ``unit``, or ISO date-times relative to the file's earliest one."""
    levels, codes = table.levels[column], table.columns[column]
    try:
        return number_array(levels)[codes] * _TIME_UNITS_S[unit]  # ASCII decimals only (no 1_000, ١٢٣)
    except ValueError:
        pass
    try:
        stamps = np.array([text.replace(" ", "T", 1) for text in levels], dtype="datetime64[ns]")
    except ValueError:
        bad = next(code for code, text in enumerate(levels) if not _is_time(text))
        raise DataFormatError(
            path,
            f"{levels[bad]!r} is neither a number nor an ISO date-time",
            line=int(table.lines[np.argmax(codes == bad)]),
            field=column,
            expected=f"numbers in {unit} or date-times like 1970-01-01 00:04:40.015",
        ) from None
    nanoseconds = stamps.astype(np.int64)
    return ((nanoseconds - nanoseconds.min()) / 1e9)[codes]


def _is_time(text: str) -> bool:
    try:
        parse_number(text)
    except ValueError:
        try:
            np.datetime64(text.replace(" ", "T", 1), "ns")
        except ValueError:
            return False
    return True


def _magnitude_note(path: Path, samples: np.ndarray, channels: Sequence[str], unit: str) -> tuple[str, ...]:
    """A note when the median |a| is implausible for a worn accelerometer in ``unit`` (and which unit
    would fit)."""
    if not set(ACC_CHANNELS) <= set(channels) or not len(samples):
        return ()
    acc = samples[:, [list(channels).index(c) for c in ACC_CHANNELS]].astype(np.float64)
    magnitude = np.sqrt((acc**2).sum(axis=1))
    median_g = float(np.nanmedian(magnitude)) / GRAVITY_M_S2 if np.isfinite(magnitude).any() else 1.0
    low, high = PLAUSIBLE_MEDIAN_G
    if low <= median_g <= high:
        return ()
    raw_median = median_g * GRAVITY_M_S2 / _ACC_UNITS_M_S2[unit]
    fits = [
        name for name, scale in _ACC_UNITS_M_S2.items() if low <= raw_median * scale / GRAVITY_M_S2 <= high
    ]
    hint = f"; acc_unit={fits[0]} would fit (--format-option acc_unit={fits[0]})" if fits else ""
    return (
        f"warning: {path}: the median acceleration magnitude is {raw_median:,.3g} {unit} "
        f"= {median_g:,.3g} g, "
        f"implausible for a worn accelerometer (about 1 g with gravity){hint}; if gravity was removed, "
        "ignore this",
    )


def _csv_column_kinds(
    columns: Mapping[str, str], time_column: str | None, label_column: str | None, subject_column: str | None
) -> dict[str, str]:
    """The ``Field`` kind of every file column a role names; a column may have one role only."""
    if not columns:
        raise InputError("columns must map at least one channel name to a file column")
    kinds = {name: "f4" for name in columns.values()}
    for name, kind in ((time_column, "text"), (label_column, "text"), (subject_column, "text")):
        if name is not None:
            if name in kinds:
                raise InputError(f"column {name!r} is given two roles")
            kinds[name] = kind
    return kinds


def _csv_fields(path: Path, delimiter: str, kinds: Mapping[str, str]) -> list[Field]:
    """One field per header column: the wanted ones with their kind (first occurrence), the rest skipped."""
    header = read_header(path, delimiter)
    for name in kinds:
        if name not in header:
            raise DataFormatError(path, f"no column {name!r}", line=1, field=name, expected=one_of(header))
    return [
        Field(name, kinds[name] if name in kinds and header.index(name) == i else "skip")
        for i, name in enumerate(header)
    ]


def _csv_labels(
    path: Path, table: Table, label_column: str | None, class_names: Sequence[str] | None
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Per-row class indices and the class names."""
    if label_column is None:
        return np.full(len(table.lines), UNLABELLED, dtype=LABEL_DTYPE), tuple(class_names or ())
    levels = table.levels[label_column]
    classes = tuple(class_names) if class_names is not None else tuple(sorted(set(levels) - {""}))
    mapping = {name: i for i, name in enumerate(classes)} | {"": UNLABELLED}
    codes = table.columns[label_column]
    return class_indices(path, codes, levels, table.lines, mapping, field=label_column), classes
