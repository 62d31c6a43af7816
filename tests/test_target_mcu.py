"""The microcontroller target: TFLM on the host in a child process (arena search, parity with LiteRT,
crash isolation), device profiles as data, and the fit against a profile's memory."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from har_edge.errors import DataFormatError
from har_edge.targets import mcu, profiles
from har_edge.targets.base import Artifact
from har_edge.targets.mcu import McuTarget, TflmHostRunner, mcu_profiles
from har_edge.targets.tflm_child import ARENA_GRANULARITY

GOLDEN = Path(__file__).parent / "golden" / "dense_int8"
WINDOW, CHANNELS, CLASSES = 20, 3, 4


@pytest.fixture(scope="module")
def int8_model() -> bytes:
    """The dense architecture (untrained, seeded) on 20x3 windows as the int8 batch-1 MCU variant."""
    from har_edge import models
    from har_edge.optimize.quantize import Precision, convert

    model = models.build("dense", window=WINDOW, channels=CHANNELS, classes=CLASSES, seed=0)
    calibration = np.random.default_rng(0).normal(size=(64, WINDOW * CHANNELS)).astype(np.float32)
    return convert(model, Precision.INT8, representative=calibration, int8_io=True, fixed_batch=True)


@pytest.fixture
def windows(rng) -> np.ndarray:
    return rng.normal(size=(8, WINDOW * CHANNELS)).astype(np.float32)


@pytest.fixture
def m4f():
    return mcu_profiles()["cortex-m4f-80mhz"]


def artifact(mcu_bytes: bytes | None, sample: np.ndarray, **changes) -> Artifact:
    fields = dict(variant="int8", model_bytes=b"", macs=40_000, sample=sample, mcu_bytes=mcu_bytes)
    return Artifact(**(fields | changes))


def test_shipped_profiles_name_their_device_memory_and_source():
    shipped = mcu_profiles()
    assert {"cortex-m4f-80mhz", "cortex-m7-216mhz", "cortex-m33-78mhz"} <= set(shipped)
    m7 = shipped["cortex-m7-216mhz"]
    assert (m7.clock_hz, m7.ram_bytes, m7.flash_bytes) == (216_000_000, 320 * 1024, 1024 * 1024)
    for profile in shipped.values():
        assert profile.macs_per_cycle > 0 and profile.tflm_core_flash_bytes > 0
        assert "estimate" in profile.source


def test_arena_search_returns_the_smallest_arena_that_works_to_16_bytes(int8_model, windows):
    found = TflmHostRunner().run(int8_model, windows)
    arena = found.arena_bytes
    assert found.error is None and arena % ARENA_GRANULARITY == 0
    assert found.details["arena_search"]["largest_failing_bytes"] == arena - ARENA_GRANULARITY
    assert found.details["tflm_recorded_arena_bytes"] == arena  # TFLM's own allocation record agrees
    # Independent child runs capped at exactly N and N - 16 bytes:
    assert TflmHostRunner(arena_max_bytes=arena).run(int8_model, windows).arena_bytes == arena
    too_small = TflmHostRunner(arena_max_bytes=arena - ARENA_GRANULARITY).run(int8_model, windows)
    assert too_small.arena_bytes is None
    assert f"with a {arena - ARENA_GRANULARITY:,} B arena: TFLM failed to allocate tensors" in too_small.error


def test_tflm_matches_litert_on_every_window_and_the_figures_follow_the_profile(int8_model, windows, m4f):
    figures = McuTarget(m4f, runner=TflmHostRunner()).measure(artifact(int8_model, windows, macs=40_000))
    parity = figures.details["parity"]
    assert figures.error is None
    assert parity["windows"] == len(windows) and parity["top1_agreement"] == 1.0
    assert parity["max_diff_steps"] <= 1
    arena = figures.details["arena_bytes"]
    assert figures.ram_bytes == arena + m4f.ram_overhead_bytes
    assert figures.flash_bytes == len(int8_model) + m4f.tflm_core_flash_bytes
    assert figures.latency_us_p50 == pytest.approx(40_000 / (0.25 * 80e6) * 1e6)
    assert figures.fits and figures.ram_margin_bytes == m4f.ram_bytes - figures.ram_bytes
    assert figures.provenance == {"ram": "measured", "flash": "estimated", "latency": "estimated"}
    assert {row["op"]: row["tflm_rejected"] for row in figures.details["ops"]} == {
        "FULLY_CONNECTED": False,
        "RESHAPE": False,
        "SOFTMAX": False,
    }


def test_a_model_larger_than_the_profile_ram_does_not_fit_and_the_margin_is_the_shortfall(
    int8_model, windows, m4f
):
    tiny = dataclasses.replace(m4f, name="tiny-1k", ram_bytes=1024)
    figures = McuTarget(tiny, runner=TflmHostRunner()).measure(artifact(int8_model, windows))
    needed = figures.details["arena_bytes"] + tiny.ram_overhead_bytes
    assert figures.fits is False
    assert figures.ram_margin_bytes == 1024 - needed < 0
    assert figures.flash_margin_bytes > 0
    assert f"does not fit: needs {needed - 1024:,} B more RAM than the 1 KiB of tiny-1k" in figures.notes


def test_a_tflm_crash_is_an_error_row_and_the_next_model_still_measures(int8_model, windows, m4f):
    target = McuTarget(m4f, runner=TflmHostRunner())
    crashed = target.measure(artifact((GOLDEN / "head.tflite").read_bytes(), windows))
    assert "TFLM crashed with SIGSEGV" in crashed.error
    assert crashed.fits is None and crashed.ram_bytes is None and crashed.latency_us_p50 is None
    after = target.measure(artifact(int8_model, windows))
    assert after.error is None and after.ram_bytes > 0


def test_an_op_tflm_lacks_is_named_in_the_error_and_marked_rejected(windows, m4f):
    dynamic_batch_base = (GOLDEN / "base.tflite").read_bytes()  # its Dense on 3-D input brings REDUCE_PROD
    figures = McuTarget(m4f, runner=TflmHostRunner()).measure(
        artifact(dynamic_batch_base, np.zeros((2, 150), np.float32))
    )
    rows = {row["op"]: row for row in figures.details["ops"]}
    assert "REDUCE_PROD" in figures.error and figures.fits is None
    assert rows["REDUCE_PROD"]["tflm_supported"] is False and rows["REDUCE_PROD"]["tflm_rejected"] is True
    assert rows["FULLY_CONNECTED"]["tflm_rejected"] is None  # TFLM stopped before judging it


def test_a_tflm_crash_on_a_too_small_arena_is_retried_above_that_size(rng):
    from har_edge import models
    from har_edge.optimize.quantize import Precision, convert

    model = models.build("cnn", window=16, channels=CHANNELS, classes=CLASSES, seed=0)
    calibration = rng.normal(size=(16, 16, CHANNELS)).astype(np.float32)
    cnn = convert(model, Precision.INT8, representative=calibration, int8_io=True, fixed_batch=True)
    found = TflmHostRunner().run(cnn, calibration[:2])
    crashed = found.details["tflm_crashed_on_arena_bytes"]  # TFLM segfaults at 4 KiB for this cnn
    assert found.error is None and crashed and found.arena_bytes > max(crashed)
    assert found.details["arena_search"]["largest_failing_bytes"] == found.arena_bytes - ARENA_GRANULARITY


def test_a_child_that_overruns_its_timeout_is_an_error_not_an_exception(int8_model, windows):
    outcome = TflmHostRunner(timeout_s=0.001).run(int8_model, windows)
    assert outcome.arena_bytes is None and "did not finish within 0.001 s" in outcome.error


def test_an_artifact_without_an_mcu_model_is_a_not_applicable_row_never_measured(windows, m4f):
    class UnusedRunner:
        def run(self, model_bytes, inputs):
            raise AssertionError("a variant without mcu_bytes must not be run")

    figures = McuTarget(m4f, runner=UnusedRunner()).measure(artifact(None, windows, precision="float16"))
    assert figures.error.startswith("not applicable: a float16 variant has no batch-1 model")
    assert figures.measurement == "not_applicable"
    assert figures.fits is None and figures.ram_bytes is None


def test_a_float32_model_runs_in_tflm_with_a_measured_arena_and_no_int8_latency_estimate(windows, m4f):
    from har_edge import models
    from har_edge.optimize.quantize import Precision, convert

    model = models.build("dense", window=WINDOW, channels=CHANNELS, classes=CLASSES, seed=0)
    float32 = convert(model, Precision.FLOAT32, fixed_batch=True)
    figures = McuTarget(m4f, runner=TflmHostRunner()).measure(artifact(float32, windows, precision="float32"))
    assert figures.error is None and figures.measurement == "estimated"
    assert figures.tflm_arena_bytes == figures.ram_bytes - m4f.ram_overhead_bytes > 0
    assert figures.flash_bytes == len(float32) + m4f.tflm_core_flash_bytes
    assert figures.latency_us_p50 is None and "latency" not in figures.provenance
    assert figures.details["parity"]["top1_agreement"] == 1.0


def test_the_tflm_child_runs_without_importing_tensorflow(int8_model, windows, tmp_path):
    (tmp_path / "m.tflite").write_bytes(int8_model)
    np.save(tmp_path / "x.npy", windows)
    code = (
        "import sys\n"
        "from har_edge.targets import tflm_child\n"
        f"tflm_child.main([{str(tmp_path / 'm.tflite')!r}, {str(tmp_path / 'x.npy')!r}, "
        f"{str(tmp_path / 'out.json')!r}])\n"
        "print(sorted(m for m in ('tensorflow', 'tf_keras', 'tflite_micro') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['tflite_micro']"
    assert '"error": null' in (tmp_path / "out.json").read_text()


VALID_PROFILE = """
["board"]
core = "Cortex-M4F"
clock_hz = 80_000_000
ram_bytes = 262_144
flash_bytes = 1_048_576
macs_per_cycle = 0.25
tflm_core_flash_bytes = 65_536
ram_overhead_bytes = 2_048
source = "an estimate"
note = ""
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("ram_bytes = 262_144", "ram_bytes = -1"), "field 'ram_bytes'"),
        (("clock_hz = 80_000_000", 'clock_hz = "80 MHz"'), "field 'clock_hz'"),
        (('note = ""', 'note = ""\nram_kb = 256'), "unknown field(s) ram_kb"),
        (("macs_per_cycle = 0.25\n", ""), "field 'macs_per_cycle'"),
        (('note = ""', 'note = ""\nhead_batch = 0'), "field 'head_batch'"),
        (('note = ""', 'note = ""\nhead_batch = 8.5'), "field 'head_batch'"),
    ],
    ids=[
        "negative-ram",
        "clock-as-text",
        "unknown-field",
        "missing-field",
        "head-batch-0",
        "head-batch-float",
    ],
)
def test_profile_loader_rejects_a_malformed_profile_naming_file_profile_and_field(
    tmp_path, monkeypatch, change, message
):
    assert set(mcu_profiles_from(tmp_path, monkeypatch, VALID_PROFILE)) == {"board"}
    with pytest.raises(DataFormatError) as raised:
        mcu_profiles_from(tmp_path, monkeypatch, VALID_PROFILE.replace(*change))
    text = str(raised.value)
    assert text.startswith(mcu.PROFILES_FILE) and message in text and "profile 'board'" in text


def mcu_profiles_from(folder: Path, monkeypatch, text: str):
    """``mcu_profiles()`` reading ``text`` as the packaged profiles file."""
    (folder / mcu.PROFILES_FILE).write_text(text)
    monkeypatch.setattr(profiles, "resources", types.SimpleNamespace(files=lambda package: folder))
    return mcu_profiles()
