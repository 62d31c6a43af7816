"""Files from ``../shared`` beside the checkout (public models, real data): CI has them, a user's clone
may not. ``shared_file`` skips when the file is missing, or fails under
``HAR_EDGE_REQUIRE_TOOLCHAINS=1``. ``HAR_EDGE_SHARED`` points elsewhere (e.g. from a git worktree)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.sshd import require_toolchains

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    return Path(os.environ.get("HAR_EDGE_SHARED") or REPO_ROOT.parent / "shared")


def shared_file(*parts: str) -> Path:
    path = shared_dir().joinpath(*parts)
    if not path.is_file():
        message = f"{path} missing (../shared beside the checkout, or set HAR_EDGE_SHARED)"
        if require_toolchains():
            pytest.fail(message)
        pytest.skip(message)
    return path
