"""Lowering of the reducing and re-arranging ops: MEAN, MAX_POOL_2D, AVERAGE_POOL_2D,
CONCATENATION and PAD/PADV2 (int8, input and output quantized alike where TFLite requires it)."""

from __future__ import annotations

import numpy as np

from har_edge.codegen import quant
from har_edge.codegen.graph import Graph, Op, Tensor
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
from har_edge.codegen.ops_conv import padding
from har_edge.codegen.ops_misc import operands

MEAN_SUM_LIMIT = 1 << 24  # possible sums tabulated at generation time


def _same_quantization(op: Op, a: Tensor, b: Tensor) -> None:
    if a.single_scale() != b.single_scale() or a.single_zero_point() != b.single_zero_point():
        raise refuse(
            op,
            f"{a.name!r} and {b.name!r} are quantized differently",
            "the same scale and zero point on input and output",
        )


def _axes(op: Op, graph: Graph, position: int, rank: int) -> list[int]:
    t = graph.tensor(op.inputs[position])
    if not t.is_constant:
        raise refuse(op, "axes are not constant", "constant axes")
    values = [int(v) for v in np.ravel(t.data)]
    if any(not -rank <= v < rank for v in values):
        raise refuse(op, f"axes {values} for rank {rank}", f"axes in [-{rank}, {rank})")
    return values


@lowering("MEAN")
def mean(graph: Graph, op: Op) -> Layer:
    x = graph.tensor(op.inputs[0])
    (out,) = graph.op_outputs(op)
    require_int8(op, x, out)
    if len(x.shape) > 4:
        raise refuse(op, f"rank {len(x.shape)}", "rank <= 4")
    raw_axes = _axes(op, graph, 1, len(x.shape))
    lead = 4 - len(x.shape)
    reduced = {(a % len(x.shape)) + lead for a in raw_axes}
    dims = shape4(x.shape)
    count = int(np.prod([dims[a] for a in reduced]))
    if count * 256 > MEAN_SUM_LIMIT:
        raise refuse(op, f"a mean over {count} values", f"at most {MEAN_SUM_LIMIT // 256} values per output")
    sums = np.arange(-128 * count, 127 * count + 1, dtype=np.int64)
    outputs = quant.mean_outputs(
        sums, count, x.single_scale(), x.single_zero_point(), out.single_scale(), out.single_zero_point()
    )
    prefix = f"l{op.index}"
    thresholds = quant.monotone_thresholds(outputs, int(sums[0]))
    out_dims = [1 if a in reduced else d for a, d in enumerate(dims)]
    red_dims = [d if a in reduced else 1 for a, d in enumerate(dims)]
    fields = (
        f".out_dims = {c_ints(out_dims)}, .in_strides = {c_ints(contiguous_strides(dims))}, "
        f".red_dims = {c_ints(red_dims)}, .thresholds = {prefix}_thresholds"
    )
    return Layer(
        op.index,
        op.name,
        (x.index,),
        (out.index,),
        call="har_mean_s8(&{p}, {in0}, {out});",
        params=("har_mean_params", fields),
        arrays=[CArray(f"{prefix}_thresholds", "int32_t", thresholds)],
    )


@lowering("MAX_POOL_2D", "AVERAGE_POOL_2D")
def pool(graph: Graph, op: Op) -> Layer:
    (x,) = graph.op_inputs(op)
    (out,) = graph.op_outputs(op)
    require_int8(op, x, out)
    _same_quantization(op, x, out)
    if len(x.shape) != 4 or x.shape[0] != 1:
        raise refuse(op, f"input shape {list(x.shape)}", "4-D NHWC input with batch 1")
    o = op.options
    _, in_h, in_w, channels = x.shape
    _, out_h, out_w, _ = out.shape
    pad_top = padding(op, in_h, o.filterHeight, o.strideH, out_h)
    pad_left = padding(op, in_w, o.filterWidth, o.strideW, out_w)
    lo, hi = quant.activation_range(fused_activation(op), out.single_scale(), out.single_zero_point())
    fields = (
        f".in_h = {in_h}, .in_w = {in_w}, .channels = {channels}, .out_h = {out_h}, .out_w = {out_w}, "
        f".k_h = {o.filterHeight}, .k_w = {o.filterWidth}, .stride_h = {o.strideH}, "
        f".stride_w = {o.strideW}, .pad_top = {pad_top}, .pad_left = {pad_left}, "
        f".act_min = {lo}, .act_max = {hi}"
    )
    kernel = "har_max_pool_s8" if op.name == "MAX_POOL_2D" else "har_avg_pool_s8"
    return Layer(
        op.index,
        op.name,
        (x.index,),
        (out.index,),
        call=f"{kernel}(&{{p}}, {{in0}}, {{out}});",
        params=("har_pool_params", fields),
    )


@lowering("CONCATENATION")
def concatenation(graph: Graph, op: Op) -> Layer:
    (out,) = graph.op_outputs(op)
    parts = graph.op_inputs(op)
    require_int8(op, out, *parts)
    if fused_activation(op) != "NONE":
        raise refuse(op, "a fused activation", "CONCATENATION without activation")
    for part in parts:
        _same_quantization(op, part, out)
    axis = op.options.axis % len(out.shape)
    outer = int(np.prod(out.shape[:axis], dtype=np.int64))
    sizes = [int(np.prod(p.shape[axis:], dtype=np.int64)) for p in parts]
    prefix = f"l{op.index}"
    arrays = [CArray(f"{prefix}_sizes", "int32_t", np.array(sizes, np.int32))]
    expressions, reads = operands(graph, op, range(len(parts)), prefix, arrays)
    fields = f".outer = {outer}, .count = {len(parts)}, .sizes = {prefix}_sizes"
    pointers = "(const int8_t *const[]){" + ", ".join(expressions) + "}"
    return Layer(
        op.index,
        op.name,
        tuple(reads),
        (out.index,),
        call=f"har_concat_s8(&{{p}}, {pointers}, {{out}});",
        params=("har_concat_params", fields),
        arrays=arrays,
    )


@lowering("PAD", "PADV2")
def pad(graph: Graph, op: Op) -> Layer:
    x, paddings = graph.op_inputs(op)[:2]
    (out,) = graph.op_outputs(op)
    require_int8(op, x, out)
    _same_quantization(op, x, out)
    if len(x.shape) > 4 or paddings is None or not paddings.is_constant:
        raise refuse(op, "non-constant paddings or rank > 4", "constant paddings, rank <= 4")
    before = [int(v) for v in np.asarray(paddings.data).reshape(-1, 2)[:, 0]]
    after = [int(v) for v in np.asarray(paddings.data).reshape(-1, 2)[:, 1]]
    if min(before + after) < 0:
        raise refuse(op, f"negative paddings {before}/{after}", "paddings >= 0")
    value = out.single_zero_point()
    if op.name == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
        constant = graph.tensor(op.inputs[2])
        if not constant.is_constant:
            raise refuse(op, "a non-constant pad value", "a constant pad value")
        value = int(np.ravel(constant.data)[0])
    lead = [0] * (4 - len(x.shape))
    fields = (
        f".in_dims = {c_ints(shape4(x.shape))}, .before = {c_ints(lead + before)}, "
        f".out_dims = {c_ints(shape4(out.shape))}, .value = {value}"
    )
    return Layer(
        op.index,
        op.name,
        (x.index,),
        (out.index,),
        call="har_pad_s8(&{p}, {in0}, {out});",
        params=("har_pad_params", fields),
    )
