"""requant.h against quant.requantize over random values and every shift, both roundings (the C
fast paths for shift <= -2, the hoisted form and the short forms for small accumulators must give the
bits of the general formula)."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from har_edge.codegen import quant
from har_edge.firmware.boards import FIRMWARE_DIR

PROGRAM = r"""
#include <stdio.h>
#include "requant.h"
int main(void) {
    long x, m, s;
    while (scanf("%ld %ld %ld", &x, &m, &s) == 3) {
        int32_t hoisted = s <= -2 ? har_requant_single_hoisted((int32_t)x, (int32_t)m, 1 << (-s - 2), -s - 1)
                                  : har_requant((int32_t)x, (int32_t)m, (int32_t)s, HAR_ROUND_SINGLE);
        /* the short double rounding, valid for |x| < 2^30 and -21 <= shift <= -1 (-1 otherwise) */
        const int small = x > -(1L << 30) && x < (1L << 30) && s <= 0;
        /* har_short_double with the output zero point -77 folded into the triplet's rounding term */
        const int32_t round = s < 0 ? (int32_t)((1L << (-s - 1)) - 77L * (1L << -s)) : 0;
        const int32_t triplet[3] = {(int32_t)m, round, (int32_t)-s};
        long shorter = small && s < 0 && s >= -21 ? (long)har_short_double((int32_t)x, triplet) + 77 : -1;
        printf("%ld %ld %ld %ld\n", (long)har_requant((int32_t)x, (int32_t)m, (int32_t)s, HAR_ROUND_SINGLE),
               (long)har_requant((int32_t)x, (int32_t)m, (int32_t)s, HAR_ROUND_DOUBLE), (long)hoisted,
               shorter);
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def requant_program(tmp_path_factory):
    folder = tmp_path_factory.mktemp("requant")
    (folder / "main.c").write_text(PROGRAM)
    binary = folder / "requant"
    subprocess.run(
        [
            "gcc",
            "-O2",
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            f"-I{FIRMWARE_DIR / 'runtime'}",
            "-o",
            str(binary),
            str(folder / "main.c"),
        ],
        check=True,
    )
    return binary


def test_c_requantization_matches_python_for_every_shift(requant_program):
    rng = np.random.default_rng(0)
    rows = []
    for shift in range(-31, 31):
        m = rng.integers(1 << 30, 1 << 31, size=40)
        limit = (1 << 31) >> max(shift, 0)  # x * 2^shift must stay an int32, as TFLite requires
        x = rng.integers(-limit, limit, size=40)
        x[:4] = [0, 1, -1, -limit]
        rows += [(int(a), int(b), shift) for a, b in zip(x, m, strict=True)]
    text = "\n".join(f"{a} {b} {c}" for a, b, c in rows) + "\n"
    done = subprocess.run([str(requant_program)], input=text, capture_output=True, text=True, check=True)
    got = np.array([[int(v) for v in line.split()] for line in done.stdout.splitlines()])
    for column, rounding in ((0, quant.SINGLE), (1, quant.DOUBLE)):
        want = [int(quant.requantize(a, b, c, rounding)) for a, b, c in rows]
        assert got[:, column].tolist() == want, rounding
    assert got[:, 2].tolist() == got[:, 0].tolist()


def test_short_double_rounding_matches_the_general_form_below_2_to_30(requant_program):
    rng = np.random.default_rng(1)
    rows = []
    for shift in range(-21, 0):
        m = rng.integers(1 << 30, 1 << 31, size=60)
        x = rng.integers(-(1 << 30) + 1, 1 << 30, size=60)
        x[:6] = [0, 1, -1, (1 << 30) - 1, -(1 << 30) + 1, -(1 << (-shift)) if shift < 0 else -2]
        half = 3 << min(max(-shift - 1, 0), 28)  # an odd multiple of a half after the shift
        x[6:10] = [half, -half, 1 << 29, -(1 << 29)]
        rows += [(int(a), int(b), shift) for a, b in zip(x, m, strict=True)]
    text = "\n".join(f"{a} {b} {c}" for a, b, c in rows) + "\n"
    done = subprocess.run([str(requant_program)], input=text, capture_output=True, text=True, check=True)
    got = np.array([[int(v) for v in line.split()] for line in done.stdout.splitlines()])
    assert got[:, 3].tolist() == got[:, 1].tolist()


def test_small_accumulators_bounds_bias_plus_the_widest_input_span():
    w = np.array([[127, -127, 0], [1, 1, 1]], np.int8)
    # span of x - zero for int8 x and zero -128: 255; channel 0: 254 * 255 = 64,770
    assert quant.small_accumulators(w, np.array([0, 0]), -128)
    assert quant.small_accumulators(w, np.array([(1 << 30) - 64_771, 0]), -128)
    assert not quant.small_accumulators(w, np.array([(1 << 30) - 64_770, 0]), -128)
    assert not quant.small_accumulators(w, np.array([0, -(1 << 30)]), 0)
    big = np.full((1, 70_000), -127, np.int8)  # 70,000 * 127 * 128 > 2^30
    assert not quant.small_accumulators(big, None, 0)


def test_short_requant_triplets_fold_the_zero_point_and_refuse_what_they_cannot_hold():
    m, s = np.array([1 << 30, (1 << 31) - 1]), np.array([-3, -21])
    triplets = quant.short_requant(m, s, -5, quant.DOUBLE).reshape(-1, 3)
    assert triplets[:, 2].tolist() == [3, 21]
    assert triplets[:, 1].tolist() == [4 - (5 << 3), (1 << 20) - (5 << 21)]
    single = quant.short_requant(m, s, 0, quant.SINGLE).reshape(-1, 3)
    assert single[:, 2].tolist() == [2, 20] and single[:, 1].tolist() == [2, 1 << 19]
    assert quant.short_requant(m, s, 0, quant.DOUBLE, small=False) is None
    assert quant.short_requant(m, np.array([-3, 0]), 0, quant.DOUBLE) is None  # right 0
    assert quant.short_requant(m, np.array([-3, -22]), 0, quant.DOUBLE) is None  # right 22
    assert quant.short_requant(m, np.array([-1, -3]), 0, quant.SINGLE) is None  # right 0
