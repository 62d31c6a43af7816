"""Fit and evaluate a HAR model: Adam, early stopping on validation loss, seeded.

``train_model`` is the one front door: windows in, a trained model with its ``ModelCard`` and test
metrics out. Windows arrive raw; the normalizer is fitted on the training split only and recorded in
the card so every later stage applies the same statistics.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

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
    patience: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.learning_rate <= 0 or self.patience < 0:
            raise InputError(f"train config: epochs, batch_size, learning_rate must be positive, got {self}")


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
    history, best_epoch = fit(model, normalized.train, normalized.val, config, progress=progress)
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
        hop=train.hop,
        normalization=normalizer.to_dict(),
        split_points=models.architecture(architecture).split_points(options),
        summary=asdict(models.summarize(model)),
        notes={"train_config": asdict(config), "split_sizes": splits.sizes(), "grouping": splits.grouping},
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
    ``test_spec`` is the separate test data (then no test split was held out of ``spec``)."""
    return {
        "spec": spec,
        "format": fmt,
        "options": options,
        "labeling": window.labeling,
        "max_gap_factor": window.max_gap_factor,
        "split_seed": seed,
        "test_spec": test_spec,
    }


def fit(model, train: WindowSet, val: WindowSet, config: TrainConfig, *, progress: bool = False):
    """Compile with Adam and fit; restores the weights of the best validation-loss epoch.

    Returns (history dict, best epoch index).
    """
    from har_edge.tfcompat import keras

    k = keras()
    model.compile(
        optimizer=k.optimizers.Adam(config.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    callbacks = [k.callbacks.EarlyStopping(patience=config.patience, restore_best_weights=True)]
    if progress:
        callbacks.append(progress_bar(config.epochs))
    result = model.fit(
        models.to_model_input(model, train.x),
        train.y,
        validation_data=(models.to_model_input(model, val.x), val.y),
        epochs=config.epochs,
        batch_size=config.batch_size,
        shuffle=True,
        verbose=0,
        callbacks=callbacks,
    )
    history = {key: [float(v) for v in values] for key, values in result.history.items()}
    return history, int(np.argmin(history["val_loss"]))


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
