"""The ARM toolchain and QEMU for the mps2-an386 tests: skip when missing, or fail under
``HAR_EDGE_REQUIRE_TOOLCHAINS=1`` (CI), like tests/sshd.py's tools."""

from __future__ import annotations

import pytest

from har_edge.firmware import mps2
from tests.sshd import require_toolchains


def require_arm_tools() -> None:
    """Skip (or, with HAR_EDGE_REQUIRE_TOOLCHAINS=1, fail) when the mps2-an386 tools are missing."""
    missing = mps2.missing_tools()
    if missing:
        message = (
            f"ARM toolchain/QEMU missing ({', '.join(missing)}): "
            f"apt-get install {' '.join(mps2.DEBIAN_PACKAGES)}"
        )
        if require_toolchains():
            pytest.fail(message)
        pytest.skip(message)
