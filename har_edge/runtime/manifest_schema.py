"""The manifest's schema, checked on read (stdlib only; the runtime cannot use ``jsonschema``).

``parse_manifest(raw, source)`` takes the file's bytes and returns the JSON object only when it is
strict UTF-8 JSON (no BOM, no NaN/Infinity, no duplicate keys, no number too long or too large for a
float, at most ``MAX_DEPTH`` levels) and every field has its type and range: integers are integers
(not booleans, not strings), numbers are finite, window/hop/rate positive, one normalization mean and
std > 0 per channel, labels and channels unique and non-empty, a positive feature shape, and file
names that are plain names inside the bundle (``check_file_name``). Violations are ``InputError``\\s
that name the file and the field.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from har_edge.errors import InputError

MAX_MANIFEST_BYTES = 1 << 20
MAX_DEPTH = 32
MAX_NUMBER_CHARS = 64
MAX_NAMES = 10_000
MAX_INT = 2**31 - 1
_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class _Invalid(Exception):
    """A field's problem: (field path, what is wrong)."""


def check_file_name(name: object) -> str:
    """A bundle file name: a plain name (no folder, no ``..``, not hidden), else ``_Invalid``."""
    if not isinstance(name, str) or not _FILE_NAME.fullmatch(name) or set(name) == {"."}:
        raise _Invalid(f"file name {name!r} is not a plain file name inside the bundle")
    return name


def _integer(low: int, high: int = MAX_INT) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _Invalid(f"expected an integer in [{low}, {high}], got {_short(value)}")
        return value

    return check


def _number(*, positive: bool) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise _Invalid(f"expected a finite number, got {_short(value)}")
        if positive and not value > 0:
            raise _Invalid(f"expected a number > 0, got {value!r}")
        return value

    return check


def _text(*, empty: bool = True) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or (not empty and not value.strip()):
            raise _Invalid(f"expected {'a' if empty else 'a non-empty'} string, got {_short(value)}")
        return value

    return check


def _names(minimum: int) -> Callable[[Any], list[str]]:
    def check(value: Any) -> list[str]:
        items = _list_of(_text(empty=False), minimum, MAX_NAMES)(value)
        if len(set(items)) != len(items):
            raise _Invalid(f"names must be unique, got {_short(value)}")
        return items

    return check


def _list_of(item: Callable[[Any], Any], minimum: int, maximum: int) -> Callable[[Any], list]:
    def check(value: Any) -> list:
        if not isinstance(value, list) or not minimum <= len(value) <= maximum:
            raise _Invalid(f"expected a list of {minimum} to {maximum} items, got {_short(value)}")
        return [_at(f"[{i}]", item, element) for i, element in enumerate(value)]

    return check


def _optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else check(value)


def _object(fields: dict[str, Callable[[Any], Any]], optional: frozenset[str] = frozenset()):
    def check(value: Any) -> dict:
        if not isinstance(value, dict):
            raise _Invalid(f"expected an object, got {_short(value)}")
        missing = sorted(set(fields) - set(value) - optional)
        unknown = sorted(set(value) - set(fields))
        if missing or unknown:
            raise _Invalid(f"missing {missing}, unknown {unknown}; the fields are {sorted(fields)}")
        return {key: _at(f".{key}", fields[key], element) for key, element in value.items()}

    return check


def _mapping(value_check: Callable[[Any], Any]) -> Callable[[Any], dict]:
    def check(value: Any) -> dict:
        if not isinstance(value, dict):
            raise _Invalid(f"expected an object, got {_short(value)}")
        return {key: _at(f".{key}", value_check, element) for key, element in value.items()}

    return check


def _files(value: Any) -> dict:
    entry = _object({"sha256": _sha256, "size_bytes": _integer(0, 2**40)})
    entries = _mapping(entry)(value)
    for name in entries:
        _at(f".{name}", check_file_name, name)
    return entries


def _sha256(value: Any) -> str:
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise _Invalid(f"expected 64 lowercase hex digits, got {_short(value)}")
    return value


def _any_json(value: Any) -> Any:
    return value  # parsing already refused non-finite numbers and deep nesting


_QUANTIZATION = _optional(
    _object({"scale": _number(positive=True), "zero_point": _integer(-(2**31), MAX_INT)})
)
_FIELDS: dict[str, Callable[[Any], Any]] = {
    "schema_version": _integer(0),
    "class_labels": _names(2),
    "window": _integer(1, 1 << 24),
    "hop": _integer(1, 1 << 24),
    "rate_hz": _number(positive=True),
    "channels": _names(1),
    "normalization": _object(
        {
            "mean": _list_of(_number(positive=False), 1, MAX_NAMES),
            "std": _list_of(_number(positive=True), 1, MAX_NAMES),
        }
    ),
    "input_layout": _text(),
    "architecture": _text(),
    "split_layer": _text(),
    "base_precision": _text(),
    "feature_shape": _list_of(_integer(1), 1, 8),
    "base_input_quantization": _QUANTIZATION,
    "base_output_quantization": _QUANTIZATION,
    "head_hidden": _optional(_integer(1)),
    "files": _files,
    "tools": _mapping(_text()),
    "created_utc": _text(),
    "optimization": _mapping(_any_json),
}
_OPTIONAL = frozenset({"optimization"})


def parse_manifest(raw: bytes, source: str, schema_version: int) -> dict[str, Any]:
    """The validated manifest object (see the module docstring), or an ``InputError`` naming ``source``."""
    data = _parse_json(raw, source)
    if not isinstance(data, dict) or data.get("schema_version") != schema_version:
        found = data.get("schema_version") if isinstance(data, dict) else None
        raise InputError(f"{source}: manifest schema_version {_short(found)}, expected {schema_version}")
    try:
        checked = _object(_FIELDS, _OPTIONAL)(data)
        channels = len(checked["channels"])
        for key in ("mean", "std"):
            if len(checked["normalization"][key]) != channels:
                raise _Invalid(f".normalization.{key}: needs {channels} values, one per channel")
        if math.prod(checked["feature_shape"]) > MAX_INT:
            raise _Invalid(f".feature_shape: {checked['feature_shape']} has too many elements")
    except _Invalid as exc:
        raise InputError(f"{source}: manifest field {exc}") from None
    return checked


def _parse_json(raw: bytes, source: str) -> Any:
    if len(raw) > MAX_MANIFEST_BYTES:
        raise InputError(f"{source}: {len(raw)} bytes, more than a manifest may have ({MAX_MANIFEST_BYTES})")
    if raw.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{source}: starts with a byte-order mark; save it as UTF-8 without a BOM")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: not UTF-8 text ({exc}); a manifest is UTF-8 JSON") from None
    if _nesting_depth(text) > MAX_DEPTH:
        raise InputError(f"{source}: JSON nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_int=_parse_int,
            parse_float=_parse_float,
            object_pairs_hook=_unique_keys,
        )
    except _Invalid as exc:
        raise InputError(f"{source}: {exc}") from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise InputError(f"{source}: not valid JSON ({exc})") from None


def _nesting_depth(text: str) -> int:
    """The deepest bracket nesting, counted outside strings (cheap; bounds json's recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _refuse_constant(name: str):
    raise _Invalid(f"{name} is not a number JSON allows (write a finite number)")


def _parse_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Invalid(f"a {len(text)}-digit number; numbers have at most {MAX_NUMBER_CHARS} characters")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Invalid(f"a {len(text)}-character number; at most {MAX_NUMBER_CHARS} allowed")
    value = float(text)
    if not math.isfinite(value):
        raise _Invalid(f"the number {text} is beyond a float's range")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    result = {}
    for key, value in pairs:
        if key in result:
            raise _Invalid(f"the key {key!r} appears twice in one object")
        result[key] = value
    return result


def _at(where: str, check: Callable[[Any], Any], value: Any) -> Any:
    """``check(value)``, an error's field path prefixed with ``where``."""
    try:
        return check(value)
    except _Invalid as exc:
        text = str(exc)
        raise _Invalid(where + ("" if text.startswith((".", "[")) else ": ") + text) from None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
