"""Write the reference models that calibrate latency figures (``har_edge.runtime.benchmark.calibrate``).

Two small single-window models of the demo model's size and kind, one int8 (int8 in and out, like a
bundle's base) and one float32: a 200 x 3 window -> CONV (1-D, 32 filters of 5) -> FULLY_CONNECTED 8
per time step -> FULLY_CONNECTED 12 on the flattened steps; about 163k multiply-accumulates (the demo's
int8 base and head: about 166k). Weights come from a seeded numpy generator, not Keras initializers,
and the int8 calibration windows are seeded too, so a rerun with the same TensorFlow writes the same
bytes. The files are package data: a device runs them through its own interpreter, so never regenerate
them casually; a change of these files changes every ``latency_norm_p50`` (bump
``har_edge.runtime.benchmark.CALIBRATION_METHOD`` when you do).

    python tools/make_calibration_models.py [--out har_edge/runtime/reference]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "har_edge" / "runtime" / "reference"
WINDOW, CHANNELS, FILTERS, KERNEL, UNITS, CLASSES = 200, 3, 32, 5, 8, 12
SEED = 0


def build_model():
    from har_edge.tfcompat import keras

    k = keras()
    model = k.Sequential(
        [
            k.Input(shape=(WINDOW, CHANNELS)),
            k.layers.Conv1D(FILTERS, KERNEL, activation="relu"),
            k.layers.Dense(UNITS, activation="relu"),
            k.layers.Flatten(),
            k.layers.Dense(CLASSES),
        ]
    )
    rng = np.random.default_rng(SEED)
    model.set_weights([seeded(rng, weights.shape) for weights in model.get_weights()])
    return model


def seeded(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """He-style kernels (scaled by the fan-in), small biases."""
    fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 100
    return rng.normal(scale=np.sqrt(2 / fan_in), size=shape).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    from har_edge.fsutil import atomic_write_bytes
    from har_edge.optimize.quantize import Precision, convert

    model = build_model()
    windows = np.random.default_rng(SEED).normal(size=(64, WINDOW, CHANNELS)).astype(np.float32)
    args.out.mkdir(parents=True, exist_ok=True)
    for precision, options in ((Precision.INT8, {"int8_io": True}), (Precision.FLOAT32, {})):
        tflite = convert(model, precision, representative=windows, fixed_batch=True, **options)
        path = args.out / f"calibration_{precision.value}.tflite"
        atomic_write_bytes(path, tflite)
        print(f"{path}: {len(tflite):,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
