"""Argument types with ranges, so a bad value is a usage error (exit 2 naming the option), not a
traceback from deep inside a stage (``--seed -1`` reaching numpy, ``--epochs 0`` reaching Keras)."""

from __future__ import annotations

import argparse
import math

MAX_SEED = 2**32 - 1  # numpy's legacy seeding and TensorFlow both take this range
MAX_COUNT = 10**9


def _integer(text: str, low: int, high: int, what: str) -> int:
    try:
        value = int(text) if text.isascii() else None
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return value


def _number(text: str, accept, what: str) -> float:
    try:
        value = float(text) if text.isascii() and "_" not in text else math.nan
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and accept(value)):
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return value


def seed(text: str) -> int:
    return _integer(text, 0, MAX_SEED, f"a seed (an integer from 0 to {MAX_SEED})")


def positive_int(text: str) -> int:
    return _integer(text, 1, MAX_COUNT, "a positive integer")


def non_negative_int(text: str) -> int:
    return _integer(text, 0, MAX_COUNT, "an integer >= 0")


def positive_number(text: str) -> float:
    return _number(text, lambda v: v > 0, "a finite number > 0")


def sparsity(text: str) -> float:
    return _number(text, lambda v: 0 <= v < 1, "a sparsity in [0, 1)")


def smoothing_factor(text: str) -> float:
    return _number(text, lambda v: 0 < v <= 1, "a factor in (0, 1]")
