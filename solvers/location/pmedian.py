"""p-median entry point: dispatch to the Lagrangian branch-and-bound, the radius formulation or
the capacitated assignment MIP."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from . import pmedian_lagrange, pmedian_sparse
from ._common import (LocationResult, _assign_within, _check_capacity, _check_cost, _check_fixed,
                      _check_p, _check_weights, _fmt, _gap, _solve_mip, _uncovered_diag)
from .covering import set_cover
from .pmedian_lagrange import _pmedian_lagrangian
from .pmedian_large import pmedian_lagrangian_large
from .pmedian_sparse import pmedian_lists

_LAGRANGIAN_MAX_P = 15   # p-median with p <= this uses the Lagrangian branch-and-bound
_LISTS_MIN_PAIRS = 2_000_000  # any-p instances with at least this many pairs use candidate lists


def p_median(cost: Any, p: int, weights: Any = None, fixed: Any = None, capacity: Any = None,
             time_limit: float | None = None, seed: int = 0, *,
             rel_gap: float = 0.0) -> LocationResult:
    """p-median: open ``p`` sites (fixed included) minimising the weighted cost to the assigned site.

    Uncapacitated: each demand goes to its nearest open site; solved exactly, for small ``p``
    (``p - len(fixed) <= 15``, all costs of weighted demands finite) by the Lagrangian
    branch-and-bound, otherwise by Lagrangian relaxation (bound, local search, site fixing)
    followed by the radius formulation on the sites left (:mod:`.pmedian_large`); together they
    prove optimality on the OR-Library instances (up to 900 x 900) within seconds. A Lagrangian
    lower bound is always computed, so ``bound`` is finite at any ``p`` and any time limit.
    From ``_LISTS_MIN_PAIRS`` demand-site pairs on, those steps run on candidate lists of the
    nearest sites per demand (:mod:`.pmedian_sparse`; the bound stays valid for the full
    instance).
    ``stats["method"]`` says which ran. ``rel_gap`` (fraction, e.g. 0.01) stops the search once
    ``(objective - bound) / objective`` is at most that (status ``feasible``, gap reported). Capacitated (``capacity`` = per-site or scalar limit
    on served weight): single-sourcing assignment MIP; a demand may then go to a farther site.
    Pairs with ``cost = inf`` are never used; a demand with no finite cost makes it infeasible.

    Returns a :class:`LocationResult` whose ``bound`` is a proven lower bound; on a time limit the
    best solution so far is returned with status ``feasible``.
    """
    t0 = time.perf_counter()
    if not (0.0 <= float(rel_gap) < 1.0):
        raise ValueError(f"rel_gap must be in [0, 1), got {rel_gap!r}")
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
        elif n * m >= _LISTS_MIN_PAIRS and _lists_available():
            sel, ub, lb, proven = pmedian_lists(c, w, p, fx, deadline, seed, stats,
                                                rel_gap=float(rel_gap))
        else:
            sel, ub, lb, proven = pmedian_lagrangian_large(c, w, p, fx, deadline, seed, stats,
                                                           rel_gap=float(rel_gap))
        assignment = _assign_within(c, sel, None)
        obj = float(w @ np.where(assignment >= 0, c[np.arange(n), np.maximum(assignment, 0)], 0))
        unserved = np.flatnonzero((assignment < 0) & (w > 0))
        if unserved.size:  # every demand has some site, but not among these p: never "optimal"
            return _unserved_result(c, w, p, fx, sel, assignment, obj, unserved, deadline, t0, stats)
        status = "optimal" if proven else "feasible"
        bound = obj if proven else lb
        msg = f"{len(sel)} open sites ({len(fx)} fixed), total weighted cost {_fmt(obj)}"
        return LocationResult("pmedian", status, obj, float(bound), _gap(obj, bound), sel,
                              assignment, [], msg, time.perf_counter() - t0, stats)
    return _pmedian_capacitated(c, w, p, fx, cap, deadline, seed, t0)


def _unserved_result(c: np.ndarray, w: np.ndarray, p: int, fx: np.ndarray, sel: np.ndarray,
                     assignment: np.ndarray, obj: float, unserved: np.ndarray, deadline: float, t0: float,
                     stats: dict[str, Any]) -> LocationResult:
    """The answer when the chosen ``p`` sites leave weighted demands without any finite cost.

    A set cover over the pairs of finite cost says how many sites serving every demand need:
    when its bound exceeds ``p`` no ``p`` sites can serve them all (infeasible, with that number);
    otherwise a serving selection may exist that the search did not find (feasible, no bound).
    """
    reach_cost = np.where(np.isfinite(c), 0.0, np.inf)
    limit = max(1.0, min(10.0, deadline - time.perf_counter()))
    cover = set_cover(reach_cost, 0.0, weights=w, fixed=fx, time_limit=limit)
    need = int(np.ceil(cover.bound - 1e-9)) if np.isfinite(cover.bound) else None
    stats["sites_to_serve_every_demand"] = {"bound": need, "found": int(cover.objective)
                                            if np.isfinite(cover.objective) else None}
    diag = _uncovered_diag(c, None, assignment, unserved)
    if need is not None and need > p:
        msg = (f"infeasible: no {p} sites can serve every demand (at least {need} are needed); "
               f"{unserved.size} demand(s) can only be served by sites not chosen, e.g. demand {int(unserved[0])}")
        return LocationResult("pmedian", "infeasible", float("nan"), float("nan"), float("inf"), sel,
                              assignment, diag, msg, time.perf_counter() - t0, stats)
    msg = (f"{len(sel)} open sites leave {unserved.size} demand(s) unserved (e.g. demand {int(unserved[0])}); "
           f"a selection serving every demand may exist: the total cost {_fmt(obj)} is of the served ones only")
    return LocationResult("pmedian", "feasible", obj, float("nan"), float("inf"), sel, assignment, diag, msg,
                          time.perf_counter() - t0, stats)


def _lists_available() -> bool:
    """The candidate-list kernels are compiled (numba) and not switched off for the ascent."""
    return pmedian_sparse._numba is not None and pmedian_lagrange.USE_NUMBA


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
