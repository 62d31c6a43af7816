"""Adaptation strategies on a tiny source model (the dense architecture: the same code path as the cnn,
far faster to trace): the baseline is training from scratch, frozen blocks
stay put, the other strategies move them, and the head-only path runs the TF-free Personalizer."""

from __future__ import annotations

import numpy as np
import pytest

from har_edge import models
from har_edge.data import load_dataset
from har_edge.data.splits import Normalizer
from har_edge.data.windows import make_windows
from har_edge.train import TrainConfig, fit, predict_proba, train_model
from har_edge.transfer.adapt import adapt, block_groups, export_head_bundle, head_only
from har_edge.transfer.grid import BASELINE, AdaptSettings, transfer_blocks
from har_edge.transfer.protocol import adaptation_subset, protocol, split_by_duration

CLASSES = ("WALKING", "SITTING", "STANDING", "LAYING")
ARCH = "dense"
SETTINGS = AdaptSettings(epochs=2, patience=2, batch_size=16, warmup_epochs=1, head_epochs=3)


def _splits(spec: str, seed: int):
    dataset = load_dataset(
        spec, subjects=4, seconds_per_activity=12, classes=CLASSES, gyroscope=False, seed=seed
    )
    windows, _ = make_windows(dataset, protocol("gjoreski2019").window_config())
    return split_by_duration(windows, (0.5, 0.25, 0.25), seed=0)


@pytest.fixture(scope="module")
def study():
    from har_edge.bench.sweep.tasks import pin_threads

    pin_threads()
    source = _splits("synthetic:waist", 0)
    target = _splits("synthetic:wrist:smartwatch", 1)
    trained = train_model(source, ARCH, TrainConfig(epochs=2, seed=0))
    normalizer = Normalizer.from_dict(trained.card.normalization)
    return trained, normalizer, source, target, adaptation_subset(target.train, 24, seed=0)


def _group_weights(model, k):
    return [
        w
        for group in block_groups(model, transfer_blocks(ARCH))[:k]
        for layer in group
        for w in layer.get_weights()
    ]


def test_the_cnn_blocks_are_the_stem_and_each_residual_block_in_order():
    model = models.build("cnn", window=100, channels=3, classes=4, seed=0)
    groups = block_groups(model, transfer_blocks("cnn"))
    assert [group[-1].name for group in groups] == ["stem", "block1", "block2", "block3"]
    assert {layer.name for layer in groups[1]} >= {"block1_conv1", "block1_shortcut", "block1_conv2_bn"}
    assert sum(map(len, groups)) == model.layers.index(model.get_layer("block3")) + 1


def test_a_small_adaptation_set_is_passed_over_until_an_epoch_covers_min_epoch_windows():
    settings = AdaptSettings(min_epoch_windows=320)
    assert [settings.passes_per_epoch(n) for n in (20, 24, 100, 320, 1000)] == [16, 14, 4, 1, 1]


@pytest.mark.slow
def test_k0_is_training_from_scratch_on_the_adaptation_set(study):
    trained, normalizer, _, target, adaptation = study
    model, own = adapt(BASELINE, 0, None, None, ARCH, adaptation, target.val, SETTINGS, seed=3)
    assert own == Normalizer.fit(adaptation)

    from har_edge.tfcompat import seed_everything

    seed_everything(3)
    scratch = models.build(ARCH, window=100, channels=3, classes=len(CLASSES), seed=3)
    config = TrainConfig(epochs=2, batch_size=16, learning_rate=1e-3, patience=2, seed=3)
    every_epoch = adaptation.take(np.tile(np.arange(24), 14))  # 14 passes cover min_epoch_windows = 320
    fit(
        scratch,
        every_epoch.with_x(own.apply(every_epoch.x)),
        target.val.with_x(own.apply(target.val.x)),
        config,
    )
    for ours, theirs in zip(model.get_weights(), scratch.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    test = target.test.with_x(own.apply(target.test.x))
    np.testing.assert_array_equal(predict_proba(model, test), predict_proba(scratch, test))


@pytest.mark.slow
@pytest.mark.parametrize("k", [1, 3])
def test_freeze_leaves_the_transferred_blocks_weights_unchanged(study, k):
    trained, normalizer, _, target, adaptation = study
    model, _ = adapt("freeze", k, trained.model, normalizer, ARCH, adaptation, target.val, SETTINGS, seed=0)
    for ours, source in zip(_group_weights(model, k), _group_weights(trained.model, k), strict=True):
        np.testing.assert_array_equal(ours, source)
    assert model.get_layer("classifier").get_weights()[0].shape == (800, len(CLASSES))


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["finetune", "differential"])
def test_finetune_and_differential_train_the_transferred_blocks_too(study, strategy):
    trained, normalizer, _, target, adaptation = study
    model, _ = adapt(strategy, 2, trained.model, normalizer, ARCH, adaptation, target.val, SETTINGS, seed=0)
    moved = [
        not np.array_equal(a, b)
        for a, b in zip(_group_weights(model, 2), _group_weights(trained.model, 2), strict=True)
    ]
    assert any(moved)


@pytest.mark.slow
def test_head_only_trains_the_bundle_head_with_the_runtime(study, tmp_path):
    trained, _, source, target, adaptation = study
    bundle = export_head_bundle(
        trained.model, trained.card, source.train, CLASSES, "int8", seed=0, folder=tmp_path / "bundle"
    )
    assert bundle.manifest.split_layer == "headlayer" and bundle.manifest.class_labels == CLASSES
    metrics = head_only(tmp_path / "bundle", adaptation, target.test, SETTINGS, seed=0)
    again = head_only(tmp_path / "bundle", adaptation, target.test, SETTINGS, seed=0)
    assert metrics.n == len(target.test) and metrics.class_names == CLASSES
    assert metrics.confusion == again.confusion  # seeded: the same run gives the same predictions
