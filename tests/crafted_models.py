"""Hand-built int8 .tflite models for the generator's hostile-input tests and the fuzz campaign's
``firmware`` surface: ``build`` packs tensors and ops into a flatbuffer with the schema module that
ships in ai-edge-litert, and ``CRAFTED`` holds models whose declared shapes or parameters disagree
with what the kernels read and write (each once compiled into a program that wrote out of bounds)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

_NP = {"int8": np.int8, "int32": np.int32, "float32": np.float32, "int64": np.int64}
_TYPES = {"float32": 0, "int32": 2, "int8": 9, "int64": 4}


@dataclass
class T:
    shape: tuple[int, ...]
    dtype: str = "int8"
    scale: float | list[float] | None = 0.05
    zero_point: int = 0
    data: np.ndarray | None = None
    name: str = ""
    signature: tuple[int, ...] | None = None


@dataclass
class Op:
    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: object = None
    opcode: int | None = None  # a forced opcode index (out of range in a hostile model)
    extra: dict = field(default_factory=dict)


def schema():
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def options(kind: str, **values):
    """A schema options object, e.g. ``options("Softmax", beta=1.0)``."""
    obj = getattr(schema(), f"{kind}OptionsT")()
    for key, value in values.items():
        setattr(obj, key, value)
    return obj


_OPTION_TYPES = {
    "SoftmaxOptionsT": "SoftmaxOptions",
    "Pool2DOptionsT": "Pool2DOptions",
    "Conv2DOptionsT": "Conv2DOptions",
    "DepthwiseConv2DOptionsT": "DepthwiseConv2DOptions",
    "ConcatenationOptionsT": "ConcatenationOptions",
    "FullyConnectedOptionsT": "FullyConnectedOptions",
    "AddOptionsT": "AddOptions",
    "MulOptionsT": "MulOptions",
    "ReshapeOptionsT": "ReshapeOptions",
    "ReducerOptionsT": "ReducerOptions",
    "PadOptionsT": "PadOptions",
}


def build(tensors: list[T], ops: list[Op], inputs=(0,), outputs=None) -> bytes:
    import flatbuffers

    s = schema()
    model = s.ModelT()
    model.version = 3
    model.buffers = [s.BufferT()]
    codes: list[str] = []
    graph = s.SubGraphT()
    graph.tensors = []
    for i, t in enumerate(tensors):
        tensor = s.TensorT()
        tensor.shape = list(t.shape)
        if t.signature is not None:
            tensor.shapeSignature = list(t.signature)
        tensor.type = _TYPES[t.dtype]
        tensor.name = (t.name or f"t{i}").encode()
        if t.scale is not None:
            q = s.QuantizationParametersT()
            scales = [t.scale] if np.isscalar(t.scale) else list(t.scale)
            q.scale = [float(v) for v in scales]
            q.zeroPoint = [t.zero_point] * len(scales)
            q.quantizedDimension = 0 if len(scales) == 1 else len(t.shape) - 1 if t.dtype == "int8" else 0
            tensor.quantization = q
        tensor.buffer = 0
        if t.data is not None:
            buffer = s.BufferT()
            buffer.data = list(np.asarray(t.data, _NP[t.dtype]).tobytes())
            model.buffers.append(buffer)
            tensor.buffer = len(model.buffers) - 1
        graph.tensors.append(tensor)
    graph.operators = []
    for op in ops:
        if op.name not in codes:
            codes.append(op.name)
        operator = s.OperatorT()
        operator.opcodeIndex = codes.index(op.name) if op.opcode is None else op.opcode
        operator.inputs, operator.outputs = list(op.inputs), list(op.outputs)
        if op.options is not None:
            operator.builtinOptionsType = getattr(s.BuiltinOptions, _OPTION_TYPES[type(op.options).__name__])
            operator.builtinOptions = op.options
        graph.operators.append(operator)
    graph.inputs = list(inputs)
    graph.outputs = [len(tensors) - 1] if outputs is None else list(outputs)
    model.subgraphs = [graph]
    model.operatorCodes = []
    for name in codes:
        code = s.OperatorCodeT()
        code.builtinCode = getattr(s.BuiltinOperator, name)
        code.deprecatedBuiltinCode = min(code.builtinCode, 127)
        code.version = 1
        model.operatorCodes.append(code)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def int8_values(shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(-20, 20, shape).astype(np.int8)


def unary(name: str, in_shape, out_shape, opts=None, out_dtype="int8", in_dtype="int8") -> bytes:
    return build([T(in_shape, in_dtype), T(out_shape, out_dtype)], [Op(name, (0,), (1,), opts)])


def softmax_nan_beta() -> bytes:
    return unary("SOFTMAX", (1, 8), (1, 8), options("Softmax", beta=float("nan")))


def add_model(a_shape, b_shape, out_shape, b_const=None) -> bytes:
    b = T(b_shape, data=b_const)
    return build([T(a_shape), b, T(out_shape)], [Op("ADD", (0, 1), (2,), options("Add"))])


def concat_model(out_shape) -> bytes:
    parts = [T((1, 600)), T((1, 4000), data=np.full((1, 4000), 65, np.int8)), T(out_shape)]
    return build(parts, [Op("CONCATENATION", (0, 1), (2,), options("Concatenation", axis=1))])


def mean_model(out_shape) -> bytes:
    tensors = [T((1, 20, 4)), T((1,), "int32", None, data=np.array([1], np.int32)), T(out_shape)]
    return build(tensors, [Op("MEAN", (0, 1), (2,), options("Reducer", keepDims=False))])


def pool_model(out_shape, stride=1) -> bytes:
    o = options("Pool2D", padding=1, strideH=stride, strideW=stride, filterHeight=2, filterWidth=1)
    return build([T((1, 10, 1, 4)), T(out_shape)], [Op("MAX_POOL_2D", (0,), (1,), o)])


def conv_model(out_shape, weights_shape=(4, 3, 1, 2), stride=1, depthwise=False) -> bytes:
    name = "DEPTHWISE_CONV_2D" if depthwise else "CONV_2D"
    kind = "DepthwiseConv2D" if depthwise else "Conv2D"
    o = options(kind, padding=1, strideH=stride, strideW=stride, dilationHFactor=1, dilationWFactor=1)
    channels = weights_shape[3] if depthwise else weights_shape[0]
    tensors = [
        T((1, 10, 1, 2)),
        T(weights_shape, data=int8_values(weights_shape)),
        T((channels,), "int32", 0.0025, data=np.zeros(channels, np.int32)),
        T(out_shape),
    ]
    return build(tensors, [Op(name, (0, 1, 2), (3,), o)])


def fc_model(weights_shape=(4, 8), bias=4, out_shape=(1, 4)) -> bytes:
    tensors = [
        T((1, 8)),
        T(weights_shape, data=int8_values(weights_shape)),
        T((bias,), "int32", 0.0025, data=np.zeros(bias, np.int32)),
        T(out_shape),
    ]
    return build(tensors, [Op("FULLY_CONNECTED", (0, 1, 2), (3,), options("FullyConnected"))])


def pad_model(out_shape) -> bytes:
    paddings = np.array([[0, 0], [2, 2], [0, 0]], np.int32)
    tensors = [T((1, 10, 3)), T((3, 2), "int32", None, data=paddings), T(out_shape)]
    return build(tensors, [Op("PAD", (0, 1), (2,))])


def relu_chain(n_ops: int) -> bytes:
    tensors = [T((1, 4)) for _ in range(n_ops + 1)]
    return build(tensors, [Op("RELU", (i,), (i + 1,)) for i in range(n_ops)])


# name -> (model bytes, words the refusal must contain)
CRAFTED = {
    "softmax output smaller than its input": (
        unary("SOFTMAX", (1, 600), (1, 8), options("Softmax", beta=1.0)),
        "output shape",
    ),
    "relu output smaller than its input": (unary("RELU", (1, 600), (1, 8)), "output shape"),
    "logistic output smaller than its input": (unary("LOGISTIC", (1, 600), (1, 8)), "output shape"),
    "quantize output smaller than its input": (unary("QUANTIZE", (1, 600), (1, 8)), "output shape"),
    "dequantize output smaller than its input": (
        unary("DEQUANTIZE", (1, 600), (1, 8), out_dtype="float32"),
        "output shape",
    ),
    "concatenation output smaller than its inputs": (concat_model((1, 8)), "output shape"),
    "add with a mismatched broadcast": (add_model((1, 8), (1, 3), (1, 8), int8_values((1, 3))), "broadcast"),
    "add with a larger constant than the output": (
        add_model((1, 8), (1, 600), (1, 8), int8_values((1, 600))),
        "broadcast",
    ),
    "mean with a small output": (mean_model((1, 1)), "output of 1 values"),
    "max pool with a wrong channel count": (pool_model((1, 10, 1, 9)), "channels"),
    "conv with more output channels than weights": (conv_model((1, 10, 1, 9)), "channels"),
    "depthwise with more output channels than weights": (
        conv_model((1, 10, 1, 9), (1, 3, 1, 4), depthwise=True),
        "channels",
    ),
    "pad with an inconsistent output": (pad_model((1, 10, 3)), "output shape"),
    "conv with stride 0": (conv_model((1, 10, 1, 4), stride=0), "strideH 0"),
    "pool with stride 0": (pool_model((1, 10, 1, 4), stride=0), "strideH 0"),
    "depthwise over zero input channels": (
        build(
            [T((1, 10, 1, 0)), T((1, 3, 1, 4), data=int8_values((1, 3, 1, 4))), T((1, 10, 1, 4))],
            [
                Op(
                    "DEPTHWISE_CONV_2D",
                    (0, 1),
                    (2,),
                    options("DepthwiseConv2D", padding=1, strideH=1, strideW=1),
                )
            ],
        ),
        "dimensions >= 1",
    ),
    "fully connected with a short bias": (fc_model(bias=2), "biases"),
    "softmax with a NaN beta": (softmax_nan_beta(), "beta"),
    "a constant as the model output": (
        build(
            [T((1, 4)), T((1, 4)), T((1, 4), data=int8_values((1, 4)))],
            [Op("RELU", (0,), (1,))],
            outputs=(2,),
        ),
        "constant",
    ),
    "a bad opcode index": (build([T((1, 4)), T((1, 4))], [Op("RELU", (0,), (1,), opcode=7)]), "opcode_index"),
    "a negative quantization scale": (
        build([T((1, 4)), T((1, 4), scale=-0.5)], [Op("RELU", (0,), (1,))]),
        "scale",
    ),
    "a zero quantization scale": (
        build([T((1, 4)), T((1, 4), scale=0.0)], [Op("RELU", (0,), (1,))]),
        "scale",
    ),
    "an op reading a tensor no op wrote": (
        build([T((1, 4)), T((1, 4)), T((1, 4))], [Op("ADD", (0, 1), (2,), options("Add"))]),
        "before any op writes",
    ),
    "softmax without options": (unary("SOFTMAX", (1, 8), (1, 8)), "options"),
    "softmax with conv options": (
        unary("SOFTMAX", (1, 8), (1, 8), options("Conv2D", strideH=1, strideW=1)),
        "options",
    ),
    "relu with two inputs": (
        build(
            [T((1, 4)), T((1, 4)), T((1, 4))],
            [Op("RELU", (0, 0), (2,)), Op("RELU", (0,), (1,))],
            outputs=(1,),
        ),
        "inputs",
    ),
    "a 2000-op model": (relu_chain(2000), "at most 1024 ops"),
}
