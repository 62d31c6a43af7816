"""The study's definition: domains, source/target pairs, settings and the grid -> points.

``make_study`` checks a study (errors name the field and list the valid values); its defaults are the
default study. The TOML form is read by ``har_edge.transfer.studyfile``. Synthetic domains are generated
with the study's subjects/classes and without the gyroscope; the target draws other people than the
source (generator seed + 1) unless its options say otherwise. ``head-only`` always transfers every
block (it is the device's bundle), so it runs at k = all only.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from har_edge.errors import InputError
from har_edge.transfer.protocol import PROTOCOLS, LabelMapping

STRATEGIES = ("freeze", "finetune", "differential", "head-only")
# The default study leaves differential to the study file: it would add a third of the run time.
DEFAULT_STRATEGIES = ("freeze", "finetune", "head-only")
GRID_KEYS = ("model", "k", "size", "strategy", "seed")
BASELINE = "baseline"
ALL = "all"
TRAINERS = ("single", "ray-train")
BASIC_CLASSES = ("WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING", "LAYING")
DEFAULT_PAIRS = (
    ("synthetic:waist", "synthetic:wrist:smartwatch"),  # position (and device) shift
    ("synthetic:waist", "synthetic:waist:budget-phone"),  # device heterogeneity only
)


def config_hash(config: Any) -> str:
    """A stable 16-hex-digit hash of JSON-able data (sorted keys)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Domain:
    """One side of a pair: data spec or path, its format, loader options (``rate_hz`` is the data's own
    sampling rate where a format needs it) and ``channels`` to window (acc, acc+gyro, all or a comma
    list; None: the protocol's, the accelerometer)."""

    spec: str
    format: str | None = None
    options: tuple[tuple[str, Any], ...] = ()
    channels: str | None = None

    @property
    def name(self) -> str:
        return self.spec if self.format is None else f"{Path(self.spec).name} ({self.format})"

    @property
    def where(self) -> str:
        """The full spec or path and format, for messages."""
        return self.spec if self.format is None else f"{self.spec} ({self.format})"

    def to_dict(self) -> dict[str, Any]:
        facts = {"spec": self.spec, "format": self.format, "options": dict(self.options)}
        # only when given, so the cache keys of studies written before channels existed stay valid
        return facts if self.channels is None else {**facts, "channels": self.channels}


@dataclass(frozen=True)
class Pair:
    source: Domain
    target: Domain
    mapping: LabelMapping = LabelMapping()

    @property
    def name(self) -> str:
        return f"{self.source.name} -> {self.target.name}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source.to_dict(),
            "target": self.target.to_dict(),
            "mapping": self.mapping.to_dict(),
        }


@dataclass(frozen=True)
class SourceSettings:
    epochs: int = 25
    patience: int = 6
    batch_size: int = 64
    learning_rate: float = 1e-3
    trainer: str = "single"
    train_workers: int = 2


@dataclass(frozen=True)
class AdaptSettings:
    """``finetune``: ``warmup_epochs`` with the transferred blocks frozen, then everything at
    ``learning_rate * finetune_rate_factor``; ``differential``: transferred group j blocks before the
    new layers trains at ``learning_rate / differential_factor**j``; ``head-only``: ``head_epochs`` of
    the runtime's SGD on a ``head_precision`` bundle. An epoch covers at least ``min_epoch_windows``
    windows: a smaller adaptation set is passed over ``ceil(min_epoch_windows / n)`` times per epoch
    (reshuffled), so 20 windows get as many optimizer steps as 320 instead of one per epoch."""

    epochs: int = 15
    patience: int = 5
    batch_size: int = 32
    learning_rate: float = 1e-3
    warmup_epochs: int = 3
    finetune_rate_factor: float = 0.1
    differential_factor: float = 3.0
    head_epochs: int = 60
    head_precision: str = "int8"
    min_epoch_windows: int = 320

    def passes_per_epoch(self, windows: int) -> int:
        """How many times an epoch goes over an adaptation set of ``windows`` windows."""
        return max(1, math.ceil(self.min_epoch_windows / max(windows, 1)))


@dataclass(frozen=True)
class DataSettings:
    """Synthetic domains: a source of ``source_subjects`` people (the large generic set) and targets of
    ``subjects`` people, ``seconds_per_activity`` each."""

    protocol: str = "gjoreski2019"
    split_seed: int = 0
    subjects: int = 10
    source_subjects: int = 24
    seconds_per_activity: float = 30.0
    classes: tuple[str, ...] = BASIC_CLASSES
    data_seed: int = 0


@dataclass(frozen=True)
class Point:
    """One adaptation run. ``strategy`` is ``baseline`` exactly when ``k`` is 0; ``size`` None = all."""

    pair: Pair
    model: str
    strategy: str
    k: int
    size: int | None
    seed: int
    data: DataSettings
    adapt: AdaptSettings
    source: SourceSettings | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "pair": self.pair.to_dict(),
            "model": self.model,
            "strategy": self.strategy,
            "k": self.k,
            "size": self.size,
            "seed": self.seed,
            "data": asdict(self.data),
            "adapt": asdict(self.adapt),
            "source": None if self.source is None else asdict(self.source),
        }

    def key(self) -> str:
        return config_hash(self.to_dict())


@dataclass(frozen=True)
class Study:
    name: str
    pairs: tuple[Pair, ...]
    models: tuple[str, ...]
    ks: tuple[int | str, ...]
    sizes: tuple[int | None, ...]
    strategies: tuple[str, ...]
    seeds: tuple[int, ...]
    data: DataSettings = DataSettings()
    adapt: AdaptSettings = AdaptSettings()
    source: SourceSettings = SourceSettings()
    origin: str = "<defaults>"

    def points(self) -> list[Point]:
        """Every distinct point: the baseline (k = 0) once per (pair, model, size, seed) whatever the
        strategies, ``head-only`` at k = all only."""
        points: dict[str, Point] = {}
        for pair, model, size, seed in itertools.product(self.pairs, self.models, self.sizes, self.seeds):
            blocks = len(transfer_blocks(model))
            ks = [blocks if k == ALL else int(k) for k in self.ks]
            runs = [(BASELINE, 0)] if 0 in ks else []
            for strategy in self.strategies:
                runs += [(strategy, blocks)] if strategy == "head-only" else [(strategy, k) for k in ks if k]
            for strategy, k in runs:
                source = None if strategy == BASELINE else self.source
                point = Point(pair, model, strategy, k, size, seed, self.data, self.adapt, source)
                points.setdefault(point.key(), point)
        return list(points.values())

    def settings(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "origin": self.origin,
            "pairs": [p.to_dict() for p in self.pairs],
            "grid": {
                "model": list(self.models),
                "k": list(self.ks),
                "size": [ALL if s is None else s for s in self.sizes],
                "strategy": list(self.strategies),
                "seed": list(self.seeds),
            },
            "data": asdict(self.data),
            "adapt": asdict(self.adapt),
            "source": asdict(self.source),
        }


def transfer_blocks(model: str) -> tuple[str, ...]:
    """The model's blocks in order, by the name of each block's last layer (its split points that
    carry weights: the cnn's ``pool``/``fusion`` carry none)."""
    from har_edge import models

    return tuple(p for p in models.architecture(model).split_points({}) if p not in ("pool", "fusion"))


# --- checking ----------------------------------------------------------------------------------------


class GridError(InputError):
    def __init__(self, field_name: str, problem: str, expected: str) -> None:
        self.field, self.problem, self.expected = field_name, problem, expected
        super().__init__(f"{field_name}: {problem} (expected {expected})")


DEFAULT_NAME = "transfer"


def make_study(
    *,
    name: str = DEFAULT_NAME,
    pairs: tuple[Pair, ...] | None = None,
    model: list | tuple = ("cnn",),
    k: list | tuple = (0, 2, ALL),
    size: list | tuple = (20, 50, 100, 200, ALL),
    strategy: list | tuple = DEFAULT_STRATEGIES,
    seed: list | tuple = (0, 1, 2),
    data: DataSettings = DataSettings(),
    adapt: AdaptSettings = AdaptSettings(),
    source: SourceSettings = SourceSettings(),
    origin: str = "<defaults>",
) -> Study:
    """A checked ``Study`` (``InputError`` naming the field and the valid values); the defaults are the
    default study: cnn, k in {0, 2, all}, 20..all windows, ``DEFAULT_STRATEGIES``, 3 seeds,
    ``DEFAULT_PAIRS``."""
    from har_edge import models

    pairs = pairs or tuple(Pair(Domain(s), Domain(t)) for s, t in DEFAULT_PAIRS)
    _require_list(
        "grid.model", model, lambda m: m in models.ARCHITECTURE_NAMES, ", ".join(models.ARCHITECTURE_NAMES)
    )
    blocks = min(len(transfer_blocks(m)) for m in model)
    _require_list(
        "grid.k",
        k,
        lambda v: v == ALL or (_is_int(v) and 0 <= v <= blocks),
        f"0..{blocks} (the blocks of {', '.join(model)}) or {ALL!r}",
    )
    _require_list(
        "grid.size", size, lambda v: v == ALL or (_is_int(v) and v >= 1), f"window counts >= 1 or {ALL!r}"
    )
    _require_list("grid.strategy", strategy, lambda v: v in STRATEGIES, ", ".join(STRATEGIES))
    _require_list("grid.seed", seed, lambda v: _is_int(v) and v >= 0, "integers >= 0")
    if data.protocol not in PROTOCOLS:
        raise GridError("study.protocol", repr(data.protocol), ", ".join(PROTOCOLS))
    for key in ("subjects", "source_subjects"):
        value = getattr(data, key)
        if not (_is_int(value) and value >= 3):
            raise GridError(f"study.{key}", repr(value), "an integer >= 3 (a 3-way subject split)")
    if not data.seconds_per_activity > 0:
        raise GridError("study.seconds_per_activity", repr(data.seconds_per_activity), "a number > 0")
    if source.trainer not in TRAINERS:
        raise GridError("source.trainer", repr(source.trainer), ", ".join(TRAINERS))
    for table, settings in (("source", source), ("adapt", adapt)):
        for key, value in asdict(settings).items():
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            if numeric and value <= 0 and not (key == "warmup_epochs" and value == 0):
                raise GridError(f"{table}.{key}", repr(value), "a number > 0")
    if not 0 < adapt.finetune_rate_factor <= 1:
        raise GridError("adapt.finetune_rate_factor", repr(adapt.finetune_rate_factor), "a factor in (0, 1]")
    from har_edge.optimize.quantize import Precision

    try:
        Precision.parse(adapt.head_precision)
    except InputError as exc:
        raise GridError("adapt.head_precision", repr(adapt.head_precision), str(exc)) from exc
    return Study(
        name=name,
        pairs=tuple(pairs),
        models=tuple(model),
        ks=tuple(dict.fromkeys(k)),
        sizes=tuple(dict.fromkeys(None if s == ALL else int(s) for s in size)),
        strategies=tuple(dict.fromkeys(strategy)),
        seeds=tuple(dict.fromkeys(int(s) for s in seed)),
        data=data,
        adapt=adapt,
        source=source,
        origin=origin,
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _require_list(field_name: str, values, valid, expected: str) -> None:
    if not values:
        raise GridError(field_name, "empty list", f"a list of {expected}")
    for value in values:
        if not valid(value):
            raise GridError(field_name, f"value {value!r}", expected)


def parse_list(text: str, option: str) -> list[int | str]:
    """A comma list of flags (``20,50,all``): integers stay integers, names stay names."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise InputError(f"{option}: expected a comma-separated list, got {text!r}")
    return [int(item) if item.lstrip("-").isdigit() else item for item in items]


def with_flags(study: Study | None, **flags: Any) -> Study:
    """``study`` (None: the default study) with the flags that are not None replacing its values:
    grid lists as comma text (``k="0,2,all"``), ``pairs`` and the settings objects as they are."""
    grid = {key: parse_list(value, f"--{key}") for key, value in flags.items() if key in GRID_KEYS and value}
    rest = {key: value for key, value in flags.items() if key not in GRID_KEYS and value is not None}
    if study is None:
        return make_study(**grid, **rest)
    current = {
        "name": study.name,
        "pairs": study.pairs,
        "model": study.models,
        "k": study.ks,
        "size": [ALL if s is None else s for s in study.sizes],
        "strategy": study.strategies,
        "seed": study.seeds,
        "data": study.data,
        "adapt": study.adapt,
        "source": study.source,
        "origin": study.origin,
    }
    return make_study(**{**current, **grid, **rest})
