"""Every supported op and option as a tiny single-op int8 model: generated C on the host (portable
loops and DSP loops with emulated intrinsics) is byte-identical to LiteRT's reference kernels."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from har_edge.codegen.graph import read_graph
from tests.firmware_support import host_cross_check, int8_model, random_inputs


def _conv(filters, kernel, strides=1, padding="same", activation=None):
    return lambda k, x: k.layers.Conv2D(
        filters, kernel, strides=strides, padding=padding, activation=activation
    )(x)


def _two_branch(merge):
    def build(k, x):
        a = k.layers.Conv2D(4, 1)(x)
        b = k.layers.Conv2D(4, 3, padding="same")(x)
        return merge(k)([a, b])

    return build


CASES = {
    "fc_2d_relu": ((16,), lambda k, x: k.layers.Dense(8, activation="relu")(x), "FULLY_CONNECTED"),
    "fc_3d_per_time_step": ((10, 3), lambda k, x: k.layers.Dense(5)(x), "FULLY_CONNECTED"),
    "fc_3d_in_place": ((10, 3), lambda k, x: k.layers.Dense(7)(k.layers.Dense(12)(x)), "FULLY_CONNECTED"),
    "conv_same_stride1": ((9, 7, 3), _conv(6, 3), "CONV_2D"),
    "conv_valid_stride2_relu6": ((9, 8, 3), _conv(5, 3, 2, "valid", "relu6"), "CONV_2D"),
    "conv_same_stride2_time": ((21, 1, 4), _conv(8, (5, 1), (2, 1)), "CONV_2D"),
    "depthwise_same_multiplier2": (
        (8, 6, 3),
        lambda k, x: k.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same")(x),
        "DEPTHWISE_CONV_2D",
    ),
    "depthwise_valid_stride2_relu": (
        (9, 9, 4),
        lambda k, x: k.layers.DepthwiseConv2D(3, strides=2, activation="relu")(x),
        "DEPTHWISE_CONV_2D",
    ),
    "depthwise_time_multiplier4": (  # the HAR stem: k_w 1, 4 channels share each input byte
        (20, 1, 3),
        lambda k, x: k.layers.DepthwiseConv2D((9, 1), depth_multiplier=4, padding="same")(x),
        "DEPTHWISE_CONV_2D",
    ),
    "depthwise_multiplier8_stride2": (  # two 4-channel passes per input channel, clipped rows
        (11, 4, 2),
        lambda k, x: k.layers.DepthwiseConv2D((5, 2), strides=2, depth_multiplier=8, padding="same")(x),
        "DEPTHWISE_CONV_2D",
    ),
    "add": ((6, 5, 3), _two_branch(lambda k: k.layers.Add()), "ADD"),
    "add_swapped": ((6, 5, 3), _two_branch(lambda k: lambda xs: k.layers.Add()(xs[::-1])), "ADD"),
    "mul": ((6, 5, 3), _two_branch(lambda k: k.layers.Multiply()), "MUL"),
    "concatenation": ((6, 5, 3), _two_branch(lambda k: k.layers.Concatenate()), "CONCATENATION"),
    "max_pool_same_stride2": (
        (9, 7, 3),
        lambda k, x: k.layers.MaxPooling2D(3, strides=2, padding="same")(k.layers.Conv2D(3, 1)(x)),
        "MAX_POOL_2D",
    ),
    "average_pool_valid": (
        (8, 8, 3),
        lambda k, x: k.layers.AveragePooling2D(2)(k.layers.Conv2D(3, 1)(x)),
        "AVERAGE_POOL_2D",
    ),
    "average_pool_same_stride1": (
        (7, 5, 2),
        lambda k, x: k.layers.AveragePooling2D(3, strides=1, padding="same")(k.layers.Conv2D(2, 1)(x)),
        "AVERAGE_POOL_2D",
    ),
    "mean_global": (
        (7, 5, 4),
        lambda k, x: k.layers.GlobalAveragePooling2D()(k.layers.Conv2D(4, 1)(x)),
        "MEAN",
    ),
    "mean_keepdims": (
        (6, 3, 4),
        lambda k, x: k.layers.GlobalAveragePooling2D(keepdims=True)(k.layers.Conv2D(4, 1)(x)),
        "MEAN",
    ),
    "softmax": ((10,), lambda k, x: k.layers.Softmax()(k.layers.Dense(6)(x)), "SOFTMAX"),
    "pad": (
        (5, 4, 2),
        lambda k, x: k.layers.ZeroPadding2D(((1, 2), (0, 1)))(k.layers.Conv2D(2, 1)(x)),
        "PAD",
    ),
    "logistic": ((12,), lambda k, x: k.layers.Activation("sigmoid")(k.layers.Dense(6)(x)), "LOGISTIC"),
    "tanh": ((12,), lambda k, x: k.layers.Activation("tanh")(k.layers.Dense(6)(x)), "TANH"),
    "relu_standalone": (
        (6, 5, 3),
        _two_branch(lambda k: lambda xs: k.layers.ReLU()(k.layers.Concatenate()(xs))),
        "RELU",
    ),
    "relu6_standalone": (
        (6, 5, 3),
        _two_branch(lambda k: lambda xs: k.layers.ReLU(6.0)(k.layers.Concatenate()(xs))),
        "RELU6",
    ),
    "reshape_squeeze_expand": ((12,), lambda k, x: k.layers.Dense(4)(k.layers.Reshape((3, 4))(x)), "RESHAPE"),
}


@functools.cache
def case_model(name: str, per_channel: bool = True, int8_io: bool = True) -> bytes:
    shape, build, _ = CASES[name]
    return int8_model(build, shape, seed=3, per_channel=per_channel, int8_io=int8_io)


@pytest.mark.parametrize("name", sorted(CASES))
def test_single_op_model_is_bit_exact_with_reference_kernels(name):
    model = case_model(name)
    assert CASES[name][2] in {op.name for op in read_graph(model).ops}
    inputs = random_inputs(model, 64, seed=1)
    check = host_cross_check(model, inputs, label=name)
    assert check, str(check)


@pytest.mark.parametrize(
    "name",
    [
        "conv_valid_stride2_relu6",
        "fc_3d_per_time_step",
        "fc_3d_in_place",
        "depthwise_same_multiplier2",
        "depthwise_time_multiplier4",
        "add",
    ],
)
def test_dsp_loops_give_the_same_bytes_as_the_reference(name):
    model = case_model(name)
    check = host_cross_check(model, random_inputs(model, 64, seed=2), dsp=True, label=name)
    assert check, str(check)


@pytest.mark.parametrize("name", ["conv_same_stride1", "fc_2d_relu"])
def test_per_tensor_weight_scales_are_bit_exact(name):
    model = case_model(name, per_channel=False)
    weights = read_graph(model).ops[0].inputs[1]
    assert read_graph(model).tensor(weights).scale.size == 1
    check = host_cross_check(model, random_inputs(model, 64, seed=4), label=name)
    assert check, str(check)


def test_narrower_per_time_step_fc_is_planned_over_its_dying_input():
    from har_edge.codegen.emit import generate
    from har_edge.codegen.ops_conv import SCRATCH_ROWS

    generated = generate(case_model("fc_3d_in_place"))
    first, second = (op.index for op in generated.graph.ops if op.name == "FULLY_CONNECTED")
    hidden = generated.graph.op_outputs(generated.graph.ops[first])[0]
    plan = generated.plan
    assert plan.buffers[plan.root[hidden.index]].place == "arena" and second in plan.scratch
    assert plan.arena_bytes == hidden.nbytes + -(-SCRATCH_ROWS * 7 // 4) * 4  # + a few 7-byte rows


def test_float_input_and_output_go_through_quantize_and_dequantize():
    model = case_model("fc_2d_relu", int8_io=False)
    ops = [op.name for op in read_graph(model).ops]
    assert ops[0] == "QUANTIZE" and ops[-1] == "DEQUANTIZE"
    check = host_cross_check(model, random_inputs(model, 64, seed=5), label="float io")
    assert check, str(check)


def test_cross_check_reports_a_corrupted_output_byte():
    from har_edge.codegen.verify import cross_check

    model = case_model("fc_2d_relu")
    inputs = random_inputs(model, 8, seed=6)
    from tests.firmware_support import host_outputs

    _, result = host_outputs(model, inputs)
    wrong = result.outputs.copy()
    wrong[3, 2] ^= 1
    check = cross_check(model, inputs, wrong, label="tampered")
    assert not check
    assert check.mismatched_bytes == 1 and [m.input_index for m in check.mismatches] == [3]
    assert "input 3: 1 bytes differ" in str(check)
    assert np.array_equal(check.mismatches[0].actual, wrong[3])
