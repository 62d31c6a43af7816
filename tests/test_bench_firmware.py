"""The firmware runner in the microcontroller target and the benchmark: measured rows (flash split,
RAM, instructions, derived latency, bit-exact parity), the TFLM arena as a comparison column, the
build cache, float32 (measured within its tolerance) and refused models, and the fallback to estimates
when the ARM tools are missing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from har_edge.bench.report import build_report, render_markdown, report_json
from har_edge.bench.results import ResultRow, VariantFacts
from har_edge.firmware import flow
from har_edge.targets import firmware_runner, resolve_targets
from har_edge.targets.base import Artifact
from har_edge.targets.firmware_runner import FirmwareRunner
from har_edge.targets.mcu import McuTarget, TflmHostRunner, mcu_profiles
from tests.arm_tools import require_arm_tools

WINDOW, CHANNELS, CLASSES = 20, 3, 4
M4F = "cortex-m4f-80mhz"


@pytest.fixture(scope="module")
def models_int8_and_float() -> tuple[bytes, bytes]:
    """The dense architecture (untrained, seeded) on 20x3 windows, batch 1: int8 in/out and float32."""
    from har_edge import models
    from har_edge.optimize.quantize import Precision, convert

    model = models.build("dense", window=WINDOW, channels=CHANNELS, classes=CLASSES, seed=0)
    calibration = np.random.default_rng(0).normal(size=(64, WINDOW * CHANNELS)).astype(np.float32)
    int8 = convert(model, Precision.INT8, representative=calibration, int8_io=True, fixed_batch=True)
    return int8, convert(model, Precision.FLOAT32, fixed_batch=True)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("firmware-cache")


@pytest.fixture(scope="module")
def measured(models_int8_and_float, cache_dir):
    require_arm_tools()
    int8, _ = models_int8_and_float
    windows = np.random.default_rng(1).normal(size=(12, WINDOW * CHANNELS)).astype(np.float32)
    target = McuTarget(mcu_profiles()[M4F], runner=FirmwareRunner(cache_dir=cache_dir))
    return target.measure(Artifact(variant="int8", model_bytes=int8, macs=1, sample=windows, mcu_bytes=int8))


def test_firmware_row_is_measured_and_latency_is_derived_from_the_instruction_count(measured):
    profile = mcu_profiles()[M4F]
    firmware = measured.details["firmware"]
    assert measured.error is None and measured.measurement == "measured"
    assert measured.provenance == {"ram": "measured", "flash": "measured", "latency": "derived"}
    assert measured.instructions_per_inference == firmware["instructions_per_inference"] > 0
    expected_us = (
        measured.instructions_per_inference * profile.cycles_per_instruction / profile.clock_hz * 1e6
    )
    assert measured.latency_us_p50 == pytest.approx(expected_us)
    assert measured.instructions_per_mac == pytest.approx(
        measured.instructions_per_inference / firmware["macs"]
    )
    assert firmware["instructions_min"] <= measured.instructions_per_inference <= firmware["instructions_max"]


def test_firmware_flash_is_weights_plus_code_with_the_harness_apart(measured):
    memory = measured.details["firmware"]["memory"]
    assert measured.flash_bytes == measured.flash_weights_bytes + measured.flash_code_bytes
    assert measured.flash_weights_bytes == memory["weights_bytes"] > 0
    assert memory["model_flash_bytes"] + memory["harness_flash_bytes"] == memory["flash_bytes"]
    assert memory["harness_flash_bytes"] > measured.flash_bytes  # printf + semihosting dwarf a tiny model


def test_firmware_ram_is_arena_kernels_and_inference_stack_next_to_the_tflm_arena(measured):
    firmware = measured.details["firmware"]
    memory = firmware["memory"]
    assert (
        measured.ram_bytes
        == memory["arena_bytes"] + memory["kernel_ram_bytes"] + firmware["inference_stack_bytes"]
    )
    assert 0 < firmware["inference_stack_bytes"] < firmware["stack_bytes"]
    assert measured.tflm_arena_bytes > 0  # the comparison column, from TFLM's host interpreter


def test_firmware_outputs_are_bit_exact_with_the_reference_kernels_and_per_layer_counts_add_up(measured):
    firmware = measured.details["firmware"]
    assert firmware["parity"]["bit_exact"] and firmware["parity"]["inputs"] == 12
    assert measured.details["parity"] is firmware["parity"]  # where TFLM rows keep theirs
    assert not any("differs" in note for note in measured.notes)
    counted = [layer["instructions"] for layer in firmware["layers"]]
    assert all(count is not None for count in counted)
    # the profiling build adds its hooks' instructions on top of the plain build's total
    assert sum(counted) <= firmware["instructions_per_inference"] + 100 * len(counted)
    assert (
        firmware["largest_layer"] == max(firmware["layers"], key=lambda layer: layer["instructions"])["name"]
    )


def test_a_second_build_of_the_same_model_comes_from_the_cache(models_int8_and_float, cache_dir, measured):
    int8, _ = models_int8_and_float
    built = flow.build_cached(int8, "mps2-an386", cache_dir=cache_dir)
    stamp = built.binary.stat().st_mtime_ns
    again = flow.build_cached(int8, "mps2-an386", cache_dir=cache_dir)
    assert again.binary == built.binary and again.binary.stat().st_mtime_ns == stamp
    assert len(list(cache_dir.iterdir())) == 1


def test_a_float32_model_is_measured_as_float_firmware_within_its_tolerance(models_int8_and_float, cache_dir):
    require_arm_tools()
    _, float32 = models_int8_and_float
    windows = np.random.default_rng(2).normal(size=(4, WINDOW * CHANNELS)).astype(np.float32)
    target = McuTarget(mcu_profiles()[M4F], runner=FirmwareRunner(cache_dir=cache_dir))
    figures = target.measure(
        Artifact(
            variant="float32",
            model_bytes=float32,
            macs=1,
            sample=windows,
            precision="float32",
            mcu_bytes=float32,
        )
    )
    parity = figures.details["parity"]
    assert figures.error is None and figures.measurement == "measured"
    assert figures.instructions_per_inference > 0 and figures.tflm_arena_bytes > 0
    assert parity["within_tolerance"] and parity["tolerance"] == pytest.approx(1e-5)
    assert parity["max_abs_difference"] < 1e-6  # newlib's expf in the softmax: a few ulp at most
    assert not any("differs" in note for note in figures.notes)
    assert parity["bit_exact"] or any("float32 within 1e-05" in note for note in figures.notes)
    generated = flow.build_cached(float32, "mps2-an386", cache_dir=cache_dir).info.model
    assert figures.flash_weights_bytes >= generated.weight_bytes  # the float arrays, from the ELF


def test_a_model_the_generator_refuses_gets_tflm_figures_and_says_why(cache_dir):
    require_arm_tools()
    from har_edge.tfcompat import tensorflow
    from tests.firmware_support import keras

    tf, k = tensorflow(), keras()
    inputs = k.Input(shape=(8,), batch_size=1)
    model = k.Model(inputs, k.layers.Lambda(tf.math.abs)(k.layers.Dense(4)(inputs)))  # ABS: no kernel
    data = bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    windows = np.random.default_rng(2).normal(size=(4, 8)).astype(np.float32)
    target = McuTarget(mcu_profiles()[M4F], runner=FirmwareRunner(cache_dir=cache_dir))
    figures = target.measure(
        Artifact(
            variant="float32", model_bytes=data, macs=1, sample=windows, precision="float32", mcu_bytes=data
        )
    )
    assert figures.error is None and figures.measurement == "estimated"
    assert figures.tflm_arena_bytes > 0 and figures.instructions_per_inference is None
    assert any("firmware generator did not take the model" in n and "ABS" in n for n in figures.notes)


def test_missing_arm_tools_fall_back_to_estimates_and_say_so_once(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no arm-none-eabi-gcc, no qemu-system-arm
    monkeypatch.setattr(firmware_runner, "_said_fallback", set())
    first, second = resolve_targets(M4F)[0], resolve_targets(M4F)[0]
    stderr = capsys.readouterr().err
    assert isinstance(first.runner, TflmHostRunner) and isinstance(second.runner, TflmHostRunner)
    assert stderr.count("mps2-an386 firmware toolchain is missing") == 1
    assert "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm" in stderr
    assert first.fallback.startswith("estimated:")


def test_a_profile_without_a_firmware_board_keeps_tflm_without_a_notice(capsys):
    target = resolve_targets("cortex-m7-216mhz")[0]
    assert isinstance(target.runner, TflmHostRunner) and target.fallback is None
    assert capsys.readouterr().err == ""


def test_report_carries_the_firmware_columns_in_json_and_markdown(measured):
    facts = VariantFacts(variant="int8", size_bytes=1000, gzip_bytes=900, precision="int8")
    row = ResultRow.combine(facts, measured)
    report = build_report([row], source="test")
    data = json.loads(report_json(report))["results"][0]
    assert data["instructions_per_inference"] == measured.instructions_per_inference
    assert data["flash_weights_bytes"] + data["flash_code_bytes"] == data["flash_bytes"]
    assert data["measurement"] == "measured" and data["provenance"]["latency"] == "derived"
    markdown = render_markdown(report)
    assert "| instructions | instr/MAC |" in markdown
    assert f"{measured.instructions_per_inference:,}" in markdown
