"""Location models on plain arrays, checked against brute force over site subsets."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared_data import require_shared, shared_path
from solvers import location
from solvers.location import (brute_force, greedy_interchange, max_coverage, p_center, p_median,
                              set_cover)

ORLIB = shared_path("benchmarks", "orlib")


@st.composite
def instances(draw, max_n=9, max_m=6):
    n = draw(st.integers(2, max_n))
    m = draw(st.integers(2, max_m))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    cost = rng.integers(0, 60, size=(n, m)).astype(float)
    w = rng.integers(0, 9, size=n).astype(float)
    p = draw(st.integers(1, m))
    nfix = draw(st.integers(0, min(2, p)))
    fixed = sorted(rng.choice(m, size=nfix, replace=False).tolist())
    radius = float(draw(st.integers(5, 50)))
    return cost, w, p, fixed, radius


FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(instances())
def test_p_median_matches_brute_force(inst):
    cost, w, p, fixed, _ = inst
    r = p_median(cost, p, weights=w, fixed=fixed)
    best, _ = brute_force("pmedian", cost, p=p, weights=w, fixed=fixed)
    assert r.status == "optimal"
    assert r.objective == pytest.approx(best)
    assert r.bound == pytest.approx(best)
    assert len(r.selected) == p and set(fixed) <= set(r.selected.tolist())
    # assignment is to the nearest open site
    assert np.allclose(cost[np.arange(len(cost)), r.assignment], cost[:, r.selected].min(axis=1))


@FAST
@given(instances())
def test_max_coverage_matches_brute_force(inst):
    cost, w, p, fixed, radius = inst
    r = max_coverage(cost, radius, p, weights=w, fixed=fixed)
    best, _ = brute_force("mclp", cost, p=p, radius=radius, weights=w, fixed=fixed)
    assert r.status == "optimal"
    assert r.objective == pytest.approx(best)
    assert len(r.selected) == p and set(fixed) <= set(r.selected.tolist())
    covered = r.assignment >= 0
    assert np.all(cost[np.flatnonzero(covered), r.assignment[covered]] <= radius)


@FAST
@given(instances())
def test_set_cover_matches_brute_force(inst):
    cost, w, _, fixed, radius = inst
    r = set_cover(cost, radius, weights=w, fixed=fixed)
    best, _ = brute_force("lscp", cost, radius=radius, weights=w, fixed=fixed)
    if np.isfinite(best):
        assert r.status == "optimal"
        assert r.objective == best
        assert np.all((r.assignment >= 0) | (w == 0))
    else:
        assert r.status == "infeasible"
        assert any(d["reason"] == "no_candidate" for d in r.uncovered)
    assert set(fixed) <= set(r.selected.tolist())


@FAST
@given(instances())
def test_p_center_matches_brute_force(inst):
    cost, _, p, fixed, _ = inst
    r = p_center(cost, p, fixed=fixed)
    best, _ = brute_force("pcenter", cost, p=p, fixed=fixed)
    assert r.status == "optimal"
    assert r.objective == pytest.approx(best)
    assert len(r.selected) == p and set(fixed) <= set(r.selected.tolist())


def test_infeasible_set_cover_is_explained():
    cost = np.array([[1.0, 5.0], [2.0, 3.0], [14.2, 20.0]])
    r = set_cover(cost, 10.0)
    assert r.status == "infeasible"
    assert "14.2" in r.message and "no candidate within the threshold" in r.message
    [d] = r.uncovered
    assert d["demand"] == 2 and d["reason"] == "no_candidate" and d["nearest_cost"] == 14.2
    assert "the nearest candidate is 14.2 away" in d["message"]
    # the coverable demands are still covered, with one site
    assert len(r.selected) == 1 and (r.assignment[:2] >= 0).all() and r.assignment[2] == -1


def test_mclp_explains_uncovered_demands():
    cost = np.array([[0.0, 9.0, 50], [9.0, 0.0, 50], [50, 50, 0.0], [99, 99, 99]])
    r = max_coverage(cost, 5.0, 2, weights=[10, 10, 1, 7])
    reasons = {d["demand"]: d["reason"] for d in r.uncovered}
    assert r.objective == 20 and reasons == {2: "not_selected", 3: "no_candidate"}


def test_capacity_is_respected():
    rng = np.random.default_rng(3)
    cost = rng.integers(1, 50, size=(10, 5)).astype(float)
    w = rng.integers(1, 6, size=10).astype(float)
    cap = 12.0
    r = p_median(cost, 3, weights=w, capacity=cap, fixed=[4])
    assert r.status == "optimal" and 4 in r.selected
    loads = np.bincount(r.assignment, weights=w, minlength=5)
    assert np.all(loads <= cap + 1e-9) and set(np.flatnonzero(loads)) <= set(r.selected.tolist())
    free = p_median(cost, 3, weights=w, fixed=[4])
    assert r.objective >= free.objective - 1e-9
    m = max_coverage(cost, 25.0, 2, weights=w, capacity=cap)
    loads = np.bincount(m.assignment[m.assignment >= 0], weights=w[m.assignment >= 0], minlength=5)
    assert np.all(loads <= cap + 1e-9)
    assert np.all(cost[np.flatnonzero(m.assignment >= 0), m.assignment[m.assignment >= 0]] <= 25)


@pytest.mark.parametrize("n_sites", [30, 300])  # fewer and more sites than demands
def test_p_median_never_optimal_with_a_demand_left_unserved(n_sites):
    """Every demand has some site, but the few that reach the lonely ones are not worth a site of
    the p: no p sites serve them all, and the answer says so with how many would."""
    rng = np.random.default_rng(11)
    cost = rng.uniform(100.0, 1000.0, (60, n_sites))
    cost[:3, :] = np.inf
    for i in range(3):  # three demands, each reachable from one site of its own only
        cost[i, i] = 50.0
        cost[3:, i] = np.inf
    r = p_median(cost, 2, time_limit=20)
    assert r.status == "infeasible" and "at least 4" in r.message  # 3 own sites + 1 for the rest
    assert r.stats["sites_to_serve_every_demand"]["bound"] == 4
    assert {d["demand"] for d in r.uncovered} >= {0, 1, 2} - {int(j) for j in r.selected}
    ok = p_median(cost, 4, time_limit=20)
    assert ok.status == "optimal" and (ok.assignment >= 0).all() and {0, 1, 2} <= set(ok.selected.tolist())


def test_capacity_too_small_is_infeasible():
    r = p_median(np.ones((4, 2)), 2, weights=[5, 5, 5, 5], capacity=6)
    assert r.status == "infeasible" and "capacity" in r.message


def test_unreachable_pairs_are_never_used():
    inf = np.inf
    cost = np.array([[0, inf, 4], [inf, 0, 9], [3, inf, inf]], float)
    r = p_median(cost, 2)
    assert r.status == "optimal" and np.isfinite(cost[np.arange(3), r.assignment]).all()
    assert r.objective == brute_force("pmedian", np.where(np.isfinite(cost), cost, 1e6), p=2)[0]
    dead = p_median(np.array([[inf, inf], [0, 1]]), 1)
    assert dead.status == "infeasible" and dead.uncovered[0]["demand"] == 0


def test_deterministic_with_seed():
    rng = np.random.default_rng(7)
    cost = rng.random((40, 25)) * 100
    a, b = p_median(cost, 4, seed=5), p_median(cost, 4, seed=5)
    assert a.selected.tolist() == b.selected.tolist() and a.objective == b.objective
    c, d = max_coverage(cost, 20, 5, seed=1), max_coverage(cost, 20, 5, seed=1)
    assert c.selected.tolist() == d.selected.tolist()


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"cost\[0, 1\].*negative"):
        p_median([[0, -1]], 1)
    with pytest.raises(ValueError, match="p = 1 is smaller than the 2 fixed"):
        p_median(np.ones((3, 3)), 1, fixed=[0, 1])
    with pytest.raises(ValueError, match="weights has 2 entries"):
        set_cover(np.ones((3, 3)), 1, weights=[1, 2])
    with pytest.raises(ValueError, match="fixed site index 9"):
        max_coverage(np.ones((3, 3)), 1, 2, fixed=[9])


def test_result_to_dict_is_json_safe():
    import json

    r = set_cover(np.array([[1.0, 50.0], [40.0, 60.0]]), 10.0)
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert d["status"] == "infeasible" and d["uncovered"][0]["demand"] == 1


def test_time_limit_returns_best_so_far_with_bound():
    rng = np.random.default_rng(0)
    cost = rng.random((150, 150)) * 1000
    r = p_median(cost, 8, time_limit=0.2)
    assert r.status in ("optimal", "feasible")
    assert len(r.selected) == 8 and r.bound <= r.objective + 1e-6
    h_sel, h_obj = greedy_interchange(cost, 8)
    assert r.objective <= h_obj + 1e-6


def _read_orlib():
    spec = importlib.util.spec_from_file_location(
        "pmed_bench", Path(__file__).resolve().parents[1] / "benchmarks" / "pmed.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.read_orlib_pmed


def test_orlib_pmed1_reaches_published_optimum():
    require_shared(ORLIB / "pmed1.txt", "OR-Library p-median instances")
    cost, p = _read_orlib()(ORLIB / "pmed1.txt")
    assert cost.shape == (100, 100) and p == 5
    r = p_median(cost, p, time_limit=60)
    assert r.status == "optimal" and r.objective == 5819 and r.bound == 5819


@pytest.mark.parametrize("method", ["radius", "large-bnb", "large-radius", "large-numpy",
                                    "lagrangian", "lagrangian-numpy"])
def test_p_median_mip_phase_matches_brute_force(method, monkeypatch):
    """Clustered instances with small p, where the LP bound is not enough: the radius MIP phase
    (reduced-cost fixing, level generation), the any-p path (Lagrangian, local search, fixing,
    then a tree or the radius MIP on the sites left) or the Lagrangian branch-and-bound (the
    default for small p) must finish the proof."""
    if method == "radius":  # the radius formulation alone, on the whole instance
        def radius_only(c, w, p, fx, deadline, seed, stats, rel_gap=0.0):
            stats["method"] = "radius"
            return location.pmedian_radius._pmedian_exact(c, w, p, fx, deadline, seed, stats)
        monkeypatch.setattr(location.pmedian, "pmedian_lagrangian_large", radius_only)
    if method.startswith("large"):
        monkeypatch.setattr(location.pmedian_large, "_ILS_MAX_ROUNDS", 0)  # leave work for the finish
    if method in ("large-bnb", "large-radius"):  # no ascent: a weak bound leaves work to finish
        monkeypatch.setattr(location.pmedian_large, "_MIN_THETA", 10.0)
    if method == "large-radius":
        monkeypatch.setattr(location.pmedian_large, "_FINISH", "radius")
    if method in ("radius", "large-bnb", "large-radius", "large-numpy"):
        monkeypatch.setattr(location.pmedian, "_LAGRANGIAN_MAX_P", -1)
    if method.endswith("-numpy"):  # the same search without the optional numba kernels
        monkeypatch.setattr(location.pmedian_lagrange, "USE_NUMBA", False)
    rng = np.random.default_rng(1)
    used_mip = 0
    for t in range(20):
        n, m = rng.integers(20, 40), rng.integers(12, 22)
        pts = rng.random((n, 2)) * 100
        sites = pts[rng.choice(n, m, replace=False)]
        cost = np.hypot(*(pts[:, None, :] - sites[None]).transpose(2, 0, 1))
        if t % 2:
            cost = np.round(cost)
        w = rng.integers(1, 5, n).astype(float)
        p = int(rng.integers(2, 5))
        fx = rng.choice(m, int(rng.integers(0, 2)), replace=False)
        r = p_median(cost, p, weights=w, fixed=fx)
        best, _ = brute_force("pmedian", cost, p=p, weights=w, fixed=fx)
        assert r.status == "optimal" and r.objective == pytest.approx(best)
        assert set(fx.tolist()) <= set(r.selected.tolist()) and len(r.selected) == p
        if method in ("radius", "large-radius"):
            used_mip += "mip_iterations" in r.stats or "mip_mip_iterations" in r.stats
        elif method == "large-bnb":
            used_mip += r.stats.get("bnb_nodes", 0) > 0
        elif method == "large-numpy":
            used_mip += r.stats["method"].startswith("lagrangian_large")
        else:
            used_mip += r.stats.get("bnb_nodes", 0) > 0
        if method.startswith("large"):  # the Lagrangian bound is valid on its own
            assert r.stats["lagrangian_bound"] <= best + 1e-7
    assert used_mip >= 1


def _all_pmedian_values(cost, w, p, fixed):
    """Objective of every feasible p-subset (fixed sites included), by enumeration."""
    import itertools

    m = cost.shape[1]
    out = {}
    for s in itertools.combinations(range(m), p):
        if set(fixed) <= set(s):
            out[s] = float(w @ cost[:, list(s)].min(axis=1))
    return out


@FAST
@given(instances(max_n=8, max_m=7), st.integers(0, 10_000))
def test_lagrangian_bound_is_a_valid_lower_bound(inst, useed):
    """L(u) never exceeds the optimum, whatever the multipliers u."""
    cost, w, p, fixed, _ = inst
    best, _ = brute_force("pmedian", cost, p=p, weights=w, fixed=fixed)
    a = w[:, None] * cost
    rng = np.random.default_rng(useed)
    is_open = np.zeros(cost.shape[1], bool)
    is_open[fixed] = True
    for u in (rng.random(len(w)) * a.max(initial=1) * 2, a.min(axis=1), np.zeros(len(w))):
        bound, sel, _ = location.lagrangian_bound(a, u, p, is_open)
        assert bound <= best + 1e-7
        assert len(sel) == p and set(fixed) <= set(sel.tolist())


@FAST
@given(instances(max_n=9, max_m=8))
def test_lagrangian_fixing_never_removes_an_optimal_site(inst):
    """With an incumbent one unit above the optimum, root fixing keeps every optimal solution
    (integer data): no site of one is closed and every site forced open belongs to all."""
    cost, w, p, fixed, _ = inst
    vals = _all_pmedian_values(cost, w, p, fixed)
    best = min(vals.values())
    optimal = [set(s) for s, v in vals.items() if v == best]
    a = w[:, None] * cost
    bb = location.pmedian_lagrange._LagrangianBnB(a, p, np.array(fixed, int), best + 1, np.array([0]), True,
                                 deadline=float("inf"))
    bb._try = lambda cols: None  # keep the incumbent at best + 1
    bb.run(a.min(axis=1))
    active, is_open = bb.root_masks
    for s in optimal:
        assert s <= set(np.flatnonzero(active).tolist())
        assert set(np.flatnonzero(is_open).tolist()) <= s


@FAST
@given(instances(max_n=9, max_m=7))
def test_lagrangian_branch_and_bound_matches_brute_force(inst):
    """The small-p path (Lagrangian branch-and-bound) is exact, with weights and fixed sites."""
    cost, w, p, fixed, _ = inst
    if p == cost.shape[1]:
        p -= 1
        fixed = fixed[:p]
    if p < 1:
        return
    r = p_median(cost, p, weights=w, fixed=fixed)
    best, _ = brute_force("pmedian", cost, p=p, weights=w, fixed=fixed)
    assert r.stats["method"] == "lagrangian_bnb"
    assert r.status == "optimal" and r.objective == pytest.approx(best) and r.bound == r.objective
    assert set(fixed) <= set(r.selected.tolist()) and len(r.selected) == p


def test_lagrangian_time_limit_bound_is_valid():
    """Stopped early, the branch-and-bound still reports a bound at or below the optimum."""
    rng = np.random.default_rng(3)
    pts = rng.random((60, 2)) * 100
    cost = np.round(np.hypot(*(pts[:, None, :] - pts[None]).transpose(2, 0, 1)))
    r = p_median(cost, 3, time_limit=0.01)
    full = p_median(cost, 3)
    assert full.status == "optimal" and full.stats["method"] == "lagrangian_bnb"
    assert r.bound <= full.objective + 1e-9 and r.objective >= full.objective - 1e-9
