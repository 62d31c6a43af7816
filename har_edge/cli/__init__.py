"""The ``har-edge`` command. ``main(argv) -> int``: 0 ok, 1 a check failed, 2 bad usage or input.

Each verb lives in its own module as a :class:`~har_edge.cli.common.Verb`; a new verb is one module
and one entry in ``VERBS`` (whose order is the order of ``--help``)."""

from __future__ import annotations

import argparse
import os
import sys

from har_edge.cli import bench, demo, firmware, gate, inspect, optimize, personalize, predict, train, transfer
from har_edge.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_CHECK_FAILED,
    EXIT_OK,
    VERBOSE_FLAGS,
    VERBOSE_HELP,
    Parser,
    UsageError,
    Verb,
)
from har_edge.errors import HarEdgeError, InputError

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_BROKEN_PIPE",
    "EXIT_CHECK_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "VERBS",
    "build_parser",
    "entry_point",
    "main",
]

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


EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader went away (e.g. | head)


def build_parser() -> argparse.ArgumentParser:
    from har_edge import __version__

    parser = Parser(
        prog="har-edge",
        description="Take human-activity-recognition models to the edge.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(verb.example for verb in VERBS),
    )
    parser.add_argument("--version", action="version", version=f"har-edge {__version__}")
    parser.add_argument(VERBOSE_FLAGS[0], VERBOSE_FLAGS[1], action="store_true", help=VERBOSE_HELP)
    verbs = parser.add_subparsers(dest="verb", required=True, parser_class=Parser)
    for verb in VERBS:
        verb.add_to(verbs)
    return parser


def main(argv: list[str] | None = None) -> int:
    from har_edge.cli.terminal import printable_streams

    with printable_streams():  # no raw escape sequence from a label or file name reaches the terminal
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    from har_edge.nativelog import filtered_stderr

    handlers = {verb.name: verb.run for verb in VERBS}
    try:
        with filtered_stderr(enabled=not args.verbose):
            return handlers[args.verb](args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        raise  # entry_point's
    except OSError as exc:  # a full disk, an --out under a file, a folder where a file goes: the path named
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except HarEdgeError as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return EXIT_CHECK_FAILED


def entry_point() -> None:
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        code = EXIT_BROKEN_PIPE
    except KeyboardInterrupt:  # between verbs' own handling, e.g. while importing
        print("interrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    sys.exit(code)
