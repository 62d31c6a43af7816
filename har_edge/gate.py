"""The CI gate: a benchmark report checked against size, memory, latency and accuracy budgets.

Budgets are TOML: a ``[budget.TARGET]`` table per target as the report names it, optionally refined
per variant by ``[budget.TARGET.VARIANT]`` (in a pyproject.toml: ``[tool.har_edge.budget.TARGET]``).
A target or variant name that is not a bare TOML key (letters, digits, ``-``, ``_``) is quoted:
``[budget."ssh://pi@host:22".int8]``. Inside a target table a sub-table is a variant, a number a limit.
A target table's limits apply to every row of that target; a variant table's limits replace the
target's limits of the same name for that variant only.

Limits are inclusive (a value equal to its limit passes). ``min_accuracy`` and ``min_macro_f1`` are
fractions like the report's figures; ``*_pp`` are percentage points; ``*_increase_pct`` compare each
row to the row with the same target and variant in a baseline report.

Caveats: a budget that names a figure the report lacks (None, or no matching row, or a row that
failed with an error) fails; so does a regression limit when there is no baseline or the baseline has
no such row. Raw latency (``latency_us_*``) is only comparable on the same machine; across machines
gate ``latency_norm_p50`` (latency divided by the calibration workload timed in the same run).
"""

from __future__ import annotations

import difflib
import json
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from har_edge.bench.report import load_report
from har_edge.bench.results import ResultRow
from har_edge.errors import DataFormatError, InputError

ALLOW_ENV = "HAR_EDGE_GATE_ALLOW"
GATE_SCHEMA_VERSION = 1
EXIT_PASSED, EXIT_FAILED = 0, 1


class Comparison(StrEnum):
    """How a limit compares a figure: a ceiling, a floor, or a change from the baseline."""

    MAX = "max"
    MIN = "min"
    INCREASE_PCT = "increase_pct"
    DECREASE_PP = "decrease_pp"


@dataclass(frozen=True)
class LimitKind:
    """One valid budget key: the report field it reads, how it compares, and the limits that make sense."""

    key: str
    field: str
    comparison: Comparison
    low: float = -math.inf
    high: float = math.inf

    @property
    def needs_baseline(self) -> bool:
        return self.comparison in (Comparison.INCREASE_PCT, Comparison.DECREASE_PP)

    @property
    def unit(self) -> str:
        """The unit of the limit and of the compared value (a change for baseline limits)."""
        return {Comparison.INCREASE_PCT: " %", Comparison.DECREASE_PP: " pp"}.get(self.comparison, "")

    @property
    def margin_unit(self) -> str:
        """Percentage points for the margin of a baseline limit; else the limit's own unit."""
        return " pp" if self.needs_baseline else self.unit


LIMITS: dict[str, LimitKind] = {
    kind.key: kind
    for kind in (
        LimitKind("max_size_bytes", "size_bytes", Comparison.MAX, low=0),
        LimitKind("max_gzip_bytes", "gzip_bytes", Comparison.MAX, low=0),
        LimitKind("max_ram_bytes", "ram_bytes", Comparison.MAX, low=0),
        LimitKind("max_flash_bytes", "flash_bytes", Comparison.MAX, low=0),
        LimitKind("max_latency_us_p50", "latency_us_p50", Comparison.MAX, low=0),
        LimitKind("max_latency_us_p90", "latency_us_p90", Comparison.MAX, low=0),
        LimitKind("max_latency_norm_p50", "latency_norm_p50", Comparison.MAX, low=0),
        LimitKind("max_accuracy_drop_pp", "accuracy_drop_pp", Comparison.MAX),
        LimitKind("min_accuracy", "accuracy", Comparison.MIN, low=0, high=1),
        LimitKind("min_macro_f1", "macro_f1", Comparison.MIN, low=0, high=1),
        LimitKind("max_size_increase_pct", "size_bytes", Comparison.INCREASE_PCT),
        LimitKind("max_gzip_increase_pct", "gzip_bytes", Comparison.INCREASE_PCT),
        LimitKind("max_ram_increase_pct", "ram_bytes", Comparison.INCREASE_PCT),
        LimitKind("max_flash_increase_pct", "flash_bytes", Comparison.INCREASE_PCT),
        LimitKind("max_latency_increase_pct", "latency_us_p50", Comparison.INCREASE_PCT),
        LimitKind("max_latency_norm_increase_pct", "latency_norm_p50", Comparison.INCREASE_PCT),
        LimitKind("max_accuracy_decrease_pp", "accuracy", Comparison.DECREASE_PP),
    )
}

# Which entry of a row's ``provenance`` says whether a field was measured or estimated.
_PROVENANCE_OF = {
    "latency_us_p50": "latency",
    "latency_us_p90": "latency",
    "latency_norm_p50": "latency",
    "ram_bytes": "ram",
    "flash_bytes": "flash",
}
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


# --------------------------------------------------------------------------------------------- budgets


@dataclass(frozen=True)
class Budget:
    """The limits of one budget table: a target, or one variant of it (``variant`` set)."""

    target: str
    variant: str | None
    limits: dict[str, float]
    table: str

    def applies_to(self, row: ResultRow) -> bool:
        return row.target == self.target and self.variant in (None, row.variant)


def load_budgets(path: str | Path) -> list[Budget]:
    """Budgets from a budgets TOML (``[budget.*]``) or a pyproject.toml (``[tool.har_edge.budget.*]``).

    Raises ``InputError`` (exit 2) when the file cannot be read, and ``DataFormatError`` naming the file
    and table for malformed TOML, unknown keys (listing the valid ones), non-numeric or out-of-range
    limits and empty tables."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read the budgets file ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, "is not UTF-8 text", expected="a TOML budgets file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise DataFormatError(path, f"is not valid TOML: {exc}") from exc
    prefix, targets = _budget_tables(path, data)
    budgets = []
    for target, table in targets.items():
        name = _table_name(prefix, target)
        if not isinstance(table, dict):
            raise DataFormatError(
                path,
                "limits belong in a target table",
                field=name,
                expected=f"[{_table_name(prefix, 'TARGET')}] tables, e.g. [{_table_name(prefix, 'desktop')}]",
            )
        variants = {key: value for key, value in table.items() if isinstance(value, dict)}
        own_limits = {key: value for key, value in table.items() if key not in variants}
        if own_limits or not variants:
            budgets.append(Budget(target, None, _parse_limits(path, name, own_limits), name))
        for variant, limits in variants.items():
            variant_name = _table_name(prefix, target, variant)
            budgets.append(Budget(target, variant, _parse_limits(path, variant_name, limits), variant_name))
    return budgets


def _budget_tables(path: Path, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The target tables and the prefix they were found under."""
    expected = "[budget.TARGET] tables, or [tool.har_edge.budget.TARGET] tables in a pyproject.toml"
    if "budget" in data:
        for key in data:
            if key != "budget":
                raise DataFormatError(path, f"unknown top-level key {key!r}", field=key, expected=expected)
        prefix, tables = "budget", data["budget"]
    else:
        tool = data.get("tool")
        har_edge = tool.get("har_edge") if isinstance(tool, dict) else None
        if not isinstance(har_edge, dict) or "budget" not in har_edge:
            raise DataFormatError(path, "has no budget tables", expected=expected)
        prefix, tables = "tool.har_edge.budget", har_edge["budget"]
    if not isinstance(tables, dict) or not tables:
        raise DataFormatError(path, "names no target", field=prefix, expected=expected)
    return prefix, tables


def _parse_limits(path: Path, table: str, items: dict[str, Any]) -> dict[str, float]:
    valid = ", ".join(LIMITS)
    if not items:
        raise DataFormatError(path, "has no limits", field=table, expected=f"at least one of {valid}")
    limits = {}
    for key, value in items.items():
        where = f"{table}.{_quoted(key)}"
        if isinstance(value, dict):
            raise DataFormatError(
                path,
                "a variant table cannot hold tables",
                field=where,
                expected='limits; quote a target or variant name with dots: [budget."ssh://pi@host".int8]',
            )
        if key not in LIMITS:
            close = difflib.get_close_matches(key, LIMITS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise DataFormatError(path, f"unknown key {key!r}{hint}", field=where, expected=f"one of {valid}")
        kind = LIMITS[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise DataFormatError(path, f"{value!r} is not a finite number", field=where, expected="a number")
        if not kind.low <= value <= kind.high:
            bounds = (
                "a fraction in [0, 1], like the report" if kind.high == 1 else f"a number >= {kind.low:g}"
            )
            raise DataFormatError(path, f"{value!r} is out of range", field=where, expected=bounds)
        limits[key] = value
    return limits


def _quoted(name: str) -> str:
    return name if _BARE_KEY.match(name) else json.dumps(name)


def _table_name(prefix: str, *names: str) -> str:
    return ".".join((prefix, *(_quoted(name) for name in names)))


# --------------------------------------------------------------------------------------------- reports


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


# --------------------------------------------------------------------------------------------- checks


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


def evaluate(
    report: GateReport, budgets: Sequence[Budget], baseline: GateReport | None = None
) -> list[Check]:
    """Every check of ``budgets`` on ``report``: per budgeted row in report order, then budgets that
    matched no row. A row that carries an error gives one failing check instead of its figures."""
    checks: list[Check] = []
    for row in report.rows:
        applicable = sorted((b for b in budgets if b.applies_to(row)), key=lambda b: b.variant is not None)
        if not applicable:
            continue
        if row.error:
            table = applicable[-1].table
            message = f"[{table}] {_where(row)} could not be measured: {row.error}"
            checks.append(Check(row.target, row.variant, "error", False, message, table))
            continue
        limits = {key: (limit, b) for b in applicable for key, limit in b.limits.items()}
        for key, (limit, budget) in limits.items():
            checks.append(_check(row, LIMITS[key], limit, budget.table, report, baseline))
    for budget in budgets:
        if not any(budget.applies_to(row) for row in report.rows):
            checks.append(_no_row(budget, report))
    return checks


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
        message += f"is within {kind.key} {_number(limit)}{kind.unit}"
    else:
        side = "under" if kind.comparison == Comparison.MIN else "over"
        excess = f"{_number(-margin)}{kind.margin_unit}"
        share = f" ({abs(margin_pct):.1f} %)" if margin_pct is not None else ""
        message += f"is {side} {kind.key} {_number(limit)}{kind.unit} by {excess}{share}"
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
        return f"{kind.field} {_number(current)}"
    change = f"{value:+.2f}{kind.unit}" if kind.comparison == Comparison.INCREASE_PCT else f"{-value:+.2f} pp"
    return f"{kind.field} {_number(current)} vs baseline {_number(base_value)} ({change})"


def _is_estimated(row: ResultRow, field: str) -> bool:
    source = _PROVENANCE_OF.get(field)
    return source is not None and row.provenance.get(source, row.measurement) == "estimated"


def _usable(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _where(row: ResultRow) -> str:
    return f"{row.target}/{row.variant}"


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.1f}" if abs(value) >= 1000 else f"{value:.4g}"


# --------------------------------------------------------------------------------------------- verdict


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


def render_checks(checks: Sequence[Check], override: Override | None) -> str:
    """A table of every check, the failures spelled out, and the verdict. An override that accepts
    failures is printed above the table and again with the verdict."""
    header = ("result", "target", "variant", "check", "value", "limit", "margin")
    rows = [header, *(_table_row(check) for check in checks)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    table = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    outcome = verdict(checks, override)
    banner = f"OVERRIDDEN ({override.source}): {override.reason}" if override else ""
    failures = [c for c in checks if not c.passed]
    lines = [banner, ""] if outcome == "overridden" else []
    lines += table
    if any(c.estimated for c in checks):
        lines.append("* estimated figure (not measured on the target)")
    if failures:
        lines += ["", f"{len(failures)} of {len(checks)} checks failed:"]
        lines += [f"  FAIL {c.message}" for c in failures]
    lines.append("")
    if outcome == "overridden":
        accepted = f"{len(failures)} failing check{'s' if len(failures) > 1 else ''}"
        lines += [banner, f"verdict: {accepted} accepted by the override (exit 0)"]
    elif outcome == "fail":
        lines.append(f"verdict: FAIL (exit 1); to accept on purpose: --allow REASON or {ALLOW_ENV}=REASON")
    else:
        lines.append(f"verdict: PASS, {len(checks)} checks (exit 0)")
        if override:
            lines.append(f"override not needed ({override.source}): {override.reason}")
    return "\n".join(lines)


def _table_row(check: Check) -> tuple[str, ...]:
    kind = LIMITS.get(check.metric)
    share = f" ({check.margin_pct:+.1f} %)" if check.margin_pct is not None else ""
    return (
        ("PASS" if check.passed else "FAIL") + ("*" if check.estimated else ""),
        check.target,
        check.variant or "*",
        check.metric,
        _with_unit(check.value, kind.unit if kind else ""),
        _with_unit(check.limit, kind.unit if kind else ""),
        _with_unit(check.margin, kind.margin_unit if kind else "") + share,
    )


def _with_unit(value: float | None, unit: str) -> str:
    return "-" if value is None else _number(value) + unit


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
        "checks": [asdict(check) for check in checks],
    }
