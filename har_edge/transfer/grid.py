"""The study's definition: domains, source/target pairs, settings and the grid, from TOML or flags.

The study file (TOML; every table and key optional except at least one ``[[pair]]`` when given)::

    [study]
    name = "waist-to-wrist"
    protocol = "gjoreski2019"
    split_seed = 0               # the subject split, fixed across the grid
    subjects = 10                # synthetic domains: subjects, labelled seconds per class, classes
    seconds_per_activity = 30
    classes = ["WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING", "LAYING"]

    [source]                     # how each source model is trained (once per model and seed)
    epochs = 30
    trainer = "single"           # or "ray-train": data-parallel with Ray Train

    [adapt]                      # adaptation to the target (see har_edge.transfer.adapt)
    epochs = 30

    [[pair]]
    source = "synthetic:waist"
    target = "synthetic:wrist:smartwatch"
    # source_format / target_format = "hapt" ...; source_options / target_options = { ... }
    [pair.mapping]               # source class = target class; unmapped classes are dropped
    WALKING = "WALKING"

    [grid]
    model = ["cnn"]
    k = [0, 2, "all"]            # transferred blocks; 0 is the baseline trained on the target only
    size = [20, 50, 100, 200, "all"]    # adaptation windows
    strategy = ["freeze", "finetune", "differential", "head-only"]
    seed = [0, 1, 2]

Synthetic domains are generated with the study's subjects/classes and without the gyroscope; the target
draws other people than the source (generator seed + 1) unless its options say otherwise. ``head-only``
always transfers every block (it is the device's bundle), so it runs at k = all only.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from har_edge.errors import DataFormatError, InputError
from har_edge.transfer.protocol import PROTOCOLS, LabelMapping

STRATEGIES = ("freeze", "finetune", "differential", "head-only")
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
    spec: str
    format: str | None = None
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def name(self) -> str:
        return self.spec if self.format is None else f"{Path(self.spec).name} ({self.format})"

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, "format": self.format, "options": dict(self.options)}


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
    epochs: int = 30
    patience: int = 8
    batch_size: int = 64
    learning_rate: float = 1e-3
    trainer: str = "single"
    train_workers: int = 2


@dataclass(frozen=True)
class AdaptSettings:
    """``finetune``: ``warmup_epochs`` with the transferred blocks frozen, then everything at
    ``learning_rate * finetune_rate_factor``; ``differential``: transferred group j blocks before the
    new layers trains at ``learning_rate / differential_factor**j``; ``head-only``: ``head_epochs`` of
    the runtime's SGD on a ``head_precision`` bundle."""

    epochs: int = 30
    patience: int = 8
    batch_size: int = 32
    learning_rate: float = 1e-3
    warmup_epochs: int = 5
    finetune_rate_factor: float = 0.1
    differential_factor: float = 3.0
    head_epochs: int = 60
    head_precision: str = "int8"


@dataclass(frozen=True)
class DataSettings:
    protocol: str = "gjoreski2019"
    split_seed: int = 0
    subjects: int = 10
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


# --- reading -----------------------------------------------------------------------------------------

_TABLES = {"study": dict, "source": dict, "adapt": dict, "pair": list, "grid": dict}
_STUDY_KEYS = {
    "name": str,
    "protocol": str,
    "split_seed": int,
    "subjects": int,
    "seconds_per_activity": float,
    "classes": list,
    "data_seed": int,
}
_PAIR_KEYS = {
    "source": str,
    "target": str,
    "source_format": str,
    "target_format": str,
    "source_options": dict,
    "target_options": dict,
    "mapping": dict,
}
_GRID_KEYS = ("model", "k", "size", "strategy", "seed")


def _settings_keys(cls) -> dict[str, type]:
    return {f.name: type(f.default) for f in cls.__dataclass_fields__.values()}


def load_study(path: str | Path) -> Study:
    """Read and check a study file; unknown tables or keys and bad values are ``DataFormatError``s
    naming the field and listing the valid values."""
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text())
    except OSError as exc:
        raise InputError(f"cannot read study file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise DataFormatError(path, f"not valid TOML ({exc})") from exc
    _check_keys(path, "", document, _TABLES)
    study = document.get("study", {})
    _check_keys(path, "study.", study, _STUDY_KEYS)
    source, adapt = document.get("source", {}), document.get("adapt", {})
    _check_keys(path, "source.", source, _settings_keys(SourceSettings))
    _check_keys(path, "adapt.", adapt, _settings_keys(AdaptSettings))
    pairs = tuple(_pair(path, i, table) for i, table in enumerate(document.get("pair", [])))
    grid = document.get("grid", {})
    _check_keys(path, "grid.", grid, {key: list for key in _GRID_KEYS})
    data_fields = {k: tuple(v) if k == "classes" else v for k, v in study.items() if k != "name"}
    try:
        return make_study(
            name=study.get("name", path.stem),
            pairs=pairs or None,
            data=DataSettings(**data_fields),
            adapt=AdaptSettings(**adapt),
            source=SourceSettings(**source),
            origin=str(path),
            **{key: grid[key] for key in _GRID_KEYS if key in grid},
        )
    except _GridError as exc:
        raise DataFormatError(path, exc.problem, field=exc.field, expected=exc.expected) from exc


def _pair(path: Path, index: int, table: Any) -> Pair:
    prefix = f"pair[{index}]."
    if not isinstance(table, dict):
        raise DataFormatError(path, "a pair is a table", field=f"pair[{index}]", expected="[[pair]]")
    _check_keys(path, prefix, table, _PAIR_KEYS)
    for key in ("source", "target"):
        if key not in table:
            raise DataFormatError(path, "missing", field=prefix + key, expected="a data spec or path")
    mapping = table.get("mapping")
    if mapping is not None:
        bad = [k for k, v in mapping.items() if not isinstance(v, str)]
        if bad:
            raise DataFormatError(
                path,
                f"mapping of {bad[0]!r}",
                field=f"{prefix}mapping.{bad[0]}",
                expected="a target class name (string)",
            )
    return Pair(
        Domain(
            table["source"],
            table.get("source_format"),
            tuple(sorted(table.get("source_options", {}).items())),
        ),
        Domain(
            table["target"],
            table.get("target_format"),
            tuple(sorted(table.get("target_options", {}).items())),
        ),
        LabelMapping(None if mapping is None else tuple(mapping.items())),
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


# --- checking ----------------------------------------------------------------------------------------


class _GridError(InputError):
    def __init__(self, field_name: str, problem: str, expected: str) -> None:
        self.field, self.problem, self.expected = field_name, problem, expected
        super().__init__(f"{field_name}: {problem} (expected {expected})")


def make_study(
    *,
    name: str = "transfer",
    pairs: tuple[Pair, ...] | None = None,
    model: list | tuple = ("cnn",),
    k: list | tuple = (0, 2, ALL),
    size: list | tuple = (20, 50, 100, 200, ALL),
    strategy: list | tuple = STRATEGIES,
    seed: list | tuple = (0, 1, 2),
    data: DataSettings = DataSettings(),
    adapt: AdaptSettings = AdaptSettings(),
    source: SourceSettings = SourceSettings(),
    origin: str = "<defaults>",
) -> Study:
    """A checked ``Study`` (``InputError`` naming the field and the valid values); the defaults are the
    default study: cnn, k in {0, 2, all}, 20..all windows, every strategy, 3 seeds, ``DEFAULT_PAIRS``."""
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
        raise _GridError("study.protocol", repr(data.protocol), ", ".join(PROTOCOLS))
    if source.trainer not in TRAINERS:
        raise _GridError("source.trainer", repr(source.trainer), ", ".join(TRAINERS))
    for table, settings in (("source", source), ("adapt", adapt)):
        for key, value in asdict(settings).items():
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            if numeric and value <= 0 and not (key == "warmup_epochs" and value == 0):
                raise _GridError(f"{table}.{key}", repr(value), "a number > 0")
    if not 0 < adapt.finetune_rate_factor <= 1:
        raise _GridError("adapt.finetune_rate_factor", repr(adapt.finetune_rate_factor), "a factor in (0, 1]")
    from har_edge.optimize.quantize import Precision

    try:
        Precision.parse(adapt.head_precision)
    except InputError as exc:
        raise _GridError("adapt.head_precision", repr(adapt.head_precision), str(exc)) from exc
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
        raise _GridError(field_name, "empty list", f"a list of {expected}")
    for value in values:
        if not valid(value):
            raise _GridError(field_name, f"value {value!r}", expected)


def parse_list(text: str, option: str) -> list[int | str]:
    """A comma list of flags (``20,50,all``): integers stay integers, names stay names."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise InputError(f"{option}: expected a comma-separated list, got {text!r}")
    return [int(item) if item.lstrip("-").isdigit() else item for item in items]


def study_from_flags(**flags: Any) -> Study:
    """``make_study`` from CLI values (None = default), e.g. ``k="0,2,all"``."""
    lists = {
        key: parse_list(value, f"--{key}")
        for key, value in flags.items()
        if value is not None and key in _GRID_KEYS
    }
    return make_study(**lists, **{k: v for k, v in flags.items() if k not in _GRID_KEYS and v is not None})
