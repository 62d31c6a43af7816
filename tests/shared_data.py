"""The real data beside the checkout (``../shared/data/``, see its README; ``$HAR_EDGE_SHARED`` names
another ``shared`` folder, e.g. for a git worktree): skip when it is absent (a user's clone), or fail
under ``HAR_EDGE_REQUIRE_TOOLCHAINS=1`` (CI), like the toolchain tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.sshd import require_toolchains

SHARED = Path(os.environ.get("HAR_EDGE_SHARED") or Path(__file__).resolve().parent.parent.parent / "shared")
SHARED_DATA = SHARED / "data"
HAPT_ARCHIVE = SHARED_DATA / "hapt-users03-28.tar.xz"


def require_shared(path: Path = HAPT_ARCHIVE) -> Path:
    """``path`` under ``../shared/data``; skips (or fails in CI) when it is missing."""
    if not path.is_file():
        message = f"real data {path} not found (../shared beside the checkout)"
        if require_toolchains():
            pytest.fail(message)
        pytest.skip(message)
    return path
