"""Read a pytest-benchmark JSON and print the runtime ratios issues 4 and 14 set goals for.

python benchmarks/ratios.py .benchmarks/runtime.json

Medians of one run; a per-window figure is a call's median divided by the windows it carries.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

CLASSIFIER = "test_classifier_single_window"
# (label, (numerator benchmark, windows per call), (denominator benchmark, windows per call), goal, check)
RATIOS = (
    (
        "Classifier / bare invoke (single window)",
        (CLASSIFIER, 1),
        ("test_bare_invoke_single_window", 1),
        "<= 1.2",
        lambda r: r <= 1.2,
    ),
    (
        "tf_keras model(x) / Classifier (single window)",
        ("test_keras_call_single_window", 1),
        (CLASSIFIER, 1),
        ">= 100",
        lambda r: r >= 100,
    ),
    (
        "StreamingClassifier per window (50 Hz chunks) / Classifier batch 1",
        ("test_streaming_one_window_in_50_hz_chunks", 1),
        (CLASSIFIER, 1),
        "<= 1.3",
        lambda r: r <= 1.3,
    ),
    (
        "Classifier per window at batch 8 / batch 1",
        ("test_classifier_batched_windows[8]", 8),
        (CLASSIFIER, 1),
        "< 1 (batching pays)",
        lambda r: r < 1,
    ),
    (
        "Classifier per window at batch 64 / batch 1",
        ("test_classifier_batched_windows[64]", 64),
        (CLASSIFIER, 1),
        "< 1 (batching pays)",
        lambda r: r < 1,
    ),
    (
        "Personalizer SGD step / numpy step (batch 32)",
        ("test_personalizer_sgd_step", 1),
        ("test_numpy_sgd_step", 1),
        "<= 1.5",
        lambda r: r <= 1.5,
    ),
    (
        "tf_keras train_on_batch / Personalizer SGD step",
        ("test_keras_train_on_batch", 1),
        ("test_personalizer_sgd_step", 1),
        ">= 50",
        lambda r: r >= 50,
    ),
)
PER_WINDOW = (
    ("bare invoke floor, batch 1", "test_bare_invoke_single_window", 1),
    ("Classifier batch 1", CLASSIFIER, 1),
    ("Classifier batch 8", "test_classifier_batched_windows[8]", 8),
    ("Classifier batch 64", "test_classifier_batched_windows[64]", 64),
    ("StreamingClassifier, 50 Hz chunks", "test_streaming_one_window_in_50_hz_chunks", 1),
)


def medians(report: dict) -> dict[str, float]:
    return {bench["name"]: bench["stats"]["median"] for bench in report["benchmarks"]}


def main(path: str) -> int:
    times = medians(json.loads(Path(path).read_text()))
    for label, (numerator, n_num), (denominator, n_den), goal, met in RATIOS:
        if numerator not in times or denominator not in times:
            print(f"{label}: not measured (goal {goal})")
            continue
        ratio = (times[numerator] / n_num) / (times[denominator] / n_den)
        print(f"{label}: {ratio:.2f} (goal {goal}: {'met' if met(ratio) else 'NOT met'})")
    print("per window:")
    for label, name, n in PER_WINDOW:
        if name in times:
            print(f"  {label}: {times[name] / n * 1e6:,.1f} us")
    for name, seconds in sorted(times.items()):
        print(f"  {name}: median {seconds * 1e6:,.1f} us per call")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
