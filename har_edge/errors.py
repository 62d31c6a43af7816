"""Typed errors. Every bad-input error names where (file, line/row, field) and what was expected."""

from __future__ import annotations

from pathlib import Path


class HarEdgeError(Exception):
    """Base class of every error har_edge raises on purpose."""


class InputError(HarEdgeError, ValueError):
    """Bad user input (files, arguments, configuration). The CLI maps it to exit code 2."""


class DataFormatError(InputError):
    """A data file does not match its format.

    ``path`` is the file, ``line`` the 1-based line (or row) number when known, ``field`` the column or
    field name when known, and ``expected`` says what would have been valid.
    """

    def __init__(
        self,
        path: str | Path,
        problem: str,
        *,
        line: int | None = None,
        field: str | None = None,
        expected: str | None = None,
    ) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        self.problem = problem
        self.expected = expected
        where = self.path
        if line is not None:
            where += f", line {line}"
        if field is not None:
            where += f", field {field!r}"
        text = f"{where}: {problem}"
        if expected:
            text += f" (expected {expected})"
        super().__init__(text)


class OutputExistsError(InputError):
    """An output path exists and ``--overwrite`` was not given."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        super().__init__(f"{self.path} already exists; pass --overwrite to replace it")


class RemoteError(InputError):
    """A device given as ``ssh://…`` could not be reached or refused the login (CLI exit 2: the
    address or the credentials are the input to fix)."""
