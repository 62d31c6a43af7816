"""SGD epochs on a head interpreter (``HeadSession``): learning-rate schedules, a divergence guard that
rolls back bad steps, the held-out slice with early-stopping bookkeeping, and the ``FitHistory``."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from har_edge.errors import InputError
from har_edge.runtime.classifier import HeadSession
from har_edge.runtime.head import HeadWeights

SCHEDULES = ("constant", "cosine", "step")
STEP_DECAY = 0.1  # 'step': the rate is multiplied by this after each third of the epochs
STEP_PARTS = 3
# A mean cross-entropy above -ln(smallest normal float32) means the true classes' probabilities are
# below anything float32 represents (``infer`` would output 0): the step diverged.
DIVERGED_LOSS = float(-np.log(np.finfo(np.float32).tiny))
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


class GuardedSgd:
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


def split_holdout(n: int, holdout: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) indices: a seeded random ``holdout`` fraction, at least one window if > 0."""
    n_held = max(1, round(holdout * n)) if holdout > 0 else 0
    if n - n_held < 1:
        raise InputError(f"{n} window(s) leave none to train on after a holdout of {holdout}; add more")
    order = rng.permutation(n)
    return order[n_held:], order[:n_held]


def batch_slices(order: np.ndarray, size: int) -> list[np.ndarray]:
    return [order[start : start + size] for start in range(0, len(order), size)]


class TrainingRun:
    """The state of one ``fit``: guarded SGD, per-epoch history, and the best weights so far.

    With a holdout, the best weights are those with the lowest held-out loss (the starting weights
    count as epoch 0; a NaN loss never improves); without one, the latest.
    """

    def __init__(self, head: HeadSession, x: np.ndarray, y: np.ndarray, held: np.ndarray) -> None:
        self.sgd = GuardedSgd(head, head.weights())
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
