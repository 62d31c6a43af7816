"""Shared builders for tests that need a trained model or a bundle (each is built once per session)."""

from __future__ import annotations

import functools

import numpy as np

from har_edge import models
from har_edge.data.splits import normalize_splits, split_by_subject
from har_edge.data.synthetic import SyntheticConfig, generate
from har_edge.data.windows import WindowConfig, make_windows
from har_edge.export import ExportRequest, export_bundle
from har_edge.optimize.quantize import Precision, representative_windows
from har_edge.optimize.split import split, trainable_head_weights
from har_edge.train import TrainConfig, fit, train_model
from har_edge.types import ACC_CHANNELS


@functools.cache
def small_splits():
    """Normalized subject-disjoint splits of 4 s windows (0.5 s hop) from 6 synthetic subjects."""
    dataset = generate(SyntheticConfig(subjects=6, seconds_per_activity=20, gyroscope=False))
    windows, _ = make_windows(dataset, WindowConfig(window=200, hop=50))
    return normalize_splits(split_by_subject(windows, seed=0))[0]


@functools.cache
def trained_dense_on_small_splits():
    """The real dense architecture (20,004 parameters) fitted on ``small_splits()``."""
    splits = small_splits()
    model = models.build("dense", window=200, channels=3, classes=12, seed=0)
    fit(model, splits.train, splits.val, TrainConfig(epochs=30, seed=0))
    return model


def held_out_x(splits) -> np.ndarray:
    return np.concatenate([splits.val.x, splits.test.x])


@functools.cache
def trained_small_dense():
    """A dense model trained through ``train_model`` (so it has a card and normalizer), and raw splits."""
    dataset = generate(SyntheticConfig(subjects=6, seconds_per_activity=20, seed=5))
    windows, _ = make_windows(dataset, WindowConfig(channels=ACC_CHANNELS))
    splits = split_by_subject(windows, seed=0)
    return train_model(splits, "dense", TrainConfig(epochs=4, seed=0)), splits


def export_request(**changes) -> ExportRequest:
    """``trained_small_dense`` split at 'headlayer', int8 base with the MCU variant, unless changed."""
    trained, splits = trained_small_dense()
    parts = split(trained.model, "headlayer", trained.card.split_points)
    train_x = models.to_model_input(parts.base, trained.normalizer.apply(splits.train.x))
    fields = dict(
        base_model=parts.base,
        head=trainable_head_weights(parts.head),
        card=trained.card,
        split_layer="headlayer",
        feature_shape=parts.feature_shape,
        class_labels=trained.card.class_names,
        precision=Precision.INT8,
        representative=representative_windows(train_x, seed=0),
        mcu_variant=True,
    )
    fields.update(changes)
    return ExportRequest(**fields)


def export_test_bundle(folder, precision: Precision = Precision.INT8):
    return export_bundle(export_request(precision=precision, mcu_variant=False), folder)
