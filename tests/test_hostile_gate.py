"""Reports, budgets, sweep files and arguments are untrusted: huge or over-long numbers, NaN/Infinity,
deep nesting, a BOM and repeated rows are exit 2 with a message naming the file, never a traceback;
out-of-range arguments are usage errors (exit 2)."""

from __future__ import annotations

import json

import pytest

from har_edge.cli import EXIT_BAD_INPUT, main
from tests.test_gate import DESKTOP_BUDGET, make_row, write_report


@pytest.fixture
def report(tmp_path):
    return write_report(tmp_path / "report.json", [make_row(), make_row(variant="float32")])


@pytest.fixture
def budgets(tmp_path):
    path = tmp_path / "budgets.toml"
    path.write_text(DESKTOP_BUDGET, encoding="utf-8")
    return path


def gate(report, budgets) -> int:
    return main(["gate", str(report), "--budgets", str(budgets)])


def _budgets_with(budgets, line: str):
    budgets.write_text(DESKTOP_BUDGET.replace("max_size_bytes = 40000", line), encoding="utf-8")
    return budgets


BUDGET_CASES = {
    "size_bytes = 10**400 as digits": ("max_size_bytes = 1" + "0" * 400, "is not a finite number"),
    "a 5,000-digit integer": ("max_size_bytes = " + "9" * 5000, "holds a value TOML cannot read here"),
    "nan": ("max_size_bytes = nan", "is not a finite number"),
    "deep nesting": ("max_size_bytes = " + "[" * 5000 + "]" * 5000, "nested too deeply"),
    "10**400 as an expression": ("max_size_bytes = 10**400", "is not valid TOML"),
}


@pytest.mark.parametrize("case", sorted(BUDGET_CASES))
def test_hostile_budgets_are_exit_2_with_a_message_naming_the_file(report, budgets, capsys, case):
    line, message = BUDGET_CASES[case]
    assert gate(report, _budgets_with(budgets, line)) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert message in err and str(budgets) in err and "Traceback" not in err


def test_a_bom_in_budgets_toml_gets_a_message_that_says_so(report, budgets, capsys):
    budgets.write_bytes(b"\xef\xbb\xbf" + DESKTOP_BUDGET.encode())
    assert gate(report, budgets) == EXIT_BAD_INPUT
    assert "byte-order mark (BOM)" in capsys.readouterr().err


def _report_with(report, old: str, new: str):
    text = report.read_text(encoding="utf-8")
    assert old in text
    report.write_text(text.replace(old, new, 1), encoding="utf-8")
    return report


REPORT_CASES = {
    "NaN": ('"accuracy": 0.92', '"accuracy": NaN', "NaN is not a number JSON allows"),
    "Infinity": ('"latency_us_p50": 150.0', '"latency_us_p50": Infinity', "Infinity is not a number"),
    "10**400 as digits": ('"size_bytes": 30000', '"size_bytes": 1' + "0" * 400, "a 401-digit number"),
    "a 5,000-digit integer": ('"size_bytes": 30000', '"size_bytes": ' + "9" * 5000, "a 5000-digit number"),
    "1e400": ('"accuracy": 0.92', '"accuracy": 1e400', "beyond a float's range"),
    "deep nesting": (
        '"machine": {',
        '"deep": ' + "[" * 50_000 + "]" * 50_000 + ', "machine": {',
        "nested deeper",
    ),
    "duplicate key": ('"accuracy": 0.92', '"accuracy": 0.92, "accuracy": 0.5', "appears twice"),
}


@pytest.mark.parametrize("case", sorted(REPORT_CASES))
def test_hostile_reports_are_exit_2_with_a_message_naming_the_file(report, budgets, capsys, case):
    old, new, message = REPORT_CASES[case]
    assert gate(_report_with(report, old, new), budgets) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert message in err and str(report) in err and "Traceback" not in err


def test_a_report_repeating_a_target_and_variant_row_is_refused_on_read(report, budgets, capsys):
    document = json.loads(report.read_text(encoding="utf-8"))
    document["results"].append(document["results"][0])
    report.write_text(json.dumps(document), encoding="utf-8")
    assert gate(report, budgets) == EXIT_BAD_INPUT
    assert "results[2] repeats target 'desktop', variant 'int8' of results[0]" in capsys.readouterr().err


def test_a_sweep_file_with_a_bom_or_deep_nesting_is_exit_2(tmp_path, capsys):
    sweep = tmp_path / "sweep.toml"
    for raw, message in (
        (b"\xef\xbb\xbf[grid]\n", "byte-order mark"),
        (b"x = " + b"[" * 5000, "nested too deeply"),
    ):
        sweep.write_bytes(raw)
        assert main(["sweep", str(sweep), "--out", str(tmp_path / "out")]) == EXIT_BAD_INPUT
        assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


ARGUMENT_CASES = {
    "negative seed": (["train", "--seed", "-1"], "argument --seed: '-1' is not a seed"),
    "seed beyond 2**32": (["train", "--seed", str(2**40)], "is not a seed"),
    "zero epochs": (["train", "--epochs", "0"], "argument --epochs: '0' is not a positive integer"),
    "nan rate": (["train", "--rate", "nan"], "argument --rate: 'nan' is not a finite number > 0"),
    "negative window": (["train", "--window", "-200"], "argument --window"),
    "sparsity 1.5": (["optimize", "m", "--prune", "1.5", "--quantize", "int8", "--split-at", "x"], "--prune"),
    "zero threads": (["bench", "b", "--threads", "0"], "argument --threads"),
    "ema above 1": (
        ["predict", "b", "synthetic", "--ema", "2"],
        "argument --ema: '2' is not a factor in (0, 1]",
    ),
    "non-ASCII digits": (
        ["personalize", "b", "d", "--labels", "a,b", "--checkpoint", "c", "--epochs", "٣"],
        "--epochs",
    ),
}


@pytest.mark.parametrize("case", sorted(ARGUMENT_CASES))
def test_out_of_range_arguments_are_usage_errors_with_exit_2(tmp_path, capsys, case):
    argv, message = ARGUMENT_CASES[case]
    if "--out" not in argv and argv[0] in ("train", "optimize", "bench"):
        argv = [*argv, "--out", str(tmp_path / "out")]
    assert main(argv) == EXIT_BAD_INPUT
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
