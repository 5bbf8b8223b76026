"""Compiled kernels ahead of the first call: ``geo-service warm`` fills numba's disk cache and a
fresh process then loads every kernel from it instead of compiling."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from geo_service.core._optional import HAVE_NUMBA

ROOT = Path(__file__).resolve().parents[1]

CHECK = r"""
import json, time
import numpy as np
from geo_service.app import warm as w
from geo_service.core import road_snap
from geo_service.core.index import kernels
from solvers.location import mclp_kernels, pmedian_lagrange, pmedian_large, pmedian_sparse
rng = np.random.default_rng(5)
t = time.perf_counter()
for step in w._STEPS.values():
    step(rng)
kern = {"cell": kernels.cell_kernel, "lonlat": kernels.lonlat_kernel,
        "ascent": pmedian_lagrange._ascent_numba, "swap": pmedian_large._best_swap_numba,
        "rho": pmedian_large._rho_numba, "sums": mclp_kernels.site_sums, "counts": mclp_kernels.selected_counts,
        "greedy": mclp_kernels.greedy, "swaps": mclp_kernels.swap_passes, "transpose": mclp_kernels.transpose,
        "road_bucket": road_snap._bucket, "road_lists": road_snap._candidate_lists,
        "road_legs": road_snap._legs_kernel, "lists_ascent": pmedian_sparse.ascent,
        "lists_swap": pmedian_sparse.interchange, "lists_rho": pmedian_sparse._rho}
print(json.dumps({k: [sum(f.stats.cache_hits.values()), sum(f.stats.cache_misses.values())]
                  for k, f in kern.items()}))
"""


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_NUMBA, reason="numba (the fast extra) is not installed")
def test_warm_fills_the_cache_and_a_fresh_process_compiles_nothing(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "geo_service.cli", "warm", "--json"], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads(r.stdout.strip().splitlines()[-1])
    assert report["numba"] and not report["errors"], report
    assert set(report["kernels"]) == {"index", "pmedian", "pmedian_large", "mclp", "road"}
    assert len(list(tmp_path.rglob("*.nbi"))) >= 7  # one index per kernel
    r = subprocess.run([sys.executable, "-c", CHECK], env=env, cwd=ROOT, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    stats = json.loads(r.stdout.strip().splitlines()[-1])
    assert all(hits >= 1 and misses == 0 for hits, misses in stats.values()), stats


def test_warm_text_is_chinese_by_default():
    from geo_service.core.glossary import message

    assert "预编译" in message("cli_warm_done", n=4, time_s=3.2)
    assert "compiled 4" in message("cli_warm_done", "en", n=4, time_s=3.2)
