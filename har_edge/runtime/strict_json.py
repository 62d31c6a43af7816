"""Strict JSON for files a device reads (stdlib only; the runtime cannot use ``jsonschema``).

``parse_strict_json(raw, source)`` accepts UTF-8 JSON only: no byte-order mark, no NaN/Infinity, no
duplicate keys, no number longer than ``MAX_NUMBER_CHARS`` or beyond a float's range, at most
``MAX_DEPTH`` levels of nesting, at most ``MAX_JSON_BYTES``. The checkers (``integer``, ``number``,
``json_object``, ...) validate the parsed value field by field and raise ``Invalid`` with the field's
path (``.normalization.std[2]: expected a number > 0``), which callers turn into an ``InputError``.
Every parsing error is a ``DataFormatError`` (an ``InputError``) naming the file.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from har_edge.errors import DataFormatError

MAX_JSON_BYTES = 1 << 20
MAX_DEPTH = 32
MAX_NUMBER_CHARS = 64
MAX_NAMES = 10_000
MAX_INT = 2**31 - 1
_SHA256 = re.compile(r"[0-9a-f]{64}")


class Invalid(Exception):
    """A field's problem: its path and what is wrong."""


def integer(low: int, high: int = MAX_INT) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise Invalid(f"expected an integer in [{low}, {high}], got {short(value)}")
        return value

    return check


def number(*, positive: bool) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise Invalid(f"expected a finite number, got {short(value)}")
        if positive and not value > 0:
            raise Invalid(f"expected a number > 0, got {value!r}")
        return value

    return check


def text(*, empty: bool = True) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or (not empty and not value.strip()):
            raise Invalid(f"expected {'a' if empty else 'a non-empty'} string, got {short(value)}")
        return value

    return check


def names(minimum: int) -> Callable[[Any], list[str]]:
    def check(value: Any) -> list[str]:
        items = list_of(text(empty=False), minimum, MAX_NAMES)(value)
        if len(set(items)) != len(items):
            raise Invalid(f"names must be unique, got {short(value)}")
        return items

    return check


def list_of(item: Callable[[Any], Any], minimum: int, maximum: int) -> Callable[[Any], list]:
    def check(value: Any) -> list:
        if not isinstance(value, list) or not minimum <= len(value) <= maximum:
            raise Invalid(f"expected a list of {minimum} to {maximum} items, got {short(value)}")
        return [at(f"[{i}]", item, element) for i, element in enumerate(value)]

    return check


def optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else check(value)


def json_object(fields: dict[str, Callable[[Any], Any]], optional: frozenset[str] = frozenset()):
    def check(value: Any) -> dict:
        if not isinstance(value, dict):
            raise Invalid(f"expected an object, got {short(value)}")
        missing = sorted(set(fields) - set(value) - optional)
        unknown = sorted(set(value) - set(fields))
        if missing or unknown:
            raise Invalid(f"missing {missing}, unknown {unknown}; the fields are {sorted(fields)}")
        return {key: at(f".{key}", fields[key], element) for key, element in value.items()}

    return check


def mapping(value_check: Callable[[Any], Any]) -> Callable[[Any], dict]:
    def check(value: Any) -> dict:
        if not isinstance(value, dict):
            raise Invalid(f"expected an object, got {short(value)}")
        return {key: at(f".{key}", value_check, element) for key, element in value.items()}

    return check


def sha256_hex(value: Any) -> str:
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise Invalid(f"expected 64 lowercase hex digits, got {short(value)}")
    return value


def any_json(value: Any) -> Any:
    return value  # parsing already refused non-finite numbers and deep nesting


def parse_strict_json(raw: bytes, source: str, *, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Strict UTF-8 JSON (see the module docstring) of at most ``max_bytes``, or a ``DataFormatError``
    naming ``source`` (and the line, for a syntax error)."""
    if len(raw) > max_bytes:
        raise DataFormatError(
            source, f"{len(raw)} bytes, more than the limit", expected=f"at most {max_bytes}"
        )
    if raw.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        raise DataFormatError(source, "starts with a byte-order mark", expected="UTF-8 without a BOM")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(source, f"not UTF-8 text ({exc})", expected="UTF-8 JSON") from None
    if _nesting_depth(raw) > MAX_DEPTH:
        raise DataFormatError(source, f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(
            decoded,
            parse_constant=_refuse_constant,
            parse_int=_parse_int,
            parse_float=_parse_float,
            object_pairs_hook=_unique_keys,
        )
    except Invalid as exc:
        raise DataFormatError(source, str(exc)) from None
    except json.JSONDecodeError as exc:
        raise DataFormatError(source, f"not JSON ({exc.msg})", line=exc.lineno) from None
    except (ValueError, RecursionError) as exc:
        raise DataFormatError(source, f"not JSON ({exc})") from None


_DEPTH_STEP = np.zeros(256, np.int64)
_DEPTH_STEP[[ord("["), ord("{")]] = 1
_DEPTH_STEP[[ord("]"), ord("}")]] = -1
_SCAN_CHUNK = 1 << 22  # bytes per vectorized step: memory stays ~ 40 x this whatever the file's size


def _nesting_depth(raw: bytes) -> int:
    """The deepest bracket nesting outside strings, in chunks that carry the state (depth, inside a
    string, backslashes just before) across: linear time, bounded memory. On UTF-8 bytes: ``"`` and
    ``\\`` never occur inside a multi-byte character."""
    deepest = depth = inside = slashes = 0
    for start in range(0, len(raw), _SCAN_CHUNK):
        b = np.frombuffer(raw, np.uint8, count=min(_SCAN_CHUNK, len(raw) - start), offset=start)
        position = np.arange(len(b), dtype=np.int64)
        last_other = np.maximum.accumulate(np.where(b != ord("\\"), position, -1))
        before = np.empty(len(b), np.int64)  # backslashes right before each byte
        before[0] = slashes
        before[1:] = position[:-1] - last_other[:-1] + np.where(last_other[:-1] < 0, slashes, 0)
        quote = (b == ord('"')) & (before % 2 == 0)
        inside_after = (np.cumsum(quote) + inside) % 2
        outside = (inside_after == 0) & ~quote
        levels = np.cumsum(_DEPTH_STEP[b] * outside) + depth
        deepest, depth = max(deepest, int(levels.max())), int(levels[-1])
        inside = int(inside_after[-1])
        slashes = len(b) - 1 - int(last_other[-1]) + (slashes if last_other[-1] < 0 else 0)
    return deepest


def _refuse_constant(name: str):
    raise Invalid(f"{name} is not a number JSON allows (write a finite number)")


def _parse_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise Invalid(f"a {len(text)}-digit number; numbers have at most {MAX_NUMBER_CHARS} characters")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise Invalid(f"a {len(text)}-character number; at most {MAX_NUMBER_CHARS} allowed")
    value = float(text)
    if not math.isfinite(value):
        raise Invalid(f"the number {text} is beyond a float's range")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    result = {}
    for key, value in pairs:
        if key in result:
            raise Invalid(f"the key {key!r} appears twice in one object")
        result[key] = value
    return result


def at(where: str, check: Callable[[Any], Any], value: Any) -> Any:
    """``check(value)``, an error's field path prefixed with ``where``."""
    try:
        return check(value)
    except Invalid as exc:
        text = str(exc)
        raise Invalid(where + ("" if text.startswith((".", "[")) else ": ") + text) from None


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
