"""``har-edge gate``: check a benchmark report against budgets; exit 1 on a breach."""

from __future__ import annotations

import argparse
import json
import os
import textwrap
from pathlib import Path

from har_edge.cli.common import Verb
from har_edge.gate import (
    ALLOW_ENV,
    LIMITS,
    GateReport,
    evaluate,
    gate_document,
    load_budgets,
    render_checks,
    resolve_override,
)

GATE_EXAMPLE = """examples:
  har-edge gate report/report.json --budgets budgets.toml
  har-edge gate report/report.json --budgets pyproject.toml --baseline main-report/report.json --json
  har-edge gate report/report.json --budgets budgets.toml --allow "new cnn variant, reviewed in #42"

budgets.toml:
  [budget.desktop]
  max_size_bytes = 40000
  max_latency_norm_p50 = 2.0          # latency / calibration workload, same machine and run
  max_size_increase_pct = 5           # against --baseline
  [budget.cortex-m4f-80mhz.int8]
  max_ram_bytes = 65536
  max_accuracy_drop_pp = 1.0

budget keys: {keys}

exit codes: 0 every check passed (or failures accepted by --allow / HAR_EDGE_GATE_ALLOW),
1 a check failed, 2 bad usage or input (unreadable report, malformed TOML, unknown key)
""".format(keys=textwrap.fill(", ".join(LIMITS), width=100, subsequent_indent="  "))


def add_gate_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``har-edge gate`` arguments (see ``GATE_EXAMPLE`` for the epilog)."""
    parser.add_argument("report", type=Path, help="report.json written by 'har-edge bench'")
    parser.add_argument(
        "--budgets",
        required=True,
        type=Path,
        help="a TOML file of [budget.TARGET] tables, or a pyproject.toml with [tool.har_edge.budget.TARGET]",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="an earlier report (e.g. of the main branch, ideally same machine) for the *_increase_* limits",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON document instead of the table")
    parser.add_argument(
        "--allow",
        metavar="REASON",
        help=f"accept failing checks (exit 0) and print REASON; {ALLOW_ENV}=REASON does the same",
    )


def run_gate(args: argparse.Namespace) -> int:
    """Evaluate and print; 0 when every check passes or an override accepts the failures, else 1.
    Bad input raises ``InputError`` (exit 2 in the CLI)."""
    override = resolve_override(args.allow, os.environ)
    budgets = load_budgets(args.budgets)
    report = GateReport.read(args.report)
    baseline = GateReport.read(args.baseline) if args.baseline else None
    checks = evaluate(report, budgets, baseline)
    document = gate_document(
        checks, override, report=args.report, budgets=args.budgets, baseline=args.baseline
    )
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        against = f", baseline {args.baseline}" if args.baseline else ""
        print(f"har-edge gate: {args.report} against {args.budgets}{against}")
        print(render_checks(checks, override))
    return document["exit_code"]


VERB = Verb(
    "gate",
    "check a benchmark report against size/latency/accuracy budgets (exit 1 on a breach)",
    GATE_EXAMPLE,
    add_gate_arguments,
    run_gate,
)
