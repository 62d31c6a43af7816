"""The gate tells the truth about rows that do not apply, do not fit, or were only estimated: what a user
gating the demo's report with the repository's budgets ran into."""

from __future__ import annotations

from pathlib import Path

import pytest

from har_edge.cli import EXIT_CHECK_FAILED, EXIT_OK
from har_edge.errors import DataFormatError
from har_edge.gate import load_budgets
from tests.test_gate import gate, make_row, no_override_in_environment, write_budgets, write_report

__all__ = ["no_override_in_environment"]  # the autouse fixture, re-exported so it applies here too

MCU = "cortex-m4f-80mhz"
MCU_BUDGET = f"""
[budget.{MCU}]
max_ram_bytes = 300000
max_flash_bytes = 90000
"""


def mcu_row(variant: str = "int8", **figures):
    """A measured firmware row that fits a 256 KiB part; ``figures`` replace the defaults."""
    defaults = {
        "ram_bytes": 20_000,
        "flash_bytes": 30_000,
        "fits": True,
        "ram_margin_bytes": 242_144,
        "flash_margin_bytes": 994_576,
        "provenance": {"latency": "measured", "ram": "measured", "flash": "measured"},
    }
    return make_row(variant, MCU, **{**defaults, **figures})


def not_applicable_row(variant: str):
    return make_row(
        variant,
        MCU,
        latency_us_p50=None,
        latency_us_p90=None,
        latency_norm_p50=None,
        measurement="not_applicable",
        provenance={},
    )


def test_not_applicable_mcu_rows_are_skipped_and_listed_not_failed(tmp_path, capsys):
    # The demo's float16 and dynamic variants have no MCU figures: TFLM and the firmware run neither.
    rows = [mcu_row(), not_applicable_row("float16"), not_applicable_row("dynamic")]
    report = write_report(tmp_path / "report.json", rows)
    code = gate(report, write_budgets(tmp_path / "b.toml", MCU_BUDGET))
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    assert "2 skipped (not gated)" in out
    assert f"SKIP [budget.{MCU}] {MCU}/float16 skipped: not applicable" in out
    assert "verdict: PASS, 3 checks" in out  # fits, RAM and flash of the int8 row


def test_a_row_that_does_not_fit_its_target_fails_even_within_every_limit(tmp_path, capsys):
    # The personalized row needed 291,531 B on a 256 KiB part and passed max_ram_bytes = 300000.
    over = mcu_row("personalized", ram_bytes=291_531, fits=False, ram_margin_bytes=-29_387)
    report = write_report(tmp_path / "report.json", [mcu_row(), over])
    code = gate(report, write_budgets(tmp_path / "b.toml", MCU_BUDGET))
    out = capsys.readouterr().out
    assert code == EXIT_CHECK_FAILED
    assert f"FAIL [budget.{MCU}] {MCU}/personalized does not fit its target (RAM over by 29,387 B)" in out
    assert "1 of 6 checks failed" in out


def test_require_fit_false_accepts_a_row_that_does_not_fit_and_says_so(tmp_path, capsys):
    over = mcu_row("personalized", fits=False, ram_margin_bytes=-10)
    report = write_report(tmp_path / "report.json", [over])
    budgets = MCU_BUDGET + f"\n[budget.{MCU}.personalized]\nrequire_fit = false\n"
    code = gate(report, write_budgets(tmp_path / "b.toml", budgets))
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    assert "accepted by require_fit = false" in out


def test_a_budget_that_accepts_measured_figures_only_skips_estimated_ones(tmp_path, capsys):
    # float32's flash was a TFLM estimate (model + a 64 KiB interpreter core) over the firmware's budget.
    estimated = mcu_row(
        "float32",
        flash_bytes=120_000,
        provenance={"latency": "estimated", "ram": "estimated", "flash": "estimated"},
    )
    report = write_report(tmp_path / "report.json", [mcu_row(), estimated])
    strict = MCU_BUDGET + 'accept = ["measured"]\n'
    code = gate(report, write_budgets(tmp_path / "strict.toml", strict))
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    assert f"{MCU}/float32 skipped: flash_bytes is estimated" in out
    # Without the option, estimates are gated (and fail here), as before.
    assert gate(report, write_budgets(tmp_path / "all.toml", MCU_BUDGET)) == EXIT_CHECK_FAILED


def test_a_variant_table_option_replaces_its_target_tables_option(tmp_path):
    estimated = mcu_row("float32", flash_bytes=120_000, provenance={"flash": "estimated"})
    report = write_report(tmp_path / "report.json", [estimated])
    budgets = (
        MCU_BUDGET
        + 'accept = ["measured"]\n'
        + f'[budget.{MCU}.float32]\naccept = ["measured", "estimated"]\n'
    )
    assert gate(report, write_budgets(tmp_path / "b.toml", budgets)) == EXIT_CHECK_FAILED


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('accept = ["guessed"]', "is not a list of measurement kinds"),
        ("accept = []", "is not a list of measurement kinds"),
        ('accept = "measured"', "is not a list of measurement kinds"),
        ('require_fit = "no"', "is not true or false"),
    ],
)
def test_bad_options_name_the_file_and_the_field(tmp_path, line, problem):
    path = write_budgets(tmp_path / "b.toml", MCU_BUDGET + line + "\n")
    with pytest.raises(DataFormatError, match=problem) as error:
        load_budgets(path)
    assert "b.toml" in str(error.value) and f"budget.{MCU}." in str(error.value)


def test_a_table_of_options_alone_is_a_valid_variant_table(tmp_path):
    path = write_budgets(tmp_path / "b.toml", MCU_BUDGET + f"[budget.{MCU}.float32]\nrequire_fit = false\n")
    variant = next(b for b in load_budgets(path) if b.variant == "float32")
    assert variant.limits == {} and variant.require_fit is False


REPOSITORY_BUDGETS = Path(__file__).resolve().parents[1] / "budgets.toml"


def demo_report_rows(personalized_fits: bool = True) -> list:
    """Rows of the demo's report on the desktop and its Cortex-M4F target, as the demo writes them
    (figures of a run on 2026-12-06): measured int8 and float32 firmware, float16/dynamic not applicable,
    the personalized row with its trainable head."""
    over = {} if personalized_fits else {"fits": False, "ram_margin_bytes": -35_000}
    return [
        make_row("int8"),  # desktop
        make_row("personalized", size_bytes=89_976, latency_norm_p50=2.6),
        mcu_row("float32", ram_bytes=26_249, flash_bytes=81_569, size_bytes=88_576),
        not_applicable_row("float16"),
        not_applicable_row("dynamic"),
        mcu_row("int8", ram_bytes=6_800, flash_bytes=24_868),
        mcu_row("personalized", ram_bytes=135_639, flash_bytes=85_696, size_bytes=89_976, **over),
    ]


def test_the_repository_budgets_pass_the_demo_report_and_fail_it_when_a_variant_stops_fitting(
    tmp_path, capsys
):
    passing = write_report(tmp_path / "ok.json", demo_report_rows())
    assert gate(passing, REPOSITORY_BUDGETS) == EXIT_OK, capsys.readouterr().out
    capsys.readouterr()
    failing = write_report(tmp_path / "over.json", demo_report_rows(personalized_fits=False))
    assert gate(failing, REPOSITORY_BUDGETS) == EXIT_CHECK_FAILED
    assert f"{MCU}/personalized does not fit its target" in capsys.readouterr().out
