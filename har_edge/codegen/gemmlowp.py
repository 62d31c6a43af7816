"""gemmlowp's int16 fixed-point exp, logistic and tanh, which TFLite's 8x8_16 LSTM kernel applies to its
gates (Q3.12 in, Q0.15 out) and to its cell state, vectorized over numpy int64 arrays of raw int16
values. Models firmware/runtime/lstm.c: the source of its ``exp_quarter`` table
(``tools/make_lstm_tables.py``) and the oracle of its activations in the tests."""

from __future__ import annotations

import numpy as np

INT16_MAX = 32767
EXP_MINUS_1_8, ONE_THIRD, C_48_17, C_NEG_32_17 = 28918, 10923, 23130, -15420  # gemmlowp's constants / 2^16
EXP_BARREL = (25520, 19875, 12055, 4435, 600, 11, 0)  # exp(-2^e), e = -2..4, Q0.15
EXP_TABLE_SIZE = 1024  # exp_quarter of a multiple of 8 in [-8192, 0): what Q3.12 gates read


def _wrap16(x):
    return ((np.asarray(x, np.int64) + 32768) & 0xFFFF) - 32768


def _mul(a, b):
    """SaturatingRoundingDoublingHighMul of int16 raw values."""
    return np.minimum((np.asarray(a, np.int64) * b + (1 << 14)) >> 15, INT16_MAX)


def _divide_pot(x, exponent: int):
    x = np.asarray(x, np.int64)
    mask = (1 << exponent) - 1
    return (x >> exponent) + ((x & mask) > (mask >> 1) + (x < 0))


def _shift_left_saturating(x, exponent: int):
    threshold = (1 << (15 - exponent)) - 1
    return np.where(
        x > threshold, INT16_MAX, np.where(x < -threshold, -32768, np.asarray(x) * (1 << exponent))
    )


def exp_quarter(a):
    """exp(a) for a in [-1/4, 0) (Q0.15 raw values), Q0.15."""
    x = _wrap16(np.asarray(a, np.int64) + (1 << 12))
    x2 = _mul(x, x)
    x3, x4 = _mul(x2, x), _mul(x2, x2)
    polynomial = _divide_pot(_wrap16(_mul(_wrap16(_divide_pot(x4, 2) + x3), ONE_THIRD) + x2), 1)
    return np.minimum(EXP_MINUS_1_8 + _mul(EXP_MINUS_1_8, _wrap16(x + polynomial)), INT16_MAX)


def exp_on_negative_values(a, integer_bits: int):
    """exp(a) for a <= 0 read with ``integer_bits``, Q0.15."""
    a = np.asarray(a, np.int64)
    fractional = 15 - integer_bits
    quarter = 1 << (fractional - 2)
    a_mod = _wrap16((a & (quarter - 1)) - quarter)
    result = exp_quarter(_shift_left_saturating(a_mod, integer_bits))
    remainder = _wrap16(a_mod - a)
    for e in range(-2, min(integer_bits, 5)):
        result = np.where(remainder & (1 << (fractional + e)), _mul(result, EXP_BARREL[e + 2]), result)
    if integer_bits > 5:
        result = np.where(a < -(1 << (20 - integer_bits)), 0, result)
    return np.where(a == 0, INT16_MAX, result)


def _two_over_one_plus(a):
    """one_over_one_plus_x_for_x_in_0_1 before its final halving: 2 / (1 + a) in Q2.13."""
    total = np.asarray(a, np.int64) + INT16_MAX
    half = _wrap16(np.where(total >= 0, (total + 1) // 2, -((1 - total) // 2)))
    x = _wrap16(C_48_17 + _mul(half, C_NEG_32_17))
    for _ in range(3):
        x = _wrap16(x + _shift_left_saturating(_mul(x, _wrap16((1 << 13) - _mul(half, x))), 2))
    return x


def logistic_q3_12(a):
    """gemmlowp::logistic of Q3.12 raw values, Q0.15."""
    a = np.asarray(a, np.int64)
    positive = _shift_left_saturating(_two_over_one_plus(exp_on_negative_values(_wrap16(-np.abs(a)), 3)), 1)
    return np.where(a == 0, 1 << 14, np.where(a > 0, positive, INT16_MAX - positive))


def tanh(a, integer_bits: int):
    """gemmlowp::tanh of raw values with ``integer_bits``, Q0.15."""
    a = np.asarray(a, np.int64)
    x = _two_over_one_plus(exp_on_negative_values(_wrap16(-np.abs(a)), integer_bits + 1))
    t = _shift_left_saturating(_wrap16(x - (1 << 13)), 2)
    return np.where(a == 0, 0, np.where(a < 0, _wrap16(-t), t))


def exp_table() -> np.ndarray:
    """exp_quarter(8 j - 8192) for j < 1024: firmware/runtime/har_lstm_exp.h's table."""
    return exp_quarter(np.arange(EXP_TABLE_SIZE) * 8 - 8192).astype(np.int16)


EXP_HEADER = "firmware/runtime/har_lstm_exp.h"


def exp_table_header() -> str:
    """The text of ``EXP_HEADER`` (written by tools/make_lstm_tables.py)."""
    values = exp_table()
    rows = [", ".join(str(v) for v in values[i : i + 16]) for i in range(0, len(values), 16)]
    body = ",\n".join(f"    {row}" for row in rows)
    return (
        "/* gemmlowp's exp of a in [-1/4, 0), a = 8 j - 8192 (Q0.15, j < 1024), Q0.15: the first factor of\n"
        " * exp_on_negative_values for the LSTM's Q3.12 sigmoid and tanh (lstm.c). Written by\n"
        " * tools/make_lstm_tables.py from har_edge/codegen/gemmlowp.py; do not edit. */\n"
        "#ifndef HAR_LSTM_EXP_H\n#define HAR_LSTM_EXP_H\n\n#include <stdint.h>\n\n"
        f"static const int16_t har_lstm_exp_quarter[{len(values)}] = {{\n{body}\n}};\n\n#endif\n"
    )
