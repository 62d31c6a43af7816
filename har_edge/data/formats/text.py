"""What every format loader shares to read text: path and argument checks and the chunked table reader
whose errors name the line and field (``records`` turns the tables into recordings).

Numeric tables are parsed with ``np.loadtxt`` in chunks of ``CHUNK_LINES`` lines, so multi-million-row
files load without a Python object per row; only a failing chunk is rescanned line by line to name the
bad line and field. Undecodable bytes become U+FFFD, so they surface as a named bad value.

Numbers are ASCII decimal notation only (``NUMBER``): ``1_000``, non-ASCII digits and hexadecimal are
not numbers in any loader, although Python's ``float`` takes them. NaN is a gap; ``inf`` and values
beyond float32's range (``1e39``) are refused with the line and field, never turned into infinity.
Integers are digits only, except in ``i8e`` columns: there E-notation (``1.42469663191325E+018``, as
spreadsheets write long integers) is read in decimal when it denotes an integer exactly, and counted.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from pathlib import Path

import numpy as np

from har_edge.errors import DataFormatError, InputError

XYZ = ("x", "y", "z")


CHUNK_LINES = 200_000


NOTE_MAX_LINES = 10  # a note lists at most this many line numbers


NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"  # compile with re.ASCII: \d is 0-9 only
_NUMBER_OR_NAN = re.compile(rf"\s*(?:{NUMBER}|[-+]?nan)\s*", re.ASCII | re.IGNORECASE)
_INTEGER = re.compile(r"\s*[-+]?\d+\s*", re.ASCII)
_NUMBER = re.compile(rf"\s*{NUMBER}\s*", re.ASCII)
_INT64_MAX = int(np.iinfo(np.int64).max)
FLOAT32_MAX = float(np.finfo(np.float32).max)


def parse_number(text: str) -> float:
    """``text`` as a float (NaN allowed: a gap), else ``ValueError``: ASCII decimal notation only, and
    finite within float32's range."""
    if not _NUMBER_OR_NAN.fullmatch(text):
        raise ValueError(f"{text!r} is not a number")
    value = float(text)
    if abs(value) > FLOAT32_MAX:
        raise ValueError(f"{text!r} is beyond float32's range")
    return value


def parse_integer(text: str) -> int:
    """``text`` as an int (ASCII digits only), else ``ValueError``."""
    if not _INTEGER.fullmatch(text):
        raise ValueError(f"{text!r} is not an integer")
    return int(text)


def parse_exact_integer(text: str) -> int:
    """``text`` as an int: ASCII digits, or any ``NUMBER`` (``1.42469663191325E+018``) that denotes an
    integer exactly (read in decimal, never through a float); else ``ValueError``."""
    if _INTEGER.fullmatch(text):
        return int(text)
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"{text!r} is not an integer")
    value = Decimal(text.strip())
    if value != value.to_integral_value():
        raise ValueError(f"{text!r} is not an integer (it has a fraction)")
    if abs(value) > _INT64_MAX:
        raise ValueError(f"{text!r} is beyond the 64-bit integer range")
    return int(value)


def number_array(values: Sequence[str]) -> np.ndarray:
    """float64 array of ``values`` parsed as ``parse_number`` does; ``ValueError`` names the first bad one."""
    if all(map(_NUMBER_OR_NAN.fullmatch, values)):
        array = np.array(values, dtype=np.float64)
        if not (np.abs(array) > FLOAT32_MAX).any():
            return array
    return np.array([parse_number(value) for value in values])  # raises at the first bad value


def require_in_range(path: Path, name: str, values: np.ndarray, lines: np.ndarray) -> None:
    """A ``DataFormatError`` at the first infinite value (or beyond float32's range) of column ``name``."""
    out = np.abs(values) > FLOAT32_MAX  # NaN compares False: a gap, allowed
    if out.any():
        row = int(np.argmax(out))
        raise DataFormatError(
            path,
            f"{float(values[row])!r} is infinite or beyond float32's range",
            line=int(lines[row]),
            field=name,
            expected="a finite number (or NaN for a gap)",
        )


def require_file(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise DataFormatError(path, "file not found")
    if not path.is_file():
        raise DataFormatError(path, "not a regular file", expected="a file, not a folder")
    if path.stat().st_size == 0:
        raise DataFormatError(path, "file is empty")
    return path


def require_dir(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise DataFormatError(path, "folder not found")
    return path


MAX_LINE_CHARS = 1 << 20  # a longer line (a file without newlines) is refused, not read whole


class BoundedLines:
    """A text file read line by line, each line at most ``MAX_LINE_CHARS`` characters (else a
    ``DataFormatError`` naming the file, the line and the limit, before the line is held in memory)."""

    def __init__(self, path: Path) -> None:
        # Undecodable bytes become U+FFFD, so they surface as a named bad value instead of a UnicodeError.
        self.path, self._stream, self._line = path, path.open(encoding="utf-8-sig", errors="replace"), 0

    def __enter__(self) -> BoundedLines:
        return self

    def __exit__(self, *exc) -> None:
        self._stream.close()

    def __iter__(self) -> BoundedLines:
        return self

    def __next__(self) -> str:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def readline(self) -> str:
        line = self._stream.readline(MAX_LINE_CHARS + 1)
        self._line += 1
        if len(line) > MAX_LINE_CHARS:
            raise DataFormatError(
                self.path,
                f"a line longer than {MAX_LINE_CHARS:,} characters",
                line=self._line,
                expected="text lines (is the file binary, or without newlines?)",
            )
        return line


def open_text(path: Path) -> BoundedLines:
    return BoundedLines(path)


def require_choice(option: str, value: object, choices: Iterable[object]) -> None:
    choices = tuple(choices)
    if value not in choices:
        raise InputError(f"{option} must be one of {', '.join(map(repr, choices))}, not {value!r}")


def require_rate(rate_hz: float | None) -> None:
    if rate_hz is not None and not (isinstance(rate_hz, int | float) and 0 < rate_hz < float("inf")):
        raise InputError(f"rate_hz must be a positive number of Hz, not {rate_hz!r}")


def one_of(values: Iterable[object]) -> str:
    return "one of " + ", ".join(map(repr, values))


@dataclass(frozen=True)
class Field:
    """One column of a delimited file.

    ``kind`` is a numpy dtype string (``"f4"``, ``"f8"``, ``"i8"``), ``"i8e"`` (int64 that may also be
    written in E-notation when that denotes an integer exactly, e.g. ``1.42469663191325E+018``; counted in
    ``Table.e_notation``), ``"text"`` (returned as int32 codes into ``Table.levels``) or ``"skip"``
    (neither checked nor returned).
    """

    name: str
    kind: str = "f4"


@dataclass(frozen=True)
class ENotation:
    """The values of an ``i8e`` column written in E-notation: how many, the first one, and the coarsest
    step their digits resolve (a power of ten, in the column's unit)."""

    count: int
    example: str
    resolution: int

    def merged(self, other: ENotation | None) -> ENotation:
        if other is None:
            return self
        return ENotation(self.count + other.count, self.example, max(self.resolution, other.resolution))


@dataclass(frozen=True)
class Table:
    columns: dict[str, np.ndarray]
    levels: dict[str, tuple[str, ...]]  # text column -> its distinct values, indexed by code
    lines: np.ndarray  # 1-based file line of each row
    e_notation: dict[str, ENotation] = dataclasses.field(default_factory=dict)  # i8e column -> converted

    def text(self, name: str, row: int) -> str:
        """The value of text column ``name`` in ``row``."""
        return self.levels[name][self.columns[name][row]]


_DTYPES = {"text": "O", "skip": "O", "i8e": "i8"}


_NUMERIC_KINDS: Mapping[str, tuple[Callable[[str], object], str]] = {
    "f4": (parse_number, "a number"),
    "f8": (parse_number, "a number"),
    "i8": (parse_integer, "an integer"),
    "i8e": (parse_exact_integer, "an integer (in E-notation only when that is exact)"),
}


def read_table(
    path: Path, fields: Sequence[Field], *, delimiter: str | None = None, skip_lines: int = 0
) -> Table:
    """Read a delimited file (``delimiter=None``: runs of whitespace) whose every line has ``fields``.

    Blank lines are skipped; a missing or empty file, or one without data rows, is an error.
    """
    require_file(path)
    dtype = np.dtype([(f"c{i}", _DTYPES.get(f.kind, f.kind)) for i, f in enumerate(fields)])
    kept = [(f"c{i}", column) for i, column in enumerate(fields) if column.kind != "skip"]
    e_notation: dict[str, ENotation] = {}
    indexes: dict[str, dict[str, int]] = {field.name: {} for _, field in kept if field.kind == "text"}
    parts: dict[str, list[np.ndarray]] = {field.name: [] for _, field in kept}
    line_parts = []
    with open_text(path) as stream:
        first_line = 1 + len(list(islice(stream, skip_lines)))
        while chunk := list(islice(stream, CHUNK_LINES)):
            blank = np.fromiter(map(str.isspace, chunk), dtype=bool, count=len(chunk))
            if not blank.all():
                rows, converted = _parse_chunk(path, chunk, first_line, fields, dtype, delimiter)
                for name, found in converted.items():
                    e_notation[name] = found.merged(e_notation.get(name))
                for key, field in kept:  # new arrays, so the chunk's strings are freed
                    if field.kind == "text":
                        parts[field.name].append(factorize(rows[key], indexes[field.name]))
                    else:
                        parts[field.name].append(rows[key].copy())
                line_parts.append(first_line + np.flatnonzero(~blank))
            first_line += len(chunk)
    if not line_parts:
        raise DataFormatError(path, "no data rows", expected=f"lines of {len(fields)} fields")
    columns = {}
    lines = np.concatenate(line_parts)
    for _, field in kept:  # popping each column's chunks keeps the peak to one extra column
        columns[field.name] = np.concatenate(parts.pop(field.name))
        if field.kind in ("f4", "f8"):
            require_in_range(path, field.name, columns[field.name], lines)
    levels = {name: tuple(index) for name, index in indexes.items()}
    return Table(columns, levels, lines=lines, e_notation=e_notation)


def _parse_chunk(
    path: Path,
    chunk: list[str],
    first_line: int,
    fields: Sequence[Field],
    dtype: np.dtype,
    delimiter: str | None,
) -> tuple[np.ndarray | dict[str, np.ndarray], dict[str, ENotation]]:
    """The chunk's rows (indexable by column key) and what its ``i8e`` columns had in E-notation."""
    quote = '"' if delimiter else None
    if quote and '"' in "".join(chunk):  # a quoted field across lines: one row per line is assumed below
        open_quote = next((i for i, line in enumerate(chunk) if line.count(quote) % 2), None)
        if open_quote is not None:
            raise DataFormatError(
                path,
                "a quoted field runs past the end of the line",
                line=first_line + open_quote,
                expected="one record per line (no line break inside quotes)",
            )
    try:
        rows = np.loadtxt(chunk, dtype=dtype, delimiter=delimiter, comments=None, quotechar=quote, ndmin=1)
        return rows, {}
    except ValueError as error:
        exact = [(f"c{i}", f.name) for i, f in enumerate(fields) if f.kind == "i8e"]
        if exact:  # the slow path: only chunks with E-notation integers (or a bad line) take it
            loose = np.dtype([(key, "O" if key in dict(exact) else dtype[key]) for key in dtype.names])
            try:
                rows = np.loadtxt(
                    chunk, dtype=loose, delimiter=delimiter, comments=None, quotechar=quote, ndmin=1
                )
                columns = {key: rows[key] for key in dtype.names}
                converted = {name: _exact_integers(columns, key) for key, name in exact}
                return columns, {name: found for name, found in converted.items() if found is not None}
            except ValueError:
                pass  # located below, with parse_exact_integer's message
        raise _locate_bad_line(path, chunk, first_line, fields, delimiter, error) from None


def _exact_integers(columns: dict[str, np.ndarray], key: str) -> ENotation | None:
    """Replace ``columns[key]`` (strings) by its int64 values; what was in E-notation (None: nothing)."""
    texts = columns[key].tolist()
    columns[key] = np.array([parse_exact_integer(text) for text in texts], dtype=np.int64)
    written = [text.strip() for text in texts if not _INTEGER.fullmatch(text)]
    if not written:
        return None
    exponent = max(int(Decimal(text).as_tuple().exponent) for text in written)
    return ENotation(len(written), written[0], 10 ** max(exponent, 0))


def _locate_bad_line(
    path: Path,
    chunk: list[str],
    first_line: int,
    fields: Sequence[Field],
    delimiter: str | None,
    error: Exception,
) -> DataFormatError:
    """The error for the first line of ``chunk`` with a wrong field count or a value of the wrong kind."""
    reader = csv.reader(chunk, delimiter=delimiter) if delimiter else None
    rows = reader if reader is not None else map(str.split, chunk)
    try:
        for line, values in enumerate(rows, first_line):
            if not values:
                continue
            if len(values) != len(fields):
                expected = f"{len(fields)} fields"
                return DataFormatError(path, f"{len(values)} fields", line=line, expected=expected)
            for field, value in zip(fields, values, strict=True):
                parse, wanted = _NUMERIC_KINDS.get(field.kind, (str, ""))
                try:
                    parse(value)
                except ValueError as bad:
                    return DataFormatError(path, str(bad), line=line, field=field.name, expected=wanted)
    except csv.Error as bad:  # e.g. a field over the csv module's size limit
        return DataFormatError(path, f"unreadable CSV: {bad}", line=first_line + reader.line_num - 1)
    last_line = first_line + len(chunk) - 1
    return DataFormatError(path, f"unreadable data in lines {first_line}-{last_line}: {error}")


def read_header(path: Path, delimiter: str) -> list[str]:
    with open_text(path) as stream:
        first_line = stream.readline()
    try:
        return [name.strip() for name in next(csv.reader([first_line], delimiter=delimiter), [])]
    except csv.Error as bad:
        raise DataFormatError(path, f"unreadable CSV header: {bad}", line=1) from None


def factorize(values: np.ndarray, index: dict[str, int]) -> np.ndarray:
    """int32 codes of ``values`` in ``index`` (value -> code); unseen values get the next codes in order."""
    items = values.tolist()
    for value in dict.fromkeys(items):  # dict lookups: far faster than sorting strings with np.unique
        index.setdefault(value, len(index))
    return np.fromiter(map(index.__getitem__, items), dtype=np.int32, count=len(items))
