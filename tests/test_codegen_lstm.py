"""int8 UNIDIRECTIONAL_SEQUENCE_LSTM in the C generator: the parameters decided in Python
(``quant_lstm``, STRIDED_SLICE's affine map) and a tiny seeded LSTM (a golden file) whose generated C
is byte-identical to LiteRT's reference kernels on the host build and on the emulated Cortex-M4F
(mps2-an386)."""

from __future__ import annotations

import copy
import dataclasses
import functools
from pathlib import Path

import numpy as np
import pytest

from har_edge.codegen import quant_lstm
from har_edge.codegen.graph import UnsupportedModelError, read_graph
from har_edge.codegen.ops_slice import affine_steps, slice_indices
from har_edge.codegen.quant import quantize_multiplier
from tests.arm_tools import require_arm_tools
from tests.firmware_support import host_cross_check, random_inputs

# ------------------------------------------------------------------------- parameters (no TensorFlow)


def test_gate_multiplier_rescales_the_float32_product_to_q3_12():
    weight_scale, activation_scale = np.float32(0.0041272), np.float32(0.0273155)
    product = np.float32(weight_scale * activation_scale)
    expected = quantize_multiplier(float(np.float32(product / np.float32(2.0**-12))))
    assert quant_lstm.gate_multiplier(weight_scale, activation_scale) == expected
    multiplier, shift = expected
    assert multiplier * 2.0 ** (shift - 31) == pytest.approx(float(product) * 4096, rel=1e-6)


def test_hidden_multiplier_maps_q0_15_times_q0_15_to_the_hidden_scale():
    multiplier, shift = quant_lstm.hidden_multiplier(0.00448069)
    assert multiplier * 2.0 ** (shift - 31) == pytest.approx(2.0**-30 / 0.00448069, rel=1e-6)


def test_folded_bias_subtracts_zero_point_times_row_sums():
    weights = np.array([[1, -2, 3], [4, 5, -6]], np.int8)
    folded = quant_lstm.folded_bias(weights, zero_point=-7, bias=np.array([100, -100], np.int32))
    np.testing.assert_array_equal(folded, [100 + 7 * 2, -100 + 7 * 3])
    assert folded.dtype == np.int32
    np.testing.assert_array_equal(quant_lstm.folded_bias(weights, zero_point=3), [-6, -9])


def test_folded_bias_refuses_accumulators_beyond_int32():
    with pytest.raises(ValueError, match="int32"):
        quant_lstm.folded_bias(np.full((1, 4), 127, np.int8), 0, np.array([2**31 - 100], np.int64))


@pytest.mark.parametrize(("scale", "log2"), [(2.0**-11, -11), (2.0**-15, -15), (3e-4, None), (0.0, None)])
def test_cell_log2_accepts_only_powers_of_two(scale, log2):
    assert quant_lstm.cell_log2(np.float32(scale)) == log2


@pytest.mark.parametrize(
    ("clip", "scale", "quantized"), [(10.0, 2.0**-14, 32767), (0.5, 2.0**-11, 1024), (0.0, 2.0**-11, 0)]
)
def test_cell_clip_is_truncated_and_saturated_to_int16(clip, scale, quantized):
    assert quant_lstm.cell_clip(clip, np.float32(scale)) == quantized


def _quant(cell_scale):
    w = [(np.ones((2, 3), np.int8), 0.01)] * 4
    r = [(np.ones((2, 2), np.int8), 0.01)] * 4
    biases = [np.zeros(2, np.int32)] * 4
    return quant_lstm.lstm_quant(w, r, biases, 0.02, 5, 0.004, -3, 0.004, -3, np.float32(cell_scale), 10.0)


def test_lstm_quant_derives_the_cell_shifts_from_the_cell_scale():
    q = _quant(2.0**-11)
    assert (q.cell_shift, q.tanh_integer_bits, q.cell_clip) == (19, 4, 20480)
    np.testing.assert_array_equal(q.input_bias, np.full((4, 2), -15))
    np.testing.assert_array_equal(q.recurrent_bias, np.full((4, 2), 6))


def test_lstm_quant_marks_cells_below_2_to_the_minus_15_as_having_no_tanh_case():
    assert _quant(2.0**-17).tanh_integer_bits == -2


@pytest.mark.parametrize("cell_scale", [2.0**-8, 2.0**-31, 3e-4])
def test_lstm_quant_refuses_cell_scales_tflite_cannot_take(cell_scale):
    with pytest.raises(ValueError, match="power of two"):
        _quant(cell_scale)


def test_slice_of_the_last_time_step_is_one_contiguous_row():
    indices = slice_indices((1, 6, 4), [0, -1, 0], [1, 0, 4], [1, 1, 1], begin_mask=5, end_mask=5, shrink=2)
    assert indices.shape == (1, 4)
    assert affine_steps(indices) == (20, [0, 0, 0, 1])


def test_strided_slice_steps_reproduce_numpy_slicing():
    indices = slice_indices((3, 8, 5), [1, 7, 0], [3, 0, 5], [1, -3, 2], begin_mask=0, end_mask=0, shrink=0)
    start, steps = affine_steps(indices)
    expected = np.arange(120).reshape(3, 8, 5)[1:3, 7:0:-3, 0:5:2]
    coords = np.indices((1, *expected.shape)).reshape(4, -1)
    np.testing.assert_array_equal(start + np.asarray(steps) @ coords, expected.ravel())


# ---------------------------------------------------------------------- generated C vs BUILTIN_REF


GOLDEN = Path(__file__).parent / "golden" / "lstm_int8.tflite"  # tools/make_lstm_golden.py


@functools.cache
def golden_lstm() -> bytes:
    """The project's ``lstm`` architecture, shrunk (16 steps, 8 units), as ``optimize`` converts it."""
    return GOLDEN.read_bytes()


def _lstm_ops(graph):
    return [op for op in graph.ops if op.name == "UNIDIRECTIONAL_SEQUENCE_LSTM"]


def test_golden_lstm_covers_both_cell_ranges_of_the_fused_int8_op():
    """lstm1's cells take 2^-11 (tanh of the cell with 4 integer bits); lstm2's fall below 2^-15, where
    LiteRT's kernel evaluates no tanh(c) and the input gate stands in: the firmware follows both."""
    graph = read_graph(golden_lstm())
    assert graph.tensor(graph.inputs[0]).shape == (1, 16, 3)
    cells = [graph.tensor(op.inputs[19]) for op in _lstm_ops(graph)]
    assert [c.dtype for c in cells] == ["int16", "int16"]
    assert [quant_lstm.cell_log2(c.single_scale()) for c in cells] == [-11, -18]
    assert "STRIDED_SLICE" in {op.name for op in graph.ops}


@pytest.mark.parametrize("dsp", [False, True])
def test_generated_lstm_is_bit_exact_with_the_reference_kernels_on_the_host(dsp):
    model = golden_lstm()
    check = host_cross_check(model, random_inputs(model, 100, seed=1), dsp=dsp, label="lstm")
    assert check, str(check)


@pytest.mark.parametrize("dsp", [False, True])
def test_lstm_with_unit_counts_not_a_multiple_of_four_is_bit_exact_on_the_host(dsp):
    model = (GOLDEN.parent / "lstm_state_int8.tflite").read_bytes()  # LSTMs of 4 and 5 units
    assert sorted(read_graph(model).tensor(op.inputs[1]).shape[0] for op in _lstm_ops(read_graph(model))) == [
        4,
        5,
    ]
    check = host_cross_check(model, random_inputs(model, 100, seed=6), dsp=dsp, label="lstm 4+5 units")
    assert check, str(check)


def _with_scaled_gate_weights(model: bytes, factors: dict[int, float]) -> bytes:
    """``model`` with the first LSTM's gate weight scales (input position -> factor) multiplied, the int8
    weights unchanged: what LiteRT then computes is the oracle."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    tree = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    graph = tree.subgraphs[0]
    op = next(o for o in graph.operators if len(o.inputs) == 24)
    for position, factor in factors.items():
        quantization = graph.tensors[op.inputs[position]].quantization
        quantization.scale = [float(np.float32(s * factor)) for s in quantization.scale]
    builder = flatbuffers.Builder(1024)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@functools.cache
def left_shifted_lstm() -> bytes:
    """The golden model whose first LSTM rescales its input products with shift 2 and its recurrent
    ones with shift 1 (gate multipliers above 1: a left shift before the kernel's SMMULR)."""
    return _with_scaled_gate_weights(golden_lstm(), {1: 4, 2: 4, 3: 4, 4: 4, 5: 2, 6: 2, 7: 2, 8: 2})


def test_scaled_gate_weights_give_the_first_lstm_left_shifts():
    graph = read_graph(left_shifted_lstm())
    op = _lstm_ops(graph)[0]
    x, state = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[18])
    shifts = [
        quant_lstm.gate_multiplier(graph.tensor(op.inputs[p]).single_scale(), x.single_scale())[1]
        for p in (1, 2, 3, 4)
    ]
    shifts += [
        quant_lstm.gate_multiplier(graph.tensor(op.inputs[p]).single_scale(), state.single_scale())[1]
        for p in (5, 6, 7, 8)
    ]
    assert shifts == [2, 2, 2, 2, 1, 1, 1, 1]


@pytest.mark.parametrize("dsp", [False, True])
def test_lstm_with_left_shifted_gate_rescaling_is_bit_exact_on_the_host(dsp):
    model = left_shifted_lstm()
    check = host_cross_check(model, random_inputs(model, 100, seed=8), dsp=dsp, label="lstm, left shifts")
    assert check, str(check)


def test_check_short_requant_refuses_sums_that_a_left_shift_takes_out_of_int32():
    weights = np.full((2, 64), 127, np.int8)
    quant_lstm.check_short_requant(weights, np.zeros(2, np.int32), shift=11)  # 64 * 127 * 128 * 2^11 < 2^31
    with pytest.raises(ValueError, match="int32"):
        quant_lstm.check_short_requant(weights, np.zeros(2, np.int32), shift=12)


def test_reference_starts_every_input_from_the_reset_lstm_state():
    from har_edge.codegen.verify import reference_run

    model = golden_lstm()
    x = random_inputs(model, 1, seed=3)
    outputs, _ = reference_run(model, np.concatenate([x, x, x]))
    assert (outputs == outputs[0]).all()


def _edited_first_lstm(activation: int | None = None, extra_input: int | None = None):
    """The tiny model's graph with its first LSTM's activation code or one optional input changed."""
    graph = read_graph(golden_lstm())
    op = _lstm_ops(graph)[0]
    options = copy.copy(op.options)
    if activation is not None:
        options.fusedActivationFunction = activation
    inputs = list(op.inputs)
    if extra_input is not None:
        inputs[extra_input] = op.inputs[1]
    edited = dataclasses.replace(op, options=options, inputs=tuple(inputs))
    return dataclasses.replace(graph, ops=tuple(edited if o is op else o for o in graph.ops))


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        ({"activation": 1}, "cell activation code 1.*TANH"),
        ({"extra_input": 9}, "peephole"),
        ({"extra_input": 16}, "projection"),
        ({"extra_input": 20}, "layer norm"),
    ],
)
def test_lstm_variants_without_a_kernel_are_refused_naming_the_op(edit, reason):
    from har_edge.codegen.lower import lower_graph

    with pytest.raises(UnsupportedModelError, match=f"op 2 \\(UNIDIRECTIONAL_SEQUENCE_LSTM\\): .*{reason}"):
        lower_graph(_edited_first_lstm(**edit))


@pytest.mark.parametrize("model_of", [golden_lstm, left_shifted_lstm], ids=["golden", "left_shifts"])
def test_emulated_lstm_firmware_is_bit_exact_with_the_reference_kernels(tmp_path, model_of):
    require_arm_tools()
    from har_edge.codegen.project import write_project
    from har_edge.codegen.verify import cross_check
    from har_edge.firmware.build import build, run

    model = model_of()
    inputs = random_inputs(model, 40, seed=4)
    info = write_project(model, tmp_path / "fw", "mps2-an386", "net")
    result = run(build(info.path, "mps2-an386"), "mps2-an386", inputs, info.output_bytes)
    check = cross_check(model, inputs, result.outputs, label="lstm on mps2-an386")
    assert check, str(check)
    assert all(n > 0 for n in result.instructions)
