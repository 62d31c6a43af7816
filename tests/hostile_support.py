"""Helpers of the hostile-input tests: golden-bundle copies an attacker controls entirely (files and
their manifest hashes), and running a reproduction in a child process so a crash fails the test
instead of killing pytest."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden" / "dense_int8"
REPO = Path(__file__).resolve().parents[1]


def golden_copy(tmp_path: Path, name: str = "bundle") -> Path:
    bundle = tmp_path / name
    shutil.copytree(GOLDEN, bundle, ignore=shutil.ignore_patterns("expected.npz"))
    return bundle


def manifest_of(bundle: Path) -> dict:
    return json.loads((bundle / "manifest.json").read_text())


def write_manifest(bundle: Path, manifest: dict | bytes) -> None:
    raw = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
    (bundle / "manifest.json").write_bytes(raw)


def replace_file(bundle: Path, name: str, data: bytes) -> None:
    """Write ``data`` as ``name`` and make the manifest's sha256 and size agree with it."""
    (bundle / name).write_bytes(data)
    manifest = manifest_of(bundle)
    manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "size_bytes": len(data)}
    write_manifest(bundle, manifest)


def patched(data: bytes, edits: dict[int, int]) -> bytes:
    changed = bytearray(data)
    for offset, value in edits.items():
        changed[offset] = value
    return bytes(changed)


def run_isolated(code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter with this checkout first on the path."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
