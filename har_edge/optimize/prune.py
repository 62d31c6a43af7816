"""Magnitude pruning with tensorflow-model-optimization: wrap, fine-tune, strip, report the zeros.

Only trainable ``Dense`` and ``Conv2D`` layers are pruned. tfmot's registry gives ``DepthwiseConv2D`` no
prunable weights (the cnn's small depthwise stem stays dense) and frozen layers (the cnn's fixed
``spec_dft``/``spec_power`` filters) must keep their values. Caveat: pruning does not shrink a .tflite
file — zeros are stored like any other weight; the saving shows after compression (see
``quantize.size_figures``) or with a sparse-aware runtime.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np

from har_edge.data.windows import WindowSet
from har_edge.errors import InputError
from har_edge.optimize.quantize import model_input
from har_edge.optimize.structure import STRUCTURES, block_pruning_callback, unit_prune
from har_edge.tfcompat import tfmot
from har_edge.train import TrainConfig, progress_bar

SCHEDULE_KINDS = ("constant", "polynomial")
POLYNOMIAL_RAMP_FRACTION = 0.75  # default end_step: the ramp ends here, the rest of fine-tuning recovers


@dataclass(frozen=True)
class PruningSchedule:
    """How many weights to zero and when, in fine-tuning steps (batches).

    ``constant`` prunes to ``target_sparsity`` at ``begin_step`` and every ``frequency`` steps after;
    ``polynomial`` ramps from ``initial_sparsity`` to ``target_sparsity`` between ``begin_step`` and
    ``end_step`` (cubic, tfmot's ``PolynomialDecay``). ``end_step=None`` is resolved from the fine-tuning
    length: the last step for ``constant``, about 3/4 of the way for ``polynomial``.

    ``m_by_n=(2, 4)`` asks for structured sparsity instead: at least 2 zeros in every 4 consecutive
    input weights of each kernel, fixed at the first step; the sparsity fields are then ignored.
    ``structure`` (``optimize.structure``): ``block`` zeroes 4x4 blocks on this schedule, ``unit``
    removes that fraction of units once and fine-tunes, ``m:n`` is ``m_by_n`` (2:4 unless given).
    """

    kind: str = "polynomial"
    target_sparsity: float = 0.5
    initial_sparsity: float = 0.0
    begin_step: int = 0
    end_step: int | None = None
    frequency: int = 10
    m_by_n: tuple[int, int] | None = None
    structure: str = "unstructured"

    def __post_init__(self) -> None:
        if self.structure not in STRUCTURES:
            raise InputError(
                f"pruning schedule: structure {self.structure!r}, expected one of {', '.join(STRUCTURES)}"
            )
        if self.structure == "m:n" and self.m_by_n is None:
            object.__setattr__(self, "m_by_n", (2, 4))
        if self.m_by_n is not None and self.structure == "unstructured":
            object.__setattr__(self, "structure", "m:n")
        if self.kind not in SCHEDULE_KINDS:
            raise InputError(
                f"pruning schedule: kind {self.kind!r}, expected one of {', '.join(SCHEDULE_KINDS)}"
            )
        _require_fraction("target_sparsity", self.target_sparsity)
        _require_fraction("initial_sparsity", self.initial_sparsity)
        if self.initial_sparsity > self.target_sparsity:
            raise InputError(
                f"pruning schedule: initial_sparsity {self.initial_sparsity} exceeds "
                f"target_sparsity {self.target_sparsity}"
            )
        _require_int("begin_step", self.begin_step, minimum=0)
        _require_int("frequency", self.frequency, minimum=1)
        if self.end_step is not None:
            _require_int("end_step", self.end_step, minimum=self.begin_step)
            self._require_end_on_an_update()
        if self.m_by_n is not None:
            object.__setattr__(self, "m_by_n", _m_by_n(self.m_by_n))

    @property
    def is_noop(self) -> bool:
        """True when nothing would be pruned (target 0, no structured sparsity)."""
        return self.m_by_n is None and self.target_sparsity == 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["m_by_n"] = None if self.m_by_n is None else list(self.m_by_n)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PruningSchedule:
        valid = [f.name for f in fields(cls)]
        if not isinstance(data, dict):
            raise InputError(
                f"pruning schedule: expected a mapping with keys {', '.join(valid)}, got {data!r}"
            )
        unknown = sorted(set(data) - set(valid))
        if unknown:
            raise InputError(f"pruning schedule: unknown keys {unknown}; valid keys: {', '.join(valid)}")
        return cls(**data)

    def resolved(self, total_steps: int) -> PruningSchedule:
        """This schedule with a concrete ``end_step`` for ``total_steps`` fine-tuning steps (m-by-n
        schedules stay as they are: tfmot sets their masks once, at step 1).

        Raises ``InputError`` when pruning could not reach the target within those steps.
        """
        if self.m_by_n or self.structure == "unit":
            _require_steps(total_steps, 2 if self.m_by_n else 1)
            return self
        _require_steps(total_steps, self.begin_step + 1)
        end_step = self._default_end_step(total_steps) if self.end_step is None else self.end_step
        if end_step > total_steps - 1:
            raise InputError(
                f"pruning schedule: end_step {end_step} is past the last fine-tuning step "
                f"{total_steps - 1}; train for more epochs, lower end_step or frequency"
            )
        return replace(self, end_step=end_step)

    def to_tfmot(self):
        """tfmot's schedule object (call on a ``resolved`` schedule)."""
        sparsity = tfmot().sparsity.keras
        if self.kind == "polynomial" and not self.m_by_n:
            return sparsity.PolynomialDecay(
                self.initial_sparsity,
                self.target_sparsity,
                self.begin_step,
                self.end_step,
                frequency=self.frequency,
            )
        # for m-by-n masks tfmot ignores the schedule; a constant one is a valid placeholder
        end_step = -1 if self.end_step is None else self.end_step
        return sparsity.ConstantSparsity(self.target_sparsity, self.begin_step, end_step, self.frequency)

    @property
    def target_step(self) -> int:
        """The fine-tuning step whose mask update first reaches the target (of a resolved schedule)."""
        if self.m_by_n:
            return 1
        return self.begin_step if self.kind == "constant" else self.end_step

    def _default_end_step(self, total_steps: int) -> int:
        if self.kind == "constant":
            return total_steps - 1
        ramp_updates = int(POLYNOMIAL_RAMP_FRACTION * total_steps - self.begin_step) // self.frequency
        return self.begin_step + self.frequency * max(1, ramp_updates)

    def _require_end_on_an_update(self) -> None:
        """tfmot updates masks only every ``frequency`` steps: a polynomial ramp ending between two
        updates would stop short of the target."""
        if self.kind == "polynomial" and (self.end_step - self.begin_step) % self.frequency:
            raise InputError(
                f"pruning schedule: end_step - begin_step ({self.end_step - self.begin_step}) must be a "
                f"multiple of frequency ({self.frequency}) so the last mask update reaches the target"
            )


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


def _require_steps(total_steps: int, needed: int) -> None:
    if total_steps < needed:
        raise InputError(
            f"pruning schedule needs at least {needed} fine-tuning steps, got {total_steps}; "
            "train for more epochs or lower begin_step"
        )


def _require_fraction(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise InputError(f"pruning schedule: {name} must be in [0, 1), got {value!r}")


def _require_int(name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InputError(f"pruning schedule: {name} must be an integer >= {minimum}, got {value!r}")


def _m_by_n(value: object) -> tuple[int, int]:
    pair = tuple(value) if isinstance(value, tuple | list) else ()
    integers = len(pair) == 2 and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in pair
    )
    if not integers or not 0 < pair[0] < pair[1]:
        raise InputError(
            f"pruning schedule: m_by_n must be two integers (m, n) with 0 < m < n, got {value!r}"
        )
    return int(pair[0]), int(pair[1])
