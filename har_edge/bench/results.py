"""The benchmark report's data: one row per variant on a target, with its size, memory, latency and
accuracy figures, and the ``Report`` that holds the rows with where, when and with what they were
measured. Rows are what the sweep caches, the report writes and the gate checks.

Units are in the field names; a figure a target could not produce is None (JSON null), never 0.
``measurement`` is ``measured``, ``estimated``, ``not_applicable`` (the target does not run this kind of
variant) or ``failed`` (``error`` says why). The microcontroller columns ``tflm_arena_bytes``,
``instructions_per_inference``, ``instructions_per_mac``, ``flash_weights_bytes`` and ``flash_code_bytes``
are None elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from har_edge.runtime.benchmark import Calibration
from har_edge.targets.base import TargetFigures

SCHEMA_VERSION = 2  # 2: latency_norm_p50 by reference models (1: by a numpy sort)


@dataclass(frozen=True)
class VariantFacts:
    """What is known about a variant before any target runs it (sizes and test-set accuracy).

    ``accuracy_drop_pp`` is float32 accuracy minus this variant's, in percentage points, on the same
    test windows; ``agreement_with_float32`` the share of test windows with the same top-1 class;
    ``details["accuracy_ci95"]`` the 95 % bootstrap interval of accuracy over test subjects, where known.
    """

    variant: str
    size_bytes: int
    gzip_bytes: int
    model: str | None = None
    precision: str | None = None
    sparsity: float | None = None
    split_point: str | None = None
    accuracy: float | None = None
    macro_f1: float | None = None
    accuracy_drop_pp: float | None = None
    agreement_with_float32: float | None = None
    notes: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ResultRow:
    variant: str
    target: str
    size_bytes: int
    gzip_bytes: int
    model: str | None = None
    precision: str | None = None
    sparsity: float | None = None
    split_point: str | None = None
    ram_bytes: int | None = None
    flash_bytes: int | None = None
    latency_us_p50: float | None = None
    latency_us_p90: float | None = None
    latency_n: int | None = None
    threads: int | None = None
    latency_norm_p50: float | None = None
    accuracy: float | None = None
    macro_f1: float | None = None
    accuracy_drop_pp: float | None = None
    agreement_with_float32: float | None = None
    measurement: str = "measured"
    provenance: dict[str, str] = field(default_factory=dict)
    fits: bool | None = None
    ram_margin_bytes: int | None = None
    flash_margin_bytes: int | None = None
    keras_latency_ratio: float | None = None
    tflm_arena_bytes: int | None = None
    instructions_per_inference: int | None = None
    instructions_per_mac: float | None = None
    flash_weights_bytes: int | None = None
    flash_code_bytes: int | None = None
    error: str | None = None
    notes: tuple[str, ...] = ()
    config_hash: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def combine(
        cls,
        facts: VariantFacts,
        figures: TargetFigures,
        *,
        calibration: Calibration | None = None,
        config_hash: str | None = None,
    ) -> ResultRow:
        """A variant's facts plus one target's figures. ``latency_norm_p50`` is a measured latency
        divided by the reference model of the variant's precision (``Calibration.for_precision``) timed
        on the same machine in the same run: the target's own (``details["calibration"]``, the desktop
        at its thread count or a remote device) or else ``calibration``."""
        norm = None
        own = figures.details.get("calibration")
        calibration = Calibration.from_dict(own) if own is not None else calibration
        if (
            calibration is not None
            and figures.latency_us_p50 is not None
            and figures.provenance.get("latency") == "measured"
        ):
            norm = figures.latency_us_p50 / calibration.for_precision(facts.precision)
        facts_part = {
            f.name: getattr(facts, f.name) for f in fields(facts) if f.name not in ("notes", "details")
        }
        figures_part = {
            f.name: getattr(figures, f.name)
            for f in fields(figures)
            if f.name not in ("target", "notes", "details") and f.name in {g.name for g in fields(cls)}
        }
        return cls(
            **facts_part,
            **figures_part,
            target=figures.target,
            latency_norm_p50=norm,
            measurement=figures.measurement,
            notes=facts.notes + figures.notes,
            details={**facts.details, **figures.details},
            config_hash=config_hash,
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "notes": list(self.notes)}

    def accuracy_interval(self) -> tuple[float, float] | None:
        """The 95 % bootstrap interval of ``accuracy`` over test subjects (``details["accuracy_ci95"]``),
        or None when the report has none (or it is malformed)."""
        value = self.details.get("accuracy_ci95") if isinstance(self.details, dict) else None
        if isinstance(value, list | tuple) and len(value) == 2:
            low, high = value
            if all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)):
                return float(low), float(high)
        return None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResultRow:
        known = {f.name for f in fields(cls)}
        return cls(**{k: (tuple(v) if k == "notes" else v) for k, v in data.items() if k in known})


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
