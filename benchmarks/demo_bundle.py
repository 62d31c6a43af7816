"""The demo-like bundle the runtime benchmarks time: dense, int8 base split at 'headlayer', float head
with 1,600 features (synthetic data, 12 subjects, 5 epochs). Needs the ``train`` extra (TensorFlow)."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


def build_demo_bundle(folder: str | Path):
    """``(bundle, trained model, raw splits)`` with the bundle exported to ``folder``."""
    from har_edge.data.splits import apply_normalizer, split_by_subject
    from har_edge.data.synthetic import SyntheticConfig, generate
    from har_edge.data.windows import WindowConfig, make_windows
    from har_edge.export import bundle_request, export_bundle
    from har_edge.optimize.pipeline import Optimized, OptimizeOptions
    from har_edge.train import TrainConfig, train_model
    from har_edge.types import ACC_CHANNELS

    windows, _ = make_windows(generate(SyntheticConfig(subjects=12)), WindowConfig(channels=ACC_CHANNELS))
    splits = split_by_subject(windows, seed=0)
    trained = train_model(splits, "dense", TrainConfig(epochs=5))
    normalized = apply_normalizer(splits, trained.normalizer)
    request = bundle_request(
        Optimized(trained.model, {}), trained.card, normalized, OptimizeOptions(mcu_variant=False)
    )
    return export_bundle(request, Path(folder)), trained, splits
