"""p-median on candidate lists (the K nearest sites per demand): the capped Lagrangian bound is
the full Lagrangian at the capped multipliers and never above the optimum (brute force) or the LP
relaxation solved independently by HiGHS; the incremental interchange makes the best single swap;
the whole path is exact on small instances and on a real county."""

from __future__ import annotations

import csv
import itertools

import numpy as np
import pytest
from scipy.optimize import linprog
from scipy.sparse import coo_matrix

from geo_service.core.crs import geodesic_m
from solvers import location
from solvers.location import brute_force, lagrangian_bound, p_median
from solvers.location import pmedian_sparse as ps
from shared_data import real_county, require_shared

pytestmark = pytest.mark.skipif(ps._numba is None, reason="candidate lists need numba")


def _lists_forced(mp: pytest.MonkeyPatch, k_min: int = 2, k_factor: float = 1.0,
                  widenings: int = 0) -> None:
    """Send every any-p instance down the candidate-list path, with short lists so that the
    multiplier caps bind (and, by default, stay: no widening)."""
    mp.setattr(location.pmedian, "_LAGRANGIAN_MAX_P", -1)
    mp.setattr(ps, "_WIDENINGS", widenings)
    mp.setattr(location.pmedian, "_LISTS_MIN_PAIRS", 0)
    mp.setattr(ps, "_K_MIN", k_min)
    mp.setattr(ps, "_K_FACTOR", k_factor)


def _instance(rng, n, m, integral=False):
    pts = rng.random((n, 2)) * 100
    sites = pts[rng.choice(n, m, replace=False)] if m <= n else rng.random((m, 2)) * 100
    cost = np.hypot(*(pts[:, None, :] - sites[None]).transpose(2, 0, 1))
    return np.round(cost) if integral else cost


def lp_relaxation(a: np.ndarray, p: int, fixed=()) -> float:
    """Optimum of the classical p-median LP (x_ij <= y_j, sum_j x_ij = 1, sum_j y_j = p) by
    HiGHS through scipy: an independent relaxation of the weighted costs ``a``."""
    n, m = a.shape
    nx = n * m
    ii, jj = np.divmod(np.arange(nx), m)
    cost = np.concatenate([a.ravel(), np.zeros(m)])
    # x_ij - y_j <= 0
    ub_rows = coo_matrix((np.concatenate([np.ones(nx), -np.ones(nx)]),
                          (np.tile(np.arange(nx), 2), np.concatenate([np.arange(nx), nx + jj]))),
                         shape=(nx, nx + m))
    eq = coo_matrix((np.concatenate([np.ones(nx), np.ones(m)]),
                     (np.concatenate([ii, np.full(m, n)]), np.concatenate([np.arange(nx), nx + np.arange(m)]))),
                    shape=(n + 1, nx + m))
    bounds = [(0, 1)] * nx + [(1 if j in set(fixed) else 0, 1) for j in range(m)]
    r = linprog(cost, A_ub=ub_rows.tocsr(), b_ub=np.zeros(nx), A_eq=eq.tocsr(),
                b_eq=np.concatenate([np.ones(n), [p]]), bounds=bounds, method="highs")
    assert r.status == 0, r.message
    return float(r.fun)


def test_capped_bound_is_the_full_lagrangian_and_below_the_optimum():
    rng = np.random.default_rng(4)
    at_cap = 0
    for t in range(40):
        n, m = int(rng.integers(6, 30)), int(rng.integers(4, 14))
        a = _instance(rng, n, m) * rng.integers(1, 4, n)[:, None]
        p = int(rng.integers(1, m))
        lists = ps.candidate_lists(a, int(rng.integers(1, m + 1)))
        best, _ = brute_force("pmedian", a, p=p)
        is_open = np.zeros(m, bool)
        for u in (rng.random(n) * a.max() * 2, a.max(axis=1), np.zeros(n)):
            L, sel, _ = ps.bound_lists(lists, u, p, is_open)
            capped = np.minimum(u, lists[2])
            at_cap += int(np.sum(u > lists[2]))
            full, _, _ = lagrangian_bound(a, capped, p, is_open)
            assert L == pytest.approx(full, rel=1e-12, abs=1e-9)
            assert L <= best + 1e-7 and len(sel) == p
    assert at_cap > 0  # the caps were exercised


def test_candidate_lists_hold_the_nearest_sites():
    rng = np.random.default_rng(0)
    a = np.round(rng.random((50, 30)) * 20)
    nbr, nc, cap = ps.candidate_lists(a, 7)
    assert np.array_equal(nc, np.take_along_axis(a, nbr, axis=1))
    assert np.all(np.diff(nc, axis=1) >= 0)
    assert np.array_equal(nc, np.sort(a, axis=1)[:, :7])
    off = np.ones_like(a, bool)
    np.put_along_axis(off, nbr, False, axis=1)
    assert np.all(np.where(off, a, np.inf) >= cap[:, None])
    with pytest.raises(ValueError, match="k must be"):
        ps.candidate_lists(a, 0)


def test_interchange_makes_the_best_single_swap():
    rng = np.random.default_rng(2)
    for t in range(40):
        n, m = int(rng.integers(10, 50)), int(rng.integers(5, 30))
        a = rng.random((n, m)) * 100
        if t % 2:
            a = np.round(a)
        p = int(rng.integers(2, min(m, 8)))
        lists = ps.candidate_lists(a, int(rng.integers(1, m + 1)))
        start = rng.choice(m, p, replace=False).astype(np.int64)
        fixed = start[:int(rng.integers(0, 2))]
        best = a[:, start].min(axis=1).sum()
        for r, j in itertools.product(range(p), range(m)):
            if start[r] not in fixed and j not in start:
                s = start.copy()
                s[r] = j
                best = min(best, a[:, s].min(axis=1).sum())
        sel, pos = start.copy(), np.full(m, -1, np.int64)
        pos[sel] = np.arange(p)
        d1, d2, f1 = np.empty(n), np.empty(n), np.empty(n, np.int64)
        ps.nearest_two(lists[0], lists[1], a, sel, pos, d1, d2, f1)
        ps.interchange(lists[0], lists[1], a, sel, pos, pos >= 0, ~np.isin(sel, fixed), d1, d2, f1,
                       1, 1e-9)
        assert a[:, sel].min(axis=1).sum() == pytest.approx(best, abs=1e-7)
        s2, v2, _ = ps.local_search_lists(lists, a, start, fixed, float("inf"))
        assert v2 == pytest.approx(a[:, s2].min(axis=1).sum()) and v2 <= best + 1e-7
        assert set(fixed.tolist()) <= set(s2.tolist()) and len(set(s2.tolist())) == p


def test_lists_path_is_exact_with_weights_fixed_sites_and_unservable_pairs(monkeypatch):
    _lists_forced(monkeypatch)
    rng = np.random.default_rng(7)
    for t in range(16):
        n, m = int(rng.integers(15, 35)), int(rng.integers(8, 16))
        cost = _instance(rng, n, m, integral=bool(t % 2))
        if t % 4 == 3:  # some pairs cannot be served; every demand keeps its nearest site
            far = cost > np.percentile(cost, 70)
            far[np.arange(n), cost.argmin(axis=1)] = False
            cost[far] = np.inf
        w = rng.integers(1, 5, n).astype(float)
        p = int(rng.integers(2, 6))
        fx = rng.choice(m, int(rng.integers(0, 2)), replace=False)
        r = p_median(cost, p, weights=w, fixed=fx)
        best, _ = brute_force("pmedian", cost, p=p, weights=w, fixed=fx)
        assert r.stats["method"].startswith("lagrangian_lists")
        assert r.status == "optimal" and r.objective == pytest.approx(best)
        assert r.stats["lagrangian_bound"] <= best + 1e-7
        assert set(fx.tolist()) <= set(r.selected.tolist()) and len(r.selected) == p


@pytest.mark.parametrize("widenings", [0, 2])
def test_lists_bound_is_below_the_highs_lp_relaxation(monkeypatch, widenings):
    """Run to the end, the path reports a bound at or below the LP optimum (the largest
    any Lagrangian bound can be) and an objective at or above it, with the caps held (some
    multipliers end at their caps) or the lists widened when they bind."""
    _lists_forced(monkeypatch, k_min=3, k_factor=1.0, widenings=widenings)
    rng = np.random.default_rng(11)
    capped = widened = 0
    for t in range(6):
        n, m, p = 40, 40, int(rng.integers(3, 9))
        cost = _instance(rng, n, m)
        w = rng.integers(1, 6, n).astype(float)
        lp = lp_relaxation(w[:, None] * cost, p)
        r = p_median(cost, p, weights=w, time_limit=5)
        assert r.bound <= lp + 1e-6 * lp and r.stats["lagrangian_bound"] <= lp + 1e-6 * lp
        assert r.objective >= lp - 1e-6 * lp and r.bound <= r.objective
        capped += r.stats["multipliers_at_cap"] > 0
        widened += r.stats["list_length"] > ps.list_length(m, p)
    assert (capped > 0) if widenings == 0 else (widened > 0)


@pytest.mark.slow
def test_real_county_lists_path_against_the_lp_relaxation(monkeypatch):
    """Shaoyang county (Hunan): villages with coordinates as demands and candidate sites,
    geodesic metres, p = 25, on candidate lists of 30 sites; bound and objective bracket the LP
    optimum computed independently by HiGHS, and the proven gap is small."""
    folder = real_county("shaoyang")
    require_shared(folder / "villages.csv", "the real county shaoyang")
    with (folder / "villages.csv").open(encoding="utf-8-sig") as f:
        rows = [r for r in csv.DictReader(f) if r["经度"] and r["纬度"]]
    lon = np.array([float(r["经度"]) for r in rows])
    lat = np.array([float(r["纬度"]) for r in rows])
    assert len(lon) > 250
    cost = geodesic_m(lon[:, None], lat[:, None], lon[None, :], lat[None, :])
    _lists_forced(monkeypatch, k_min=30, k_factor=1.0)
    r = p_median(cost, 25, time_limit=60, rel_gap=0.0)
    lp = lp_relaxation(cost, 25)
    assert r.stats["method"].startswith("lagrangian_lists") and r.stats["list_length"] == 30
    assert r.bound <= lp + 1e-6 * lp <= r.objective + 2e-6 * lp
    assert r.gap <= 0.01
    assert r.objective == pytest.approx(cost[:, r.selected].min(axis=1).sum())


@pytest.mark.slow
def test_thousands_of_sites_take_the_lists_path_and_agree_with_the_dense_path(monkeypatch):
    """1,500 uniform points, p = 30 (2.25 M pairs): the default dispatch runs on candidate lists
    and proves 1 %; the dense any-p path on the same instance brackets it (each bound below the
    other's objective)."""
    rng = np.random.default_rng(8)
    pts = rng.random((1500, 2)) * 1000
    cost = np.hypot(*(pts[:, None, :] - pts[None]).transpose(2, 0, 1))
    r = p_median(cost, 30, time_limit=60, rel_gap=0.01)
    assert r.stats["method"].startswith("lagrangian_lists") and r.gap <= 0.01
    assert r.objective == pytest.approx(cost[:, r.selected].min(axis=1).sum())
    monkeypatch.setattr(location.pmedian, "_LISTS_MIN_PAIRS", 10**12)
    d = p_median(cost, 30, time_limit=60, rel_gap=0.01)
    assert d.stats["method"].startswith("lagrangian_large")
    assert r.bound <= d.objective + 1e-6 and d.bound <= r.objective + 1e-6
