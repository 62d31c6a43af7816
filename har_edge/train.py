"""Fit and evaluate a HAR model: Adam, early stopping on validation accuracy, seeded.

``train_model`` is the one front door: windows in, a trained model with its ``ModelCard`` and test
metrics out. Windows arrive raw; the normalizer is fitted on the training split only and recorded in
the card so every later stage applies the same statistics.

The recipe (``TrainConfig``), made for small real data sets as much as for the synthetic one, and
measured on real HAPT (``benchmarks/real_hapt.py``):

- training windows may be cut denser than validation and test windows (``WindowConfig.train_hop``,
  by default a quarter hop: ``data.plan.split_for_training``); an epoch then takes as many windows
  as the training split holds at the validation hop (``epoch_windows``), so it sees differently
  shifted examples, not a longer epoch;
- an epoch takes at least ``min_steps_per_epoch`` optimizer steps: a small training split is passed
  over several times (reshuffled), as ``transfer`` does with its adaptation sets;
- class weights only when asked (``class_weighting``; default "none": on real HAPT, "sqrt" cost 2-3
  points of accuracy and macro-F1, for all users and for one): "sqrt" weighs a class by 1/sqrt(its
  windows), "balanced" by 1/windows, scaled to a mean weight of 1 per window, and only when the
  classes present are imbalanced (largest / smallest count over ``IMBALANCE_RATIO``). The validation
  loss uses the same weights;
- the learning rate follows a cosine decay from ``learning_rate`` to a tenth of it over the planned
  steps (``schedule="constant"`` keeps it fixed);
- early stopping on validation accuracy (``monitor``; the validation loss of one subject's ~45
  validation windows rises from the first epoch, while accuracy still climbs for 20) with the best
  epoch's weights restored, after ``patience`` epochs without improvement (the validation split covers
  every class that can spare an occurrence: ``har_edge.data.splits``);
- options, off by default: ``augment`` (``har_edge.data.augment``: on real HAPT it gave cnn +1.5 and
  +3.4 points with the gyroscope, two seeds, and cost it 1.5 on the accelerometer alone and dense 4-5
  on one user, mean of users 3-6), ``clipnorm`` (per-weight gradient clipping: with a rate of 3e-3 and
  12 epochs instead of 8 the lstm went from 0.697 to 0.853 on the accelerometer).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from har_edge import models
from har_edge.data.splits import Normalizer, Splits, normalize_splits
from har_edge.data.windows import WindowConfig, WindowSet
from har_edge.errors import InputError
from har_edge.metrics import Metrics, classification_metrics


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 1e-3
    patience: int = 10
    seed: int = 0
    min_steps_per_epoch: int = 10
    class_weighting: Literal["sqrt", "balanced", "none"] = "none"
    schedule: Literal["cosine", "constant"] = "cosine"
    monitor: Literal["val_loss", "val_accuracy"] = "val_accuracy"
    augment: str = "none"
    clipnorm: float | None = None

    def __post_init__(self) -> None:
        from har_edge.data.augment import parse_augment

        parse_augment(self.augment)
        if self.clipnorm is not None and not self.clipnorm > 0:
            raise InputError(f"train config: clipnorm must be positive or None, got {self.clipnorm}")
        if self.epochs < 1 or self.batch_size < 1 or self.learning_rate <= 0 or self.patience < 0:
            raise InputError(f"train config: epochs, batch_size, learning_rate must be positive, got {self}")
        if self.min_steps_per_epoch < 0:
            raise InputError(f"train config: min_steps_per_epoch must be >= 0, got {self}")
        if (
            self.class_weighting not in CLASS_WEIGHTINGS
            or self.schedule not in SCHEDULES
            or self.monitor not in MONITORS
        ):
            raise InputError(
                f"train config: class_weighting {self.class_weighting!r} (expected one of "
                f"{', '.join(CLASS_WEIGHTINGS)}), schedule {self.schedule!r} (expected one of "
                f"{', '.join(SCHEDULES)}), monitor {self.monitor!r} (expected one of {', '.join(MONITORS)})"
            )

    def steps_per_epoch(self, windows: int) -> int:
        """Optimizer steps of an epoch over ``windows`` training windows (at least the minimum)."""
        return max(self.min_steps_per_epoch, math.ceil(windows / self.batch_size), 1)

    def passes_per_epoch(self, windows: int) -> int:
        """How many times an epoch goes over ``windows`` training windows."""
        return max(1, math.ceil(self.min_steps_per_epoch * self.batch_size / max(windows, 1)))


CLASS_WEIGHTINGS = ("sqrt", "balanced", "none")
SCHEDULES = ("cosine", "constant")
MONITORS = ("val_loss", "val_accuracy")
IMBALANCE_RATIO = 2.0


@dataclass(frozen=True)
class TrainedModel:
    model: Any
    card: models.ModelCard
    normalizer: Normalizer
    history: dict[str, list[float]]
    best_epoch: int
    test_metrics: Metrics | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def train_model(
    splits: Splits,
    architecture: str,
    config: TrainConfig = TrainConfig(),
    *,
    model_options: dict[str, Any] | None = None,
    progress: bool = False,
) -> TrainedModel:
    """Build ``architecture``, fit it on ``splits.train`` (early stopping on ``splits.val``) and
    evaluate on ``splits.test``."""
    from har_edge.tfcompat import seed_everything

    options = dict(model_options or {})
    train = splits.train
    if len(train) == 0 or len(splits.val) == 0:
        raise InputError(f"training needs windows in train and validation splits, got {splits.sizes()}")
    seed_everything(config.seed)
    model = models.build(
        architecture,
        window=train.window,
        channels=len(train.channels),
        classes=len(train.class_names),
        seed=config.seed,
        **options,
    )
    normalized, normalizer = normalize_splits(splits)
    history, best_epoch = fit(
        model, normalized.train, normalized.val, config, progress=progress, normalizer=normalizer
    )
    card = model_card(model, architecture, options, splits, normalizer, config)
    test = evaluate(model, normalized.test) if len(normalized.test) else None
    return TrainedModel(model, card, normalizer, history, best_epoch, test)


def model_card(
    model,
    architecture: str,
    options: dict[str, Any],
    splits: Splits,
    normalizer: Normalizer,
    config: TrainConfig,
) -> models.ModelCard:
    """The card of ``model`` trained on ``splits`` with ``config`` (window geometry, labels, statistics)."""
    train = splits.train
    return models.ModelCard(
        architecture=architecture,
        options=options,
        class_names=train.class_names,
        channels=train.channels,
        rate_hz=train.rate_hz,
        window=train.window,
        hop=splits.val.hop,  # the hop of inference windows; training windows may be denser
        normalization=normalizer.to_dict(),
        split_points=models.architecture(architecture).split_points(options),
        summary=asdict(models.summarize(model)),
        notes={
            "train_config": asdict(config),
            "class_weights": class_weights(train, config.class_weighting),
            "split_sizes": splits.sizes(),
            "grouping": splits.grouping,
            "val_grouping": splits.val_grouping,
        },
    )


def data_note(
    spec: str,
    fmt: str | None,
    options: dict[str, Any],
    window: WindowConfig,
    seed: int,
    test_spec: str | None = None,
) -> dict:
    """What a model card records about its training data so later stages can rebuild the splits;
    ``test_spec`` is the separate test data (then no test split was held out of ``spec``). Paths are
    recorded absolute, so the card works from any folder."""
    from har_edge.data import absolute_spec

    return {
        "spec": absolute_spec(spec),
        "format": fmt,
        "options": options,
        "labeling": window.labeling,
        "max_gap_factor": window.max_gap_factor,
        "train_hop": window.train_hop,
        "split_seed": seed,
        "test_spec": None if test_spec is None else absolute_spec(test_spec),
    }


def class_weights(train: WindowSet, weighting: str) -> dict[int, float] | None:
    """Weight per class index of ``train`` under ``weighting`` (see the module), or None when the
    classes present are balanced within ``IMBALANCE_RATIO`` or weighting is "none"."""
    counts = train.class_counts().astype(np.float64)
    present = counts > 0
    if weighting == "none" or not present.any() or counts.max() <= IMBALANCE_RATIO * counts[present].min():
        return None
    weights = np.ones_like(counts)
    weights[present] = counts[present] ** (-0.5 if weighting == "sqrt" else -1.0)
    weights *= counts.sum() / (counts * weights).sum()
    return {int(k): float(w) for k, w in enumerate(weights)}


def fit(
    model,
    train: WindowSet,
    val: WindowSet,
    config: TrainConfig,
    *,
    progress: bool = False,
    normalizer: Normalizer | None = None,
):
    """Compile with Adam (the config's schedule, per-weight gradient clipping) and fit with the
    config's class weights, augmentation and minimum steps per epoch; restores the weights of the best
    epoch by ``config.monitor``. ``normalizer`` is what standardized ``train`` (augmentation rotates
    and scales the physical signal; without it the windows are taken as physical).

    Returns (history dict, best epoch index).
    """
    from har_edge.tfcompat import keras

    k = keras()
    steps_per_epoch = config.steps_per_epoch(epoch_windows(train, val))
    steps = steps_per_epoch * config.epochs
    rate = config.learning_rate
    if config.schedule == "cosine":
        rate = k.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=steps, alpha=0.1)
    model.compile(
        optimizer=k.optimizers.Adam(rate, clipnorm=config.clipnorm),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        weighted_metrics=[],
    )
    callbacks = [
        k.callbacks.EarlyStopping(
            monitor=config.monitor,
            mode="min" if config.monitor == "val_loss" else "max",
            patience=config.patience,
            restore_best_weights=True,
        )
    ]
    if progress:
        callbacks.append(progress_bar(config.epochs))
    weights = class_weights(train, config.class_weighting)
    validation = (models.to_model_input(model, val.x), val.y)
    if weights is not None:
        validation += (np.array([weights[int(y)] for y in val.y], dtype=np.float32),)
    result = model.fit(
        _training_batches(model, train, config, normalizer),
        steps_per_epoch=steps_per_epoch,
        validation_data=validation,
        epochs=config.epochs,
        verbose=0,
        callbacks=callbacks,
        class_weight=weights,
    )
    history = {key: [float(v) for v in values] for key, values in result.history.items()}
    watched = np.asarray(history[config.monitor])
    return history, int(np.argmin(watched) if config.monitor == "val_loss" else np.argmax(watched))


def epoch_windows(train: WindowSet, val: WindowSet) -> int:
    """How many training windows an epoch takes: as many as the training split holds at the
    validation split's hop. Training windows cut with a shorter hop (``data.splits.densify_train``)
    then give each epoch differently shifted examples rather than a longer epoch."""
    return max(1, math.ceil(len(train) * train.hop / max(val.hop, train.hop)))


def _training_batches(model, train: WindowSet, config: TrainConfig, normalizer: Normalizer | None = None):
    """A tf.data pipeline: the training windows, reshuffled on every pass (seeded) and repeated
    without end (``fit`` takes ``steps_per_epoch`` batches an epoch), batched, augmented
    (``config.augment``) and in the model's input layout."""
    from har_edge.data.augment import batch_augmenter, parse_augment
    from har_edge.tfcompat import tensorflow

    tf = tensorflow()
    data = tf.data.Dataset.from_tensor_slices((train.x, train.y))
    data = data.shuffle(len(train), seed=config.seed, reshuffle_each_iteration=True).repeat()
    data = data.batch(config.batch_size)
    channels = train.x.shape[-1]
    mean, std = (normalizer.mean, normalizer.std) if normalizer else ([0.0] * channels, [1.0] * channels)
    augment = batch_augmenter(parse_augment(config.augment), train.channels, mean, std, config.seed)
    if augment is not None:
        data = data.map(augment)
    shape = (-1, *model.input_shape[1:])
    return data.map(lambda x, y: (tf.reshape(x, shape), y)).prefetch(2)


def predict_proba(model, windows: WindowSet, batch_size: int = 512) -> np.ndarray:
    return model.predict(models.to_model_input(model, windows.x), batch_size=batch_size, verbose=0)


def evaluate(model, windows: WindowSet) -> Metrics:
    """Metrics of ``model`` on already-normalized ``windows``."""
    predictions = predict_proba(model, windows).argmax(axis=1)
    return classification_metrics(windows.y, predictions, windows.class_names)


def progress_bar(epochs: int):
    """A Keras callback drawing one tqdm bar over epochs (loss and validation accuracy as postfix)."""
    from tqdm.auto import tqdm

    from har_edge.tfcompat import keras

    class EpochBar(keras().callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = tqdm(total=epochs, desc="training", unit="epoch")

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            loss, val_acc = logs.get("loss", 0.0), logs.get("val_accuracy", 0.0)
            self.bar.set_postfix(loss=f"{loss:.3f}", val_acc=f"{val_acc:.3f}")
            self.bar.update(1)

        def on_train_end(self, logs=None):
            self.bar.close()

    return EpochBar()
