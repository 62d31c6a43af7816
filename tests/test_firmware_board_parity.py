"""Bit-exactness on the emulated Cortex-M4F (mps2-an386, the DSP loops compiled with arm-none-eabi-gcc):
every output byte of the generated firmware equals LiteRT's reference kernels (BUILTIN_REF) on 1,000
inputs per model, for the same int8 MCU variants of dense, cnn and cnn+spectrogram (int8, pruned + int8,
QAT + int8) and the same inputs (real windows and seeded random int8) as the host parity tests: the
models come from ``tests.firmware_support``, built once per session for both."""

from __future__ import annotations

import pytest

from tests.arm_tools import require_arm_tools
from tests.firmware_support import INPUTS, VARIANTS, benchmark_variant, parity_inputs

BOARD = "mps2-an386"


@pytest.mark.parametrize(("architecture", "kind"), VARIANTS)
def test_emulated_firmware_is_bit_exact_with_the_reference_kernels_on_1000_inputs(
    architecture, kind, tmp_path
):
    require_arm_tools()
    from har_edge.codegen.project import write_project
    from har_edge.codegen.verify import cross_check
    from har_edge.firmware.build import build, run

    model = benchmark_variant(architecture, kind)
    inputs = parity_inputs(model)
    assert len(inputs) >= INPUTS
    info = write_project(model, tmp_path / "fw", BOARD, "net")
    result = run(build(info.path, BOARD), BOARD, inputs, info.output_bytes)
    check = cross_check(model, inputs, result.outputs, label=f"{architecture} {kind} on {BOARD}")
    assert check, str(check)
    assert check.inputs == len(inputs) and len(result.instructions) == len(inputs)
