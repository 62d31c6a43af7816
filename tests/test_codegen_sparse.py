"""Block-sparse weights (har_edge/codegen/sparse.py, har_sparse.h): the generator stores only the 4x4
blocks that hold a non-zero weight when that is expected to save instructions, and the sparse kernels
give the bytes of LiteRT's reference kernels, portable and DSP loops on the host and on the emulated
Cortex-M4F; a layer pruned to all-zero channels keeps the short requantization form."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest

from har_edge.codegen import sparse
from har_edge.codegen.emit import generate
from har_edge.codegen.ops_conv import interleave
from tests.arm_tools import require_arm_tools
from tests.firmware_support import host_cross_check, int8_model, random_inputs


def _zero_blocks(rows: np.ndarray, keep: float, seed: int) -> np.ndarray:
    """(channels, taps) weights with whole 4-channel x 4-tap blocks zeroed, ``keep`` of them kept."""
    rng = np.random.default_rng(seed)
    channels, taps = rows.shape
    kept = rng.random((-(-channels // 4), -(-taps // 4))) < keep
    mask = np.repeat(np.repeat(kept, 4, axis=0), 4, axis=1)[:channels, :taps]
    return rows * mask


def _pruned(layer_of, keep: float, seed: int = 0, zero_channels=()):
    """A build function whose weighted layer gets block-pruned (and ``zero_channels`` zeroed) weights."""

    def build(k, x):
        layer = layer_of(k)
        y = layer(x)
        kernel, *rest = layer.get_weights()
        rows = kernel.reshape(-1, kernel.shape[-1]).T  # (channels, taps) in TFLite's tap order
        rows = _zero_blocks(rows, keep, seed)
        rows[list(zero_channels)] = 0
        layer.set_weights([rows.T.reshape(kernel.shape), *rest])
        return y

    return build


CASES = {
    "fc_2d": ((40,), _pruned(lambda k: k.layers.Dense(12, activation="relu"), 0.3)),
    "fc_3d_depth3": ((10, 3), _pruned(lambda k: k.layers.Dense(16), 0.4, seed=1)),
    "fc_3d_in_place": ((10, 14), _pruned(lambda k: k.layers.Dense(9, activation="relu"), 0.15, seed=2)),
    "fc_3d_empty_groups": (  # units 4..9 pruned away: a whole group and the 2-unit tail store constants
        (10, 5),
        _pruned(lambda k: k.layers.Dense(10, activation="relu"), 0.6, seed=4, zero_channels=range(4, 10)),
    ),
    "conv_same_stride2": ((21, 1, 6), _pruned(lambda k: k.layers.Conv2D(8, (5, 1), (2, 1), "same"), 0.25)),
    # a 2-D window is gathered for every group: sparse enough to win only with few kept blocks
    "conv_same_3x3": (
        (7, 6, 16),
        _pruned(lambda k: k.layers.Conv2D(10, 3, padding="same", activation="relu6"), 0.1, seed=3),
    ),
    # time convolutions (kernel as wide as the input) read their windows in place but at the borders:
    # stride 1 with two border rows at each end, 23 positions, channel 2 constant in a live group
    "conv_time_stride1": (
        (23, 1, 16),
        _pruned(lambda k: k.layers.Conv2D(12, (5, 1), padding="same"), 0.3, 6, zero_channels=(2,)),
    ),
    # stride 2, 20 positions, one border row at each end
    "conv_time_stride2_even": (
        (40, 1, 8),
        _pruned(lambda k: k.layers.Conv2D(8, (4, 1), (2, 1), "same"), 0.4, 7),
    ),
    "conv_empty_groups": (  # channels 4..9 pruned away: a whole group and the 2-channel tail are constant
        (16, 1, 8),
        _pruned(
            lambda k: k.layers.Conv2D(10, (3, 1), padding="same", activation="relu"),
            0.5,
            5,
            zero_channels=range(4, 10),
        ),
    ),
}


@functools.cache
def case_model(name: str) -> bytes:
    shape, build = CASES[name]
    return int8_model(build, shape, seed=3)


def _weighted_kernels(model: bytes) -> list[dict]:
    return [layer.kernel for layer in generate(model).layers if layer.kernel is not None]


# the last-block and empty paths
DSP_CASES = (
    "fc_3d_depth3",
    "fc_3d_empty_groups",
    "conv_same_stride2",
    "conv_empty_groups",
    "conv_time_stride1",
    "conv_time_stride2_even",
)
PARAMS = [(name, False) for name in sorted(CASES)] + [(name, True) for name in DSP_CASES]


@pytest.mark.parametrize(
    ("name", "dsp"), PARAMS, ids=[f"{n}-{'dsp' if d else 'portable'}" for n, d in PARAMS]
)
def test_block_sparse_layer_is_chosen_and_bit_exact_with_reference_kernels(name, dsp):
    model = case_model(name)
    (kernel,) = _weighted_kernels(model)
    assert kernel["format"] == "block_sparse" and kernel["weight_bytes"] < kernel["dense_weight_bytes"]
    check = host_cross_check(model, random_inputs(model, 64, seed=1), dsp=dsp, label=name)
    assert check, str(check)


def test_sparse_kernels_are_bit_exact_on_the_emulated_cortex_m4(tmp_path):
    require_arm_tools()
    from har_edge.codegen.project import write_project
    from har_edge.codegen.verify import cross_check
    from har_edge.firmware.build import build, run

    for name in (
        "fc_3d_depth3",
        "conv_same_stride2",
        "conv_empty_groups",
        "conv_time_stride1",
        "conv_time_stride2_even",
    ):
        model = case_model(name)
        inputs = random_inputs(model, 100, seed=2)
        info = write_project(model, tmp_path / name, "mps2-an386", "net")
        assert "har_fc_sparse_s8" in info.model.source or "har_conv_sparse_s8" in info.model.source
        result = run(build(info.path, "mps2-an386"), "mps2-an386", inputs, info.output_bytes)
        check = cross_check(model, inputs, result.outputs, label=f"{name} on mps2-an386")
        assert check, str(check)


def test_unstructured_zeros_keep_the_dense_kernel(rng):
    rows = rng.integers(-127, 128, size=(32, 64)).astype(np.int8)
    rows[rng.random(rows.shape) < 0.75] = 0  # 75 % zeros at random: almost every 4x4 block has one
    choice = sparse.choose(interleave(rows), 8)
    assert choice.format == "dense" and choice.expected_instruction_ratio == 1.0
    assert choice.weight_bytes == 32 * 64


def test_zero_blocks_choose_the_sparse_form_with_its_expected_gain(rng):
    rows = _zero_blocks(rng.integers(-127, 128, size=(32, 64)), 0.25, seed=4).astype(np.int8)
    choice = sparse.choose(interleave(rows), 8)
    assert choice.format == "block_sparse"
    assert choice.nonzero_blocks == int(np.count_nonzero(rows.reshape(8, 4, 16, 4).any(axis=(1, 3))))
    assert choice.sparse_weight_bytes < 0.4 * choice.dense_weight_bytes
    assert 0.2 < choice.expected_instruction_ratio < 0.5


def test_compressed_blocks_expand_back_to_the_dense_layout(rng):
    rows = _zero_blocks(rng.integers(-127, 128, size=(10, 23)), 0.4, seed=5).astype(np.int8)
    dense = interleave(rows)
    kept, starts, offsets = sparse.compress(dense, 3)
    rebuilt = np.zeros((3, dense.size // 48, 16), np.int8)
    for group in range(3):
        for b in range(starts[group], starts[group + 1]):
            rebuilt[group, offsets[b] // 4] = kept[16 * b : 16 * b + 16]
    assert np.array_equal(rebuilt.ravel(), dense)


def test_a_layer_with_pruned_away_units_keeps_the_short_requantization():
    model = int8_model(
        _pruned(lambda k: k.layers.Dense(12, activation="relu"), 0.7, seed=6, zero_channels=(2, 7)),
        (16,),
        seed=3,
    )
    generated = generate(model)
    # the triplets, alone or beside the biases in the wide form's constants (codegen.fc_wide)
    assert "l0_requant" in generated.source or "l0_wide_constants" in generated.source
    assert "l0_multiplier" not in generated.source
    for dsp in (False, True):
        check = host_cross_check(model, random_inputs(model, 64, seed=7), dsp=dsp, label="zero units")
        assert check, str(check)


def test_firmware_json_reports_each_weighted_layers_kernel_choice(tmp_path, capsys):
    from har_edge.cli import main

    path = tmp_path / "model.tflite"
    path.write_bytes(case_model("fc_2d"))
    argv = [
        "firmware",
        str(path),
        "--board",
        "host",
        "--out",
        str(tmp_path / "fw"),
        "--verify",
        "8",
        "--json",
    ]
    assert main(argv) == 0
    document = json.loads(capsys.readouterr().out)
    (choice,) = document["layer_kernels"]
    assert choice["name"].endswith("FULLY_CONNECTED") and choice["format"] == "block_sparse"
    assert (
        0 < choice["expected_instruction_ratio"] < 0.9
        and choice["weight_bytes"] < choice["dense_weight_bytes"]
    )
    (row,) = [layer for layer in document["figures"]["layers"] if layer["kernel"]]
    assert row["kernel"] == {key: value for key, value in choice.items() if key != "name"}
    assert document["verify"]["bit_exact"]


def test_conv_sparse_costs_take_time_convolutions_and_leave_gathered_2d_windows_dense(rng):
    """The same block-pruned weights (16 channels, k = 72, 30 % of the blocks kept): a (3, 1) kernel
    along time reads its windows in place and runs sparse; a 3x3 window on 8 channels is gathered for
    every group and position and stays dense (measured: 233k sparse against 224k dense)."""
    from har_edge.codegen.kernel_costs import CONV_DENSE_COSTS, sparse_conv_costs

    rows = _zero_blocks(rng.integers(-127, 128, size=(16, 72)), 0.3, seed=8).astype(np.int8)
    along_time = sparse_conv_costs((1, 50, 1, 24), (1, 50, 1, 16), (3, 1), 0)
    square = sparse_conv_costs((1, 12, 12, 8), (1, 12, 12, 16), (3, 3), 1)
    assert sparse.choose(interleave(rows), 4, CONV_DENSE_COSTS, along_time).format == "block_sparse"
    assert sparse.choose(interleave(rows), 4, CONV_DENSE_COSTS, square).format == "dense"


def test_weights_without_zero_blocks_stay_dense_even_where_the_sparse_loop_would_be_faster(rng):
    from har_edge.codegen.kernel_costs import CONV_DENSE_COSTS, sparse_conv_costs

    rows = rng.integers(1, 128, size=(8, 60)).astype(np.int8)  # no zero weight
    costs = sparse_conv_costs((1, 200, 1, 12), (1, 100, 1, 8), (5, 1), 0)
    choice = sparse.choose(interleave(rows), 2, CONV_DENSE_COSTS, costs)
    assert choice.format == "dense" and choice.sparse_weight_bytes > choice.dense_weight_bytes
