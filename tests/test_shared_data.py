"""Tests find ../shared one way, and a missing folder fails under CI instead of skipping."""

from __future__ import annotations

import pytest

import shared_data
from shared_data import ROOT, real_county, require_shared, shared_path


def test_shared_lies_beside_the_repository():
    assert shared_path() == ROOT.parent / "shared"
    assert real_county("chongyang") == ROOT.parent / "shared" / "real" / "chongyang"


def test_missing_data_skips_locally(tmp_path, monkeypatch):
    monkeypatch.setattr(shared_data, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="not found"):
        require_shared(tmp_path / "absent", "the counties")


def test_missing_data_fails_under_ci(tmp_path, monkeypatch):
    monkeypatch.setattr(shared_data, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="CI must run this test"):
        require_shared(tmp_path / "absent", "the counties")
    assert require_shared(tmp_path) == tmp_path  # present: given back
