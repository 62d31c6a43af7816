"""The sweep file (TOML) and its grid points, each with the config hash that names its cache entry::

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
    structure = ["unstructured", "block", "unit"]   # optional (default unstructured): optimize --structure

Unknown tables or keys, values of the wrong type, and models, split points, precisions or targets that do not
exist are ``DataFormatError``s naming the field.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from har_edge.errors import DataFormatError, InputError
from har_edge.optimize.structure import STRUCTURES
from har_edge.tomlfile import check_table_keys, read_toml

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
OPTIONAL_GRID_KEYS = {"structure": str}  # a list when given; default ["unstructured"]
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
    structure: str = "unstructured"

    @property
    def variant(self) -> str:
        pruned = "" if self.structure == "unstructured" else f"-{self.structure.replace(':', '')}"
        name = f"{self.train.model}-s{round(self.sparsity * 100)}{pruned}-{self.precision}"
        return f"{name}@{self.split_point}" if self.split_point else name

    def to_dict(self) -> dict[str, Any]:
        data = {**asdict(self), "targets": list(self.targets)}
        if self.structure == "unstructured":  # the points of sweeps written before structures keep their hash
            del data["structure"]
        return data

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
    structures: tuple[str, ...] = ("unstructured",)

    def points(self) -> list[SweepPoint]:
        """The grid; unpruned points (sparsity 0) once, whatever the structures."""
        points = []
        for m, s, st, p, sp in itertools.product(
            self.models, self.sparsities, self.structures, self.precisions, self.split_points
        ):
            if s == 0 and st != self.structures[0]:
                continue
            structure = "unstructured" if s == 0 else st
            points.append(
                SweepPoint(
                    replace(self.train, model=m), s, p, sp, self.targets, self.fine_tune_epochs, structure
                )
            )
        return points


def config_hash(config: dict[str, Any]) -> str:
    """A stable 16-hex-digit hash of a JSON-able config (sorted keys)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def load_sweep(path: str | Path) -> SweepConfig:
    """Read and check a sweep file; unknown tables or keys are errors listing the valid ones."""
    from har_edge import models
    from har_edge.optimize.quantize import Precision
    from har_edge.targets import known_target_names, resolve_targets

    path = Path(path)
    document = read_toml(path, "sweep file")
    check_table_keys(path, "", document, {"sweep": dict, "grid": dict})
    sweep, grid = document.get("sweep", {}), document.get("grid")
    if grid is None:
        raise DataFormatError(
            path, "missing table", field="grid", expected=f"[grid] with {', '.join(GRID_KEYS)}"
        )
    check_table_keys(path, "sweep.", sweep, SWEEP_KEYS)
    check_table_keys(path, "grid.", grid, {key: list for key in {**GRID_KEYS, **OPTIONAL_GRID_KEYS}})
    lists = {key: _grid_list(path, grid, key, kind) for key, kind in GRID_KEYS.items()}
    structures = _grid_list(path, grid, "structure", str) if "structure" in grid else ["unstructured"]
    for value in structures:
        if value not in STRUCTURES:
            raise DataFormatError(
                path, f"structure {value!r}", field="grid.structure", expected=", ".join(STRUCTURES)
            )
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
    _check_data_options(path, sweep)
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
        structures=tuple(dict.fromkeys(structures)),
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


def _check_data_options(path: Path, sweep: dict) -> None:
    """``subjects`` >= 1 (0 is not "all"), ``epochs`` >= 1, and a ``format`` the loaders know."""
    from har_edge.data.formats import FORMATS

    for key in ("subjects", "epochs"):
        if key in sweep and sweep[key] < 1:
            raise DataFormatError(
                path, f"{key} = {sweep[key]}", field=f"sweep.{key}", expected="an integer >= 1"
            )
    if "format" in sweep and sweep["format"] not in FORMATS:
        raise DataFormatError(
            path,
            f"unknown format {sweep['format']!r}",
            field="sweep.format",
            expected=", ".join(sorted(FORMATS)),
        )
