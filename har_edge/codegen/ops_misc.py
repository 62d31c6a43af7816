"""Lowering of the ops without weights: shape ops (no copy), SOFTMAX, table ops (RELU, RELU6,
RELU_N1_TO_1, LOGISTIC, TANH, QUANTIZE int8 -> int8), QUANTIZE float -> int8, DEQUANTIZE, ADD, MUL,
MEAN, pooling, CONCATENATION and PAD."""

from __future__ import annotations

import numpy as np

from har_edge.codegen import quant
from har_edge.codegen.graph import Graph, Op
from har_edge.codegen.lower import CArray, Layer, lowering, refuse, require_int8


@lowering("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
def reshape(graph: Graph, op: Op) -> Layer:
    x = graph.tensor(op.inputs[0])
    (out,) = graph.op_outputs(op)
    if x.nbytes != out.nbytes or x.dtype != out.dtype:
        raise refuse(op, f"{x.dtype} {list(x.shape)} -> {out.dtype} {list(out.shape)}", "same size and type")
    if x.dtype == "int8" and (x.single_scale() != out.single_scale() or x.single_zero_point() != out.single_zero_point()):
        raise refuse(op, "a reshape that changes quantization", "reshapes that keep scale and zero point")
    return Layer(op.index, op.name, (x.index,), (out.index,), alias=True)


@lowering("SOFTMAX")
def softmax(graph: Graph, op: Op) -> Layer:
    (x,) = graph.op_inputs(op)
    (out,) = graph.op_outputs(op)
    require_int8(op, x, out)
    depth = x.shape[-1]
    prefix = f"l{op.index}"
    table = quant.softmax_table(x.single_scale(), op.options.beta)
    fields = (f".outer = {x.size // depth}, .depth = {depth}, .table = {prefix}_table, "
              f".output_scale = {_float(out.single_scale())}, .output_zero = {out.single_zero_point()}")
    return Layer(op.index, op.name, (x.index,), (out.index,), call="har_softmax_s8(&{p}, {in0}, {out});",
                 params=("har_softmax_params", fields), arrays=[CArray(f"{prefix}_table", "float", table)])


def _float(value) -> str:
    """A C float literal that parses back to exactly this float32."""
    return f"{float(np.float32(value))!r}f"


def _table_layer(op: Op, x, out, table: np.ndarray) -> Layer:
    prefix = f"l{op.index}"
    return Layer(op.index, op.name, (x.index,), (out.index,), in_place=True,
                 call=f"har_lookup_s8({prefix}_table, {x.size}, {{in0}}, {{out}});",
                 arrays=[CArray(f"{prefix}_table", "int8_t", table)])


RELU_BOUNDS = {"RELU": (0.0, None), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}


@lowering(*RELU_BOUNDS)
def relu(graph: Graph, op: Op) -> Layer:
    (x,) = graph.op_inputs(op)
    (out,) = graph.op_outputs(op)
    require_int8(op, x, out)
    low, high = RELU_BOUNDS[op.name]
    lo, hi = quant.relu_bounds(low, high, out.single_scale(), out.single_zero_point())
    table = quant.requantize_table(x.single_scale(), x.single_zero_point(), out.single_scale(),
                                   out.single_zero_point(), lo, hi)
    return _table_layer(op, x, out, table)


@lowering("LOGISTIC", "TANH")
def float_function(graph: Graph, op: Op) -> Layer:
    (x,) = graph.op_inputs(op)
    (out,) = graph.op_outputs(op)
    require_int8(op, x, out)
    table = quant.float_function_table(op.name, x.single_scale(), x.single_zero_point(),
                                       out.single_scale(), out.single_zero_point())
    return _table_layer(op, x, out, table)
