"""The benchmark report: result rows plus where, when and with what they were measured, the Pareto front
per target, and the files a person or a CI job reads (``report.json``, ``report.csv``, ``report.md``,
PNG plots).

``report.json`` is the source of truth: it is validated against ``report.schema.json`` (JSON Schema
Draft 2020-12, shipped in this package) before it is written and when it is read back. Everything else
is rendered from the same ``Report``.
"""

from __future__ import annotations

import difflib
import json
import math
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import metadata, resources
from pathlib import Path
from typing import Any, get_args, get_type_hints

import numpy as np

from har_edge.bench.results import SCHEMA_VERSION, ResultRow
from har_edge.errors import DataFormatError, InputError
from har_edge.fsutil import atomic_directory, atomic_write_text
from har_edge.runtime.benchmark import Calibration, machine_info

SCHEMA_RESOURCE = "report.schema.json"
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
MISSING = "–"
PARETO_MARK = "★"
ESTIMATED_MARK = "~"


@dataclass(frozen=True)
class Report:
    """One benchmark run. ``pareto`` lists the ``{variant, target}`` keys of the rows on their target's
    front (see ``pareto_front``); ``failures`` the sweep points that produced no row, each
    ``{"config": {...}, "error": "..."}``; ``settings`` is free-form (the sweep configuration etc.).
    ``calibration``: the reference models timed in the same run (None when not timed)."""

    schema_version: int
    created_utc: str
    git_commit: str | None
    machine: dict[str, Any]
    tool_versions: dict[str, str]
    source: str
    calibration: Calibration | None
    results: tuple[ResultRow, ...]
    pareto: tuple[dict[str, str], ...] = ()
    failures: tuple[dict[str, Any], ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)

    def on_front(self, row: ResultRow) -> bool:
        return {"variant": row.variant, "target": row.target} in self.pareto

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "created_utc": self.created_utc,
            "git_commit": self.git_commit,
            "machine": self.machine,
            "tool_versions": self.tool_versions,
            "source": self.source,
            "calibration": None if self.calibration is None else self.calibration.to_dict(),
            "results": [row.to_dict() for row in self.results],
            "pareto": list(self.pareto),
            "failures": list(self.failures),
            "settings": self.settings,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        """From a dict that passed ``validate_report``."""
        return cls(
            schema_version=data["schema_version"],
            created_utc=data["created_utc"],
            git_commit=data["git_commit"],
            machine=data["machine"],
            tool_versions=data["tool_versions"],
            source=data["source"],
            calibration=None if data["calibration"] is None else Calibration.from_dict(data["calibration"]),
            results=tuple(ResultRow.from_dict(row) for row in data["results"]),
            pareto=tuple(data["pareto"]),
            failures=tuple(data["failures"]),
            settings=data["settings"],
        )


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
    """The rows no other row of the same target beats on (size_bytes, latency_us_p50, accuracy).

    Row ``b`` dominates ``a`` when ``b`` is no larger, no slower and no less accurate, and strictly
    better in at least one of the three. Ties: rows with identical figures do not dominate each other,
    so all of them are on the front. Rows with an ``error`` or without one of the three figures take
    no part (they are neither on the front nor dominate anything). Returned in input order.
    """
    candidates = [
        row
        for row in rows
        if row.error is None and None not in (row.size_bytes, row.latency_us_p50, row.accuracy)
    ]

    def dominates(b: ResultRow, a: ResultRow) -> bool:
        no_worse = (
            b.size_bytes <= a.size_bytes and b.latency_us_p50 <= a.latency_us_p50 and b.accuracy >= a.accuracy
        )
        better = b.size_bytes < a.size_bytes or b.latency_us_p50 < a.latency_us_p50 or b.accuracy > a.accuracy
        return no_worse and better

    return [
        row
        for row in candidates
        if not any(other.target == row.target and dominates(other, row) for other in candidates)
    ]


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


# --- validation -------------------------------------------------------------------------------------


@cache
def report_schema() -> dict[str, Any]:
    """The JSON schema of ``report.json`` (packaged next to this module)."""
    text = resources.files(__package__).joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    return json.loads(text)


def validate_report(data: Any, source: str) -> None:
    """Raise ``DataFormatError`` naming ``source``, the JSON path of the first offending field and what
    was expected, when ``data`` is not a report of this ``SCHEMA_VERSION``. Other errors are counted."""
    import jsonschema

    if not isinstance(data, dict):
        raise DataFormatError(source, f"a report is a JSON object, not {type(data).__name__}")
    if data.get("schema_version") == 1:
        raise DataFormatError(
            source,
            "schema_version 1: its latency_norm_p50 divides by a numpy sort, which is not comparable with "
            "this har_edge's reference-model calibration; re-run the benchmark to get a version 2 report",
            field="$.schema_version",
            expected=str(SCHEMA_VERSION),
        )
    if data.get("schema_version") != SCHEMA_VERSION:
        raise DataFormatError(
            source,
            f"schema_version {data.get('schema_version')!r} is not read by this har_edge "
            "(re-run the benchmark, or read it with the har_edge version that wrote it)",
            field="$.schema_version",
            expected=str(SCHEMA_VERSION),
        )
    validator = jsonschema.Draft202012Validator(report_schema())
    # Unknown keys first: a typo also makes the intended key "missing", and the typo is the cause.
    errors = sorted(validator.iter_errors(data), key=lambda error: error.validator != "additionalProperties")
    if errors:
        path, problem, expected = _describe(errors[0])
        if len(errors) > 1:
            problem += f" ({len(errors) - 1} more schema error{'s' if len(errors) > 2 else ''})"
        raise DataFormatError(source, problem, field=path, expected=expected)


def _describe(error) -> tuple[str, str, str | None]:
    """(JSON path, problem, expected) of one ``jsonschema.ValidationError``."""
    parts = list(error.absolute_path)
    rule, value = error.validator, error.validator_value
    if rule == "additionalProperties" and isinstance(error.instance, dict):
        known = sorted(error.schema.get("properties", {}))
        unknown = [key for key in error.instance if key not in known]
        guess = difflib.get_close_matches(unknown[0], known, n=1)
        expected = f"a known key: did you mean {guess[0]!r}?" if guess else "one of " + ", ".join(known)
        return _json_path([*parts, unknown[0]]), "unknown key", expected
    if rule == "required" and isinstance(error.instance, dict):
        missing = next(key for key in value if key not in error.instance)
        return _json_path([*parts, missing]), "missing", "a value (null when absent)"
    expected = {
        "type": lambda: "type " + " or ".join(value if isinstance(value, list) else [value]),
        "enum": lambda: "one of " + ", ".join(json.dumps(v) for v in value),
        "const": lambda: json.dumps(value),
        "minimum": lambda: f">= {value}",
        "maximum": lambda: f"<= {value}",
        "exclusiveMinimum": lambda: f"> {value}",
        "pattern": lambda: error.schema.get("description", f"a string matching {value}"),
        "minLength": lambda: "a non-empty string",
    }.get(rule, lambda: None)()
    return _json_path(parts), f"{json.dumps(error.instance, default=str)} is not valid", expected


def _json_path(parts: Sequence[str | int]) -> str:
    return "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts)


def _json_ready(value: Any, path: Sequence[str | int] = ()) -> Any:
    """``value`` as plain JSON data (numpy scalars and arrays converted, tuples as lists). Anything else,
    a non-string key or a NaN/infinite number is an ``InputError`` naming its JSON path."""
    if isinstance(value, np.generic | np.ndarray):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"report {_json_path(path)}: {value} is not a finite number (use None when absent)")
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise InputError(f"report {_json_path(path)}: key {key!r} is not a string")
        return {key: _json_ready(item, [*path, key]) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(item, [*path, i]) for i, item in enumerate(value)]
    raise InputError(
        f"report {_json_path(path)}: a {type(value).__name__} cannot be written to JSON "
        "(expected a string, number, bool, None, list or dict)"
    )


def report_json(report: Report) -> str:
    """``report.json``'s text, validated against the schema (``InputError`` when it does not fit)."""
    text = json.dumps(_json_ready(report.to_dict()), indent=2, ensure_ascii=False) + "\n"
    validate_report(json.loads(text), "report to be written")
    return text


# --- files --------------------------------------------------------------------------------------------


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
    from har_edge.bench import plots as plotting

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
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the report ({exc})") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFormatError(
            path, f"not JSON ({exc.msg})", line=exc.lineno, expected="a report.json"
        ) from exc
    validate_report(data, str(path))
    return Report.from_dict(data)


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
                record[key] = json.dumps(_json_ready(value, [key]), sort_keys=True, ensure_ascii=False)
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


# --- Markdown -----------------------------------------------------------------------------------------

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
        "| " + " | ".join(_COLUMNS) + " |",
        "|" + "|".join("---" if column in _TEXT_COLUMNS else "--:" for column in _COLUMNS) + "|",
        *("| " + " | ".join(_markdown_cells(report, row)) + " |" for row in report.results),
        "",
        f"{PARETO_MARK} on its target's Pareto front (size, p50 latency, accuracy). "
        f"{ESTIMATED_MARK} estimated, not measured. fits **no**: does not fit the target's memory "
        f"(the margin says by how much). KiB = 1024 bytes; {MISSING} = not available.",
    ]
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


def _markdown_cells(report: Report, row: ResultRow) -> list[str]:
    def estimated(figure: str) -> bool:
        return row.provenance.get(figure) == "estimated"

    latency = estimated("latency")
    variant = _cell(row.variant) + (f" {PARETO_MARK}" if report.on_front(row) else "")
    return [
        variant,
        _cell(row.target),
        _number(row.size_bytes, "kib"),
        _number(row.gzip_bytes, "kib"),
        _number(row.ram_bytes, "kib", estimated("ram")),
        _number(row.flash_bytes, "kib", estimated("flash")),
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
