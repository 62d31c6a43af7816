"""The C head's two-slot checkpoint format in Python, and checkpoint exchange between host and MCU.

The byte layout and commit protocol are those of ``firmware/head/checkpoint.h``: a 96-byte
little-endian header (magic ``HHCK``, format version, header size, sequence number, F, H (0: one
layer), C, payload bytes, CRC-32 of the labels, SHA-256 of base.tflite and of head.tflite), the
float32 parameters (w0, b0[, w1, b1]), a CRC-32 trailer over both; slot i at ``i * slot_bytes``; the
newest valid slot (sequence compared modulo 2**32) wins, and a save goes to the other one.

``SlotStorage`` reads and writes such an image; ``host_checkpoint`` turns the newest slot of a device's
storage into the host ``Personalizer``'s ``Checkpoint`` and ``device_storage`` the reverse, each
checked against the firmware's ``HeadSpec``: a wrong shape is a ``ShapeMismatchError``, another base,
head or label set a ``ModelMismatchError``, a torn or corrupted slot a ``CorruptSlotError``.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from har_edge.codegen.head import HEADER_BYTES, TRAILER_BYTES, HeadSpec, labels_crc32
from har_edge.errors import InputError
from har_edge.runtime.bundle import BASE_FILE, HEAD_FILE
from har_edge.runtime.checkpoint import Checkpoint
from har_edge.runtime.head import HeadWeights
from har_edge.runtime.model_checks import MAX_ABS_WEIGHT

MAGIC = b"HHCK"
FORMAT_VERSION = 1
SLOT_COUNT = 2
ERASED = 0xFF
_HEADER = struct.Struct("<4sHHIIIIII32s32s")
assert _HEADER.size == HEADER_BYTES


class CheckpointError(InputError):
    """A device checkpoint that must not load."""


class CorruptSlotError(CheckpointError):
    """Empty, torn, corrupted (CRC), of an unknown version, or holding NaN/Inf parameters."""


class ShapeMismatchError(CheckpointError):
    """The checkpoint's head has other shapes (F, H, C) than the firmware's."""


class ModelMismatchError(CheckpointError):
    """The checkpoint belongs to another base model, head export or label set (``field`` says which)."""

    def __init__(self, source: str, field: str, found: str, expected: str) -> None:
        self.field = field
        super().__init__(f"{source}: checkpoint of another {field} ({found}); this firmware has {expected}")


@dataclass(frozen=True)
class SlotIdentity:
    """What a slot must match to load: SHA-256 (hex) of base.tflite and head.tflite, CRC-32 of the labels."""

    base_sha256: str
    head_sha256: str
    labels_crc32: int

    @classmethod
    def of(cls, spec: HeadSpec) -> SlotIdentity:
        return cls(spec.base_sha256, spec.head_sha256, labels_crc32(spec.labels))


@dataclass(frozen=True, eq=False)
class Slot:
    """One decoded, CRC-verified slot."""

    sequence: int
    weights: HeadWeights
    identity: SlotIdentity

    def to_bytes(self) -> bytes:
        """Header + payload + CRC trailer (no padding)."""
        w = self.weights
        payload = np.concatenate([a.ravel() for layer in w.layers for a in layer]).astype("<f4").tobytes()
        header = _HEADER.pack(
            MAGIC,
            FORMAT_VERSION,
            HEADER_BYTES,
            self.sequence % 2**32,
            w.n_features,
            w.hidden or 0,
            w.n_classes,
            len(payload),
            self.identity.labels_crc32,
            bytes.fromhex(self.identity.base_sha256),
            bytes.fromhex(self.identity.head_sha256),
        )
        body = header + payload
        return body + struct.pack("<I", zlib.crc32(body))

    @classmethod
    def from_bytes(cls, data: bytes, source: str) -> Slot:
        """Decode and verify one slot's bytes (padding after the trailer is ignored)."""
        if len(data) < HEADER_BYTES or data[:4] != MAGIC:
            raise CorruptSlotError(f"{source}: no checkpoint (erased, never written or overwritten)")
        (_, version, header_bytes, sequence, f, h, c, payload_bytes, labels, base, head) = (
            _HEADER.unpack_from(data)
        )
        if version != FORMAT_VERSION or header_bytes != HEADER_BYTES:
            raise CorruptSlotError(
                f"{source}: format version {version}, header {header_bytes} bytes; expected "
                f"version {FORMAT_VERSION}, {HEADER_BYTES} bytes"
            )
        if f < 1 or c < 1:
            raise CorruptSlotError(f"{source}: head of (F, H, C) = {(f, h, c)}; F and C must be >= 1")
        widths = [f, c] if h == 0 else [f, h, c]
        n_parameters = sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=True))
        end = HEADER_BYTES + payload_bytes
        if payload_bytes != 4 * n_parameters or len(data) < end + TRAILER_BYTES:
            raise CorruptSlotError(
                f"{source}: payload of {payload_bytes} bytes does not fit shapes {widths} "
                f"or the {len(data)}-byte slot"
            )
        (crc,) = struct.unpack_from("<I", data, end)
        if zlib.crc32(data[:end]) != crc:
            raise CorruptSlotError(f"{source}: CRC-32 mismatch (a torn write or corrupted storage)")
        flat = np.frombuffer(data, "<f4", count=n_parameters, offset=HEADER_BYTES)
        if not np.isfinite(flat).all() or (flat.size and np.abs(flat).max() > MAX_ABS_WEIGHT):
            raise CorruptSlotError(f"{source}: NaN, infinite or absurd (|w| > {MAX_ABS_WEIGHT:g}) parameters")
        return cls(sequence, _weights(widths, flat), SlotIdentity(base.hex(), head.hex(), labels))

    def check_matches(self, spec: HeadSpec, source: str) -> None:
        """``ShapeMismatchError`` / ``ModelMismatchError`` unless ``spec``'s firmware would load this slot."""
        got, want = self.weights, spec.weights
        shapes = [(x.n_features, x.hidden or 0, x.n_classes) for x in (got, want)]
        if shapes[0] != shapes[1]:
            raise ShapeMismatchError(
                f"{source}: head of (F, H, C) = {shapes[0]}; this firmware has {shapes[1]}"
            )
        expected = SlotIdentity.of(spec)
        for field, name in (
            ("base_sha256", "base model"),
            ("head_sha256", "head export"),
            ("labels_crc32", "label set"),
        ):
            found, wanted = getattr(self.identity, field), getattr(expected, field)
            if found != wanted:
                raise ModelMismatchError(source, name, str(found), str(wanted))


def _weights(widths: list[int], flat: np.ndarray) -> HeadWeights:
    layers, offset = [], 0
    for fan_in, fan_out in zip(widths[:-1], widths[1:], strict=True):
        w = flat[offset : offset + fan_in * fan_out].reshape(fan_in, fan_out)
        offset += fan_in * fan_out
        layers.append((w.astype(np.float32), flat[offset : offset + fan_out].astype(np.float32)))
        offset += fan_out
    return HeadWeights(tuple(layers))


def _newer(a: int, b: int) -> bool:
    return 0 < (a - b) % 2**32 < 2**31


class SlotStorage:
    """The two-slot storage image of a device (``slot_bytes`` per slot, erased = 0xFF)."""

    def __init__(self, data: bytes, slot_bytes: int, source: str = "storage") -> None:
        if len(data) != SLOT_COUNT * slot_bytes:
            raise CorruptSlotError(
                f"{source}: {len(data)} bytes; two slots of {slot_bytes} need {2 * slot_bytes}"
            )
        self.data, self.slot_bytes, self.source = bytes(data), slot_bytes, source

    @classmethod
    def erased(cls, slot_bytes: int) -> SlotStorage:
        return cls(bytes([ERASED]) * (SLOT_COUNT * slot_bytes), slot_bytes)

    def slot(self, index: int) -> Slot:
        """Slot ``index`` decoded, or ``CorruptSlotError``."""
        start = index * self.slot_bytes
        return Slot.from_bytes(self.data[start : start + self.slot_bytes], f"{self.source} slot {index}")

    def slots(self) -> list[Slot | CheckpointError]:
        decoded = []
        for index in range(SLOT_COUNT):
            try:
                decoded.append(self.slot(index))
            except CheckpointError as exc:
                decoded.append(exc)
        return decoded

    def newest(self, spec: HeadSpec | None = None) -> tuple[int, Slot]:
        """(index, slot) of the newest valid slot (with ``spec``: the newest that ``spec``'s firmware
        would load, as the C loader picks it); ``CorruptSlotError`` if none."""
        best, problems = None, []
        for index, slot in enumerate(self.slots()):
            if isinstance(slot, Slot) and spec is not None:
                try:
                    slot.check_matches(spec, f"{self.source} slot {index}")
                except CheckpointError as exc:
                    slot = exc
            if not isinstance(slot, Slot):
                problems.append(slot)
            elif best is None or _newer(slot.sequence, best[1].sequence):
                best = (index, slot)
        if best is None:
            mismatch = [p for p in problems if isinstance(p, ShapeMismatchError | ModelMismatchError)]
            if mismatch:  # a checkpoint is there, but of another head or model
                raise mismatch[0]
            problems = "; ".join(map(str, problems))
            raise CorruptSlotError(f"{self.source}: no valid checkpoint slot ({problems})")
        return best

    def saved(self, weights: HeadWeights, identity: SlotIdentity) -> SlotStorage:
        """A copy with ``weights`` written into the inactive slot with the next sequence number."""
        try:
            index, newest = self.newest()
            target, sequence = 1 - index, newest.sequence + 1
        except CorruptSlotError:
            target, sequence = 0, 1
        encoded = Slot(sequence % 2**32, weights, identity).to_bytes()
        if len(encoded) > self.slot_bytes:
            raise ShapeMismatchError(
                f"{self.source}: a {len(encoded)}-byte checkpoint exceeds the {self.slot_bytes}-byte slot"
            )
        padded = encoded + bytes([ERASED]) * (self.slot_bytes - len(encoded))
        start = target * self.slot_bytes
        return SlotStorage(
            self.data[:start] + padded + self.data[start + self.slot_bytes :], self.slot_bytes, self.source
        )


def host_checkpoint(storage: bytes, spec: HeadSpec, source: str = "device storage") -> Checkpoint:
    """The newest valid slot of a device's storage as the host ``Personalizer``'s ``Checkpoint``
    (``Personalizer.restore`` then checks it against its own bundle and labels)."""
    _, slot = SlotStorage(storage, spec.slot_bytes, source).newest(spec)
    return Checkpoint(spec.labels, slot.weights, {BASE_FILE: spec.base_sha256, HEAD_FILE: spec.head_sha256})


def device_storage(checkpoint: Checkpoint, spec: HeadSpec, source: str = "host checkpoint") -> bytes:
    """A two-slot storage image for ``spec``'s firmware holding ``checkpoint`` (slot 0, sequence 1)."""
    identity = SlotIdentity(
        checkpoint.bundle.get(BASE_FILE, ""),
        checkpoint.bundle.get(HEAD_FILE, ""),
        labels_crc32(checkpoint.labels),
    )
    slot = Slot(1, checkpoint.weights, identity)
    slot.check_matches(spec, source)
    return SlotStorage.erased(spec.slot_bytes).saved(checkpoint.weights, identity).data
