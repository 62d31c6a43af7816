"""Run a model once in a child process, so a model that crashes the interpreter cannot take down the caller.

``probe_model(data, source)`` verifies the flatbuffer (``har_edge.tflite_verify``), then starts
``python -m har_edge.runtime.probe`` with the model on stdin. The child loads it, runs the primary
subgraph at batch 1 and every signature once on zeros (dynamic dimensions set to 1), and prints the
tensor shapes of the primary subgraph as JSON. A crash (signal), a hang (``timeout``) or an error in
the child is an ``InputError`` naming ``source``. Results are remembered per sha256 for the life of
the process, so a model is probed once however many ``Classifier``s load it.

Caveat: a model that runs on zeros may still crash on other values; the probe rules out what the
structure and one run can show, which covers corrupt files, not every hostile one.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from har_edge.errors import InputError
from har_edge.tflite_verify import verify_tflite

PROBE_TIMEOUT_S = 60.0
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_results: dict[str, dict[int, tuple[int, ...]] | str] = {}
_lock = threading.Lock()


def probe_model(data: bytes, source: str, *, timeout: float = PROBE_TIMEOUT_S) -> dict[int, tuple[int, ...]]:
    """The primary subgraph's tensor shapes after one batch-1 run, or an ``InputError`` naming ``source``."""
    return probe_models([(data, source)], timeout=timeout)[0]


def probe_models(
    models: list[tuple[bytes, str]], *, timeout: float = PROBE_TIMEOUT_S
) -> list[dict[int, tuple[int, ...]]]:
    """``probe_model`` of several ``(data, source)`` at once, their children running in parallel."""
    keys = [hashlib.sha256(data).hexdigest() for data, _ in models]
    with _lock:
        pending = {key: data for key, (data, _) in zip(keys, models, strict=True) if key not in _results}
    for key, (data, source) in zip(keys, models, strict=True):
        if key in pending:
            verify_tflite(data, source)
    children = {key: _start_child(data) for key, data in pending.items()}
    for key, child in children.items():
        verdict = _verdict(child.finish(timeout), timeout)
        with _lock:
            _results[key] = verdict
    answers = []
    for key, (_, source) in zip(keys, models, strict=True):
        verdict = _results[key]
        if isinstance(verdict, str):
            raise InputError(f"{source}: {verdict}")
        answers.append(verdict)
    return answers


class _ExecChild:
    """``python -m har_edge.runtime.probe`` with the model on stdin."""

    def __init__(self, data: bytes) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        command = [sys.executable, "-m", "har_edge.runtime.probe"]
        pipe = subprocess.PIPE
        self._data = data
        self._process = subprocess.Popen(command, stdin=pipe, stdout=pipe, stderr=pipe, env=env)

    def finish(self, timeout: float) -> tuple[int, bytes] | None:
        """(return code, stdout), or None after killing a child that ran out of time."""
        try:
            stdout, _ = self._process.communicate(self._data, timeout=timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.communicate()
            return None
        return self._process.returncode, stdout


class _ForkedChild:
    """A fork of this process running ``_run_once``: no interpreter start-up, but only safe in a
    single-threaded process (the fuzz harness sets ``START_METHOD = "fork"``)."""

    def __init__(self, data: bytes) -> None:
        read_end, write_end = os.pipe()
        self._pid = os.fork()
        if self._pid == 0:  # pragma: no cover - runs in the child
            os.close(read_end)
            os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
            os.write(write_end, _answer(data).encode())
            os._exit(0)
        os.close(write_end)
        self._read_end = read_end

    def finish(self, timeout: float) -> tuple[int, bytes] | None:
        deadline = time.monotonic() + timeout
        chunks = []
        with os.fdopen(self._read_end, "rb") as pipe:
            while select.select([pipe], [], [], max(deadline - time.monotonic(), 0))[0]:
                chunk = pipe.read1(1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
        if time.monotonic() >= deadline:
            os.kill(self._pid, signal.SIGKILL)
            os.waitpid(self._pid, 0)
            return None
        _, status = os.waitpid(self._pid, 0)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        return code, b"".join(chunks)


START_METHOD = "exec"  # or "fork" (see _ForkedChild)


def _start_child(data: bytes) -> _ExecChild | _ForkedChild:
    return _ForkedChild(data) if START_METHOD == "fork" else _ExecChild(data)


def _verdict(finished: tuple[int, bytes] | None, timeout: float) -> dict[int, tuple[int, ...]] | str:
    if finished is None:
        return f"the TFLite interpreter did not finish one run of the model within {timeout:.0f} s"
    code, stdout = finished
    if code < 0:
        name = signal.Signals(-code).name
        return f"the model crashed the TFLite interpreter ({name}) in a test run: corrupt or hostile file"
    try:
        answer = json.loads(stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        return f"the model test run failed (exit {code}, no answer)"
    if answer.get("error"):
        return f"not a runnable TFLite model ({answer['error']})"
    return {int(index): tuple(shape) for index, shape in answer["shapes"].items()}


def _zeros_for(detail: dict) -> np.ndarray:
    shape = [max(int(d), 1) for d in detail.get("shape_signature", detail["shape"])]
    return np.zeros(shape, detail["dtype"])


def _run_once(data: bytes) -> dict[str, list[int]]:
    """In the child: load, run the primary subgraph at batch 1 and each signature on zeros."""
    from har_edge.runtime.interpreter import load_interpreter

    interpreter = load_interpreter(data, verified=True)
    inputs = interpreter.get_input_details()
    if len(inputs) == 1 and len(inputs[0]["shape"]):
        interpreter.resize_tensor_input(inputs[0]["index"], [1, *inputs[0]["shape"][1:]])
    interpreter.allocate_tensors()
    if len(inputs) == 1:
        interpreter.set_tensor(inputs[0]["index"], _zeros_for(interpreter.get_input_details()[0]))
        interpreter.invoke()
    shapes = {str(t["index"]): [int(d) for d in t["shape"]] for t in interpreter.get_tensor_details()}
    for key in interpreter.get_signature_list():
        runner = load_interpreter(data, verified=True).get_signature_runner(key)
        runner(**{name: _zeros_for(detail) for name, detail in runner.get_input_details().items()})
    return shapes


def _answer(data: bytes) -> str:
    try:
        answer = {"shapes": _run_once(data)}
    except Exception as exc:  # noqa: BLE001 - any failure of the model is the answer
        answer = {"error": f"{type(exc).__name__}: {exc}".replace("\n", " ")[:500]}
    return json.dumps(answer)


def _child_main() -> int:
    print(_answer(sys.stdin.buffer.read()))
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
