"""The ``har-edge`` command. ``main(argv) -> int``: 0 ok, 1 a check failed, 2 bad usage or input.

Each verb lives in its own module as a :class:`~har_edge.cli.common.Verb`; a new verb is one module
and one entry in ``VERBS`` (whose order is the order of ``--help``)."""

from __future__ import annotations

import argparse
import sys

from har_edge.cli import bench, demo, firmware, gate, inspect, optimize, personalize, predict, train, transfer
from har_edge.cli.common import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_OK, Parser, UsageError, Verb
from har_edge.errors import HarEdgeError, InputError

__all__ = ["EXIT_BAD_INPUT", "EXIT_CHECK_FAILED", "EXIT_OK", "VERBS", "build_parser", "entry_point", "main"]

VERBS: tuple[Verb, ...] = (
    train.VERB,
    optimize.VERB,
    inspect.VERB,
    predict.VERB,
    personalize.VERB,
    demo.VERB,
    bench.BENCH,
    bench.SWEEP,
    transfer.VERB,
    gate.VERB,
    firmware.VERB,
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="har-edge",
        description="Take human-activity-recognition models to the edge.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(verb.example for verb in VERBS),
    )
    verbs = parser.add_subparsers(dest="verb", required=True, parser_class=Parser)
    for verb in VERBS:
        verb.add_to(verbs)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    handlers = {verb.name: verb.run for verb in VERBS}
    try:
        return handlers[args.verb](args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except HarEdgeError as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return EXIT_CHECK_FAILED


def entry_point() -> None:
    sys.exit(main())
