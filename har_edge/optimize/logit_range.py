"""The int8 range of a classifier's logits (the tensor a final softmax reads), fitted for the argmax.

Post-training calibration gives every int8 tensor the min..max its calibration windows reach. For the
logits of a softmax classifier that range is wrong at both ends:

- the top end is saturated by new users: on real HAPT (dense, seed 0) the calibration logits reached
  22.8 (200 training windows) while a test user lying down reached 41 for LAYING and 37 for
  WALKING_DOWNSTAIRS; both clipped to 127, the tie went to the lower class index, and 25 of 1,303 test
  windows (1.9 points) were lost to int8 (float 0.812, int8 0.787);
- the bottom end is wasted: logits reached -91 (-158 on the test users), where softmax probabilities
  are 0 long before, so one int8 step was 0.45 logits and near-ties became ties.

``logit_range`` keeps what the softmax and the argmax need instead: from the lowest top logit of any
calibration window minus ``FLOOR_MARGIN`` (below that a logit's probability rounds to 0 at the int8
output's 1/256 step) to ``HEADROOM`` times the largest calibration logit. On the model above: 0.814
(the float model: 0.812). ``with_logit_range`` writes that range into a converted int8 model's
SOFTMAX input tensor; every int8 kernel derives its multipliers from the tensors' scales, so the
producing FULLY_CONNECTED and the SOFTMAX (LiteRT and the generated C alike) follow.
"""

from __future__ import annotations

import numpy as np

from har_edge.optimize.split import activation_name, dense_weights, unwrap_layer

FLOOR_MARGIN = 8.0  # exp(-8) = 3.4e-4 < half the int8 softmax output's 1/256 step
HEADROOM = 2.0  # x the largest calibration logit; test users reached 1.5x on real HAPT


def classifier_logits(model, samples: np.ndarray) -> np.ndarray | None:
    """The float logits of ``model``'s final softmax Dense layer (plain or in a QAT wrapper) on
    ``samples`` (the model's input layout), or None when the model does not end in one."""
    from har_edge.tfcompat import keras

    last = model.layers[-1]
    inner = unwrap_layer(last)
    if type(inner).__name__ != "Dense" or activation_name(inner) != "softmax":
        return None
    features = keras().Model(model.inputs, last.input)
    kernel, bias = dense_weights(last)
    batches = [features(samples[i : i + 256], training=False).numpy() for i in range(0, len(samples), 256)]
    return np.concatenate(batches).reshape(len(samples), -1) @ kernel + bias


def logit_range(logits: np.ndarray) -> tuple[float, float]:
    """(low, high) for the int8 logits tensor from calibration ``logits`` (windows, classes); it
    holds 0, as every TFLite int8 range does."""
    low = max(float(logits.min()), float(logits.max(axis=1).min()) - FLOOR_MARGIN)
    high = HEADROOM * float(logits.max())
    return min(low, 0.0), max(high, 0.0, low + 1e-3)


def with_logit_range(tflite: bytes, low: float, high: float) -> bytes:
    """``tflite`` with the int8 input tensor of its single SOFTMAX quantized over [low, high]
    (asymmetric, zero point in range); returned unchanged when the model has no such SOFTMAX (float
    models, several softmaxes, logits read by another operator or a model output)."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(tflite, 0))
    softmax = {
        i
        for i, code in enumerate(model.operatorCodes)
        if max(code.builtinCode, code.deprecatedBuiltinCode) == schema.BuiltinOperator.SOFTMAX
    }
    graph = model.subgraphs[0]
    ops = [op for op in graph.operators if op.opcodeIndex in softmax]
    if len(model.subgraphs) != 1 or len(ops) != 1:
        return tflite
    logits = int(ops[0].inputs[0])
    tensor = graph.tensors[logits]
    readers = [op for op in graph.operators if logits in list(op.inputs)]
    quantization = tensor.quantization
    if (
        tensor.type != schema.TensorType.INT8
        or len(readers) != 1
        or logits in list(graph.outputs)
        or quantization is None
        or quantization.scale is None
        or len(quantization.scale) != 1
    ):
        return tflite
    scale = (high - low) / 255.0
    quantization.scale = np.array([scale], np.float32)
    quantization.zeroPoint = np.array([int(np.clip(round(-128 - low / scale), -128, 127))], np.int64)
    quantization.min = quantization.max = None
    builder = flatbuffers.Builder(len(tflite) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
