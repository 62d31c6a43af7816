"""Small files in the exact real formats, written from synthetic data (so a model can learn them), seeded."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from har_edge.data.synthetic import SyntheticConfig, generate
from har_edge.data.windows import WindowConfig, make_windows

UEA_CLASSES = ("WALKING", "WALKING_UPSTAIRS", "SITTING", "LAYING")
UEA_LENGTH, UEA_RATE_HZ = 50, 10.0


@functools.cache
def _uea_windows():
    dataset = generate(SyntheticConfig(subjects=4, seconds_per_activity=30, classes=UEA_CLASSES, seed=3))
    windows, _ = make_windows(dataset, WindowConfig(rate_hz=UEA_RATE_HZ, window=UEA_LENGTH, hop=UEA_LENGTH))
    return windows


def write_uea_pair(folder: Path, *, train_per_class: int = 10, test_per_class: int = 5) -> tuple[Path, Path]:
    """``Synth_TRAIN.ts`` and ``Synth_TEST.ts``: 6 dimensions (acc, gyro), 50 samples per case (10 Hz),
    four classes, disjoint cases, no rate and no channel names (as in the archive)."""
    windows = _uea_windows()
    rng = np.random.default_rng(7)
    train, test = [], []
    for name in UEA_CLASSES:
        members = rng.permutation(np.flatnonzero(windows.y == windows.class_names.index(name)))
        train += members[:train_per_class].tolist()
        test += members[train_per_class : train_per_class + test_per_class].tolist()
    return (
        write_uea_cases(folder / "Synth_TRAIN.ts", windows, rng.permutation(train)),
        write_uea_cases(folder / "Synth_TEST.ts", windows, rng.permutation(test)),
    )


def write_uea_cases(path: Path, windows, index) -> Path:
    """The windows ``index`` (6 channels) as the cases of a .ts file, as the archive writes one."""
    header = (
        "#Synthetic motions, as the UEA archive writes them\n@problemName Synth\n@timeStamps false\n"
        "@missing false\n@univariate false\n@dimensions 6\n@equalLength true\n"
        f"@seriesLength {windows.window}\n@classLabel true {' '.join(windows.class_names)}\n@data\n"
    )
    lines = [
        ":".join(",".join(f"{v:.4f}" for v in windows.x[i, :, d]) for d in range(6))
        + f":{windows.class_names[windows.y[i]]}"
        for i in index
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "\n".join(lines) + "\n")
    return path


HHAR_HEADER = "Index,Arrival_Time,Creation_Time,x,y,z,User,Model,Device,gt\n"


def write_hhar_shuffled(path: Path, *, users=("a", "b", "c"), seconds: float = 20.0, seed: int = 0) -> dict:
    """A ``Phones_accelerometer.csv`` as the real one is: 100 Hz rows of two devices per user interleaved,
    2 % of each device's rows moved out of time order and 1 % repeating the previous row's
    Creation_Time (half exact copies). Returns the counts written."""
    rng = np.random.default_rng(seed)
    dataset = generate(
        SyntheticConfig(
            subjects=len(users),
            seconds_per_activity=seconds,
            classes=("WALKING", "SITTING"),
            rate_hz=100.0,
            gyroscope=False,
            seed=seed,
        )
    )
    gt = {"WALKING": "walk", "SITTING": "sit", None: "null"}
    rows, repeats = [], 0
    for user, rec in zip(users, dataset.recordings, strict=True):
        for device in ("nexus4_1", "s3_1"):
            t_ns = (1_424_696_633_908_000_000 + (rec.timestamps_s * 1e9).astype(np.int64)).tolist()
            device_rows = [
                [
                    t_ns[i],
                    *rec.samples[i],
                    user,
                    device.split("_")[0],
                    device,
                    gt[rec.class_names[rec.labels[i]]],
                ]
                for i in range(len(rec))
                if rec.labels[i] >= 0
            ]
            for i in rng.choice(np.arange(1, len(device_rows)), size=len(device_rows) // 100, replace=False):
                repeats += 1
                device_rows[i][0] = device_rows[i - 1][0]
                if i % 2:
                    device_rows[i][1:] = device_rows[i - 1][1:]
            for i in rng.choice(
                np.arange(5, len(device_rows) - 5), size=len(device_rows) // 50, replace=False
            ):
                device_rows[i], device_rows[i + 3] = device_rows[i + 3], device_rows[i]
            rows.append(device_rows)
    interleaved = [group[i] for i in range(max(map(len, rows))) for group in rows if i < len(group)]
    lines = [
        f"{k},{r[0] // 1_000_000},{r[0]},{r[1]:.6f},{r[2]:.6f},{r[3]:.6f},{r[4]},{r[5]},{r[6]},{r[7]}\n"
        for k, r in enumerate(interleaved)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HHAR_HEADER + "".join(lines))
    return {"rows": len(lines), "repeats": repeats}


def _name(recording, i: int) -> str | None:
    label = recording.labels[i]
    return recording.class_names[label] if label >= 0 else None
