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


def pareto_scatter(report: Report, path: str | Path) -> Path | None:
    """Size (KiB) against accuracy (%), one marker shape per target, colour by p50 latency (grey when
    unknown), estimated figures hollow, the Pareto front ringed and labelled with variant names."""
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
    handles, labelled = [], set()
    for i, target in enumerate(_unique(row.target for row in rows)):
        marker = MARKERS[i % len(MARKERS)]
        for row in (row for row in rows if row.target == target):
            colour = cmap(norm(row.latency_us_p50)) if row.latency_us_p50 is not None else "grey"
            hollow = row.measurement == "estimated"
            x, y = row.size_bytes / 1024, 100 * row.accuracy
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
                if row.variant not in labelled:  # the same variant on several targets sits at one point
                    ax.annotate(row.variant, (x, y), xytext=(6, 5), textcoords="offset points", fontsize=7)
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
    """Accuracy (%) against sparsity (%), one colour per precision. Accuracy belongs to the variant, so
    each variant counts once whatever its targets; the line joins the mean accuracy at each sparsity
    (over e.g. several models or split points of that precision)."""
    if reason := _sparsity_lacks(report):
        return _skip("accuracy_vs_sparsity", reason)
    by_variant: dict[str, ResultRow] = {}
    for row in _usable(report, "sparsity", "accuracy"):
        by_variant.setdefault(row.variant, row)
    fig, ax = _figure()
    for precision in _unique(row.precision or "unknown" for row in by_variant.values()):
        points = [
            (100 * row.sparsity, 100 * row.accuracy)
            for row in by_variant.values()
            if (row.precision or "unknown") == precision
        ]
        (line,) = ax.plot(*_mean_per_x(points), marker="", label=precision)
        ax.scatter(*zip(*points, strict=True), color=line.get_color(), s=30, zorder=3)
    ax.legend(title="precision", fontsize=8)
    ax.set_xlabel("sparsity (%)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"accuracy vs sparsity: {report.source}", fontsize=10)
    return _save(fig, path)


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


def _mean_per_x(points: list[tuple[float, float]]) -> tuple[list[float], list[float]]:
    xs = sorted({x for x, _ in points})
    means = [
        sum(y for x, y in points if x == level) / sum(1 for x, _ in points if x == level) for level in xs
    ]
    return xs, means
