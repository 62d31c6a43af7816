"""The benchmark report: result rows plus where, when and with what they were measured, the Pareto front
per target, and the files a person or a CI job reads (``report.json``, ``report.csv``, ``report.md``,
PNG plots).

``report.json`` is the source of truth: it is validated against ``report.schema.json`` (``schema.py``)
before it is written and when it is read back. Everything else is rendered from the same ``Report``
(``tables.py``: CSV and Markdown; ``plots.py``: PNGs).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from har_edge.bench import plots as plotting
from har_edge.bench.results import SCHEMA_VERSION, Report, ResultRow
from har_edge.bench.schema import json_ready, report_schema, validate_report
from har_edge.bench.tables import render_markdown, report_csv
from har_edge.errors import DataFormatError, InputError
from har_edge.fsutil import atomic_directory, atomic_write_text, read_bounded
from har_edge.runtime.benchmark import Calibration, machine_info
from har_edge.runtime.strict_json import parse_strict_json

__all__ = [
    "CSV_FILE",
    "JSON_FILE",
    "MARKDOWN_FILE",
    "Report",
    "build_report",
    "git_commit",
    "load_report",
    "pareto_front",
    "render_markdown",
    "report_csv",
    "report_json",
    "report_schema",
    "tool_versions",
    "validate_report",
    "write_report",
]

JSON_FILE, CSV_FILE, MARKDOWN_FILE = "report.json", "report.csv", "report.md"


# Distribution names whose versions a report records when they are installed (never imported).
TOOL_DISTRIBUTIONS = (
    "har-edge",
    "numpy",
    "tensorflow",
    "tf-keras",
    "tensorflow-model-optimization",
    "ai-edge-litert",
    "tflite-runtime",
    "tflite-micro",
    "ray",
)


GIT_TIMEOUT_S = 5.0
MAX_REPORT_BYTES = 256 << 20  # far above any sweep's report; bounds what a hostile file costs


def build_report(
    rows: Iterable[ResultRow],
    *,
    source: str,
    calibration: Calibration | None = None,
    failures: Iterable[Mapping[str, Any]] = (),
    settings: Mapping[str, Any] | None = None,
) -> Report:
    """A report of ``rows`` measured now on this machine, with its Pareto front.

    Rows are identified by ``(variant, target)``, so two rows with the same pair are an ``InputError``
    (a sweep over thread counts must name them apart, e.g. target ``desktop-4t``)."""
    rows = tuple(rows)
    seen: set[tuple[str, str]] = set()
    for row in rows:
        key = (row.variant, row.target)
        if key in seen:
            raise InputError(f"report rows: variant {row.variant!r} on target {row.target!r} appears twice")
        seen.add(key)
    return Report(
        schema_version=SCHEMA_VERSION,
        created_utc=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        git_commit=git_commit(),
        machine=machine_info(),
        tool_versions=tool_versions(),
        source=source,
        calibration=calibration,
        results=rows,
        pareto=tuple({"variant": row.variant, "target": row.target} for row in pareto_front(rows)),
        failures=tuple(dict(failure) for failure in failures),
        settings=dict(settings or {}),
    )


def pareto_front(rows: Iterable[ResultRow]) -> list[ResultRow]:
    """The rows no other row of the same target beats on footprint, p50 latency and accuracy.

    The footprint is what limits the target: flash and RAM where the target has memory limits (``fits``
    known), the model file's ``size_bytes`` elsewhere. Row ``b`` dominates ``a`` when ``b`` is no worse
    on every figure and strictly better on at least one. Ties: rows with identical figures do not
    dominate each other, so all of them are on the front. Rows with an ``error``, without one of the
    figures, or that do not fit their target (``fits`` false) take no part (they are neither on the
    front nor dominate anything). Returned in input order.
    """
    candidates = [row for row in rows if row.error is None and row.fits is not False and _costs(row)]

    def dominates(b: ResultRow, a: ResultRow) -> bool:
        b_costs, a_costs = _costs(b), _costs(a)
        if len(b_costs) != len(a_costs):
            return False
        no_worse = all(x <= y for x, y in zip(b_costs, a_costs, strict=True)) and b.accuracy >= a.accuracy
        better = any(x < y for x, y in zip(b_costs, a_costs, strict=True)) or b.accuracy > a.accuracy
        return no_worse and better

    return [
        row
        for row in candidates
        if not any(other.target == row.target and dominates(other, row) for other in candidates)
    ]


def _costs(row: ResultRow) -> tuple[float, ...]:
    """(footprint…, latency) to minimize, or () when a figure is missing."""
    if row.accuracy is None or row.latency_us_p50 is None:
        return ()
    if (
        row.flash_bytes is not None
        and row.ram_bytes is not None
        and row.instructions_per_inference is not None
    ):
        return (row.flash_bytes, row.ram_bytes, row.latency_us_p50)
    return () if row.size_bytes is None else (row.size_bytes, row.latency_us_p50)


def git_commit(cwd: str | Path | None = None) -> str | None:
    """``git rev-parse HEAD`` in ``cwd`` (default: the current folder); None when that is not a git
    checkout, git is missing or slow. Uncommitted changes are not detected."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    is_hex = len(commit) in (40, 64) and all(c in "0123456789abcdef" for c in commit)
    return commit if done.returncode == 0 and is_hex else None


def tool_versions() -> dict[str, str]:
    """Versions of the installed ``TOOL_DISTRIBUTIONS`` (from package metadata, nothing imported)."""
    versions = {}
    for name in TOOL_DISTRIBUTIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def report_json(report: Report) -> str:
    """``report.json``'s text, validated against the schema (``InputError`` when it does not fit)."""
    text = json.dumps(json_ready(report.to_dict()), indent=2, ensure_ascii=False) + "\n"
    validate_report(json.loads(text), "report to be written")
    return text


def write_report(
    report: Report, folder: str | Path, *, plots: bool = True, overwrite: bool = False
) -> dict[str, Path]:
    """Write ``report.json``, ``report.csv``, ``report.md`` and (with ``plots``) the PNGs of
    ``har_edge.bench.plots`` into ``folder``, all or nothing: the JSON is built and validated first,
    then every file goes into a temporary sibling folder that replaces ``folder`` at the end. An
    existing ``folder`` is an ``OutputExistsError`` unless ``overwrite``.

    Returns ``{file name: final path}`` of the files written; a plot the report lacks data for is not
    drawn and ``report.md`` says why. ``report.csv``: see ``report_csv``.
    """
    json_text = report_json(report)
    folder = Path(folder)
    drawn: list[str] = []
    skipped: dict[str, str] = {}
    with atomic_directory(folder, overwrite=overwrite) as staging:
        atomic_write_text(staging / JSON_FILE, json_text)
        atomic_write_text(staging / CSV_FILE, report_csv(report))
        if plots:
            skipped = plotting.lacking_data(report)
            for name, plot in plotting.PLOTS.items():
                if name not in skipped:
                    plot.draw(report, staging / name)
                    drawn.append(name)
        atomic_write_text(staging / MARKDOWN_FILE, render_markdown(report, plots=drawn, skipped=skipped))
    written = [JSON_FILE, CSV_FILE, *drawn, MARKDOWN_FILE]
    return {name: folder / name for name in written}


def load_report(path: str | Path) -> Report:
    """Read and validate ``report.json`` (``InputError``/``DataFormatError`` naming the file, the JSON
    path of the offending field and what was expected)."""
    path = Path(path)
    raw = read_bounded(path, MAX_REPORT_BYTES, "report")  # a regular file, its size checked before reading
    # strict: no NaN/Infinity, no duplicate keys, no over-long numbers or deep nesting
    data = parse_strict_json(raw, str(path), max_bytes=MAX_REPORT_BYTES)
    validate_report(data, str(path))
    _refuse_repeated_rows(data["results"], path)
    return Report.from_dict(data)


def _refuse_repeated_rows(results: list[dict], path: Path) -> None:
    seen = {}
    for i, row in enumerate(results):
        key = (row["target"], row["variant"])
        if key in seen:
            raise DataFormatError(
                path,
                f"results[{i}] repeats target {key[0]!r}, variant {key[1]!r} of results[{seen[key]}]",
                field=f"$.results[{i}]",
                expected="one row per (target, variant)",
            )
        seen[key] = i
