"""Run one .tflite in TensorFlow Lite for Microcontrollers' host interpreter (``tflite_micro``), in a
process of its own: TFLM segfaults on some models it does not support, and that must not end the
caller. ``har_edge.targets.mcu.TflmHostRunner`` starts it as

    python -m har_edge.targets.tflm_child MODEL.tflite INPUTS.npy OUT.json [--arena-max BYTES]
        [--arena-failed BYTES]

Steps: load the model with an ``--arena-max`` arena (default 16 MiB) and invoke it once, so an error
there is the model's, not the arena's; find the smallest arena that loads and invokes (doubling from
1 KiB, then bisecting in steps of ``ARENA_GRANULARITY`` bytes: arena N worked and N - 16 failed;
``--arena-failed`` starts the search above a size already known to fail, e.g. one at which TFLM crashed
instead of reporting the failed allocation, as it does for some models); run
every window of INPUTS (float32, ``(n, ...)``, each reshaped to the model's batch-1 input, quantized
with the input's scale and zero point when the model is int8) with that arena; write OUT.json
atomically: ``arena_bytes``, ``arena_search``, ``outputs`` (dequantized), ``output_quantization``
(scale and zero point, or null for a float output) and ``error`` (null, or what went wrong).

TFLM prints its diagnostics (a missing op, a failed allocation, ``print_allocations``) to stderr. Before
each attempt a line starting with ``MARKER`` goes there too, so the caller can tell which attempt the
text after it belongs to, even when the process died.

Caveats: the arena is TFLM's on a 64-bit host with the recording allocator (whose bookkeeping lives in
the arena); on a 32-bit Cortex-M the same model needs a little less. The exit code is 0 whenever
OUT.json was written, whatever it says. Imports numpy and ``tflite_micro`` only, never TensorFlow.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from har_edge.fsutil import atomic_write_text
from har_edge.runtime.interpreter import dequantize, quantize

MARKER = "[tflm_child]"
ARENA_GRANULARITY = 16  # bytes: TFLM aligns its arena and tensor buffers to 16
DEFAULT_ARENA_MAX = 16 * 1024 * 1024
FIRST_GUESS = 1024
TFLM_ERRORS = (RuntimeError, ValueError)  # what tflite_micro raises for a failed load, set_input or invoke


class ModelRunError(Exception):
    """The model cannot be run in TFLM (the message says why); reported in OUT.json, not raised."""


def run(
    model: bytes, windows: np.ndarray, arena_max: int = DEFAULT_ARENA_MAX, arena_failed: int = 0
) -> dict[str, Any]:
    """The smallest working arena, the dequantized outputs of every window, and how the search went.
    ``arena_max`` is rounded up to a multiple of ``ARENA_GRANULARITY``; sizes up to ``arena_failed``
    are not tried."""
    arena_max = -(-arena_max // ARENA_GRANULARITY) * ARENA_GRANULARITY
    try:
        interpreter = _load(model, arena_max, f"trying the largest arena, {arena_max} B")
    except TFLM_ERRORS as exc:
        raise ModelRunError(f"TFLM could not load the model with a {arena_max:,} B arena: {exc}") from exc
    _require_one_input_and_output(interpreter)
    _say("invoking the first window")
    _require_windows_fit(windows, interpreter)
    try:
        _invoke(interpreter, windows[0])
    except TFLM_ERRORS as exc:
        raise ModelRunError(f"TFLM loaded the model but could not invoke it: {exc}") from exc
    arena, search = _smallest_arena(model, windows[0], arena_max, arena_failed)
    interpreter = _load(model, arena, f"running {len(windows)} windows with {arena} B")
    interpreter.print_allocations()
    try:
        outputs = np.stack([_invoke(interpreter, window) for window in windows])
    except TFLM_ERRORS as exc:
        raise ModelRunError(f"TFLM failed on a later window with the {arena:,} B arena: {exc}") from exc
    out_detail = _detail(interpreter.get_output_details(0))
    scale, zero_point = out_detail["quantization"]
    integer_output = np.dtype(out_detail["dtype"]).kind in "iu"
    return {
        "arena_bytes": arena,
        "arena_search": search,
        "outputs": outputs.tolist(),
        "output_quantization": {"scale": scale, "zero_point": zero_point} if integer_output else None,
        "error": None,
    }


def _smallest_arena(
    model: bytes, window: np.ndarray, arena_max: int, arena_failed: int = 0
) -> tuple[int, dict[str, int]]:
    """Doubling from ``FIRST_GUESS`` (or twice ``arena_failed``), then bisection: the smallest multiple
    of ``ARENA_GRANULARITY`` that loads and invokes ``window``, given that ``arena_max`` does, that
    ``arena_failed`` does not (and that a larger arena never fails where a smaller one works)."""
    tries = 1  # arena_max, by the caller
    smallest_working = arena_max
    largest_failing = min(
        arena_failed // ARENA_GRANULARITY * ARENA_GRANULARITY, arena_max - ARENA_GRANULARITY
    )

    def works(arena: int) -> bool:
        nonlocal tries
        tries += 1
        try:
            _invoke(_load(model, arena, f"trying {arena} B"), window)
            return True
        except TFLM_ERRORS:
            return False

    guess = max(FIRST_GUESS, 2 * largest_failing)
    while guess < smallest_working:
        if works(guess):
            smallest_working = guess
            break
        largest_failing, guess = guess, guess * 2
    while smallest_working - largest_failing > ARENA_GRANULARITY:
        middle = (largest_failing + smallest_working) // 2 // ARENA_GRANULARITY * ARENA_GRANULARITY
        if works(middle):
            smallest_working = middle
        else:
            largest_failing = middle
    search = {
        "granularity_bytes": ARENA_GRANULARITY,
        "tries": tries,
        "largest_failing_bytes": largest_failing,
        "arena_max_bytes": arena_max,
    }
    return smallest_working, search


def _load(model: bytes, arena: int, what: str):
    """A TFLM interpreter over ``model`` with an ``arena``-byte arena (creating it allocates tensors)."""
    from tflite_micro import runtime

    _say(what)
    return runtime.Interpreter.from_bytes(model, arena_size=arena)


def _say(what: str) -> None:
    """A ``MARKER`` line on stderr, written to the file descriptor so it lands in order with TFLM's
    (unbuffered) diagnostics."""
    os.write(sys.stderr.fileno(), f"{MARKER} {what}\n".encode())


def _detail(tflm_detail: dict) -> dict[str, Any]:
    """A TFLM tensor detail in the form ``har_edge.runtime.interpreter.quantize`` takes (per-tensor
    scale and zero point; (0.0, 0) for a float tensor)."""
    params = tflm_detail["quantization_parameters"]
    scales, zero_points = params["scales"], params["zero_points"]
    quantization = (float(scales[0]), int(zero_points[0])) if len(scales) else (0.0, 0)
    shape = tuple(int(d) for d in tflm_detail["shape"])
    return {"dtype": tflm_detail["dtype"], "shape": shape, "quantization": quantization}


def _invoke(interpreter, window: np.ndarray) -> np.ndarray:
    """One window in (float, quantized as the input needs), its output dequantized, without the batch."""
    in_detail = _detail(interpreter.get_input_details(0))
    interpreter.set_input(quantize(window.reshape(in_detail["shape"]), in_detail), 0)
    interpreter.invoke()
    output = dequantize(interpreter.get_output(0), _detail(interpreter.get_output_details(0)))[0]
    interpreter.reset()  # an LSTM keeps its state between invokes: each window starts from reset
    return output


def _require_one_input_and_output(interpreter) -> None:
    """Index 0 is the only input and output (an index past the last raises IndexError in TFLM, after
    printing that it is out of range)."""
    for getter, what in (
        (interpreter.get_input_details, "input"),
        (interpreter.get_output_details, "output"),
    ):
        try:
            getter(1)
        except IndexError:
            continue
        raise ModelRunError(
            f"the TFLM runner runs single-input, single-output models; this one has a second {what}"
        )


def _require_windows_fit(windows: np.ndarray, interpreter) -> None:
    shape = _detail(interpreter.get_input_details(0))["shape"]
    if windows.ndim < 2 or len(windows) == 0 or windows[0].size != int(np.prod(shape)):
        raise ModelRunError(
            f"inputs: expected n >= 1 windows of {int(np.prod(shape))} values (model input {list(shape)}), "
            f"got an array of shape {windows.shape}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help=".tflite file (int8, batch 1, for TFLM)")
    parser.add_argument("inputs", type=Path, help=".npy of float32 windows, (n, ...)")
    parser.add_argument("out", type=Path, help="where the JSON result goes (written atomically)")
    parser.add_argument("--arena-max", type=int, default=DEFAULT_ARENA_MAX, help="largest arena tried, bytes")
    parser.add_argument("--arena-failed", type=int, default=0, help="an arena known to fail, bytes")
    args = parser.parse_args(argv)
    windows = np.load(args.inputs).astype(np.float32, copy=False)
    try:
        result = run(args.model.read_bytes(), windows, args.arena_max, args.arena_failed)
    except ModelRunError as exc:
        result = {"arena_bytes": None, "outputs": None, "error": str(exc)}
    atomic_write_text(args.out, json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
