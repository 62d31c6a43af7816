"""Classification metrics (numpy only, shared by Keras models, baselines and TFLite variants)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Metrics:
    """Accuracy, macro-F1 (mean over classes present in truth or predictions), micro-F1 and the
    confusion matrix (rows = true class, columns = predicted class)."""

    accuracy: float
    macro_f1: float
    micro_f1: float
    confusion: tuple[tuple[int, ...], ...]
    class_names: tuple[str, ...]
    n: int

    def to_dict(self) -> dict:
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "micro_f1": self.micro_f1,
            "n_windows": self.n,
            "class_names": list(self.class_names),
            "confusion_matrix": [list(row) for row in self.confusion],
        }


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, class_names: tuple[str, ...]) -> Metrics:
    k = len(class_names)
    if len(y_true) == 0:
        raise ValueError("cannot compute metrics on an empty set")
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    tp = np.diag(confusion).astype(np.float64)
    support, predicted = confusion.sum(axis=1), confusion.sum(axis=0)
    present = (support + predicted) > 0
    f1 = np.divide(2 * tp, support + predicted, out=np.zeros(k), where=present)
    accuracy = float(tp.sum() / len(y_true))
    # Single-label multi-class: micro precision = micro recall = accuracy, hence micro-F1 = accuracy.
    return Metrics(
        accuracy=accuracy,
        macro_f1=float(f1[present].mean()),
        micro_f1=accuracy,
        confusion=tuple(tuple(int(v) for v in row) for row in confusion),
        class_names=tuple(class_names),
        n=len(y_true),
    )


BOOTSTRAP_RESAMPLES = 1000


def bootstrap_accuracy_interval(
    correct: np.ndarray, groups: np.ndarray, *, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """A percentile bootstrap interval of accuracy: the test subjects (``groups``) are resampled with
    replacement, so the spread is the one a different draw of test people would give; with fewer than
    two groups the windows are resampled instead (an interval that ignores the windows' correlation, so
    too narrow). ``correct`` is one boolean per window."""
    correct = np.asarray(correct, dtype=np.float64)
    if correct.size == 0:
        raise ValueError("cannot bootstrap an empty set")
    _, group_index = np.unique(np.asarray(groups), return_inverse=True)
    if group_index.max(initial=0) < 1:
        group_index = np.arange(correct.size)
    n_groups = int(group_index.max()) + 1
    hits = np.bincount(group_index, weights=correct, minlength=n_groups)
    sizes = np.bincount(group_index, minlength=n_groups).astype(np.float64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_groups, size=(BOOTSTRAP_RESAMPLES, n_groups))
    accuracies = hits[draws].sum(axis=1) / sizes[draws].sum(axis=1)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(accuracies, [tail, 100 - tail])
    return float(low), float(high)


def confusion_title(metrics: Metrics, title: str = "") -> str:
    """``title``, then the scores and the number of windows, then the classes without test windows."""
    counts = np.asarray(metrics.confusion)
    scores = (
        f"accuracy {metrics.accuracy:.3f}, macro-F1 {metrics.macro_f1:.3f} on {int(counts.sum()):,} windows"
    )
    lines = [title, scores] if title else [scores]
    absent = [name for name, n in zip(metrics.class_names, counts.sum(axis=1), strict=True) if n == 0]
    if absent:
        lines.append(f"no test windows of: {', '.join(absent)}")
    return "\n".join(lines)


def plain_text(text: str) -> str:
    """``text`` as matplotlib draws it literally: a ``$`` (mathtext, e.g. a label ``$\\frac{$``) escaped."""
    return text.replace("$", r"\$")


def plot_confusion(metrics: Metrics, path: str | Path, title: str = "") -> Path:
    """Row-normalized confusion matrix as a PNG (counts annotated); the title says ``title``, the
    accuracy and macro-F1 and on how many windows, and names classes with no test windows (empty rows)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = np.asarray(metrics.confusion)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    k = len(metrics.class_names)
    names = [plain_text(name) for name in metrics.class_names]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.0 + 0.6 * k), 1.4 + 0.55 * k))  # room for the title
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(k), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(k):
        for j in range(k):
            if counts[i, j]:
                color = "white" if rates[i, j] > 0.5 else "black"
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=7, color=color)
    ax.set_title(plain_text(confusion_title(metrics, title)), fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
