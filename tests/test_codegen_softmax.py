"""The int8 SOFTMAX kernel is TFLite's reference (gemmlowp fixed point), not a float table: the two agree
on almost every row but differ by one step where a probability lands within ~1e-4 of a rounding tie,
and LiteRT's BUILTIN_REF (like TFLM and CMSIS-NN) gives the fixed-point answer."""

from __future__ import annotations

import numpy as np
import pytest

from har_edge.codegen.emit import generate
from har_edge.codegen.lower import UnsupportedModelError
from tests import crafted_models as cm
from tests.firmware_support import host_cross_check

# The row a unit-pruned dense model's classifier produced (its 10th test window): the float table put
# class 2 at 181.4998 steps (53), LiteRT's reference at 54.
TIE_SCALE = 0.9357442259788513
TIE_ROW = [92, 88, 97, 95, 77, 92, 93, 92, 94, 94, 94, 93]


def softmax_model(scale: float, depth: int, beta=1.0, rows=1, out_scale=1 / 256, out_zero=-128) -> bytes:
    tensors = [cm.T((rows, depth), scale=scale), cm.T((rows, depth), scale=out_scale, zero_point=out_zero)]
    return cm.build(tensors, [cm.Op("SOFTMAX", (0,), (1,), cm.options("Softmax", beta=beta))])


@pytest.mark.parametrize("dsp", [False, True])
def test_softmax_gives_litert_s_byte_where_a_probability_sits_on_a_rounding_tie(dsp):
    model = softmax_model(TIE_SCALE, 12)
    rng = np.random.default_rng(5)
    rows = np.vstack([TIE_ROW, rng.integers(70, 100, (31, 12))]).astype(np.int8)
    check = host_cross_check(model, rows, dsp=dsp, label="softmax tie")
    assert check, str(check)


@pytest.mark.parametrize(
    ("scale", "beta", "depth", "rows"),
    [
        (0.0039, 1.0, 7, 3),  # a narrow input range: every difference is small
        (0.25, 0.5, 40, 2),
        (3.0, 2.0, 16, 1),  # a large beta * scale: most differences fall below diff_min
        (40.0, 1e6, 5, 2),  # beta * scale beyond the multiplier's range: capped, as TFLite does
    ],
)
def test_softmax_is_bit_exact_across_scales_betas_and_row_lengths(scale, beta, depth, rows):
    model = softmax_model(scale, depth, beta, rows)
    rng = np.random.default_rng(int(scale * 1000) + depth)
    inputs = rng.integers(-128, 128, (48, rows * depth)).astype(np.int8)
    check = host_cross_check(model, inputs, label=f"softmax {scale} {beta}")
    assert check, str(check)


@pytest.mark.parametrize(
    ("model", "named"),
    [
        (softmax_model(0.1, 8, out_scale=1 / 128), "1/256"),
        (softmax_model(0.1, 8, out_zero=0), "1/256"),
        (softmax_model(1e-9, 8), "2^-26"),
        (softmax_model(0.1, 5000), "4095"),
    ],
)
def test_softmax_the_reference_kernel_cannot_run_is_refused_naming_what_it_needs(model, named):
    with pytest.raises(UnsupportedModelError, match=named.replace("^", r"\^")):
        generate(model)
