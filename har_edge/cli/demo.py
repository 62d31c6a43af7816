"""``har-edge demo``: the quickstart, synthetic data to a trained model, a bundle and a benchmark report."""

from __future__ import annotations

import argparse
from pathlib import Path

from har_edge.cli.argtypes import positive_int
from har_edge.cli.common import (
    EXIT_OK,
    Verb,
    WindowRequest,
    add_training_arguments,
    refuse_existing,
    train_config,
)
from har_edge.cli.train import Run, print_summary, train_into

DEMO_EXAMPLE = """example:
  har-edge demo --out demo-out
"""


DEMO_TARGETS = "desktop,rpi4,cortex-m4f-80mhz"


def run_demo(args: argparse.Namespace) -> int:
    from har_edge.bench.report import write_report
    from har_edge.bench.run import report_for
    from har_edge.bench.summary import render_summary
    from har_edge.bench.variants import PRUNED_STRUCTURE, model_variants
    from har_edge.export import bundle_request, export_bundle
    from har_edge.fsutil import atomic_directory
    from har_edge.optimize.pipeline import OptimizeOptions, optimize_model
    from har_edge.targets import resolve_targets

    run = Run(
        data="synthetic",
        fmt=None,
        load_options={"subjects": args.subjects},
        test_data=None,
        architecture="dense",
        model_options={},
        progress=not args.no_progress,
    )
    refuse_existing(args.out, args.overwrite)
    targets = resolve_targets(DEMO_TARGETS)
    with atomic_directory(args.out, overwrite=args.overwrite) as staging:
        outcome = train_into(staging, run, WindowRequest(channels="acc"), train_config(args))
        print_summary(outcome.metrics, args.out, epochs=args.epochs)
        model, card, splits = outcome.trained.model, outcome.card, outcome.splits
        print("exporting the bundle: 4x4 blocks pruned to 50 % (fine-tuning), int8 base, trainable head...")
        options = OptimizeOptions(sparsity=0.5, structure=PRUNED_STRUCTURE, seed=args.seed)
        pruned = optimize_model(model, card, splits, options)
        bundle = export_bundle(bundle_request(pruned, card, splits, options), staging / "bundle")
        print(
            f"bundle: pruned-50 % int8 base ({bundle.manifest.files['base.tflite'].size_bytes:,} bytes) "
            f"+ trainable head split at {bundle.manifest.split_layer!r}"
        )
        built = model_variants(
            model,
            card,
            splits,
            workdir=staging,
            bundle=staging / "bundle",
            prepared={"pruned50+int8": pruned},
            seed=args.seed,
            on_step=lambda name: print(f"variant {name} ...", flush=True),
        )
        report = report_for(built, targets, source="har-edge demo", progress=not args.no_progress)
        write_report(report, staging / "report")
        print(render_summary(report, markdown=f"{args.out}/report/report.md"))
    print(f"wrote {args.out}/ (model/, metrics.json, confusion.png, bundle/, report/)")
    print(next_steps(args.out))
    return EXIT_OK


def next_steps(out: Path) -> str:
    """The commands to try next on what the demo wrote."""
    return "\n".join(
        [
            "next:",
            f"  har-edge firmware {out}/bundle --board host --out fw --build --verify 20   # C for an MCU",
            f"  har-edge predict {out}/bundle synthetic:wrist --stream   # activities and events, live",
            f"  har-edge optimize {out}/model --head-labels WALKING,SITTING,STANDING,LAYING --out personal",
            "  har-edge personalize personal synthetic:wrist --labels WALKING,SITTING,STANDING,LAYING "
            "--checkpoint me.ckpt",
            f"  har-edge gate {out}/report/report.json --budgets budgets.toml   # size/latency/fit budgets",
        ]
    )


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("demo-out"))
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--subjects", type=positive_int, default=30, help="synthetic subjects (default 30)")
    add_training_arguments(parser)


VERB = Verb(
    "demo",
    "the quickstart: synthetic data -> train dense -> evaluate -> write a run folder",
    DEMO_EXAMPLE,
    add_demo_arguments,
    run_demo,
)
