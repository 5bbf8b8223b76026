"""Set cover before the MIP: the reductions keep the optimum (and the LP), the Lagrangian and LP
bounds are bounds (checked against an independent LP relaxation and brute force), the window search
keeps a cover and stops once it meets the bound, and set_cover's answer equals brute force or an
independent MIP on real counties with a valid bound."""

from __future__ import annotations

import csv
import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from shared_data import real_county, require_shared
from solvers.location import covering_matrix, covering_matrix_lonlat, set_cover
from solvers.location.covering import _exact_cover, _greedy_cover
from solvers.location.setcover import (improve_by_windows, lagrangian_cover, lagrangian_value, lp_cover_bound,
                                       reduce_cover)


def _instance(seed: int, n: int, radius: float) -> sp.csr_matrix:
    xy = np.random.default_rng(seed).uniform(0, 10_000, (n, 2))
    return covering_matrix(xy, xy, radius)


def _brute(A: sp.csr_matrix) -> int:
    """Fewest columns covering every row, by enumeration (small instances only)."""
    m = A.shape[1]
    rows = [set(A.indices[A.indptr[i]:A.indptr[i + 1]]) for i in range(A.shape[0])]
    for k in range(m + 1):
        for cols in itertools.combinations(range(m), k):
            chosen = set(cols)
            if all(r & chosen for r in rows):
                return k
    raise AssertionError("no cover")


def _covers(A: sp.csr_matrix, y: np.ndarray) -> bool:
    return bool(np.all(np.asarray(A @ y.astype(float)).ravel() > 0))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 11), radius=st.sampled_from([1500.0, 3000.0, 5000.0]))
def test_reductions_keep_the_optimum_and_the_bound_holds(seed, n, radius):
    S = _instance(seed, n, radius)
    A = sp.csr_matrix((np.ones(S.nnz), S.indices, S.indptr), shape=S.shape)
    best = _brute(A)
    red = reduce_cover(A)
    rest = A[red.rows][:, red.cols].tocsr()
    assert len(red.essential) + (_brute(rest) if len(red.rows) else 0) == best
    res = set_cover(S, radius, time_limit=10)
    assert res.objective == best and res.status == "optimal"
    assert res.bound <= best + 1e-9
    if len(red.rows):
        rest.sort_indices()
        start = _greedy_cover(rest.indptr, rest.indices, np.zeros(0, np.int64), rest.shape[1])
        lag = lagrangian_cover(rest, start, time_limit_s=2)
        assert lag.bound <= best - len(red.essential) + 1e-6  # a lower bound
        assert _covers(rest, lag.cover)


def test_window_search_keeps_a_cover_and_never_grows_it():
    S = _instance(3, 400, 900.0)
    A = sp.csr_matrix((np.ones(S.nnz), S.indices, S.indptr), shape=S.shape)
    A.sort_indices()
    start = _greedy_cover(A.indptr, A.indices, np.zeros(0, np.int64), A.shape[1])
    better = improve_by_windows(A, start, _exact_cover, time_limit_s=3, seed=1)
    assert _covers(A, better) and better.sum() <= start.sum()


def test_a_time_limited_cover_reports_a_valid_bound_and_its_steps():
    S = _instance(5, 1500, 700.0)
    res = set_cover(S, 700.0, time_limit=3)
    assert res.bound <= res.objective and res.status in ("optimal", "feasible")
    assert {"essential_sites", "rows_after_reduction", "lagrangian_bound", "heuristic_sites"} <= set(res.stats)
    pairs = sp.csr_matrix((np.ones(S.nnz), S.indices, S.indptr), shape=S.shape)  # stored entries, zeros too
    covered = np.asarray(pairs[:, res.selected].sum(axis=1)).ravel() > 0
    assert covered.all()


def _lp(A: sp.csr_matrix) -> float:
    """LP relaxation of unit-cost set cover by scipy's dual simplex (an independent code path)."""
    m = A.shape[1]
    res = linprog(np.ones(m), A_ub=-A, b_ub=-np.ones(A.shape[0]), bounds=(0, 1), method="highs-ds")
    assert res.status == 0
    return float(res.fun)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(3, 40), radius=st.sampled_from([1500.0, 2500.0, 4000.0]))
def test_lp_and_lagrangian_bounds_lie_below_the_lp_relaxation(seed, n, radius):
    S = _instance(seed, n, radius)
    A = sp.csr_matrix((np.ones(S.nnz), S.indices, S.indptr), shape=S.shape)
    lp = _lp(A)
    bound, cred, u = lp_cover_bound(A)
    assert bound == pytest.approx(lp, abs=1e-6)  # the duals reach the LP optimum
    assert bound <= lp + 1e-6 and len(cred) == A.shape[1] and np.all(u >= 0)
    rng = np.random.default_rng(seed)
    for scale in (0.2, 1.0, 3.0):  # any multipliers >= 0 give a bound no higher than the LP
        assert lagrangian_value(A, rng.uniform(0, scale, A.shape[0]))[0] <= lp + 1e-9
    red = reduce_cover(A)  # the reductions keep the LP too
    rest = A[red.rows][:, red.cols].tocsr()
    assert len(red.essential) + (_lp(rest) if len(red.rows) else 0.0) == pytest.approx(lp, abs=1e-6)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 11), radius=st.sampled_from([1500.0, 3000.0]))
def test_reported_bound_is_at_least_the_lp_and_at_most_brute_force(seed, n, radius):
    S = _instance(seed, n, radius)
    A = sp.csr_matrix((np.ones(S.nnz), S.indices, S.indptr), shape=S.shape)
    res = set_cover(S, radius, time_limit=10)
    assert np.ceil(_lp(A) - 1e-6) <= res.bound <= _brute(A) == res.objective


def test_lp_bound_rejects_a_bad_time_limit():
    with pytest.raises(ValueError, match="time_limit_s"):
        lp_cover_bound(sp.csr_matrix(np.ones((2, 2))), time_limit_s=0)


def test_window_search_stops_at_the_bound_and_grown_windows_keep_a_cover():
    S = _instance(3, 400, 900.0)
    A = sp.csr_matrix((np.ones(S.nnz), S.indices, S.indptr), shape=S.shape)
    A.sort_indices()
    start = _greedy_cover(A.indptr, A.indices, np.zeros(0, np.int64), A.shape[1])
    same = improve_by_windows(A, start, _exact_cover, time_limit_s=30, seed=1, lower_bound=start.sum())
    assert same.sum() == start.sum() and _covers(A, same)  # a cover at the bound is left as it is
    grown = improve_by_windows(A, start, _exact_cover, time_limit_s=3, seed=1, grow_to=35)
    assert _covers(A, grown) and grown.sum() < start.sum()


def _real_points(county: str) -> np.ndarray:
    path = require_shared(real_county(county) / "villages.csv", f"the real county {county}")
    with path.open(encoding="utf-8-sig") as f:
        rows = [r for r in csv.DictReader(f) if r["经度"].strip() and r["纬度"].strip()]
    return np.array([[float(r["经度"]), float(r["纬度"])] for r in rows])


@pytest.mark.parametrize("county,radius", [("horqin-left-middle", 10000.0), ("shaoyang", 6000.0),
                                           ("chongyang", 6000.0)])
def test_real_county_cover_equals_an_independent_mip_and_the_lp_bound_the_lp(county, radius):
    lonlat = _real_points(county)
    S = covering_matrix_lonlat(lonlat, lonlat, radius)
    A = sp.csr_matrix((np.ones(S.nnz), S.indices, S.indptr), shape=S.shape)
    m = A.shape[1]
    ref = milp(np.ones(m), constraints=LinearConstraint(A, lb=1), integrality=np.ones(m), bounds=Bounds(0, 1))
    assert ref.status == 0
    res = set_cover(S, radius, time_limit=60)
    assert res.status == "optimal" and res.objective == round(ref.fun) == res.bound
    assert res.stats["rows_after_reduction"] > 0  # the reductions alone do not settle it
    assert res.stats["lp_bound"] == pytest.approx(_lp(A), abs=1e-3)  # reduced LP + essential sites = LP
    assert _covers(A, np.isin(np.arange(m), res.selected))
