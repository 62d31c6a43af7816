"""Every deployable variant of a trained model, with its size and its accuracy loss on the held-out
test subjects, ready for the targets: float32, float16, dynamic, int8, pruned 50/75/90 % + int8,
QAT + int8, and a bundle whose head was personalized per test subject.

All variants are scored on the same subject-disjoint test windows: accuracy, macro-F1, the drop vs
float32 in percentage points and top-1 agreement with float32. The personalized head is the exception
by necessity: it learns from the first 30 % (in time) of each test subject's windows of each
activity, so it and its float32 reference are scored on the remaining 70 % (stated in its notes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from har_edge import models
from har_edge.bench.results import VariantFacts
from har_edge.data.splits import Normalizer, Splits
from har_edge.errors import InputError
from har_edge.metrics import bootstrap_accuracy_interval, classification_metrics
from har_edge.optimize.pipeline import Optimized
from har_edge.runtime.interpreter import run_model
from har_edge.targets.base import Artifact
from har_edge.tflite_info import count_macs, gzip_size

WHOLE_MODEL = ("float32", "float16", "dynamic", "int8")
PRUNED = {"pruned50+int8": 0.5, "pruned75+int8": 0.75, "pruned90+int8": 0.9}
# The pruned variants prune 4x4 weight blocks: the structure the firmware's sparse kernels skip (unstructured
# zeros cost a microcontroller as much as any weight; see optimize/structure.py).
PRUNED_STRUCTURE = "block"
ALL_VARIANTS = (*WHOLE_MODEL, *PRUNED, "qat+int8", "personalized")
PERSONALIZE_FRACTION = 0.3
SAMPLE_WINDOWS = 16


@dataclass(frozen=True, eq=False)
class Variant:
    facts: VariantFacts
    artifact: Artifact


def parse_variant_names(names: str | Sequence[str]) -> tuple[str, ...]:
    """Variant names from a comma list or a sequence; ``float32`` is always included (the reference)."""
    wanted = [n.strip() for n in (names.split(",") if isinstance(names, str) else names) if n.strip()]
    unknown = [n for n in wanted if n not in ALL_VARIANTS]
    if unknown:
        raise InputError(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(ALL_VARIANTS)}")
    return tuple(n for n in ALL_VARIANTS if n in wanted or n == "float32")


@dataclass(frozen=True, eq=False)
class _Scorer:
    """Test-set scoring against the float32 predictions."""

    y: np.ndarray
    class_names: tuple[str, ...]
    reference: np.ndarray  # float32 top-1 per test window
    groups: np.ndarray  # the test subject of each window (the bootstrap's unit)
    scored_on: str = "the test windows"

    def facts(
        self, name: str, predicted: np.ndarray, size: int, gzip: int, mask=None, **extra
    ) -> VariantFacts:
        extra.setdefault("notes", (f"accuracy on {self.scored_on}",))
        mask = np.ones(len(self.y), bool) if mask is None else mask
        metrics = classification_metrics(self.y[mask], predicted[mask], self.class_names)
        reference = classification_metrics(self.y[mask], self.reference[mask], self.class_names)
        interval = bootstrap_accuracy_interval(predicted[mask] == self.y[mask], self.groups[mask])
        extra.setdefault("details", {})["accuracy_ci95"] = list(interval)
        return VariantFacts(
            variant=name,
            size_bytes=size,
            gzip_bytes=gzip,
            accuracy=metrics.accuracy,
            macro_f1=metrics.macro_f1,
            accuracy_drop_pp=100 * (reference.accuracy - metrics.accuracy),
            agreement_with_float32=float(np.mean(predicted[mask] == self.reference[mask])),
            **extra,
        )


@dataclass(frozen=True, eq=False)
class _Context:
    """What every variant of one model shares: test inputs, calibration windows, the float32 scorer."""

    model: object
    card: models.ModelCard
    splits: Splits
    test_x: np.ndarray
    calibration: np.ndarray
    sample: np.ndarray
    macs: int
    scorer: _Scorer

    @classmethod
    def of(cls, model, card: models.ModelCard, splits: Splits, seed: int) -> _Context:
        from har_edge.optimize.quantize import Precision, convert, representative_windows

        test_x = models.to_model_input(model, splits.test.x)
        float32 = convert(model, Precision.FLOAT32)
        return cls(
            model=model,
            card=card,
            splits=splits,
            test_x=test_x,
            calibration=representative_windows(models.to_model_input(model, splits.train.x), seed=seed),
            sample=test_x[:SAMPLE_WINDOWS].astype(np.float32),
            macs=count_macs(float32),
            scorer=_Scorer(
                splits.test.y,
                splits.test.class_names,
                run_model(float32, test_x).argmax(axis=1),
                splits.test.subject,
                scored_on=test_windows_description(card, splits),
            ),
        )

    def whole_model(self, name: str, keras_model, precision: str, sparsity: float) -> Variant:
        """``keras_model`` converted at ``precision``, plus the batch-1 file a microcontroller runs for int8
        (int8 in and out) and float32 (TFLM runs both; float16 and dynamic-range models it does not)."""
        from har_edge.optimize.quantize import Precision, convert

        tflite = convert(keras_model, precision, representative=self.calibration)
        mcu = None
        if precision == "int8":
            mcu = convert(
                keras_model, Precision.INT8, representative=self.calibration, int8_io=True, fixed_batch=True
            )
        elif precision == "float32":
            mcu = convert(keras_model, Precision.FLOAT32, fixed_batch=True)
        facts = self.scorer.facts(
            name,
            run_model(tflite, self.test_x).argmax(axis=1),
            len(tflite),
            gzip_size(tflite),
            model=self.card.architecture,
            precision=precision,
            sparsity=sparsity,
        )
        artifact = Artifact(
            variant=name,
            model_bytes=tflite,
            macs=self.macs,
            sample=self.sample,
            precision=precision,
            mcu_bytes=mcu,
            keras_call=lambda x, m=keras_model: m(x, training=False),
        )
        return Variant(facts, artifact)

    def raw_test(self) -> np.ndarray:
        """The test windows as sensors give them (a bundle normalizes on its own)."""
        normalizer = Normalizer.from_dict(self.card.normalization)
        return (self.splits.test.x * np.asarray(normalizer.std) + np.asarray(normalizer.mean)).astype(
            np.float32
        )


def test_windows_description(card: models.ModelCard, splits: Splits) -> str:
    test_spec = card.notes.get("data", {}).get("test_spec")
    if test_spec:
        return f"the {len(splits.test):,} labelled windows of the separate test data {test_spec}"
    units = {"subject": "subjects", "occurrence": "activity occurrences", "case": "cases"}[splits.grouping]
    subjects = f" (subjects {', '.join(splits.test.subjects)})" if splits.grouping == "subject" else ""
    return f"the {len(splits.test):,} test windows: held-out {units}, none used in training{subjects}"


def model_variants(
    model,
    card: models.ModelCard,
    splits: Splits,
    names: Sequence[str] = ALL_VARIANTS,
    *,
    workdir: Path,
    bundle: Path | None = None,
    prepared: Mapping[str, Optimized] | None = None,
    fine_tune_epochs: int = 6,
    seed: int = 0,
    on_step: Callable[[str], None] = lambda name: None,
) -> list[Variant]:
    """The ``names`` variants of ``model`` (trained on ``splits``, which must be normalized as in
    training). ``personalized`` personalizes ``bundle`` when given, else an int8 bundle of ``model``
    exported into ``workdir``. ``prepared`` maps a pruned or QAT variant name to a model already
    optimized with this function's settings (it is not optimized again). ``on_step(name)`` is called
    before each variant (progress)."""
    from har_edge.optimize.pipeline import OptimizeOptions, optimize_model

    prepared = dict(prepared or {})

    def optimized(name: str, options: OptimizeOptions) -> Optimized:
        return prepared[name] if name in prepared else optimize_model(model, card, splits, options)

    names = parse_variant_names(names)
    context = _Context.of(model, card, splits, seed)
    variants = []
    for name in WHOLE_MODEL:
        if name in names:
            on_step(name)
            variants.append(context.whole_model(name, model, name, 0.0))
    for name, sparsity in PRUNED.items():
        if name in names:
            on_step(name)
            options = OptimizeOptions(
                sparsity=sparsity, structure=PRUNED_STRUCTURE, fine_tune_epochs=fine_tune_epochs, seed=seed
            )
            pruned = optimized(name, options)
            variants.append(
                context.whole_model(name, pruned.model, "int8", pruned.record["sparsity_reached"])
            )
    if "qat+int8" in names:
        on_step("qat+int8")
        options = OptimizeOptions(qat=True, fine_tune_epochs=fine_tune_epochs, seed=seed)
        variants.append(context.whole_model("qat+int8", optimized("qat+int8", options).model, "int8", 0.0))
    if "personalized" in names:
        on_step("personalized")
        if bundle is None:
            bundle = workdir / "int8-bundle"
            _export_bundle(Optimized(model), context, OptimizeOptions(seed=seed), bundle)
        variants.append(personalized_variant(bundle, context, seed=seed))
    return variants


def point_variant(
    model,
    card: models.ModelCard,
    splits: Splits,
    *,
    sparsity: float,
    precision: str,
    split_point: str | None,
    name: str,
    structure: str = "unstructured",
    workdir: Path,
    fine_tune_epochs: int = 4,
    seed: int = 0,
) -> Variant:
    """One sweep point: ``model`` pruned to ``sparsity`` (0: as is) with ``structure``
    (``optimize.structure``), at ``precision``; the whole model when ``split_point`` is None, else a
    bundle split there (exported into ``workdir``) and scored through the runtime's ``Classifier``."""
    from har_edge.optimize.pipeline import Optimized, OptimizeOptions, optimize_model
    from har_edge.runtime.classifier import Classifier

    context = _Context.of(model, card, splits, seed)
    from har_edge.optimize.quantize import Precision

    options = OptimizeOptions(
        sparsity=sparsity,
        structure=structure,
        precision=Precision.parse(precision),
        split_at=split_point,
        fine_tune_epochs=fine_tune_epochs,
        seed=seed,
    )
    optimized = optimize_model(model, card, splits, options) if sparsity > 0 else Optimized(model)
    reached = optimized.record.get("sparsity_reached", 0.0)
    if split_point is None:
        return context.whole_model(name, optimized.model, precision, reached)
    _export_bundle(optimized, context, options, workdir)
    artifact = bundle_artifact(workdir, context.sample, variant=name)
    labels = np.asarray(Classifier(workdir).predict(context.raw_test()))
    facts = context.scorer.facts(
        name,
        _label_indices(labels, np.asarray(splits.test.class_names)),
        artifact.size_bytes,
        gzip_size(artifact.model_bytes) + gzip_size(artifact.head_bytes or b""),
        model=card.architecture,
        precision=precision,
        sparsity=reached,
        split_point=split_point,
    )
    return Variant(facts, replace(artifact, keras_call=None))


def bundle_artifact(bundle_path: Path, sample: np.ndarray | None = None, variant: str = "bundle") -> Artifact:
    """A bundle folder as one artifact: base + head bytes, base + head MACs, the MCU base if exported.
    ``sample`` (normalized model-input windows) defaults to seeded random windows of the base's shape."""
    from har_edge.runtime.bundle import MCU_BASE_FILE, open_bundle
    from har_edge.runtime.classifier import HeadSession

    opened = open_bundle(bundle_path)
    head = HeadSession(opened.head, num_threads=None)
    head_macs = sum(w.size for w, _ in head.weights().layers)
    if sample is None:
        m = opened.manifest
        shape = (m.window * len(m.channels),) if m.input_layout == "flat" else (m.window, len(m.channels))
        sample = np.random.default_rng(0).normal(size=(SAMPLE_WINDOWS, *shape)).astype(np.float32)
    return Artifact(
        variant=variant,
        model_bytes=opened.base,
        macs=count_macs(opened.base) + head_macs,
        sample=sample,
        precision=opened.manifest.base_precision,
        mcu_bytes=opened.files.get(
            MCU_BASE_FILE
        ),  # verified like the others; None unless the manifest lists it
        head_bytes=opened.head,
        bundle_path=Path(bundle_path),
    )


def personalized_variant(bundle_path: Path, context: _Context, *, seed: int) -> Variant:
    """Personalize the bundle's head per test subject (a fresh head each) and score it on each
    subject's later windows; see the module docstring."""
    from har_edge.runtime.bundle import open_bundle
    from har_edge.runtime.classifier import Classifier
    from har_edge.runtime.personalize import Personalizer

    manifest = open_bundle(bundle_path).manifest
    test, raw_test = context.splits.test, context.raw_test()
    names = np.asarray(test.class_names)
    predicted = np.full(len(test.y), -1)
    before = np.full(len(test.y), -1)
    evaluate = np.zeros(len(test.y), bool)
    for subject in np.unique(test.subject):
        adapt, held = _earlier_and_later(test, test.subject == subject)
        classifier = Classifier(bundle_path)
        before[held] = _label_indices(classifier.predict(raw_test[held]), names)
        personalizer = Personalizer(classifier, seed=seed)
        personalizer.add(raw_test[adapt], names[test.y[adapt]].tolist())
        personalizer.fit(seed=seed)
        predicted[held] = _label_indices(classifier.predict(raw_test[held]), names)
        evaluate[held] = True
    artifact = bundle_artifact(bundle_path, context.sample, variant="personalized")
    before_accuracy = float(np.mean(before[evaluate] == test.y[evaluate]))
    facts = context.scorer.facts(
        "personalized",
        predicted,
        artifact.size_bytes,
        gzip_size(artifact.model_bytes) + gzip_size(artifact.head_bytes or b""),
        mask=evaluate,
        model=manifest.architecture,
        precision=artifact.precision,
        split_point=manifest.split_layer,
        notes=(
            f"head personalized per test subject on the first {PERSONALIZE_FRACTION:.0%} of each "
            "subject's windows of each activity; scored (with its float32 reference) on the other "
            f"{1 - PERSONALIZE_FRACTION:.0%}; the bundle before personalization: {before_accuracy:.1%} "
            "on the same windows",
        ),
    )
    return Variant(facts, artifact)


def _earlier_and_later(windows, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the first ``PERSONALIZE_FRACTION`` (in time) of each class's chosen windows, and the
    rest: the wearer labels a little of every activity, then the head is scored on what follows."""
    earlier, later = [], []
    for label in np.unique(windows.y[chosen]):
        order = np.flatnonzero(chosen & (windows.y == label))
        order = order[np.lexsort((windows.start[order], windows.recording[order]))]
        n = max(1, round(len(order) * PERSONALIZE_FRACTION)) if len(order) > 1 else 0
        earlier.append(order[:n])
        later.append(order[n:])
    return np.concatenate(earlier), np.concatenate(later)


def _label_indices(labels: np.ndarray, class_names: np.ndarray) -> np.ndarray:
    lookup = {name: k for k, name in enumerate(class_names)}
    return np.array([lookup.get(label, -1) for label in labels])


def _export_bundle(optimized, context: _Context, options, folder: Path) -> None:
    from har_edge.export import bundle_request, export_bundle

    export_bundle(bundle_request(optimized, context.card, context.splits, options), folder, overwrite=True)
