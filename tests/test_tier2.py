"""Tier 2 as a covering decision: the contact points against an independent maximal covering
(brute force on small instances, ``close_gaps(model="mclp")`` on the demo, ``max_coverage`` on the
real counties), loads, locks and minimal change; and the long-distance diagnostics of tier 1."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.spatial import cKDTree

from geo_service.core.coverage import village_weights
from solvers.assignment import choose_contact_points, cover_pairs_xy, members_needed
from shared_data import require_shared, shared_path
from solvers.pipeline import run_optimisation


def _instance(seed: int, n: int = 10, d: int = 14, g: int = 2):
    rng = np.random.default_rng(seed)
    cand = rng.uniform(0, 10000, (n, 2))
    dem = rng.uniform(0, 10000, (d, 2))
    w = rng.integers(1, 100, d).astype(float)
    base = rng.uniform(0, 10000, (g, 2))
    cost = np.hypot(cand[:, None, 0] - base[None, :, 0], cand[:, None, 1] - base[None, :, 1])
    return cand, dem, w, cost


def _brute_force(cand, dem, w, k, radius):
    """Best covered weight over every set of exactly k candidates (no solver involved)."""
    within = np.hypot(dem[:, None, 0] - cand[None, :, 0], dem[:, None, 1] - cand[None, :, 1]) <= radius
    return max(float(w[within[:, list(s)].any(axis=1)].sum())
               for s in itertools.combinations(range(len(cand)), k))


@pytest.mark.parametrize("seed", range(6))
def test_same_optimum_as_brute_force_mclp(seed):
    cand, dem, w, cost = _instance(seed)
    radius = 3000.0
    pairs = cover_pairs_xy(dem, cand, radius)
    best = _brute_force(cand, dem, w, 4, radius)
    for lam in (0.0, 1e-5):  # pure coverage, and with travel as the default tie-break
        r = choose_contact_points(cost, w, pairs, 2, 2, travel_weight=lam)
        assert r.status == "optimal" and r.gap <= 1e-9 and r.bound == pytest.approx(r.objective)
        assert r.extra["covered_weight"] == pytest.approx(best)
        assert list(r.loads) == [2, 2]
        # the objective is what it says: gap weight left out + travel
        chosen = np.flatnonzero(r.assignment >= 0)
        travel = cost[chosen, r.assignment[chosen]].sum()
        assert r.objective == pytest.approx(w.sum() - best + lam * travel, abs=1e-6)


def test_travel_breaks_ties_and_groups_take_their_nearest():
    # two far-apart clusters, one demand each, one group next to each: each group takes its own
    cand = np.array([[0.0, 0.0], [50000.0, 0.0]])
    dem = cand.copy()
    cost = np.array([[100.0, 50000.0], [50000.0, 100.0]])
    r = choose_contact_points(cost, [5.0, 5.0], cover_pairs_xy(dem, cand, 1000.0), 1, 1)
    assert list(r.assignment) == [0, 1] and r.extra["covered_weight"] == 10.0


def test_locks_loads_and_minimal_change():
    cand, dem, w, cost = _instance(3, n=12, d=20, g=3)
    pairs = cover_pairs_xy(dem, cand, 3000.0)
    r = choose_contact_points(cost, w, pairs, 1, 3, locks={5: 2})
    assert r.assignment[5] == 2 and all(1 <= x <= 3 for x in r.loads)
    again = choose_contact_points(cost, w, pairs, 1, 3, locks={5: 2}, previous=r.assignment,
                                  churn_weight=1e6)
    assert again.moved["moved"] == 0 and list(again.assignment) == list(r.assignment)
    # too few candidates for the minimums: soft, diagnosed, still optimal
    few = choose_contact_points(cost[:2], w, cover_pairs_xy(dem, cand[:2], 3000.0), 1, 3)
    assert few.status == "optimal" and any(d["quota"] == "min_load" for d in few.diagnostics)


def test_uncovered_gap_is_diagnosed_with_points_needed():
    cand, dem, w, cost = _instance(1)
    r = choose_contact_points(cost, w, cover_pairs_xy(dem, cand, 2000.0), 0, 1)
    cap = [d for d in r.diagnostics if d["quota"] == "capacity"]
    assert r.extra["uncovered"] and cap and cap[0]["points_needed"] >= 1


def test_members_needed_is_a_cover():
    xy = np.array([[0.0, 0.0], [1000.0, 0.0], [100000.0, 0.0]])
    assert members_needed(xy, 5000.0, 10) == 2
    assert members_needed(xy, 5000.0, 1) == 3  # capacity binds
    with pytest.raises(ValueError, match="radius_m"):
        members_needed(xy, 0, 1)


def test_pipeline_tiny_straight_and_road(tiny):
    for params in ({"gap_threshold_m": 3000}, {"mode": "road", "gap_threshold_s": 240}):
        r = run_optimisation(tiny, {"tiers": ["stations", "villages"], **params})
        t2 = r.tiers["villages"]
        assert t2.status == "optimal" and t2.solver == "highs_mip" and t2.extra["model"] == "covering"
        assert t2.objective is not None and t2.bound == pytest.approx(t2.objective)
        chosen = {v: g for v, g in t2.assignment.items() if g is not None}
        assert set(t2.extra["zone"]) >= set(chosen)
        assert set(t2.extra["served_by"]) <= set(r.gap_villages)


@pytest.fixture(scope="module")
def demo_run(demo):
    return run_optimisation(demo, {})


@pytest.mark.slow
def test_demo_covers_at_least_995_permille_of_mclp(demo, demo_run):
    from solvers.gaps import close_gaps

    t2 = demo_run.tiers["villages"]
    k = sum(1 for g in t2.assignment.values() if g is not None)
    assert t2.status == "optimal" and k == 88
    cg = close_gaps(demo, threshold_m=10000, k=k, model="mclp", report_thresholds=[10000.0])
    mclp_gain = float(cg.coverage["covered_after"].iloc[0] - cg.coverage["covered_before"].iloc[0])
    assert t2.extra["covered_weight"] >= 0.995 * mclp_gain
    # the zones' figures are the tables' figures
    groups = demo_run.tables(demo)["groups"].set_index("group_id")
    for g, z in t2.extra["zones"].items():
        assert groups.at[g, "zone_population"] == z["population"]
        assert z["max_km"] is None or groups.at[g, "zone_max_m"] == pytest.approx(z["max_km"] * 1000)


@pytest.mark.slow
def test_long_distances_name_sector_and_place(demo, demo_run):
    t1 = demo_run.tiers["constituents"]
    far = t1.extra["long_distances"]
    assert far and all(x["max_km"] >= 50 for x in far)
    tnames = set(demo.townships["name"])
    assert all(x["township"] in tnames and x["sector"] in x["message_zh"] for x in far)
    table = demo_run.tables(demo)
    assert (table["constituents"]["distance_m"] > 50000).sum() == sum(x["constituents"] for x in far)
    assert len(table["long_distances"]) == len(far)
    capped = run_optimisation(demo, {"tiers": ["constituents"], "max_distance_m": 50000})
    t = capped.tiers["constituents"]
    too_far = t.extra["too_far"]
    counties = set(demo.counties["name"])
    assert too_far and all(x["place"] in counties for x in too_far)
    n = sum(x["constituents"] for x in too_far)
    assert sum(1 for why in t.move_reasons.values() if why == "too_far") == n
    assert sum(1 for m in t.assignment.values() if m is None) >= n
    d = next(d for d in t.diagnostics if d["quota"] == "max_distance")
    assert d["scope"] in d["message"] and d["place"] in d["message"] and "50 km" in d["message"]
    assert f"{d['scope']}界别" in d["message_zh"] and d["place"] in d["message_zh"]


REAL = shared_path("real")


@pytest.mark.parametrize("name,threshold", [("chongyang", 5000.0), ("dingri", 10000.0), ("dongcheng", 1000.0),
                                            ("shaoyang", 5000.0), ("horqin-left-middle", 10000.0)])
def test_real_counties_match_mclp(name, threshold):
    require_shared(REAL / name / "villages.csv", f"real data {name}")
    from geo_service.core.io import read_dataset
    from solvers.location import max_coverage

    ds = read_dataset(REAL / name, datum="gcj02", missing_points="drop")
    xy = ds.xy_m("villages")
    seats = ds.villages["is_seat"].fillna(False).astype(bool).to_numpy()
    gap = np.flatnonzero(cKDTree(xy[seats]).query(xy)[0] > threshold)
    vw = village_weights(ds.villages)
    assert vw.basis == "villages"  # no population in these files: 1 per village
    w = vw.weights[gap]
    gxy = xy[gap]
    near = np.isfinite(cKDTree(gxy).query(xy, distance_upper_bound=threshold)[0])
    cand = np.concatenate([gap, np.setdiff1d(np.flatnonzero(near), gap)])
    g = max(1, round(len(gap) / 40))
    base = xy[seats][:g]
    cost = np.hypot(xy[cand][:, None, 0] - base[None, :, 0], xy[cand][:, None, 1] - base[None, :, 1])
    r = choose_contact_points(cost, w, cover_pairs_xy(gxy, xy[cand], threshold), 2, 4)
    allc = np.hypot(gxy[:, None, 0] - xy[None, :, 0], gxy[:, None, 1] - xy[None, :, 1])
    mc = max_coverage(allc, threshold, 4 * g, weights=w, time_limit=60)
    assert r.status == "optimal" and mc.status == "optimal"
    assert r.extra["covered_weight"] >= 0.995 * mc.objective
