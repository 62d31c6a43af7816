"""Device profiles shipped as TOML data next to this module, read with a clear error on bad entries."""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any

from har_edge.errors import DataFormatError


def load_profile_table(
    filename: str, required: dict[str, type | tuple[type, ...]]
) -> dict[str, dict[str, Any]]:
    """``{profile name: fields}`` from the package data file ``filename``; every profile must have the
    ``required`` keys with values of the given types (an int is accepted where a float is expected)."""
    text = resources.files("har_edge.targets").joinpath(filename).read_text()
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataFormatError(filename, f"not valid TOML ({exc})") from exc
    for name, fields in table.items():
        if not isinstance(fields, dict):
            raise DataFormatError(filename, "expected a table per profile", field=name)
        for key, kind in required.items():
            accepted = (int, float) if kind is float else kind
            if not isinstance(fields.get(key), accepted) or isinstance(fields.get(key), bool):
                raise DataFormatError(
                    filename, f"profile {name!r}", field=key, expected=f"a {getattr(kind, '__name__', kind)}"
                )
    return table
