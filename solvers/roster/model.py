"""CP-SAT model of the duty roster, its counting precheck, the relaxed (slack) model and bounds.

Variables ``x[m, p, t]`` (member ``m`` on duty at platform ``p`` in month ``t``) exist only for a
member's candidate platforms (within ``max_distance_m``, the ``candidates_per_member`` cheapest plus
each platform's nearest members) in months the member is available and that are not frozen.

Objective (integer, cost unit = metres or seconds, rounded): travel cost of every duty
+ ``fairness_weight`` per unit of spread above ``fairness_spread`` (so fairness is relaxed only when
it must be) + ``churn_weight`` per duty removed or added against the previous roster. The relaxed model
adds slack for every hard rule (platform short of members, member short of months or over the max,
platform short of sectors, duty beyond the distance cap, duty in an unavailable month), each unit
weighted ``HARD_WEIGHT`` so the smallest relaxation wins, then the cheapest roster with it.

The two-stage decomposition (warm start, relaxed roster) is in :mod:`solvers.roster.decomp`.
A valid lower bound for the *full* problem (all arcs, not only candidates) comes from the LP of the
aggregated transportation relaxation (members -> platforms, month counts; HiGHS), so ``bound`` is
honest even when the candidate arcs are a subset.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

_logger = logging.getLogger("solvers.roster")
_log = _logger.debug
HARD_WEIGHT = 10**11  # per unit of a hard-rule slack (relaxed model)
FAIR_WEIGHT = 10**9   # per unit of fairness spread above the allowed one


def candidate_arcs(pb: Any, relaxed: bool) -> dict[int, list[int]]:
    """Candidate platforms per member: within the cap, k cheapest, plus every platform's nearest."""
    prm = pb.params
    n, P = pb.cost.shape
    cap = math.inf if prm.max_distance_m is None else float(prm.max_distance_m)
    within = pb.dist_m <= cap
    k = min(P, prm.candidates_per_member)
    cand: dict[int, set[int]] = defaultdict(set)
    order = np.argsort(pb.cost, axis=1, kind="stable")
    for m in range(n):
        ok = [p for p in order[m] if within[m, p]]
        cand[m].update(int(p) for p in ok[:k])
        if relaxed and len(ok) < k:  # over-cap arcs the relaxation may use
            cand[m].update(int(p) for p in order[m][:k])
    per_p = int(math.ceil(prm.per_platform_max * len(pb.months) / max(1, prm.member_max))) * 2 + 2
    ordp = np.argsort(pb.cost, axis=0, kind="stable")
    for p in range(P):
        ms = [m for m in ordp[:, p] if within[m, p]]
        if relaxed:
            ms = list(ordp[:, p])
        for m in ms[:per_p]:
            cand[int(m)].add(p)
    for (m, p, _t) in pb.locks:
        cand[m].add(p)
    for (m, p, _t) in pb.previous:
        if m >= 0:
            cand[m].add(p)
    return {m: sorted(v) for m, v in cand.items()}


def _frozen_by(pb: Any) -> tuple[dict[tuple[int, int], int], dict[int, int], dict[int, set]]:
    """Frozen duties as member-month -> platform, duties per member and sectors per platform."""
    frozen_mt: dict[tuple[int, int], int] = {}
    frozen_m: dict[int, int] = defaultdict(int)
    frozen_ps: dict[int, set] = defaultdict(set)
    for (m, p, t) in pb.frozen:
        if m >= 0:
            frozen_mt[(m, t)] = p
            frozen_m[m] += 1
        frozen_ps[p].add(pb.frozen_sector.get((m, p, t)) if m < 0 else pb.member_sectors[m])
    return frozen_mt, frozen_m, frozen_ps


class RosterModel:
    """One CP-SAT model (strict or relaxed) of a :class:`~solvers.roster.RosterProblem`."""

    def __init__(self, pb: Any, relaxed: bool = False):
        self.pb, self.relaxed = pb, relaxed
        prm = pb.params
        self.m = cp_model.CpModel()
        md = self.m
        self.icost = np.rint(pb.cost).astype(np.int64)
        self.x: dict[tuple[int, int, int], cp_model.IntVar] = {}
        self.slack: list[tuple[str, tuple, cp_model.IntVar]] = []
        self.pen_terms: list = []
        frozen_mt, frozen_m, frozen_ps = _frozen_by(pb)
        obj = self._add_duties(frozen_mt)
        by_pt: dict[tuple[int, int], list] = defaultdict(list)
        by_mt: dict[tuple[int, int], list] = defaultdict(list)
        by_m: dict[int, list] = defaultdict(list)
        by_mp: dict[tuple[int, int], dict[int, Any]] = defaultdict(dict)
        for (m, p, t), v in self.x.items():
            by_pt[(p, t)].append(v)
            by_mt[(m, t)].append(v)
            by_m[m].append(v)
            by_mp[(m, p)][t] = v
        self._add_platform_months(by_pt)
        # once a month
        for vs in by_mt.values():
            if len(vs) > 1:
                md.AddAtMostOne(vs)
        # not the same platform two months running
        if not prm.allow_consecutive:
            locks = set(pb.locks)
            for (m, p), ts in by_mp.items():
                for t, v in ts.items():
                    w = ts.get(t + 1)
                    if w is not None and not ((m, p, t) in locks and (m, p, t + 1) in locks):
                        md.AddBoolOr([v.Not(), w.Not()])
        self._add_member_totals(by_m, frozen_m)
        self.sector_b: dict[tuple[int, str], Any] = {}
        if prm.sectors_min > 0:
            self._add_sectors(frozen_ps)
        self._add_churn()
        self.cost_expr = sum(obj)
        self.objective = self.cost_expr + sum(self.pen_terms) + self.churn_weight * sum(self.churn_terms)
        md.Minimize(self.objective)

    def _add_duties(self, frozen_mt: dict[tuple[int, int], int]) -> list:
        """One boolean per candidate duty (member, platform, month); its travel cost terms.

        Locks are fixed to 1; in the relaxed model a duty over the cap or while unavailable stays
        possible at a penalty (a slack the diagnostics name).
        """
        pb, relaxed, md = self.pb, self.relaxed, self.m
        prm = pb.params
        T = len(pb.months)
        cap = math.inf if prm.max_distance_m is None else float(prm.max_distance_m)
        locks = set(pb.locks)
        obj: list = []
        for m, plats in candidate_arcs(pb, relaxed).items():
            for p in plats:
                over_cap = pb.dist_m[m, p] > cap
                for t in range(pb.frozen_upto, T):
                    lock = (m, p, t) in locks
                    unavailable = not pb.avail[m, t] or (m, p, t) in pb.blocked
                    if not lock and not relaxed and (over_cap or unavailable):
                        continue
                    if not lock and not prm.allow_consecutive and frozen_mt.get((m, t - 1)) == p:
                        continue
                    v = md.NewBoolVar(f"x{m}_{p}_{t}")
                    self.x[(m, p, t)] = v
                    obj.append(int(self.icost[m, p]) * v)
                    if lock:
                        md.Add(v == 1)
                    elif over_cap or unavailable:  # relaxed model only
                        w = HARD_WEIGHT if unavailable else 0
                        if over_cap:  # one unit, plus a little per km beyond: the smallest raise wins
                            # cheaper than leaving a platform short: the relaxed roster staffs it
                            w += HARD_WEIGHT // 2 + (HARD_WEIGHT // 1000) * int(math.ceil((pb.dist_m[m, p] - cap) / 1000))
                        self.pen_terms.append(w * v)
                        self.slack.append(("over_cap" if over_cap else "unavailable", (m, p, t), v))
        return obj

    def _add_platform_months(self, by_pt: dict[tuple[int, int], list]) -> None:
        """Per platform and month: between ``per_platform_min`` (a slack when relaxed) and ``per_platform_max``."""
        pb, md = self.pb, self.m
        prm = pb.params
        for p in range(pb.cost.shape[1]):
            for t in range(pb.frozen_upto, len(pb.months)):
                s = sum(by_pt[(p, t)])
                if self.relaxed:
                    u = md.NewIntVar(0, prm.per_platform_min, f"short{p}_{t}")
                    md.Add(s + u >= prm.per_platform_min)
                    self.slack.append(("platform_short", (p, t), u))
                    self.pen_terms.append(HARD_WEIGHT * u)
                else:
                    md.Add(s >= prm.per_platform_min)
                md.Add(s <= prm.per_platform_max)

    def _add_member_totals(self, by_m: dict[int, list], frozen_m: dict[int, int]) -> None:
        """Member totals within ``member_min``..``member_max`` (slacks when relaxed) and the fairness spread."""
        pb, md = self.pb, self.m
        prm = pb.params
        T = len(pb.months)
        self.total: dict[int, Any] = {}
        fair = pb.fair_members
        hi_cap = prm.member_max + T
        lo = md.NewIntVar(0, hi_cap, "lo")
        hi = md.NewIntVar(0, hi_cap, "hi")
        for m in range(pb.cost.shape[0]):
            tot = sum(by_m[m]) + frozen_m[m]
            self.total[m] = tot
            mn = int(pb.member_min[m])
            if self.relaxed:
                v = md.NewIntVar(0, mn, f"mshort{m}")
                e = md.NewIntVar(0, T, f"mover{m}")
                md.Add(tot + v >= mn)
                md.Add(tot - e <= prm.member_max)
                self.slack += [("member_short", (m,), v), ("member_over", (m,), e)]
                self.pen_terms += [HARD_WEIGHT * v, HARD_WEIGHT * e]
            else:
                if mn > 0:
                    md.Add(tot >= mn)
                md.Add(tot <= prm.member_max)
            if m in fair:
                md.Add(tot >= lo)
                md.Add(tot <= hi)
        self.spread_excess = md.NewIntVar(0, hi_cap, "fair")
        md.Add(hi - lo <= prm.fairness_spread + self.spread_excess)
        self.pen_terms.append(FAIR_WEIGHT * self.spread_excess)
        self.lo, self.hi = lo, hi

    def _add_sectors(self, frozen_ps: dict[int, set]) -> None:
        """Sectors per platform over the period: at least ``sectors_min`` (a slack when relaxed)."""
        pb, md = self.pb, self.m
        by_ps: dict[tuple[int, str], list] = defaultdict(list)
        for (m, p, _t), v in self.x.items():
            by_ps[(p, pb.member_sectors[m])].append(v)
        for p in range(pb.cost.shape[1]):
            terms = []
            secs = {s for (q, s) in by_ps if q == p} | {s for s in frozen_ps[p] if s}
            for s in sorted(secs):
                if s in frozen_ps[p]:
                    terms.append(1)
                    continue
                b = md.NewBoolVar(f"sec{p}_{s}")
                md.AddBoolOr(by_ps[(p, s)]).OnlyEnforceIf(b)
                self.sector_b[(p, s)] = b
                terms.append(b)
            need = pb.params.sectors_min
            if self.relaxed:
                u = md.NewIntVar(0, need, f"secshort{p}")
                md.Add(sum(terms) + u >= need)
                self.slack.append(("sectors_short", (p,), u))
                self.pen_terms.append(HARD_WEIGHT * u)
            else:
                md.Add(sum(terms) >= need)

    def _add_churn(self) -> None:
        """Churn against the previous roster (months not frozen) and its weight per change."""
        pb = self.pb
        prm = pb.params
        self.churn_terms: list = []
        cw = int(round(prm.churn_weight_m if pb.unit == "m" else prm.churn_weight_m / (prm.penalty_speed_kmh / 3.6)))
        prev = {k for k in pb.previous if k[2] >= pb.frozen_upto}
        if prev:
            for key in prev:
                v = self.x.get(key)
                if v is None:
                    self.churn_terms.append(1)  # forced removal (member left, unavailable, ...)
                else:
                    self.churn_terms.append(1 - v)
            for key, v in self.x.items():
                if key not in prev:
                    self.churn_terms.append(v)
        self.churn_weight = cw

    def hint(self, duties: set[tuple[int, int, int]]) -> None:
        for key, v in self.x.items():
            self.m.AddHint(v, 1 if key in duties else 0)


class _Progress(cp_model.CpSolverSolutionCallback):
    def __init__(self, t_start: float, progress: Any, should_stop: Any, external_bound: float = -math.inf,
                 relative_gap: float = 0.0):
        super().__init__()
        self.external_bound, self.relative_gap = external_bound, relative_gap
        self.t_start, self.progress, self.should_stop = t_start, progress, should_stop
        self.first_s: float | None = None
        self.solutions = 0
        self.cancelled = False

    def on_solution_callback(self) -> None:
        self.solutions += 1
        if self.first_s is None:
            self.first_s = time.perf_counter() - self.t_start
        if self.progress is not None:
            obj, bd = self.ObjectiveValue(), self.BestObjectiveBound()
            gap = (obj - bd) / max(abs(obj), 1e-9)
            self.progress(min(0.9, 0.1 + 0.8 * (1 - min(1.0, gap))),
                          f"roster {self.solutions}: objective {obj:.0f}, gap {gap:.2%}")
        if self.should_stop is not None and self.should_stop():
            self.cancelled = True
            self.StopSearch()
        obj = self.ObjectiveValue()
        if (obj - self.external_bound) <= self.relative_gap * max(abs(obj), 1e-9):
            self.StopSearch()


def solve_model(rm: RosterModel, time_limit_s: float, seed: int, workers: int, progress: Any = None,
                should_stop: Any = None, external_bound: float = -math.inf, relative_gap: float = 0.0
                ) -> dict[str, Any]:
    """Solve ``rm``; returns status name, duties, objective parts, bound and timings."""
    s = cp_model.CpSolver()
    s.parameters.max_time_in_seconds = max(0.05, float(time_limit_s))
    s.parameters.random_seed = int(seed)
    s.parameters.num_workers = int(workers)
    s.parameters.relative_gap_limit = 1e-6
    t = time.perf_counter()
    cb = _Progress(t, progress, should_stop, external_bound, relative_gap)
    st = s.Solve(rm.m, cb)
    out: dict[str, Any] = {"status": s.StatusName(st), "time_s": time.perf_counter() - t,
                           "first_s": cb.first_s, "cancelled": cb.cancelled, "solutions": cb.solutions}
    if st in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        out["duties"] = {k for k, v in rm.x.items() if s.Value(v)}
        out["objective"] = float(s.ObjectiveValue())
        out["bound"] = float(s.BestObjectiveBound())
        out["cost"] = float(s.Value(rm.cost_expr)) if not isinstance(rm.cost_expr, int) else 0.0
        out["spread_excess"] = int(s.Value(rm.spread_excess))
        out["churn"] = int(sum(s.Value(c) if not isinstance(c, int) else c for c in rm.churn_terms))
        out["slack"] = [(kind, key, int(s.Value(v))) for kind, key, v in rm.slack if s.Value(v)]
        out["lo"], out["hi"] = int(s.Value(rm.lo)), int(s.Value(rm.hi))
    return out


def lp_bound(pb: Any, want_solution: bool = False) -> Any:
    """Lower bound (cost unit) on the travel cost over ALL arcs within the cap: aggregated LP.

    Relaxes months away: ``n[m, p]`` duty months of member ``m`` at platform ``p`` with member
    totals in [member_min, member_max] (minus frozen), platform totals in
    [per_platform_min, per_platform_max] x free months, ``n[m, p] <= ceil(available / 2)`` when no
    consecutive months are allowed. Locks and frozen duties add their cost. Returns -inf on failure.
    """
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    prm = pb.params
    n, P = pb.cost.shape
    T = len(pb.months)
    t0 = pb.frozen_upto
    free = T - t0
    if free <= 0 or n == 0 or P == 0:
        return (0.0, {}) if want_solution else 0.0
    cap = math.inf if prm.max_distance_m is None else float(prm.max_distance_m)
    ok = pb.dist_m <= cap
    av = pb.avail[:, t0:].sum(axis=1)
    mm, pp = np.nonzero(ok & (av[:, None] > 0))
    lock_mp: dict[tuple[int, int], int] = defaultdict(int)
    for (m, p, t) in pb.locks:
        if t >= t0:
            lock_mp[(m, p)] += 1
    # fixed cost of locks outside the arc set is added separately
    extra_cost = sum(float(pb.cost[m, p]) * c for (m, p), c in lock_mp.items() if not ok[m, p])
    k = len(mm)
    ub = av[mm].astype(float)
    if not prm.allow_consecutive:  # same platform: never two months running
        alt = np.array([alternating(np.flatnonzero(pb.avail[m, t0:]).tolist()) for m in range(n)], float)
        ub = np.minimum(ub, alt[mm])
    lb = np.array([lock_mp.get((int(a), int(b)), 0) for a, b in zip(mm, pp)], float)
    ub = np.maximum(ub, lb)
    frozen_m = np.zeros(n)
    for (m, _p, _t) in pb.frozen:
        if m >= 0:
            frozen_m[m] += 1
    lock_off = np.zeros(n)
    lock_off_p = np.zeros(P)
    for (m, p), c in lock_mp.items():
        if not ok[m, p]:
            lock_off[m] += c
            lock_off_p[p] += c
    rows = np.concatenate([mm, n + pp])
    cols = np.concatenate([np.arange(k), np.arange(k)])
    A = coo_matrix((np.ones(2 * k), (rows, cols)), shape=(n + P, k)).tocsr()
    mmin = np.maximum(0, np.asarray(pb.member_min, float) - frozen_m - lock_off)
    mmax = np.maximum(0, prm.member_max - frozen_m - lock_off)
    pmin = np.maximum(0, prm.per_platform_min * free - lock_off_p)
    pmax = np.maximum(0, prm.per_platform_max * free - lock_off_p)
    # lo <= A x <= hi as two inequality blocks
    A_ub = __import__("scipy.sparse", fromlist=["vstack"]).vstack([A, -A]).tocsr()
    b_ub = np.concatenate([mmax, pmax, -mmin, -pmin])
    try:
        r = linprog(pb.cost[mm, pp], A_ub=A_ub, b_ub=b_ub, bounds=np.column_stack([lb, ub]),
                    method="highs")
    except Exception:  # pragma: no cover - solver failure: no bound
        return (-math.inf, {}) if want_solution else -math.inf
    if r.status != 0:
        return (-math.inf, {}) if want_solution else -math.inf
    frozen_cost = sum(float(pb.cost[m, p]) for (m, p, _t) in pb.frozen if m >= 0)
    lb = float(r.fun) + extra_cost + frozen_cost
    if want_solution:
        xs = np.rint(r.x).astype(int)
        return lb, {(int(a), int(b)): int(v) for a, b, v in zip(mm, pp, xs) if v > 0}
    return lb


def greedy(pb: Any) -> set[tuple[int, int, int]]:
    """Baseline: month by month each platform takes its nearest eligible members up to the minimum,
    then each member short of ``member_min`` takes the cheapest platform-month with room."""
    prm = pb.params
    n, P = pb.cost.shape
    T = len(pb.months)
    cap = math.inf if prm.max_distance_m is None else float(prm.max_distance_m)
    total = np.zeros(n, int)
    last: dict[int, tuple[int, int]] = {}
    duties: set[tuple[int, int, int]] = set()
    for (m, p, t) in pb.frozen:
        if m >= 0:
            total[m] += 1
            last[m] = (p, t)
            duties.add((m, p, t))
    order = np.argsort(pb.cost, axis=0, kind="stable")
    for t in range(pb.frozen_upto, T):
        used = set()
        for (m, p, tt) in pb.locks:
            if tt == t:
                duties.add((m, p, t))
                used.add(m)
                total[m] += 1
        for p in range(P):
            have = sum(1 for (m, q, tt) in duties if q == p and tt == t)
            for m in order[:, p]:
                if have >= prm.per_platform_min:
                    break
                m = int(m)
                if (m in used or not pb.avail[m, t] or (m, p, t) in pb.blocked or pb.dist_m[m, p] > cap
                        or total[m] >= prm.member_max
                        or (not prm.allow_consecutive and last.get(m) == (p, t - 1))):
                    continue
                duties.add((m, p, t))
                used.add(m)
                total[m] += 1
                last[m] = (p, t)
                have += 1
    # then every member still below member_min takes the cheapest platform-month with room
    load = defaultdict(int)
    busy = set()
    for (m, p, t) in duties:
        load[(p, t)] += 1
        busy.add((m, t))
    for m in np.argsort(pb.cost.min(axis=1), kind="stable"):
        m = int(m)
        while total[m] < pb.member_min[m]:
            opts = [(pb.cost[m, p], t, p) for p in range(P) for t in range(pb.frozen_upto, T)
                    if load[(p, t)] < prm.per_platform_max and (m, t) not in busy and pb.avail[m, t]
                    and (m, p, t) not in pb.blocked and pb.dist_m[m, p] <= cap
                    and (prm.allow_consecutive or ((m, p, t - 1) not in duties and (m, p, t + 1) not in duties))]
            if not opts:
                break
            _c, t, p = min(opts)
            duties.add((m, p, t))
            busy.add((m, t))
            load[(p, t)] += 1
            total[m] += 1
    return duties


def alternating(months: list[int]) -> int:
    """Most months one can pick from sorted ``months`` with no two consecutive."""
    k, last = 0, -10
    for t in months:
        if t > last + 1:
            k += 1
            last = t
    return k


def evaluate(pb: Any, duties: set[tuple[int, int, int]]) -> dict[str, float]:
    """The full objective's parts for ``duties`` (cost, churn changes, fairness excess)."""
    prm = pb.params
    t0 = pb.frozen_upto
    cost = float(sum(pb.cost[m, p] for (m, p, t) in duties if t >= t0))
    cost += float(sum(pb.cost[m, p] for (m, p, _t) in pb.frozen if m >= 0))
    cur = {k for k in duties if k[2] >= t0}
    prev = {k for k in pb.previous if k[2] >= t0}
    changes = len(cur - prev) + len(prev - cur) if prev else 0
    cw = prm.churn_weight_m if pb.unit == "m" else prm.churn_weight_m / (prm.penalty_speed_kmh / 3.6)
    tot = defaultdict(int)
    for (m, _p, _t) in list(cur) + [k for k in pb.frozen if k[0] >= 0]:
        tot[m] += 1
    vals = [tot[m] for m in pb.fair_members]
    excess = max(0, (max(vals) - min(vals) - prm.fairness_spread)) if vals else 0
    return {"cost": cost, "changes": changes, "excess": excess,
            "objective": cost + int(round(cw)) * changes + FAIR_WEIGHT * excess}
