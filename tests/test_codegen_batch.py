"""A dynamic batch is run at batch 1 (as TFLM does) and the shape arithmetic the converter writes for
it is folded at generation time, with the values TFLite computes; any other dynamic dimension is
refused with the tensor, the dimension and the reason, before a file is written."""

from __future__ import annotations

import numpy as np
import pytest

from har_edge.codegen.fold import FOLDERS
from har_edge.codegen.graph import UnsupportedModelError, read_graph
from tests.firmware_support import host_cross_check, int8_model, random_inputs

SHAPE_OPS = {"SHAPE", "STRIDED_SLICE", "PACK", "GATHER", "REDUCE_PROD", "CONCATENATION"}


def _raw_op_names(model: bytes) -> list[str]:
    from ai_edge_litert import schema_py_generated as schema

    tree = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in tree.operatorCodes]
    return [names[codes[op.opcodeIndex]] for op in tree.subgraphs[0].operators]


@pytest.fixture(scope="module")
def dense_dynamic_batch() -> bytes:
    """The project's dense architecture converted with a dynamic batch: its Dense on a 3-D input
    brings SHAPE, GATHER, REDUCE_PROD, PACK and CONCATENATION around each RESHAPE."""
    from har_edge import models
    from har_edge.optimize.quantize import Precision, convert

    model = models.build("dense", window=20, channels=3, classes=4, seed=0)
    rep = np.random.default_rng(0).normal(size=(16, 20, 3)).astype(np.float32)
    return convert(model, Precision.INT8, representative=rep, int8_io=True, fixed_batch=False)


@pytest.fixture(scope="module")
def batch_kept_reshape() -> bytes:
    """``tf.reshape(x, (tf.shape(x)[0], 24))``: SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE."""

    def build(k, x):
        from har_edge.tfcompat import tensorflow

        tf = tensorflow()
        flat = k.layers.Lambda(lambda t: tf.reshape(t, (tf.shape(t)[0], 24)))(x)
        return k.layers.Dense(5, activation="relu")(flat)

    return int8_model(build, (6, 4), seed=11, batch=None)


def test_dynamic_batch_dense_model_folds_its_shape_ops_and_is_bit_exact(dense_dynamic_batch):
    raw = set(_raw_op_names(dense_dynamic_batch))
    assert {"SHAPE", "GATHER", "REDUCE_PROD", "PACK"} <= raw
    graph = read_graph(dense_dynamic_batch)
    assert not SHAPE_OPS & {op.name for op in graph.ops}
    assert graph.tensor(graph.inputs[0]).shape == (1, 60)
    check = host_cross_check(dense_dynamic_batch, random_inputs(dense_dynamic_batch, 32, seed=3), label="dyn")
    assert check, str(check)


def test_shape_strided_slice_pack_reshape_is_folded_and_bit_exact(batch_kept_reshape):
    assert {"SHAPE", "STRIDED_SLICE", "PACK"} <= set(_raw_op_names(batch_kept_reshape))
    graph = read_graph(batch_kept_reshape)
    assert [op.name for op in graph.ops] == ["RESHAPE", "FULLY_CONNECTED"]
    reshape = graph.ops[0]
    assert graph.tensor(reshape.inputs[1]).data.tolist() == [1, 24]
    check = host_cross_check(batch_kept_reshape, random_inputs(batch_kept_reshape, 32, seed=4), label="pack")
    assert check, str(check)


@pytest.mark.parametrize("fixture", ["dense_dynamic_batch", "batch_kept_reshape"])
def test_folded_values_are_the_ones_tflite_computes_at_batch_1(fixture, request):
    from har_edge.codegen.verify import reference_interpreter

    model = request.getfixturevalue(fixture)
    graph = read_graph(model)
    kept = {t for op in graph.ops for t in op.outputs}
    interpreter = reference_interpreter(model)
    interpreter.set_tensor(graph.inputs[0], np.zeros(graph.tensor(graph.inputs[0]).shape, np.int8))
    interpreter.invoke()
    folded = [t for t in graph.tensors if t.is_constant and t.dtype == "int32" and t.index not in kept]
    computed = [t for t in folded if t.name.endswith(("Shape", "Prod", "stack", "concat_1", "strided_slice"))]
    assert computed
    for t in folded:
        assert np.array_equal(interpreter.get_tensor(t.index), t.data), t.name
    for op in graph.ops:  # and every kept tensor has the shape TFLite gives it at batch 1
        for t in graph.op_outputs(op):
            assert tuple(interpreter.get_tensor(t.index).shape) == t.shape, t.name


def _with_signature(model: bytes, tensor: int, signature: list[int]) -> bytes:
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    tree = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    tree.subgraphs[0].tensors[tensor].shapeSignature = signature
    builder = flatbuffers.Builder(1024)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_dynamic_dimension_other_than_the_batch_is_refused_naming_it(tmp_path):
    from har_edge.codegen.project import write_project

    model = int8_model(lambda k, x: k.layers.Dense(3)(x), (7, 4), seed=2, batch=None)
    graph = read_graph(model)
    x = graph.tensor(graph.inputs[0])
    changed = _with_signature(model, x.index, [-1, -1, 4])
    out = tmp_path / "p"
    with pytest.raises(UnsupportedModelError, match="dynamic dimension 1") as info:
        write_project(changed, out, "host", "m")
    assert x.name in str(info.value) and "batch" in str(info.value)
    assert not out.exists()


def test_strided_slice_folds_like_python_slicing_with_masks():
    from types import SimpleNamespace

    from har_edge.codegen.graph import Op

    options = SimpleNamespace(
        beginMask=0b01, endMask=0, ellipsisMask=0, newAxisMask=0, shrinkAxisMask=0b10, offset=False
    )
    op = Op(0, "STRIDED_SLICE", (), (), options, 1)
    x = np.arange(24, dtype=np.int32).reshape(4, 6)
    (got,) = FOLDERS["STRIDED_SLICE"](op, [x, np.array([2, -1]), np.array([3, 0]), np.array([1, 1])])
    assert np.array_equal(got, x[:3, -1])


def test_negative_dimension_other_than_minus_one_is_refused_not_taken_as_a_batch(tmp_path):
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = int8_model(lambda k, x: k.layers.Dense(3)(x), (7,), seed=2)
    tree = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    graph = tree.subgraphs[0]
    graph.tensors[graph.inputs[0]].shape = [-5, 7]
    builder = flatbuffers.Builder(1024)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    with pytest.raises(UnsupportedModelError, match=r"negative dimension in its shape \[-5, 7\]"):
        read_graph(bytes(builder.Output()))
