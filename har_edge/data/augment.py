"""Training-time augmentation of sensor windows: random scaling, small rotations, jitter.

Applied to each training batch inside the ``tf.data`` pipeline (``har_edge.train``), never to
validation or test windows. Windows arrive normalized; rotation and scaling act on the physical
signal (the normalizer's statistics undo and redo the standardization around them), so a rotated
accelerometer window still carries gravity as a rotated vector:

- ``scale``: every channel of a window times one factor drawn from N(1, ``SCALE_SIGMA``);
- ``rotate``: each xyz triple of a sensor (``acc_x/y/z``, ``gyro_x/y/z``, …) turned by the same
  rotation about a random axis, by an angle uniform in ±``ROTATE_DEGREES`` (a phone held slightly
  differently); channels outside complete triples are left as they are;
- ``jitter``: Gaussian noise of ``JITTER_SIGMA`` standard deviations of each channel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from har_edge.errors import InputError

AUGMENTATIONS = ("scale", "rotate", "jitter")
SCALE_SIGMA = 0.1
ROTATE_DEGREES = 15.0
JITTER_SIGMA = 0.05


def parse_augment(spec: str) -> tuple[str, ...]:
    """``"none"`` or a ``+``/comma list of ``AUGMENTATIONS``, as a sorted tuple of names."""
    if spec in ("", "none"):
        return ()
    names = tuple(sorted({p.strip() for p in spec.replace("+", ",").split(",") if p.strip()}))
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown or not names:
        raise InputError(
            f"augment {spec!r}: unknown {', '.join(unknown) or 'empty list'} "
            f"(expected 'none' or a +-list of {', '.join(AUGMENTATIONS)})"
        )
    return names


def xyz_triples(channels: Sequence[str]) -> list[tuple[int, int, int]]:
    """Index triples of the channels named ``<sensor>_x``, ``<sensor>_y``, ``<sensor>_z``."""
    index = {name: k for k, name in enumerate(channels)}
    triples = []
    for name in channels:
        if name.endswith("_x"):
            stem = name[:-2]
            if f"{stem}_y" in index and f"{stem}_z" in index:
                triples.append((index[name], index[f"{stem}_y"], index[f"{stem}_z"]))
    return triples


def batch_augmenter(augment: Sequence[str], channels: Sequence[str], mean, std, seed: int):
    """A function (x batch (n, window, channels) normalized, y) -> augmented (x, y) of TF ops, or None
    when ``augment`` is empty. ``mean``/``std`` are the normalizer's per-channel statistics."""
    if not augment:
        return None
    from har_edge.tfcompat import tensorflow

    tf = tensorflow()
    mean = tf.constant(np.asarray(mean, np.float32))
    std = tf.constant(np.asarray(std, np.float32))
    permutation, triples = _rotation_layout(channels)
    rng = tf.random.Generator.from_seed(seed)

    def apply(x, y):
        n = tf.shape(x)[0]
        raw = x * std + mean
        if "scale" in augment:
            raw = raw * rng.normal((n, 1, 1), 1.0, SCALE_SIGMA)
        if "rotate" in augment and triples:
            raw = _rotate(tf, rng, raw, n, permutation, triples)
        x = (raw - mean) / std
        if "jitter" in augment:
            x = x + rng.normal(tf.shape(x), 0.0, JITTER_SIGMA)
        return x, y

    return apply


def _rotation_layout(channels: Sequence[str]):
    """(permutation putting the xyz triples first, number of triples)."""
    triples = xyz_triples(channels)
    grouped = [k for t in triples for k in t]
    rest = [k for k in range(len(channels)) if k not in grouped]
    return grouped + rest, len(triples)


def _rotate(tf, rng, raw, n, permutation, triples: int):
    """``raw`` with each of the first ``triples`` xyz groups (after ``permutation``) rotated by one
    random small rotation per window."""
    axis = rng.normal((n, 3))
    axis = axis / tf.maximum(tf.norm(axis, axis=1, keepdims=True), 1e-6)
    angle = rng.uniform((n, 1, 1), -1.0, 1.0) * math.radians(ROTATE_DEGREES)
    ax, ay, az = axis[:, 0], axis[:, 1], axis[:, 2]
    zero = tf.zeros_like(ax)
    cross = tf.reshape(tf.stack([zero, -az, ay, az, zero, -ax, -ay, ax, zero], axis=1), (n, 3, 3))
    rotation = tf.eye(3, batch_shape=[n]) + tf.sin(angle) * cross + (1 - tf.cos(angle)) * (cross @ cross)
    ordered = tf.gather(raw, permutation, axis=2)
    parts = [tf.einsum("nwc,ndc->nwd", ordered[:, :, 3 * g : 3 * g + 3], rotation) for g in range(triples)]
    rotated = tf.concat([*parts, ordered[:, :, 3 * triples :]], axis=2)
    return tf.gather(rotated, np.argsort(permutation), axis=2)
