"""FULLY_CONNECTED's wide form (``har_fc_wide_s8`` in fully_connected.c): the int8 weights stored
sign-extended to int16 in the order of the DSP loop's SMLAD operands (and its biases and
requantization triplets side by side per group of 4 units), so the kernel spends no
instruction extending them (a block of 4 inputs x 4 units: one input word, two SXTB16s, four 8-byte
weight loads, 8 SMLADs, against the int8 form's 8 more SXTB16s), and requantizes with one SMMLA
(``requant.h``'s ``har_requant_smmla``). It doubles the layer's weight bytes, so the generator takes it
only for dense layers whose int8 weights are at most ``WIDE_MAX_BYTES`` (the per-time-step layers of
HAR models, classifier heads) and that take the short requantization triplets."""

from __future__ import annotations

import dataclasses

import numpy as np

from har_edge.codegen import sparse
from har_edge.codegen.lower import CArray

WIDE_MAX_BYTES = 4096  # int8 weight bytes up to which a dense layer is stored wide (+ as many bytes of flash)
BLOCK = 4


def widen(weights: np.ndarray) -> np.ndarray:
    """(units, depth) int8 weights -> the flat int16 layout of har_fc_wide_s8: units and depth padded
    with zeros to multiples of 4; per group of 4 units and per 4 inputs i..i+3, the words (w[u][i],
    w[u][i+2]) of units 0..3 (the operands of SXTB16(x)), then (w[u][i+1], w[u][i+3]) of units 0..3
    (those of SXTB16(x, ROR 8)); each word's low half first."""
    units, depth = weights.shape
    padded = np.zeros((-(-units // BLOCK) * BLOCK, -(-depth // BLOCK) * BLOCK), np.int16)
    padded[:units, :depth] = weights
    groups, blocks = padded.shape[0] // BLOCK, padded.shape[1] // BLOCK
    # input q of a block = 2 * half + parity: (group, unit, block, half, parity)
    split = padded.reshape(groups, BLOCK, blocks, 2, 2)
    return split.transpose(0, 2, 4, 1, 3).ravel()  # group, block, parity, unit, half


def wide_constants(requant: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Per group of 4 units: the 4 biases, then the 4 triplets (multiplier, round, right) of
    ``quant.short_requant``; units padded to a multiple of 4 with bias 0 and the triplet (0, 0, 1)."""
    units = len(bias)
    pad = -units % BLOCK
    b = np.concatenate([np.asarray(bias, np.int64), np.zeros(pad, np.int64)]).reshape(-1, BLOCK)
    t = np.concatenate([np.asarray(requant, np.int64).reshape(units, 3), np.tile([0, 0, 1], (pad, 1))])
    return np.concatenate([b, t.reshape(-1, 3 * BLOCK)], axis=1).astype(np.int32).ravel()


def wide_form(
    prefix: str, weights: np.ndarray, arrays: list[CArray], choice: sparse.KernelChoice
) -> tuple[list[CArray], str, sparse.KernelChoice] | None:
    """(arrays, the params fields that name them, choice) of the wide form, or None when the layer keeps
    its int8 form: sparse, larger than WIDE_MAX_BYTES, or without triplets and bias among ``arrays``
    (``ops_conv._requant_arrays``), which the wide constants replace."""
    named = {a.name: a for a in arrays}
    requant, bias = named.get(f"{prefix}_requant"), named.get(f"{prefix}_bias")
    if (
        choice.format != "dense"
        or choice.dense_weight_bytes > WIDE_MAX_BYTES
        or requant is None
        or bias is None
    ):
        return None
    wide = [
        CArray(f"{prefix}_wide_weights", "int16_t", widen(weights)),
        CArray(f"{prefix}_wide_constants", "int32_t", wide_constants(requant.values, bias.values)),
    ]
    others = [a for a in arrays if a is not requant and a is not bias]
    fields = (
        f".weights = 0, .wide_weights = {prefix}_wide_weights, .wide_constants = {prefix}_wide_constants, "
    )
    return others + wide, fields, dataclasses.replace(choice, format="wide")
