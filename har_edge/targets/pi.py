"""Raspberry Pi profiles: latency estimated from a variant's MACs and the profile's throughput, marked
``estimated`` with the profile's source. A real Pi is measured by ``remote.RemoteTarget`` instead."""

from __future__ import annotations

from dataclasses import dataclass

from har_edge.targets.base import Artifact, Provenance, TargetFigures
from har_edge.targets.profiles import load_profile_table

PROFILES_FILE = "pi_profiles.toml"


@dataclass(frozen=True)
class PiProfile:
    name: str
    cpu: str
    int8_macs_per_second: float
    float_slowdown: float
    invoke_overhead_us: float
    source: str


def pi_profiles() -> dict[str, PiProfile]:
    table = load_profile_table(
        PROFILES_FILE,
        {
            "cpu": str,
            "int8_macs_per_second": float,
            "float_slowdown": float,
            "invoke_overhead_us": float,
            "source": str,
        },
    )
    return {name: PiProfile(name=name, **fields) for name, fields in table.items()}


class PiEstimateTarget:
    """Latency of one window on a Raspberry Pi class CPU, estimated (no memory limits: ``fits`` None)."""

    def __init__(self, profile: PiProfile) -> None:
        self.profile = profile
        self.name = profile.name

    def measure(self, artifact: Artifact) -> TargetFigures:
        p = self.profile
        rate = p.int8_macs_per_second / (1.0 if artifact.precision == "int8" else p.float_slowdown)
        latency = p.invoke_overhead_us + artifact.macs / rate * 1e6
        invokes = 2 if artifact.head_bytes else 1
        latency += (invokes - 1) * p.invoke_overhead_us
        return TargetFigures(
            target=self.name,
            latency_us_p50=latency,
            latency_us_p90=latency,
            provenance={"latency": Provenance.ESTIMATED.value},
            details={"cpu": p.cpu, "macs": artifact.macs, "source": p.source},
            notes=(f"{self.name}: latency estimated from {artifact.macs:,} MACs, not measured",),
        )
