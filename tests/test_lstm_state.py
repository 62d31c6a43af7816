"""A fixed-batch model with an LSTM (whose state tensors LiteRT and TFLM keep between invokes) gives
every window the same outputs whatever windows came before, as the Keras model and the generated
firmware do: in the runtime's Classifier paths, ``run_model`` and the TFLM child."""

from __future__ import annotations

import json
import subprocess
import sys
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


def test_tflm_child_gives_an_lstm_window_the_same_output_whatever_came_before(tmp_path):
    """TFLM keeps an LSTM's state between invokes too (its docs: call reset after a stateful model)."""
    first, other = np.random.default_rng(3).normal(0, 2, size=(2, 1, 6, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", np.concatenate([first, other, first]))
    # arenas below 8 KiB crash TFLM's LSTM on the host instead of failing cleanly: start above them
    command = [sys.executable, "-m", "har_edge.targets.tflm_child", str(GOLDEN_LSTM), str(tmp_path / "x.npy")]
    subprocess.run(
        [*command, str(tmp_path / "out.json"), "--arena-failed", "8192"], capture_output=True, check=True
    )
    result = json.loads((tmp_path / "out.json").read_text())
    assert result["error"] is None
    outputs = np.asarray(result["outputs"])
    np.testing.assert_array_equal(outputs[2], outputs[0])
