"""Tiers 2-4: villages -> groups, townships -> committees, whole groups -> stations (整建制入站).

Each is the generic solver (:func:`~.transport.assign_min_cost_flow`) or a priority rule with the
tier's own loads, labels and diagnostics.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from .flow import AssignmentResult, FEASIBLE, INFEASIBLE, OPTIMAL, _gap
from .transport import _as_locks, _loads, assign_min_cost_flow


def _select_by_priority(priority: np.ndarray, capacity: int, secondary: np.ndarray | None = None
                        ) -> np.ndarray:
    """Indices of the ``capacity`` items with the highest priority (ties: secondary desc, then index)."""
    n = len(priority)
    if capacity >= n:
        return np.arange(n)
    sec = np.zeros(n) if secondary is None else np.asarray(secondary, float)
    order = np.lexsort((np.arange(n), -sec, -np.asarray(priority, float)))
    return np.sort(order[:max(capacity, 0)])


def _check_weight_unit(weight_unit: str) -> None:
    if weight_unit not in ("persons", "villages"):
        raise ValueError(f"weight_unit must be 'persons' or 'villages', got {weight_unit!r}")


def assign_villages_to_groups(cost: np.ndarray, population: Sequence[float], min_load: Any = 2,
                              max_load: Any = 4, *, compactness: float = 0.0, time_limit: float | None = 10.0,
                              seed: int = 0, num_workers: int = 1, locks: Any = None,
                              previous: np.ndarray | None = None, churn_weight: float = 0.0,
                              group_labels: Sequence[str] | None = None, target_load: Any = None,
                              target_penalty: float = 0.0, weight_unit: str = "persons") -> AssignmentResult:
    """Give each (gap) village one responsible group; each group takes ``min_load..max_load`` villages.

    ``cost`` (villages x groups) is the distance in metres (or seconds) from the group's base (its
    station, or its members' centre) to the village. When there are more villages than the groups can
    take, the villages with the most people are covered first (exactly: any group may take any
    village, so the top-``capacity`` villages by population are the best cover); the rest are listed in
    ``extra["uncovered"]`` with ``extra["groups_needed"]``, and a "capacity" diagnostic. Too few
    villages for every group's min lowers the min (diagnostic "min_load").

    ``compactness`` (>= 0) adds ``compactness * radius_g`` per group, where ``radius_g`` is the largest
    base-to-village cost in group g; that model is solved with CP-SAT (``num_workers`` and ``seed``
    fixed for reproducibility, ``time_limit`` seconds) from the min-cost-flow solution as a hint, and
    its bound/gap are CP-SAT's (the CP-SAT model ignores ``target_load``). With ``compactness == 0`` the
    model is an exact min-cost flow; ``target_load``/``target_penalty`` add a cost per village above a
    group's target (as in :func:`assign_min_cost_flow`). ``weight_unit`` ("persons" or "villages")
    says what ``population`` counts: diagnostics speak of people only for "persons".
    """
    t0 = time.monotonic()
    _check_weight_unit(weight_unit)
    cost = np.asarray(cost, float)
    n, g = cost.shape
    pop = np.asarray(population, float).reshape(n)
    lo, hi = _loads(min_load, g, "min_load"), _loads(max_load, g, "max_load")
    lockv = _as_locks(locks, n, g)
    nl = np.bincount(lockv[lockv >= 0], minlength=g)
    free = np.flatnonzero(lockv < 0)
    cap = int(np.maximum(hi - nl, 0).sum())
    chosen_free = free[_select_by_priority(pop[free], cap, -cost[free].min(axis=1) if g else None)]
    uncovered = np.setdiff1d(free, chosen_free)
    rows = np.sort(np.concatenate([chosen_free, np.flatnonzero(lockv >= 0)]))
    diags, extra = _capacity_shortage(pop, free, uncovered, hi, cap, g, weight_unit)
    if not len(rows):  # nothing to cover: every group's min is moot, not a shortage
        return AssignmentResult(status=OPTIMAL, objective=0.0, bound=0.0, gap=0.0, assignment=np.full(n, -1),
                                loads=np.zeros(g, np.int64), diagnostics=diags, extra=extra,
                                moved={"moved": 0, "kept": 0, "new": 0} if previous is not None else None,
                                move_reasons=np.full(n, "", object) if previous is not None else None,
                                time_s=time.monotonic() - t0, n_arcs=0)
    sub_prev = None if previous is None else np.asarray(previous, np.int64)[rows]
    sub = assign_min_cost_flow(cost[rows], lo, hi, locks=lockv[rows], previous=sub_prev,
                              churn_weight=churn_weight, member_labels=group_labels,
                              what="villages", who="groups", target_load=target_load,
                              over_target_penalty=target_penalty)
    if sub.status == INFEASIBLE:
        # only min loads can fail here (capacity was respected): soft in this tier
        for d in sub.diagnostics:
            d["severity"] = "warning"
        sub.status = OPTIMAL if math.isfinite(sub.objective) else INFEASIBLE
    diags += sub.diagnostics
    assign = np.full(n, -1, np.int64)
    assign[rows] = sub.assignment
    res = AssignmentResult(status=sub.status, objective=sub.objective, bound=sub.bound, gap=sub.gap,
                           assignment=assign, loads=sub.loads, diagnostics=diags, extra=extra,
                           relaxation=sub.relaxation, cost=sub.cost, rounds=sub.rounds, n_arcs=sub.n_arcs,
                           scale=sub.scale)
    if previous is not None:
        res.moved, res.move_reasons = sub.moved, np.full(n, "", object)
        res.move_reasons[rows] = sub.move_reasons
    if compactness > 0 and len(rows) and g:
        _compact_cpsat(res, cost, rows, lockv, sub.loads, lo, hi, sub, compactness, time_limit, seed,
                       num_workers, None if previous is None else np.asarray(previous, np.int64),
                       churn_weight)
    res.time_s = time.monotonic() - t0
    return res


def _capacity_shortage(pop: np.ndarray, free: np.ndarray, uncovered: np.ndarray, hi: np.ndarray, cap: int,
                       g: int, weight_unit: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The "capacity" warning when the groups cannot take every village, and ``extra`` (uncovered
    villages, their weight, groups needed)."""
    diags: list[dict[str, Any]] = []
    typical = max(int(np.median(hi)) if g else 1, 1)
    extra: dict[str, Any] = {"uncovered": uncovered.tolist(), "groups_needed": 0,
                             "uncovered_population": float(pop[uncovered].sum())}
    if len(uncovered):
        need = math.ceil(len(uncovered) / typical)
        extra["groups_needed"] = need
        people = int(pop[uncovered].sum())
        by_people = weight_unit == "persons"
        diags.append({"quota": "capacity", "severity": "warning", "scope": "groups",
                      "demand": len(free), "capacity": cap, "short_by": len(uncovered),
                      "uncovered": uncovered.tolist(), "groups_needed": need,
                      "code": "groups_short" if by_people else "groups_short_villages",
                      "params": {"groups": g, "max": typical, "demand": len(free), "n": len(uncovered),
                                 "people": people, "needed": need},
                      "message": f"{g} groups x max {typical} cannot take {len(free)} villages: "
                                 f"{len(uncovered)} villages " + (f"({people} people) " if by_people else "")
                                 + f"stay uncovered; {need} more groups would be needed"})
    return diags, extra


def _compact_cpsat(res: AssignmentResult, cost: np.ndarray, rows: np.ndarray, lockv: np.ndarray,
                   loads: np.ndarray, lo: np.ndarray, hi: np.ndarray, sub: AssignmentResult,
                   compactness: float, time_limit: float | None, seed: int, num_workers: int,
                   prev: np.ndarray | None, churn_weight: float) -> None:
    """Re-solve the covered villages with a compactness term (CP-SAT), hinted by the flow solution."""
    g = cost.shape[1]
    lo_eff = np.minimum(lo, loads)  # mins the flow could not meet stay relaxed
    hi_eff = np.maximum(hi, loads)
    mdl = cp_model.CpModel()
    c_int = np.rint(cost[rows]).astype(np.int64)
    if prev is not None and churn_weight:
        pv = prev[rows]
        c_int = c_int + np.where((pv[:, None] >= 0) & (pv[:, None] != np.arange(g)[None, :]),
                                 round(churn_weight), 0)
    nv = len(rows)
    x = [[mdl.NewBoolVar(f"x{v}_{q}") for q in range(g)] for v in range(nv)]
    for v, i in enumerate(rows):
        mdl.AddExactlyOne(x[v])
        if lockv[i] >= 0:
            mdl.Add(x[v][int(lockv[i])] == 1)
    radius_terms = []
    radius_exprs = []
    for q in range(g):
        col = [x[v][q] for v in range(nv)]
        mdl.Add(sum(col) >= int(lo_eff[q]))
        mdl.Add(sum(col) <= int(hi_eff[q]))
        # radius as a staircase: y_t = "radius >= d_t" (monotone), x_vq <= y_t(v); strong LP bound
        levels = np.unique(c_int[:, q])
        y = [mdl.NewBoolVar(f"y{q}_{t}") for t in range(len(levels))]
        for t in range(1, len(levels)):
            mdl.AddImplication(y[t], y[t - 1])
        pos = np.searchsorted(levels, c_int[:, q])
        for v in range(nv):
            mdl.AddImplication(x[v][q], y[int(pos[v])])
        steps = np.diff(np.r_[0, levels])
        expr = sum(int(steps[t]) * y[t] for t in range(len(levels)))
        radius_terms.append(expr)
        radius_exprs.append((levels, y))
    w = round(compactness * 1000)
    mdl.Minimize(1000 * sum(int(c_int[v, q]) * x[v][q] for v in range(nv) for q in range(g))
                 + w * sum(radius_terms))
    for v, i in enumerate(rows):
        for q in range(g):
            mdl.AddHint(x[v][q], int(res.assignment[i] == q))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = int(num_workers)
    solver.parameters.random_seed = int(seed)
    if time_limit is not None:
        solver.parameters.max_time_in_seconds = float(time_limit)
    st = solver.Solve(mdl)
    if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        res.diagnostics.append({"quota": "solver", "severity": "warning", "scope": "compactness",
                                "code": "compactness_solver", "params": {"status": solver.StatusName(st)},
                                "message": f"CP-SAT returned {solver.StatusName(st)}; "
                                           f"kept the min-cost-flow solution without compactness"})
        return
    for v, i in enumerate(rows):
        for q in range(g):
            if solver.Value(x[v][q]):
                res.assignment[i] = q
    res.loads = np.bincount(res.assignment[res.assignment >= 0], minlength=g)
    res.objective = solver.ObjectiveValue() / 1000.0
    res.bound = solver.BestObjectiveBound() / 1000.0
    res.gap = _gap(res.objective, res.bound)
    res.status = OPTIMAL if st == cp_model.OPTIMAL else FEASIBLE
    ok = res.assignment >= 0
    res.cost = float(cost[np.flatnonzero(ok), res.assignment[ok]].sum())
    res.solver = "cp_sat"
    res.extra["compactness_radius"] = [int(sum(int(st_) * solver.Value(y_) for st_, y_ in
                                               zip(np.diff(np.r_[0, lv]), ys))) for lv, ys in radius_exprs]
    if prev is not None:
        had = prev >= 0
        mv = had & (res.assignment != prev)
        res.moved = {"moved": int(mv.sum()), "kept": int((had & ~mv).sum()),
                     "new": int((~had & ok).sum())}
        res.move_reasons = np.where(mv, "improvement", "").astype(object)


# ------------------------------------------------------------------------------------------------
# tier 3: townships -> committees
# ------------------------------------------------------------------------------------------------
def assign_townships_to_committees(cost: np.ndarray, uncovered_population: Sequence[float],
                                   per_committee: int = 2, *, all_townships: bool = False,
                                   population: Sequence[float] | None = None, locks: Any = None,
                                   previous: np.ndarray | None = None, churn_weight: float = 0.0,
                                   committee_labels: Sequence[str] | None = None,
                                   weight_unit: str = "persons") -> AssignmentResult:
    """Give each committee ``per_committee`` townships, the most under-served first.

    ``cost`` (townships x committees) is the distance in metres from the committee's members' centre to
    the township. Townships are ranked by ``uncovered_population`` (people in gap villages), ties by
    ``population``; the top ``committees x per_committee`` are assigned (exact min-cost flow); the
    under-served ones left over are listed in ``extra["unassigned"]`` with ``extra["committees_needed"]``.
    With ``all_townships`` every township is assigned and loads become ``floor/ceil(T / K)`` around
    ``per_committee``. ``weight_unit`` ("persons" or "villages") says what the weights count.
    Too few townships for every committee's quota lowers the quota (a "min_load" diagnostic with
    ``relaxed_min``; the pipeline reports the tier as relaxed, never as plainly optimal).
    """
    t0 = time.monotonic()
    _check_weight_unit(weight_unit)
    cost = np.asarray(cost, float)
    t, k = cost.shape
    up = np.asarray(uncovered_population, float).reshape(t)
    lockv = _as_locks(locks, t, k)
    free = np.flatnonzero(lockv < 0)
    nl = np.bincount(lockv[lockv >= 0], minlength=k)
    if all_townships:
        lo = np.full(k, min(per_committee, t // max(k, 1)))
        hi = np.full(k, max(per_committee, -(-t // max(k, 1))))
        chosen = free
    else:
        lo = hi = np.full(k, per_committee)
        cap = int(np.maximum(hi - nl, 0).sum())
        chosen = free[_select_by_priority(up[free], cap,
                                          None if population is None else np.asarray(population)[free])]
    left = np.setdiff1d(free, chosen)
    rows = np.sort(np.concatenate([chosen, np.flatnonzero(lockv >= 0)]))
    diags: list[dict[str, Any]] = []
    under = left[up[left] > 0]
    extra = {"unassigned": left.tolist(), "underserved_unassigned": under.tolist(),
             "committees_needed": math.ceil(len(under) / max(per_committee, 1))}
    if len(under):
        people = int(up[under].sum())
        by_people = weight_unit == "persons"
        unit_en = "uncovered people" if by_people else "gap villages"
        diags.append({"quota": "capacity", "severity": "warning", "scope": "committees",
                      "short_by": len(under), "unassigned": under.tolist(),
                      "committees_needed": extra["committees_needed"],
                      "code": "committees_short" if by_people else "committees_short_villages",
                      "params": {"committees": k, "per": per_committee, "n": len(under),
                                 "people": people, "needed": extra["committees_needed"]},
                      "message": f"{k} committees x {per_committee} townships leave {len(under)} under-served "
                                 f"townships ({people} {unit_en}) without a committee; "
                                 f"{extra['committees_needed']} more committees would be needed"})
    sub_prev = None if previous is None else np.asarray(previous, np.int64)[rows]
    sub = assign_min_cost_flow(cost[rows], lo, hi, locks=lockv[rows], previous=sub_prev,
                              churn_weight=churn_weight, member_labels=committee_labels,
                              what="townships", who="committees")
    if sub.status == INFEASIBLE and not any(d["quota"] == "locks" for d in sub.diagnostics):
        for d in sub.diagnostics:  # too few townships for every committee's quota: soft here
            d["severity"] = "warning"
        sub.status = OPTIMAL
    assign = np.full(t, -1, np.int64)
    assign[rows] = sub.assignment
    res = AssignmentResult(status=sub.status, objective=sub.objective, bound=sub.bound, gap=sub.gap,
                           assignment=assign, loads=sub.loads, diagnostics=diags + sub.diagnostics,
                           extra=extra, relaxation=sub.relaxation, cost=sub.cost, rounds=sub.rounds,
                           n_arcs=sub.n_arcs, scale=sub.scale, moved=sub.moved)
    if previous is not None:
        res.move_reasons = np.full(t, "", object)
        res.move_reasons[rows] = sub.move_reasons
    res.time_s = time.monotonic() - t0
    return res


# ------------------------------------------------------------------------------------------------
# tier 4: groups -> stations (整建制入站)
# ------------------------------------------------------------------------------------------------
def assign_groups_to_stations(cost: np.ndarray, capacity: Sequence[int], *, allowed: np.ndarray | None = None,
                              locks: Any = None, previous: np.ndarray | None = None,
                              churn_weight: float = 0.0, station_labels: Sequence[str] | None = None,
                              group_labels: Sequence[str] | None = None) -> AssignmentResult:
    """Put every whole group into one station within station capacity (groups per station).

    ``cost`` (groups x stations): the sum of the group's members' travel (metres or seconds) to the
    station plus any preference penalty (e.g. a sector station hosting a group of another sector);
    ``allowed`` masks stations a group may not use at all. Exact min-cost flow. Too little capacity
    -> status "infeasible", a "max_load" diagnostic per block and the closest relaxation (capacity
    raised) as the assignment.
    """
    cost = np.asarray(cost, float)
    cap = np.asarray(capacity, np.int64)
    res = assign_min_cost_flow(cost, 0, cap, allowed=allowed, locks=locks, previous=previous,
                              churn_weight=churn_weight, member_labels=station_labels,
                              what="groups", who="stations", row_labels=group_labels)
    short = sum(d.get("short_by", 0) for d in res.diagnostics if d["quota"] in ("max_load", "no_member"))
    res.extra["places_needed"] = int(short)
    return res
