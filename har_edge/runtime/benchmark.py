"""Latency of a TFLite model or a bundle on this machine, TF-free: the same code runs on the desktop
target in-process and on a Raspberry Pi through the remote runner (``python -m
har_edge.runtime.benchmark PATH``, which prints JSON).

Method: ``warmup`` untimed calls, then timed single-window calls in rounds of ``ROUND`` until at least
``min_repeats`` calls and ``min_seconds`` have passed (capped at ``max_seconds``); p50/p90 over all
timed calls. Reference models shipped in the package (``Calibration``) are timed the same way, with
the same interpreter and thread count, in rounds interleaved with the model's (``time_calibrated``), so
a CI gate can compare latencies normalized by them across machines of different speed and load.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from importlib import resources
from pathlib import Path

import numpy as np

from har_edge.errors import HarEdgeError, InputError
from har_edge.runtime.interpreter import dequantize, interpreter_backend, load_interpreter, quantize
from har_edge.runtime.probe import probe_model

ROUND = 10  # calls per round; interleaved workloads alternate every round


@dataclass(frozen=True)
class Timing:
    """Per-call wall time in microseconds over ``n`` timed calls."""

    p50_us: float
    p90_us: float
    n: int
    threads: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def time_calls(
    calls: Mapping[str, Callable[[], object]],
    *,
    warmup: int = 20,
    min_repeats: int = 200,
    min_seconds: float = 0.3,
    max_seconds: float = 5.0,
    threads: int | None = None,
) -> dict[str, Timing]:
    """Time several calls in alternating rounds of ``ROUND`` calls each, so that every one of them sees
    the same machine (load, clock, cache); ``min_repeats`` calls of each at least."""
    for call in calls.values():
        for _ in range(warmup):
            call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    started = time.perf_counter()
    while True:
        for name, call in calls.items():
            timed = samples[name]
            for _ in range(ROUND):
                t0 = time.perf_counter_ns()
                call()
                timed.append((time.perf_counter_ns() - t0) / 1e3)
        elapsed = time.perf_counter() - started
        enough = min(len(timed) for timed in samples.values()) >= min_repeats and elapsed >= min_seconds
        if enough or elapsed >= max_seconds:
            break
    timings = {}
    for name, timed in samples.items():
        p50, p90 = np.percentile(timed, [50, 90])
        timings[name] = Timing(float(p50), float(p90), len(timed), threads)
    return timings


def time_call(call: Callable[[], object], **method) -> Timing:
    """Time ``call()`` (see the module docstring for the method)."""
    return time_calls({"call": call}, **method)["call"]


def single_window_call(
    model: bytes | str | Path, window: np.ndarray, *, threads: int = 1
) -> Callable[[], object]:
    """A closure running one window (the model's input shape without batch) through ``model``."""
    interpreter = load_interpreter(model, num_threads=threads)
    (detail,) = interpreter.get_input_details()
    interpreter.resize_tensor_input(detail["index"], [1, *np.shape(window)])
    interpreter.allocate_tensors()
    (detail,), outputs = interpreter.get_input_details(), interpreter.get_output_details()
    x = np.asarray(window, np.float32)[np.newaxis]
    index, out_index = detail["index"], outputs[0]["index"]

    def call():
        interpreter.set_tensor(index, quantize(x, detail))
        interpreter.invoke()
        return dequantize(interpreter.get_tensor(out_index), outputs[0])

    return call


def bundle_call(bundle: str | Path, *, threads: int = 1, seed: int = 0) -> Callable[[], object]:
    """A closure running ``Classifier.predict_proba`` on one raw window: normalize, base, head."""
    from har_edge.runtime.classifier import Classifier

    classifier = Classifier(bundle, num_threads=threads)
    m = classifier.manifest
    window = np.random.default_rng(seed).normal(size=(1, m.window, len(m.channels))).astype(np.float32)
    return lambda: classifier.predict_proba(window)


CALIBRATION_METHOD = "reference-tflite-1"  # names the reference models; a new pair is a new method
REFERENCE_PRECISIONS = ("int8", "float32")
SORT_SIZE = 16_384


@dataclass(frozen=True)
class Calibration:
    """The reference workloads timed in the same run, thread count and method as the model: the
    package's reference models (``reference/calibration_{int8,float32}.tflite``, written by
    ``tools/make_calibration_models.py``) through this interpreter, one window per call.
    ``latency_norm_p50`` divides a model's p50 by the reference of its precision (``for_precision``).

    ``sort_us_p50`` (a numpy sort of 16,384 float32, the calibration of schema 1 reports) is only
    recorded: it moved 10x between two machines of one kind (a SIMD sort path present or not) while
    model latency did not."""

    method: str
    threads: int
    int8_us_p50: float
    float32_us_p50: float
    sort_us_p50: float | None = None

    def for_precision(self, precision: str | None) -> float:
        """The int8 reference for int8 models, the float32 one for float32, float16 and dynamic-range."""
        return self.int8_us_p50 if precision == "int8" else self.float32_us_p50

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> Calibration:
        """From ``to_dict``'s form (a report, a remote device's output); anything else is an
        ``InputError`` saying what was expected."""
        names = [f.name for f in fields(cls)]
        if not isinstance(data, dict) or sorted(data) != sorted(names):
            raise InputError(f"calibration: expected an object with keys {names}, got {data!r}")
        timings = (data["int8_us_p50"], data["float32_us_p50"], data["sort_us_p50"])
        if not (
            isinstance(data["method"], str)
            and type(data["threads"]) is int
            and data["threads"] >= 1
            and all(_positive(value) for value in timings[:2])
            and (timings[2] is None or _positive(timings[2]))
        ):
            raise InputError(
                f"calibration: expected a method name, threads >= 1 and timings > 0, got {data!r}"
            )
        return cls(**data)


def _positive(value: object) -> bool:
    return type(value) in (int, float) and math.isfinite(value) and value > 0


def reference_model(precision: str) -> bytes:
    """The packaged reference model of ``precision`` (int8 or float32)."""
    if precision not in REFERENCE_PRECISIONS:
        raise InputError(f"reference model precision {precision!r}, expected one of {REFERENCE_PRECISIONS}")
    return resources.files(__package__).joinpath("reference", f"calibration_{precision}.tflite").read_bytes()


def time_calibrated(
    call: Callable[[], object], *, threads: int = 1, seed: int = 0, **method
) -> tuple[Timing, Calibration]:
    """``call`` timed in rounds interleaved with the reference workloads (``time_calls``: a burst of
    load hits both), and the ``Calibration`` they give."""
    timings = time_calls({"call": call, **_reference_calls(threads, seed)}, threads=threads, **method)
    return timings["call"], _calibration(timings, threads)


def calibrate(*, threads: int = 1, seed: int = 0, **method) -> Calibration:
    """Time both reference models (``threads``) and the recorded-only numpy sort, interleaved."""
    return _calibration(time_calls(_reference_calls(threads, seed), threads=threads, **method), threads)


def _reference_calls(threads: int, seed: int) -> dict[str, Callable[[], object]]:
    window = np.random.default_rng(seed).normal(size=(200, 3)).astype(np.float32)
    calls = {p: single_window_call(reference_model(p), window, threads=threads) for p in REFERENCE_PRECISIONS}
    values = np.random.default_rng(seed).normal(size=SORT_SIZE).astype(np.float32)
    return {**calls, "sort": lambda: np.sort(values)}


def _calibration(timings: Mapping[str, Timing], threads: int) -> Calibration:
    return Calibration(
        CALIBRATION_METHOD, threads, timings["int8"].p50_us, timings["float32"].p50_us, timings["sort"].p50_us
    )


def machine_info() -> dict:
    """What the figures were measured on."""
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "interpreter": interpreter_backend(),
    }


def main(argv: list[str] | None = None) -> int:
    """Print JSON figures for a .tflite file (random input of its shape) or a bundle folder."""
    parser = argparse.ArgumentParser(
        prog="python -m har_edge.runtime.benchmark",
        description="TF-free latency of a .tflite file or a bundle on this machine (JSON on stdout).",
        epilog="example: python -m har_edge.runtime.benchmark bundle/ --threads 1",
    )
    parser.add_argument("path", type=Path)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--min-seconds", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        if args.path.is_dir():
            call = bundle_call(args.path, threads=args.threads, seed=args.seed)
        else:
            probe_model(args.path.read_bytes(), str(args.path))
            call = single_window_call(args.path, _random_window(args.path, args.seed), threads=args.threads)
        timing, calibration = time_calibrated(
            call, threads=args.threads, seed=args.seed, min_seconds=args.min_seconds
        )
    except (HarEdgeError, OSError) as exc:
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return 2
    print(
        json.dumps(
            {"timing": timing.to_dict(), "calibration": calibration.to_dict(), "machine": machine_info()}
        )
    )
    return 0


def _random_window(path: Path, seed: int) -> np.ndarray:
    interpreter = load_interpreter(path)
    (detail,) = interpreter.get_input_details()
    shape = tuple(int(d) for d in detail["shape"][1:])
    if not shape:
        raise InputError(f"{path}: the model input has no per-window shape ({list(detail['shape'])})")
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


if __name__ == "__main__":
    sys.exit(main())
