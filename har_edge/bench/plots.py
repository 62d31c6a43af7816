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
# The relative horizontal shift between targets of one variant in the Pareto plot.
TARGET_DODGE = 0.04
# Sizes or latencies spanning more than this factor are drawn on a log axis.
LOG_SCALE_RANGE = 30.0


def pareto_scatter(report: Report, path: str | Path) -> Path | None:
    """Footprint (KiB) against accuracy (%): one panel for the model file size on targets without memory
    limits, and a flash and a RAM panel for microcontroller targets (rows whose ``fits`` is known), so a
    file size is never compared with flash. One marker shape per target; estimated figures hollow; a
    variant that does not fit its target crossed out in red; the Pareto front (only variants that fit)
    ringed; accuracy with its 95 % bootstrap interval where the report has one. Points carry numbers,
    listed beside the plot, so labels never overlap; a variant scored on other windows than the rest is
    marked with a dagger."""
    if reason := _pareto_lacks(report):
        return _skip("pareto_scatter", reason)
    from matplotlib.lines import Line2D

    rows = _usable(report, "accuracy")
    panels = [
        (title, figure, own)
        for title, figure, own in (
            ("model file size (KiB)", "size_bytes", [r for r in rows if r.fits is None]),
            ("MCU flash (KiB)", "flash_bytes", [r for r in rows if r.fits is not None and r.flash_bytes]),
            ("MCU RAM (KiB)", "ram_bytes", [r for r in rows if r.fits is not None and r.ram_bytes]),
        )
        if own and all(getattr(r, figure) is not None for r in own)
    ]
    if not panels:
        return _skip("pareto_scatter", "no row has a footprint figure")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2 * len(panels) + 2.6, 4.8), dpi=DPI, layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    targets = _unique(row.target for row in rows)
    numbers = {variant: i + 1 for i, variant in enumerate(_unique(row.variant for row in rows))}
    odd_scoring = _scored_elsewhere(rows)
    for ax, (title, figure, own) in zip(axes, panels, strict=True):
        ax.grid(True, alpha=0.3)
        present = _unique(row.target for row in own)
        labelled = set()  # a variant's number once per panel: its targets sit side by side
        for row in own:
            i = targets.index(row.target)
            # A variant's targets share its size: drawn side by side, not on top of each other.
            x = (
                getattr(row, figure)
                / 1024
                * (1 + TARGET_DODGE * (present.index(row.target) - (len(present) - 1) / 2))
            )
            _draw_point(ax, row, x, MARKERS[i % len(MARKERS)], _colour(i), report)
            if row.variant in labelled:
                continue
            labelled.add(row.variant)
            ax.annotate(
                str(numbers[row.variant]),
                (x, 100 * row.accuracy),
                xytext=(5, 3),
                textcoords="offset points",
                fontsize=7,
            )
        if _wide([getattr(r, figure) for r in own]):
            ax.set_xscale("log")
        ax.set_xlabel(title)
        ax.set_ylabel("accuracy (%)")
    handles = [
        Line2D([], [], marker=MARKERS[i % len(MARKERS)], linestyle="", color=_colour(i), label=target)
        for i, target in enumerate(targets)
    ]
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
            label="Pareto front (fits)",
        ),
        Line2D([], [], marker="x", linestyle="", color="red", label="does not fit"),
    ]
    listing = [f"{n} {variant}{' †' if variant in odd_scoring else ''}" for variant, n in numbers.items()]
    if odd_scoring:
        listing.append("† accuracy scored on other windows")
    if any(row.accuracy_interval() for row in rows):
        listing.append("bars: 95 % bootstrap over test subjects")
    legend = axes[-1].legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    axes[-1].add_artist(legend)
    axes[-1].text(1.04, 0.45, "\n".join(listing), transform=axes[-1].transAxes, fontsize=7, va="top")
    fig.suptitle(f"footprint vs accuracy: {report.source}", fontsize=10)
    return _save(fig, path)


def _draw_point(ax: Axes, row: ResultRow, x: float, marker: str, colour, report: Report) -> None:
    """One variant on one target: filled if measured, hollow if estimated, a red cross over it when it
    does not fit, a black ring when on the front, the accuracy interval as an error bar."""
    y = 100 * row.accuracy
    hollow = row.measurement == "estimated"
    if interval := row.accuracy_interval():
        low, high = (100 * v for v in interval)
        ax.errorbar(x, y, yerr=[[max(y - low, 0)], [max(high - y, 0)]], color=colour, alpha=0.5, capsize=2)
    ax.scatter(
        x,
        y,
        s=45,
        marker=marker,
        linewidths=1.4,
        edgecolors=[colour],
        facecolors="none" if hollow else [colour],
        zorder=3,
    )
    if row.fits is False:
        ax.scatter(x, y, s=90, marker="x", color="red", linewidths=1.6, zorder=4)
    elif report.on_front(row):
        ax.scatter(x, y, s=170, marker=marker, facecolors="none", edgecolors="black", linewidths=1, zorder=2)


def _scored_elsewhere(rows: list[ResultRow]) -> set[str]:
    """Variants whose accuracy note ("accuracy on …") differs from the one most variants share."""
    note_of = {row.variant: _accuracy_note(row) for row in rows}
    counts: dict[str | None, int] = {}
    for note in note_of.values():
        counts[note] = counts.get(note, 0) + 1
    usual = max(counts, key=counts.get) if counts else None
    return {variant for variant, note in note_of.items() if note != usual}


def _accuracy_note(row: ResultRow) -> str | None:
    return next((note for note in row.notes if note.startswith(("accuracy on", "scored"))), None)


def _colour(i: int):
    from matplotlib import colormaps

    return colormaps["tab10"](i % 10)


def accuracy_vs_sparsity(report: Report, path: str | Path) -> Path | None:
    """Accuracy (%) against sparsity (%), one line per series (``sparsity_series``): a line joins only
    real variants that differ in sparsity alone; nothing is averaged, a series of one is a lone marker.
    Error bars: the 95 % bootstrap interval over test subjects, where the report has it, so a difference
    within the spread reads as the noise it is."""
    if reason := _sparsity_lacks(report):
        return _skip("accuracy_vs_sparsity", reason)
    fig, ax = _figure()
    with_bars = False
    for i, (name, rows) in enumerate(_sparsity_rows(report).items()):
        xs = [100 * row.sparsity for row in rows]
        ys = [100 * row.accuracy for row in rows]
        intervals = [row.accuracy_interval() or (row.accuracy, row.accuracy) for row in rows]
        below = [max(y - 100 * low, 0) for y, (low, _) in zip(ys, intervals, strict=True)]
        above = [max(100 * high - y, 0) for y, (_, high) in zip(ys, intervals, strict=True)]
        with_bars = with_bars or any(below) or any(above)
        ax.errorbar(
            xs,
            ys,
            yerr=[below, above],
            capsize=3,
            marker=MARKERS[i % len(MARKERS)],
            linestyle="-" if len(xs) > 1 else "",
            label=name,
        )
    ax.legend(title="series", fontsize=8)
    ax.set_xlabel("sparsity (%)")
    ax.set_ylabel("accuracy (%)" + (", bars: 95 % bootstrap over test subjects" if with_bars else ""))
    ax.set_title(f"accuracy vs sparsity: {report.source}", fontsize=10)
    return _save(fig, path)


def sparsity_series(report: Report) -> dict[str, list[tuple[float, float]]]:
    """(sparsity %, accuracy %) points by series, sorted by sparsity: the variants with the same model,
    precision, split point and treatment (plain, QAT, personalized), each variant once (accuracy does
    not depend on the target). The name shows the model and split point only when the report has several."""
    return {
        name: [(100 * row.sparsity, 100 * row.accuracy) for row in rows]
        for name, rows in _sparsity_rows(report).items()
    }


def _sparsity_rows(report: Report) -> dict[str, list[ResultRow]]:
    by_variant: dict[str, ResultRow] = {}
    for row in _usable(report, "sparsity", "accuracy"):
        by_variant.setdefault(row.variant, row)
    several_models = len({row.model for row in by_variant.values()}) > 1
    several_splits = len({row.split_point for row in by_variant.values()}) > 1
    series: dict[str, list[ResultRow]] = {}
    for row in by_variant.values():
        name = row.precision or "unknown"
        name += "".join(f" {kind}" for kind in ("qat", "personalized") if kind in row.variant.lower())
        if several_models and row.model:
            name = f"{row.model} {name}"
        if several_splits and row.split_point:
            name += f" @{row.split_point}"
        series.setdefault(name, []).append(row)
    return {name: sorted(rows, key=lambda row: (row.sparsity, row.accuracy)) for name, rows in series.items()}


# How a latency was obtained -> its bars' hatch and legend entry (measured: plain bars).
_HATCH = {"estimated": "//", "derived": ".."}
_HATCH_LABEL = {
    "estimated": "estimated (a profile, not run)",
    "derived": "derived: emulated instruction count x the profile's cycles per instruction",
}


def latency_per_target(report: Report, path: str | Path) -> Path | None:
    """p50 latency (µs) per variant, one bar per target side by side, p90 as an upward whisker,
    estimated latencies hatched and latencies derived from an emulated instruction count dotted;
    a log axis when the latencies span more than ``LOG_SCALE_RANGE``."""
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
            bar.set_hatch(_HATCH.get(row.provenance.get("latency"), ""))
    if _wide([row.latency_us_p50 for row in rows]):
        ax.set_yscale("log")
    kinds = {row.provenance.get("latency") for row in rows}
    handles = [
        *ax.get_legend_handles_labels()[0],
        *(
            Patch(facecolor="white", edgecolor="black", hatch=hatch, label=_HATCH_LABEL[kind])
            for kind, hatch in _HATCH.items()
            if kind in kinds
        ),
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
