"""Per-subject physiology: cadences, gait and swing gains, harmonics, posture offsets, pace; drawn from
(seed, subject) only, so one person is the same person at every position and on every device."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from har_edge.data.synthetic.activities import GAIT_STYLES
from har_edge.data.synthetic.randomness import PHYSIOLOGY, stream_rng

# Physiology ranges (uniform draws per subject).
WALK_STEP_HZ = (1.6, 2.1)
RUN_STEP_HZ = (2.5, 3.0)
PEDAL_REV_HZ = (1.0, 1.5)
JUMP_HZ = (1.8, 2.4)
GAIT_GAIN = (0.9, 1.15)
SWING_GAIN = (0.8, 1.25)
HARMONIC_WEIGHT = (0.15, 0.5)  # weight of harmonics 2..4 relative to the fundamental
HARMONICS = 4
STAND_LEAN_DEG = (-2.0, 5.0)
WAIST_SIT_TILT_DEG = (12.0, 32.0)  # pelvis (belt clip) tilts backward when sitting: modest, confusable
SIT_THIGH_PITCH_DEG = (-95.0, -75.0)
LYING_SIDES_DEG = (0.0, 90.0, -90.0)  # on the back, left side, right side
LYING_SIDE_PROBABILITIES = (0.6, 0.2, 0.2)
TRANSITION_PACE = (0.75, 1.3)  # multiplies nominal transition durations
SWAY_GAIN = (0.6, 1.6)
TREMOR_HZ = (8.0, 12.0)


@dataclass(frozen=True)
class SubjectProfile:
    """Physiology of one synthetic subject; depends only on (seed, subject), never on position or device.

    ``step_hz`` maps each dynamic activity to its step rate (steps, pedal half-revolutions or jumps per
    second); ``harmonic_weights`` weight harmonics 1..4 of gait waveforms (0 past the subject's count) and
    ``harmonic_phases_rad`` their phases per axis (forward, lateral, vertical). Angles in degrees: lean of
    the trunk when standing, the backward tilt of the pelvis when sitting (the waist sitting/standing
    difference), thigh pitch when sitting and the lying side (0 back, 90 left, -90 right).
    """

    step_hz: Mapping[str, float]
    gait_gain: float
    swing_gain: float
    harmonic_weights: tuple[float, ...]
    harmonic_phases_rad: tuple[tuple[float, ...], ...]
    stand_lean_deg: float
    sit_trunk_tilt_deg: float
    sit_thigh_pitch_deg: float
    lying_side_deg: float
    transition_pace: float
    sway_gain: float
    tremor_hz: float


def subject_profile(seed: int, subject: int) -> SubjectProfile:
    """The physiology of ``subject`` (1-based) under ``seed``."""
    rng = stream_rng(seed, PHYSIOLOGY, subject)
    base_cadence_hz = {
        "walk": rng.uniform(*WALK_STEP_HZ),
        "run": rng.uniform(*RUN_STEP_HZ),
        "pedal": rng.uniform(*PEDAL_REV_HZ),
        "jump": rng.uniform(*JUMP_HZ),
    }
    harmonics = rng.integers(2, HARMONICS + 1)
    overtones = rng.uniform(*HARMONIC_WEIGHT, HARMONICS - 1) * (np.arange(2, HARMONICS + 1) <= harmonics)
    phases = rng.uniform(0, 2 * np.pi, (3, HARMONICS))
    phases[2, 0] = 0.0  # the vertical fundamental defines the step phase; heel strikes sit at its peak
    return SubjectProfile(
        step_hz=MappingProxyType(
            {name: base_cadence_hz[s.cadence] * s.cadence_factor for name, s in GAIT_STYLES.items()}
        ),
        gait_gain=rng.uniform(*GAIT_GAIN),
        swing_gain=rng.uniform(*SWING_GAIN),
        harmonic_weights=(1.0, *overtones.tolist()),
        harmonic_phases_rad=tuple(map(tuple, phases.tolist())),
        stand_lean_deg=rng.uniform(*STAND_LEAN_DEG),
        sit_trunk_tilt_deg=rng.uniform(*WAIST_SIT_TILT_DEG),
        sit_thigh_pitch_deg=rng.uniform(*SIT_THIGH_PITCH_DEG),
        lying_side_deg=float(rng.choice(LYING_SIDES_DEG, p=LYING_SIDE_PROBABILITIES)),
        transition_pace=rng.uniform(*TRANSITION_PACE),
        sway_gain=rng.uniform(*SWAY_GAIN),
        tremor_hz=rng.uniform(*TREMOR_HZ),
    )
