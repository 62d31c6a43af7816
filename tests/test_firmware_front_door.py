"""``har-edge firmware`` on the models people have: a float32 interface (QUANTIZE in, DEQUANTIZE out)
with a dynamic batch verifies bit-exact through the CLI and the generated API takes and returns float;
``--verify-data`` feeds a bundle's recordings; hybrid (dynamic-range) and Flex models are refused
saying what they are and what to do, before a file is written; no declared input type gives a
traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from har_edge.cli import main
from tests.firmware_support import int8_model, keras

BUNDLE = Path(__file__).parent / "golden" / "dense_int8"


def run(capsys, argv: list) -> tuple[int, str, str]:
    code = main(["firmware", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def float_interface_model() -> bytes:
    """Full-integer conv + dense with float32 input and output and a dynamic batch, as the converter
    writes "int8 with a float interface" (the model of the reported ``--verify`` traceback)."""

    def build(k, x):
        y = k.layers.Conv1D(6, 5, padding="same", activation="relu")(x)
        return k.layers.Dense(4)(k.layers.Flatten()(y))

    return int8_model(build, (40, 4), seed=21, int8_io=False, batch=None)


def _require_host_compiler() -> None:
    if shutil.which("gcc") is None or shutil.which("make") is None:
        pytest.skip("host gcc/make missing")


def test_float_interface_model_verifies_bit_exact_and_its_api_is_float(
    float_interface_model, tmp_path, capsys
):
    _require_host_compiler()
    model = tmp_path / "float_io.tflite"
    model.write_bytes(float_interface_model)
    code, text, error = run(capsys, [model, "--board", "host", "--out", tmp_path / "fw", "--verify", 40])
    assert code == 0 and "bit-exact: 40 inputs" in text, text + error
    header = (tmp_path / "fw" / "model" / "net_model.h").read_text()
    assert "typedef float net_input_t;" in header and "typedef float net_output_t;" in header
    assert "float32 interface" in header and "QUANTIZE to int8" in header and "DEQUANTIZE from int8" in header
    assert "#define NET_INPUT_COUNT 160" in header and "#define NET_INPUT_SIZE 640" in header


def test_float_inputs_cover_the_quantized_range_and_saturate(float_interface_model):
    from har_edge.codegen.graph import read_graph
    from har_edge.codegen.verify import random_inputs

    graph = read_graph(float_interface_model)
    quantize = graph.ops[0]
    q = graph.tensor(quantize.outputs[0])
    x = random_inputs(float_interface_model, 50, seed=1)
    assert x.dtype == np.float32 and x.shape == (50, 160)
    steps = np.round(x / q.single_scale()) + q.single_zero_point()
    assert (steps < -128).any() and (steps > 127).any() and ((steps >= -128) & (steps <= 127)).mean() > 0.5


def test_verify_data_feeds_the_bundles_normalized_quantized_windows(tmp_path, capsys):
    _require_host_compiler()
    argv = [BUNDLE, "--board", "host", "--out", tmp_path / "fw", "--verify", 12]
    code, text, _ = run(capsys, [*argv, "--verify-data", "synthetic:waist", "--subjects", "2", "--json"])
    import json

    document = json.loads(text)
    assert code == 0 and document["verify"]["bit_exact"] and document["verify"]["inputs"] == 12
    assert document["verify"]["data"] == "synthetic:waist" and "seed" not in document["verify"]


def test_verify_data_windows_are_what_the_runtime_feeds_its_int8_base():
    import argparse

    from har_edge.cli.firmware import bundle_windows
    from har_edge.data import load_dataset
    from har_edge.runtime.classifier import Classifier
    from har_edge.runtime.interpreter import quantize

    model = (BUNDLE / "base_mcu.tflite").read_bytes()
    args = argparse.Namespace(
        source=BUNDLE,
        verify_data="synthetic:waist",
        verify=5,
        format=None,
        subjects=2,
        column=[],
        label_column=None,
        subject_column=None,
        time_column=None,
        source_rate=None,
        format_option=[],
    )
    got = bundle_windows(args, model)
    classifier = Classifier(BUNDLE)
    from har_edge.cli.common import manifest_windows

    dataset = load_dataset("synthetic:waist", None, subjects=2)
    windows = manifest_windows(dataset, classifier.manifest, keep_unlabelled=True).x
    picked = windows[np.linspace(0, len(windows) - 1, 5).round().astype(int)]
    m = classifier.manifest.base_input_quantization
    detail = {"dtype": np.int8, "quantization": (m.scale, m.zero_point)}
    assert got.dtype == np.int8 and np.array_equal(got, quantize(classifier._normalized(picked), detail))


def test_verify_data_needs_a_bundle(tmp_path, capsys):
    argv = [
        BUNDLE / "base_mcu.tflite",
        "--board",
        "host",
        "--out",
        tmp_path / "fw",
        "--verify-data",
        "synthetic",
    ]
    code, _, error = run(capsys, argv)
    assert code == 2 and "--verify-data needs a bundle folder" in error and not (tmp_path / "fw").exists()


def test_hybrid_model_is_refused_saying_how_to_convert_it(tmp_path, capsys):
    from har_edge.tfcompat import seed_everything, tensorflow

    tf, k = tensorflow(), keras()
    seed_everything(0)
    inputs = k.Input(shape=(12,), batch_size=1)
    converter = tf.lite.TFLiteConverter.from_keras_model(k.Model(inputs, k.layers.Dense(300)(inputs)))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]  # no representative data: dynamic range
    model = tmp_path / "hybrid.tflite"
    model.write_bytes(bytes(converter.convert()))
    code, _, error = run(capsys, [model, "--board", "host", "--out", tmp_path / "fw"])
    assert code == 2 and "float activations and int8 weights" in error and "dynamic-range" in error
    assert "full-integer" in error and "representative_dataset" in error and "TFLITE_BUILTINS_INT8" in error
    assert not (tmp_path / "fw").exists()


def _relabelled(model: bytes, op_index: int, custom_code: str) -> bytes:
    """``model`` with op ``op_index`` turned into a custom op (a Flex op as the converter names it)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    tree = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    code.customCode = custom_code
    code.version = 1
    tree.operatorCodes.append(code)
    tree.subgraphs[0].operators[op_index].opcodeIndex = len(tree.operatorCodes) - 1
    builder = flatbuffers.Builder(1024)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_flex_ops_are_named_and_the_refusal_says_tflm_cannot_run_them(tmp_path, capsys):
    base = int8_model(lambda k, x: k.layers.Dense(3)(k.layers.Dense(5)(x)), (6,), seed=1)
    model = tmp_path / "flex.tflite"
    model.write_bytes(_relabelled(_relabelled(base, 0, "FlexErf"), 1, "FlexBesselI0"))
    code, _, error = run(capsys, [model, "--board", "host", "--out", tmp_path / "fw", "--build"])
    assert code == 2 and "op 0 (FlexErf)" in error and "op 1 (FlexBesselI0)" in error
    assert "TFLM cannot run Flex ops either" in error and not (tmp_path / "fw").exists()


def _with_input_type(model: bytes, type_name: str) -> bytes:
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    tree = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    graph = tree.subgraphs[0]
    graph.tensors[graph.inputs[0]].type = getattr(schema.TensorType, type_name)
    builder = flatbuffers.Builder(1024)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.mark.parametrize("type_name", ["INT16", "UINT8", "FLOAT16", "INT64", "BOOL", "FLOAT64", "COMPLEX64"])
def test_any_declared_input_type_is_an_error_message_not_a_traceback(type_name, tmp_path, capsys):
    _require_host_compiler()
    base = int8_model(lambda k, x: k.layers.Dense(3)(x), (6,), seed=1)
    model = tmp_path / "typed.tflite"
    model.write_bytes(_with_input_type(base, type_name))
    code, _, error = run(capsys, [model, "--board", "host", "--out", tmp_path / "fw", "--verify", 2])
    assert code == 2 and "Traceback" not in error and error.startswith("error: ")
    assert not (tmp_path / "fw").exists()
