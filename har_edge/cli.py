"""The ``har-edge`` command. ``main(argv) -> int``: 0 ok, 1 a check failed, 2 bad usage or input."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from har_edge.errors import HarEdgeError, InputError
from har_edge.gate import GATE_EXAMPLE, add_gate_arguments, run_gate
from har_edge.types import ACC_CHANNELS, GYRO_CHANNELS

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2
METRICS_SCHEMA_VERSION = 1

TRAIN_EXAMPLE = """examples:
  har-edge train --data synthetic --model dense --epochs 30 --out runs/dense
  har-edge train --data synthetic:waist --test-data synthetic:wrist --model cnn --out runs/cnn-wrist
  har-edge train --data ~/HAPT/RawData --format hapt --model dense --out runs/hapt
  har-edge train --data ~/PAMAP2/Protocol --format pamap2 --format-option imu=chest --rate 50 --out runs/p2
  har-edge train --data data.csv --format csv --column acc_x=ax --column acc_y=ay --column acc_z=az \\
      --label-column activity --subject-column user --rate 50 --out runs/csv
"""
OPTIMIZE_EXAMPLE = """examples:
  har-edge optimize runs/dense/model --prune 0.5 --quantize int8 --split-at headlayer --out runs/bundle
  har-edge optimize runs/dense/model --quantize int8 --head-labels walk,sit,stand,lie --out runs/personal
  har-edge optimize runs/cnn/model --qat --quantize int8 --split-at pool --out runs/cnn-bundle --zip
"""
INSPECT_EXAMPLE = """examples:
  har-edge inspect runs/bundle
  har-edge inspect runs/bundle/base.tflite
"""
PREDICT_EXAMPLE = """examples:
  har-edge predict demo-out/bundle synthetic:waist
  har-edge predict demo-out/bundle recording.csv --format csv --column acc_x=ax --column acc_y=ay \\
      --column acc_z=az --rate 50 --out predictions.csv
  har-edge predict demo-out/bundle synthetic --stream --ema 0.5 --event WALKING,0.8,0.6,3
"""
PERSONALIZE_EXAMPLE = """examples:
  har-edge personalize personal-bundle synthetic:wrist --labels WALKING,SITTING,STANDING,LAYING \\
      --checkpoint me.ckpt --epochs 60
  har-edge personalize personal-bundle more.csv --format csv --column acc_x=ax --column acc_y=ay \\
      --column acc_z=az --label-column activity --rate 50 --labels walk,sit --checkpoint me.ckpt --resume
"""
DEMO_EXAMPLE = """example:
  har-edge demo --out demo-out
"""
DEMO_TARGETS = "desktop,rpi4,cortex-m4f-80mhz"
BENCH_EXAMPLE = """examples:
  har-edge bench demo-out/bundle --targets desktop,rpi4,cortex-m4f-80mhz --out bench-out
  har-edge bench demo-out/model --variants float32,int8,pruned75+int8 --targets desktop,rpi5 --out bench-model
  har-edge bench demo-out/bundle --targets ssh://pi@raspberrypi.local --ssh-identity ~/.ssh/id_ed25519 \
      --out bench-pi
"""
SWEEP_EXAMPLE = """examples:
  har-edge sweep benchmarks/sweep_dense.toml --out sweep-out
  har-edge sweep benchmarks/sweep_dense.toml --engine ray --workers 2 --out sweep-out
  har-edge sweep benchmarks/sweep_dense.toml --engine ray --address ray://head:10001 --out sweep-out
"""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so ``main`` returns the code."""

    def error(self, message: str):
        raise _UsageError(f"{self.prog}: {message}")


class _UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="har-edge",
        description="Take human-activity-recognition models to the edge.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(
            (
                TRAIN_EXAMPLE,
                OPTIMIZE_EXAMPLE,
                INSPECT_EXAMPLE,
                PREDICT_EXAMPLE,
                PERSONALIZE_EXAMPLE,
                DEMO_EXAMPLE,
                BENCH_EXAMPLE,
                SWEEP_EXAMPLE,
                GATE_EXAMPLE,
            )
        ),
    )
    verbs = parser.add_subparsers(dest="verb", required=True, parser_class=_Parser)

    train = _add_verb(
        verbs, "train", TRAIN_EXAMPLE, "train a model and evaluate it on a subject-disjoint test split"
    )
    _add_data_arguments(train)
    train.add_argument("--test-data", help="evaluate on this data (same format) instead of the test split")
    train.add_argument("--model", default="dense", choices=("dense", "cnn", "lstm"))
    train.add_argument("--spectrogram", action="store_true", help="cnn: add the spectrogram branch")
    _add_training_arguments(train)
    train.add_argument("--out", required=True, type=Path, help="output folder")
    train.add_argument("--overwrite", action="store_true", help="replace an existing output folder")

    optimize = _add_verb(
        verbs,
        "optimize",
        OPTIMIZE_EXAMPLE,
        "prune, quantize and split a trained model into a deployable bundle",
    )
    optimize.add_argument("model", type=Path, help="a model folder written by 'har-edge train'")
    optimize.add_argument("--prune", type=float, default=0.0, metavar="SPARSITY", help="target in [0, 1)")
    optimize.add_argument("--schedule", choices=("constant", "polynomial"), default="polynomial")
    optimize.add_argument("--quantize", choices=("float32", "float16", "dynamic", "int8"), default="int8")
    optimize.add_argument("--qat", action="store_true", help="quantization-aware fine-tuning first")
    optimize.add_argument("--split-at", metavar="LAYER", help="default: the model's last split point")
    heads = optimize.add_mutually_exclusive_group()
    heads.add_argument("--head-classes", type=int, metavar="N", help="a new head with N classes")
    heads.add_argument("--head-labels", metavar="A,B,C", help="a new head with these class labels")
    optimize.add_argument("--head-hidden", type=int, metavar="H", help="new head: dense(H)-relu-dense")
    optimize.add_argument("--fine-tune-epochs", type=int, default=6)
    optimize.add_argument("--no-mcu", action="store_true", help="skip the batch-1 int8 base for MCUs")
    optimize.add_argument("--seed", type=int, default=0)
    optimize.add_argument("--out", required=True, type=Path, help="bundle folder")
    optimize.add_argument("--zip", action="store_true", help="also write BUNDLE.zip")
    optimize.add_argument("--overwrite", action="store_true")

    inspect = _add_verb(
        verbs,
        "inspect",
        INSPECT_EXAMPLE,
        "ops, shapes, signatures, sizes and op support of a .tflite file or a bundle",
    )
    inspect.add_argument("path", type=Path, help="a .tflite file or a bundle folder")

    predict = _add_verb(
        verbs,
        "predict",
        PREDICT_EXAMPLE,
        "classify recordings with a bundle (TF-free), offline or as a stream with events",
    )
    _add_runtime_data_arguments(predict)
    predict.add_argument("--stream", action="store_true", help="feed samples one second at a time")
    predict.add_argument("--ema", type=float, metavar="ALPHA", help="stream: EMA smoothing factor in (0, 1]")
    predict.add_argument(
        "--event",
        action="append",
        default=[],
        metavar="LABEL,ENTER,EXIT,K",
        help="stream: event when P(LABEL) > ENTER for K windows (ends below EXIT); repeat",
    )
    predict.add_argument("--out", type=Path, help="write one CSV row per window")
    predict.add_argument("--overwrite", action="store_true")

    personalize = _add_verb(
        verbs,
        "personalize",
        PERSONALIZE_EXAMPLE,
        "train the bundle's head on a user's labelled data (TF-free) and save a checkpoint",
    )
    _add_runtime_data_arguments(personalize)
    personalize.add_argument("--labels", required=True, metavar="A,B,C", help="the classes to learn")
    personalize.add_argument("--checkpoint", required=True, type=Path, help="checkpoint file to write")
    personalize.add_argument("--resume", action="store_true", help="start from the existing checkpoint")
    personalize.add_argument("--epochs", type=int, default=60)
    personalize.add_argument("--patience", type=int, help="stop after this many epochs without improvement")
    personalize.add_argument("--learning-rate", type=float, help="default: scaled to the feature norm")
    personalize.add_argument(
        "--evaluate-fraction",
        type=float,
        default=0.2,
        help="windows kept aside to report accuracy before and after (default 0.2)",
    )
    personalize.add_argument("--seed", type=int, default=0)

    demo = _add_verb(
        verbs,
        "demo",
        DEMO_EXAMPLE,
        "the quickstart: synthetic data -> train dense -> evaluate -> write a run folder",
    )
    demo.add_argument("--out", type=Path, default=Path("demo-out"))
    demo.add_argument("--overwrite", action="store_true")
    demo.add_argument("--subjects", type=int, default=30, help="synthetic subjects (default 30)")
    _add_training_arguments(demo)

    bench = _add_verb(
        verbs,
        "bench",
        BENCH_EXAMPLE,
        "size, latency, memory and accuracy loss of a bundle or a model's variants on targets",
    )
    bench.add_argument("path", type=Path, help="a bundle folder, or a model folder (all its variants)")
    bench.add_argument(
        "--targets",
        default="desktop",
        help="comma list: desktop, rpi4, rpi5, rpi-zero2, cortex-m4f-80mhz, cortex-m7-216mhz, "
        "cortex-m33-78mhz, ssh://user@host[:port] (default desktop)",
    )
    bench.add_argument("--variants", help="model folder: comma list (default: all)")
    bench.add_argument("--data", help="bundle: score it on the labelled windows of this data spec")
    bench.add_argument("--threads", type=int, default=1, help="interpreter threads (default 1)")
    bench.add_argument("--ssh-identity", help="ssh targets: private key file")
    bench.add_argument("--ssh-option", action="append", default=[], metavar="OPTION", help="ssh -o OPTION")
    bench.add_argument("--fine-tune-epochs", type=int, default=6)
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--out", required=True, type=Path, help="report folder")
    bench.add_argument("--overwrite", action="store_true")
    bench.add_argument("--no-plots", action="store_true")
    bench.add_argument("--no-progress", action="store_true")

    sweep = _add_verb(
        verbs,
        "sweep",
        SWEEP_EXAMPLE,
        "a grid of model x sparsity x precision x split point on targets, locally or on Ray",
    )
    sweep.add_argument("config", type=Path, help="a sweep TOML file")
    sweep.add_argument("--engine", choices=("local", "ray"), default="local")
    sweep.add_argument("--address", help="ray: a cluster address (default: a local Ray started here)")
    sweep.add_argument("--workers", type=int, help="parallel points (default: CPU count)")
    sweep.add_argument("--out", required=True, type=Path, help="sweep folder (cache/ and report/)")
    sweep.add_argument("--no-plots", action="store_true")
    sweep.add_argument("--no-progress", action="store_true")

    gate = _add_verb(
        verbs,
        "gate",
        GATE_EXAMPLE,
        "check a benchmark report against size/latency/accuracy budgets (exit 1 on a breach)",
    )
    add_gate_arguments(gate)
    return parser


def _add_verb(verbs, name: str, example: str, help_text: str) -> argparse.ArgumentParser:
    """A verb whose --help ends with its examples."""
    return verbs.add_parser(
        name, help=help_text, formatter_class=argparse.RawDescriptionHelpFormatter, epilog=example
    )


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--data", default="synthetic", help="synthetic[:position[:device]] or a path")
    group.add_argument("--format", choices=("hapt", "hhar", "wisdm", "pamap2", "uea", "csv"))
    group.add_argument("--subjects", type=int, help="synthetic: number of subjects")
    group.add_argument("--channels", default="acc", help="acc, acc+gyro, all, or a comma list (default acc)")
    group.add_argument("--rate", type=float, default=50.0, help="resample to this rate in Hz (default 50)")
    group.add_argument("--window", type=int, default=200, help="window length in samples (default 200)")
    group.add_argument("--hop", type=int, default=100, help="hop between windows in samples (default 100)")
    group.add_argument("--labeling", default="majority", choices=("majority", "strict"))
    group.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="CHANNEL=COLUMN",
        help="csv: map a channel to a file column (repeat)",
    )
    group.add_argument("--label-column", help="csv: the label column")
    group.add_argument("--subject-column", help="csv: the subject column")
    group.add_argument("--time-column", help="csv: the time column (seconds)")
    group.add_argument(
        "--format-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a loader option, e.g. imu=chest (pamap2) or sort_by_time=true (hhar); repeat",
    )


def _add_runtime_data_arguments(parser: argparse.ArgumentParser) -> None:
    """BUNDLE and DATA positionals plus the loader options; window geometry comes from the manifest."""
    parser.add_argument("bundle", type=Path, help="a bundle folder")
    parser.add_argument("data", help="synthetic[:position[:device]] or a path")
    parser.add_argument("--format", choices=("hapt", "hhar", "wisdm", "pamap2", "uea", "csv"))
    parser.add_argument("--subjects", type=int, help="synthetic: number of subjects")
    parser.add_argument("--rate", type=float, default=50.0, help="csv without a time column: the rate in Hz")
    parser.add_argument("--column", action="append", default=[], metavar="CHANNEL=COLUMN")
    parser.add_argument("--label-column")
    parser.add_argument("--subject-column")
    parser.add_argument("--time-column")
    parser.add_argument("--format-option", action="append", default=[], metavar="KEY=VALUE")


def _add_training_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("training")
    group.add_argument("--epochs", type=int, default=30)
    group.add_argument("--batch-size", type=int, default=64)
    group.add_argument("--learning-rate", type=float, default=1e-3)
    group.add_argument("--patience", type=int, default=5, help="early-stopping patience in epochs")
    group.add_argument("--seed", type=int, default=0)
    group.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    handlers = {
        "train": _cmd_train,
        "optimize": _cmd_optimize,
        "inspect": _cmd_inspect,
        "predict": _cmd_predict,
        "personalize": _cmd_personalize,
        "demo": _cmd_demo,
        "bench": _cmd_bench,
        "sweep": _cmd_sweep,
        "gate": run_gate,
    }
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


# --------------------------------------------------------------------------------------------- verbs


@dataclass(frozen=True)
class _Run:
    """Everything one training run needs, resolved from arguments."""

    data: str
    fmt: str | None
    load_options: dict[str, Any]
    test_data: str | None
    architecture: str
    model_options: dict[str, Any]
    progress: bool


def _cmd_train(args: argparse.Namespace) -> int:
    from har_edge.fsutil import atomic_directory

    run = _Run(
        data=args.data,
        fmt=args.format,
        load_options=_load_options(args),
        test_data=args.test_data,
        architecture=args.model,
        model_options={"spectrogram": True} if args.spectrogram else {},
        progress=not args.no_progress,
    )
    _refuse_existing(args.out, args.overwrite)
    with atomic_directory(args.out, overwrite=args.overwrite) as staging:
        outcome = _train_into(staging, run, _window_config(args), _train_config(args))
    _print_summary(outcome.metrics, args.out)
    return EXIT_OK


def _cmd_optimize(args: argparse.Namespace) -> int:
    from har_edge.export import export_bundle
    from har_edge.optimize.pipeline import OptimizeOptions, bundle_request, load_for_optimize, optimize_model
    from har_edge.optimize.quantize import Precision
    from har_edge.tflite_info import inspect_tflite, render

    _refuse_existing(args.out, args.overwrite)
    options = OptimizeOptions(
        sparsity=args.prune,
        schedule=args.schedule,
        precision=Precision(args.quantize),
        qat=args.qat,
        split_at=args.split_at,
        head_labels=_head_labels(args),
        head_hidden=args.head_hidden,
        fine_tune_epochs=args.fine_tune_epochs,
        mcu_variant=not args.no_mcu,
        seed=args.seed,
    )
    model, card, splits = load_for_optimize(args.model)
    optimized = optimize_model(model, card, splits, options, progress=True)
    bundle = export_bundle(
        bundle_request(optimized, card, splits, options), args.out, overwrite=args.overwrite, zip_too=args.zip
    )
    for name, data in bundle.files.items():
        print(render(inspect_tflite(data, name), name))
    print(f"wrote {args.out}/ ({', '.join(sorted(bundle.files))}, manifest.json)")
    return EXIT_OK


def _cmd_inspect(args: argparse.Namespace) -> int:
    from har_edge.runtime.bundle import open_bundle
    from har_edge.tflite_info import inspect_tflite, render

    if args.path.is_dir():
        bundle = open_bundle(args.path)
        manifest = bundle.manifest
        print(
            f"bundle {args.path}: {manifest.architecture} split at {manifest.split_layer!r}, "
            f"base {manifest.base_precision}, labels {', '.join(manifest.class_labels)}; hashes verified"
        )
        reports = [(name, data) for name, data in sorted(bundle.files.items())]
    elif args.path.is_file():
        reports = [(str(args.path), args.path.read_bytes())]
    else:
        raise InputError(f"{args.path}: no such file or bundle folder")
    for name, data in reports:
        print(render(inspect_tflite(data, name), name))
    return EXIT_OK


def _cmd_predict(args: argparse.Namespace) -> int:
    from har_edge.runtime.classifier import Classifier

    if args.out is not None:
        _refuse_existing(args.out, args.overwrite)
    classifier = Classifier(args.bundle)
    dataset = _runtime_dataset(args)
    if args.stream:
        return _predict_stream(args, classifier, dataset)
    windows = _manifest_windows(dataset, classifier.manifest, keep_unlabelled=True)
    probabilities = classifier.predict_proba(windows.x)
    predicted = np.asarray(classifier.labels)[probabilities.argmax(axis=1)]
    truth = np.array([windows.class_names[k] if k >= 0 else "" for k in windows.y])
    known = np.isin(truth, classifier.labels)
    counts = {label: int(np.sum(predicted == label)) for label in classifier.labels}
    print(
        f"{len(windows)} windows from {len(dataset.recordings)} recordings: "
        + ", ".join(f"{label} {n}" for label, n in counts.items() if n)
    )
    if known.any():
        accuracy = float(np.mean(predicted[known] == truth[known]))
        print(f"accuracy on {int(known.sum())} windows whose label the bundle knows: {accuracy:.3f}")
    if args.out is not None:
        _write_predictions(args.out, windows, predicted, probabilities.max(axis=1), truth)
        print(f"wrote {args.out}")
    return EXIT_OK


def _cmd_personalize(args: argparse.Namespace) -> int:
    from har_edge.runtime.classifier import Classifier
    from har_edge.runtime.personalize import Personalizer

    labels = _label_list(args.labels, "--labels")
    if not 0 < args.evaluate_fraction < 1:
        raise InputError(f"--evaluate-fraction {args.evaluate_fraction}: expected a value in (0, 1)")
    classifier = Classifier(args.bundle)
    personalizer = Personalizer(classifier, labels=labels, seed=args.seed)
    if args.resume:
        personalizer.restore(args.checkpoint)
    dataset = _runtime_dataset(args)
    windows = _manifest_windows(dataset, classifier.manifest)
    names = np.array([windows.class_names[k] for k in windows.y])
    missing = [label for label in labels if label not in names]
    if missing:
        raise InputError(
            f"no windows labelled {missing} in {args.data}; its classes: {list(windows.class_names)}"
        )
    chosen = np.flatnonzero(np.isin(names, labels))
    order = np.random.default_rng(args.seed).permutation(chosen)
    n_eval = max(1, round(len(order) * args.evaluate_fraction))
    held, train = order[:n_eval], order[n_eval:]
    before = personalizer.evaluate(windows.x[held], names[held].tolist()).accuracy
    personalizer.add(windows.x[train], names[train].tolist())
    history = personalizer.fit(
        epochs=args.epochs, learning_rate=args.learning_rate, patience=args.patience, seed=args.seed
    )
    after = personalizer.evaluate(windows.x[held], names[held].tolist()).accuracy
    personalizer.save(args.checkpoint)
    print(
        f"trained on {len(train)} windows for {history.epochs_run} epochs; accuracy on {len(held)} "
        f"held-out windows: {before:.3f} -> {after:.3f}"
    )
    print(f"wrote {args.checkpoint}")
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from har_edge.bench.report import render_markdown, write_report
    from har_edge.bench.run import report_for
    from har_edge.bench.variants import model_variants
    from har_edge.data.windows import WindowConfig
    from har_edge.export import export_bundle
    from har_edge.fsutil import atomic_directory
    from har_edge.optimize.pipeline import OptimizeOptions, bundle_request, optimize_model
    from har_edge.targets import resolve_targets

    run = _Run(
        data="synthetic",
        fmt=None,
        load_options={"subjects": args.subjects},
        test_data=None,
        architecture="dense",
        model_options={},
        progress=not args.no_progress,
    )
    _refuse_existing(args.out, args.overwrite)
    targets = resolve_targets(DEMO_TARGETS)
    with atomic_directory(args.out, overwrite=args.overwrite) as staging:
        outcome = _train_into(staging, run, WindowConfig(channels=ACC_CHANNELS), _train_config(args))
        _print_summary(outcome.metrics, args.out)
        model, card, splits = outcome.trained.model, outcome.card, outcome.splits
        print("exporting the bundle: pruned to 50 % sparsity (fine-tuning), int8 base, trainable head...")
        options = OptimizeOptions(sparsity=0.5, seed=args.seed)
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
        print(render_markdown(report))
    print(f"wrote {args.out}/ (model/, metrics.json, confusion.png, bundle/, report/)")
    return EXIT_OK


def _cmd_bench(args: argparse.Namespace) -> int:
    from har_edge.bench.report import render_markdown, write_report
    from har_edge.bench.run import bench_path
    from har_edge.bench.variants import ALL_VARIANTS, parse_variant_names
    from har_edge.targets import resolve_targets

    variants = parse_variant_names(args.variants) if args.variants else ALL_VARIANTS
    _refuse_existing(args.out, args.overwrite)
    targets = resolve_targets(
        args.targets, threads=args.threads, ssh_identity=args.ssh_identity, ssh_options=args.ssh_option
    )
    report = bench_path(
        args.path,
        targets,
        variants=variants,
        data=args.data,
        fine_tune_epochs=args.fine_tune_epochs,
        seed=args.seed,
        progress=not args.no_progress,
    )
    write_report(report, args.out, plots=not args.no_plots, overwrite=args.overwrite)
    print(render_markdown(report))
    _print_row_errors(report.results)
    print(f"wrote {args.out}/ (report.json, report.csv, report.md, plots)")
    return EXIT_OK


def _cmd_sweep(args: argparse.Namespace) -> int:
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


def _print_row_errors(rows) -> None:
    for row in rows:
        if row.error:
            print(f"note: {row.variant} on {row.target}: {row.error}")


# ------------------------------------------------------------------------------------------ helpers


def _runtime_dataset(args: argparse.Namespace):
    from har_edge.data import load_dataset

    return load_dataset(args.data, args.format, **_load_options(args))


def _manifest_windows(dataset, manifest, *, keep_unlabelled: bool = False):
    """Windows at the bundle's rate, length, hop and channels."""
    from har_edge.data.windows import WindowConfig, make_windows

    config = WindowConfig(
        rate_hz=manifest.rate_hz, window=manifest.window, hop=manifest.hop, channels=manifest.channels
    )
    return make_windows(dataset, config, keep_unlabelled=keep_unlabelled)[0]


def _predict_stream(args: argparse.Namespace, classifier, dataset) -> int:
    """Feed each recording one second at a time, as a device would, and print events."""
    from har_edge.runtime.stream import EventRule, ExponentialAverage, StreamingClassifier

    manifest = classifier.manifest
    rules = [_event_rule(text, EventRule) for text in args.event]
    smoothing = ExponentialAverage(args.ema) if args.ema is not None else None
    chunk = max(1, round(manifest.rate_hz))
    channels = [dataset.channels.index(c) for c in manifest.channels if c in dataset.channels]
    if len(channels) != len(manifest.channels):
        raise InputError(
            f"{args.data}: needs channels {list(manifest.channels)}, has {list(dataset.channels)}"
        )
    windows = 0
    for recording in dataset.recordings:
        if abs(recording.nominal_rate_hz - manifest.rate_hz) > 1e-6:
            raise InputError(
                f"{recording.source}: recorded at {recording.nominal_rate_hz} Hz; streaming needs the "
                f"bundle's {manifest.rate_hz} Hz (predict without --stream resamples)"
            )
        stream = StreamingClassifier(classifier, smoothing=smoothing, events=rules)
        samples = recording.samples[:, channels]
        for start in range(0, len(samples), chunk):
            update = stream.feed(samples[start : start + chunk])
            windows += len(update.predictions)
            for event in update.events:
                seconds = event.end_sample / manifest.rate_hz
                print(
                    f"subject {recording.subject} t={seconds:8.1f}s {event.kind:>5} {event.label} "
                    f"(p={event.probability:.2f})"
                )
    print(f"streamed {windows} windows from {len(dataset.recordings)} recordings")
    return EXIT_OK


def _event_rule(text: str, rule_type):
    parts = text.split(",")
    try:
        label, enter, exit_, k = parts
        return rule_type(
            label=label, enter_probability=float(enter), exit_probability=float(exit_), windows=int(k)
        )
    except ValueError as exc:
        raise InputError(f"--event {text!r}: expected LABEL,ENTER,EXIT,K e.g. WALKING,0.8,0.6,3") from exc


def _label_list(text: str, option: str) -> tuple[str, ...]:
    labels = tuple(label.strip() for label in text.split(",") if label.strip())
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise InputError(f"{option} {text!r}: need at least 2 distinct labels")
    return labels


def _write_predictions(path: Path, windows, predicted, confidence, truth) -> None:
    import csv
    import io

    from har_edge.fsutil import atomic_write_text

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["subject", "recording", "start_s", "predicted", "probability", "true_label"])
    for i in range(len(windows)):
        start_s = windows.start[i] / windows.rate_hz
        writer.writerow(
            [
                windows.subject[i],
                windows.recording[i],
                f"{start_s:.2f}",
                predicted[i],
                f"{confidence[i]:.4f}",
                truth[i],
            ]
        )
    atomic_write_text(path, buffer.getvalue())


def _load_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if args.subjects is not None:
        if not args.data.startswith("synthetic"):
            raise InputError("--subjects applies only to synthetic data")
        options["subjects"] = args.subjects
    if args.format == "csv":
        columns = {}
        for item in args.column:
            channel, sep, column = item.partition("=")
            if not sep or not channel or not column:
                raise InputError(f"--column {item!r}: expected CHANNEL=COLUMN, e.g. acc_x=ax")
            columns[channel] = column
        if not columns:
            raise InputError("--format csv needs at least one --column CHANNEL=COLUMN")
        options.update(columns=columns, label_column=args.label_column, subject_column=args.subject_column)
        if args.time_column:
            options["time_column"] = args.time_column
        else:
            options["rate_hz"] = args.rate
    elif args.column or args.label_column or args.subject_column or args.time_column:
        raise InputError("--column, --label-column, --subject-column and --time-column apply to --format csv")
    for item in args.format_option:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--format-option {item!r}: expected KEY=VALUE, e.g. imu=chest")
        options[key] = _option_value(value)
    return options


def _option_value(text: str) -> Any:
    """'true'/'false' -> bool, numbers -> int/float, anything else stays a string."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def _channels(spec: str) -> tuple[str, ...] | None:
    named = {"acc": ACC_CHANNELS, "acc+gyro": ACC_CHANNELS + GYRO_CHANNELS, "all": None}
    if spec in named:
        return named[spec]
    return tuple(c.strip() for c in spec.split(",") if c.strip())


def _window_config(args: argparse.Namespace):
    from har_edge.data.windows import WindowConfig

    return WindowConfig(
        rate_hz=args.rate,
        window=args.window,
        hop=args.hop,
        labeling=args.labeling,
        channels=_channels(args.channels),
    )


def _train_config(args: argparse.Namespace):
    from har_edge.train import TrainConfig

    return TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        patience=args.patience,
        seed=args.seed,
    )


@dataclass(frozen=True)
class _TrainOutcome:
    metrics: dict[str, Any]
    trained: Any
    card: Any
    splits: Any  # normalized with the training statistics


def _train_into(folder: Path, run: _Run, window_config, train_config) -> _TrainOutcome:
    """Load, window, split, train, evaluate (test split or --test-data) and write into ``folder``:
    ``model/`` (model.keras + card.json, which records the data so later stages can rebuild the
    splits), ``metrics.json`` and ``confusion.png``."""
    from dataclasses import replace

    from har_edge import models
    from har_edge.baseline import KnnClassifier
    from har_edge.data import load_dataset
    from har_edge.data.windows import apply_normalizer, make_windows, split_by_subject
    from har_edge.metrics import plot_confusion
    from har_edge.train import data_note, evaluate, train_model

    dataset = load_dataset(run.data, run.fmt, **run.load_options)
    windows, report = make_windows(dataset, window_config)
    print(f"data: {dataset.name}: {len(dataset.subjects)} subjects; {report.summary()}")
    splits = split_by_subject(windows, seed=train_config.seed)
    trained = train_model(
        splits, run.architecture, train_config, model_options=run.model_options, progress=run.progress
    )
    note = data_note(run.data, run.fmt, run.load_options, window_config, train_config.seed)
    card = replace(trained.card, notes={**trained.card.notes, "data": note})
    if run.test_data is not None:
        test_windows = _external_test_windows(run, window_config, windows)
        evaluated_on = run.test_data
    else:
        test_windows, evaluated_on = splits.test, "test split (subject-disjoint)"
    if len(test_windows) == 0:
        raise InputError(f"no test windows to evaluate on ({evaluated_on})")
    metrics = evaluate(trained.model, test_windows.with_x(trained.normalizer.apply(test_windows.x)))
    knn = KnnClassifier.fit(splits.train).evaluate(test_windows)
    document = {
        "schema_version": METRICS_SCHEMA_VERSION,
        "model": run.architecture,
        "evaluated_on": evaluated_on,
        **metrics.to_dict(),
        "knn_baseline": {"accuracy": knn.accuracy, "macro_f1": knn.macro_f1},
        "best_epoch": trained.best_epoch,
        "epochs_run": len(trained.history["loss"]),
        "split_sizes": splits.sizes(),
        "split_grouping": splits.grouping,
        "model_summary": trained.card.summary,
        "windowing": report.summary(),
        "dataset_notes": list(dataset.notes),
    }
    models.save(trained.model, card, folder / "model")
    (folder / "metrics.json").write_text(json.dumps(document, indent=2))
    plot_confusion(metrics, folder / "confusion.png", title=f"{run.architecture} on {evaluated_on}")
    return _TrainOutcome(document, trained, card, apply_normalizer(splits, trained.normalizer))


def _refuse_existing(path: Path, overwrite: bool) -> None:
    """Fail before any work is done when the output exists and --overwrite is not given."""
    if path.exists() and not overwrite:
        from har_edge.errors import OutputExistsError

        raise OutputExistsError(path)


def _head_labels(args: argparse.Namespace) -> tuple[str, ...] | None:
    if args.head_labels:
        return _label_list(args.head_labels, "--head-labels")
    if args.head_classes is not None:
        if args.head_classes < 2:
            raise InputError(f"--head-classes {args.head_classes}: need at least 2")
        return tuple(f"class{i}" for i in range(args.head_classes))
    return None


def _external_test_windows(run: _Run, window_config, train_windows):
    from har_edge.data import load_dataset
    from har_edge.data.windows import make_windows

    test_dataset = load_dataset(run.test_data, run.fmt, **run.load_options)
    if test_dataset.class_names != train_windows.class_names:
        raise InputError(
            f"--test-data {run.test_data}: classes {list(test_dataset.class_names)} differ from the training "
            f"classes {list(train_windows.class_names)}"
        )
    test_windows, report = make_windows(test_dataset, window_config)
    print(f"test data: {test_dataset.name}: {report.summary()}")
    return test_windows


def _print_summary(metrics: dict[str, Any], out: Path) -> None:
    knn = metrics["knn_baseline"]
    print(f"{metrics['model']} on {metrics['evaluated_on']} ({metrics['n_windows']} windows):")
    print(f"  accuracy {metrics['accuracy']:.3f}   macro-F1 {metrics['macro_f1']:.3f}")
    print(f"  kNN baseline: accuracy {knn['accuracy']:.3f}   macro-F1 {knn['macro_f1']:.3f}")
    print(f"  parameters {metrics['model_summary']['params']:,}   MACs {metrics['model_summary']['macs']:,}")
    print(f"wrote {out}/ (model/, metrics.json, confusion.png)")
