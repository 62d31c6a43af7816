"""The training recipe of issue 20: a minimum of optimizer steps per epoch, class weights when asked
and the classes are imbalanced, a decaying learning rate, epochs sized at the validation hop."""

from __future__ import annotations

import math

import numpy as np
import pytest

from har_edge import models
from har_edge.data.windows import WindowConfig, make_windows
from har_edge.errors import InputError
from har_edge.train import TrainConfig, _training_batches, class_weights, fit
from tests.conftest import make_dataset, make_recording


def _windows(rng, seconds=(12.0, 12.0, 12.0)):
    labels = np.concatenate([np.full(int(s * 50), c) for c, s in enumerate(seconds)])
    windows, _ = make_windows(
        make_dataset([make_recording(labels, rng=rng)]), WindowConfig(window=50, hop=25)
    )
    return windows


def _fitted(windows, **config):
    model = models.build("dense", window=50, channels=3, classes=3, seed=0)
    fit(model, windows, windows, TrainConfig(seed=0, patience=10, **config))
    return model


def test_a_small_training_split_gets_the_minimum_of_optimizer_steps_per_epoch(rng):
    windows = _windows(rng)  # 69 windows: 5 batches of 16
    assert int(_fitted(windows, epochs=1, batch_size=16, min_steps_per_epoch=12).optimizer.iterations) == 12
    assert int(_fitted(windows, epochs=1, batch_size=16, min_steps_per_epoch=0).optimizer.iterations) == 5


def test_an_epoch_over_denser_training_windows_takes_as_many_steps_as_at_the_validation_hop(rng):
    labels = np.concatenate([np.full(600, c) for c in range(3)])
    dataset = make_dataset([make_recording(labels, rng=rng)])
    coarse, _ = make_windows(dataset, WindowConfig(window=50, hop=25))
    dense, _ = make_windows(dataset, WindowConfig(window=50, hop=5))  # 5x the windows
    model = models.build("dense", window=50, channels=3, classes=3, seed=0)
    fit(model, dense, coarse, TrainConfig(seed=0, epochs=2, batch_size=16, min_steps_per_epoch=0))
    assert len(dense) > 4 * len(coarse)
    assert int(model.optimizer.iterations) == 2 * math.ceil(len(coarse) / 16)


def test_learning_rate_decays_by_cosine_to_a_tenth_over_the_planned_steps(rng):
    optimizer = _fitted(_windows(rng), epochs=3, batch_size=16, learning_rate=0.01).optimizer
    steps = int(optimizer.iterations)  # 3 epochs of the minimum 10 steps
    last = 0.001 + 0.009 * 0.5 * (1 + math.cos(math.pi * (steps - 1) / steps))  # the rate of the last step
    assert steps == 30 and float(optimizer.learning_rate) == pytest.approx(last, rel=1e-4)
    constant = _fitted(_windows(rng), epochs=1, learning_rate=0.01, schedule="constant").optimizer
    assert float(constant.learning_rate) == pytest.approx(0.01)


def test_class_weights_follow_inverse_square_root_frequency_only_when_imbalanced(rng):
    imbalanced = _windows(rng, seconds=(32.0, 8.0, 4.0))
    counts = imbalanced.class_counts()
    weights = class_weights(imbalanced, "sqrt")
    assert weights[1] / weights[0] == pytest.approx(np.sqrt(counts[0] / counts[1]))
    assert sum(weights[k] * counts[k] for k in range(3)) == pytest.approx(counts.sum())
    balanced = class_weights(imbalanced, "balanced")
    assert balanced[2] / balanced[0] == pytest.approx(counts[0] / counts[2])
    assert class_weights(imbalanced, "none") is None
    assert class_weights(_windows(rng), "sqrt") is None


def test_every_training_window_is_fed_once_per_pass_with_its_label_in_the_models_layout(rng):
    windows = _windows(rng)
    model = models.build("dense", window=50, channels=3, classes=3, seed=0)
    fed, labels = _first(
        _training_batches(model, windows, TrainConfig(seed=1, batch_size=16)), 2 * len(windows)
    )
    assert fed.shape == (2 * len(windows), 50 * 3)
    for one_pass in (slice(0, len(windows)), slice(len(windows), None)):
        pairs = sorted(zip(map(bytes, fed[one_pass]), labels[one_pass].tolist(), strict=True))
        flat = windows.x.reshape(len(windows), -1)
        assert pairs == sorted(zip(map(bytes, flat), windows.y.tolist(), strict=True))
    assert not np.array_equal(fed[: len(windows)], fed[len(windows) :])  # reshuffled every pass


def test_augmented_pipeline_feeds_perturbed_windows_with_their_labels_and_plain_ones_untouched(rng):
    windows = _windows(rng)
    model = models.build("dense", window=50, channels=3, classes=3, seed=0)
    config = TrainConfig(seed=1, batch_size=16, augment="rotate")
    fed, labels = _first(_training_batches(model, windows, config), len(windows))
    plain, plain_labels = _first(
        _training_batches(model, windows, TrainConfig(seed=1, batch_size=16)), len(windows)
    )
    assert np.array_equal(labels, plain_labels)  # the same shuffle, only the signal changes
    turned = fed.reshape(-1, 50, 3)
    original = plain.reshape(-1, 50, 3)
    assert not np.allclose(turned, original, atol=1e-3)
    np.testing.assert_allclose(np.linalg.norm(turned, axis=2), np.linalg.norm(original, axis=2), rtol=1e-4)


def test_gradient_clipping_reaches_the_optimizer_only_when_asked(rng):
    assert _fitted(_windows(rng), epochs=1, clipnorm=0.5).optimizer.clipnorm == pytest.approx(0.5)
    assert _fitted(_windows(rng), epochs=1).optimizer.clipnorm is None


def _first(batches, n: int):
    """The first ``n`` windows and labels an endless batched pipeline feeds."""
    pairs = list(batches.unbatch().take(n).as_numpy_iterator())
    return np.stack([x for x, _ in pairs]), np.array([y for _, y in pairs])


def test_unknown_recipe_settings_are_refused_naming_the_valid_ones():
    with pytest.raises(InputError, match="expected one of sqrt, balanced, none"):
        TrainConfig(class_weighting="inverse")
    with pytest.raises(InputError, match="monitor 'loss'"):
        TrainConfig(monitor="loss")
