"""PAMAP2 Physical Activity Monitoring, Protocol folder: ``subjectNNN.dat`` files of three IMUs at 100 Hz."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from har_edge.data.formats.records import class_indices, make_recording, require_increasing, stack_columns
from har_edge.data.formats.text import XYZ, Field, read_table, require_choice, require_file
from har_edge.errors import DataFormatError
from har_edge.types import ACC_CHANNELS, GYRO_CHANNELS, UNLABELLED, Dataset, Recording

PAMAP2_RATE_HZ = 100.0


PAMAP2_IMUS: tuple[str, ...] = ("hand", "chest", "ankle")


PAMAP2_ACTIVITIES: Mapping[int, str] = {
    1: "lying",
    2: "sitting",
    3: "standing",
    4: "walking",
    5: "running",
    6: "cycling",
    7: "Nordic walking",
    9: "watching TV",
    10: "computer work",
    11: "car driving",
    12: "ascending stairs",
    13: "descending stairs",
    16: "vacuum cleaning",
    17: "ironing",
    18: "folding laundry",
    19: "house cleaning",
    20: "playing soccer",
    24: "rope jumping",
}


PAMAP2_CLASSES: tuple[str, ...] = tuple(PAMAP2_ACTIVITIES.values())


_PAMAP2_IMU_COLUMNS = (
    "temperature",
    *(f"{sensor}_{axis}" for sensor in ("acc16", "acc6", "gyro", "mag") for axis in XYZ),
    *(f"orientation{i}" for i in range(4)),
)


_PAMAP2_FIELDS = (
    Field("timestamp", "f8"),
    Field("activity_id", "i8"),
    Field("heart_rate"),
    *(Field(f"{imu}_{column}") for imu in PAMAP2_IMUS for column in _PAMAP2_IMU_COLUMNS),
)


_PAMAP2_LABELS: Mapping[int, int] = {id_: i for i, id_ in enumerate(PAMAP2_ACTIVITIES)} | {0: UNLABELLED}


_PAMAP2_FILE = re.compile(r"subject(\d+)\.dat")


def load_pamap2(path_or_dir: str | Path, *, imu: str = "hand", gyro: bool = True) -> Dataset:
    """Load PAMAP2 Protocol ``subjectNNN.dat`` files (a file, or every such file of a folder) at 100 Hz.

    One recording per file, subject from the file name ("101"). Channels: the chosen IMU's ±16 g
    accelerometer (m/s²) and, with ``gyro``, its gyroscope (rad/s); NaN (dropped packets) stays NaN.
    Activity 0 (transient) is UNLABELLED; class names follow ``PAMAP2_ACTIVITIES`` in id order.
    """
    require_choice("imu", imu, PAMAP2_IMUS)
    sensors = ("acc16", "gyro") if gyro else ("acc16",)
    columns = [f"{imu}_{sensor}_{axis}" for sensor in sensors for axis in XYZ]
    channels = ACC_CHANNELS + (GYRO_CHANNELS if gyro else ())
    recordings = tuple(
        _read_pamap2_subject(path, columns, channels, imu) for path in _pamap2_files(Path(path_or_dir))
    )
    return Dataset("pamap2", recordings, channels, PAMAP2_CLASSES)


def _pamap2_files(path: Path) -> list[Path]:
    if not path.is_dir():
        return [require_file(path)]
    files = sorted(p for p in path.iterdir() if _PAMAP2_FILE.fullmatch(p.name))
    if not files:
        raise DataFormatError(path, "no subjectNNN.dat files", expected="the PAMAP2 Protocol folder")
    return files


def _read_pamap2_subject(path: Path, columns: list[str], channels: tuple[str, ...], imu: str) -> Recording:
    table = read_table(path, _PAMAP2_FIELDS)
    times_s = table.columns["timestamp"]
    require_increasing(path, times_s, table.lines, field="timestamp")
    ids, id_codes = np.unique(table.columns["activity_id"], return_inverse=True)
    labels = class_indices(path, id_codes, ids.tolist(), table.lines, _PAMAP2_LABELS, field="activity_id")
    match = _PAMAP2_FILE.fullmatch(path.name)
    return make_recording(
        stack_columns(table, columns),
        times_s,
        labels,
        subject=match[1] if match else path.stem,
        channels=channels,
        class_names=PAMAP2_CLASSES,
        nominal_rate_hz=PAMAP2_RATE_HZ,
        source=str(path),
        domain=imu,
    )
