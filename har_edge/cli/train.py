"""``har-edge train``: load, window, split, train, evaluate and write a run folder (also the first half of
``demo``)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from har_edge.cli.common import (
    EXIT_OK,
    Verb,
    add_data_arguments,
    add_training_arguments,
    load_options,
    refuse_existing,
    train_config,
    window_config,
)
from har_edge.errors import InputError

METRICS_SCHEMA_VERSION = 1

TRAIN_EXAMPLE = """examples:
  har-edge train --data synthetic --model dense --epochs 30 --out runs/dense
  har-edge train --data synthetic:waist --test-data synthetic:wrist --model cnn --out runs/cnn-wrist
  har-edge train --data ~/HAPT/RawData --format hapt --model dense --out runs/hapt
  har-edge train --format uea --data BasicMotions_TRAIN.ts --test-data BasicMotions_TEST.ts --out runs/uea
  har-edge train --data ~/PAMAP2/Protocol --format pamap2 --format-option imu=chest --rate 50 --out runs/p2
  har-edge train --data data.csv --format csv --column acc_x=ax --column acc_y=ay --column acc_z=az \\
      --label-column activity --subject-column user --source-rate 50 --out runs/csv
"""


@dataclass(frozen=True)
class Run:
    """Everything one training run needs, resolved from arguments."""

    data: str
    fmt: str | None
    load_options: dict[str, Any]
    test_data: str | None
    architecture: str
    model_options: dict[str, Any]
    progress: bool


def run_train(args: argparse.Namespace) -> int:
    from har_edge.fsutil import atomic_directory

    run = Run(
        data=args.data,
        fmt=args.format,
        load_options=load_options(args),
        test_data=args.test_data,
        architecture=args.model,
        model_options={"spectrogram": True} if args.spectrogram else {},
        progress=not args.no_progress,
    )
    inputs = tuple(Path(p) for p in (args.data, args.test_data) if p and not p.startswith("synthetic"))
    refuse_existing(args.out, args.overwrite, inputs)
    with atomic_directory(args.out, overwrite=args.overwrite) as staging:
        outcome = train_into(staging, run, window_config(args), train_config(args))
    print_summary(outcome.metrics, args.out, epochs=args.epochs)
    return EXIT_OK


@dataclass(frozen=True)
class TrainOutcome:
    metrics: dict[str, Any]
    trained: Any
    card: Any
    splits: Any  # normalized with the training statistics


def train_into(folder: Path, run: Run, window_request, train_config) -> TrainOutcome:
    """Load, window, split, train, evaluate (test split or --test-data) and write into ``folder``:
    ``model/`` (model.keras + card.json, which records the data so later stages can rebuild the
    splits), ``metrics.json`` and ``confusion.png``. ``window_request.for_dataset`` gives the window
    geometry once the data is loaded. With ``run.test_data`` no test split is held out of the data."""
    from dataclasses import replace

    from har_edge import models
    from har_edge.baseline import KnnClassifier
    from har_edge.cli.common import load_noted
    from har_edge.data.plan import describe_split, split_for_training
    from har_edge.data.splits import apply_normalizer
    from har_edge.data.windows import make_windows
    from har_edge.metrics import plot_confusion
    from har_edge.train import data_note, evaluate, train_model

    dataset = load_noted(run.data, run.fmt, run.load_options)
    window_config = window_request.for_dataset(dataset)
    windows, report = make_windows(dataset, window_config)
    units = f"{len(dataset.recordings)} cases" if dataset.cases else f"{len(dataset.subjects)} subjects"
    print(
        f"data: {dataset.name}: {units}; {window_config.window}-sample windows "
        f"at {window_config.rate_hz:g} Hz"
    )
    print(f"  {report.summary()}")
    test_fraction = 0.0 if run.test_data is not None else 0.2
    splits = split_for_training(
        dataset,
        windows,
        window_config,
        cases=dataset.cases,
        test_fraction=test_fraction,
        seed=train_config.seed,
    )
    print(f"  {describe_split(splits)}" + (f"; testing on {run.test_data}" if run.test_data else ""))
    trained = train_model(
        splits, run.architecture, train_config, model_options=run.model_options, progress=run.progress
    )
    note = data_note(run.data, run.fmt, run.load_options, window_config, train_config.seed, run.test_data)
    card = replace(trained.card, notes={**trained.card.notes, "data": note})
    if run.test_data is not None:
        test_windows = _external_test_windows(run, window_config, windows)
        evaluated_on = run.test_data
    else:
        test_windows, evaluated_on = splits.test, f"test split ({splits.grouping}-disjoint)"
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
        "monitor": train_config.monitor,
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
    try:  # a figure is not worth the trained model: a plotting failure is reported, the run kept
        plot_confusion(metrics, folder / "confusion.png", title=f"{run.architecture} on {evaluated_on}")
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"note: confusion.png not drawn ({type(exc).__name__}: {exc})", file=sys.stderr)
    return TrainOutcome(document, trained, card, apply_normalizer(splits, trained.normalizer))


def _external_test_windows(run: Run, window_config, train_windows):
    from har_edge.cli.common import load_noted
    from har_edge.data.windows import make_windows

    test_dataset = load_noted(run.test_data, run.fmt, run.load_options)
    if test_dataset.class_names != train_windows.class_names:
        raise InputError(
            f"--test-data {run.test_data}: classes {list(test_dataset.class_names)} differ from the training "
            f"classes {list(train_windows.class_names)}"
        )
    test_windows, report = make_windows(test_dataset, window_config)
    print(f"test data: {test_dataset.name}: {report.summary()}")
    if len(test_windows) and len(np.unique(test_windows.y)) < len(train_windows.class_names):
        missing = sorted(
            set(train_windows.class_names) - {train_windows.class_names[k] for k in test_windows.y}
        )
        print(f"note: --test-data has no windows of {', '.join(missing)}")
    return test_windows


def print_summary(metrics: dict[str, Any], out: Path, epochs: int | None = None) -> None:
    """The run in words: early stopping, test scores next to the kNN baseline (and plainly when the
    model does not beat it), size."""
    knn = metrics["knn_baseline"]
    best, run = metrics["best_epoch"] + 1, metrics["epochs_run"]
    watched = metrics["monitor"].replace("val_", "validation ")
    if epochs is not None and run < epochs:
        print(
            f"early stopping: {watched} stopped improving after epoch {best}; stopped at epoch "
            f"{run} of {epochs} and kept the weights of epoch {best}"
        )
    print(f"{metrics['model']} on {metrics['evaluated_on']} ({metrics['n_windows']} windows):")
    print(f"  accuracy {metrics['accuracy']:.3f}   macro-F1 {metrics['macro_f1']:.3f}")
    print(f"  kNN baseline: accuracy {knn['accuracy']:.3f}   macro-F1 {knn['macro_f1']:.3f}")
    if metrics["accuracy"] < knn["accuracy"]:
        print(
            f"  note: {metrics['model']} does not beat the kNN baseline here. The baseline compares per-axis "
            "summary statistics of whole windows; "
            + (
                "dense classifies from per-time-step features and is the smallest, fastest model (chosen for "
                "the embedded demo, not for accuracy); --model cnn learns temporal patterns"
                if metrics["model"] == "dense"
                else "more epochs (--epochs, --patience) or more training data may help"
            )
        )
    print(f"  parameters {metrics['model_summary']['params']:,}   MACs {metrics['model_summary']['macs']:,}")
    print(f"wrote {out}/ (model/, metrics.json, confusion.png)")


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_arguments(parser)
    parser.add_argument("--test-data", help="evaluate on this data (same format) instead of the test split")
    parser.add_argument("--model", default="dense", choices=("dense", "cnn", "lstm"), help="architecture")
    parser.add_argument("--spectrogram", action="store_true", help="cnn: add the spectrogram branch")
    add_training_arguments(parser)
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output folder")


VERB = Verb(
    "train",
    "train a model and evaluate it on a subject-disjoint test split",
    TRAIN_EXAMPLE,
    add_train_arguments,
    run_train,
)
