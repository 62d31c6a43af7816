"""Random streams: every draw comes from a ``np.random.SeedSequence`` keyed by (seed, stream, ...)."""

from __future__ import annotations

import zlib

import numpy as np

PHYSIOLOGY, PROTOCOL, BODY_NOISE, MOUNT, CLOCK, SENSOR_NOISE, DEVICE_UNIT = range(7)


def stream_rng(*keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(list(keys)))


def name_key(name: str) -> int:
    """A stable integer for a name, so a stream does not depend on the order of a table."""
    return zlib.crc32(name.encode())
