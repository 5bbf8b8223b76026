"""Covering models from sparse input: equal to the dense answer, merging keeps the objective,
KD-tree construction equals brute-force distances."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solvers.location import (brute_force, covering_matrix, covering_matrix_lonlat, max_coverage,
                              set_cover)
from solvers.location.reach import merge_rows, reach

FAST = settings(max_examples=int(__import__("os").environ.get("LOC_EXAMPLES", 40)), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def covering(draw, max_n=10, max_m=7):
    n, m = draw(st.integers(1, max_n)), draw(st.integers(1, max_m))
    rng = np.random.default_rng(draw(st.integers(0, 10_000)))
    cost = rng.integers(0, 40, size=(n, m)).astype(float)  # zeros: a site at the demand
    if draw(st.booleans()):
        cost[rng.random((n, m)) < 0.2] = np.inf
    w = rng.integers(0, 5, size=n).astype(float)
    if draw(st.booleans()):  # duplicated demands: identical covering sets to merge
        k = draw(st.integers(1, n))
        cost = np.vstack([cost, cost[:k]])
        w = np.concatenate([w, rng.integers(0, 5, size=k).astype(float)])
    p = draw(st.integers(1, m))
    fixed = sorted(rng.choice(m, size=draw(st.integers(0, min(1, p))), replace=False).tolist())
    radius = float(draw(st.integers(0, 40)))
    return cost, w, p, fixed, radius


def _sparse(cost, radius, fmt):
    """Only the pairs within reach, explicit zeros kept, in the given scipy format."""
    i, j = np.nonzero(cost <= radius)
    m = sp.coo_matrix((cost[i, j], (i, j)), shape=cost.shape)
    return m.asformat(fmt)


@FAST
@given(covering(), st.sampled_from(["csr", "csc", "coo"]))
def test_max_coverage_sparse_equals_dense(inst, fmt):
    cost, w, p, fixed, radius = inst
    d = max_coverage(cost, radius, p, weights=w, fixed=fixed)
    s = max_coverage(_sparse(cost, radius, fmt), radius, p, weights=w, fixed=fixed)
    best, _ = brute_force("mclp", cost, p=p, radius=radius, weights=w, fixed=fixed)
    assert d.status == s.status == "optimal"
    assert d.objective == pytest.approx(best) and s.objective == pytest.approx(best)
    assert set(fixed) <= set(s.selected.tolist()) and len(s.selected) == p
    covered = (s.assignment >= 0)
    assert np.all(cost[np.flatnonzero(covered), s.assignment[covered]] <= radius)


@FAST
@given(covering(), st.sampled_from(["csr", "csc", "coo"]))
def test_set_cover_sparse_equals_dense(inst, fmt):
    cost, w, _, fixed, radius = inst
    d = set_cover(cost, radius, weights=w, fixed=fixed)
    s = set_cover(_sparse(cost, radius, fmt), radius, weights=w, fixed=fixed)
    assert d.status == s.status and d.objective == s.objective
    if d.status == "optimal":
        best, _ = brute_force("lscp", cost, radius=radius, weights=w, fixed=fixed)
        assert s.objective == best
    assert [u["demand"] for u in d.uncovered] == [u["demand"] for u in s.uncovered]
    assert [u["reason"] for u in d.uncovered] == [u["reason"] for u in s.uncovered]


@FAST
@given(covering())
def test_merging_identical_sets_preserves_the_objective(inst):
    """Duplicating every demand (weights split in two) changes neither the optimum nor the sites
    count, and the model has no more rows than distinct covering sets."""
    cost, w, p, fixed, radius = inst
    r1 = max_coverage(cost, radius, p, weights=w, fixed=fixed)
    half = np.concatenate([w / 2, w / 2])
    r2 = max_coverage(np.vstack([cost, cost]), radius, p, weights=half, fixed=fixed)
    assert r2.objective == pytest.approx(r1.objective)
    assert r2.stats["covering_sets"] == r1.stats["covering_sets"]
    S, _ = reach(cost, radius)
    group, g_ptr, _ = merge_rows(S, np.arange(len(cost)))
    sets = {tuple(np.flatnonzero(row <= radius)) for row in cost}
    assert len(g_ptr) - 1 == len(sets)


def test_sparse_input_with_a_dense_matrix_error_is_gone():
    """The issue's case: a sparse matrix used to fail with 'setting an array element with a
    sequence'."""
    cost = np.array([[0.0, 5.0, 50.0], [7.0, 0.0, 60.0], [80.0, 90.0, 0.0]])
    s = _sparse(cost, 10, "csr")
    r = max_coverage(s, 10, 1, weights=[1, 2, 3])
    assert r.status == "optimal" and r.objective == 3 and r.selected.tolist() in ([0], [1], [2])
    assert max_coverage(s, 10, 2, weights=[1, 2, 3]).objective == 6
    assert set_cover(s, 10).objective == 2


def test_sparse_input_errors_name_the_entry():
    bad = sp.coo_matrix(([np.nan], ([1], [0])), shape=(2, 2))
    with pytest.raises(ValueError, match=r"cost\[1, 0\] is NaN"):
        max_coverage(bad, 1.0, 1)
    neg = sp.coo_matrix(([-1.0], ([0], [1])), shape=(2, 2))
    with pytest.raises(ValueError, match="negative"):
        set_cover(neg, 1.0)


@FAST
@given(st.integers(0, 10_000), st.integers(1, 60), st.integers(1, 40),
       st.floats(0.5, 400, allow_nan=False))
def test_covering_matrix_equals_brute_force_distances(seed, n, m, radius):
    rng = np.random.default_rng(seed)
    a = rng.random((n, 2)) * 1000
    b = np.vstack([rng.random((m, 2)) * 1000, a[:2]])  # coincident points: cost 0 kept
    S = covering_matrix(a, b, radius)
    d = np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])
    i, j = np.nonzero(d <= radius)
    assert S.nnz == len(i)
    assert np.allclose(np.asarray(S[i, j]).ravel(), d[i, j])


def test_covering_matrix_lonlat_metres():
    """Two villages 0.01 degrees of latitude apart (~1.11 km) near 30 N."""
    a = np.array([[120.0, 30.0], [120.0, 30.01]])
    S = covering_matrix_lonlat(a, a, 1200)
    assert S.nnz == 4 and 1100 < S[0, 1] < 1120 and S[0, 0] == 0
    assert covering_matrix_lonlat(a, a, 1000).nnz == 2


def test_covering_matrix_rejects_bad_input():
    with pytest.raises(ValueError, match="demand_xy"):
        covering_matrix(np.zeros((3, 3)), np.zeros((2, 2)), 1.0)
    with pytest.raises(ValueError, match="radius"):
        covering_matrix(np.zeros((3, 2)), np.zeros((2, 2)), -1.0)


@pytest.mark.parametrize("model,k", [("lscp", None), ("mclp", 3)])
def test_close_gaps_sparse_path_equals_dense(tiny, model, k):
    """The KD-tree pairs within the threshold give the same proposal and tables as the matrix."""
    from solvers.gaps import close_gaps

    kw = dict(threshold_m=4000, model=model, k=k, time_limit=30)
    d = close_gaps(tiny, sparse=False, **kw)
    s = close_gaps(tiny, sparse=True, **kw)
    assert s.params["sparse"] and not d.params["sparse"]
    assert s.status == d.status and s.solution.objective == pytest.approx(d.solution.objective)
    for name in ("coverage", "uncovered"):
        a, b = d.tables()[name], s.tables()[name]
        assert a.drop(columns=["nearest_cost"], errors="ignore").equals(
            b.drop(columns=["nearest_cost"], errors="ignore"))
    assert np.allclose(d.uncovered["nearest_cost"].to_numpy(float),
                       s.uncovered["nearest_cost"].to_numpy(float))


@FAST
@given(covering(max_n=12, max_m=8), st.sampled_from([0.0, 0.05]))
def test_mclp_lagrangian_path_bound_is_valid(inst, rel_gap):
    """The province-size path (Lagrangian bound, swaps, fixing, then the MIP on the fixed model)
    is exact at rel_gap 0 and its bound never falls below the optimum."""
    from solvers.location import covering as cov

    cost, w, p, fixed, radius = inst
    best, _ = brute_force("mclp", cost, p=p, radius=radius, weights=w, fixed=fixed)
    mp = pytest.MonkeyPatch()
    mp.setattr(cov, "LAGRANGIAN_ABOVE", -1)
    try:
        r = max_coverage(_sparse(cost, radius, "csr"), radius, p, weights=w, fixed=fixed,
                         rel_gap=rel_gap)
    finally:
        mp.undo()
    assert r.bound >= best - 1e-7 and r.objective <= best + 1e-7
    assert r.bound - r.objective <= rel_gap * r.objective + 1e-7
    if rel_gap == 0:
        assert r.status == "optimal" and r.objective == pytest.approx(best)
    assert len(r.selected) == p and set(fixed) <= set(r.selected.tolist())
    if "lagrangian_bound" in r.stats:
        assert r.stats["lagrangian_bound"] + r.stats["covered_by_fixed"] >= best - 1e-7
