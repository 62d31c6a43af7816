"""The CI gate: a benchmark report checked against size, memory, latency and accuracy budgets.

``load_budgets`` (budgets.py) reads the TOML, ``evaluate`` (checks.py) turns budgets and a report into
``Check``s, ``render_checks`` / ``gate_document`` (render.py) print them; ``har-edge gate`` is
``har_edge.cli.gate``."""

from har_edge.gate.budgets import LIMITS, Budget, Comparison, LimitKind, load_budgets
from har_edge.gate.checks import ALLOW_ENV, Check, GateReport, Override, evaluate, resolve_override, verdict
from har_edge.gate.render import GATE_SCHEMA_VERSION, gate_document, render_checks

__all__ = [
    "ALLOW_ENV",
    "GATE_SCHEMA_VERSION",
    "LIMITS",
    "Budget",
    "Check",
    "Comparison",
    "GateReport",
    "LimitKind",
    "Override",
    "evaluate",
    "gate_document",
    "load_budgets",
    "render_checks",
    "resolve_override",
    "verdict",
]
