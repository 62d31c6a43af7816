"""How long a time step may be before it counts as a gap, from a recording's own measured timing.

Phones and watches do not sample evenly. An HHAR watch delivers about 100 Hz with steps of a few ms
either side and, now and then, a stall of tens to hundreds of ms before the next sample. Windowing's
fixed rule (a step over ``FIXED_PERIODS`` median steps is a gap) cuts a segment at every stall, so such a
recording falls apart into pieces shorter than a window. ``jitter_gap_s`` follows the timing instead:
the steps a device takes at least once per ``1 / (1 - RECURRING_QUANTILE)`` samples are its jitter, not
missing data, so a gap is a step over ``JITTER_FACTOR`` times that quantile; never stricter than the
fixed rule, and at most ``MAX_JITTER_GAP_S`` (no more is interpolated across unless the user says so
with ``max_gap_s``). The threshold travels with each recording (``Recording.max_gap_s``), and
``GapRule`` writes the note saying what it did.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from har_edge.errors import InputError

FIXED_PERIODS = 2.5  # windowing's rule when a recording carries no threshold (WindowConfig.max_gap_factor)
RECURRING_QUANTILE = 0.999  # a step at least 1 in 1,000 steps reach is the device's timing
JITTER_FACTOR = 2.5
MAX_JITTER_GAP_S = 1.0


def require_max_gap(max_gap_s: float | None) -> None:
    if max_gap_s is not None and not (
        isinstance(max_gap_s, int | float) and not isinstance(max_gap_s, bool) and 0 < max_gap_s < math.inf
    ):
        raise InputError(f"max_gap_s must be a positive number of seconds, not {max_gap_s!r}")


def jitter_gap_s(steps_s: np.ndarray) -> float:
    """The longest time step of a recording with time steps ``steps_s`` that is not a gap."""
    fixed = FIXED_PERIODS * float(np.median(steps_s))
    jitter = JITTER_FACTOR * float(np.quantile(steps_s, RECURRING_QUANTILE))
    return max(fixed, min(jitter, MAX_JITTER_GAP_S))


class GapRule:
    """Each recording's gap threshold (``max_gap_s`` when given, else ``jitter_gap_s``) and the counts
    for the note: steps the fixed rule would cut at, and those the threshold cuts at."""

    def __init__(self, max_gap_s: float | None) -> None:
        require_max_gap(max_gap_s)
        self.given = max_gap_s
        self.thresholds: list[float] = []
        self.fixed_cuts = self.cuts = 0

    def threshold(self, steps_s: np.ndarray) -> float:
        """The threshold of one recording (``steps_s`` non-empty), counted for the note."""
        threshold = self.given if self.given is not None else jitter_gap_s(steps_s)
        self.thresholds.append(threshold)
        self.fixed_cuts += int(np.count_nonzero(steps_s > FIXED_PERIODS * np.median(steps_s)))
        self.cuts += int(np.count_nonzero(steps_s > threshold))
        return threshold

    def notes(self, path: Path) -> tuple[str, ...]:
        if not self.thresholds:
            return ()
        if self.given is not None:
            rule = f"time steps over max_gap_s={self.given:g} s are gaps"
        else:
            low, high = min(self.thresholds), max(self.thresholds)
            span = f"{low:.3g} s" if math.isclose(low, high) else f"{low:.3g}-{high:.3g} s"
            rule = (
                f"gap threshold from each recording's measured timing jitter ({JITTER_FACTOR:g} x the time "
                f"step {100 * (1 - RECURRING_QUANTILE):g} % of steps reach, at least {FIXED_PERIODS:g} "
                f"median steps, at most {MAX_JITTER_GAP_S:g} s): {span} over {len(self.thresholds)} "
                "recording(s); set it with --format-option max_gap_s=SECONDS"
            )
        bridged = self.fixed_cuts - self.cuts
        return (
            f"{path}: {rule}. Of {self.fixed_cuts:,} steps over {FIXED_PERIODS:g} median steps, "
            f"{max(bridged, 0):,} are shorter and interpolated across; {self.cuts:,} steps cut a recording",
        )
