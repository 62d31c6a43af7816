"""Personalize a bundle's head on the device: SGD through the head's ``train`` signature (no TensorFlow).

The frozen base turns the wearer's labelled windows into features once (cached); ``fit`` then runs
shuffled mini-batch SGD epochs on the head with a learning-rate schedule, early stopping on a
held-out slice, and a divergence guard, and installs the result in the ``Classifier``.

Checkpoint file (``save``/``restore``), version ``CHECKPOINT_FORMAT_VERSION``::

    line 1   b"HAR-EDGE-HEAD-CHECKPOINT\\n"
    line 2   header, one line of UTF-8 JSON: format_version, labels, parameters [[name, shape], ...],
             bundle {"base.tflite": sha256, "head.tflite": sha256}
    payload  the parameters' float32 little-endian bytes, in header order (w0, b0[, w1, b1])
    trailer  32 bytes: SHA-256 of every byte before it

It is written with ``atomic_write_bytes`` (temp file, fsync, rename), so a crash leaves the old or the
new checkpoint, never a mix.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from har_edge.errors import InputError
from har_edge.fsutil import atomic_write_bytes
from har_edge.metrics import Metrics, classification_metrics
from har_edge.runtime.bundle import BASE_FILE, HEAD_FILE
from har_edge.runtime.classifier import Classifier, HeadSession, check_head_shapes, checked_labels
from har_edge.runtime.model_checks import check_weights
from har_edge.runtime.schemas import check_checkpoint_header
from har_edge.runtime.strict_json import parse_strict_json
from har_edge.trainable_head import HeadWeights

CHECKPOINT_MAGIC = b"HAR-EDGE-HEAD-CHECKPOINT\n"
CHECKPOINT_FORMAT_VERSION = 1
CHECKSUM_BYTES = 32  # SHA-256
PAYLOAD_DTYPE = np.dtype("<f4")
SCHEDULES = ("constant", "cosine", "step")
STEP_DECAY = 0.1  # 'step': the rate is multiplied by this after each third of the epochs
STEP_PARTS = 3
# A mean cross-entropy above -ln(smallest normal float32) means the true classes' probabilities are
# below anything float32 represents (``infer`` would output 0): the step diverged.
DIVERGED_LOSS = float(-np.log(np.finfo(np.float32).tiny))


# --- learning-rate schedules ----------------------------------------------------------------------------


AUTO_RATE_SCALE = 20.0


def auto_learning_rate(features: np.ndarray) -> float:
    """``AUTO_RATE_SCALE / mean ‖x‖²``: the SGD step on a softmax layer grows with the squared norm of
    its inputs, so a fixed rate that suits 48 pooled features overshoots on 1,600 raw ones. Measured on
    the dense bundle's 1,600 features (mean ‖x‖² ≈ 4,900): rates 20–25× below that were best."""
    mean_square_norm = float(np.mean(np.sum(np.square(features, dtype=np.float64), axis=1)))
    return AUTO_RATE_SCALE / max(mean_square_norm, 1e-12)


def scheduled_rate(schedule: str, base_rate: float, epoch: int, epochs: int) -> float:
    """The learning rate of ``epoch`` (0-based) out of ``epochs``.

    ``constant``: ``base_rate``; ``cosine``: half a cosine from ``base_rate`` towards 0;
    ``step``: ``base_rate`` times 0.1 after each third of the epochs.
    """
    progress = epoch / epochs
    if schedule == "constant":
        return base_rate
    if schedule == "cosine":
        return base_rate * 0.5 * (1.0 + math.cos(math.pi * progress))
    if schedule == "step":
        return base_rate * STEP_DECAY ** int(progress * STEP_PARTS)
    raise InputError(f"schedule {schedule!r}, expected one of {SCHEDULES}")


# --- history ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FitHistory:
    """What ``fit`` did, one entry per epoch run.

    ``train_loss``: mean batch loss (each computed before its step) over the kept steps;
    ``holdout_loss``/``holdout_accuracy``: on the held-out slice after the epoch (empty without one);
    ``initial_holdout_loss``: of the starting weights; ``best_epoch``: the epoch whose weights were
    kept (1-based; 0 = the starting weights); ``rolled_back_steps``: steps undone by the divergence
    guard.
    """

    train_loss: tuple[float, ...]
    holdout_loss: tuple[float, ...]
    holdout_accuracy: tuple[float, ...]
    learning_rate: tuple[float, ...]
    initial_holdout_loss: float | None
    best_epoch: int
    stopped_early: bool
    rolled_back_steps: int

    @property
    def epochs_run(self) -> int:
        return len(self.train_loss)


# --- divergence guard ------------------------------------------------------------------------------------


class _GuardedSgd:
    """SGD steps on a head that never keep diverged weights: NaN/Inf weights, or weights whose loss is
    NaN/Inf or above ``DIVERGED_LOSS``.

    ``train`` reports the loss of the weights BEFORE its step, so a diverged loss condemns those
    weights (the previous step's result) and the guard restores the last weights whose loss was
    sane; weights that come out of a step non-finite are undone at once. ``verify_latest`` judges the
    last step's weights, on which no later step reported, with a zero-rate step (which leaves sane
    weights unchanged). Every rollback counts in ``rolled_back``.
    """

    def __init__(self, head: HeadSession, start: HeadWeights) -> None:
        self.head = head
        # {w0, b0, ...} as read from the head; a HeadWeights only when needed (building one copies)
        self.trusted = start.named()  # the last weights a sane loss was computed on
        self.current = self.trusted
        self.rolled_back = 0

    def step(self, features: np.ndarray, onehot: np.ndarray, rate: float) -> float | None:
        """One step; its loss, or None when it was rolled back."""
        loss = self.head.train_step(features, onehot, rate)
        if math.isfinite(loss) and loss <= DIVERGED_LOSS:
            self.trusted = self.current
            after = self.head.named_weights()
            if all(np.isfinite(array).all() for array in after.values()):
                self.current = after
                return loss
        self.rolled_back += 1
        self.head.set_weights(HeadWeights.from_named(self.trusted))
        self.current = self.trusted
        return None

    def verify_latest(self, features: np.ndarray, onehot: np.ndarray) -> None:
        if self.current is not self.trusted:
            self.step(features, onehot, 0.0)


# --- checkpoints -----------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """Head weights, their labels and the identity (sha256 of base and head) of the bundle they fit."""

    labels: tuple[str, ...]
    weights: HeadWeights
    bundle: dict[str, str]

    def to_bytes(self) -> bytes:
        named = self.weights.named()
        header = {
            "format_version": CHECKPOINT_FORMAT_VERSION,
            "labels": list(self.labels),
            "parameters": [[name, list(array.shape)] for name, array in named.items()],
            "bundle": self.bundle,
        }
        payload = b"".join(array.astype(PAYLOAD_DTYPE).tobytes() for array in named.values())
        body = CHECKPOINT_MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + payload
        return body + hashlib.sha256(body).digest()

    @classmethod
    def from_bytes(cls, data: bytes, source: str) -> Checkpoint:
        """Parse and verify; a wrong magic, format version, checksum or layout is an ``InputError``."""
        if not data.startswith(CHECKPOINT_MAGIC):
            raise InputError(f"{source}: not a har_edge head checkpoint (no {CHECKPOINT_MAGIC!r} line)")
        header_line, _, rest = data[len(CHECKPOINT_MAGIC) :].partition(b"\n")
        try:
            header = parse_strict_json(header_line, "header")
        except InputError as exc:
            raise InputError(f"{source}: corrupted or truncated checkpoint (unreadable {exc})") from exc
        version = header.get("format_version") if isinstance(header, dict) else None
        if version != CHECKPOINT_FORMAT_VERSION or isinstance(version, bool | float):
            expected = CHECKPOINT_FORMAT_VERSION
            raise InputError(
                f"{source}: checkpoint format version {version!r}; this runtime reads {expected}"
            )
        body, checksum = data[:-CHECKSUM_BYTES], data[-CHECKSUM_BYTES:]
        if len(rest) < CHECKSUM_BYTES or hashlib.sha256(body).digest() != checksum:
            raise InputError(f"{source}: corrupted or truncated checkpoint (SHA-256 checksum mismatch)")
        header = check_checkpoint_header(header, source)
        return cls._from_verified(header, rest[:-CHECKSUM_BYTES], source)

    @classmethod
    def _from_verified(cls, header: dict, payload: bytes, source: str) -> Checkpoint:
        shapes = [(name, tuple(shape)) for name, shape in header["parameters"]]
        sizes = [math.prod(shape) * PAYLOAD_DTYPE.itemsize for _, shape in shapes]
        if sum(sizes) != len(payload):
            raise InputError(f"{source}: payload has {len(payload)} bytes, the shapes need {sum(sizes)}")
        offsets = np.cumsum([0, *sizes])
        named = {
            name: np.frombuffer(payload[start:end], PAYLOAD_DTYPE).reshape(shape).astype(np.float32)
            for (name, shape), start, end in zip(shapes, offsets[:-1], offsets[1:], strict=True)
        }
        check_weights(named, source)
        try:
            weights = HeadWeights.from_named(named)
        except InputError as exc:
            raise InputError(f"{source}: malformed checkpoint ({exc})") from exc
        return cls(tuple(header["labels"]), weights, dict(header["bundle"]))


def bundle_identity(classifier: Classifier) -> dict[str, str]:
    """The sha256 of the bundle's base and head, as its manifest lists them."""
    files = classifier.manifest.files
    return {name: files[name].sha256 for name in (BASE_FILE, HEAD_FILE)}


# --- the personalizer ------------------------------------------------------------------------------------


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
        ``DIVERGED_LOSS``) are rolled back, counted in the history and warned about.
        """
        x, y = self._collected()
        if learning_rate is None:
            learning_rate = auto_learning_rate(x)
        _check_fit_arguments(epochs, batch_size, learning_rate, schedule, holdout, patience)
        rng = np.random.default_rng(self.seed if seed is None else seed)
        train, held = _split_holdout(len(y), holdout, rng)
        run = _TrainingRun(self._head, x, y, held)
        limit = math.inf if patience is None else patience
        for epoch in range(epochs):
            rate = scheduled_rate(schedule, learning_rate, epoch, epochs)
            if run.epoch(rate, _batches(rng.permutation(train), batch_size)) >= limit:
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
        """Write a checkpoint (format in the module docstring) atomically."""
        checkpoint = Checkpoint(self.labels, self._head.weights(), bundle_identity(self.classifier))
        atomic_write_bytes(path, checkpoint.to_bytes())

    def restore(self, path: str | Path) -> None:
        """Load a checkpoint of this bundle with these labels and shapes, and install it in the classifier."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"{path}: cannot read the checkpoint ({exc})") from exc
        checkpoint = Checkpoint.from_bytes(data, str(path))
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


def _split_holdout(n: int, holdout: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) indices: a seeded random ``holdout`` fraction, at least one window if > 0."""
    n_held = max(1, round(holdout * n)) if holdout > 0 else 0
    if n - n_held < 1:
        raise InputError(f"{n} window(s) leave none to train on after a holdout of {holdout}; add more")
    order = rng.permutation(n)
    return order[n_held:], order[:n_held]


def _batches(order: np.ndarray, size: int) -> list[np.ndarray]:
    return [order[start : start + size] for start in range(0, len(order), size)]


class _TrainingRun:
    """The state of one ``fit``: guarded SGD, per-epoch history, and the best weights so far.

    With a holdout, the best weights are those with the lowest held-out loss (the starting weights
    count as epoch 0; a NaN loss never improves); without one, the latest.
    """

    def __init__(self, head: HeadSession, x: np.ndarray, y: np.ndarray, held: np.ndarray) -> None:
        self.sgd = _GuardedSgd(head, head.weights())
        self.head = head
        self.x, self.y, self.onehot = x, y, np.eye(head.n_classes, dtype=np.float32)[y]
        self.held = held
        self.train_loss: list[float] = []
        self.rates: list[float] = []
        self.holdout_loss: list[float] = []
        self.holdout_accuracy: list[float] = []
        self.initial_loss = self._holdout_metrics()[0] if len(held) else None
        self.best_loss = math.inf if self.initial_loss is None else self.initial_loss
        self.best_epoch = 0
        self.best_on_holdout = self.sgd.current
        self.epochs_since_best = 0

    @property
    def epochs_run(self) -> int:
        return len(self.train_loss)

    @property
    def best_weights(self) -> HeadWeights:
        return HeadWeights.from_named(self.best_on_holdout if len(self.held) else self.sgd.current)

    def epoch(self, rate: float, batches: list[np.ndarray]) -> int:
        """Train one epoch; returns the epochs since the best held-out loss (0 without a holdout)."""
        losses = [self.sgd.step(self.x[b], self.onehot[b], rate) for b in batches]
        self.sgd.verify_latest(self.x[batches[-1]], self.onehot[batches[-1]])
        kept = [loss for loss in losses if loss is not None]
        self.rates.append(rate)
        self.train_loss.append(float(np.mean(kept)) if kept else math.nan)
        if len(self.held):
            loss, accuracy = self._holdout_metrics()
            self.holdout_loss.append(loss)
            self.holdout_accuracy.append(accuracy)
            if loss < self.best_loss:
                self.best_loss, self.best_epoch, self.epochs_since_best = loss, self.epochs_run, 0
                self.best_on_holdout = self.sgd.current
            else:
                self.epochs_since_best += 1
        return self.epochs_since_best

    def _holdout_metrics(self) -> tuple[float, float]:
        """Mean cross-entropy and accuracy of the head on the held-out slice."""
        truth = self.y[self.held]
        probabilities = self.head.probabilities(self.x[self.held])
        picked = probabilities[np.arange(len(truth)), truth].astype(np.float64)
        loss = float(-np.log(np.maximum(picked, np.finfo(np.float32).tiny)).mean())
        return loss, float((probabilities.argmax(axis=1) == truth).mean())

    def history(self, *, stopped_early: bool) -> FitHistory:
        return FitHistory(
            train_loss=tuple(self.train_loss),
            holdout_loss=tuple(self.holdout_loss),
            holdout_accuracy=tuple(self.holdout_accuracy),
            learning_rate=tuple(self.rates),
            initial_holdout_loss=self.initial_loss,
            best_epoch=self.best_epoch if len(self.held) else self.epochs_run,
            stopped_early=stopped_early,
            rolled_back_steps=self.sgd.rolled_back,
        )
