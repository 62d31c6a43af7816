"""``har-edge bench``: a bundle or a model folder -> variants -> every target -> a report.

A model folder gives every variant with its accuracy loss on the held-out test subjects (the card
records the training data, so the same split is rebuilt). A bundle is one variant; its accuracy is
measured only when test data is given (``data``: all its labelled windows), with no float32 reference.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from har_edge.bench.measure import measure_variants
from har_edge.bench.report import Report, build_report
from har_edge.bench.results import ResultRow, VariantFacts
from har_edge.bench.variants import ALL_VARIANTS, Variant, bundle_artifact, model_variants
from har_edge.errors import InputError
from har_edge.runtime.benchmark import calibration_us
from har_edge.targets.base import Target
from har_edge.tflite_info import gzip_size


def is_bundle(path: Path) -> bool:
    return (path / "manifest.json").is_file()


def is_model_folder(path: Path) -> bool:
    return (path / "card.json").is_file() and (path / "model.keras").is_file()


def bench_path(
    path: str | Path,
    targets: Sequence[Target],
    *,
    variants: Sequence[str] = ALL_VARIANTS,
    data: str | None = None,
    fine_tune_epochs: int = 6,
    seed: int = 0,
    progress: bool = True,
) -> Report:
    """Benchmark a bundle folder or a model folder on ``targets``."""
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="har-edge-bench-") as workdir:
        if is_bundle(path):
            built = [bundle_variant(path, data)]
        elif is_model_folder(path):
            from har_edge.optimize.pipeline import load_for_optimize

            model, card, splits = load_for_optimize(path)
            built = model_variants(
                model,
                card,
                splits,
                variants,
                workdir=Path(workdir),
                fine_tune_epochs=fine_tune_epochs,
                seed=seed,
                on_step=_announce if progress else lambda name: None,
            )
        else:
            raise InputError(
                f"{path}: neither a bundle (manifest.json) nor a model folder (card.json + model.keras)"
            )
        return report_for(built, targets, source=str(path), progress=progress)


def report_for(
    built: Sequence[Variant], targets: Sequence[Target], *, source: str, progress: bool = True
) -> Report:
    """Measure ``built`` variants on ``targets`` (a progress bar per row) and build the report."""
    from tqdm.auto import tqdm

    calibration = calibration_us().p50_us
    with tqdm(total=len(built) * len(targets), desc="benchmark", unit="row", disable=not progress) as bar:

        def advance(row: ResultRow) -> None:
            bar.set_postfix_str(f"{row.variant} on {row.target}")
            bar.update(1)

        rows = measure_variants(built, targets, calibration=calibration, on_row=advance)
    return build_report(
        rows, source=source, calibration_us_p50=calibration, settings={"targets": [t.name for t in targets]}
    )


def bundle_variant(path: Path, data: str | None = None) -> Variant:
    """A bundle as one variant named after its optimization (e.g. ``bundle:pruned50+int8``)."""
    from har_edge.runtime.bundle import open_bundle
    from har_edge.runtime.model_checks import probe_bundle

    bundle = open_bundle(path)
    probe_bundle(bundle)  # untrusted models: a crash of a test run in a child is an InputError
    artifact = bundle_artifact(path)
    manifest = bundle.manifest
    sparsity = manifest.optimization.get("sparsity_target")
    pruning = f"pruned{round(sparsity * 100)}+" if sparsity else ""
    name = f"bundle:{pruning}{manifest.base_precision}"
    accuracy = _bundle_accuracy(path, data) if data else {}
    facts = VariantFacts(
        variant=name,
        size_bytes=artifact.size_bytes,
        gzip_bytes=gzip_size(artifact.model_bytes) + gzip_size(artifact.head_bytes or b""),
        model=manifest.architecture,
        precision=manifest.base_precision,
        sparsity=sparsity,
        split_point=manifest.split_layer,
        notes=(f"accuracy on all labelled windows of {data}",) if data else (),
        **accuracy,
    )
    return Variant(facts, artifact)


def _bundle_accuracy(path: Path, data: str) -> dict[str, float]:
    from har_edge.data import load_dataset
    from har_edge.data.windows import WindowConfig, make_windows
    from har_edge.metrics import classification_metrics
    from har_edge.runtime.classifier import Classifier

    classifier = Classifier(path)
    m = classifier.manifest
    config = WindowConfig(rate_hz=m.rate_hz, window=m.window, hop=m.hop, channels=m.channels)
    windows, _ = make_windows(load_dataset(data), config)
    names = np.asarray(windows.class_names)[windows.y]
    known = np.isin(names, classifier.labels)
    if not known.any():
        raise InputError(f"{data}: no windows with the bundle's labels {list(classifier.labels)}")
    lookup = {label: k for k, label in enumerate(classifier.labels)}
    truth = np.array([lookup[n] for n in names[known]])
    predicted = classifier.predict_proba(windows.x[known]).argmax(axis=1)
    metrics = classification_metrics(truth, predicted, classifier.labels)
    return {"accuracy": metrics.accuracy, "macro_f1": metrics.macro_f1}


def _announce(name: str) -> None:
    print(f"variant {name} ...", flush=True)
