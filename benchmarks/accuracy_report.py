"""Accuracy figures on the default synthetic set: dense, cnn and kNN on held-out subjects (waist), and
the cross-domain drop when the waist-trained dense model is tested on the wrist data of the same
held-out subjects.

    python benchmarks/accuracy_report.py --out runs/accuracy.json [--subjects 30] [--epochs 30]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from har_edge.baseline import KnnClassifier
from har_edge.data.splits import split_by_subject
from har_edge.data.synthetic import SyntheticConfig, generate
from har_edge.data.windows import WindowConfig, make_windows
from har_edge.train import TrainConfig, evaluate, train_model
from har_edge.types import ACC_CHANNELS


def _windows(subjects: int, position: str):
    dataset = generate(SyntheticConfig(subjects=subjects, position=position))
    return make_windows(dataset, WindowConfig(channels=ACC_CHANNELS))[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--subjects", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    waist = _windows(args.subjects, "waist")
    splits = split_by_subject(waist, seed=args.seed)
    config = TrainConfig(epochs=args.epochs, seed=args.seed)
    results: dict = {
        "subjects": args.subjects,
        "split_sizes": splits.sizes(),
        "test_subjects": splits.test.subjects,
    }

    for name in ("dense", "cnn"):
        started = time.perf_counter()
        trained = train_model(splits, name, config, progress=True)
        results[name] = {
            "test_accuracy": trained.test_metrics.accuracy,
            "test_macro_f1": trained.test_metrics.macro_f1,
            "epochs_run": len(trained.history["loss"]),
            "train_seconds": round(time.perf_counter() - started, 1),
            "params": trained.card.summary["params"],
        }
        if name == "dense":
            dense = trained

    knn = KnnClassifier.fit(splits.train).evaluate(splits.test)
    results["knn"] = {"test_accuracy": knn.accuracy, "test_macro_f1": knn.macro_f1}

    wrist_all = _windows(args.subjects, "wrist")
    test_subjects = set(splits.test.subjects)
    wrist = wrist_all.take([i for i, s in enumerate(wrist_all.subject) if s in test_subjects])
    wrist_metrics = evaluate(dense.model, wrist.with_x(dense.normalizer.apply(wrist.x)))
    results["dense_waist_to_wrist"] = {
        "waist_accuracy": results["dense"]["test_accuracy"],
        "wrist_accuracy": wrist_metrics.accuracy,
        "drop_pp": 100 * (results["dense"]["test_accuracy"] - wrist_metrics.accuracy),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
