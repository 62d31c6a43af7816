"""``har-edge bench`` (a bundle or a model's variants on targets) and ``har-edge sweep`` (a grid of them)."""

from __future__ import annotations

import argparse
from pathlib import Path

from har_edge.cli.argtypes import non_negative_int, positive_int, seed
from har_edge.cli.common import (
    EXIT_CHECK_FAILED,
    EXIT_OK,
    FORMAT_CHOICES,
    Verb,
    add_loader_arguments,
    bundle_folder,
    load_options,
    refuse_existing,
)
from har_edge.errors import InputError

BENCH_EXAMPLE = """examples:
  har-edge bench demo-out/bundle --targets desktop,rpi4,cortex-m4f-80mhz --out bench-out
  har-edge bench demo-out/bundle --data synthetic --out bench-acc
  har-edge bench demo-out/model --variants float32,int8,pruned75+int8 --targets desktop,rpi5 --out bench-model
  har-edge bench runs/uea-bundle.zip --data X_TEST.ts --format uea --out bench-uea
  har-edge bench demo-out/bundle --targets ssh://pi@raspberrypi.local --ssh-identity ~/.ssh/id_ed25519 \
      --out bench-pi
A bundle is scored on --data (on its held-out test subjects when that is the data it was trained on);
a model folder's variants on the test split its card records.
"""


SWEEP_EXAMPLE = """examples:
  har-edge sweep benchmarks/sweep_dense.toml --out sweep-out
  har-edge sweep benchmarks/sweep_dense.toml --engine ray --workers 2 --out sweep-out
  har-edge sweep benchmarks/sweep_dense.toml --engine ray --address ray://head:10001 --out sweep-out
"""


def run_bench(args: argparse.Namespace) -> int:
    with bundle_folder(args.path) as path:
        return _bench(args, path)


def _bench(args: argparse.Namespace, path: Path) -> int:
    from har_edge.bench.report import render_markdown, write_report
    from har_edge.bench.run import bench_path
    from har_edge.bench.variants import ALL_VARIANTS, parse_variant_names
    from har_edge.targets import resolve_targets

    variants = parse_variant_names(args.variants) if args.variants else ALL_VARIANTS
    refuse_existing(args.out, args.overwrite, (args.path, path))
    targets = resolve_targets(
        args.targets, threads=args.threads, ssh_identity=args.ssh_identity, ssh_options=args.ssh_option
    )
    report = bench_path(
        path,
        targets,
        variants=variants,
        data=args.data,
        data_format=args.format,
        data_options=load_options(args) if args.data else None,
        checkpoint=args.checkpoint,
        fine_tune_epochs=args.fine_tune_epochs,
        seed=args.seed,
        progress=not args.no_progress,
    )
    write_report(report, args.out, plots=not args.no_plots, overwrite=args.overwrite)
    print(render_markdown(report))
    print_row_errors(report.results)
    print(f"wrote {args.out}/ (report.json, report.csv, report.md, plots)")
    return EXIT_OK


def run_sweep(args: argparse.Namespace) -> int:
    from har_edge.bench.report import build_report, render_markdown, write_report
    from har_edge.bench.sweep import load_sweep, run_sweep
    from har_edge.runtime.benchmark import calibrate

    config = load_sweep(args.config)
    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers must be >= 1, got {args.workers}")
    outcome = run_sweep(
        config,
        args.out,
        engine=args.engine,
        workers=args.workers,
        address=args.address,
        progress=not args.no_progress,
    )
    settings = {**outcome.settings, "wall_seconds": round(outcome.wall_seconds, 1), "cached": outcome.cached}
    report = build_report(
        outcome.rows,
        source=str(args.config),
        calibration=calibrate(),
        failures=outcome.failures,
        settings=settings,
    )
    write_report(report, args.out / "report", plots=not args.no_plots, overwrite=True)
    print(render_markdown(report))
    print(
        f"{outcome.points} points ({outcome.cached} from the cache, {len(outcome.failures)} failed) in "
        f"{outcome.wall_seconds:.1f} s with {args.engine} x{settings['workers']}; wrote {args.out}/report/"
    )
    return EXIT_CHECK_FAILED if outcome.failures else EXIT_OK


def print_row_errors(rows) -> None:
    for row in rows:
        if row.error:
            print(f"note: {row.variant} on {row.target}: {row.error}")


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path", type=Path, help="a bundle folder or .zip, or a model folder (all its variants)"
    )
    parser.add_argument(
        "--targets",
        default="desktop",
        help="comma list: desktop, rpi4, rpi5, rpi-zero2, cortex-m4f-80mhz, cortex-m7-216mhz, "
        "cortex-m33-78mhz, ssh://user@host[:port] (default desktop)",
    )
    parser.add_argument("--variants", help="model folder: comma list (default: all)")
    parser.add_argument(
        "--data", help="bundle: score it on this data (synthetic[:position[:device]] or a path)"
    )
    parser.add_argument("--format", choices=FORMAT_CHOICES, help="the format of a --data path")
    parser.add_argument(
        "--subjects", type=positive_int, help="synthetic --data: number of subjects (default 30)"
    )
    parser.add_argument("--checkpoint", type=Path, help="bundle: score it with this personalized head")
    parser.add_argument("--threads", type=positive_int, default=1, help="interpreter threads (default 1)")
    parser.add_argument("--ssh-identity", help="ssh targets: private key file")
    parser.add_argument("--ssh-option", action="append", default=[], metavar="OPTION", help="ssh -o OPTION")
    add_loader_arguments(parser)
    parser.add_argument(
        "--fine-tune-epochs", type=non_negative_int, default=6, help="model folder: pruning fine-tune epochs"
    )
    parser.add_argument("--seed", type=seed, default=0, help="seed of calibration and fine-tuning")
    parser.add_argument("--out", required=True, type=Path, help="report folder")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing report folder")
    parser.add_argument("--no-plots", action="store_true", help="no PNG plots")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="a sweep TOML file")
    parser.add_argument("--engine", choices=("local", "ray"), default="local")
    parser.add_argument("--address", help="ray: a cluster address (default: a local Ray started here)")
    parser.add_argument("--workers", type=positive_int, help="parallel points (default: CPU count)")
    parser.add_argument("--out", required=True, type=Path, help="sweep folder (cache/ and report/)")
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument("--no-progress", action="store_true")


BENCH = Verb(
    "bench",
    "size, latency, memory and accuracy loss of a bundle or a model's variants on targets",
    BENCH_EXAMPLE,
    add_bench_arguments,
    run_bench,
)
SWEEP = Verb(
    "sweep",
    "a grid of model x sparsity x precision x split point on targets, locally or on Ray",
    SWEEP_EXAMPLE,
    add_sweep_arguments,
    run_sweep,
)
