"""This machine, measured through the TF-free runtime (``har_edge.runtime.benchmark``): one window per
call, warm-up, then rounds until the median is stable; p50/p90/n and the thread count. With a
``keras_call`` on the artifact, the same window through tf_keras is timed too, for the ratio. The
reference models are timed with it, interleaved, at its thread count (``details["calibration"]``), for
``latency_norm_p50``."""

from __future__ import annotations

from har_edge.errors import InputError
from har_edge.runtime.benchmark import bundle_call, single_window_call, time_calibrated, time_call
from har_edge.targets.base import Artifact, Provenance, TargetFigures


class DesktopTarget:
    name = "desktop"

    # At 0.3 s per measurement the int8-reference-normalized p50 of the demo model spread +-18.5 % over
    # 20 runs on a 2-core VM whose speed flips between two states; at 1.0 s, +-6 % (calibration_spread.py).
    DEFAULT_MIN_SECONDS = 1.0

    def __init__(self, *, threads: int = 1, min_seconds: float = DEFAULT_MIN_SECONDS) -> None:
        self.threads = threads
        self.min_seconds = min_seconds

    def measure(self, artifact: Artifact) -> TargetFigures:
        timing, calibration = time_calibrated(
            self._call(artifact), threads=self.threads, min_seconds=self.min_seconds
        )
        ratio = None
        if artifact.keras_call is not None:
            window = artifact.sample[:1]
            keras = time_call(
                lambda: artifact.keras_call(window), warmup=5, min_repeats=30, min_seconds=self.min_seconds
            )
            ratio = keras.p50_us / timing.p50_us
        return TargetFigures(
            target=self.name,
            latency_us_p50=timing.p50_us,
            latency_us_p90=timing.p90_us,
            latency_n=timing.n,
            threads=timing.threads,
            keras_latency_ratio=ratio,
            provenance={"latency": Provenance.MEASURED.value},
            details={
                "what": "bundle: normalize + base + head" if artifact.bundle_path else "whole model",
                "calibration": calibration.to_dict(),
            },
        )

    def _call(self, artifact: Artifact):
        if artifact.bundle_path is not None:
            return bundle_call(artifact.bundle_path, threads=self.threads)
        if artifact.head_bytes is None:
            return single_window_call(artifact.model_bytes, artifact.sample[0], threads=self.threads)
        raise InputError("a split artifact needs its bundle folder to be timed end to end")
