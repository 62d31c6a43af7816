"""Lowering of the ops without weights: shape ops (no copy), SOFTMAX, table ops (RELU, RELU6,
RELU_N1_TO_1, LOGISTIC, TANH, QUANTIZE int8 -> int8), QUANTIZE float -> int8, DEQUANTIZE, ADD, MUL,
MEAN, pooling, CONCATENATION and PAD."""

from __future__ import annotations

import math

import numpy as np

from har_edge.codegen import quant
from har_edge.codegen.graph import Graph, Op
from har_edge.codegen.lower import (
    CArray,
    Layer,
    c_ints,
    contiguous_strides,
    fused_activation,
    lowering,
    refuse,
    require_int8,
    shape4,
)


@lowering("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
def reshape(graph: Graph, op: Op) -> Layer:
    x = graph.tensor(op.inputs[0])
    (out,) = graph.op_outputs(op)
    if x.nbytes != out.nbytes or x.dtype != out.dtype:
        raise refuse(op, f"{x.dtype} {list(x.shape)} -> {out.dtype} {list(out.shape)}", "same size and type")
    if x.dtype == "int8" and (
        x.single_scale() != out.single_scale() or x.single_zero_point() != out.single_zero_point()
    ):
        raise refuse(op, "a reshape that changes quantization", "reshapes that keep scale and zero point")
    return Layer(op.index, op.name, (x.index,), (out.index,), alias=True)


@lowering("SOFTMAX")
def softmax(graph: Graph, op: Op) -> Layer:
    (x,) = graph.op_inputs(op)
    (out,) = graph.op_outputs(op)
    require_int8(op, x, out)
    if not (math.isclose(out.single_scale(), 1 / 256, rel_tol=1e-3) and out.single_zero_point() == -128):
        raise refuse(
            op,
            f"output scale {out.single_scale():g}, zero point {out.single_zero_point()}",
            "an int8 softmax output of scale 1/256 and zero point -128 (all TFLite accepts)",
        )
    depth = x.shape[-1]
    if depth > quant.SOFTMAX_MAX_DEPTH:
        limit = f"at most {quant.SOFTMAX_MAX_DEPTH} values per row"
        raise refuse(op, f"a softmax over {depth} values", limit)
    try:
        multiplier, shift, diff_min = quant.softmax_parameters(x.single_scale(), op.options.beta)
    except ValueError as exc:
        raise refuse(op, str(exc), "beta * input scale >= 2^-26") from exc
    fields = (
        f".outer = {x.size // depth}, .depth = {depth}, .multiplier = {multiplier}, "
        f".left_shift = {shift}, .diff_min = {diff_min}"
    )
    return Layer(
        op.index,
        op.name,
        (x.index,),
        (out.index,),
        call="har_softmax_s8(&{p}, {in0}, {out});",
        params=("har_softmax_params", fields),
    )


def _float(value) -> str:
    """A C float literal that parses back to exactly this float32."""
    return f"{float(np.float32(value))!r}f"


def _table_layer(op: Op, x, out, table: np.ndarray) -> Layer:
    prefix = f"l{op.index}"
    return Layer(
        op.index,
        op.name,
        (x.index,),
        (out.index,),
        in_place=True,
        call=f"har_lookup_s8({prefix}_table, {x.size}, {{in0}}, {{out}});",
        arrays=[CArray(f"{prefix}_table", "int8_t", table)],
    )


RELU_BOUNDS = {"RELU": (0.0, None), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}


@lowering(*RELU_BOUNDS)
def relu(graph: Graph, op: Op) -> Layer:
    (x,) = graph.op_inputs(op)
    (out,) = graph.op_outputs(op)
    require_int8(op, x, out)
    low, high = RELU_BOUNDS[op.name]
    lo, hi = quant.relu_bounds(low, high, out.single_scale(), out.single_zero_point())
    table = quant.requantize_table(
        x.single_scale(), x.single_zero_point(), out.single_scale(), out.single_zero_point(), lo, hi
    )
    return _table_layer(op, x, out, table)


@lowering("LOGISTIC", "TANH")
def float_function(graph: Graph, op: Op) -> Layer:
    (x,) = graph.op_inputs(op)
    (out,) = graph.op_outputs(op)
    require_int8(op, x, out)
    table = quant.float_function_table(
        op.name, x.single_scale(), x.single_zero_point(), out.single_scale(), out.single_zero_point()
    )
    return _table_layer(op, x, out, table)


def operands(
    graph: Graph, op: Op, positions, prefix: str, arrays: list[CArray], ctype: str = "int8_t"
) -> tuple[list[str], list[int]]:
    """C expressions of the given inputs: ``{inK}`` placeholders for activations (K counts the
    activations read), constant arrays of ``ctype`` (appended to ``arrays``) otherwise; and the
    activations read."""
    expressions, reads = [], []
    for position in positions:
        t = graph.tensor(op.inputs[position])
        if t.is_constant:
            name = f"{prefix}_const{position}"
            values = t.data.ravel().astype(np.float32 if ctype == "float" else np.int8)
            arrays.append(CArray(name, ctype, values))
            expressions.append(name)
        else:
            expressions.append(f"{{in{len(reads)}}}")
            reads.append(t.index)
    return expressions, reads


def _broadcast_strides(shape, out_shape4) -> list[int]:
    padded = shape4(tuple(shape))
    strides = contiguous_strides(padded)
    return [0 if d == 1 and o != 1 else s for d, o, s in zip(padded, out_shape4, strides, strict=True)]


def _binary(graph: Graph, op: Op, kernel: str, quant_fields: str) -> Layer:
    a, b = graph.op_inputs(op)[:2]
    (out,) = graph.op_outputs(op)
    require_int8(op, a, b, out)
    if len(out.shape) > 4:
        raise refuse(op, f"rank {len(out.shape)}", "rank <= 4")
    prefix = f"l{op.index}"
    arrays: list[CArray] = []
    (x, y), reads = operands(graph, op, (0, 1), prefix, arrays)
    out4 = shape4(out.shape)
    lo, hi = quant.activation_range(fused_activation(op), out.single_scale(), out.single_zero_point())
    fields = (
        f".dims = {c_ints(out4)}, .strides1 = {c_ints(_broadcast_strides(a.shape, out4))}, "
        f".strides2 = {c_ints(_broadcast_strides(b.shape, out4))}, .offset1 = {-a.single_zero_point()}, "
        f".offset2 = {-b.single_zero_point()}, .output_zero = {out.single_zero_point()}, "
        f".act_min = {lo}, .act_max = {hi}, {quant_fields}"
    )
    same_shape = a.shape == out.shape and b.shape == out.shape
    return Layer(
        op.index,
        op.name,
        tuple(reads),
        (out.index,),
        call=f"{kernel}(&{{p}}, {x}, {y}, {{out}});",
        params=("har_binary_params", fields),
        arrays=arrays,
        in_place=same_shape,
    )


@lowering("ADD")
def add(graph: Graph, op: Op) -> Layer:
    a, b = graph.op_inputs(op)[:2]
    (out,) = graph.op_outputs(op)
    require_int8(op, a, b, out)
    twice_max = 2.0 * float(max(a.single_scale(), b.single_scale()))
    m1, s1 = quant.quantize_multiplier(float(a.single_scale()) / twice_max)
    m2, s2 = quant.quantize_multiplier(float(b.single_scale()) / twice_max)
    mo, so = quant.quantize_multiplier(
        twice_max / float(np.float32((1 << quant.ADD_LEFT_SHIFT) * out.single_scale()))
    )
    fields = (
        f".multiplier1 = {m1}, .shift1 = {s1}, .multiplier2 = {m2}, .shift2 = {s2}, "
        f".multiplier = {mo}, .shift = {so}, .left_shift = {quant.ADD_LEFT_SHIFT}"
    )
    return _binary(graph, op, "har_add_s8", fields)


@lowering("MUL")
def mul(graph: Graph, op: Op) -> Layer:
    a, b = graph.op_inputs(op)[:2]
    (out,) = graph.op_outputs(op)
    require_int8(op, a, b, out)
    real = float(a.single_scale()) * float(b.single_scale()) / float(out.single_scale())
    m, s = quant.quantize_multiplier(real)
    return _binary(graph, op, "har_mul_s8", f".multiplier = {m}, .shift = {s}")


@lowering("QUANTIZE")
def quantize(graph: Graph, op: Op) -> Layer:
    (x,) = graph.op_inputs(op)
    (out,) = graph.op_outputs(op)
    require_int8(op, out)
    if x.dtype == "float32":
        call = (
            f"har_quantize_f32({_float(out.single_scale())}, {out.single_zero_point()}, {x.size}, "
            "(const float *)(const void *){in0}, {out});"
        )
        return Layer(op.index, op.name, (x.index,), (out.index,), call=call)
    require_int8(op, x)
    table = quant.requantize_table(
        x.single_scale(), x.single_zero_point(), out.single_scale(), out.single_zero_point()
    )
    return _table_layer(op, x, out, table)


@lowering("DEQUANTIZE")
def dequantize(graph: Graph, op: Op) -> Layer:
    (x,) = graph.op_inputs(op)
    (out,) = graph.op_outputs(op)
    require_int8(op, x)
    if out.dtype != "float32":
        raise refuse(op, f"output {out.dtype}", "int8 -> float32")
    prefix = f"l{op.index}"
    table = quant.dequantize_table(x.single_scale(), x.single_zero_point())
    call = f"har_dequantize_s8({prefix}_table, {x.size}, {{in0}}, (float *)(void *){{out}});"
    return Layer(
        op.index,
        op.name,
        (x.index,),
        (out.index,),
        call=call,
        arrays=[CArray(f"{prefix}_table", "float", table)],
    )
