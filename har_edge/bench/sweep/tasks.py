"""The jobs a sweep runs in its workers: train a model once, then optimize, convert, score and measure
one point. A task returns ``{"error": ...}`` instead of raising, so one failure never stops the sweep."""

from __future__ import annotations

import json
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

from har_edge.bench.results import ResultRow
from har_edge.bench.sweep.config import SweepPoint, TrainSpec
from har_edge.fsutil import atomic_write_text


def train_model_task(spec: dict[str, Any], models_dir: str) -> dict[str, Any]:
    """Train one sweep model into ``models_dir/<hash>`` unless it is there; returns its folder."""
    try:
        pin_threads()
        return {"model_folder": str(_train(TrainSpec(**spec), Path(models_dir)))}
    except Exception as exc:  # noqa: BLE001 - a worker reports every failure instead of dying
        return {"error": describe_failure(exc)}


def point_task(point: dict[str, Any], model_folder: str, cache: str) -> dict[str, Any]:
    """Optimize, convert, score and measure one point; caches and returns its rows."""
    try:
        pin_threads()
        sweep_point = SweepPoint.from_dict(point)
        rows = [row.to_dict() for row in _measure_point(sweep_point, Path(model_folder), Path(cache))]
        document = {"config": point, "rows": rows}
        atomic_write_text(Path(cache) / "points" / f"{sweep_point.key()}.json", json.dumps(document))
        return document
    except Exception as exc:  # noqa: BLE001
        return {"error": describe_failure(exc)}


def describe_failure(exc: BaseException) -> str:
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    location = f" (at {Path(where.filename).name}:{where.lineno})" if where else ""
    return f"{type(exc).__name__}: {exc}{location}"


def pin_threads() -> None:
    """One TensorFlow thread per worker: identical numerics in every engine, no oversubscription."""
    from har_edge.tfcompat import tensorflow

    tf = tensorflow()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # already initialized in this worker by an earlier task (with these settings)


def _train(spec: TrainSpec, models_dir: Path) -> Path:
    from har_edge import models
    from har_edge.data import load_dataset
    from har_edge.data.plan import split_for_training, window_config_for
    from har_edge.data.windows import make_windows
    from har_edge.tfcompat import seed_everything
    from har_edge.train import TrainConfig, data_note, train_model

    folder = models_dir / spec.key()
    if (folder / "card.json").exists():
        return folder
    seed_everything(spec.seed)
    options = {"subjects": spec.subjects} if spec.subjects else {}
    dataset = load_dataset(spec.data, spec.format, **options)
    window = window_config_for(dataset)  # synthetic: 50 Hz, 200/100 samples, acc_x/y/z
    windows, _ = make_windows(dataset, window)
    splits = split_for_training(dataset, windows, window, cases=dataset.cases, seed=spec.seed)
    trained = train_model(splits, spec.model, TrainConfig(epochs=spec.epochs, seed=spec.seed))
    note = data_note(spec.data, spec.format, options, window, spec.seed)
    card = replace(trained.card, notes={**trained.card.notes, "data": note})
    models.save(trained.model, card, folder, overwrite=True)
    return folder


def _measure_point(point: SweepPoint, model_folder: Path, cache: Path) -> list[ResultRow]:
    from har_edge.bench.measure import measure_variants
    from har_edge.bench.variants import point_variant
    from har_edge.optimize.pipeline import load_for_optimize
    from har_edge.targets import resolve_targets

    model, card, splits = load_for_optimize(model_folder)
    variant = point_variant(
        model,
        card,
        splits,
        sparsity=point.sparsity,
        structure=point.structure,
        precision=point.precision,
        split_point=point.split_point,
        name=point.variant,
        workdir=cache / "bundles" / point.key(),
        fine_tune_epochs=point.fine_tune_epochs,
        seed=point.train.seed,
    )
    return measure_variants([variant], resolve_targets(point.targets), config_hash=point.key())
