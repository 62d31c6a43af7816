"""What to generate: ``SyntheticConfig`` and its validation."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

from har_edge.data.synthetic.activities import ACTIVITIES, HAPT_CLASSES
from har_edge.data.synthetic.domains import DEVICES, POSITIONS
from har_edge.errors import InputError


@dataclass(frozen=True)
class SyntheticConfig:
    """What to generate. Raises ``InputError`` naming the field on invalid values.

    ``seconds_per_activity`` is the labelled time per subject of each static or dynamic class, split over
    at least two bouts (each at least ``MIN_BOUT_S``); transitions last 2.5–6 s and each occurs once per
    repeat of the protocol. ``classes`` are names from ``ACTIVITIES``; samples of anything else
    (unstudied postures, unnamed reorientations, gait start/stop) are ``UNLABELLED``.
    """

    subjects: int = 30
    rate_hz: float = 50.0
    seconds_per_activity: float = 60.0
    classes: tuple[str, ...] = HAPT_CLASSES
    position: str = "waist"
    device: str = "reference-phone"
    gyroscope: bool = True
    seed: int = 0
    repeats: int = 2

    def __post_init__(self) -> None:
        if isinstance(self.classes, str):
            raise InputError(f"SyntheticConfig.classes: expected a sequence of names, got {self.classes!r}")
        object.__setattr__(self, "classes", tuple(self.classes))
        _require_int(self.subjects, "subjects", minimum=1)
        _require_int(self.repeats, "repeats", minimum=1)
        _require_int(self.seed, "seed", minimum=0)
        _require_positive(self.rate_hz, "rate_hz")
        _require_positive(self.seconds_per_activity, "seconds_per_activity")
        _require_name(self.position, "position", POSITIONS)
        _require_name(self.device, "device", DEVICES)
        if not isinstance(self.gyroscope, bool):
            raise InputError(f"SyntheticConfig.gyroscope: expected True or False, got {self.gyroscope!r}")
        if not self.classes or len(set(self.classes)) != len(self.classes):
            raise InputError(f"SyntheticConfig.classes: expected distinct names, got {self.classes!r}")
        for name in self.classes:
            _require_name(name, "classes", ACTIVITIES)


def _require_int(value: object, field_name: str, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InputError(f"SyntheticConfig.{field_name}: expected an integer >= {minimum}, got {value!r}")


def _require_positive(value: object, field_name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < math.inf:
        raise InputError(f"SyntheticConfig.{field_name}: expected a finite number > 0, got {value!r}")


def _require_name(value: object, field_name: str, valid: Mapping[str, object] | tuple[str, ...]) -> None:
    if value not in valid:
        raise InputError(f"SyntheticConfig.{field_name}: unknown {value!r} (valid: {', '.join(valid)})")
