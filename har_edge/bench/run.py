"""``har-edge bench``: a bundle or a model folder -> variants -> every target -> a report.

A model folder gives every variant with its accuracy loss on the held-out test subjects (the card
records the training data, so the same split is rebuilt). A bundle is one variant; its accuracy is
measured only when test data is given (``data``: all its labelled windows), with no float32 reference.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from har_edge.bench.measure import measure_variants
from har_edge.bench.report import Report, build_report
from har_edge.bench.results import ResultRow, VariantFacts
from har_edge.bench.variants import ALL_VARIANTS, Variant, bundle_artifact, model_variants
from har_edge.errors import InputError
from har_edge.runtime.benchmark import calibrate
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
    data_format: str | None = None,
    data_options: dict[str, Any] | None = None,
    checkpoint: Path | None = None,
    fine_tune_epochs: int = 6,
    seed: int = 0,
    progress: bool = True,
) -> Report:
    """Benchmark a bundle folder or a model folder on ``targets``. A bundle's accuracy is measured on
    ``data`` (read with ``data_format`` and ``data_options``), with the head of ``checkpoint`` if given."""
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="har-edge-bench-") as workdir:
        if is_bundle(path):
            test_data = TestData(data, data_format, data_options or {}) if data else None
            built = [bundle_variant(path, test_data, checkpoint)]
        elif (data or checkpoint) and is_model_folder(path):
            raise InputError(
                "--data and --checkpoint apply to a bundle; a model folder is scored on its test split"
            )
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

    calibration = calibrate()
    with tqdm(total=len(built) * len(targets), desc="benchmark", unit="row", disable=not progress) as bar:

        def advance(row: ResultRow) -> None:
            bar.set_postfix_str(f"{row.variant} on {row.target}")
            bar.update(1)

        rows = measure_variants(built, targets, calibration=calibration, on_row=advance)
    return build_report(
        rows, source=source, calibration=calibration, settings={"targets": [t.name for t in targets]}
    )


@dataclass(frozen=True)
class TestData:
    """The data a bundle is scored on: a spec (``synthetic...`` or a path), its format and loader options."""

    spec: str
    fmt: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def same_as(self, record: dict[str, Any]) -> bool:
        """Whether this is the data a model was trained on (``record``: the bundle's evaluation record)."""
        ours = json.dumps([self.spec, self.fmt, self.options], sort_keys=True)
        return ours == json.dumps(
            [record.get("data"), record.get("format"), record.get("options")], sort_keys=True
        )


def bundle_variant(path: Path, data: TestData | None = None, checkpoint: Path | None = None) -> Variant:
    """A bundle as one variant named after its optimization (e.g. ``bundle:pruned50+int8``); with a
    ``checkpoint``, ``bundle:...+personalized``, scored with the checkpoint's head."""
    from har_edge.runtime.bundle import open_bundle
    from har_edge.runtime.model_checks import probe_bundle

    bundle = open_bundle(path)
    probe_bundle(bundle)  # untrusted models: a crash of a test run in a child is an InputError
    artifact = bundle_artifact(path)
    manifest = bundle.manifest
    sparsity = manifest.optimization.get("sparsity_target")
    pruning = f"pruned{round(sparsity * 100)}+" if sparsity else ""
    name = f"bundle:{pruning}{manifest.base_precision}" + ("+personalized" if checkpoint else "")
    accuracy, scored_on = _bundle_accuracy(path, data, checkpoint) if data else ({}, "")
    facts = VariantFacts(
        variant=name,
        size_bytes=artifact.size_bytes,
        gzip_bytes=gzip_size(artifact.model_bytes) + gzip_size(artifact.head_bytes or b""),
        model=manifest.architecture,
        precision=manifest.base_precision,
        sparsity=sparsity,
        split_point=manifest.split_layer,
        notes=(scored_on,) if data else (),
        **accuracy,
    )
    return Variant(facts, artifact)


def _bundle_accuracy(path: Path, data: TestData, checkpoint: Path | None) -> tuple[dict[str, float], str]:
    """Accuracy and macro-F1 of the bundle on ``data``, and which windows they were computed on: the
    training data's held-out test subjects (or cases) when ``data`` is the data the model was trained
    on, else every labelled window whose label the bundle knows."""
    from har_edge.data import load_dataset
    from har_edge.data.windows import WindowConfig, make_windows
    from har_edge.metrics import classification_metrics
    from har_edge.runtime.classifier import Classifier
    from har_edge.runtime.personalize import apply_checkpoint

    classifier = Classifier(path)
    if checkpoint is not None:
        apply_checkpoint(classifier, checkpoint)
    m = classifier.manifest
    config = WindowConfig(rate_hz=m.rate_hz, window=m.window, hop=m.hop, channels=m.channels)
    windows, _ = make_windows(load_dataset(data.spec, data.fmt, **data.options), config)
    names = np.asarray(windows.class_names)[windows.y]
    known = np.isin(names, classifier.labels)
    record = m.optimization.get("evaluation") or {}
    if data.same_as(record) and record.get("test_subjects") is not None:
        known &= np.isin(windows.subject, record["test_subjects"])
        which = (
            f"the held-out test {record.get('grouping', 'subject')}s of {data.spec} (none used in training)"
        )
    elif data.same_as(record):
        held_out = record.get("test_spec") or "a split by activity occurrence of one subject"
        which = f"{data.spec}, the training data, training windows included (held out: {held_out})"
    else:
        which = f"{data.spec}: every labelled window with a label the bundle knows"
        if not record:
            which += (
                " (the bundle does not record its training data: if it was trained on this data, its "
                "training windows are included)"
            )
    if not known.any():
        raise InputError(f"{data.spec}: no windows with the bundle's labels {list(classifier.labels)}")
    lookup = {label: k for k, label in enumerate(classifier.labels)}
    truth = np.array([lookup[n] for n in names[known]])
    predicted = classifier.predict_proba(windows.x[known]).argmax(axis=1)
    metrics = classification_metrics(truth, predicted, classifier.labels)
    scored_on = f"accuracy on {int(known.sum()):,} windows: {which}"
    return {"accuracy": metrics.accuracy, "macro_f1": metrics.macro_f1}, scored_on


def _announce(name: str) -> None:
    print(f"variant {name} ...", flush=True)
