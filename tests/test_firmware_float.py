"""float32 graphs through the C generator: tiny seeded float models covering every float kernel and the
project's own dense float32 model, against LiteRT's reference kernels (BUILTIN_REF). On the host (both
sides call glibc) every output bit matches; on the emulated Cortex-M4F every layer before the first op
that calls expf/tanhf matches bit for bit, and the outputs are within ``verify_float.FLOAT_TOLERANCE``
(newlib's expf/tanhf differ from glibc's in the last bits)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from har_edge.codegen import verify_float
from har_edge.codegen.float_checks import inexact_ops
from har_edge.codegen.graph import read_graph
from har_edge.codegen.ops_float import FLOAT_LOWERINGS
from tests.arm_tools import require_arm_tools
from tests.firmware_support import host_cross_check, host_outputs, keras, parity_inputs, random_inputs

BOARD = "mps2-an386"


def _float_model(build, input_shape: tuple[int, ...], seed: int) -> bytes:
    """A float32 .tflite (batch 1) of ``build(keras, inputs) -> outputs``, seeded weights, biases
    drawn at random so that every bias is used."""
    from har_edge.tfcompat import seed_everything, tensorflow

    tf, k = tensorflow(), keras()
    seed_everything(seed)
    inputs = k.Input(shape=input_shape, batch_size=1)
    model = k.Model(inputs, build(k, inputs))
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        layer.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in layer.get_weights()])
    return bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())


def _convolutions(k, x):
    """conv (stride 2, SAME, RELU6) -> depthwise (x2, VALID, RELU) -> max pool -> average pool ->
    dense (TANH) -> dense -> softmax"""
    x = k.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu6")(x)
    x = k.layers.DepthwiseConv2D(3, depth_multiplier=2, activation="relu")(x)
    x = k.layers.MaxPooling2D(2, padding="same")(x)
    x = k.layers.AveragePooling2D((2, 1), strides=1, padding="same")(x)
    x = k.layers.Dense(10, activation="tanh")(k.layers.Flatten()(x))
    return k.layers.Softmax()(k.layers.Dense(5)(x))


def _branches(k, x):
    """two branches added, multiplied, rescaled (broadcast constants), concatenated, padded; standalone
    RELU and RELU6, LOGISTIC, a per-time-step dense over a reshape, and means over time and over the
    last axis (MEAN)"""
    a = k.layers.Conv2D(4, 1)(x)
    b = k.layers.Conv2D(4, 3, padding="same", use_bias=False)(x)
    y = k.layers.Multiply()([k.layers.Add()([a, b]), b])
    y = k.layers.Rescaling(0.5, offset=0.25)(y)
    y = k.layers.ReLU()(k.layers.Concatenate()([y, a]))
    y = k.layers.ReLU(6.0)(k.layers.ZeroPadding2D(((1, 2), (0, 1)))(y))
    y = k.layers.Activation("sigmoid")(y)
    rows = k.layers.Dense(5)(k.layers.Reshape((13 * 5, 8))(y))
    over_time = k.layers.GlobalAveragePooling1D()(rows)
    over_units = k.layers.GlobalAveragePooling1D(data_format="channels_first")(rows)  # the last axis
    return k.layers.Concatenate()([over_time, over_units])


MODELS = {"convolutions": (_convolutions, (17, 9, 3)), "branches": (_branches, (10, 4, 3))}


@functools.cache
def tiny_model(name: str) -> bytes:
    build, shape = MODELS[name]
    return _float_model(build, shape, seed=5)


@functools.cache
def dense_float32() -> bytes:
    """The benchmark's float32 MCU variant of the project's dense architecture (seeded, untrained)."""
    from har_edge import models
    from har_edge.optimize.quantize import Precision, convert
    from tests.firmware_support import WINDOW

    model = models.build("dense", window=WINDOW, channels=3, classes=12, seed=0)
    return convert(model, Precision.FLOAT32, fixed_batch=True)


def test_the_tiny_float_models_use_every_float_kernel():
    used = {op.name for name in MODELS for op in read_graph(tiny_model(name)).ops}
    aliases = {"SQUEEZE", "EXPAND_DIMS", "RELU_N1_TO_1", "PADV2"}  # the same kernel as a used op
    assert set(FLOAT_LOWERINGS) - aliases <= used


@pytest.mark.parametrize("name", sorted(MODELS))
def test_tiny_float_model_is_bit_exact_with_the_reference_kernels_on_the_host(name):
    model = tiny_model(name)
    check = host_cross_check(model, random_inputs(model, 64, seed=1), label=name)
    assert check and check.bit_exact, str(check)
    assert all(layer.mismatches == 0 for layer in check.layers), str(check)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_tiny_float_model_on_the_cortex_m4f_is_exact_up_to_the_first_libm_op(name, tmp_path):
    require_arm_tools()
    from har_edge.codegen.project import write_project
    from har_edge.codegen.verify import verify_project

    model = tiny_model(name)
    info = write_project(model, tmp_path / "fw", BOARD, "net")
    check = verify_project(info, random_inputs(model, 48, seed=2), layer_inputs=8)
    assert check and check.tolerance == verify_float.FLOAT_TOLERANCE, str(check)
    assert check.max_difference <= verify_float.FLOAT_TOLERANCE
    first_libm = int(inexact_ops(read_graph(model))[0].split(":")[0])
    exact = [layer for layer in check.layers if layer.index < first_libm]
    assert exact and all(layer.mismatches == 0 for layer in exact), str(check)


def test_project_dense_float32_is_bit_exact_on_the_host_on_real_and_random_windows():
    model = dense_float32()
    inputs = parity_inputs(model)[::2]  # 250 real windows, 250 random
    assert inputs.dtype == np.float32 and len(inputs) == 500
    check = host_cross_check(model, inputs, label="dense float32")
    assert check and check.bit_exact, str(check)


def test_project_dense_float32_on_the_cortex_m4f_differs_only_in_the_softmax(tmp_path):
    require_arm_tools()
    from har_edge.codegen.project import write_project
    from har_edge.codegen.verify import verify_project

    model = dense_float32()
    info = write_project(model, tmp_path / "fw", BOARD, "net")
    check = verify_project(info, parity_inputs(model)[::5], layer_inputs=8)
    assert check, str(check)
    assert [layer.name for layer in check.layers if layer.mismatches] in ([], [info.layer_names[-1]])
    assert info.layer_names[-1].endswith(":SOFTMAX") and check.max_difference < 1e-6


def test_a_narrower_per_time_step_float_fc_is_planned_over_its_dying_input():
    from har_edge.codegen.emit import generate
    from har_edge.codegen.ops_conv import SCRATCH_ROWS

    generated = generate(dense_float32())
    graph, plan = generated.graph, generated.plan
    first, second = [op for op in graph.ops if op.name == "FULLY_CONNECTED"][:2]
    hidden, narrower = graph.op_outputs(first)[0], graph.op_outputs(second)[0]
    assert second.index in plan.scratch and plan.root[narrower.index] != plan.root[hidden.index]
    assert plan.arena_bytes == hidden.nbytes + 4 * SCRATCH_ROWS * narrower.shape[-1]  # not + narrower


def test_a_libm_op_sets_the_tolerance_and_its_absence_asks_for_every_bit():
    with_softmax = read_graph(tiny_model("convolutions"))
    assert verify_float.tolerance(with_softmax) == verify_float.FLOAT_TOLERANCE
    ops = [name.split(":")[1] for name in inexact_ops(with_softmax)]
    assert ops == ["TANH", "SOFTMAX"]
    exact = read_graph(_float_model(lambda k, x: k.layers.Dense(3, activation="relu")(x), (6,), seed=0))
    assert inexact_ops(exact) == [] and verify_float.tolerance(exact) == 0.0


def test_cross_check_accepts_an_ulp_within_tolerance_and_reports_a_larger_difference():
    from har_edge.codegen.verify import cross_check

    model = tiny_model("convolutions")
    inputs = random_inputs(model, 8, seed=3)
    _, result = host_outputs(model, inputs)
    outputs = result.outputs.copy()
    values = outputs.view(np.float32)
    values[2, 1] = np.nextafter(values[2, 1], np.float32(2))  # one ulp up
    near = cross_check(model, inputs, outputs, label="one ulp")
    assert near and not near.bit_exact and near.differing_bytes > 0
    assert "within tolerance 1e-05" in str(near)
    values[5, 0] += np.float32(1e-3)
    far = cross_check(model, inputs, outputs, label="1e-3")
    assert not far and far.mismatched_bytes == 4 and [m.input_index for m in far.mismatches] == [5]
    assert "input 5: 1 values differ, max |difference| 0.000999" in str(far)


def test_beyond_tolerance_compares_values_relative_to_their_size():
    expected = np.array([[1.0, 1000.0, np.nan, np.inf]], np.float32)
    actual = np.array([[1.0 + 9e-6, 1000.0 * (1 + 2e-5), np.nan, np.inf]], np.float32)
    bytes_ = lambda a: a.view(np.uint8)  # noqa: E731
    beyond = verify_float.beyond_tolerance(bytes_(expected), bytes_(actual), 1e-5)
    assert beyond.reshape(4, 4).all(axis=1).tolist() == [False, True, False, False]
    exact = verify_float.beyond_tolerance(bytes_(expected), bytes_(actual), 0.0)
    assert exact.reshape(4, 4).any(axis=1).tolist() == [True, True, False, False]


def _with(graph, op=None, tensor=None):
    """``graph`` with one op or one tensor replaced (by index)."""
    from dataclasses import replace

    ops, tensors = list(graph.ops), list(graph.tensors)
    if op is not None:
        ops[op.index] = op
    if tensor is not None:
        tensors[tensor.index] = tensor
    return replace(graph, ops=tuple(ops), tensors=tuple(tensors))


def _options(op, **values):
    from copy import copy
    from dataclasses import replace

    options = copy(op.options)
    for key, value in values.items():
        setattr(options, key, value)
    return replace(op, options=options)


def _nth(graph, name: str, n: int = 0):
    return [op for op in graph.ops if op.name == name][n]


def _shape(graph, op, position: int, shape):
    from dataclasses import replace

    tensor = graph.tensor(op.outputs[0] if position < 0 else op.inputs[position])
    return _with(graph, tensor=replace(tensor, shape=shape))


MALFORMED = {
    "ADD without its second input": (
        "branches",
        "ADD",
        lambda g: _with(
            g, op=__import__("dataclasses").replace(_nth(g, "ADD"), inputs=_nth(g, "ADD").inputs[:1])
        ),
        "1 inputs",
    ),
    "MUL by a constant that does not broadcast": (
        "branches",
        "MUL",
        lambda g: _shape(g, _nth(g, "MUL", 1), 1, (3,)),
        "do not broadcast",
    ),
    "MAX_POOL_2D with stride 0": (
        "convolutions",
        "MAX_POOL_2D",
        lambda g: _with(g, op=_options(_nth(g, "MAX_POOL_2D"), strideH=0)),
        "strideH 0",
    ),
    "CONV_2D with a negative stride": (
        "convolutions",
        "CONV_2D",
        lambda g: _with(g, op=_options(_nth(g, "CONV_2D"), strideW=-1)),
        "strideW -1",
    ),
    "MEAN into a larger output": (
        "branches",
        "MEAN",
        lambda g: _shape(g, _nth(g, "MEAN"), -1, (1, 6)),
        "output of 6 values",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_float_op_is_refused_before_anything_is_generated(case):
    from har_edge.codegen.emit import generate
    from har_edge.codegen.graph import UnsupportedModelError

    name, op_name, change, match = MALFORMED[case]
    with pytest.raises(UnsupportedModelError, match=match) as refused:
        generate(change(read_graph(tiny_model(name))))
    assert refused.value.op == op_name


def test_float_kernels_for_the_cortex_m4f_contain_no_fused_multiply_add(tmp_path):
    """VFPv4 has VFMA (one rounding); TFLite's reference rounds the product, then the sum: the board's
    -ffp-contract=off must keep every multiply and add apart."""
    require_arm_tools()
    import shutil
    import subprocess

    from har_edge.codegen.project import write_project
    from har_edge.firmware.build import build

    objdump = shutil.which("arm-none-eabi-objdump")
    if objdump is None:
        pytest.skip("arm-none-eabi-objdump missing (binutils-arm-none-eabi)")
    info = write_project(tiny_model("convolutions"), tmp_path / "fw", BOARD, "net")
    build(info.path, BOARD)
    objects = sorted((info.path / "build" / "app" / "runtime").glob("*_f32.o"))  # the Makefile's layout
    assert len(objects) >= 4
    listing = subprocess.run([objdump, "-d", *map(str, objects)], capture_output=True, text=True, check=True)
    assert "vmul.f32" in listing.stdout and "vadd.f32" in listing.stdout
    assert not any(fused in listing.stdout for fused in ("vfma", "vfms", "vfnm"))  # newlib's expf has some
