"""Latency calibration: reference models shipped in the package, timed like the models they normalize,
recorded in reports (schema 2); schema-1 reports (normalized by a numpy sort) are refused saying why."""

import json
import math
from pathlib import Path

import pytest

from har_edge.bench.report import load_report
from har_edge.cli import EXIT_BAD_INPUT, main
from har_edge.errors import DataFormatError, InputError
from har_edge.runtime import benchmark
from har_edge.runtime.benchmark import CALIBRATION_METHOD, Calibration, calibrate, reference_model
from har_edge.runtime.interpreter import load_interpreter
from har_edge.tflite_info import inspect_tflite
from tests.test_gate import DESKTOP_BUDGET, make_row, write_budgets, write_report

GOLDEN_BASE = Path(__file__).parent / "golden" / "dense_int8" / "base.tflite"
QUICK = {"warmup": 2, "min_repeats": 10, "min_seconds": 0.0}


@pytest.mark.parametrize(("precision", "dtype"), [("int8", "int8"), ("float32", "float32")])
def test_the_packaged_reference_models_are_one_window_conv_and_fully_connected(precision, dtype):
    model = reference_model(precision)
    assert {"CONV_2D", "FULLY_CONNECTED"} <= set(inspect_tflite(model).op_counts)
    (inp,) = load_interpreter(model).get_input_details()
    assert inp["shape"].tolist() == [1, 200, 3] and inp["dtype"].__name__ == dtype


def test_an_unknown_reference_precision_is_refused():
    with pytest.raises(InputError, match="'float16', expected one of"):
        reference_model("float16")


def test_interleaved_timing_times_every_call_at_least_min_repeats_times_in_rounds():
    order, rounds = [], benchmark.ROUND
    calls = {"a": lambda: order.append("a"), "b": lambda: order.append("b")}
    timings = benchmark.time_calls(calls, warmup=0, min_repeats=2 * rounds + 1, min_seconds=0)
    assert timings["a"].n == timings["b"].n == 3 * rounds  # whole rounds
    assert order == (["a"] * rounds + ["b"] * rounds) * 3


def test_calibrate_times_both_references_and_the_sort_at_the_given_thread_count():
    calibration = calibrate(threads=2, **QUICK)
    assert calibration.method == CALIBRATION_METHOD and calibration.threads == 2
    assert min(calibration.int8_us_p50, calibration.float32_us_p50, calibration.sort_us_p50) > 0
    assert calibration.for_precision("int8") == calibration.int8_us_p50
    assert (
        calibration.for_precision("float16") == calibration.for_precision(None) == calibration.float32_us_p50
    )
    assert Calibration.from_dict(json.loads(json.dumps(calibration.to_dict()))) == calibration


@pytest.mark.parametrize(
    "change",
    [
        {"threads": True},
        {"threads": 0},
        {"int8_us_p50": -1.0},
        {"float32_us_p50": math.nan},
        {"method": 3},
        {"sort_us_p50": "fast"},
        {"extra": 1},
    ],
)
def test_a_malformed_calibration_is_refused(change):
    good = Calibration(CALIBRATION_METHOD, 1, 10.0, 12.0, None).to_dict()
    with pytest.raises(InputError, match="calibration: expected"):
        Calibration.from_dict({**good, **change})
    with pytest.raises(InputError, match="calibration: expected"):
        Calibration.from_dict([good])


def test_the_device_runner_prints_a_calibration_at_its_thread_count(capsys, monkeypatch):
    monkeypatch.setattr(benchmark, "time_calls", _quick(benchmark.time_calls))
    assert benchmark.main([str(GOLDEN_BASE), "--threads", "2", "--min-seconds", "0"]) == 0
    output = json.loads(capsys.readouterr().out)
    calibration = Calibration.from_dict(output["calibration"])
    assert calibration.threads == output["timing"]["threads"] == 2


def _quick(time_calls):
    return lambda calls, **method: time_calls(calls, **{**method, **QUICK})


def _as_schema_1(path):
    data = json.loads(path.read_text())
    data["schema_version"] = 1
    data["calibration_us_p50"] = data.pop("calibration")["int8_us_p50"]
    path.write_text(json.dumps(data))
    return path


def test_a_schema_1_report_is_refused_saying_its_normalization_is_not_comparable(tmp_path):
    old = _as_schema_1(write_report(tmp_path / "report.json", [make_row()]))
    with pytest.raises(DataFormatError, match="numpy sort, which is not comparable.*re-run the benchmark"):
        load_report(old)


def test_gating_against_a_schema_1_baseline_is_exit_2_naming_it(tmp_path, capsys):
    report = write_report(tmp_path / "report.json", [make_row()])
    baseline = _as_schema_1(write_report(tmp_path / "baseline.json", [make_row()]))
    budgets = write_budgets(tmp_path / "budgets.toml", DESKTOP_BUDGET)
    assert (
        main(["gate", str(report), "--budgets", str(budgets), "--baseline", str(baseline)]) == EXIT_BAD_INPUT
    )
    err = capsys.readouterr().err
    assert str(baseline) in err and "schema_version 1" in err and "numpy sort" in err
