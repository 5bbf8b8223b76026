"""Compiled p-median kernels on candidate lists: the ``K`` nearest sites of every demand.

At thousands of demands and sites the dense ``n x m`` passes of :mod:`.pmedian_large` (every
subgradient step and every interchange pass reads all ``n m`` costs) dominate. Here each demand
keeps its ``K`` nearest sites sorted by weighted cost (``nbr``, ``nc``), and

* the **Lagrangian bound** caps each multiplier ``u_i`` at ``cap_i``, the largest listed cost of
  demand ``i``. Every site off the list costs at least ``cap_i >= u_i``, so its term
  ``min(0, a_ij - u_i)`` is zero and ``L(u)`` computed from the lists is *exactly* the Lagrangian
  of the full problem at that ``u``: a valid lower bound for any capped ``u`` (the projected
  subgradient ascent only gives up multipliers above the cap, where an assignment to a site off
  the list would be priced);
* the **interchange** (Whitaker's fast swap: best (add, drop) pair per pass) visits, for each
  demand, only the sites nearer than its second nearest open site; a demand whose second nearest
  open site lies past its list is scanned in full from the dense row, so every gain is exact.

All arithmetic is float64 on the stored costs; the bounds need no re-evaluation.
"""

from __future__ import annotations

import time

import numpy as np

from geo_service.core._optional import HAVE_NUMBA

from . import pmedian_large as _large
from ._common import _finite_big
from .pmedian_radius import _tol

if HAVE_NUMBA:  # the optional 'fast' extra (geo_service.core._optional)
    import numba as _numba
else:  # pragma: no cover - depends on the environment
    _numba = None

_BLOCK = 1000  # demand rows per argpartition block (bounds the index temporaries)
_SWAPS_PER_CALL = 50  # interchange swaps per compiled call (deadline checked between)


def candidate_lists(a: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` nearest sites of every demand by weighted cost ``a`` (demands x sites).

    Parameters
    ----------
    a : (n, m) float array of finite weighted costs.
    k : sites per demand (at most ``m``; ``k == m`` keeps every site).

    Returns
    -------
    ``(nbr, nc, cap)``: ``nbr`` (n, k) int64 site indices sorted by cost, ``nc`` (n, k) their
    costs, ``cap`` (n,) the largest listed cost (``inf`` when the list holds every site): every
    site off the list of demand ``i`` costs at least ``cap[i]``.
    """
    n, m = a.shape
    if not 1 <= int(k) <= m:
        raise ValueError(f"k must be in [1, {m}], got {k!r}")
    k = int(k)
    nbr = np.empty((n, k), np.int64)
    nc = np.empty((n, k))
    for lo in range(0, n, _BLOCK):
        blk = a[lo:lo + _BLOCK]
        idx = np.argpartition(blk, k - 1, axis=1)[:, :k] if k < m else \
            np.broadcast_to(np.arange(m), blk.shape)
        val = np.take_along_axis(blk, idx, axis=1)
        o = np.argsort(val, axis=1, kind="stable")
        nbr[lo:lo + _BLOCK] = np.take_along_axis(idx, o, axis=1)
        nc[lo:lo + _BLOCK] = np.take_along_axis(val, o, axis=1)
    cap = nc[:, -1].copy() if k < m else np.full(n, np.inf)
    return nbr, nc, cap


if _numba is not None:
    @_numba.njit(cache=True)
    def _rho(nbr, nc, u, m):  # pragma: no cover - compiled
        """``rho_j = sum_i min(0, a_ij - u_i)`` over the lists (exact when ``u <= cap``)."""
        n, k = nbr.shape
        rho = np.zeros(m)
        for i in range(n):
            ui = u[i]
            for t in range(k):
                x = nc[i, t] - ui
                if x >= 0.0:
                    break
                rho[nbr[i, t]] += x
        return rho

    @_numba.njit(cache=True)
    def _pick(rho, op, k, sel, is_sel):  # pragma: no cover - compiled
        """The Lagrangian solution: the open sites and the ``k`` free ones of lowest ``rho``."""
        is_sel[:] = False
        q = 0
        for j in range(rho.shape[0]):
            if op[j]:
                sel[q] = j
                is_sel[j] = True
                q += 1
        neg = np.flatnonzero(rho < 0.0)  # rho <= 0 always: the others are all zero
        t = 0
        for j in neg[np.argsort(rho[neg], kind="mergesort")]:
            if t == k:
                return
            if not op[j]:
                sel[q] = j
                is_sel[j] = True
                q += 1
                t += 1
        for j in range(rho.shape[0]):  # fewer than k negative: zeros in index order
            if t == k:
                return
            if not op[j] and not rho[j] < 0.0:
                sel[q] = j
                is_sel[j] = True
                q += 1
                t += 1

    @_numba.njit(cache=True)
    def _value_subgradient(nbr, nc, a, u, sel, is_sel, g, limit):  # pragma: no cover
        """Cost of serving every demand from its nearest site of ``sel`` (``inf`` when it is
        certainly at least ``limit``); fills the subgradient ``g_i = 1 - #{j in sel: a_ij < u_i}``.

        A demand with no open site on its list costs at least its largest listed cost: the
        dense rows are read only when that lower estimate stays below ``limit``."""
        n, k = nbr.shape
        v = 0.0
        short = np.empty(n, np.int64)
        ns = 0
        for i in range(n):
            found = False
            cnt = 0
            for t in range(k):
                x = nc[i, t]
                if found and x >= u[i]:
                    break
                if is_sel[nbr[i, t]]:
                    if not found:
                        v += x
                        found = True
                    if x < u[i]:
                        cnt += 1
            if not found:
                v += nc[i, k - 1]
                short[ns] = i
                ns += 1
            g[i] = 1.0 - cnt
        if ns > 0 and v >= limit:
            return np.inf
        for q in range(ns):  # exact: the dense row of each demand without a listed open site
            i = short[q]
            mn = np.inf
            for s in sel:
                mn = min(mn, a[i, s])
            v += mn - nc[i, k - 1]
        return v

    @_numba.njit(cache=True)
    def _step(u, g, cap, ub, L, theta):  # pragma: no cover - compiled
        """Projected Polyak step towards ``ub``; False when the subgradient vanishes."""
        gg = 0.0
        for i in range(u.shape[0]):
            if g[i] > 0.0 and u[i] >= cap[i]:
                g[i] = 0.0  # at the cap and pushed up: the projection keeps u_i there
            gg += g[i] * g[i]
        if gg == 0.0:
            return False
        s = theta * (ub - L) / gg
        for i in range(u.shape[0]):
            u[i] = min(u[i] + s * g[i], cap[i])
        return True

    @_numba.njit(cache=True)
    def ascent(nbr, nc, a, cap, u0, op, k, ub, tol, iters, theta, patience):  # pragma: no cover
        """Projected subgradient ascent on the capped Lagrangian, ``iters`` steps at most.

        Returns ``(best_u, best_L, theta, best_sel, best_v, iterations)``: the multipliers of
        the highest bound ``best_L`` (exact, valid), and the best Lagrangian solution met (value
        ``best_v``)."""
        n = nbr.shape[0]
        m = a.shape[1]
        u = np.minimum(u0, cap)
        best_u = u.copy()
        best_L = -np.inf
        p = k + int(op.sum())
        sel = np.empty(p, np.int64)
        best_sel = np.empty(p, np.int64)
        is_sel = np.zeros(m, np.bool_)
        g = np.empty(n)
        best_v = np.inf
        stall = 0
        it = 0
        while it < iters:
            it += 1
            rho = _rho(nbr, nc, u, m)
            _pick(rho, op, k, sel, is_sel)
            L = u.sum() + rho[sel].sum()
            v = _value_subgradient(nbr, nc, a, u, sel, is_sel, g, min(ub, best_v))
            if v < best_v:
                best_v = v
                best_sel[:] = sel
            ub = min(ub, v)
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
            if not _step(u, g, cap, ub, L, theta):
                break
        return best_u, best_L, theta, best_sel, best_v, it

    @_numba.njit(cache=True)
    def _nearest_two_one(i, nbr, nc, a, sel, pos, d1, d2, f1):  # pragma: no cover - compiled
        """Nearest and second nearest open cost of demand ``i`` (``pos[j]`` = position of
        site ``j`` in ``sel`` or -1): from its list or, holding fewer than two, the dense row."""
        found = 0
        for t in range(nbr.shape[1]):
            r = pos[nbr[i, t]]
            if r >= 0:
                if found == 0:
                    d1[i], f1[i], found = nc[i, t], r, 1
                else:
                    d2[i] = nc[i, t]
                    return
        b1, b2, r1 = np.inf, np.inf, 0
        for r in range(sel.shape[0]):
            x = a[i, sel[r]]
            if x < b1:
                b1, b2, r1 = x, b1, r
            elif x < b2:
                b2 = x
        d1[i], d2[i], f1[i] = b1, b2, r1

    @_numba.njit(cache=True)
    def nearest_two(nbr, nc, a, sel, pos, d1, d2, f1):  # pragma: no cover - compiled
        """:func:`_nearest_two_one` for every demand; returns the objective ``sum(d1)``."""
        for i in range(nbr.shape[0]):
            _nearest_two_one(i, nbr, nc, a, sel, pos, d1, d2, f1)
        return d1.sum()

    @_numba.njit(cache=True, inline="always")
    def _credit(j, x, d1, d2, r, sign, gain, adj):  # pragma: no cover - compiled
        """What adding site ``j`` (cost ``x < d2``) does for one demand, times ``sign``."""
        if x < d1:  # j takes the demand from its nearest: dropping r then costs nothing more
            gain[j] += sign * (d1 - x)
            adj[j, r] -= sign * (d2 - d1)
        else:  # dropping r sends the demand to j instead of its second nearest
            adj[j, r] += sign * (x - d2)

    @_numba.njit(cache=True)
    def _account(i, sign, nbr, nc, a, d1, d2, r, is_sel, gain, adj, base):  # pragma: no cover
        """Add (``sign`` 1) or remove (-1) demand ``i``'s terms of the swap gains."""
        k = nbr.shape[1]
        base[r] += sign * (d2 - d1)  # dropping r alone moves i to its second nearest
        if d2 > nc[i, k - 1]:  # sites off the list may be nearer than d2: the full row
            for j in range(a.shape[1]):
                if a[i, j] < d2 and not is_sel[j]:
                    _credit(j, a[i, j], d1, d2, r, sign, gain, adj)
            return
        for t in range(k):
            if nc[i, t] >= d2:
                break
            if not is_sel[nbr[i, t]]:
                _credit(nbr[i, t], nc[i, t], d1, d2, r, sign, gain, adj)

    @_numba.njit(cache=True)
    def _best_pair(gain, adj, base, is_sel, movable):  # pragma: no cover - compiled
        """``(delta, add site, drop position)`` of the best swap (delta 0, -1, -1 if none)."""
        best, ba, br = 0.0, -1, -1
        for j in range(gain.shape[0]):
            if is_sel[j]:
                continue
            for r in range(base.shape[0]):
                d = base[r] + adj[j, r] - gain[j]
                if movable[r] and d < best:
                    best, ba, br = d, j, r
        return best, ba, br

    @_numba.njit(cache=True)
    def _swap(nbr, nc, a, sel, pos, is_sel, r, add, d1, d2, f1, gain, adj, base, aff
              ):  # pragma: no cover - compiled
        """Open ``add`` in position ``r`` (closing ``sel[r]``), updating only the demands whose
        nearest two could change. Returns the exact change of the objective."""
        old = sel[r]
        na = 0
        for i in range(a.shape[0]):
            if a[i, old] <= d2[i] or a[i, add] < d2[i]:
                aff[na] = i
                na += 1
                _account(i, -1.0, nbr, nc, a, d1[i], d2[i], f1[i], is_sel, gain, adj, base)
        sel[r], pos[old], pos[add], is_sel[old], is_sel[add] = add, -1, r, False, True
        change = 0.0
        for q in range(na):
            i = aff[q]
            before = d1[i]
            _nearest_two_one(i, nbr, nc, a, sel, pos, d1, d2, f1)
            change += d1[i] - before
            _account(i, 1.0, nbr, nc, a, d1[i], d2[i], f1[i], is_sel, gain, adj, base)
        return change

    @_numba.njit(cache=True)
    def interchange(nbr, nc, a, sel, pos, is_sel, movable, d1, d2, f1, max_swaps, tol
                    ):  # pragma: no cover - compiled
        """Best-improvement vertex interchange with gains kept up to date between swaps
        (Whitaker 1983; Resende & Werneck 2007), ``max_swaps`` swaps at most. Returns
        ``(swaps, at a local optimum)``; ``sel``, ``pos``, ``is_sel``, ``d1``, ``d2``, ``f1``
        follow the swaps."""
        n, m, p = a.shape[0], a.shape[1], sel.shape[0]
        gain, adj, base = np.zeros(m), np.zeros((m, p)), np.zeros(p)
        aff = np.empty(n, np.int64)
        for i in range(n):
            _account(i, 1.0, nbr, nc, a, d1[i], d2[i], f1[i], is_sel, gain, adj, base)
        swaps = 0
        while swaps < max_swaps:
            best, add, r = _best_pair(gain, adj, base, is_sel, movable)
            if add < 0 or best > -tol:
                return swaps, True
            old = sel[r]
            if not _swap(nbr, nc, a, sel, pos, is_sel, r, add, d1, d2, f1, gain, adj, base,
                         aff) < 0.0:  # the kept gains had drifted: undo and stop
                _swap(nbr, nc, a, sel, pos, is_sel, r, old, d1, d2, f1, gain, adj, base, aff)
                return swaps, True
            swaps += 1
        return swaps, False


def bound_lists(lists, u: np.ndarray, p: int, is_open: np.ndarray):
    """Exact Lagrangian bound at ``u`` (capped first): ``(L, selected sites, rho)``."""
    nbr, nc, cap = lists
    m = is_open.shape[0]
    u = np.minimum(np.asarray(u, float), cap)
    rho = _rho(nbr, nc, u, m)
    op = np.flatnonzero(is_open)
    fr = np.flatnonzero(~is_open)
    k = p - len(op)
    if k > len(fr):
        return np.inf, op, rho
    if k > 0:
        part = fr[np.argpartition(rho[fr], k - 1)[:k]] if k < len(fr) else fr
        op = np.concatenate([op, part])
    return float(np.sum(u) + rho[op].sum()), op, rho


def local_search_lists(lists, a: np.ndarray, sel, fixed, deadline: float
                       ) -> tuple[np.ndarray, float, int]:
    """Best-improvement vertex interchange on the weighted cost ``a`` using candidate lists.

    Parameters
    ----------
    lists : ``(nbr, nc, cap)`` from :func:`candidate_lists` on ``a``.
    a : (n, m) weighted costs (the dense rows serve demands whose list runs out).
    sel : starting sites; fixed : sites that never leave; deadline : ``time.perf_counter()`` s.

    Returns ``(sorted sites, objective, swaps made)``; the objective is exact.
    """
    nbr, nc, _ = lists
    n, m = a.shape
    sel = np.asarray(sel, np.int64).copy()
    p = len(sel)
    pos = np.full(m, -1, np.int64)
    pos[sel] = np.arange(p)
    is_sel = pos >= 0
    d1, d2, f1 = np.empty(n), np.empty(n), np.empty(n, np.int64)
    obj = nearest_two(nbr, nc, a, sel, pos, d1, d2, f1)
    movable = ~np.isin(sel, fixed)
    swaps = 0
    while time.perf_counter() < deadline and movable.any() and 2 <= p < m:
        tol = 1e-9 * max(1.0, abs(obj))
        done_swaps, local_opt = interchange(nbr, nc, a, sel, pos, is_sel, movable, d1, d2, f1,
                                            _SWAPS_PER_CALL, tol)
        swaps += done_swaps
        obj = nearest_two(nbr, nc, a, sel, pos, d1, d2, f1)  # exact, drift-free
        if local_opt:
            break
    return np.sort(sel), float(obj), swaps


_K_FACTOR = 5     # list length: this many times the sites per median (m / p) ...
_K_MIN = 64       # ... and at least this many sites
_WARM = 100       # subgradient steps before the first local search
_CHUNK = 200      # subgradient steps per compiled call (deadline checked between)
_PATIENCE = 30    # non-improving steps before the step factor halves
_MIN_THETA = 2e-4
_CAP_SHARE = 0.01  # widen the lists when more multipliers than this share sit at their caps
_WIDENINGS = 2     # ... at most this many times (each doubles the list length)
_FINISH_MAX_PAIRS = 4_000_000  # largest demands x kept sites handed to the dense exact finish


def list_length(m: int, p: int) -> int:
    """Sites kept per demand: ``_K_FACTOR * m / p`` clipped to ``[_K_MIN, m]``."""
    return int(min(m, max(_K_MIN, np.ceil(_K_FACTOR * m / max(p, 1)))))


def _weighted(c: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted finite costs of the positive-weight demands, copying only what must change."""
    cw = _finite_big(c)
    rows = w > 0
    if not rows.all():
        cw, w = cw[rows], w[rows]
    a = cw if np.all(w == 1) else w[:, None] * cw
    return np.ascontiguousarray(a, dtype=float)


def _integral(c: np.ndarray, w: np.ndarray) -> bool:
    """Whether every weight and finite cost is a whole number (row blocks, first miss stops)."""
    if not np.all(w == np.round(w)):
        return False
    for lo in range(0, c.shape[0], _BLOCK):
        blk = c[lo:lo + _BLOCK]
        if not np.all((blk == np.round(blk)) | ~np.isfinite(blk)):
            return False
    return True


def pmedian_lists(c: np.ndarray, w: np.ndarray, p: int, fx: np.ndarray, deadline: float,
                  seed: int, stats: dict, rel_gap: float = 0.0):
    """The any-p p-median of :func:`.pmedian_large.pmedian_lagrangian_large` on candidate lists.

    Steps: capped Lagrangian ascent (short warm-up), list interchange from its best solution,
    ascent in chunks until it converges or proves the goal, interchange from the Lagrangian
    solution of the best multipliers, iterated local search, then Lagrangian fixing and the
    exact finish of :mod:`.pmedian_large` on the sites left. Same arguments and return value
    ``(selected, objective, lower_bound, proven_optimal)``; ``stats`` adds ``list_length`` (the
    last, after any widening) and ``multipliers_at_cap`` (demands whose multiplier the list
    length held back).
    """
    t0 = time.perf_counter()
    m = c.shape[1]
    a = _weighted(c, w)
    integral = _integral(c, w)
    K = list_length(m, p)
    lists = candidate_lists(a, K)
    is_open = np.zeros(m, bool)
    is_open[fx] = True
    k = p - int(is_open.sum())
    goal = (lambda v: max(_tol(integral, v), rel_gap * v))
    u = lists[1][:, min(1, K - 1)].copy()
    u, _, _, s1, _, _ = ascent(*lists[:2], a, lists[2], u, is_open, k, np.inf, 1e-9, _WARM, 2.0,
                               _PATIENCE)
    best, ub, swaps = local_search_lists(lists, a, s1, fx, deadline)
    lists, lb, best_u, ub, best, iters = _ascent_widening(lists, a, u, is_open, k, ub, best, goal,
                                                          deadline)
    K = lists[0].shape[1]
    L, sel, rho = bound_lists(lists, best_u, p, is_open)
    lb = max(lb, L)
    if not lb > ub - goal(ub) and not np.array_equal(np.sort(sel), best):
        s2, v2, sw = local_search_lists(lists, a, sel, fx, deadline)
        swaps += sw
        if v2 < ub:
            ub, best = v2, s2
    if not lb > ub - goal(ub):
        end = min(deadline, time.perf_counter() + _large._ILS_SHARE * (deadline - time.perf_counter()))
        best, ub, ils = _large._iterated_local_search(
            a, None, best, ub, rho, is_open, fx, end, seed, True, lambda v: lb > v - goal(v),
            polish=lambda s, e: local_search_lists(lists, a, s, fx, e))
        stats["ils_rounds"] = ils
    stats.update({"method": "lagrangian_lists", "lagrangian_bound": lb, "list_length": K,
                  "multipliers_at_cap": int(np.sum(best_u >= lists[2])),
                  "subgradient_iterations": iters, "local_search_swaps": swaps,
                  "lagrangian_s": round(time.perf_counter() - t0, 3)})
    if lb > ub - _tol(integral, ub):
        return best, ub, max(lb, ub), True
    out = _large._fix_and_finish(c, w, a, p, fx, is_open, sel, rho, L, lb, ub, best, best_u,
                                 integral, deadline, seed, rel_gap, stats, max_pairs=_FINISH_MAX_PAIRS)
    if stats.get("finish") == "skipped" and time.perf_counter() < deadline - 1.0:
        # no exact finish: the rest of the time goes to the local search
        best, ub, ils = _large._iterated_local_search(
            a, None, out[0], out[1], rho, is_open, fx, deadline, seed + 1, True,
            lambda v: out[2] > v - goal(v), polish=lambda s, e: local_search_lists(lists, a, s, fx, e))
        stats["ils_rounds"] = stats.get("ils_rounds", 0) + ils
        out = (best, ub, out[2], out[2] > ub - _tol(integral, ub))
    if stats["method"].startswith("lagrangian_large"):
        stats["method"] = stats["method"].replace("lagrangian_large", "lagrangian_lists")
    return out


def _ascent_widening(lists, a, u, is_open, k, ub, best, goal, deadline):
    """:func:`_ascent_chunks`; when it converges short of the goal with more than
    ``_CAP_SHARE`` of the multipliers held at their caps, the lists double (``_WIDENINGS``
    times at most) and the ascent goes on from where it stopped.
    Returns ``(lists, lb, best_u, ub, best, iterations)``."""
    m = a.shape[1]
    lb, iters = -np.inf, 0
    for widening in range(_WIDENINGS + 1):
        L, u, ub, best, its = _ascent_chunks(lists, a, u, is_open, k, ub, best, goal, deadline)
        lb, iters = max(lb, L), iters + its
        K = lists[0].shape[1]
        if lb > ub - goal(ub) or K >= m or widening == _WIDENINGS or time.perf_counter() > deadline \
                or np.sum(u >= lists[2]) <= _CAP_SHARE * len(u):
            break
        lists = candidate_lists(a, min(m, 2 * K))
    return lists, lb, u, ub, best, iters


def _ascent_chunks(lists, a, u, is_open, k, ub, best, goal, deadline):
    """Ascent in compiled chunks until three chunks bring nothing, the goal is proven or time
    runs out; better Lagrangian solutions replace the incumbent.
    Returns ``(lb, best_u, ub, best, iterations)``."""
    nbr, nc, cap = lists
    lb, best_u, theta, iters, stall = -np.inf, np.minimum(u, cap), 2.0, 0, 0
    while time.perf_counter() < deadline and theta >= _MIN_THETA:
        bu, L, theta, bsel, bv, its = ascent(nbr, nc, a, cap, best_u, is_open, k, ub, goal(ub),
                                             _CHUNK, theta, _PATIENCE)
        iters += its
        stall = stall + 1 if L <= lb + 1e-6 * max(1.0, abs(lb)) else 0
        if L >= lb:
            lb, best_u = L, bu
        if bv < ub:
            ub, best = float(bv), np.sort(bsel)
        if stall >= 3 or lb > ub - goal(ub):
            break
    return lb, best_u, ub, best, iters
