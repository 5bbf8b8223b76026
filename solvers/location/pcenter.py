"""p-center (exact bisection over cost levels with set covering) and the brute-force reference."""

from __future__ import annotations

import itertools
import time
from typing import Any

import numpy as np

from ._common import (LocationResult, _assign_within, _check_cost, _check_fixed, _check_p,
                      _check_weights, _finite_big, _fmt, _gap, _uncovered_diag)
from .covering import set_cover
from .heuristics import greedy_interchange


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
    sizes = range(m - len(fx) + 1) if model == "lscp" else [int(p) - len(fx)]
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
