"""The peer engine of ``firmware_vs_tflm.py``: TensorFlow Lite for Microcontrollers (+ CMSIS-NN) built
for the same emulated mps2-an386 by the tree in ``../shared/peers/tflm-cmsis-nn.tar.xz`` (its README
says how it counts). This module unpacks the tree into a cache folder keyed by the archive's SHA-256
(so its ~12-minute library build is reused by every later run), builds a model with its Makefile and
measures the image with the tree's own ``tools/peer_measure.py`` (run, never copied).

Flash of TFLM = the image's flash minus the baseline image's (``make baseline``: the same board and
harness, no engine, no model): model flatbuffer + TFLM + CMSIS-NN + the port. RAM of TFLM =
``arena_used_bytes()`` + the engine's statics (the image's data + bss minus the baseline's, minus the
static arena buffer of ``ARENA_SIZE`` whose used part is the first term) + one inference's stack.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

from har_edge.errors import InputError
from har_edge.fsutil import atomic_directory

TREE_NAME = "tflm-cmsis-nn"
KERNELS = ("cmsis_nn", "reference")
ARENA_SIZE = 262144  # the tree's default static arena
LIB_MARKER = "lib-{kernels}-logs{logs}"
_PROFILE_LINE = re.compile(r"^(?P<tag>\S+)\s+took\s+(?P<ticks>\d+)\s+ticks")


def archive_key(archive: Path) -> str:
    """The first 12 hex digits of the archive's SHA-256: the cache folder's name."""
    digest = hashlib.sha256()
    with open(archive, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def default_cache() -> Path:
    """``$XDG_CACHE_HOME/har_edge/peer`` (default ``~/.cache``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "har_edge" / "peer"


def unpacked_tree(archive: Path, cache: Path) -> Path:
    """The tree of ``archive`` under ``cache/<sha12>/``, unpacked once (atomically: a half-unpacked
    folder is never taken for a complete one). A member that would land outside the folder (absolute
    path, ``..``, links) is refused by tarfile's ``data`` filter: ``InputError``."""
    if not archive.is_file():
        raise InputError(f"{archive}: no such peer archive (expected {TREE_NAME}.tar.xz)")
    target = cache / archive_key(archive)
    if not (target / TREE_NAME / "Makefile").is_file():
        try:
            with atomic_directory(target, overwrite=True) as staging, tarfile.open(archive, "r:xz") as tar:
                tar.extractall(staging, filter="data")
        except (tarfile.TarError, OSError) as error:
            raise InputError(f"{archive}: not a readable {TREE_NAME} archive ({error})") from error
        if not (target / TREE_NAME / "Makefile").is_file():
            raise InputError(f"{archive}: has no {TREE_NAME}/Makefile")
    return target / TREE_NAME


def library_built(tree: Path, kernels: str, profile: bool = False) -> bool:
    """Whether the model-independent library of ``kernels`` is already compiled in ``tree`` (a
    ``make lib`` that would compile nothing)."""
    logs = 1 if profile else 0
    if not (tree / "build" / LIB_MARKER.format(kernels=kernels, logs=logs)).is_dir():
        return False
    done = subprocess.run(
        ["make", "-q", "lib", f"KERNELS={kernels}", f"PROFILE={int(profile)}"],
        cwd=tree,
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def _make(tree: Path, args: list[str], timeout_s: float) -> None:
    jobs = f"-j{os.cpu_count() or 1}"
    done = subprocess.run(
        ["make", jobs, *args], cwd=tree, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"make {' '.join(args)} failed in {tree}:\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
        )


def build(tree: Path, model: Path, name: str, kernels: str, *, profile: bool = False, timeout_s=7200) -> Path:
    """Build ``model`` with ``kernels`` (the library too, the first time): the image's path."""
    args = [f"MODEL={model.resolve()}", f"NAME={name}", f"KERNELS={kernels}", f"PROFILE={int(profile)}"]
    _make(tree, args, timeout_s)
    return tree / "build" / f"{name}-{kernels}{'-profile' if profile else ''}" / "app.elf"


def baseline(tree: Path) -> Path:
    _make(tree, ["baseline"], 600)
    return tree / "build" / "baseline" / "app.elf"


def measure(tree: Path, elf: Path, inputs: Path, base: Path, outputs: Path, timeout_s=1800) -> dict:
    """The tree's ``peer_measure.py`` figures for ``elf`` over ``inputs`` (outputs written to ``outputs``)."""
    command = [sys.executable, str(tree / "tools" / "peer_measure.py"), str(elf), str(inputs)]
    command += ["--baseline", str(base), "--out", str(outputs)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"peer_measure {elf}: {done.stdout[-1500:]}{done.stderr[-1500:]}")
    return json.loads(done.stdout)


def figures(measured: dict) -> dict:
    """The comparison's figures of one TFLM image (see the module docstring for what is counted)."""
    engine_static = measured["static_ram_minus_baseline"] - ARENA_SIZE
    return {
        "instructions_per_inference": measured["instructions_median_after_first"],
        "instructions_first": measured["instructions_first"],
        "flash_bytes": measured["flash_minus_baseline"],
        "flash_by_origin": measured["flash_by_origin"],
        "arena_used_bytes": measured["arena_used_bytes"],
        "static_ram_bytes": engine_static,
        "inference_stack_bytes": measured["inference_stack_bytes"],
        "ram_bytes": measured["arena_used_bytes"] + engine_static + measured["inference_stack_bytes"],
    }


def profile_rows(lines: list[str]) -> list[dict]:
    """TFLM's MicroProfiler log (``<tag> took <ticks> ticks``, ticks = the board's instruction count)
    as ``{"op", "instructions"}`` rows, in order."""
    rows = []
    for line in lines:
        m = _PROFILE_LINE.match(line.strip())
        if m:
            rows.append({"op": m.group("tag"), "instructions": int(m.group("ticks"))})
    return rows
