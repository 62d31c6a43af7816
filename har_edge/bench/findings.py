"""Findings: the oddities a report's rows show that a reader should not have to spot (a pruned variant
slower on a microcontroller than the dense one, a variant that does not fit its target, an accuracy
"gain" that lies inside the test subjects' spread), each as one sentence that says why.

Only what the rows themselves show is claimed; a finding names the rows it compares.
"""

from __future__ import annotations

from har_edge.bench.results import Report, ResultRow

# The dense reference a pruned variant is compared with, by precision.
_DENSE_OF = {"int8": "int8", "float32": "float32"}


def findings(report: Report) -> list[str]:
    """Every finding, in a stable order: fit, then MCU cost of pruning, then accuracy within spread."""
    rows = [row for row in report.results if row.error is None]
    return [*_not_fitting(rows), *_pruned_slower(rows), *_within_spread(rows)]


def _not_fitting(rows: list[ResultRow]) -> list[str]:
    found = []
    for row in rows:
        if row.fits is not False:
            continue
        over = [
            f"{name} by {-margin:,} B"
            for name, margin in (("RAM", row.ram_margin_bytes), ("flash", row.flash_margin_bytes))
            if margin is not None and margin < 0
        ]
        found.append(
            f"{row.variant} does not fit {row.target}: over its {' and '.join(over) or 'memory'}"
            + (f" (needs {row.ram_bytes:,} B of RAM)" if row.ram_bytes is not None else "")
            + "; a smaller head batch, fewer classes or a smaller model would fit."
        )
    return found


def _pruned_slower(rows: list[ResultRow]) -> list[str]:
    """Per target: the pruned rows that cost more instructions than the unpruned row of their precision."""
    slower: dict[tuple[str, str], list[tuple[ResultRow, ResultRow]]] = {}
    for row in rows:
        dense_name = _DENSE_OF.get(row.precision or "")
        if not row.sparsity or dense_name is None or row.instructions_per_inference is None:
            continue
        dense = next(
            (
                other
                for other in rows
                if other.target == row.target
                and other.variant == dense_name
                and other.instructions_per_inference is not None
            ),
            None,
        )
        if dense is not None and row.instructions_per_inference > dense.instructions_per_inference:
            slower.setdefault((row.target, dense.variant), []).append((row, dense))
    found = []
    for (target, dense_name), pairs in slower.items():
        costs = ", ".join(
            f"{row.variant} {row.instructions_per_inference:,} "
            f"(+{100 * (row.instructions_per_inference / dense.instructions_per_inference - 1):.0f} %)"
            for row, dense in pairs
        )
        found.append(
            f"pruning costs instructions on {target}: {costs} vs {dense_name} "
            f"{pairs[0][1].instructions_per_inference:,}. Layers that run dense kernels store and multiply "
            "the pruned zeros like any other weight, and a pruned layer can lose the short requantization "
            "form (`har-edge firmware --json` lists each layer's kernel and instructions)."
        )
    return found


def _within_spread(rows: list[ResultRow]) -> list[str]:
    """Variants that score above float32 by less than float32's own spread (noise), or below all of it
    (a real loss)."""
    found = []
    seen = set()
    for row in rows:
        reference = next(
            (other for other in rows if other.variant == "float32" and other.accuracy is not None), None
        )
        interval = reference.accuracy_interval() if reference else None
        if (
            row.variant in seen
            or reference is None
            or interval is None
            or row.accuracy is None
            or row.variant == reference.variant
        ):
            continue
        seen.add(row.variant)
        gain = 100 * (row.accuracy - reference.accuracy)
        low, high = interval
        spread = f"float32's 95 % bootstrap interval over test subjects ({100 * low:.1f}-{100 * high:.1f} %)"
        if gain > 0 and low <= row.accuracy <= high:
            found.append(
                f"{row.variant} scores {gain:+.1f} pp over float32, inside {spread}: noise of which people "
                "were tested, not a gain."
            )
        elif row.accuracy < low:
            found.append(f"{row.variant} loses {-gain:.1f} pp against float32, below {spread}: a real loss.")
    return found
