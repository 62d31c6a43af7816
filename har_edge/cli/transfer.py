"""``har-edge transfer``: the transfer-learning study (source -> target: k blocks x adaptation size x
strategy, the device's head-only path included)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from har_edge.cli.argtypes import positive_int
from har_edge.cli.common import EXIT_CHECK_FAILED, EXIT_OK, FORMAT_CHOICES, Verb, option_value
from har_edge.errors import InputError

EXAMPLE = """examples:
  har-edge transfer --out transfer-out
      the default study: synthetic waist phone -> wrist watch and -> waist budget phone; cnn; k = 0, 2, all;
      20/50/100/200/all adaptation windows; freeze, finetune, head-only; seeds 0,1,2
  har-edge transfer --source synthetic:waist --target synthetic:pocket:midrange-phone --k 0,1,2,3,all --out t
  har-edge transfer --source data/HAPT --source-format hapt --target data/wisdm.txt --target-format wisdm \\
      --mapping classes.toml --out t
      where classes.toml maps source to target labels: [mapping] WALKING = "Walking" ...
  har-edge transfer --source data/HAPT --source-format hapt --target data/BasicMotions_TRAIN.ts \\
      --target-option format=uea --target-option source_rate=10 \\
      --target-option format.channels=acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z --mapping classes.toml --out t
      a UEA target at its real 10 Hz (a .ts file states no rate: 1 Hz is assumed and noted otherwise),
      its dimensions named (the loader's channels option) so the protocol's acc_x/y/z are found
  har-edge transfer --source data/Watch_accelerometer.csv --source-option format=hhar \\
      --source-option max_gap_s=0.5 --target data/HAPT-user07/RawData --target-option format=hapt \\
      --mapping classes.toml --out t
      a domain of 1 or 2 subjects (here the target) is split by activity occurrence in time, not by subject
  har-edge transfer --study benchmarks/transfer_full.toml --engine ray --workers 2 --out t
  har-edge transfer --source-trainer ray-train --train-workers 2 --out t
      source models trained data-parallel with Ray Train
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="study folder (cache/ and report/)")
    parser.add_argument("--study", type=Path, help="a study TOML file (flags below override it)")
    group = parser.add_argument_group("domains (default: the two synthetic pairs)")
    group.add_argument("--source", help="source data: synthetic[:position[:device]] or a path")
    group.add_argument("--target", help="target data, as --source")
    group.add_argument("--source-format", choices=FORMAT_CHOICES)
    group.add_argument("--target-format", choices=FORMAT_CHOICES)
    for role in ("source", "target"):
        group.add_argument(
            f"--{role}-option",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help=f"a setting of the {role} domain (repeat): format=NAME; channels=acc|acc+gyro|all|a,b,c "
            "(what its windows use, default acc); source_rate=HZ (the data's own rate: uea, csv); any "
            "other KEY=VALUE, or format.KEY=VALUE, is a loader option as train's --format-option "
            "(imu=chest, max_gap_s=0.5, format.channels=a,b,c names a uea file's dimensions)",
        )
    group.add_argument(
        "--mapping", type=Path, help="TOML file with a [mapping] table: source class = target class"
    )
    grid = parser.add_argument_group("grid (comma lists)")
    grid.add_argument("--model", help="cnn, dense, lstm (default cnn)")
    grid.add_argument("--k", help="transferred blocks, 0 = baseline, 'all' (default 0,2,all)")
    grid.add_argument(
        "--size", help="adaptation windows, 'all' = the target's training split (default 20,50,100,200,all)"
    )
    grid.add_argument(
        "--strategy", help="freeze, finetune, differential, head-only (default freeze,finetune,head-only)"
    )
    grid.add_argument("--seed", help="seeds, >= 3 for a spread (default 0,1,2)")
    training = parser.add_argument_group("training")
    training.add_argument("--epochs", type=int, help="adaptation epochs (default 15)")
    training.add_argument("--source-epochs", type=int, help="source training epochs (default 25)")
    training.add_argument("--source-trainer", choices=("single", "ray-train"), help="default single")
    training.add_argument("--train-workers", type=int, help="ray-train: data-parallel workers (default 2)")
    run = parser.add_argument_group("running")
    run.add_argument(
        "--engine",
        choices=("local", "ray", "serial"),
        default="local",
        help="local process pool (default), Ray tasks, or serially in this process",
    )
    run.add_argument("--address", help="ray: a cluster address (default: a local Ray started here)")
    run.add_argument("--workers", type=positive_int, help="parallel points (default: CPU count)")
    run.add_argument("--no-plots", action="store_true")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from har_edge.transfer.grid import Pair, with_flags
    from har_edge.transfer.outputs import write_outputs
    from har_edge.transfer.report import build_report, render_markdown
    from har_edge.transfer.run import run_study
    from har_edge.transfer.studyfile import load_mapping, load_study

    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers must be >= 1, got {args.workers}")
    if (args.source is None) != (args.target is None):
        raise InputError("--source and --target go together (one pair); without both, the default pairs")
    study = load_study(args.study) if args.study else None
    pairs = None
    if args.source:
        mapping = load_mapping(args.mapping) if args.mapping else None
        pair = Pair(
            domain(args.source, args.source_format, args.source_option, "--source-option"),
            domain(args.target, args.target_format, args.target_option, "--target-option"),
        )
        pairs = (pair if mapping is None else replace(pair, mapping=mapping),)
    elif args.mapping or args.source_option or args.target_option:
        raise InputError(
            "--mapping, --source-option and --target-option need --source and --target "
            "(a study file sets them per [[pair]])"
        )
    base = with_flags(study, pairs=pairs)
    adapt = replace(base.adapt, epochs=args.epochs) if args.epochs else base.adapt
    source = base.source
    for option, value in (
        ("epochs", args.source_epochs),
        ("trainer", args.source_trainer),
        ("train_workers", args.train_workers),
    ):
        if value is not None:
            source = replace(source, **{option: value})
    study = with_flags(
        base,
        model=args.model,
        k=args.k,
        size=args.size,
        strategy=args.strategy,
        seed=args.seed,
        adapt=adapt,
        source=source,
    )
    outcome = run_study(
        study,
        args.out,
        engine=args.engine,
        workers=args.workers,
        address=args.address,
        progress=not args.no_progress,
        on_note=lambda note: print(f"note: {note}", file=sys.stderr),
    )
    document = build_report(outcome)
    written = write_outputs(document, args.out / "report", plots=not args.no_plots)
    if getattr(args, "verbose", False):
        print(render_markdown(document, [p.name for p in written if p.suffix == ".png"]))
    print(
        f"{outcome.points} points ({outcome.cached} from the cache, {len(outcome.failures)} failed), "
        f"{outcome.sources_trained} source models trained, in {outcome.wall_seconds:.0f} s "
        f"with {args.engine}; "
        f"wrote {args.out / 'report'}/ (transfer.json, transfer.csv, transfer.md"
        f"{', heatmaps' if not args.no_plots else ''})"
    )
    if outcome.failures and not getattr(args, "verbose", False):
        print(f"{len(outcome.failures)} failed points: see transfer.md or -v")
    return EXIT_CHECK_FAILED if outcome.failures else EXIT_OK


def domain(spec: str, fmt: str | None, items: list[str], flag: str):
    """The ``Domain`` of ``spec`` with the ``KEY=VALUE`` settings of ``flag`` (see its help)."""
    from har_edge.transfer.grid import Domain

    options: dict[str, Any] = {}
    channels = None
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise InputError(f"{flag} {item!r}: expected KEY=VALUE, e.g. channels=acc or source_rate=10")
        if key == "format":
            if value not in FORMAT_CHOICES or fmt not in (None, value):
                raise InputError(
                    f"{flag} format={value}: expected one of {', '.join(FORMAT_CHOICES)}"
                    + (f", and the format given before ({fmt})" if fmt else "")
                )
            fmt = value
        elif key == "channels":
            channels = value
        elif key == "source_rate":
            rate = option_value(value)
            if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate < float("inf"):
                raise InputError(f"{flag} source_rate={value}: expected a positive number of Hz")
            options["rate_hz"] = float(rate)
        else:
            parsed = option_value(value)
            options[key.removeprefix("format.")] = tuple(parsed) if isinstance(parsed, list) else parsed
    return Domain(spec, fmt, tuple(sorted(options.items())), channels)


VERB = Verb(
    "transfer",
    "transfer study: k source blocks x adaptation size x strategy, vs a target-only baseline",
    EXAMPLE,
    add_arguments,
    run,
)
