"""The Classifier's in-place path (windows normalized and quantized straight into the base's input tensor,
features dequantized straight into the head's) gives the same bits as a straightforward reference and
as the general path, for int8 and float32 bases and any batch size; bad windows are still refused."""

import numpy as np
import pytest

from har_edge.errors import InputError
from har_edge.optimize.quantize import Precision
from har_edge.runtime import Classifier
from har_edge.runtime.interpreter import load_interpreter
from tests.support import export_test_bundle, trained_small_dense


@pytest.fixture(scope="module", params=[Precision.INT8, Precision.FLOAT32], ids=["int8", "float32"])
def bundle(request, tmp_path_factory):
    return export_test_bundle(tmp_path_factory.mktemp(f"hotpath_{request.param}") / "bundle", request.param)


@pytest.fixture(scope="module")
def seeded_windows(bundle) -> np.ndarray:
    """Held-out windows, seeded noise, and windows wide enough to saturate the int8 input, (n, 200, 3)."""
    real = trained_small_dense()[1].test.x[:40]
    rng = np.random.default_rng(14)
    noise = rng.normal(size=(40, *real.shape[1:])) * np.asarray(bundle.manifest.normalization["std"])
    wide = rng.normal(scale=200.0, size=(20, *real.shape[1:]))
    return np.concatenate([real, (real + noise), wide]).astype(np.float32)


def straightforward_reference(bundle, windows: np.ndarray) -> np.ndarray:
    """Normalize in float64 -> float32, quantize by hand, then the public SignatureRunner API."""
    m = bundle.manifest
    x = ((windows - np.asarray(m.normalization["mean"])) / np.asarray(m.normalization["std"])).astype(
        np.float32
    )
    base = load_interpreter(bundle.base)
    if m.base_input_quantization is not None:
        q = m.base_input_quantization
        x = np.rint(x / np.float32(q.scale)) + q.zero_point
        x = np.clip(x, -128, 127).astype(np.int8)
    runner = base.get_signature_runner()
    (features,) = runner(**{next(iter(runner.get_input_details())): x.reshape(len(x), -1)}).values()
    if m.base_output_quantization is not None:
        q = m.base_output_quantization
        features = (features.astype(np.float32) - q.zero_point) * np.float32(q.scale)
    infer = load_interpreter(bundle.head).get_signature_runner("infer")
    return infer(features=features.reshape(len(x), -1).astype(np.float32))["probabilities"]


def general_path(classifier: Classifier, windows: np.ndarray) -> np.ndarray:
    engine = classifier._thread_engine()
    engine.in_place = False
    try:
        return classifier.predict_proba(windows)
    finally:
        engine.in_place = True


def test_in_place_path_is_taken_on_litert(bundle):
    assert Classifier(bundle.path)._thread_engine().in_place


def test_single_windows_and_batches_are_bit_identical_to_the_reference_and_the_general_path(
    bundle, seeded_windows
):
    classifier = Classifier(bundle.path)
    expected = straightforward_reference(bundle, seeded_windows)
    np.testing.assert_array_equal(general_path(classifier, seeded_windows), expected)
    for start, n in [
        (0, 1),
        (3, 8),
        (5, 1),
        (0, 64),
        (99, 1),
        (10, 37),
        (0, 100),
    ]:  # sizes change back and forth
        got = classifier.predict_proba(seeded_windows[start : start + n])
        np.testing.assert_array_equal(got, expected[start : start + n])
    np.testing.assert_array_equal(classifier.predict_proba(seeded_windows[42]), expected[42:43])


def test_float64_and_integer_windows_are_bit_identical_to_the_general_path(bundle, seeded_windows):
    classifier = Classifier(bundle.path)
    for windows in (seeded_windows[:9].astype(np.float64), np.rint(seeded_windows[:9]).astype(np.int16)):
        np.testing.assert_array_equal(classifier.predict_proba(windows), general_path(classifier, windows))


def test_windows_at_float32s_limit_are_classified_as_the_general_path_does(bundle):
    classifier = Classifier(bundle.path)
    huge = np.full((2, 200, 3), np.finfo(np.float32).max, np.float64)
    np.testing.assert_array_equal(classifier.predict_proba(huge), general_path(classifier, huge))


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("n", [1, 8])
def test_non_finite_values_are_refused_on_the_in_place_path_naming_the_window(
    bundle, seeded_windows, value, n
):
    classifier = Classifier(bundle.path)
    bad = seeded_windows[:n].copy()
    bad[n - 1, 123, 1] = value
    with pytest.raises(InputError, match=rf"1 contain NaN or infinite values .first: window {n - 1}"):
        classifier.predict_proba(bad)
    np.testing.assert_array_equal(  # the refusal leaves nothing behind
        classifier.predict_proba(seeded_windows[:n]), general_path(classifier, seeded_windows[:n])
    )


@pytest.mark.parametrize(
    "windows",
    [
        np.zeros((1, 200, 3), bool),
        np.zeros((1, 200, 3), complex),
        np.full((1, 200, 3), "1.0"),
        np.zeros((1, 199, 3), np.float32),
        np.zeros((200, 3, 1), np.float32),
    ],
    ids=["bool", "complex", "str", "short", "4d"],
)
def test_wrong_dtypes_and_shapes_are_refused_on_the_in_place_path(bundle, windows):
    with pytest.raises(InputError, match=r"windows: expected (numbers of shape \(n, 200, 3\)|numeric)"):
        Classifier(bundle.path).predict_proba(windows)
