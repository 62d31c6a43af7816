"""``lstm``: the HHAR model — two per-timestep dense layers, then two LSTM(64) layers.

Caveat: LSTMs over 200 steps train slowly on a CPU. They convert to TFLite's fused int8
UNIDIRECTIONAL_SEQUENCE_LSTM (int16 cell state), which the C generator supports; on a microcontroller
the 200 sequential steps cost far more per MAC than ``dense`` or ``cnn``.
"""

from __future__ import annotations

from har_edge.tfcompat import keras

SPLIT_POINTS = ("dense1", "dense2", "lstm1", "lstm2")


def build(*, window: int, channels: int, classes: int, units: int = 64, dense_units: int = 32):
    k = keras()
    inputs = k.Input(shape=(window, channels), name="window")
    x = k.layers.Dense(dense_units, activation="relu", name="dense1")(inputs)
    x = k.layers.Dense(dense_units, activation="relu", name="dense2")(x)
    x = k.layers.LSTM(units, return_sequences=True, name="lstm1")(x)
    x = k.layers.LSTM(units, name="lstm2")(x)
    outputs = k.layers.Dense(classes, activation="softmax", name="classifier")(x)
    return k.Model(inputs, outputs, name="lstm")
