"""Set cover before the MIP: the reductions keep the optimum, the Lagrangian bound is a bound, the
window search keeps a cover, and set_cover's answer equals brute force with a valid bound."""

from __future__ import annotations

import itertools

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from solvers.location import covering_matrix, set_cover
from solvers.location.covering import _exact_cover, _greedy_cover
from solvers.location.setcover import improve_by_windows, lagrangian_cover, reduce_cover


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
