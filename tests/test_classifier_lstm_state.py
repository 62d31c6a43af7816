"""A fixed-batch model with an LSTM (whose state tensors LiteRT keeps between invokes) gives every window
the same features whatever windows came before, as the Keras model and the generated firmware do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from har_edge.runtime.classifier import BaseModel

GOLDEN_LSTM = Path(__file__).parent / "golden" / "lstm_state_int8.tflite"  # tools/make_lstm_golden.py


def test_lstm_base_features_do_not_depend_on_the_previous_window():
    base = BaseModel(GOLDEN_LSTM.read_bytes(), None)
    assert base.max_batch == 1
    rng = np.random.default_rng(0)
    first, other = rng.normal(0, 2, size=(2, 1, 6, 3)).astype(np.float32)
    alone = base.features(first)
    base.features(other)
    after_other = base.features(first)
    np.testing.assert_array_equal(after_other, alone)
    both = base.features(np.concatenate([other, first]))
    np.testing.assert_array_equal(both[1:], alone)


def test_lstm_base_in_place_path_starts_every_window_from_the_reset_state():
    """The Classifier's in-place path (``BaseModel.invoke`` on tensors written in place) was carrying
    the LSTM state of the previous window into the next one's probabilities."""
    from har_edge.runtime.interpreter import quantize

    base = BaseModel(GOLDEN_LSTM.read_bytes(), None)
    direct = base.call.direct([(1, 6, 3)])
    if direct is None:
        pytest.skip("this interpreter has no per-subgraph API (no in-place path)")
    rng = np.random.default_rng(1)
    first, other = rng.normal(0, 2, size=(2, 1, 6, 3)).astype(np.float32)

    def run(x):
        direct.input_view(base.input.name)[...] = quantize(x, base.input.detail)
        base.invoke(direct)
        return direct.output(base.output.name).copy()

    alone = run(first)
    run(other)
    np.testing.assert_array_equal(run(first), alone)


def test_run_model_gives_an_lstm_window_the_same_output_whatever_came_before():
    from har_edge.runtime.interpreter import run_model

    model = GOLDEN_LSTM.read_bytes()
    first, other = np.random.default_rng(2).normal(0, 2, size=(2, 1, 6, 3)).astype(np.float32)
    outputs = run_model(model, np.concatenate([first, other, first]))
    np.testing.assert_array_equal(outputs[2], outputs[0])
    np.testing.assert_array_equal(outputs[0], run_model(model, first)[0])
