"""``har-edge personalize``: train a bundle's head on a user's labelled data (TF-free), save a checkpoint."""

from __future__ import annotations

import argparse
import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from har_edge.cli.argtypes import non_negative_int, positive_int, positive_number, seed
from har_edge.cli.common import (
    EXIT_OK,
    Verb,
    add_runtime_data_arguments,
    bundle_folder,
    label_list,
    manifest_windows,
    runtime_dataset,
)
from har_edge.errors import InputError

PERSONALIZE_EXAMPLE = """examples, after
  har-edge optimize demo-out/model --head-labels WALKING,SITTING,STANDING,LAYING --out personal-bundle --zip
then:
  har-edge personalize personal-bundle synthetic:wrist --labels WALKING,SITTING,STANDING,LAYING \\
      --checkpoint me.ckpt --epochs 60
  har-edge personalize personal-bundle.zip synthetic:wrist --labels WALKING,SITTING,STANDING,LAYING \\
      --checkpoint me.ckpt --resume
  har-edge predict personal-bundle synthetic:wrist --checkpoint me.ckpt
  har-edge personalize personal-bundle synthetic:wrist --labels WALKING,SITTING,STANDING,LAYING \\
      --checkpoint me.ckpt --on mps2-an386
--on mps2-an386 runs the SGD inside the generated firmware on the emulated Cortex-M4F.
A checkpoint is replaced only by a head at least as accurate on the held-out windows, or with --overwrite.
"""


def run_personalize(args: argparse.Namespace) -> int:
    labels = label_list(args.labels, "--labels")
    if not 0 < args.evaluate_fraction < 1:
        raise InputError(f"--evaluate-fraction {args.evaluate_fraction}: expected a value in (0, 1)")
    if args.resume and not args.checkpoint.exists():
        raise InputError(f"--resume: {args.checkpoint} does not exist")
    with bundle_folder(args.bundle) as folder:
        return _personalize(args, folder, labels)


def _personalize(args: argparse.Namespace, folder: Path, labels: tuple[str, ...]) -> int:
    from har_edge.runtime.classifier import Classifier
    from har_edge.runtime.personalize import Personalizer

    classifier = Classifier(folder)
    personalizer = Personalizer(classifier, labels=labels, seed=args.seed)
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
    held_windows = (windows.x[held], names[held])
    if args.resume:
        personalizer.restore(args.checkpoint)
    if args.on is not None:
        start = personalizer.weights() if args.resume else None
        return _run_on_board(
            args, classifier, folder, labels, start, (windows.x[train], names[train]), held_windows
        )
    before = personalizer.evaluate(windows.x[held], names[held].tolist()).accuracy
    personalizer.add(windows.x[train], names[train].tolist())
    history = personalizer.fit(
        epochs=args.epochs,
        batch_size=args.head_batch,
        learning_rate=args.learning_rate,
        patience=args.patience,
        seed=args.seed,
    )
    after = personalizer.evaluate(windows.x[held], names[held].tolist()).accuracy
    print(
        f"trained on {len(train)} windows for {history.epochs_run} epochs; accuracy on {len(held)} "
        f"held-out windows: {before:.3f} -> {after:.3f}"
    )
    if _save_unless_worse(
        args, classifier, labels, held_windows, after, lambda: personalizer.save(args.checkpoint)
    ):
        print(f"wrote {args.checkpoint}")
    return EXIT_OK


def _save_unless_worse(args, classifier, labels, held, after: float, save) -> bool:
    """Call ``save`` unless the checkpoint already there scores better than ``after`` on the same
    held-out windows (``--overwrite`` saves anyway). Compare-and-swap: the comparison and the write run
    under an exclusive lock on ``CHECKPOINT.lock``, so of two concurrent runs the better head stays."""
    from har_edge.runtime.personalize import Personalizer

    with checkpoint_lock(args.checkpoint):
        if args.checkpoint.exists() and not args.overwrite:
            judge = Personalizer(classifier, labels=labels, seed=args.seed)
            judge.restore(args.checkpoint)
            existing = judge.evaluate(held[0], held[1].tolist()).accuracy
            if after < existing:
                print(
                    f"kept {args.checkpoint}: its head scores {existing:.3f} on the same held-out windows, "
                    f"better than the new {after:.3f} (--overwrite replaces it anyway)"
                )
                return False
        save()
    return True


@contextmanager
def checkpoint_lock(checkpoint: Path):
    """An exclusive advisory lock (``fcntl.flock``) on ``CHECKPOINT.lock`` for the block (none on Windows)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    lock = checkpoint.with_name(checkpoint.name + ".lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise InputError(f"{lock}: cannot create the checkpoint's lock file ({exc.strerror})") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _run_on_board(args: argparse.Namespace, classifier, folder: Path, labels, start, train, held) -> int:
    """The same split and schedule, trained by the generated firmware on board ``args.on``; writes the
    host checkpoint of the firmware's newest slot and, next to it, the raw two-slot image."""
    from har_edge.firmware.personalize import Schedule, personalize_on_board
    from har_edge.fsutil import atomic_write_bytes

    schedule = Schedule(
        epochs=args.epochs,
        batch_size=args.head_batch,
        learning_rate=args.learning_rate,
        patience=args.patience,
        seed=args.seed,
    )
    result = personalize_on_board(
        folder,
        train[0],
        train[1].tolist(),
        held[0],
        held[1].tolist(),
        board=args.on,
        schedule=schedule,
        head_labels=labels,
        start=start,
    )
    slots = args.checkpoint.with_name(args.checkpoint.name + ".slots")
    print(f"trained on {len(train[1])} windows; accuracy on {len(held[1])} held-out windows:")
    print("\n".join(result.summary()))

    def save() -> None:
        atomic_write_bytes(args.checkpoint, result.host_checkpoint().to_bytes())
        atomic_write_bytes(slots, result.storage)

    if _save_unless_worse(args, classifier, labels, held, result.accuracy_after, save):
        print(f"wrote {args.checkpoint} (host checkpoint) and {slots} (the firmware's two checkpoint slots)")
    return EXIT_OK


def add_personalize_arguments(parser: argparse.ArgumentParser) -> None:
    add_runtime_data_arguments(parser)
    parser.add_argument("--labels", required=True, metavar="A,B,C", help="the classes to learn")
    parser.add_argument("--checkpoint", required=True, type=Path, help="checkpoint file to write")
    parser.add_argument("--resume", action="store_true", help="start from the existing checkpoint")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the checkpoint even when its head scored better"
    )
    parser.add_argument("--epochs", type=positive_int, default=60, help="at most this many SGD epochs")
    parser.add_argument(
        "--head-batch",
        type=positive_int,
        default=32,
        metavar="N",
        help="windows per SGD step (default 32); with --on also the C head's batch capacity, so its RAM "
        "(features and labels of N windows + step scratch) shrinks with N",
    )
    parser.add_argument(
        "--patience", type=non_negative_int, help="stop after this many epochs without improvement"
    )
    parser.add_argument("--learning-rate", type=positive_number, help="default: scaled to the feature norm")
    parser.add_argument(
        "--evaluate-fraction",
        type=float,
        default=0.2,
        help="windows kept aside to report accuracy before and after, and to compare with the checkpoint",
    )
    parser.add_argument("--seed", type=seed, default=0, help="seed of the held-out choice and the shuffle")
    parser.add_argument(
        "--on",
        metavar="BOARD",
        help="train inside the generated firmware instead (int8 base and float head in C): host (gcc) or "
        "mps2-an386 (emulated Cortex-M4F, needs gcc-arm-none-eabi, libnewlib-arm-none-eabi, qemu-system-arm)",
    )


VERB = Verb(
    "personalize",
    "train the bundle's head on a user's labelled data (TF-free) and save a checkpoint",
    PERSONALIZE_EXAMPLE,
    add_personalize_arguments,
    run_personalize,
)
