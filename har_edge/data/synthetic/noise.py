"""The body's random processes as band-limited multisines: smooth, defined at every instant and
differentiable, so orientation, acceleration and angular rate derived from them stay consistent."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Body noise processes (band-limited random multisines).
SWAY_BAND_HZ = (0.1, 0.5)
TREMOR_HALF_BAND_HZ = 0.75
CADENCE_DRIFT_BAND_HZ = (0.01, 0.08)
CADENCE_DRIFT_RMS = 0.03  # fractional, slow drift of cadence within and across bouts
CADENCE_JITTER_BAND_HZ = (0.3, 1.2)
CADENCE_JITTER_RMS = 0.015  # fractional, step-to-step timing variability
AMPLITUDE_MODULATION_BAND_HZ = (0.2, 1.5)
AMPLITUDE_MODULATION_RMS = 0.08
VIBRATION_BAND_HZ = (8.0, 20.0)
DERIVATIVE_STEP_S = 1e-3  # δ of the central differences that give angular rate and lever-arm acceleration
DIFFERENCE_OFFSETS_S = np.array([-DERIVATIVE_STEP_S, 0.0, DERIVATIVE_STEP_S])


@dataclass(frozen=True)
class Multisine:
    """Σₖ aₖ sin(2π fₖ t + φₖ) per output axis: smooth band-limited noise defined at every instant, so
    the motion it drives can be differentiated consistently."""

    freqs_hz: np.ndarray  # (k,)
    sin_weights: np.ndarray  # (k, axes): a cos φ
    cos_weights: np.ndarray  # (k, axes): a sin φ

    @classmethod
    def draw(
        cls, rng: np.random.Generator, band_hz: tuple[float, float], components: int, axes: int, rms: float
    ) -> Multisine:
        freqs = rng.uniform(*band_hz, components)
        phases = rng.uniform(0, 2 * np.pi, (components, axes))
        amplitude = rms * math.sqrt(2 / components)
        return cls(freqs, amplitude * np.cos(phases), amplitude * np.sin(phases))

    def __add__(self, other: Multisine) -> Multisine:
        return Multisine(
            np.concatenate([self.freqs_hz, other.freqs_hz]),
            np.concatenate([self.sin_weights, other.sin_weights]),
            np.concatenate([self.cos_weights, other.cos_weights]),
        )

    def antiderivative(self) -> Multisine:
        omega = 2 * np.pi * self.freqs_hz[:, None]
        return Multisine(self.freqs_hz, self.cos_weights / omega, -self.sin_weights / omega)

    def __call__(self, t: np.ndarray) -> np.ndarray:
        """Values at times ``t`` (any shape), with a trailing axes dimension."""
        angles = 2 * np.pi * np.asarray(t)[..., None] * self.freqs_hz
        return np.sin(angles) @ self.sin_weights + np.cos(angles) @ self.cos_weights

    def around(self, t: np.ndarray) -> np.ndarray:
        """Values at ``t + DIFFERENCE_OFFSETS_S`` (3, *t.shape, axes), using one sine and one cosine per
        component and sample (angle addition) instead of three of each."""
        angles = 2 * np.pi * np.asarray(t)[..., None] * self.freqs_hz
        sin, cos = np.sin(angles), np.cos(angles)
        shifts = 2 * np.pi * DIFFERENCE_OFFSETS_S[:, None] * self.freqs_hz
        shifts = shifts.reshape((3,) + (1,) * (angles.ndim - 1) + (-1,))
        shifted_sin = sin * np.cos(shifts) + cos * np.sin(shifts)
        shifted_cos = cos * np.cos(shifts) - sin * np.sin(shifts)
        return shifted_sin @ self.sin_weights + shifted_cos @ self.cos_weights


@dataclass(frozen=True)
class BodyNoise:
    """Random processes of one subject over the whole recording: sway and tremor (unit-RMS rotation
    vectors, scaled per posture and position), the gait clock's warp (∫ relative cadence deviation dt),
    gait amplitude modulation (a fraction) and road vibration (unit RMS, scaled by the activity)."""

    sway: Multisine
    tremor: Multisine
    cadence_warp_s: Multisine
    amplitude_modulation: Multisine
    vibration: Multisine

    @classmethod
    def draw(cls, rng: np.random.Generator, tremor_hz: float) -> BodyNoise:
        tremor_band = (tremor_hz - TREMOR_HALF_BAND_HZ, tremor_hz + TREMOR_HALF_BAND_HZ)
        sway = Multisine.draw(rng, SWAY_BAND_HZ, 8, 3, 1.0)
        tremor = Multisine.draw(rng, tremor_band, 4, 3, 1.0)
        drift = Multisine.draw(rng, CADENCE_DRIFT_BAND_HZ, 6, 1, CADENCE_DRIFT_RMS)
        jitter = Multisine.draw(rng, CADENCE_JITTER_BAND_HZ, 6, 1, CADENCE_JITTER_RMS)
        modulation = Multisine.draw(rng, AMPLITUDE_MODULATION_BAND_HZ, 6, 1, AMPLITUDE_MODULATION_RMS)
        vibration = Multisine.draw(rng, VIBRATION_BAND_HZ, 16, 3, 1.0)
        return cls(sway, tremor, (drift + jitter).antiderivative(), modulation, vibration)
