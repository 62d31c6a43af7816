"""What every target measures: an ``Artifact`` (the deployable TFLite bytes of one variant) in,
``TargetFigures`` out, each figure labelled ``measured`` or ``estimated``.

Targets import no TensorFlow: they see TFLite bytes, never Keras models (the tf_keras latency ratio is
an optional callable the caller supplies).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import numpy as np


class Provenance(StrEnum):
    """Where a figure comes from: measured, estimated, or derived from a measured figure with a stated
    factor (a microcontroller latency: instructions counted on an emulated board x cycles/instruction)."""

    MEASURED = "measured"
    ESTIMATED = "estimated"
    DERIVED = "derived"


class Measurement(StrEnum):
    """What a whole row is: every figure measured, some estimated, the target does not apply to the
    variant (e.g. a float16 model on a microcontroller), or the target failed to run it."""

    MEASURED = "measured"
    ESTIMATED = "estimated"
    NOT_APPLICABLE = "not_applicable"
    FAILED = "failed"


@dataclass(frozen=True, eq=False)
class Artifact:
    """One variant as it ships.

    ``model_bytes``: the whole model, or a bundle's base, with a dynamic batch (desktop, Pi).
    ``mcu_bytes``: the int8 batch-1 file TFLM runs (None when the variant is not int8).
    ``head_bytes``: a bundle's trainable float head (its bytes count towards size; desktop latency
    includes it). ``macs``: multiply-accumulates per window over base and head.
    ``sample``: a few model-input windows (n, *window_shape) for parity and timing, float32.
    ``precision``: ``float32``, ``float16``, ``dynamic`` or ``int8`` (estimates scale with it).
    ``bundle_path``: the bundle folder, when there is one (the remote runner copies it).
    ``keras_call``: optional ``fn(window_batch) -> probabilities`` of the same model in tf_keras,
    for the desktop target's latency ratio.
    """

    variant: str
    model_bytes: bytes
    macs: int
    sample: np.ndarray
    precision: str = "int8"
    mcu_bytes: bytes | None = None
    head_bytes: bytes | None = None
    bundle_path: Path | None = None
    keras_call: Callable[[np.ndarray], Any] | None = None

    @property
    def size_bytes(self) -> int:
        return len(self.model_bytes) + len(self.head_bytes or b"")


@dataclass(frozen=True)
class TargetFigures:
    """What one target found for one artifact. Missing figures are None; ``provenance`` maps each
    figure that is present (``latency``, ``ram``, ``flash``) to measured/estimated. ``fits`` is None
    when the target has no memory limits; a negative margin says by how much it does not fit.
    ``error`` is set (and the other figures may be None) when the target could not run the variant;
    ``applicable`` False says why it was not even tried (``error`` then holds the reason).
    ``tflm_arena_bytes`` (microcontrollers): TFLM's arena for the same model, a comparison column;
    ``instructions_per_inference`` / ``instructions_per_mac``: counted on an emulated board;
    ``flash_weights_bytes`` / ``flash_code_bytes``: the flash split of a linked firmware image."""

    target: str
    latency_us_p50: float | None = None
    latency_us_p90: float | None = None
    latency_n: int | None = None
    threads: int | None = None
    ram_bytes: int | None = None
    flash_bytes: int | None = None
    fits: bool | None = None
    ram_margin_bytes: int | None = None
    flash_margin_bytes: int | None = None
    keras_latency_ratio: float | None = None
    tflm_arena_bytes: int | None = None
    instructions_per_inference: int | None = None
    instructions_per_mac: float | None = None
    flash_weights_bytes: int | None = None
    flash_code_bytes: int | None = None
    provenance: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    notes: tuple[str, ...] = ()
    applicable: bool = True

    @property
    def measurement(self) -> str:
        """``not_applicable`` or ``failed`` for a row with an error; else ``measured`` when every figure
        present was measured (or derived from a measured one), else ``estimated``."""
        if self.error is not None:
            return (Measurement.FAILED if self.applicable else Measurement.NOT_APPLICABLE).value
        if any(value == Provenance.ESTIMATED for value in self.provenance.values()):
            return Provenance.ESTIMATED.value
        return Provenance.MEASURED.value

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "notes": list(self.notes), "measurement": self.measurement}


class Target(Protocol):
    """A place a variant can run. ``name`` is what reports and budgets call it."""

    name: str

    def measure(self, artifact: Artifact) -> TargetFigures: ...


# --- microcontroller rows (shared by the TFLM estimate and the measured firmware) ------------------


def fit_fields(profile, latency_us: float | None, ram: int, flash: int) -> dict[str, Any]:
    """The ``TargetFigures`` fields every MCU row shares: one latency figure (p50 = p90), RAM and flash,
    their margins against ``profile``'s and whether the model fits."""
    ram_margin, flash_margin = profile.ram_bytes - ram, profile.flash_bytes - flash
    return {
        "latency_us_p50": latency_us,
        "latency_us_p90": latency_us,
        "ram_bytes": ram,
        "flash_bytes": flash,
        "fits": ram_margin >= 0 and flash_margin >= 0,
        "ram_margin_bytes": ram_margin,
        "flash_margin_bytes": flash_margin,
    }


def shortfalls(profile, fields: dict[str, Any]) -> list[str]:
    """'does not fit' notes for the negative margins of ``fit_fields``."""
    return [
        f"does not fit: needs {-margin:,} B more {what} than the {_size_text(size)} of {profile.name}"
        for what, margin, size in (
            ("RAM", fields["ram_margin_bytes"], profile.ram_bytes),
            ("flash", fields["flash_margin_bytes"], profile.flash_bytes),
        )
        if margin < 0
    ]


def _size_text(n: int) -> str:
    return f"{n // 1024:,} KiB" if n % 1024 == 0 else f"{n:,} B"
