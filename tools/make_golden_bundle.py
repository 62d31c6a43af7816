"""Write the small golden bundle that ``tests/test_tflite_runtime_compat.py`` runs without TensorFlow.

Trains a seeded ``dense`` model on a little synthetic data (3 accelerometer channels, 4 classes,
50-sample windows), exports an int8 bundle, and records reference outputs of the exported files in
``expected.npz``: raw windows, their true labels, the base's features and the head's probabilities.
Needs the ``train`` extra (TensorFlow). Rerun it only when the bundle format changes, and commit the
result. Seeded: with the same TensorFlow on the same machine a rerun writes identical .tflite files and
reference outputs; only the manifest's ``created_utc`` changes.

    python tools/make_golden_bundle.py [--out tests/golden/dense_int8]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from har_edge import models
from har_edge.data.splits import Splits, split_by_subject
from har_edge.data.synthetic import SyntheticConfig, generate
from har_edge.data.windows import WindowConfig, make_windows
from har_edge.export import ExportRequest, export_bundle
from har_edge.optimize.quantize import Precision, representative_windows
from har_edge.optimize.split import split, trainable_head_weights
from har_edge.runtime.bundle import Bundle
from har_edge.runtime.interpreter import load_interpreter, run_model
from har_edge.train import TrainConfig, TrainedModel, train_model
from har_edge.types import ACC_CHANNELS

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "tests" / "golden" / "dense_int8"
CLASSES = ("WALKING", "SITTING", "STANDING", "LAYING")
WINDOW = WindowConfig(window=50, hop=25, channels=ACC_CHANNELS)
SPLIT_LAYER = "headlayer"
REFERENCE_WINDOWS = 3  # per class
SEED = 0


def train() -> tuple[TrainedModel, Splits]:
    dataset = generate(
        SyntheticConfig(subjects=6, seconds_per_activity=30, classes=CLASSES, gyroscope=False, seed=SEED)
    )
    windows, _ = make_windows(dataset, WINDOW)
    splits = split_by_subject(windows, seed=SEED)
    return train_model(splits, "dense", TrainConfig(epochs=30, learning_rate=3e-3, seed=SEED)), splits


def export(trained: TrainedModel, splits: Splits, folder: Path) -> Bundle:
    parts = split(trained.model, SPLIT_LAYER, trained.card.split_points)
    train_x = models.to_model_input(parts.base, trained.normalizer.apply(splits.train.x))
    request = ExportRequest(
        base_model=parts.base,
        head=trainable_head_weights(parts.head),
        card=trained.card,
        split_layer=SPLIT_LAYER,
        feature_shape=parts.feature_shape,
        class_labels=trained.card.class_names,
        precision=Precision.INT8,
        representative=representative_windows(train_x, seed=SEED),
        mcu_variant=True,
    )
    return export_bundle(request, folder, overwrite=True)


def reference_outputs(bundle: Bundle, trained: TrainedModel, splits: Splits) -> dict[str, np.ndarray]:
    """A few test windows of every class and what the exported base and head make of them."""
    test = splits.test
    chosen = np.concatenate([np.flatnonzero(test.y == c)[:REFERENCE_WINDOWS] for c in np.unique(test.y)])
    raw = test.x[chosen]
    x = trained.normalizer.apply(raw).reshape(len(raw), -1)
    features = run_model(bundle.base, x).reshape(len(raw), -1)
    infer = load_interpreter(bundle.head).get_signature_runner("infer")
    return {
        "raw_windows": raw.astype(np.float32),
        "labels": test.y[chosen].astype(np.int64),
        "features": features,
        "probabilities": infer(features=features)["probabilities"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    out = parser.parse_args().out
    trained, splits = train()
    bundle = export(trained, splits, out)
    np.savez_compressed(out / "expected.npz", **reference_outputs(bundle, trained, splits))
    for path in sorted(out.iterdir()):
        print(f"{path}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
