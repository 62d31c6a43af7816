"""``har-edge personalize``: train a bundle's head on a user's labelled data (TF-free), save a checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from har_edge.cli.common import (
    EXIT_OK,
    Verb,
    add_runtime_data_arguments,
    label_list,
    manifest_windows,
    runtime_dataset,
)
from har_edge.errors import InputError

PERSONALIZE_EXAMPLE = """examples:
  har-edge personalize personal-bundle synthetic:wrist --labels WALKING,SITTING,STANDING,LAYING \\
      --checkpoint me.ckpt --epochs 60
  har-edge personalize personal-bundle more.csv --format csv --column acc_x=ax --column acc_y=ay \\
      --column acc_z=az --label-column activity --rate 50 --labels walk,sit --checkpoint me.ckpt --resume
"""


def run_personalize(args: argparse.Namespace) -> int:
    from har_edge.runtime.classifier import Classifier
    from har_edge.runtime.personalize import Personalizer

    labels = label_list(args.labels, "--labels")
    if not 0 < args.evaluate_fraction < 1:
        raise InputError(f"--evaluate-fraction {args.evaluate_fraction}: expected a value in (0, 1)")
    classifier = Classifier(args.bundle)
    personalizer = Personalizer(classifier, labels=labels, seed=args.seed)
    if args.resume:
        personalizer.restore(args.checkpoint)
    dataset = runtime_dataset(args)
    windows = manifest_windows(dataset, classifier.manifest)
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


def add_personalize_arguments(parser: argparse.ArgumentParser) -> None:
    add_runtime_data_arguments(parser)
    parser.add_argument("--labels", required=True, metavar="A,B,C", help="the classes to learn")
    parser.add_argument("--checkpoint", required=True, type=Path, help="checkpoint file to write")
    parser.add_argument("--resume", action="store_true", help="start from the existing checkpoint")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--patience", type=int, help="stop after this many epochs without improvement")
    parser.add_argument("--learning-rate", type=float, help="default: scaled to the feature norm")
    parser.add_argument(
        "--evaluate-fraction",
        type=float,
        default=0.2,
        help="windows kept aside to report accuracy before and after (default 0.2)",
    )
    parser.add_argument("--seed", type=int, default=0)


VERB = Verb(
    "personalize",
    "train the bundle's head on a user's labelled data (TF-free) and save a checkpoint",
    PERSONALIZE_EXAMPLE,
    add_personalize_arguments,
    run_personalize,
)
