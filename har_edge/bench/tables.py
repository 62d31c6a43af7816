"""A report's tables: ``report.csv`` (one line per row, for pandas or a spreadsheet) and ``report.md``
(for a person or a CI summary)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, get_args, get_type_hints

from har_edge.bench.results import Report, ResultRow
from har_edge.bench.schema import json_ready

MISSING = "–"


PARETO_MARK = "★"


ESTIMATED_MARK = "~"


def report_csv(report: Report) -> str:
    """One line per result row, columns in ``ResultRow`` order. ``provenance`` is flattened into one
    ``provenance.<figure>`` column per figure any row has; ``notes`` and ``details`` are JSON-encoded;
    ``pareto`` (bool) says whether the row is on its target's front. Missing figures are empty cells."""
    import pandas as pd

    figures = sorted({key for row in report.results for key in row.provenance})
    records = []
    for row in report.results:
        record: dict[str, Any] = {}
        for key, value in row.to_dict().items():
            if key == "provenance":
                record.update({f"provenance.{figure}": value.get(figure) for figure in figures})
            elif key in ("notes", "details"):
                record[key] = json.dumps(json_ready(value, [key]), sort_keys=True, ensure_ascii=False)
            else:
                record[key] = value
        record["pareto"] = report.on_front(row)
        records.append(record)
    frame = pd.DataFrame.from_records(records, columns=_csv_columns(figures))
    # Integer figures stay integers next to missing ones (pandas would make the column float).
    frame = frame.astype({name: "Int64" for name in _integer_fields()})
    return frame.to_csv(index=False, lineterminator="\n")


def _integer_fields() -> list[str]:
    hints = get_type_hints(ResultRow)
    return [name for name, hint in hints.items() if hint is int or int in get_args(hint)]


def _csv_columns(provenance_figures: Sequence[str]) -> list[str]:
    columns = []
    for name in ResultRow.__dataclass_fields__:
        if name == "provenance":
            columns.extend(f"provenance.{figure}" for figure in provenance_figures)
        else:
            columns.append(name)
    return [*columns, "pareto"]


_COLUMNS = (
    "variant",
    "target",
    "size (KiB)",
    "gzip (KiB)",
    "RAM (KiB)",
    "flash (KiB)",
    "p50 µs",
    "p90 µs",
    "accuracy %",
    "macro-F1",
    "drop pp",
    "fits",
    "measurement",
    "error",
)


_TEXT_COLUMNS = {"variant", "target", "fits", "measurement", "error"}
# Shown after "flash (KiB)" when any row has one of them (microcontroller targets).
_MCU_COLUMNS = ("TFLM arena (KiB)", "instructions", "instr/MAC")


def render_markdown(
    report: Report, *, plots: Sequence[str] = (), skipped: Mapping[str, str] | None = None
) -> str:
    """The report as Markdown: a header (source, created, commit, machine, calibration, tools), one
    table row per result in report order, the failed sweep points, and links to ``plots`` (file names
    next to the Markdown file) plus the reasons plots in ``skipped`` were not drawn."""
    machine = report.machine
    c = report.calibration
    calibration = "not timed"
    if c is not None:
        sort = "" if c.sort_us_p50 is None else f"; numpy sort {c.sort_us_p50:.1f} µs, recorded only"
        calibration = (
            f"reference models int8 {c.int8_us_p50:.1f} µs, float32 {c.float32_us_p50:.1f} µs p50, "
            f"{c.threads} thread(s) (latency_norm_p50 = p50 / the reference of its precision){sort}"
        )
    mcu = any(
        row.tflm_arena_bytes is not None or row.instructions_per_inference is not None
        for row in report.results
    )
    at = _COLUMNS.index("flash (KiB)") + 1
    columns = (*_COLUMNS[:at], *_MCU_COLUMNS, *_COLUMNS[at:]) if mcu else _COLUMNS
    lines = [
        f"# Benchmark report: {_cell(report.source)}",
        "",
        f"- created: {report.created_utc}",
        f"- commit: {report.git_commit or 'not a git checkout'}",
        "- machine: "
        + ", ".join(f"{key} {machine[key]}" for key in ("platform", "cpu_count", "python") if key in machine),
        f"- calibration: {calibration}",
        "- tools: " + ", ".join(f"{name} {version}" for name, version in report.tool_versions.items()),
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---" if column in _TEXT_COLUMNS else "--:" for column in columns) + "|",
        *("| " + " | ".join(_markdown_cells(report, row, mcu)) + " |" for row in report.results),
        "",
        _legend(report),
        *_scored_on(report),
        *_findings(report),
    ]
    if mcu:
        lines.append(
            "instructions: per inference, counted on the emulated board; latency derived from it with the "
            "profile's cycles per instruction. TFLM arena: the same model's TFLM arena, for comparison."
        )
    if report.failures:
        lines += ["", "## Failed sweep points", ""]
        lines += [
            f"- `{json.dumps(failure['config'], sort_keys=True)}`: {_cell(failure['error'])}"
            for failure in report.failures
        ]
    if plots or skipped:
        lines += ["", "## Plots", ""]
        lines += [f"![{Path(name).stem}]({name})" for name in plots]
        lines += [f"- {name} not drawn: {reason}" for name, reason in (skipped or {}).items()]
    return "\n".join(lines) + "\n"


def _legend(report: Report) -> str:
    """What the marks and columns mean, only for marks some row has."""
    rows = report.results
    parts = []
    if any(report.on_front(row) for row in rows):
        parts.append(
            f"{PARETO_MARK} on its target's Pareto front (p50 latency, accuracy and footprint: flash and RAM "
            "on a microcontroller, file size elsewhere; only variants that fit take part)."
        )
    if any("estimated" in row.provenance.values() for row in rows):
        parts.append(f"{ESTIMATED_MARK} estimated, not measured.")
    if any(row.fits is False for row in rows):
        parts.append("fits **no**: does not fit the target's memory (the margin says by how much).")
    if any(row.accuracy_drop_pp is not None for row in rows):
        parts.append(
            "drop pp = float32 accuracy minus the variant's, in percentage points: positive is worse than "
            "float32, negative better."
        )
    parts.append(f"KiB = 1024 bytes; {MISSING} = not available.")
    return " ".join(parts)


def _findings(report: Report) -> list[str]:
    from har_edge.bench.findings import findings

    found = findings(report)
    return ["", "## Findings", "", *(f"- {_cell(finding)}" for finding in found)] if found else []


def _scored_on(report: Report) -> list[str]:
    """Which windows each variant's accuracy was computed on (the notes that say so): one line per
    distinct note, listing the variants it is about."""
    variants_of: dict[str, list[str]] = {}
    for row in report.results:
        for note in row.notes:
            if row.accuracy is not None and ("scored" in note or "accuracy on" in note):
                named = variants_of.setdefault(note, [])
                if row.variant not in named:
                    named.append(row.variant)
    if not variants_of:
        return []
    lines = [f"- {', '.join(map(_cell, names))}: {_cell(note)}" for note, names in variants_of.items()]
    return ["", "Accuracy computed on:", "", *lines]


def _markdown_cells(report: Report, row: ResultRow, mcu: bool = False) -> list[str]:
    def estimated(figure: str) -> bool:
        return row.provenance.get(figure) == "estimated"

    latency = estimated("latency")
    variant = _cell(row.variant) + (f" {PARETO_MARK}" if report.on_front(row) else "")
    mcu_cells = [
        _number(row.tflm_arena_bytes, "kib"),
        _number(row.instructions_per_inference, ","),
        _number(row.instructions_per_mac, ".2f"),
    ]
    return [
        variant,
        _cell(row.target),
        _number(row.size_bytes, "kib"),
        _number(row.gzip_bytes, "kib"),
        _number(row.ram_bytes, "kib", estimated("ram")),
        _number(row.flash_bytes, "kib", estimated("flash")),
        *(mcu_cells if mcu else []),
        _number(row.latency_us_p50, ".1f", latency),
        _number(row.latency_us_p90, ".1f", latency),
        _number(row.accuracy, "percent"),
        _number(row.macro_f1, ".3f"),
        _number(row.accuracy_drop_pp, "+.2f"),
        _fits(row),
        row.measurement,
        f"**{_cell(row.error)}**" if row.error else "",
    ]


def _number(value: float | None, style: str, estimated: bool = False) -> str:
    if value is None:
        return MISSING
    if style == "kib":
        text = f"{value / 1024:.1f}"
    elif style == "percent":
        text = f"{100 * value:.2f}"
    else:
        text = format(value, style)
    return ESTIMATED_MARK + text if estimated else text


def _fits(row: ResultRow) -> str:
    if row.fits is None:
        return MISSING
    if row.fits:
        return "yes"
    short = [
        f"{name} {margin / 1024:+.1f} KiB"
        for name, margin in (("RAM", row.ram_margin_bytes), ("flash", row.flash_margin_bytes))
        if margin is not None and margin < 0
    ]
    return "**no**" + (f" ({', '.join(short)})" if short else "")


def _cell(text: str) -> str:
    """``text`` safe inside a Markdown table cell (pipes escaped, one line)."""
    return " ".join(str(text).split()).replace("|", "\\|")
