"""The arrays of firmware/runtime/depthwise.c for one DEPTHWISE_CONV_2D: int16 weights packed per group of
4 channels, biases, and per-channel requantization (short-form triplets when every channel takes them,
else multipliers and shifts).

With triplets (requant.h's har_short_double, {multiplier, 2^(right-1) + (zero << right), right}), the
kernel's fast loops skip the doubling of the high multiply: the weights and biases come doubled. The
triplets' right shift may exceed ``quant.SHORT_RIGHT_MAX`` here, as far as the per-channel bounds of
the accumulators prove that the kernel's int32 sums cannot overflow (a depthwise layer of MobileNet
has channels with right shifts of 22)."""

from __future__ import annotations

import numpy as np

from har_edge.codegen import quant
from har_edge.codegen.graph import Tensor
from har_edge.codegen.lower import CArray

INT32_LIMIT = 1 << 31


def pack_weights(weights: np.ndarray) -> np.ndarray:
    """(k_h, k_w, out_c) int8 depthwise weights in the kernel's layout, as int16: the channels padded
    with zeros to a multiple of 4, then per group of 4 channels, tap by tap, the weights of channels
    c, c+2, c+1, c+3 (a DSP core reads them as two words [w_c | w_c+2], [w_c+1 | w_c+3])."""
    out_c = weights.shape[-1]
    taps = np.asarray(weights).reshape(-1, out_c)
    padded = np.zeros((taps.shape[0], -(-out_c // 4) * 4), np.int16)
    padded[:, :out_c] = taps
    groups = padded.reshape(taps.shape[0], -1, 4)[:, :, [0, 2, 1, 3]]
    return groups.transpose(1, 0, 2).ravel()


def accumulator_bounds(rows: np.ndarray, bias: np.ndarray, input_zero: int) -> np.ndarray:
    """Per channel, the largest |partial sum| of the kernel's accumulators over int8 inputs, for (channels,
    taps) weights: bias + sum_i (x_i - input_zero) * w_i (skipped padding taps add nothing), or, with
    the offset folded into the bias (``folded_biases``), that bias + sum_i x_i * w_i."""
    span = max(quant.INT8_MAX - input_zero, input_zero - quant.INT8_MIN)
    weights = np.abs(rows.astype(np.int64)).sum(axis=1)
    folded = np.abs(folded_biases(rows, bias, input_zero)) + -quant.INT8_MIN * weights
    return np.maximum(np.abs(bias.astype(np.int64)) + span * weights, folded)


def folded_biases(rows: np.ndarray, bias: np.ndarray, input_zero: int) -> np.ndarray:
    """bias - input_zero * sum_i w_i: the biases of windows inside the input, whose taps then need no
    input offset (sum_i (x_i - zero) * w_i = sum_i x_i * w_i - zero * sum_i w_i)."""
    return bias.astype(np.int64) - input_zero * rows.astype(np.int64).sum(axis=1)


def wide_triplets(multiplier, shift, output_zero: int, bounds: np.ndarray, constant) -> np.ndarray | None:
    """Triplets for right shifts of 1..31 where ``bounds`` (accumulator_bounds, below 2^30) prove the
    kernel's sum high + (high >> 31) + term stays int32, high = SMMULR(2 acc, multiplier); None when a
    channel cannot take one. ``constant`` (quant.constant_outputs) channels get (0, 2 v + 1, 1)."""
    mask, values = constant
    multiplier, right = np.asarray(multiplier, np.int64), -np.asarray(shift, np.int64)
    if np.any(~mask & ((right < 1) | (right > 31) | (bounds >= quant.SMALL_ACCUMULATOR))):
        return None
    right = np.where(mask, 1, right)
    term = (np.int64(1) << (right - 1)) + (np.int64(output_zero) << right)
    high = (2 * bounds * multiplier + (1 << 31)) >> 32  # |SMMULR(2 acc, m)| for |acc| <= bound
    if np.any(~mask & (high + 1 + np.abs(term) >= INT32_LIMIT)):
        return None
    term = np.where(mask, 2 * values + 1, term)
    return np.stack([np.where(mask, 0, multiplier), term, right], axis=1).astype(np.int32).ravel()


def arrays(prefix: str, x: Tensor, weights: Tensor, bias: Tensor | None, out: Tensor) -> list[CArray]:
    """``{prefix}_weights`` (int16, pack_weights; with folded_biases interleaved where folds_offset),
    ``{prefix}_bias`` (zeros without a bias tensor) and ``{prefix}_requant`` triplets, or
    ``{prefix}_multiplier`` / ``{prefix}_shift`` when some channel cannot take a triplet (the kernel's
    slow path)."""
    out_c = weights.shape[-1]
    rows = np.asarray(weights.data).reshape(-1, out_c).T
    b = np.zeros(out_c, np.int64) if bias is None else np.asarray(bias.data, np.int64).ravel()
    multiplier, shift = quant.conv_multipliers(x.single_scale(), weights.scale, out.single_scale(), out_c)
    constant = quant.constant_outputs(rows, b, multiplier, shift, out.single_zero_point(), quant.DOUBLE)
    b = np.where(constant[0], 0, b)  # a constant channel's triplet gives its output from an accumulator of 0
    bounds = accumulator_bounds(rows, b, x.single_zero_point())
    triplets = wide_triplets(multiplier, shift, out.single_zero_point(), bounds, constant)
    if triplets is None:
        b = np.asarray(b if bias is None else bias.data, np.int64).ravel()
        requant = [
            CArray(f"{prefix}_multiplier", "int32_t", multiplier),
            CArray(f"{prefix}_shift", "int32_t", shift),
        ]
    else:
        requant = [CArray(f"{prefix}_requant", "int32_t", triplets)]
    double = 1 if triplets is None else 2
    packed = double * pack_weights(weights.data)
    if triplets is not None and folds_offset(weights.shape, x.shape[-1]):
        packed = interleave_biases(packed, double * folded_biases(rows, b, x.single_zero_point()))
    return [
        CArray(f"{prefix}_weights", "int16_t", packed),
        *requant,
        CArray(f"{prefix}_bias", "int32_t", (double * b).astype(np.int32)),
    ]


def interleave_biases(packed: np.ndarray, biases: np.ndarray) -> np.ndarray:
    """Each group's 4 int32 ``biases`` (zeros past out_c) as 8 little-endian int16 before its taps in
    ``packed`` (pack_weights), where the kernel's 3x3 loop loads them with the weights' pointer."""
    groups = -(-len(biases) // 4)
    padded = np.zeros(groups * 4, "<i4")
    padded[: len(biases)] = biases
    return np.concatenate([padded.view("<i2").reshape(groups, 8), packed.reshape(groups, -1)], axis=1).ravel()


def folds_offset(weights_shape, in_c: int) -> bool:
    """Whether depthwise.c's whole 3x3 windows of multiplier 1 run with the input offset folded into
    biases it reads before each group's taps (interleave_biases): layers with triplets and this shape."""
    _, k_h, k_w, out_c = weights_shape
    return (k_h, k_w) == (3, 3) and out_c == in_c
