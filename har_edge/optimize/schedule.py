"""A pruning schedule (``optimize --schedule``, ``--structure``): how many weights to zero and when, in
fine-tuning steps, validated field by field, resolved against the fine-tuning length and turned into
tfmot's schedule object (``optimize.prune`` runs it)."""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from har_edge.errors import InputError
from har_edge.optimize.structure import STRUCTURES
from har_edge.tfcompat import tfmot

SCHEDULE_KINDS = ("constant", "polynomial")
POLYNOMIAL_RAMP_FRACTION = 0.75  # default end_step: the ramp ends here, the rest of fine-tuning recovers


@dataclass(frozen=True)
class PruningSchedule:
    """How many weights to zero and when, in fine-tuning steps (batches).

    ``constant`` prunes to ``target_sparsity`` at ``begin_step`` and every ``frequency`` steps after;
    ``polynomial`` ramps from ``initial_sparsity`` to ``target_sparsity`` between ``begin_step`` and
    ``end_step`` (cubic, tfmot's ``PolynomialDecay``). ``end_step=None`` is resolved from the fine-tuning
    length: the last step for ``constant``, about 3/4 of the way for ``polynomial``.

    ``m_by_n=(2, 4)`` asks for structured sparsity instead: at least 2 zeros in every 4 consecutive
    input weights of each kernel, fixed at the first step; the sparsity fields are then ignored.
    ``structure`` (``optimize.structure``): ``block`` zeroes 4x4 blocks on this schedule, ``unit``
    removes that fraction of units once and fine-tunes, ``m:n`` is ``m_by_n`` (2:4 unless given).
    """

    kind: str = "polynomial"
    target_sparsity: float = 0.5
    initial_sparsity: float = 0.0
    begin_step: int = 0
    end_step: int | None = None
    frequency: int = 10
    m_by_n: tuple[int, int] | None = None
    structure: str = "unstructured"

    def __post_init__(self) -> None:
        if self.structure not in STRUCTURES:
            raise InputError(
                f"pruning schedule: structure {self.structure!r}, expected one of {', '.join(STRUCTURES)}"
            )
        if self.structure == "m:n" and self.m_by_n is None:
            object.__setattr__(self, "m_by_n", (2, 4))
        if self.m_by_n is not None and self.structure == "unstructured":
            object.__setattr__(self, "structure", "m:n")
        if self.kind not in SCHEDULE_KINDS:
            raise InputError(
                f"pruning schedule: kind {self.kind!r}, expected one of {', '.join(SCHEDULE_KINDS)}"
            )
        _require_fraction("target_sparsity", self.target_sparsity)
        _require_fraction("initial_sparsity", self.initial_sparsity)
        if self.initial_sparsity > self.target_sparsity:
            raise InputError(
                f"pruning schedule: initial_sparsity {self.initial_sparsity} exceeds "
                f"target_sparsity {self.target_sparsity}"
            )
        _require_int("begin_step", self.begin_step, minimum=0)
        _require_int("frequency", self.frequency, minimum=1)
        if self.end_step is not None:
            _require_int("end_step", self.end_step, minimum=self.begin_step)
            self._require_end_on_an_update()
        if self.m_by_n is not None:
            object.__setattr__(self, "m_by_n", _m_by_n(self.m_by_n))

    @property
    def is_noop(self) -> bool:
        """True when nothing would be pruned (target 0, no structured sparsity)."""
        return self.m_by_n is None and self.target_sparsity == 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["m_by_n"] = None if self.m_by_n is None else list(self.m_by_n)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PruningSchedule:
        valid = [f.name for f in fields(cls)]
        if not isinstance(data, dict):
            raise InputError(
                f"pruning schedule: expected a mapping with keys {', '.join(valid)}, got {data!r}"
            )
        unknown = sorted(set(data) - set(valid))
        if unknown:
            raise InputError(f"pruning schedule: unknown keys {unknown}; valid keys: {', '.join(valid)}")
        return cls(**data)

    def resolved(self, total_steps: int) -> PruningSchedule:
        """This schedule with a concrete ``end_step`` for ``total_steps`` fine-tuning steps (m-by-n
        schedules stay as they are: tfmot sets their masks once, at step 1).

        Raises ``InputError`` when pruning could not reach the target within those steps.
        """
        if self.m_by_n or self.structure == "unit":
            _require_steps(total_steps, 2 if self.m_by_n else 1)
            return self
        _require_steps(total_steps, self.begin_step + 1)
        end_step = self._default_end_step(total_steps) if self.end_step is None else self.end_step
        if end_step > total_steps - 1:
            raise InputError(
                f"pruning schedule: end_step {end_step} is past the last fine-tuning step "
                f"{total_steps - 1}; train for more epochs, lower end_step or frequency"
            )
        return replace(self, end_step=end_step)

    def to_tfmot(self):
        """tfmot's schedule object (call on a ``resolved`` schedule)."""
        sparsity = tfmot().sparsity.keras
        if self.kind == "polynomial" and not self.m_by_n:
            return sparsity.PolynomialDecay(
                self.initial_sparsity,
                self.target_sparsity,
                self.begin_step,
                self.end_step,
                frequency=self.frequency,
            )
        # for m-by-n masks tfmot ignores the schedule; a constant one is a valid placeholder
        end_step = -1 if self.end_step is None else self.end_step
        return sparsity.ConstantSparsity(self.target_sparsity, self.begin_step, end_step, self.frequency)

    @property
    def target_step(self) -> int:
        """The fine-tuning step whose mask update first reaches the target (of a resolved schedule)."""
        if self.m_by_n:
            return 1
        return self.begin_step if self.kind == "constant" else self.end_step

    def _default_end_step(self, total_steps: int) -> int:
        if self.kind == "constant":
            return total_steps - 1
        ramp_updates = int(POLYNOMIAL_RAMP_FRACTION * total_steps - self.begin_step) // self.frequency
        return self.begin_step + self.frequency * max(1, ramp_updates)

    def _require_end_on_an_update(self) -> None:
        """tfmot updates masks only every ``frequency`` steps: a polynomial ramp ending between two
        updates would stop short of the target."""
        if self.kind == "polynomial" and (self.end_step - self.begin_step) % self.frequency:
            raise InputError(
                f"pruning schedule: end_step - begin_step ({self.end_step - self.begin_step}) must be a "
                f"multiple of frequency ({self.frequency}) so the last mask update reaches the target"
            )


def _require_steps(total_steps: int, needed: int) -> None:
    if total_steps < needed:
        raise InputError(
            f"pruning schedule needs at least {needed} fine-tuning steps, got {total_steps}; "
            "train for more epochs or lower begin_step"
        )


def _require_fraction(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise InputError(f"pruning schedule: {name} must be in [0, 1), got {value!r}")


def _require_int(name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InputError(f"pruning schedule: {name} must be an integer >= {minimum}, got {value!r}")


def _m_by_n(value: object) -> tuple[int, int]:
    pair = tuple(value) if isinstance(value, tuple | list) else ()
    integers = len(pair) == 2 and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in pair
    )
    if not integers or not 0 < pair[0] < pair[1]:
        raise InputError(
            f"pruning schedule: m_by_n must be two integers (m, n) with 0 < m < n, got {value!r}"
        )
    return int(pair[0]), int(pair[1])
