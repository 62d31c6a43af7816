"""DEPTHWISE_CONV_2D's kernel (firmware/runtime/depthwise.c) and its arrays (har_edge/codegen/depthwise.py):
every loop of the kernel on a single-op model built by hand is byte-identical to LiteRT's reference
kernels, on the host (portable loops and DSP loops with emulated intrinsics) and on the emulated
Cortex-M4F (the DSP loops with the real instructions, among them the 3x3 asm block)."""

from __future__ import annotations

import numpy as np
import pytest

from har_edge.codegen import depthwise, quant
from har_edge.codegen.graph import read_graph
from har_edge.codegen.ops_conv import depthwise_conv_2d
from tests.arm_tools import require_arm_tools
from tests.depthwise_models import depthwise_model
from tests.firmware_support import host_cross_check, random_inputs

# name -> depthwise_model arguments; the comment says which loop of depthwise.c it reaches
CASES = {
    # multiplier 1, whole 3x3 windows (word_square3) and clipped ones at every border (word_any)
    "3x3_same": dict(in_shape=(7, 6, 8), kernel=(3, 3)),
    "3x3_valid_stride2_relu6": dict(
        in_shape=(9, 8, 8), kernel=(3, 3), stride=(2, 2), padding="valid", activation="RELU6"
    ),
    "3x3_same_stride2_relu": dict(in_shape=(8, 7, 4), kernel=(3, 3), stride=(2, 2), activation="RELU"),
    # k_w 1 (word_column): the MLPerf keyword spotter's temporal filters
    "column_valid": dict(in_shape=(14, 1, 12), kernel=(5, 1), padding="valid"),
    "column_same_stride2": dict(in_shape=(15, 1, 8), kernel=(4, 1), stride=(2, 1)),
    # other windows (word_any) with columns clipped on both sides: 1 or 2 columns, 3 to 5
    "5x2_same": dict(in_shape=(6, 3, 4), kernel=(5, 2)),
    "2x5_same": dict(in_shape=(4, 7, 4), kernel=(2, 5)),
    # multiplier 4 (byte_column): the HAR cnn's stem, rows clipped by SAME padding; a clamped ReLU
    "stem_multiplier4": dict(in_shape=(20, 1, 3), kernel=(9, 1), multiplier=4, activation="RELU"),
    # multiplier 8 (byte_any)
    "multiplier8_stride2": dict(in_shape=(11, 4, 2), kernel=(5, 2), multiplier=8, stride=(2, 2)),
    # channels past the last group of 4 (spread): 6 of multiplier 1, 6 of multiplier 2, 9 of 3
    "tail_6_channels": dict(in_shape=(5, 5, 6), kernel=(3, 3), activation="RELU6"),
    "multiplier2": dict(in_shape=(6, 5, 3), kernel=(3, 3), multiplier=2),
    "multiplier3_stride2": dict(in_shape=(7, 5, 3), kernel=(3, 2), multiplier=3, stride=(2, 2)),
    # a channel whose right shift no triplet takes: the general requantization for the whole layer
    "general_requantization": dict(in_shape=(6, 5, 8), kernel=(3, 3), tiny_channel=True),
}


# the byte-per-channel loops (spread) and the general requantization have no DSP form
PORTABLE_ONLY = {"multiplier2", "multiplier3_stride2", "general_requantization"}


@pytest.mark.parametrize(
    ("name", "dsp"),
    [(name, False) for name in sorted(CASES)]
    + [(name, True) for name in sorted(CASES) if name not in PORTABLE_ONLY],
)
def test_each_depthwise_loop_is_bit_exact_with_the_reference_kernels(name, dsp):
    model = depthwise_model(**CASES[name], seed=len(name))
    check = host_cross_check(model, random_inputs(model, 24, seed=3), dsp=dsp, label=name)
    assert check, str(check)


def _arrays(name: str) -> dict:
    graph = read_graph(depthwise_model(**CASES[name]))
    return {a.name: a for a in depthwise_conv_2d(graph, graph.ops[0]).arrays}


def test_a_layer_whose_channels_all_take_triplets_gets_doubled_weights_and_biases():
    arrays = _arrays("column_valid")
    assert "l0_requant" in arrays and "l0_multiplier" not in arrays
    assert np.all(arrays["l0_weights"].values % 2 == 0) and np.all(arrays["l0_bias"].values % 2 == 0)


def test_3x3_layers_of_multiplier_1_carry_biases_with_the_input_offset_folded_in_before_each_group():
    graph = read_graph(depthwise_model(**CASES["3x3_same"]))
    x, weights, bias = graph.op_inputs(graph.ops[0])
    arrays = {a.name: a for a in depthwise_conv_2d(graph, graph.ops[0]).arrays}
    groups = arrays["l0_weights"].values.reshape(2, 8 + 36)  # 8 channels: 2 groups of 4 biases + 9 taps
    folded = groups[:, :8].astype("<i2").view("<i4").ravel()
    sums = weights.data.reshape(-1, 8).astype(np.int64).sum(axis=0)
    assert np.array_equal(folded, 2 * (bias.data - x.single_zero_point() * sums))
    assert np.array_equal(groups[:, 8:].ravel(), 2 * depthwise.pack_weights(weights.data))
    assert np.array_equal(arrays["l0_bias"].values, 2 * bias.data)
    assert len(_arrays("column_valid")["l0_weights"].values) == 3 * 5 * 4  # other windows: taps only


def test_a_channel_beyond_every_triplet_sends_the_layer_to_the_general_requantization_undoubled():
    arrays = _arrays("general_requantization")
    assert "l0_requant" not in arrays and {"l0_multiplier", "l0_shift"} <= set(arrays)
    assert np.any(arrays["l0_weights"].values % 2 != 0)


def test_packed_weights_hold_each_group_tap_by_tap_in_the_order_the_dsp_loop_reads():
    weights = np.arange(1, 2 * 3 * 6 + 1, dtype=np.int8).reshape(2, 3, 6)  # 6 taps x 6 channels
    packed = depthwise.pack_weights(weights).reshape(2, 6, 4)  # 2 groups (6 channels padded to 8)
    taps = weights.reshape(6, 6)
    assert packed.dtype == np.int16
    assert np.array_equal(packed[0], taps[:, [0, 2, 1, 3]])
    assert np.array_equal(packed[1][:, [0, 2]], taps[:, [4, 5]]) and not packed[1][:, [1, 3]].any()


def _kernel_requant(acc: np.ndarray, triplet: np.ndarray) -> np.ndarray:
    """depthwise.c's short_doubled on doubled accumulators, in int64 (SMMULR, then the triplet)."""
    multiplier, term, right = (np.int64(v) for v in triplet)
    high = (2 * acc * multiplier + (1 << 31)) >> 32
    return (high + (high >> 63) + term) >> right


def test_wide_triplets_give_the_reference_rescale_for_right_shifts_past_21():
    rng = np.random.default_rng(0)
    multiplier, shift = np.array([1_500_000_000, 1_100_000_000]), np.array([-22, -9])
    bounds = np.array([300_000_000, 40_000])
    constant = (np.zeros(2, bool), np.zeros(2, np.int64))
    triplets = depthwise.wide_triplets(multiplier, shift, -7, bounds, constant)
    assert triplets is not None and triplets[2] == 22 > quant.SHORT_RIGHT_MAX
    assert quant.short_requant(multiplier, shift, -7, quant.DOUBLE) is None
    for c in range(2):
        acc = rng.integers(-bounds[c], bounds[c] + 1, 2000)
        expected = [int(quant.requantize(int(a), int(multiplier[c]), int(shift[c]))) - 7 for a in acc]
        assert np.array_equal(_kernel_requant(acc, triplets[3 * c : 3 * c + 3]), expected)


def test_wide_triplets_are_refused_where_the_kernels_int32_sum_could_overflow():
    constant = (np.zeros(1, bool), np.zeros(1, np.int64))
    big = np.array([(1 << 30) - 1])
    # right 30 with output zero 100: the zero point alone is 100 << 30 > 2^31
    assert depthwise.wide_triplets(np.array([1 << 30]), np.array([-30]), 100, big, constant) is None
    assert depthwise.wide_triplets(np.array([1 << 30]), np.array([-30]), 0, big, constant) is not None
    # accumulators of 2^30 or more cannot be doubled
    assert depthwise.wide_triplets(np.array([1 << 30]), np.array([-10]), 0, big + 1, constant) is None


BOARD_CASES = ["stem_multiplier4", "tail_6_channels", "3x3_valid_stride2_relu6", "general_requantization"]


@pytest.mark.parametrize("name", BOARD_CASES)
def test_depthwise_loops_are_bit_exact_on_the_emulated_cortex_m4(name, tmp_path):
    from har_edge.codegen.project import write_project
    from har_edge.codegen.verify import cross_check
    from har_edge.firmware.build import build, run

    require_arm_tools()
    model = depthwise_model(**CASES[name], seed=len(name))
    info = write_project(model, tmp_path / "fw", "mps2-an386", "net")
    inputs = random_inputs(model, 8, seed=4)
    result = run(build(info.path, "mps2-an386"), "mps2-an386", inputs, info.output_bytes)
    check = cross_check(model, inputs, result.outputs, label=f"{name} on mps2-an386")
    assert check, str(check)
