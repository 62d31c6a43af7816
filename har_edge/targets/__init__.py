"""Where a variant runs: ``desktop`` (measured here), Raspberry Pi profiles (``rpi4``, ``rpi5``,
``rpi-zero2``: estimated), a real device over SSH (``ssh://user@host[:port]``: measured there) and
microcontroller profiles (``cortex-m4f-80mhz`` …: TFLM on the host measures the arena, the rest is
estimated). ``resolve_targets("desktop,rpi4,cortex-m4f-80mhz")`` turns a CLI list into targets."""

from __future__ import annotations

from collections.abc import Sequence

from har_edge.errors import InputError
from har_edge.targets.base import Artifact, Provenance, Target, TargetFigures

__all__ = ["Artifact", "Provenance", "Target", "TargetFigures", "known_target_names", "resolve_targets"]


def known_target_names() -> list[str]:
    from har_edge.targets.mcu import mcu_profiles
    from har_edge.targets.pi import pi_profiles

    return ["desktop", *pi_profiles(), *mcu_profiles(), "ssh://user@host[:port]"]


def resolve_targets(
    names: str | Sequence[str],
    *,
    threads: int = 1,
    ssh_identity: str | None = None,
    ssh_options: Sequence[str] = (),
    check_remote: bool = True,
) -> list[Target]:
    """Targets by name (a comma-separated string or a list). An unknown name is an ``InputError``
    listing the known ones; an ``ssh://`` target is connected to once (``check_remote``) so an
    unreachable host fails here, before any work."""
    from har_edge.targets.desktop import DesktopTarget
    from har_edge.targets.mcu import McuTarget, mcu_profiles
    from har_edge.targets.pi import PiEstimateTarget, pi_profiles

    wanted = [n.strip() for n in names.split(",")] if isinstance(names, str) else [n.strip() for n in names]
    if not any(wanted):
        raise InputError(f"no targets given; known targets: {', '.join(known_target_names())}")
    pis, mcus = pi_profiles(), mcu_profiles()
    targets: list[Target] = []
    for name in wanted:
        if name == "desktop":
            targets.append(DesktopTarget(threads=threads))
        elif name in pis:
            targets.append(PiEstimateTarget(pis[name]))
        elif name in mcus:
            targets.append(McuTarget(mcus[name]))
        elif name.startswith("ssh://"):
            from har_edge.targets.remote import RemoteTarget

            remote = RemoteTarget.from_url(
                name, identity_file=ssh_identity, ssh_options=tuple(ssh_options), threads=threads
            )
            if check_remote:
                remote.check()
            targets.append(remote)
        else:
            raise InputError(f"unknown target {name!r}; known targets: {', '.join(known_target_names())}")
    names_seen = [t.name for t in targets]
    duplicates = sorted({n for n in names_seen if names_seen.count(n) > 1})
    if duplicates:
        raise InputError(f"target listed twice: {', '.join(duplicates)}")
    return targets
