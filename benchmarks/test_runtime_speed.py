"""Runtime latency, side by side in one run on a demo-like bundle (dense, int8 base, 1,600-feature head).

    tox -e bench        (or: pytest benchmarks --benchmark-only --benchmark-json=out.json;
                         python benchmarks/ratios.py out.json)

Pairs compared by ``ratios.py``: Classifier vs bare set_tensor/invoke/get_tensor on the same files vs
tf_keras ``model(x)`` for one window; the Personalizer's SGD step (batch 32) vs the same math in numpy
vs tf_keras ``train_on_batch``. Benchmarks measure; nothing here asserts a speed.

Regressions: pytest-benchmark compares a run with a saved one and fails on a slower median. Raw times
only compare on the same machine, so save and compare in one place (one CI job, one laptop):

    git switch main     && tox -e bench -- --benchmark-save=baseline
    git switch my-topic && tox -e bench -- --benchmark-compare --benchmark-compare-fail=median:25%

``--benchmark-compare`` picks the latest run saved under ``.benchmarks/<machine id>/``; the check fails
the run (exit 1, "Performance has regressed") when a median is more than 25 % above the saved one.
The tf_keras benchmarks are reference points and the noisiest; ``-k "not keras"`` leaves them out.
Model latency across machines is gated by ``har-edge gate`` on ``latency_norm_p50`` instead.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from har_edge.data.synthetic import SyntheticConfig, generate  # noqa: E402
from har_edge.data.windows import WindowConfig, apply_normalizer, make_windows, split_by_subject  # noqa: E402
from har_edge.export import bundle_request, export_bundle  # noqa: E402
from har_edge.optimize.pipeline import Optimized, OptimizeOptions  # noqa: E402
from har_edge.runtime.classifier import Classifier, HeadSession  # noqa: E402
from har_edge.runtime.head import reference_sgd_step  # noqa: E402
from har_edge.runtime.interpreter import load_interpreter, quantize  # noqa: E402
from har_edge.runtime.signatures import SignatureCall  # noqa: E402
from har_edge.train import TrainConfig, train_model  # noqa: E402
from har_edge.types import ACC_CHANNELS  # noqa: E402

BATCH = 32


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    windows, _ = make_windows(generate(SyntheticConfig(subjects=12)), WindowConfig(channels=ACC_CHANNELS))
    splits = split_by_subject(windows, seed=0)
    trained = train_model(splits, "dense", TrainConfig(epochs=5))
    normalized = apply_normalizer(splits, trained.normalizer)
    request = bundle_request(
        Optimized(trained.model, {}), trained.card, normalized, OptimizeOptions(mcu_variant=False)
    )
    bundle = export_bundle(request, tmp_path_factory.mktemp("bench") / "bundle")
    return bundle, trained, splits


@pytest.fixture(scope="session")
def one_window(demo):
    _, _, splits = demo
    return splits.test.x[:1]


def test_classifier_single_window(benchmark, demo, one_window):
    classifier = Classifier(demo[0].path)
    benchmark(classifier.predict_proba, one_window)


def test_bare_invoke_single_window(benchmark, demo, one_window):
    """The floor: pre-normalized, pre-quantized input; base and head through their tensors directly."""
    bundle, trained, _ = demo
    base = load_interpreter(bundle.base)
    base.allocate_tensors()
    (inp,), (out,) = base.get_input_details(), base.get_output_details()
    head_infer = SignatureCall(load_interpreter(bundle.head), "infer")
    x = quantize(trained.normalizer.apply(one_window).reshape(1, -1), inp)
    scale, zero_point = out["quantization"]

    def bare():
        base.set_tensor(inp["index"], x)
        base.invoke()
        features = (base.get_tensor(out["index"]).astype(np.float32) - zero_point) * scale
        return head_infer(features=features.reshape(1, -1))

    benchmark(bare)


def test_keras_call_single_window(benchmark, demo, one_window):
    _, trained, _ = demo
    x = trained.normalizer.apply(one_window).reshape(1, -1)
    benchmark(lambda: trained.model(x, training=False))


def test_classifier_batched_64_windows(benchmark, demo):
    classifier = Classifier(demo[0].path)
    batch = demo[2].test.x[:64]
    benchmark(classifier.predict_proba, batch)


@pytest.fixture(scope="session")
def sgd_batch(demo):
    bundle, _, splits = demo
    features = Classifier(bundle.path).features(splits.train.x[:BATCH])
    onehot = np.eye(len(bundle.manifest.class_labels), dtype=np.float32)[splits.train.y[:BATCH]]
    return features, onehot


def test_personalizer_sgd_step(benchmark, demo, sgd_batch):
    head = HeadSession(demo[0].head, num_threads=None)
    features, onehot = sgd_batch
    benchmark(head.train_step, features, onehot, 1e-4)


def test_numpy_sgd_step(benchmark, demo, sgd_batch):
    weights = HeadSession(demo[0].head, num_threads=None).weights()
    features, onehot = sgd_batch
    benchmark(reference_sgd_step, weights, features, onehot, 1e-4)


def test_keras_train_on_batch(benchmark, demo, sgd_batch):
    from har_edge.tfcompat import keras

    k = keras()
    features, onehot = sgd_batch
    head = k.Sequential(
        [k.Input(shape=(features.shape[1],)), k.layers.Dense(onehot.shape[1], activation="softmax")]
    )
    head.compile(optimizer=k.optimizers.SGD(1e-4), loss="categorical_crossentropy")
    head.train_on_batch(features, onehot)  # build the train function outside the timing
    benchmark(head.train_on_batch, features, onehot)
