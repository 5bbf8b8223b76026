"""Compiled loops of the maximal covering heuristics on merged covering sets ("groups").

The state of a solution is, per group ``g``, ``cnt[g]`` (open sites covering it) and ``osum[g]``
(the sum of their indices, so the single owner of a group covered once is ``osum[g]``), and per
site ``gain[j]`` (weight of the uncovered groups ``j`` covers: what opening it adds) and
``loss[j]`` (weight of the groups only ``j`` covers: what closing it costs). Opening or closing a
site updates them in ``O(sum of the covering-set sizes of its groups)``, so a pass of the 1-swap
search over every closed site costs ``O(pairs + m p)`` (Whitaker's fast interchange, adapted to
covering). Without numba the same functions run as Python (slow, for tests of the fallback).
"""

from __future__ import annotations

import numpy as np

from geo_service.core._optional import njit


@njit
def transpose(g_ptr, g_idx, m):  # pragma: no cover - compiled
    """The sites' groups in CSR form ``(s_ptr, s_grp)`` from the groups' sites."""
    s_ptr = np.zeros(m + 1, np.int64)
    for e in range(len(g_idx)):
        s_ptr[g_idx[e] + 1] += 1
    for j in range(m):
        s_ptr[j + 1] += s_ptr[j]
    fill = s_ptr[:-1].copy()
    s_grp = np.empty(len(g_idx), np.int64)
    for g in range(len(g_ptr) - 1):
        for e in range(g_ptr[g], g_ptr[g + 1]):
            j = g_idx[e]
            s_grp[fill[j]] = g
            fill[j] += 1
    return s_ptr, s_grp


@njit
def site_sums(g_ptr, g_idx, lam, m):  # pragma: no cover - compiled
    """``B[j] = sum of lam[g]`` over the groups ``g`` site ``j`` covers."""
    B = np.zeros(m)
    for g in range(len(g_ptr) - 1):
        x = lam[g]
        if x != 0.0:
            for e in range(g_ptr[g], g_ptr[g + 1]):
                B[g_idx[e]] += x
    return B


@njit
def selected_counts(s_ptr, s_grp, sel, G):  # pragma: no cover - compiled
    """Per group, how many of the sites ``sel`` cover it."""
    cnt = np.zeros(G)
    for j in sel:
        for e in range(s_ptr[j], s_ptr[j + 1]):
            cnt[s_grp[e]] += 1.0
    return cnt


@njit
def state(g_ptr, g_idx, s_ptr, s_grp, gw, y):  # pragma: no cover - compiled
    """``(cnt, osum, gain, loss, value)`` of the solution ``y`` (bool per site)."""
    G, m = len(g_ptr) - 1, len(s_ptr) - 1
    cnt = np.zeros(G, np.int64)
    osum = np.zeros(G, np.int64)
    for j in range(m):
        if y[j]:
            for e in range(s_ptr[j], s_ptr[j + 1]):
                cnt[s_grp[e]] += 1
                osum[s_grp[e]] += j
    gain = np.zeros(m)
    loss = np.zeros(m)
    value = 0.0
    for g in range(G):
        if cnt[g] == 0:
            for e in range(g_ptr[g], g_ptr[g + 1]):
                gain[g_idx[e]] += gw[g]
        else:
            value += gw[g]
            if cnt[g] == 1:
                loss[osum[g]] += gw[g]
    return cnt, osum, gain, loss, value


@njit
def open_site(a, g_ptr, g_idx, s_ptr, s_grp, gw, cnt, osum, gain, loss):  # pragma: no cover
    """Open site ``a`` (closed before), updating the state in place."""
    for e in range(s_ptr[a], s_ptr[a + 1]):
        g = s_grp[e]
        c = cnt[g]
        if c == 0:
            for f in range(g_ptr[g], g_ptr[g + 1]):
                gain[g_idx[f]] -= gw[g]
            loss[a] += gw[g]
        elif c == 1:
            loss[osum[g]] -= gw[g]
        cnt[g] = c + 1
        osum[g] += a


@njit
def close_site(r, g_ptr, g_idx, s_ptr, s_grp, gw, cnt, osum, gain, loss):  # pragma: no cover
    """Close site ``r`` (open before), updating the state in place."""
    for e in range(s_ptr[r], s_ptr[r + 1]):
        g = s_grp[e]
        c = cnt[g]
        cnt[g] = c - 1
        osum[g] -= r
        if c == 1:
            loss[r] -= gw[g]
            for f in range(g_ptr[g], g_ptr[g + 1]):
                gain[g_idx[f]] += gw[g]
        elif c == 2:
            loss[osum[g]] += gw[g]


@njit
def greedy(g_ptr, g_idx, s_ptr, s_grp, gw, y, p, allowed):  # pragma: no cover - compiled
    """Open the allowed site of largest gain until ``p`` are open (``y`` updated in place)."""
    cnt, osum, gain, loss, _ = state(g_ptr, g_idx, s_ptr, s_grp, gw, y)
    k = 0
    for j in range(len(y)):
        if y[j]:
            k += 1
    while k < p:
        best, bj = -1.0, -1
        for j in range(len(y)):
            if allowed[j] and not y[j] and gain[j] > best:
                best, bj = gain[j], j
        if bj < 0:
            break
        open_site(bj, g_ptr, g_idx, s_ptr, s_grp, gw, cnt, osum, gain, loss)
        y[bj] = True
        k += 1
    return y


@njit
def swap_passes(g_ptr, g_idx, s_ptr, s_grp, gw, y, movable, allowed, passes, tol):  # pragma: no cover
    """At most ``passes`` sweeps of first-improvement 1-swaps (open an allowed closed site ``a``,
    close the movable open site ``r`` that loses least with it). ``y`` is updated in place.

    Returns ``(value, swaps, converged)``: converged when a whole sweep found no swap above ``tol``.
    """
    cnt, osum, gain, loss, value = state(g_ptr, g_idx, s_ptr, s_grp, gw, y)
    m = len(y)
    opn = np.nonzero(y & movable)[0]
    extra = np.zeros(m)
    swaps = 0
    for _ in range(passes):
        moved = 0
        for a in range(m):
            if y[a] or not allowed[a] or len(opn) == 0:
                continue
            for e in range(s_ptr[a], s_ptr[a + 1]):
                g = s_grp[e]
                if cnt[g] == 1:
                    extra[osum[g]] += gw[g]
            best, bi = -np.inf, -1
            for i in range(len(opn)):
                d = extra[opn[i]] - loss[opn[i]]
                if d > best:
                    best, bi = d, i
            for e in range(s_ptr[a], s_ptr[a + 1]):
                g = s_grp[e]
                if cnt[g] == 1:
                    extra[osum[g]] = 0.0
            delta = gain[a] + best
            if delta > tol:
                r = opn[bi]
                open_site(a, g_ptr, g_idx, s_ptr, s_grp, gw, cnt, osum, gain, loss)
                close_site(r, g_ptr, g_idx, s_ptr, s_grp, gw, cnt, osum, gain, loss)
                y[a], y[r] = True, False
                opn[bi] = a
                value += delta
                moved += 1
        swaps += moved
        if moved == 0:
            return value, swaps, True
    return value, swaps, False
