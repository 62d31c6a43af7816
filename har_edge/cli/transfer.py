"""``har-edge transfer``: the transfer-learning study (source -> target: k blocks x adaptation size x
strategy, the device's head-only path included)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from har_edge.cli.argtypes import positive_int
from har_edge.cli.common import EXIT_CHECK_FAILED, EXIT_OK, Verb
from har_edge.errors import InputError

EXAMPLE = """examples:
  har-edge transfer --out transfer-out
      the default study: synthetic waist phone -> wrist watch and -> waist budget phone; cnn; k = 0, 2, all;
      20/50/100/200/all adaptation windows; freeze, finetune, head-only; seeds 0,1,2
  har-edge transfer --source synthetic:waist --target synthetic:pocket:midrange-phone --k 0,1,2,3,all --out t
  har-edge transfer --source data/HAPT --source-format hapt --target data/wisdm.txt --target-format wisdm \\
      --mapping classes.toml --out t
      where classes.toml maps source to target labels: [mapping] WALKING = "Walking" ...
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
    group.add_argument("--source-format", choices=("hapt", "hhar", "wisdm", "pamap2", "uea", "csv"))
    group.add_argument("--target-format", choices=("hapt", "hhar", "wisdm", "pamap2", "uea", "csv"))
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
    from har_edge.transfer.grid import Domain, Pair, with_flags
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
        pair = Pair(Domain(args.source, args.source_format), Domain(args.target, args.target_format))
        pairs = (pair if mapping is None else replace(pair, mapping=mapping),)
    elif args.mapping:
        raise InputError("--mapping needs --source and --target (a study file maps per [[pair]])")
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


VERB = Verb(
    "transfer",
    "transfer study: k source blocks x adaptation size x strategy, vs a target-only baseline",
    EXAMPLE,
    add_arguments,
    run,
)
