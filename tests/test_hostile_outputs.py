"""What a hostile data set can put into the outputs: class labels that matplotlib would parse as math
(``$\\frac{$`` ended a whole training run at its last step) are drawn literally."""

from __future__ import annotations

import numpy as np

from har_edge.metrics import classification_metrics, plot_confusion


def test_a_confusion_plot_draws_mathtext_labels_literally(tmp_path):
    names = ("$\\frac{$", "a$b", "plain")
    rng = np.random.default_rng(0)
    truth, predicted = rng.integers(0, 3, 60), rng.integers(0, 3, 60)
    path = plot_confusion(classification_metrics(truth, predicted, names), tmp_path / "c.png", title="$x^{$")
    assert path.read_bytes().startswith(b"\x89PNG")
