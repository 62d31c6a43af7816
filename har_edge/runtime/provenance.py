"""Whether data given to a bundle is the data it was trained on, from the evaluation record its
manifest keeps (``optimization.evaluation``: data spec, format, loader options, held-out test subjects).

Caveat: a spec names data, not its content; two specs of one file compare equal only when both resolve to
the same path, and the same spec can name data that changed since training.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def same_source(record: Mapping[str, Any], spec: str, fmt: str | None) -> bool:
    """Whether ``spec`` (and ``fmt``) name the data the record says the model was trained on. Paths
    compare after resolving (a card may store them absolute), other specs (``synthetic:…``) as text."""
    recorded = record.get("data")
    if not isinstance(recorded, str) or record.get("format") != fmt:
        return False
    if recorded == spec:
        return True
    try:
        return Path(recorded).exists() and Path(recorded).resolve() == Path(spec).resolve()
    except (OSError, ValueError):
        return False


def same_options(
    record: Mapping[str, Any], options: Mapping[str, Any], defaults: Mapping[str, Any] | None = None
) -> bool:
    """Whether the loader options equal the recorded ones (so subject names mean the same people); an
    option left out on either side counts as its value in ``defaults``."""
    defaults = dict(defaults or {})
    recorded = {**defaults, **(record.get("options") or {})}
    return json.dumps(recorded, sort_keys=True, default=str) == json.dumps(
        {**defaults, **options}, sort_keys=True, default=str
    )
