"""base.tflite as the MCU base's integer graph with a dynamic batch, so the host and the firmware run
the same integer model (and a head trained on the host is the head the MCU runs).

Converted with a dynamic batch, a Dense layer on a 3-D input becomes FULLY_CONNECTED without bias +
SHAPE/REDUCE_PROD/... + a separate int8 ADD of the bias (its own rounding), while the batch-1 conversion
fuses the bias into FULLY_CONNECTED: the two int8 models differ (by up to 6 steps on half the golden
dense bundle's features). ``batched_graph`` takes the batch-1 model and makes its batch dimension
dynamic: every activation tensor's shape signature gets -1 first, and every RESHAPE's target shape
(its constant shape input and its options) gets -1 in the batch place. Weights, quantization and ops
are untouched. ``same_graph_base`` keeps the result only when LiteRT, on a batch of windows, gives
exactly the bytes of the batch-1 model window by window (a graph whose other ops pin the batch, e.g. a
STRIDED_SLICE with constant bounds, fails that check and keeps the usual conversion).
"""

from __future__ import annotations

import numpy as np

from har_edge.runtime.interpreter import load_interpreter

CHECK_WINDOWS = 3


def _schema():
    from tensorflow.lite.python import schema_py_generated

    return schema_py_generated


def batched_graph(mcu_model: bytes) -> bytes:
    """``mcu_model`` (batch 1) with a dynamic batch dimension (see the module docstring)."""
    import flatbuffers

    schema = _schema()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(mcu_model, 0))
    reshape = {
        index
        for index, code in enumerate(model.operatorCodes)
        if max(code.builtinCode, code.deprecatedBuiltinCode) == schema.BuiltinOperator.RESHAPE
    }
    for graph in model.subgraphs:
        for tensor in graph.tensors:
            constant = tensor.buffer and model.buffers[tensor.buffer].data is not None
            if tensor.shape is not None and len(tensor.shape) and tensor.shape[0] == 1 and not constant:
                tensor.shapeSignature = np.array([-1, *tensor.shape[1:]], np.int32)
        for op in graph.operators:
            if op.opcodeIndex not in reshape:
                continue
            if len(op.inputs) > 1 and op.inputs[1] >= 0:
                buffer = model.buffers[graph.tensors[op.inputs[1]].buffer]
                if buffer.data is not None:
                    shape = np.frombuffer(bytes(buffer.data), np.int32).copy()
                    shape[0] = -1
                    buffer.data = np.frombuffer(shape.tobytes(), np.uint8)
            options = op.builtinOptions
            if (
                options is not None
                and getattr(options, "newShape", None) is not None
                and len(options.newShape)
            ):
                options.newShape = [-1, *list(options.newShape)[1:]]
    builder = flatbuffers.Builder(len(mcu_model) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _run(model: bytes, x: np.ndarray) -> np.ndarray:
    interpreter = load_interpreter(model, default_delegates=False)
    detail = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(detail["index"], list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(detail["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()


def same_graph_base(mcu_model: bytes, seed: int = 0) -> bytes | None:
    """The batched MCU graph when it runs a batch exactly as the MCU model runs each window, else None."""
    try:
        batched = batched_graph(mcu_model)
        detail = load_interpreter(mcu_model, default_delegates=False).get_input_details()[0]
        info = np.iinfo(detail["dtype"])
        rng = np.random.default_rng(seed)
        x = rng.integers(info.min, info.max + 1, size=(CHECK_WINDOWS, *detail["shape"][1:])).astype(
            detail["dtype"]
        )
        together = _run(batched, x)
        alone = np.concatenate([_run(mcu_model, window[None]) for window in x])
    except (RuntimeError, ValueError):
        return None
    return batched if together.shape == alone.shape and np.array_equal(together, alone) else None
