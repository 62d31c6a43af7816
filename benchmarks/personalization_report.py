"""On-device personalization on the synthetic domains: a base trained on the waist, a new 4-class head
trained through the TF-free runtime on a few labelled wrist windows of one user, against the generic
(waist) model on that user's wrist data.

For every held-out subject: the first ``--per-class`` wrist windows of each class are the adaptation
set; the subject's remaining wrist windows of those classes are the evaluation set. The generic model
answers with its most probable of the four classes (a fair restriction of its 12-way output).

    python benchmarks/personalization_report.py --out runs/personalization.json [--per-class 20]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from har_edge.data.splits import apply_normalizer, split_by_subject
from har_edge.data.synthetic import SyntheticConfig, generate
from har_edge.data.windows import WindowConfig, make_windows
from har_edge.export import bundle_request, export_bundle
from har_edge.optimize.pipeline import Optimized, OptimizeOptions
from har_edge.runtime import Classifier, Personalizer
from har_edge.train import TrainConfig, train_model
from har_edge.types import ACC_CHANNELS

PERSONAL_CLASSES = ("WALKING", "SITTING", "STANDING", "LAYING")


def _windows(subjects: int, position: str):
    dataset = generate(SyntheticConfig(subjects=subjects, position=position))
    return make_windows(dataset, WindowConfig(channels=ACC_CHANNELS))[0]


def _adaptation_split(windows, subject: str, per_class: int, rng: np.random.Generator):
    """Indices of ``per_class`` random windows per personal class (adaptation) and the rest (evaluation)."""
    adapt, evaluate = [], []
    for name in PERSONAL_CLASSES:
        idx = np.flatnonzero((windows.subject == subject) & (windows.y == windows.class_names.index(name)))
        idx = idx[rng.permutation(len(idx))]
        adapt.extend(idx[:per_class])
        evaluate.extend(idx[per_class:])
    return np.array(adapt), np.array(evaluate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--subjects", type=int, default=30)
    parser.add_argument("--per-class", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    waist = _windows(args.subjects, "waist")
    splits = split_by_subject(waist, seed=args.seed)
    trained = train_model(splits, "dense", TrainConfig(seed=args.seed))
    normalized = apply_normalizer(splits, trained.normalizer)
    optimized = Optimized(trained.model, {})
    with tempfile.TemporaryDirectory() as tmp:
        generic = Classifier(
            export_bundle(
                bundle_request(optimized, trained.card, normalized, OptimizeOptions()), f"{tmp}/g"
            ).path
        )
        personal_options = OptimizeOptions(head_labels=PERSONAL_CLASSES, seed=args.seed)
        personal_path = export_bundle(
            bundle_request(optimized, trained.card, normalized, personal_options), f"{tmp}/p"
        ).path
        wrist = _windows(args.subjects, "wrist")
        rng = np.random.default_rng(args.seed)
        rows = []
        for subject in splits.test.subjects:
            adapt, evaluate = _adaptation_split(wrist, subject, args.per_class, rng)
            truth = np.array([wrist.class_names[k] for k in wrist.y[evaluate]])
            generic_p = generic.predict_proba(wrist.x[evaluate])
            personal_columns = [generic.labels.index(name) for name in PERSONAL_CLASSES]
            generic_pred = np.array(PERSONAL_CLASSES)[generic_p[:, personal_columns].argmax(axis=1)]
            personalizer = Personalizer(Classifier(personal_path), seed=args.seed)
            personalizer.add(wrist.x[adapt], [wrist.class_names[k] for k in wrist.y[adapt]])
            personalizer.fit(epochs=args.epochs)
            personalized = personalizer.evaluate(wrist.x[evaluate], truth.tolist())
            rows.append(
                {
                    "subject": subject,
                    "adaptation_windows": len(adapt),
                    "evaluation_windows": len(evaluate),
                    "generic_accuracy": float(np.mean(generic_pred == truth)),
                    "personalized_accuracy": personalized.accuracy,
                }
            )
    summary = {
        "classes": PERSONAL_CLASSES,
        "per_class": args.per_class,
        "generic_accuracy_mean": float(np.mean([r["generic_accuracy"] for r in rows])),
        "personalized_accuracy_mean": float(np.mean([r["personalized_accuracy"] for r in rows])),
        "subjects": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
