"""The TF-free runtime on whatever TFLite backend is installed, against a committed golden bundle.

``tox -e tflite-runtime`` runs this file with tflite-runtime 2.14 and numpy<2 (no TensorFlow, no
LiteRT) and sets ``HAR_EDGE_EXPECT_BACKEND=tflite_runtime.interpreter``; the main environment runs it
on LiteRT. The bundle and its reference outputs come from ``tools/make_golden_bundle.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from har_edge.data.splits import Normalizer
from har_edge.runtime.bundle import Bundle, open_bundle
from har_edge.runtime.interpreter import BACKENDS, interpreter_backend, load_interpreter, run_model

GOLDEN = Path(__file__).parent / "golden" / "dense_int8"
EXPECTED_BACKEND_VARIABLE = "HAR_EDGE_EXPECT_BACKEND"
# Backends round requantized int8 activations differently, and the three layers of the dense base
# compound it: tflite-runtime 2.14 puts 1.7% of the golden features 1-2 steps away from LiteRT 2.3.
MAX_STEPS_APART = 2
MIN_IDENTICAL_FRACTION = 0.95


@pytest.fixture(scope="module")
def bundle() -> Bundle:
    return open_bundle(GOLDEN)


@pytest.fixture(scope="module")
def expected() -> dict[str, np.ndarray]:
    with np.load(GOLDEN / "expected.npz") as data:
        return dict(data)


def base_features(bundle: Bundle, raw_windows: np.ndarray) -> np.ndarray:
    """What a device does: normalize with the manifest's statistics, flatten, run the int8 base."""
    normalized = Normalizer.from_dict(bundle.manifest.normalization).apply(raw_windows)
    return run_model(bundle.base, normalized.reshape(len(normalized), -1)).reshape(len(normalized), -1)


def test_the_backend_is_the_expected_one_and_never_tensorflow():
    backend = interpreter_backend()
    assert backend == os.environ.get(EXPECTED_BACKEND_VARIABLE, backend)
    assert backend in BACKENDS and backend != "tensorflow.lite"


def test_golden_bundle_opens_and_verifies(bundle, expected):
    manifest = bundle.manifest
    assert (manifest.window, manifest.hop, len(manifest.channels)) == (50, 25, 3)
    assert manifest.base_precision == "int8" and manifest.n_features == expected["features"].shape[1]
    assert len(manifest.class_labels) == expected["probabilities"].shape[1]


def test_int8_base_reproduces_the_reference_features_up_to_int8_rounding(bundle, expected):
    features = base_features(bundle, expected["raw_windows"])
    steps = np.abs(features - expected["features"]) / bundle.manifest.base_output_quantization.scale
    assert features.shape == expected["features"].shape
    assert steps.max() <= MAX_STEPS_APART + 1e-3
    assert np.mean(steps < 0.5) >= MIN_IDENTICAL_FRACTION


def test_base_then_head_on_the_device_gives_the_reference_probabilities(bundle, expected):
    features = base_features(bundle, expected["raw_windows"])
    probabilities = load_interpreter(bundle.head).get_signature_runner("infer")(features=features)
    np.testing.assert_allclose(probabilities["probabilities"], expected["probabilities"], atol=0.02)


def test_head_infer_reproduces_the_reference_probabilities(bundle, expected):
    infer = load_interpreter(bundle.head).get_signature_runner("infer")
    probabilities = infer(features=expected["features"])["probabilities"]
    np.testing.assert_allclose(probabilities, expected["probabilities"], atol=1e-5)


def test_head_train_signature_lowers_the_loss_at_every_step_on_the_reference_windows(bundle, expected):
    train = load_interpreter(bundle.head).get_signature_runner("train")
    features = expected["features"]
    labels = np.eye(len(bundle.manifest.class_labels), dtype=np.float32)[expected["labels"]]
    rate = np.float32(0.1)
    losses = [float(train(features=features, labels=labels, learning_rate=rate)["loss"]) for _ in range(20)]
    assert np.all(np.diff(losses) < 0) and losses[-1] < 0.9 * losses[0], losses


RUNTIME_PATH = """
import sys
from tests.test_tflite_runtime_compat import GOLDEN, base_features, np, open_bundle, load_interpreter

bundle = open_bundle(GOLDEN)
features = base_features(bundle, np.load(GOLDEN / "expected.npz")["raw_windows"])
load_interpreter(bundle.head).get_signature_runner("infer")(features=features)
print(sorted(name for name in ("tensorflow", "tf_keras") if name in sys.modules))
"""


def test_the_runtime_path_never_imports_tensorflow():
    # A fresh interpreter: in the main environment other test modules have imported TensorFlow.
    command = [sys.executable, "-c", RUNTIME_PATH]
    result = subprocess.run(command, cwd=GOLDEN.parents[2], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
