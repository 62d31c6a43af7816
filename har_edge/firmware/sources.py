"""Where the C runtime and board folders are: ``firmware/`` at the top of a checkout (also what an
editable install uses), or ``har_edge/firmware/c/`` inside an installed wheel, where ``setup.py`` copies
that folder at build time. Only this module knows the two places."""

from __future__ import annotations

from pathlib import Path

from har_edge.errors import InputError

_PACKAGED = Path(__file__).resolve().with_name("c")
_CHECKOUT = Path(__file__).resolve().parents[2] / "firmware"


def firmware_root() -> Path:
    """The folder holding ``runtime/``, ``harness/``, ``head/``, ``library/`` and the board folders."""
    for root in (_PACKAGED, _CHECKOUT):
        if (root / "runtime").is_dir():
            return root
    raise InputError(
        f"the C runtime is missing: neither {_PACKAGED} (an installed wheel) nor {_CHECKOUT} (a checkout) "
        "holds runtime/; reinstall har-edge"
    )
