"""Loaders for real HAR data-set formats; each returns a :class:`har_edge.types.Dataset`.

Conventions shared by every loader (see ``har_edge.types``): accelerometer in m/s², gyroscope in rad/s,
time in seconds (float64, strictly increasing per recording), samples float32 (n, channels), labels int32
indexing ``class_names`` with ``UNLABELLED`` (-1) for unlabelled samples. Gaps are kept as they are (NaN
stays NaN, time jumps stay jumps); windowing finds and reports them.

Bad input raises ``DataFormatError`` naming the file and, when known, the line and field; bad arguments
raise ``InputError``. What a loader tolerates instead of failing (WISDM's broken records, for one) is
listed in ``Dataset.notes``.

One module per format (``hapt``, ``hhar``, ``wisdm``, ``pamap2``, ``uea``, ``generic_csv``), the shared
parsing in ``text``, a gap threshold from a recording's measured timing jitter in ``timing``;
``load(path, fmt)`` dispatches by the names in ``FORMATS``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

from har_edge.data.formats.generic_csv import load_csv
from har_edge.data.formats.hapt import HAPT_RATE_HZ, load_hapt
from har_edge.data.formats.hhar import HHAR_CLASSES, load_hhar
from har_edge.data.formats.pamap2 import (
    PAMAP2_ACTIVITIES,
    PAMAP2_CLASSES,
    PAMAP2_IMUS,
    PAMAP2_RATE_HZ,
    load_pamap2,
)
from har_edge.data.formats.uea import UEA_DEFAULT_RATE_HZ, load_uea
from har_edge.data.formats.wisdm import WISDM_CLASSES, WISDM_RATE_HZ, load_wisdm
from har_edge.errors import InputError
from har_edge.types import Dataset

__all__ = [
    "FORMATS",
    "HAPT_RATE_HZ",
    "HHAR_CLASSES",
    "PAMAP2_ACTIVITIES",
    "PAMAP2_CLASSES",
    "PAMAP2_IMUS",
    "PAMAP2_RATE_HZ",
    "UEA_DEFAULT_RATE_HZ",
    "WISDM_CLASSES",
    "WISDM_RATE_HZ",
    "load",
    "load_csv",
    "load_hapt",
    "load_hhar",
    "load_pamap2",
    "load_uea",
    "load_wisdm",
]

FORMATS: dict[str, Callable[..., Dataset]] = {
    "hapt": load_hapt,
    "hhar": load_hhar,
    "wisdm": load_wisdm,
    "pamap2": load_pamap2,
    "uea": load_uea,
    "csv": load_csv,
}


def load(path: str | Path, fmt: str, **options: object) -> Dataset:
    """Load ``path`` with the loader of format ``fmt`` (a key of ``FORMATS``), passing ``options`` on."""
    if fmt not in FORMATS:
        raise InputError(f"unknown data format {fmt!r}; valid formats: {', '.join(FORMATS)}")
    loader = FORMATS[fmt]
    signature = inspect.signature(loader)
    try:
        signature.bind(path, **options)
    except TypeError as error:
        keys = [p.name for p in signature.parameters.values() if p.kind is p.KEYWORD_ONLY]
        raise InputError(f"format {fmt!r}: {error}; its options: {', '.join(keys)}") from None
    return loader(path, **options)
