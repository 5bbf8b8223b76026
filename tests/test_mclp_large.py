"""The province-size maximal covering path: compiled swap search, LP bound by pricing, bounds.

Every bound is held against an independent computation: the LP relaxation solved whole by
``scipy.optimize.linprog`` and the optimum by ``scipy.optimize.milp`` (the textbook model built
here from the pair list, not through the solver's own rows), on small clustered instances and on
the villages of a real county.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from solvers.location import covering as cov
from solvers.location import covering_matrix, covering_matrix_lonlat, max_coverage
from solvers.location import mclp_kernels as K
from solvers.location.mclp_lagrange import _groups, local_search
from solvers.location import mclp_lp
from solvers.location.mclp_lp import lagrangian_value, lp_bound, restricted_mip
from solvers.location.reach import merge_rows

from real_sparse import sparse_real_county


def _clustered(n: int, seed: int, k: int = 6, spread: float = 1500.0, side: float = 20_000.0):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, side, (k, 2))
    xy = centres[rng.integers(0, k, n)] + rng.normal(0, spread, (n, 2))
    return xy, np.round(rng.lognormal(3.0, 0.8, n))


def _textbook(S: sp.csr_matrix, w: np.ndarray, p: int, relax: bool) -> float:
    """max sum w_i z_i, z_i <= sum_{j near i} y_j, sum y = p, from the pairs (no merging)."""
    n, m = S.shape
    A = sp.csr_matrix((np.ones(S.nnz), S.indices, S.indptr), shape=(n, m))
    rows = sp.vstack([sp.hstack([-A, sp.identity(n)]),
                      sp.hstack([sp.csr_matrix(np.ones((1, m))), sp.csr_matrix((1, n))])]).tocsr()
    c = -np.concatenate([np.zeros(m), w])
    lo = np.concatenate([np.full(n, -np.inf), [p]])
    hi = np.concatenate([np.zeros(n), [p]])
    if relax:
        r = linprog(c, A_ub=rows[:n], b_ub=hi[:n], A_eq=rows[n:], b_eq=[p], bounds=(0, 1),
                    method="highs")
        assert r.status == 0
        return -r.fun
    r = milp(c, constraints=LinearConstraint(rows, lo, hi), bounds=Bounds(0, 1),
             integrality=np.concatenate([np.ones(m), np.zeros(n)]))
    assert r.status == 0
    return -r.fun


def _merged(S: sp.csr_matrix, w: np.ndarray, p: int, fixed=()):
    group, g_ptr, g_idx = merge_rows(S, np.arange(S.shape[0]))
    gw = np.bincount(group, weights=w, minlength=len(g_ptr) - 1)
    return _groups(g_ptr, g_idx, gw, p, np.asarray(fixed, np.int64), S.shape[1])


def _province_path(S, radius, w, p, **kw):
    """``max_coverage`` through the province-size path whatever the size."""
    mp = pytest.MonkeyPatch()
    mp.setattr(cov, "LAGRANGIAN_ABOVE", -1)
    try:
        return max_coverage(S, radius, p, weights=w, **kw)
    finally:
        mp.undo()


@pytest.mark.parametrize("seed", [3, 11, 19])
def test_lp_by_pricing_equals_the_whole_lp_and_bounds_the_optimum(seed):
    """Once no site prices out, the bound of the duals is the LP value (scipy's LP of the unmerged
    model); any round's bound lies above the optimum (scipy's MILP)."""
    xy, w = _clustered(220, seed)
    S = covering_matrix(xy, xy, 3000.0)
    p = 5
    P = _merged(S, w, p)
    y0 = np.zeros(P.m, bool)
    K.greedy(P.g_ptr, P.g_idx, P.s_ptr, P.s_grp, P.gw, y0, p, np.ones(P.m, bool))
    res = lp_bound(P, y0, 0.0, 1e18, 0.0)
    lp = _textbook(S, w, p, relax=True)
    opt = _textbook(S, w, p, relax=False)
    assert res.priced_out
    assert res.bound == pytest.approx(lp, rel=1e-7)
    assert res.lp_value == pytest.approx(lp, rel=1e-7)
    assert res.bound >= opt - 1e-6
    # a valid bound for any multipliers in [0, w], not only optimal ones
    for lam in (np.zeros(len(P.gw)), P.gw, 0.5 * P.gw):
        assert lagrangian_value(P, lam)[0] >= opt - 1e-6


@pytest.mark.parametrize("seed", [5, 23])
@pytest.mark.parametrize("rel_gap", [0.0, 0.005])
def test_province_path_result_is_honest(seed, rel_gap):
    """Objective = the covered weight recounted, bound >= scipy's optimum, gap within the goal;
    at goal 0 it is optimal and equal to scipy's optimum."""
    xy, w = _clustered(200, seed)
    S = covering_matrix(xy, xy, 3000.0)
    p = 6
    opt = _textbook(S, w, p, relax=False)
    r = _province_path(S, 3000.0, w, p, rel_gap=rel_gap, time_limit=30)
    near = sp.csr_matrix((np.ones(S.nnz), S.indices, S.indptr), shape=S.shape)  # zeros are pairs too
    covered = w[np.asarray(near[:, r.selected].sum(axis=1)).ravel() > 0].sum()
    assert r.objective == pytest.approx(covered)
    assert len(r.selected) == p
    assert r.bound >= opt - 1e-6 and r.objective <= opt + 1e-6
    assert r.gap <= rel_gap + 1e-9
    if rel_gap == 0:
        assert r.status == "optimal" and r.objective == pytest.approx(opt)
    else:
        assert r.status in ("optimal", "feasible")
        assert "lp_rounds" in r.stats


def test_swap_search_ends_in_a_local_optimum_with_true_values():
    """After the compiled search no single (open a, close r) swap improves, checked by recounting
    every swap; its value is the recounted covered weight; fixed sites stay open."""
    xy, w = _clustered(120, 7, k=4)
    S = covering_matrix(xy, xy, 2500.0)
    p, fixed = 5, [3]
    P = _merged(S, w, p, fixed)
    rng = np.random.default_rng(0)
    y = np.zeros(P.m, bool)
    y[3] = True
    y[rng.choice(np.setdiff1d(np.arange(P.m), [3]), p - 1, replace=False)] = True
    y, v, _ = local_search(P, y, 1e18)
    cover = sp.csr_matrix((np.ones(S.nnz), S.indices, S.indptr), shape=S.shape).tocsc()

    def value(sel):
        return float(w[np.asarray(cover[:, sel].sum(axis=1)).ravel() > 0].sum())

    sel = np.flatnonzero(y)
    assert y[3] and y.sum() == p
    assert v == pytest.approx(value(sel))
    for a, r in itertools.product(np.flatnonzero(~y), np.setdiff1d(sel, [3])):
        assert value(np.append(sel[sel != r], a)) <= v + 1e-9


def test_compiled_state_matches_a_recount():
    """Gains and losses of the incremental state equal the covered weight recounted per site."""
    xy, w = _clustered(90, 13, k=3)
    S = covering_matrix(xy, xy, 2500.0)
    P = _merged(S, w, 4)
    y = np.zeros(P.m, bool)
    y[[1, 8, 30, 44]] = True
    _, _, gain, loss, value = K.state(P.g_ptr, P.g_idx, P.s_ptr, P.s_grp, P.gw, y)
    cover = sp.csr_matrix((np.ones(S.nnz), S.indices, S.indptr), shape=S.shape).tocsc()

    def val(mask):
        return float(w[np.asarray(cover[:, np.flatnonzero(mask)].sum(axis=1)).ravel() > 0].sum())

    assert value == pytest.approx(val(y))
    for j in range(P.m):
        t = y.copy()
        t[j] = not y[j]
        expect = val(t) - value
        assert (-loss[j] if y[j] else gain[j]) == pytest.approx(expect, abs=1e-6)


def test_real_county_province_path_bound_against_scipy():
    """The located villages of a real county (each a candidate, 5 km, population weights or 1):
    the province path's bound is at least scipy's MILP optimum, its gap within the goal."""
    ds = sparse_real_county("horqin-left-middle")
    v = ds.villages[ds.villages["location_source"].eq("given")]
    lonlat = np.column_stack([v.geometry.x, v.geometry.y])
    pop = pd.to_numeric(v["population"], errors="coerce").to_numpy(float)
    w = np.where(np.isfinite(pop) & (pop > 0), pop, 1.0)
    S = covering_matrix_lonlat(lonlat, lonlat, 5000.0)
    p = max(2, len(w) // 40)
    opt = _textbook(S, w, p, relax=False)
    r = _province_path(S, 5000.0, w, p, rel_gap=0.005, time_limit=60)
    assert len(w) > 300
    assert r.bound >= opt - 1e-6 and r.objective <= opt + 1e-6
    assert r.gap <= 0.005 + 1e-9
    assert r.stats["lagrangian_bound"] + r.stats["covered_by_fixed"] >= opt - 1e-6


def test_restricted_mip_skips_presolve_it_has_no_time_for(monkeypatch):
    """HiGHS's presolve does not look at the time limit: a model too large for the seconds left
    runs without it (and keeps its deadline); with time to spare presolve runs. Either way the
    answer is the start or better and its bound holds (scipy's optimum)."""
    xy, w = _clustered(200, 5)
    S = covering_matrix(xy, xy, 3000.0)
    p = 6
    opt = _textbook(S, w, p, relax=False)
    P = _merged(S, w, p)
    y0 = np.zeros(P.m, bool)
    K.greedy(P.g_ptr, P.g_idx, P.s_ptr, P.s_grp, P.gw, y0, p, np.ones(P.m, bool))
    start = float(P.gw[K.selected_counts(P.s_ptr, P.s_grp, np.flatnonzero(y0), len(P.gw)) > 0].sum())
    seen = []
    real = mclp_lp._solve_mip
    monkeypatch.setattr(mclp_lp, "_solve_mip", lambda *a, **k: seen.append(k["presolve"]) or real(*a, **k))
    every = np.arange(P.m)
    monkeypatch.setattr(mclp_lp, "_PRESOLVE_NNZ_PER_S", 1.0)  # no model is small enough
    _, y_tight, bound_tight = restricted_mip(P, every, y0, time.perf_counter() + 5.0, 0, 0.0)
    monkeypatch.setattr(mclp_lp, "_PRESOLVE_NNZ_PER_S", 40_000)
    st, y_easy, bound_easy = restricted_mip(P, every, y0, time.perf_counter() + 30.0, 0, 0.0)
    assert seen == [False, True]
    for y, bound in ((y_tight, bound_tight), (y_easy, bound_easy)):
        covered = float(P.gw[K.selected_counts(P.s_ptr, P.s_grp, np.flatnonzero(y), len(P.gw)) > 0].sum())
        assert start - 1e-6 <= covered <= opt + 1e-6
        assert bound >= opt - 1e-6
    assert st == "optimal"
