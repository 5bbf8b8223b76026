"""Tier 2 as a covering decision: which gap villages become the groups' contact points (界别联系点).

A contact point in village j serves every gap village within the gap threshold of j (its covering
set, built sparsely: KD-tree radius queries in straight mode, a travel-time matrix restricted to the
gap villages in road mode). :func:`choose_contact_points` picks the contact villages and their groups
in one mixed-integer model solved exactly with HiGHS (``highspy``)::

    min  sum_i w_i (1 - y_i)                       gap weight left out of reach
       + lam * sum_jg c_jg x_jg                    groups' travel to their contact points
       + lam * tpen * sum_g o_g                    contact points above a group's target
       + lam * churn * sum_j [x_j,prev(j) = 0]     previous contact points moved or dropped
       + M * sum_g u_g                             unmet group minimums (soft, diagnosed)
    s.t. y_i <= sum_{j covers i} sum_g x_jg,  sum_g x_jg <= 1,  lo_g - u_g <= sum_j x_jg <= hi_g,
         sum_j x_jg - o_g <= target_g,  x_jg = 1 for locks,  x binary, 0 <= y <= 1.

``w_i`` is the village's weight (population, or 1 per village where it is unknown: the caller applies
:func:`geo_service.core.coverage.village_weights`), so the objective's unit is persons (or villages); ``lam`` converts travel (metres or seconds) into that unit
(``travel_weight``): small by default, so coverage comes first and travel breaks ties. Because every
group may take every village, the coverage part equals a maximal covering problem (MCLP) with
``sum(hi)`` new sites on the gap villages; the joint model is exact for both at once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import highspy
import numpy as np
from scipy.spatial import cKDTree

from ..highs import new_highs
from .flow import FEASIBLE, INFEASIBLE, OPTIMAL, AssignmentResult, _gap
from .transport import _as_locks, _loads


def cover_pairs_xy(demand_xy: np.ndarray, site_xy: np.ndarray, radius: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sparse covering sets by straight-line distance: pairs (demand i, site j) with ``d_ij <= radius``.

    Parameters
    ----------
    demand_xy, site_xy : numpy.ndarray, shape (n, 2) / (m, 2)
        Projected coordinates (metres).
    radius : float
        Gap threshold (metres).

    Returns
    -------
    rows, cols, dist : numpy.ndarray
        Demand index, site index and distance (metres) of each pair, built with a KD-tree.
    """
    if not radius > 0:
        raise ValueError(f"radius must be > 0 metres, got {radius}")
    d = np.asarray(demand_xy, float).reshape(-1, 2)
    s = np.asarray(site_xy, float).reshape(-1, 2)
    if not len(d) or not len(s):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    hits = cKDTree(s).query_ball_point(d, radius)
    lens = np.fromiter((len(h) for h in hits), np.int64, len(hits))
    rows = np.repeat(np.arange(len(d)), lens)
    cols = np.concatenate([np.asarray(h, np.int64) for h in hits]) if lens.sum() else np.zeros(0, np.int64)
    dist = np.hypot(*(d[rows] - s[cols]).T) if len(rows) else np.zeros(0)
    return rows, cols.astype(np.int64), dist


def cover_pairs_matrix(cost: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sparse covering sets from a (demand x site) cost matrix (e.g. road seconds; inf = unreachable)."""
    c = np.asarray(cost, float)
    rows, cols = np.nonzero(np.isfinite(c) & (c <= radius))
    return rows.astype(np.int64), cols.astype(np.int64), c[rows, cols]


def choose_contact_points(cost: np.ndarray, demand_weight: Sequence[float], pairs: tuple[np.ndarray, ...],
                          min_load: Any = 2, max_load: Any = 4, *, target_load: Any = None,
                          target_penalty: float = 0.0, travel_weight: float = 1e-5, locks: Any = None,
                          previous: np.ndarray | None = None, churn_weight: float = 0.0,
                          time_limit: float | None = 10.0, seed: int = 0, mip_rel_gap: float = 1e-6,
                          group_labels: Sequence[str] | None = None, weight_unit: str = "persons"
                          ) -> AssignmentResult:
    """Choose contact villages and their groups: most gap weight brought within reach, then least travel.

    Parameters
    ----------
    cost : numpy.ndarray, shape (n, g)
        Travel from each group's base to each candidate village (metres, or seconds by road).
    demand_weight : array-like, shape (d,)
        Weight of each gap village to cover (persons, or 1 per village).
    pairs : (rows, cols[, dist])
        Covering sets: demand ``rows[k]`` is within the threshold of candidate ``cols[k]``.
    min_load, max_load, target_load : int or array-like (g,)
        Contact villages per group; mins are soft (shortfall diagnosed), ``target_penalty`` (cost
        units) per village above the target.
    travel_weight : float
        Objective units (persons) per cost unit of travel, penalties and churn (> 0 keeps travel a
        tie-breaker when small; default 1e-5 = 0.01 person per km).
    locks : dict or array (n,), optional
        Candidate -> group kept exactly (locks beyond a group's max raise that max, diagnosed).
    previous : numpy.ndarray (n,), optional
        Previous group per candidate (-1 none); ``churn_weight`` (cost units) per previous contact
        village moved to another group or dropped.
    time_limit : float, optional
        HiGHS seconds; the best solution so far is returned with its bound ("feasible").
    weight_unit : {"persons", "villages"}
        What ``demand_weight`` counts: the diagnostics speak of people only for ``"persons"``.

    Returns
    -------
    AssignmentResult
        ``assignment`` (n,) group or -1 (not a contact point); ``objective``/``bound``/``gap`` of the
        minimisation above (persons); ``cost`` the pure travel; ``extra``: ``covered`` (bool per
        demand), ``covered_weight``, ``uncovered_weight``, ``uncovered`` (demand indices),
        ``served_by`` (demand -> nearest chosen candidate within reach, -1 none), ``groups_needed``.
    """
    t0 = time.monotonic()
    cost, w, (prow, pcol, pdist) = _checked_inputs(cost, demand_weight, pairs, travel_weight, weight_unit)
    n, g = cost.shape
    lo, hi = _loads(min_load, g, "min_load"), _loads(max_load, g, "max_load")
    if n == 0:  # nothing to choose from: every group's min is moot, not a shortage
        return _nothing_to_choose(w, g, previous is not None, t0)
    lockv = _as_locks(locks, n, g)
    diags, hi = _raise_max_to_locks(lockv, hi, g, group_labels)
    prev = None if previous is None else np.asarray(previous, np.int64).reshape(n)
    tg = None if target_load is None or not target_penalty else _loads(target_load, g, "target_load")
    c = np.where(np.isfinite(cost), cost, 0.0)
    lp, cols = _contact_lp(cost, w, prow, pcol, lo, hi, tg, lockv, prev,
                           lam=float(travel_weight), churn_weight=churn_weight, target_penalty=target_penalty)
    solved = _solve_contact_lp(lp, n, cols, seed=seed, time_limit=time_limit, mip_rel_gap=mip_rel_gap)
    if isinstance(solved, str):
        return AssignmentResult(status=INFEASIBLE, objective=math.inf, bound=-math.inf, gap=math.inf,
                                assignment=np.full(n, -1, np.int64), loads=np.zeros(g, np.int64),
                                diagnostics=diags + [{"quota": "solver", "severity": "error",
                                                      "message": f"HiGHS: {solved}"}],
                                time_s=time.monotonic() - t0, solver="highs_mip")
    status, x, objective, bound = solved
    X, Y, U = cols["X"], cols["Y"], cols["U"]
    arc_j, arc_q = cols["arc_j"], cols["arc_q"]
    on = x[X:Y] > 0.5
    assign = np.full(n, -1, np.int64)
    assign[arc_j[on]] = arc_q[on]
    loads = np.bincount(assign[assign >= 0], minlength=g)
    diags += _min_short_diagnostics(np.rint(x[U:U + g]).astype(np.int64), lo, loads, group_labels)
    chosen = assign >= 0
    extra = _coverage_extra(chosen, prow, pcol, pdist, w, hi, g, float(travel_weight), weight_unit, diags)
    pure = float(c[np.flatnonzero(chosen), assign[chosen]].sum())
    res = AssignmentResult(status=status, objective=objective, bound=bound, gap=_gap(objective, bound),
                           assignment=assign, loads=loads, diagnostics=diags, extra=extra, cost=pure,
                           time_s=time.monotonic() - t0, n_arcs=cols["nx"] + len(prow), solver="highs_mip")
    if prev is not None:
        _record_moves(res, prev, assign)
    return res


def _record_moves(res: AssignmentResult, prev: np.ndarray, assign: np.ndarray) -> None:
    """``moved`` counts and ``move_reasons`` of the result against the previous contact villages."""
    had = prev >= 0
    mv = had & (assign != prev)
    res.moved = {"moved": int(mv.sum()), "kept": int((had & ~mv).sum()),
                 "new": int((~had & (assign >= 0)).sum())}
    res.move_reasons = np.where(mv, "improvement", "").astype(object)


def _checked_inputs(cost: Any, demand_weight: Sequence[float], pairs: tuple[np.ndarray, ...],
                    travel_weight: float, weight_unit: str
                    ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Cost (n, g), weights (d,) and the covering pairs as arrays; ValueError naming a bad argument."""
    cost = np.asarray(cost, float)
    n = cost.shape[0]
    w = np.asarray(demand_weight, float).reshape(-1)
    d = len(w)
    prow, pcol = np.asarray(pairs[0], np.int64), np.asarray(pairs[1], np.int64)
    pdist = np.asarray(pairs[2], float) if len(pairs) > 2 else np.zeros(len(prow))
    if len(prow) and (prow.max() >= d or pcol.max() >= n or prow.min() < 0 or pcol.min() < 0):
        raise ValueError("pairs: index out of range of demand_weight / cost rows")
    if not travel_weight >= 0:
        raise ValueError(f"travel_weight must be >= 0, got {travel_weight}")
    if weight_unit not in ("persons", "villages"):
        raise ValueError(f"weight_unit must be 'persons' or 'villages', got {weight_unit!r}")
    return cost, w, (prow, pcol, pdist)


def _nothing_to_choose(w: np.ndarray, g: int, with_previous: bool, t0: float) -> AssignmentResult:
    """The answer without candidate villages: every gap village stays out of reach."""
    d = len(w)
    return AssignmentResult(status=OPTIMAL, objective=float(w.sum()), bound=float(w.sum()), gap=0.0,
                            assignment=np.zeros(0, np.int64), loads=np.zeros(g, np.int64),
                            extra={"covered": [False] * d, "covered_weight": 0.0,
                                   "uncovered_weight": float(w.sum()), "uncovered": list(range(d)),
                                   "served_by": [-1] * d, "groups_needed": 0, "points_needed": 0},
                            moved={"moved": 0, "kept": 0, "new": 0} if with_previous else None,
                            move_reasons=np.zeros(0, object) if with_previous else None,
                            time_s=time.monotonic() - t0, solver="highs_mip")


def _raise_max_to_locks(lockv: np.ndarray, hi: np.ndarray, g: int, group_labels: Sequence[str] | None
                        ) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Diagnostics for groups with more locked villages than their max, and the max raised to the locks."""
    diags: list[dict[str, Any]] = []
    nl = np.bincount(lockv[lockv >= 0], minlength=g)
    for q in np.flatnonzero(nl > hi):
        name = _label(group_labels, q)
        diags.append({"quota": "locks", "severity": "warning", "scope": name, "asked_max": int(hi[q]),
                      "short_by": int(nl[q] - hi[q]), "relaxed_max": int(nl[q]), "code": "locks_over_max",
                      "params": {"name": name, "n": int(nl[q]), "what": "villages", "max": int(hi[q])},
                      "message": f"{name}: {int(nl[q])} locked villages > max {int(hi[q])}; locks are kept, "
                                 f"max raised to {int(nl[q])}"})
    return diags, np.maximum(hi, nl)


def _contact_lp(cost: np.ndarray, w: np.ndarray, prow: np.ndarray, pcol: np.ndarray, lo: np.ndarray,
                hi: np.ndarray, tg: np.ndarray | None, lockv: np.ndarray, prev: np.ndarray | None, *,
                lam: float, churn_weight: float, target_penalty: float) -> tuple[highspy.HighsLp, dict]:
    """The mixed-integer model of the module docstring as a HiGHS LP, and its column layout.

    Columns: s (n sites, integer), x (finite arcs or locks; continuous: for fixed s the site ->
    group part is a b-matching, whose LP vertices are integral), y (d), u (g), o (g with targets).
    """
    n, g = cost.shape
    d = len(w)
    finite = np.isfinite(cost)
    c = np.where(finite, cost, 0.0)
    big = float(w.sum()) + 1.0  # one unmet minimum outweighs all coverage
    arc_j, arc_q = np.nonzero(finite | (lockv[:, None] == np.arange(g)[None, :]))
    nx_ = len(arc_j)
    X, Y, U, O = n, n + nx_, n + nx_ + d, n + nx_ + d + g
    xc = lam * c[arc_j, arc_q]
    offset = float(w.sum())
    if prev is not None and churn_weight:
        keep = prev[arc_j] == arc_q
        xc = xc - lam * churn_weight * keep
        offset += lam * churn_weight * float((prev >= 0).sum())
    ncol = O + (g if tg is not None else 0)
    obj = np.concatenate([np.zeros(n), xc, -w, np.full(g, big),
                          np.full(g, lam * target_penalty) if tg is not None else []])
    col_lo = np.zeros(ncol)
    col_hi = np.concatenate([np.ones(n + nx_ + d), lo.astype(float), np.full(ncol - O, np.inf)])
    col_lo[X:Y][lockv[arc_j] == arc_q] = 1.0
    col_lo[:n][lockv >= 0] = 1.0
    rows = _contact_rows(prow, pcol, d, n, g, arc_j, arc_q, lo, hi, tg, (X, Y, U, O), col_hi)
    lp = _highs_lp(obj, col_lo, col_hi, offset, rows, n)
    return lp, {"X": X, "Y": Y, "U": U, "arc_j": arc_j, "arc_q": arc_q, "nx": nx_}


def _contact_rows(prow: np.ndarray, pcol: np.ndarray, d: int, n: int, g: int, arc_j: np.ndarray,
                  arc_q: np.ndarray, lo: np.ndarray, hi: np.ndarray, tg: np.ndarray | None,
                  layout: tuple[int, int, int, int], col_hi: np.ndarray) -> tuple[list, ...]:
    """Rows (CSR) of the model: cover, site = its arcs, loads, targets; unreachable ``y`` get upper 0."""
    X, Y, U, O = layout
    starts, index, value, rlo, rhi = [0], [], [], [], []

    def add(ix: np.ndarray, val: np.ndarray, lo_: float, hi_: float) -> None:
        index.append(ix)
        value.append(val)
        starts.append(starts[-1] + len(ix))
        rlo.append(lo_)
        rhi.append(hi_)

    order = np.argsort(prow, kind="stable")
    prow_s, pcol_s = prow[order], pcol[order]
    bounds_ = np.searchsorted(prow_s, np.arange(d + 1))
    for i in range(d):
        js = np.unique(pcol_s[bounds_[i]:bounds_[i + 1]])
        if not len(js):
            col_hi[Y + i] = 0.0  # out of reach of every candidate
            continue
        add(np.concatenate([[Y + i], js]), np.concatenate([[1.0], -np.ones(len(js))]), -math.inf, 0.0)
    arc_start = np.searchsorted(arc_j, np.arange(n + 1))  # arcs are sorted by site
    for j in range(n):
        xs = X + np.arange(arc_start[j], arc_start[j + 1])
        add(np.concatenate([xs, [j]]), np.concatenate([np.ones(len(xs)), [-1.0]]), 0.0, 0.0)
    for q in range(g):
        xs = X + np.flatnonzero(arc_q == q)
        add(np.concatenate([xs, [U + q]]), np.ones(len(xs) + 1), float(lo[q]), float(hi[q]) + float(lo[q]))
        add(xs, np.ones(len(xs)), -math.inf, float(hi[q]))
        if tg is not None:
            add(np.concatenate([xs, [O + q]]), np.concatenate([np.ones(len(xs)), [-1.0]]),
                -math.inf, float(tg[q]))
    return starts, index, value, rlo, rhi


def _highs_lp(obj: np.ndarray, col_lo: np.ndarray, col_hi: np.ndarray, offset: float,
              rows: tuple[list, ...], n_int: int) -> highspy.HighsLp:
    """A HiGHS LP from column costs/bounds and CSR rows; the first ``n_int`` columns are integer."""
    starts, index, value, rlo, rhi = rows
    ncol = len(obj)
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = ncol, len(rlo)
    lp.col_cost_ = obj.astype(float)
    lp.col_lower_ = col_lo
    lp.col_upper_ = np.where(np.isfinite(col_hi), col_hi, inf)
    lp.offset_ = offset
    lp.row_lower_ = np.array([-inf if not math.isfinite(x) else x for x in rlo], float)
    lp.row_upper_ = np.array([inf if not math.isfinite(x) else x for x in rhi], float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.asarray(starts, np.int32)
    lp.a_matrix_.index_ = (np.concatenate(index) if index else np.zeros(0)).astype(np.int32)
    lp.a_matrix_.value_ = (np.concatenate(value) if value else np.zeros(0)).astype(float)
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n_int + [highspy.HighsVarType.kContinuous] * (ncol - n_int)
    return lp


def _solve_contact_lp(lp: highspy.HighsLp, n: int, cols: dict, *, seed: int, time_limit: float | None,
                      mip_rel_gap: float) -> tuple[str, np.ndarray, float, float] | str:
    """Solve with HiGHS: (status, column values, objective, bound), or the HiGHS status text without a solution.

    A fractional arc solution is made integral by fixing the sites and re-solving the b-matching LP.
    """
    h = new_highs()
    h.silent()
    h.setOptionValue("random_seed", int(seed))
    h.setOptionValue("threads", 1)
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    if time_limit is not None:
        h.setOptionValue("time_limit", max(0.1, float(time_limit)))
    h.passModel(lp)
    h.run()
    ms, info = h.getModelStatus(), h.getInfo()
    if info.primal_solution_status != 2:
        return h.modelStatusToString(ms)
    x = np.asarray(h.getSolution().col_value)
    objective = float(info.objective_function_value)
    bound = float(info.mip_dual_bound)
    status = OPTIMAL if ms == highspy.HighsModelStatus.kOptimal else FEASIBLE
    xa = x[cols["X"]:cols["Y"]]
    if np.any(np.abs(xa - np.rint(xa)) > 1e-6):
        # a non-vertex arc solution: fix the sites and re-solve the (integral) b-matching LP
        sv = np.rint(x[:n])
        h.changeColsBounds(n, np.arange(n, dtype=np.int32), sv, sv)
        h.changeColsIntegrality(n, np.arange(n, dtype=np.int32),
                                np.array([highspy.HighsVarType.kContinuous] * n))
        h.setOptionValue("solver", "simplex")
        h.run()
        x = np.asarray(h.getSolution().col_value)
        objective = min(objective, float(h.getInfo().objective_function_value))
    if status == OPTIMAL and abs(bound - objective) <= max(1e-9, mip_rel_gap) * max(1.0, abs(objective)):
        bound = objective
    return status, x, objective, min(bound, objective)


def _min_short_diagnostics(short: np.ndarray, lo: np.ndarray, loads: np.ndarray,
                           group_labels: Sequence[str] | None) -> list[dict[str, Any]]:
    """One warning per group left below its minimum of contact villages."""
    diags = []
    for q in np.flatnonzero(short > 0):
        name = _label(group_labels, q)
        diags.append({"quota": "min_load", "severity": "warning", "scope": name, "asked_min": int(lo[q]),
                      "short_by": int(short[q]), "relaxed_min": int(loads[q]), "code": "contact_min_short",
                      "params": {"name": name, "n": int(loads[q]), "min": int(lo[q])},
                      "message": f"group {name}: only {int(loads[q])} contact villages (min {int(lo[q])}): "
                                 f"too few candidate villages"})
    return diags


def _coverage_extra(chosen: np.ndarray, prow: np.ndarray, pcol: np.ndarray, pdist: np.ndarray, w: np.ndarray,
                    hi: np.ndarray, g: int, lam: float, weight_unit: str, diags: list[dict[str, Any]]
                    ) -> dict[str, Any]:
    """``extra`` of the result (who is covered, served by which site); appends the shortage warning to ``diags``."""
    d = len(w)
    hit = chosen[pcol]
    covered = np.zeros(d, bool)
    covered[prow[hit]] = True
    served_by = np.full(d, -1, np.int64)
    if hit.any():  # nearest chosen site per demand
        o = np.lexsort((pdist[hit], prow[hit]))
        r, s = prow[hit][o], pcol[hit][o]
        first = np.r_[True, r[1:] != r[:-1]]
        served_by[r[first]] = s[first]
    unc = np.flatnonzero(~covered & (w > 0))
    extra = {"covered": covered.tolist(), "covered_weight": float(w[covered].sum()),
             "uncovered_weight": float(w[~covered].sum()), "uncovered": unc.tolist(),
             "served_by": served_by.tolist(), "groups_needed": 0, "points_needed": 0,
             "travel_weight": lam}
    if len(unc):
        more = _greedy_more(prow, pcol, covered, w, len(chosen))
        typical = max(int(np.median(hi)) if g else 1, 1)
        extra["points_needed"] = more
        extra["groups_needed"] = math.ceil(more / typical) if more else 0
        diags.append(_shortage_diagnostic(unc, prow, w, g, typical, more, extra["groups_needed"], weight_unit))
    return extra


def _shortage_diagnostic(unc: np.ndarray, prow: np.ndarray, w: np.ndarray, g: int, typical: int, more: int,
                         needed: int, weight_unit: str) -> dict[str, Any]:
    """The warning that the groups' contact points leave gap villages out of reach."""
    reach = len(unc) - int(_coverable(prow, len(w))[unc].sum())
    people = int(w[unc].sum())
    by_people = weight_unit == "persons"
    code = ("contact_points_short" if by_people else "contact_points_short_villages") + \
        ("_far" if reach else "")
    return {"quota": "capacity", "severity": "warning", "scope": "groups",
            "short_by": len(unc), "uncovered": unc.tolist(), "groups_needed": needed,
            "points_needed": more, "code": code,
            "params": {"groups": g, "max": typical, "n": len(unc), "people": people, "more": more,
                       "needed": needed, "reachable": len(unc) - reach, "far": reach},
            "message": f"{g} groups x max {typical} contact villages leave {len(unc)} gap villages "
                       + (f"({people} people) " if by_people else "")
                       + f"out of reach; {more} more contact points "
                         f"({needed} more groups) would reach "
                         f"{len(unc) - reach} of them" + (f"; {reach} are out of reach of every "
                                                          f"candidate" if reach else "")}


def _label(labels: Sequence[str] | None, q: int) -> str:
    return str(labels[q]) if labels is not None else str(q)


def _coverable(prow: np.ndarray, d: int) -> np.ndarray:
    out = np.zeros(d, bool)
    out[prow] = True
    return out


def _greedy_more(prow: np.ndarray, pcol: np.ndarray, covered: np.ndarray, w: np.ndarray, n: int) -> int:
    """How many more contact points (greedy set cover) would reach every still-uncovered, reachable demand."""
    left = ~covered & _coverable(prow, len(w)) & (w > 0)
    count = 0
    while left.any():
        m = left[prow]
        gain = np.bincount(pcol[m], weights=w[prow[m]], minlength=n)
        j = int(np.argmax(gain))
        if gain[j] <= 0:
            break
        left[prow[(pcol == j)]] = False
        count += 1
    return count
