"""p-median heuristics: greedy add and fast vertex interchange (Teitz & Bart 1968; Whitaker 1983)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._common import _check_cost, _check_fixed, _check_p, _check_weights, _finite_big


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
