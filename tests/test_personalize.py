"""Personalizer: SGD through the head's train signature equals the numpy reference, fit helps a new
wearer, early stopping keeps the best epoch, divergence is rolled back, checkpoints round-trip and
refuse what does not fit, and a crash while saving keeps the previous checkpoint."""

import functools
import hashlib
import os

import numpy as np
import pytest

from har_edge.data.synthetic import SyntheticConfig, generate
from har_edge.data.windows import WindowConfig, make_windows
from har_edge.errors import InputError
from har_edge.optimize.quantize import Precision
from har_edge.runtime import Classifier, Personalizer
from har_edge.runtime.checkpoint import Checkpoint, bundle_identity
from har_edge.runtime.head import HeadWeights, reference_sgd_step
from har_edge.runtime.training import scheduled_rate
from har_edge.types import ACC_CHANNELS
from tests.support import export_test_bundle

SGD_TOLERANCE = 1e-5
PERSONAL_LABELS = tuple(f"gesture-{i}" for i in range(12))


@functools.cache
def wearer():
    """A new subject with a smartwatch on the wrist (the bundle was trained on waist phones): windows,
    label names, and a mask of the first half of the recording (personal training data)."""
    dataset = generate(
        SyntheticConfig(subjects=1, seconds_per_activity=40, position="wrist", device="smartwatch", seed=11)
    )
    windows, _ = make_windows(dataset, WindowConfig(channels=ACC_CHANNELS))
    labels = np.asarray(windows.class_names)[windows.y]
    return windows.x, labels, windows.start < windows.start.max() / 2


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return export_test_bundle(tmp_path_factory.mktemp("personalize") / "bundle")


@pytest.fixture
def classifier(bundle) -> Classifier:
    return Classifier(bundle.path)


@pytest.fixture
def personalizer(classifier) -> Personalizer:
    """A Personalizer holding the wearer's first-half windows."""
    x, labels, first = wearer()
    personalizer = Personalizer(classifier)
    personalizer.add(x[first], labels[first])
    return personalizer


def assert_same_weights(actual: HeadWeights, expected: HeadWeights) -> None:
    for a, e in zip(actual.named().values(), expected.named().values(), strict=True):
        np.testing.assert_array_equal(a, e)


def test_one_fit_step_matches_the_numpy_reference_sgd_step(classifier):
    x, labels, _ = wearer()
    personalizer = Personalizer(classifier)
    personalizer.add(x[:24], labels[:24])
    start = personalizer.weights()
    history = personalizer.fit(epochs=1, batch_size=24, learning_rate=0.3, holdout=0)
    onehot = np.eye(12, dtype=np.float32)[[classifier.labels.index(label) for label in labels[:24]]]
    expected, loss = reference_sgd_step(start, classifier.features(x[:24]), onehot, 0.3)
    assert history.train_loss == (pytest.approx(loss, abs=SGD_TOLERANCE),) and history.rolled_back_steps == 0
    for w, w_ref in zip(personalizer.weights().named().values(), expected.named().values(), strict=True):
        np.testing.assert_allclose(w, w_ref, atol=SGD_TOLERANCE, rtol=0)
    assert_same_weights(classifier.head_weights(), personalizer.weights())


def test_fit_lowers_the_holdout_loss_and_improves_accuracy_for_a_new_wearer(personalizer, classifier):
    x, labels, first = wearer()
    before = personalizer.evaluate(x[~first], labels[~first])
    history = personalizer.fit(epochs=40, learning_rate=0.05, patience=5)
    after = personalizer.evaluate(x[~first], labels[~first])
    assert history.best_epoch > 0 and min(history.holdout_loss) < 0.7 * history.initial_holdout_loss
    assert after.accuracy >= before.accuracy + 0.2, (before.accuracy, after.accuracy)
    assert np.mean(classifier.predict(x[~first]) == labels[~first]) == after.accuracy  # installed


def test_early_stopping_restores_the_weights_of_the_best_epoch(classifier, bundle):
    stopped = Personalizer(classifier, seed=3)
    x, labels, first = wearer()
    stopped.add(x[first], labels[first])
    history = stopped.fit(epochs=40, learning_rate=0.1, patience=3)
    assert history.stopped_early and 0 < history.best_epoch < history.epochs_run
    assert history.holdout_loss[history.best_epoch - 1] == min(history.holdout_loss)
    replay = Personalizer(Classifier(bundle.path), seed=3)  # the same seed: same holdout and shuffling
    replay.add(x[first], labels[first])
    replayed = replay.fit(epochs=history.best_epoch, learning_rate=0.1, patience=None)
    assert replayed.holdout_loss == history.holdout_loss[: history.best_epoch]
    assert_same_weights(stopped.weights(), replay.weights())


def test_diverging_steps_are_rolled_back_counted_and_warned_about(personalizer):
    start = personalizer.weights()
    with pytest.warns(RuntimeWarning, match="diverged .* rolled back"):
        history = personalizer.fit(epochs=3, learning_rate=1e30, holdout=0)
    assert history.rolled_back_steps >= 3
    assert_same_weights(personalizer.weights(), start)  # every step led to a loss of ~1e30


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"epochs": 0}, "epochs and batch_size must be positive integers"),
        ({"learning_rate": 0.0}, "learning_rate must be a positive number finite in float32"),
        ({"learning_rate": 1e39}, "learning_rate must be a positive number finite in float32"),
        ({"schedule": "linear"}, "schedule 'linear', expected one of"),
        ({"holdout": 1.0}, r"holdout must be a fraction in \[0, 1\)"),
        ({"patience": -1}, "patience must be None or an integer >= 0"),
    ],
)
def test_fit_refuses_bad_arguments_before_training(personalizer, arguments, message):
    start = personalizer.weights()
    with pytest.raises(InputError, match=message):
        personalizer.fit(**arguments)
    assert_same_weights(personalizer.weights(), start)


def test_fit_without_windows_and_add_with_a_label_count_mismatch_are_refused(classifier):
    x, labels, _ = wearer()
    personalizer = Personalizer(classifier)
    with pytest.raises(InputError, match=r"no labelled windows: add\(\) some before fit\(\)"):
        personalizer.fit()
    with pytest.raises(InputError, match="got 2 labels for 3 windows"):
        personalizer.add(x[:3], labels[:2])


def test_learning_rate_schedules_start_at_the_base_rate_and_decay():
    assert [scheduled_rate("constant", 0.1, e, 4) for e in range(4)] == [0.1] * 4
    assert [round(scheduled_rate("cosine", 0.1, e, 4), 6) for e in range(4)] == [
        0.1,
        0.085355,
        0.05,
        0.014645,
    ]
    assert [round(scheduled_rate("step", 1.0, e, 6), 6) for e in range(6)] == [1, 1, 0.1, 0.1, 0.01, 0.01]


def test_new_labels_of_the_same_count_start_a_fresh_head_and_other_counts_are_refused(classifier):
    fresh = Personalizer(classifier, labels=PERSONAL_LABELS, seed=4)
    assert_same_weights(fresh.weights(), HeadWeights.random(1600, 12, seed=4))
    x, _, _ = wearer()
    with pytest.raises(InputError, match=r"unknown label\(s\) \['WALKING'\]"):
        fresh.add(x[:2], ["gesture-1", "WALKING"])
    with pytest.raises(InputError, match="4 labels, but the bundle's head has 12 outputs .*--head-labels"):
        Personalizer(classifier, labels=["walk", "sit", "stand", "lie"])
    with pytest.raises(
        InputError, match="hidden=16, but the bundle's head has hidden size None .*--head-hidden"
    ):
        Personalizer(classifier, hidden=16)


def test_fit_installs_the_new_labels_in_the_classifier(classifier):
    x, labels, first = wearer()
    renamed = dict(zip(classifier.labels, PERSONAL_LABELS, strict=True))
    personalizer = Personalizer(classifier, labels=PERSONAL_LABELS)
    personalizer.add(x[first], [renamed[label] for label in labels[first]])
    personalizer.fit(epochs=3)
    assert classifier.labels == PERSONAL_LABELS and set(classifier.predict(x)) <= set(PERSONAL_LABELS)


def test_save_then_restore_round_trips_bit_exactly_into_a_new_classifier(personalizer, bundle, tmp_path):
    personalizer.fit(epochs=3)
    personalizer.save(tmp_path / "head.ckpt")
    restored_classifier = Classifier(bundle.path)
    Personalizer(restored_classifier).restore(tmp_path / "head.ckpt")
    assert_same_weights(restored_classifier.head_weights(), personalizer.weights())


@pytest.fixture
def checkpoint(personalizer, tmp_path) -> bytes:
    personalizer.save(tmp_path / "head.ckpt")
    return (tmp_path / "head.ckpt").read_bytes()


def resigned(data: bytes, old: bytes, new: bytes) -> bytes:
    """``data`` with ``old`` replaced by ``new`` and a valid checksum: well-formed, but different."""
    body = data[:-32].replace(old, new)
    return body + hashlib.sha256(body).digest()


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda data: data[: len(data) - 100], r"corrupted or truncated checkpoint \(SHA-256"),
        (
            lambda data: data[:-40] + bytes([data[-40] ^ 1]) + data[-39:],
            r"corrupted or truncated checkpoint \(SHA-256",
        ),
        (lambda data: data[:30], "corrupted or truncated checkpoint .unreadable header"),
        (lambda data: b"PK\x03\x04" + data, "not a har_edge head checkpoint"),
        (
            lambda data: resigned(data, b'"format_version": 1', b'"format_version": 2'),
            "format version 2; this runtime reads 1",
        ),
        (lambda data: resigned(data, b'"WALKING"', b'"STROLLING"'), "checkpoint labels .*STROLLING"),
    ],
    ids=["truncated", "bit_flip", "cut_in_header", "not_a_checkpoint", "format_version", "labels"],
)
def test_restore_refuses_a_damaged_or_mismatched_checkpoint(
    personalizer, checkpoint, tmp_path, corrupt, message
):
    path = tmp_path / "damaged.ckpt"
    path.write_bytes(corrupt(checkpoint))
    with pytest.raises(InputError, match=message):
        personalizer.restore(path)


def test_restore_refuses_weights_of_other_shapes(personalizer, classifier, tmp_path):
    other = Checkpoint(classifier.labels, HeadWeights.random(1600, 12, hidden=8), bundle_identity(classifier))
    (tmp_path / "other.ckpt").write_bytes(other.to_bytes())
    with pytest.raises(InputError, match="head weights have shapes .*'w1': .8, 12.*exported with"):
        personalizer.restore(tmp_path / "other.ckpt")


def test_restore_refuses_a_checkpoint_of_another_bundle(personalizer, tmp_path):
    float_bundle = export_test_bundle(tmp_path / "float32", precision=Precision.FLOAT32)
    foreign = Personalizer(Classifier(float_bundle.path))
    foreign.save(tmp_path / "foreign.ckpt")
    with pytest.raises(InputError, match="checkpoint of another bundle"):
        personalizer.restore(tmp_path / "foreign.ckpt")


def test_a_crash_while_saving_leaves_the_previous_checkpoint_loadable(personalizer, tmp_path, monkeypatch):
    path = tmp_path / "head.ckpt"
    personalizer.save(path)
    saved = personalizer.weights()
    personalizer.fit(epochs=2)

    def crash(*_):
        raise OSError("simulated power loss")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated power loss"):
        personalizer.save(path)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["head.ckpt"]
    personalizer.restore(path)
    assert_same_weights(personalizer.weights(), saved)
