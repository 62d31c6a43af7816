"""Lowering of float32 ops: an op whose first input and output are float32 activations gets a float
kernel (``har_*_f32``, ``runtime/*_f32.c``) that computes each output with the operations of TFLite's
reference float kernels in their order (see ``har_nn_f32.h``), so its bits match LiteRT's BUILTIN_REF
except where the C library's expf/tanhf is involved (``float_checks.inexact_ops``; the tolerance
held there is ``verify.FLOAT_TOLERANCE``). The op set is the int8 path's: FULLY_CONNECTED, CONV_2D,
DEPTHWISE_CONV_2D, MAX_POOL_2D, AVERAGE_POOL_2D, MEAN, ADD, MUL, SOFTMAX, LOGISTIC, TANH,
RELU/RELU6/RELU_N1_TO_1, CONCATENATION, PAD/PADV2 and RESHAPE/SQUEEZE/EXPAND_DIMS, fused activations
included. Weights and biases are float32 constants: int8 weights under float activations
(dynamic-range quantization) are refused, saying what to convert to instead.
"""

from __future__ import annotations

import numpy as np

from har_edge.codegen.float_checks import check_form
from har_edge.codegen.graph import Graph, Op, Tensor
from har_edge.codegen.lower import (
    CArray,
    Layer,
    Lowering,
    c_ints,
    contiguous_strides,
    fused_activation,
    refuse,
    shape4,
)
from har_edge.codegen.ops_conv import SCRATCH_ROWS, _window, fc_rows, padding
from har_edge.codegen.ops_misc import _broadcast_strides, operands, reshape
from har_edge.codegen.ops_shape import _axes

FLOAT_LOWERINGS: dict[str, Lowering] = {"RESHAPE": reshape, "SQUEEZE": reshape, "EXPAND_DIMS": reshape}
KERNEL_FILES = {
    "har_fc_f32": "fully_connected_f32.c",
    "har_conv_f32": "conv_f32.c",
    "har_depthwise_f32": "conv_f32.c",
    "har_max_pool_f32": "pool_f32.c",
    "har_avg_pool_f32": "pool_f32.c",
    "har_mean_f32": "pool_f32.c",
    "har_add_f32": "elementwise_f32.c",
    "har_mul_f32": "elementwise_f32.c",
    "har_clamp_f32": "elementwise_f32.c",
    "har_logistic_f32": "elementwise_f32.c",
    "har_tanh_f32": "elementwise_f32.c",
    "har_softmax_f32": "softmax_f32.c",
    "har_pad_f32": "shape_f32.c",
}
FLT_MAX = float(np.finfo(np.float32).max)
# TFLite's CalculateActivationRange for float: NONE clamps to the finite range
BOUNDS = {
    "NONE": (-FLT_MAX, FLT_MAX),
    "RELU": (0.0, FLT_MAX),
    "RELU_N1_TO_1": (-1.0, 1.0),
    "RELU6": (0.0, 6.0),
}
# standalone ops: TFLite's Relu has no upper clamp (an infinity stays infinite)
STANDALONE_BOUNDS = {"RELU": (0.0, float("inf")), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}


def float_lowering(graph: Graph, op: Op) -> Lowering | None:
    """The float32 lowering of ``op`` when its first input and its output are float32 (None: an int8
    op, or a QUANTIZE/DEQUANTIZE edge, for ``lower.LOWERINGS``); a float op without a kernel is refused."""
    outputs = graph.op_outputs(op)
    first = graph.op_inputs(op)[0] if op.inputs else None
    if not outputs or outputs[0].dtype != "float32" or first is None or first.dtype != "float32":
        return None
    function = FLOAT_LOWERINGS.get(op.name)
    if function is None:
        raise refuse(op, "no float32 kernel for this op", ", ".join(sorted(FLOAT_LOWERINGS)))
    check_form(graph, op)
    return function


def _lowering(*names: str):
    def register(function: Lowering) -> Lowering:
        FLOAT_LOWERINGS.update(dict.fromkeys(names, function))
        return function

    return register


def literal(value: float) -> str:
    """A C float literal (hexadecimal: exactly this float32), or INFINITY."""
    value = float(np.float32(value))
    if np.isinf(value):
        return "INFINITY" if value > 0 else "-INFINITY"
    return f"{value.hex()}f"


def _bounds(op: Op) -> str:
    lo, hi = BOUNDS[fused_activation(op)]
    return f".act_min = {literal(lo)}, .act_max = {literal(hi)}"


def _require_float(op: Op, *tensors: Tensor | None) -> None:
    for t in tensors:
        if t is not None and t.dtype != "float32":
            raise refuse(op, f"tensor {t.name!r} is {t.dtype}", "float32 activations in a float32 graph")


def _weighted_operands(graph: Graph, op: Op, channels_axis: int):
    """(input, weights, bias or None, output, output channels) of FC/CONV_2D/DEPTHWISE_CONV_2D, checked."""
    x, weights, bias = (graph.op_inputs(op) + [None])[:3]
    (out,) = graph.op_outputs(op)
    _require_float(op, x, out)
    if weights is None or weights.dtype in ("int8", "uint8", "int16"):
        raise refuse(
            op,
            f"weights {getattr(weights, 'name', '?')!r} are {getattr(weights, 'dtype', 'missing')} "
            "under float32 activations (dynamic-range quantization)",
            "float32 weights, or a full-integer model (int8 activations too: har-edge optimize "
            "--quantize int8, or TFLiteConverter with a representative_dataset and "
            "target_spec.supported_ops = [TFLITE_BUILTINS_INT8])",
        )
    if weights.dtype != "float32" or not weights.is_constant:
        raise refuse(op, f"weights {weights.name!r} are not a float32 constant", "constant float32 weights")
    channels = weights.shape[channels_axis] if weights.shape else 0
    if bias is not None and (bias.dtype != "float32" or not bias.is_constant or bias.size != channels):
        raise refuse(
            op, f"bias {bias.name!r}: {bias.dtype} {list(bias.shape)}", f"{channels} float32 constants"
        )
    return x, weights, bias, out, channels


def by_four(rows: np.ndarray) -> np.ndarray:
    """(units, k) weights as the float kernels read them: units padded with zero rows to a multiple of
    4, then per group of 4 units the k inputs x 4 units."""
    units, k = rows.shape
    padded = np.zeros((-(-units // 4) * 4, k), np.float32)
    padded[:units] = rows
    return padded.reshape(-1, 4, k).transpose(0, 2, 1).ravel()


def _weight_arrays(prefix: str, weights: np.ndarray, bias: Tensor | None) -> tuple[list[CArray], str]:
    arrays = [CArray(f"{prefix}_weights", "float", weights)]
    if bias is None:
        return arrays, f".weights = {prefix}_weights, .bias = 0, "
    arrays.append(CArray(f"{prefix}_bias", "float", bias.data.astype(np.float32).ravel()))
    return arrays, f".weights = {prefix}_weights, .bias = {prefix}_bias, "


def _layer(op: Op, x: Tensor, out: Tensor, **fields) -> Layer:
    """The layer of an op with one activation in and one out."""
    return Layer(op.index, op.name, (x.index,), (out.index,), **fields)


def _call(kernel: str, *inputs: str) -> str:
    args = ", ".join(f"HAR_F32_IN({x})" for x in inputs)
    return f"{kernel}(&{{p}}, {args}, HAR_F32_OUT({{out}}));"


@_lowering("FULLY_CONNECTED")
def fully_connected(graph: Graph, op: Op) -> Layer:
    x, weights, bias, out, units = _weighted_operands(graph, op, 0)
    rows = fc_rows(op, x, weights, out)
    depth = weights.shape[1]
    # per time step, over its dying input when no wider (int8's plan, ops_conv.fully_connected)
    in_place, scratch_rows = rows > 1 and units <= depth, min(rows, SCRATCH_ROWS)
    prefix = f"l{op.index}"
    arrays, fields = _weight_arrays(prefix, by_four(weights.data), bias)
    fields += f".row_scratch = HAR_F32_OUT({{scratch}}), .scratch_rows = {scratch_rows}, "
    return _layer(
        op,
        x,
        out,
        call=_call("har_fc_f32", "{in0}"),
        params=(
            "har_fc_f32_params",
            f".rows = {rows}, .depth = {depth}, .units = {units}, " + fields + _bounds(op),
        ),
        arrays=arrays,
        macs=rows * depth * units,
        in_place=in_place,
        in_place_scratch=4 * scratch_rows * units if in_place else 0,
    )


@_lowering("CONV_2D", "DEPTHWISE_CONV_2D")
def convolution(graph: Graph, op: Op) -> Layer:
    x, weights, bias, out, out_c = _weighted_operands(graph, op, 3 if op.name == "DEPTHWISE_CONV_2D" else 0)
    depthwise = op.name == "DEPTHWISE_CONV_2D"
    if len(weights.shape) != 4 or len(x.shape) != 4 or len(out.shape) != 4 or out.shape[3] != out_c:
        raise refuse(op, f"weights {list(weights.shape)} for input {list(x.shape)}", "4-D NHWC tensors")
    if depthwise:
        _, k_h, k_w, _ = weights.shape
        multiplier = out_c // x.shape[3]
        if weights.shape[0] != 1 or multiplier * x.shape[3] != out_c:
            raise refuse(op, f"weights {list(weights.shape)}", "(1, k_h, k_w, in_c * depth multiplier)")
        rows = weights.data.reshape(k_h * k_w, out_c)
        data = np.pad(rows, ((0, 0), (0, -out_c % 4))).ravel()  # each tap's channels padded to 4
        macs = out.size * k_h * k_w
    else:
        _, k_h, k_w, in_c = weights.shape
        if in_c != x.shape[3]:
            raise refuse(op, f"weights {list(weights.shape)} for input {list(x.shape)}", "no groups")
        multiplier, data, macs = 1, by_four(weights.data.reshape(out_c, -1)), out.size * k_h * k_w * in_c
    prefix = f"l{op.index}"
    arrays, fields = _weight_arrays(prefix, data, bias)
    kernel = "har_depthwise_f32" if depthwise else "har_conv_f32"
    return _layer(
        op,
        x,
        out,
        call=_call(kernel, "{in0}"),
        params=(
            "har_conv_f32_params",
            _window(op, x, out, k_h, k_w) + f".depth_multiplier = {multiplier}, " + fields + _bounds(op),
        ),
        arrays=arrays,
        macs=macs,
    )


@_lowering("MAX_POOL_2D", "AVERAGE_POOL_2D")
def pool(graph: Graph, op: Op) -> Layer:
    (x,) = graph.op_inputs(op)
    (out,) = graph.op_outputs(op)
    _require_float(op, x, out)
    if len(x.shape) != 4 or x.shape[0] != 1 or len(out.shape) != 4 or out.shape[3] != x.shape[3]:
        raise refuse(op, f"input {list(x.shape)}, output {list(out.shape)}", "4-D NHWC tensors with batch 1")
    o = op.options
    _, in_h, in_w, channels = x.shape
    _, out_h, out_w, _ = out.shape
    pad_top = padding(op, in_h, o.filterHeight, o.strideH, out_h)
    pad_left = padding(op, in_w, o.filterWidth, o.strideW, out_w)
    fields = (
        f".in_h = {in_h}, .in_w = {in_w}, .channels = {channels}, .out_h = {out_h}, .out_w = {out_w}, "
        f".k_h = {o.filterHeight}, .k_w = {o.filterWidth}, .stride_h = {o.strideH}, "
        f".stride_w = {o.strideW}, .pad_top = {pad_top}, .pad_left = {pad_left}, " + _bounds(op)
    )
    kernel = "har_max_pool_f32" if op.name == "MAX_POOL_2D" else "har_avg_pool_f32"
    return _layer(
        op,
        x,
        out,
        call=_call(kernel, "{in0}"),
        params=("har_pool_f32_params", fields),
    )


@_lowering("MEAN")
def mean(graph: Graph, op: Op) -> Layer:
    x = graph.tensor(op.inputs[0])
    (out,) = graph.op_outputs(op)
    _require_float(op, x, out)
    if len(x.shape) > 4:
        raise refuse(op, f"rank {len(x.shape)}", "rank <= 4")
    lead = 4 - len(x.shape)
    reduced = {(a % len(x.shape)) + lead for a in _axes(op, graph, 1, len(x.shape))}
    dims = shape4(x.shape)
    count = int(np.prod([dims[a] for a in reduced]))
    if out.size * count != x.size:
        raise refuse(op, f"output {list(out.shape)} for input {list(x.shape)}", "the reduced shape")
    fields = (
        f".out_dims = {c_ints(1 if a in reduced else d for a, d in enumerate(dims))}, "
        f".in_strides = {c_ints(contiguous_strides(dims))}, "
        f".red_dims = {c_ints(d if a in reduced else 1 for a, d in enumerate(dims))}, "
        f".count = {literal(count)}"
    )
    return _layer(
        op,
        x,
        out,
        call=_call("har_mean_f32", "{in0}"),
        params=("har_mean_f32_params", fields),
    )


@_lowering("ADD", "MUL")
def binary(graph: Graph, op: Op) -> Layer:
    a, b = graph.op_inputs(op)[:2]
    (out,) = graph.op_outputs(op)
    _require_float(op, a, b, out)
    if max(len(out.shape), len(a.shape), len(b.shape)) > 4:
        raise refuse(op, "rank > 4", "rank <= 4")
    out4 = shape4(out.shape)
    for t in (a, b):
        if any(d not in (1, o) for d, o in zip(shape4(t.shape), out4, strict=True)):
            raise refuse(op, f"input {list(t.shape)} for output {list(out.shape)}", "broadcastable shapes")
    prefix = f"l{op.index}"
    arrays: list[CArray] = []
    expressions, reads = operands(graph, op, (0, 1), prefix, arrays, ctype="float")
    fields = (
        f".dims = {c_ints(out4)}, .strides1 = {c_ints(_broadcast_strides(a.shape, out4))}, "
        f".strides2 = {c_ints(_broadcast_strides(b.shape, out4))}, " + _bounds(op)
    )
    return Layer(
        op.index,
        op.name,
        tuple(reads),
        (out.index,),
        call=_call(f"har_{op.name.lower()}_f32", *expressions),
        params=("har_binary_f32_params", fields),
        arrays=arrays,
        in_place=a.shape == out.shape and b.shape == out.shape,
    )


@_lowering("SOFTMAX", "LOGISTIC", "TANH", *STANDALONE_BOUNDS)
def unary(graph: Graph, op: Op) -> Layer:
    (x,) = graph.op_inputs(op)
    (out,) = graph.op_outputs(op)
    _require_float(op, x, out)
    if x.shape != out.shape:
        raise refuse(op, f"input {list(x.shape)} -> output {list(out.shape)}", "the same shape")
    buffers = "HAR_F32_IN({in0}), HAR_F32_OUT({out})"
    params = None
    if op.name == "SOFTMAX":
        depth = x.shape[-1] if x.shape else 1
        call = f"har_softmax_f32(&{{p}}, {buffers});"
        params = (
            "har_softmax_f32_params",
            f".outer = {x.size // depth}, .depth = {depth}, .beta = {literal(op.options.beta)}",
        )
    elif op.name in STANDALONE_BOUNDS:
        lo, hi = STANDALONE_BOUNDS[op.name]
        call = f"har_clamp_f32({literal(lo)}, {literal(hi)}, {x.size}, {buffers});"
    else:
        call = f"har_{op.name.lower()}_f32({x.size}, {buffers});"
    return _layer(op, x, out, call=call, params=params, in_place=True)


@_lowering("CONCATENATION")
def concatenation(graph: Graph, op: Op) -> Layer:
    (out,) = graph.op_outputs(op)
    parts = graph.op_inputs(op)
    _require_float(op, out, *parts)
    if fused_activation(op) != "NONE":
        raise refuse(op, "a fused activation", "CONCATENATION without activation")
    if not out.shape or any(len(p.shape) != len(out.shape) for p in parts):
        raise refuse(op, f"inputs {[list(p.shape) for p in parts]} for output {list(out.shape)}", "one rank")
    axis = op.options.axis % len(out.shape)
    outer = int(np.prod(out.shape[:axis], dtype=np.int64))
    sizes = [4 * int(np.prod(p.shape[axis:], dtype=np.int64)) for p in parts]  # bytes
    if sum(sizes) * outer != out.nbytes or any(
        p.nbytes != outer * size for p, size in zip(parts, sizes, strict=True)
    ):
        raise refuse(
            op, f"inputs {[list(p.shape) for p in parts]} for output {list(out.shape)}", "matching shapes"
        )
    prefix = f"l{op.index}"
    arrays = [CArray(f"{prefix}_sizes", "int32_t", np.array(sizes, np.int32))]
    expressions, reads = operands(graph, op, range(len(parts)), prefix, arrays, ctype="float")
    pointers = ", ".join(f"(const int8_t *)(const void *){e}" for e in expressions)
    return Layer(
        op.index,
        op.name,
        tuple(reads),
        (out.index,),
        call=f"har_concat_s8(&{{p}}, (const int8_t *const[]){{{pointers}}}, {{out}});",
        params=("har_concat_params", f".outer = {outer}, .count = {len(parts)}, .sizes = {prefix}_sizes"),
        arrays=arrays,
    )


@_lowering("PAD", "PADV2")
def pad(graph: Graph, op: Op) -> Layer:
    x, paddings = graph.op_inputs(op)[:2]
    (out,) = graph.op_outputs(op)
    _require_float(op, x, out)
    if len(x.shape) > 4 or paddings is None or not paddings.is_constant:
        raise refuse(op, "non-constant paddings or rank > 4", "constant paddings, rank <= 4")
    pairs = np.asarray(paddings.data, np.int64).reshape(-1, 2)
    if pairs.shape[0] != len(x.shape) or pairs.min() < 0:
        raise refuse(op, f"paddings {pairs.tolist()} for rank {len(x.shape)}", "one pair >= 0 per axis")
    if tuple(int(d) for d in np.asarray(x.shape) + pairs.sum(axis=1)) != tuple(out.shape):
        raise refuse(
            op,
            f"output {list(out.shape)} for input {list(x.shape)} padded by {pairs.tolist()}",
            "consistent shapes",
        )
    value = 0.0
    if op.name == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
        constant = graph.tensor(op.inputs[2])
        if not constant.is_constant or constant.dtype != "float32":
            raise refuse(op, "a pad value that is not a float32 constant", "a constant float32 pad value")
        value = float(np.ravel(constant.data)[0])
    lead = [0] * (4 - len(x.shape))
    fields = (
        f".in_dims = {c_ints(shape4(x.shape))}, .before = {c_ints(lead + pairs[:, 0].tolist())}, "
        f".out_dims = {c_ints(shape4(out.shape))}, .value = {literal(value)}"
    )
    return _layer(
        op,
        x,
        out,
        call=_call("har_pad_f32", "{in0}"),
        params=("har_pad_f32_params", fields),
    )
