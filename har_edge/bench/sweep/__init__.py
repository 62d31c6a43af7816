"""Trade-off sweeps: a grid over model × sparsity × precision × split point, every point measured on
every listed target, run on a local process pool or on Ray.

The sweep file (TOML) names the data, training and the grid (example and keys: ``config.py``).

Work happens in two phases: each distinct model is trained once (in parallel across models), then
the points run in parallel. Every finished point is cached under ``OUT/cache/points/<hash>.json``
(the hash of the point's full config, training included), so a re-run skips it; a failed point is
recorded in the report's ``failures`` with its error and is retried by the next run.

Caveats: models train on the accelerometer channels at the default window (4 s at 50 Hz, 2 s hop);
workers pin TensorFlow to one thread each, so training and accuracy figures are identical
across engines and worker counts; latencies measured while several workers share the machine's
cores are noisier than ``har-edge bench`` figures (the report records the worker count).

``config.py`` reads the sweep file into points, ``engines.py`` runs jobs (local pool or Ray),
``tasks.py`` holds the jobs the workers run; ``run_sweep`` here ties them together.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from har_edge.bench.results import ResultRow
from har_edge.bench.sweep.config import SweepConfig, SweepPoint, TrainSpec, config_hash, load_sweep
from har_edge.bench.sweep.engines import ENGINES, make_engine
from har_edge.bench.sweep.tasks import point_task, train_model_task

__all__ = [
    "ENGINES",
    "SweepConfig",
    "SweepOutcome",
    "SweepPoint",
    "TrainSpec",
    "config_hash",
    "load_sweep",
    "run_sweep",
]


@dataclass(frozen=True)
class SweepOutcome:
    rows: tuple[ResultRow, ...]
    failures: tuple[dict[str, Any], ...]
    points: int
    cached: int
    wall_seconds: float
    settings: dict[str, Any] = field(default_factory=dict)


def run_sweep(
    config: SweepConfig,
    out: str | Path,
    *,
    engine: str = "local",
    workers: int | None = None,
    address: str | None = None,
    progress: bool = True,
) -> SweepOutcome:
    """Run every point not cached in ``out/cache``; returns all rows (cached and new) and failures."""
    from tqdm.auto import tqdm

    started = time.perf_counter()
    workers = workers or os.cpu_count() or 1
    runner = make_engine(engine, workers, address)
    cache = Path(out) / "cache"
    (cache / "points").mkdir(parents=True, exist_ok=True)
    points = config.points()
    rows: list[ResultRow] = []
    failures: list[dict[str, Any]] = []
    todo = []
    for point in points:
        cached = _cached_rows(cache, point)
        if cached is None:
            todo.append(point)
        else:
            rows.extend(cached)
    done = len(points) - len(todo)
    bar = tqdm(total=len(points), initial=done, desc="sweep", unit="point", disable=not progress)
    specs = {point.train.key(): point.train for point in todo}
    trained: dict[str, str] = {}
    train_jobs = [(asdict(spec), str(cache / "models")) for spec in specs.values()]
    for (spec, _), outcome in runner.run(train_model_task, train_jobs):
        key = TrainSpec(**spec).key()
        if "error" in outcome:
            for point in [p for p in todo if p.train.key() == key]:
                failures.append(
                    {"config": point.to_dict(), "config_hash": point.key(), "error": outcome["error"]}
                )
                bar.update(1)
        else:
            trained[key] = outcome["model_folder"]
    point_jobs = [(p.to_dict(), trained[p.train.key()], str(cache)) for p in todo if p.train.key() in trained]
    for (point_dict, _, _), outcome in runner.run(point_task, point_jobs):
        point = SweepPoint.from_dict(point_dict)
        if "error" in outcome:
            failures.append({"config": point_dict, "config_hash": point.key(), "error": outcome["error"]})
        else:
            rows.extend(ResultRow.from_dict(r) for r in outcome["rows"])
        bar.update(1)
    bar.close()
    order = {p.key(): i for i, p in enumerate(points)}
    rows.sort(key=lambda r: (order.get(r.config_hash, len(order)), config.targets.index(r.target)))
    settings = {
        "sweep": config.source,
        "name": config.name,
        "engine": engine,
        "workers": workers,
        "address": address,
        "points": len(points),
    }
    return SweepOutcome(
        tuple(rows),
        tuple(failures),
        len(points),
        len(points) - len(todo),
        time.perf_counter() - started,
        settings,
    )


def _cached_rows(cache: Path, point: SweepPoint) -> list[ResultRow] | None:
    path = cache / "points" / f"{point.key()}.json"
    if not path.exists():
        return None
    try:
        document = json.loads(path.read_text())
        return [ResultRow.from_dict(r) for r in document["rows"]]
    except (ValueError, KeyError, TypeError):
        return None  # a damaged cache entry is recomputed
