"""Source models of a study: one per (source data, labels, model, seed, training settings), trained
once on the source's training split (in the engine's workers, or data-parallel with Ray Train) and, when
a head-only point needs it, exported as the device's bundle. Folders under ``OUT/cache/sources/`` and
``OUT/cache/bundles/`` are keyed by ``source_key``; a finished one is reused.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from har_edge.transfer.grid import Point, config_hash


def source_key(point: Point, domains: dict[str, dict[str, Any]]) -> str:
    """Source models depend on the source data, the shared labels, the model, the seed and training;
    not on the target otherwise, so pairs with one source share them."""
    pair = point.pair
    return config_hash(
        {
            "source": pair.source.to_dict(),
            "mapping": pair.mapping.to_dict(),
            "labels": domains[pair.name]["labels"],
            "model": point.model,
            "seed": point.seed,
            "data": asdict(point.data),
            "training": asdict(point.source),
        }
    )


def train_sources(study, todo, domains, cache, runner) -> tuple[dict[str, dict[str, Any]], int]:
    needed: dict[str, tuple[Point, bool]] = {}
    for point in (p for p in todo if p.source is not None):
        key = source_key(point, domains)
        bundle = needed.get(key, (point, False))[1] or point.strategy == "head-only"
        needed[key] = (point, bundle)
    sources, jobs = {}, []
    for key, (point, bundle) in needed.items():
        folder, bundle_folder = cache / "sources" / key, cache / "bundles" / key
        if (folder / "card.json").exists() and (not bundle or (bundle_folder / "manifest.json").exists()):
            sources[key] = source_facts(key, folder, bundle_folder if bundle else None)
            continue
        jobs.append(
            (
                key,
                point.model,
                point.seed,
                asdict(point.source),
                asdict(point.adapt),
                domains[point.pair.name]["data"],
                str(folder),
                str(bundle_folder) if bundle else None,
            )
        )
    ray_train = study.source.trainer == "ray-train"
    outcomes = (
        ((job, source_task(*job, ray_train=True)) for job in jobs)
        if ray_train
        else runner.run(source_task, jobs)
    )
    for job, outcome in outcomes:
        sources[job[0]] = outcome
    return sources, len(jobs)


def source_facts(key: str, folder: Path, bundle: Path | None) -> dict[str, Any]:
    card = json.loads((folder / "card.json").read_text())
    return {
        "key": key,
        "folder": str(folder),
        "bundle": None if bundle is None else str(bundle),
        **card["notes"].get("transfer_source", {}),
    }


def quiet_worker() -> None:
    """One TensorFlow thread (identical numerics on every engine) and no retracing chatter."""
    from har_edge.bench.sweep.tasks import pin_threads
    from har_edge.tfcompat import tensorflow

    pin_threads()
    tensorflow().get_logger().setLevel("ERROR")


def source_task(key, model, seed, training, adapt, data_path, folder, bundle, *, ray_train=False):
    """Train (and for head-only export) one source model; returns its facts or ``{"error": ...}``."""
    from har_edge.bench.sweep.tasks import describe_failure

    try:
        if not ray_train:
            quiet_worker()
        return _train_source(
            key, model, seed, training, adapt, Path(data_path), Path(folder), bundle, ray_train
        )
    except Exception as exc:  # noqa: BLE001 - a worker reports every failure instead of dying
        return {"key": key, "error": describe_failure(exc)}


def _train_source(key, model, seed, training, adapt, data_path, folder, bundle, ray_train):
    from dataclasses import replace

    from har_edge import models
    from har_edge.train import TrainConfig, train_model
    from har_edge.transfer.adapt import export_head_bundle
    from har_edge.transfer.protocol import load_splits

    splits = load_splits(data_path, "source")
    config = TrainConfig(
        epochs=training["epochs"],
        batch_size=training["batch_size"],
        learning_rate=training["learning_rate"],
        patience=training["patience"],
        seed=seed,
    )
    started = time.perf_counter()
    if ray_train:
        from har_edge.transfer.ray_train import train_on_ray

        trained = train_on_ray(splits, model, config, workers=training["train_workers"])
    else:
        trained = train_model(splits, model, config)
    facts = {
        "trainer": training["trainer"],
        "wall_seconds": round(time.perf_counter() - started, 2),
        "test_micro_f1": trained.test_metrics.micro_f1,
        "train_windows": len(splits.train),
    }
    card = replace(trained.card, notes={**trained.card.notes, "transfer_source": facts})
    models.save(trained.model, card, folder, overwrite=True)
    if bundle:
        export_head_bundle(
            trained.model, card, splits.train, splits.train.class_names, adapt["head_precision"], seed, bundle
        )
    return source_facts(key, folder, None if bundle is None else Path(bundle))
