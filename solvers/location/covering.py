"""Covering models: location set covering (LSCP) and maximal covering (MCLP).

Both work on the pairs within reach only (:mod:`.reach`): a dense cost matrix is reduced to them,
a ``scipy.sparse`` matrix is taken as they are (its stored entries are the candidate pairs), so a
20,000-village province needs memory for the pairs within the radius, not for ``n x m``.
Demands with identical covering sets are merged before the MIP (one row per distinct set, weights
summed); fixed sites' demands drop out as a constant.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._common import (LocationResult, _assign_within, _check_capacity, _check_fixed,
                      _check_p, _check_weights, _fmt, _gap, _solve_mip, _uncovered_diag)
from .mclp_lagrange import large_start, mclp_lagrangian
from .mclp_lp import mclp_rows as _mclp_rows
from .reach import merge_rows, nearest_in_reach, reach, row_ids
from .setcover import improve_by_windows, lagrangian_cover, lp_cover_bound, reduce_cover

#: pairs (after merging) above which the MCLP first runs the Lagrangian heuristic and fixing
LAGRANGIAN_ABOVE = 200_000
_LAGRANGIAN_SHARE = 0.9  # share of the time limit for it (it stops early once converged); the MIP gets the rest
_MIP_RESERVE_S = 2.0  # seconds of the limit kept for HiGHS's overrun and what follows the MIP


def _diag(S: sp.csr_matrix, dense: np.ndarray | None, radius: float, assignment: np.ndarray,
          demands: np.ndarray | None = None) -> list[dict]:
    """Uncovered-demand diagnostics: from the dense matrix when there is one (the nearest
    candidate beyond the radius is known), else from the pairs within reach."""
    if dense is not None:
        return _uncovered_diag(dense, radius, assignment, demands)
    near_j, near_c = nearest_in_reach(S)
    out = []
    for i in (np.flatnonzero(assignment < 0) if demands is None else demands):
        if near_j[i] < 0:
            reason = "no_candidate"
            msg = f"no candidate within the threshold {_fmt(radius)}"
        else:
            reason = "not_selected"
            msg = (f"a candidate within the threshold exists (nearest {_fmt(near_c[i])} away) "
                   "but the site budget p was spent on demands worth more")
        out.append({"demand": int(i), "reason": reason, "nearest_site": int(near_j[i]),
                    "nearest_cost": float(near_c[i]), "message": msg})
    return out


def _covered_by(S: sp.csr_matrix, cols: np.ndarray) -> np.ndarray:
    """Rows with a stored entry in ``cols``."""
    mask = np.zeros(S.shape[1], bool)
    mask[np.asarray(cols, int)] = True
    return np.bincount(row_ids(S), weights=mask[S.indices], minlength=S.shape[0]) > 0


def _radius(radius: Any) -> float:
    r = float(radius)
    if np.isnan(r):
        raise ValueError("radius must be a number, got NaN")
    return r


# --------------------------------------------------------------------------------------------
# LSCP
# --------------------------------------------------------------------------------------------
def set_cover(cost: Any, radius: float, weights: Any = None, fixed: Any = None,
              time_limit: float | None = None, seed: int = 0, *,
              rel_gap: float = 0.0) -> LocationResult:
    """Location set covering (LSCP): fewest open sites so every demand lies within ``radius``.

    Demands with weight 0 need no cover (e.g. villages without population). Fixed sites are
    open and counted in the objective. When some demand has no site within ``radius`` the
    problem is infeasible: the result says so, lists those demands with their nearest candidate
    and cost, and (so planners still get a useful answer) ``selected`` covers every demand that
    *can* be covered, with the fewest sites.

    Args:
        cost: (n_demand, n_sites) costs, same unit as ``radius``: a dense array (``inf`` = cannot
            be served) or a ``scipy.sparse`` matrix whose stored entries are the pairs that can
            be served (explicit zeros count as cost 0; e.g. from
            :func:`~solvers.location.covering_matrix`).
        radius: service threshold; covered when ``cost <= radius``.
        weights: per-demand weight; demands with weight 0 are ignored. Default all 1.
        fixed: indices of sites that are always open (existing stations).
        time_limit: seconds for the solver; the best cover found so far is returned with its bound.
        seed: solver random seed (same seed, same answer).
        rel_gap: stop once (sites - bound) / sites is at most this (0: prove optimality).
    """
    t0 = time.perf_counter()
    radius = _radius(radius)
    S, dense = reach(cost, radius)
    n, m = S.shape
    w = _check_weights(weights, n)
    fx = _check_fixed(fixed, m)
    need = w > 0
    impossible = need & (np.diff(S.indptr) == 0)
    fixed_cov = _covered_by(S, fx) if len(fx) else np.zeros(n, bool)
    todo = np.flatnonzero(need & ~impossible & ~fixed_cov)
    _, g_ptr, g_idx = merge_rows(S, todo)  # identical covering sets need one row
    y_lo = np.zeros(m)
    y_lo[fx] = 1
    G = len(g_ptr) - 1
    x, obj, bound, status, info = _cover_rows(g_ptr, g_idx, fx, m, time_limit, seed, rel_gap, t0)
    sel = np.flatnonzero(x > 0.5)
    assignment = (_assign_within(dense, sel, radius) if dense is not None
                  else nearest_in_reach(S, sel)[0])
    diag = _diag(S, dense, radius, np.where(need, assignment, 0))
    obj = float(len(sel))
    msg = f"{len(sel)} open sites ({len(fx)} fixed) cover every demand within {_fmt(radius)}"
    if impossible.any():
        status = "infeasible"
        k = int(impossible.sum())
        if dense is not None:
            near_c = dense.min(axis=1)
            worst = int(np.flatnonzero(impossible)[np.argmax(near_c[impossible])])
            eg = f"e.g. demand {worst}: the nearest candidate is {_fmt(near_c[worst])} away"
        else:
            eg = f"e.g. demand {int(np.flatnonzero(impossible)[0])}"
        msg = (f"infeasible: {k} demand(s) have no candidate within the threshold {_fmt(radius)} "
               f"({eg}); the {len(sel)} selected sites cover all the others")
    elif status == "feasible":
        msg += f" (time limit or gap; bound {_fmt(bound)})"
    return LocationResult("lscp", status, obj, float(bound), _gap(obj, bound), sel, assignment,
                          diag, msg, time.perf_counter() - t0,
                          {"rows": G, "demands_to_cover": len(todo), "pairs": int(S.nnz), **info})


def _cover_rows(g_ptr: np.ndarray, g_idx: np.ndarray, fx: np.ndarray, m: int, time_limit: float | None,
                seed: int, rel_gap: float, t0: float) -> tuple[np.ndarray, float, float, str, dict]:
    """Fewest sites covering the merged rows: reductions, LP and Lagrangian bounds, Lagrangian
    heuristic and window search, then the MIP on what is left (see :mod:`.setcover`); ``t0`` is
    when the time limit started. Returns ``(x, sites, bound, status, info)``."""
    G = len(g_ptr) - 1
    x = np.zeros(m)
    x[fx] = 1
    if G == 0:
        return x, float(len(fx)), float(len(fx)), "optimal", {"greedy_sites": len(fx)}
    A = sp.csr_matrix((np.ones(len(g_idx)), g_idx, g_ptr), shape=(G, m))
    red = reduce_cover(A)
    x[red.essential] = 1
    base = float(len(fx) + len(red.essential))
    info = {"essential_sites": int(len(red.essential)), "rows_after_reduction": int(len(red.rows)),
            "sites_after_reduction": int(len(red.cols))}
    if len(red.rows) == 0:
        return x, base, base, "optimal", {**info, "greedy_sites": int(base)}
    Ar = A[red.rows][:, red.cols].tocsr()
    Ar.sort_indices()
    cover, lag_bound, cred = _bound_and_cover(Ar, time_limit, t0, seed, base, info)
    ub = float(cover.sum())
    lb = float(math.ceil(lag_bound - 1e-6))
    status, bound = ("optimal", ub) if lb >= ub else ("feasible", lb)
    if lb < ub and (ub - lb) / ub > rel_gap:
        cover, bound, status = _cover_mip(Ar, cover, lag_bound, cred, time_limit, t0, seed, rel_gap, info)
    x[red.cols[cover]] = 1
    return x, float(x.sum()), base + bound, status, info


def _budget(time_limit: float | None, t0: float, share: float, cap: float) -> float:
    """Seconds for one step: ``share`` of the time left, at most ``cap`` (``cap`` without a limit)."""
    if time_limit is None:
        return cap
    return max(0.05, min(cap, share * (float(time_limit) - (time.perf_counter() - t0))))


def _bound_and_cover(Ar: sp.csr_matrix, time_limit: float | None, t0: float, seed: int, base: float,
                     info: dict) -> tuple[np.ndarray, float, np.ndarray]:
    """Greedy cover, Lagrangian bound and heuristic, the exact LP bound (HiGHS), then the window
    search until the cover meets the bound. Returns ``(cover, bound, reduced_cost)`` on ``Ar``
    (the bound not rounded); records its steps in ``info``."""
    t = [time.perf_counter()]
    greedy = _greedy_cover(Ar.indptr, Ar.indices, np.zeros(0, np.int64), Ar.shape[1])
    lag = lagrangian_cover(Ar, greedy, time_limit_s=_budget(time_limit, t0, 0.15, 5.0))
    t.append(time.perf_counter())
    lp = lp_cover_bound(Ar, time_limit_s=_budget(time_limit, t0, 0.2, 10.0))
    t.append(time.perf_counter())
    bound, cred = lag.bound, lag.reduced_cost
    if lp is not None and lp[0] > bound:
        bound, cred = lp[0], lp[1]
    heur = int(lag.cover.sum())
    cover = improve_by_windows(Ar, lag.cover, _exact_cover, time_limit_s=_budget(time_limit, t0, 0.2, 10.0),
                               seed=seed, lower_bound=bound)
    info.update(greedy_sites=int(base + greedy.sum()), lagrangian_sites=int(base + heur),
                heuristic_sites=int(base + cover.sum()), lagrangian_bound=round(base + lag.bound, 3),
                lagrangian_iterations=lag.iterations,
                lp_bound=None if lp is None else round(base + lp[0], 3),
                lagrangian_s=round(t[1] - t[0], 3), lp_s=round(t[2] - t[1], 3),
                windows_s=round(time.perf_counter() - t[2], 3))
    return cover, bound, cred


def _cover_mip(Ar: sp.csr_matrix, cover: np.ndarray, lag_bound: float, cred: np.ndarray,
               time_limit: float | None, t0: float, seed: int, rel_gap: float,
               info: dict) -> tuple[np.ndarray, float, str]:
    """HiGHS on the sites that can be in a cover smaller than ``cover`` (by their reduced cost
    ``cred`` at the bound ``lag_bound``), starting from ``cover``. Returns ``(cover, bound,
    status)``: every cover better than ``cover`` lies among the kept sites, so
    ``max(ceil(lag_bound), min(|cover|, their MIP bound))`` is a valid bound."""
    ub = float(cover.sum())
    lb = float(math.ceil(lag_bound - 1e-6))
    keep = (lag_bound + np.maximum(cred, 0) <= ub - 1 + 1e-6) | cover
    info["sites_for_mip"] = int(keep.sum())
    rest = time_limit if time_limit is None else max(0.05, float(time_limit) - (time.perf_counter() - t0))
    Ak = Ar[:, keep].tocsr()
    Ak.sort_indices()
    kept = np.flatnonzero(keep)
    mk = len(kept)
    t = time.perf_counter()
    st, xk, _, mip_bound = _solve_mip(np.ones(mk), np.zeros(mk), np.ones(mk), np.ones(mk, bool), None,
                                      time_limit=rest, seed=seed, rel_gap=rel_gap,
                                      start=(np.arange(mk), cover[kept].astype(float)),
                                      csr=(Ak.indptr, Ak.indices, np.ones(Ak.nnz),
                                           np.ones(Ak.shape[0]), np.full(Ak.shape[0], np.inf)))
    info["mip_s"] = round(time.perf_counter() - t, 3)
    if xk is not None and (xk > 0.5).sum() < ub:
        cover = np.zeros(len(keep), bool)
        cover[kept[xk > 0.5]] = True
    found = float(cover.sum())
    if st == "optimal":
        mip_lb = found
    elif st == "infeasible":  # no cover better than ub among the kept sites
        mip_lb = ub
    else:
        mip_lb = float(math.ceil(mip_bound - 1e-6)) if np.isfinite(mip_bound) else lb
    bound = max(lb, min(ub, mip_lb))
    return cover, bound, ("optimal" if bound >= found else "feasible")


def _exact_cover(A: sp.csr_matrix) -> np.ndarray | None:
    """Fewest columns of a small 0/1 matrix covering every row (HiGHS, 1 s at most)."""
    m = A.shape[1]
    st, x, _, _ = _solve_mip(np.ones(m), np.zeros(m), np.ones(m), np.ones(m, bool), None, time_limit=1.0,
                             seed=0, csr=(A.indptr, A.indices, np.ones(A.nnz), np.ones(A.shape[0]),
                                          np.full(A.shape[0], np.inf)))
    return (x > 0.5) if st == "optimal" and x is not None else None


def _greedy_cover(g_ptr: np.ndarray, g_idx: np.ndarray, fixed: np.ndarray, m: int) -> np.ndarray:
    """Chvátal's greedy on the merged rows (each row a set of sites): a start for the MIP."""
    y = np.zeros(m, bool)
    y[fixed] = True
    G = len(g_ptr) - 1
    rid = np.repeat(np.arange(G), np.diff(g_ptr))
    left = np.ones(G, bool)
    while left.any():
        live = left[rid]
        gain = np.bincount(g_idx[live], minlength=m).astype(float)
        gain[y] = -1
        j = int(np.argmax(gain))
        if gain[j] <= 0:
            break
        y[j] = True
        left[rid[g_idx == j]] = False
    return y


# --------------------------------------------------------------------------------------------
# MCLP
# --------------------------------------------------------------------------------------------
def max_coverage(cost: Any, radius: float, p: int, weights: Any = None, fixed: Any = None,
                 capacity: Any = None, time_limit: float | None = None,
                 seed: int = 0, *, rel_gap: float = 0.0) -> LocationResult:
    """Maximal covering (MCLP): open ``p`` sites (fixed included) maximising covered weight.

    Args:
        cost, radius, weights, fixed, time_limit, seed, rel_gap: as in :func:`set_cover`
            (``cost`` dense or ``scipy.sparse``).
        p: number of open sites, fixed ones included.
        capacity: optional per-site (or scalar) limit on the weight a site serves (e.g.
            population); with it each demand is served whole by one open site within ``radius``
            (single sourcing) and ``assignment`` is that site.
    Objective: total covered (or, capacitated, served) weight; ``bound`` is an upper bound.
    Uncapacitated, demands with the same covering set are one MIP row (weights summed) and
    demands covered by a fixed site a constant, so the model grows with the distinct covering
    sets, not the demands.
    """
    t0 = time.perf_counter()
    radius = _radius(radius)
    S, dense = reach(cost, radius)
    n, m = S.shape
    w = _check_weights(weights, n)
    fx = _check_fixed(fixed, m)
    p = _check_p(p, m, len(fx))
    cap = _check_capacity(capacity, m)
    y_lo = np.zeros(m)
    y_lo[fx] = 1
    has = (np.diff(S.indptr) > 0) & (w > 0)
    stats: dict[str, Any] = {"pairs": int(S.nnz)}
    if cap is None:
        sel, assignment, status, bound = _mclp_uncapacitated(S, dense, radius, w, p, fx, y_lo, has, time_limit,
                                                             seed, rel_gap, t0, stats)
        cap_bound = False
    else:
        sel, assignment, status, bound, nrows = _mclp_capacitated(S, w, p, fx, cap, y_lo, has,
                                                                  time_limit, seed, rel_gap)
        if sel is None:
            return LocationResult("mclp", status, float("nan"), float(bound), float("inf"), fx,
                                  np.full(n, -1), _diag(S, dense, radius, np.full(n, -1)),
                                  "no solution found within the time limit",
                                  time.perf_counter() - t0)
        cap_bound = True
        stats["rows"] = nrows
    covered = float(w[assignment >= 0].sum())
    need_diag = np.flatnonzero((assignment < 0) & (w > 0))
    diag = _diag(S, dense, radius, assignment, need_diag)
    if cap_bound:
        open_cov = _covered_by(S, sel)
        for d in diag:  # covered-by-an-open-site-but-full means capacity
            if d["reason"] == "not_selected" and open_cov[d["demand"]]:
                d["reason"] = "capacity"
                d["message"] = "open sites within the threshold are full (capacity)"
    if status == "optimal":
        bound = covered
    msg = (f"{len(sel)} open sites ({len(fx)} fixed) cover weight {_fmt(covered)} of "
           f"{_fmt(w.sum())} within {_fmt(radius)}")
    if status == "feasible":
        msg += f" (time limit or gap; bound {_fmt(bound)})"
    return LocationResult("mclp", status, covered, float(bound), _gap(covered, bound), sel,
                          assignment, diag, msg, time.perf_counter() - t0, stats)


def _mclp_uncapacitated(S, dense, radius, w, p, fx, y_lo, has, time_limit, seed, rel_gap, t0, stats):
    """Uncapacitated MCLP on merged covering sets (at province size the LP bound by pricing, swaps,
    fixing and the MIP on what is left: :func:`.mclp_lagrange.mclp_lagrangian`; else the MIP).
    Returns ``(sel, assignment, status, bound)``; updates ``stats``."""
    n, m = S.shape
    fixed_cov = _covered_by(S, fx) if len(fx) else np.zeros(n, bool)
    cand = np.flatnonzero(has & ~fixed_cov)
    const = float(w[has & fixed_cov].sum())
    group, g_ptr, g_idx = merge_rows(S, cand)
    G = len(g_ptr) - 1
    gw = np.bincount(group, weights=w[cand], minlength=G).astype(float)
    if len(g_idx) > LAGRANGIAN_ABOVE and G > 0:
        budget = time_limit if time_limit is not None else 120.0
        ys = large_start(g_ptr, g_idx, gw, p, fx, m)
        ys, lb, ub, _, _, lstats = mclp_lagrangian(
            g_ptr, g_idx, gw, p, fx, m, t0 + _LAGRANGIAN_SHARE * budget, rel_gap, ys, seed,
            mip_deadline=t0 + budget - _MIP_RESERVE_S)
        stats.update(lstats)
        status = "optimal" if ub - lb <= 1e-9 * max(1.0, lb) else "feasible"
        x, bound = ys.astype(float), const + ub
    else:
        status, x, bound = _mclp_mip(g_ptr, g_idx, gw, const, m, p, y_lo, time_limit, seed, rel_gap)
    sel = np.flatnonzero(x[:m] > 0.5)
    assignment = (_assign_within(dense, sel, radius) if dense is not None
                  else nearest_in_reach(S, sel)[0])
    stats.update({"rows": G + 1, "demands_in_model": len(cand),
                  "covering_sets": G, "covered_by_fixed": const})
    return sel, assignment, status, bound


def _mclp_mip(g_ptr, g_idx, gw, const, m, p, y_lo, time_limit, seed, rel_gap):
    """The MIP of the merged MCLP, started from the greedy. Returns ``(status, x, bound)``."""
    G = len(g_ptr) - 1
    fx = np.flatnonzero(y_lo > 0)
    ys = _greedy_mclp(g_ptr, g_idx, gw, p, fx, m)
    zs = _covered_groups(g_ptr, g_idx, ys)
    cobj = np.concatenate([np.zeros(m), gw])
    status, x, obj, bound = _solve_mip(cobj, np.concatenate([y_lo, np.zeros(G)]), np.ones(m + G),
                                       np.concatenate([np.ones(m, bool), np.zeros(G, bool)]), None,
                                       sense=-1, offset=const, time_limit=time_limit, seed=seed,
                                       rel_gap=rel_gap,
                                       start=(np.arange(m + G), np.concatenate([ys, zs]).astype(float)),
                                       csr=_mclp_rows(g_ptr, g_idx, m, p))
    if x is None:
        x = np.concatenate([ys, zs]).astype(float)
        if status != "optimal":
            status = "feasible"
            if not np.isfinite(bound):
                bound = const + float(gw.sum())
    return status, x, bound


def _mclp_capacitated(S, w, p, fx, cap, y_lo, has, time_limit, seed, rel_gap):
    """Single-sourcing capacitated MCLP on the pairs within reach (no merging: each demand is
    served whole). Returns ``(sel, assignment, status, bound, rows)``; ``sel`` None if no solution."""
    n, m = S.shape
    keep = has[row_ids(S)]
    pi, pj = row_ids(S)[keep], S.indices[keep].astype(np.int64)
    npair = len(pi)
    rows: list = [(np.arange(m), np.ones(m), p, p)]
    order = np.argsort(pi, kind="stable")
    b = np.searchsorted(pi[order], np.arange(n + 1))
    for i in np.flatnonzero(has):  # each demand served at most once
        ks = order[b[i]:b[i + 1]]
        rows.append((m + ks, np.ones(len(ks)), -np.inf, 1.0))
    for k in range(npair):  # x_ij <= y_j
        rows.append((np.array([m + k, pj[k]]), np.array([1.0, -1.0]), -np.inf, 0.0))
    byj = np.argsort(pj, kind="stable")
    bj = np.searchsorted(pj[byj], np.arange(m + 1))
    for j in range(m):  # served weight <= cap_j * y_j
        ks = byj[bj[j]:bj[j + 1]]
        if np.isfinite(cap[j]) and len(ks):
            rows.append((np.concatenate([m + ks, [j]]), np.concatenate([w[pi[ks]], [-cap[j]]]),
                         -np.inf, 0.0))
    lo = np.concatenate([y_lo, np.zeros(npair)])
    status, x, obj, bound = _solve_mip(np.concatenate([np.zeros(m), w[pi]]), lo,
                                       np.ones(m + npair), np.ones(m + npair, bool), rows,
                                       sense=-1, time_limit=time_limit, seed=seed, rel_gap=rel_gap)
    if x is None:
        return None, None, ("infeasible" if status == "infeasible" else "feasible"), bound, len(rows)
    sel = np.flatnonzero(x[:m] > 0.5)
    assignment = np.full(n, -1)
    used = x[m:] > 0.5
    assignment[pi[used]] = pj[used]
    return sel, assignment, status, bound, len(rows)


def _covered_groups(g_ptr: np.ndarray, g_idx: np.ndarray, y: np.ndarray) -> np.ndarray:
    G = len(g_ptr) - 1
    rid = np.repeat(np.arange(G), np.diff(g_ptr))
    return np.bincount(rid, weights=y[g_idx].astype(float), minlength=G) > 0


def _greedy_mclp(g_ptr: np.ndarray, g_idx: np.ndarray, gw: np.ndarray, p: int,
                 fixed: np.ndarray, m: int) -> np.ndarray:
    """Greedy by covered weight on the merged rows (a start for the MIP)."""
    y = np.zeros(m, bool)
    y[fixed] = True
    G = len(g_ptr) - 1
    rid = np.repeat(np.arange(G), np.diff(g_ptr))
    cov = _covered_groups(g_ptr, g_idx, y)
    while y.sum() < p:
        live = ~cov[rid]
        gain = np.bincount(g_idx[live], weights=gw[rid[live]], minlength=m)
        gain[y] = -1
        j = int(np.argmax(gain))
        y[j] = True
        cov[rid[g_idx == j]] = True
    return y
