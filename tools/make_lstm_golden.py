"""Write the tiny int8 LSTMs the tests read (without TensorFlow): ``tests/golden/lstm_int8.tflite``.

The project's ``lstm`` architecture shrunk to 16 steps of 3 channels, 8 dense units and 8 LSTM units,
4 classes, untrained (seeded initializers), converted as ``har-edge optimize --quantize int8`` converts
an MCU base: ``optimize.quantize.convert`` with int8 in/out and batch 1 (fused
UNIDIRECTIONAL_SEQUENCE_LSTM, int16 cell state), calibrated on seeded normal windows. Before conversion
``lstm1``'s weights are scaled up (its cells reach a few units: cell scale 2^-11) and ``lstm2``'s down
(its cells stay below 1/4: cell scale under 2^-15, where LiteRT's kernel evaluates no tanh of the cell),
so the one model covers both paths of the kernel.

A second file, ``lstm_state_int8.tflite``, is two plain LSTMs (4 and 5 units over 6 steps) and a Dense
whose int8 output changes visibly when the LSTM state is not reset between windows (tests/test_lstm_state.py).
Converting an LSTM takes about a minute, which is why the tests read these files instead. Rerun only
when the converter's output for LSTMs changes; commit them.

    python tools/make_lstm_golden.py [--out tests/golden]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "tests" / "golden"
WINDOW, CHANNELS, CLASSES, UNITS = 16, 3, 4, 8
SCALES = {"lstm1": 6.0, "lstm2": 0.1}
SEED = 0


def make() -> bytes:
    from har_edge import models
    from har_edge.optimize.quantize import Precision, convert

    model = models.build(
        "lstm", window=WINDOW, channels=CHANNELS, classes=CLASSES, seed=SEED, units=UNITS, dense_units=UNITS
    )
    for name, factor in SCALES.items():
        layer = model.get_layer(name)
        layer.set_weights([w * factor for w in layer.get_weights()])
    calibration = np.random.default_rng(SEED).normal(size=(32, WINDOW, CHANNELS)).astype(np.float32)
    return convert(model, Precision.INT8, representative=calibration, int8_io=True)


def make_stateful() -> bytes:
    from har_edge.optimize.quantize import Precision, convert
    from har_edge.tfcompat import keras, seed_everything

    k = keras()
    seed_everything(SEED)
    inputs = k.Input(shape=(6, CHANNELS))
    x = k.layers.LSTM(4, return_sequences=True)(inputs)
    model = k.Model(inputs, k.layers.Dense(3)(k.layers.LSTM(5)(x)))
    calibration = np.random.default_rng(SEED).normal(size=(32, 6, CHANNELS)).astype(np.float32)
    return convert(model, Precision.INT8, representative=calibration, int8_io=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    out = parser.parse_args().out
    for name, data in (("lstm_int8.tflite", make()), ("lstm_state_int8.tflite", make_stateful())):
        (out / name).write_bytes(data)
        print(f"{out / name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
