"""The study's outputs: ``transfer.json`` (checked against the packaged ``transfer.schema.json`` when
written and read), ``transfer.csv`` (the summary: one row per pair, model, strategy, k and size, mean and
sample standard deviation over seeds) and ``transfer.md`` (the micro-F1 tables and the findings).

``summary`` groups points over seeds; the baseline (k = 0) appears once per (pair, model, size).
``std`` is null with a single seed. ``size`` null means the whole target training split.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from har_edge.errors import DataFormatError, InputError
from har_edge.transfer.grid import BASELINE, DEFAULT_NAME

SCHEMA_VERSION = 1
KIND = "har-edge-transfer"
JSON_FILE, CSV_FILE, MARKDOWN_FILE = "transfer.json", "transfer.csv", "transfer.md"
FIGURES = ("micro_f1", "macro_f1", "accuracy")
SUMMARY_COLUMNS = ("pair", "model", "strategy", "k", "size", "seeds", "n_adapt_mean") + tuple(
    f"{figure}_{stat}" for figure in FIGURES for stat in ("mean", "std")
)


def summarize(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and sample std over seeds of every (pair, model, strategy, k, size), in first-seen order."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for point in points:
        groups[(point["pair"], point["model"], point["strategy"], point["k"], point["size"])].append(point)
    summary = []
    for (pair, model, strategy, k, size), members in groups.items():
        row = {
            "pair": pair,
            "model": model,
            "strategy": strategy,
            "k": k,
            "size": size,
            "seeds": len(members),
        }
        row["n_adapt_mean"] = float(np.mean([m["n_adapt"] for m in members]))
        for figure in FIGURES:
            values = np.array([m[figure] for m in members], dtype=np.float64)
            row[f"{figure}_mean"] = float(values.mean())
            row[f"{figure}_std"] = float(values.std(ddof=1)) if len(values) > 1 else None
        summary.append(row)
    return summary


def build_report(outcome) -> dict[str, Any]:
    """The ``transfer.json`` document of a ``run.StudyOutcome``."""
    from har_edge.bench.report import git_commit, tool_versions
    from har_edge.runtime.benchmark import machine_info

    points = list(outcome.rows)
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": KIND,
        "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git_commit": git_commit(),
        "machine": machine_info(),
        "tools": tool_versions(),
        "settings": {
            **outcome.settings,
            "points": outcome.points,
            "cached": outcome.cached,
            "sources_trained": outcome.sources_trained,
        },
        "wall_seconds": round(outcome.wall_seconds, 2),
        "domains": {
            name: {k: v for k, v in info.items() if k != "data"} for name, info in outcome.domains.items()
        },
        "sources": [s for s in outcome.sources.values() if "error" not in s],
        "points": points,
        "summary": summarize(points),
        "failures": list(outcome.failures),
    }


@cache
def schema() -> dict[str, Any]:
    return json.loads(resources.files(__package__).joinpath("transfer.schema.json").read_text("utf-8"))


def validate(document: Any, source: str) -> None:
    """``DataFormatError`` naming ``source``, the JSON path of the first offence and what was expected."""
    import jsonschema

    if not isinstance(document, dict) or document.get("schema_version") != SCHEMA_VERSION:
        found = document.get("schema_version") if isinstance(document, dict) else type(document).__name__
        raise DataFormatError(
            source, f"schema_version {found!r}", field="$.schema_version", expected=str(SCHEMA_VERSION)
        )
    errors = sorted(jsonschema.Draft202012Validator(schema()).iter_errors(document), key=lambda e: e.path)
    if errors:
        error = errors[0]
        more = f" ({len(errors) - 1} more schema errors)" if len(errors) > 1 else ""
        raise DataFormatError(
            source, f"{error.message}{more}", field=error.json_path, expected=_expected(error)
        )


def _expected(error) -> str | None:
    value = error.validator_value
    return {
        "type": f"type {value}",
        "enum": "one of " + ", ".join(map(json.dumps, value)) if isinstance(value, list) else None,
        "minimum": f">= {value}",
        "maximum": f"<= {value}",
        "required": "the keys " + ", ".join(value) if isinstance(value, list) else None,
        "additionalProperties": "only the keys " + ", ".join(sorted(error.schema.get("properties", {}))),
    }.get(error.validator)


def load(path: str | Path) -> dict[str, Any]:
    """Read and validate a ``transfer.json``."""
    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise DataFormatError(path, f"not valid JSON ({exc})") from exc
    validate(document, str(path))
    return document


def report_json(document: dict[str, Any]) -> str:
    text = json.dumps(document, indent=2, allow_nan=False) + "\n"
    validate(json.loads(text), "transfer report to be written")
    return text


def report_csv(document: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in document["summary"]:
        writer.writerow({**row, "size": "all" if row["size"] is None else row["size"]})
    return buffer.getvalue()


# --- tables and findings ------------------------------------------------------------------------------


def size_label(size: int | None) -> str:
    return "all" if size is None else str(size)


def cells(document: dict[str, Any], pair: str, model: str) -> dict[tuple[str, int, int | None], dict]:
    """``{(strategy, k, size): summary row}`` of one pair and model."""
    return {
        (r["strategy"], r["k"], r["size"]): r
        for r in document["summary"]
        if r["pair"] == pair and r["model"] == model
    }


def sizes_of(table: dict) -> list[int | None]:
    """Adaptation sizes in increasing order, ``all`` last."""
    sizes = {size for _, _, size in table}
    return sorted(sizes - {None}) + ([None] if None in sizes else [])


# A cell within this many micro-F1 points of always predicting the majority class learned nothing more.
MAJORITY_MARGIN = 0.01


def findings(document: dict[str, Any], pair: str, model: str) -> list[str]:
    """Sentences: the best transfer gain over the baseline at the smallest and largest sizes,
    head-only against fine-tuning of every block at each size (micro-F1, percentage points), and the
    strategies that score no better than always predicting the majority class."""
    table = cells(document, pair, model)
    lines = []
    sizes = sizes_of(table)
    for size in dict.fromkeys([sizes[0], sizes[-1]]) if sizes else []:
        base = table.get((BASELINE, 0, size))
        transfer = [r for (s, _, z), r in table.items() if z == size and s != BASELINE]
        if base and transfer:
            best = max(transfer, key=lambda r: r["micro_f1_mean"])
            gain = 100 * (best["micro_f1_mean"] - base["micro_f1_mean"])
            lines.append(
                f"size {size_label(size)} (~{best['n_adapt_mean']:.0f} windows): best transfer "
                f"{best['strategy']} k={best['k']} {_pct(best)} vs baseline {_pct(base)}: {gain:+.1f} pp"
            )
    ks = [k for (s, k, _) in table if s == "head-only"]
    for size in sizes:
        head = table.get(("head-only", max(ks), size)) if ks else None
        full = table.get(("finetune", max(ks), size)) if ks else None
        if head and full:
            delta = 100 * (head["micro_f1_mean"] - full["micro_f1_mean"])
            lines.append(
                f"size {size_label(size)}: head-only {_pct(head)} vs finetune (all blocks) "
                f"{_pct(full)}: {delta:+.1f} pp"
            )
    return lines + _at_majority_level(table, document["domains"][pair]["majority_f1"])


def _at_majority_level(table: dict, majority: float) -> list[str]:
    """One sentence per strategy with cells at (or below) the majority-class micro-F1."""
    flagged: dict[tuple[str, int], list[str]] = {}
    for (strategy, k, size), row in table.items():
        if row["micro_f1_mean"] <= majority + MAJORITY_MARGIN:
            flagged.setdefault((strategy, k), []).append(size_label(size))
    return [
        f"{strategy} k={k} is at the majority-class level ({100 * majority:.1f} %) at size "
        f"{', '.join(sizes)}: it learned little beyond predicting the most common class there"
        for (strategy, k), sizes in sorted(flagged.items())
    ]


def _pct(row: dict) -> str:
    std = row["micro_f1_std"]
    return f"{100 * row['micro_f1_mean']:.1f}" + ("" if std is None else f" ± {100 * std:.1f}")


def _sources_line(sources: list[dict[str, Any]]) -> list[str]:
    """How good the source models are on their own domain (what every transfer starts from)."""
    if not sources:
        return []
    f1 = np.array([s["test_micro_f1"] for s in sources])
    seconds = np.array([s["wall_seconds"] for s in sources])
    return [
        f"{len(sources)} source model(s): micro-F1 on the source's own test subjects "
        f"{100 * f1.mean():.1f} (min {100 * f1.min():.1f}, max {100 * f1.max():.1f}), "
        f"{seconds.mean():.0f} s of training each ({', '.join(sorted({s['trainer'] for s in sources}))}).",
        "",
    ]


def render_markdown(document: dict[str, Any], plots: list[str] = ()) -> str:
    """Per pair and model: micro-F1 (%) mean ± std over seeds, rows = adaptation size, columns =
    strategy@k with the baseline first; then the findings and the failures."""
    settings = document["settings"]
    pairs = ", ".join(document["domains"]) or "no domain pair"
    named = f" ({settings['name']})" if settings["name"] != DEFAULT_NAME else ""
    out = [
        f"# Transfer study: {pairs}{named}",
        "",
        f"{settings['points']} points ({settings['cached']} from the cache, {len(document['failures'])} "
        f"failed), {document['wall_seconds']:.0f} s on {settings['engine']} x{settings['workers']}.",
        "",
        *_sources_line(document["sources"]),
    ]
    for pair, info in document["domains"].items():
        for model in dict.fromkeys(r["model"] for r in document["summary"] if r["pair"] == pair):
            table = cells(document, pair, model)
            columns = sorted({(s, k) for s, k, _ in table}, key=lambda c: (c[0] != BASELINE, c[0], c[1]))
            out += [
                f"## {pair} ({model})",
                "",
                f"labels: {', '.join(info['labels'])}; majority-class F1 {100 * info['majority_f1']:.1f} %; "
                f"dropped source windows {info['dropped_source_windows'] or 'none'}, target "
                f"{info['dropped_target_windows'] or 'none'}",
                "",
                "| size | n | " + " | ".join(f"{s} k={k}" for s, k in columns) + " |",
                "|---" * (len(columns) + 2) + "|",
            ]
            for size in sizes_of(table):
                row = [table.get((s, k, size)) for s, k in columns]
                n = next(r["n_adapt_mean"] for r in row if r)
                out.append(
                    f"| {size_label(size)} | {n:.0f} | "
                    + " | ".join(_pct(r) if r else "" for r in row)
                    + " |"
                )
            out += ["", *[f"- {line}" for line in findings(document, pair, model)], ""]
    if document["failures"]:
        out += (
            ["## Failures", ""]
            + [f"- `{f['config_hash']}`: {f['error']}" for f in document["failures"]]
            + [""]
        )
    if plots:
        out += ["## Plots", ""] + [f"![{name}]({name})" for name in plots] + [""]
    return "\n".join(out)
