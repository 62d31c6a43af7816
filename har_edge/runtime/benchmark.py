"""Latency of a TFLite model or a bundle on this machine, TF-free: the same code runs on the desktop
target in-process and on a Raspberry Pi through the remote runner (``python -m
har_edge.runtime.benchmark PATH``, which prints JSON).

Method: ``warmup`` untimed calls, then timed single-window calls in rounds until at least
``min_repeats`` calls and ``min_seconds`` have passed (capped at ``max_seconds``); p50/p90 over all
timed calls. A calibration workload (a fixed numpy sort, single-threaded) is timed the same
way so a CI gate can compare latencies normalized by it across machines of different speed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from har_edge.errors import HarEdgeError, InputError
from har_edge.runtime.interpreter import dequantize, interpreter_backend, load_interpreter, quantize
from har_edge.runtime.probe import probe_model


@dataclass(frozen=True)
class Timing:
    """Per-call wall time in microseconds over ``n`` timed calls."""

    p50_us: float
    p90_us: float
    n: int
    threads: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def time_call(
    call: Callable[[], object],
    *,
    warmup: int = 20,
    min_repeats: int = 200,
    min_seconds: float = 0.3,
    max_seconds: float = 5.0,
    threads: int | None = None,
) -> Timing:
    """Time ``call()`` (see the module docstring for the method)."""
    for _ in range(warmup):
        call()
    samples: list[float] = []
    started = time.perf_counter()
    while True:
        for _ in range(50):
            t0 = time.perf_counter_ns()
            call()
            samples.append((time.perf_counter_ns() - t0) / 1e3)
        elapsed = time.perf_counter() - started
        if (len(samples) >= min_repeats and elapsed >= min_seconds) or elapsed >= max_seconds:
            break
    p50, p90 = np.percentile(samples, [50, 90])
    return Timing(float(p50), float(p90), len(samples), threads)


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


def time_model(model: bytes | str | Path, window: np.ndarray, *, threads: int = 1, **method) -> Timing:
    """Latency of one window through a single-input model (input quantized, output dequantized)."""
    return time_call(single_window_call(model, window, threads=threads), threads=threads, **method)


def time_bundle(bundle: str | Path, *, threads: int = 1, seed: int = 0, **method) -> Timing:
    """Latency of ``Classifier.predict_proba`` on one raw window: normalize, int8 base, float head."""
    from har_edge.runtime.classifier import Classifier

    classifier = Classifier(bundle, num_threads=threads)
    m = classifier.manifest
    window = np.random.default_rng(seed).normal(size=(1, m.window, len(m.channels))).astype(np.float32)
    return time_call(lambda: classifier.predict_proba(window), threads=threads, **method)


CALIBRATION_SIZE = 16_384


def calibration_us(**method) -> Timing:
    """The calibration workload: sort 16,384 seeded float32 values (numpy, single-threaded whatever
    the BLAS settings, tens of microseconds: the range of a small model's invoke)."""
    values = np.random.default_rng(0).normal(size=CALIBRATION_SIZE).astype(np.float32)
    return time_call(lambda: np.sort(values), **method)


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
            timing = time_bundle(
                args.path, threads=args.threads, seed=args.seed, min_seconds=args.min_seconds
            )
        else:
            probe_model(args.path.read_bytes(), str(args.path))
            window = _random_window(args.path, args.seed)
            timing = time_model(args.path, window, threads=args.threads, min_seconds=args.min_seconds)
        calibration = calibration_us(min_seconds=args.min_seconds)
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
