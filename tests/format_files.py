"""Small files in each real format for the format tests, and the check that an error names its place."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from har_edge.errors import DataFormatError


def write_file(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def rows_text(values: np.ndarray) -> str:
    return "".join(" ".join(f"{v:.6f}" for v in row) + "\n" for row in values)


def assert_names_location(
    exc_info: pytest.ExceptionInfo, path: Path, *, line: int | None = None, field: str | None = None
):
    """The error names the file, and the line and field when given."""
    error = exc_info.value
    assert isinstance(error, DataFormatError)
    assert error.path == str(path) and str(path) in str(error)
    if line is not None:
        assert error.line == line and f"line {line}" in str(error)
    if field is not None:
        assert error.field == field and repr(field) in str(error)


HAPT_NAMES = ("WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING", "LAYING")


def write_hapt(root: Path, rng: np.random.Generator, *, lengths=(120, 80), labels: str | None = None) -> dict:
    """Write a RawData folder, one experiment per length (user = experiment + 10); return the raw arrays."""
    raw = {}
    for exp, n in enumerate(lengths, start=1):
        acc, gyro = rng.normal(0, 1, (n, 3)), rng.normal(0, 0.5, (n, 3))
        write_file(root / f"acc_exp{exp:02d}_user{exp + 10:02d}.txt", rows_text(acc))
        write_file(root / f"gyro_exp{exp:02d}_user{exp + 10:02d}.txt", rows_text(gyro))
        raw[exp] = (acc, gyro)
    write_file(root / "activity_labels.txt", "".join(f"{i} {name}\n" for i, name in enumerate(HAPT_NAMES, 1)))
    write_file(
        root / "labels.txt", labels if labels is not None else "1 11 5 11 30\n1 11 2 50 60\n2 12 4 1 80\n"
    )
    return raw


WISDM_STEP_NS = 50_000_000  # 20 Hz


def wisdm_line(user: int, activity: str, t_ns: int, xyz=(0.5, 9.8, -1.25)) -> str:
    return f"{user},{activity},{t_ns},{xyz[0]},{xyz[1]},{xyz[2]};"


def write_wisdm(path: Path, lines: list[str]) -> Path:
    return write_file(path, "\n".join(lines) + "\n")


def wisdm_run(user: int, activity: str, t0_ns: int, n: int) -> list[str]:
    return [wisdm_line(user, activity, t0_ns + i * WISDM_STEP_NS, (i, -i, 0.5)) for i in range(n)]


IMU_OFFSETS = {"hand": 3, "chest": 20, "ankle": 37}


def pamap2_table(rng, n: int = 40, activities=(0, 1, 4, 24)) -> np.ndarray:
    table = rng.normal(0, 2, (n, 54))
    table[:, 0] = 5.64 + np.arange(n) * 0.01
    table[:, 1] = np.repeat(activities, -(-n // len(activities)))[:n]
    table[:, 2] = np.nan
    table[::10, 2] = 104.0
    for offset in IMU_OFFSETS.values():
        table[:, offset + 13 : offset + 17] = np.nan  # orientation: invalid
    return table


def write_pamap2(path: Path, table: np.ndarray) -> Path:
    lines = [
        f"{row[0]:.2f} {int(row[1])} " + " ".join("NaN" if np.isnan(v) else f"{v:.5f}" for v in row[2:])
        for row in table
    ]
    return write_file(path, "\n".join(lines) + "\n")


UEA_HEADER = """# A two-dimensional toy problem
@problemName Toy
@timeStamps false
@missing true
@univariate false
@dimensions 2
@equalLength true
@seriesLength 4
@classLabel true walk sit run
@data
"""


def write_uea(path: Path, cases: list[str], header: str = UEA_HEADER) -> Path:
    return write_file(path, header + "\n".join(cases) + "\n")
