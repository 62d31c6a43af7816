"""The study file (TOML; every table and key is optional; without ``[[pair]]``, the default pairs)::

    [study]
    name = "waist-to-wrist"
    protocol = "gjoreski2019"
    split_seed = 0               # the subject split, fixed across the grid
    subjects = 10                # synthetic targets: subjects, labelled seconds per class, classes
    source_subjects = 24         # the synthetic source: a larger generic set
    seconds_per_activity = 30
    classes = ["WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING", "LAYING"]

    [source]                     # how each source model is trained (once per model and seed)
    epochs = 25
    trainer = "single"           # or "ray-train": data-parallel with Ray Train

    [adapt]                      # adaptation to the target (see har_edge.transfer.adapt)
    epochs = 15

    [[pair]]
    source = "synthetic:waist"
    target = "synthetic:wrist:smartwatch"
    # source_format / target_format = "hapt" ...; source_options / target_options = { ... } (loader
    # options; rate_hz = the data's own rate); source_channels / target_channels = "acc+gyro" ...
    [pair.mapping]               # source class = target class; unmapped classes are dropped
    WALKING = "WALKING"

    [grid]
    model = ["cnn"]
    k = [0, 2, "all"]            # transferred blocks; 0 is the baseline trained on the target only
    size = [20, 50, 100, 200, "all"]    # adaptation windows
    strategy = ["freeze", "finetune", "differential", "head-only"]
    seed = [0, 1, 2]

Unknown tables or keys and bad values are ``DataFormatError``s naming the field and the valid values.
A class-mapping file for ``--mapping`` holds one ``[mapping]`` table (source class = target class).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from har_edge.errors import DataFormatError
from har_edge.tomlfile import check_table_keys, read_toml
from har_edge.transfer.grid import (
    GRID_KEYS,
    AdaptSettings,
    DataSettings,
    Domain,
    GridError,
    Pair,
    SourceSettings,
    Study,
    make_study,
)
from har_edge.transfer.protocol import LabelMapping


def load_mapping(path: str | Path) -> LabelMapping:
    """The ``[mapping]`` table of a TOML file as a ``LabelMapping``."""
    path = Path(path)
    document = read_toml(path, "class-mapping file")
    check_table_keys(path, "", document, {"mapping": dict})
    return _mapping(path, "", document.get("mapping", {}))


def _mapping(path: Path, prefix: str, table: dict) -> LabelMapping:
    for source, target in table.items():
        if not isinstance(target, str):
            raise DataFormatError(
                path,
                f"mapping of {source!r}",
                field=f"{prefix}mapping.{source}",
                expected="a target class name (string)",
            )
    if not table:
        raise DataFormatError(
            path, "empty mapping", field=f"{prefix}mapping", expected='source = "target" lines'
        )
    return LabelMapping(tuple(table.items()))


# --- reading -----------------------------------------------------------------------------------------

_TABLES = {"study": dict, "source": dict, "adapt": dict, "pair": list, "grid": dict}
_STUDY_KEYS = {
    "name": str,
    "protocol": str,
    "split_seed": int,
    "subjects": int,
    "source_subjects": int,
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
    "source_channels": str,
    "target_channels": str,
    "mapping": dict,
}


def _settings_keys(cls) -> dict[str, type]:
    return {f.name: type(f.default) for f in cls.__dataclass_fields__.values()}


def load_study(path: str | Path) -> Study:
    """Read and check a study file; unknown tables or keys and bad values are ``DataFormatError``s
    naming the field and listing the valid values."""
    path = Path(path)
    document = read_toml(path, "study file")
    check_table_keys(path, "", document, _TABLES)
    study = document.get("study", {})
    check_table_keys(path, "study.", study, _STUDY_KEYS)
    source, adapt = document.get("source", {}), document.get("adapt", {})
    check_table_keys(path, "source.", source, _settings_keys(SourceSettings))
    check_table_keys(path, "adapt.", adapt, _settings_keys(AdaptSettings))
    pairs = tuple(_pair(path, i, table) for i, table in enumerate(document.get("pair", [])))
    grid = document.get("grid", {})
    check_table_keys(path, "grid.", grid, {key: list for key in GRID_KEYS})
    data_fields = {k: tuple(v) if k == "classes" else v for k, v in study.items() if k != "name"}
    try:
        return make_study(
            name=study.get("name", path.stem),
            pairs=pairs or None,
            data=DataSettings(**data_fields),
            adapt=AdaptSettings(**adapt),
            source=SourceSettings(**source),
            origin=str(path),
            **{key: grid[key] for key in GRID_KEYS if key in grid},
        )
    except GridError as exc:
        raise DataFormatError(path, exc.problem, field=exc.field, expected=exc.expected) from exc


def _pair(path: Path, index: int, table: Any) -> Pair:
    prefix = f"pair[{index}]."
    if not isinstance(table, dict):
        raise DataFormatError(path, "a pair is a table", field=f"pair[{index}]", expected="[[pair]]")
    check_table_keys(path, prefix, table, _PAIR_KEYS)
    for key in ("source", "target"):
        if key not in table:
            raise DataFormatError(path, "missing", field=prefix + key, expected="a data spec or path")
    mapping = table.get("mapping")
    return Pair(
        Domain(
            table["source"],
            table.get("source_format"),
            tuple(sorted(table.get("source_options", {}).items())),
            table.get("source_channels"),
        ),
        Domain(
            table["target"],
            table.get("target_format"),
            tuple(sorted(table.get("target_options", {}).items())),
            table.get("target_channels"),
        ),
        LabelMapping() if mapping is None else _mapping(path, prefix, mapping),
    )
