"""The CI gate: budgets TOML -> checks on a benchmark report -> table/JSON and exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from har_edge.bench.report import Report, report_json
from har_edge.bench.results import SCHEMA_VERSION, ResultRow
from har_edge.cli import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_OK, main
from har_edge.errors import DataFormatError, InputError
from har_edge.gate import ALLOW_ENV, LIMITS, Budget, GateReport, evaluate, load_budgets, resolve_override
from har_edge.runtime.benchmark import CALIBRATION_METHOD, Calibration

GOLDEN_BUNDLE = Path(__file__).parent / "golden" / "dense_int8"
MACHINE = {"platform": "Linux-test-x86_64", "cpu_count": 4}
DESKTOP_BUDGET = """
[budget.desktop]
max_size_bytes = 40000
max_latency_us_p50 = 200
min_accuracy = 0.9
"""


def make_row(variant: str = "int8", target: str = "desktop", **figures) -> ResultRow:
    """A measured desktop-like row; ``figures`` replace the defaults."""
    defaults = {
        "size_bytes": 30_000,
        "gzip_bytes": 24_000,
        "latency_us_p50": 150.0,
        "latency_us_p90": 180.0,
        "latency_norm_p50": 1.5,
        "accuracy": 0.92,
        "macro_f1": 0.91,
        "accuracy_drop_pp": 0.4,
        "provenance": {"latency": "measured"},
    }
    return ResultRow(variant=variant, target=target, **{**defaults, **figures})


def write_report(path: Path, rows) -> Path:
    """A schema-valid report.json of ``rows`` (serialized and validated as ``har-edge bench`` does)."""
    report = Report(
        schema_version=SCHEMA_VERSION,
        created_utc="2025-01-01T00:00:00Z",
        git_commit=None,
        machine=MACHINE,
        tool_versions={"har-edge": "0.1.0"},
        source="test",
        calibration=Calibration(CALIBRATION_METHOD, 1, int8_us_p50=100.0, float32_us_p50=80.0),
        results=tuple(rows),
    )
    path.write_text(report_json(report), encoding="utf-8")
    return path


def write_budgets(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def no_override_in_environment(monkeypatch):
    monkeypatch.delenv(ALLOW_ENV, raising=False)


@pytest.fixture
def files(tmp_path):
    """A report with one int8 desktop row within DESKTOP_BUDGET, and that budget."""
    return (
        write_report(tmp_path / "report.json", [make_row()]),
        write_budgets(tmp_path / "budgets.toml", DESKTOP_BUDGET),
    )


def gate(report: Path, budgets: Path, *extra: str) -> int:
    return main(["gate", str(report), "--budgets", str(budgets), *extra])


def checks_for(rows, budget_text: str, tmp_path: Path, baseline_rows=None):
    budgets = load_budgets(write_budgets(tmp_path / "b.toml", budget_text))
    report = GateReport(Path("report.json"), tuple(rows), MACHINE)
    baseline = None if baseline_rows is None else GateReport(Path("base.json"), tuple(baseline_rows), MACHINE)
    return evaluate(report, budgets, baseline)


# --------------------------------------------------------------------------------------------- exit codes


def test_report_within_every_budget_passes_with_exit_0_and_lists_each_check(files, capsys):
    assert gate(*files) == EXIT_OK
    out = capsys.readouterr().out
    for metric in ("max_size_bytes", "max_latency_us_p50", "min_accuracy"):
        assert metric in out
    assert [line.split()[0] for line in out.splitlines() if line.startswith(("PASS", "FAIL"))] == ["PASS"] * 3
    assert "verdict: PASS, 3 checks (exit 0)" in out


def test_oversize_model_fails_with_exit_1_naming_the_budget_and_the_excess(tmp_path, capsys):
    report = write_report(tmp_path / "report.json", [make_row("float32", size_bytes=52_000)])
    budgets = write_budgets(tmp_path / "budgets.toml", DESKTOP_BUDGET)
    assert gate(report, budgets) == EXIT_CHECK_FAILED
    out = capsys.readouterr().out
    assert (
        "FAIL [budget.desktop] desktop/float32: size_bytes 52,000 is over max_size_bytes 40,000 "
        "by 12,000 (30.0 %)" in out
    )
    assert "1 of 3 checks failed" in out
    assert "verdict: FAIL (exit 1)" in out


def test_a_real_bundle_over_its_size_budget_fails_the_gate_after_har_edge_bench(tmp_path, capsys):
    out = tmp_path / "report"
    argv = [
        "bench",
        str(GOLDEN_BUNDLE),
        "--targets",
        "desktop",
        "--out",
        str(out),
        "--no-plots",
        "--no-progress",
    ]
    assert main(argv) == EXIT_OK
    size = json.loads((out / "report.json").read_text())["results"][0]["size_bytes"]
    budgets = write_budgets(tmp_path / "budgets.toml", f"[budget.desktop]\nmax_size_bytes = {size - 1000}\n")
    capsys.readouterr()
    assert gate(out / "report.json", budgets) == EXIT_CHECK_FAILED
    assert f"size_bytes {size:,} is over max_size_bytes {size - 1000:,} by 1,000" in capsys.readouterr().out


def test_override_accepts_failures_with_exit_0_and_echoes_the_reason(tmp_path, capsys):
    report = write_report(tmp_path / "report.json", [make_row(size_bytes=52_000)])
    budgets = write_budgets(tmp_path / "budgets.toml", DESKTOP_BUDGET)
    assert gate(report, budgets, "--allow", "bigger head for 12 classes, see #42") == EXIT_OK
    out = capsys.readouterr().out
    assert "FAIL [budget.desktop]" in out  # still listed as a failure
    banner = "OVERRIDDEN (--allow): bigger head for 12 classes, see #42"
    assert out.splitlines()[1] == banner  # above the table, right after the header line
    assert out.count(banner) == 2  # and again with the verdict
    assert "verdict: 1 failing check accepted by the override (exit 0)" in out


def test_override_from_the_environment_is_echoed_with_its_source(tmp_path, monkeypatch, capsys):
    report = write_report(tmp_path / "report.json", [make_row(size_bytes=52_000)])
    budgets = write_budgets(tmp_path / "budgets.toml", DESKTOP_BUDGET)
    monkeypatch.setenv(ALLOW_ENV, "PR label gate-override")
    assert gate(report, budgets) == EXIT_OK
    assert f"OVERRIDDEN ({ALLOW_ENV}): PR label gate-override" in capsys.readouterr().out


def test_override_on_a_passing_report_says_it_was_not_needed(files, capsys):
    assert gate(*files, "--allow", "just in case") == EXIT_OK
    assert "override not needed (--allow): just in case" in capsys.readouterr().out


def test_empty_override_reason_is_a_usage_error_with_exit_2(files, capsys):
    assert gate(*files, "--allow", "  ") == EXIT_BAD_INPUT
    assert "--allow needs a reason" in capsys.readouterr().err


def test_empty_override_environment_variable_counts_as_unset(tmp_path, monkeypatch):
    report = write_report(tmp_path / "report.json", [make_row(size_bytes=52_000)])
    budgets = write_budgets(tmp_path / "budgets.toml", DESKTOP_BUDGET)
    monkeypatch.setenv(ALLOW_ENV, "")  # what `${{ ... }}` expands to when no label is set
    assert gate(report, budgets) == EXIT_CHECK_FAILED


def test_malformed_toml_is_exit_2_naming_the_file_and_line(tmp_path, capsys):
    budgets = write_budgets(tmp_path / "budgets.toml", "[budget.desktop\nmax_size_bytes = 1\n")
    assert gate(write_report(tmp_path / "r.json", [make_row()]), budgets) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert f"{budgets}: is not valid TOML" in err and "line 1" in err


def test_unknown_budget_key_is_exit_2_listing_the_valid_keys(tmp_path, capsys):
    budgets = write_budgets(tmp_path / "budgets.toml", "[budget.desktop]\nmax_size_byte = 1\n")
    assert gate(write_report(tmp_path / "r.json", [make_row()]), budgets) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "field 'budget.desktop.max_size_byte': unknown key 'max_size_byte'" in err
    assert "did you mean 'max_size_bytes'?" in err
    assert "expected one of " + ", ".join(LIMITS) in err


@pytest.mark.parametrize(
    ("content", "problem"),
    [(None, "cannot read the report"), ("{not json", "not JSON"), ('{"schema_version": 2}', "missing")],
)
def test_unreadable_or_invalid_report_is_exit_2_naming_the_file(tmp_path, capsys, content, problem):
    report = tmp_path / "report.json"
    if content is not None:
        report.write_text(content)
    budgets = write_budgets(tmp_path / "budgets.toml", DESKTOP_BUDGET)
    assert gate(report, budgets) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert str(report) in err and problem in err


def test_json_output_parses_and_carries_verdict_exit_code_override_and_checks(tmp_path, capsys):
    report = write_report(tmp_path / "report.json", [make_row(size_bytes=52_000)])
    budgets = write_budgets(tmp_path / "budgets.toml", DESKTOP_BUDGET)
    assert gate(report, budgets, "--json", "--allow", "reviewed") == EXIT_OK
    document = json.loads(capsys.readouterr().out)
    assert document["verdict"] == "overridden"
    assert document["exit_code"] == EXIT_OK
    assert document["override"] == {"reason": "reviewed", "source": "--allow"}
    assert document["failed"] == 1
    size = next(c for c in document["checks"] if c["metric"] == "max_size_bytes")
    assert (size["passed"], size["value"], size["limit"], size["margin"]) == (False, 52_000, 40_000, -12_000)


def test_gate_help_shows_an_example_and_exits_0(capsys):
    assert main(["gate", "--help"]) == EXIT_OK
    assert "har-edge gate report/report.json --budgets" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------- budgets


def test_pyproject_tool_har_edge_budget_tables_are_read(tmp_path):
    pyproject = write_budgets(
        tmp_path / "pyproject.toml",
        '[project]\nname = "x"\n[tool.har_edge.budget.desktop]\nmax_size_bytes = 40000\n'
        "[tool.har_edge.budget.desktop.int8]\nmax_ram_bytes = 65536\n",
    )
    assert load_budgets(pyproject) == [
        Budget("desktop", None, {"max_size_bytes": 40000}, "tool.har_edge.budget.desktop"),
        Budget("desktop", "int8", {"max_ram_bytes": 65536}, "tool.har_edge.budget.desktop.int8"),
    ]


def test_target_names_with_dots_and_colons_are_quoted_keys(tmp_path):
    budgets = load_budgets(
        write_budgets(
            tmp_path / "b.toml", '[budget."ssh://pi@10.0.0.2:22"."pruned0.5-int8"]\nmax_size_bytes = 1\n'
        )
    )
    assert [(b.target, b.variant, b.table) for b in budgets] == [
        ("ssh://pi@10.0.0.2:22", "pruned0.5-int8", 'budget."ssh://pi@10.0.0.2:22"."pruned0.5-int8"')
    ]


@pytest.mark.parametrize(
    ("text", "field", "problem"),
    [
        (
            '[budget.desktop]\nmax_size_bytes = "40k"\n',
            "budget.desktop.max_size_bytes",
            "is not a finite number",
        ),
        (
            "[budget.desktop]\nmax_size_bytes = true\n",
            "budget.desktop.max_size_bytes",
            "is not a finite number",
        ),
        ("[budget.desktop]\nmin_accuracy = 90\n", "budget.desktop.min_accuracy", "out of range"),
        ("[budget.desktop]\nmax_ram_bytes = -1\n", "budget.desktop.max_ram_bytes", "out of range"),
        ("[budget.desktop]\n", "budget.desktop", "has no limits"),
        ("[budget]\n", "budget", "names no target"),
        ("[budget]\nmax_size_bytes = 1\n", "budget.max_size_bytes", "limits belong in a target table"),
        ("[budget.pi.int8.extra]\nmax_size_bytes = 1\n", "budget.pi.int8.extra", "cannot hold tables"),
        ("[budget.desktop]\nmax_size_bytes = 1\n[budgets.pi]\n", "budgets", "unknown top-level key"),
    ],
)
def test_bad_budget_values_name_the_file_and_the_key(tmp_path, text, field, problem):
    path = write_budgets(tmp_path / "b.toml", text)
    with pytest.raises(DataFormatError, match=problem) as raised:
        load_budgets(path)
    assert (raised.value.path, raised.value.field) == (str(path), field)


def test_a_file_without_budget_tables_is_refused(tmp_path):
    with pytest.raises(DataFormatError, match=r"has no budget tables.*\[tool.har_edge.budget.TARGET\]"):
        load_budgets(write_budgets(tmp_path / "pyproject.toml", '[project]\nname = "x"\n'))


def test_a_missing_budgets_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read the budgets file"):
        load_budgets(tmp_path / "nope.toml")


# --------------------------------------------------------------------------------------------- checks


def test_margin_is_headroom_for_ceilings_and_floors_in_units_and_percent(tmp_path):
    size, accuracy = checks_for(
        [make_row(size_bytes=30_000, accuracy=0.93)],
        "[budget.desktop]\nmax_size_bytes = 40000\nmin_accuracy = 0.9\n",
        tmp_path,
    )
    assert (size.margin, size.margin_pct) == (10_000, 25.0)
    assert accuracy.margin == pytest.approx(0.03)
    assert accuracy.margin_pct == pytest.approx(100 * 0.03 / 0.9)


def test_a_limit_equal_to_the_value_passes(tmp_path):
    (check,) = checks_for(
        [make_row(size_bytes=40_000)], "[budget.desktop]\nmax_size_bytes = 40000\n", tmp_path
    )
    assert check.passed and check.margin == 0


def test_accuracy_under_its_floor_fails_saying_by_how_much(tmp_path):
    (check,) = checks_for([make_row(accuracy=0.85)], "[budget.desktop]\nmin_accuracy = 0.9\n", tmp_path)
    assert not check.passed
    assert "accuracy 0.85 is under min_accuracy 0.9 by 0.05" in check.message


def test_a_metric_the_report_lacks_fails_instead_of_passing(tmp_path):
    (check,) = checks_for([make_row(ram_bytes=None)], "[budget.desktop]\nmax_ram_bytes = 65536\n", tmp_path)
    assert not check.passed
    assert "report has no ram_bytes for desktop/int8" in check.message


def test_a_budget_for_a_target_the_report_lacks_fails(tmp_path):
    (check,) = checks_for([make_row()], "[budget.cortex-m4f-80mhz]\nmax_ram_bytes = 1\n", tmp_path)
    assert not check.passed
    assert "no result for target 'cortex-m4f-80mhz' in report.json (targets there: desktop)" in check.message


def test_a_budget_for_a_variant_the_report_lacks_fails_listing_the_variants(tmp_path):
    rows = [make_row("float32"), make_row("int8")]
    (check,) = checks_for(rows, "[budget.desktop.float16]\nmax_size_bytes = 1\n", tmp_path)
    assert not check.passed
    assert (
        "variant 'float16'" in check.message
        and "(variants of that target there: float32, int8)" in check.message
    )


def test_a_row_with_an_error_fails_once_with_the_error(tmp_path):
    rows = [make_row(error="TFLM: unsupported op REDUCE_PROD", latency_us_p50=None)]
    (check,) = checks_for(rows, DESKTOP_BUDGET, tmp_path)
    assert (check.metric, check.passed) == ("error", False)
    assert "desktop/int8 could not be measured: TFLM: unsupported op REDUCE_PROD" in check.message


def test_estimated_figures_are_gated_and_labelled_estimated(tmp_path):
    row = make_row(target="cortex-m4f-80mhz", ram_bytes=70_000, provenance={"ram": "estimated"})
    size, ram = checks_for(
        [row], "[budget.cortex-m4f-80mhz]\nmax_size_bytes = 40000\nmax_ram_bytes = 65536\n", tmp_path
    )
    assert not size.estimated
    assert ram.estimated and not ram.passed and ram.message.endswith("[estimated]")


def test_a_target_budget_applies_to_every_variant_and_a_variant_table_replaces_its_limits(tmp_path):
    rows = [make_row("float32", size_bytes=80_000), make_row("int8", size_bytes=30_000)]
    budget = """
[budget.desktop]
max_size_bytes = 40000
min_accuracy = 0.9
[budget.desktop.float32]
max_size_bytes = 90000
"""
    checks = checks_for(rows, budget, tmp_path)
    assert {(c.variant, c.metric): (c.limit, c.budget) for c in checks} == {
        ("float32", "max_size_bytes"): (90_000, "budget.desktop.float32"),
        ("float32", "min_accuracy"): (0.9, "budget.desktop"),
        ("int8", "max_size_bytes"): (40_000, "budget.desktop"),
        ("int8", "min_accuracy"): (0.9, "budget.desktop"),
    }
    assert all(c.passed for c in checks)


def test_normalized_latency_passes_on_a_slower_machine_where_raw_latency_fails(tmp_path):
    # The same model on a machine twice as slow: latency and calibration workload both double.
    slow = make_row(latency_us_p50=300.0, latency_norm_p50=300.0 / 200.0)
    raw, normalized = checks_for(
        [slow], "[budget.desktop]\nmax_latency_us_p50 = 200\nmax_latency_norm_p50 = 1.6\n", tmp_path
    )
    assert not raw.passed
    assert normalized.passed and normalized.value == 1.5


def test_normalized_latency_budget_without_a_calibration_fails_clearly(tmp_path):
    (check,) = checks_for(
        [make_row(latency_norm_p50=None)], "[budget.desktop]\nmax_latency_norm_p50 = 2\n", tmp_path
    )
    assert not check.passed and "report has no latency_norm_p50" in check.message


# --------------------------------------------------------------------------------------------- baseline


REGRESSION_BUDGET = """
[budget.desktop]
max_size_increase_pct = 5
max_latency_norm_increase_pct = 10
max_accuracy_decrease_pp = 0.5
"""


def test_baseline_regression_within_tolerance_passes(tmp_path):
    base = make_row(size_bytes=30_000, latency_norm_p50=1.5, accuracy=0.92)
    now = make_row(size_bytes=31_000, latency_norm_p50=1.6, accuracy=0.918)
    checks = checks_for([now], REGRESSION_BUDGET, tmp_path, baseline_rows=[base])
    assert [c.passed for c in checks] == [True, True, True]
    size = checks[0]
    assert size.value == pytest.approx(100 / 30) and size.baseline == 30_000
    assert (
        "size_bytes 31,000 vs baseline 30,000 (+3.33 %) is within max_size_increase_pct 5 %" in size.message
    )


def test_baseline_regression_beyond_tolerance_fails_saying_by_how_much(tmp_path):
    base = make_row(size_bytes=30_000, latency_norm_p50=1.5, accuracy=0.92)
    now = make_row(size_bytes=33_000, latency_norm_p50=1.8, accuracy=0.90)
    size, latency, accuracy = checks_for([now], REGRESSION_BUDGET, tmp_path, baseline_rows=[base])
    assert not (size.passed or latency.passed or accuracy.passed)
    assert "(+10.00 %) is over max_size_increase_pct 5 % by 5 pp" in size.message
    assert "latency_norm_p50 1.8 vs baseline 1.5 (+20.00 %)" in latency.message
    assert "accuracy 0.9 vs baseline 0.92 (-2.00 pp) is over max_accuracy_decrease_pp 0.5 pp by 1.5 pp" in (
        accuracy.message
    )


def test_a_change_exactly_at_its_limit_passes_despite_float_rounding(tmp_path):
    budget = "[budget.desktop]\nmax_accuracy_decrease_pp = 0.5\nmax_size_increase_pct = 10\n"
    now = make_row(accuracy=0.915, size_bytes=33_000)
    decrease, increase = checks_for([now], budget, tmp_path, baseline_rows=[make_row(accuracy=0.92)])
    assert (decrease.value, decrease.passed) == (0.5, True)
    assert (increase.value, increase.passed) == (10.0, True)


def test_regression_limits_fail_without_a_baseline_or_a_baseline_row(tmp_path):
    budget = "[budget.desktop]\nmax_size_increase_pct = 5\n"
    (no_baseline,) = checks_for([make_row()], budget, tmp_path)
    (no_row,) = checks_for([make_row("int8")], budget, tmp_path, baseline_rows=[make_row("float32")])
    assert not (no_baseline.passed or no_row.passed)
    assert "needs a baseline report (--baseline)" in no_baseline.message
    assert "baseline base.json has no result for desktop/int8" in no_row.message


def test_raw_latency_regression_against_another_machine_says_to_prefer_normalized(tmp_path):
    budgets = load_budgets(
        write_budgets(tmp_path / "b.toml", "[budget.desktop]\nmax_latency_increase_pct = 10\n")
    )
    report = GateReport(Path("r.json"), (make_row(latency_us_p50=105.0),), {"platform": "runner-a"})
    baseline = GateReport(Path("b.json"), (make_row(latency_us_p50=100.0),), {"platform": "runner-b"})
    (check,) = evaluate(report, budgets, baseline)
    assert check.passed and "prefer max_latency_norm_increase_pct" in check.message


def test_baseline_regression_end_to_end_exit_codes(tmp_path, capsys):
    budgets = write_budgets(tmp_path / "budgets.toml", "[budget.desktop]\nmax_size_increase_pct = 5\n")
    baseline = write_report(tmp_path / "base.json", [make_row(size_bytes=30_000)])
    grown = write_report(tmp_path / "grown.json", [make_row(size_bytes=36_000)])
    same = write_report(tmp_path / "same.json", [make_row(size_bytes=30_000)])
    assert gate(same, budgets, "--baseline", str(baseline)) == EXIT_OK
    assert gate(grown, budgets, "--baseline", str(baseline)) == EXIT_CHECK_FAILED
    assert "(+20.00 %) is over max_size_increase_pct 5 % by 15 pp" in capsys.readouterr().out


def test_explicit_override_wins_over_the_environment():
    override = resolve_override("from the flag", {ALLOW_ENV: "from the env"})
    assert (override.reason, override.source) == ("from the flag", "--allow")
