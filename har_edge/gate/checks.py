"""Checks: each budget's limits applied to the report's rows (and a baseline's), the override that
accepts failures, and the verdict.

Rows whose target does not run their kind of variant (``measurement`` ``not_applicable``) are skipped and
listed, as are figures of a measurement kind the budget does not ``accept``. A row whose target says it
does not fit (``fits`` false) fails a ``fits`` check unless its budget sets ``require_fit = false``.

Caveats: a budget that names a figure the report lacks (None, or no matching row, or a row that
failed with an error) fails; so does a regression limit when there is no baseline or the baseline has
no such row. Raw latency (``latency_us_*``) is only comparable on the same machine; across machines
gate ``latency_norm_p50`` (latency divided by the reference model timed in the same run).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from har_edge.bench.report import load_report
from har_edge.bench.results import ResultRow
from har_edge.errors import InputError
from har_edge.gate.budgets import LIMITS, MEASUREMENT_KINDS, Budget, Comparison, LimitKind

ALLOW_ENV = "HAR_EDGE_GATE_ALLOW"


# Which entry of a row's ``provenance`` says whether a field was measured or estimated.
_PROVENANCE_OF = {
    "latency_us_p50": "latency",
    "latency_us_p90": "latency",
    "latency_norm_p50": "latency",
    "ram_bytes": "ram",
    "flash_bytes": "flash",
}


@dataclass(frozen=True)
class GateReport:
    """The parts of a benchmark report the gate reads, and where it came from."""

    path: Path
    rows: tuple[ResultRow, ...]
    machine: Any = None

    @classmethod
    def read(cls, path: str | Path) -> GateReport:
        """Read and validate a report (``InputError`` when unreadable or not a report)."""
        report = load_report(path)
        return cls(Path(path), report.results, report.machine)

    def find(self, target: str, variant: str) -> ResultRow | None:
        return next((row for row in self.rows if row.target == target and row.variant == variant), None)

    def variants_of(self, target: str) -> list[str]:
        return [row.variant for row in self.rows if row.target == target]


@dataclass(frozen=True)
class Check:
    """One limit applied to one row (or a budget that found no row).

    ``margin`` is headroom: limit − value for ceilings and changes, value − limit for floors, so a
    negative margin is the amount by which the check failed; ``margin_pct`` is it as a share of the
    limit (None for limits that are themselves percentages). ``value`` is the change from the
    baseline for ``*_increase_pct`` / ``*_decrease_pp`` limits, and ``baseline`` the baseline figure."""

    target: str
    variant: str | None
    metric: str
    passed: bool
    message: str
    budget: str
    value: float | None = None
    limit: float | None = None
    margin: float | None = None
    margin_pct: float | None = None
    baseline: float | None = None
    estimated: bool = False
    skipped: bool = False  # not gated (not applicable, or a measurement kind the budget does not accept)


def evaluate(
    report: GateReport, budgets: Sequence[Budget], baseline: GateReport | None = None
) -> list[Check]:
    """Every check of ``budgets`` on ``report``: per budgeted row in report order, then budgets that
    matched no row. A row that carries an error gives one failing check instead of its figures; a
    ``not_applicable`` row one skipped check."""
    checks: list[Check] = []
    for row in report.rows:
        applicable = sorted((b for b in budgets if b.applies_to(row)), key=lambda b: b.variant is not None)
        if not applicable:
            continue
        table = applicable[-1].table
        if row.measurement == "not_applicable":
            reason = row.error or "the target does not run this kind of variant"
            reason = reason if reason.startswith("not applicable") else f"not applicable: {reason}"
            checks.append(_skip(row, "result", table, reason))
            continue
        if row.error:
            message = f"[{table}] {_where(row)} could not be measured: {row.error}"
            checks.append(Check(row.target, row.variant, "error", False, message, table))
            continue
        accept, require_fit = _options(applicable)
        if row.fits is not None:
            checks.append(_fit_check(row, table, require_fit))
        limits = {key: (limit, b) for b in applicable for key, limit in b.limits.items()}
        for key, (limit, budget) in limits.items():
            kind = LIMITS[key]
            figure_kind = "estimated" if _is_estimated(row, kind.field) else "measured"
            if getattr(row, kind.field) is not None and figure_kind not in accept:
                reason = (
                    f"{kind.field} is {figure_kind}; [{budget.table}] accepts {', '.join(sorted(accept))}"
                )
                checks.append(_skip(row, key, budget.table, reason, limit=limit))
                continue
            checks.append(_check(row, kind, limit, budget.table, report, baseline))
    for budget in budgets:
        if not any(budget.applies_to(row) for row in report.rows):
            checks.append(_no_row(budget, report))
    return checks


def _options(applicable: Sequence[Budget]) -> tuple[frozenset[str], bool]:
    """The measurement kinds accepted and whether the row must fit: the most specific table that sets
    each option wins (a variant table over its target table), else the defaults."""
    accept, require_fit = frozenset(MEASUREMENT_KINDS), True
    for budget in applicable:
        accept = budget.accept if budget.accept is not None else accept
        require_fit = budget.require_fit if budget.require_fit is not None else require_fit
    return accept, require_fit


def _skip(row: ResultRow, metric: str, table: str, reason: str, limit: float | None = None) -> Check:
    message = f"[{table}] {_where(row)} skipped: {reason}"
    return Check(row.target, row.variant, metric, True, message, table, limit=limit, skipped=True)


def _fit_check(row: ResultRow, table: str, required: bool) -> Check:
    """Whether the row fits its target's memory, from the target's own margins."""
    shortfalls = [
        f"{name} over by {number_text(-margin)} B"
        for name, margin in (("RAM", row.ram_margin_bytes), ("flash", row.flash_margin_bytes))
        if margin is not None and margin < 0
    ]
    detail = "; ".join(shortfalls) or "over the target's memory"
    if row.fits:
        message = f"[{table}] {_where(row)} fits the target's RAM and flash"
    elif required:
        message = (
            f"[{table}] {_where(row)} does not fit its target ({detail}); require_fit = false accepts it"
        )
    else:
        message = (
            f"[{table}] {_where(row)} does not fit its target ({detail}), accepted by require_fit = false"
        )
    passed = bool(row.fits) or not required
    return Check(row.target, row.variant, "fits", passed, message, table, value=1.0 if row.fits else 0.0)


def _no_row(budget: Budget, report: GateReport) -> Check:
    if budget.variant is None:
        targets = ", ".join(sorted({row.target for row in report.rows})) or "none"
        message = f"no result for target {budget.target!r} in {report.path} (targets there: {targets})"
    else:
        variants = ", ".join(report.variants_of(budget.target)) or "none"
        message = (
            f"no result for target {budget.target!r} variant {budget.variant!r} in {report.path} "
            f"(variants of that target there: {variants})"
        )
    return Check(budget.target, budget.variant, "result", False, f"[{budget.table}] {message}", budget.table)


def _check(
    row: ResultRow, kind: LimitKind, limit: float, table: str, report: GateReport, baseline: GateReport | None
) -> Check:
    def failed(problem: str) -> Check:
        return Check(row.target, row.variant, kind.key, False, f"[{table}] {problem}", table, limit=limit)

    current = getattr(row, kind.field)
    if not _usable(current):
        return failed(
            f"report has no {kind.field} for {_where(row)} (got {current}), so {kind.key} cannot pass"
        )
    base_value = note = None
    if kind.needs_baseline:
        base_value, problem = _baseline_value(row, kind, baseline)
        if problem:
            return failed(problem)
        if kind.field == "latency_us_p50" and baseline.machine != report.machine:
            note = "the baseline ran on another machine, so prefer max_latency_norm_increase_pct"
    value = _compared_value(kind, current, base_value)
    margin = value - limit if kind.comparison == Comparison.MIN else limit - value
    margin_pct = None if kind.needs_baseline or limit == 0 else 100 * margin / abs(limit)
    estimated = _is_estimated(row, kind.field)
    message = f"[{table}] {_where(row)}: {_observed(kind, current, base_value, value)} "
    if margin >= 0:
        message += f"is within {kind.key} {number_text(limit)}{kind.unit}"
    else:
        side = "under" if kind.comparison == Comparison.MIN else "over"
        excess = f"{number_text(-margin)}{kind.margin_unit}"
        share = f" ({abs(margin_pct):.1f} %)" if margin_pct is not None else ""
        message += f"is {side} {kind.key} {number_text(limit)}{kind.unit} by {excess}{share}"
    message += (" [estimated]" if estimated else "") + (f"; {note}" if note else "")
    return Check(
        row.target,
        row.variant,
        kind.key,
        margin >= 0,
        message,
        table,
        value=value,
        limit=limit,
        margin=margin,
        margin_pct=margin_pct,
        baseline=base_value,
        estimated=estimated,
    )


def _baseline_value(row: ResultRow, kind: LimitKind, baseline: GateReport | None) -> tuple[float | None, str]:
    """The baseline's figure for ``row``, or None and why there is none."""
    if baseline is None:
        return None, f"{kind.key} needs a baseline report (--baseline) for {_where(row)}"
    base_row = baseline.find(row.target, row.variant)
    if base_row is None:
        return None, f"baseline {baseline.path} has no result for {_where(row)}, so {kind.key} cannot pass"
    value = getattr(base_row, kind.field)
    if not _usable(value) or (kind.comparison == Comparison.INCREASE_PCT and value <= 0):
        return None, f"baseline {baseline.path} has no usable {kind.field} for {_where(row)} (got {value})"
    return value, ""


def _compared_value(kind: LimitKind, current: float, base_value: float | None) -> float:
    """The figure itself, or its change from the baseline rounded to 1e-9 so that a change exactly at
    its limit (0.92 -> 0.915 against 0.5 pp) is not failed by floating-point noise."""
    if kind.comparison == Comparison.INCREASE_PCT:
        return round(100 * (current - base_value) / base_value, 9)
    if kind.comparison == Comparison.DECREASE_PP:
        return round(100 * (base_value - current), 9)
    return current


def _observed(kind: LimitKind, current: float, base_value: float | None, value: float) -> str:
    if not kind.needs_baseline:
        return f"{kind.field} {number_text(current)}"
    change = f"{value:+.2f}{kind.unit}" if kind.comparison == Comparison.INCREASE_PCT else f"{-value:+.2f} pp"
    return f"{kind.field} {number_text(current)} vs baseline {number_text(base_value)} ({change})"


def _is_estimated(row: ResultRow, field: str) -> bool:
    source = _PROVENANCE_OF.get(field)
    return source is not None and row.provenance.get(source, row.measurement) == "estimated"


def _usable(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _where(row: ResultRow) -> str:
    return f"{row.target}/{row.variant}"


def number_text(value: float | None) -> str:
    if value is None:
        return "-"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.1f}" if abs(value) >= 1000 else f"{value:.4g}"


@dataclass(frozen=True)
class Override:
    """An accepted failure: why, and whether it came from ``--allow`` or the environment."""

    reason: str
    source: str


def resolve_override(allow: str | None, environ: Mapping[str, str]) -> Override | None:
    """``--allow REASON`` wins over ``HAR_EDGE_GATE_ALLOW``. An empty ``--allow`` is an ``InputError``;
    an empty environment variable counts as unset (CI templating often expands to an empty string)."""
    if allow is not None:
        if not allow.strip():
            raise InputError(
                "--allow needs a reason that reviewers can read, e.g. --allow 'bigger head, see #42'"
            )
        return Override(allow.strip(), "--allow")
    reason = environ.get(ALLOW_ENV, "").strip()
    return Override(reason, ALLOW_ENV) if reason else None


def verdict(checks: Sequence[Check], override: Override | None) -> str:
    """``pass``, ``fail``, or ``overridden`` (failures accepted by an override)."""
    if all(check.passed for check in checks):
        return "pass"
    return "overridden" if override else "fail"
