"""Adaptation strategies: a target model that reuses the first k blocks of a trained source model.

Every transferred model is the architecture built afresh for the target's classes (seeded), with the
weights of the source's first k blocks copied in; the remaining blocks and the classifier start from
their seeded initialization. Windows are normalized with the source's statistics (what a deployed
bundle does); the baseline, which never sees the source, uses its adaptation set's own statistics.

- ``baseline`` (k = 0): ``har_edge.train.fit`` on the adaptation set only, i.e. training from scratch.
- ``freeze``: the k transferred blocks are frozen (BatchNormalization in them runs in inference mode,
  so their weights and statistics do not move); the rest trains.
- ``finetune``: ``freeze`` for ``warmup_epochs``, then every layer at the rate times
  ``finetune_rate_factor``.
- ``differential``: everything trains at once, with one Adam per block group: new layers at the rate,
  the last transferred block ``differential_factor`` times lower, each earlier one that factor lower
  again.
- ``head-only``: the device path: the source model's bundle (every block in the base, int8 by default,
  a new head for the target's classes) trained with the TF-free ``Personalizer`` (its SGD, its
  held-out slice of the adaptation windows; the target's validation split is not used).

Early stopping (all but head-only) watches the target's validation split, as the protocol does. Small
adaptation sets are repeated within an epoch (``AdaptSettings.min_epoch_windows``) so every size gets
a comparable number of optimizer steps; head-only runs ``head_epochs`` times as many passes.
Caveat: results are bit-reproducible only with TensorFlow pinned to one thread (``run`` does that).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from har_edge import models
from har_edge.data.splits import Normalizer
from har_edge.data.windows import WindowSet
from har_edge.metrics import Metrics
from har_edge.train import TrainConfig, evaluate, fit
from har_edge.transfer.grid import BASELINE, AdaptSettings, transfer_blocks


def block_groups(model, blocks: tuple[str, ...]) -> list[list[Any]]:
    """The model's layers cut into consecutive groups, each ending at a block's named last layer."""
    names = [layer.name for layer in model.layers]
    groups, start = [], 0
    for block in blocks:
        end = names.index(block) + 1
        groups.append(model.layers[start:end])
        start = end
    return groups


def transferred_model(source, architecture: str, k: int, classes: int, seed: int):
    """A fresh ``architecture`` for ``classes`` classes (seeded) holding the source's first k blocks."""
    window, channels = source.input_shape[1], source.input_shape[-1]
    if architecture == "dense":  # flat input: window * channels
        channels = source.get_layer("reshape").output_shape[-1]
        window = source.input_shape[1] // channels
    target = models.build(architecture, window=window, channels=channels, classes=classes, seed=seed)
    for group in block_groups(target, transfer_blocks(architecture))[:k]:
        for layer in group:
            layer.set_weights(source.get_layer(layer.name).get_weights())
    return target


def adapt(
    strategy: str,
    k: int,
    source,
    source_normalizer: Normalizer | None,
    architecture: str,
    adaptation: WindowSet,
    val: WindowSet,
    settings: AdaptSettings,
    seed: int,
):
    """Train the target model of one strategy on raw ``adaptation`` windows; returns (model, normalizer)."""
    from har_edge.tfcompat import seed_everything

    classes = len(adaptation.class_names)
    seed_everything(seed)
    if strategy == BASELINE:
        normalizer = Normalizer.fit(adaptation)
        model = models.build(
            architecture,
            window=adaptation.window,
            channels=len(adaptation.channels),
            classes=classes,
            seed=seed,
        )
    else:
        normalizer = source_normalizer
        model = transferred_model(source, architecture, k, classes, seed)
    passes = settings.passes_per_epoch(len(adaptation))
    train = _normalized(adaptation.take(np.tile(np.arange(len(adaptation)), passes)), normalizer)
    held = _normalized(val, normalizer)
    config = TrainConfig(
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        patience=settings.patience,
        seed=seed,
    )
    groups = block_groups(model, transfer_blocks(architecture))
    if strategy == BASELINE:
        fit(model, train, held, config)
    elif strategy == "freeze":
        _set_trainable(groups[:k], False)
        fit(model, train, held, config)
    elif strategy == "finetune":
        _set_trainable(groups[:k], False)
        if settings.warmup_epochs:
            fit(
                model,
                train,
                held,
                replace(config, epochs=settings.warmup_epochs, patience=settings.warmup_epochs),
            )
        _set_trainable(groups[:k], True)
        fit(
            model,
            train,
            held,
            replace(config, learning_rate=config.learning_rate * settings.finetune_rate_factor),
        )
    elif strategy == "differential":
        new_layers = [layer for group in groups[k:] for layer in group]
        new_layers += model.layers[sum(len(g) for g in groups) :]
        rates = [settings.learning_rate / settings.differential_factor ** (k - i) for i in range(k)]
        fit_differential(
            model, [*groups[:k], new_layers], [*rates, settings.learning_rate], train, held, config
        )
    else:
        raise ValueError(f"adapt: strategy {strategy!r} is not a Keras strategy")
    return model, normalizer


def score(model, normalizer: Normalizer, test: WindowSet) -> Metrics:
    return evaluate(model, _normalized(test, normalizer))


def _normalized(windows: WindowSet, normalizer: Normalizer) -> WindowSet:
    return windows.with_x(normalizer.apply(windows.x))


def _set_trainable(groups: list[list[Any]], trainable: bool) -> None:
    for group in groups:
        for layer in group:
            layer.trainable = trainable


def fit_differential(model, groups, rates, train: WindowSet, val: WindowSet, config: TrainConfig) -> int:
    """Adam per layer group at its own rate, shuffled mini-batches (seeded), early stopping on the
    validation loss with the best weights restored. Returns the best epoch (0-based)."""
    from har_edge.tfcompat import keras, tensorflow

    tf, k = tensorflow(), keras()
    variables = [[v for layer in group for v in layer.trainable_weights] for group in groups]
    optimizers = [k.optimizers.Adam(rate) for rate in rates]
    loss_of = k.losses.SparseCategoricalCrossentropy()
    flat = [v for group in variables for v in group]

    @tf.function(reduce_retracing=True)
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_of(y, model(x, training=True))
        gradients = tape.gradient(loss, flat)
        start = 0
        for optimizer, group in zip(optimizers, variables, strict=True):
            optimizer.apply_gradients(zip(gradients[start : start + len(group)], group, strict=True))
            start += len(group)
        return loss

    x, y = models.to_model_input(model, train.x), train.y
    val_x = models.to_model_input(model, val.x)
    rng = np.random.default_rng(config.seed)
    best, best_loss, best_weights = 0, math.inf, model.get_weights()
    for epoch in range(config.epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), config.batch_size):
            batch = order[start : start + config.batch_size]
            step(tf.constant(x[batch]), tf.constant(y[batch]))
        val_loss = float(loss_of(val.y, model.predict(val_x, batch_size=512, verbose=0)))
        if val_loss < best_loss:
            best, best_loss, best_weights = epoch, val_loss, model.get_weights()
        elif epoch - best >= config.patience:
            break
    model.set_weights(best_weights)
    return best


# --- head-only: the device path -------------------------------------------------------------------------


def export_head_bundle(source, card, source_train: WindowSet, labels, precision: str, seed: int, folder):
    """The source model's bundle for the device: split at its last split point (every block in the
    base), a new seeded head for ``labels``, int8 calibrated on normalized source training windows."""
    from har_edge.export import ExportRequest, export_bundle
    from har_edge.optimize.quantize import Precision, representative_windows
    from har_edge.optimize.split import new_head, split

    parts = split(source, card.split_points[-1], card.split_points)
    normalized = Normalizer.from_dict(card.normalization).apply(source_train.x)
    request = ExportRequest(
        base_model=parts.base,
        head=new_head(parts.n_features, len(labels), seed=seed),
        card=card,
        split_layer=parts.split_layer,
        feature_shape=parts.feature_shape,
        class_labels=tuple(labels),
        precision=Precision.parse(precision),
        representative=representative_windows(models.to_model_input(parts.base, normalized), seed=seed),
        optimization={"precision": precision, "new_head": True, "purpose": "transfer head-only"},
    )
    return export_bundle(request, folder, overwrite=True)


def head_only(bundle_folder, adaptation: WindowSet, test: WindowSet, settings: AdaptSettings, seed: int):
    """Train the bundle's head with the runtime's ``Personalizer`` on raw windows; test metrics."""
    from har_edge.runtime import Classifier, Personalizer

    classifier = Classifier(bundle_folder, num_threads=1)
    personalizer = Personalizer(classifier, seed=seed)
    names = np.asarray(adaptation.class_names)
    personalizer.add(adaptation.x, names[adaptation.y])
    training_windows = len(adaptation) - max(1, round(0.2 * len(adaptation)))  # fit's default holdout
    epochs = settings.head_epochs * settings.passes_per_epoch(training_windows)
    personalizer.fit(epochs=epochs, patience=None, batch_size=settings.batch_size)
    return personalizer.evaluate(test.x, names[test.y])
