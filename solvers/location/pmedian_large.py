"""p-median at any ``p``: Lagrangian bound, Lagrangian-guided local search, fixing, then a restricted MIP.

For instances too big for the full radius LP (or ``p`` too big for the Lagrangian tree) the
uncapacitated p-median is solved in four steps, each of which keeps a valid lower bound:

1. **Lagrangian relaxation** of the assignment constraints (Cornuéjols, Fisher & Nemhauser 1977;
   Beasley 1993, "Lagrangean heuristics for location problems", EJOR 65:383-399): subgradient
   ascent with Polyak steps towards the incumbent, in chunks; ``L(u)`` is valid for any ``u`` and
   its maximum equals the LP bound of the classical formulation. Every Lagrangian solution (the
   ``p`` sites of most negative ``rho``) is a p-site solution and feeds the incumbent.
2. **Fast vertex interchange** (Whitaker 1983; Resende & Werneck 2007) from the best Lagrangian
   solution: best (add, drop) swap per pass in ``O(n m)`` with no ``n x m`` temporary.
3. **Lagrangian reduced-cost fixing**: a site whose opening lifts ``L`` past the incumbent is
   closed; on geometric instances most sites go.
4. When the gap is still above the target and time is left, the **radius formulation** MIP
   (Elloumi 2010; García, Labbé & Marín 2011, :mod:`.pmedian_radius`) on the kept sites, warm
   started with the incumbent; its bound (capped by the incumbent) is valid for the whole
   instance because every better solution uses only kept sites.

The reported bound is the best of the Lagrangian and the MIP bounds.
"""

from __future__ import annotations

import time

import numpy as np

from geo_service.core._optional import HAVE_NUMBA

from . import pmedian_lagrange as _lag
from ._common import _finite_big
from .pmedian_lagrange import lagrangian_bound
from .pmedian_radius import _pmedian_exact, _tol

if HAVE_NUMBA:  # the optional 'fast' extra (geo_service.core._optional)
    import numba as _numba
else:  # pragma: no cover - depends on the environment
    _numba = None

_WARM = 100           # subgradient iterations before the first local search
_CHUNK = 200          # subgradient iterations per compiled call (deadline checked between)
_PATIENCE = 30        # non-improving iterations before the step halves
_MIN_THETA = 2e-4     # stop the ascent when the step factor falls below this
_ILS_SHARE = 0.4      # share of the time left for the iterated local search (when not proven)
_ILS_MAX_ROUNDS = 400
_FINISH = "bnb"       # exact finish on the kept sites: "bnb" (Lagrangian tree) or "radius" (MIP)


def _best_swap_numpy(at, d1, d2, f1, is_sel, movable):
    """Best (add, drop) swap: ``(delta, add site, drop position)``, numpy in site chunks."""
    m, n = at.shape
    p = len(movable)
    best, ba, br = 0.0, -1, -1
    order = np.argsort(f1, kind="stable")
    starts = np.searchsorted(f1[order], np.arange(p))
    counts = np.bincount(f1, minlength=p)
    cand = np.flatnonzero(~is_sel)
    for lo in range(0, len(cand), 256):
        js = cand[lo:lo + 256]
        x = at[js][:, order]                                       # (k, n) sorted by f1
        g = np.maximum(d1[order] - x, 0).sum(axis=1)
        e = np.minimum(x, d2[order]) - np.minimum(x, d1[order])
        E = np.add.reduceat(e, np.minimum(starts, n - 1), axis=1) if n else np.zeros((len(js), p))
        E[:, counts == 0] = 0.0
        delta = E - g[:, None]
        delta[:, ~movable] = np.inf
        k, r = np.unravel_index(int(np.argmin(delta)), delta.shape)
        if delta[k, r] < best:
            best, ba, br = float(delta[k, r]), int(js[k]), int(r)
    return best, ba, br


if _numba is not None:
    @_numba.njit(cache=True, fastmath={"reassoc", "nsz", "arcp", "contract"})
    def _best_swap_numba(at, d1, d2, f1, is_sel, movable):  # pragma: no cover - compiled
        m, n = at.shape
        p = movable.shape[0]
        # dropping r alone moves its demands to their second nearest: base[r]
        base = np.zeros(p)
        for i in range(n):
            base[f1[i]] += d2[i] - d1[i]
        E = np.zeros(p)
        best, ba, br = 0.0, -1, -1
        for a in range(m):
            if is_sel[a]:
                continue
            g = 0.0
            for r in range(p):
                E[r] = base[r]
            for i in range(n):
                x = at[a, i]
                if x < d2[i]:  # the added site a takes i back from its second nearest
                    if x < d1[i]:
                        g += d1[i] - x
                        E[f1[i]] -= d2[i] - d1[i]
                    else:
                        E[f1[i]] += x - d2[i]
            for r in range(p):
                if movable[r] and E[r] - g < best:
                    best, ba, br = E[r] - g, a, r
        return best, ba, br


if _numba is not None:
    @_numba.njit(cache=True)
    def _rho_numba(a, u):  # pragma: no cover - compiled
        n, m = a.shape
        rho = np.zeros(m)
        for i in range(n):
            for j in range(m):
                x = a[i, j] - u[i]
                if x < 0.0:
                    rho[j] += x
        return rho


def _bound(a, u, p, is_open, use_numba):
    """:func:`lagrangian_bound` (float64, exact) without its ``n x m`` temporaries."""
    if not use_numba:
        return lagrangian_bound(a, u, p, is_open)
    rho = _rho_numba(a, np.asarray(u, float))
    op = np.flatnonzero(is_open)
    fr = np.flatnonzero(~is_open)
    k = p - len(op)
    if k > len(fr):
        return np.inf, op, rho
    if k > 0:
        part = fr[np.argpartition(rho[fr], k - 1)[:k]] if k < len(fr) else fr
        op = np.concatenate([op, part])
    return float(np.sum(u) + rho[op].sum()), op, rho


def _nearest_two(a: np.ndarray, sel: np.ndarray):
    """``d1, d2`` (nearest and second nearest open cost) and ``f1`` (position in ``sel``)."""
    sub = a[:, sel]
    n = sub.shape[0]
    if len(sel) == 1:
        return sub[:, 0], np.full(n, np.inf), np.zeros(n, np.int64)
    o = np.argpartition(sub, 1, axis=1)[:, :2]
    r = np.arange(n)
    x, y = sub[r, o[:, 0]], sub[r, o[:, 1]]
    f1 = np.where(x <= y, o[:, 0], o[:, 1])
    return np.minimum(x, y), np.maximum(x, y), f1.astype(np.int64)


def local_search(a: np.ndarray, at: np.ndarray, sel: np.ndarray, fixed: np.ndarray,
                 deadline: float, use_numba: bool | None = None) -> tuple[np.ndarray, float, int]:
    """Best-improvement vertex interchange on the weighted cost ``a`` (demands x sites).

    ``at`` is ``a`` transposed as float32 (sites x demands, C order) for the swap scan; every
    accepted swap is checked in float64 on ``a``. Fixed sites never leave. Stops at a local
    optimum or at ``deadline`` (``time.perf_counter()`` seconds).

    Returns ``(sorted sites, objective, swaps made)``.
    """
    use_numba = (_numba is not None and _lag.USE_NUMBA) if use_numba is None else use_numba
    m = a.shape[1]
    sel = np.asarray(sel, np.int64).copy()
    d1, d2, f1 = _nearest_two(a, sel)
    obj = float(d1.sum())
    swaps = 0
    while time.perf_counter() < deadline:
        is_sel = np.zeros(m, np.bool_)
        is_sel[sel] = True
        movable = ~np.isin(sel, fixed)
        if not movable.any() or len(sel) == m:
            break
        args = (at, d1.astype(np.float32), d2.astype(np.float32), f1, is_sel, movable)
        delta, add, pos = _best_swap_numba(*args) if use_numba else _best_swap_numpy(*args)
        if add < 0 or delta > -1e-7 * max(1.0, abs(obj)):
            break
        new = sel.copy()
        new[pos] = add
        nd1, nd2, nf1 = _nearest_two(a, new)
        nobj = float(nd1.sum())
        if not nobj < obj - 1e-9 * max(1.0, abs(obj)):  # float32 scan was wrong: stop here
            break
        sel, d1, d2, f1, obj = new, nd1, nd2, nf1, nobj
        swaps += 1
    return np.sort(sel), obj, swaps


def locate_allocate(a: np.ndarray, sel: np.ndarray, fixed: np.ndarray, rounds: int = 50
                    ) -> tuple[np.ndarray, float]:
    """Alternate (Cooper 1964; Maranzana 1964): assign each demand to its nearest open site, then
    move each cluster's site to the cluster's own 1-median; ``O(n m)`` a round (one sparse
    product), until no move helps. Fixed sites stay. Returns ``(sorted sites, objective)``."""
    from scipy.sparse import csr_matrix

    n = a.shape[0]
    sel = np.asarray(sel, np.int64).copy()
    p = len(sel)
    isfix = np.isin(sel, fixed)
    d1, _, f1 = _nearest_two(a, sel)
    obj = float(d1.sum())
    for _ in range(rounds):
        S = csr_matrix((np.ones(n), (f1, np.arange(n))), shape=(p, n)) @ a   # (p, m)
        taken = set(sel[isfix].tolist())
        new = sel.copy()
        for r in np.argsort(-S.min(axis=1)):  # heaviest clusters choose first
            if isfix[r]:
                continue
            for j in np.argsort(S[r]):
                if int(j) not in taken:
                    new[r] = j
                    taken.add(int(j))
                    break
        nd1, _, nf1 = _nearest_two(a, new)
        nobj = float(nd1.sum())
        if not nobj < obj - 1e-9 * max(1.0, abs(obj)):
            break
        sel, f1, obj = new, nf1, nobj
    return np.sort(sel), obj


def _start_multipliers(a: np.ndarray) -> np.ndarray:
    """``u_i`` = the cost of demand ``i``'s second nearest site (every site whose nearest demand
    it is gets a negative ``rho``): a start that converged fastest in trials."""
    q = min(a.shape[1] - 1, 1)
    return np.partition(a, q, axis=1)[:, q].astype(float)


def pmedian_lagrangian_large(c: np.ndarray, w: np.ndarray, p: int, fx: np.ndarray,
                             deadline: float, seed: int, stats: dict, rel_gap: float = 0.0,
                             start: np.ndarray | None = None):
    """Lagrangian bound + local search + fixing (+ restricted radius MIP) for any ``p``.

    Args:
        c: (n, m) costs (``inf`` allowed: replaced by a large finite cost, which only lowers the
            bound, so it stays valid).
        w: demand weights (>= 0); demands of weight 0 are dropped.
        p: open sites, fixed ones included. fx: fixed site indices.
        deadline: ``time.perf_counter()`` time to stop.
        rel_gap: stop once ``(ub - lb) / ub <= rel_gap``.
        start: optional initial site set.

    Returns ``(selected, objective, lower_bound, proven_optimal)``; fills ``stats``.
    """
    n, m = c.shape
    cw = _finite_big(c)
    rows = w > 0
    a = cw[rows] if np.all(w[rows] == 1) else w[rows, None] * cw[rows]
    a = np.ascontiguousarray(a, dtype=float)
    fin = c[np.isfinite(c)]
    integral = bool(np.all(w == np.round(w)) and np.all(fin == np.round(fin)))
    at = np.ascontiguousarray(a.T, dtype=np.float32)
    is_open = np.zeros(m, bool)
    is_open[fx] = True
    k = p - int(is_open.sum())
    t_start = time.perf_counter()
    use_numba = _numba is not None and _lag.USE_NUMBA
    u, best, ub, ls_swaps = _incumbent(a, at, p, fx, is_open, k, start, deadline, use_numba)
    lb, best_u, ub, best, iters = _ascent(a, at, u, p, is_open, k, ub, best, integral, rel_gap, deadline,
                                          use_numba)
    # polish the Lagrangian solution of the best multipliers (near-optimal u: a good start)
    _, sel0, _ = _bound(a, best_u, p, is_open, use_numba)
    if lb <= ub - max(_tol(integral, ub), rel_gap * ub) and not np.array_equal(np.sort(sel0), best):
        s2, v2, sw = local_search(a, at, sel0, fx, deadline, use_numba)
        ls_swaps += sw
        if v2 < ub:
            ub, best = v2, s2
    L, sel, rho = _bound(a, best_u, p, is_open, use_numba)
    lb = max(lb, L)
    # iterated local search guided by the Lagrangian: swap a few sites of the incumbent for
    # sites of low rho, polish, keep if better (up to _ILS_SHARE of the time left)
    if not lb > ub - max(_tol(integral, ub), rel_gap * ub):
        ils_end = min(deadline, time.perf_counter() + _ILS_SHARE * (deadline - time.perf_counter()))
        tol0 = _tol(integral, ub)
        best, ub, ils = _iterated_local_search(a, at, best, ub, rho, is_open, fx, ils_end, seed, use_numba,
                                               lambda v: lb > v - max(tol0, rel_gap * v))
        stats["ils_rounds"] = ils
    stats.update({"method": "lagrangian_large", "lagrangian_bound": lb,
                  "subgradient_iterations": iters, "local_search_swaps": ls_swaps,
                  "lagrangian_s": round(time.perf_counter() - t_start, 3)})
    if lb > ub - _tol(integral, ub):
        return best, ub, max(lb, ub), True
    return _fix_and_finish(c, w, a, p, fx, is_open, sel, rho, L, lb, ub, best, best_u, integral, deadline, seed,
                           rel_gap, stats)


def _value(a: np.ndarray, sel: np.ndarray) -> float:
    """Weighted cost of serving every demand from its nearest site of ``sel``."""
    return float(a[:, sel].min(axis=1).sum())


def _incumbent(a, at, p, fx, is_open, k, start, deadline, use_numba):
    """Starting multipliers and an incumbent by local search from ``start`` (default: the best
    Lagrangian solution of a short ascent). Returns ``(u, best, ub, swaps)``."""
    # a tight incumbent makes the Polyak steps of the ascent converge
    u = _start_multipliers(a)
    if start is None:  # a short ascent first: its Lagrangian solutions are far better starts
        _, start, _ = _bound(a, u, p, is_open, use_numba)
        v0 = _value(a, start)
        if use_numba:
            u, _, s1, _ = _lag._ascent_numba(at, u, is_open, k, v0, 1e-9, _WARM, 2.0, _PATIENCE)
        else:
            u, _, s1, _ = _ascent_numpy(at, u, is_open, k, v0, 1e-9, _WARM, 2.0, _PATIENCE, deadline)
        if _value(a, s1) < v0:
            start = s1
        start, _ = locate_allocate(a, start, fx)
    best, ub, swaps = local_search(a, at, start, fx, deadline, use_numba)
    return u, best, ub, swaps


def _ascent(a, at, u, p, is_open, k, ub, best, integral, rel_gap, deadline, use_numba):
    """Subgradient ascent in chunks until it converges, proves ``ub`` or runs out of time; the
    Lagrangian solutions met improve the incumbent. Returns ``(lb, best_u, ub, best, iterations)``."""
    lb, best_u, theta, iters, stall = -np.inf, u, 2.0, 0, 0
    while time.perf_counter() < deadline and theta >= _MIN_THETA:
        target = max(_tol(integral, ub), rel_gap * ub)
        if use_numba:
            bu, theta, bsel, its = _lag._ascent_numba(at, best_u, is_open, k, ub, target, _CHUNK,
                                                      theta, _PATIENCE)
        else:
            bu, theta, bsel, its = _ascent_numpy(at, best_u, is_open, k, ub, target, _CHUNK,
                                                 theta, _PATIENCE, deadline)
        iters += its
        L, _, _ = _bound(a, bu, p, is_open, use_numba)
        stall = stall + 1 if L <= lb + 1e-6 * max(1.0, abs(lb)) else 0
        if L >= lb:
            lb, best_u = L, bu
        if stall >= 3:  # three chunks without progress: the ascent has converged
            break
        cand = np.sort(np.asarray(bsel, int))
        v = _value(a, cand)
        if v < ub:
            ub, best = v, cand
        if lb > ub - max(_tol(integral, ub), rel_gap * ub):
            break
    return lb, best_u, ub, best, iters


def _fix_and_finish(c, w, a, p, fx, is_open, sel, rho, L, lb, ub, best, best_u, integral, deadline, seed,
                    rel_gap, stats, max_pairs=None):
    """Lagrangian fixing (opening j instead of the worst selected free site lifts L past ub), then
    the exact finish on the sites kept: every solution better than ub uses only those (skipped
    when the demands times the sites kept exceed ``max_pairs``: the dense finish would not fit).
    Returns ``(selected, objective, lower_bound, proven_optimal)``."""
    m = c.shape[1]
    keep = np.ones(m, bool)
    free_sel = sel[~is_open[sel]]
    if free_sel.size:
        rest = np.setdiff1d(np.flatnonzero(~is_open), free_sel)
        keep[rest[L - rho[free_sel].max() + rho[rest] > ub - _tol(integral, ub)]] = False
    keep[best] = True
    keep[fx] = True
    kept = np.flatnonzero(keep)
    stats["sites_after_fixing"] = int(kept.size)
    if (ub - lb) <= rel_gap * ub or time.perf_counter() > deadline - 1.0:
        return best, ub, lb, False
    if max_pairs is not None and a.shape[0] * kept.size > max_pairs:
        stats["finish"] = "skipped"
        return best, ub, lb, False
    if _FINISH == "bnb":
        sub_ub_sel = np.searchsorted(kept, best)
        bb = _lag._LagrangianBnB(a[:, kept], p, np.searchsorted(kept, fx), ub, sub_ub_sel,
                                 integral, deadline)
        if rel_gap > 0:  # prune nodes within the requested gap of the incumbent
            bb.tol = lambda: max(_tol(integral, bb.ub), rel_gap * bb.ub)
        sub_lb, proven = bb.run(best_u)
        stats.update({"method": "lagrangian_large+bnb", "bnb_nodes": bb.nodes,
                      "bnb_root_bound": bb.root_bound})
        if bb.ub < ub - 1e-9 * max(1.0, abs(ub)):
            best, ub = np.sort(kept[bb.ub_sel]), _value(a, kept[bb.ub_sel])
        if proven and rel_gap <= 0:
            return best, ub, ub, True
        if proven:  # every open node was pruned within rel_gap of the incumbent
            lb = max(lb, ub - rel_gap * ub)
        else:
            lb = max(lb, min(sub_lb, ub))
        return best, ub, lb, lb > ub - _tol(integral, ub)
    sub_stats: dict = {}
    sub_sel, sub_ub, sub_lb, proven = _pmedian_exact(c[:, kept], w, p, np.searchsorted(kept, fx), deadline, seed,
                                                     sub_stats, start=np.searchsorted(kept, best), rel_gap=rel_gap)
    stats.update({"mip_" + k2: v2 for k2, v2 in sub_stats.items() if k2 != "heuristic_objective"})
    if sub_ub < ub - 1e-9 * max(1.0, abs(ub)):
        best, ub = np.sort(kept[sub_sel]), _value(a, kept[sub_sel])
    if proven:
        return best, ub, ub, True
    lb = max(lb, min(sub_lb, ub)) if np.isfinite(sub_lb) else lb
    stats["method"] = "lagrangian_large+radius"
    return best, ub, lb, lb > ub - _tol(integral, ub)


def _ascent_numpy(at, u0, op, k, ub, target, iters, theta, patience, deadline):
    """The numpy twin of :func:`pmedian_lagrange._ascent_numba` (same search, slower)."""
    m, n = at.shape
    fr = np.flatnonzero(~op)
    opi = np.flatnonzero(op)
    buf = np.empty_like(at)
    u = np.asarray(u0, float)
    best_L, best_u, stall, best_v, best_sel = -np.inf, u, 0, np.inf, None
    it = 0
    while it < iters:
        it += 1
        u32 = u.astype(np.float32)
        rho = _lag._rho_fast(at, u32, buf)
        sel = opi
        if k > 0:
            part = fr[np.argpartition(rho[fr], k - 1)[:k]] if k < len(fr) else fr
            sel = np.concatenate([opi, part])
        L = float(u.sum() + rho[sel].sum())
        v = float(at[sel].min(axis=0).sum(dtype=np.float64))
        if v < best_v:
            best_v, best_sel = v, sel
        ub = min(ub, v)
        if L > best_L + 1e-12 * max(1.0, abs(L)):
            best_L, best_u, stall = L, u, 0
        else:
            stall += 1
            if stall >= patience:
                theta, stall = theta * 0.5, 0
        if best_L > ub - target or theta < 1e-5 or time.perf_counter() > deadline:
            break
        g = 1.0 - (at[sel] < u32[None, :]).sum(axis=0)
        gg = float(g @ g)
        if gg == 0:
            break
        u = u + theta * (ub - L) / gg * g
    return best_u, theta, best_sel, it


def _iterated_local_search(a, at, best, ub, rho, is_open, fx, end, seed, use_numba, done,
                           polish=None):
    """Perturb (swap 2-4 movable sites for random sites among the ``3p`` of lowest ``rho``),
    polish by :func:`local_search` (or ``polish(sites, end)``, same return value), keep
    improvements; stops at ``end``, after ``_ILS_MAX_ROUNDS`` rounds or once ``done(ub)`` says
    the gap is closed."""
    rng = np.random.default_rng(seed)
    m = a.shape[1]
    p = len(best)
    pool = np.argsort(rho)[:min(m, 3 * p)]
    pool = pool[~is_open[pool]]
    rounds = 0
    while time.perf_counter() < end and rounds < _ILS_MAX_ROUNDS and not done(ub):
        rounds += 1
        movable = np.flatnonzero(~np.isin(best, fx))
        out = pool[~np.isin(pool, best)]
        r = min(int(rng.integers(2, 5)), len(movable), len(out))
        if r == 0:
            break
        trial = best.copy()
        trial[rng.choice(movable, r, replace=False)] = rng.choice(out, r, replace=False)
        s2, v2, _ = (polish(trial, end) if polish is not None
                     else local_search(a, at, trial, fx, end, use_numba))
        if v2 < ub - 1e-9 * max(1.0, abs(ub)):
            best, ub = s2, v2
    return best, ub, rounds
