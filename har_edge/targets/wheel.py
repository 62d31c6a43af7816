"""A wheel of the installed ``har_edge`` package for a device: pure Python, ``Requires-Dist: numpy``.

Built straight from the package's files (editable or regular install alike): no network, no build
backend, so it works offline and in a fraction of a second. Its bytes are deterministic (fixed zip
timestamps and permissions, sorted entries), so its sha256 can key a cache on the device.

Caveats: the wheel carries every file under the package folder except ``__pycache__``, byte code and
hidden files, so in an editable install stray files in the source tree ship too. It declares
``numpy`` only: the device installs its TFLite interpreter (``ai-edge-litert`` or ``tflite-runtime``)
separately. ``Requires-Python`` is ``>=3.11`` (the runtime's floor), not the project's training pin.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import zipfile
from io import BytesIO
from pathlib import Path

from har_edge.fsutil import atomic_write_bytes

DISTRIBUTION = "har-edge"
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
REQUIRES_PYTHON = ">=3.11"
REQUIRES_DIST = ("numpy",)
WHEEL_TAG = "py3-none-any"
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can store
FILE_MODE = 0o644
EXCLUDED_SUFFIXES = (".pyc", ".pyo")


def build_runtime_wheel(dest_dir: str | Path) -> Path:
    """Write ``har_edge-<version>-py3-none-any.whl`` into ``dest_dir`` (replacing one of that name)."""
    distribution = importlib.metadata.distribution(DISTRIBUTION)
    version = distribution.version
    stem = f"{_wheel_name_part(DISTRIBUTION)}-{_wheel_name_part(version)}"
    dist_info = f"{stem}.dist-info"
    entries = [
        (path.relative_to(PACKAGE_ROOT.parent).as_posix(), path.read_bytes()) for path in _package_files()
    ]
    entries += [
        (f"{dist_info}/METADATA", _metadata(version, distribution.metadata.get("Summary", "")).encode()),
        (f"{dist_info}/WHEEL", _wheel_file().encode()),
    ]
    entry_points = distribution.read_text("entry_points.txt")
    if entry_points:
        entries.append((f"{dist_info}/entry_points.txt", entry_points.encode()))
    record_name = f"{dist_info}/RECORD"
    entries.append((record_name, _record(entries, record_name).encode()))
    wheel = Path(dest_dir) / f"{stem}-{WHEEL_TAG}.whl"
    atomic_write_bytes(wheel, _zip_bytes(entries))
    return wheel


def _package_files() -> list[Path]:
    def shipped(path: Path) -> bool:
        parts = path.relative_to(PACKAGE_ROOT).parts
        hidden_or_cache = any(part == "__pycache__" or part.startswith(".") for part in parts)
        return path.is_file() and not hidden_or_cache and path.suffix not in EXCLUDED_SUFFIXES

    return sorted((path for path in PACKAGE_ROOT.rglob("*") if shipped(path)), key=lambda p: p.as_posix())


def _wheel_name_part(text: str) -> str:
    """A name or version as the wheel file name spells it (PEP 427: ``-`` becomes ``_``)."""
    return text.replace("-", "_")


def _metadata(version: str, summary: str) -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {DISTRIBUTION}",
        f"Version: {version}",
        f"Summary: {summary}",
        f"Requires-Python: {REQUIRES_PYTHON}",
        *(f"Requires-Dist: {requirement}" for requirement in REQUIRES_DIST),
    ]
    return "\n".join(lines) + "\n"


def _wheel_file() -> str:
    return f"Wheel-Version: 1.0\nGenerator: har_edge.targets.wheel\nRoot-Is-Purelib: true\nTag: {WHEEL_TAG}\n"


def _record(entries: list[tuple[str, bytes]], record_name: str) -> str:
    """RECORD (PEP 376/427): ``path,sha256=<urlsafe base64 without padding>,size``; RECORD itself unhashed."""
    lines = []
    for name, data in entries:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{name},sha256={digest},{len(data)}")
    lines.append(f"{record_name},,")
    return "\n".join(lines) + "\n"


def _zip_bytes(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            info.external_attr = (0o100000 | FILE_MODE) << 16  # a regular file, rw-r--r--
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()
