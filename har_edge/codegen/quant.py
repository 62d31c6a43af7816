"""Fixed-point parameters exactly as TFLite computes them at Prepare time, so the C kernels need no
float: multipliers and shifts (``QuantizeMultiplier``), activation clamps, and the 256-entry tables
and thresholds of ops whose int8 result TFLite derives through float math.

``requantize`` is the one integer rescale every kernel applies (``requant.h`` in C): TFLite's
``MultiplyByQuantizedMultiplier``, which LiteRT's reference kernels round in two ways (single rounding
in FULLY_CONNECTED, gemmlowp's double rounding elsewhere; checked against BUILTIN_REF).

SOFTMAX is gemmlowp fixed point in TFLite's reference kernel too (``softmax_parameters``).

Caveat: the tables of LOGISTIC and TANH call the C library's ``expf``/``tanhf`` through
ctypes, as TFLite does at Prepare time; without a loadable libm they fall back to numpy, which may
differ in the last bit.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import math

import numpy as np

INT8_MIN, INT8_MAX = -128, 127
ADD_LEFT_SHIFT = 20  # TFLite's headroom shift for int8 ADD/SUB


def round_half_away(x: float) -> int:
    """``std::round``/``TfLiteRound``: halves go away from zero."""
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """(int32 multiplier in [2^30, 2^31), shift) with real ~= multiplier * 2^(shift - 31), as TFLite's
    ``QuantizeMultiplier`` (frexp, round half away, shifts below -31 flush to zero, above 30 clamp)."""
    if real == 0.0:
        return 0, 0
    if real < 0 or not math.isfinite(real):
        raise ValueError(f"multiplier must be a finite number >= 0, got {real}")
    fraction, shift = math.frexp(real)
    q = round_half_away(fraction * (1 << 31))
    if q == 1 << 31:
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        return (1 << 31) - 1, 30
    return q, shift


SINGLE, DOUBLE = "single", "double"


def requantize(x: np.ndarray | int, multiplier: int, shift: int, rounding: str = DOUBLE) -> np.ndarray:
    """``MultiplyByQuantizedMultiplier`` on int64 arrays, as ``requant.h`` computes it. ``single``
    (LiteRT's reference FULLY_CONNECTED): (x * m + 2^(30 - shift)) >> (31 - shift). ``double`` (the
    other reference kernels): gemmlowp's SaturatingRoundingDoublingHighMul of x * 2^max(shift, 0),
    then RoundingDivideByPOT by max(-shift, 0), both rounding half away from zero."""
    x = np.asarray(x, np.int64)
    if rounding == SINGLE:
        total = 31 - shift
        return (x * np.int64(multiplier) + (np.int64(1) << np.int64(total - 1))) >> np.int64(total)
    left, right = max(shift, 0), max(-shift, 0)
    a = ((x << left) + (1 << 31)) % (1 << 32) - (1 << 31)  # int32 wrap, as the C shift does
    product = a * np.int64(multiplier)
    nudged = product + np.where(product >= 0, 1 << 30, 1 - (1 << 30))
    high = np.sign(nudged) * (np.abs(nudged) >> 31)
    high = np.where((a == -(1 << 31)) & (multiplier == -(1 << 31)), (1 << 31) - 1, high)
    if right == 0:
        return high
    mask = (1 << right) - 1
    threshold = (mask >> 1) + (high < 0)
    return (high >> right) + ((high & mask) > threshold)


SMALL_ACCUMULATOR = 1 << 30  # requant.h's short HAR_ROUND_DOUBLE form needs |acc| below this


def small_accumulators(weights: np.ndarray, bias: np.ndarray | None, input_zero: int) -> bool:
    """Whether every int32 accumulator bias[c] + sum_i (x_i - input_zero) * w[c, i] of int8 inputs stays
    below 2^30 in magnitude, for (channels, taps) weights: |bias| + max|x - zero| * sum|w| per channel
    (padding taps add 0, so skipping or padding them keeps the bound)."""
    w = np.abs(np.asarray(weights, np.int64).reshape(weights.shape[0], -1)).sum(axis=1)
    span = max(INT8_MAX - input_zero, input_zero - INT8_MIN)
    b = np.zeros_like(w) if bias is None else np.abs(np.asarray(bias, np.int64).ravel())
    return bool(np.all(b + span * w < SMALL_ACCUMULATOR))


SHORT_RIGHT_MAX = 21  # with the output zero point folded in (zero << right) the short sums stay int32


def constant_outputs(
    weights: np.ndarray, bias: np.ndarray | None, multiplier, shift, output_zero: int, rounding
):
    """(mask, values): the channels whose int8 output does not depend on the input, and that output
    (before the activation clamp). A channel pruned to all-zero weights accumulates only its bias;
    TFLite gives it a tiny weight scale (about 4e-9) whose multiplier needs a right shift beyond the
    short form's range, which used to cost the whole layer its short requantization."""
    w = np.asarray(weights, np.int64).reshape(weights.shape[0], -1)
    mask = ~w.any(axis=1)
    b = np.zeros(w.shape[0], np.int64) if bias is None else np.asarray(bias, np.int64).ravel()
    values = np.array(
        [
            int(requantize(b[c], int(multiplier[c]), int(shift[c]), rounding)) + output_zero
            for c in range(len(b))
        ],
        np.int64,
    )
    return mask, np.clip(values, INT8_MIN, INT8_MAX)


def short_requant(
    multiplier: np.ndarray,
    shift: np.ndarray,
    output_zero: int,
    rounding: str,
    small: bool = True,
    constant: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray | None:
    """Flat per-channel triplets (multiplier, 2^(right-1) + (output_zero << right), right) for
    requant.h's short forms, which add the output zero point for free, or None when some channel
    cannot take them. ``double`` (har_short_double): needs ``small`` accumulators (|acc| < 2^30) and
    right = -shift in [1, 21]. ``single`` (har_short_single): right = -shift - 1 in [1, 21].
    ``constant`` (``constant_outputs``) channels get (0, 2 v + 1, 1), which gives v from an
    accumulator of 0 (the caller zeroes their bias) whatever their shift."""
    shift = np.asarray(shift, np.int64)
    multiplier = np.asarray(multiplier, np.int64)
    right = -shift if rounding == DOUBLE else -shift - 1
    rounding_term = None
    if constant is not None:
        mask, values = constant
        multiplier, right = np.where(mask, 0, multiplier), np.where(mask, 1, right)
        rounding_term = np.where(mask, 2 * values + 1, 0)
    if (rounding == DOUBLE and not small) or np.any(right < 1) or np.any(right > SHORT_RIGHT_MAX):
        return None
    term = (np.int64(1) << (right - 1)) + (np.int64(output_zero) << right)
    if rounding_term is not None:
        term = np.where(constant[0], rounding_term, term)
    return np.stack([multiplier, term, right], axis=1).astype(np.int32).ravel()


def multipliers(real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ``quantize_multiplier`` of float64 reals -> (int32 multipliers, int32 shifts)."""
    pairs = [quantize_multiplier(float(r)) for r in np.atleast_1d(real)]
    return np.array([p[0] for p in pairs], np.int32), np.array([p[1] for p in pairs], np.int32)


def conv_multipliers(input_scale, filter_scales, output_scale, channels: int):
    """Per-output-channel multipliers of FULLY_CONNECTED / CONV_2D / DEPTHWISE_CONV_2D: in double,
    input_scale * filter_scale[c] / output_scale; a per-tensor filter scale is repeated."""
    filter_scales = np.asarray(filter_scales, np.float32).astype(np.float64)
    if filter_scales.size == 1:
        filter_scales = np.repeat(filter_scales, channels)
    real = np.float64(np.float32(input_scale)) * filter_scales / np.float64(np.float32(output_scale))
    return multipliers(real)


def quantize_float(value: float, scale, zero_point: int) -> int:
    """TFLite's activation-bound quantization: zero_point + round(value / scale), in float32."""
    return zero_point + round_half_away(float(np.float32(value) / np.float32(scale)))


def activation_range(activation: str, scale, zero_point: int) -> tuple[int, int]:
    """``CalculateActivationRangeQuantized`` for int8: the clamp of a fused NONE/RELU/RELU6/RELU_N1_TO_1."""
    lo, hi = INT8_MIN, INT8_MAX
    if activation == "RELU":
        lo = max(lo, quantize_float(0.0, scale, zero_point))
    elif activation == "RELU6":
        lo = max(lo, quantize_float(0.0, scale, zero_point))
        hi = min(hi, quantize_float(6.0, scale, zero_point))
    elif activation == "RELU_N1_TO_1":
        lo = max(lo, quantize_float(-1.0, scale, zero_point))
        hi = min(hi, quantize_float(1.0, scale, zero_point))
    elif activation != "NONE":
        raise ValueError(f"unknown fused activation {activation}")
    return lo, hi


INT8_VALUES = np.arange(INT8_MIN, INT8_MAX + 1, dtype=np.int64)


def requantize_table(in_scale, in_zero, out_scale, out_zero, lo=INT8_MIN, hi=INT8_MAX) -> np.ndarray:
    """256 int8 outputs (indexed by input + 128) of an int8 -> int8 rescale with a clamp: QUANTIZE
    between int8 scales, and standalone RELU / RELU6 / RELU_N1_TO_1 (TFLite's ``ReluX``)."""
    real = np.float64(np.float32(in_scale)) / np.float64(np.float32(out_scale))
    m, s = quantize_multiplier(float(real))
    return np.clip(requantize(INT8_VALUES - in_zero, m, s) + out_zero, lo, hi).astype(np.int8)


def relu_bounds(low: float, high: float | None, out_scale, out_zero: int) -> tuple[int, int]:
    """Clamp of a standalone RELU (high None), RELU6 or RELU_N1_TO_1 as TFLite's ``QuantizedReluX``."""
    lo = max(INT8_MIN, out_zero + round_half_away(float(np.float32(low) / np.float32(out_scale))))
    hi = (
        INT8_MAX
        if high is None
        else min(INT8_MAX, out_zero + round_half_away(float(np.float32(high) / np.float32(out_scale))))
    )
    return lo, hi


def float_function_table(function: str, in_scale, in_zero, out_scale, out_zero) -> np.ndarray:
    """TFLite's int8 LOGISTIC / TANH: a 256-entry table filled through float32 math at Prepare."""
    libm = _libm()
    values = np.float32(in_scale) * (INT8_VALUES - in_zero).astype(np.float32)
    inverse = np.float32(1) / np.float32(out_scale)
    out = np.empty(256, np.int64)
    for i, v in enumerate(values):
        if function == "LOGISTIC":
            y = np.float32(1) / (np.float32(1) + libm.expf(np.float32(-v)))
        elif function == "TANH":
            y = libm.tanhf(v)
        else:
            raise ValueError(function)
        rescaled = np.float32(round_half_away(float(np.float32(y) * inverse)))
        out[i] = int(np.float32(rescaled + np.float32(out_zero)))
    return np.clip(out, INT8_MIN, INT8_MAX).astype(np.int8)


def dequantize_table(scale, zero_point: int) -> np.ndarray:
    """256 float32 values of DEQUANTIZE (indexed by input + 128): float(double(scale) * (x - zp))."""
    return (np.float64(np.float32(scale)) * (INT8_VALUES - zero_point)).astype(np.float32)


SOFTMAX_DIFF_BITS = 5  # integer bits of the scaled differences (Q5.26), as TFLite's reference kernel
SOFTMAX_MAX_DEPTH = 4095  # beyond this, the reference kernel's Q12.19 sum of exponentials overflows


def softmax_parameters(in_scale, beta) -> tuple[int, int, int]:
    """(multiplier, left shift, diff_min) of TFLite's reference int8 SOFTMAX (``PreprocessSoftmaxScaling``
    and ``CalculateInputRadius``, in double from the float32 scale and beta): a difference d = x - max
    >= diff_min becomes the Q5.26 value SaturatingRoundingDoublingHighMul(d * 2^shift, multiplier);
    smaller differences give probability 0. Raises ValueError when beta * scale is too small for a
    multiplier above one (TFLite aborts on such a model)."""
    product = float(np.float32(beta)) * float(np.float32(in_scale))
    real = min(product * (1 << (31 - SOFTMAX_DIFF_BITS)), (1 << 31) - 1.0)
    if not real > 1.0:
        raise ValueError(f"beta * input scale = {product:.3g} is below 2^-26")
    multiplier, shift = quantize_multiplier(real)
    radius = math.floor(((1 << SOFTMAX_DIFF_BITS) - 1) * (1 << (31 - SOFTMAX_DIFF_BITS)) / (1 << shift))
    return multiplier, shift, -radius


def monotone_thresholds(outputs: np.ndarray, first: int) -> np.ndarray:
    """For a non-decreasing int8 function given as ``outputs`` of the integers first, first+1, ...:
    255 int32 thresholds t[k] = the least input whose output is > -128 + k, so that output(x) =
    -128 + (number of thresholds <= x). Thresholds beyond the range saturate at INT32 bounds."""
    outputs = np.asarray(outputs, np.int64)
    if np.any(np.diff(outputs) < 0):
        raise ValueError("the function is not monotone")
    levels = np.arange(INT8_MIN + 1, INT8_MAX + 1)
    positions = np.searchsorted(outputs, levels, side="left")
    thresholds = np.where(positions < len(outputs), first + positions, np.iinfo(np.int32).max)
    return thresholds.astype(np.int32)


def mean_outputs(sums: np.ndarray, count: int, in_scale, in_zero, out_scale, out_zero) -> np.ndarray:
    """int8 MEAN of ``count`` int8 values with the given raw sums, as LiteRT's reference kernel: the
    multiplier of in_scale / out_scale divided by ``count`` in fixed point (shifted left by
    floor(log2(count)), at most 32 and 31 + shift, then integer-divided), applied with double rounding
    to sum - count * zero_point (checked against BUILTIN_REF)."""
    m, s = quantize_multiplier(float(np.float64(np.float32(in_scale)) / np.float64(np.float32(out_scale))))
    headroom = min(int(count).bit_length() - 1, 32, 31 + s)
    multiplier, shift = (m << headroom) // count, s - headroom
    shifted = np.asarray(sums, np.int64) - count * in_zero
    return np.clip(requantize(shifted, multiplier, shift, DOUBLE) + out_zero, INT8_MIN, INT8_MAX)


class _NumpyMath:
    @staticmethod
    def expf(x):
        return np.float32(np.exp(np.float32(x)))

    @staticmethod
    def tanhf(x):
        return np.float32(np.tanh(np.float32(x)))


class _CMath:
    def __init__(self, lib):
        self._exp, self._tanh = lib.expf, lib.tanhf
        for f in (self._exp, self._tanh):
            f.restype, f.argtypes = ctypes.c_float, [ctypes.c_float]

    def expf(self, x):
        return np.float32(self._exp(float(x)))

    def tanhf(self, x):
        return np.float32(self._tanh(float(x)))


@functools.cache
def _libm():
    name = ctypes.util.find_library("m")
    try:
        return _CMath(ctypes.CDLL(name)) if name else _NumpyMath()
    except OSError:
        return _NumpyMath()
