"""Maximal covering at province size: Lagrangian upper bound, greedy + swap search, site fixing.

The coverage constraints ``z_g <= sum_{j in N_g} y_j`` are relaxed with multipliers
``lam_g >= 0`` (Galvão & ReVelle 1996, "A Lagrangean heuristic for the maximal covering location
problem", EJOR 88:114-123): ``L(lam) = sum_g max(0, w_g - lam_g) + (sum of the p largest
B_j = sum_{g in N_j} lam_g)`` is an upper bound for *any* ``lam >= 0``; its minimum equals the LP
bound. Subgradient steps (Polyak, towards the incumbent) use three ``bincount`` passes over the
pairs, ``O(pairs)`` each. Every Lagrangian ``y`` is a solution; the best is polished by a swap
search whose pass is also ``O(pairs + m p)``. Sites whose forced opening (closing) drops ``L``
below the incumbent are closed (opened), which shrinks the MIP that finishes the proof.
"""

from __future__ import annotations

import time

import numpy as np

from geo_service.core._optional import HAVE_NUMBA

_ITERS = 3000
_PATIENCE = 30
_THETA0 = 0.5
_SWAP_SHARE = 0.1   # share of the time budget for the first swap search


if HAVE_NUMBA:  # the optional 'fast' extra (geo_service.core._optional)
    import numba as _numba
else:  # pragma: no cover - depends on the environment
    _numba = None

if _numba is not None:
    @_numba.njit(cache=True)
    def _site_sums(g_ptr, g_idx, lam, m):  # pragma: no cover - compiled
        B = np.zeros(m)
        for g in range(len(g_ptr) - 1):
            x = lam[g]
            for e in range(g_ptr[g], g_ptr[g + 1]):
                B[g_idx[e]] += x
        return B

    @_numba.njit(cache=True)
    def _group_counts(g_ptr, g_idx, y):  # pragma: no cover - compiled
        G = len(g_ptr) - 1
        cnt = np.zeros(G)
        for g in range(G):
            c = 0
            for e in range(g_ptr[g], g_ptr[g + 1]):
                if y[g_idx[e]]:
                    c += 1
            cnt[g] = c
        return cnt


def _covered_count(rid, g_idx, y, G):
    return np.bincount(rid, weights=y[g_idx].astype(float), minlength=G)


def _value(rid, g_idx, gw, y, G):
    return float(gw[_covered_count(rid, g_idx, y, G) > 0].sum())


def swap_search(rid, g_idx, gw, y, movable_mask, deadline, max_swaps=100000):
    """Best-improvement (add a, drop r) swaps for the MCLP on the merged rows.

    ``movable_mask[j]`` says site ``j`` may be dropped (fixed sites may not). Returns
    ``(y, value, swaps)``.
    """
    G, m = len(gw), len(y)
    gw = np.asarray(gw, float)
    y = y.copy()
    swaps = 0
    while swaps < max_swaps and time.perf_counter() < deadline:
        cnt = _covered_count(rid, g_idx, y, G)
        unc = cnt == 0
        gain = np.bincount(g_idx, weights=gw[rid] * unc[rid], minlength=m)   # add a
        once = cnt == 1
        # the single open site covering each group covered once
        e_once = once[rid] & y[g_idx]
        owner = np.full(G, -1, np.int64)
        owner[rid[e_once]] = g_idx[e_once]
        loss = np.bincount(owner[once], weights=gw[once], minlength=m)         # drop r
        sel = np.flatnonzero(y & movable_mask)
        if len(sel) == 0:
            break
        pos = np.full(m, -1, np.int64)
        pos[sel] = np.arange(len(sel))
        # adding a re-covers groups covered only by r: C[a, r] = their weight
        e = once[rid] & ~y[g_idx]
        ra = owner[rid[e]]
        ok = pos[ra] >= 0
        key = g_idx[e][ok] * len(sel) + pos[ra[ok]]
        C = np.bincount(key, weights=gw[rid[e]][ok], minlength=m * len(sel)).reshape(m, len(sel))
        delta = gain[:, None] - loss[sel][None, :] + C
        delta[y] = -np.inf
        a, r = np.unravel_index(int(np.argmax(delta)), delta.shape)
        if not delta[a, r] > 1e-9 * max(1.0, float(gw.sum())):
            break
        y[sel[r]] = False
        y[a] = True
        swaps += 1
    return y, _value(rid, g_idx, gw, y, G), swaps


def mclp_lagrangian(g_ptr, g_idx, gw, p, fx, m, deadline, rel_gap, start_y):
    """Lagrangian upper bound, best solution and site fixing for the merged MCLP.

    Args:
        g_ptr, g_idx: the groups' (distinct covering sets') sites in CSR form.
        gw: group weights. p: open sites (fixed included). fx: fixed site indices.
        m: number of sites. deadline: ``time.perf_counter()`` time to stop.
        rel_gap: stop once ``(ub - lb) / lb`` is at most this. start_y: a starting solution.

    Returns ``(y, lb, ub, keep_open, keep_closed, stats)``: the best solution (bool per site),
    its covered weight ``lb``, the Lagrangian bound ``ub`` and the fixing masks.
    """
    gw = np.asarray(gw, float)
    G = len(gw)
    rid = np.repeat(np.arange(G), np.diff(g_ptr))
    is_fix = np.zeros(m, bool)
    is_fix[fx] = True
    free = np.flatnonzero(~is_fix)
    k = p - int(is_fix.sum())
    t0 = time.perf_counter()
    y, lb, swaps = swap_search(rid, g_idx, gw, start_y.astype(bool), ~is_fix,
                               min(deadline, t0 + _SWAP_SHARE * max(0.0, deadline - t0)))
    lam = gw.astype(float).copy()
    # covering everything is the trivial bound; L(lam) improves on it
    ub, best_lam, theta, stall, it = float(gw.sum()), lam, _THETA0, 0, 0
    last100 = np.inf

    fast = _numba is not None
    g_ptr = np.asarray(g_ptr, np.int64)
    g_idx = np.asarray(g_idx, np.int64)

    def relaxed(lam):
        B = (_site_sums(g_ptr, g_idx, lam, m) if fast
             else np.bincount(g_idx, weights=lam[rid], minlength=m))
        yy = is_fix.copy()
        if k > 0:
            top = free[np.argpartition(-B[free], k - 1)[:k]] if k < len(free) else free
            yy[top] = True
        z = gw > lam
        return float(np.maximum(gw - lam, 0).sum() + B[yy].sum()), yy, z, B

    while it < _ITERS and time.perf_counter() < deadline and theta > 1e-4:
        it += 1
        L, yy, z, _ = relaxed(lam)
        if L < ub - 1e-12 * max(1.0, ub):
            ub, best_lam, stall = L, lam, 0
        else:
            stall += 1
            if stall >= _PATIENCE:
                theta, stall = theta * 0.5, 0
        cnt = (_group_counts(g_ptr, g_idx, yy) if fast
               else _covered_count(rid, g_idx, yy, G))
        v = float(gw[cnt > 0].sum())
        if v > lb:
            lb, y = v, yy
        if ub - lb <= max(rel_gap * lb, 1e-9 * max(1.0, lb)):
            break
        if it % 100 == 0:  # converged: under 0.01 % of progress in the last 100 steps
            if ub > last100 - 1e-4 * (last100 - lb):
                break
            last100 = ub
        g = cnt - z
        gg = float(g @ g)
        if gg == 0:
            break
        # an optimal lam_g never exceeds w_g (above it, lowering lam_g only lowers L)
        lam = np.clip(lam - theta * (L - lb) / gg * g, 0.0, gw)
    t_ascent = time.perf_counter() - t0
    # polish the Lagrangian solution of the best multipliers too
    L, yy, _, B = relaxed(best_lam)
    ub = min(ub, L)
    if ub - lb > rel_gap * lb:
        y2, v2, sw = swap_search(rid, g_idx, gw, yy, ~is_fix, deadline)
        swaps += sw
        if v2 > lb:
            lb, y = v2, y2
    # fixing: opening j instead of the k-th best site, or closing a chosen site for the
    # (k+1)-th, drops the bound below the incumbent
    keep_open = is_fix.copy()
    keep_closed = np.zeros(m, bool)
    if 0 < k < len(free):
        order = free[np.argsort(-B[free])]
        kth, nxt = B[order[k - 1]], B[order[k]]
        tol = 1e-9 * max(1.0, lb)
        out = order[k:]
        keep_closed[out[L - kth + B[out] < lb + tol]] = True
        top = order[:k]
        keep_open[top[L - B[top] + nxt < lb + tol]] = True
    stats = {"lagrangian_bound": ub, "subgradient_iterations": it, "swaps": swaps,
             "sites_fixed_closed": int(keep_closed.sum()),
             "sites_fixed_open": int((keep_open & ~is_fix).sum()),
             "ascent_s": round(t_ascent, 3), "lagrangian_s": round(time.perf_counter() - t0, 3)}
    return y, lb, ub, keep_open, keep_closed, stats
