"""The four assignment tiers on plain arrays (no dataset, no IO).

1. :func:`assign_constituents` / :func:`assign_constituents_geo`: constituents -> members, exact min-cost
   flow (OR-Tools ``SimpleMinCostFlow``) with per-member min/max loads, locks, minimal-change churn and
   infeasibility diagnosis with the closest feasible relaxation.
2. :func:`assign_villages_to_groups`: villages -> groups (min/max villages per group, cover the most
   people first, optional compactness by CP-SAT).
3. :func:`assign_townships_to_committees`: townships -> committees (most under-served first, or all).
4. :func:`assign_groups_to_stations`: whole groups -> stations within capacity (整建制入站).

Costs are non-negative floats in the caller's unit (metres for straight-line or road distance, seconds
for road time). Min-cost flow needs integer costs: every arc cost is multiplied by ``scale`` and rounded
to the nearest integer (``scale`` is picked so the largest arc cost becomes about 1e10, or less where
``cost x nodes`` would pass 1e17, keeping OR-Tools' internal products inside int64). Each arc is off by at most ``0.5 / scale`` units, so the rounded optimum is
within ``n * 0.5 / scale`` of the true optimum; the reported ``bound`` subtracts exactly that, so
``bound <= true optimum <= objective`` always holds and ``gap`` is honest (typically < 1e-9).

Lower loads use the standard demand-shift construction: member node ``j`` demands ``min_load[j]`` and
passes at most ``max_load[j] - min_load[j]`` more to the sink.

Exactness on large instances (:func:`assign_constituents_geo`, and dense matrices above
``DENSE_ARC_LIMIT``): only the ``k`` cheapest arcs per constituent are put in the network; after the
flow is optimal on that subset, member prices ``p`` (LP duals) are recovered by Bellman-Ford on the
residual exchange graph, the constituent duals are ``u_i = c_i,a(i) + p_a(i)`` and every missing arc is
priced: an arc with ``c_ij + p_j < u_i`` is added and the flow re-solved. When no arc prices out, (u, p)
is a feasible dual whose objective equals the primal cost, so the assignment is optimal for the full
bipartite problem (transportation LPs are integral). Each round also yields a valid Lagrangian lower
bound, so a run stopped by ``time_limit`` still reports an honest bound and gap.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ortools.graph.python import min_cost_flow
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from geo_service.jsonsafe import finite

OPTIMAL, FEASIBLE, INFEASIBLE = "optimal", "feasible", "infeasible"
DENSE_ARC_LIMIT = 4_000_000  # dense problems with more allowed arcs use candidate arcs + pricing
_TARGET_MAX_INT_COST = 1e10  # largest scaled arc cost (capped so cost * nodes stays far below 2**63)


class SolverError(RuntimeError):
    """The flow solver reported an unexpected status (cost or capacity out of range)."""


class Cancelled(Exception):
    """The caller's ``should_stop()`` returned True (checked between flow solves)."""


StopCheck = Callable[[], bool] | None


def _check_stop(should_stop: StopCheck) -> None:
    if should_stop is not None and should_stop():
        raise Cancelled("optimisation cancelled")


@dataclass
class AssignmentResult:
    """Result of one assignment tier.

    ``status`` is "optimal" (proven, up to the documented rounding), "feasible" (stopped by the time
    limit: ``bound``/``gap`` tell how far from optimal it may be) or "infeasible" (quotas cannot all be
    met: ``diagnostics`` say which and by how much, and ``assignment`` is the solution of the closest
    feasible relaxation described in ``relaxation``; items that cannot be placed at all are -1).
    ``objective`` is the modelled cost of ``assignment`` (cost units, including penalties and churn),
    ``bound`` a proven lower bound on the optimum, ``gap = (objective - bound) / objective``.
    """

    status: str
    objective: float
    bound: float
    gap: float
    assignment: np.ndarray
    loads: np.ndarray
    diagnostics: list[dict[str, Any]] = field(default_factory=list)
    relaxation: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    moved: dict[str, int] | None = None
    move_reasons: np.ndarray | None = None
    cost: float = 0.0  # pure cost (distance/time) of the assignment, without penalties or churn
    time_s: float = 0.0
    rounds: int = 1
    n_arcs: int = 0
    scale: float = 1.0
    solver: str = "min_cost_flow"

    @property
    def optimal(self) -> bool:
        return self.status == OPTIMAL

    def summary(self) -> dict[str, Any]:
        """JSON-safe figures (no per-item arrays)."""
        return {"status": self.status, "objective": _f(self.objective), "bound": _f(self.bound),
                "gap": _f(self.gap), "cost": _f(self.cost), "time_s": round(self.time_s, 4),
                "rounds": self.rounds, "n_arcs": self.n_arcs, "solver": self.solver,
                "moved": self.moved, "relaxation": self.relaxation}


_f = finite  # NaN/inf -> None


def _gap(obj: float, bound: float) -> float:
    if not math.isfinite(bound):
        return math.inf
    return max(0.0, (obj - bound) / max(abs(obj), 1e-9)) if obj > 1e-9 else max(0.0, obj - bound)


# ------------------------------------------------------------------------------------------------
# core: min-cost flow on candidate arcs
# ------------------------------------------------------------------------------------------------
def _solve_flow(n: int, m: int, rows: np.ndarray, cols: np.ndarray, icost: np.ndarray,
                lo: np.ndarray, hi: np.ndarray, tgt: np.ndarray | None = None, tpen: int = 0
                ) -> tuple[str, np.ndarray]:
    """Exact min-cost flow: every row to one column, column loads in [lo, hi].

    Nodes: rows 0..n-1 (supply 1), columns n..n+m-1 (demand lo), sink n+m (demand n - sum(lo)).
    With a target ``tgt``, each unit of load above it costs ``tpen`` (a second column->sink arc).
    Returns (status, assignment) with status OPTIMAL or INFEASIBLE.
    """
    mcf = min_cost_flow.SimpleMinCostFlow()
    sink = n + m
    cols_n = n + np.arange(m)
    if tgt is None or not tpen:
        t = np.concatenate([rows, cols_n]).astype(np.int32)
        h = np.concatenate([n + cols, np.full(m, sink)]).astype(np.int32)
        cap = np.concatenate([np.ones(len(rows), np.int64), (hi - lo).astype(np.int64)])
        cst = np.concatenate([icost, np.zeros(m, np.int64)])
    else:
        t = np.concatenate([rows, cols_n, cols_n]).astype(np.int32)
        h = np.concatenate([n + cols, np.full(2 * m, sink)]).astype(np.int32)
        cap = np.concatenate([np.ones(len(rows), np.int64), (tgt - lo).astype(np.int64),
                              (hi - tgt).astype(np.int64)])
        cst = np.concatenate([icost, np.zeros(m, np.int64), np.full(m, tpen, np.int64)])
    mcf.add_arcs_with_capacity_and_unit_cost(t, h, cap, cst)
    supplies = np.concatenate([np.ones(n, np.int64), -lo.astype(np.int64),
                               [-(n - int(lo.sum()))]])
    mcf.set_nodes_supplies(np.arange(n + m + 1, dtype=np.int32), supplies)
    st = mcf.solve()
    if st in (mcf.INFEASIBLE, mcf.UNBALANCED):
        return INFEASIBLE, np.full(n, -1)
    if st != mcf.OPTIMAL:
        raise SolverError(f"min-cost flow returned status {st}")
    flows = mcf.flows(np.arange(len(rows), dtype=np.int32))
    assign = np.full(n, -1, dtype=np.int64)
    used = flows > 0
    assign[rows[used]] = cols[used]
    return OPTIMAL, assign


def _member_prices(m: int, rows: np.ndarray, cols: np.ndarray, icost: np.ndarray,
                   assign: np.ndarray, load: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                   tgt: np.ndarray | None = None, tpen: int = 0) -> np.ndarray:
    """LP duals ``p`` of the column loads, from the optimal assignment on the candidate arcs.

    Dual feasibility on candidate arcs, ``c_i,a(i) + p_a(i) <= c_ij + p_j``, and the sign conditions
    (``p_j <= 0`` when below max, ``p_j >= 0`` when above min) form a system of difference constraints;
    its shortest-path solution (Bellman-Ford, vectorised) exists because the flow is optimal (no
    negative cycle). Prices are integers in scaled cost units.
    """
    z = m
    a = assign[rows]
    is_a = cols == a
    ca = np.zeros(len(assign), np.int64)
    ca[rows[is_a]] = icost[is_a]
    other = ~is_a
    u_n = cols[other]
    v_n = a[other]
    w = icost[other] - ca[rows[other]]
    below = np.flatnonzero(load < hi)
    above = np.flatnonzero(load > lo)
    # marginal load cost of the next unit (p_j <= it) and of the last unit (p_j >= it)
    nxt = np.zeros(m, np.int64) if tgt is None else np.where(load >= tgt, tpen, 0).astype(np.int64)
    last = np.zeros(m, np.int64) if tgt is None else np.where(load > tgt, tpen, 0).astype(np.int64)
    u_n = np.concatenate([u_n, np.full(len(below), z), above])
    v_n = np.concatenate([v_n, below, np.full(len(above), z)])
    w = np.concatenate([w, nxt[below], -last[above]])
    # aggregate parallel edges (keep the tightest), order by head for reduceat
    key = v_n.astype(np.int64) * (m + 1) + u_n
    order = np.lexsort((w, key))
    key, w = key[order], w[order]
    first = np.ones(len(key), bool)
    first[1:] = key[1:] != key[:-1]
    key, w = key[first], w[first]
    v_n, u_n = key // (m + 1), key % (m + 1)
    starts = np.flatnonzero(np.r_[True, v_n[1:] != v_n[:-1]]) if len(v_n) else np.zeros(0, int)
    heads = v_n[starts]
    dist = np.zeros(m + 1, np.int64)
    for _ in range(m + 3):
        if not len(w):
            break
        best = np.minimum.reduceat(dist[u_n] + w, starts)
        new = np.minimum(dist[heads], best)
        if np.array_equal(new, dist[heads]):
            break
        dist[heads] = new
    else:  # pragma: no cover - would mean the flow was not optimal
        raise SolverError("negative cycle while recovering member prices")
    return dist[:m] - dist[z]


def _load_cost(load: np.ndarray, tgt: np.ndarray | None, tpen: float) -> float:
    """Total over-target penalty of column loads."""
    return 0.0 if tgt is None or not tpen else float(tpen * np.maximum(load - tgt, 0).sum())


def _load_dual(p: np.ndarray, lo: np.ndarray, hi: np.ndarray, tgt: np.ndarray | None, tpen: int) -> int:
    """sum_j min over loads l in [lo, hi] of (penalty(l) - p_j l): the load part of the dual function."""
    cands = [lo, hi] if tgt is None else [lo, tgt, hi]
    vals = np.stack([(0 if tgt is None else tpen * np.maximum(c - tgt, 0)) - p * c for c in cands])
    return int(vals.min(axis=0).sum())


@dataclass
class _Arcs:
    rows: np.ndarray
    cols: np.ndarray
    fcost: np.ndarray  # float cost including penalties and churn

    def keys(self, m: int) -> np.ndarray:
        return self.rows.astype(np.int64) * m + self.cols


Oracle = Callable[[np.ndarray, np.ndarray, np.ndarray], "_Arcs"]


def _solve_priced(n: int, m: int, arcs: _Arcs, lo: np.ndarray, hi: np.ndarray, scale: float,
                  oracle: Oracle | None, deadline: float | None, tgt: np.ndarray | None = None,
                  tpen: float = 0.0, should_stop: StopCheck = None) -> dict[str, Any]:
    """Solve on candidate arcs, price the missing ones with ``oracle`` and repeat until none prices out.

    ``oracle(u, p, keys)`` returns the arcs (not in sorted ``keys``) whose scaled reduced cost
    ``round(c*scale) + p_j - u_i`` is negative. Returns a dict with status, assignment, integer
    objective, integer dual bound, rounds and arcs used.
    """
    rounds = 0
    itp = int(np.rint(tpen * scale)) if tgt is not None else 0
    if tgt is not None:
        tgt = np.clip(tgt, lo, hi)
    while True:
        rounds += 1
        _check_stop(should_stop)
        order = np.lexsort((arcs.cols, arcs.rows))
        arcs = _Arcs(arcs.rows[order], arcs.cols[order], arcs.fcost[order])
        icost = np.rint(arcs.fcost * scale).astype(np.int64)
        status, assign = _solve_flow(n, m, arcs.rows, arcs.cols, icost, lo, hi, tgt, itp)
        if status == INFEASIBLE:
            return {"status": INFEASIBLE, "assign": assign, "arcs": arcs, "rounds": rounds}
        load = np.bincount(assign, minlength=m)
        sel = arcs.cols == assign[arcs.rows]
        primal = int(icost[sel].sum()) + round(_load_cost(load, tgt, itp))
        load_pen = _load_cost(load, tgt, tpen)
        if oracle is None or n == 0:
            return {"status": OPTIMAL, "assign": assign, "arcs": arcs, "rounds": rounds,
                    "primal": primal, "dual": primal, "load_pen": load_pen, "tpen": tpen}
        p = _member_prices(m, arcs.rows, arcs.cols, icost, assign, load, lo, hi, tgt, itp)
        u = np.zeros(n, np.int64)
        u[arcs.rows[sel]] = icost[sel] + p[arcs.cols[sel]]
        keys = np.sort(arcs.keys(m))
        new = oracle(u, p, keys)
        # Lagrangian bound: u' = min(u, cheapest priced-out arc) is dual feasible for all arcs
        u2 = u.copy()
        if len(new.rows):
            red = np.rint(new.fcost * scale).astype(np.int64) + p[new.cols]
            np.minimum.at(u2, new.rows, red)
        dual = int(u2.sum()) + _load_dual(p, lo, hi, tgt, itp)
        if not len(new.rows):
            if dual != primal:  # pragma: no cover - a bug, never silently claim optimality
                raise SolverError(f"dual {dual} != primal {primal} at convergence")
            return {"status": OPTIMAL, "assign": assign, "arcs": arcs, "rounds": rounds,
                    "primal": primal, "dual": dual, "load_pen": load_pen, "tpen": tpen}
        if deadline is not None and time.monotonic() > deadline:
            return {"status": FEASIBLE, "assign": assign, "arcs": arcs, "rounds": rounds,
                    "primal": primal, "dual": dual, "load_pen": load_pen, "tpen": tpen}
        arcs = _Arcs(np.concatenate([arcs.rows, new.rows]), np.concatenate([arcs.cols, new.cols]),
                     np.concatenate([arcs.fcost, new.fcost]))


def _bins_with_slack(cost: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                     unassigned_penalty: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Closest-to-feasible assignment on a small dense problem (``np.inf`` = arc not allowed).

    Lexicographically: first the fewest (penalty-weighted) unassigned rows and load shortfalls,
    then the least cost. Returns (assignment with -1 for unassigned, shortfall per column).
    """
    n, m = cost.shape
    finite = np.isfinite(cost)
    rows, cols = np.nonzero(finite)
    c = cost[finite]
    scale = 1e8 / max(float(c.max()) if len(c) else 1.0, 1e-9)
    icost = np.rint(c * scale).astype(np.int64)
    big = int((m + 2) * (int(icost.max()) + 1 if len(icost) else 1))
    pen = np.ones(n, np.int64) if unassigned_penalty is None else np.maximum(
        1, np.asarray(unassigned_penalty, np.int64))
    mcf = min_cost_flow.SimpleMinCostFlow()
    sink, ph = n + m, n + m + 1
    t = np.concatenate([rows, n + np.arange(m), np.arange(n), np.full(m, ph), [ph]])
    h = np.concatenate([n + cols, np.full(m, sink), np.full(n, sink), n + np.arange(m), [sink]])
    cap = np.concatenate([np.ones(len(rows)), hi - lo, np.ones(n), lo, [lo.sum()]]).astype(np.int64)
    cst = np.concatenate([icost, np.zeros(m), big * pen, np.full(m, big), [0]]).astype(np.int64)
    mcf.add_arcs_with_capacity_and_unit_cost(t.astype(np.int32), h.astype(np.int32), cap, cst)
    sup = np.concatenate([np.ones(n), -lo, [-n], [lo.sum()]]).astype(np.int64)
    mcf.set_nodes_supplies(np.arange(n + m + 2, dtype=np.int32), sup)
    st = mcf.solve()
    if st != mcf.OPTIMAL:
        raise SolverError(f"min-cost flow (slack model) returned status {st}")
    fl = mcf.flows(np.arange(len(t), dtype=np.int32))
    assign = np.full(n, -1, np.int64)
    used = fl[:len(rows)] > 0
    assign[rows[used]] = cols[used]
    k0 = len(rows) + m + n
    return assign, fl[k0:k0 + m].astype(np.int64)


# ------------------------------------------------------------------------------------------------
# tier 1: constituents -> members
# ------------------------------------------------------------------------------------------------
def _as_locks(locks: Any, n: int, m: int) -> np.ndarray:
    out = np.full(n, -1, np.int64)
    if locks is None:
        return out
    items = locks.items() if isinstance(locks, dict) else enumerate(np.asarray(locks).tolist())
    for i, j in items:
        if j is None or int(j) < 0:
            continue
        if not 0 <= int(i) < n:
            raise ValueError(f"lock: constituent index {i} out of range 0..{n - 1}")
        if not 0 <= int(j) < m:
            raise ValueError(f"lock: constituent {i} pinned to member index {j}, out of range 0..{m - 1}")
        out[int(i)] = int(j)
    return out


def _as_previous(previous: Any, n: int, m: int) -> np.ndarray | None:
    """(n,) previous column per row (-1 = none), checked."""
    if previous is None:
        return None
    prev = np.asarray(previous, np.int64).reshape(-1)
    if prev.shape != (n,):
        raise ValueError(f"previous must have shape ({n},), got {prev.shape}")
    bad = np.flatnonzero((prev >= m) | (prev < -1))
    if len(bad):
        raise ValueError(f"previous[{bad[0]}] = {prev[bad[0]]}: expected a column index 0..{m - 1} or -1")
    return prev


def _loads(v: Any, m: int, name: str) -> np.ndarray:
    a = np.broadcast_to(np.asarray(v, dtype=np.int64), (m,)).copy()
    if (a < 0).any():
        raise ValueError(f"{name}: negative value {int(a.min())} at member index {int(np.argmin(a))}")
    return a


def _component_label(names: Sequence[str] | None, members: np.ndarray, fallback: str) -> str:
    if names is not None and len(members):
        labels = sorted({str(names[j]) for j in members})
        return "/".join(labels)
    return fallback


def _diagnose(comp_rows: list[np.ndarray], comp_cols: list[np.ndarray],
              lo: np.ndarray, hi: np.ndarray, member_labels: Sequence[str] | None,
              what: str = "constituents", who: str = "members", block_labels: Sequence[str] | None = None,
              row_labels: Sequence[str] | None = None
              ) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray, np.ndarray]:
    """Capacity check per independent block (sector). Returns diagnostics, relaxed lo/hi, unplaceable rows."""
    diags: list[dict[str, Any]] = []
    lo2, hi2 = lo.copy(), hi.copy()
    unplaceable: list[np.ndarray] = []
    for q, (rws, cls) in enumerate(zip(comp_rows, comp_cols)):
        nn = len(rws)
        label = (str(block_labels[q]) if block_labels is not None
                 else _component_label(member_labels, cls, f"block of {nn} {what}"))
        if len(cls) == 0:
            if nn:
                if block_labels is None and row_labels is not None:
                    names = [str(row_labels[r]) for r in rws[:5]]
                    label = ", ".join(names) + (f" and {nn - 5} more" if nn > 5 else "")
                hint = (" (allow the cross-sector fallback to place them)" if what == "constituents" else "")
                diags.append({"quota": "no_member", "scope": label, "demand": nn, "capacity": 0,
                              "short_by": nn,
                              "message": f"{label}: no {who} can take these {nn} {what}; "
                                         f"they stay unassigned{hint}"})
                unplaceable.append(rws)
            continue
        cap_hi, cap_lo = int(hi[cls].sum()), int(lo[cls].sum())
        uni_hi = len(set(hi[cls].tolist())) == 1
        uni_lo = len(set(lo[cls].tolist())) == 1
        if nn > cap_hi:
            x = int(hi[cls].max())
            while int(np.maximum(hi[cls], x).sum()) < nn:
                x += 1
            hi2[cls] = np.maximum(hi[cls], x)
            cap_txt = (f"{len(cls)} {who} x max {int(hi[cls][0])} = {cap_hi}" if uni_hi
                       else f"{len(cls)} {who} with total max {cap_hi}")
            diags.append({"quota": "max_load", "scope": label, "members": len(cls), "demand": nn,
                          "capacity": cap_hi, "short_by": nn - cap_hi, "relaxed_max": x,
                          "message": f"{label}: {cap_txt} < {nn} {what}, short by {nn - cap_hi}; "
                                     f"closest feasible relaxation: max raised to {x}"})
        elif nn < cap_lo:
            y = int(lo[cls].min())
            while y > 0 and int(np.minimum(lo[cls], y).sum()) > nn:
                y -= 1
            lo2[cls] = np.minimum(lo[cls], y)
            cap_txt = (f"{len(cls)} {who} x min {int(lo[cls][0])} = {cap_lo}" if uni_lo
                       else f"{len(cls)} {who} with total min {cap_lo}")
            diags.append({"quota": "min_load", "scope": label, "members": len(cls), "demand": nn,
                          "capacity": cap_lo, "short_by": cap_lo - nn, "relaxed_min": y,
                          "message": f"{label}: {cap_txt} > {nn} {what}, short by {cap_lo - nn}; "
                                     f"closest feasible relaxation: min lowered to {y}"})
    un = np.concatenate(unplaceable) if unplaceable else np.zeros(0, np.int64)
    return diags, lo2, hi2, un


def _finish(n: int, m: int, sol: dict[str, Any], scale: float, lo_orig: np.ndarray, hi_orig: np.ndarray,
            lockv: np.ndarray, free: np.ndarray, locked_model: float,
            pure_cost_of: Callable[[np.ndarray, np.ndarray], float], prev: np.ndarray | None,
            allowed_of: Callable[[np.ndarray, np.ndarray], np.ndarray] | None,
            diags: list[dict[str, Any]], relaxed: bool, relaxation: dict[str, Any] | None,
            t0: float) -> AssignmentResult:
    arcs: _Arcs = sol["arcs"]
    assign = np.full(n, -1, np.int64)
    if sol["status"] != INFEASIBLE:
        assign[free] = sol["assign"]
    locked = lockv >= 0
    assign[locked] = lockv[locked]
    loads = np.bincount(assign[assign >= 0], minlength=m)
    if sol["status"] == INFEASIBLE:
        obj = bound = math.nan
        status = INFEASIBLE
    else:
        sub = sol["assign"]
        sel = arcs.cols == sub[arcs.rows]
        obj = float(arcs.fcost[sel].sum()) + locked_model + sol.get("load_pen", 0.0)
        # each arc cost was rounded by <= 0.5 unit, and so was the over-target penalty per unit
        slack = 0.5 * len(free) * (2 if sol.get("load_pen") is not None and sol.get("tpen") else 1)
        bound = (sol["dual"] - slack) / scale + locked_model
        bound = min(bound, obj)
        status = INFEASIBLE if relaxed else sol["status"]
    ok = assign >= 0
    cost = pure_cost_of(np.flatnonzero(ok), assign[ok]) if ok.any() else 0.0
    moved = reasons = None
    if prev is not None:
        reasons = np.full(n, "", dtype=object)
        had = prev >= 0
        mv = had & (assign != prev)
        for i in np.flatnonzero(mv):
            j = prev[i]
            if allowed_of is not None and not allowed_of(np.array([i]), np.array([j]))[0]:
                reasons[i] = "not_allowed"
            elif loads[j] >= hi_orig[j]:
                reasons[i] = "capacity"
            else:
                reasons[i] = "improvement"
        moved = {"moved": int(mv.sum()), "kept": int((had & ~mv).sum()),
                 "new": int((~had & ok).sum()),
                 **{r: int((reasons == r).sum()) for r in ("capacity", "improvement", "not_allowed")}}
    return AssignmentResult(status=status, objective=obj, bound=bound, gap=_gap(obj, bound),
                            assignment=assign, loads=loads, diagnostics=diags, relaxation=relaxation,
                            moved=moved, move_reasons=reasons, cost=cost,
                            time_s=time.monotonic() - t0, rounds=sol["rounds"], n_arcs=len(arcs.rows),
                            scale=scale)


def _prepare_locks(lockv: np.ndarray, lo: np.ndarray, hi: np.ndarray, m: int,
                   member_labels: Sequence[str] | None, what: str = "constituents"
                   ) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Loads left for the free rows after the locked ones; locks above a max are kept (max raised)."""
    nl = np.bincount(lockv[lockv >= 0], minlength=m)
    diags = []
    for j in np.flatnonzero(nl > hi):
        name = member_labels[j] if member_labels is not None else f"member {j}"
        diags.append({"quota": "locks", "scope": str(name), "member": int(j), "demand": int(nl[j]),
                      "capacity": int(hi[j]), "short_by": int(nl[j] - hi[j]), "relaxed_max": int(nl[j]),
                      "message": f"column {j} ({name}): {int(nl[j])} locked {what} > max "
                                 f"{int(hi[j])}; locks are kept, max raised to {int(nl[j])}"})
    hi_f = np.maximum(hi - nl, 0)
    lo_f = np.maximum(lo - nl, 0)
    return lo_f, hi_f, diags


def _free_targets(target_load: Any, penalty: float, lockv: np.ndarray, lo_f: np.ndarray, hi_f: np.ndarray,
                  m: int) -> np.ndarray | None:
    """Targets left for the free rows after locks (None when no target penalty applies)."""
    if target_load is None or not penalty:
        return None
    if penalty < 0:
        raise ValueError(f"over_target_penalty must be >= 0, got {penalty}")
    tg = _loads(target_load, m, "target_load")
    nl = np.bincount(lockv[lockv >= 0], minlength=m)
    return np.clip(tg - nl, lo_f, hi_f)


def _choose_scale(max_cost: float, nodes: int) -> float:
    """Units per cost unit: the largest arc becomes ~1e10, or less so that cost x nodes stays < 1e17."""
    return min(_TARGET_MAX_INT_COST, 1e17 / max(nodes + 2, 1)) / max(max_cost, 1e-9)


def assign_constituents(cost: np.ndarray, min_load: Any, max_load: Any, allowed: np.ndarray | None = None,
                        time_limit: float | None = None, seed: int = 0, *, locks: Any = None,
                        previous: np.ndarray | None = None, churn_weight: float = 0.0,
                        cross_penalty: float | None = None, member_labels: Sequence[str] | None = None,
                        k: int = 16, what: str = "constituents", who: str = "members",
                        target_load: Any = None, over_target_penalty: float = 0.0,
                        should_stop: StopCheck = None, row_labels: Sequence[str] | None = None
                        ) -> AssignmentResult:
    """Assign every constituent (row) to exactly one member (column) at least total cost.

    Parameters
    ----------
    cost : (n, m) array of non-negative costs (metres or seconds) from constituent i to member j.
    min_load, max_load : ints or (m,) arrays, constituents per member (e.g. 8 and 12).
    allowed : optional (n, m) bool mask (e.g. same sector). Without ``cross_penalty`` disallowed arcs
        are forbidden; with it they are allowed at ``cost + cross_penalty`` (soft cross-sector fallback).
    time_limit : seconds; checked between pricing rounds (one flow solve is never interrupted).
    seed : accepted for a uniform signature; the flow solver is deterministic.
    locks : {constituent index: member index} or (n,) array with -1 = free; locked rows are kept exactly.
    previous : (n,) member index per constituent from an earlier run (-1 = none); with ``churn_weight``
        (cost units per moved constituent) the re-run moves as few as it must; ``moved`` and
        ``move_reasons`` ("capacity", "improvement", "not_allowed") report the moves.
    member_labels : optional names per member (e.g. sector) used in diagnostics.
    k : candidate arcs per constituent when the dense problem exceeds ``DENSE_ARC_LIMIT`` arcs.
    what, who : nouns for rows and columns in diagnostics (the other tiers reuse this solver).
    row_labels : optional names per row, used where a diagnostic lists rows (e.g. group ids).
    target_load, over_target_penalty : int or (m,) target loads; each constituent above a member's
        target costs ``over_target_penalty`` (cost units), pulling loads toward the target (still exact:
        a second, dearer column->sink arc in the flow).
    should_stop : optional callable checked before every flow solve; True raises :class:`Cancelled`.

    Returns an :class:`AssignmentResult`; ``assignment[i]`` is the member index of constituent i.
    """
    t0 = time.monotonic()
    cost = np.asarray(cost, dtype=float)
    if cost.ndim != 2:
        raise ValueError(f"cost must be a 2-d (constituents x members) array, got shape {cost.shape}")
    n, m = cost.shape
    if n and m and (not np.isfinite(cost).all() or (cost < 0).any()):
        bad = np.argwhere(~np.isfinite(cost) | (cost < 0))[0]
        raise ValueError(f"cost[{bad[0]}, {bad[1]}] = {cost[bad[0], bad[1]]}: costs must be finite and >= 0")
    lo, hi = _loads(min_load, m, "min_load"), _loads(max_load, m, "max_load")
    if (lo > hi).any():
        j = int(np.argmax(lo > hi))
        raise ValueError(f"member {j}: min_load {lo[j]} > max_load {hi[j]}")
    if allowed is not None:
        allowed = np.asarray(allowed, bool)
        if allowed.shape != cost.shape:
            raise ValueError(f"allowed has shape {allowed.shape}, expected {cost.shape}")
    lockv = _as_locks(locks, n, m)
    prev = _as_previous(previous, n, m)
    deadline = None if time_limit is None else t0 + float(time_limit)

    # modelled cost: distance + cross-sector penalty + churn for leaving the previous member
    model = cost.copy()
    hard = np.ones_like(cost, bool) if allowed is None else allowed.copy()
    if allowed is not None and cross_penalty is not None:
        model[~allowed] += float(cross_penalty)
        hard[:] = True
    if prev is not None and churn_weight:
        had = prev >= 0
        model[had] += float(churn_weight)
        model[np.flatnonzero(had), prev[had]] -= float(churn_weight)

    lo_f, hi_f, diags = _prepare_locks(lockv, lo, hi, m, member_labels, what)
    tgt_f = _free_targets(target_load, over_target_penalty, lockv, lo_f, hi_f, m)
    tpen = float(over_target_penalty) if tgt_f is not None else 0.0
    locked = lockv >= 0
    free = np.flatnonzero(~locked)
    locked_model = float(model[locked, lockv[locked]].sum())
    sub_hard = hard[free]
    sub_model = model[free]
    nf = len(free)

    # independent blocks (sectors) of the allowed graph, for diagnosis
    r, c = np.nonzero(sub_hard)
    g = coo_matrix((np.ones(len(r)), (r, nf + c)), shape=(nf + m, nf + m))
    ncomp, lab = connected_components(g, directed=False)
    comp_rows = [np.flatnonzero(lab[:nf] == q) for q in range(ncomp)]
    comp_cols = [np.flatnonzero(lab[nf:] == q) for q in range(ncomp)]
    keep = [q for q in range(ncomp) if len(comp_rows[q]) or len(comp_cols[q])]
    # members with no allowed constituent still need their min met: they form their own blocks
    cdiag, lo_r, hi_r, unplaceable = _diagnose(
        [comp_rows[q] for q in keep], [comp_cols[q] for q in keep], lo_f, hi_f, member_labels, what, who,
        row_labels=None if row_labels is None else [row_labels[i] for i in free])
    diags += cdiag
    relaxed = bool(diags)
    relaxation = None
    if relaxed:
        relaxation = {"max_load": {str(d["scope"]): d["relaxed_max"] for d in diags if "relaxed_max" in d},
                      "min_load": {str(d["scope"]): d["relaxed_min"] for d in diags if "relaxed_min" in d},
                      "unplaceable": len(unplaceable)}
        if allowed is not None and cross_penalty is None and any(
                d["quota"] in ("max_load", "no_member") for d in diags):
            relaxation["alternative"] = ("allow a cross-sector fallback (cross_penalty) to place the "
                                         "surplus with members of other sectors")
    place = np.setdiff1d(np.arange(nf), unplaceable)
    rows_all, cols_all = np.nonzero(sub_hard[place])
    max_c = (float(sub_model.max()) if sub_model.size else 1.0) + float(over_target_penalty or 0.0)
    scale = _choose_scale(max_c, n + m)

    pm = np.where(sub_hard[place], sub_model[place], np.inf)
    icm = np.rint(np.where(np.isfinite(pm), pm, 0) * scale).astype(np.int64)

    def oracle(u: np.ndarray, p: np.ndarray, keys: np.ndarray) -> _Arcs:
        """Every allowed arc with negative reduced cost, by blocks of rows."""
        rs, cs = [], []
        for s in range(0, len(place), 2048):
            blk = icm[s:s + 2048] + p[None, :]
            bad = (blk < u[s:s + 2048, None]) & np.isfinite(pm[s:s + 2048])
            a_, b_ = np.nonzero(bad)
            rs.append(a_ + s)
            cs.append(b_)
        rr_, cc_ = np.concatenate(rs), np.concatenate(cs)
        kn = rr_.astype(np.int64) * m + cc_
        new = ~_in_sorted(kn, keys)
        return _Arcs(rr_[new], cc_[new], pm[rr_[new], cc_[new]])

    kk = min(k, m)
    while True:
        if len(rows_all) <= DENSE_ARC_LIMIT or kk >= m:
            arcs = _Arcs(rows_all, cols_all, pm[rows_all, cols_all])
            sol = _solve_priced(len(place), m, arcs, lo_r, hi_r, scale, None, deadline, tgt_f, tpen,
                                should_stop)
            break
        # the kk cheapest allowed arcs per row (+ the previous arc), then pricing
        idx = np.argpartition(pm, kk - 1, axis=1)[:, :kk]
        rr = np.repeat(np.arange(len(place)), kk)
        cc = idx.ravel()
        fin = np.isfinite(pm[rr, cc])
        arcs = _Arcs(rr[fin], cc[fin], pm[rr[fin], cc[fin]])
        if prev is not None:
            pp = prev[free][place]
            hv = (pp >= 0) & np.isfinite(pm[np.arange(len(place)), np.maximum(pp, 0)])
            ra = np.flatnonzero(hv)
            arcs = _dedup(_Arcs(np.r_[arcs.rows, ra], np.r_[arcs.cols, pp[hv]],
                                np.r_[arcs.fcost, pm[ra, pp[hv]]]), m)
        sol = _solve_priced(len(place), m, arcs, lo_r, hi_r, scale, oracle, deadline, tgt_f, tpen,
                            should_stop)
        if sol["status"] != INFEASIBLE:
            break
        kk = min(2 * kk, m)  # too few arcs to meet the loads: widen, ending with the full model
    if sol["status"] == INFEASIBLE:
        # a Hall-type shortage inside a block: closest assignment with the fewest unplaced rows
        a_s, short = _bins_with_slack(pm, lo_r, hi_r)
        left = np.flatnonzero(a_s < 0)
        diags.append({"quota": "reachability", "scope": "allowed pairs", "demand": len(place),
                      "short_by": len(left),
                      "message": f"{len(left)} constituents cannot be placed within the max loads of "
                                 f"the members they may go to (indices {place[left][:20].tolist()}"
                                 f"{'...' if len(left) > 20 else ''}); "
                                 f"{int(short.sum())} member min places stay empty"})
        relaxed = True
        relaxation = (relaxation or {}) | {"unplaceable": int(len(unplaceable) + len(left))}
        ok = a_s >= 0
        rr = np.flatnonzero(ok)
        arcs = _Arcs(rr, a_s[ok], pm[rr, a_s[ok]])
        sub_assign = a_s
        sol = {"status": OPTIMAL, "assign": sub_assign, "arcs": arcs, "rounds": 1,
               "dual": float(np.rint(arcs.fcost * scale).sum())}
    # map "place" back into free rows
    full_sub = np.full(nf, -1, np.int64)
    if sol["status"] != INFEASIBLE:
        full_sub[place] = sol["assign"]
    arcs = sol["arcs"]
    sol = dict(sol, assign=full_sub, arcs=_Arcs(place[arcs.rows], arcs.cols, arcs.fcost))

    def pure(ri: np.ndarray, cj: np.ndarray) -> float:
        return float(cost[ri, cj].sum())

    def allowed_of(ri: np.ndarray, cj: np.ndarray) -> np.ndarray:
        return np.ones(len(ri), bool) if allowed is None or cross_penalty is not None else allowed[ri, cj]

    res = _finish(n, m, sol, scale, lo, hi, lockv, free, locked_model, pure, prev, allowed_of,
                  diags, relaxed, relaxation, t0)
    return res


def _in_sorted(x: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    if not len(sorted_keys):
        return np.zeros(len(x), bool)
    pos = np.searchsorted(sorted_keys, x)
    pos = np.minimum(pos, len(sorted_keys) - 1)
    return sorted_keys[pos] == x


def _dedup(a: _Arcs, m: int) -> _Arcs:
    _, first = np.unique(a.rows.astype(np.int64) * m + a.cols, return_index=True)
    return _Arcs(a.rows[first], a.cols[first], a.fcost[first])


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
    graph (see module docstring). Other parameters and the result as :func:`assign_constituents`.
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
    csec = np.zeros(n, np.int64) if constituent_sector is None else None
    msec = np.zeros(m, np.int64) if member_sector is None else None
    names: list[str] = ["all"]
    if csec is None or msec is None:
        cs = ["" for _ in range(n)] if constituent_sector is None else [str(s) for s in constituent_sector]
        ms = ["" for _ in range(m)] if member_sector is None else [str(s) for s in member_sector]
        names = sorted(set(cs) | set(ms))
        code = {s: q for q, s in enumerate(names)}
        csec = np.array([code[s] for s in cs], np.int64)
        msec = np.array([code[s] for s in ms], np.int64)
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

    def dist(ri: np.ndarray, cj: np.ndarray) -> np.ndarray:
        return np.hypot(*(cxy[ri] - mxy[cj]).T) if len(ri) else np.zeros(0)

    def model_cost(ri: np.ndarray, cj: np.ndarray) -> np.ndarray:
        """Modelled cost of arcs given by original indices."""
        c = dist(ri, cj)
        if cross:
            c = c + np.where(csec[ri] != msec[cj], float(cross_penalty), 0.0)
        if w and prev is not None:
            pv = prev[ri]
            c = c + np.where((pv >= 0) & (pv != cj), w, 0.0)
        return c

    member_labels = [names[s] for s in msec]
    lo_f, hi_f, diags = _prepare_locks(lockv, lo, hi, m, member_labels)
    tgt_f = _free_targets(target_load, over_target_penalty, lockv, lo_f, hi_f, m)
    tpen = float(over_target_penalty) if tgt_f is not None else 0.0
    locked = lockv >= 0
    free = np.flatnonzero(~locked)
    li = np.flatnonzero(locked)
    locked_model = float(model_cost(li, lockv[li]).sum())
    fsec = csec[free]
    if cross:
        comp_rows = [np.arange(len(free))]
        comp_cols = [np.arange(m)]
    else:
        comp_rows = [np.flatnonzero(fsec == s) for s in range(len(names))]
        comp_cols = [np.flatnonzero(msec == s) for s in range(len(names))]
    cdiag, lo_r, hi_r, unplaceable = _diagnose(comp_rows, comp_cols, lo_f, hi_f, member_labels,
                                                block_labels=["all sectors"] if cross else names)
    diags += cdiag
    relaxed = bool(diags)
    relaxation = None
    if relaxed:
        relaxation = {"max_load": {str(d["scope"]): d["relaxed_max"] for d in diags if "relaxed_max" in d},
                      "min_load": {str(d["scope"]): d["relaxed_min"] for d in diags if "relaxed_min" in d},
                      "unplaceable": len(unplaceable)}
        if not cross and any(d["quota"] in ("max_load", "no_member") for d in diags):
            relaxation["alternative"] = ("allow a cross-sector fallback (cross_penalty) to place the "
                                         "surplus with members of other sectors")
    place = free[np.setdiff1d(np.arange(len(free)), unplaceable)]  # original indices of rows to solve
    npl = len(place)
    psec = csec[place]
    allxy = np.vstack([cxy, mxy]) if n + m else np.zeros((1, 2))
    diag_len = float(np.hypot(*(allxy.max(0) - allxy.min(0)))) + 1.0
    scale = _choose_scale(diag_len + (float(cross_penalty) if cross else 0.0) + w
                          + float(over_target_penalty or 0.0), n + m)

    def candidates(k: int) -> tuple[_Arcs, np.ndarray, dict[int, tuple[cKDTree, np.ndarray]]]:
        """k nearest same-sector members (+ k nearest of any sector when cross allowed)."""
        trees: dict[int, tuple[cKDTree, np.ndarray]] = {}
        rr, cc = [], []
        kth = np.zeros(npl)
        for s in range(len(names)):
            mem = np.flatnonzero(msec == s)
            rows_s = np.flatnonzero(psec == s)
            if not len(mem):
                continue
            tree = cKDTree(mxy[mem])
            trees[s] = (tree, mem)
            if not len(rows_s):
                continue
            kk = min(k, len(mem))
            d, ix = tree.query(cxy[place[rows_s]], k=kk)
            d, ix = d.reshape(len(rows_s), kk), ix.reshape(len(rows_s), kk)
            kth[rows_s] = d[:, -1]
            rr.append(np.repeat(rows_s, kk))
            cc.append(mem[ix.ravel()])
        all_tree = cKDTree(mxy) if m else None
        if cross and m and npl:
            kk = min(k, m)
            d, ix = all_tree.query(cxy[place], k=kk)
            rr.append(np.repeat(np.arange(npl), kk))
            cc.append(ix.reshape(npl, kk).ravel())
        if prev is not None:
            pv = prev[place]
            ok = (pv >= 0) & (cross | (msec[np.maximum(pv, 0)] == psec)) if m else np.zeros(npl, bool)
            rr.append(np.flatnonzero(ok))
            cc.append(pv[ok])
        rows0 = np.concatenate(rr).astype(np.int64) if rr else np.zeros(0, np.int64)
        cols0 = np.concatenate(cc).astype(np.int64) if cc else np.zeros(0, np.int64)
        arcs = _dedup(_Arcs(rows0, cols0, np.zeros(len(rows0))), m)
        arcs = _Arcs(arcs.rows, arcs.cols, model_cost(place[arcs.rows], arcs.cols))
        return arcs, kth, trees

    arcs, kth, trees = candidates(k)
    extra = np.zeros(npl)
    if w and prev is not None:
        extra[prev[place] >= 0] = w  # every non-candidate arc leaves the previous member

    def oracle(u: np.ndarray, p: np.ndarray, keys: np.ndarray) -> _Arcs:
        out_r, out_c = [], []
        # radius in metres beyond which no member of a price bucket can price out (conservative)
        base = (u - np.rint(extra * scale)) / scale + 1e-6
        buckets: list[tuple[cKDTree, np.ndarray, np.ndarray, float]] = []
        for s, (tree, mem) in trees.items():
            rows_s = np.flatnonzero(psec == s)
            for sel in (p[mem] < 0, p[mem] >= 0):
                if sel.any():
                    bm = mem[sel]
                    buckets.append((cKDTree(mxy[bm]) if not sel.all() else tree, bm, rows_s,
                                    float(p[bm].min()) / scale))
            if cross:
                other = np.flatnonzero(msec != s)
                for sel in (p[other] < 0, p[other] >= 0):
                    if sel.any() and len(rows_s):
                        bm = other[sel]
                        buckets.append((cKDTree(mxy[bm]), bm, rows_s,
                                        float(p[bm].min()) / scale + float(cross_penalty)))
        for tree, bm, rows_s, shift in buckets:
            rad = base[rows_s] - shift
            need = rows_s[rad >= (kth[rows_s] if not cross else 0.0) - 1e-6]
            need = need[base[need] - shift > 0]
            if not len(need):
                continue
            hits = tree.query_ball_point(cxy[place[need]], base[need] - shift)
            lens = np.fromiter((len(h) for h in hits), np.int64, len(hits))
            if not lens.sum():
                continue
            ri = np.repeat(need, lens)
            cj = bm[np.concatenate([np.asarray(h, np.int64) for h in hits if len(h)])]
            kn = ri.astype(np.int64) * m + cj
            fresh = ~_in_sorted(kn, keys)
            ri, cj = ri[fresh], cj[fresh]
            fc = model_cost(place[ri], cj)
            bad = np.rint(fc * scale).astype(np.int64) + p[cj] < u[ri]
            out_r.append(ri[bad])
            out_c.append(cj[bad])
        if not out_r:
            return _Arcs(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
        a = _dedup(_Arcs(np.concatenate(out_r), np.concatenate(out_c), np.zeros(sum(map(len, out_r)))), m)
        return _Arcs(a.rows, a.cols, model_cost(place[a.rows], a.cols))

    while True:
        sol = _solve_priced(npl, m, arcs, lo_r, hi_r, scale, oracle if npl else None, deadline, tgt_f,
                            tpen, should_stop)
        if sol["status"] != INFEASIBLE:
            break
        # the k-nearest arcs alone cannot meet the loads (blocks are complete, so more arcs can)
        if k >= m:  # pragma: no cover - complete blocks are feasible after relaxation
            raise SolverError("geo assignment infeasible after relaxation")
        k = min(2 * k, m)
        arcs, kth, trees = candidates(k)
    # sol rows are indices into place; _finish expects rows indexed by "free" order
    pos_in_free = np.searchsorted(free, place)
    full_sub = np.full(len(free), -1, np.int64)
    full_sub[pos_in_free] = sol["assign"]
    a = sol["arcs"]
    sol = dict(sol, assign=full_sub, arcs=_Arcs(pos_in_free[a.rows], a.cols, a.fcost))

    def pure(ri: np.ndarray, cj: np.ndarray) -> float:
        return float(dist(ri, cj).sum())

    def allowed_of(ri: np.ndarray, cj: np.ndarray) -> np.ndarray:
        return np.ones(len(ri), bool) if cross else csec[ri] == msec[cj]

    return _finish(n, m, sol, scale, lo, hi, lockv, free, locked_model, pure, prev, allowed_of,
                   diags, relaxed, relaxation, t0)


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


# ------------------------------------------------------------------------------------------------
# tier 2: villages -> groups
# ------------------------------------------------------------------------------------------------
def _select_by_priority(priority: np.ndarray, capacity: int, secondary: np.ndarray | None = None
                        ) -> np.ndarray:
    """Indices of the ``capacity`` items with the highest priority (ties: secondary desc, then index)."""
    n = len(priority)
    if capacity >= n:
        return np.arange(n)
    sec = np.zeros(n) if secondary is None else np.asarray(secondary, float)
    order = np.lexsort((np.arange(n), -sec, -np.asarray(priority, float)))
    return np.sort(order[:max(capacity, 0)])


def assign_villages_to_groups(cost: np.ndarray, population: Sequence[float], min_load: Any = 2,
                              max_load: Any = 4, *, compactness: float = 0.0, time_limit: float | None = 10.0,
                              seed: int = 0, num_workers: int = 1, locks: Any = None,
                              previous: np.ndarray | None = None, churn_weight: float = 0.0,
                              group_labels: Sequence[str] | None = None, target_load: Any = None,
                              target_penalty: float = 0.0) -> AssignmentResult:
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
    group's target (as in :func:`assign_constituents`).
    """
    t0 = time.monotonic()
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
    diags: list[dict[str, Any]] = []
    typical = max(int(np.median(hi)) if g else 1, 1)
    extra: dict[str, Any] = {"uncovered": uncovered.tolist(), "groups_needed": 0,
                             "uncovered_population": float(pop[uncovered].sum())}
    if len(uncovered):
        need = math.ceil(len(uncovered) / typical)
        extra["groups_needed"] = need
        diags.append({"quota": "capacity", "severity": "warning", "scope": "groups",
                      "demand": len(free), "capacity": cap, "short_by": len(uncovered),
                      "uncovered": uncovered.tolist(), "groups_needed": need,
                      "message": f"{g} groups x max {typical} cannot take {len(free)} villages: "
                                 f"{len(uncovered)} villages ({int(pop[uncovered].sum())} people) stay "
                                 f"uncovered; {need} more groups would be needed"})
    if not len(rows):  # nothing to cover: every group's min is moot, not a shortage
        return AssignmentResult(status=OPTIMAL, objective=0.0, bound=0.0, gap=0.0, assignment=np.full(n, -1),
                                loads=np.zeros(g, np.int64), diagnostics=diags, extra=extra,
                                moved={"moved": 0, "kept": 0, "new": 0} if previous is not None else None,
                                move_reasons=np.full(n, "", object) if previous is not None else None,
                                time_s=time.monotonic() - t0, n_arcs=0)
    sub_prev = None if previous is None else np.asarray(previous, np.int64)[rows]
    sub = assign_constituents(cost[rows], lo, hi, locks=lockv[rows], previous=sub_prev,
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


def _compact_cpsat(res: AssignmentResult, cost: np.ndarray, rows: np.ndarray, lockv: np.ndarray,
                   loads: np.ndarray, lo: np.ndarray, hi: np.ndarray, sub: AssignmentResult,
                   compactness: float, time_limit: float | None, seed: int, num_workers: int,
                   prev: np.ndarray | None, churn_weight: float) -> None:
    """Re-solve the covered villages with a compactness term (CP-SAT), hinted by the flow solution."""
    from ortools.sat.python import cp_model

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
                                   committee_labels: Sequence[str] | None = None) -> AssignmentResult:
    """Give each committee ``per_committee`` townships, the most under-served first.

    ``cost`` (townships x committees) is the distance in metres from the committee's members' centre to
    the township. Townships are ranked by ``uncovered_population`` (people in gap villages), ties by
    ``population``; the top ``committees x per_committee`` are assigned (exact min-cost flow); the
    under-served ones left over are listed in ``extra["unassigned"]`` with ``extra["committees_needed"]``.
    With ``all_townships`` every township is assigned and loads become ``floor/ceil(T / K)`` around
    ``per_committee``.
    """
    t0 = time.monotonic()
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
        diags.append({"quota": "capacity", "severity": "warning", "scope": "committees",
                      "short_by": len(under), "unassigned": under.tolist(),
                      "committees_needed": extra["committees_needed"],
                      "message": f"{k} committees x {per_committee} townships leave {len(under)} under-served "
                                 f"townships ({int(up[under].sum())} uncovered people) without a committee; "
                                 f"{extra['committees_needed']} more committees would be needed"})
    sub_prev = None if previous is None else np.asarray(previous, np.int64)[rows]
    sub = assign_constituents(cost[rows], lo, hi, locks=lockv[rows], previous=sub_prev,
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
    res = assign_constituents(cost, 0, cap, allowed=allowed, locks=locks, previous=previous,
                              churn_weight=churn_weight, member_labels=station_labels,
                              what="groups", who="stations", row_labels=group_labels)
    short = sum(d.get("short_by", 0) for d in res.diagnostics if d["quota"] in ("max_load", "no_member"))
    res.extra["places_needed"] = int(short)
    return res
