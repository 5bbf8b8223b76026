"""Covering models on a cost matrix: location set covering (LSCP) and maximal covering (MCLP)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ._common import (LocationResult, _assign_within, _check_capacity, _check_cost,
                      _check_fixed, _check_p, _check_weights, _fmt, _gap, _nearest, _solve_mip,
                      _uncovered_diag)


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
