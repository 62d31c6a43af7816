"""Reading a user's TOML file (budgets, sweeps) with every failure a ``DataFormatError`` naming it."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from har_edge.errors import DataFormatError
from har_edge.fsutil import read_bounded

MAX_TOML_BYTES = 1 << 20
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The parsed ``path`` (``what`` names the kind of file in messages). Unreadable is an ``InputError``;
    too large, a byte-order mark, not UTF-8, malformed, nested too deeply or holding an integer of more
    digits than Python converts is a ``DataFormatError``."""
    raw = read_bounded(path, MAX_TOML_BYTES, what)  # a regular file, its size checked first
    if raw.startswith(_BOMS):
        raise DataFormatError(
            path,
            "starts with a byte-order mark (BOM), which TOML does not allow",
            expected="UTF-8 without a BOM",
        )
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, "is not UTF-8 text", expected=f"a TOML {what}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise DataFormatError(path, f"is not valid TOML: {exc}") from exc
    except RecursionError:
        raise DataFormatError(path, "is nested too deeply", expected=f"a TOML {what}") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise DataFormatError(path, f"holds a value TOML cannot read here ({exc})") from None


def check_table_keys(path: Path, prefix: str, table: dict, valid: dict[str, type]) -> None:
    """Refuse a key of ``table`` not in ``valid`` (listing the valid ones) or a value of the wrong type
    (an int is a valid float; a bool is not an int)."""
    for key, value in table.items():
        if key not in valid:
            raise DataFormatError(
                path,
                f"unknown key {prefix}{key}",
                field=f"{prefix}{key}",
                expected=f"one of {', '.join(valid)}",
            )
        kind = valid[key]
        accepted = (int, float) if kind is float else kind
        if not isinstance(value, accepted) or (isinstance(value, bool) and kind is not bool):
            raise DataFormatError(
                path, f"{prefix}{key} = {value!r}", field=f"{prefix}{key}", expected=kind.__name__
            )
