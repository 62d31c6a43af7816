"""TFLite conversion at four precisions, calibration windows, quantization-aware training, size figures.

Every model is traced as a concrete function (batch dimension dynamic, or fixed at 1 for
microcontrollers) and converted with TFLite builtin ops only — never Flex/SELECT_TF_OPS — so it runs on
LiteRT and tflite-runtime, and the int8 fixed-batch variant on TFLite Micro.

Caveats: dynamic-range quantization leaves tensors under 1024 elements (e.g. the dense model's first
kernel) in float32; a Dense layer on a 3-D input with a dynamic batch brings SHAPE/REDUCE_PROD ops that
TFLite Micro lacks (``fixed_batch=True`` avoids them); recurrent layers convert only with a fixed batch.
"""

from __future__ import annotations

from enum import StrEnum
from types import ModuleType

import numpy as np

from har_edge import models
from har_edge.data.windows import WindowSet
from har_edge.errors import InputError
from har_edge.optimize.logit_range import classifier_logits, logit_range, with_logit_range
from har_edge.optimize.split import activation_name, unwrap_layer
from har_edge.tfcompat import tfmot
from har_edge.tflite_info import gzip_size
from har_edge.train import TrainConfig, fit

DEFAULT_REPRESENTATIVE_WINDOWS = 200


class Precision(StrEnum):
    FLOAT32 = "float32"
    FLOAT16 = "float16"
    DYNAMIC = "dynamic"
    INT8 = "int8"

    @classmethod
    def parse(cls, value: Precision | str) -> Precision:
        try:
            return cls(value)
        except ValueError as exc:
            valid = ", ".join(p.value for p in cls)
            raise InputError(f"unknown precision {value!r}; choose one of {valid}") from exc


def convert(
    model,
    precision: Precision | str,
    *,
    representative: np.ndarray | None = None,
    int8_io: bool = False,
    fixed_batch: bool | None = None,
    fit_logit_range: bool = True,
) -> bytes:
    """A .tflite flatbuffer of ``model`` at ``precision``.

    ``float32``: no quantization. ``float16``: float16 weights, float compute on most CPUs. ``dynamic``:
    int8 weights, activations quantized on the fly. ``int8``: full-integer post-training quantization
    calibrated on ``representative`` windows ((n, window, channels) or already in the model's input
    layout, normalized like the training data; ignored by the other precisions), with float input and
    output around the int8 graph unless ``int8_io=True`` (int8 tensors in and out).
    ``fixed_batch=True`` fixes the input to one window (shape [1, ...]), the microcontroller variant;
    the default (None) fixes it only for recurrent layers, whose builtin TFLite kernels need it.
    ``fit_logit_range`` (int8): the logits a final softmax reads get the range the argmax needs rather
    than the calibration's min..max (``har_edge.optimize.logit_range``: on real HAPT the dense model's
    int8 drop went from 2.5 points to none).
    """
    precision = Precision.parse(precision)
    if fixed_batch is None:
        fixed_batch = requires_fixed_batch(model)
    if int8_io and precision is not Precision.INT8:
        raise InputError(f"int8_io needs precision int8, got {precision.value}")
    _require_static_batch_for_recurrent_layers(model, fixed_batch)
    samples = _calibration_samples(model, representative) if precision is Precision.INT8 else None
    tf = _tensorflow()
    converter = _converter(model, batch=1 if fixed_batch else None)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if precision is not Precision.FLOAT32:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if precision is Precision.FLOAT16:
        converter.target_spec.supported_types = [tf.float16]
    if samples is not None:
        converter.representative_dataset = lambda: ([sample[None]] for sample in samples)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if int8_io:
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    tflite = bytes(converter.convert())
    logits = classifier_logits(model, samples) if samples is not None and fit_logit_range else None
    return tflite if logits is None else with_logit_range(tflite, *logit_range(logits))


def representative_windows(
    x: np.ndarray, n: int = DEFAULT_REPRESENTATIVE_WINDOWS, seed: int = 0
) -> np.ndarray:
    """``n`` windows drawn without replacement from ``x`` (all of them if it has fewer), in their
    original order, for int8 calibration. Pass normalized training windows (any layout, windows first)."""
    if np.ndim(x) < 2 or len(x) == 0:
        raise InputError(
            f"representative windows: expected an array of n >= 1 windows, got shape {np.shape(x)}"
        )
    if n < 1:
        raise InputError(f"representative windows: n must be >= 1, got {n}")
    if len(x) <= n:
        return np.asarray(x, dtype=np.float32)
    chosen = np.sort(np.random.default_rng(seed).choice(len(x), size=n, replace=False))
    return np.asarray(x[chosen], dtype=np.float32)


def qat(
    model,
    train: WindowSet,
    val: WindowSet,
    *,
    epochs: int = 3,
    batch_size: int = 64,
    learning_rate: float = 1e-5,
    seed: int = 0,
    progress: bool = False,
    preserve_sparsity: bool = False,
):
    """Quantization-aware training: tfmot's default 8-bit scheme, fine-tuned on normalized windows
    (early stopping on validation loss, as in ``train.fit``). ``model`` is left untouched.

    The learning rate is low on purpose: the quantizer ranges settle by moving averages at any rate,
    while the weights only need nudging (on 4 synthetic training subjects, 1e-4 cost 7 points of
    held-out accuracy, 1e-5 none).

    Returns the QAT model (fake-quantization wrappers that keep the layer names, so split points still
    apply; float in/out); ``convert(qat_model, Precision.INT8, representative=...)`` makes the int8
    .tflite. The cnn works as is: tfmot puts no fake-quant between a convolution and its
    BatchNormalization (the converter folds them) and knows Reshape, Add, ReLU and pooling;
    ``Multiply``, which tfmot does not know, gets an output quantizer like ``Add`` (int8 MUL).
    Refused with ``InputError``: layers tfmot cannot quantize (LSTM) and frozen layers with weights,
    e.g. the cnn's spectrogram filters (tfmot would retrain them). Caveats: split heads are
    QuantizeWrappers, not plain layers; loading a saved QAT model needs tfmot's ``quantize_scope()``.
    """
    from har_edge.tfcompat import seed_everything

    config = TrainConfig(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=seed)
    require_windows(model, train.x, "training windows")
    require_windows(model, val.x, "validation windows")
    _refuse_frozen_quantized_layers(model)
    seed_everything(seed)
    quantized = _quantize_aware(model, preserve_sparsity)
    fit(quantized, train, val, config, progress=progress)
    _relu_ranges_from_zero(quantized)
    return quantized


def size_figures(tflite_bytes: bytes) -> dict[str, int]:
    """Raw and gzip-compressed size of a .tflite, and its weights (constant tensors of rank >= 2 —
    kernels, not biases) with how many are exactly zero. Pruning shows in ``gzip_bytes``, not in
    ``size_bytes``: a .tflite stores zeros like any other weight."""
    weights = _constant_kernels(tflite_bytes)
    return {
        "size_bytes": len(tflite_bytes),
        "gzip_bytes": gzip_size(tflite_bytes),
        "weights": sum(w.size for w in weights),
        "zero_weights": sum(int(np.count_nonzero(w == 0)) for w in weights),
    }


def require_windows(model, x: np.ndarray, what: str) -> None:
    """Raise ``InputError`` unless ``x`` holds n >= 1 windows for ``model``: (n, window, channels), or
    already in the model's input layout (e.g. flat (n, window * channels) for the dense model)."""
    expected = tuple(model.input_shape[1:])
    shape = np.shape(x)
    size = int(np.prod(expected))
    windows_for_flat_model = len(expected) == 1 and len(shape) == 3 and shape[1] * shape[2] == size
    if len(shape) >= 2 and shape[0] >= 1 and (shape[1:] == expected or windows_for_flat_model):
        return
    if len(expected) == 1:
        wanted = f"(n, window, channels) with window * channels = {size}, or (n, {size})"
    else:
        wanted = f"(n, {', '.join(str(d) for d in expected)})"
    raise InputError(
        f"{what}: expected shape {wanted}, n >= 1 (model input {model.input_shape}); got {shape}"
    )


def model_input(model, x: np.ndarray, what: str) -> np.ndarray:
    """Windows (n, window, channels) checked by ``require_windows`` and reshaped to ``model``'s input
    layout as float32."""
    require_windows(model, x, what)
    return models.to_model_input(model, np.asarray(x, dtype=np.float32))


def requires_fixed_batch(model) -> bool:
    """True for models with recurrent layers (LSTM, GRU): TFLite's builtin sequence kernels need a
    static batch, a dynamic one would need Flex tensor-list ops."""
    from har_edge.tfcompat import keras

    return any(isinstance(layer, keras().layers.RNN) for layer in model.layers)


# ---------------------------------------------------------------------------------------------- helpers


def _tensorflow() -> ModuleType:
    from har_edge.tfcompat import tensorflow

    return tensorflow()


def _converter(model, batch: int | None):
    """A converter over ``model`` traced in inference mode for input shape [batch, ...]."""
    tf = _tensorflow()
    spec = tf.TensorSpec([batch, *model.input_shape[1:]], tf.float32)

    def serve(window):
        return model(window, training=False)

    function = tf.function(serve).get_concrete_function(spec)
    return tf.lite.TFLiteConverter.from_concrete_functions([function], model)


def _calibration_samples(model, representative: np.ndarray | None) -> np.ndarray:
    if representative is None:
        raise InputError(
            "int8 conversion needs representative windows (n, window, channels), normalized like the "
            "training data, to calibrate activation ranges (see representative_windows)"
        )
    return model_input(model, representative, "representative windows")


def _require_static_batch_for_recurrent_layers(model, fixed_batch: bool) -> None:
    if requires_fixed_batch(model) and not fixed_batch:
        raise InputError(
            f"model {model.name!r} has recurrent layers, which convert to builtin TFLite ops only with a "
            "fixed batch: pass fixed_batch=True (or leave it None: automatic)"
        )


def _quantize_aware(model, preserve_sparsity: bool = False):
    """``model`` with tfmot's fake-quantization wrappers; Multiply is annotated like Add (output only).
    ``preserve_sparsity`` uses tfmot's prune-preserving scheme so a pruned model's zeros stay zero.

    A layer tfmot cannot quantize (e.g. LSTM) is an ``InputError`` naming it.
    """
    from har_edge.tfcompat import keras

    k = keras()
    quantization = tfmot().quantization.keras
    registry = quantization.default_8bit.Default8BitQuantizeRegistry()

    def annotate(layer):
        config = (
            registry.get_quantize_config(k.layers.Add()) if isinstance(layer, k.layers.Multiply) else None
        )
        return quantization.quantize_annotate_layer(layer, quantize_config=config)

    try:
        with quantization.quantize_scope():  # to deserialize the Multiply annotation
            annotated = k.models.clone_model(model, clone_function=annotate)
            if preserve_sparsity:
                scheme = tfmot().experimental.combine.Default8BitPrunePreserveQuantizeScheme()
                return quantization.quantize_apply(annotated, scheme, quantized_layer_name_prefix="")
            return quantization.quantize_apply(annotated, quantized_layer_name_prefix="")
    except RuntimeError as exc:  # tfmot: "Layer lstm1:<class '...LSTM'> is not supported. You can ..."
        raise InputError(
            f"quantization-aware training: {str(exc).split('. ')[0]}; use post-training int8 instead "
            "(convert with Precision.INT8 and representative windows)"
        ) from exc


def _relu_ranges_from_zero(model) -> None:
    """Start the learned output range of every ReLU-activated layer at 0. tfmot's moving-average
    quantizers start at -6 and drift towards the batches' minimum (0 after a ReLU) only slowly: after
    the demo's fine-tuning the ranges still began at about -4.3, so the int8 zero points were -12 to
    -19. Those layers lost 45 % of their int8 levels (those below 0, never used) and, on the MCU, the
    kernels' full-range loops: the demo's qat+int8 dense took 440,840 instructions against int8's
    261,720. A ReLU output has no negative value, so the range [0, max] quantizes the same outputs
    on a finer grid."""
    for layer in model.layers:
        inner = unwrap_layer(layer)
        relu = activation_name(inner) in ("relu", "relu6") or type(inner).__name__ == "ReLU"
        if not relu:
            continue
        for weight in layer.weights:
            if weight.name.rsplit("/", 1)[-1] in ("post_activation_min:0", "output_min:0"):
                weight.assign(np.maximum(weight.numpy(), 0.0))


def _refuse_frozen_quantized_layers(model) -> None:
    """tfmot's QuantizeWrapper makes every weight it quantizes trainable, so QAT would retrain frozen
    layers (e.g. the cnn's fixed spectrogram filters)."""
    registry = tfmot().quantization.keras.default_8bit.Default8BitQuantizeRegistry()
    frozen = [
        layer.name
        for layer in model.layers
        if not layer.trainable
        and registry.supports(layer)
        and registry.get_quantize_config(layer).get_weights_and_quantizers(layer)
    ]
    if frozen:
        raise InputError(
            f"quantization-aware training would retrain the frozen layer(s) {', '.join(frozen)} (tfmot "
            "trains every weight it quantizes); use post-training int8 instead"
        )


def _constant_kernels(tflite_bytes: bytes) -> list[np.ndarray]:
    """Rank >= 2 tensors stored in the flatbuffer (weights), as float16/float32/int8/uint8 arrays."""
    _tensorflow()
    from tensorflow.lite.python import schema_py_generated as schema

    dtypes = {
        schema.TensorType.FLOAT32: np.float32,
        schema.TensorType.FLOAT16: np.float16,
        schema.TensorType.INT8: np.int8,
        schema.TensorType.UINT8: np.uint8,
    }
    flatbuffer = schema.Model.GetRootAs(tflite_bytes, 0)
    kernels = []
    for s in range(flatbuffer.SubgraphsLength()):
        subgraph = flatbuffer.Subgraphs(s)
        for t in range(subgraph.TensorsLength()):
            tensor = subgraph.Tensors(t)
            data = flatbuffer.Buffers(tensor.Buffer()).DataAsNumpy()
            if tensor.ShapeLength() >= 2 and tensor.Type() in dtypes and not isinstance(data, int):
                kernels.append(data.view(dtypes[tensor.Type()]))
    return kernels
