"""PNG plots of a transfer study (matplotlib ``Figure`` objects, never pyplot; no metadata in the files).

- ``heatmap_figure``: one (pair, model, strategy): y = adaptation size (smallest at the top), x = k
  transferred blocks, the leftmost column the baseline (k = 0), cell = mean micro-F1 (%) over seeds with
  its std; the title names the target, its majority-class F1 and the source, like the published figure.
- ``curves_figure``: micro-F1 against adaptation windows (log axis), one line per strategy and k, the
  baseline in black; error bars are the std over seeds. It answers "how many labelled windows does a
  new user need?".
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np

from har_edge.fsutil import atomic_write_bytes
from har_edge.transfer.grid import BASELINE
from har_edge.transfer.report import cells, size_label, sizes_of

DPI = 120


def heatmap_matrix(document: dict, pair: str, model: str, strategy: str):
    """(size labels, k values, mean micro-F1 matrix in %, std matrix in %) of one heatmap; NaN where a
    cell has no result."""
    table = cells(document, pair, model)
    ks = [0, *sorted({k for s, k, _ in table if s == strategy and k > 0})]
    sizes = sizes_of(table)
    mean = np.full((len(sizes), len(ks)), np.nan)
    std = np.full_like(mean, np.nan)
    for i, size in enumerate(sizes):
        for j, k in enumerate(ks):
            row = table.get((BASELINE if k == 0 else strategy, k, size))
            if row:
                mean[i, j] = 100 * row["micro_f1_mean"]
                std[i, j] = np.nan if row["micro_f1_std"] is None else 100 * row["micro_f1_std"]
    return [size_label(s) for s in sizes], ks, mean, std


def heatmap_figure(document: dict, pair: str, model: str, strategy: str):
    from matplotlib.figure import Figure

    sizes, ks, mean, std = heatmap_matrix(document, pair, model, strategy)
    info = document["domains"][pair]
    source, target = pair.split(" -> ")
    fig = Figure(figsize=(1.6 + 1.25 * len(ks), 1.4 + 0.55 * len(sizes)), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(mean, cmap="viridis", vmin=0, vmax=100, aspect="auto")
    for i in range(len(sizes)):
        for j in range(len(ks)):
            if np.isfinite(mean[i, j]):
                spread = "" if np.isnan(std[i, j]) else f"\n±{std[i, j]:.1f}"
                color = "black" if mean[i, j] > 60 else "white"
                ax.text(j, i, f"{mean[i, j]:.1f}{spread}", ha="center", va="center", fontsize=8, color=color)
    ax.set_xticks(range(len(ks)), ["0\n(baseline)" if k == 0 else str(k) for k in ks])
    ax.set_yticks(range(len(sizes)), sizes)
    ax.set_xlabel(f"k = transferred blocks ({strategy})")
    ax.set_ylabel("adaptation windows")
    ax.set_title(
        f"target {target} (majority F1 {100 * info['majority_f1']:.1f} %)\nsource {source}, {model}",
        fontsize=9,
    )
    fig.colorbar(image, ax=ax, label="micro-F1 (%)")
    return fig


def curves_figure(document: dict, pair: str, model: str):
    from matplotlib.figure import Figure

    table = cells(document, pair, model)
    fig = Figure(figsize=(7.0, 4.6), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    lines = sorted({(s, k) for s, k, _ in table}, key=lambda c: (c[0] != BASELINE, c[0], c[1]))
    for strategy, k in lines:
        rows = [table[(strategy, k, size)] for size in sizes_of(table) if (strategy, k, size) in table]
        x = [r["n_adapt_mean"] for r in rows]
        y = [100 * r["micro_f1_mean"] for r in rows]
        err = [0.0 if r["micro_f1_std"] is None else 100 * r["micro_f1_std"] for r in rows]
        style = {"color": "black", "linewidth": 2.2} if strategy == BASELINE else {}
        label = "baseline (target only)" if strategy == BASELINE else f"{strategy} k={k}"
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=label, **style)
    ax.axhline(
        100 * document["domains"][pair]["majority_f1"], color="grey", linestyle=":", label="majority class"
    )
    ax.set_xscale("log")
    ticks = sorted({round(r["n_adapt_mean"]) for r in table.values()})
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("labelled target windows (adaptation set)")
    ax.set_ylabel("micro-F1 on the target test subjects (%)")
    ax.set_title(f"{pair} ({model})", fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return fig


def draw_all(document: dict, folder: str | Path) -> list[str]:
    """Every heatmap and curve plot of ``document`` into ``folder``; returns the file names."""
    folder = Path(folder)
    names = []
    for pair in document["domains"]:
        models = dict.fromkeys(r["model"] for r in document["summary"] if r["pair"] == pair)
        for model in models:
            strategies = dict.fromkeys(
                r["strategy"]
                for r in document["summary"]
                if r["pair"] == pair and r["model"] == model and r["strategy"] != BASELINE
            )
            stem = _slug(f"{pair}-{model}")
            for strategy in strategies:
                names.append(
                    _save(
                        heatmap_figure(document, pair, model, strategy),
                        folder / f"heatmap-{stem}-{strategy}.png",
                    )
                )
            names.append(_save(curves_figure(document, pair, model), folder / f"curves-{stem}.png"))
    return names


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text.replace(" -> ", " to ")).strip("_")


def _save(fig, path: Path) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    atomic_write_bytes(path, buffer.getvalue())
    return path.name
