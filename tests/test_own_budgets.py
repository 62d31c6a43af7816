"""This project gates itself: a bundle of the demo's architecture, benchmarked on the desktop and an
MCU profile, must stay within ``budgets.toml`` at the repository root."""

from __future__ import annotations

from pathlib import Path

from har_edge.cli import EXIT_OK, main
from har_edge.export import export_bundle
from tests.support import export_request

BUDGETS = Path(__file__).resolve().parents[1] / "budgets.toml"


def test_the_demo_architecture_bundle_stays_within_the_project_budgets(tmp_path, capsys):
    bundle = tmp_path / "bundle"
    export_bundle(export_request(), bundle)
    report = tmp_path / "report"
    bench = ["bench", str(bundle), "--targets", "desktop,cortex-m4f-80mhz", "--out", str(report)]
    assert main([*bench, "--no-progress", "--no-plots"]) == EXIT_OK
    capsys.readouterr()
    code = main(["gate", str(report / "report.json"), "--budgets", str(BUDGETS)])
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    assert "FAIL" not in out and "max_ram_bytes" in out and "max_latency_norm_p50" in out
