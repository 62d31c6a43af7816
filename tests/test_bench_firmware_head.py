"""A bundle's row on an MCU profile with a firmware board (the benchmark's ``personalized`` row): the int8
base plus the trainable float head, both measured on the emulated board (flash, RAM with the mini-batch
cache, instructions per inference and per SGD step), and whether that fits the profile."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from har_edge.bench.report import build_report, render_markdown, report_json
from har_edge.bench.results import ResultRow, VariantFacts
from har_edge.bench.variants import bundle_artifact
from har_edge.codegen.head import head_spec
from har_edge.runtime.bundle import open_bundle
from har_edge.targets.firmware_runner import FirmwareRunner
from har_edge.targets.mcu import McuTarget, mcu_profiles
from tests.arm_tools import require_arm_tools

GOLDEN_BUNDLE = Path(__file__).parent / "golden" / "dense_int8"
M4F = "cortex-m4f-80mhz"


@pytest.fixture(scope="module")
def runner(tmp_path_factory) -> FirmwareRunner:
    require_arm_tools()
    return FirmwareRunner(cache_dir=tmp_path_factory.mktemp("firmware-cache"))


@pytest.fixture(scope="module")
def artifacts():
    """The golden bundle as the personalized variant, and the same artifact without its head."""
    bundle = bundle_artifact(GOLDEN_BUNDLE, variant="personalized")
    return bundle, dataclasses.replace(bundle, head_bytes=None, bundle_path=None)


@pytest.fixture(scope="module")
def rows(runner, artifacts):
    """(base + head row, base-only row) on the Cortex-M4F profile."""
    target = McuTarget(mcu_profiles()[M4F], runner=runner)
    return tuple(target.measure(artifact) for artifact in artifacts)


def test_bundle_row_adds_the_heads_measured_flash_ram_and_instructions_to_the_base(rows):
    with_head, base = rows
    head = with_head.details["head"]
    batch = mcu_profiles()[M4F].head_batch
    spec = head_spec(open_bundle(GOLDEN_BUNDLE), max_batch=batch)
    assert with_head.error is None and base.error is None and "head" not in base.details
    assert head["weights_bytes"] >= 4 * spec.n_parameters and head["code_bytes"] > 0
    assert head["ram_bytes"] >= spec.ram_bytes  # parameters + step scratch, from the linker map
    assert head["batch_cache_bytes"] == spec.batch_cache_bytes and head["max_batch"] == batch == 8
    assert with_head.flash_bytes == base.flash_bytes + head["weights_bytes"] + head["code_bytes"]
    assert with_head.ram_bytes == base.ram_bytes + head["ram_bytes"] + head["batch_cache_bytes"]
    assert with_head.flash_weights_bytes + with_head.flash_code_bytes == with_head.flash_bytes
    assert head["infer_instructions"] > 0
    assert (
        with_head.instructions_per_inference == base.instructions_per_inference + head["infer_instructions"]
    )
    assert with_head.latency_us_p50 > base.latency_us_p50
    assert with_head.provenance == {"ram": "measured", "flash": "measured", "latency": "derived"}
    assert not any("not in the firmware" in note for note in with_head.notes)
    assert any("base + trainable head" in note for note in with_head.notes)


def test_sgd_step_instructions_are_positive_and_the_profiles_batch_costs_more_than_batch_1(rows):
    steps = rows[0].details["head"]["step_instructions"]
    assert set(steps) == {"1", "8"}
    assert 0 < steps["1"] < steps["8"]
    assert f"batch 1: {steps['1']:,}, batch 8: {steps['8']:,}" in " ".join(rows[0].notes)


def test_bundle_whose_head_does_not_fit_a_small_profile_is_fits_no_with_a_negative_margin(
    runner, artifacts, rows
):
    with_head, base = rows
    head_ram = with_head.ram_bytes - base.ram_bytes
    small = dataclasses.replace(
        mcu_profiles()[M4F], name="m4f-small", ram_bytes=base.ram_bytes + head_ram // 2
    )
    target = McuTarget(small, runner=runner)
    bundle_row, base_row = (target.measure(artifact) for artifact in artifacts)
    assert base_row.fits is True and base_row.ram_margin_bytes >= 0
    assert bundle_row.fits is False
    assert bundle_row.ram_margin_bytes == small.ram_bytes - bundle_row.ram_bytes < 0
    assert any("does not fit" in note and "RAM" in note for note in bundle_row.notes)


def test_bundle_row_reaches_the_report_with_the_head_in_its_figures(rows):
    with_head, _ = rows
    facts = VariantFacts(variant="personalized", size_bytes=1000, gzip_bytes=900, precision="int8")
    report = build_report([ResultRow.combine(facts, with_head)], source="test")
    data = json.loads(report_json(report))["results"][0]
    assert data["flash_bytes"] == with_head.flash_bytes and data["ram_bytes"] == with_head.ram_bytes
    assert data["details"]["head"]["step_instructions"]["8"] > 0  # the profile's head_batch
    assert f"{with_head.instructions_per_inference:,}" in render_markdown(report)
