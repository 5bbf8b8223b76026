"""Min-cost flow core shared by every assignment tier: results, errors, integer scaling, pricing.

Costs are non-negative floats in the caller's unit (metres for straight-line or road distance, seconds
for road time). Min-cost flow needs integer costs: every arc cost is multiplied by ``scale`` and rounded
to the nearest integer (``scale`` is picked so the largest arc cost becomes about 1e10, or less where
``cost x nodes`` would pass 1e17, keeping OR-Tools' internal products inside int64). Each arc is off by
at most ``0.5 / scale`` units, so the rounded optimum is within ``n * 0.5 / scale`` of the true optimum;
the reported ``bound`` subtracts exactly that, so ``bound <= true optimum <= objective`` always holds
and ``gap`` is honest (typically < 1e-9).

Lower loads use the standard demand-shift construction: member node ``j`` demands ``min_load[j]`` and
passes at most ``max_load[j] - min_load[j]`` more to the sink.

Exactness on large instances (:func:`~solvers.assignment.assign_constituents_geo`, and dense matrices
above ``DENSE_ARC_LIMIT``): only the ``k`` cheapest arcs per constituent are put in the network; after
the flow is optimal on that subset, member prices ``p`` (LP duals) are recovered by Bellman-Ford on the
residual exchange graph, the constituent duals are ``u_i = c_i,a(i) + p_a(i)`` and every missing arc is
priced: an arc with ``c_ij + p_j < u_i`` is added and the flow re-solved. When no arc prices out, (u, p)
is a feasible dual whose objective equals the primal cost, so the assignment is optimal for the full
bipartite problem (transportation LPs are integral). Each round also yields a valid Lagrangian lower
bound, so a run stopped by ``time_limit`` still reports an honest bound and gap.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ortools.graph.python import min_cost_flow

from geo_service.core.jsonsafe import finite, to_jsonable

from ..model import Cancelled as _ModelCancelled
from ..model import ModelResult


OPTIMAL, FEASIBLE, INFEASIBLE = "optimal", "feasible", "infeasible"
_TARGET_MAX_INT_COST = 1e10  # largest scaled arc cost (capped so cost * nodes stays far below 2**63)


class SolverError(RuntimeError):
    """The flow solver reported an unexpected status (cost or capacity out of range)."""


class Cancelled(_ModelCancelled):
    """The caller's ``should_stop()`` returned True (checked between flow solves)."""


StopCheck = Callable[[], bool] | None


def _check_stop(should_stop: StopCheck) -> None:
    if should_stop is not None and should_stop():
        raise Cancelled("optimisation cancelled")


@dataclass
class AssignmentResult(ModelResult):
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

    def to_dict(self) -> dict[str, Any]:
        """:meth:`summary` plus the assignment, the loads and the diagnostics (JSON-safe)."""
        return {**self.summary(), "is_optimal": self.is_optimal,
                "assignment": [int(j) for j in self.assignment], "loads": [int(v) for v in self.loads],
                "diagnostics": to_jsonable(self.diagnostics)}


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
