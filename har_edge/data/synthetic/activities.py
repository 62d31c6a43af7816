"""The activities: class names, the stylised gait of each dynamic activity, postural transitions and
the static poses of each body segment."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

HAPT_CLASSES: tuple[str, ...] = (
    "WALKING",
    "WALKING_UPSTAIRS",
    "WALKING_DOWNSTAIRS",
    "SITTING",
    "STANDING",
    "LAYING",
    "STAND_TO_SIT",
    "SIT_TO_STAND",
    "SIT_TO_LIE",
    "LIE_TO_SIT",
    "STAND_TO_LIE",
    "LIE_TO_STAND",
)
EXTRA_ACTIVITIES: tuple[str, ...] = ("RUNNING", "CYCLING", "JUMPING")
ACTIVITIES: tuple[str, ...] = HAPT_CLASSES + EXTRA_ACTIVITIES
STATIC_POSTURES: tuple[str, ...] = ("STANDING", "SITTING", "LAYING")


@dataclass(frozen=True)
class GaitStyle:
    """Stylised periodic motion of one dynamic activity, for a subject of gait and swing gain 1.

    A *step* is one period of the vertical bounce (a foot contact, a pedal down-stroke, a jump); a stride
    is two steps. ``bounce_m_s2`` are the (forward, lateral, vertical) amplitudes of the fundamentals of
    the subject's harmonic series (lateral sways once per stride, the others once per step); the impact
    is a zero-mean von Mises pulse per step (sharpness = its concentration κ), felt forward by
    ``braking_ratio`` (negative: deceleration at heel strike). ``swing_deg`` are amplitudes of world-frame
    segment rotations (roll, pitch, yaw): trunk pitch oscillates once per step, everything else once per
    stride. ``vibration_m_s2`` is the RMS of 8–20 Hz road vibration.
    """

    cadence: str  # which of the subject's base cadences (walk, run, pedal, jump) this activity uses
    cadence_factor: float
    bounce_m_s2: tuple[float, float, float]
    impact_m_s2: float
    impact_sharpness: float
    braking_ratio: float
    mean_pitch_deg: Mapping[str, float]
    swing_deg: Mapping[str, tuple[float, float, float]]
    vibration_m_s2: float = 0.0


GAIT_STYLES: Mapping[str, GaitStyle] = MappingProxyType(
    {
        "WALKING": GaitStyle(
            cadence="walk",
            cadence_factor=1.0,
            bounce_m_s2=(1.6, 1.0, 2.6),
            impact_m_s2=1.5,
            impact_sharpness=4.0,
            braking_ratio=-0.4,
            mean_pitch_deg={"trunk": 2.0, "thigh": -5.0, "forearm": 0.0},
            swing_deg={"trunk": (3.0, 2.0, 4.0), "thigh": (2.0, 22.0, 4.0), "forearm": (3.0, 20.0, 5.0)},
        ),
        "WALKING_UPSTAIRS": GaitStyle(  # slower, more vertical effort, forward lean, soft contacts
            cadence="walk",
            cadence_factor=0.85,
            bounce_m_s2=(1.3, 1.3, 3.6),
            impact_m_s2=0.8,
            impact_sharpness=3.0,
            braking_ratio=-0.2,
            mean_pitch_deg={"trunk": 14.0, "thigh": -25.0, "forearm": -5.0},
            swing_deg={"trunk": (4.0, 3.0, 4.0), "thigh": (3.0, 30.0, 4.0), "forearm": (3.0, 12.0, 5.0)},
        ),
        "WALKING_DOWNSTAIRS": GaitStyle(  # faster, sharp heel strikes
            cadence="walk",
            cadence_factor=1.1,
            bounce_m_s2=(1.7, 1.2, 3.0),
            impact_m_s2=8.0,
            impact_sharpness=10.0,
            braking_ratio=-0.5,
            mean_pitch_deg={"trunk": -2.0, "thigh": -12.0, "forearm": 0.0},
            swing_deg={"trunk": (4.0, 3.0, 3.0), "thigh": (3.0, 25.0, 4.0), "forearm": (4.0, 14.0, 5.0)},
        ),
        "RUNNING": GaitStyle(  # 2–3 g peaks with short flight phases
            cadence="run",
            cadence_factor=1.0,
            bounce_m_s2=(3.0, 2.0, 4.0),
            impact_m_s2=14.0,
            impact_sharpness=4.0,
            braking_ratio=-0.35,
            mean_pitch_deg={"trunk": 8.0, "thigh": -15.0, "forearm": -70.0},
            swing_deg={"trunk": (5.0, 4.0, 8.0), "thigh": (3.0, 35.0, 6.0), "forearm": (5.0, 35.0, 10.0)},
        ),
        "CYCLING": GaitStyle(  # seated, leaning on the handlebar; a step is half a pedal revolution
            cadence="pedal",
            cadence_factor=2.0,
            bounce_m_s2=(0.4, 0.5, 0.6),
            impact_m_s2=0.0,
            impact_sharpness=1.0,
            braking_ratio=0.0,
            mean_pitch_deg={"trunk": 30.0, "thigh": -55.0, "forearm": -60.0},
            swing_deg={"trunk": (3.0, 1.0, 2.0), "thigh": (2.0, 25.0, 3.0), "forearm": (1.0, 2.0, 1.0)},
            vibration_m_s2=0.8,
        ),
        "JUMPING": GaitStyle(  # jumping in place: near free fall between landings of ~3.5 g
            cadence="jump",
            cadence_factor=1.0,
            bounce_m_s2=(0.5, 0.3, 2.0),
            impact_m_s2=25.0,
            impact_sharpness=3.0,
            braking_ratio=0.0,
            mean_pitch_deg={"trunk": 0.0, "thigh": -10.0, "forearm": 0.0},
            swing_deg={"trunk": (1.0, 3.0, 1.0), "thigh": (1.0, 12.0, 2.0), "forearm": (2.0, 25.0, 3.0)},
        ),
    }
)


@dataclass(frozen=True)
class Transition:
    """A postural transition: its end postures, nominal duration and the centre-of-mass shift."""

    start: str
    end: str
    nominal_s: float
    com_drop_m: float
    com_forward_m: float


TRANSITIONS: Mapping[str, Transition] = MappingProxyType(
    {
        "STAND_TO_SIT": Transition("STANDING", "SITTING", 3.5, 0.45, -0.10),
        "SIT_TO_STAND": Transition("SITTING", "STANDING", 3.0, -0.45, 0.10),
        "SIT_TO_LIE": Transition("SITTING", "LAYING", 4.5, 0.30, -0.20),
        "LIE_TO_SIT": Transition("LAYING", "SITTING", 4.0, -0.30, 0.20),
        "STAND_TO_LIE": Transition("STANDING", "LAYING", 5.0, 0.75, -0.20),
        "LIE_TO_STAND": Transition("LAYING", "STANDING", 5.0, -0.75, 0.20),
    }
)
TRANSITION_BY_POSTURES = {(t.start, t.end): name for name, t in TRANSITIONS.items()}
# Static postures per segment: nominal (pitch, roll, twist) and the ± range of per-bout variation, in
# degrees. Subject-specific offsets (lean, sitting tilt, lying side) are added in timeline.py.
_Angles = tuple[float, float, float]
STATIC_POSES_DEG: Mapping[str, Mapping[str, tuple[_Angles, _Angles]]] = {
    "trunk": {
        "STANDING": ((0, 0, 0), (2, 1, 0)),
        "SITTING": ((0, 0, 0), (2, 1, 0)),
        "LAYING": ((-90, 0, 0), (5, 3, 12)),
    },
    "thigh": {
        "STANDING": ((0, 0, 0), (3, 3, 5)),
        "SITTING": ((0, 0, 0), (5, 5, 10)),
        "LAYING": ((-90, 0, 15), (5, 3, 10)),
    },
    "forearm": {  # free wrist: arms hang, rest on the lap or lie anywhere
        "STANDING": ((0, 0, 0), (15, 10, 45)),
        "SITTING": ((-80, 0, 0), (25, 20, 70)),
        "LAYING": ((-90, 0, 0), (40, 30, 90)),
    },
}
# ± range of per-bout variation of the (pitch, roll, twist) of each segment during dynamic activities.
GAIT_POSE_JITTER_DEG = {"trunk": (3, 1, 0), "thigh": (3, 2, 5), "forearm": (10, 5, 20)}


def _posture_circuits() -> tuple[tuple[str, ...], ...]:
    """Every order of postures that performs each transition once, from standing back to standing."""
    edges = [(t.start, t.end) for t in TRANSITIONS.values()]
    circuits = []
    for order in itertools.permutations(edges):
        path = ["STANDING"]
        for start, end in order:
            if start != path[-1]:
                break
            path.append(end)
        else:
            circuits.append(tuple(path))
    return tuple(sorted(set(circuits)))


POSTURE_CIRCUITS = _posture_circuits()
