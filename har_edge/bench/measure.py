"""Run variants on targets: one ``ResultRow`` per (variant, target). A target that cannot run a
variant puts the error in that row; the run goes on."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from har_edge.bench.results import ResultRow
from har_edge.bench.variants import Variant
from har_edge.errors import HarEdgeError
from har_edge.runtime.benchmark import Calibration, calibrate
from har_edge.targets.base import Target, TargetFigures


def measure_variants(
    variants: Sequence[Variant],
    targets: Sequence[Target],
    *,
    calibration: Calibration | None = None,
    config_hash: str | None = None,
    on_row: Callable[[ResultRow], None] = lambda row: None,
) -> list[ResultRow]:
    """Every variant on every target. ``calibration`` (the reference models on this machine, one thread)
    is timed here when not given, so measured latencies get a normalized figure."""
    if calibration is None:
        calibration = calibrate()
    rows = []
    for variant in variants:
        for target in targets:
            row = ResultRow.combine(
                variant.facts, _figures(target, variant), calibration=calibration, config_hash=config_hash
            )
            on_row(row)
            rows.append(row)
    return rows


def _figures(target: Target, variant: Variant) -> TargetFigures:
    try:
        return target.measure(variant.artifact)
    except HarEdgeError as exc:
        return TargetFigures(target=target.name, error=f"{type(exc).__name__}: {exc}")
