"""Lowering of the multiply-accumulate ops: FULLY_CONNECTED (2-D, or 3-D applied per time step),
CONV_2D and DEPTHWISE_CONV_2D (NHWC, batch 1, SAME/VALID padding, any stride, no dilation), with
per-tensor or per-channel int8 weights (zero point 0) and int32 biases."""

from __future__ import annotations

import dataclasses

import numpy as np

from har_edge.codegen import depthwise, fc_wide, kernel_costs, quant, sparse
from har_edge.codegen.graph import Graph, Op, Tensor
from har_edge.codegen.lower import (
    CArray,
    Layer,
    fused_activation,
    lowering,
    refuse,
    require_int8,
)

SAME, VALID = 0, 1
SCRATCH_ROWS = 8  # rows of an in-place per-time-step FULLY_CONNECTED computed per pass


def interleave(rows: np.ndarray) -> np.ndarray:
    """(units, k) int8 weights in the layout of ``har_dot4``: units and k padded with zeros to
    multiples of 4, then per group of 4 units and per 4 inputs the 16 bytes rows 0..3 x inputs."""
    units, k = rows.shape
    padded = np.zeros((-(-units // 4) * 4, -(-k // 4) * 4), np.int8)
    padded[:units, :k] = rows
    groups, blocks = padded.shape[0] // 4, padded.shape[1] // 4
    return padded.reshape(groups, 4, blocks, 4).transpose(0, 2, 1, 3).ravel()


def interleave_pairs(rows: np.ndarray) -> np.ndarray:
    """(units, k) int8 weights in the layout of ``har_dot2x2`` (CONV_2D's dense kernel): units padded
    with zeros to a multiple of 2 and k to a multiple of 4, then per pair of units and per 4 inputs
    the 8 bytes rows 0, 1 x inputs."""
    units, k = rows.shape
    padded = np.zeros((-(-units // 2) * 2, -(-k // 4) * 4), np.int8)
    padded[:units, :k] = rows
    pairs, blocks = padded.shape[0] // 2, padded.shape[1] // 4
    return padded.reshape(pairs, 2, blocks, 4).transpose(0, 2, 1, 3).ravel()


def _constant_weights(op: Op, weights: Tensor, bias: Tensor | None, channels: int) -> None:
    if not weights.is_constant:
        raise refuse(op, f"weights {weights.name!r} are not constant", "constant int8 weights")
    if np.any(weights.zero_point != 0):
        raise refuse(op, "weights with a non-zero zero point", "symmetric int8 weights (zero point 0)")
    if weights.scale.size not in (1, channels):
        raise refuse(
            op,
            f"{weights.scale.size} weight scales for {channels} channels",
            "one scale per tensor or per output channel",
        )
    if bias is not None and (bias.dtype != "int32" or not bias.is_constant):
        raise refuse(
            op,
            f"bias {bias.name!r} is {'' if bias.is_constant else 'non-constant '}{bias.dtype}",
            "constant int32 biases",
        )


def _requant_arrays(
    prefix: str, x: Tensor, weights: Tensor, out: Tensor, channels: int, bias, rows, rounding, folded=None
):
    """multipliers, shifts, biases (``folded``, from folded_bias, when given), and the short-form
    triplets (quant.short_requant) when every channel takes them; ``rows`` are the (channels, taps)
    weights that bound the accumulators."""
    multiplier, shift = quant.conv_multipliers(x.single_scale(), weights.scale, out.single_scale(), channels)
    raw_bias = None if bias is None else bias.data
    constant = quant.constant_outputs(rows, raw_bias, multiplier, shift, out.single_zero_point(), rounding)
    live = ~constant[0]  # a constant channel's bias is zeroed below: it does not bound the accumulators
    small = quant.small_accumulators(
        rows[live], None if raw_bias is None else np.ravel(raw_bias)[live], x.single_zero_point()
    )
    short = quant.short_requant(multiplier, shift, out.single_zero_point(), rounding, small, constant)
    values = folded if folded is not None else None if bias is None else bias.data.astype(np.int32).ravel()
    if short is not None:  # the kernels then read only the triplets
        arrays = [CArray(f"{prefix}_requant", "int32_t", short)]
        values = None if values is None else np.where(constant[0], 0, values).astype(np.int32)
    else:
        arrays = [
            CArray(f"{prefix}_multiplier", "int32_t", multiplier),
            CArray(f"{prefix}_shift", "int32_t", shift),
        ]
    if values is not None:
        arrays.append(CArray(f"{prefix}_bias", "int32_t", values))
    return arrays


def folded_bias(op: Op, rows: np.ndarray, bias, input_zero: int) -> np.ndarray:
    """bias[c] + input_offset * sum_i w[c, i] with input_offset = -input_zero, for the kernels that add no
    offset to their inputs (har_dot.h): sum_i (x_i + offset) w_i = sum_i x_i w_i + offset sum_i w_i.
    Padding taps hold the zero point, whose x * w is then what the folded term takes back. Refuses
    weights whose partial sums could leave int32 (|bias| + 256 sum|w| >= 2^31)."""
    w = np.asarray(rows, np.int64).reshape(rows.shape[0], -1)
    b = np.zeros(w.shape[0], np.int64) if bias is None else np.asarray(bias.data, np.int64).ravel()
    if np.any(np.abs(b) + 256 * np.abs(w).sum(axis=1) >= 1 << 31):
        raise refuse(op, "accumulators that may leave int32", "biases and weights with int32 headroom")
    return (b - input_zero * w.sum(axis=1)).astype(np.int32)


def _tail_fields(prefix: str, op: Op, x: Tensor, out: Tensor, bias, arrays) -> str:
    lo, hi = quant.activation_range(fused_activation(op), out.single_scale(), out.single_zero_point())
    bias_name = f"{prefix}_bias" if any(a.name == f"{prefix}_bias" for a in arrays) else "0"
    if any(a.name == f"{prefix}_requant" for a in arrays):
        requant = f".multiplier = 0, .shift = 0, .requant = {prefix}_requant"
    elif not any(a.name == f"{prefix}_multiplier" for a in arrays):  # in the kernel's own constants (fc_wide)
        requant = ".multiplier = 0, .shift = 0, .requant = 0"
    else:
        requant = f".multiplier = {prefix}_multiplier, .shift = {prefix}_shift, .requant = 0"
    return (
        f".bias = {bias_name}, {requant}, "
        f".input_offset = {-x.single_zero_point()}, .output_zero = {out.single_zero_point()}, "
        f".act_min = {lo}, .act_max = {hi}"
    )


def _weighted_operands(graph: Graph, op: Op):
    """(input, weights, bias or None, output) of a FULLY_CONNECTED/CONV_2D/DEPTHWISE_CONV_2D, int8 checked."""
    x, weights, bias = (graph.op_inputs(op) + [None])[:3]
    (out,) = graph.op_outputs(op)
    require_int8(op, x, weights, out)
    return x, weights, bias, out


def fc_rows(op: Op, x: Tensor, weights: Tensor, out: Tensor) -> int:
    """The rows (time steps) of a FULLY_CONNECTED with (units, depth) weights, int8 or float32: the
    input's size over the depth; refuses another weights format and shapes that do not match."""
    if getattr(op.options, "weightsFormat", 0) != 0:
        raise refuse(op, "shuffled weights format", "the default weights format")
    if len(weights.shape) != 2:
        raise refuse(op, f"weights of shape {list(weights.shape)}", "2-D weights (units, depth)")
    units, depth = weights.shape
    if x.size % depth or out.size != x.size // depth * units:
        raise refuse(
            op,
            f"input {list(x.shape)} / output {list(out.shape)} do not match weights {list(weights.shape)}",
            "inputs whose last axis is the weights' depth",
        )
    return x.size // depth


@lowering("FULLY_CONNECTED")
def fully_connected(graph: Graph, op: Op) -> Layer:
    x, weights, bias, out = _weighted_operands(graph, op)
    rows = fc_rows(op, x, weights, out)
    units, depth = weights.shape
    _constant_weights(op, weights, bias, units)
    # per time step, row r's output only covers input rows <= r when no wider than an input row;
    # computed SCRATCH_ROWS rows at a time into a scratch, so the per-pass setup is shared
    in_place = rows > 1 and units <= depth
    scratch_rows = min(rows, SCRATCH_ROWS)
    prefix = f"l{op.index}"
    interleaved = interleave(weights.data)
    weight_arrays, weight_fields, choice = sparse.weight_arrays(
        prefix, interleaved, -(-units // 4), kernel_costs.fc_costs(interleaved, depth, _full_range(op, out))
    )
    requant = _requant_arrays(
        prefix,
        x,
        weights,
        out,
        units,
        bias,
        weights.data,
        quant.SINGLE,
        folded_bias(op, weights.data, bias, x.single_zero_point()),
    )
    arrays = [*weight_arrays, *requant]
    wide = fc_wide.wide_form(prefix, weights.data, requant, choice)
    if wide is not None:
        arrays, weight_fields, choice = wide
    fields = (
        f".rows = {rows}, .depth = {depth}, .units = {units}, "
        + weight_fields
        + f".row_scratch = {{scratch}}, .scratch_rows = {scratch_rows}, "
        + _tail_fields(prefix, op, x, out, bias, arrays)
    )
    return Layer(
        op.index,
        op.name,
        (x.index,),
        (out.index,),
        call=f"{_kernel('har_fc', choice)}(&{{p}}, {{in0}}, {{out}});",
        params=("har_fc_params", fields),
        arrays=arrays,
        macs=rows * depth * units,
        in_place=in_place,
        in_place_scratch=scratch_rows * units if in_place else 0,
        kernel=choice.to_dict(),
    )


def _full_range(op: Op, out: Tensor) -> bool:
    """Whether the fused activation clamps nothing of the int8 range."""
    activation = fused_activation(op)
    return quant.activation_range(activation, out.single_scale(), out.single_zero_point()) == (-128, 127)


def fc_expected_instructions(op: Op, out: Tensor, weights: np.ndarray, rows: int) -> float:
    """Expected DSP instructions of FULLY_CONNECTED ``op`` (output ``out``) with these (units, depth)
    int8 weights applied to ``rows`` time steps, in the form ``sparse.choose`` takes (its fitted
    per-group and per-block costs)."""
    interleaved = interleave(weights)
    groups = -(-weights.shape[0] // 4)
    costs = kernel_costs.fc_costs(interleaved, weights.shape[1], _full_range(op, out))
    dense = groups * costs[0] + interleaved.size // 16 * costs[1]
    return rows * dense * sparse.choose(interleaved, groups, costs).expected_instruction_ratio


def _kernel(family: str, choice: sparse.KernelChoice) -> str:
    suffix = {"block_sparse": "_sparse", "wide": "_wide"}.get(choice.format, "")
    return f"{family}{suffix}_s8"


def padding(op: Op, in_size: int, kernel: int, stride: int, out_size: int) -> int:
    """TFLite's leading padding along one axis (``ComputePaddingHeightWidth``); checks the output size."""
    code = op.options.padding
    if code == SAME:
        expected = (in_size + stride - 1) // stride
    elif code == VALID:
        expected = (in_size + stride - kernel) // stride
    else:
        raise refuse(op, f"padding code {code}", "SAME or VALID")
    if expected != out_size:
        raise refuse(
            op,
            f"output size {out_size} does not follow from input {in_size}, kernel {kernel}, stride {stride}",
            "consistent shapes",
        )
    return max((out_size - 1) * stride + kernel - in_size, 0) // 2


def _window(op: Op, x: Tensor, out: Tensor, k_h: int, k_w: int) -> str:
    options = op.options
    if getattr(options, "dilationHFactor", 1) != 1 or getattr(options, "dilationWFactor", 1) != 1:
        raise refuse(op, f"dilation {options.dilationHFactor}x{options.dilationWFactor}", "dilation 1")
    if len(x.shape) != 4 or x.shape[0] != 1 or len(out.shape) != 4:
        raise refuse(op, f"input shape {list(x.shape)}", "4-D NHWC input with batch 1")
    _, in_h, in_w, in_c = x.shape
    _, out_h, out_w, out_c = out.shape
    pad_top = padding(op, in_h, k_h, options.strideH, out_h)
    pad_left = padding(op, in_w, k_w, options.strideW, out_w)
    return (
        f".in_h = {in_h}, .in_w = {in_w}, .in_c = {in_c}, .out_h = {out_h}, .out_w = {out_w}, "
        f".out_c = {out_c}, .k_h = {k_h}, .k_w = {k_w}, .stride_h = {options.strideH}, "
        f".stride_w = {options.strideW}, .pad_top = {pad_top}, .pad_left = {pad_left}, "
    )


@lowering("CONV_2D")
def conv_2d(graph: Graph, op: Op) -> Layer:
    x, weights, bias, out = _weighted_operands(graph, op)
    if len(weights.shape) != 4 or len(x.shape) != 4 or weights.shape[3] != x.shape[3]:
        raise refuse(
            op,
            f"weights {list(weights.shape)} for input {list(x.shape)}",
            "weights (out_c, k_h, k_w, in_c) with in_c of the input (no groups)",
        )
    out_c, k_h, k_w, in_c = weights.shape
    _constant_weights(op, weights, bias, out_c)
    geometry = _window(op, x, out, k_h, k_w)
    stride_w = op.options.strideW
    pad_left = padding(op, x.shape[2], k_w, stride_w, out.shape[2])
    prefix = f"l{op.index}"
    groups, interleaved = -(-out_c // 4), interleave(weights.data.reshape(out_c, -1))
    costs = kernel_costs.sparse_conv_costs(x.shape, out.shape, (k_h, k_w), pad_left)
    weight_arrays, weight_fields, choice = sparse.weight_arrays(
        prefix, interleaved, groups, kernel_costs.CONV_DENSE_COSTS, costs
    )
    if choice.format == "dense":  # the dense kernel takes its channels by pairs
        pairs = interleave_pairs(weights.data.reshape(out_c, -1))
        weight_arrays = [CArray(f"{prefix}_weights", "int8_t", pairs)]
        choice = dataclasses.replace(choice, dense_weight_bytes=pairs.size)
    arrays = [
        *weight_arrays,
        *_requant_arrays(
            prefix,
            x,
            weights,
            out,
            out_c,
            bias,
            weights.data.reshape(out_c, -1),
            quant.DOUBLE,
            folded_bias(op, weights.data.reshape(out_c, -1), bias, x.single_zero_point()),
        ),
    ]
    fields = (
        geometry + weight_fields + ".scratch = {scratch}, " + _tail_fields(prefix, op, x, out, bias, arrays)
    )
    macs = out.size * k_h * k_w * in_c
    return Layer(
        op.index,
        op.name,
        (x.index,),
        (out.index,),
        call=f"{_kernel('har_conv', choice)}(&{{p}}, {{in0}}, {{out}});",
        params=("har_conv_params", fields),
        arrays=arrays,
        macs=macs,
        scratch=kernel_costs.conv_scratch_bytes(x.shape, out.shape, (k_h, k_w), (stride_w, pad_left))
        if choice.format == "dense"
        else kernel_costs.sparse_scratch_bytes(
            x.shape,
            out.shape,
            (k_h, k_w),
            (op.options.strideH, padding(op, x.shape[1], k_h, op.options.strideH, out.shape[1]), pad_left),
            sparse.max_group_blocks(interleaved, groups),
        ),
        kernel=choice.to_dict(),
    )


@lowering("DEPTHWISE_CONV_2D")
def depthwise_conv_2d(graph: Graph, op: Op) -> Layer:
    x, weights, bias, out = _weighted_operands(graph, op)
    if len(weights.shape) != 4 or weights.shape[0] != 1 or len(x.shape) != 4:
        raise refuse(op, f"weights {list(weights.shape)}", "depthwise weights (1, k_h, k_w, out_c)")
    _, k_h, k_w, out_c = weights.shape
    multiplier = out_c // x.shape[3]
    if multiplier * x.shape[3] != out_c:
        raise refuse(
            op, f"{out_c} output channels for {x.shape[3]} inputs", "out_c = in_c * depth multiplier"
        )
    _constant_weights(op, weights, bias, out_c)
    geometry = _window(op, x, out, k_h, k_w)
    prefix = f"l{op.index}"
    arrays = depthwise.arrays(prefix, x, weights, bias, out)
    fields = (
        geometry
        + f".depth_multiplier = {multiplier}, .weights = (const int8_t *){prefix}_weights, .scratch = 0, "
        + _tail_fields(prefix, op, x, out, bias, arrays)
    )
    return Layer(
        op.index,
        op.name,
        (x.index,),
        (out.index,),
        call="har_depthwise_s8(&{p}, {in0}, {out});",
        params=("har_conv_params", fields),
        arrays=arrays,
        macs=out.size * k_h * k_w,
    )
