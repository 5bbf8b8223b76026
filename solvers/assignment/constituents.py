"""Tier 1 on coordinates: constituents -> members by straight-line distance, without an n x m matrix.

:func:`assign_constituents_geo` builds candidate arcs from k-nearest members (per sector when given)
and prices the rest (see :mod:`.flow`), so 100k x 1k instances stay exact in bounded memory.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from .flow import (
    AssignmentResult,
    FEASIBLE,
    INFEASIBLE,
    OPTIMAL,
    SolverError,
    StopCheck,
    _Arcs,
    _gap,
    _solve_priced,
)
from .transport import (
    _as_locks,
    _as_previous,
    _choose_scale,
    _dedup,
    _diagnose,
    _finish,
    _free_targets,
    _in_sorted,
    _loads,
    _prepare_locks,
    _relaxation,
)


def assign_constituents_geo(constituent_xy: np.ndarray, member_xy: np.ndarray, min_load: Any,
                            max_load: Any, *, constituent_sector: Sequence[Any] | None = None,
                            member_sector: Sequence[Any] | None = None,
                            cross_penalty: float | None = None, time_limit: float | None = None,
                            seed: int = 0, locks: Any = None, previous: np.ndarray | None = None,
                            churn_weight: float = 0.0, k: int = 12, target_load: Any = None,
                            over_target_penalty: float = 0.0, should_stop: StopCheck = None) -> AssignmentResult:
    """Constituents -> members by straight-line distance (metres) without a dense matrix; exact.

    ``constituent_xy`` (n, 2) and ``member_xy`` (m, 2) are projected coordinates in metres (e.g.
    ``Dataset.xy_m``). A constituent may only go to a member of its own sector (``*_sector`` labels;
    omitted = one sector), unless ``cross_penalty`` (metres) allows other sectors at that extra cost.
    Candidate arcs are the ``k`` nearest same-sector members (plus ``k`` nearest of any sector with a
    cross penalty, plus the previous member); missing arcs are priced with KD-tree radius queries
    against the LP duals until none prices out, which proves optimality on the complete bipartite
    graph (see module docstring). Other parameters and the result as :func:`assign_min_cost_flow`.
    """
    t0 = time.monotonic()
    cxy = np.asarray(constituent_xy, float).reshape(-1, 2)
    mxy = np.asarray(member_xy, float).reshape(-1, 2)
    n, m = len(cxy), len(mxy)
    lo, hi = _loads(min_load, m, "min_load"), _loads(max_load, m, "max_load")
    if (lo > hi).any():
        j = int(np.argmax(lo > hi))
        raise ValueError(f"member {j}: min_load {lo[j]} > max_load {hi[j]}")
    if not (np.isfinite(cxy).all() and np.isfinite(mxy).all()):
        raise ValueError("coordinates must be finite (metres)")
    csec, msec, names = _sector_codes(constituent_sector, member_sector, n, m)
    lockv = _as_locks(locks, n, m)
    prev = _as_previous(previous, n, m)
    deadline = None if time_limit is None else t0 + float(time_limit)
    w = float(churn_weight) if prev is not None else 0.0
    cross = cross_penalty is not None
    if not cross and len(names) > 1 and not (
            (lockv >= 0).any() and (msec[np.maximum(lockv, 0)] != csec)[lockv >= 0].any()):
        # sectors are independent problems: solve them one by one (flow time grows faster than size)
        tg = None if target_load is None else _loads(target_load, m, "target_load")
        return _by_sector(cxy, mxy, lo, hi, csec, msec, names, lockv, prev, w, k, deadline, t0, tg,
                          float(over_target_penalty), should_stop)
    geo = _GeoArcs(cxy, mxy, csec, msec, len(names), prev, w, cross_penalty)
    member_labels = [names[s] for s in msec]
    lo_f, hi_f, diags = _prepare_locks(lockv, lo, hi, m, member_labels)
    tgt_f = _free_targets(target_load, over_target_penalty, lockv, lo_f, hi_f, m)
    tpen = float(over_target_penalty) if tgt_f is not None else 0.0
    free = np.flatnonzero(lockv < 0)
    li = np.flatnonzero(lockv >= 0)
    locked_model = float(geo.model_cost(li, lockv[li]).sum())
    cdiag, lo_r, hi_r, unplaceable = _sector_diagnosis(csec[free], msec, len(names), cross, lo_f, hi_f,
                                                        member_labels, names)
    diags += cdiag
    relaxed = bool(diags)
    relaxation = _relaxation(diags, unplaceable, not cross) if relaxed else None
    geo.place = free[np.setdiff1d(np.arange(len(free)), unplaceable)]  # original indices of rows to solve
    allxy = np.vstack([cxy, mxy]) if n + m else np.zeros((1, 2))
    diag_len = float(np.hypot(*(allxy.max(0) - allxy.min(0)))) + 1.0
    geo.scale = _choose_scale(diag_len + (float(cross_penalty) if cross else 0.0) + w
                              + float(over_target_penalty or 0.0), n + m)
    sol = geo.solve(k, lo_r, hi_r, deadline, tgt_f, tpen, should_stop)
    # sol rows are indices into place; _finish expects rows indexed by "free" order
    pos_in_free = np.searchsorted(free, geo.place)
    full_sub = np.full(len(free), -1, np.int64)
    full_sub[pos_in_free] = sol["assign"]
    a = sol["arcs"]
    sol = dict(sol, assign=full_sub, arcs=_Arcs(pos_in_free[a.rows], a.cols, a.fcost))

    def pure(ri: np.ndarray, cj: np.ndarray) -> float:
        return float(geo.dist(ri, cj).sum())

    def allowed_of(ri: np.ndarray, cj: np.ndarray) -> np.ndarray:
        return np.ones(len(ri), bool) if cross else csec[ri] == msec[cj]

    return _finish(n, m, sol, geo.scale, lo, hi, lockv, free, locked_model, pure, prev, allowed_of,
                   diags, relaxed, relaxation, t0)


def _sector_codes(constituent_sector: Sequence[Any] | None, member_sector: Sequence[Any] | None, n: int, m: int
                  ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Sector index per constituent and per member, and the sector names (one ``all`` when none given)."""
    if constituent_sector is None and member_sector is None:
        return np.zeros(n, np.int64), np.zeros(m, np.int64), ["all"]
    cs = ["" for _ in range(n)] if constituent_sector is None else [str(s) for s in constituent_sector]
    ms = ["" for _ in range(m)] if member_sector is None else [str(s) for s in member_sector]
    names = sorted(set(cs) | set(ms))
    code = {s: q for q, s in enumerate(names)}
    return np.array([code[s] for s in cs], np.int64), np.array([code[s] for s in ms], np.int64), names


def _sector_diagnosis(fsec: np.ndarray, msec: np.ndarray, n_sectors: int, cross: bool, lo_f: np.ndarray,
                      hi_f: np.ndarray, member_labels: list[str], names: list[str]) -> tuple[Any, ...]:
    """:func:`_diagnose` per sector (one block of everyone with a cross-sector fallback)."""
    if cross:
        comp_rows, comp_cols = [np.arange(len(fsec))], [np.arange(len(msec))]
    else:
        comp_rows = [np.flatnonzero(fsec == s) for s in range(n_sectors)]
        comp_cols = [np.flatnonzero(msec == s) for s in range(n_sectors)]
    return _diagnose(comp_rows, comp_cols, lo_f, hi_f, member_labels,
                     block_labels=["all sectors"] if cross else names)


class _GeoArcs:
    """Arcs of the geo assignment: modelled costs, k-nearest candidates and the pricing oracle.

    Costs are straight-line metres, plus ``cross_penalty`` (metres) across sectors and the churn
    weight ``w`` for leaving the previous member. ``place`` (original indices of the rows solved) and
    ``scale`` (integer cost scale) are set before :meth:`solve`.
    """

    def __init__(self, cxy: np.ndarray, mxy: np.ndarray, csec: np.ndarray, msec: np.ndarray, n_sectors: int,
                 prev: np.ndarray | None, w: float, cross_penalty: float | None):
        self.cxy, self.mxy, self.csec, self.msec, self.n_sectors = cxy, mxy, csec, msec, n_sectors
        self.prev, self.w, self.cross_penalty = prev, w, cross_penalty
        self.cross = cross_penalty is not None
        self.m = len(mxy)
        self.place = np.zeros(0, np.int64)
        self.scale = 1.0
        self.kth = np.zeros(0)
        self.trees: dict[int, tuple[cKDTree, np.ndarray]] = {}

    def dist(self, ri: np.ndarray, cj: np.ndarray) -> np.ndarray:
        return np.hypot(*(self.cxy[ri] - self.mxy[cj]).T) if len(ri) else np.zeros(0)

    def model_cost(self, ri: np.ndarray, cj: np.ndarray) -> np.ndarray:
        """Modelled cost of arcs given by original indices."""
        c = self.dist(ri, cj)
        if self.cross:
            c = c + np.where(self.csec[ri] != self.msec[cj], float(self.cross_penalty), 0.0)
        if self.w and self.prev is not None:
            pv = self.prev[ri]
            c = c + np.where((pv >= 0) & (pv != cj), self.w, 0.0)
        return c

    def candidates(self, k: int) -> _Arcs:
        """k nearest same-sector members (+ k nearest of any sector when cross allowed, + the previous)."""
        place, m = self.place, self.m
        npl, psec = len(place), self.csec[place]
        self.trees, self.kth = {}, np.zeros(npl)
        rr, cc = [], []
        for s in range(self.n_sectors):
            mem = np.flatnonzero(self.msec == s)
            rows_s = np.flatnonzero(psec == s)
            if not len(mem):
                continue
            tree = cKDTree(self.mxy[mem])
            self.trees[s] = (tree, mem)
            if not len(rows_s):
                continue
            kk = min(k, len(mem))
            d, ix = tree.query(self.cxy[place[rows_s]], k=kk)
            d, ix = d.reshape(len(rows_s), kk), ix.reshape(len(rows_s), kk)
            self.kth[rows_s] = d[:, -1]
            rr.append(np.repeat(rows_s, kk))
            cc.append(mem[ix.ravel()])
        if self.cross and m and npl:
            kk = min(k, m)
            d, ix = cKDTree(self.mxy).query(self.cxy[place], k=kk)
            rr.append(np.repeat(np.arange(npl), kk))
            cc.append(ix.reshape(npl, kk).ravel())
        if self.prev is not None:
            pv = self.prev[place]
            ok = (pv >= 0) & (self.cross | (self.msec[np.maximum(pv, 0)] == psec)) if m else np.zeros(npl, bool)
            rr.append(np.flatnonzero(ok))
            cc.append(pv[ok])
        rows0 = np.concatenate(rr).astype(np.int64) if rr else np.zeros(0, np.int64)
        cols0 = np.concatenate(cc).astype(np.int64) if cc else np.zeros(0, np.int64)
        arcs = _dedup(_Arcs(rows0, cols0, np.zeros(len(rows0))), m)
        return _Arcs(arcs.rows, arcs.cols, self.model_cost(place[arcs.rows], arcs.cols))

    def _buckets(self, p: np.ndarray) -> list[tuple[cKDTree, np.ndarray, np.ndarray, float]]:
        """Members grouped by sector and price sign, each with the rows it may serve and its shift (m)."""
        psec, scale = self.csec[self.place], self.scale
        buckets: list[tuple[cKDTree, np.ndarray, np.ndarray, float]] = []
        for s, (tree, mem) in self.trees.items():
            rows_s = np.flatnonzero(psec == s)
            for sel in (p[mem] < 0, p[mem] >= 0):
                if sel.any():
                    bm = mem[sel]
                    buckets.append((cKDTree(self.mxy[bm]) if not sel.all() else tree, bm, rows_s,
                                    float(p[bm].min()) / scale))
            if self.cross:
                other = np.flatnonzero(self.msec != s)
                for sel in (p[other] < 0, p[other] >= 0):
                    if sel.any() and len(rows_s):
                        bm = other[sel]
                        buckets.append((cKDTree(self.mxy[bm]), bm, rows_s,
                                        float(p[bm].min()) / scale + float(self.cross_penalty)))
        return buckets

    def oracle(self, u: np.ndarray, p: np.ndarray, keys: np.ndarray) -> _Arcs:
        """Every arc not in ``keys`` whose scaled reduced cost is negative (KD-tree radius queries)."""
        place, m, scale = self.place, self.m, self.scale
        extra = np.zeros(len(place))
        if self.w and self.prev is not None:
            extra[self.prev[place] >= 0] = self.w  # every non-candidate arc leaves the previous member
        out_r, out_c = [], []
        # radius in metres beyond which no member of a price bucket can price out (conservative)
        base = (u - np.rint(extra * scale)) / scale + 1e-6
        for tree, bm, rows_s, shift in self._buckets(p):
            rad = base[rows_s] - shift
            need = rows_s[rad >= (self.kth[rows_s] if not self.cross else 0.0) - 1e-6]
            need = need[base[need] - shift > 0]
            if not len(need):
                continue
            hits = tree.query_ball_point(self.cxy[place[need]], base[need] - shift)
            lens = np.fromiter((len(h) for h in hits), np.int64, len(hits))
            if not lens.sum():
                continue
            ri = np.repeat(need, lens)
            cj = bm[np.concatenate([np.asarray(h, np.int64) for h in hits if len(h)])]
            kn = ri.astype(np.int64) * m + cj
            fresh = ~_in_sorted(kn, keys)
            ri, cj = ri[fresh], cj[fresh]
            fc = self.model_cost(place[ri], cj)
            bad = np.rint(fc * scale).astype(np.int64) + p[cj] < u[ri]
            out_r.append(ri[bad])
            out_c.append(cj[bad])
        if not out_r:
            return _Arcs(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
        a = _dedup(_Arcs(np.concatenate(out_r), np.concatenate(out_c), np.zeros(sum(map(len, out_r)))), m)
        return _Arcs(a.rows, a.cols, self.model_cost(place[a.rows], a.cols))

    def solve(self, k: int, lo_r: np.ndarray, hi_r: np.ndarray, deadline: float | None, tgt_f: Any, tpen: float,
              should_stop: StopCheck) -> dict[str, Any]:
        """Priced min-cost flow from the k-nearest arcs, widening k while they cannot meet the loads."""
        npl = len(self.place)
        arcs = self.candidates(k)
        while True:
            sol = _solve_priced(npl, self.m, arcs, lo_r, hi_r, self.scale, self.oracle if npl else None, deadline,
                                tgt_f, tpen, should_stop)
            if sol["status"] != INFEASIBLE:
                return sol
            # the k-nearest arcs alone cannot meet the loads (blocks are complete, so more arcs can)
            if k >= self.m:  # pragma: no cover - complete blocks are feasible after relaxation
                raise SolverError("geo assignment infeasible after relaxation")
            k = min(2 * k, self.m)
            arcs = self.candidates(k)


def _by_sector(cxy: np.ndarray, mxy: np.ndarray, lo: np.ndarray, hi: np.ndarray, csec: np.ndarray,
               msec: np.ndarray, names: list[str], lockv: np.ndarray, prev: np.ndarray | None, w: float,
               k: int, deadline: float | None, t0: float, tgt: np.ndarray | None = None,
               tpen: float = 0.0, should_stop: StopCheck = None) -> AssignmentResult:
    """:func:`assign_constituents_geo` per sector, merged (objectives and bounds add up)."""
    n, m = len(cxy), len(mxy)
    assign = np.full(n, -1, np.int64)
    reasons = np.full(n, "", dtype=object) if prev is not None else None
    diags: list[dict[str, Any]] = []
    relax: dict[str, Any] = {"max_load": {}, "min_load": {}, "unplaceable": 0}
    obj = bound = cost = 0.0
    statuses, rounds, arcs, scale = [], 0, 0, math.inf
    for s, name in enumerate(names):
        ci, mj = np.flatnonzero(csec == s), np.flatnonzero(msec == s)
        if not len(ci) and not len(mj):
            continue
        local = np.full(m + 1, -1, np.int64)  # slot m maps "none" (-1) to -1
        local[mj] = np.arange(len(mj))
        lk = local[np.where(lockv[ci] >= 0, lockv[ci], m)]
        pv = None if prev is None else local[np.where(prev[ci] >= 0, prev[ci], m)]
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        sub = assign_constituents_geo(cxy[ci], mxy[mj], lo[mj], hi[mj], constituent_sector=[name] * len(ci),
                                      member_sector=[name] * len(mj), time_limit=left, locks=lk, previous=pv,
                                      churn_weight=w, k=k, target_load=None if tgt is None else tgt[mj],
                                      over_target_penalty=tpen, should_stop=should_stop)
        ok = sub.assignment >= 0
        assign[ci[ok]] = mj[sub.assignment[ok]]
        if reasons is not None and sub.move_reasons is not None:
            reasons[ci] = sub.move_reasons
        diags += sub.diagnostics
        if sub.relaxation:
            relax["max_load"].update(sub.relaxation.get("max_load", {}))
            relax["min_load"].update(sub.relaxation.get("min_load", {}))
            relax["unplaceable"] += sub.relaxation.get("unplaceable", 0)
            if "alternative" in sub.relaxation:
                relax["alternative"] = sub.relaxation["alternative"]
        if math.isfinite(sub.objective):
            obj += sub.objective
            bound += sub.bound
        cost += sub.cost
        statuses.append(sub.status)
        rounds, arcs, scale = max(rounds, sub.rounds), arcs + sub.n_arcs, min(scale, sub.scale)
    status = (INFEASIBLE if INFEASIBLE in statuses else FEASIBLE if FEASIBLE in statuses else OPTIMAL)
    if prev is not None and w:
        # rows whose previous member is of another sector must move: their churn is a constant
        forced = int(((prev >= 0) & (msec[np.maximum(prev, 0)] != csec) & (assign >= 0)).sum())
        obj, bound = obj + w * forced, bound + w * forced
    loads = np.bincount(assign[assign >= 0], minlength=m)
    moved = None
    if prev is not None and reasons is not None:
        had = prev >= 0
        mv = had & (assign != prev)
        cross_prev = had & (msec[np.maximum(prev, 0)] != csec)
        reasons[cross_prev & mv] = "not_allowed"
        moved = {"moved": int(mv.sum()), "kept": int((had & ~mv).sum()),
                 "new": int((~had & (assign >= 0)).sum()),
                 **{r: int((reasons == r).sum()) for r in ("capacity", "improvement", "not_allowed")}}
    return AssignmentResult(status=status, objective=obj, bound=min(bound, obj), gap=_gap(obj, bound),
                            assignment=assign, loads=loads, diagnostics=diags,
                            relaxation=relax if diags else None, moved=moved, move_reasons=reasons, cost=cost,
                            time_s=time.monotonic() - t0, rounds=rounds, n_arcs=arcs,
                            scale=scale if math.isfinite(scale) else 1.0)
