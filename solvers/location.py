"""Facility location models on a plain cost matrix: LSCP, MCLP, p-median and p-center.

Every function takes ``cost``, an ``(n_demand, n_sites)`` array (metres, seconds or any other
non-negative unit; ``inf`` marks a pair that cannot be served at all, e.g. no road), and returns a
:class:`LocationResult` with an honest ``status`` (``optimal`` / ``feasible`` / ``infeasible``),
``objective``, ``bound``, ``gap``, the opened sites, the assignment and per-demand diagnostics.
Conventions follow the literature and PySAL spopt: ``fixed`` are site indices that are always open,
``p`` counts every open site including the fixed ones, and a demand is covered when
``cost <= radius``.

Solvers: the MIPs are solved with HiGHS (``highspy``), single-threaded and seeded, so the same
input and ``seed`` give the same answer. The uncapacitated p-median uses the exact *radius*
formulation of Elloumi (2010, "A tighter formulation of the p-median problem", J. Comb. Optim.
19:69-83) in the form of García, Labbé & Marín (2011, "Solving large p-median problems with a
radius formulation", INFORMS J. Comput. 23:546-556): one continuous variable per demand and
*distinct* distance level, only for levels up to a per-demand cut that grows by row generation
(first on the LP relaxation, then on the MIP) until the cut-off model is provably exact. A fast
interchange heuristic (Teitz & Bart 1968, with Whitaker's 1983 fast swap evaluation) supplies the
starting incumbent. For small ``p`` (at most ``_LAGRANGIAN_MAX_P`` free sites) the LP gap is
largest and the radius model biggest, so the uncapacitated p-median is instead solved by a Lagrangian
branch-and-bound over site decisions (relaxing the assignment constraints, as in Beasley 1985,
"A note on solving large p-median problems", EJOR 21:270-273): subgradient ascent per node,
Lagrangian reduced-cost fixing of sites, depth-first branching on sites; every pruning bound is a
Lagrangian value and so a valid lower bound. The capacitated variants use a plain assignment MIP
(fine for county sizes).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from geo_service.jsonsafe import finite

try:  # optional (the project's "fast" extra): a fused loop for the Lagrangian's inner step
    import numba as _numba
except ImportError:  # pragma: no cover - depends on the environment
    _numba = None

__all__ = [
    "LocationResult",
    "set_cover",
    "max_coverage",
    "p_median",
    "p_center",
    "greedy_interchange",
    "brute_force",
]

_EPS = 1e-9


# --------------------------------------------------------------------------------------------
# result
# --------------------------------------------------------------------------------------------
@dataclass
class LocationResult:
    """Outcome of one location model.

    Attributes:
        model: ``"lscp"``, ``"mclp"``, ``"pmedian"`` or ``"pcenter"``.
        status: ``"optimal"`` (proven), ``"feasible"`` (best found within the time limit; see
            ``bound``/``gap``) or ``"infeasible"`` (``message`` and ``uncovered`` say why).
        objective: value of ``selected`` (open sites for LSCP, covered weight for MCLP, total
            weighted cost for p-median, largest cost for p-center); ``nan`` when infeasible.
        bound: proven bound on the optimum (lower bound when minimising, upper when maximising).
        gap: ``|objective - bound| / max(|objective|, 1e-9)``; 0 when optimal.
        selected: sorted indices of every open site (fixed ones included).
        assignment: site index per demand, ``-1`` where the demand is not covered/served.
        uncovered: one dict per demand left uncovered: ``demand``, ``reason`` (``no_candidate``:
            no site within the radius at all; ``not_selected``: a site could cover it but the
            budget ``p`` went elsewhere; ``capacity``: covering sites are full), ``nearest_site``,
            ``nearest_cost`` and a readable ``message``.
        message: one-line human summary (why infeasible, what limited the search).
        time_s: wall-clock seconds spent.
        stats: solver details (iterations, rows, columns, heuristic value...).
    """

    model: str
    status: str
    objective: float
    bound: float
    gap: float
    selected: np.ndarray
    assignment: np.ndarray
    uncovered: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""
    time_s: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def is_optimal(self) -> bool:
        return self.status == "optimal"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (``nan``/``inf`` become ``None``)."""

        num = finite
        return {
            "model": self.model, "status": self.status, "objective": num(self.objective),
            "bound": num(self.bound), "gap": num(self.gap),
            "selected": [int(j) for j in self.selected],
            "assignment": [int(j) for j in self.assignment],
            "uncovered": [{k: (num(v) if isinstance(v, float) else v) for k, v in d.items()}
                          for d in self.uncovered],
            "message": self.message, "time_s": round(float(self.time_s), 4),
            "stats": {k: (num(v) if isinstance(v, float) else v) for k, v in self.stats.items()},
        }


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------
def _check_cost(cost: Any) -> np.ndarray:
    c = np.asarray(cost, dtype=float)
    if c.ndim != 2:
        raise ValueError(f"cost must be a 2-D (n_demand x n_sites) array, got shape {c.shape}")
    if c.shape[1] == 0:
        raise ValueError("cost has no candidate sites (0 columns)")
    if np.isnan(c).any():
        i, j = np.argwhere(np.isnan(c))[0]
        raise ValueError(f"cost[{i}, {j}] is NaN; use inf for a pair that cannot be served")
    if (c < 0).any():
        i, j = np.argwhere(c < 0)[0]
        raise ValueError(f"cost[{i}, {j}] = {c[i, j]} is negative; costs must be >= 0")
    return c


def _check_weights(weights: Any, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=float).ravel()
    if w.shape[0] != n:
        raise ValueError(f"weights has {w.shape[0]} entries but cost has {n} demand rows")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"weights[{i}] = {w[i]} must be a finite number >= 0")
    return w


def _check_fixed(fixed: Any, m: int) -> np.ndarray:
    if fixed is None:
        return np.zeros(0, dtype=int)
    f = np.asarray(list(fixed), dtype=int).ravel()
    bad = (f < 0) | (f >= m)
    if bad.any():
        raise ValueError(f"fixed site index {int(f[bad][0])} is out of range 0..{m - 1}")
    return np.unique(f)


def _check_p(p: Any, m: int, n_fixed: int) -> int:
    if int(p) != p:
        raise ValueError(f"p must be an integer, got {p!r}")
    p = int(p)
    if p < max(1, n_fixed):
        raise ValueError(f"p = {p} is smaller than the {n_fixed} fixed sites (p counts fixed sites) or < 1")
    if p > m:
        raise ValueError(f"p = {p} exceeds the number of candidate sites ({m})")
    return p


def _check_capacity(capacity: Any, m: int) -> np.ndarray | None:
    if capacity is None:
        return None
    cap = np.broadcast_to(np.asarray(capacity, dtype=float), (m,)).copy()
    bad = np.isnan(cap) | (cap < 0)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise ValueError(f"capacity[{j}] = {cap[j]} must be >= 0 (inf for unlimited)")
    return cap


def _gap(obj: float, bound: float) -> float:
    if not (np.isfinite(obj) and np.isfinite(bound)):
        return float("inf")
    return abs(obj - bound) / max(abs(obj), 1e-9)


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _nearest(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    j = np.argmin(cost, axis=1)
    return j, cost[np.arange(cost.shape[0]), j]


def _uncovered_diag(cost: np.ndarray, radius: float | None, assignment: np.ndarray,
                    demands: np.ndarray | None = None, capacity_bound: bool = False) -> list[dict]:
    """Explain each demand with ``assignment == -1``."""
    out = []
    near_j, near_c = _nearest(cost)
    idx = np.flatnonzero(assignment < 0) if demands is None else demands
    for i in idx:
        nc = float(near_c[i])
        if not np.isfinite(nc):
            reason, msg = "no_candidate", "no candidate site can serve it at all (every cost is inf)"
        elif radius is not None and nc > radius + _EPS:
            reason = "no_candidate"
            msg = (f"no candidate within the threshold {_fmt(radius)}: "
                   f"the nearest candidate is {_fmt(nc)} away")
        elif capacity_bound:
            reason = "capacity"
            msg = "sites within the threshold are open but full (capacity)"
        else:
            reason = "not_selected"
            msg = (f"a candidate within the threshold exists (nearest {_fmt(nc)} away) "
                   "but the site budget p was spent on demands worth more")
        out.append({"demand": int(i), "reason": reason, "nearest_site": int(near_j[i]),
                    "nearest_cost": nc, "message": msg})
    return out


# --------------------------------------------------------------------------------------------
# generic HiGHS MIP helper
# --------------------------------------------------------------------------------------------
_BANNER_SHOWN = False


def _new_highs():
    """A ``highspy.Highs``; the licence banner HiGHS prints to stdout on the first construction
    in a process is swallowed so that ``--json`` output and logs stay clean."""
    global _BANNER_SHOWN
    import highspy

    if _BANNER_SHOWN:
        return highspy.Highs()
    import os
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        _BANNER_SHOWN = True
    return h


def _highs(time_limit: float | None, seed: int, mip: bool = True):
    h = _new_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("random_seed", int(seed) % 2147483647)
    if time_limit is not None:
        h.setOptionValue("time_limit", max(float(time_limit), 0.01))
    if mip:
        h.setOptionValue("mip_rel_gap", 0.0)
        h.setOptionValue("mip_abs_gap", 1e-7)
    return h


def _solve_mip(c: np.ndarray, lo: np.ndarray, hi: np.ndarray, integer: np.ndarray,
               rows: list[tuple[np.ndarray, np.ndarray, float, float]], *, sense: int = 1,
               offset: float = 0.0, time_limit: float | None, seed: int,
               start: tuple[np.ndarray, np.ndarray] | None = None, relax: bool = False
               ) -> tuple[str, np.ndarray | None, float, float]:
    """Solve ``min/max c.x`` subject to ``rows`` (index, value, lower, upper) with HiGHS.

    Returns ``(status, x, objective, bound)``; ``status`` is ``optimal``, ``feasible``,
    ``infeasible`` or ``unknown`` (time limit before any solution). ``sense`` is 1 to minimise
    and -1 to maximise.
    """
    import highspy

    n = len(c)
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = len(rows)
    lp.col_cost_ = np.asarray(c, float)
    lp.col_lower_ = np.asarray(lo, float)
    lp.col_upper_ = np.asarray(hi, float)
    lp.offset_ = float(offset)
    lp.sense_ = highspy.ObjSense.kMinimize if sense > 0 else highspy.ObjSense.kMaximize
    inf = highspy.kHighsInf
    lp.row_lower_ = np.array([(-inf if not np.isfinite(r[2]) else r[2]) for r in rows], float)
    lp.row_upper_ = np.array([(inf if not np.isfinite(r[3]) else r[3]) for r in rows], float)
    starts = np.zeros(len(rows) + 1, dtype=np.int32)
    if rows:
        starts[1:] = np.cumsum([len(r[0]) for r in rows])
        index = np.concatenate([np.asarray(r[0], np.int32) for r in rows])
        value = np.concatenate([np.asarray(r[1], float) for r in rows])
    else:
        index, value = np.zeros(0, np.int32), np.zeros(0)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = starts
    lp.a_matrix_.index_ = index.astype(np.int32)
    lp.a_matrix_.value_ = value
    if not relax and np.any(integer):
        lp.integrality_ = [highspy.HighsVarType.kInteger if b else highspy.HighsVarType.kContinuous
                           for b in integer]
    h = _highs(time_limit, seed, mip=not relax)
    h.passModel(lp)
    if start is not None and not relax:
        h.setSolution(len(start[0]), np.asarray(start[0], np.int32), np.asarray(start[1], float))
    h.run()
    ms = h.getModelStatus()
    info = h.getInfo()
    M = highspy.HighsModelStatus
    has_sol = info.primal_solution_status == 2  # kSolutionStatusFeasible
    x = np.array(h.getSolution().col_value) if has_sol else None
    obj = float(info.objective_function_value) if has_sol else float("nan")
    if relax:
        bound = obj
    else:
        bound = float(info.mip_dual_bound)
    if ms == M.kOptimal:
        status = "optimal"
        if not relax:
            bound = obj if abs(bound - obj) <= 1e-6 * max(1.0, abs(obj)) else bound
    elif ms == M.kInfeasible:
        status = "infeasible"
    elif has_sol:
        status = "feasible"
    else:
        status = "unknown"
    return status, x, obj, bound


# --------------------------------------------------------------------------------------------
# LSCP
# --------------------------------------------------------------------------------------------
def set_cover(cost: Any, radius: float, weights: Any = None, fixed: Any = None,
              time_limit: float | None = None, seed: int = 0) -> LocationResult:
    """Location set covering (LSCP): fewest open sites so every demand lies within ``radius``.

    Demands with weight 0 need no cover (e.g. villages without population). Fixed sites are
    open and counted in the objective. When some demand has no site within ``radius`` the
    problem is infeasible: the result says so, lists those demands with their nearest candidate
    and cost, and (so planners still get a useful answer) ``selected`` covers every demand that
    *can* be covered, with the fewest sites.

    Args:
        cost: (n_demand, n_sites) costs, same unit as ``radius``.
        radius: service threshold; covered when ``cost <= radius``.
        weights: per-demand weight; demands with weight 0 are ignored. Default all 1.
        fixed: indices of sites that are always open (existing stations).
        time_limit: seconds for the solver; the best cover found so far is returned with its bound.
        seed: solver random seed (same seed, same answer).
    """
    t0 = time.perf_counter()
    c = _check_cost(cost)
    n, m = c.shape
    w = _check_weights(weights, n)
    fx = _check_fixed(fixed, m)
    cover = c <= radius + 0.0
    need = w > 0
    near_j, near_c = _nearest(c)
    impossible = need & ~cover.any(axis=1)
    fixed_cov = cover[:, fx].any(axis=1) if len(fx) else np.zeros(n, bool)
    todo = np.flatnonzero(need & ~impossible & ~fixed_cov)
    y_lo = np.zeros(m)
    y_lo[fx] = 1
    rows = [(np.flatnonzero(cover[i]), np.ones(int(cover[i].sum())), 1.0, np.inf) for i in todo]
    # greedy start (Chvátal) so a time-limited run always has an answer
    start = _greedy_cover(cover[todo], fx, m)
    status, x, obj, bound = _solve_mip(np.ones(m), y_lo, np.ones(m), np.ones(m, bool), rows,
                                       time_limit=time_limit, seed=seed,
                                       start=(np.arange(m), start.astype(float)))
    if x is None:  # time limit before HiGHS took the start: fall back to the greedy cover
        x, obj, status, bound = start.astype(float), float(start.sum()), "feasible", float(len(fx))
    sel = np.flatnonzero(x > 0.5)
    assignment = _assign_within(c, sel, radius)
    diag = _uncovered_diag(c, radius, np.where(need, assignment, 0))
    obj = float(len(sel))
    msg = f"{len(sel)} open sites ({len(fx)} fixed) cover every demand within {_fmt(radius)}"
    if impossible.any():
        status = "infeasible"
        k = int(impossible.sum())
        worst = int(np.flatnonzero(impossible)[np.argmax(near_c[impossible])])
        msg = (f"infeasible: {k} demand(s) have no candidate within the threshold {_fmt(radius)} "
               f"(e.g. demand {worst}: the nearest candidate is {_fmt(near_c[worst])} away); "
               f"the {len(sel)} selected sites cover all the others")
    elif status == "feasible":
        msg += f" (time limit; bound {_fmt(bound)})"
    return LocationResult("lscp", status, obj, float(bound), _gap(obj, bound), sel, assignment,
                          diag, msg, time.perf_counter() - t0,
                          {"rows": len(rows), "greedy_sites": int(start.sum())})


def _greedy_cover(cover: np.ndarray, fixed: np.ndarray, m: int) -> np.ndarray:
    y = np.zeros(m, bool)
    y[fixed] = True
    left = np.ones(cover.shape[0], bool)
    while left.any():
        gain = cover[left].sum(axis=0)
        gain[y] = -1
        j = int(np.argmax(gain))
        if gain[j] <= 0:
            break
        y[j] = True
        left &= ~cover[:, j]
    return y


def _assign_within(c: np.ndarray, sel: np.ndarray, radius: float | None) -> np.ndarray:
    n = c.shape[0]
    if len(sel) == 0:
        return np.full(n, -1)
    sub = c[:, sel]
    k = np.argmin(sub, axis=1)
    best = sub[np.arange(n), k]
    ok = np.isfinite(best) & ((best <= radius) if radius is not None else True)
    return np.where(ok, sel[k], -1)


# --------------------------------------------------------------------------------------------
# MCLP
# --------------------------------------------------------------------------------------------
def max_coverage(cost: Any, radius: float, p: int, weights: Any = None, fixed: Any = None,
                 capacity: Any = None, time_limit: float | None = None,
                 seed: int = 0) -> LocationResult:
    """Maximal covering (MCLP): open ``p`` sites (fixed included) maximising covered weight.

    Args:
        cost, radius, weights, fixed, time_limit, seed: as in :func:`set_cover`.
        p: number of open sites, fixed ones included.
        capacity: optional per-site (or scalar) limit on the weight a site serves (e.g.
            population); with it each demand is served whole by one open site within ``radius``
            (single sourcing) and ``assignment`` is that site.
    Objective: total covered (or, capacitated, served) weight; ``bound`` is an upper bound.
    """
    t0 = time.perf_counter()
    c = _check_cost(cost)
    n, m = c.shape
    w = _check_weights(weights, n)
    fx = _check_fixed(fixed, m)
    p = _check_p(p, m, len(fx))
    cap = _check_capacity(capacity, m)
    cover = c <= radius
    y_lo = np.zeros(m)
    y_lo[fx] = 1
    cand = np.flatnonzero(cover.any(axis=1) & (w > 0))
    rows: list = [(np.arange(m), np.ones(m), p, p)]
    if cap is None:
        # y_0..m-1, then one covered indicator per candidate demand
        ncol = m + len(cand)
        cobj = np.concatenate([np.zeros(m), w[cand]])
        for k, i in enumerate(cand):
            js = np.flatnonzero(cover[i])
            rows.append((np.concatenate([[m + k], js]), np.concatenate([[1.0], -np.ones(len(js))]),
                         -np.inf, 0.0))
        lo, hi = np.concatenate([y_lo, np.zeros(len(cand))]), np.ones(ncol)
        integer = np.concatenate([np.ones(m, bool), np.zeros(len(cand), bool)])
        start = _greedy_mclp(cover, w, p, fx)
        status, x, obj, bound = _solve_mip(cobj, lo, hi, integer, rows, sense=-1,
                                           time_limit=time_limit, seed=seed,
                                           start=(np.arange(m), start.astype(float)))
        if x is None:
            x = start.astype(float)
            status, bound = "feasible", float(w[cand].sum())
        sel = np.flatnonzero(x[:m] > 0.5)
        assignment = _assign_within(c, sel, radius)
        cap_bound = False
    else:
        pairs = [(i, j) for i in cand for j in np.flatnonzero(cover[i])]
        pi = np.array([a for a, _ in pairs], int)
        pj = np.array([b for _, b in pairs], int)
        npair = len(pairs)
        cobj = np.concatenate([np.zeros(m), w[pi]])
        for i in cand:  # each demand served at most once
            ks = np.flatnonzero(pi == i)
            rows.append((m + ks, np.ones(len(ks)), -np.inf, 1.0))
        for k in range(npair):  # x_ij <= y_j
            rows.append((np.array([m + k, pj[k]]), np.array([1.0, -1.0]), -np.inf, 0.0))
        for j in range(m):  # served weight <= cap_j * y_j
            ks = np.flatnonzero(pj == j)
            if np.isfinite(cap[j]) and len(ks):
                rows.append((np.concatenate([m + ks, [j]]), np.concatenate([w[pi[ks]], [-cap[j]]]),
                             -np.inf, 0.0))
        lo = np.concatenate([y_lo, np.zeros(npair)])
        status, x, obj, bound = _solve_mip(cobj, lo, np.ones(m + npair), np.ones(m + npair, bool),
                                           rows, sense=-1, time_limit=time_limit, seed=seed)
        if x is None:
            return LocationResult("mclp", "infeasible" if status == "infeasible" else "feasible",
                                  float("nan"), float(bound), float("inf"), fx, np.full(n, -1),
                                  _uncovered_diag(c, radius, np.full(n, -1)),
                                  "no solution found within the time limit", time.perf_counter() - t0)
        sel = np.flatnonzero(x[:m] > 0.5)
        assignment = np.full(n, -1)
        used = x[m:] > 0.5
        assignment[pi[used]] = pj[used]
        cap_bound = True
    covered = float(w[assignment >= 0].sum())
    need_diag = np.flatnonzero((assignment < 0) & (w > 0))
    diag = _uncovered_diag(c, radius, assignment, need_diag, capacity_bound=False)
    if cap_bound:
        for d in diag:  # covered-by-an-open-site-but-full means capacity
            if d["reason"] == "not_selected" and cover[d["demand"], sel].any():
                d["reason"] = "capacity"
                d["message"] = "open sites within the threshold are full (capacity)"
    if status == "optimal":
        bound = covered
    msg = (f"{len(sel)} open sites ({len(fx)} fixed) cover weight {_fmt(covered)} of "
           f"{_fmt(w.sum())} within {_fmt(radius)}")
    return LocationResult("mclp", status, covered, float(bound), _gap(covered, bound), sel,
                          assignment, diag, msg, time.perf_counter() - t0, {"rows": len(rows)})


def _greedy_mclp(cover: np.ndarray, w: np.ndarray, p: int, fixed: np.ndarray) -> np.ndarray:
    m = cover.shape[1]
    y = np.zeros(m, bool)
    y[fixed] = True
    cov = cover[:, y].any(axis=1) if y.any() else np.zeros(cover.shape[0], bool)
    while y.sum() < p:
        gain = (w * ~cov) @ cover
        gain = gain.astype(float)
        gain[y] = -1
        j = int(np.argmax(gain))
        y[j] = True
        cov |= cover[:, j]
    return y


# --------------------------------------------------------------------------------------------
# p-median
# --------------------------------------------------------------------------------------------
def _finite_big(c: np.ndarray) -> np.ndarray:
    """``c`` with ``inf`` replaced by a cost larger than any finite total (for heuristics)."""
    if np.isfinite(c).all():
        return c
    fin = c[np.isfinite(c)]
    big = (float(fin.max()) + 1.0) * (c.shape[0] + 1) * 10 if fin.size else 1.0
    return np.where(np.isfinite(c), c, big)


def greedy_interchange(cost: Any, p: int, weights: Any = None, fixed: Any = None,
                       max_iter: int = 100000, restarts: int = 0,
                       seed: int = 0) -> tuple[np.ndarray, float]:
    """Greedy-add then best-improvement vertex interchange for the p-median (a heuristic).

    Each pass evaluates every (add, drop) swap at once in ``O(n m + n m p)`` array work (the
    Whitaker 1983 bookkeeping of nearest and second-nearest open site) and applies the best
    improving one; stops at a swap-local optimum. Fixed sites are never dropped. ``restarts``
    more runs start from random site sets (drawn with ``seed``); the best local optimum wins.

    Returns ``(selected site indices, objective)``.
    """
    c = _finite_big(_check_cost(cost))
    n, m = c.shape
    w = _check_weights(weights, n)
    fx = _check_fixed(fixed, m)
    p = _check_p(p, m, len(fx))
    open_ = list(fx)
    d1 = c[:, open_].min(axis=1) if open_ else np.full(n, np.inf)
    while len(open_) < p:
        tot = w @ np.minimum(d1[:, None], c)
        tot[open_] = np.inf
        j = int(np.argmin(tot))
        open_.append(j)
        d1 = np.minimum(d1, c[:, j])
    best = _interchange(c, w, np.array(open_, dtype=int), fx, max_iter)
    rng = np.random.default_rng(seed)
    free = np.setdiff1d(np.arange(m), fx)
    for _ in range(restarts):
        start = np.concatenate([fx, rng.choice(free, p - len(fx), replace=False)]).astype(int)
        cand = _interchange(c, w, start, fx, max_iter)
        if cand[1] < best[1] - 1e-9 * max(1.0, abs(best[1])):
            best = cand
    return best


def _interchange(c: np.ndarray, w: np.ndarray, sel: np.ndarray, fx: np.ndarray,
                 max_iter: int) -> tuple[np.ndarray, float]:
    n, m = c.shape
    p = len(sel)
    movable = ~np.isin(sel, fx)
    rows = np.arange(n)
    for _ in range(max_iter):
        if p == m or not movable.any():
            break
        sub = c[:, sel]
        if p > 1:
            o = np.argpartition(sub, 1, axis=1)[:, :2]
            a, b = sub[rows, o[:, 0]], sub[rows, o[:, 1]]
            f1 = np.where(a <= b, o[:, 0], o[:, 1])
            d1, d2 = np.minimum(a, b), np.maximum(a, b)
        else:
            f1, d1, d2 = np.zeros(n, int), sub[:, 0], np.full(n, np.inf)
        mn = np.minimum(d1[:, None], c)
        gain_add = w @ (mn - d1[:, None])                     # (m,)
        M = w[:, None] * (np.minimum(c, d2[:, None]) - mn)   # (n, m)
        F = np.zeros((n, p))
        F[rows, f1] = 1.0
        delta = gain_add[:, None] + M.T @ F                   # (m, p)
        delta[sel, :] = np.inf
        delta[:, ~movable] = np.inf
        a_, r_ = np.unravel_index(int(np.argmin(delta)), delta.shape)
        if not delta[a_, r_] < -1e-9 * max(1.0, float(w @ d1)):
            break
        sel[r_] = a_
    sel = np.sort(sel)
    return sel, float(w @ c[:, sel].min(axis=1))


class _RadiusModel:
    """Radius formulation of the p-median with a per-demand cut on the distance levels.

    For demand ``i`` with distinct costs ``L_0 < L_1 < ... <= cut_i`` the model has
    ``u_ik = sum_{j: c_ij < L_k} y_j`` (chained: ``u_ik = u_i,k-1 + ring_k``, so the matrix stays
    ~n*m nonzeros instead of n*m*levels) and ``z_ik >= 1 - u_ik`` at cost ``w_i (L_k - L_k-1)``.
    With every level present this is Elloumi's exact formulation; with a cut it is a
    relaxation (a lower bound) that is exact for any ``y`` whose nearest open site for each
    demand is at most ``cut_i`` away.
    """

    def __init__(self, c: np.ndarray, w: np.ndarray):
        self.c, self.w = c, w
        self.dense = False
        self.order = np.argsort(c, axis=1, kind="stable")
        self.sorted = np.take_along_axis(c, self.order, axis=1)

    def need(self, y: np.ndarray) -> np.ndarray:
        """Smallest cut per demand that makes the model exact at ``y`` (fractional allowed)."""
        cum = np.cumsum(y[self.order], axis=1)
        t = np.argmax(cum >= 1 - 1e-7, axis=1)
        t = np.where(cum[:, -1] >= 1 - 1e-7, t, self.c.shape[1] - 1)
        return self.sorted[np.arange(len(t)), t]

    def widen(self, level: np.ndarray, factor: float) -> np.ndarray:
        """A cut past ``level`` per demand: ``factor`` times as many sites lie within it."""
        m = self.c.shape[1]
        t = np.array([np.searchsorted(self.sorted[i], level[i], side="right")
                      for i in range(len(level))])
        pos = np.minimum(m - 1, np.ceil(t * factor).astype(int) + 1)
        return np.maximum(level, self.sorted[np.arange(len(level)), pos])

    def build(self, cut: np.ndarray, p: int, y_lo: np.ndarray):
        c, w, m = self.c, self.w, self.c.shape[1]
        cols_cost = [np.zeros(m)]
        cols_hi = [np.ones(m)]
        idx, val, rlo, rhi, starts = [], [], [], [], [0]
        ncol, const = m, 0.0
        for i in range(c.shape[0]):
            s = self.sorted[i]
            fin = s[np.isfinite(s)]
            if w[i] <= 0 or fin.size == 0:
                continue
            lv = np.unique(fin[fin <= cut[i]])
            const += w[i] * lv[0]
            K = len(lv) - 1
            if fin.size < m:  # some sites can never serve i: at least one serving site must open
                js = self.order[i, :fin.size]
                idx.append(js)
                val.append(np.ones(len(js)))
                starts.append(starts[-1] + len(js))
                rlo.append(1.0)
                rhi.append(np.inf)
            if K == 0:
                continue
            cnt = np.searchsorted(s, lv, side="left")  # cnt[k] = #sites with cost < lv[k]
            if self.dense:  # z_ik + sum_{j: c_ij < L_k} y_j >= 1
                z0 = ncol
                ncol += K
                cols_cost.append(w[i] * np.diff(lv))
                cols_hi.append(np.ones(K))
                for k in range(1, K + 1):
                    idx.append(np.concatenate([self.order[i, :cnt[k]], [z0 + k - 1]]))
                    val.append(np.ones(cnt[k] + 1))
                    starts.append(starts[-1] + cnt[k] + 1)
                    rlo.append(1.0)
                    rhi.append(np.inf)
                continue
            z0, u0 = ncol, ncol + K
            ncol += 2 * K
            cols_cost += [w[i] * np.diff(lv), np.zeros(K)]
            cols_hi += [np.ones(K), np.full(K, float(p))]
            for k in range(1, K + 1):
                ring = self.order[i, cnt[k - 1]:cnt[k]]
                prev = [u0 + k - 2] if k > 1 else []
                idx.append(np.concatenate([ring, [u0 + k - 1], prev]).astype(np.int64))
                val.append(np.concatenate([-np.ones(len(ring)), [1.0], [-1.0] * len(prev)]))
                starts.append(starts[-1] + len(idx[-1]))
                rlo.append(0.0)
                rhi.append(0.0)
                idx.append(np.array([z0 + k - 1, u0 + k - 1]))
                val.append(np.array([1.0, 1.0]))
                starts.append(starts[-1] + 2)
                rlo.append(1.0)
                rhi.append(np.inf)
        idx.append(np.arange(m))
        val.append(np.ones(m))
        starts.append(starts[-1] + m)
        rlo.append(float(p))
        rhi.append(float(p))
        cost = np.concatenate(cols_cost)
        lo = np.zeros(ncol)
        lo[:m] = y_lo
        hi = np.concatenate(cols_hi)
        return cost, lo, hi, const, (np.array(starts), np.concatenate(idx), np.concatenate(val),
                                     np.array(rlo), np.array(rhi))

    def solve(self, cut, p, y_lo, *, relax, time_limit, seed, start_y=None, cutoff=None,
              abs_gap=None):
        import highspy

        cost, lo, hi, const, (st, ix, vl, rlo, rhi) = self.build(cut, p, y_lo)
        m = self.c.shape[1]
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = len(cost), len(rlo)
        lp.col_cost_, lp.col_lower_, lp.col_upper_, lp.offset_ = cost, lo, hi, const
        inf = highspy.kHighsInf
        lp.row_lower_ = np.where(np.isfinite(rlo), rlo, -inf)
        lp.row_upper_ = np.where(np.isfinite(rhi), rhi, inf)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = st.astype(np.int32)
        lp.a_matrix_.index_ = ix.astype(np.int32)
        lp.a_matrix_.value_ = vl.astype(float)
        if not relax:
            lp.integrality_ = ([highspy.HighsVarType.kInteger] * m
                               + [highspy.HighsVarType.kContinuous] * (len(cost) - m))
        h = _highs(time_limit, seed, mip=not relax)
        h.passModel(lp)
        if cutoff is not None and not relax:
            h.setOptionValue("objective_bound", float(cutoff))
        if abs_gap is not None and not relax:
            h.setOptionValue("mip_abs_gap", float(abs_gap))
        if start_y is not None and not relax:
            h.setSolution(m, np.arange(m, dtype=np.int32), start_y.astype(float))
        h.run()
        info = h.getInfo()
        ms = h.getModelStatus()
        M = highspy.HighsModelStatus
        if cutoff is not None and ms in (M.kInfeasible, M.kObjectiveBound) \
                and info.primal_solution_status != 2:
            # nothing below the cutoff: the cutoff itself is a proven lower bound
            return True, None, float(cutoff), {"rows": int(lp.num_row_), "cols": int(lp.num_col_),
                                               "nnz": int(len(ix))}
        done = ms == M.kOptimal
        has = info.primal_solution_status == 2
        sol = h.getSolution()
        y = np.array(sol.col_value[:m]) if has else None
        self.last_rc = np.array(sol.col_dual[:m]) if (relax and done and sol.dual_valid) else None
        if relax:
            bound = float(info.objective_function_value) if done else -np.inf
        else:
            bound = float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else -np.inf
            if done:
                bound = max(bound, float(info.objective_function_value) - 1e-6)
        return done, y, bound, {"rows": int(lp.num_row_), "cols": int(lp.num_col_),
                                "nnz": int(len(ix))}


_DENSE_MIP = True
_WIDEN = 1.5


def _pmedian_exact(c, w, p, fx, deadline, seed, stats):
    """Heuristic incumbent, LP with level generation, reduced-cost fixing, then the MIP.

    Returns ``(selected, objective, lower_bound, proven_optimal)``.
    """
    n, m = c.shape
    cw = _finite_big(c)
    # random restarts are cheap while p is small, and small p is where the MIP is hardest
    restarts = 10 if p <= 20 else 0
    sel, ub = greedy_interchange(cw, p, w, fx, restarts=restarts, seed=seed)
    stats["heuristic_objective"] = ub
    best = sel
    if p == m:
        return best, ub, ub, True
    model = _RadiusModel(c, w)
    y_lo = np.zeros(m)
    y_lo[fx] = 1
    yb = np.zeros(m)
    yb[sel] = 1
    cut = model.need(yb)
    lb = -np.inf
    # with integer costs and weights every objective value is an integer, so a lower bound
    # above ub - 1 already proves ub optimal (and lets the MIP prune that much earlier)
    fin = c[np.isfinite(c)]
    integral = bool(np.all(w == np.round(w)) and np.all(fin == np.round(fin)))

    def tol() -> float:
        return 1 - 1e-6 if integral else 1e-6 * max(1.0, abs(ub))

    def proven() -> bool:
        return lb > ub - tol()

    # phase 1: LP relaxation with level generation until the cut model's LP equals the full LP
    y_lp, rc = None, None
    for it in range(100):
        left = deadline - time.perf_counter()
        if left <= 0:
            return best, ub, lb, False
        done, y, bnd, info = model.solve(cut, p, y_lo, relax=True, time_limit=left, seed=seed)
        stats["lp_iterations"] = it + 1
        stats.update({"lp_" + k: v for k, v in info.items()})
        if not done or y is None:
            break
        newcut = np.maximum(cut, model.need(y))
        if np.array_equal(newcut, cut):
            lb, y_lp, rc = max(lb, bnd), y, model.last_rc
            break
        cut = newcut
    stats["lp_bound"] = lb
    if proven():
        return best, ub, lb, True
    # reduced-cost fixing: a site whose reduced cost lifts the LP bound past the incumbent
    # cannot be open in any better solution, so the MIP only sees the remaining sites
    keep = np.ones(m, bool)
    if rc is not None:
        keep = ~((y_lp < 1e-9) & (lb + rc > ub - tol()))
        keep[fx] = True
    kept = np.flatnonzero(keep)
    stats["sites_after_fixing"] = int(keep.sum())
    sub = _RadiusModel(c[:, kept], w)
    sub_lo = y_lo[kept]
    sub.dense = _DENSE_MIP
    cut = sub.need(y_lp[kept]) if y_lp is not None else np.full(n, np.inf)
    # phase 2: MIP over the kept sites for a solution better than the incumbent (cutoff); none
    # proves the incumbent optimal; one whose nearest site lies past the cut extends the cut
    for it in range(100):
        left = deadline - time.perf_counter()
        if left <= 0:
            break
        start = np.isin(kept, best).astype(float) if np.isin(best, kept).all() else None
        done, y, bnd, info = sub.solve(cut, p, sub_lo, relax=False, time_limit=left, seed=seed,
                                       start_y=start, abs_gap=tol(),
                                       cutoff=None if start is not None else ub - tol() + 1e-7)
        stats["mip_iterations"] = it + 1
        stats.update({"mip_" + k: v for k, v in info.items()})
        if done and y is None:  # nothing below the cutoff
            lb = max(lb, ub)
            return best, ub, lb, True
        if y is not None:
            ys = kept[np.flatnonzero(y > 0.5)]
            val = float(w @ cw[:, ys].min(axis=1))
            if len(ys) == p and val < ub:
                ub, best = val, ys
        lb = max(lb, min(bnd, ub))
        if not done:  # time limit inside the MIP: its bound is still a valid lower bound
            break
        if proven():
            return best, ub, lb, True
        if y is not None:
            need = sub.need((y > 0.5).astype(float))
            short = need > cut
            if not short.any():  # the cut model was exact at y: y is optimal
                lb = max(lb, ub)
                return best, ub, lb, True
            cut = np.where(short, sub.widen(need, _WIDEN), cut)
    return best, ub, lb, proven()


# --------------------------------------------------------------------------------------------
# p-median: Lagrangian branch-and-bound over site decisions (small p)
# --------------------------------------------------------------------------------------------
_LAGRANGIAN_MAX_P = 15   # p-median with p <= this uses the Lagrangian branch-and-bound
_ROOT_ROUNDS, _ROOT_ITERS, _ROOT_PATIENCE = 30, 200, 20
_NODE_ITERS, _NODE_PATIENCE = 300, 20


def lagrangian_bound(a: np.ndarray, u: np.ndarray, p: int, is_open: np.ndarray | None = None,
                     active: np.ndarray | None = None) -> tuple[float, np.ndarray, np.ndarray]:
    """Lagrangian lower bound of the p-median for multipliers ``u`` (one per demand).

    Relaxing ``sum_j x_ij = 1`` with ``u_i`` in ``min sum_ij a_ij x_ij`` (``a_ij`` = weight x
    cost, ``x_ij <= y_j``, ``sum_j y_j = p``) leaves ``sum_i u_i + min sum_j rho_j y_j`` with
    ``rho_j = sum_i min(0, a_ij - u_i)``: open the forced sites (``is_open``) and the cheapest
    remaining active ones. Valid for ANY ``u``; its maximum over ``u`` equals the LP bound of the
    classical formulation (Cornuéjols, Fisher & Nemhauser 1977). Sites outside ``active`` are
    closed.

    Returns ``(bound, selected site indices, rho)``.
    """
    m = a.shape[1]
    is_open = np.zeros(m, bool) if is_open is None else is_open
    active = np.ones(m, bool) if active is None else active
    rho = np.minimum(a - u[:, None], 0.0).sum(axis=0)
    op = np.flatnonzero(is_open & active)
    fr = np.flatnonzero(active & ~is_open)
    k = p - len(op)
    if k > len(fr):
        return np.inf, op, rho
    if k > 0:
        part = fr[np.argpartition(rho[fr], k - 1)[:k]] if k < len(fr) else fr
        op = np.concatenate([op, part])
    return float(u.sum() + rho[op].sum()), op, rho


#: Run the Lagrangian's subgradient loop compiled with numba where installed (the optional "fast"
#: extra; compiled once per machine, cached). Same search as the numpy loop; float rounding may
#: steer it to a different one of several optimal solutions. Set False to force numpy.
USE_NUMBA = _numba is not None

if _numba is not None:
    @_numba.njit(cache=True, fastmath={"reassoc", "nsz", "arcp", "contract"})
    def _ascent_numba(at, u0, op, k, ub, tol, iters, theta, patience):  # pragma: no cover
        """The subgradient loop of :meth:`_LagrangianBnB._ascend` in one compiled call."""
        K, n = at.shape
        u = u0.copy()
        best_u = u0.copy()
        best_L = -np.inf
        rho = np.empty(K)
        chosen = np.zeros(K, np.bool_)
        p = k
        for j in range(K):
            if op[j]:
                p += 1
        sel = np.empty(p, np.int64)
        best_sel = np.empty(p, np.int64)
        best_v = np.inf
        g = np.empty(n)
        u32 = np.empty(n, np.float32)
        stall = 0
        it = 0
        while it < iters:
            it += 1
            for i in range(n):
                u32[i] = u[i]
            for j in range(K):
                s = np.float32(0.0)
                for i in range(n):
                    s += min(at[j, i] - u32[i], np.float32(0.0))
                rho[j] = s
            m = 0
            for j in range(K):
                chosen[j] = op[j]
                if op[j]:
                    sel[m] = j
                    m += 1
            for _ in range(k):
                bj = -1
                bv = np.inf
                for j in range(K):
                    if not chosen[j] and rho[j] < bv:
                        bv = rho[j]
                        bj = j
                chosen[bj] = True
                sel[m] = bj
                m += 1
            L = 0.0
            for i in range(n):
                L += u[i]
            for t in range(p):
                L += rho[sel[t]]
            v = 0.0
            for i in range(n):
                mn = at[sel[0], i]
                cnt = 0
                for t in range(p):
                    x = at[sel[t], i]
                    if x < mn:
                        mn = x
                    if x < u32[i]:
                        cnt += 1
                v += mn
                g[i] = 1.0 - cnt
            if v < best_v:
                best_v = v
                best_sel[:] = sel
            if v < ub:
                ub = v
            if L > best_L + 1e-12 * max(1.0, abs(L)):
                best_L = L
                best_u[:] = u
                stall = 0
            else:
                stall += 1
                if stall >= patience:
                    theta *= 0.5
                    stall = 0
            if best_L > ub - tol or theta < 1e-5:
                break
            gg = 0.0
            for i in range(n):
                gg += g[i] * g[i]
            if gg == 0.0:
                break
            step = theta * (ub - L) / gg
            for i in range(n):
                u[i] += step * g[i]
        return best_u, theta, best_sel, it


def _rho_fast(at: np.ndarray, u32: np.ndarray, buf: np.ndarray) -> np.ndarray:
    """``rho_j = sum_i min(0, a_ij - u_i)`` for ``at`` = ``a`` transposed (sites x demands,
    float32, C-contiguous), in the scratch array ``buf``. Approximate (float32): it steers the
    ascent only; the bounds that prune are re-evaluated in float64 by :func:`lagrangian_bound`."""
    np.subtract(at, u32[None, :], out=buf)
    np.minimum(buf, 0.0, out=buf)
    return buf.sum(axis=1, dtype=np.float64)


class _LagrangianBnB:
    """Exact p-median by depth-first branch-and-bound on sites with Lagrangian bounds.

    Each node (sites forced open, sites closed) maximises the Lagrangian dual of the
    assignment constraints by subgradient ascent (Polyak steps towards the incumbent, warm
    started from the parent's multipliers); every Lagrangian solution is also a p-site
    solution, which may improve the incumbent. Lagrangian (reduced-cost) fixing then closes a
    free site whose opening lifts the bound past the incumbent and opens a site whose closing
    does. Branching: the selected free site with the most negative ``rho`` is opened (explored
    first) or closed. Every bound used to prune is ``L(u)`` for some ``u`` and so a valid lower
    bound; with integer data a node is pruned when its bound exceeds ``incumbent - 1``.
    """

    def __init__(self, a: np.ndarray, p: int, fixed: np.ndarray, ub: float, ub_sel: np.ndarray,
                 integral: bool, deadline: float):
        self.a, self.p, self.deadline = a, p, deadline
        self.a32 = a.astype(np.float32)
        self.fixed = np.asarray(fixed, int)
        self.ub, self.ub_sel = float(ub), np.sort(np.asarray(ub_sel, int))
        self.integral = integral
        self.nodes = 0
        self.iterations = 0
        self.root_bound = -np.inf
        self.root_active = a.shape[1]

    def tol(self) -> float:
        return 1 - 1e-6 if self.integral else 1e-6 * max(1.0, abs(self.ub))

    def _try(self, cols: np.ndarray) -> None:
        v = float(self.a[:, cols].min(axis=1).sum())
        if v < self.ub - 1e-9 * max(1.0, abs(self.ub)):
            self.ub, self.ub_sel = v, np.sort(cols)

    def _ascend(self, active, is_open, u, iters, theta, patience):
        """Subgradient ascent on the active columns; returns the best bound and its data."""
        cols = np.flatnonzero(active)
        at = np.ascontiguousarray(self.a32[:, cols].T)  # float32 for speed; exact bound below
        op = is_open[cols]
        fr = np.flatnonzero(~op)
        opi = np.flatnonzero(op)
        k = self.p - len(opi)
        if k > len(fr):  # fewer sites left than must open: the node is infeasible
            return np.inf, u, theta, cols, None, None
        if USE_NUMBA:
            best_u, theta, bsel, its = _ascent_numba(at, np.asarray(u, float), op, k, self.ub,
                                                     self.tol(), iters, theta, patience)
            self.iterations += its
            self._try(cols[bsel])
            L, sel, rho = lagrangian_bound(self.a[:, cols], best_u, self.p, op)
            return L, best_u, theta, cols, rho, sel
        buf = np.empty_like(at)
        best_L, best_u, stall = -np.inf, u, 0
        for _ in range(iters):
            u32 = u.astype(np.float32)
            rho = _rho_fast(at, u32, buf)
            sel = opi
            if k > 0:
                part = fr[np.argpartition(rho[fr], k - 1)[:k]] if k < len(fr) else fr
                sel = np.concatenate([opi, part])
            L = float(u.sum() + rho[sel].sum())
            self.iterations += 1
            if at[sel].min(axis=0).sum(dtype=np.float64) < self.ub * (1 + 1e-5) + 1e-9:
                self._try(cols[sel])  # possibly better than the incumbent: evaluate exactly
            if L > best_L + 1e-12 * max(1.0, abs(L)):
                best_L, best_u, stall = L, u, 0
            else:
                stall += 1
                if stall >= patience:
                    theta, stall = theta * 0.5, 0
            if best_L > self.ub - self.tol() or theta < 1e-5 \
                    or time.perf_counter() > self.deadline:
                break
            g = 1.0 - (at[sel] < u32[None, :]).sum(axis=0)
            gg = float(g @ g)
            if gg == 0:  # the relaxed solution is feasible, so L(u) is this node's optimum
                break
            u = u + theta * (self.ub - L) / gg * g
        # the bound that prunes and fixes is L(best_u) evaluated exactly, in float64
        L, sel, rho = lagrangian_bound(self.a[:, cols], best_u, self.p, op)
        return L, best_u, theta, cols, rho, sel

    def _fix(self, L, cols, rho, sel, active, is_open):
        """Lagrangian fixing at a node (copies of the masks come back)."""
        active, is_open = active.copy(), is_open.copy()
        op = is_open[cols]
        free_sel = sel[~op[sel]]
        if free_sel.size == 0:
            return active, is_open
        rest = np.setdiff1d(np.flatnonzero(~op), free_sel)
        if rest.size:
            lim = self.ub - self.tol()
            # opening j instead of the worst selected free site costs rho_j - max(rho_sel)
            active[cols[rest[L - rho[free_sel].max() + rho[rest] > lim]]] = False
            # closing a selected site brings in the best unselected one
            is_open[cols[free_sel[L - rho[free_sel] + rho[rest].min() > lim]]] = True
        return active, is_open

    def run(self, u0: np.ndarray) -> tuple[float, bool]:
        """Returns ``(lower bound, proven)``; the incumbent is in ``ub`` / ``ub_sel``."""
        m = self.a.shape[1]
        active = np.ones(m, bool)
        is_open = np.zeros(m, bool)
        is_open[self.fixed] = True
        u, theta, lb = u0.astype(float), 2.0, -np.inf
        for _ in range(_ROOT_ROUNDS):  # root: ascent with fixing every few hundred steps
            L, u, theta, cols, rho, sel = self._ascend(active, is_open, u, _ROOT_ITERS, theta,
                                                       _ROOT_PATIENCE)
            lb = max(lb, L)
            if lb > self.ub - self.tol() or theta < 1e-4 or rho is None \
                    or time.perf_counter() > self.deadline:
                break
            active, is_open = self._fix(L, cols, rho, sel, active, is_open)
        self.root_bound, self.root_active = lb, int(active.sum())
        self.root_masks = (active, is_open)
        stack = [(active, is_open, u, lb, theta)]
        while stack:
            if time.perf_counter() > self.deadline:
                return min([self.ub] + [s[3] for s in stack]), False
            active, is_open, u, lb, theta = stack.pop()
            if lb > self.ub - self.tol():
                continue
            self.nodes += 1
            n_open, n_act = int((is_open & active).sum()), int(active.sum())
            if n_open >= self.p or n_act <= self.p:  # the node fixes a single solution
                cols = np.flatnonzero(is_open & active) if n_open >= self.p else np.flatnonzero(active)
                if len(cols) == self.p:
                    self._try(cols)
                continue
            L, u, theta, cols, rho, sel = self._ascend(active, is_open, u, _NODE_ITERS,
                                                       min(1.0, 4 * theta), _NODE_PATIENCE)
            lb = max(lb, L)
            if lb > self.ub - self.tol() or rho is None:
                if time.perf_counter() > self.deadline and not lb > self.ub - self.tol():
                    stack.append((active, is_open, u, lb, theta))
                continue
            active, is_open = self._fix(L, cols, rho, sel, active, is_open)
            free_sel = [t for t in sel if active[cols[t]] and not is_open[cols[t]]]
            if not free_sel:  # fixing decided every selected site: look at the node again
                stack.append((active, is_open, u, lb, theta))
                continue
            j = cols[min(free_sel, key=lambda t: rho[t])]
            closed, opened = active.copy(), is_open.copy()
            closed[j], opened[j] = False, True
            stack.append((closed, is_open, u, lb, theta))
            stack.append((active, opened, u, lb, theta))
        return self.ub, True


def _pmedian_lagrangian(c, w, p, fx, deadline, seed, stats):
    """Incumbent from the interchange heuristic, then the Lagrangian branch-and-bound.

    Returns ``(selected, objective, lower_bound, proven_optimal)``. Needs every cost of a
    positive-weight demand finite.
    """
    sel, ub = greedy_interchange(c, p, w, fx, restarts=10, seed=seed)
    stats["heuristic_objective"] = ub
    rows = w > 0
    a = w[rows, None] * c[rows]
    fin = c[np.isfinite(c)]
    integral = bool(np.all(w == np.round(w)) and np.all(fin == np.round(fin)))
    bb = _LagrangianBnB(a, p, fx, ub, sel, integral, deadline)
    lb, proven = bb.run(a[:, sel].min(axis=1))
    stats.update({"method": "lagrangian_bnb", "lagrangian_root_bound": bb.root_bound,
                  "sites_after_root_fixing": bb.root_active, "bnb_nodes": bb.nodes,
                  "subgradient_iterations": bb.iterations})
    return bb.ub_sel, bb.ub, lb, proven


def p_median(cost: Any, p: int, weights: Any = None, fixed: Any = None, capacity: Any = None,
             time_limit: float | None = None, seed: int = 0) -> LocationResult:
    """p-median: open ``p`` sites (fixed included) minimising the weighted cost to the assigned site.

    Uncapacitated: each demand goes to its nearest open site; solved exactly, for small ``p``
    (``p - len(fixed) <= 15``, all costs of weighted demands finite) by the Lagrangian
    branch-and-bound, otherwise by the radius formulation (see the module docstring); together
    they prove optimality on the OR-Library instances (up to 900 x 900) within seconds to a
    minute. ``stats["method"]`` says which ran. Capacitated (``capacity`` = per-site or scalar limit
    on served weight): single-sourcing assignment MIP; a demand may then go to a farther site.
    Pairs with ``cost = inf`` are never used; a demand with no finite cost makes it infeasible.

    Returns a :class:`LocationResult` whose ``bound`` is a proven lower bound; on a time limit the
    best solution so far is returned with status ``feasible``.
    """
    t0 = time.perf_counter()
    c = _check_cost(cost)
    n, m = c.shape
    w = _check_weights(weights, n)
    fx = _check_fixed(fixed, m)
    p = _check_p(p, m, len(fx))
    cap = _check_capacity(capacity, m)
    deadline = t0 + (time_limit if time_limit is not None else 1e9)
    stats: dict[str, Any] = {}
    dead = np.flatnonzero(~np.isfinite(c).any(axis=1) & (w > 0))
    if dead.size:
        diag = _uncovered_diag(c, None, np.zeros(n), dead)
        return LocationResult("pmedian", "infeasible", float("nan"), float("nan"), float("inf"),
                              fx, np.full(n, -1), diag,
                              f"infeasible: {dead.size} demand(s) cannot be served by any site "
                              f"(every cost is inf), e.g. demand {int(dead[0])}",
                              time.perf_counter() - t0)
    if cap is None:
        small_p = p - len(fx) <= _LAGRANGIAN_MAX_P and p < m
        if small_p and np.isfinite(c[w > 0]).all():
            sel, ub, lb, proven = _pmedian_lagrangian(c, w, p, fx, deadline, seed, stats)
        else:
            sel, ub, lb, proven = _pmedian_exact(c, w, p, fx, deadline, seed, stats)
        assignment = _assign_within(c, sel, None)
        obj = float(w @ np.where(assignment >= 0, c[np.arange(n), np.maximum(assignment, 0)], 0))
        status = "optimal" if proven else "feasible"
        bound = obj if proven else lb
        msg = f"{len(sel)} open sites ({len(fx)} fixed), total weighted cost {_fmt(obj)}"
        return LocationResult("pmedian", status, obj, float(bound), _gap(obj, bound), sel,
                              assignment, [], msg, time.perf_counter() - t0, stats)
    return _pmedian_capacitated(c, w, p, fx, cap, deadline, seed, t0)


def _pmedian_capacitated(c, w, p, fx, cap, deadline, seed, t0) -> LocationResult:
    n, m = c.shape
    ok = np.isfinite(c)
    pi, pj = np.nonzero(ok)
    npair = len(pi)
    cobj = np.concatenate([np.zeros(m), w[pi] * c[pi, pj]])
    rows: list = [(np.arange(m), np.ones(m), p, p)]
    order = np.argsort(pi, kind="stable")
    bounds = np.searchsorted(pi[order], np.arange(n + 1))
    for i in range(n):
        ks = order[bounds[i]:bounds[i + 1]]
        rows.append((m + ks, np.ones(len(ks)), 1.0, 1.0))
    for k in range(npair):
        rows.append((np.array([m + k, pj[k]]), np.array([1.0, -1.0]), -np.inf, 0.0))
    byj = np.argsort(pj, kind="stable")
    bj = np.searchsorted(pj[byj], np.arange(m + 1))
    for j in range(m):
        ks = byj[bj[j]:bj[j + 1]]
        if np.isfinite(cap[j]):
            rows.append((np.concatenate([m + ks, [j]]), np.concatenate([w[pi[ks]], [-cap[j]]]),
                         -np.inf, 0.0))
    lo = np.zeros(m + npair)
    lo[fx] = 1
    left = max(deadline - time.perf_counter(), 0.01)
    status, x, obj, bound = _solve_mip(cobj, lo, np.ones(m + npair), np.ones(m + npair, bool), rows,
                                       time_limit=left, seed=seed)
    if x is None:
        why = ("infeasible: total capacity of any p sites is below the demand weight"
               if status == "infeasible" else "no feasible assignment found within the time limit")
        return LocationResult("pmedian", "infeasible" if status == "infeasible" else "feasible",
                              float("nan"), float(bound), float("inf"), fx, np.full(n, -1), [], why,
                              time.perf_counter() - t0)
    sel = np.flatnonzero(x[:m] > 0.5)
    assignment = np.full(n, -1)
    used = x[m:] > 0.5
    assignment[pi[used]] = pj[used]
    obj = float(w @ c[np.arange(n), assignment])
    if status == "optimal":
        bound = obj
    return LocationResult("pmedian", status, obj, float(bound), _gap(obj, bound), sel, assignment,
                          [], f"{len(sel)} open sites, capacitated, total weighted cost {_fmt(obj)}",
                          time.perf_counter() - t0, {"pairs": npair})


# --------------------------------------------------------------------------------------------
# p-center
# --------------------------------------------------------------------------------------------
def p_center(cost: Any, p: int, fixed: Any = None, time_limit: float | None = None,
             seed: int = 0) -> LocationResult:
    """p-center: open ``p`` sites (fixed included) minimising the largest demand-to-site cost.

    Exact by bisection over the sorted distinct costs: radius ``r`` is achievable iff the set
    cover of every demand within ``r`` (fixed sites open) needs at most ``p`` sites. ``bound``
    is the largest cost level proven unreachable's successor (a lower bound).
    """
    t0 = time.perf_counter()
    c = _check_cost(cost)
    n, m = c.shape
    fx = _check_fixed(fixed, m)
    p = _check_p(p, m, len(fx))
    deadline = t0 + (time_limit if time_limit is not None else 1e9)
    if not np.isfinite(c).any(axis=1).all():
        dead = np.flatnonzero(~np.isfinite(c).any(axis=1))
        return LocationResult("pcenter", "infeasible", float("nan"), float("nan"), float("inf"), fx,
                              np.full(n, -1), _uncovered_diag(c, None, np.zeros(n), dead),
                              f"infeasible: demand {int(dead[0])} cannot be served by any site",
                              time.perf_counter() - t0)
    # every demand is served by some site, so the optimum is at least max_i min_j c_ij
    lowest = float(c.min(axis=1).max())
    levels = np.unique(c[np.isfinite(c)])
    levels = levels[levels >= lowest]
    sel0, _ = greedy_interchange(c, p, None, fx)
    hi_val = float(_finite_big(c)[:, sel0].min(axis=1).max())
    best = sel0
    lo_i = 0
    hi_i = int(np.searchsorted(levels, hi_val))  # feasible level index (the heuristic)
    timed_out = False
    while lo_i < hi_i:
        mid = (lo_i + hi_i) // 2
        left = deadline - time.perf_counter()
        if left <= 0:
            timed_out = True
            break
        r = set_cover(c, float(levels[mid]), None, fx, time_limit=left, seed=seed)
        if r.status == "optimal" and r.objective <= p:
            hi_i, best = mid, r.selected
        elif r.status == "optimal" or r.status == "infeasible" or r.bound > p:
            lo_i = mid + 1
        else:  # undecided within the time limit
            timed_out = True
            break
    # pad to exactly p sites (extra sites never hurt the max cost)
    best = np.asarray(best, int)
    if len(best) < p:
        extra = [j for j in greedy_interchange(c, p, None, best)[0] if j not in set(best)]
        best = np.sort(np.concatenate([best, extra[: p - len(best)]])).astype(int)
    assignment = _assign_within(c, best, None)
    obj = float(c[np.arange(n), assignment].max())
    bound = float(levels[lo_i]) if lo_i < len(levels) else obj
    proven = not timed_out and bound >= obj - 1e-9
    status = "optimal" if proven else "feasible"
    if proven:
        bound = obj
    return LocationResult("pcenter", status, obj, bound, _gap(obj, bound), best, assignment, [],
                          f"{len(best)} open sites, largest cost {_fmt(obj)}",
                          time.perf_counter() - t0)


# --------------------------------------------------------------------------------------------
# brute force (reference for tests and tiny instances)
# --------------------------------------------------------------------------------------------
def brute_force(model: str, cost: Any, p: int | None = None, radius: float | None = None,
                weights: Any = None, fixed: Any = None) -> tuple[float, tuple[int, ...]]:
    """Exhaustive optimum over site subsets (tiny instances only): ``(objective, sites)``.

    ``model`` is ``lscp`` (p ignored; fewest sites covering every weighted demand, ``inf`` if
    impossible), ``mclp``, ``pmedian`` or ``pcenter`` (uncapacitated).
    """
    c = _check_cost(cost)
    n, m = c.shape
    w = _check_weights(weights, n)
    fx = tuple(int(j) for j in _check_fixed(fixed, m))
    rest = [j for j in range(m) if j not in fx]
    sizes = range(0, m - len(fx) + 1) if model == "lscp" else [int(p) - len(fx)]
    best: tuple[float, tuple[int, ...]] = (np.inf if model != "mclp" else -np.inf, ())
    for k in sizes:
        for extra in itertools.combinations(rest, k):
            s = list(fx) + list(extra)
            sub = c[:, s] if s else np.full((n, 1), np.inf)
            if model == "lscp":
                if ((sub <= radius).any(axis=1) | (w <= 0)).all():
                    return float(len(s)), tuple(sorted(s))
                continue
            if model == "mclp":
                v = float(w[(sub <= radius).any(axis=1)].sum())
                if v > best[0]:
                    best = (v, tuple(sorted(s)))
            elif model == "pmedian":
                v = float(w @ sub.min(axis=1))
                if v < best[0]:
                    best = (v, tuple(sorted(s)))
            elif model == "pcenter":
                v = float(sub.min(axis=1).max())
                if v < best[0]:
                    best = (v, tuple(sorted(s)))
            else:
                raise ValueError(f"unknown model {model!r}")
    return best
