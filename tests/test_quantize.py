"""TFLite conversion at every precision, int8 calibration, quantization-aware training and size figures.

A small dense model (the real 20,004-parameter architecture: 200-sample windows, 3 channels, 12 classes)
is trained once per module on synthetic data from 6 subjects.
"""

import re

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from har_edge import models
from har_edge.errors import InputError
from har_edge.optimize.quantize import (
    Precision,
    convert,
    qat,
    representative_windows,
    requires_fixed_batch,
    size_figures,
)
from har_edge.runtime import run_model
from har_edge.train import predict_proba
from tests.support import held_out_x

# Quantization tolerance against a float reference. Held-out windows include near-ties between two
# classes (top-2 margin of a few hundredths), where any rounding may flip the top-1; so top-1 must agree
# on >= 97 % of the decisive windows (margin >= 0.1) and >= 90 % of all, with mean |Δp| <= 0.01.
DECISIVE_MARGIN = 0.1
MIN_DECISIVE_AGREEMENT = 0.97
MIN_AGREEMENT = 0.90
MAX_MEAN_ABS_DIFFERENCE = 0.01

DENSE_KERNEL_WEIGHTS = 3 * 32 + 32 * 16 + 16 * 8 + 1600 * 12


def op_names(tflite: bytes) -> set[str]:
    return {op["op_name"] for op in Interpreter(model_content=tflite)._get_ops_details()}


def assert_builtin_ops_only(tflite: bytes) -> None:
    """Builtin ops carry their upper-case enum name; Flex and custom ops do not."""
    names = op_names(tflite)
    assert names and all(re.fullmatch(r"[A-Z0-9_]+", n) and n not in ("CUSTOM", "DELEGATE") for n in names)


def assert_tracks(probabilities: np.ndarray, reference: np.ndarray) -> None:
    """Within the quantization tolerance stated at the top of this module."""
    top2 = np.sort(reference, axis=1)[:, -2:]
    decisive = top2[:, 1] - top2[:, 0] >= DECISIVE_MARGIN
    agree = probabilities.argmax(axis=1) == reference.argmax(axis=1)
    assert decisive.mean() > 0.5
    assert agree[decisive].mean() >= MIN_DECISIVE_AGREEMENT
    assert agree.mean() >= MIN_AGREEMENT
    assert np.abs(probabilities - reference).mean() <= MAX_MEAN_ABS_DIFFERENCE


def tensor_dtypes(tflite: bytes, shape: tuple[int, ...]) -> set:
    """The dtypes of the tensors of ``shape``, e.g. of the dense classifier kernel (12, 1600)."""
    details = Interpreter(model_content=tflite).get_tensor_details()
    return {d["dtype"] for d in details if tuple(d["shape"]) == shape}


@pytest.fixture(scope="module")
def float_probabilities(dense, splits):
    return dense.predict(held_out_x(splits).reshape(-1, 600), verbose=0)


@pytest.fixture(scope="module")
def calibration(splits):
    return representative_windows(splits.train.x, seed=0)


@pytest.fixture(scope="module")
def tflite(dense, calibration):
    """Converted variants of the dense model, each converted once: ``tflite(precision, **options)``."""
    cache = {}

    def converted(precision, **options) -> bytes:
        key = (precision, tuple(sorted(options.items())))
        if key not in cache:
            cache[key] = convert(dense, precision, representative=calibration, **options)
        return cache[key]

    return converted


def test_float32_tflite_reproduces_the_keras_predictions(tflite, splits, float_probabilities):
    probabilities = run_model(tflite(Precision.FLOAT32), held_out_x(splits).reshape(-1, 600))
    assert np.abs(probabilities - float_probabilities).max() < 1e-5


@pytest.mark.parametrize("fixed_batch", [False, True])
@pytest.mark.parametrize("precision", list(Precision))
def test_every_precision_converts_to_builtin_ops_and_tracks_the_float_model(
    tflite, splits, float_probabilities, precision, fixed_batch
):
    model = tflite(precision, fixed_batch=fixed_batch)
    assert_builtin_ops_only(model)
    assert_tracks(run_model(model, held_out_x(splits).reshape(-1, 600)), float_probabilities)


def test_int8_model_is_about_a_third_of_float32_bytes_with_quarter_size_weights(tflite):
    # Measured 0.347 (dynamic batch) and 0.310 (batch 1): the int8 weights are exactly 1/4, but ~10 kB
    # of flatbuffer structure (tensors, ops, names, quantization parameters) does not shrink. 0.30 is
    # not reached for this 20k-parameter model.
    float32, int8 = tflite(Precision.FLOAT32), tflite(Precision.INT8)
    assert len(int8) / len(float32) <= 0.36
    assert (
        len(tflite(Precision.INT8, fixed_batch=True)) / len(tflite(Precision.FLOAT32, fixed_batch=True))
        <= 0.32
    )
    assert tensor_dtypes(int8, (12, 1600)) == {np.int8}
    assert size_figures(int8)["weights"] == size_figures(float32)["weights"] == DENSE_KERNEL_WEIGHTS


def test_float16_model_stores_float16_weights_at_about_half_the_float32_bytes(tflite):
    float16 = tflite(Precision.FLOAT16)
    assert tensor_dtypes(float16, (12, 1600)) == {np.float16, np.float32}  # stored, and dequantized
    assert 0.45 <= len(float16) / len(tflite(Precision.FLOAT32)) <= 0.60


def test_int8_io_gives_int8_input_and_output_tensors(tflite, splits, float_probabilities):
    model = tflite(Precision.INT8, int8_io=True)
    interpreter = Interpreter(model_content=model)
    assert interpreter.get_input_details()[0]["dtype"] == np.int8
    assert interpreter.get_output_details()[0]["dtype"] == np.int8
    assert Interpreter(model_content=tflite(Precision.INT8)).get_input_details()[0]["dtype"] == np.float32
    assert_tracks(run_model(model, held_out_x(splits).reshape(-1, 600)), float_probabilities)


def test_fixed_batch_gives_a_batch_one_input_without_reduce_prod(tflite):
    fixed = tflite(Precision.INT8, fixed_batch=True)
    assert list(Interpreter(model_content=fixed).get_input_details()[0]["shape_signature"]) == [1, 600]
    assert "REDUCE_PROD" not in op_names(fixed)
    assert "REDUCE_PROD" in op_names(tflite(Precision.INT8))  # the dynamic batch's Dense-on-3-D reshape


def test_size_figures_report_raw_and_gzip_bytes_and_zero_weights(tflite):
    float32 = tflite(Precision.FLOAT32)
    figures = size_figures(float32)
    assert figures["size_bytes"] == len(float32)
    assert 0 < figures["gzip_bytes"] < len(float32)
    assert figures["weights"] == DENSE_KERNEL_WEIGHTS
    assert figures["zero_weights"] == 0


def test_representative_windows_are_a_seeded_sample_of_the_given_windows(splits):
    x = splits.train.x
    first, again, other = (representative_windows(x, n=50, seed=s) for s in (1, 1, 2))
    assert first.shape == (50, 200, 3)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert all(any(np.array_equal(w, row) for row in x) for w in first[:5])
    assert len(representative_windows(x[:10], n=50)) == 10


def test_int8_without_representative_windows_is_refused(dense):
    with pytest.raises(InputError, match="int8 conversion needs representative windows"):
        convert(dense, Precision.INT8)


def test_representative_windows_of_the_wrong_shape_are_refused_with_the_expected_shape(dense, splits):
    with pytest.raises(InputError, match=r"window \* channels = 600.*got \(10, 100, 3\)"):
        convert(dense, Precision.INT8, representative=splits.train.x[:10, :100])


def test_unknown_precision_and_int8_io_without_int8_are_refused(dense):
    with pytest.raises(InputError, match="choose one of float32, float16, dynamic, int8"):
        convert(dense, "int4")
    with pytest.raises(InputError, match="int8_io needs precision int8"):
        convert(dense, Precision.FLOAT16, int8_io=True)


def test_recurrent_model_gets_a_fixed_batch_automatically_and_converts_to_builtin_ops_only():
    lstm = models.build("lstm", window=50, channels=3, classes=4, units=4, dense_units=4)
    assert requires_fixed_batch(lstm)
    with pytest.raises(InputError, match="fixed_batch=True"):
        convert(lstm, Precision.FLOAT32, fixed_batch=False)
    fixed = convert(lstm, Precision.FLOAT32)
    assert_builtin_ops_only(fixed)
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in op_names(fixed)


def test_lstm_mac_count_of_the_tflite_file_equals_the_models_true_count():
    from har_edge.tflite_info import count_macs

    lstm = models.build("lstm", window=50, channels=3, classes=4, units=8, dense_units=4, seed=0)
    lstm_macs = 2 * 50 * 4 * 8 * (8 + 8) - 50 * 4 * 8 * (8 - 4)  # layer 1 sees 4 inputs, layer 2 sees 8
    assert count_macs(convert(lstm, Precision.FLOAT32)) == models.summarize(lstm).macs
    assert models.summarize(lstm).macs > lstm_macs


@pytest.fixture(scope="module")
def qat_dense(dense, splits):
    return qat(dense, splits.train, splits.val, epochs=2)


def test_qat_dense_model_converts_to_an_int8_model_matching_its_simulation_and_the_float_accuracy(
    qat_dense, splits, calibration, float_probabilities
):
    quantized = qat_dense
    int8 = convert(quantized, Precision.INT8, representative=calibration)
    assert_builtin_ops_only(int8)
    assert tensor_dtypes(int8, (12, 1600)) == {np.int8}
    x = held_out_x(splits).reshape(-1, 600)
    probabilities = run_model(int8, x)
    assert_tracks(probabilities, quantized.predict(x, verbose=0))
    y = np.concatenate([splits.val.y, splits.test.y])
    float_accuracy = (float_probabilities.argmax(axis=1) == y).mean()
    assert (probabilities.argmax(axis=1) == y).mean() >= float_accuracy - 0.05  # measured -0.013


def test_qat_relu_outputs_keep_the_whole_int8_range_from_zero(qat_dense, calibration):
    # the demo's qat+int8: tfmot's moving-average ranges still began at about -4.3 after fine-tuning, so
    # the ReLU outputs got zero points -12 to -19 and lost the MCU kernels' full-range loops
    mins = [w.numpy() for w in qat_dense.weights if w.name.endswith("post_activation_min:0")]
    assert len(mins) == 3 and min(mins) == 0.0
    details = Interpreter(model_content=convert(qat_dense, Precision.INT8, representative=calibration))
    relu_outputs = [
        d["quantization_parameters"]["zero_points"][0]
        for d in details.get_tensor_details()
        if "Relu" in d["name"] and d["dtype"] == np.int8
    ]
    assert len(relu_outputs) == 3 and set(relu_outputs) == {-128}


def test_qat_handles_the_cnn_reshape_batch_norm_add_and_relu(splits):
    cnn = models.build("cnn", window=200, channels=3, classes=12, blocks=(4,), stem_multiplier=1)
    quantized = qat(cnn, splits.train, splits.val, epochs=1)
    # The simulation quantizes the logits over QAT's learned range, which fit_logit_range replaces (on
    # this one-epoch model, whose near-ties it then splits differently, agreement 0.89).
    int8 = convert(quantized, Precision.INT8, representative=splits.train.x[:16], fit_logit_range=False)
    assert_builtin_ops_only(int8)
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MEAN"} <= op_names(int8)
    probabilities = run_model(int8, splits.test.x)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=0.02)
    assert (
        probabilities.argmax(axis=1) == predict_proba(quantized, splits.test).argmax(axis=1)
    ).mean() >= 0.9


def test_qat_quantizes_multiply_layers_as_int8_mul(splits):
    from har_edge.tfcompat import keras

    k = keras()
    inputs = k.Input((200, 3))
    hidden = k.layers.Dense(4)(inputs)
    squared = k.layers.Multiply()([hidden, hidden])
    model = k.Model(inputs, k.layers.Dense(12, activation="softmax")(k.layers.Flatten()(squared)))
    quantized = qat(model, splits.train, splits.val, epochs=1)
    int8 = convert(quantized, Precision.INT8, representative=splits.train.x[:16])
    assert_builtin_ops_only(int8)
    assert "MUL" in op_names(int8)


def test_qat_refuses_lstm_naming_the_layer_type(splits):
    lstm = models.build("lstm", window=200, channels=3, classes=12, units=4, dense_units=4)
    with pytest.raises(InputError, match=r"quantization-aware training: Layer lstm1:.*LSTM"):
        qat(lstm, splits.train, splits.val, epochs=1)


def test_qat_refuses_frozen_layers_it_would_retrain(splits):
    cnn = models.build("cnn", window=200, channels=3, classes=12, blocks=(4,), spectrogram=True)
    with pytest.raises(InputError, match="retrain the frozen layer.*spec_dft, spec_power"):
        qat(cnn, splits.train, splits.val, epochs=1)
