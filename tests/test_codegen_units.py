"""Generation-time decisions, unit-tested in Python: TFLite's multiplier quantization, the two
roundings, activation clamps, monotone thresholds, the memory plan; and refusals of unsupported
models before any file is written."""

from __future__ import annotations

import numpy as np
import pytest

from har_edge.codegen import quant
from har_edge.codegen.graph import UnsupportedModelError
from har_edge.codegen.plan import Usage, plan_memory
from har_edge.errors import InputError


@pytest.mark.parametrize("real", [0.5, 0.75, 1.0, 1.5, 3.1e-3, 7.2e-7, 0.9999999999])
def test_quantize_multiplier_reconstructs_the_real_multiplier(real):
    m, shift = quant.quantize_multiplier(real)
    assert (1 << 30) <= m < (1 << 31)
    assert m * 2.0 ** (shift - 31) == pytest.approx(real, rel=2**-30)


def test_quantize_multiplier_flushes_tiny_and_carries_rounding_overflow():
    assert quant.quantize_multiplier(1e-12) == (0, 0)
    assert quant.quantize_multiplier(0.0) == (0, 0)
    m, shift = quant.quantize_multiplier(np.nextafter(1.0, 0.0))
    assert (m, shift) == (1 << 30, 1)


def test_single_rounding_is_within_half_a_step_and_double_within_one():
    rng = np.random.default_rng(0)
    x = rng.integers(-(1 << 20), 1 << 20, size=10_000)
    m, shift = quant.quantize_multiplier(0.0123)
    exact = x * m / 2.0 ** (31 - shift)
    for rounding, bound in ((quant.SINGLE, 0.5), (quant.DOUBLE, 1.0)):
        got = quant.requantize(x, m, shift, rounding)
        assert np.max(np.abs(got - exact)) <= bound + 1e-9
    single, double = (quant.requantize(x, m, shift, r) for r in (quant.SINGLE, quant.DOUBLE))
    assert 0 < np.count_nonzero(single != double) < len(x) // 100
    assert quant.requantize(np.array([3, -3]), 1 << 30, -1, quant.DOUBLE).tolist() == [1, -1]  # +-0.75


def test_activation_ranges_follow_the_output_quantization():
    assert quant.activation_range("NONE", 0.1, 3) == (-128, 127)
    assert quant.activation_range("RELU", 0.1, -20) == (-20, 127)
    assert quant.activation_range("RELU6", 0.1, -20) == (-20, 40)
    assert quant.activation_range("RELU6", 0.01, -128) == (-128, 127)


def test_monotone_thresholds_reproduce_the_function():
    sums = np.arange(-1000, 1001)
    outputs = np.clip(np.floor(sums / 7.3), -128, 127).astype(np.int64)
    thresholds = quant.monotone_thresholds(outputs, -1000)
    rebuilt = -128 + np.searchsorted(thresholds, sums, side="right")
    assert np.array_equal(rebuilt, outputs)
    with pytest.raises(ValueError):
        quant.monotone_thresholds(np.array([0, 2, 1]), 0)


def test_memory_plan_reuses_dead_buffers_and_aliases_reshapes():
    # 0 -> A(100) -> reshape B -> C(100) -> D(100) -> out(10); A dies once C is computed
    usages = [
        Usage((0,), (1,)),
        Usage((1,), (2,), alias=True),
        Usage((2,), (3,)),
        Usage((3,), (4,)),
        Usage((4,), (5,)),
    ]
    sizes = {0: 100, 1: 100, 2: 100, 3: 100, 4: 100, 5: 10}
    plan = plan_memory(usages, sizes, model_input=0, model_output=5)
    assert plan.root[2] == plan.root[1]
    assert plan.buffers[plan.root[4]].offset == plan.buffers[plan.root[1]].offset  # A reused by D
    assert plan.arena_bytes == 200
    assert plan.expression(0) == "(const int8_t *)input" and plan.expression(5) == "(int8_t *)output"


def test_memory_plan_writes_in_place_when_the_input_dies():
    usages = [Usage((0,), (1,)), Usage((1,), (2,), in_place=True), Usage((2,), (3,))]
    plan = plan_memory(usages, {0: 8, 1: 64, 2: 64, 3: 8}, model_input=0, model_output=3)
    assert plan.buffers[2].offset == plan.buffers[1].offset
    assert plan.arena_bytes == 64


def test_memory_plan_puts_a_per_row_output_over_its_dying_input_with_a_row_scratch():
    # input -> A (200 rows x 32) -> B (200 rows x 16, in place with a 16-byte row scratch) -> out
    usages = [
        Usage((0,), (1,)),
        Usage((1,), (2,), in_place=True, in_place_scratch=16),
        Usage((2,), (3,)),
    ]
    plan = plan_memory(usages, {0: 600, 1: 6400, 2: 3200, 3: 12}, model_input=0, model_output=3)
    a, b, row = plan.buffers[1], plan.buffers[2], plan.buffers[plan.scratch[1]]
    assert b.offset == a.offset and row.size == 16
    assert row.offset >= a.offset + a.size or row.offset + row.size <= a.offset
    assert plan.arena_bytes == 6400 + 16


def test_memory_plan_keeps_a_live_input_and_plans_no_row_scratch():
    # A is read again after B: B cannot overwrite it, so no scratch either
    usages = [
        Usage((0,), (1,)),
        Usage((1,), (2,), in_place=True, in_place_scratch=16),
        Usage((1, 2), (3,)),
    ]
    plan = plan_memory(usages, {0: 600, 1: 6400, 2: 3200, 3: 12}, model_input=0, model_output=3)
    assert 1 not in plan.scratch
    assert plan.buffers[2].offset >= plan.buffers[1].offset + plan.buffers[1].size
    assert plan.arena_bytes == 6400 + 3200


# ------------------------------------------------------------------------------------------- refusals


def _refused(model: bytes, tmp_path, match: str):
    from har_edge.codegen.project import write_project

    out = tmp_path / "project"
    with pytest.raises(UnsupportedModelError, match=match) as info:
        write_project(model, out, "host", "m")
    assert not out.exists()
    return info.value


def test_dilated_convolution_is_refused_with_op_and_index(tmp_path):
    from tests.firmware_support import int8_model

    model = int8_model(lambda k, x: k.layers.Conv2D(4, 3, dilation_rate=2, padding="same")(x), (9, 9, 2))
    error = _refused(model, tmp_path, "dilation")
    assert error.op == "CONV_2D" and error.index == 0 and "dilation 1" in str(error)


def test_float_model_is_refused_naming_the_float_tensor(tmp_path):
    from har_edge.tfcompat import tensorflow
    from tests.firmware_support import keras

    tf, k = tensorflow(), keras()
    inputs = k.Input(shape=(8,), batch_size=1)
    model = k.Model(inputs, k.layers.Dense(4)(inputs))
    data = bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    error = _refused(data, tmp_path, "float32")
    assert error.op == "FULLY_CONNECTED"


def test_unknown_op_lists_what_is_supported(tmp_path):
    from tests.firmware_support import int8_model

    model = int8_model(lambda k, x: k.layers.LeakyReLU(0.2)(k.layers.Dense(4)(x)), (6,))
    error = _refused(model, tmp_path, "no int8 kernel")
    assert error.op == "LEAKY_RELU" and "FULLY_CONNECTED" in str(error)


def _with_builtin(model: bytes, op_index: int, builtin: str) -> bytes:
    """``model`` with op ``op_index`` relabelled as another builtin (a quick stand-in for a converted
    model containing that op: converting an LSTM takes half a minute)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    tree = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = getattr(schema.BuiltinOperator, builtin)
    code.version = 1
    tree.operatorCodes.append(code)
    tree.subgraphs[0].operators[op_index].opcodeIndex = len(tree.operatorCodes) - 1
    builder = flatbuffers.Builder(1024)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_lstm_is_refused_naming_the_op_and_its_index(tmp_path):
    from tests.firmware_support import int8_model

    model = int8_model(lambda k, x: k.layers.Dense(4)(k.layers.Dense(5)(x)), (6,))
    error = _refused(_with_builtin(model, 1, "UNIDIRECTIONAL_SEQUENCE_LSTM"), tmp_path, "no int8 kernel")
    assert (error.op, error.index) == ("UNIDIRECTIONAL_SEQUENCE_LSTM", 1)
    assert "op 1 (UNIDIRECTIONAL_SEQUENCE_LSTM)" in str(error)


def test_not_a_tflite_file_is_an_input_error(tmp_path):
    from har_edge.codegen.project import write_project

    with pytest.raises(InputError, match="not a TFLite flatbuffer"):
        write_project(b"definitely not a model", tmp_path / "p", "host", "m")
    assert not (tmp_path / "p").exists()


def test_model_name_must_be_a_c_identifier():
    from har_edge.codegen.emit import check_name

    with pytest.raises(InputError, match="C identifier"):
        check_name("9-lives")


def test_layer_macs_count_each_layer_of_a_dense_model():
    from har_edge import models
    from har_edge.codegen import layer_macs
    from har_edge.optimize.quantize import Precision, convert

    model = models.build("dense", window=20, channels=3, classes=4, seed=0)
    rep = np.random.default_rng(0).normal(size=(16, 20, 3)).astype(np.float32)
    data = convert(model, Precision.INT8, representative=rep, int8_io=True, fixed_batch=True)
    per_layer = dict(layer_macs(data))
    fc = [macs for name, macs in per_layer.items() if name.endswith("FULLY_CONNECTED")]
    assert fc == [20 * 3 * 32, 20 * 32 * 16, 20 * 16 * 8, 20 * 8 * 4]
    assert all(macs == 0 for name, macs in per_layer.items() if name.endswith(("RESHAPE", "SOFTMAX")))


def test_folded_bias_takes_the_input_offset_into_the_bias():
    from types import SimpleNamespace

    from har_edge.codegen.ops_conv import folded_bias

    op = SimpleNamespace(name="CONV_2D", index=3)
    w = np.array([[1, -2, 3], [-128, 0, 127]], np.int8)
    bias = SimpleNamespace(data=np.array([10, -20], np.int32))
    x = np.array([5, -7, 100])
    zero = -13  # input_offset = 13
    folded = folded_bias(op, w, bias, zero)
    want = bias.data + ((x[None, :] - zero) * w).sum(axis=1) - (x[None, :] * w).sum(axis=1)
    assert folded.tolist() == want.tolist() == [10 + 13 * 2, -20 + 13 * -1]
    assert folded_bias(op, w, None, 0).tolist() == [0, 0]
    big = np.full((1, 70_000), 127, np.int8)  # 256 * 70,000 * 127 > 2^31: partial sums could wrap
    with pytest.raises(UnsupportedModelError, match="int32"):
        folded_bias(op, big, None, 0)
