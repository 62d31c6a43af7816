"""TFLM's host interpreter as an ``McuRunner``: a child process per model (``tflm_child``) finds the
smallest arena and runs the windows; a crash or a timeout becomes ``McuRun.error``, never an exception.
``McuRun`` / ``McuRunner`` are the seam every microcontroller runner implements (the firmware runner is
the other one)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

import har_edge
from har_edge.targets import tflm_child

LOG_LINES = 3  # of TFLM's diagnostics quoted in an error
CRASH_RETRIES = 6
_RECORDED_ARENA = re.compile(r"Arena allocation total (\d+) bytes")
_SEARCH_ATTEMPT = re.compile(r"trying (\d+) B")


@dataclass(frozen=True, eq=False)
class McuRun:
    """One model run on a microcontroller runtime. ``outputs``: dequantized, one row per input window;
    ``output_scale``: the output's quantization step (None for a float output). When the model could not
    run, ``error`` says why and ``arena_bytes``/``outputs`` are None. ``log``: the runtime's own
    diagnostics for the last attempt. ``details``: runner-specific figures (e.g. the arena search)."""

    arena_bytes: int | None
    outputs: np.ndarray | None
    output_scale: float | None = None
    error: str | None = None
    log: str = ""
    details: dict[str, Any] = field(default_factory=dict)


class McuRunner(Protocol):
    """Runs an int8 batch-1 model on (a stand-in for) a microcontroller. Never raises for a model it
    cannot run: that is an ``McuRun`` with ``error`` set."""

    def run(self, model_bytes: bytes, inputs: np.ndarray) -> McuRun: ...


class TflmHostRunner:
    """TFLM's host interpreter (``tflite_micro``) in a child process, one per model: finds the smallest
    working arena and runs ``inputs`` (see ``tflm_child``). A crash (a signal such as SIGSEGV), a
    timeout or a child that wrote no result becomes ``McuRun.error``. A crash while the child tries a
    small arena (TFLM segfaults after some failed allocations instead of reporting them) is taken as
    that size failing: a new child searches above it, up to ``CRASH_RETRIES`` times.

    The child imports the same ``har_edge`` as this process (its folder is put first on PYTHONPATH)."""

    def __init__(
        self, *, timeout_s: float = 120.0, arena_max_bytes: int = tflm_child.DEFAULT_ARENA_MAX
    ) -> None:
        self.timeout_s = timeout_s
        self.arena_max_bytes = arena_max_bytes

    def run(self, model_bytes: bytes, inputs: np.ndarray) -> McuRun:
        with tempfile.TemporaryDirectory(prefix="har-edge-tflm-") as tmp:
            folder = Path(tmp)
            (folder / "model.tflite").write_bytes(model_bytes)
            np.save(folder / "inputs.npy", np.asarray(inputs, dtype=np.float32))
            crashed: list[int] = []
            while True:
                outcome = self._child(folder, crashed[-1] if crashed else 0)
                if not isinstance(outcome, int) or len(crashed) == CRASH_RETRIES:
                    break
                crashed.append(outcome)  # TFLM crashed on a too-small arena: search above it
        if isinstance(outcome, int):
            return _failed(f"TFLM crashed on {len(crashed)} arena sizes up to {outcome:,} B", "")
        if outcome.error is None and crashed:
            return replace(outcome, details={**outcome.details, "tflm_crashed_on_arena_bytes": crashed})
        return outcome

    def _child(self, folder: Path, arena_failed: int) -> McuRun | int:
        """One child run; the arena size it was trying when it crashed during the search, as an int."""
        result = folder / "result.json"
        command = [sys.executable, "-m", tflm_child.__name__, str(folder / "model.tflite")]
        command += [str(folder / "inputs.npy"), str(result), "--arena-max", str(self.arena_max_bytes)]
        command += ["--arena-failed", str(arena_failed)]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=self.timeout_s, env=_child_environment()
            )
        except subprocess.TimeoutExpired as exc:
            attempt, log = _last_attempt(exc.stderr)
            return _failed(f"TFLM did not finish within {self.timeout_s:g} s (while {attempt})", log)
        attempt, log = _last_attempt(done.stderr)
        if done.returncode < 0:
            searching = _SEARCH_ATTEMPT.fullmatch(attempt)
            if searching and int(searching.group(1)) > arena_failed:
                return int(searching.group(1))
            return _failed(f"TFLM crashed with {_signal_name(-done.returncode)} while {attempt}", log)
        if not result.exists():
            last_line = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return McuRun(
                None, None, error=f"the TFLM child failed (exit code {done.returncode}): {last_line}", log=log
            )
        outcome = json.loads(result.read_text())
        if outcome["error"]:
            return _failed(outcome["error"], log)
        quantization = outcome["output_quantization"]
        recorded = _RECORDED_ARENA.search(log)
        return McuRun(
            arena_bytes=outcome["arena_bytes"],
            outputs=np.asarray(outcome["outputs"], dtype=np.float32),
            output_scale=quantization["scale"] if quantization else None,
            log=log,
            details={
                "arena_search": outcome["arena_search"],
                "tflm_recorded_arena_bytes": int(recorded.group(1)) if recorded else None,
            },
        )


def _child_environment() -> dict[str, str]:
    package_root = str(Path(har_edge.__file__).resolve().parents[1])
    paths = [package_root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _last_attempt(stderr: str | bytes | None) -> tuple[str, str]:
    """What the child was doing last (its last ``MARKER`` line) and TFLM's diagnostics after it."""
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr or ""
    _, marker, after = text.rpartition(tflm_child.MARKER)
    if not marker:
        return "starting", text.strip()
    attempt, _, log = after.partition("\n")
    return attempt.strip(), log.strip()


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _failed(error: str, log: str) -> McuRun:
    """An ``McuRun`` for a model that did not run; the error quotes TFLM's first diagnostics."""
    quoted = [line.strip() for line in log.splitlines() if line.strip()][:LOG_LINES]
    return McuRun(None, None, error=error + (f" [TFLM: {' / '.join(quoted)}]" if quoted else ""), log=log)
