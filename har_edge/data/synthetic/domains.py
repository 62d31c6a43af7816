"""The domains a recording is made in: device models (clock error, jitter, gain/offset errors, noise,
quantization, range) and sensor positions (segment, mount, lever arm), and how they turn ideal readings
into samples."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from har_edge.data.synthetic.orientation import DEG, quat_from_rotvec, quat_multiply, quat_to_matrix
from har_edge.types import GRAVITY_M_S2


@dataclass(frozen=True)
class SensorSpec:
    """One triaxial sensor of a device. Gain and offset errors are standard deviations of per-axis draws
    made once per physical unit; ``resolution`` is the ADC step (0: not quantized)."""

    range: float
    noise_std: float
    gain_error_std: float
    offset_std: float
    resolution: float


@dataclass(frozen=True)
class DeviceProfile:
    """A device model: clock error (``rate_error``: actual rate = nominal × (1 + rate_error)), timestamp
    jitter, and its accelerometer (m/s²) and gyroscope (rad/s)."""

    description: str
    rate_error: float
    jitter_std_s: float
    accelerometer: SensorSpec
    gyroscope: SensorSpec


_G = GRAVITY_M_S2
_DPS = DEG  # one degree per second, in rad/s
DEVICES: Mapping[str, DeviceProfile] = MappingProxyType(
    {
        "reference-phone": DeviceProfile(
            "ideal-ish reference phone (HAPT's role): accurate clock, ±8 g, negligible noise and error",
            rate_error=0.0,
            jitter_std_s=0.0002,
            accelerometer=SensorSpec(8 * _G, 0.01, 0.001, 0.01, 0.0),
            gyroscope=SensorSpec(2000 * _DPS, 0.002, 0.001, 0.002, 0.0),
        ),
        "midrange-phone": DeviceProfile(
            "heterogeneous phone: clock 2 % fast, ±4 g 12-bit accelerometer, moderate noise and calibration "
            "error",
            rate_error=0.02,
            jitter_std_s=0.002,
            accelerometer=SensorSpec(4 * _G, 0.03, 0.015, 0.15, 8 * _G / 2**12),
            gyroscope=SensorSpec(1000 * _DPS, 0.005, 0.01, 0.01, 2000 * _DPS / 2**16),
        ),
        "budget-phone": DeviceProfile(
            "heterogeneous phone: clock 3 % slow with 4 ms jitter, ±2 g 10-bit accelerometer (running and "
            "jumping clip), noisy and poorly calibrated",
            rate_error=-0.03,
            jitter_std_s=0.004,
            accelerometer=SensorSpec(2 * _G, 0.06, 0.03, 0.35, 4 * _G / 2**10),
            gyroscope=SensorSpec(250 * _DPS, 0.015, 0.03, 0.03, 500 * _DPS / 2**12),
        ),
        "old-phone": DeviceProfile(
            "heterogeneous phone: clock 5 % fast with 3 ms jitter, ±4 g 8-bit accelerometer (coarse steps)",
            rate_error=0.05,
            jitter_std_s=0.003,
            accelerometer=SensorSpec(4 * _G, 0.04, 0.02, 0.25, 8 * _G / 2**8),
            gyroscope=SensorSpec(500 * _DPS, 0.01, 0.02, 0.02, 1000 * _DPS / 2**12),
        ),
        "smartwatch": DeviceProfile(
            "watch (HHAR's Gear role): clock 1.5 % slow with 6 ms jitter, ±8 g 14-bit, noisier sensors",
            rate_error=-0.015,
            jitter_std_s=0.006,
            accelerometer=SensorSpec(8 * _G, 0.04, 0.02, 0.2, 16 * _G / 2**14),
            gyroscope=SensorSpec(2000 * _DPS, 0.01, 0.02, 0.02, 4000 * _DPS / 2**16),
        ),
    }
)


@dataclass(frozen=True)
class PositionProfile:
    """Where the sensor is worn: on which segment, how it is mounted, and how far from the joint.

    ``mount_axes`` are the sensor's x, y and z axes in segment coordinates (forward, left, up). Each
    subject's mount deviates by a random rotation of ``mount_jitter_deg`` (std per axis) and, when
    ``mount_flip_axis`` is set, is turned 180° about that axis for half of the subjects. ``bounce_gain``
    scales how much of the trunk's gait acceleration reaches the joint (the arm damps it); sway and
    tremor are scaled by ``sway_gain`` and ``tremor_rms_rad``.
    """

    description: str
    segment: str
    mount_axes: tuple[tuple[float, float, float], ...]
    mount_jitter_deg: float
    mount_flip_axis: tuple[float, float, float] | None
    lever_arm_m: tuple[float, float, float]
    bounce_gain: float
    sway_gain: float
    tremor_rms_rad: float


POSITIONS: Mapping[str, PositionProfile] = MappingProxyType(
    {
        "waist": PositionProfile(
            "phone in a belt clip at the front of the waist (HAPT): x up, y right, z forward when standing",
            segment="trunk",
            mount_axes=((0, 0, 1), (0, -1, 0), (1, 0, 0)),
            mount_jitter_deg=7.0,
            mount_flip_axis=None,
            lever_arm_m=(0.10, 0.0, 0.10),
            bounce_gain=1.0,
            sway_gain=1.0,
            tremor_rms_rad=2e-5,
        ),
        "pocket": PositionProfile(
            "phone in a front trouser pocket, screen towards the thigh, top up (half the subjects: down)",
            segment="thigh",
            mount_axes=((0, -1, 0), (0, 0, 1), (-1, 0, 0)),
            mount_jitter_deg=10.0,
            mount_flip_axis=(1, 0, 0),
            lever_arm_m=(0.08, 0.0, -0.20),
            bounce_gain=1.2,
            sway_gain=1.5,
            tremor_rms_rad=2e-5,
        ),
        "wrist": PositionProfile(
            "watch on the back of the left wrist: x towards the hand, z out of the face",
            segment="forearm",
            mount_axes=((0, 0, -1), (-1, 0, 0), (0, 1, 0)),
            mount_jitter_deg=10.0,
            mount_flip_axis=None,
            lever_arm_m=(0.0, 0.0, -0.55),
            bounce_gain=0.6,
            sway_gain=3.0,
            tremor_rms_rad=3e-5,
        ),
    }
)
MAX_JITTER_PERIODS = 0.45  # timestamp jitter is clipped so samples stay strictly ordered


def sample_times(duration_s: float, rate_hz: float, device: DeviceProfile, rng: np.random.Generator):
    """True sample times of a clock running at rate × (1 + rate_error), jittered but strictly ordered."""
    period = 1.0 / (rate_hz * (1 + device.rate_error))
    n = int(duration_s / period)
    limit = MAX_JITTER_PERIODS * period
    jitter = np.clip(rng.normal(0.0, device.jitter_std_s, n), -limit, limit)
    return (np.arange(n) + 0.5) * period + jitter


def measure(
    true: np.ndarray, spec: SensorSpec, unit_rng: np.random.Generator, noise_rng: np.random.Generator
) -> np.ndarray:
    """Apply the unit's gain and offset errors, white noise, ADC quantization and the range limit."""
    gain = 1 + unit_rng.normal(0.0, spec.gain_error_std, 3)
    offset = unit_rng.normal(0.0, spec.offset_std, 3)
    reading = true * gain + offset + noise_rng.normal(0.0, spec.noise_std, true.shape)
    if spec.resolution > 0:
        reading = np.round(reading / spec.resolution) * spec.resolution
    return np.clip(reading, -spec.range, spec.range)


def draw_mount_axes(position: PositionProfile, rng: np.random.Generator) -> np.ndarray:
    """One subject's sensor axes (rows) in segment coordinates: the nominal mount, randomly flipped when
    the position allows it, then tilted by the mount jitter."""
    jitter = quat_from_rotvec(rng.normal(0.0, position.mount_jitter_deg * DEG, 3))
    if position.mount_flip_axis is not None and rng.random() < 0.5:
        flip = quat_from_rotvec(np.pi * np.asarray(position.mount_flip_axis, dtype=float))
        jitter = quat_multiply(jitter, flip)
    return np.asarray(position.mount_axes, dtype=float) @ quat_to_matrix(jitter).T
