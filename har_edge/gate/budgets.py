"""Budget files: the valid limit keys (``LIMITS``) and the TOML parser with its validation and
did-you-mean suggestions.

Budgets are TOML: a ``[budget.TARGET]`` table per target as the report names it, optionally refined
per variant by ``[budget.TARGET.VARIANT]`` (in a pyproject.toml: ``[tool.har_edge.budget.TARGET]``).
A target or variant name that is not a bare TOML key (letters, digits, ``-``, ``_``) is quoted:
``[budget."ssh://pi@host:22".int8]``. Inside a target table a sub-table is a variant, a number a limit.
A target table's limits apply to every row of that target; a variant table's limits replace the
target's limits of the same name for that variant only.

Two options sit beside the limits: ``accept = ["measured"]`` (the measurement kinds a budget gates:
``measured`` and ``estimated`` by default; a figure of a kind not accepted is skipped and listed, not
failed) and ``require_fit = false`` (by default a row whose target says it does not fit — ``fits`` false —
fails). A variant table's options replace the target's.

Limits are inclusive (a value equal to its limit passes). ``min_accuracy`` and ``min_macro_f1`` are
fractions like the report's figures; ``*_pp`` are percentage points; ``*_increase_pct`` compare each
row to the row with the same target and variant in a baseline report.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from har_edge.bench.results import ResultRow
from har_edge.errors import DataFormatError
from har_edge.tomlfile import read_toml


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


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


MEASUREMENT_KINDS = ("measured", "estimated")
OPTIONS = ("accept", "require_fit")


@dataclass(frozen=True)
class Budget:
    """The limits of one budget table: a target, or one variant of it (``variant`` set), and its options
    (``None`` where the table does not set them: the target's, else the defaults, apply)."""

    target: str
    variant: str | None
    limits: dict[str, float]
    table: str
    accept: frozenset[str] | None = None
    require_fit: bool | None = None

    def applies_to(self, row: ResultRow) -> bool:
        return row.target == self.target and self.variant in (None, row.variant)


def load_budgets(path: str | Path) -> list[Budget]:
    """Budgets from a budgets TOML (``[budget.*]``) or a pyproject.toml (``[tool.har_edge.budget.*]``).

    Raises ``InputError`` (exit 2) when the file cannot be read, and ``DataFormatError`` naming the file
    and table for malformed TOML, unknown keys (listing the valid ones), non-numeric or out-of-range
    limits and empty tables."""
    path = Path(path)
    data = read_toml(path, "budgets file")
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
            budgets.append(_budget(path, name, target, None, own_limits))
        for variant, limits in variants.items():
            budgets.append(_budget(path, _table_name(prefix, target, variant), target, variant, limits))
    return budgets


def _budget(path: Path, table: str, target: str, variant: str | None, items: dict[str, Any]) -> Budget:
    options = {key: items[key] for key in OPTIONS if key in items}
    limits = {key: value for key, value in items.items() if key not in OPTIONS}
    accept = _parse_accept(path, table, options["accept"]) if "accept" in options else None
    require_fit = options.get("require_fit")
    if require_fit is not None and not isinstance(require_fit, bool):
        raise DataFormatError(
            path, f"{require_fit!r} is not true or false", field=f"{table}.require_fit", expected="a boolean"
        )
    if not limits and not options:
        return Budget(target, variant, _parse_limits(path, table, limits), table)
    parsed = _parse_limits(path, table, limits) if limits else {}
    return Budget(target, variant, parsed, table, accept, require_fit)


def _parse_accept(path: Path, table: str, value: Any) -> frozenset[str]:
    expected = f"a non-empty list of {' and/or '.join(map(repr, MEASUREMENT_KINDS))}"
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(kind, str) and kind in MEASUREMENT_KINDS for kind in value)
    ):
        shown = repr(value) if len(repr(value)) <= 60 else f"a {len(repr(value))}-character value"
        raise DataFormatError(
            path, f"{shown} is not a list of measurement kinds", field=f"{table}.accept", expected=expected
        )
    return frozenset(value)


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
            close = difflib.get_close_matches("budget", list(har_edge or {}), n=1)
            hint = f" ([tool.har_edge.{close[0]}] is not it: did you mean budget?)" if close else ""
            raise DataFormatError(path, f"has no budget tables{hint}", expected=expected)
        for key in har_edge:  # a typo next to the real tables would be ignored silently
            if key != "budget":
                raise DataFormatError(
                    path,
                    f"unknown key {key!r} in [tool.har_edge]",
                    field=f"tool.har_edge.{key}",
                    expected=expected,
                )
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
            close = difflib.get_close_matches(key, [*LIMITS, *OPTIONS], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise DataFormatError(
                path,
                f"unknown key {key!r}{hint}",
                field=where,
                expected=f"one of {valid}, or an option: " + ", ".join(OPTIONS),
            )
        kind = LIMITS[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
            shown = repr(value) if len(repr(value)) <= 40 else f"a {len(repr(value))}-character value"
            raise DataFormatError(path, f"{shown} is not a finite number", field=where, expected="a number")
        if not kind.low <= value <= kind.high:
            bounds = (
                "a fraction in [0, 1], like the report" if kind.high == 1 else f"a number >= {kind.low:g}"
            )
            raise DataFormatError(path, f"{value!r} is out of range", field=where, expected=bounds)
        limits[key] = value
    return limits


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond float's range
        return False


def _quoted(name: str) -> str:
    return name if _BARE_KEY.match(name) else json.dumps(name)


def _table_name(prefix: str, *names: str) -> str:
    return ".".join((prefix, *(_quoted(name) for name in names)))
