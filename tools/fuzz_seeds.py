"""Seed files of the fuzz campaign (``tools/fuzz.py``): a small valid file of every surface."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fuzz_cases import GOLDEN


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _rows(values: np.ndarray) -> str:
    return "".join(" ".join(f"{v:.6f}" for v in row) + "\n" for row in values)


def build_seeds(root: Path) -> dict[str, Path]:
    """Small valid files of every surface (data formats, a report and budgets) under ``root``.
    The checkpoint seed needs an interpreter and is made by ``write_checkpoint_seed`` in a child."""
    rng = np.random.default_rng(0)
    seeds = {}
    hapt = root / "hapt"
    for exp, n in ((1, 120), (2, 80)):
        _write(hapt / f"acc_exp{exp:02d}_user{exp + 10:02d}.txt", _rows(rng.normal(0, 1, (n, 3))))
        _write(hapt / f"gyro_exp{exp:02d}_user{exp + 10:02d}.txt", _rows(rng.normal(0, 0.5, (n, 3))))
    names = ("WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING", "LAYING")
    _write(hapt / "activity_labels.txt", "".join(f"{i} {name}\n" for i, name in enumerate(names, 1)))
    seeds["hapt"] = _write(hapt / "labels.txt", "1 11 5 11 30\n1 11 2 50 60\n2 12 4 1 80\n").parent
    t0 = 1_424_696_633_908_000_000
    lines = [
        f"{i},{(t0 + i * 5_000_000) // 1_000_000},{t0 + i * 5_000_000},{x:.6f},{y:.6f},{z:.6f},a,nexus4,"
        f"nexus4_1,{'stand' if i % 2 else 'null'}\n"
        for i, (x, y, z) in enumerate(rng.normal(0, 3, (30, 3)))
    ]
    header = "Index,Arrival_Time,Creation_Time,x,y,z,User,Model,Device,gt\n"
    seeds["hhar"] = _write(root / "hhar" / "Phones_accelerometer.csv", header + "".join(lines))
    t_wisdm = 49_105_962_326_000
    records = [f"33,Walking,{t_wisdm + i * 50_000_000},{i / 3:.3f},{-i / 7:.3f},0.5;" for i in range(40)]
    seeds["wisdm"] = _write(root / "wisdm" / "WISDM_raw.txt", "\n".join(records) + "\n")
    table = rng.normal(0, 2, (40, 54))
    table[:, 0] = 5.64 + np.arange(40) * 0.01
    table[:, 1] = np.repeat((0, 1, 4, 24), 10)
    pamap2 = [f"{row[0]:.2f} {int(row[1])} " + " ".join(f"{v:.5f}" for v in row[2:]) for row in table]
    seeds["pamap2"] = _write(root / "pamap2" / "subject101.dat", "\n".join(pamap2) + "\n")
    uea_header = (
        "@problemName Toy\n@timeStamps false\n@missing true\n@univariate false\n@dimensions 2\n"
        "@equalLength true\n@seriesLength 4\n@classLabel true walk sit run\n@data\n"
    )
    cases = "1,2,3,4:5,6,7,8:sit\n0.5,0.5,0.5,0.5:1e1,2,3,4:run\n"
    seeds["uea"] = _write(root / "uea" / "toy.ts", uea_header + cases)
    csv_rows = [f"{20 * i},{i / 10:.2f},0.0,1.0" for i in range(20)]
    seeds["csv"] = _write(root / "csv" / "my_data.csv", "t_ms,ax,ay,az\n" + "\n".join(csv_rows) + "\n")
    seeds["report"] = _write_report(root / "report.json")
    seeds["budgets"] = _write(
        root / "budgets.toml",
        "[budget.desktop]\nmax_size_bytes = 40000\nmax_latency_us_p50 = 200\nmin_accuracy = 0.9\n",
    )
    seeds["checkpoint"] = root / "seed.ckpt"
    return seeds


def _write_report(path: Path) -> Path:
    from har_edge.bench.report import Report, report_json
    from har_edge.bench.results import SCHEMA_VERSION, ResultRow

    figures = {
        "size_bytes": 30_000, "gzip_bytes": 24_000, "latency_us_p50": 150.0, "latency_us_p90": 180.0,
        "latency_norm_p50": 1.5, "accuracy": 0.92, "macro_f1": 0.91, "accuracy_drop_pp": 0.4,
        "provenance": {"latency": "measured"},
    }  # fmt: skip
    rows = [ResultRow(variant=v, target="desktop", **figures) for v in ("int8", "float32")]
    report = Report(
        schema_version=SCHEMA_VERSION,
        created_utc="2025-01-01T00:00:00Z",
        git_commit=None,
        machine={"platform": "Linux-test-x86_64", "cpu_count": 4},
        tool_versions={"har-edge": "0.1.0"},
        source="fuzz seed",
        calibration_us_p50=100.0,
        results=tuple(rows),
    )
    path.write_text(report_json(report), encoding="utf-8")
    return path


def write_checkpoint_seed(path: Path) -> None:
    """A checkpoint of the golden bundle's head (run in a child: it creates interpreters)."""
    from har_edge.runtime.classifier import Classifier
    from har_edge.runtime.personalize import Personalizer

    Personalizer(Classifier(GOLDEN)).save(path)
