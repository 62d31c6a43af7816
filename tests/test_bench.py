"""Targets (desktop, Pi estimates, the registry), variants and their accuracy loss, ``har-edge bench``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from har_edge import models
from har_edge.bench.measure import measure_variants
from har_edge.bench.report import load_report
from har_edge.bench.results import ResultRow, VariantFacts
from har_edge.bench.variants import Variant, model_variants, parse_variant_names
from har_edge.cli import EXIT_BAD_INPUT, EXIT_OK, main
from har_edge.errors import HarEdgeError, InputError
from har_edge.optimize.quantize import Precision, convert
from har_edge.runtime.benchmark import CALIBRATION_METHOD, Calibration
from har_edge.targets import resolve_targets
from har_edge.targets.base import Artifact, TargetFigures
from har_edge.targets.desktop import DesktopTarget
from har_edge.targets.pi import PiEstimateTarget, pi_profiles
from har_edge.tflite_info import count_macs, inspect_tflite

GOLDEN = Path(__file__).parent / "golden" / "dense_int8"


def golden_artifact(**changes) -> Artifact:
    base = (GOLDEN / "base.tflite").read_bytes()
    sample = np.random.default_rng(0).normal(size=(4, 150)).astype(np.float32)
    fields = {"variant": "golden", "model_bytes": base, "macs": 36_800, "sample": sample, **changes}
    return Artifact(**fields)


def test_count_macs_of_the_dense_model_matches_its_layer_arithmetic(dense):
    window, channels, classes = 200, 3, 12
    per_timestep = channels * 32 + 32 * 16 + 16 * 8
    expected = window * per_timestep + window * 8 * classes
    assert count_macs(convert(dense, Precision.FLOAT32)) == expected
    assert models.summarize(dense).macs == expected


def test_desktop_target_measures_a_stable_median_with_p90_above_it():
    figures = DesktopTarget(min_seconds=0.05).measure(golden_artifact())
    assert figures.provenance == {"latency": "measured"}
    assert figures.latency_n >= 200
    assert 0 < figures.latency_us_p50 <= figures.latency_us_p90
    assert figures.threads == 1 and figures.measurement == "measured"


def test_desktop_target_reports_the_ratio_to_a_slower_keras_call():
    def slow_keras(x):
        return np.linalg.svd(np.ones((120, 120))) and x  # a few hundred µs, certainly slower

    figures = DesktopTarget(min_seconds=0.05).measure(golden_artifact(keras_call=slow_keras))
    assert figures.keras_latency_ratio > 1


def test_desktop_target_times_a_bundle_end_to_end_through_its_folder_not_the_base_alone(monkeypatch):
    import har_edge.targets.desktop as desktop

    timed_folders = []
    real_bundle_call = desktop.bundle_call

    def recording_bundle_call(path, **kwargs):
        timed_folders.append(Path(path))
        return real_bundle_call(path, **kwargs)

    monkeypatch.setattr(desktop, "bundle_call", recording_bundle_call)
    base = DesktopTarget(min_seconds=0.05).measure(golden_artifact())
    assert timed_folders == [] and base.details["what"] == "whole model"
    bundle = DesktopTarget(min_seconds=0.05).measure(
        golden_artifact(head_bytes=(GOLDEN / "head.tflite").read_bytes(), bundle_path=GOLDEN)
    )
    assert timed_folders == [GOLDEN]
    assert bundle.details["what"] == "bundle: normalize + base + head"
    assert 0 < bundle.latency_us_p50 <= bundle.latency_us_p90


def test_pi_estimates_are_marked_estimated_with_their_source_and_scale_with_macs_and_precision():
    rpi4 = PiEstimateTarget(pi_profiles()["rpi4"])
    small, large = rpi4.measure(golden_artifact()), rpi4.measure(golden_artifact(macs=36_800 * 100))
    as_float = rpi4.measure(golden_artifact(precision="float32", macs=36_800 * 100))
    assert small.measurement == "estimated" and "source" in small.details
    assert large.latency_us_p50 > small.latency_us_p50
    assert as_float.latency_us_p50 > large.latency_us_p50
    rpi5 = PiEstimateTarget(pi_profiles()["rpi5"]).measure(golden_artifact(macs=36_800 * 100))
    assert rpi5.latency_us_p50 < large.latency_us_p50


def test_every_pi_profile_names_its_source():
    profiles = pi_profiles()
    assert {"rpi4", "rpi5", "rpi-zero2"} <= set(profiles)
    assert all(len(p.source) > 40 for p in profiles.values())


def test_unknown_target_is_an_input_error_listing_the_known_ones():
    with pytest.raises(InputError, match="known targets: desktop, rpi4.*cortex-m4f-80mhz.*ssh://"):
        resolve_targets("desktop,jetson")


def test_a_target_listed_twice_is_refused():
    with pytest.raises(InputError, match="twice: rpi4"):
        resolve_targets(["rpi4", "desktop", "rpi4"])


CALIBRATION = Calibration(CALIBRATION_METHOD, 1, int8_us_p50=15.0, float32_us_p50=10.0, sort_us_p50=99.0)


def test_latency_is_normalized_by_the_reference_of_its_precision_only_when_measured():
    measured = TargetFigures("desktop", latency_us_p50=30.0, provenance={"latency": "measured"})
    estimated = TargetFigures("rpi4", latency_us_p50=30.0, provenance={"latency": "estimated"})
    int8, float32 = (
        VariantFacts("v", 100, 50, precision="int8"),
        VariantFacts("f", 100, 50, precision="float32"),
    )
    assert ResultRow.combine(int8, measured, calibration=CALIBRATION).latency_norm_p50 == 2.0
    assert ResultRow.combine(float32, measured, calibration=CALIBRATION).latency_norm_p50 == 3.0
    assert ResultRow.combine(int8, estimated, calibration=CALIBRATION).latency_norm_p50 is None
    row = ResultRow.combine(int8, estimated, calibration=CALIBRATION)
    assert row.measurement == "estimated"
    assert ResultRow.from_dict(json.loads(json.dumps(row.to_dict()))) == row


class _BrokenTarget:
    name = "broken"

    def measure(self, artifact):
        raise HarEdgeError("the device caught fire")


def test_a_target_failure_becomes_an_error_row_and_the_run_goes_on():
    variant = Variant(VariantFacts("golden", 1, 1), golden_artifact())
    rows = measure_variants([variant], [_BrokenTarget(), resolve_targets("rpi4")[0]], calibration=CALIBRATION)
    assert rows[0].error == "HarEdgeError: the device caught fire" and rows[0].latency_us_p50 is None
    assert rows[1].error is None and rows[1].latency_us_p50 > 0


def test_unknown_variant_names_are_refused_and_float32_is_always_kept():
    assert parse_variant_names("int8") == ("float32", "int8")
    with pytest.raises(InputError, match="known: float32, float16"):
        parse_variant_names("int8,int4")


@pytest.fixture(scope="module")
def small_variants(tmp_path_factory):
    from har_edge.data.splits import apply_normalizer
    from tests.support import trained_small_dense

    trained, splits = trained_small_dense()
    splits = apply_normalizer(splits, trained.normalizer)
    names = ("float32", "float16", "int8", "pruned50+int8", "pruned90+int8", "personalized")
    workdir = tmp_path_factory.mktemp("variants")
    built = model_variants(trained.model, trained.card, splits, names, workdir=workdir, fine_tune_epochs=4)
    return {v.facts.variant: v for v in built}


@pytest.mark.slow
def test_float32_is_the_reference_of_every_accuracy_drop(small_variants):
    reference = small_variants["float32"].facts
    assert reference.accuracy_drop_pp == 0 and reference.agreement_with_float32 == 1
    for variant in small_variants.values():
        facts = variant.facts
        assert 0 <= facts.accuracy <= 1 and 0 <= facts.agreement_with_float32 <= 1
        if variant.facts.variant != "personalized":  # scored on a subset, see its notes
            assert facts.accuracy_drop_pp == pytest.approx(100 * (reference.accuracy - facts.accuracy))


@pytest.mark.slow
def test_quantized_and_pruned_variants_shrink_and_int8_and_float32_carry_an_mcu_file(small_variants):
    size = {name: v.facts.size_bytes for name, v in small_variants.items()}
    gzip = {name: v.facts.gzip_bytes for name, v in small_variants.items()}
    assert size["int8"] < size["float16"] < size["float32"]
    assert gzip["pruned90+int8"] < gzip["pruned50+int8"] < gzip["int8"]
    assert small_variants["pruned90+int8"].facts.sparsity == pytest.approx(0.9, abs=0.01)
    assert small_variants["float16"].artifact.mcu_bytes is None  # neither TFLM nor the generator runs it
    assert small_variants["int8"].artifact.mcu_bytes is not None
    float32_mcu = inspect_tflite(small_variants["float32"].artifact.mcu_bytes, source="float32 mcu")
    assert float32_mcu.inputs[0].shape[0] == 1 and float32_mcu.inputs[0].dtype == "float32"


@pytest.mark.slow
def test_the_personalized_variant_is_a_bundle_scored_on_the_windows_it_did_not_learn_from(small_variants):
    personalized = small_variants["personalized"]
    assert personalized.artifact.bundle_path is not None and personalized.artifact.head_bytes
    assert personalized.facts.size_bytes == len(personalized.artifact.model_bytes) + len(
        personalized.artifact.head_bytes
    )
    assert "other 70%" in personalized.facts.notes[0]


def test_bench_of_a_bundle_writes_a_valid_report_with_a_row_per_target(tmp_path, capsys):
    out = tmp_path / "report"
    targets = "desktop,rpi4,cortex-m4f-80mhz"
    argv = ["bench", str(GOLDEN), "--targets", targets, "--out", str(out), "--no-progress"]
    assert main(argv) == EXIT_OK
    report = load_report(out / "report.json")
    assert [(r.variant, r.target) for r in report.results] == [
        ("bundle:int8", "desktop"),
        ("bundle:int8", "rpi4"),
        ("bundle:int8", "cortex-m4f-80mhz"),
    ]
    desktop, rpi4, mcu = report.results
    assert desktop.measurement == "measured" and rpi4.measurement == "estimated"
    assert mcu.fits and mcu.provenance["ram"] == "measured" and mcu.ram_bytes > 0
    assert mcu.tflm_arena_bytes > 0  # the comparison column, whichever runner measured the row
    assert desktop.size_bytes == sum((GOLDEN / f).stat().st_size for f in ("base.tflite", "head.tflite"))
    own = Calibration.from_dict(desktop.details["calibration"])  # the desktop's, at its thread count
    assert own.method == report.calibration.method == CALIBRATION_METHOD and own.threads == desktop.threads
    assert desktop.latency_norm_p50 == pytest.approx(desktop.latency_us_p50 / own.int8_us_p50)
    assert {p.name for p in out.iterdir()} >= {"report.json", "report.csv", "report.md"}
    assert "| bundle:int8 | rpi4 |" in capsys.readouterr().out


def test_bench_with_an_unknown_target_is_exit_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["bench", str(GOLDEN), "--targets", "desktop,pi9", "--out", str(out)]) == EXIT_BAD_INPUT
    assert "unknown target 'pi9'" in capsys.readouterr().err
    assert not out.exists()


def test_bench_of_a_folder_that_is_neither_bundle_nor_model_is_exit_2(tmp_path, capsys):
    argv = ["bench", str(tmp_path), "--targets", "desktop", "--out", str(tmp_path / "r"), "--no-progress"]
    assert main(argv) == EXIT_BAD_INPUT
    assert "neither a bundle" in capsys.readouterr().err


def test_a_bundle_without_an_evaluation_record_is_scored_with_a_note_that_training_windows_may_be_in():
    from har_edge.bench.run import TestData, bundle_variant

    data = TestData("synthetic", options={"subjects": 2, "seconds_per_activity": 12, "seed": 3})
    variant = bundle_variant(GOLDEN, data)
    (note,) = variant.facts.notes
    assert note.startswith("accuracy on ") and "every labelled window with a label the bundle knows" in note
    assert "does not record its training data" in note
    assert 0 <= variant.facts.accuracy <= 1
