"""From the optimize stage's output to an export request: split the optimized model at the chosen
layer, take its trained head (or a new one for another class set) and the int8 calibration windows."""

from __future__ import annotations

from har_edge import models
from har_edge.data.splits import Splits
from har_edge.export.writer import ExportRequest
from har_edge.optimize.pipeline import Optimized, OptimizeOptions
from har_edge.optimize.quantize import Precision, representative_windows
from har_edge.optimize.split import new_head, split, trainable_head_weights


def bundle_request(
    optimized: Optimized, card: models.ModelCard, splits: Splits, options: OptimizeOptions
) -> ExportRequest:
    """Split the optimized model and describe the bundle to export."""
    split_at = options.split_at or card.split_points[-1]
    parts = split(optimized.model, split_at, card.split_points)
    if options.head_labels:
        head = new_head(
            parts.n_features, len(options.head_labels), hidden=options.head_hidden, seed=options.seed
        )
        labels = tuple(options.head_labels)
    else:
        head, labels = trainable_head_weights(parts.head), card.class_names
    representative = representative_windows(
        models.to_model_input(parts.base, splits.train.x), seed=options.seed
    )
    return ExportRequest(
        base_model=parts.base,
        head=head,
        card=card,
        split_layer=split_at,
        feature_shape=parts.feature_shape,
        class_labels=labels,
        precision=options.precision,
        representative=representative,
        mcu_variant=options.mcu_variant and options.precision == Precision.INT8,
        optimization={
            **optimized.record,
            "precision": options.precision.value,
            "new_head": bool(options.head_labels),
            "evaluation": evaluation_record(card, splits),
        },
    )


def evaluation_record(card: models.ModelCard, splits: Splits) -> dict:
    """The training data and its held-out test subjects (or cases), so ``bench --data`` on the same
    data scores only windows the model never trained on."""
    note = card.notes.get("data") or {}
    test_spec = note.get("test_spec")
    return {
        "data": note.get("spec"),
        "format": note.get("format"),
        "options": note.get("options"),
        "test_spec": test_spec,
        "grouping": splits.grouping,
        "test_subjects": list(splits.test.subjects)
        if splits.grouping != "occurrence" and not test_spec
        else None,
    }
