"""Trade-off sweeps: a grid over model × sparsity × precision × split point, every point measured on
every listed target, run on a local process pool or on Ray.

The sweep file (TOML)::

    [sweep]
    name = "dense-tradeoffs"
    data = "synthetic"        # a load_dataset spec or a path (with format = "hapt" ...)
    subjects = 12             # synthetic only
    seed = 0
    epochs = 15               # training, once per model
    fine_tune_epochs = 4      # pruning / QAT fine-tuning per point

    [grid]
    model = ["dense"]
    sparsity = [0.0, 0.5, 0.75]
    precision = ["float32", "int8"]
    split_point = ["none", "headlayer"]     # "none": the whole model; a layer: a bundle split there
    target = ["desktop", "rpi4", "cortex-m4f-80mhz"]

Work happens in two phases: each distinct model is trained once (in parallel across models), then
the points run in parallel. Every finished point is cached under ``OUT/cache/points/<hash>.json``
(the hash of the point's full config, training included), so a re-run skips it; a failed point is
recorded in the report's ``failures`` with its error and is retried by the next run.

Caveats: models train on the accelerometer channels at the default window (4 s at 50 Hz, 2 s hop);
workers pin TensorFlow to one thread each, so training and accuracy figures are identical
across engines and worker counts; latencies measured while several workers share the machine's
cores are noisier than ``har-edge bench`` figures (the report records the worker count).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import time
import tomllib
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from har_edge.bench.results import ResultRow
from har_edge.errors import DataFormatError, InputError
from har_edge.fsutil import atomic_write_text

SWEEP_KEYS = {
    "name": str,
    "data": str,
    "format": str,
    "subjects": int,
    "seed": int,
    "epochs": int,
    "fine_tune_epochs": int,
}
GRID_KEYS = {"model": str, "sparsity": float, "precision": str, "split_point": str, "target": str}
ENGINES = ("local", "ray")
WHOLE_MODEL = "none"


@dataclass(frozen=True)
class TrainSpec:
    """How a sweep's model is trained (its hash names the cached model folder)."""

    model: str
    data: str
    format: str | None
    subjects: int | None
    seed: int
    epochs: int

    def key(self) -> str:
        return config_hash(asdict(self))


@dataclass(frozen=True)
class SweepPoint:
    train: TrainSpec
    sparsity: float
    precision: str
    split_point: str | None
    targets: tuple[str, ...]
    fine_tune_epochs: int

    @property
    def variant(self) -> str:
        name = f"{self.train.model}-s{round(self.sparsity * 100)}-{self.precision}"
        return f"{name}@{self.split_point}" if self.split_point else name

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "targets": list(self.targets)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepPoint:
        return cls(**{**data, "train": TrainSpec(**data["train"]), "targets": tuple(data["targets"])})

    def key(self) -> str:
        return config_hash(self.to_dict())


@dataclass(frozen=True)
class SweepConfig:
    name: str
    train: TrainSpec  # the model field is a placeholder; points carry each grid model
    models: tuple[str, ...]
    sparsities: tuple[float, ...]
    precisions: tuple[str, ...]
    split_points: tuple[str | None, ...]
    targets: tuple[str, ...]
    fine_tune_epochs: int
    source: str = "<sweep>"

    def points(self) -> list[SweepPoint]:
        return [
            SweepPoint(replace(self.train, model=m), s, p, sp, self.targets, self.fine_tune_epochs)
            for m, s, p, sp in itertools.product(
                self.models, self.sparsities, self.precisions, self.split_points
            )
        ]


def config_hash(config: dict[str, Any]) -> str:
    """A stable 16-hex-digit hash of a JSON-able config (sorted keys)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def load_sweep(path: str | Path) -> SweepConfig:
    """Read and check a sweep file; unknown tables or keys are errors listing the valid ones."""
    from har_edge import models
    from har_edge.optimize.quantize import Precision
    from har_edge.targets import known_target_names, resolve_targets

    path = Path(path)
    try:
        document = tomllib.loads(path.read_text())
    except OSError as exc:
        raise InputError(f"cannot read sweep file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise DataFormatError(path, f"not valid TOML ({exc})") from exc
    _check_keys(path, "", document, {"sweep": dict, "grid": dict})
    sweep, grid = document.get("sweep", {}), document.get("grid")
    if grid is None:
        raise DataFormatError(
            path, "missing table", field="grid", expected=f"[grid] with {', '.join(GRID_KEYS)}"
        )
    _check_keys(path, "sweep.", sweep, SWEEP_KEYS)
    _check_keys(path, "grid.", grid, {key: list for key in GRID_KEYS})
    lists = {key: _grid_list(path, grid, key, kind) for key, kind in GRID_KEYS.items()}
    for name in lists["model"]:
        try:
            split_points = models.architecture(name).split_points({})
        except InputError as exc:
            raise DataFormatError(path, str(exc), field="grid.model") from exc
        for point in lists["split_point"]:
            if point != WHOLE_MODEL and point not in split_points:
                raise DataFormatError(
                    path,
                    f"split point {point!r} is not one of model {name!r}",
                    field="grid.split_point",
                    expected=f"{WHOLE_MODEL!r} or one of {', '.join(split_points)}",
                )
    for value in lists["precision"]:
        try:
            Precision.parse(value)
        except InputError as exc:
            raise DataFormatError(path, str(exc), field="grid.precision") from exc
    for value in lists["sparsity"]:
        if not 0 <= value < 1:
            raise DataFormatError(
                path, f"sparsity {value}", field="grid.sparsity", expected="values in [0, 1)"
            )
    try:
        resolve_targets(lists["target"], check_remote=False)
    except InputError as exc:
        raise DataFormatError(
            path, str(exc), field="grid.target", expected=", ".join(known_target_names())
        ) from exc
    train = TrainSpec(
        model="",
        data=sweep.get("data", "synthetic"),
        format=sweep.get("format"),
        subjects=sweep.get("subjects"),
        seed=sweep.get("seed", 0),
        epochs=sweep.get("epochs", 15),
    )
    return SweepConfig(
        name=sweep.get("name", path.stem),
        train=train,
        models=tuple(lists["model"]),
        sparsities=tuple(float(s) for s in lists["sparsity"]),
        precisions=tuple(lists["precision"]),
        split_points=tuple(None if s == WHOLE_MODEL else s for s in lists["split_point"]),
        targets=tuple(lists["target"]),
        fine_tune_epochs=sweep.get("fine_tune_epochs", 4),
        source=str(path),
    )


def _check_keys(path: Path, prefix: str, table: dict, valid: dict[str, type]) -> None:
    for key, value in table.items():
        if key not in valid:
            raise DataFormatError(
                path,
                f"unknown key {prefix}{key}",
                field=f"{prefix}{key}",
                expected=f"one of {', '.join(valid)}",
            )
        kind = valid[key]
        accepted = (int, float) if kind is float else kind
        if not isinstance(value, accepted) or (isinstance(value, bool) and kind is not bool):
            raise DataFormatError(
                path, f"{prefix}{key} = {value!r}", field=f"{prefix}{key}", expected=kind.__name__
            )


def _grid_list(path: Path, grid: dict, key: str, kind: type) -> list:
    values = grid.get(key)
    if not values:
        raise DataFormatError(
            path, "missing or empty list", field=f"grid.{key}", expected=f"a list of {kind.__name__}"
        )
    for value in values:
        accepted = (int, float) if kind is float else kind
        if not isinstance(value, accepted) or isinstance(value, bool):
            raise DataFormatError(
                path, f"grid.{key} value {value!r}", field=f"grid.{key}", expected=kind.__name__
            )
    return list(values)


# ----------------------------------------------------------------------------------------- engines


class LocalEngine:
    """A spawn-started process pool (TensorFlow is not fork-safe)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def run(self, function: Callable, jobs: list[tuple]) -> Iterator[tuple[tuple, Any]]:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=self.workers, mp_context=context) as pool:
            futures = {pool.submit(function, *job): job for job in jobs}
            for future in as_completed(futures):
                yield futures[future], future.result()


class RayEngine:
    """Ray tasks on a cluster at ``address``, or on a local Ray started in-process (``workers`` CPUs)."""

    def __init__(self, workers: int, address: str | None) -> None:
        try:
            import ray
        except ImportError as exc:
            raise InputError('--engine ray needs Ray: pip install "har-edge[ray]"') from exc
        self.ray = ray
        self.workers = workers
        self.address = address

    def run(self, function: Callable, jobs: list[tuple]) -> Iterator[tuple[tuple, Any]]:
        ray = self.ray
        started_here = not ray.is_initialized()
        if started_here:
            options = {"address": self.address} if self.address else {"num_cpus": self.workers}
            ray.init(include_dashboard=False, log_to_driver=False, **options)
        try:
            remote = ray.remote(num_cpus=1)(function)
            pending = {remote.remote(*job): job for job in jobs}
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    yield pending.pop(ref), ray.get(ref)
        finally:
            if started_here:
                ray.shutdown()


def make_engine(engine: str, workers: int, address: str | None = None):
    if engine == "local":
        if address:
            raise InputError("--address is for --engine ray")
        return LocalEngine(workers)
    if engine == "ray":
        return RayEngine(workers, address)
    raise InputError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")


# ------------------------------------------------------------------------------------------ running


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


# -------------------------------------------------------------------------- tasks (run in workers)


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
    from har_edge.data.windows import WindowConfig, make_windows, split_by_subject
    from har_edge.tfcompat import seed_everything
    from har_edge.train import TrainConfig, data_note, train_model
    from har_edge.types import ACC_CHANNELS

    folder = models_dir / spec.key()
    if (folder / "card.json").exists():
        return folder
    seed_everything(spec.seed)
    options = {"subjects": spec.subjects} if spec.subjects else {}
    window = WindowConfig(channels=ACC_CHANNELS)
    windows, _ = make_windows(load_dataset(spec.data, spec.format, **options), window)
    splits = split_by_subject(windows, seed=spec.seed)
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
        precision=point.precision,
        split_point=point.split_point,
        name=point.variant,
        workdir=cache / "bundles" / point.key(),
        fine_tune_epochs=point.fine_tune_epochs,
        seed=point.train.seed,
    )
    return measure_variants([variant], resolve_targets(point.targets), config_hash=point.key())
