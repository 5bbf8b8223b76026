"""Two-stage decomposition of the roster: duty counts per member and platform, then months.

:func:`warm_start` gives the strict model's starting roster and a proven lower bound (stage 1 over all
pairs within the cap is a relaxation of the full problem); :func:`relaxed_decomposition` gives the
closest relaxed roster when the rules cannot all hold. Stage 1 is solved as MILPs with HiGHS
(``scipy.optimize.milp``; CP-SAT as a fallback for the strict one), stage 2 with CP-SAT.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from .model import FAIR_WEIGHT, _log, alternating, candidate_arcs

#: Above this many member-platform pairs within the cap, stage 1 of :func:`warm_start` is solved
#: over the candidate pairs plus the support of the aggregated LP (a 4,000 x 84 roster has 336,000
#: pairs, too many for one MILP in a minute on a busy machine; its candidates are about 35,000);
#: the bound then comes from that LP over all pairs.
FULL_PAIRS_MAX = 60_000


def warm_start(pb: Any, time_limit_s: float, seed: int = 0, workers: int = 2,
               lp_counts: dict[tuple[int, int], int] | None = None, all_arcs: bool = True
               ) -> tuple[set[tuple[int, int, int]] | None, float]:
    """A feasible roster by decomposition, used as the CP-SAT hint (None when not found).

    Returns (duties or None, lower bound). Stage 1 chooses duty counts ``n[m, p]`` (members' totals, platforms' totals, sectors, fairness;
    months relaxed) at least travel cost (+ churn on counts); over all arcs within the cap
    (``all_arcs``) it is a relaxation of the full problem, so its proven bound is a valid lower bound
    on the full objective; stage 2 spreads them over months (per-month platform limits,
    once a month, no consecutive months, availability). Stage 1 is two MILPs (HiGHS; least fairness
    excess, then least cost + churn) with a CP-SAT fallback; stage 2 a CP-SAT model. The bound is
    ``math.inf`` when the month-free relaxation is infeasible (then so is the roster).
    """
    prm = pb.params
    n, P = pb.cost.shape
    t0 = pb.frozen_upto
    cap = math.inf if prm.max_distance_m is None else float(prm.max_distance_m)
    restricted = False
    if all_arcs and int((pb.dist_m <= cap).sum()) > FULL_PAIRS_MAX:
        all_arcs, restricted = False, True  # too many pairs for one MILP: candidates + the LP's support
    cand = {m: [int(p) for p in np.flatnonzero(pb.dist_m[m] <= cap)] for m in range(n)} if all_arcs \
        else candidate_arcs(pb, relaxed=False)
    if restricted:
        for (m, p) in (lp_counts or {}):
            if p not in cand.setdefault(m, []):
                cand[m].append(p)
    for (m, p, _t) in pb.locks:
        if p not in cand.get(m, []):
            cand.setdefault(m, []).append(p)
    t_end = time.perf_counter() + time_limit_s
    frozen_m: dict[int, int] = defaultdict(int)
    frozen_p: dict[int, int] = defaultdict(int)
    frozen_ps: dict[int, set] = defaultdict(set)
    last_frozen: dict[int, int] = {}
    for (m, p, t) in pb.frozen:
        if m >= 0:
            frozen_m[m] += 1
            frozen_ps[p].add(pb.member_sectors[m])
            if t == t0 - 1:
                last_frozen[m] = p
        else:
            frozen_ps[p].add(pb.frozen_sector.get((m, p, t), ""))
        frozen_p[p] += 1
    lock_mp: dict[tuple[int, int], int] = defaultdict(int)
    for (m, p, t) in pb.locks:
        lock_mp[(m, p)] += 1
    prev_mp: dict[tuple[int, int], int] = defaultdict(int)
    for (m, p, t) in pb.previous:
        if m >= 0 and t >= t0:
            prev_mp[(m, p)] += 1
    cw = int(round(prm.churn_weight_m if pb.unit == "m" else prm.churn_weight_m / (prm.penalty_speed_kmh / 3.6)))
    counts = None
    bound1 = -math.inf
    if all_arcs or restricted:  # stage 1 as MILPs (HiGHS proves these quickly; CP-SAT below is the fallback)
        pairs = sorted({(m, p) for m, ps in cand.items() for p in ps})
        info: dict[str, Any] = {}
        got = _relaxed_counts_milp(pb, pairs, lock_mp, frozen_m, frozen_ps, cap,
                                   max(0.5, time_limit_s * 0.6), strict=True, prev_mp=prev_mp, churn_w=cw,
                                   info=info)
        if got is None and info.get("infeasible") and all_arcs:
            return None, math.inf  # even the month-free relaxation is infeasible: so is the roster
        if got is not None:
            counts = got[0]
            # over candidate pairs only, the MILP's bound is not one of the full problem: the
            # caller's LP over all pairs is
            if all_arcs and info.get("bound", -math.inf) > -math.inf:
                # valid for the full objective: fairness excess is minimal, its weight added exactly
                bound1 = info["bound"] + FAIR_WEIGHT * info.get("fair_excess", 0)
            _log(f"warm stage 1 (HiGHS): bound {bound1:.0f}, proven {info.get('proven')}")
    if counts is None:
        counts, b_cp = _counts_cpsat(pb, cand, lock_mp, frozen_m, frozen_ps, prev_mp, cw, lp_counts,
                                     max(0.5, (t_end - time.perf_counter()) * 0.6), seed, workers, all_arcs)
        bound1 = max(bound1, b_cp)
        if counts is None:
            return None, bound1
    return _months(pb, counts, last_frozen, t_end, seed, workers), bound1


def _counts_cpsat(pb: Any, cand: dict, lock_mp: dict, frozen_m: dict, frozen_ps: dict, prev_mp: dict, cw: int,
                  lp_counts: dict | None, time_limit_s: float, seed: int, workers: int, all_arcs: bool):
    """Stage 1 of :func:`warm_start` by CP-SAT (fallback of the MILP): (counts or None, bound)."""
    prm = pb.params
    n, P = pb.cost.shape
    T = len(pb.months)
    t0 = pb.frozen_upto
    free = T - t0
    cap = math.inf if prm.max_distance_m is None else float(prm.max_distance_m)
    md = cp_model.CpModel()
    nv: dict[tuple[int, int], Any] = {}
    for m, plats in cand.items():
        for p in plats:
            okm = [t for t in range(t0, T) if pb.avail[m, t] and (m, p, t) not in pb.blocked]
            if pb.dist_m[m, p] > cap and not lock_mp.get((m, p)):
                continue
            ub = len(okm) if prm.allow_consecutive else alternating(okm)
            ub = max(min(ub, prm.member_max), lock_mp.get((m, p), 0))
            if ub <= 0:
                continue
            nv[(m, p)] = md.NewIntVar(lock_mp.get((m, p), 0), ub, f"n{m}_{p}")
    by_m: dict[int, list] = defaultdict(list)
    by_p: dict[int, list] = defaultdict(list)
    for (m, p), v in nv.items():
        by_m[m].append(v)
        by_p[p].append(v)
    lo = md.NewIntVar(0, prm.member_max + T, "lo")
    for m in range(n):
        tot = sum(by_m[m]) + frozen_m[m]
        md.Add(tot >= int(pb.member_min[m]))
        md.Add(tot <= prm.member_max)
        md.Add(tot <= min(prm.member_max, frozen_m[m] + int(pb.avail[m, t0:].sum())))
        if m in pb.fair_members:
            md.Add(tot >= lo)
            md.Add(tot <= lo + prm.fairness_spread)
    for p in range(P):
        s = sum(by_p[p])
        md.Add(s >= prm.per_platform_min * free)
        md.Add(s <= prm.per_platform_max * free)
        if prm.sectors_min > 0:
            secs: dict[str, list] = defaultdict(list)
            for (m, q), v in nv.items():
                if q == p:
                    secs[pb.member_sectors[m]].append(v)
            terms = []
            for sec, vs in secs.items():
                if sec in frozen_ps[p]:
                    terms.append(1)
                    continue
                b = md.NewBoolVar("")
                md.Add(sum(vs) >= 1).OnlyEnforceIf(b)
                terms.append(b)
            terms += [1 for s_ in frozen_ps[p] if s_ and s_ not in secs]
            md.Add(sum(terms) >= prm.sectors_min)
    # churn: keep the previous counts where possible
    churn = []
    if prev_mp and cw:
        for key, v in nv.items():
            d = md.NewIntVar(0, T, "")
            md.Add(d >= v - prev_mp.get(key, 0))
            md.Add(d >= prev_mp.get(key, 0) - v)
            churn.append(d)
    md.Minimize(sum(int(round(pb.cost[m, p])) * v for (m, p), v in nv.items()) + cw * sum(churn))
    for key, v in nv.items():
        md.AddHint(v, (lp_counts or prev_mp).get(key, 0))
    s1 = cp_model.CpSolver()
    s1.parameters.max_time_in_seconds = time_limit_s
    s1.parameters.num_workers = workers
    s1.parameters.random_seed = seed
    st1 = s1.Solve(md)
    _log(f"warm stage 1: {s1.StatusName(st1)} {s1.WallTime():.2f}s obj {s1.ObjectiveValue():.0f} bound {s1.BestObjectiveBound():.0f}")
    # valid for the full objective: a roster breaking fairness costs >= FAIR_WEIGHT anyway
    bound1 = min(float(s1.BestObjectiveBound()), FAIR_WEIGHT) if all_arcs else -math.inf
    if st1 not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, (bound1 if st1 != cp_model.INFEASIBLE else -math.inf)
    return {k: s1.Value(v) for k, v in nv.items() if s1.Value(v) > 0}, bound1


def _month_model(pb: Any, counts: dict, last_frozen: dict, exact: bool):
    """Stage 2 of both decompositions: the member-platform ``counts`` spread over the free months
    (locks kept, availability, no platform twice running unless allowed, at most one duty a month,
    platforms' monthly min/max). ``exact``: every count placed and every platform's min met;
    otherwise counts are upper bounds and a shortage slack per platform-month is minimised.
    Returns ``(model, x[(m, p, t)], short[(p, t)])``."""
    prm = pb.params
    T = len(pb.months)
    P = pb.cost.shape[1]
    t0 = pb.frozen_upto
    locks = set(pb.locks)
    m2 = cp_model.CpModel()
    x: dict[tuple[int, int, int], Any] = {}
    for (m, p), c in counts.items():
        vs = []
        for t in range(t0, T):
            if (m, p, t) in locks:
                v = m2.NewConstant(1)
            elif not pb.avail[m, t] or (m, p, t) in pb.blocked:
                continue
            elif not prm.allow_consecutive and t == t0 and last_frozen.get(m) == p:
                continue
            else:
                v = m2.NewBoolVar("")
            x[(m, p, t)] = v
            vs.append(v)
        if exact:
            m2.Add(sum(vs) == c)
        else:
            m2.Add(sum(vs) <= c)
    bpt: dict[tuple[int, int], list] = defaultdict(list)
    bmt: dict[tuple[int, int], list] = defaultdict(list)
    for (m, p, t), v in x.items():
        bpt[(p, t)].append(v)
        bmt[(m, t)].append(v)
        if not prm.allow_consecutive and (m, p, t + 1) in x:
            m2.AddBoolOr([v.Not(), x[(m, p, t + 1)].Not()])
    short = {}
    for p in range(P):
        for t in range(t0, T):
            s_ = sum(bpt[(p, t)])
            u = m2.NewIntVar(0, 0 if exact else prm.per_platform_min, "")
            m2.Add(s_ + u >= prm.per_platform_min)
            m2.Add(s_ <= prm.per_platform_max)
            short[(p, t)] = u
    for vs in bmt.values():
        if len(vs) > 1:
            m2.AddAtMostOne(vs)
    if not exact:
        m2.Minimize(sum(short.values()) * 2 - sum(x.values()))
    return m2, x, short


def _months(pb: Any, counts: dict, last_frozen: dict, t_end: float, seed: int, workers: int):
    """Stage 2 of :func:`warm_start`: the counts spread over months (None when impossible in time)."""
    m2, x, _ = _month_model(pb, counts, last_frozen, exact=True)
    kept = [v for k, v in x.items() if k in pb.previous and not isinstance(v, int)]
    if kept:
        m2.Maximize(sum(kept))
    s2 = cp_model.CpSolver()
    s2.parameters.max_time_in_seconds = max(0.5, t_end - time.perf_counter())
    s2.parameters.num_workers = workers
    s2.parameters.random_seed = seed
    st2 = s2.Solve(m2)
    _log(f"warm stage 2: {s2.StatusName(st2)} {s2.WallTime():.2f}s")
    if st2 not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return {k for k, v in x.items() if s2.Value(v)}


def relaxed_decomposition(pb: Any, time_limit_s: float, seed: int = 0, workers: int = 2
                          ) -> tuple[set[tuple[int, int, int]], list[tuple[str, tuple, int]]] | None:
    """The closest relaxed roster by the same two stages as :func:`warm_start`, with slack.

    Stage 1 (counts over all member-platform pairs; pairs beyond the cap allowed at a penalty) has
    slack on platforms' totals, members' ``member_min``/``member_max`` and ``sectors_min``; stage 2
    spreads the counts over months with a shortage slack per platform-month. Returns (duties, slack
    list as in :func:`solve_model`) or None when a stage finds nothing in time.
    """
    prm = pb.params
    n, P = pb.cost.shape
    T = len(pb.months)
    t0 = pb.frozen_upto
    free = T - t0
    cap = math.inf if prm.max_distance_m is None else float(prm.max_distance_m)
    t_end = time.perf_counter() + time_limit_s
    frozen_m: dict[int, int] = defaultdict(int)
    frozen_ps: dict[int, set] = defaultdict(set)
    last_frozen: dict[int, int] = {}
    for (m, p, t) in pb.frozen:
        if m >= 0:
            frozen_m[m] += 1
            frozen_ps[p].add(pb.member_sectors[m])
            if t == t0 - 1:
                last_frozen[m] = p
        else:
            frozen_ps[p].add(pb.frozen_sector.get((m, p, t), ""))
    lock_mp: dict[tuple[int, int], int] = defaultdict(int)
    for (m, p, t) in pb.locks:
        lock_mp[(m, p)] += 1
    # pairs beyond the cap only where they may be needed: members with fewer than two platforms
    # within it (their two nearest) and platforms with few members within it (their nearest)
    within = pb.dist_m <= cap
    pairs = {(int(m), int(p)) for m, p in zip(*np.nonzero(within))} | set(lock_mp)
    need_p = int(math.ceil(prm.per_platform_max * free / max(1, prm.member_max))) * 2 + 2
    for m in range(n):
        if within[m].sum() < 2:
            pairs |= {(m, int(p)) for p in np.argsort(pb.dist_m[m], kind="stable")[:2]}
    for p in range(P):
        if within[:, p].sum() < need_p:
            pairs |= {(int(m), p) for m in np.argsort(pb.dist_m[:, p], kind="stable")[:need_p]}
    res1 = _relaxed_counts_milp(pb, sorted(pairs), lock_mp, frozen_m, frozen_ps, cap,
                                max(0.5, (t_end - time.perf_counter()) * 0.7))
    if res1 is None:
        return None
    counts, slack = res1
    # stage 2: months; first every count exactly (feasibility), else with a shortage slack per
    # platform-month (placing as many counted duties as possible)

    for exact in (True, False):
        m2, x, short = _month_model(pb, counts, last_frozen, exact)
        s2 = cp_model.CpSolver()
        left = t_end - time.perf_counter()
        s2.parameters.max_time_in_seconds = max(0.5, min(left * 0.5, 10.0) if exact else left)
        s2.parameters.num_workers = workers
        s2.parameters.random_seed = seed
        st2 = s2.Solve(m2)
        if st2 in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            break
    _log(f"relaxed stage 2: {s2.StatusName(st2)} {s2.WallTime():.2f}s")
    if st2 not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    duties = {k for k, v in x.items() if s2.Value(v)}
    slack = [sl for sl in slack if sl[0] != "platform_short"]
    slack += [("platform_short", k, int(s2.Value(u))) for k, u in short.items() if s2.Value(u)]
    # members short after months were placed
    tot = defaultdict(int)
    for (m, _p, _t) in duties:
        tot[m] += 1
    have_short = {key[0]: v for kind, key, v in slack if kind == "member_short"}
    for m in range(n):
        miss = int(pb.member_min[m]) - tot[m] - frozen_m[m]
        if miss > have_short.get(m, 0):
            slack = [sl for sl in slack if not (sl[0] == "member_short" and sl[1] == (m,))]
            slack.append(("member_short", (m,), miss))
    locked = set(pb.locks)
    slack += [("over_cap", (m, p, t), 1) for (m, p, t) in duties
              if pb.dist_m[m, p] > cap and (m, p, t) not in locked]
    return duties, slack


class _Milp:
    """Columns (bounds, integrality, relaxation and cost weights) and sparse rows of a MILP being built."""

    def __init__(self) -> None:
        self.lb: list[float] = []
        self.ub: list[float] = []
        self.integ: list[int] = []
        self.relax_w: list[float] = []
        self.cost_w: list[float] = []
        self.names: list[Any] = []
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.vals: list[float] = []
        self.clo: list[float] = []
        self.chi: list[float] = []
        self.r = 0

    def var(self, lo_: float, hi_: float, rw: float, cw: float, name: Any, integer: bool = True) -> int:
        """A new column; its index."""
        self.lb.append(lo_)
        self.ub.append(hi_)
        self.integ.append(1 if integer else 0)
        self.relax_w.append(rw)
        self.cost_w.append(cw)
        self.names.append(name)
        return len(self.lb) - 1

    def con(self, terms: list[tuple[int, float]], lo_: float, hi_: float) -> None:
        """A new row ``lo_ <= sum(v * x[c]) <= hi_``."""
        for c, v in terms:
            self.rows.append(self.r)
            self.cols.append(c)
            self.vals.append(v)
        self.clo.append(lo_)
        self.chi.append(hi_)
        self.r += 1


def _relaxed_counts_milp(pb: Any, pairs: list[tuple[int, int]], lock_mp: dict, frozen_m: dict, frozen_ps: dict,
                         cap: float, time_limit_s: float, strict: bool = False,
                         prev_mp: dict | None = None, churn_w: float = 0.0, info: dict | None = None):
    """Stage 1 of :func:`relaxed_decomposition` as two MILPs (HiGHS): least relaxation, then least cost.

    Relaxation units: 1000 per unit of a hard-rule slack, 500 + 1 per km for a duty beyond the cap,
    1 per unit of fairness spread above the allowed one (fairness gives way first). ``strict``:
    only fairness may give way (the warm start's stage 1); ``prev_mp`` adds churn on counts at
    ``churn_w`` each. ``info`` receives the proven bound of the second MILP (cost + churn) and status.
    """
    prm = pb.params
    T = len(pb.months)
    t_end = time.perf_counter() + time_limit_s
    b = _Milp()
    nidx = {}
    for (m, p) in pairs:
        oks = [t for t in range(pb.frozen_upto, T) if pb.avail[m, t] and (m, p, t) not in pb.blocked]
        u_ = len(oks) if prm.allow_consecutive else alternating(oks)
        u_ = max(min(u_, prm.member_max + T), lock_mp.get((m, p), 0))
        over = pb.dist_m[m, p] > cap and not lock_mp.get((m, p))
        rw = (500 + math.ceil((pb.dist_m[m, p] - cap) / 1000)) if over else 0
        nidx[(m, p)] = b.var(lock_mp.get((m, p), 0), u_, rw, float(pb.cost[m, p]), ("n", m, p))
    by_m: dict[int, list[int]] = defaultdict(list)
    by_p: dict[int, list[int]] = defaultdict(list)
    by_ps: dict[tuple[int, str], list[int]] = defaultdict(list)
    for (m, p), k in nidx.items():
        by_m[m].append(k)
        by_p[p].append(k)
        by_ps[(p, pb.member_sectors[m])].append(k)
    f, slack_of = _member_count_rows(b, pb, by_m, frozen_m, strict)
    slack_of += _platform_count_rows(b, pb, by_p, by_ps, frozen_ps, strict)
    if prev_mp and churn_w:
        for (m, p), k in nidx.items():
            c0 = prev_mp.get((m, p), 0)
            d = b.var(0, T, 0, churn_w, ("churn", m, p))
            b.con([(d, 1.0), (k, -1.0)], -c0, math.inf)
            b.con([(d, 1.0), (k, 1.0)], c0, math.inf)
    x = _least_relaxation_then_cost(b, t_end, f, info)
    if x is None:
        return None
    counts = {(m, p): int(x[k]) for (m, p), k in nidx.items() if x[k] > 0}
    slack = [(kind, key, int(x[k])) for kind, key, k in slack_of if x[k] > 0]
    return counts, slack


def _member_count_rows(b: _Milp, pb: Any, by_m: dict[int, list[int]], frozen_m: dict, strict: bool
                       ) -> tuple[int, list[tuple[str, tuple, int]]]:
    """Member totals (min/max with slacks unless ``strict``) and the fairness spread; the spread
    column and the slack columns."""
    prm = pb.params
    T = len(pb.months)
    lo = b.var(0, prm.member_max + T, 0, 0, ("lo",))
    f = b.var(0, prm.member_max + T, 1, 0, ("fair",))
    slack_of: list[tuple[str, tuple, int]] = []
    for m in range(pb.cost.shape[0]):
        mn = int(pb.member_min[m])
        v = b.var(0, 0 if strict else mn, 1000, 0, ("member_short", m))
        e = b.var(0, 0 if strict else T, 1000, 0, ("member_over", m))
        slack_of += [("member_short", (m,), v), ("member_over", (m,), e)]
        terms = [(k, 1.0) for k in by_m[m]]
        b.con(terms + [(v, 1.0)], mn - frozen_m[m], math.inf)
        b.con(terms + [(e, -1.0)], -math.inf, prm.member_max - frozen_m[m])
        if m in pb.fair_members:
            b.con(terms + [(lo, -1.0)], -frozen_m[m], math.inf)
            b.con(terms + [(lo, -1.0), (f, -1.0)], -math.inf, prm.fairness_spread - frozen_m[m])
    return f, slack_of


def _platform_count_rows(b: _Milp, pb: Any, by_p: dict[int, list[int]], by_ps: dict[tuple[int, str], list[int]],
                         frozen_ps: dict, strict: bool) -> list[tuple[str, tuple, int]]:
    """Platform totals over the free months and sectors per platform (slacks unless ``strict``)."""
    prm = pb.params
    free = len(pb.months) - pb.frozen_upto
    slack_of: list[tuple[str, tuple, int]] = []
    for p in range(pb.cost.shape[1]):
        u = b.var(0, 0 if strict else prm.per_platform_min * free, 1000, 0, ("platform_total_short", p))
        b.con([(k, 1.0) for k in by_p[p]] + [(u, 1.0)], prm.per_platform_min * free, math.inf)
        b.con([(k, 1.0) for k in by_p[p]], -math.inf, prm.per_platform_max * free)
        if prm.sectors_min > 0:
            fs = {s_ for s_ in frozen_ps[p] if s_}
            bs = []
            for (q, sec), ks in by_ps.items():
                if q != p or sec in fs:
                    continue
                bv = b.var(0, 1, 0, 0, ("b", p, sec))
                b.con([(bv, 1.0)] + [(k, -1.0) for k in ks], -math.inf, 0)
                bs.append(bv)
            w = b.var(0, 0 if strict else prm.sectors_min, 1000, 0, ("sectors_short", p))
            slack_of.append(("sectors_short", (p,), w))
            b.con([(bv, 1.0) for bv in bs] + [(w, 1.0)], prm.sectors_min - len(fs), math.inf)
    return slack_of


def _least_relaxation_then_cost(b: _Milp, t_end: float, f: int, info: dict | None) -> np.ndarray | None:
    """Solve the least relaxation, then the least cost at that relaxation; the rounded columns (or None)."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix

    nv = len(b.lb)
    A = coo_matrix((b.vals, (b.rows, b.cols)), shape=(b.r, nv)).tocsr()
    cons = [LinearConstraint(A, b.clo, b.chi)]
    bounds = Bounds(np.array(b.lb, float), np.array(b.ub, float))
    integ_a = np.array(b.integ)
    rw = np.array(b.relax_w, float)
    opt = {"time_limit": max(0.2, (t_end - time.perf_counter()) * 0.5), "mip_rel_gap": 1e-6}
    a = milp(rw, constraints=cons, integrality=integ_a, bounds=bounds, options=opt)
    if info is not None:
        info["infeasible"] = a.status == 2
    if a.x is None:
        return None
    best = float(rw @ np.rint(a.x))
    cons2 = cons + [LinearConstraint(rw.reshape(1, -1), -math.inf, best + 1e-6)]
    opt2 = {"time_limit": max(0.2, t_end - time.perf_counter()), "mip_rel_gap": 1e-6}
    b_ = milp(np.array(b.cost_w, float), constraints=cons2, integrality=integ_a, bounds=bounds, options=opt2)
    x = np.rint(b_.x if b_.x is not None else a.x).astype(int)
    if info is not None:
        proven_a = a.status == 0
        dual = getattr(b_, "mip_dual_bound", None)
        info["fair_excess"] = int(x[f])
        info["bound"] = (float(dual) if proven_a and dual is not None and math.isfinite(dual) else -math.inf)
        info["proven"] = proven_a and b_.status == 0
    _log(f"relaxed stage 1 (HiGHS): relaxation {best:.0f} ({a.message}); cost ({b_.message})")
    return x
