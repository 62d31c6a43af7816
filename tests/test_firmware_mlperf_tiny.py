"""The five MLPerf Tiny reference models (``../shared/models/mlperf-tiny/``), as published: a dynamic
batch, int8 in and out. Each generates, and its firmware is bit-exact with LiteRT's reference kernels
on the host build and on the emulated Cortex-M4F (mps2-an386 under QEMU)."""

from __future__ import annotations

import pytest

from har_edge.codegen.graph import read_graph
from har_edge.codegen.verify import cross_check, random_inputs
from tests.arm_tools import require_arm_tools
from tests.firmware_support import host_cross_check
from tests.shared_files import shared_file

MODELS = ["ad01_int8", "kws_ref_model", "pretrainedResnet_quant", "str_ww_ref_model", "vww_96_int8"]
HOST_INPUTS = 20
BOARD_INPUTS = 3  # a vww inference is ~30 M instructions; the build, not the run, is the cost


def _model(name: str) -> bytes:
    return shared_file("models", "mlperf-tiny", f"{name}.tflite").read_bytes()


@pytest.mark.parametrize("name", MODELS)
def test_mlperf_tiny_model_with_a_dynamic_batch_is_bit_exact_on_the_host(name):
    from ai_edge_litert.interpreter import Interpreter

    model = _model(name)
    (detail,) = Interpreter(model_content=model).get_input_details()
    assert detail["shape_signature"][0] == -1  # the published file, not a fixed-batch re-export
    graph = read_graph(model)
    assert graph.tensor(graph.inputs[0]).shape[0] == 1
    check = host_cross_check(model, random_inputs(model, HOST_INPUTS, seed=1), label=name)
    assert check, str(check)


@pytest.mark.parametrize("name", MODELS)
def test_mlperf_tiny_model_is_bit_exact_on_the_emulated_cortex_m4(name, tmp_path):
    from har_edge.codegen.project import write_project
    from har_edge.firmware.build import build, run

    require_arm_tools()
    model = _model(name)
    info = write_project(model, tmp_path / "fw", "mps2-an386", "net")
    inputs = random_inputs(model, BOARD_INPUTS, seed=2)
    result = run(build(info.path, "mps2-an386"), "mps2-an386", inputs, info.output_bytes)
    check = cross_check(model, inputs, result.outputs, label=f"{name} on mps2-an386")
    assert check, str(check)
