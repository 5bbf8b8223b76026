"""The province-size ledger benchmark runs (small here): import, review, and the plain pandas group-by agree."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # generates, imports and reviews a small province
def test_ledger_benchmark_runs_small_and_agrees_with_the_obvious_groupby(tmp_path):
    spec = importlib.util.spec_from_file_location("ledger_bench", ROOT / "benchmarks" / "ledger.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = mod.run(members=60, location=str(tmp_path / "store"))
    assert out["members"] == 60 and out["rows"] > 60 * 40
    assert out["max_score_difference"] < 1e-9
    assert out["items"] > 60
    for k in ("import_s", "read_s", "review_s", "obvious_groupby_s"):
        assert out[k] >= 0
