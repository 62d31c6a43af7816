"""FULLY_CONNECTED's fast forms: the wide form (har_edge/codegen/fc_wide.py, ``har_fc_wide_s8``), where
small dense layers get their weights sign-extended to int16 in the DSP loop's operand order and their
biases and requantization triplets per group of 4 units, and the int8 form's written-out Cortex-M4
loops (firmware/runtime/har_fc_m4.h: rows extended once into a stack buffer up to 640 inputs, read
word by word beyond). Each gives the bytes of LiteRT's reference kernels in its portable loops, its
DSP loops (emulated intrinsics on the host) and its asm loops on the emulated mps2-an386, over depth
and unit tails, clamped activations, a per-time-step input whose last partial block ends the buffer,
and an in-place output."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from har_edge.codegen import fc_wide, sparse
from har_edge.codegen.emit import generate
from har_edge.codegen.lower import CArray
from har_edge.codegen.ops_conv import interleave
from tests.arm_tools import require_arm_tools
from tests.firmware_support import host_cross_check, int8_model, random_inputs

CASES = {  # (input shape, build): depth / units tails, activations, rows
    "depth13_units7_relu": ((13,), lambda k, x: k.layers.Dense(7, activation="relu")(x)),
    "depth40_units8": ((40,), lambda k, x: k.layers.Dense(8)(x)),
    "steps_depth3_units10": ((9, 3), lambda k, x: k.layers.Dense(10)(x)),  # last row's block ends the input
    "steps_depth4_units8": (
        (7, 4),
        lambda k, x: k.layers.Dense(8)(x),
    ),  # one block a row, every row read as words
    "steps_depth16_units12_relu6": ((5, 16), lambda k, x: k.layers.Dense(12, activation="relu6")(x)),
    "steps_in_place_depth9_units6": ((11, 9), lambda k, x: k.layers.Dense(6)(k.layers.Dense(9)(x))),
}


INT8_CASES = {  # int8 weights (> WIDE_MAX_BYTES): extended rows, word-by-word rows, a partial last row
    "int8_depth80_units64": ((80,), lambda k, x: k.layers.Dense(64)(x)),
    "int8_depth700_units8": ((700,), lambda k, x: k.layers.Dense(8)(x)),
    "int8_steps_depth130_units36": ((3, 130), lambda k, x: k.layers.Dense(36)(x)),
    # over its dying input (a row scratch): a wide layer's 130 outputs per step, then 36 units of int8 weights
    "int8_steps_in_place": ((5, 20), lambda k, x: k.layers.Dense(36)(k.layers.Dense(130)(x))),
}


@functools.cache
def case_model(name: str) -> bytes:
    shape, build = {**CASES, **INT8_CASES}[name]
    return int8_model(build, shape, seed=5)


def _kernels(model: bytes) -> list[dict]:
    return [layer.kernel for layer in generate(model).layers if layer.kernel is not None]


@pytest.mark.parametrize("dsp", [False, True], ids=["portable", "dsp"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_wide_layer_is_chosen_and_bit_exact_with_reference_kernels(name, dsp):
    model = case_model(name)
    kernels = _kernels(model)
    assert kernels and all(
        k["format"] == "wide" and k["weight_bytes"] == 2 * k["dense_weight_bytes"] for k in kernels
    )
    check = host_cross_check(model, random_inputs(model, 64, seed=3), dsp=dsp, label=name)
    assert check, str(check)


@pytest.mark.parametrize("dsp", [False, True], ids=["portable", "dsp"])
@pytest.mark.parametrize("name", sorted(INT8_CASES))
def test_larger_layer_keeps_int8_weights_and_is_bit_exact_with_reference_kernels(name, dsp):
    model = case_model(name)
    kernel = _kernels(model)[-1]
    assert kernel["format"] == "dense" and kernel["dense_weight_bytes"] > fc_wide.WIDE_MAX_BYTES
    check = host_cross_check(model, random_inputs(model, 32, seed=3), dsp=dsp, label=name)
    assert check, str(check)


def test_fast_kernels_are_bit_exact_on_the_emulated_cortex_m4(tmp_path):
    require_arm_tools()
    from har_edge.codegen.project import write_project
    from har_edge.codegen.verify import cross_check
    from har_edge.firmware.build import build, run

    wide = (
        "depth13_units7_relu",
        "steps_depth3_units10",
        "steps_depth4_units8",
        "steps_in_place_depth9_units6",
    )
    for name in (*wide, *INT8_CASES):
        model = case_model(name)
        inputs = random_inputs(model, 100, seed=4)
        info = write_project(model, tmp_path / name, "mps2-an386", "net")
        assert ("har_fc_wide_s8" if name in wide else "har_fc_s8") in info.model.source
        result = run(build(info.path, "mps2-an386"), "mps2-an386", inputs, info.output_bytes)
        check = cross_check(model, inputs, result.outputs, label=f"{name} on mps2-an386")
        assert check, str(check)


def test_widened_weights_hold_each_weight_at_its_smlad_slot(rng):
    weights = rng.integers(-128, 128, size=(7, 10)).astype(np.int8)
    wide = fc_wide.widen(weights)
    blocks = 3  # depth 10 -> 12
    assert wide.dtype == np.int16 and wide.size == 8 * 12
    for unit in range(8):
        for i in range(12):
            group, j, block, q = unit // 4, unit % 4, i // 4, i % 4
            # per group and block: 4 words (w[i], w[i+2]) of units 0..3, then 4 words (w[i+1], w[i+3])
            at = ((group * blocks + block) * 2 + q % 2) * 8 + 2 * j + q // 2
            expected = weights[unit, i] if unit < 7 and i < 10 else 0
            assert wide[at] == expected, (unit, i)


def test_wide_constants_put_four_biases_then_four_triplets_per_group(rng):
    bias = rng.integers(-1000, 1000, size=6)
    triplets = rng.integers(1, 1 << 30, size=18)
    constants = fc_wide.wide_constants(triplets, bias).reshape(2, 16)
    assert np.array_equal(constants[:, :4].ravel()[:6], bias) and np.all(constants[1, 2:4] == 0)
    assert np.array_equal(constants[:, 4:].reshape(-1, 3)[:6], triplets.reshape(6, 3))
    assert np.all(constants[1, 4:].reshape(4, 3)[2:] == [0, 0, 1])  # padding units requantize 0 to 0


def _requant_arrays(units: int) -> list[CArray]:
    return [
        CArray("l0_requant", "int32_t", np.tile([1 << 30, 1, 1], units)),
        CArray("l0_bias", "int32_t", np.zeros(units)),
    ]


def test_only_small_dense_layers_with_triplets_are_widened(rng):
    rows = rng.integers(-127, 128, size=(64, 80)).astype(np.int8)  # 5,120 bytes > WIDE_MAX_BYTES
    large = sparse.choose(interleave(rows), 16)
    assert large.format == "dense" and large.dense_weight_bytes > fc_wide.WIDE_MAX_BYTES
    assert fc_wide.wide_form("l0", rows, _requant_arrays(64), large) is None
    small = rows[:8, :16]
    arrays, fields, choice = fc_wide.wide_form(
        "l0", small, _requant_arrays(8), sparse.choose(interleave(small), 2)
    )
    assert choice.format == "wide" and [a.name for a in arrays] == ["l0_wide_weights", "l0_wide_constants"]
    assert fc_wide.wide_form("l0", small, _requant_arrays(8)[1:], sparse.choose(interleave(small), 2)) is None
    pruned = np.where(np.arange(16) < 4, small, 0).astype(np.int8)  # 3 of 4 blocks per group all zero
    choice = sparse.choose(interleave(pruned), 2)
    assert (
        choice.format == "block_sparse"
        and fc_wide.wide_form("l0", pruned, _requant_arrays(8), choice) is None
    )


def test_one_block_rows_keep_the_wide_form_when_half_the_groups_are_zero():
    """Per time step 3 -> 16 with units 8..15 pruned to zero: the wide form's one-block rows (the input
    word extended once a row) cost ~41 instructions a group on the emulated Cortex-M4F, less than the
    sparse kernel's two live groups; the choice used to take the sparse form (83,640 instructions
    against the wide form's 65,840 on the block-pruned 50 % dense model's first layer)."""

    def build(k, x):
        layer = k.layers.Dense(16, activation=None)
        y = layer(x)
        kernel, bias = layer.get_weights()
        kernel[:, 8:] = 0
        layer.set_weights([kernel, bias])
        return y

    model = int8_model(build, (20, 3), seed=4)
    (layer,) = [layer for layer in generate(model).layers if layer.kernel]
    assert layer.kernel["format"] == "wide" and layer.kernel["nonzero_blocks"] == 2
