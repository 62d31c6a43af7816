"""Data stage: real-format loaders, the synthetic generator (the default source) and windowing.

``load_dataset`` is the front door the CLI uses: ``"synthetic[:position[:device]]"`` or a path plus a
format name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from har_edge.data.formats import FORMATS, load
from har_edge.errors import InputError
from har_edge.types import Dataset

SYNTHETIC = "synthetic"


def load_dataset(spec: str, fmt: str | None = None, **options: Any) -> Dataset:
    """Load ``spec``: ``synthetic``, ``synthetic:wrist`` or ``synthetic:wrist:<device>`` generate data
    (``options`` go to ``SyntheticConfig``); anything else is a path read with the loader ``fmt``."""
    if spec == SYNTHETIC or spec.startswith(SYNTHETIC + ":"):
        from har_edge.data.synthetic import SyntheticConfig, generate

        parts = spec.split(":")
        if len(parts) > 3:
            raise InputError(f"data spec {spec!r}: expected synthetic[:position[:device]]")
        if len(parts) > 1 and parts[1]:
            options["position"] = parts[1]
        if len(parts) > 2 and parts[2]:
            options["device"] = parts[2]
        return generate(SyntheticConfig(**options))
    if fmt is None:
        raise InputError(f"data {spec!r} is a path: --format is required ({', '.join(FORMATS)})")
    return load(spec, fmt, **options)


def absolute_spec(spec: str) -> str:
    """``spec`` as a record that works from any folder: a synthetic spec as is, a path made absolute."""
    if spec == SYNTHETIC or spec.startswith(SYNTHETIC + ":"):
        return spec
    return str(Path(spec).expanduser().absolute())
