"""Constant-channel folding (har_edge/codegen/constant_channels.py): FULLY_CONNECTED rows whose int8
weights are all zero are constants that fold into their readers' biases (through RESHAPE), rows no
reader uses are removed, and the folded model gives the bytes of LiteRT's reference kernels on the
original file, every layer's kept bytes included, host (portable and DSP loops) and emulated
Cortex-M4F; the model output is always written in full."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from har_edge.codegen.constant_channels import constant_rows, fold_constant_channels
from har_edge.codegen.emit import generate
from har_edge.codegen.graph import read_graph
from har_edge.codegen.verify import reference_run
from tests.arm_tools import require_arm_tools
from tests.firmware_support import host_cross_check, int8_model, random_inputs


def _dense(k, units: int, *, seed: int, zero_rows=(), zero_columns=(), activation="relu", bias=True):
    """A Dense layer whose weights are set, once built, to seeded normals with ``zero_rows`` (output
    units) and ``zero_columns`` (inputs) zeroed, and seeded non-zero biases: zero rows then output a
    constant that depends on the bias and the activation."""
    layer = k.layers.Dense(units, activation=activation, use_bias=bias)

    def set_weights():
        rng = np.random.default_rng(seed)
        kernel = rng.normal(size=layer.get_weights()[0].shape).astype(np.float32)
        kernel[:, list(zero_rows)] = 0
        kernel[list(zero_columns), :] = 0
        values = [kernel, rng.normal(scale=0.8, size=units).astype(np.float32)] if bias else [kernel]
        layer.set_weights(values)

    return layer, set_weights


def _chain(k, x):
    """Per time step 4 -> 12 (units 0..5 zero: constants; unit 7 unread) -> 8 (input 7 zero; units 2, 5
    zero; unit 3 unread) -> Flatten -> 6 without bias (the columns of unit 3 of every step zero)."""
    a, set_a = _dense(k, 12, seed=1, zero_rows=range(6))
    b, set_b = _dense(k, 8, seed=2, zero_rows=(2, 5), zero_columns=(7,))
    c, set_c = _dense(k, 6, seed=3, activation=None, bias=False)
    y = c(k.layers.Flatten()(b(a(x))))
    for setter in (set_a, set_b, set_c):
        setter()
    kernel = c.get_weights()[0]
    kernel[3::8, :] = 0  # input 3 of every time step
    c.set_weights([kernel])
    return y


def _output_is_folded_layer(k, x):
    """10 -> 16 (rows 4..11 zero) -> 8 (rows 0, 1 zero), the second one the model output."""
    a, set_a = _dense(k, 16, seed=4, zero_rows=range(4, 12))
    b, set_b = _dense(k, 8, seed=5, zero_rows=(0, 1), activation=None)
    y = b(a(x))
    set_a()
    set_b()
    return y


def _unit_masked(k, x):
    """Unit pruning as a mask (units zeroed in place): 3 -> 16 with units 8..15 zero and their columns
    in the next layer zero too -> 8 -> Flatten -> 5; folds to the physically smaller 3 -> 8 -> 8."""
    a, set_a = _dense(k, 16, seed=6, zero_rows=range(8, 16))
    b, set_b = _dense(k, 8, seed=7, zero_columns=range(8, 16))
    c, set_c = _dense(k, 5, seed=8, activation=None)
    y = c(k.layers.Flatten()(b(a(x))))
    for setter in (set_a, set_b, set_c):
        setter()
    return y


def _single_op(k, x):
    """One per-time-step 5 -> 10 with units 4..9 zero: the model output, so nothing folds."""
    a, set_a = _dense(k, 10, seed=9, zero_rows=range(4, 10))
    y = a(x)
    set_a()
    return y


CASES = {
    "single_op_zero_rows": ((10, 5), _single_op, True),
    "chain_reshape": ((6, 4), _chain, True),
    "chain_reshape_per_tensor": ((6, 4), _chain, False),
    "output_is_folded_layer": ((10,), _output_is_folded_layer, True),
    "unit_masked": ((7, 3), _unit_masked, True),
}


@functools.cache
def case_model(name: str) -> bytes:
    shape, build, per_channel = CASES[name]
    return int8_model(build, shape, seed=3, per_channel=per_channel)


def _folding(model: bytes) -> list[dict | None]:
    return [(layer.kernel or {}).get("folding") for layer in generate(model).layers if layer.kernel]


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dsp", [False, True], ids=["portable", "dsp"])
def test_folded_model_is_bit_exact_with_the_reference_on_every_kept_byte(name, dsp):
    model = case_model(name)
    check = host_cross_check(model, random_inputs(model, 64, seed=1), dsp=dsp, label=name)
    assert check, str(check)
    assert check.layers and all(layer.mismatches == 0 for layer in check.layers)


def test_constant_rows_are_the_bytes_the_reference_outputs_for_all_zero_rows():
    model = case_model("output_is_folded_layer")
    graph = read_graph(model)
    mask, values = constant_rows(graph.tensors, graph.ops[-1])
    assert mask.tolist() == [True, True] + [False] * 6
    outputs, _ = reference_run(model, random_inputs(model, 16, seed=4))
    assert np.all(outputs.view(np.int8)[:, :2] == values[:2])


def test_chain_through_reshape_folds_constants_and_unread_rows_into_a_smaller_model():
    model = case_model("chain_reshape")
    first, second, classifier = _folding(model)
    assert (first["folded_rows"], first["unread_rows"]) == (6, 1)
    assert (second["folded_columns"], second["folded_rows"], second["unread_rows"]) == (7, 2, 1)
    assert (classifier["folded_columns"], classifier["folded_rows"]) == (6 * 3, 0)
    generated = generate(model)  # 5 of 12 and 5 of 8 units left per time step
    assert [layer.macs for layer in generated.layers if layer.kernel] == [6 * 4 * 5, 6 * 5 * 5, 6 * 5 * 6]
    assert all(0 < f["expected_instruction_ratio"] < 1 for f in (first, second, classifier))
    unfolded = generate(model, fold=False)
    assert generated.weight_bytes < unfolded.weight_bytes and generated.arena_bytes <= unfolded.arena_bytes


def test_the_model_output_is_written_in_full_even_with_constant_rows():
    model = case_model("output_is_folded_layer")
    first, last = _folding(model)
    assert first["folded_rows"] == 8 and last["folded_columns"] == 8
    assert last["folded_rows"] == 0  # the output layer keeps its 2 constant rows
    generated = generate(model)
    assert generated.layers[-1].output_bytes == 8 and generated.layers[-1].kept is None


def test_unit_masked_model_folds_to_the_physically_smaller_one():
    model = case_model("unit_masked")
    first, second, _ = _folding(model)
    assert first["folded_rows"] == 8 and second["folded_columns"] == 8
    assert [layer.macs for layer in generate(model).layers if layer.kernel] == [7 * 3 * 8, 7 * 8 * 8, 56 * 5]


def test_a_single_layer_with_zero_rows_is_the_model_output_and_left_whole():
    model = case_model("single_op_zero_rows")
    assert _folding(model) == [None]
    assert generate(model).layers[-1].output_bytes == 10 * 10


def test_a_model_without_zero_rows_is_left_as_it_is():
    model = int8_model(lambda k, x: k.layers.Dense(5)(k.layers.Dense(7, activation="relu")(x)), (6,), seed=1)
    folded = fold_constant_channels(read_graph(model))
    assert folded.report == {} and folded.kept == {}


def test_folded_chain_is_bit_exact_on_the_emulated_cortex_m4(tmp_path):
    require_arm_tools()
    from har_edge.codegen.project import write_project
    from har_edge.codegen.verify import cross_check
    from har_edge.firmware.build import build, run

    model = case_model("chain_reshape")
    inputs = random_inputs(model, 100, seed=2)
    info = write_project(model, tmp_path / "chain", "mps2-an386", "net")
    result = run(build(info.path, "mps2-an386"), "mps2-an386", inputs, info.output_bytes)
    check = cross_check(model, inputs, result.outputs, label="folded chain on mps2-an386")
    assert check, str(check)


def test_firmware_layer_lines_say_what_was_folded():
    from har_edge.cli.firmware import _kernel_note

    kernels = [layer.kernel for layer in generate(case_model("chain_reshape")).layers if layer.kernel]
    assert "folded: 6 constant + 1 unread rows, 0 input columns (288 MACs before)" in _kernel_note(kernels[0])
    assert "folded: 0 constant + 0 unread rows, 18 input columns (288 MACs before)" in _kernel_note(
        kernels[2]
    )


def test_a_reshape_that_changes_the_size_after_constant_rows_is_refused_with_a_typed_error():
    from har_edge.codegen.graph import UnsupportedModelError
    from tests.crafted_models import Op as CraftedOp
    from tests.crafted_models import T, build, int8_values, options

    weights = int8_values((4, 8))
    weights[:2] = 0  # two constant rows, read through a RESHAPE of 4 -> 6 bytes
    tensors = [
        T((1, 8)),
        T((4, 8), data=weights),
        T((4,), "int32", 0.0025, data=np.arange(4, dtype=np.int32)),
        T((1, 4)),
        T((1, 6)),
        T((3, 6), data=int8_values((3, 6), seed=1)),
        T((1, 3)),
    ]
    ops = [
        CraftedOp("FULLY_CONNECTED", (0, 1, 2), (3,), options("FullyConnected")),
        CraftedOp("RESHAPE", (3,), (4,)),
        CraftedOp("FULLY_CONNECTED", (4, 5, -1), (6,), options("FullyConnected")),
    ]
    with pytest.raises(UnsupportedModelError, match="RESHAPE"):
        generate(build(tensors, ops, outputs=(6,)))
