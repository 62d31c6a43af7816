"""Fixed-point parameters of TFLite's int8 UNIDIRECTIONAL_SEQUENCE_LSTM (int8 activations and weights,
int16 cell state, int16 gates), computed as LiteRT's kernel does at Prepare time
(``PopulateQuantizedLstmParams8x8_16`` and the precomputed zero-point terms):

- each gate's pre-activation is int16 in Q3.12 (scale 2^-12): the input and recurrent products are
  rescaled by float32 ``weight_scale * activation_scale / 2^-12``, as ``quantize_multiplier`` pairs;
- the input zero point and the output-state zero point are folded into int32 biases:
  bias - input_zero * rowsum(W_input) and -state_zero * rowsum(W_recurrent);
- the cell state's scale must be a power of two 2^k (k <= -9); i * g is shifted right by 30 + k and
  tanh(cell) reads the cell as a fixed-point number with 15 + k integer bits;
- the hidden state o * tanh(c) (Q0.15 * Q0.15) is rescaled by float32 2^-15 / hidden_scale * 2^-15.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from har_edge.codegen.quant import quantize_multiplier

GATE_SCALE = np.float32(2.0**-12)  # Q3.12: the gates' pre-activations without layer norm
Q15 = np.float32(2.0**-15)
CELL_LOG2_MIN, CELL_LOG2_MAX = -30, -9  # TFLite wants <= -9; i * g is shifted by 30 + k >= 0


def gate_multiplier(weight_scale, activation_scale) -> tuple[int, int]:
    """(multiplier, shift) of weight_scale * activation_scale / 2^-12, in float32 as TFLite."""
    real = np.float32(np.float32(weight_scale) * np.float32(activation_scale)) / GATE_SCALE
    return quantize_multiplier(float(np.float32(real)))


def hidden_multiplier(hidden_scale) -> tuple[int, int]:
    """(multiplier, shift) of 2^-15 / hidden_scale * 2^-15 in float32: o * tanh(c) to the int8 output."""
    real = np.float32(np.float32(Q15 / np.float32(hidden_scale)) * Q15)
    return quantize_multiplier(float(real))


def folded_bias(weights: np.ndarray, zero_point: int, bias: np.ndarray | None = None) -> np.ndarray:
    """bias - zero_point * rowsum(weights) per row of (units, depth) int8 weights, int32 (bias 0 when
    None): the kernel then multiplies raw int8 activations without subtracting their zero point."""
    rowsum = np.asarray(weights, np.int64).reshape(weights.shape[0], -1).sum(axis=1)
    base = np.zeros(len(rowsum), np.int64) if bias is None else np.asarray(bias, np.int64).ravel()
    folded = base - int(zero_point) * rowsum
    if np.any(np.abs(folded) + 128 * np.abs(np.asarray(weights, np.int64)).sum(axis=1) >= 1 << 31):
        raise ValueError("LSTM accumulators could leave int32")
    return folded.astype(np.int32)


def check_short_requant(weights: np.ndarray, bias: np.ndarray, shift: int) -> None:
    """The kernel rescales a gate's accumulator acc from acc * 2^max(shift, 0) in int32 (as TFLite does,
    then one SMMLAR): refuse (ValueError) when that could leave int32 for some int8 activations."""
    magnitude = np.abs(np.asarray(weights, np.int64)).reshape(len(bias), -1).sum(axis=1)
    bound = int((np.abs(np.asarray(bias, np.int64)) + 128 * magnitude).max(initial=0))
    if bound << max(shift, 0) >= 1 << 31:
        raise ValueError("LSTM gate accumulators times their left shift could leave int32")


def cell_log2(scale) -> int | None:
    """k with scale == 2^k (TFLite's ``CheckedLog2``: |log2(scale) - round| < 1e-3), else None."""
    scale = float(np.float32(scale))
    if not scale > 0 or not math.isfinite(scale):
        return None
    exact = math.log2(scale)
    rounded = round(exact)
    return int(rounded) if abs(exact - rounded) < 1e-3 else None


def cell_clip(clip: float, cell_scale) -> int:
    """int16 clip of the cell state: trunc(clip / scale) saturated to int16, 0 (none) when clip <= 0."""
    if not clip > 0:
        return 0
    value = np.float32(clip) / np.float32(cell_scale)
    return int(max(min(float(value), 32767.0), -32768.0))


@dataclass(frozen=True)
class LstmQuant:
    """Every number the C kernel needs apart from the weights, gates in the order i, f, g (cell), o."""

    input_multipliers: tuple[tuple[int, int], ...]  # per gate (multiplier, shift)
    recurrent_multipliers: tuple[tuple[int, int], ...]
    input_bias: np.ndarray  # (4, units) int32, input zero point and gate bias folded in
    recurrent_bias: np.ndarray  # (4, units) int32, output-state zero point folded in
    hidden: tuple[int, int]
    hidden_zero: int
    state_zero: int
    cell_shift: int  # 30 + k: i * g (Q0.15 x Q0.15) to the cell's scale
    tanh_integer_bits: int  # 15 + k
    cell_clip: int


def lstm_quant(
    input_weights,
    recurrent_weights,
    biases,
    input_scale,
    input_zero: int,
    state_scale,
    state_zero: int,
    hidden_scale,
    hidden_zero: int,
    cell_scale,
    clip: float,
) -> LstmQuant:
    """The parameters of one LSTM from its four (weights, scale) pairs per side and its four biases.
    ``input_weights``/``recurrent_weights``: 4 pairs (int8 (units, depth) array, float scale)."""
    k = cell_log2(cell_scale)
    if k is None or not CELL_LOG2_MIN <= k <= CELL_LOG2_MAX:
        raise ValueError(f"cell state scale {float(cell_scale)!r} is not a power of two 2^k, k in [-30, -9]")
    q = LstmQuant(
        tuple(gate_multiplier(scale, input_scale) for _, scale in input_weights),
        tuple(gate_multiplier(scale, state_scale) for _, scale in recurrent_weights),
        np.stack([folded_bias(w, input_zero, b) for (w, _), b in zip(input_weights, biases, strict=True)]),
        np.stack([folded_bias(w, state_zero) for w, _ in recurrent_weights]),
        hidden_multiplier(hidden_scale),
        int(hidden_zero),
        int(state_zero),
        30 + k,
        15 + k,
        cell_clip(clip, cell_scale),
    )
    for pairs, multipliers, biases_ in (
        (input_weights, q.input_multipliers, q.input_bias),
        (recurrent_weights, q.recurrent_multipliers, q.recurrent_bias),
    ):
        for (w, _), (_, shift), b in zip(pairs, multipliers, biases_, strict=True):
            check_short_requant(w, b, shift)
    if q.hidden[1] > 0:  # o * tanh(c) reaches 2^30: no room for a left shift
        raise ValueError(f"hidden state scale {float(hidden_scale)!r} needs a left shift")
    return q
