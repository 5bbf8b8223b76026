"""p-median at any p (Lagrangian bound, local search, fixing, finish): bounds never above the
optimum (brute force), time-limited runs still report a finite valid bound."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from solvers import location
from solvers.location import brute_force, p_median
from solvers.location.pmedian_large import local_search

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def instances(draw, max_n=9, max_m=7):
    n = draw(st.integers(1, max_n))
    m = draw(st.integers(2, max_m))
    rng = np.random.default_rng(draw(st.integers(0, 10_000)))
    integral = draw(st.booleans())
    cost = rng.random((n, m)) * 60
    if integral:
        cost = np.round(cost)
    if draw(st.booleans()):  # some pairs cannot be served (every demand keeps one finite cost)
        mask = rng.random((n, m)) < 0.2
        mask[np.arange(n), rng.integers(0, m, n)] = False
        cost[mask] = np.inf
    w = rng.integers(0, 6, size=n).astype(float)
    p = draw(st.integers(1, m))
    fixed = sorted(rng.choice(m, size=draw(st.integers(0, min(2, p))), replace=False).tolist())
    return cost, w, p, fixed


def _optimum(cost, w, p, fixed):
    """Brute-force optimum over the weighted demands (a weight-0 demand may have inf costs)."""
    keep = w > 0
    if not keep.any():
        return 0.0
    return brute_force("pmedian", cost[keep], p=p, weights=w[keep], fixed=fixed)[0]


def _patched(**large):
    """Route every p through the any-p path (normally used for p > 15), with ``large`` settings
    of :mod:`solvers.location.pmedian_large`."""
    mp = pytest.MonkeyPatch()
    mp.setattr(location.pmedian, "_LAGRANGIAN_MAX_P", -1)
    for k, v in large.items():
        mp.setattr(location.pmedian_large, k, v)
    return mp


@FAST
@given(inst=instances(), weak=st.booleans(), finish=st.sampled_from(["bnb", "radius"]))
def test_any_p_path_is_exact_and_its_bounds_valid(inst, weak, finish):
    cost, w, p, fixed = inst
    # weak: no ascent and no local search, so the finish has to do the proof
    best = _optimum(cost, w, p, fixed)
    assume(np.isfinite(best))  # some p-set serves every weighted demand at a finite cost
    mp = _patched(_FINISH=finish, **({"_MIN_THETA": 10.0, "_ILS_MAX_ROUNDS": 0} if weak else {}))
    try:
        r = p_median(cost, p, weights=w, fixed=fixed)
    finally:
        mp.undo()
    assert r.status == "optimal" and r.objective == pytest.approx(best)
    assert r.bound <= best + 1e-7
    assert r.stats.get("lagrangian_bound", -np.inf) <= best + 1e-7
    assert len(r.selected) == p and set(fixed) <= set(r.selected.tolist())


@FAST
@given(inst=instances(), rel_gap=st.sampled_from([0.01, 0.1, 0.5]))
def test_rel_gap_stops_early_with_a_valid_bound(inst, rel_gap):
    cost, w, p, fixed = inst
    best = _optimum(cost, w, p, fixed)
    assume(np.isfinite(best))
    mp = _patched()
    try:
        r = p_median(cost, p, weights=w, fixed=fixed, rel_gap=rel_gap)
    finally:
        mp.undo()
    assert r.bound <= best + 1e-7 and r.objective >= best - 1e-7
    assert r.objective - r.bound <= rel_gap * r.objective + 1e-7


def test_time_limited_large_p_reports_a_finite_bound():
    """A province-size case in small: p > 15 and a time limit far too short to prove anything."""
    rng = np.random.default_rng(5)
    pts = rng.random((300, 2)) * 1000
    cost = np.hypot(*(pts[:, None, :] - pts[None]).transpose(2, 0, 1))
    r = p_median(cost, 30, time_limit=0.3)
    assert np.isfinite(r.bound) and 0 < r.bound <= r.objective
    assert r.stats["method"].startswith("lagrangian_large")


@FAST
@given(inst=instances(max_n=12, max_m=9), use_numba=st.booleans())
def test_local_search_never_worsens_and_keeps_fixed_sites(inst, use_numba):
    cost, w, p, fixed = inst
    a = w[:, None] * np.where(np.isfinite(cost), cost, 1e6)
    at = np.ascontiguousarray(a.T, dtype=np.float32)
    rng = np.random.default_rng(0)
    rest = np.setdiff1d(np.arange(cost.shape[1]), fixed)
    start = np.concatenate([fixed, rng.choice(rest, p - len(fixed), replace=False)]).astype(int)
    if use_numba and location.pmedian_large._numba is None:
        use_numba = False
    sel, v, _ = local_search(a, at, start, np.array(fixed, int), float("inf"), use_numba)
    assert v <= a[:, start].min(axis=1).sum() + 1e-9
    assert v == pytest.approx(a[:, sel].min(axis=1).sum())
    assert len(set(sel.tolist())) == p and set(fixed) <= set(sel.tolist())
