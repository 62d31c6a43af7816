"""The console summary of a report: one narrow line per variant (accuracy, drop, size, and one latency per
target with whether it fits), the findings wrapped to the same width, and where the full table is. The
wide table with every column is the Markdown file's job.
"""

from __future__ import annotations

import textwrap

from har_edge.bench.findings import findings
from har_edge.bench.results import Report, ResultRow

WIDTH = 100
ESTIMATED = "~"


def render_summary(report: Report, *, markdown: str | None = None) -> str:
    """A table no wider than ``WIDTH`` for a few targets: ``~`` marks an estimated latency, ``(no)`` a
    variant that does not fit its target; then the findings; then the path of the full table."""
    targets = list(dict.fromkeys(row.target for row in report.results))
    variants = list(dict.fromkeys(row.variant for row in report.results))
    header = ["variant", "acc %", "drop pp", "KiB"] + [f"{_short(t)} µs" for t in targets]
    lines = [header]
    for variant in variants:
        rows = {row.target: row for row in report.results if row.variant == variant}
        first = next(iter(rows.values()))
        lines.append(
            [
                variant,
                _fmt(first.accuracy, lambda v: f"{100 * v:.1f}"),
                _fmt(first.accuracy_drop_pp, lambda v: f"{v:+.2f}"),
                _fmt(first.size_bytes, lambda v: f"{v / 1024:.1f}"),
                *(_latency(rows.get(target)) for target in targets),
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(_aligned(line, widths)) for line in lines]
    legend = [f"{ESTIMATED} estimated latency, (no) does not fit the target's memory, - no figure"]
    found = findings(report)
    if found:
        legend += ["", "findings:"]
        for finding in found:
            legend += textwrap.wrap(finding, WIDTH, initial_indent="- ", subsequent_indent="  ")
    if markdown:
        legend += ["", f"every column (RAM, flash, instructions, p90, macro-F1, notes): {markdown}"]
    return "\n".join([*text, *legend])


def _aligned(cells: list[str], widths: list[int]) -> list[str]:
    """The first cell left-aligned, the figures right-aligned."""
    return [cells[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))]


def _latency(row: ResultRow | None) -> str:
    if row is None or row.latency_us_p50 is None:
        return "-" if row is None or row.measurement != "not_applicable" else "n/a"
    mark = ESTIMATED if row.provenance.get("latency") == "estimated" else ""
    fits = " (no)" if row.fits is False else ""
    value = row.latency_us_p50
    return f"{mark}{value:,.0f}{fits}" if value >= 100 else f"{mark}{value:.1f}{fits}"


def _fmt(value, style) -> str:
    return "-" if value is None else style(value)


def _short(target: str) -> str:
    """A target name short enough for a column header (``cortex-m4f-80mhz`` -> ``m4f-80mhz``)."""
    return target.removeprefix("cortex-")
