"""Training-time augmentation (``har_edge.data.augment``): rotations turn each sensor's xyz vector
in physical units, scaling multiplies a whole window, jitter adds small noise; seeded; bad names refused."""

from __future__ import annotations

import numpy as np
import pytest

from har_edge.data.augment import JITTER_SIGMA, ROTATE_DEGREES, batch_augmenter, parse_augment, xyz_triples
from har_edge.errors import InputError
from har_edge.train import TrainConfig

CHANNELS = ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z", "temperature")
MEAN = np.array([0.5, 9.0, -1.0, 0.0, 0.1, 0.0, 20.0], np.float32)
STD = np.array([2.0, 3.0, 1.5, 0.5, 0.4, 0.6, 1.0], np.float32)


def _augment(names, x, seed=0):
    apply = batch_augmenter(parse_augment(names), CHANNELS, MEAN, STD, seed)
    out, labels = apply(x, np.arange(len(x)))
    assert np.array_equal(labels, np.arange(len(x)))
    return np.asarray(out)


def _physical(normalized):
    return normalized * STD + MEAN


@pytest.fixture
def batch(rng):
    return rng.normal(size=(8, 40, len(CHANNELS))).astype(np.float32)


def test_rotation_keeps_each_sensors_vector_length_and_angle_and_leaves_other_channels(batch):
    before, after = _physical(batch), _physical(_augment("rotate", batch))
    for sensor in (slice(0, 3), slice(3, 6)):
        np.testing.assert_allclose(
            np.linalg.norm(after[..., sensor], axis=2), np.linalg.norm(before[..., sensor], axis=2), rtol=1e-4
        )
    np.testing.assert_allclose(after[..., 6], before[..., 6], rtol=1e-5)
    # one rotation per window, the same for both sensors and every time step, within the limit
    for n in range(len(batch)):
        turned = np.linalg.lstsq(before[n, :, 0:3], after[n, :, 0:3], rcond=None)[0]
        np.testing.assert_allclose(turned @ turned.T, np.eye(3), atol=1e-3)
        np.testing.assert_allclose(before[n, :, 3:6] @ turned, after[n, :, 3:6], atol=1e-3)
        angle = np.degrees(np.arccos(np.clip((np.trace(turned) - 1) / 2, -1, 1)))
        assert 0 < angle <= ROTATE_DEGREES + 1e-3


def test_scaling_multiplies_every_physical_channel_of_a_window_by_one_factor(batch):
    ratio = _physical(_augment("scale", batch)) / _physical(batch)
    per_window = ratio[:, :1, :1]
    np.testing.assert_allclose(ratio, np.broadcast_to(per_window, ratio.shape), rtol=1e-3)
    assert len(np.unique(per_window.round(6))) == len(batch)


def test_jitter_adds_small_noise_in_normalized_units_and_a_seed_repeats_it(batch):
    noise = _augment("jitter", batch) - batch
    assert noise.std() == pytest.approx(JITTER_SIGMA, rel=0.1)
    np.testing.assert_array_equal(_augment("jitter", batch, seed=3), _augment("jitter", batch, seed=3))
    assert not np.array_equal(_augment("jitter", batch, seed=3), _augment("jitter", batch, seed=4))


def test_augment_names_parse_in_any_order_and_unknown_ones_are_refused():
    assert parse_augment("jitter+scale") == parse_augment("scale,jitter") == ("jitter", "scale")
    assert parse_augment("none") == () and batch_augmenter((), CHANNELS, MEAN, STD, 0) is None
    with pytest.raises(InputError, match="unknown shift"):
        parse_augment("scale+shift")
    with pytest.raises(InputError, match="unknown shift"):
        TrainConfig(augment="shift")
    with pytest.raises(InputError, match="clipnorm must be positive"):
        TrainConfig(clipnorm=0.0)


def test_only_complete_xyz_triples_are_rotated():
    assert xyz_triples(CHANNELS) == [(0, 1, 2), (3, 4, 5)]
    assert xyz_triples(("acc_x", "acc_y", "mag_z")) == []
