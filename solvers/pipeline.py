"""One optimisation run over a dataset: all four assignment tiers, their tables and a diff.

``run_optimisation(ds, params)`` builds the cost matrices from a :class:`~geo_service.core.dataset.Dataset`
(straight-line metres in ``ds.metric_crs``, or road travel time in seconds from
:class:`geo_service.core.network.RoadNetwork`), calls the array solvers of :mod:`solvers.assignment` and
maps the answers back to ids. The :class:`OptimisationResult` is pure JSON (``to_dict``/``from_dict``),
so it can be stored in a job record and passed back as ``previous`` for a minimal-change re-run
(parameters and results: :mod:`solvers.results`).

Tier order in a run: constituents -> members (1), groups -> stations (4, so a group's base is known),
villages -> groups (2), townships -> committees (3).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from geo_service.core.coverage import village_weights
from geo_service.core.glossary import message

from . import assignment as A
from .run_context import (
    Cancelled,
    Progress,
    _check_cancel,
    _Costs,
    _gap_villages,
    _Groups,
    _index_map,
    _lock_array,
    _lonlat,
    _previous,
    _Run,
    _tier_result,
)
from .relaxations import relaxed_status, tier_relaxations
from .results import (
    NOTHING_TO_DO,
    TIER_NEEDS,
    TIERS,
    Locks,
    OptimisationParams,
    OptimisationResult,
    TierResult,
    _json,
    diff_results,
)



def _distance_unknown(ids: list[str], what: str) -> dict[str, Any]:
    """The diagnostic for people of unknown location, assigned by sector and load (距离未知)."""
    return {"tier": "constituents", "severity": "warning", "quota": "location", "code": "distance_unknown_assigned",
            "params": {"n": len(ids), "ids": "、".join(ids[:10]) + ("…" if len(ids) > 10 else "")},
            "distance_unknown": len(ids),
            "message": f"{len(ids)} {what} of unknown location (距离未知) assigned by sector and load: "
                       f"{', '.join(ids[:10])}{'...' if len(ids) > 10 else ''}"}


def _mean_point(ll: np.ndarray, default: np.ndarray) -> np.ndarray:
    """Mean of the known points (lon/lat rows; NaN rows are of unknown location), else ``default``."""
    ok = np.isfinite(ll).all(axis=1)
    return ll[ok].mean(axis=0) if ok.any() else np.asarray(default, float)


def _tier_constituents(run: _Run) -> TierResult:
    """Tier 1: constituents -> members of their sector (exact min-cost flow), with the cross-sector
    fallback when the sector quotas cannot be met."""
    ds, p, say = run.ds, run.p, run.say
    say(5.0, "assigning constituents to members")
    c = ds.constituents
    c_ids = [str(x) for x in c["id"]]
    pts = ds.constituent_points()
    # a constituent (or member) of unknown location is still assigned, by sector and load: its
    # pairs cost the same whoever it goes to, and the answer says "距离未知"
    known = ~(pts.isna() | pts.is_empty).to_numpy()
    located = np.ones(len(c_ids), dtype=bool)
    unknown_ids = [c_ids[i] for i in np.flatnonzero(~known)]
    if unknown_ids:
        run.diagnostics.append(_distance_unknown(unknown_ids, "constituents"))
    csec = c["sector"].astype(str).to_numpy()[located]
    msec = ds.members["sector"].astype(str).to_numpy()
    c_ll = np.full((len(c_ids), 2), np.nan)
    c_ll[known] = _lonlat(pts[known])
    loc_ids = [c_ids[i] for i in np.flatnonzero(located)]
    all_known = bool(known.all() and np.isfinite(run.m_ll).all())
    near = np.zeros(len(loc_ids))
    ok_c, ok_m = np.isfinite(c_ll).all(axis=1), np.isfinite(run.m_ll).all(axis=1)
    if ok_c.any() and ok_m.any():
        near[ok_c] = A.nearest_same_sector(run.costs.xy(c_ll[ok_c]), run.costs.xy(run.m_ll[ok_m]), csec[ok_c],
                                           msec[ok_m])
    far = np.zeros(len(loc_ids), bool)
    if p.max_distance_m is not None:  # no member of their sector within reach: left unassigned
        far = (near > p.max_distance_m) & ~np.isin(loc_ids, list(p.locks.constituents))
    rows = [x for x, f in zip(loc_ids, far) if not f]
    r_idx = _index_map(rows)
    far_info = _far_constituents(run, [x for x, f in zip(loc_ids, far) if f], c_ll[far], csec[far], near[far])
    c_ll, csec = c_ll[~far], csec[~far]
    locks = _lock_array(p.locks.constituents, r_idx, run.m_idx, "constituents", "member")
    prev_a, gone = _previous(run.prev, "constituents", rows, run.m_idx)
    cost_of, solve = _tier1_solver(run, c_ll, csec, msec, locks, prev_a, all_known)
    res, fallback_info = _cross_sector_fallback(run, solve(p.allow_cross_sector), solve, csec, msec)
    tr = _tier_result("constituents", res, rows, run.m_ids, gone,
                      {"target": p.constituents_target, **fallback_info}, cost_of)
    tr.extra["distance_unknown"] = unknown_ids + [m for m, ok in zip(run.m_ids, ok_m) if not ok]
    for cid in far_info.pop("ids"):
        tr.assignment[cid] = None
        tr.move_reasons[cid] = "too_far"
    tr.diagnostics += far_info.pop("diagnostics")
    tr.extra.update(far_info)
    tr.extra["long_distances"], tr.extra["distance_m"] = _long_distances(run, tr.assignment)
    _long_distance_warning(run, tr)
    return tr


def _tier1_solver(run: _Run, c_ll: np.ndarray, csec: np.ndarray, msec: np.ndarray, locks: Any, prev_a: Any,
                  all_known: bool) -> tuple[Any, Any]:
    """Tier 1's cost of (row, member) pairs and its solve(cross) (geometric flow in straight mode with
    every point known, else a cost matrix)."""
    p = run.p
    if p.mode == "straight" and all_known:
        cxy, mxy = run.costs.xy(c_ll), run.costs.xy(run.m_ll)

        def cost_of(ri: np.ndarray, cj: np.ndarray) -> np.ndarray:
            return np.hypot(*(cxy[ri] - mxy[cj]).T)

        def solve(cross: bool) -> A.AssignmentResult:
            return A.assign_constituents_geo(
                cxy, mxy, p.constituents_min, p.constituents_max, constituent_sector=csec,
                member_sector=msec, cross_penalty=p.penalty(p.cross_sector_penalty) if cross else None,
                time_limit=run.time_left(), seed=p.seed, locks=locks,
                previous=prev_a, churn_weight=run.churn, target_load=p.constituents_target,
                over_target_penalty=p.penalty(p.target_penalty), should_stop=run.stop)
    else:
        cost = run.costs.matrix(c_ll, run.m_ll)

        def cost_of(ri: np.ndarray, cj: np.ndarray) -> np.ndarray:
            return cost[ri, cj]

        def solve(cross: bool) -> A.AssignmentResult:
            return A.assign_min_cost_flow(
                cost, p.constituents_min, p.constituents_max, allowed=csec[:, None] == msec[None, :],
                time_limit=run.time_left(), seed=p.seed, locks=locks,
                previous=prev_a, churn_weight=run.churn,
                cross_penalty=p.penalty(p.cross_sector_penalty) if cross else None,
                member_labels=list(msec), target_load=p.constituents_target,
                over_target_penalty=p.penalty(p.target_penalty), should_stop=run.stop)

    return cost_of, solve


def _cross_sector_fallback(run: _Run, res: A.AssignmentResult, solve: Any, csec: np.ndarray, msec: np.ndarray
                           ) -> tuple[A.AssignmentResult, dict[str, Any]]:
    """When the sector quotas cannot be met, try the other relaxation (the surplus to members of other
    sectors at a penalty): said in the diagnostics, the answer where ``on_infeasible="cross_sector"``."""
    p, say = run.p, run.say
    fallback_info: dict[str, Any] = {}
    if (res.status == A.INFEASIBLE and not p.allow_cross_sector
            and any(d["quota"] in ("max_load", "no_member") for d in res.diagnostics) and len(run.m_ids)):
        # the other relaxation: the surplus goes to members of other sectors at a penalty
        say(20.0, "trying the cross-sector fallback")
        fb = solve(True)
        ok = fb.assignment >= 0
        n_cross = int((csec[ok] != msec[fb.assignment[ok]]).sum())
        fallback_info = {"fallback": {"kind": "cross_sector", "status": fb.status,
                                      "cross_sector": n_cross, "penalty_m": p.cross_sector_penalty,
                                      "cost": _json(fb.cost), "used": p.on_infeasible == "cross_sector"},
                         }
        res.diagnostics.append({"quota": "fallback", "severity": "info",
                                "code": "fallback_used" if p.on_infeasible == "cross_sector" else "fallback_tried",
                                "params": {"outcome": fb.status, "n": n_cross, "cost": float(fb.cost),
                                           "cost_unit": "m" if p.mode == "straight" else "s"},
                                "message": f"cross-sector fallback: {fb.status} with {n_cross} constituents "
                                           f"placed with members of other sectors (total {fb.cost:,.0f} "
                                           f"{'m' if p.mode == 'straight' else 's'})"
                                           + ("; used as the answer" if p.on_infeasible == "cross_sector"
                                              else "; set on_infeasible='cross_sector' to use it")})
        if p.on_infeasible == "cross_sector" and fb.status != A.INFEASIBLE:
            fb.diagnostics = res.diagnostics
            fb.status = A.INFEASIBLE  # the strict sector quotas are still not met
            res = fb
    return res, fallback_info


def _long_distance_warning(run: _Run, tr: TierResult) -> None:
    """Warn of constituents assigned to members beyond ``long_distance_m``."""
    p = run.p
    if tr.extra["long_distances"]:
        n = sum(x["constituents"] for x in tr.extra["long_distances"])
        km = p.long_distance_m / 1000
        tr.diagnostics.append({"tier": "constituents", "severity": "warning", "quota": "long_distance",
                               "long_distances": tr.extra["long_distances"][:20],
                               "message": message("constituents_long_distance", "en", n=n, km=km, groups="; ".join(
                                   x["message"] for x in tr.extra["long_distances"][:10])),
                               "message_zh": message("constituents_long_distance", "zh", n=n, km=km, groups="；".join(
                                   x["message_zh"] for x in tr.extra["long_distances"][:10]))})


def _places(ds: Any) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """village -> township id, township id -> name, township id -> county name.

    The county is the township's own (``county_id``), else the dataset's only county, else blank:
    never a township's name in the 区县 column."""
    v_t = dict(zip(ds.villages["id"].astype(str), ds.villages["township_id"].astype(str)))
    tw = ds.townships
    t_name = dict(zip(tw["id"].astype(str), tw["name"].astype(str)))
    k_name = dict(zip(ds.counties["id"].astype(str), ds.counties["name"].astype(str))) if len(ds.counties) else {}
    only = next(iter(k_name.values())) if len(k_name) == 1 else ""
    kids = tw["county_id"] if "county_id" in tw else [None] * len(tw)
    t_cty = {t: k_name.get(str(k), only) if k is not None and not pd.isna(k) else only
             for t, k in zip(tw["id"].astype(str), kids)}
    return v_t, t_name, t_cty


def _constituent_township(ds: Any) -> dict[str, str]:
    v_t = dict(zip(ds.villages["id"].astype(str), ds.villages["township_id"].astype(str)))
    return {str(c): v_t.get(str(v), "") for c, v in zip(ds.constituents["id"], ds.constituents["village_id"])}


def _far_constituents(run: _Run, ids: list[str], ll: np.ndarray, sec: np.ndarray, near: np.ndarray
                      ) -> dict[str, Any]:
    """Diagnosis of the constituents ``max_distance_m`` left unassigned, per sector and county."""
    p = run.p
    out: dict[str, Any] = {"ids": ids, "diagnostics": [], "too_far": []}
    if not ids:
        return out
    _, t_name, t_cty = _places(run.ds)
    c_t = _constituent_township(run.ds)
    # the county where the dataset knows it, else the township
    place = np.array([t_cty.get(c_t.get(c, ""), "") or t_name.get(c_t.get(c, ""), "") or "?" for c in ids], object)
    xy = run.costs.xy(ll)
    km = p.max_distance_m / 1000
    for s in sorted(set(sec.tolist())):
        for pl in sorted(set(place[sec == s].tolist())):
            ix = np.flatnonzero((sec == s) & (place == pl))
            more = A.members_needed(xy[ix], p.max_distance_m, max(p.constituents_max, 1))
            far = "constituents_too_far_one" if more == 1 else "constituents_too_far"
            words = {"sector": s, "place": pl, "n": len(ix), "km": km, "more": more}
            rec = {"sector": s, "place": pl, "constituents": len(ix), "members_needed": more,
                   "nearest_member_km": round(float(np.min(near[ix])) / 1000, 1) if np.isfinite(near[ix]).any()
                   else None, "constituent_ids": [ids[i] for i in ix],
                   "message": message(far, "en", **words), "message_zh": message(far, "zh", **words)}
            out["too_far"].append(rec)
            out["diagnostics"].append({"tier": "constituents", "severity": "warning", "quota": "max_distance",
                                       "scope": s, "place": pl, "unassigned": len(ix), "members_needed": more,
                                       "message": rec["message"], "message_zh": rec["message_zh"]})
    return out


def _long_distances(run: _Run, assignment: dict[str, str | None]
                    ) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Assigned constituents farther than ``long_distance_m`` (straight line) from their member, per
    sector and township (largest count first), and every assigned constituent's straight-line metres."""
    ds, p = run.ds, run.p
    pairs = [(c, m) for c, m in assignment.items() if m is not None and m in run.m_idx]
    if not pairs:
        return [], {}
    pts = ds.constituent_points()
    c_ix = _index_map(ds.constituents["id"].astype(str))
    cll = _lonlat(pts.iloc[[c_ix[c] for c, _ in pairs]])
    dist = np.hypot(*(run.costs.xy(cll) - run.costs.xy(run.m_ll[[run.m_idx[m] for _, m in pairs]])).T)
    line = {c: (round(float(d)) if np.isfinite(d) else None) for (c, _), d in zip(pairs, dist)}  # None: unknown
    far = np.flatnonzero(np.nan_to_num(dist, nan=0.0) > p.long_distance_m)
    if not len(far):
        return [], line
    _, t_name, t_cty = _places(ds)
    c_t = _constituent_township(ds)
    csec = dict(zip(ds.constituents["id"].astype(str), ds.constituents["sector"].astype(str)))
    groups: dict[tuple[str, str], list[float]] = {}
    for i in far:
        c = pairs[i][0]
        groups.setdefault((csec.get(c, ""), c_t.get(c, "")), []).append(float(dist[i]))
    out = []
    for (s, t), ds_ in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        tn = t_name.get(t, t or "?")
        cty = t_cty.get(t, "")
        where = f"{cty} {tn}" if cty and cty != tn else tn
        words = {"sector": s, "where": where, "n": len(ds_), "km": max(ds_) / 1000}
        out.append({"sector": s, "township_id": t, "township": tn, "county": cty, "constituents": len(ds_),
                    "max_km": round(max(ds_) / 1000, 1), "mean_km": round(sum(ds_) / len(ds_) / 1000, 1),
                    "message": message("constituents_long_distance_group", "en", **words),
                    "message_zh": message("constituents_long_distance_group", "zh", **words)})
    return out, line


def _tier_stations(run: _Run, G: _Groups) -> TierResult:
    """Tier 4: whole groups -> stations within capacity (整建制入站), by the members' total travel."""
    ds, p = run.ds, run.p
    stations = ds.stations
    run.say(40.0, "assigning groups to stations")
    ms = run.costs.matrix(run.m_ll, G.s_ll)  # members x stations
    cost = np.array([ms[ix].sum(axis=0) if len(ix) else np.zeros(len(G.s_ids)) for ix in G.g_members])
    cost = cost.reshape(len(G.g_ids), len(G.s_ids))
    travel = cost.copy()  # members' travel only, before preference penalties
    kinds = stations["kind"].astype(str).to_numpy()
    allowed = np.repeat(np.isin(kinds, p.host_kinds)[None, :], len(G.g_ids), axis=0)
    for gi, gsec in enumerate(ds.groups["sectors"]):
        gs = set(gsec or [])
        for si, ssec in enumerate(stations["sectors"]):
            if kinds[si] == "station_sector" and not gs & set(ssec or []):
                cost[gi, si] += p.penalty(p.sector_mismatch_penalty) * max(1, len(G.g_members[gi]))
    capv = pd.to_numeric(stations["capacity"], errors="coerce").to_numpy(float)
    cap = np.where(np.isfinite(capv), capv, p.station_capacity_default).astype(np.int64)
    locks = _lock_array({**G.pins_station, **p.locks.groups}, G.g_idx, G.s_idx, "groups", "station")
    prev_a, gone = _previous(run.prev, "stations", G.g_ids, G.s_idx)
    res = A.assign_groups_to_stations(cost, cap, allowed=allowed, locks=locks, previous=prev_a,
                                      churn_weight=run.churn, station_labels=G.s_ids, group_labels=G.g_ids)
    return _tier_result("stations", res, G.g_ids, G.s_ids, gone, cost_of=lambda r, c: travel[r, c])


def _tier_villages(run: _Run, G: _Groups) -> TierResult:
    """Tier 2: villages (the gap villages by default) -> groups, by distance from each group's base
    (its station, else its members' centre)."""
    ds, p = run.ds, run.p
    run.say(60.0, "assigning villages to groups")
    v = ds.villages
    all_v = [str(x) for x in v["id"]]
    if p.villages == "gaps":
        chosen = set(run.gap_ids)
    elif p.villages == "all":
        chosen = set(all_v)
    else:
        unknown = [x for x in p.village_ids if x not in set(all_v)]
        if unknown:
            raise ValueError(f"village_ids: unknown village id '{unknown[0]}'")
        chosen = set(p.village_ids)
    village_locks = {**G.pins_village, **p.locks.villages}
    chosen |= set(village_locks)
    # a village of unknown location has no distance to any group: left out, and said so
    where = _lonlat(v.geometry)
    known = {x for x, ok in zip(all_v, np.isfinite(where).all(axis=1)) if ok}
    left_out = [x for x in all_v if x in chosen and x not in known]
    if left_out:
        run.diagnostics.append({"tier": "villages", "severity": "warning", "quota": "location",
                                "code": "gaps_unconsidered", "params": {"n": len(left_out)}, "ids": left_out,
                                "message": f"{len(left_out)} villages of unknown location not considered"})
    rows = [x for x in all_v if x in chosen and x in known]
    village_locks = {x: g for x, g in village_locks.items() if x in known}
    vi = np.array([all_v.index(x) for x in rows], dtype=np.int64) if rows else np.zeros(0, np.int64)
    v_ll = _lonlat(v.geometry)[vi] if len(vi) else np.zeros((0, 2))
    base = np.zeros((len(G.g_ids), 2))
    centre = np.array(ds.centre)
    for gi, g in enumerate(G.g_ids):
        st = G.group_station.get(g)
        if st is not None and st in G.s_idx:
            base[gi] = G.s_ll[G.s_idx[st]]
        elif len(G.g_members[gi]):
            base[gi] = _mean_point(run.m_ll[G.g_members[gi]], centre)
        else:
            base[gi] = centre
    cost = run.costs.matrix(v_ll, base)
    vw = village_weights(v)
    pop = vw.weights[vi]  # 1 per village where the population is unknown
    locks = _lock_array(village_locks, _index_map(rows), G.g_idx, "villages", "group")
    prev_a, gone = _previous(run.prev, "villages", rows, G.g_idx)
    if p.tier2_model == "covering" and p.villages == "gaps":  # "all"/"list": the planner named them
        return _contact_points(run, G, rows, v_ll, cost, locks, base)
    res = A.assign_villages_to_groups(cost, pop, p.villages_min, p.villages_max,
                                      compactness=p.compactness,
                                      time_limit=run.time_left(), seed=p.seed,
                                      num_workers=p.num_workers, locks=locks, previous=prev_a,
                                      churn_weight=run.churn, group_labels=G.g_ids, target_load=p.villages_target,
                                      target_penalty=p.penalty(p.target_penalty), weight_unit=_unit(vw.basis))
    return _tier_result("villages", res, rows, G.g_ids, gone, {"target": p.villages_target},
                        lambda r, c: cost[r, c])


def _contact_points(run: _Run, G: _Groups, rows: list[str], v_ll: np.ndarray, cost: np.ndarray,
                    locks: np.ndarray, base: np.ndarray) -> TierResult:
    """Tier 2 as a covering decision (:func:`solvers.assignment.choose_contact_points`).

    Demand: the gap villages (weight: :func:`geo_service.core.coverage.village_weights`). Candidates: ``rows`` (the gap
    villages and locked ones) plus every other village within the gap threshold of a gap village (a
    contact point just inside the stations' reach can serve the gap beyond it). Covering sets within
    the threshold: KD-tree in straight mode, road travel times in road mode. Rows that are neither
    gap villages nor chosen are left out of the tier's assignment.
    """
    ds, p = run.ds, run.p
    v = ds.villages
    all_v = v["id"].astype(str).tolist()
    pos = _index_map(all_v)
    dem = [x for x in run.gap_ids if x in pos]
    di = np.array([pos[x] for x in dem], np.int64)
    vw = village_weights(v)  # persons, or 1 per village where the population is unknown
    w = vw.weights[di] if len(di) else np.zeros(0)
    all_ll = _lonlat(v.geometry)
    d_ll = all_ll[di] if len(di) else np.zeros((0, 2))
    in_rows = set(rows)
    ok_ll = np.isfinite(all_ll).all(axis=1)  # a village of unknown location cannot be a contact point
    others = np.array([i for i, x in enumerate(all_v) if x not in in_rows and len(di) and ok_ll[i]], np.int64)
    empty = (np.zeros(0, np.int64),) * 2 + (np.zeros(0),)
    if p.mode == "straight":
        if len(di) and len(others):
            d_xy = run.costs.xy(d_ll)
            near = np.isfinite(cKDTree(d_xy).query(run.costs.xy(all_ll[others]), k=1,
                                                    distance_upper_bound=p.gap_threshold_m)[0])
            others = others[near]
        c_ll = np.vstack([v_ll, all_ll[others]]) if len(others) else v_ll
        pairs = A.cover_pairs_xy(run.costs.xy(d_ll), run.costs.xy(c_ll), p.gap_threshold_m) \
            if len(di) and len(c_ll) else empty
        unit_km = 1000.0
    else:
        if len(di) and len(others):
            near = (run.costs.matrix(all_ll[others], d_ll) <= p.gap_threshold_s).any(axis=1)
            others = others[near]
        c_ll = np.vstack([v_ll, all_ll[others]]) if len(others) else v_ll
        pairs = A.cover_pairs_matrix(run.costs.matrix(d_ll, c_ll), p.gap_threshold_s) if len(di) else empty
        unit_km = p.penalty(1000.0)  # seconds per km at penalty_speed_kmh
    n0 = len(rows)
    rows = rows + [all_v[i] for i in others]
    if len(others):
        cost = np.vstack([cost, run.costs.matrix(all_ll[others], base)])
        locks = np.concatenate([locks, np.full(len(others), -1, np.int64)])
    prev_a, gone = _previous(run.prev, "villages", rows, G.g_idx)
    lam = p.contact_travel_weight / unit_km
    res = A.choose_contact_points(cost, w, pairs, p.villages_min, p.villages_max,
                                  target_load=p.villages_target, target_penalty=p.penalty(p.target_penalty),
                                  travel_weight=lam, locks=locks, previous=prev_a, churn_weight=run.churn,
                                  time_limit=run.time_left(), seed=p.seed, group_labels=G.g_ids,
                                  weight_unit=_unit(vw.basis))
    ex = res.extra
    r_idx = _index_map(rows)
    served = {dem[i]: rows[j] for i, j in enumerate(ex.pop("served_by")) if j >= 0}
    unc_ids = [dem[i] for i in ex.pop("uncovered")]
    ex.pop("covered")
    # uncovered gap villages that are not candidates have no row: keep ids outside the index lists
    ex["uncovered"] = [r_idx[x] for x in unc_ids if x in r_idx]
    for d in res.diagnostics:
        if "uncovered" in d:
            d["uncovered"] = [r_idx[x] for x in unc_ids if x in r_idx]
    total = float(w.sum())
    zone = {rows[j]: G.g_ids[q] for j, q in enumerate(res.assignment.tolist()) if q >= 0}
    zone.update({x: zone[c] for x, c in served.items() if c in zone})
    info = {"target": p.villages_target, "model": "covering", "zones": zone_figures(run, zone, G.g_ids, base),
            "zone": zone, "served_by": served, "uncovered_ids": unc_ids, "covered_weight": ex["covered_weight"],
            "gap_weight": total, "covered_share": (ex["covered_weight"] / total) if total else 1.0,
            "candidates": len(rows), "candidates_outside_gaps": int(len(others)),
            "weight": vw.basis, "weight_note": vw.note,
            # objective and bound of this tier: gap weight left out of reach + weighted travel
            "objective_unit": "persons" if vw.basis == "population" else "villages"}
    tr = _tier_result("villages", res, rows, G.g_ids, gone, info, lambda r, c: cost[r, c])
    for x in rows[n0:]:  # near villages not chosen: not part of this tier's rows
        if tr.assignment.get(x) is None:
            tr.assignment.pop(x, None)
    return tr


def zone_figures(run: _Run, zone: dict[str, str], g_ids: list[str], base: np.ndarray) -> dict[str, Any]:
    """Per group: its responsibility zone (contact villages and the gap villages they reach): villages,
    population, constituents living there, mean and largest straight-line km to the group's base."""
    ds = run.ds
    v = ds.villages
    pos = _index_map(v["id"].astype(str))
    pop = pd.to_numeric(v["population"], errors="coerce").fillna(0).to_numpy()
    vxy = run.costs.xy(_lonlat(v.geometry))
    bxy = run.costs.xy(base) if len(base) else np.zeros((0, 2))
    n_c = ds.constituents["village_id"].astype(str).value_counts().to_dict()
    out: dict[str, Any] = {}
    for gi, g in enumerate(g_ids):
        vs = [x for x, q in zone.items() if q == g and x in pos]
        ix = np.array([pos[x] for x in vs], np.int64)
        dk = np.hypot(*(vxy[ix] - bxy[gi]).T) / 1000 if len(ix) else np.zeros(0)
        out[g] = {"villages": len(vs), "population": int(pop[ix].sum()) if len(ix) else 0,
                  "constituents": int(sum(n_c.get(x, 0) for x in vs)),
                  "mean_km": round(float(dk.mean()), 1) if len(dk) else None,
                  "max_km": round(float(dk.max()), 1) if len(dk) else None}
    return out


def _tier_townships(run: _Run, k_ids: list[str]) -> TierResult:
    """Tier 3: townships -> committees, the most under-served (gap population) first."""
    ds, p = run.ds, run.p
    run.say(85.0, "assigning townships to committees")
    t_ids = [str(x) for x in ds.townships["id"]]
    v = ds.villages
    vw = village_weights(v)
    vpop = pd.Series(vw.weights, index=v.index)
    gapset = set(run.gap_ids)
    is_gap = v["id"].astype(str).isin(gapset).to_numpy()
    tid = v["township_id"].astype(str).to_numpy()
    up = np.array([vpop[(tid == t) & is_gap].sum() for t in t_ids], float)
    tpop = np.array([vpop[tid == t].sum() for t in t_ids], float)
    t_ll = _lonlat(ds.to_metric("townships").geometry.representative_point().to_crs("EPSG:4326"))
    kc = np.zeros((len(k_ids), 2))
    mcom = ds.members["committee_id"].astype(str).to_numpy()
    for ki, k in enumerate(k_ids):
        ix = np.flatnonzero(mcom == k)
        kc[ki] = _mean_point(run.m_ll[ix], np.array(ds.centre)) if len(ix) else np.array(ds.centre)
    cost = run.costs.matrix(t_ll, kc)
    locks = _lock_array(p.locks.townships, _index_map(t_ids), _index_map(k_ids), "townships", "committee")
    prev_a, gone = _previous(run.prev, "townships", t_ids, _index_map(k_ids))
    res = A.assign_townships_to_committees(cost, up, p.townships_per_committee,
                                           all_townships=p.all_townships, population=tpop, locks=locks,
                                           previous=prev_a, churn_weight=run.churn, committee_labels=k_ids,
                                           weight_unit=_unit(vw.basis))
    return _tier_result("townships", res, t_ids, k_ids, gone,
                        {"uncovered_population": {t: float(x) for t, x in zip(t_ids, up)}},
                        lambda r, c: cost[r, c])


def _unit(basis: str) -> str:
    """What village weights count, as the tier solvers name it: persons, or villages."""
    return "persons" if basis == "population" else "villages"


def _mark_nothing_to_do(ds: Any, p: OptimisationParams, tiers: dict[str, TierResult],
                        diagnostics: list[dict[str, Any]]) -> None:
    """Tiers asked for that had nothing to decide: say so, and which file would unlock them."""
    for tier in p.tiers:
        if tier in tiers and tiers[tier].assignment:
            continue
        missing = [f for layer, f in TIER_NEEDS.get(tier, ()) if len(ds.layers[layer]) == 0]
        msg = (f"没有可分配的对象：请添加 {'、'.join(missing)}" if missing
               else "没有可分配的对象（该层为空或没有选中的行）")
        d = {"tier": tier, "severity": "info", "quota": NOTHING_TO_DO, "message": f"{tier}: {msg}",
             "code": "nothing_to_do_add" if missing else "nothing_to_do_empty",
             "params": {"tier": tier, "files": "、".join(missing)}}
        if tier in tiers:
            tiers[tier].status = NOTHING_TO_DO
            tiers[tier].diagnostics.append(d)
        else:
            diagnostics.append(d)


def run_optimisation(ds: Any, params: OptimisationParams | dict[str, Any] | None = None,
                     previous: OptimisationResult | dict[str, Any] | None = None,
                     progress: Progress | None = None, cancel: threading.Event | None = None,
                     network: Any = None) -> OptimisationResult:
    """Run the requested tiers on dataset ``ds``.

    ``previous`` (a result or its ``to_dict()``) feeds the minimal-change re-run (``params.minimal_change``
    or ``params.churn_weight``); ``progress(pct, message)`` is called between steps; ``cancel`` (a
    ``threading.Event``) is checked between tiers and before every flow solve and raises
    :class:`Cancelled`; ``network`` is a
    prebuilt :class:`geo_service.core.network.RoadNetwork` for ``mode="road"``.
    """
    t0 = time.monotonic()
    p = params if isinstance(params, OptimisationParams) else OptimisationParams.model_validate(params or {})
    prev = OptimisationResult.from_dict(previous) if isinstance(previous, dict) else previous
    say = progress or (lambda pct, msg: None)
    _check_cancel(cancel)
    say(0.0, "preparing costs")
    costs = _Costs(ds, p.mode, network)
    m_ids = [str(x) for x in ds.members["id"]]
    run = _Run(ds, p, prev, churn=p.penalty(p.effective_churn()) if prev is not None else 0.0, say=say,
               stop=cancel.is_set if cancel is not None else None, costs=costs,
               deadline=t0 + p.time_limit_s, m_ids=m_ids, m_idx=_index_map(m_ids),
               m_ll=_lonlat(ds.members.geometry), diagnostics=[], gap_ids=[])
    if "villages" in p.tiers or "townships" in p.tiers:  # gap villages: needed by tiers 2 and 3
        run.gap_ids, source = _gap_villages(ds, p, costs.network)
        run.diagnostics.append({"tier": "gaps", "severity": "info", "source": source, "code": "gap_villages",
                                "params": {"n": len(run.gap_ids), "source": source},
                                "message": f"{len(run.gap_ids)} gap villages ({source})"})
    _check_cancel(cancel)
    tiers: dict[str, TierResult] = {}
    if "constituents" in p.tiers:
        tiers["constituents"] = _tier_constituents(run)
        _check_cancel(cancel)
    G = _Groups.of(run)
    if "stations" in p.tiers and len(G.g_ids):  # before tier 2: a group's base is its station
        tiers["stations"] = _tier_stations(run, G)
        G.group_station.update(tiers["stations"].assignment)
        _check_cancel(cancel)
    if "villages" in p.tiers and len(G.g_ids):
        tiers["villages"] = _tier_villages(run, G)
        _check_cancel(cancel)
    k_ids = [str(x) for x in ds.committees["id"]]
    if "townships" in p.tiers and len(k_ids) and len(ds.townships):
        tiers["townships"] = _tier_townships(run, k_ids)
    _mark_nothing_to_do(ds, p, tiers, run.diagnostics)
    asked = p.model_dump()
    for name, tr in tiers.items():  # a rule lowered or raised on the way is said, never "optimal"
        tr.relaxations = tier_relaxations(name, tr.diagnostics, asked)
        tr.status = relaxed_status(tr.status, tr.relaxations)
    say(100.0, "done")
    return OptimisationResult(tiers=tiers, params=p.model_dump(mode="json"),
                              unit="m" if p.mode == "straight" else "s", gap_villages=run.gap_ids,
                              diagnostics=run.diagnostics, time_s=round(time.monotonic() - t0, 4),
                              dataset_fingerprint=ds.fingerprint(), dataset=ds)


__all__ = [
    "TIERS",
    "Cancelled",
    "Locks",
    "OptimisationParams",
    "OptimisationResult",
    "TierResult",
    "diff_results",
    "run_optimisation",
]
