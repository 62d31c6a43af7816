"""The bundle format, read side (numpy + stdlib only): a folder with ``base.tflite``, ``head.tflite``,
optionally ``base_mcu.tflite``, and ``manifest.json``.

``open_bundle`` checks the manifest's schema version, every listed file's size and sha256, and the
shapes it declares, before any byte reaches an interpreter.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from stat import S_ISREG
from typing import Any

from har_edge.errors import InputError
from har_edge.runtime.schemas import MAX_MANIFEST_BYTES, parse_manifest

MANIFEST_FILE = "manifest.json"
MANIFEST_SCHEMA_VERSION = 1
BASE_FILE, HEAD_FILE, MCU_BASE_FILE = "base.tflite", "head.tflite", "base_mcu.tflite"


@dataclass(frozen=True)
class Quantization:
    """Affine int8 parameters: real = (q - zero_point) * scale."""

    scale: float
    zero_point: int


@dataclass(frozen=True)
class FileEntry:
    sha256: str
    size_bytes: int


@dataclass(frozen=True)
class Manifest:
    """What a device needs to turn raw sensor windows into predictions and to personalize the head.

    ``input_layout`` is ``flat`` (window*channels) or ``sequence`` (window, channels).
    ``base_input_quantization``/``base_output_quantization`` are set when the base has int8 I/O.
    ``head_hidden`` is None for a one-layer head.
    """

    class_labels: tuple[str, ...]
    window: int
    hop: int
    rate_hz: float
    channels: tuple[str, ...]
    normalization: dict[str, list[float]]
    input_layout: str
    architecture: str
    split_layer: str
    base_precision: str
    feature_shape: tuple[int, ...]
    base_input_quantization: Quantization | None
    base_output_quantization: Quantization | None
    head_hidden: int | None
    files: dict[str, FileEntry]
    tools: dict[str, str]
    created_utc: str
    optimization: dict[str, Any] = field(default_factory=dict)
    schema_version: int = MANIFEST_SCHEMA_VERSION

    @property
    def n_features(self) -> int:
        n = 1
        for d in self.feature_shape:
            n *= d
        return n

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, raw: bytes | str, source: str) -> Manifest:
        """Parse and validate (``har_edge.runtime.manifest_schema``); any violation is an ``InputError``."""
        data = parse_manifest(raw.encode() if isinstance(raw, str) else raw, source, MANIFEST_SCHEMA_VERSION)
        for key in ("class_labels", "channels", "feature_shape"):
            data[key] = tuple(data[key])
        for key in ("base_input_quantization", "base_output_quantization"):
            data[key] = Quantization(**data[key]) if data[key] is not None else None
        data["files"] = {name: FileEntry(**entry) for name, entry in data["files"].items()}
        return cls(**data)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_entry(data: bytes) -> FileEntry:
    return FileEntry(sha256_of(data), len(data))


@dataclass(frozen=True)
class Bundle:
    """A verified bundle: its manifest and the bytes of its files."""

    path: Path
    manifest: Manifest
    files: dict[str, bytes]

    @property
    def base(self) -> bytes:
        return self.files[BASE_FILE]

    @property
    def head(self) -> bytes:
        return self.files[HEAD_FILE]


def open_bundle(path: str | Path) -> Bundle:
    """Read and verify a bundle folder: schema, file names, sizes and hashes, declared shapes.

    Every file is a plain name inside the folder; a name with a folder part, ``..``, or a symlink
    that leads out of the folder, and a file whose size differs from the manifest's, is refused
    before a byte of it is read.
    """
    path = Path(path)
    manifest_path = path / MANIFEST_FILE
    if not manifest_path.is_file():
        raise InputError(f"{path}: not a bundle ({MANIFEST_FILE} missing)")
    raw = _read_inside(path, MANIFEST_FILE, None, limit=MAX_MANIFEST_BYTES)
    manifest = Manifest.from_json(raw, str(manifest_path))
    for required in (BASE_FILE, HEAD_FILE):
        if required not in manifest.files:
            raise InputError(f"{manifest_path}: does not list {required}")
    files = {}
    for name, entry in manifest.files.items():
        data = _read_inside(path, name, entry.size_bytes)
        if sha256_of(data) != entry.sha256:
            raise InputError(f"{path / name}: does not match the manifest's sha256: corrupted or replaced")
        files[name] = data
    _check_declared_shapes(manifest, str(manifest_path))
    return Bundle(path, manifest, files)


def _read_inside(folder: Path, name: str, size: int | None, limit: int | None = None) -> bytes:
    """The bytes of regular file ``name`` in ``folder`` (which it must not leave, even through a
    symlink), checked to be ``size`` bytes (or at most ``limit``) before it is read."""
    file_path = folder / name
    try:
        resolved = file_path.resolve(strict=True)
        inside = resolved.parent == folder.resolve(strict=True)
        stat = resolved.stat()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        raise InputError(f"{folder}: {name} listed in the manifest is missing or unreadable ({exc})") from exc
    if not inside:
        raise InputError(f"{file_path}: leads outside the bundle folder (to {resolved}); refused")
    if not S_ISREG(stat.st_mode):
        raise InputError(f"{file_path}: not a regular file")
    if (size is not None and stat.st_size != size) or (limit is not None and stat.st_size > limit):
        expected = f"{size} bytes as the manifest says" if size is not None else f"at most {limit} bytes"
        raise InputError(f"{file_path}: {stat.st_size} bytes, expected {expected}: corrupted or replaced")
    try:
        data = resolved.read_bytes()
    except OSError as exc:
        raise InputError(f"{file_path}: cannot read ({exc})") from exc
    if size is not None and len(data) != size:
        raise InputError(f"{file_path}: changed while it was read")
    return data


def _check_declared_shapes(manifest: Manifest, source: str) -> None:
    channels = len(manifest.channels)
    if manifest.window < 1 or manifest.hop < 1 or channels < 1:
        raise InputError(f"{source}: window, hop and channels must be positive")
    for key in ("mean", "std"):
        if len(manifest.normalization.get(key, ())) != channels:
            raise InputError(f"{source}: normalization {key!r} needs {channels} values (one per channel)")
    if len(manifest.class_labels) < 2:
        raise InputError(f"{source}: needs at least 2 class labels")
    if manifest.input_layout not in ("flat", "sequence"):
        raise InputError(f"{source}: input_layout {manifest.input_layout!r}, expected 'flat' or 'sequence'")
