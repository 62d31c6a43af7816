"""Classifier: a verified bundle -> features, probabilities and labels equal to an independent reference;
refused windows, corrupted models and lying manifests; no TensorFlow at run time; thread safety."""

import json
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from har_edge.errors import InputError
from har_edge.runtime import Classifier, SignatureCall
from har_edge.runtime.bundle import MANIFEST_FILE, file_entry
from har_edge.runtime.head import HeadWeights, reference_forward
from har_edge.runtime.interpreter import load_interpreter, run_model
from tests.support import export_test_bundle, trained_small_dense

PROBABILITY_TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return export_test_bundle(tmp_path_factory.mktemp("classifier") / "bundle")


@pytest.fixture(scope="module")
def windows() -> np.ndarray:
    """Raw (un-normalized) held-out windows, (n, 200, 3) float32."""
    return trained_small_dense()[1].test.x


@pytest.fixture
def classifier(bundle) -> Classifier:
    return Classifier(bundle.path)


def reference_probabilities(bundle, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features via ``run_model`` on the base, probabilities via numpy on the head's exported weights."""
    m = bundle.manifest
    normalized = (windows - np.asarray(m.normalization["mean"])) / np.asarray(m.normalization["std"])
    features = run_model(bundle.base, normalized.astype(np.float32).reshape(len(windows), -1))
    features = features.reshape(len(windows), -1)
    exported = HeadWeights.from_named(load_interpreter(bundle.head).get_signature_runner("get_weights")())
    return features, reference_forward(exported, features)


def copy_bundle(bundle, tmp_path, **manifest_changes):
    copy = tmp_path / "copy"
    shutil.copytree(bundle.path, copy)
    manifest = json.loads((copy / MANIFEST_FILE).read_text())
    manifest.update(manifest_changes)
    (copy / MANIFEST_FILE).write_text(json.dumps(manifest))
    return copy


def test_features_probabilities_and_labels_equal_the_reference_for_a_batch_and_one_window(
    classifier, bundle, windows
):
    features, expected = reference_probabilities(bundle, windows)
    np.testing.assert_array_equal(classifier.features(windows), features)
    probabilities = classifier.predict_proba(windows)
    np.testing.assert_allclose(probabilities, expected, atol=PROBABILITY_TOLERANCE, rtol=0)
    labels = np.asarray(bundle.manifest.class_labels)
    np.testing.assert_array_equal(classifier.predict(windows), labels[expected.argmax(axis=1)])
    one = classifier.predict_proba(windows[7])
    assert one.shape == (1, len(labels))
    np.testing.assert_allclose(one[0], expected[7], atol=PROBABILITY_TOLERANCE, rtol=0)
    assert classifier.predict(windows[7]).tolist() == [labels[expected[7].argmax()]]


def test_labels_and_manifest_come_from_the_bundle(classifier, bundle, windows):
    assert classifier.labels == bundle.manifest.class_labels
    assert classifier.manifest == bundle.manifest
    predicted = classifier.predict(windows[:5])
    assert predicted.dtype.kind == "U" and set(predicted) <= set(bundle.manifest.class_labels)


@pytest.mark.parametrize(
    "cut", [np.s_[:, :150, :], np.s_[:, :, :2], np.s_[0, 0, :]], ids=["short_window", "two_channels", "1d"]
)
def test_windows_of_the_wrong_shape_are_refused_saying_expected_and_got(classifier, windows, cut):
    bad = windows[cut]
    with pytest.raises(InputError, match=rf"expected .*\(n, 200, 3\).*got shape {re.escape(str(bad.shape))}"):
        classifier.predict(bad)


def test_an_empty_batch_is_refused(classifier, windows):
    with pytest.raises(InputError, match="empty batch"):
        classifier.predict(windows[:0])


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_windows_with_nan_or_inf_are_refused_naming_the_first(classifier, windows, value):
    bad = windows[:6].copy()
    bad[4, 17, 2] = value
    with pytest.raises(InputError, match="1 contain NaN or infinite values .first: window 4"):
        classifier.features(bad)


@pytest.mark.parametrize("name", ["base.tflite", "head.tflite"])
def test_a_truncated_model_whose_hash_matches_is_an_input_error_naming_the_file(bundle, tmp_path, name):
    truncated = bundle.files[name][: len(bundle.files[name]) // 2]
    files = {
        key: {"sha256": e.sha256, "size_bytes": e.size_bytes} for key, e in bundle.manifest.files.items()
    }
    entry = file_entry(truncated)
    files[name] = {"sha256": entry.sha256, "size_bytes": entry.size_bytes}
    copy = copy_bundle(bundle, tmp_path, files=files)
    (copy / name).write_bytes(truncated)
    with pytest.raises(InputError, match=f"{name}: (not a loadable|corrupt) TFLite model"):
        Classifier(copy)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"window": 100},
            r"base input shape: it says window 100 x 3 channels, flat layout -> \(300,\), .* \(600,\)",
        ),
        (
            {"feature_shape": [100, 8]},
            r"base output features: it says feature_shape \(100, 8\) -> 800, .* 1600",
        ),
        ({"head_hidden": 16}, "head hidden units: it says head_hidden 16 -> 16, the model has None"),
        (
            {"base_input_quantization": None},
            "base input quantization: it says None, the model has Quantization",
        ),
    ],
    ids=["window", "features", "hidden", "quantization"],
)
def test_a_manifest_that_lies_about_the_models_is_refused_naming_both(bundle, tmp_path, changes, message):
    with pytest.raises(InputError, match=f"manifest lies about the {message}"):
        Classifier(copy_bundle(bundle, tmp_path, **changes))


def test_a_lying_class_count_is_refused(bundle, tmp_path):
    labels = list(bundle.manifest.class_labels[:-1])
    with pytest.raises(
        InputError, match="head output classes: it says 11 class_labels -> 11, the model has 12"
    ):
        Classifier(copy_bundle(bundle, tmp_path, class_labels=labels))


@pytest.mark.parametrize("thread_mode", ["per-thread", "lock"])
def test_four_threads_give_bit_identical_results_to_one_thread(bundle, windows, thread_mode):
    chunks = [
        windows[start : start + size] for start, size in zip(range(0, 60, 5), [1, 7, 3, 16] * 3, strict=True)
    ]
    single = Classifier(bundle.path, thread_mode=thread_mode)
    expected = [single.predict_proba(chunk) for chunk in chunks]
    shared = Classifier(bundle.path, thread_mode=thread_mode)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(shared.predict_proba, chunks * 8))
    for i, result in enumerate(results):
        np.testing.assert_array_equal(result, expected[i % len(chunks)])


def test_an_installed_head_and_its_labels_reach_every_thread(classifier, windows):
    weights = HeadWeights.random(1600, 12, seed=3)
    personal_labels = [f"activity-{i}" for i in range(12)]
    classifier.set_head_weights(weights.named(), labels=personal_labels)
    for w, w_ref in zip(classifier.head_weights().named().values(), weights.named().values(), strict=True):
        np.testing.assert_array_equal(w, w_ref)
    expected = reference_forward(weights, classifier.features(windows))
    with ThreadPoolExecutor(max_workers=2) as pool:
        probabilities, labels = pool.submit(
            lambda: (classifier.predict_proba(windows), classifier.predict(windows))
        ).result()
    np.testing.assert_allclose(probabilities, expected, atol=PROBABILITY_TOLERANCE, rtol=0)
    assert classifier.labels == tuple(personal_labels)
    np.testing.assert_array_equal(labels, np.asarray(personal_labels)[expected.argmax(axis=1)])


def test_head_weights_of_another_shape_or_label_count_are_refused(classifier):
    with pytest.raises(InputError, match="exported with .*--head-labels"):
        classifier.set_head_weights(HeadWeights.random(1600, 4, seed=0))
    with pytest.raises(InputError, match="need 12 distinct non-empty names"):
        classifier.set_head_weights(classifier.head_weights(), labels=["a", "b"])
    with pytest.raises(InputError, match="thread_mode 'fast'"):
        Classifier(classifier.bundle, thread_mode="fast")


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast_path", "runner"])
def test_signature_call_equals_the_runner_as_the_batch_size_changes(bundle, rng, fast_path):
    runner = load_interpreter(bundle.head).get_signature_runner("infer")
    infer = SignatureCall(load_interpreter(bundle.head), "infer", fast_path=fast_path)
    assert infer.uses_fast_path == fast_path  # LiteRT has the per-subgraph API the fast path needs
    for n in (5, 2, 2, 5, 1):
        features = rng.normal(size=(n, 1600)).astype(np.float32)
        expected = runner(features=features)["probabilities"]
        np.testing.assert_array_equal(infer(features=features)["probabilities"], expected)
        np.testing.assert_array_equal(infer(features=features.astype(np.float64))["probabilities"], expected)


def test_signature_call_refuses_wrong_names_shapes_and_dtypes(bundle, rng):
    infer = SignatureCall(load_interpreter(bundle.head), "infer")
    features = rng.normal(size=(5, 1600)).astype(np.float32)
    with pytest.raises(InputError, match=r"takes inputs \['features'\], got \['x'\]"):
        infer(x=features)
    with pytest.raises(InputError, match=r"has shape \(5, 10\); expected \(any, 1600\)"):
        infer(features=features[:, :10])
    with pytest.raises(InputError, match="is float32, got complex128"):
        infer(features=features.astype(complex))
    with pytest.raises(InputError, match="no signature 'predict'"):
        SignatureCall(load_interpreter(bundle.head), "predict")
    assert infer(features=features)["probabilities"].shape == (5, 12)  # still usable after the refusals


TF_FREE_RUNTIME = """
import sys
import numpy as np
import har_edge.runtime as runtime

classifier = runtime.Classifier(sys.argv[1])
m = classifier.manifest
windows = np.random.default_rng(0).normal(size=(12, m.window, len(m.channels))).astype(np.float32)
labels = classifier.predict(windows)
personalizer = runtime.Personalizer(classifier)
personalizer.add(windows, labels)
history = personalizer.fit(epochs=2, holdout=0.25)
personalizer.save(sys.argv[2])
personalizer.restore(sys.argv[2])
print(len(labels), history.epochs_run, "tensorflow" in sys.modules)
"""


def test_the_runtime_classifies_and_personalizes_without_importing_tensorflow(bundle, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", TF_FREE_RUNTIME, str(bundle.path), str(tmp_path / "head.ckpt")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == ["12", "2", "False"]
