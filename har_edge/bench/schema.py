"""``report.json``'s schema (``report.schema.json``, JSON Schema Draft 2020-12, shipped in this package):
validation with errors that name the JSON path and what was expected, and the conversion of a report's
values to plain JSON data."""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from har_edge.bench.results import SCHEMA_VERSION
from har_edge.errors import DataFormatError, InputError

SCHEMA_RESOURCE = "report.schema.json"


@cache
def report_schema() -> dict[str, Any]:
    """The JSON schema of ``report.json`` (packaged next to this module)."""
    text = resources.files(__package__).joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    return json.loads(text)


def validate_report(data: Any, source: str) -> None:
    """Raise ``DataFormatError`` naming ``source``, the JSON path of the first offending field and what
    was expected, when ``data`` is not a report of this ``SCHEMA_VERSION``. Other errors are counted."""
    import jsonschema

    if not isinstance(data, dict):
        raise DataFormatError(source, f"a report is a JSON object, not {type(data).__name__}")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise DataFormatError(
            source,
            f"schema_version {data.get('schema_version')!r} is not read by this har_edge "
            "(re-run the benchmark, or read it with the har_edge version that wrote it)",
            field="$.schema_version",
            expected=str(SCHEMA_VERSION),
        )
    validator = jsonschema.Draft202012Validator(report_schema())
    # Unknown keys first: a typo also makes the intended key "missing", and the typo is the cause.
    errors = sorted(validator.iter_errors(data), key=lambda error: error.validator != "additionalProperties")
    if errors:
        path, problem, expected = _describe(errors[0])
        if len(errors) > 1:
            problem += f" ({len(errors) - 1} more schema error{'s' if len(errors) > 2 else ''})"
        raise DataFormatError(source, problem, field=path, expected=expected)


def _describe(error) -> tuple[str, str, str | None]:
    """(JSON path, problem, expected) of one ``jsonschema.ValidationError``."""
    parts = list(error.absolute_path)
    rule, value = error.validator, error.validator_value
    if rule == "additionalProperties" and isinstance(error.instance, dict):
        known = sorted(error.schema.get("properties", {}))
        unknown = [key for key in error.instance if key not in known]
        guess = difflib.get_close_matches(unknown[0], known, n=1)
        expected = f"a known key: did you mean {guess[0]!r}?" if guess else "one of " + ", ".join(known)
        return _json_path([*parts, unknown[0]]), "unknown key", expected
    if rule == "required" and isinstance(error.instance, dict):
        missing = next(key for key in value if key not in error.instance)
        return _json_path([*parts, missing]), "missing", "a value (null when absent)"
    expected = {
        "type": lambda: "type " + " or ".join(value if isinstance(value, list) else [value]),
        "enum": lambda: "one of " + ", ".join(json.dumps(v) for v in value),
        "const": lambda: json.dumps(value),
        "minimum": lambda: f">= {value}",
        "maximum": lambda: f"<= {value}",
        "exclusiveMinimum": lambda: f"> {value}",
        "pattern": lambda: error.schema.get("description", f"a string matching {value}"),
        "minLength": lambda: "a non-empty string",
    }.get(rule, lambda: None)()
    return _json_path(parts), f"{json.dumps(error.instance, default=str)} is not valid", expected


def _json_path(parts: Sequence[str | int]) -> str:
    return "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts)


def json_ready(value: Any, path: Sequence[str | int] = ()) -> Any:
    """``value`` as plain JSON data (numpy scalars and arrays converted, tuples as lists). Anything else,
    a non-string key or a NaN/infinite number is an ``InputError`` naming its JSON path."""
    if isinstance(value, np.generic | np.ndarray):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"report {_json_path(path)}: {value} is not a finite number (use None when absent)")
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise InputError(f"report {_json_path(path)}: key {key!r} is not a string")
        return {key: json_ready(item, [*path, key]) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item, [*path, i]) for i, item in enumerate(value)]
    raise InputError(
        f"report {_json_path(path)}: a {type(value).__name__} cannot be written to JSON "
        "(expected a string, number, bool, None, list or dict)"
    )
