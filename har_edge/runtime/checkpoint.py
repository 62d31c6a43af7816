"""Head checkpoints: the weights of a personalized head, their labels and the bundle they fit.

Checkpoint file (``Personalizer.save``/``restore``), version ``CHECKPOINT_FORMAT_VERSION``::

    line 1   b"HAR-EDGE-HEAD-CHECKPOINT\\n"
    line 2   header, one line of UTF-8 JSON: format_version, labels, parameters [[name, shape], ...],
             bundle {"base.tflite": sha256, "head.tflite": sha256}
    payload  the parameters' float32 little-endian bytes, in header order (w0, b0[, w1, b1])
    trailer  32 bytes: SHA-256 of every byte before it
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass

import numpy as np

from har_edge.errors import InputError
from har_edge.runtime.bundle import BASE_FILE, HEAD_FILE
from har_edge.runtime.classifier import Classifier
from har_edge.runtime.head import HeadWeights
from har_edge.runtime.model_checks import check_weights
from har_edge.runtime.schemas import check_checkpoint_header
from har_edge.runtime.strict_json import parse_strict_json

CHECKPOINT_MAGIC = b"HAR-EDGE-HEAD-CHECKPOINT\n"
CHECKPOINT_FORMAT_VERSION = 1
CHECKSUM_BYTES = 32  # SHA-256
MAX_CHECKPOINT_BYTES = 64 << 20  # a head's weights; a larger file (or /dev/zero) is refused unread
PAYLOAD_DTYPE = np.dtype("<f4")


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """Head weights, their labels and the identity (sha256 of base and head) of the bundle they fit."""

    labels: tuple[str, ...]
    weights: HeadWeights
    bundle: dict[str, str]

    def to_bytes(self) -> bytes:
        named = self.weights.named()
        header = {
            "format_version": CHECKPOINT_FORMAT_VERSION,
            "labels": list(self.labels),
            "parameters": [[name, list(array.shape)] for name, array in named.items()],
            "bundle": self.bundle,
        }
        payload = b"".join(array.astype(PAYLOAD_DTYPE).tobytes() for array in named.values())
        body = CHECKPOINT_MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + payload
        return body + hashlib.sha256(body).digest()

    @classmethod
    def from_bytes(cls, data: bytes, source: str) -> Checkpoint:
        r"""Parse and verify; a wrong magic, format version, checksum, header field (strict schema:
        ``har_edge.runtime.schemas``) or layout, and non-finite or absurd weights, are ``InputError``\s."""
        if not data.startswith(CHECKPOINT_MAGIC):
            raise InputError(f"{source}: not a har_edge head checkpoint (no {CHECKPOINT_MAGIC!r} line)")
        header_line, _, rest = data[len(CHECKPOINT_MAGIC) :].partition(b"\n")
        try:
            header = parse_strict_json(header_line, "header")
        except InputError as exc:
            raise InputError(f"{source}: corrupted or truncated checkpoint (unreadable {exc})") from exc
        version = header.get("format_version") if isinstance(header, dict) else None
        if version != CHECKPOINT_FORMAT_VERSION or isinstance(version, bool | float):
            expected = CHECKPOINT_FORMAT_VERSION
            raise InputError(
                f"{source}: checkpoint format version {version!r}; this runtime reads {expected}"
            )
        body, checksum = data[:-CHECKSUM_BYTES], data[-CHECKSUM_BYTES:]
        if len(rest) < CHECKSUM_BYTES or hashlib.sha256(body).digest() != checksum:
            raise InputError(f"{source}: corrupted or truncated checkpoint (SHA-256 checksum mismatch)")
        header = check_checkpoint_header(header, source)
        return cls._from_verified(header, rest[:-CHECKSUM_BYTES], source)

    @classmethod
    def _from_verified(cls, header: dict, payload: bytes, source: str) -> Checkpoint:
        """Weights of the header's (already validated) shapes, refused when non-finite or absurd."""
        shapes = [(name, tuple(shape)) for name, shape in header["parameters"]]
        sizes = [math.prod(shape) * PAYLOAD_DTYPE.itemsize for _, shape in shapes]
        if sum(sizes) != len(payload):
            raise InputError(f"{source}: payload has {len(payload)} bytes, the shapes need {sum(sizes)}")
        offsets = np.cumsum([0, *sizes])
        named = {
            name: np.frombuffer(payload[start:end], PAYLOAD_DTYPE).reshape(shape).astype(np.float32)
            for (name, shape), start, end in zip(shapes, offsets[:-1], offsets[1:], strict=True)
        }
        check_weights(named, source)
        try:
            weights = HeadWeights.from_named(named)
        except InputError as exc:
            raise InputError(f"{source}: malformed checkpoint ({exc})") from exc
        return cls(tuple(header["labels"]), weights, dict(header["bundle"]))


def bundle_identity(classifier: Classifier) -> dict[str, str]:
    """The sha256 of the bundle's base and head, as its manifest lists them."""
    files = classifier.manifest.files
    return {name: files[name].sha256 for name in (BASE_FILE, HEAD_FILE)}
