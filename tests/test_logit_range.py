"""The int8 range of a softmax classifier's logits (har_edge.optimize.logit_range)."""

from __future__ import annotations

import numpy as np
import pytest

from har_edge.optimize.logit_range import FLOOR_MARGIN, HEADROOM, logit_range, with_logit_range
from har_edge.optimize.quantize import Precision, convert
from har_edge.runtime import run_model
from har_edge.tfcompat import keras


def two_feature_classifier(softmax: bool = True):
    """Logits 10 x0 + 8 x1, 8 x0 + 10 x1 and 0 for an input (x0, x1): the larger feature wins."""
    k = keras()
    inputs = k.Input(shape=(2,), name="features")
    layer = k.layers.Dense(3, activation="softmax" if softmax else None, name="classifier")
    model = k.Model(inputs, layer(inputs))
    layer.set_weights([np.array([[10.0, 8.0, 0.0], [8.0, 10.0, 0.0]], np.float32), np.zeros(3, np.float32)])
    return model


@pytest.fixture(scope="module")
def calibration():
    """Windows with x0 + x1 <= 1: logits up to 10."""
    x = np.random.default_rng(0).uniform(0.0, 1.0, size=(400, 2))
    return x[x.sum(axis=1) <= 1.0].astype(np.float32)


def test_a_new_users_logits_beyond_the_calibration_range_keep_their_argmax_in_int8(calibration):
    # What real HAPT did to the dense model: a test user's two top logits (14.6 and 15.1, inputs
    # within the calibrated range) both beyond the calibration's largest (10) saturated to the same
    # int8 level and the lower class index won.
    model = two_feature_classifier()
    window = np.array([[0.7, 0.95]], np.float32)
    assert model.predict(window, verbose=0).argmax() == 1
    calibrated = convert(model, Precision.INT8, representative=calibration, fit_logit_range=False)
    assert run_model(calibrated, window).argmax() == 0  # the tie the calibration's min..max makes
    fitted = convert(model, Precision.INT8, representative=calibration)
    assert run_model(fitted, window).argmax() == 1
    mcu = convert(model, Precision.INT8, representative=calibration, int8_io=True, fixed_batch=True)
    assert run_model(mcu, window).argmax() == 1


def test_the_fitted_int8_model_tracks_the_float_probabilities_on_calibration_windows(calibration):
    model = two_feature_classifier()
    fitted = run_model(convert(model, Precision.INT8, representative=calibration), calibration)
    reference = model.predict(calibration, verbose=0)
    assert np.abs(fitted - reference).max() < 0.03
    assert np.mean(fitted.argmax(1) == reference.argmax(1)) > 0.97


def test_logit_range_starts_a_margin_below_the_lowest_top_logit_and_leaves_headroom_above():
    logits = np.array([[5.0, -90.0, 1.0], [-2.0, -50.0, -3.0], [20.0, -1.0, 0.0]])
    assert logit_range(logits) == (-2.0 - FLOOR_MARGIN, HEADROOM * 20.0)
    assert logit_range(np.array([[1.0, 2.0], [3.0, 1.5]])) == (0.0, HEADROOM * 3.0)  # holds 0


def test_models_without_a_final_softmax_and_float_models_are_left_as_converted(calibration):
    logits_model = two_feature_classifier(softmax=False)
    fitted = convert(logits_model, Precision.INT8, representative=calibration)
    assert fitted == convert(logits_model, Precision.INT8, representative=calibration, fit_logit_range=False)
    float32 = convert(two_feature_classifier(), Precision.FLOAT32)
    assert with_logit_range(float32, -10.0, 20.0) == float32
