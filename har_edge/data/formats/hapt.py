"""UCI HAPT (Smartphone-Based Recognition of Human Activities and Postural Transitions): the ``RawData``
folder."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from har_edge.data.formats.records import make_recording, stack_columns
from har_edge.data.formats.text import XYZ, Field, read_table, require_dir
from har_edge.errors import DataFormatError
from har_edge.types import ACC_CHANNELS, GRAVITY_M_S2, GYRO_CHANNELS, LABEL_DTYPE, UNLABELLED, Dataset

HAPT_RATE_HZ = 50.0


_HAPT_ACC_FILE = re.compile(r"acc_exp(\d+)_user(\d+)\.txt")


_HAPT_LABEL_FIELDS = tuple(Field(name, "i8") for name in ("experiment", "user", "activity", "start", "end"))


@dataclass(frozen=True)
class _HaptExperiment:
    number: int
    user: int
    acc_path: Path
    samples: np.ndarray  # float32 (n, channels), already in m/s² and rad/s


def load_hapt(root: str | Path, *, gyro: bool = True) -> Dataset:
    """Load the UCI HAPT ``RawData`` folder: one 50 Hz recording per experiment, subject = user number ("1").

    Reads ``acc_expNN_userNN.txt`` (g, converted to m/s²), with ``gyro`` also ``gyro_expNN_userNN.txt``
    (rad/s), and ``labels.txt``; class names come from ``activity_labels.txt`` in ``root`` or, as in the
    original archive, its parent folder. Samples outside every labelled interval are UNLABELLED;
    overlapping intervals are an error. A partial copy (``labels.txt`` lists experiments whose files
    are absent) loads the experiments that are there and notes the missing ones.
    """
    root = require_dir(root)
    class_names = _read_hapt_class_names(root)
    experiments = [_read_hapt_experiment(root, acc_path, gyro) for acc_path in _hapt_acc_files(root)]
    tracks, absent = _hapt_label_tracks(root / "labels.txt", experiments, len(class_names))
    channels = ACC_CHANNELS + (GYRO_CHANNELS if gyro else ())
    recordings = tuple(
        make_recording(
            exp.samples,
            np.arange(len(exp.samples)) / HAPT_RATE_HZ,
            tracks[exp.number],
            subject=str(exp.user),
            channels=channels,
            class_names=class_names,
            nominal_rate_hz=HAPT_RATE_HZ,
            source=str(exp.acc_path),
            domain="waist",
        )
        for exp in experiments
    )
    notes = ()
    if absent:
        notes = (
            f"{root / 'labels.txt'}: lists {len(absent)} experiments without acc_exp files here (a partial "
            f"copy?): {', '.join(map(str, absent))}; loaded the {len(experiments)} present",
        )
    return Dataset("hapt", recordings, channels, class_names, notes=notes)


def _read_hapt_class_names(root: Path) -> tuple[str, ...]:
    candidates = [root / "activity_labels.txt", root.parent / "activity_labels.txt"]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        expected = " or ".join(map(str, candidates))
        raise DataFormatError(root, "activity_labels.txt not found", expected=expected)
    table = read_table(path, (Field("id", "i8"), Field("name", "text")))
    ids = table.columns["id"]
    wrong = np.flatnonzero(ids != np.arange(1, len(ids) + 1))
    if wrong.size:
        line = int(table.lines[wrong[0]])
        problem = f"activity id {ids[wrong[0]]}"
        raise DataFormatError(path, problem, line=line, field="id", expected="ids 1, 2, ... in order")
    return tuple(table.levels["name"][code] for code in table.columns["name"])


def _hapt_acc_files(root: Path) -> list[Path]:
    """The acc_expNN_userNN.txt files of ``root`` by experiment number; one per experiment."""
    by_number: dict[int, Path] = {}
    for path in sorted(root.iterdir()):
        match = _HAPT_ACC_FILE.fullmatch(path.name)
        if match is None:
            continue
        number = int(match[1])
        if number in by_number:
            raise DataFormatError(
                path,
                f"experiment {number} also has {by_number[number].name}",
                expected="one acc file per experiment",
            )
        by_number[number] = path
    if not by_number:
        raise DataFormatError(root, "no acc_expNN_userNN.txt files", expected="the HAPT RawData folder")
    return [by_number[number] for number in sorted(by_number)]


def _read_hapt_experiment(root: Path, acc_path: Path, gyro: bool) -> _HaptExperiment:
    fields = tuple(Field(axis) for axis in XYZ)
    parts = [stack_columns(read_table(acc_path, fields), XYZ) * np.float32(GRAVITY_M_S2)]
    if gyro:
        gyro_path = root / acc_path.name.replace("acc_", "gyro_", 1)
        if not gyro_path.exists():
            raise DataFormatError(
                gyro_path,
                f"gyroscope file of {acc_path.name} not found",
                expected="it, or gyro=False to load the accelerometer only",
            )
        parts.append(stack_columns(read_table(gyro_path, fields), XYZ))
        if len(parts[1]) != len(parts[0]):
            raise DataFormatError(
                gyro_path,
                f"{len(parts[1])} rows but {acc_path.name} has {len(parts[0])}",
                expected="one gyroscope row per accelerometer row",
            )
    number, user = map(int, _HAPT_ACC_FILE.fullmatch(acc_path.name).groups())
    return _HaptExperiment(number, user, acc_path, np.hstack(parts))


def _hapt_label_tracks(
    path: Path, experiments: Sequence[_HaptExperiment], n_classes: int
) -> tuple[dict[int, np.ndarray], list[int]]:
    """Per-experiment label tracks from ``labels.txt`` (1-based ids, 1-based inclusive sample ranges),
    and the experiments it lists that have no files."""
    tracks = {exp.number: np.full(len(exp.samples), UNLABELLED, dtype=LABEL_DTYPE) for exp in experiments}
    users = {exp.number: exp.user for exp in experiments}
    table = read_table(path, _HAPT_LABEL_FIELDS)
    columns = [table.columns[field.name].tolist() for field in _HAPT_LABEL_FIELDS] + [table.lines.tolist()]
    absent = sorted(set(table.columns["experiment"].tolist()) - set(tracks))
    for *row, line in zip(*columns, strict=True):
        if row[0] in absent:
            continue
        problem = _hapt_label_problem(row, tracks, users, n_classes)
        if problem is not None:
            message, field, expected = problem
            raise DataFormatError(path, message, line=line, field=field, expected=expected)
        exp, _, activity, start, end = row
        tracks[exp][start - 1 : end] = activity - 1
    return tracks, absent


def _hapt_label_problem(
    row: Sequence[int], tracks: Mapping[int, np.ndarray], users: Mapping[int, int], n_classes: int
) -> tuple[str, str, str] | None:
    """(problem, field, expected) of one labels.txt row (experiment, user, activity, start, end), or None."""
    exp, user, activity, start, end = row
    if user != users[exp]:
        return f"user {user} for experiment {exp}", "user", f"user {users[exp]}, as in its file names"
    if not 1 <= activity <= n_classes:
        return f"unknown activity id {activity}", "activity", f"1..{n_classes} (activity_labels.txt)"
    if not 1 <= start <= end:
        return f"interval {start}..{end}", "start", "1 <= start <= end"
    if end > len(tracks[exp]):
        return (
            f"interval ends at sample {end}, past the end of experiment {exp}",
            "end",
            f"at most {len(tracks[exp])}, its number of samples",
        )
    if np.any(tracks[exp][start - 1 : end] != UNLABELLED):
        return f"interval {start}..{end} overlaps an earlier one", "start", "disjoint intervals"
    return None
