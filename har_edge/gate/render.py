"""The gate's outputs: the text table with the failures and the verdict, and the ``--json`` document."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from har_edge.gate.budgets import LIMITS
from har_edge.gate.checks import ALLOW_ENV, Check, Override, number_text, verdict

GATE_SCHEMA_VERSION = 1


EXIT_PASSED, EXIT_FAILED = 0, 1


def render_checks(checks: Sequence[Check], override: Override | None) -> str:
    """A table of every check, the failures spelled out, and the verdict. An override that accepts
    failures is printed above the table and again with the verdict."""
    header = ("result", "target", "variant", "check", "value", "limit", "margin")
    gated = [check for check in checks if not check.skipped]
    rows = [header, *(_table_row(check) for check in gated)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    table = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    outcome = verdict(checks, override)
    banner = f"OVERRIDDEN ({override.source}): {override.reason}" if override else ""
    failures = [c for c in checks if not c.passed]
    lines = [banner, ""] if outcome == "overridden" else []
    lines += table
    if any(c.estimated for c in gated):
        lines.append("* estimated figure (not measured on the target)")
    accepted = [c for c in gated if c.passed and c.metric == "fits" and not c.value]
    lines += [f"NOTE {c.message}" for c in accepted]
    skipped = [c for c in checks if c.skipped]
    if skipped:
        lines += ["", f"{len(skipped)} skipped (not gated):"]
        lines += [f"  SKIP {c.message}" for c in skipped]
    if failures:
        lines += ["", f"{len(failures)} of {len(gated)} checks failed:"]
        lines += [f"  FAIL {c.message}" for c in failures]
    lines.append("")
    if outcome == "overridden":
        accepted = f"{len(failures)} failing check{'s' if len(failures) > 1 else ''}"
        lines += [banner, f"verdict: {accepted} accepted by the override (exit 0)"]
    elif outcome == "fail":
        lines.append(f"verdict: FAIL (exit 1); to accept on purpose: --allow REASON or {ALLOW_ENV}=REASON")
    else:
        lines.append(f"verdict: PASS, {len(gated)} checks (exit 0)")
        if override:
            lines.append(f"override not needed ({override.source}): {override.reason}")
    return "\n".join(lines)


def _table_row(check: Check) -> tuple[str, ...]:
    kind = LIMITS.get(check.metric)
    share = f" ({check.margin_pct:+.1f} %)" if check.margin_pct is not None else ""
    if check.metric == "fits":
        value = "yes" if check.value else "no"
    else:
        value = _with_unit(check.value, kind.unit if kind else "")
    return (
        ("PASS" if check.passed else "FAIL") + ("*" if check.estimated else ""),
        check.target,
        check.variant or "*",
        check.metric,
        value,
        _with_unit(check.limit, kind.unit if kind else ""),
        _with_unit(check.margin, kind.margin_unit if kind else "") + share,
    )


def _with_unit(value: float | None, unit: str) -> str:
    return "-" if value is None else number_text(value) + unit


def gate_document(
    checks: Sequence[Check], override: Override | None, *, report: Path, budgets: Path, baseline: Path | None
) -> dict[str, Any]:
    """The ``--json`` output: inputs, verdict, exit code, override and every check."""
    outcome = verdict(checks, override)
    return {
        "schema_version": GATE_SCHEMA_VERSION,
        "report": str(report),
        "budgets": str(budgets),
        "baseline": None if baseline is None else str(baseline),
        "verdict": outcome,
        "exit_code": EXIT_FAILED if outcome == "fail" else EXIT_PASSED,
        "override": None if override is None else asdict(override),
        "failed": sum(not check.passed for check in checks),
        "skipped": sum(check.skipped for check in checks),
        "checks": [asdict(check) for check in checks],
    }
