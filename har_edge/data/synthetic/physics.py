"""Kinematics and ideal readings: segment orientation R(t) and joint acceleration a(t) from the segments,
then accelerometer = Rᵀ(a + d²(R·r)/dt² + g·ẑ) and gyroscope = body rate from R(t-δ)ᵀR(t+δ)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from har_edge.data.synthetic.activities import GaitStyle
from har_edge.data.synthetic.domains import PositionProfile
from har_edge.data.synthetic.noise import DERIVATIVE_STEP_S, DIFFERENCE_OFFSETS_S, BodyNoise
from har_edge.data.synthetic.orientation import (
    DEG,
    UP,
    quat_conjugate,
    quat_from_rotvec,
    quat_multiply,
    quat_rotate,
    quat_to_rotvec,
)
from har_edge.data.synthetic.subjects import HARMONICS, SubjectProfile
from har_edge.data.synthetic.timeline import GAIT_RAMP_S, Segment
from har_edge.types import GRAVITY_M_S2, LABEL_DTYPE, UNLABELLED

COM_MOVE_FRACTION = 0.5  # the centre of mass moves during the middle half of a transition


def _raised_cosine(tau: np.ndarray) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(tau, 0.0, 1.0))


def _minimum_jerk_acceleration(tau: np.ndarray) -> np.ndarray:
    """Second derivative of the minimum-jerk path 10τ³ − 15τ⁴ + 6τ⁵ (unit distance in unit time)."""
    inside = (tau >= 0) & (tau <= 1)
    return np.where(inside, 60 * tau - 180 * tau**2 + 120 * tau**3, 0.0)


def _impact_pulse(phase: np.ndarray, sharpness: float) -> np.ndarray:
    """Zero-mean von Mises pulse at phase 0 of every step."""
    return np.exp(sharpness * (np.cos(phase) - 1)) - np.i0(sharpness) * np.exp(-sharpness)


def _harmonic_series(phase: np.ndarray, profile: SubjectProfile, axis: int) -> np.ndarray:
    harmonics = np.arange(1, HARMONICS + 1)
    angles = phase[..., None] * harmonics + np.asarray(profile.harmonic_phases_rad[axis])
    return np.cos(angles) @ np.asarray(profile.harmonic_weights)


def _gait_acceleration(style: GaitStyle, profile: SubjectProfile, phase: np.ndarray) -> np.ndarray:
    """World-frame joint acceleration (forward, left, up): bounce and impacts per step, lateral sway per
    stride (phase / 2)."""
    forward_m_s2, lateral_m_s2, vertical_m_s2 = style.bounce_m_s2
    impact = style.impact_m_s2 * _impact_pulse(phase, style.impact_sharpness)
    forward = forward_m_s2 * _harmonic_series(phase, profile, 0) + style.braking_ratio * impact
    lateral = lateral_m_s2 * _harmonic_series(phase / 2, profile, 1)
    vertical = vertical_m_s2 * _harmonic_series(phase, profile, 2) + impact
    return profile.gait_gain * np.stack([forward, lateral, vertical], axis=-1)


def _gait_swing(amplitudes_deg: tuple[float, float, float], phase: np.ndarray, pitch_per_step: bool):
    """World-frame rotation vector of the segment's swing: roll and yaw per stride, pitch per step
    (trunk) or per stride (limbs)."""
    stride = phase / 2
    roll, pitch, yaw = np.multiply(amplitudes_deg, DEG)
    pitch_phase = phase + np.pi / 4 if pitch_per_step else stride + np.pi / 2
    swing = [roll * np.sin(stride), pitch * np.sin(pitch_phase), yaw * np.sin(stride + np.pi / 2)]
    return np.stack(swing, axis=-1)


def _gait_envelope(elapsed_s: np.ndarray, duration_s: float) -> np.ndarray:
    """0 → 1 over GAIT_RAMP_S after the start, 1 → 0 over GAIT_RAMP_S before the end (raised cosine)."""
    return _raised_cosine(np.minimum(elapsed_s, duration_s - elapsed_s) / GAIT_RAMP_S)


@dataclass(frozen=True)
class Wearer:
    """What shapes one recording's motion and readings: who, their noise, where and how the sensor sits
    (``mount_axes``: this subject's sensor axes as rows, in segment coordinates)."""

    profile: SubjectProfile
    noise: BodyNoise
    position: PositionProfile
    mount_axes: np.ndarray


def _segment_motion(seg: Segment, t: np.ndarray, wearer: Wearer) -> tuple[np.ndarray, np.ndarray]:
    """Segment orientation at ``t + DIFFERENCE_OFFSETS_S`` (3, m, 4) and joint acceleration at t (m, 3)."""
    progress = _raised_cosine((t + DIFFERENCE_OFFSETS_S[:, None] - seg.start_s) / seg.duration_s)
    pose_from, pose_to = seg.poses
    turn = quat_to_rotvec(quat_multiply(quat_conjugate(pose_from), pose_to))
    base = quat_multiply(pose_from, quat_from_rotvec(progress[..., None] * turn))
    sway_rms_rad = DEG * (seg.sway_deg[0] + (seg.sway_deg[1] - seg.sway_deg[0]) * progress)
    rotation = sway_rms_rad[..., None] * wearer.noise.sway.around(t)
    rotation += wearer.position.tremor_rms_rad * wearer.noise.tremor.around(t)
    acceleration = np.zeros((len(t), 3))
    if seg.gait is not None:
        swing, acceleration = _gait_motion(seg, t, wearer)
        rotation += swing
    if seg.transition is not None:
        acceleration = _transition_acceleration(seg, t)
    return quat_multiply(quat_from_rotvec(rotation), base), acceleration


def _gait_motion(seg: Segment, t: np.ndarray, wearer: Wearer) -> tuple[np.ndarray, np.ndarray]:
    """Swing rotation vectors at ``t + DIFFERENCE_OFFSETS_S`` (3, m, 3) and joint acceleration at t."""
    style, noise, profile = seg.gait, wearer.noise, wearer.profile
    elapsed = t + DIFFERENCE_OFFSETS_S[:, None] - seg.start_s
    warp = noise.cadence_warp_s.around(t)[..., 0] - noise.cadence_warp_s(np.array(seg.start_s))
    phase = seg.gait_phase_rad + 2 * np.pi * seg.step_hz * (elapsed + warp)
    strength = _gait_envelope(elapsed, seg.duration_s) * (1 + noise.amplitude_modulation.around(t)[..., 0])
    segment = wearer.position.segment
    swing = _gait_swing(style.swing_deg[segment], phase, pitch_per_step=segment == "trunk")
    bounce = wearer.position.bounce_gain * _gait_acceleration(style, profile, phase[1])
    acceleration = bounce + style.vibration_m_s2 * noise.vibration(t)
    return profile.swing_gain * strength[..., None] * swing, strength[1][:, None] * acceleration


def _transition_acceleration(seg: Segment, t: np.ndarray) -> np.ndarray:
    """Centre-of-mass acceleration of a transition: a minimum-jerk shift (sitting down: down, then
    braking)."""
    move_s = seg.duration_s * COM_MOVE_FRACTION
    tau = (t - seg.start_s - (seg.duration_s - move_s) / 2) / move_s
    shift_m = np.array([seg.transition.com_forward_m, 0.0, -seg.transition.com_drop_m])
    return (_minimum_jerk_acceleration(tau) / move_s**2)[:, None] * shift_m


def _segment_labels(seg: Segment, t: np.ndarray) -> np.ndarray:
    labels = np.full(len(t), seg.label, dtype=LABEL_DTYPE)
    if seg.gait is not None:
        elapsed = t - seg.start_s
        labels[(elapsed < GAIT_RAMP_S) | (elapsed > seg.duration_s - GAIT_RAMP_S)] = UNLABELLED
    return labels


def kinematics(
    segments: list[Segment], t: np.ndarray, wearer: Wearer
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Segment orientation at t + DIFFERENCE_OFFSETS_S (3, n, 4), joint acceleration (n, 3), labels (n,)."""
    orientation = np.empty((3, len(t), 4))
    acceleration = np.empty((len(t), 3))
    labels = np.empty(len(t), dtype=LABEL_DTYPE)
    bounds = np.searchsorted(t, [s.start_s for s in segments] + [np.inf])
    for seg, lo, hi in zip(segments, bounds[:-1], bounds[1:], strict=True):
        if hi > lo:
            orientation[:, lo:hi], acceleration[lo:hi] = _segment_motion(seg, t[lo:hi], wearer)
            labels[lo:hi] = _segment_labels(seg, t[lo:hi])
    return orientation, acceleration, labels


def ideal_readings(
    orientation: np.ndarray, joint_acceleration: np.ndarray, wearer: Wearer
) -> tuple[np.ndarray, np.ndarray]:
    """Error-free accelerometer (m/s², specific force) and gyroscope (rad/s) in sensor axes."""
    lever = quat_rotate(orientation, np.asarray(wearer.position.lever_arm_m, float))
    lever_acceleration = (lever[0] - 2 * lever[1] + lever[2]) / DERIVATIVE_STEP_S**2
    specific_force = joint_acceleration + lever_acceleration + GRAVITY_M_S2 * UP
    acc = quat_rotate(quat_conjugate(orientation[1]), specific_force)
    step = quat_multiply(quat_conjugate(orientation[0]), orientation[2])
    gyro = quat_to_rotvec(step) / (2 * DERIVATIVE_STEP_S)
    return acc @ wearer.mount_axes.T, gyro @ wearer.mount_axes.T
