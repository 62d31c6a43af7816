"""Personalize a bundle's head on the device: SGD through the head's ``train`` signature (no TensorFlow).

The frozen base turns the wearer's labelled windows into features once (cached); ``fit`` then runs
shuffled mini-batch SGD epochs on the head with a learning-rate schedule, early stopping on a
held-out slice, and a divergence guard, and installs the result in the ``Classifier``.

The SGD machinery is in ``training.py``. The checkpoint (``save``/``restore``, format in ``checkpoint.py``)
is written with ``atomic_write_bytes`` (temp file, fsync, rename), so a crash leaves the old or the new
checkpoint, never a mix.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from har_edge.errors import InputError
from har_edge.fsutil import atomic_write_bytes, read_bounded
from har_edge.metrics import Metrics, classification_metrics
from har_edge.runtime.checkpoint import MAX_CHECKPOINT_BYTES, Checkpoint, bundle_identity
from har_edge.runtime.classifier import Classifier, HeadSession, check_head_shapes, checked_labels
from har_edge.runtime.head import HeadWeights
from har_edge.runtime.training import (
    SCHEDULES,
    FitHistory,
    TrainingRun,
    auto_learning_rate,
    batch_slices,
    scheduled_rate,
    split_holdout,
)


class Personalizer:
    """Train the head of ``classifier``'s bundle on the wearer's labelled windows.

    ``labels``: the classes to learn. ``None`` or the classifier's labels continue from the
    classifier's head; other names (as many as the exported head has outputs) start a new head,
    Glorot-initialized from ``seed``. A head's shapes are fixed at export, so another class count (or
    a ``hidden`` size other than the exported one) is an ``InputError``: export a bundle with
    ``--head-labels`` (and ``--head-hidden``). Training runs on the Personalizer's own head
    interpreter; ``fit`` and ``restore`` install the result in ``classifier`` (with these labels).
    """

    def __init__(
        self,
        classifier: Classifier,
        *,
        labels: Sequence[str] | None = None,
        hidden: int | None = None,
        seed: int = 0,
    ) -> None:
        self.classifier = classifier
        self.seed = seed
        self._head = HeadSession(classifier.bundle.head, num_threads=None)
        _check_head_fits(self._head, labels, hidden)
        self.labels = checked_labels(classifier.labels if labels is None else labels, self._head.n_classes)
        if self.labels == classifier.labels:
            start = classifier.head_weights()
        else:
            start = HeadWeights.random(self._head.n_features, self._head.n_classes, self._head.hidden, seed)
        self._head.set_weights(start)
        self._features: list[np.ndarray] = []
        self._targets: list[np.ndarray] = []

    @property
    def n_windows(self) -> int:
        return sum(len(targets) for targets in self._targets)

    def weights(self) -> HeadWeights:
        """The Personalizer's current head weights."""
        return self._head.weights()

    def add(self, windows: np.ndarray, labels: Sequence[str] | str) -> int:
        """Collect labelled windows (their base features are computed now, once); returns the total."""
        features = self.classifier.features(windows)
        self._features.append(features)
        self._targets.append(self._label_indices(labels, len(features)))
        return self.n_windows

    def fit(
        self,
        *,
        epochs: int = 60,
        batch_size: int = 32,
        learning_rate: float | None = None,
        schedule: str = "constant",
        holdout: float = 0.2,
        patience: int | None = None,
        seed: int | None = None,
    ) -> FitHistory:
        """SGD epochs over the collected windows; installs the kept weights in the classifier.

        A seeded random ``holdout`` fraction (at least one window when > 0) is kept out of training;
        after every epoch its loss decides the best weights, which are restored at the end, and
        ``patience`` epochs without improvement stop training (``None``: never stop early). Without a
        holdout the last weights are kept. ``seed`` (default: the Personalizer's) fixes the holdout
        and the shuffling. Steps that diverge (NaN/Inf weights, or a loss that is NaN/Inf or above
        ``training.DIVERGED_LOSS``) are rolled back, counted in the history and warned about.
        """
        x, y = self._collected()
        if learning_rate is None:
            learning_rate = auto_learning_rate(x)
        _check_fit_arguments(epochs, batch_size, learning_rate, schedule, holdout, patience)
        rng = np.random.default_rng(self.seed if seed is None else seed)
        train, held = split_holdout(len(y), holdout, rng)
        run = TrainingRun(self._head, x, y, held)
        limit = math.inf if patience is None else patience
        for epoch in range(epochs):
            rate = scheduled_rate(schedule, learning_rate, epoch, epochs)
            if run.epoch(rate, batch_slices(rng.permutation(train), batch_size)) >= limit:
                break
        if run.sgd.rolled_back:
            warnings.warn(
                f"{run.sgd.rolled_back} SGD step(s) diverged (NaN/Inf weights, or a NaN/Inf/huge loss) "
                "and were rolled back; lower the learning rate",
                RuntimeWarning,
                stacklevel=2,
            )
        self._install(run.best_weights)
        return run.history(stopped_early=run.epochs_run < epochs)

    def evaluate(self, windows: np.ndarray, labels: Sequence[str] | str) -> Metrics:
        """Accuracy, macro-F1 and confusion matrix of the current head on labelled windows."""
        features = self.classifier.features(windows)
        truth = self._label_indices(labels, len(features))
        predicted = self._head.probabilities(features).argmax(axis=1)
        return classification_metrics(truth, predicted, self.labels)

    def save(self, path: str | Path) -> None:
        """Write a checkpoint (format: ``har_edge.runtime.checkpoint``) atomically."""
        checkpoint = Checkpoint(self.labels, self._head.weights(), bundle_identity(self.classifier))
        atomic_write_bytes(path, checkpoint.to_bytes())

    def restore(self, path: str | Path) -> None:
        """Load a checkpoint of this bundle with these labels and shapes, and install it in the classifier."""
        path = Path(path)
        checkpoint = Checkpoint.from_bytes(read_bounded(path, MAX_CHECKPOINT_BYTES, "checkpoint"), str(path))
        identity = bundle_identity(self.classifier)
        if checkpoint.bundle != identity:
            raise InputError(
                f"{path}: checkpoint of another bundle ({checkpoint.bundle}), this one is {identity}"
            )
        if checkpoint.labels != self.labels:
            raise InputError(
                f"{path}: checkpoint labels {checkpoint.labels}, this Personalizer has {self.labels}"
            )
        check_head_shapes(self._head.weight_shapes, checkpoint.weights.named())
        self._install(checkpoint.weights)

    def _install(self, weights: HeadWeights) -> None:
        self._head.set_weights(weights)
        self.classifier.set_head_weights(weights, labels=self.labels)

    def _collected(self) -> tuple[np.ndarray, np.ndarray]:
        if not self._targets:
            raise InputError("no labelled windows: add() some before fit()")
        return np.concatenate(self._features), np.concatenate(self._targets)

    def _label_indices(self, labels: Sequence[str] | str, n: int) -> np.ndarray:
        labels = [labels] if isinstance(labels, str) else list(labels)
        if len(labels) != n:
            raise InputError(f"got {len(labels)} labels for {n} windows")
        unknown = sorted(set(labels) - set(self.labels))
        if unknown:
            raise InputError(f"unknown label(s) {unknown}; this head knows {list(self.labels)}")
        index = {label: i for i, label in enumerate(self.labels)}
        return np.array([index[label] for label in labels], dtype=np.int64)


def _check_head_fits(head: HeadSession, labels: Sequence[str] | None, hidden: int | None) -> None:
    if labels is not None and not isinstance(labels, str) and len(labels) != head.n_classes:
        raise InputError(
            f"{len(labels)} labels, but the bundle's head has {head.n_classes} outputs (fixed at export); "
            "export a bundle with a head for these labels: har-edge optimize ... --head-labels A,B,C"
        )
    if hidden is not None and hidden != head.hidden:
        raise InputError(
            f"hidden={hidden}, but the bundle's head has hidden size {head.hidden} (fixed at export); "
            "export a bundle with --head-hidden H"
        )


def _check_fit_arguments(
    epochs: int, batch_size: int, learning_rate: float, schedule: str, holdout: float, patience: int | None
) -> None:
    if not (isinstance(epochs, int) and epochs >= 1 and isinstance(batch_size, int) and batch_size >= 1):
        raise InputError(f"epochs and batch_size must be positive integers, got {epochs}, {batch_size}")
    if not 0 < learning_rate <= float(np.finfo(np.float32).max):
        raise InputError(f"learning_rate must be a positive number finite in float32, got {learning_rate}")
    if schedule not in SCHEDULES:
        raise InputError(f"schedule {schedule!r}, expected one of {SCHEDULES}")
    if not 0 <= holdout < 1:
        raise InputError(f"holdout must be a fraction in [0, 1), got {holdout}")
    if patience is not None and not (isinstance(patience, int) and patience >= 0):
        raise InputError(f"patience must be None or an integer >= 0, got {patience}")


def apply_checkpoint(classifier: Classifier, path: str | Path) -> Classifier:
    """Install the personalized head of checkpoint ``path`` (with its labels) in ``classifier``; the
    checkpoint must be of this bundle (see ``Personalizer.restore``). Returns ``classifier``."""
    path = Path(path)
    labels = Checkpoint.from_bytes(read_bounded(path, MAX_CHECKPOINT_BYTES, "checkpoint"), str(path)).labels
    Personalizer(classifier, labels=labels).restore(path)
    return classifier
