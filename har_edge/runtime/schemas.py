"""The schemas of the files the runtime reads: the bundle manifest and the checkpoint header.

``parse_manifest(raw, source)`` returns the manifest object only when it is strict JSON
(``har_edge.runtime.strict_json``) and every field has its type and range: integers are integers
(not booleans, not strings), numbers are finite, window/hop/rate positive (rate at most
``MAX_RATE_HZ``), one normalization mean (|mean| <= ``MAX_MEAN``) and std (in ``STD_RANGE``) per
channel, labels and channels unique and non-empty, a positive feature shape, and file names that are
plain names inside the bundle. ``check_checkpoint_header`` does the same for a head
checkpoint's header. Violations are ``InputError``\\s naming the file and the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from har_edge.errors import InputError
from har_edge.runtime.strict_json import (
    MAX_INT,
    MAX_JSON_BYTES,
    MAX_NAMES,
    Invalid,
    any_json,
    at,
    integer,
    json_object,
    list_of,
    mapping,
    names,
    number,
    optional,
    parse_strict_json,
    sha256_hex,
    short,
    text,
)

MAX_MANIFEST_BYTES = MAX_JSON_BYTES
MAX_RATE_HZ = 10_000.0
MAX_MEAN = 1e9  # |normalization mean|, in sensor units
STD_RANGE = (1e-9, 1e9)  # normalization std (training floors it at 1e-6 in float32: 9.99999997e-07)


def _within(check: Callable[[Any], float], low: float, high: float) -> Callable[[Any], float]:
    def bounded(value: Any) -> float:
        value = check(value)
        if not low <= abs(value) <= high:
            raise Invalid(f"expected a magnitude in [{low:g}, {high:g}], got {value!r}")
        return value

    return bounded


_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def check_file_name(name: object) -> str:
    """A bundle file name: a plain name (no folder, no ``..``, not hidden), else ``Invalid``."""
    if not isinstance(name, str) or not _FILE_NAME.fullmatch(name) or set(name) == {"."}:
        raise Invalid(f"file name {name!r} is not a plain file name inside the bundle")
    return name


def _files(value: Any) -> dict:
    entry = json_object({"sha256": sha256_hex, "size_bytes": integer(0, 2**40)})
    entries = mapping(entry)(value)
    for name in entries:
        at(f".{name}", check_file_name, name)
    return entries


_QUANTIZATION = optional(
    json_object({"scale": number(positive=True), "zero_point": integer(-(2**31), MAX_INT)})
)
_FIELDS: dict[str, Callable[[Any], Any]] = {
    "schema_version": integer(0),
    "class_labels": names(2),
    "window": integer(1, 1 << 24),
    "hop": integer(1, 1 << 24),
    "rate_hz": _within(number(positive=True), 0.0, MAX_RATE_HZ),
    "channels": names(1),
    "normalization": json_object(
        {
            "mean": list_of(_within(number(positive=False), 0.0, MAX_MEAN), 1, MAX_NAMES),
            "std": list_of(_within(number(positive=True), *STD_RANGE), 1, MAX_NAMES),
        }
    ),
    "input_layout": text(),
    "architecture": text(),
    "split_layer": text(),
    "base_precision": text(),
    "feature_shape": list_of(integer(1), 1, 8),
    "base_input_quantization": _QUANTIZATION,
    "base_output_quantization": _QUANTIZATION,
    "head_hidden": optional(integer(1)),
    "files": _files,
    "tools": mapping(text()),
    "created_utc": text(),
    "optimization": mapping(any_json),
}
_OPTIONAL = frozenset({"optimization"})


def parse_manifest(raw: bytes, source: str, schema_version: int) -> dict[str, Any]:
    """The validated manifest object (see the module docstring), or an ``InputError`` naming ``source``."""
    data = parse_strict_json(raw, source)
    if not isinstance(data, dict) or data.get("schema_version") != schema_version:
        found = data.get("schema_version") if isinstance(data, dict) else None
        raise InputError(f"{source}: manifest schema_version {short(found)}, expected {schema_version}")
    try:
        checked = json_object(_FIELDS, _OPTIONAL)(data)
        channels = len(checked["channels"])
        for key in ("mean", "std"):
            if len(checked["normalization"][key]) != channels:
                raise Invalid(f".normalization.{key}: needs {channels} values, one per channel")
        if math.prod(checked["feature_shape"]) > MAX_INT:
            raise Invalid(f".feature_shape: {checked['feature_shape']} has too many elements")
    except Invalid as exc:
        raise InputError(f"{source}: manifest field {exc}") from None
    return checked


_PARAMETER_NAMES = (["w0", "b0"], ["w0", "b0", "w1", "b1"])


def _parameters(value: Any) -> list:
    entry = list_of(any_json, 2, 2)
    pairs = list_of(entry, 2, 4)(value)
    checked = [
        [at(f"[{i}][0]", text(empty=False), name), at(f"[{i}][1]", list_of(integer(1), 1, 2), shape)]
        for i, (name, shape) in enumerate(pairs)
    ]
    if [name for name, _ in checked] not in _PARAMETER_NAMES:
        raise Invalid(f"parameters must be named {' or '.join(map(str, _PARAMETER_NAMES))}")
    return checked


_CHECKPOINT_FIELDS = {
    "format_version": integer(0),
    "labels": names(2),
    "parameters": _parameters,
    "bundle": json_object({"base.tflite": sha256_hex, "head.tflite": sha256_hex}),
}


def check_checkpoint_header(header: Any, source: str) -> dict[str, Any]:
    """A head checkpoint's header with exactly its four fields, each of its type, else an ``InputError``."""
    try:
        return json_object(_CHECKPOINT_FIELDS)(header)
    except Invalid as exc:
        raise InputError(f"{source}: checkpoint header field {exc}") from None
