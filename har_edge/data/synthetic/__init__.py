"""Physically based synthetic inertial data for human-activity recognition: the default data source.

Model. The world frame is heading-aligned (x forward, y left, z up). The sensor sits on one body segment
(trunk, thigh or forearm, see ``POSITIONS``) whose frame equals the world frame when the subject stands
upright; a posture is that segment's orientation, given as *pitch* (the segment's up axis tilted
forward), *roll* (tilted to the right) and *twist* (turned about its own long axis). As continuous
functions of time the generator evaluates

* the segment orientation R(t): the current bout's posture, slerped along a raised-cosine profile during
  transitions, times small world-frame rotations (gait swing, postural sway, physiological tremor);
* the acceleration a(t) of the segment's joint (hip or shoulder): gait bounce, sway and heel strikes,
  the centre-of-mass shift of postural transitions, road vibration when cycling;

and measures accelerometer = Rᵀ(a + d²(R·r)/dt² + g·ẑ), the specific force at lever arm r from the joint
(+9.81 m/s² along "up" at rest), and gyroscope = body angular rate from R(t-δ)ᵀR(t+δ). Both come from
the same R(t), so they agree. A device profile (``DEVICES``) then adds clock error and jitter, gain and
offset errors, noise, clipping and quantization.

Randomness. Every draw comes from a ``np.random.SeedSequence`` stream keyed by (seed, stream, subject,
...): physiology, protocol and body noise by (seed, subject) only, the sensor mount also by the position,
clock and noise by the device. The same subject recorded at the waist and at the wrist is therefore the
same person doing the same things at the same times; the device changes only where the samples fall.

Caveats: turns are not modelled (the heading is fixed, so gyro_z sees no turning); stairs, running,
cycling and jumping are stylised periodic waveforms, not biomechanical simulations; a bout's posture is
constant apart from sway (no fidgeting); lying on the side and on the back share one lying class.

Modules: ``config`` (what to generate), ``activities``, ``subjects`` (physiology), ``timeline`` (the
protocol and its segments), ``orientation``, ``noise`` and ``physics`` (motion and ideal readings),
``domains`` (devices and positions), ``randomness`` (the keyed streams); ``generate`` here.
"""

from __future__ import annotations

import numpy as np

from har_edge.data.synthetic.activities import ACTIVITIES, EXTRA_ACTIVITIES, HAPT_CLASSES, STATIC_POSTURES
from har_edge.data.synthetic.config import SyntheticConfig
from har_edge.data.synthetic.domains import (
    DEVICES,
    POSITIONS,
    DeviceProfile,
    PositionProfile,
    SensorSpec,
    draw_mount_axes,
    measure,
    sample_times,
)
from har_edge.data.synthetic.noise import BodyNoise
from har_edge.data.synthetic.physics import Wearer, ideal_readings, kinematics
from har_edge.data.synthetic.randomness import (
    BODY_NOISE,
    CLOCK,
    DEVICE_UNIT,
    MOUNT,
    SENSOR_NOISE,
    name_key,
    stream_rng,
)
from har_edge.data.synthetic.subjects import SubjectProfile, subject_profile
from har_edge.data.synthetic.timeline import make_segments, make_timeline
from har_edge.types import ACC_CHANNELS, GYRO_CHANNELS, Dataset, Recording

__all__ = [
    "ACC_CHANNELS",
    "ACTIVITIES",
    "DEVICES",
    "EXTRA_ACTIVITIES",
    "GYRO_CHANNELS",
    "HAPT_CLASSES",
    "POSITIONS",
    "STATIC_POSTURES",
    "DeviceProfile",
    "PositionProfile",
    "SensorSpec",
    "SubjectProfile",
    "SyntheticConfig",
    "generate",
    "subject_profile",
]


def _wearer(config: SyntheticConfig, subject: int, profile: SubjectProfile) -> Wearer:
    position = POSITIONS[config.position]
    noise = BodyNoise.draw(stream_rng(config.seed, BODY_NOISE, subject), profile.tremor_hz)
    mount_axes = draw_mount_axes(position, stream_rng(config.seed, MOUNT, subject, name_key(config.position)))
    return Wearer(profile, noise, position, mount_axes)


def _record_subject(config: SyntheticConfig, subject: int) -> Recording:
    profile = subject_profile(config.seed, subject)
    wearer = _wearer(config, subject, profile)
    timeline = make_timeline(config, subject, profile)
    device, device_key = DEVICES[config.device], name_key(config.device)
    clock_rng = stream_rng(config.seed, CLOCK, subject, device_key)
    t = sample_times(timeline.duration_s, config.rate_hz, device, clock_rng)
    orientation, joint_acceleration, labels = kinematics(
        make_segments(timeline, wearer.position, profile), t, wearer
    )
    acc, gyro = ideal_readings(orientation, joint_acceleration, wearer)
    unit_rng = stream_rng(config.seed, DEVICE_UNIT, device_key)  # one physical unit, shared by every subject
    noise_rng = stream_rng(config.seed, SENSOR_NOISE, subject, device_key)
    readings = [measure(acc, device.accelerometer, unit_rng, noise_rng)]
    if config.gyroscope:
        readings.append(measure(gyro, device.gyroscope, unit_rng, noise_rng))
    return Recording(
        subject=str(subject),
        samples=np.concatenate(readings, axis=1).astype(np.float32),
        timestamps_s=t,
        labels=labels,
        channels=_channels(config),
        class_names=config.classes,
        nominal_rate_hz=float(config.rate_hz),
        source="synthetic",
        domain=f"{config.position}/{config.device}",
    )


def _channels(config: SyntheticConfig) -> tuple[str, ...]:
    return ACC_CHANNELS + (GYRO_CHANNELS if config.gyroscope else ())


def generate(config: SyntheticConfig | None = None) -> Dataset:
    """One ``Recording`` per subject (ids "1".."N"), accelerometer in m/s² (+ gyroscope in rad/s),
    labels indexing ``config.classes``. Same config, bit-identical data."""
    config = config or SyntheticConfig()
    recordings = tuple(_record_subject(config, subject) for subject in range(1, config.subjects + 1))
    return Dataset("synthetic", recordings, _channels(config), config.classes)
