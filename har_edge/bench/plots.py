"""PNG plots of a benchmark report (matplotlib's Agg renderer through ``Figure``, never pyplot, so no
global backend or figure state is touched).

Each plot returns its path, or None (logging why) when the report lacks the data for it; ``lacking_data``
gives those reasons up front. Files carry no timestamp or software metadata, so the same report on the
same matplotlib version gives the same bytes. Rows with an ``error`` are never plotted.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from har_edge.fsutil import atomic_write_bytes

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from har_edge.bench.results import Report, ResultRow

log = logging.getLogger(__name__)

MARKERS = "os^Dvp*hX"
DPI = 120
# Sizes or latencies spanning more than this factor are drawn on a log axis.
LOG_SCALE_RANGE = 30.0
# The relative horizontal shift between targets of one variant in the Pareto plot.
TARGET_DODGE = 0.04


def pareto_scatter(report: Report, path: str | Path) -> Path | None:
    """Size (KiB) against accuracy (%), one marker shape per target (named in the legend), colour by p50
    latency (grey when unknown), estimated figures hollow, the Pareto front ringed; every variant is
    labelled with its name once. A variant's targets share its size and accuracy, so they are drawn side
    by side, each shifted by ``TARGET_DODGE`` of the size, not on top of each other."""
    if reason := _pareto_lacks(report):
        return _skip("pareto_scatter", reason)
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import LogNorm, Normalize
    from matplotlib.lines import Line2D

    rows = _usable(report, "size_bytes", "accuracy")
    latencies = [row.latency_us_p50 for row in rows if row.latency_us_p50 is not None]
    norm = None
    if latencies:
        positive = [value for value in latencies if value > 0]
        wide = _wide(latencies)
        norm = (
            LogNorm(min(positive), max(positive), clip=True)
            if wide
            else Normalize(min(latencies), max(latencies))
        )
    cmap = colormaps["viridis"]
    fig, ax = _figure()
    handles, labelled, stacked = [], set(), {}
    targets = _unique(row.target for row in rows)
    for i, target in enumerate(targets):
        marker = MARKERS[i % len(MARKERS)]
        dodge = 1 + TARGET_DODGE * (i - (len(targets) - 1) / 2)
        for row in (row for row in rows if row.target == target):
            colour = cmap(norm(row.latency_us_p50)) if row.latency_us_p50 is not None else "grey"
            hollow = row.measurement == "estimated"
            x, y = dodge * row.size_bytes / 1024, 100 * row.accuracy
            ax.scatter(
                x,
                y,
                s=55,
                marker=marker,
                linewidths=1.6,
                edgecolors=[colour],
                facecolors="none" if hollow else [colour],
                zorder=3,
            )
            if report.on_front(row):
                ax.scatter(x, y, s=190, marker=marker, facecolors="none", edgecolors="black", linewidths=1)
            if row.variant not in labelled:  # once: the same variant on several targets sits side by side
                near = (round(x), round(y))  # labels of points within ~1 KiB and 1 % are stacked
                stacked[near] = stacked.get(near, -1) + 1
                offset = (14, 4 - 9 * stacked[near])  # right of the dodged targets
                ax.annotate(row.variant, (x, y), xytext=offset, textcoords="offset points", fontsize=7)
                labelled.add(row.variant)
        handles.append(Line2D([], [], marker=marker, linestyle="", color="dimgrey", label=target))
    handles += [
        Line2D([], [], marker="o", linestyle="", markerfacecolor="none", color="dimgrey", label="estimated"),
        Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            markersize=11,
            markerfacecolor="none",
            color="black",
            label="Pareto front",
        ),
    ]
    ax.legend(handles=handles, fontsize=8, loc="best")
    if latencies:
        fig.colorbar(ScalarMappable(norm, cmap), ax=ax, label="p50 latency (µs)")
    if _wide([row.size_bytes for row in rows]):
        ax.set_xscale("log")
    ax.set_xlabel("size (KiB)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"size vs accuracy: {report.source}", fontsize=10)
    return _save(fig, path)


def accuracy_vs_sparsity(report: Report, path: str | Path) -> Path | None:
    """Accuracy (%) against sparsity (%), one line per series (``sparsity_series``): a line joins only
    real variants that differ in sparsity alone; nothing is averaged, a series of one is a lone marker."""
    if reason := _sparsity_lacks(report):
        return _skip("accuracy_vs_sparsity", reason)
    fig, ax = _figure()
    for i, (name, points) in enumerate(sparsity_series(report).items()):
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, marker=MARKERS[i % len(MARKERS)], linestyle="-" if len(xs) > 1 else "", label=name)
    ax.legend(title="series", fontsize=8)
    ax.set_xlabel("sparsity (%)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"accuracy vs sparsity: {report.source}", fontsize=10)
    return _save(fig, path)


def sparsity_series(report: Report) -> dict[str, list[tuple[float, float]]]:
    """(sparsity %, accuracy %) points by series, sorted by sparsity: the variants with the same model,
    precision, split point and treatment (plain, QAT, personalized), each variant once (accuracy does
    not depend on the target). The name shows the model and split point only when the report has several."""
    by_variant: dict[str, ResultRow] = {}
    for row in _usable(report, "sparsity", "accuracy"):
        by_variant.setdefault(row.variant, row)
    several_models = len({row.model for row in by_variant.values()}) > 1
    several_splits = len({row.split_point for row in by_variant.values()}) > 1
    series: dict[str, list[tuple[float, float]]] = {}
    for row in by_variant.values():
        name = row.precision or "unknown"
        name += "".join(f" {kind}" for kind in ("qat", "personalized") if kind in row.variant.lower())
        if several_models and row.model:
            name = f"{row.model} {name}"
        if several_splits and row.split_point:
            name += f" @{row.split_point}"
        series.setdefault(name, []).append((100 * row.sparsity, 100 * row.accuracy))
    return {name: sorted(points) for name, points in series.items()}


def latency_per_target(report: Report, path: str | Path) -> Path | None:
    """p50 latency (µs) per variant, one bar per target side by side, p90 as an upward whisker,
    estimated latencies hatched; a log axis when the latencies span more than ``LOG_SCALE_RANGE``."""
    if reason := _latency_lacks(report):
        return _skip("latency_per_target", reason)
    from matplotlib import colormaps
    from matplotlib.patches import Patch

    rows = _usable(report, "latency_us_p50")
    variants = _unique(row.variant for row in rows)
    targets = _unique(row.target for row in rows)
    width = 0.8 / len(targets)
    fig, ax = _figure(width=max(6.0, 1.0 + 0.5 * len(rows)))
    colours = colormaps["tab10"]
    for j, target in enumerate(targets):
        own = [row for row in rows if row.target == target]
        x = [variants.index(row.variant) + (j - (len(targets) - 1) / 2) * width for row in own]
        p50 = [row.latency_us_p50 for row in own]
        whisker = [max((row.latency_us_p90 or p) - p, 0.0) for row, p in zip(own, p50, strict=True)]
        bars = ax.bar(
            x,
            p50,
            width,
            yerr=[[0.0] * len(own), whisker],
            capsize=2,
            label=target,
            color=colours(j % 10),
            edgecolor="black",
            linewidth=0.5,
        )
        for bar, row in zip(bars, own, strict=True):
            if row.provenance.get("latency") == "estimated":
                bar.set_hatch("//")
    if _wide([row.latency_us_p50 for row in rows]):
        ax.set_yscale("log")
    handles = [
        *ax.get_legend_handles_labels()[0],
        Patch(facecolor="white", edgecolor="black", hatch="//", label="estimated"),
    ]
    ax.legend(handles=handles, fontsize=8)
    ax.set_xticks(range(len(variants)), variants, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("p50 latency (µs), whisker to p90")
    ax.set_title(f"latency per target: {report.source}", fontsize=10)
    return _save(fig, path)


# --- what each plot needs -----------------------------------------------------------------------------


def _usable(report: Report, *figures: str) -> list[ResultRow]:
    return [
        row
        for row in report.results
        if row.error is None and all(getattr(row, name) is not None for name in figures)
    ]


def _pareto_lacks(report: Report) -> str | None:
    if not _usable(report, "size_bytes", "accuracy"):
        return "no result without an error has both a size and an accuracy"
    return None


def _sparsity_lacks(report: Report) -> str | None:
    levels = {row.sparsity for row in _usable(report, "sparsity", "accuracy")}
    if len(levels) < 2:
        return f"results with an accuracy cover {len(levels)} sparsity level(s); the plot needs two or more"
    return None


def _latency_lacks(report: Report) -> str | None:
    if not _usable(report, "latency_us_p50"):
        return "no result without an error has a p50 latency"
    return None


class Plot(NamedTuple):
    draw: Callable[[Report, str | Path], Path | None]
    lacks: Callable[[Report], str | None]


# File name -> plot, in the order a report shows them.
PLOTS: dict[str, Plot] = {
    "pareto.png": Plot(pareto_scatter, _pareto_lacks),
    "accuracy_vs_sparsity.png": Plot(accuracy_vs_sparsity, _sparsity_lacks),
    "latency_per_target.png": Plot(latency_per_target, _latency_lacks),
}


def lacking_data(report: Report) -> dict[str, str]:
    """``{file name: why not drawn}`` for the ``PLOTS`` this report has too little data for."""
    return {name: reason for name, plot in PLOTS.items() if (reason := plot.lacks(report))}


# --- helpers ------------------------------------------------------------------------------------------


def _figure(width: float = 7.0) -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, 4.8), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    ax.grid(True, alpha=0.3)
    return fig, ax


def _save(fig: Figure, path: str | Path) -> Path:
    """Render to PNG without metadata (no software version), then write atomically."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    path = Path(path)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _skip(plot: str, reason: str) -> None:
    log.info("%s not drawn: %s", plot, reason)
    return None


def _unique(values) -> list:
    return list(dict.fromkeys(values))


def _wide(values: list[float]) -> bool:
    """Whether the positive ``values`` span more than ``LOG_SCALE_RANGE`` (a log axis reads better)."""
    positive = [value for value in values if value > 0]
    return bool(positive) and max(positive) > LOG_SCALE_RANGE * min(positive)
