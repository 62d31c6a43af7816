"""The protocol: the order and durations of a subject's bouts and transitions (independent of position
and device), and the segments one sensor position lives through."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from har_edge.data.synthetic.activities import (
    GAIT_POSE_JITTER_DEG,
    GAIT_STYLES,
    POSTURE_CIRCUITS,
    STATIC_POSES_DEG,
    STATIC_POSTURES,
    TRANSITION_BY_POSTURES,
    TRANSITIONS,
    GaitStyle,
    Transition,
)
from har_edge.data.synthetic.config import SyntheticConfig
from har_edge.data.synthetic.domains import PositionProfile
from har_edge.data.synthetic.orientation import pose_quaternion
from har_edge.data.synthetic.randomness import PROTOCOL, stream_rng
from har_edge.data.synthetic.subjects import SubjectProfile
from har_edge.types import UNLABELLED

# Protocol timing.
MIN_BOUTS_PER_ACTIVITY = 2
MIN_BOUT_S = 2.0  # labelled part of a bout; short configs may therefore yield more than asked for
UNSTUDIED_VISIT_S = 3.0  # a posture visited only to reach a studied transition
CONNECTOR_S = 1.5  # unlabelled reorientation between bouts that no transition class describes
GAIT_RAMP_S = 1.0  # gait starts and stops over this long at both ends of a bout (unlabelled)
DURATION_JITTER = 0.3  # bout durations vary by ± this fraction before being scaled to the target
TRANSITION_RANGE_S = (2.5, 6.0)
TRANSITION_JITTER = 0.1  # each transition's duration varies by ± this fraction around the subject's pace
SWAY_RMS_DEG = MappingProxyType({"STANDING": 0.5, "SITTING": 0.2, "LAYING": 0.1})
GAIT_SWAY_RMS_DEG = 0.5


@dataclass(frozen=True)
class Visit:
    """One bout of one activity, with its per-bout randomness (pose variation in [-1, 1], gait phase)."""

    activity: str
    duration_s: float
    label: int
    pose_u: np.ndarray
    gait_phase_rad: float


@dataclass(frozen=True)
class Connector:
    """What joins two bouts: a postural transition, or an unnamed reorientation (``transition`` None)."""

    duration_s: float
    label: int
    transition: Transition | None


@dataclass(frozen=True)
class Timeline:
    """What a subject does and when; independent of position and device. connectors[i] follows visits[i]."""

    visits: tuple[Visit, ...]
    connectors: tuple[Connector, ...]

    @property
    def duration_s(self) -> float:
        return sum(v.duration_s for v in self.visits) + sum(c.duration_s for c in self.connectors)


def _label(name: str, classes: tuple[str, ...]) -> int:
    return classes.index(name) if name in classes else UNLABELLED


def _activity_order(classes: tuple[str, ...], repeats: int, rng: np.random.Generator) -> list[str]:
    """Activities in the order performed. Each repeat walks a posture circuit (when any posture or
    transition is studied) and starts every dynamic bout from a standing visit, returning to standing."""
    dynamic = [c for c in classes if c in GAIT_STYLES]
    uses_postures = any(c in STATIC_POSTURES or c in TRANSITIONS for c in classes)
    bouts_per_repeat = math.ceil(MIN_BOUTS_PER_ACTIVITY / repeats)
    order = ["STANDING"]
    for _ in range(repeats):
        circuit = POSTURE_CIRCUITS[rng.integers(len(POSTURE_CIRCUITS))] if uses_postures else ("STANDING",)
        bouts = rng.permutation(np.array(dynamic * bouts_per_repeat, dtype=str))
        standing_slots = [i for i, posture in enumerate(circuit) if posture == "STANDING"]
        slot_of_bout = rng.choice(standing_slots, size=len(bouts))
        for slot, posture in enumerate(circuit):
            if posture != order[-1]:  # a repeat starts where the previous one ended
                order.append(posture)
            for bout in bouts[slot_of_bout == slot]:
                order += [str(bout), "STANDING"]
    return order


def _visit_durations(
    order: list[str], classes: tuple[str, ...], seconds_per_activity: float, rng: np.random.Generator
) -> np.ndarray:
    """Studied activities share ``seconds_per_activity`` over their visits; others get a short visit."""
    weights = rng.uniform(1 - DURATION_JITTER, 1 + DURATION_JITTER, len(order))
    names = np.array(order)
    durations = UNSTUDIED_VISIT_S * weights
    for activity in classes:
        visits = names == activity
        if visits.any():
            share = seconds_per_activity * weights[visits] / weights[visits].sum()
            durations[visits] = np.maximum(share, MIN_BOUT_S)
    return durations + 2 * GAIT_RAMP_S * np.isin(names, list(GAIT_STYLES))


def _connector(
    before: str, after: str, classes: tuple[str, ...], profile: SubjectProfile, rng: np.random.Generator
) -> Connector:
    name = TRANSITION_BY_POSTURES.get((before, after))
    if name is None:
        return Connector(CONNECTOR_S, UNLABELLED, None)
    transition = TRANSITIONS[name]
    pace = profile.transition_pace * rng.uniform(1 - TRANSITION_JITTER, 1 + TRANSITION_JITTER)
    duration = float(np.clip(transition.nominal_s * pace, *TRANSITION_RANGE_S))
    return Connector(duration, _label(name, classes), transition)


def make_timeline(config: SyntheticConfig, subject: int, profile: SubjectProfile) -> Timeline:
    rng = stream_rng(config.seed, PROTOCOL, subject)
    order = _activity_order(config.classes, config.repeats, rng)
    durations = _visit_durations(order, config.classes, config.seconds_per_activity, rng)
    visits = tuple(
        Visit(name, float(d), _label(name, config.classes), rng.uniform(-1, 1, 3), rng.uniform(0, 2 * np.pi))
        for name, d in zip(order, durations, strict=True)
    )
    connectors = tuple(
        _connector(before, after, config.classes, profile, rng) for before, after in itertools.pairwise(order)
    )
    return Timeline(visits, connectors)


@dataclass(frozen=True)
class Segment:
    """A stretch of the timeline as one sensor segment lives it: a bout (both poses equal) or a connector
    that turns the segment from the first pose to the second. Poses are quaternions; sway in degrees RMS."""

    start_s: float
    duration_s: float
    label: int
    poses: tuple[np.ndarray, np.ndarray]
    sway_deg: tuple[float, float]
    gait: GaitStyle | None = None
    step_hz: float = 0.0
    gait_phase_rad: float = 0.0
    transition: Transition | None = None


def _subject_pose_offset_deg(segment: str, activity: str, profile: SubjectProfile) -> tuple[float, ...]:
    if activity == "LAYING":
        return (0.0, 0.0, profile.lying_side_deg)
    if segment == "trunk":
        sitting_tilt = profile.sit_trunk_tilt_deg if activity == "SITTING" else 0.0
        return (profile.stand_lean_deg - sitting_tilt, 0.0, 0.0)
    if segment == "thigh" and activity == "SITTING":
        return (profile.sit_thigh_pitch_deg, 0.0, 0.0)
    return (0.0, 0.0, 0.0)


def _bout_pose(segment: str, visit: Visit, profile: SubjectProfile) -> np.ndarray:
    """Orientation quaternion of ``segment`` during a bout."""
    if visit.activity in GAIT_STYLES:
        nominal = (GAIT_STYLES[visit.activity].mean_pitch_deg[segment], 0.0, 0.0)
        spread = GAIT_POSE_JITTER_DEG[segment]
    else:
        nominal, spread = STATIC_POSES_DEG[segment][visit.activity]
    offset = _subject_pose_offset_deg(segment, visit.activity, profile)
    return pose_quaternion(*(np.add(nominal, offset) + np.multiply(spread, visit.pose_u)))


def make_segments(timeline: Timeline, position: PositionProfile, profile: SubjectProfile) -> list[Segment]:
    poses = [_bout_pose(position.segment, v, profile) for v in timeline.visits]
    sway_gain = profile.sway_gain * position.sway_gain
    sways = [sway_gain * SWAY_RMS_DEG.get(v.activity, GAIT_SWAY_RMS_DEG) for v in timeline.visits]
    segments, start = [], 0.0
    for i, visit in enumerate(timeline.visits):
        gait = GAIT_STYLES.get(visit.activity)
        step_hz = profile.step_hz[visit.activity] if gait else 0.0
        pose, sway = (poses[i], poses[i]), (sways[i], sways[i])
        segments.append(
            Segment(start, visit.duration_s, visit.label, pose, sway, gait, step_hz, visit.gait_phase_rad)
        )
        start += visit.duration_s
        if i < len(timeline.connectors):
            link = timeline.connectors[i]
            pose, sway = (poses[i], poses[i + 1]), (sways[i], sways[i + 1])
            segments.append(
                Segment(start, link.duration_s, link.label, pose, sway, transition=link.transition)
            )
            start += link.duration_s
    return segments
