"""Magnitude pruning with tensorflow-model-optimization: wrap, fine-tune, strip, report the zeros.

Only trainable ``Dense`` and ``Conv2D`` layers are pruned. tfmot's registry gives ``DepthwiseConv2D`` no
prunable weights (the cnn's small depthwise stem stays dense) and frozen layers (the cnn's fixed
``spec_dft``/``spec_power`` filters) must keep their values. Zeros are stored like any other weight in
a .tflite file: the saving shows after compression (``quantize.size_figures``) or with the generator's
block-sparse kernels (``codegen/sparse.py``, for ``block`` structure).

Fine-tuning: the sparsity ramps from 0 to the target over the first ~3/4 of the steps (polynomial,
``optimize.schedule``), then the model recovers at the target for the rest, at the same learning rate
(cutting it tenfold for the recovery did worse in one trial on real HAPT: dense seed 0, block 75 %
int8 accuracy 73.3 % -> 62.5 %).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from har_edge.data.windows import WindowSet
from har_edge.errors import InputError
from har_edge.optimize.quantize import model_input
from har_edge.optimize.schedule import PruningSchedule
from har_edge.optimize.structure import block_pruning_callback, unit_prune
from har_edge.tfcompat import tfmot
from har_edge.train import TrainConfig, progress_bar


@dataclass(frozen=True)
class LayerSparsity:
    """Zeros among one layer's kernel weights (biases and normalization parameters are not counted)."""

    layer: str
    weights: int
    zeros: int
    trainable: bool

    @property
    def sparsity(self) -> float:
        return self.zeros / self.weights if self.weights else 0.0


@dataclass(frozen=True)
class SparsityReport:
    """Exact zeros per layer with kernels, and over all of them (frozen layers included)."""

    layers: tuple[LayerSparsity, ...]

    @property
    def weights(self) -> int:
        return sum(layer.weights for layer in self.layers)

    @property
    def zeros(self) -> int:
        return sum(layer.zeros for layer in self.layers)

    @property
    def overall(self) -> float:
        """Sparsity over all kernels in the report."""
        return self.zeros / self.weights if self.weights else 0.0

    def layer(self, name: str) -> LayerSparsity:
        for entry in self.layers:
            if entry.layer == name:
                return entry
        raise InputError(
            f"sparsity report: no layer {name!r}; layers: {', '.join(e.layer for e in self.layers)}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "weights": self.weights,
            "zeros": self.zeros,
            "sparsity": self.overall,
            "layers": [{**asdict(entry), "sparsity": entry.sparsity} for entry in self.layers],
        }


@dataclass(frozen=True)
class PruneResult:
    """The stripped (plain tf_keras) model, its zeros, the schedule as run, and what was pruned."""

    model: Any
    report: SparsityReport
    schedule: PruningSchedule
    pruned_layers: tuple[str, ...]
    history: dict[str, list[float]]


def prune(
    model,
    train: WindowSet,
    val: WindowSet,
    schedule: PruningSchedule,
    *,
    epochs: int = 6,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    seed: int = 0,
    progress: bool = False,
) -> PruneResult:
    """Prune a trained model while fine-tuning it for ``epochs`` on normalized ``train`` windows.

    ``model`` is left untouched. A schedule that prunes nothing returns an exact copy without
    fine-tuning. Fine-tuning runs all ``epochs`` and keeps the best validation-loss epoch among those
    that end at the target sparsity (never an earlier, less sparse one).
    """
    from har_edge.tfcompat import seed_everything

    config = TrainConfig(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=seed)
    # as in training (train.fit): a small split is gone over several times per epoch, so fine-tuning gets
    # at least config.min_steps_per_epoch steps an epoch; the pruning schedule counts those steps
    passes = config.passes_per_epoch(len(train))
    train_xy = (
        np.concatenate([model_input(model, train.x, "training windows")] * passes),
        np.tile(train.y, passes),
    )
    val_xy = (model_input(model, val.x, "validation windows"), val.y)
    if schedule.is_noop:
        copy = _copy(model)
        return PruneResult(copy, sparsity_report(copy), schedule, (), {})
    schedule = schedule.resolved(epochs * math.ceil(len(train_xy[1]) / batch_size))
    seed_everything(seed)
    if schedule.structure == "unit":  # a smaller model, fine-tuned (its best epoch)
        small, _ = unit_prune(model, schedule.target_sparsity, _is_prunable)
        history = _fine_tune(small, train_xy, val_xy, config, 0, progress, [])
        shrunk = tuple(
            x.name for x in small.layers if x.count_params() < model.get_layer(x.name).count_params()
        )
        return PruneResult(_copy(small), sparsity_report(small), schedule, shrunk, history)
    if schedule.structure == "block":
        wrapped = _copy(model)
        layers = [layer for layer in wrapped.layers if _is_prunable(layer)]
        pruned_layers = tuple(layer.name for layer in layers)
        callbacks = [block_pruning_callback(wrapped, layers, schedule.to_tfmot())]
    else:
        wrapped, pruned_layers = _wrap_prunable_layers(model, schedule)
        callbacks = [tfmot().sparsity.keras.UpdatePruningStep()]
    if not pruned_layers:
        raise InputError(f"model {model.name!r} has no trainable Dense or Conv2D layer to prune")
    history = _fine_tune(wrapped, train_xy, val_xy, config, schedule.target_step, progress, callbacks)
    # strip_pruning reuses the wrapped layers; a copy gives layers that belong to one graph only, so
    # ``layer.output`` (used to cut the model at a split point) is the stripped model's own tensor
    stripped = _copy(
        tfmot().sparsity.keras.strip_pruning(wrapped) if schedule.structure != "block" else wrapped
    )
    return PruneResult(stripped, sparsity_report(stripped), schedule, pruned_layers, history)


def sparsity_report(model) -> SparsityReport:
    """Count exact zeros in every layer that has kernels (``kernel``, ``depthwise_kernel``,
    ``recurrent_kernel`` weights)."""
    entries = []
    for layer in model.layers:
        kernels = [np.asarray(w) for w in layer.weights if _is_kernel(w)]
        if kernels:
            weights = sum(k.size for k in kernels)
            zeros = sum(int(np.count_nonzero(k == 0)) for k in kernels)
            entries.append(LayerSparsity(layer.name, weights, zeros, layer.trainable))
    return SparsityReport(tuple(entries))


# ---------------------------------------------------------------------------------------------- helpers


def _is_kernel(weight) -> bool:
    return weight.name.rsplit("/", 1)[-1].split(":")[0].endswith("kernel")


def _is_prunable(layer) -> bool:
    from har_edge.tfcompat import keras

    layers = keras().layers
    return layer.trainable and type(layer) in (layers.Dense, layers.Conv2D)


def _copy(model):
    """A new model with the same architecture and weights, sharing no layers with ``model``."""
    from har_edge.tfcompat import keras

    copy = keras().models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def _wrap_prunable_layers(model, schedule: PruningSchedule):
    """A copy of ``model`` with each prunable layer inside tfmot's pruning wrapper, and their names."""
    from har_edge.tfcompat import keras

    sparsity = tfmot().sparsity.keras
    wrapped: list[str] = []
    tfmot_schedule = schedule.to_tfmot()

    def wrap(layer):
        if not _is_prunable(layer):
            return layer
        wrapped.append(layer.name)
        return sparsity.prune_low_magnitude(
            layer, pruning_schedule=tfmot_schedule, sparsity_m_by_n=schedule.m_by_n
        )

    # clone_function gets the copy's layers; wrapping them (not model's) keeps ``model`` untouched
    pruned = keras().models.clone_model(_copy(model), clone_function=wrap)
    return pruned, tuple(wrapped)


def _fine_tune(
    model, train_xy, val_xy, config: TrainConfig, target_step: int, progress: bool, pruning_callbacks: list
) -> dict[str, list[float]]:
    """Compile with Adam, fit for ``config.epochs`` with the pruning callbacks and keep the best
    validation-loss epoch among those that end at the target sparsity."""
    from har_edge.tfcompat import keras

    model.compile(
        optimizer=keras().optimizers.Adam(config.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    callbacks = [*pruning_callbacks, _best_epoch_after(target_step)]
    if progress:
        callbacks.append(progress_bar(config.epochs))
    result = model.fit(
        *train_xy,
        validation_data=val_xy,
        epochs=config.epochs,
        batch_size=config.batch_size,
        shuffle=True,
        verbose=0,
        callbacks=callbacks,
    )
    return {key: [float(v) for v in values] for key, values in result.history.items()}


def _best_epoch_after(target_step: int):
    """A callback restoring, when fitting ends, the weights (masks included) of the lowest
    validation-loss epoch that ended after step ``target_step``. Goes after ``UpdatePruningStep``, whose
    epoch-end masking it must see."""
    from har_edge.tfcompat import keras

    class BestEpochAfter(keras().callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.steps, self.best_loss, self.best_weights = 0, np.inf, None

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1

        def on_epoch_end(self, epoch, logs=None):
            loss = (logs or {}).get("val_loss", np.inf)
            if self.steps > target_step and loss < self.best_loss:
                self.best_loss, self.best_weights = loss, self.model.get_weights()

        def on_train_end(self, logs=None):
            if self.best_weights is not None:
                self.model.set_weights(self.best_weights)

    return BestEpochAfter()
