"""Run a study: prepare each pair's data once, train each source model once per (model, seed)
(``sources.py``), then every point, on a local process pool, on Ray, or serially in this process.

Layout of ``OUT/cache/``: ``data/<hash>.npz`` (a pair's windows and splits), ``sources/<hash>/`` (a
source model folder), ``bundles/<hash>/`` (its head-only bundle), ``points/<hash>.json`` (a finished
point). Hashes cover the full config, so a re-run recomputes nothing that is there; a failed source or
point is recorded with its error, the study goes on, and the next run retries it. Ray workers must see
``OUT`` at the same path (one machine, or a shared file system), as for ``har-edge sweep``.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from har_edge.errors import InputError
from har_edge.fsutil import atomic_write_text
from har_edge.transfer.grid import BASELINE, Pair, Point, Study, config_hash
from har_edge.transfer.sources import quiet_worker, source_facts, source_key, train_sources

ENGINES = ("local", "ray", "serial")


@dataclass(frozen=True)
class StudyOutcome:
    rows: tuple[dict[str, Any], ...]
    failures: tuple[dict[str, Any], ...]
    domains: dict[str, dict[str, Any]]
    sources: dict[str, dict[str, Any]]
    points: int
    cached: int
    sources_trained: int
    wall_seconds: float
    settings: dict[str, Any] = field(default_factory=dict)


class SerialEngine:
    """Every task in this process, one after another (debugging and tests)."""

    def run(self, function: Callable, jobs: list[tuple]) -> Iterator[tuple[tuple, Any]]:
        for job in jobs:
            yield job, function(*job)


def make_engine(engine: str, workers: int, address: str | None):
    from har_edge.bench.sweep import make_engine as sweep_engine

    if engine == "serial":
        if address:
            raise InputError("--address is for --engine ray")
        return SerialEngine()
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    return sweep_engine(engine, workers, address)


def run_study(
    study: Study,
    out: str | Path,
    *,
    engine: str = "local",
    workers: int | None = None,
    address: str | None = None,
    progress: bool = True,
    on_note: Callable[[str], None] | None = None,
) -> StudyOutcome:
    """Run every point of ``study`` that ``out/cache`` lacks; returns all rows (cached and new).
    ``on_note`` gets each domain note (assumed rates, repairs, windows per case), cached pairs' too."""
    from tqdm.auto import tqdm

    started = time.perf_counter()
    workers = workers or os.cpu_count() or 1
    runner = make_engine(engine, workers, address)
    cache = Path(out) / "cache"
    (cache / "points").mkdir(parents=True, exist_ok=True)
    ray_started = False
    if engine == "ray" or study.source.trainer == "ray-train":
        from har_edge.bench.sweep.engines import start_ray
        from har_edge.transfer.ray_train import WORKER_ENV

        ray_started = start_ray(address, workers, WORKER_ENV)
    try:
        domains = {pair.name: prepare_pair(pair, study, cache) for pair in study.pairs}
        for note in (n for info in domains.values() for n in info.get("notes", ())):
            if on_note is not None:
                on_note(note)
        points = study.points()
        rows, todo = [], []
        for point in points:
            cached = _cached(cache, point)
            (todo.append(point) if cached is None else rows.append(cached))
        bar = tqdm(
            total=len(points),
            initial=len(points) - len(todo),
            desc="transfer",
            unit="point",
            disable=not progress,
        )
        failures: list[dict[str, Any]] = []
        sources, trained = train_sources(study, todo, domains, cache, runner)
        for point in points:  # cached points: their sources' facts, for the report
            key = source_key(point, domains) if point.source is not None else None
            if key and key not in sources and (cache / "sources" / key / "card.json").exists():
                sources[key] = source_facts(key, cache / "sources" / key, None)
        jobs = []
        for point in todo:
            source = sources.get(source_key(point, domains)) if point.source is not None else None
            if point.source is not None and (source is None or "error" in source):
                error = "source model not trained" if source is None else f"source: {source['error']}"
                failures.append(_failure(point, error))
                bar.update(1)
                continue
            folder = source and source["folder"]
            bundle = source and source.get("bundle") if point.strategy == "head-only" else None
            jobs.append(
                (point.to_dict(), point.key(), domains[point.pair.name]["data"], folder, bundle, str(cache))
            )
        for job, outcome in runner.run(point_task, jobs):
            if "error" in outcome:
                failures.append({"config": job[0], "config_hash": job[1], "error": outcome["error"]})
            else:
                rows.append(outcome)
            bar.update(1)
        bar.close()
    finally:
        if ray_started:
            import ray

            ray.shutdown()
    order = {p.key(): i for i, p in enumerate(points)}
    rows.sort(key=lambda r: order.get(r["config_hash"], len(order)))
    settings = {**study.settings(), "engine": engine, "workers": workers, "address": address}
    source_summary = {key: {k: v for k, v in s.items() if k != "folder"} for key, s in sources.items()}
    return StudyOutcome(
        tuple(rows),
        tuple(failures),
        domains,
        source_summary,
        len(points),
        len(points) - len(todo),
        trained,
        time.perf_counter() - started,
        settings,
    )


def _failure(point: Point, error: str) -> dict[str, Any]:
    return {"config": point.to_dict(), "config_hash": point.key(), "error": error}


def _cached(cache: Path, point: Point) -> dict[str, Any] | None:
    path = cache / "points" / f"{point.key()}.json"
    try:
        row = json.loads(path.read_text())
        return row if row.get("config_hash") == point.key() else None
    except (OSError, ValueError, AttributeError):
        return None  # missing or damaged: recomputed


# --- data ---------------------------------------------------------------------------------------------


def prepare_pair(pair: Pair, study: Study, cache: Path) -> dict[str, Any]:
    """Window, relabel and split both domains of ``pair`` (cached); returns the domain facts, with the
    ``notes`` of both domains (assumed rates, repairs, windows per case). An ``InputError`` about one
    domain names it: source or target, and its path."""
    from har_edge.transfer import protocol as proto

    key = config_hash({"pair": pair.to_dict(), "data": asdict(study.data)})
    info_path, data_path = cache / "data" / f"{key}.json", cache / "data" / f"{key}.npz"
    if info_path.exists() and data_path.exists():
        return json.loads(info_path.read_text())
    chosen = proto.protocol(study.data.protocol)
    notes: list[str] = []
    with _naming("source", pair.source):
        source = _windows(pair.source, study, chosen, offset=0, notes=notes)
    with _naming("target", pair.target):
        target = _windows(pair.target, study, chosen, offset=1, notes=notes)
    notes += _channel_notes(pair, source.channels, target.channels)
    shared = pair.mapping.shared_labels(source.class_names, target.class_names)
    if len(shared) < 2:
        raise InputError(
            f"{pair.name}: the source ({', '.join(source.class_names)}) and target "
            f"({', '.join(target.class_names)}) share fewer than 2 classes; give a [pair.mapping] table"
        )
    source, dropped_source = proto.relabel(
        source, pair.mapping.source_to_shared(source.class_names, shared), shared
    )
    target, dropped_target = proto.relabel(target, {name: name for name in shared}, shared)
    with _naming("source", pair.source):
        source_splits = proto.split_domain(source, proto.SOURCE_FRACTIONS, study.data.split_seed)
    with _naming("target", pair.target):
        target_splits = proto.split_domain(target, chosen.fractions, study.data.split_seed)
    proto.store_splits(data_path, {"source": source_splits, "target": target_splits})
    info = {
        "pair": pair.name,
        "data": str(data_path),
        "labels": list(shared),
        "dropped_source_windows": dropped_source,
        "dropped_target_windows": dropped_target,
        "source_splits": proto.domain_summary(source_splits),
        "target_splits": proto.domain_summary(target_splits),
        "majority_f1": proto.majority_f1(target_splits.train, target_splits.test),
        "notes": notes,
    }
    atomic_write_text(info_path, json.dumps(info, indent=2))
    return info


@contextmanager
def _naming(role: str, domain) -> Iterator[None]:
    """An ``InputError`` raised in the block, prefixed with the domain it is about."""
    try:
        yield
    except InputError as exc:
        raise InputError(f"{role} domain {domain.where}: {exc}") from exc


def _windows(domain, study: Study, chosen, *, offset: int, notes: list[str]):
    from har_edge.data import SYNTHETIC, load_dataset
    from har_edge.data.plan import parse_channels
    from har_edge.data.windows import make_windows

    role = ("source", "target")[offset]
    options = dict(domain.options)
    if domain.spec == SYNTHETIC or domain.spec.startswith(SYNTHETIC + ":"):
        data = study.data
        defaults = {
            "subjects": data.source_subjects if offset == 0 else data.subjects,
            "seconds_per_activity": data.seconds_per_activity,
            "classes": tuple(data.classes),
            "gyroscope": False,
            "seed": data.data_seed + offset,
        }
        options = {**defaults, **options}
    dataset = load_dataset(domain.spec, domain.format, **options)
    notes += [f"{role} domain: {note}" for note in dataset.notes]
    config = chosen.window_config()
    if domain.channels is not None:
        config = replace(config, channels=parse_channels(domain.channels))
    windows, _ = make_windows(dataset, config)
    if dataset.cases:
        notes.append(_cases_note(role, domain, dataset, len(windows), config, "rate_hz" in options))
    return windows


def _cases_note(role: str, domain, dataset, n_windows: int, config, rate_given: bool) -> str:
    """How many protocol windows each labelled case made, at which rate of the data (given or assumed)."""
    rate = dataset.recordings[0].nominal_rate_hz
    how = "given"
    if not rate_given:
        how = f"assumed: the file states no rate; set it with --{role}-option source_rate=HZ"
    return (
        f"{role} domain {domain.where}: {len(dataset.recordings)} cases at {rate:g} Hz ({how}) made "
        f"{n_windows / len(dataset.recordings):.3g} windows per case of {config.window} samples at "
        f"{config.rate_hz:g} Hz"
    )


def _channel_notes(pair: Pair, source: tuple[str, ...], target: tuple[str, ...]) -> list[str]:
    """Refuses domains whose windows differ in channel count; notes channels that pair by position."""
    if len(source) != len(target):
        raise InputError(
            f"{pair.name}: the source windows have {len(source)} channels ({', '.join(source)}), the target "
            f"{len(target)} ({', '.join(target)}); choose as many on each side with "
            "--source-option/--target-option channels=..."
        )
    if source == target:
        return []
    pairs = ", ".join(f"{s}={t}" for s, t in zip(source, target, strict=True))
    return [f"{pair.name}: source and target channels differ in name and pair by position: {pairs}"]


# --- points -------------------------------------------------------------------------------------------


def point_task(point: dict, key: str, data_path: str, source: str | None, bundle: str | None, cache: str):
    """Adapt and score one point; caches and returns its row, or ``{"error": ...}``."""
    from har_edge.bench.sweep.tasks import describe_failure

    try:
        quiet_worker()
        started = time.perf_counter()
        metrics, n_adapt = _run_point(point, Path(data_path), source, bundle)
        row = {
            "config_hash": key,
            "config": point,
            "pair": _pair_name(point),
            "model": point["model"],
            "strategy": point["strategy"],
            "k": point["k"],
            "size": point["size"],
            "seed": point["seed"],
            "n_adapt": n_adapt,
            "n_test": metrics.n,
            "micro_f1": metrics.micro_f1,
            "macro_f1": metrics.macro_f1,
            "accuracy": metrics.accuracy,
            "wall_seconds": round(time.perf_counter() - started, 2),
        }
        text = json.dumps(row)
        atomic_write_text(Path(cache) / "points" / f"{key}.json", text)
        return json.loads(text)  # as a re-run reads it from the cache (lists, not tuples)
    except Exception as exc:  # noqa: BLE001
        return {"error": describe_failure(exc)}


def _pair_name(point: dict) -> str:
    return f"{_domain_name(point['pair']['source'])} -> {_domain_name(point['pair']['target'])}"


def _domain_name(domain: dict) -> str:
    return domain["spec"] if domain["format"] is None else f"{Path(domain['spec']).name} ({domain['format']})"


@functools.lru_cache(maxsize=4)
def _load_source(folder: str):
    """A worker loads each source model once (adaptation copies its weights, never changes it)."""
    from har_edge import models

    return models.load(folder)


def _run_point(point: dict, data_path: Path, source: str | None, bundle: str | None):
    from har_edge.data.splits import Normalizer
    from har_edge.transfer import adapt as strategies
    from har_edge.transfer.grid import AdaptSettings
    from har_edge.transfer.protocol import adaptation_subset, load_splits

    target = load_splits(data_path, "target")
    settings = AdaptSettings(**point["adapt"])
    adaptation = adaptation_subset(target.train, point["size"], point["seed"])
    if point["strategy"] == "head-only":
        return strategies.head_only(bundle, adaptation, target.test, settings, point["seed"]), len(adaptation)
    source_model, normalizer = None, None
    if point["strategy"] != BASELINE:
        source_model, card = _load_source(source)
        normalizer = Normalizer.from_dict(card.normalization)
    model, normalizer = strategies.adapt(
        point["strategy"],
        point["k"],
        source_model,
        normalizer,
        point["model"],
        adaptation,
        target.val,
        settings,
        point["seed"],
    )
    return strategies.score(model, normalizer, target.test), len(adaptation)
