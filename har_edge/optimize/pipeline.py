"""The optimize stage's front door: a trained model folder -> a pruned and/or quantization-aware-trained
model (``har_edge.export.bundle_request`` then splits it and describes its bundle).

``training_splits(card)`` rebuilds the exact normalized splits a model was trained on (the model
card records the data spec, window geometry, split seed and any separate test data), so pruning
fine-tunes and int8 calibrates on training windows and accuracy is measured on the same held-out
windows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from har_edge import models
from har_edge.data.plan import split_for_training
from har_edge.data.splits import Normalizer, Splits, apply_normalizer
from har_edge.data.windows import WindowConfig, make_windows
from har_edge.errors import InputError
from har_edge.optimize.prune import PruningSchedule, prune, sparsity_report
from har_edge.optimize.quantize import Precision, qat


def training_splits(card: models.ModelCard) -> Splits:
    """The card's training data, windowed and split as in training, normalized with the card's stats."""
    from har_edge.data import load_dataset

    note = card.notes.get("data")
    if not note:
        raise InputError("the model card does not record its training data; retrain with har-edge train")
    dataset = load_dataset(note["spec"], note["format"], **note["options"])
    window = WindowConfig(
        rate_hz=card.rate_hz,
        window=card.window,
        hop=card.hop,
        labeling=note["labeling"],
        max_gap_factor=note["max_gap_factor"],
        channels=card.channels,
        train_hop=note.get("train_hop"),  # None in a card written before training windows were denser
    )
    windows, _ = make_windows(dataset, window)
    test_spec = note.get("test_spec")
    splits = split_for_training(
        dataset,
        windows,
        window,
        cases=dataset.cases,
        test_fraction=0.0 if test_spec else 0.2,
        seed=note["split_seed"],
    )
    if test_spec:
        test_windows, _ = make_windows(load_dataset(test_spec, note["format"], **note["options"]), window)
        splits = replace(splits, test=test_windows)
    return apply_normalizer(splits, Normalizer.from_dict(card.normalization))


@dataclass(frozen=True)
class OptimizeOptions:
    """``sparsity`` 0 means no pruning; ``split_at`` None takes the model's last split point;
    ``head_labels`` replaces the head by a new, untrained one for that class set."""

    sparsity: float = 0.0
    schedule: str = "polynomial"
    structure: str = "unstructured"
    precision: Precision = Precision.INT8
    qat: bool = False
    split_at: str | None = None
    head_labels: tuple[str, ...] | None = None
    head_hidden: int | None = None
    fine_tune_epochs: int = 6
    mcu_variant: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.sparsity < 1:
            raise InputError(f"sparsity {self.sparsity} is outside [0, 1)")
        if self.fine_tune_epochs < 1:
            raise InputError(f"fine-tune epochs must be >= 1, got {self.fine_tune_epochs}")


@dataclass(frozen=True, eq=False)
class Optimized:
    """The optimized Keras model and what was done to it (for the manifest and reports)."""

    model: Any
    record: dict[str, Any] = field(default_factory=dict)


def optimize_model(
    model, card: models.ModelCard, splits: Splits, options: OptimizeOptions, *, progress=False
):
    """Prune (when ``options.sparsity`` > 0) and/or quantization-aware-train the Keras model."""
    record: dict[str, Any] = {"sparsity_target": options.sparsity, "qat": options.qat}
    if options.sparsity > 0:
        schedule = PruningSchedule(
            kind=options.schedule, target_sparsity=options.sparsity, structure=options.structure
        )
        result = prune(
            model,
            splits.train,
            splits.val,
            schedule,
            epochs=options.fine_tune_epochs,
            seed=options.seed,
            progress=progress,
        )
        record["schedule"] = schedule.to_dict()
        record["sparsity_reached"] = result.report.overall
        if options.structure == "unit":  # weights removed rather than zeroed
            record["sparsity_reached"] = 1 - result.report.weights / sparsity_report(model).weights
        model = result.model
    if options.qat:
        model = qat(
            model,
            splits.train,
            splits.val,
            epochs=options.fine_tune_epochs,
            preserve_sparsity=options.sparsity > 0,
        )
        if options.sparsity > 0:
            record["sparsity_after_qat"] = sparsity_report(model).overall
    return Optimized(model, record)


def load_for_optimize(model_folder: str | Path):
    """(model, card, normalized training splits) for a model folder written by ``har-edge train``."""
    model, card = models.load(model_folder)
    return model, card, training_splits(card)
