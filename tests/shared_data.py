"""The one way tests find ``../shared`` (the real counties and benchmark instances beside the
repository): :func:`shared_path`, and :func:`require_shared`, which skips locally but fails under
CI (``CI=true``) when the data is absent, since CI must run every test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: ``../shared`` next to the repository root (a checkout, a worktree or CI's clone alike)
SHARED = ROOT.parent / "shared"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def shared_path(*parts: str) -> Path:
    """``../shared/<parts>`` (it may not exist; see :func:`require_shared`)."""
    return SHARED.joinpath(*parts)


def require_shared(path: Path, what: str = "shared data") -> Path:
    """``path`` when it exists; otherwise skip the test, or fail it under CI."""
    if not path.exists():
        reason = f"{what} not found at {path} (../shared beside the repository)"
        if IN_CI:
            pytest.fail(f"CI must run this test, but: {reason}")
        pytest.skip(reason)
    return path


def real_county(name: str) -> Path:
    """Folder of the real county ``name`` under ``../shared/real``."""
    return shared_path("real", name)
