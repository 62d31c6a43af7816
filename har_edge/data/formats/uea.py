"""UEA / UCR multivariate time-series classification archive: ``.ts`` files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from har_edge.data.formats.records import make_recording
from har_edge.data.formats.text import number_array, one_of, open_text, require_file, require_rate
from har_edge.errors import DataFormatError, InputError
from har_edge.types import LABEL_DTYPE, UNLABELLED, Dataset

UEA_DEFAULT_RATE_HZ = 1.0


@dataclass(frozen=True)
class _UeaHeader:
    problem: str
    dimensions: int | None
    class_labels: tuple[str, ...] | None  # None: the cases carry no class label
    series_length: int | None  # only when @equalLength is true


def load_uea(
    path: str | Path, *, rate_hz: float | None = None, channels: Sequence[str] | str | None = None
) -> Dataset:
    """Load a UEA/UCR ``.ts`` file: each case becomes one recording (``Dataset.cases``), every sample
    labelled with its class, so a case is one window and the data is split by case, not by subject.

    Channels are ``dim0..dimN-1`` unless ``channels`` names them (a sequence or "a,b,c"); '?' becomes NaN.
    A .ts file has no sampling rate: without ``rate_hz`` 1.0 Hz is assumed (and noted), so timestamps
    are sample indices. ``@timeStamps true`` files are not supported. Cases may differ in length unless
    ``@equalLength true``.
    """
    path = require_file(path)
    require_rate(rate_hz)
    header, data = _read_uea(path)
    n_dims = len(data[0][1].split(":")) - (header.class_labels is not None)
    if header.dimensions not in (None, n_dims):  # checked against the data before anything is allocated
        raise DataFormatError(
            path,
            f"@dimensions {header.dimensions}, but the first case has {n_dims}",
            line=data[0][0],
            expected="@dimensions equal to the ':'-separated dimensions of every case",
        )
    channels = _channel_names(path, channels, n_dims)
    class_names = header.class_labels or ()
    rate = UEA_DEFAULT_RATE_HZ if rate_hz is None else rate_hz
    notes = [
        f"{path}: {len(data)} cases, each one labelled window; a .ts file names no subjects, so the data "
        "is split by case (stratified by class)"
    ]
    if rate_hz is None:
        notes.append(f"{path}: no sampling rate in a .ts file; assumed {rate} Hz (set it with --source-rate)")
    recordings = []
    for i, (line, text) in enumerate(data):
        samples, label = _parse_uea_case(path, line, text, n_dims, header)
        recordings.append(
            make_recording(
                samples,
                np.arange(len(samples)) / rate,
                np.full(len(samples), label, dtype=LABEL_DTYPE),
                subject=f"case{i}",
                channels=channels,
                class_names=class_names,
                nominal_rate_hz=rate,
                source=f"{path}#case{i}",
                domain=header.problem,
            )
        )
    return Dataset(header.problem, tuple(recordings), channels, class_names, notes=tuple(notes), cases=True)


def _channel_names(path: Path, channels: Sequence[str] | str | None, n_dims: int) -> tuple[str, ...]:
    if channels is None:
        return tuple(f"dim{d}" for d in range(n_dims))
    names = tuple(c.strip() for c in channels.split(",")) if isinstance(channels, str) else tuple(channels)
    if len(names) != n_dims or len(set(names)) != len(names) or not all(names):
        raise InputError(
            f"{path}: channels {','.join(names)!r}: need {n_dims} distinct names, one per dimension"
        )
    return names


def _read_uea(path: Path) -> tuple[_UeaHeader, list[tuple[int, str]]]:
    """The header and the (line number, text) of every data line."""
    tags: dict[str, tuple[int, str]] = {}
    data: list[tuple[int, str]] = []
    in_data = False
    with open_text(path) as stream:
        for line, raw in enumerate(stream, 1):
            text = raw.strip()
            if not text or text.startswith("#"):
                continue
            if in_data:
                data.append((line, text))
            elif not text.startswith("@"):
                raise DataFormatError(
                    path,
                    f"unexpected {text[:40]!r} before @data",
                    line=line,
                    expected="a @tag line or a # comment",
                )
            else:
                tag, _, value = text[1:].partition(" ")
                in_data = tag.lower() == "data"
                tags[tag.lower()] = (line, value.strip())
    if not in_data:
        raise DataFormatError(path, "no @data line", expected="a header ending with @data")
    if not data:
        raise DataFormatError(path, "no cases after @data", expected="one line per case")
    return _uea_header(path, tags), data


def _uea_header(path: Path, tags: Mapping[str, tuple[int, str]]) -> _UeaHeader:
    if _uea_flag(path, tags, "timestamps", default=False):
        line = tags["timestamps"][0]
        raise DataFormatError(path, "@timeStamps true is not supported", line=line, expected="false")
    class_labels = None
    if "classlabel" in tags:
        line, value = tags["classlabel"]
        flag, *names = value.split() or [""]
        if _uea_bool(path, "classlabel", line, flag):
            if not names:
                raise DataFormatError(
                    path,
                    "@classLabel true without labels",
                    line=line,
                    expected="@classLabel true <label> <label> ...",
                )
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:  # cases of one label would split between two classes
                raise DataFormatError(
                    path, f"@classLabel repeats {repeated}", line=line, expected="distinct class labels"
                )
            class_labels = tuple(names)
    equal_length = _uea_flag(path, tags, "equallength", default=False)
    return _UeaHeader(
        problem=tags.get("problemname", (0, path.stem))[1],
        dimensions=_uea_int(path, tags, "dimensions"),
        class_labels=class_labels,
        series_length=_uea_int(path, tags, "serieslength") if equal_length else None,
    )


def _uea_flag(path: Path, tags: Mapping[str, tuple[int, str]], tag: str, *, default: bool) -> bool:
    return _uea_bool(path, tag, *tags[tag]) if tag in tags else default


def _uea_bool(path: Path, tag: str, line: int, value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise DataFormatError(path, f"@{tag} {value!r}", line=line, field=f"@{tag}", expected="true or false")
    return value.lower() == "true"


def _uea_int(path: Path, tags: Mapping[str, tuple[int, str]], tag: str) -> int | None:
    if tag not in tags:
        return None
    line, value = tags[tag]
    if not value.isascii() or not value.isdigit() or int(value) < 1:
        problem = f"@{tag} {value!r}"
        raise DataFormatError(path, problem, line=line, field=f"@{tag}", expected="a positive integer")
    return int(value)


def _parse_uea_case(
    path: Path, line: int, text: str, n_dims: int, header: _UeaHeader
) -> tuple[np.ndarray, int]:
    """(samples (L, n_dims), class index or UNLABELLED) of one data line."""
    class_labels = header.class_labels
    parts = text.split(":")
    expected_parts = f"{n_dims} dimensions" + (" and a class label" if class_labels is not None else "")
    if len(parts) != n_dims + (class_labels is not None):
        raise DataFormatError(path, f"{len(parts)} ':'-separated fields", line=line, expected=expected_parts)
    series = [_parse_uea_series(path, line, f"dim{d}", parts[d]) for d in range(n_dims)]
    length = header.series_length or len(series[0])
    length_source = "@seriesLength" if header.series_length else "dim0"
    for d, values in enumerate(series):
        if len(values) != length:
            problem = f"{len(values)} values"
            expected = f"{length} values, as {length_source}"
            raise DataFormatError(path, problem, line=line, field=f"dim{d}", expected=expected)
    label = UNLABELLED
    if class_labels is not None:
        value = parts[-1].strip()
        if value not in class_labels:
            raise DataFormatError(
                path,
                f"unknown class label {value!r}",
                line=line,
                field="class label",
                expected=one_of(class_labels),
            )
        label = class_labels.index(value)
    return np.column_stack(series), label


def _parse_uea_series(path: Path, line: int, field: str, text: str) -> np.ndarray:
    values = ["nan" if value.strip() == "?" else value for value in text.split(",")]
    try:
        return number_array(values)
    except ValueError as bad:
        expected = "comma-separated numbers or '?'"
        raise DataFormatError(path, str(bad), line=line, field=field, expected=expected) from None
