"""Maximal covering at province size: Lagrangian upper bound, greedy + swap search, site fixing.

The coverage constraints ``z_g <= sum_{j in N_g} y_j`` are relaxed with multipliers
``lam_g >= 0`` (Galvão & ReVelle 1996, "A Lagrangean heuristic for the maximal covering location
problem", EJOR 88:114-123): ``L(lam) = sum_g max(0, w_g - lam_g) + (sum of the p largest
B_j = sum_{g in N_j} lam_g)`` is an upper bound for *any* ``lam >= 0``; its minimum equals the LP
bound. The ascent starts from the multipliers of the incumbent (``lam_g = 0`` on the groups it
covers, ``w_g`` elsewhere: ``L`` is then the covered weight plus the ``p`` largest gains, the
submodular bound of Nemhauser & Wolsey) and takes Polyak subgradient steps towards the incumbent,
each ``O(pairs)`` in a compiled loop. Every Lagrangian ``y`` is a solution; the best ones are
polished by the 1-swap search of :mod:`.mclp_kernels`. Sites whose forced opening (closing) drops
``L`` below the incumbent are closed (opened), which shrinks the MIP that finishes the proof.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from . import mclp_kernels as K
from .mclp_lp import lp_bound, restricted_mip

_ITERS = 20000
_PATIENCE = 20
_THETA0 = 0.2
_THETA_MIN = 1e-4
_SWAP_PASSES = 4    # sweeps of the swap search between looks at the clock
_LP_SHARE = 0.75    # share of the time for the LP bound by pricing
_SUPPORT_SHARE = 0.15  # share for the MIP over the LP's support


@dataclass
class _Groups:
    """The merged MCLP: groups' sites (CSR), sites' groups (CSR), weights, fixed sites, budget."""

    g_ptr: np.ndarray
    g_idx: np.ndarray
    s_ptr: np.ndarray
    s_grp: np.ndarray
    gw: np.ndarray
    is_fix: np.ndarray
    k: int                 # sites to choose besides the fixed ones

    @property
    def m(self) -> int:
        return len(self.is_fix)

    def free(self) -> np.ndarray:
        return np.flatnonzero(~self.is_fix)


def _groups(g_ptr, g_idx, gw, p, fx, m) -> _Groups:
    g_ptr = np.asarray(g_ptr, np.int64)
    g_idx = np.asarray(g_idx, np.int64)
    s_ptr, s_grp = K.transpose(g_ptr, g_idx, int(m))
    is_fix = np.zeros(m, bool)
    is_fix[np.asarray(fx, np.int64)] = True
    return _Groups(g_ptr, g_idx, s_ptr, s_grp, np.asarray(gw, float), is_fix,
                   int(p) - int(is_fix.sum()))


def large_start(g_ptr, g_idx, gw, p, fx, m) -> np.ndarray:
    """Greedy by covered weight (fixed sites first), compiled: the start at province size."""
    P = _groups(g_ptr, g_idx, gw, p, fx, m)
    y = P.is_fix.copy()
    return K.greedy(P.g_ptr, P.g_idx, P.s_ptr, P.s_grp, P.gw, y, int(p), np.ones(P.m, bool))


def local_search(P: _Groups, y: np.ndarray, deadline: float) -> tuple[np.ndarray, float, int]:
    """1-swap search from ``y`` (fixed sites stay) until no swap improves or ``deadline``
    (``time.perf_counter()``). Returns ``(y, covered weight, swaps)``."""
    y = np.asarray(y, bool).copy()
    movable = ~P.is_fix
    tol = 1e-9 * max(1.0, float(P.gw.sum()))
    swaps = 0
    while True:
        _, sw, done = K.swap_passes(P.g_ptr, P.g_idx, P.s_ptr, P.s_grp, P.gw, y, movable, movable,
                                    _SWAP_PASSES, tol)
        swaps += sw
        if done or time.perf_counter() >= deadline:
            break
    return y, _covered(P, y), swaps


def _covered(P: _Groups, y: np.ndarray) -> float:
    cnt = K.selected_counts(P.s_ptr, P.s_grp, np.flatnonzero(y), len(P.gw))
    return float(P.gw[cnt > 0].sum())


def _relaxed(P: _Groups, lam: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """``(L(lam), y(lam), B)``: the bound, the sites it opens (fixed + the k largest B) and B."""
    B = K.site_sums(P.g_ptr, P.g_idx, lam, P.m)
    yy = P.is_fix.copy()
    free = P.free()
    if P.k > 0:
        top = free[np.argpartition(-B[free], P.k - 1)[:P.k]] if P.k < len(free) else free
        yy[top] = True
    return float(np.maximum(P.gw - lam, 0).sum() + B[yy].sum()), yy, B


@dataclass
class _Ascent:
    ub: float
    lam: np.ndarray        # multipliers of ub
    lb: float
    y: np.ndarray          # best solution seen
    iterations: int = 0
    new_best: bool = False


def _ascent(P: _Groups, A: _Ascent, deadline: float, rel_gap: float) -> _Ascent:
    """Polyak subgradient steps on ``L`` from ``A.lam`` until the gap is closed, the step
    vanishes or ``deadline``; keeps the best bound and the best Lagrangian solution in ``A``."""
    lam, theta, stall = A.lam.copy(), _THETA0, 0
    gw, G = P.gw, len(P.gw)
    while A.iterations < _ITERS and time.perf_counter() < deadline and theta > _THETA_MIN:
        A.iterations += 1
        L, yy, _ = _relaxed(P, lam)
        if L < A.ub - 1e-12 * max(1.0, A.ub):
            A.ub, A.lam, stall = L, lam, 0
        else:
            stall += 1
            if stall >= _PATIENCE:
                theta, stall = theta * 0.5, 0
                lam = A.lam.copy()   # restart the halved steps from the best multipliers
                continue
        cnt = K.selected_counts(P.s_ptr, P.s_grp, np.flatnonzero(yy), G)
        v = float(gw[cnt > 0].sum())
        if v > A.lb:
            A.lb, A.y, A.new_best = v, yy, True
        if A.ub - A.lb <= max(rel_gap * A.lb, 1e-9 * max(1.0, A.lb)):
            break
        g = cnt - (gw > lam)
        gg = float(g @ g)
        if gg == 0:
            break
        # an optimal lam_g never exceeds w_g (above it, lowering lam_g only lowers L)
        lam = np.clip(lam - theta * (L - A.lb) / gg * g, 0.0, gw)
    return A


def _fixing(P: _Groups, B: np.ndarray, L: float, lb: float) -> tuple[np.ndarray, np.ndarray]:
    """Sites whose opening instead of the k-th best site (closing for the (k+1)-th) drops the
    bound ``L`` below the incumbent ``lb``: ``(keep_open, keep_closed)`` masks."""
    keep_open = P.is_fix.copy()
    keep_closed = np.zeros(P.m, bool)
    free = P.free()
    if 0 < P.k < len(free):
        order = free[np.argsort(-B[free])]
        kth, nxt = B[order[P.k - 1]], B[order[P.k]]
        tol = 1e-9 * max(1.0, lb)
        out = order[P.k:]
        keep_closed[out[L - kth + B[out] < lb + tol]] = True
        top = order[:P.k]
        keep_open[top[L - B[top] + nxt < lb + tol]] = True
    return keep_open, keep_closed


def _lp_phase(P: _Groups, A: _Ascent, deadline: float, rel_gap: float, seed: int) -> dict:
    """The LP bound by pricing, then the incumbent from the LP: its ``p`` largest ``y`` and the
    MIP over the LP's support, each polished by swaps. Updates ``A``; returns stats."""
    t0 = time.perf_counter()
    span = max(0.0, deadline - t0)
    lpb = lp_bound(P, A.y, A.lb, t0 + _LP_SHARE * span, rel_gap)
    if lpb is None:
        return {"lp_rounds": 0}
    if lpb.bound < A.ub:
        A.ub, A.lam = lpb.bound, lpb.lam
    stats = {"lp_rounds": lpb.rounds, "lp_columns": lpb.columns, "lp_priced_out": lpb.priced_out,
             "lp_s": round(time.perf_counter() - t0, 3)}
    free = P.free()
    cands = [P.is_fix.copy()]
    if P.k > 0:
        cands[0][free[np.argsort(-lpb.y[free], kind="stable")[:P.k]]] = True
    if A.ub - A.lb > rel_gap * A.lb and time.perf_counter() < deadline:
        J = np.flatnonzero((lpb.y > 1e-6) | A.y | P.is_fix)
        _, ys, _ = restricted_mip(P, J, A.y, min(deadline, t0 + (_LP_SHARE + _SUPPORT_SHARE) * span),
                                  seed, 0.2 * rel_gap)
        if ys is not None:
            cands.append(ys)
    for yc in cands:
        yc, v, _ = local_search(P, yc, deadline)
        if v > A.lb:
            A.lb, A.y = v, yc
    stats["lp_phase_s"] = round(time.perf_counter() - t0, 3)
    return stats


def _fixed_mip(P: _Groups, A: _Ascent, keep_open, keep_closed, deadline: float, seed: int,
               rel_gap: float) -> dict:
    """The MIP over the sites not fixed closed, with the sites fixed open: every solution better
    than the incumbent is one of its solutions, so ``max(lb, its bound)`` bounds the optimum."""
    left = deadline - time.perf_counter()
    if left < 1.0 or A.ub - A.lb <= rel_gap * A.lb:
        return {}
    t0 = time.perf_counter()
    st, ym, bound = restricted_mip(P, np.flatnonzero(~keep_closed | A.y), A.y, deadline, seed, rel_gap,
                                   force_open=keep_open)
    if ym is not None:
        v = _covered(P, ym)
        if v > A.lb:
            A.lb, A.y = v, ym
    if st == "infeasible":  # nothing better than the incumbent
        bound = A.lb
    if np.isfinite(bound):
        A.ub = min(A.ub, max(A.lb, bound))
    return {"fixed_mip_status": st, "fixed_mip_s": round(time.perf_counter() - t0, 3)}


def mclp_lagrangian(g_ptr, g_idx, gw, p, fx, m, deadline, rel_gap, start_y, seed=0,
                    mip_deadline=None):
    """Upper bound, best solution and site fixing for the merged MCLP.

    The incumbent is polished by swaps, the bound is the LP bound by pricing (:mod:`.mclp_lp`)
    as Lagrangian multipliers, then the LP's solution is rounded and its support solved as a MIP;
    subgradient steps from the LP's multipliers use the time that is left.

    Args:
        g_ptr, g_idx: the groups' (distinct covering sets') sites in CSR form.
        gw: group weights. p: open sites (fixed included). fx: fixed site indices.
        m: number of sites. deadline: ``time.perf_counter()`` time to stop.
        rel_gap: stop once ``(ub - lb) / lb`` is at most this. start_y: a starting solution
            (fixed sites are added; completed greedily to ``p`` sites).
        seed: HiGHS's random seed. mip_deadline: with it, the MIP over the sites left after
            fixing runs until then when the gap is still open.

    Returns ``(y, lb, ub, keep_open, keep_closed, stats)``: the best solution (bool per site),
    its covered weight ``lb``, the upper bound ``ub`` and the fixing masks.
    """
    t0 = time.perf_counter()
    P = _groups(g_ptr, g_idx, gw, p, fx, m)
    y = np.asarray(start_y, bool) | P.is_fix  # completed greedily when it opens fewer than p
    y = K.greedy(P.g_ptr, P.g_idx, P.s_ptr, P.s_grp, P.gw, y, int(p), np.ones(P.m, bool))
    y, lb, swaps = local_search(P, y, deadline)
    cnt = K.selected_counts(P.s_ptr, P.s_grp, np.flatnonzero(y), len(P.gw))
    lam0 = np.where(cnt > 0, 0.0, P.gw)   # the submodular bound of the incumbent
    A = _Ascent(min(_relaxed(P, lam0)[0], float(P.gw.sum())), lam0, lb, y)
    stats = _lp_phase(P, A, deadline, rel_gap, seed)
    if A.ub - A.lb > rel_gap * A.lb and not stats.get("lp_priced_out"):
        A = _ascent(P, A, deadline, rel_gap)  # the LP's multipliers are optimal once priced out
    L, _, B = _relaxed(P, A.lam)
    keep_open, keep_closed = _fixing(P, B, min(L, A.ub), A.lb)
    if mip_deadline is not None:
        stats.update(_fixed_mip(P, A, keep_open, keep_closed, mip_deadline, seed, rel_gap))
    stats.update({"lagrangian_bound": A.ub, "subgradient_iterations": A.iterations, "swaps": swaps,
                  "sites_fixed_closed": int(keep_closed.sum()),
                  "sites_fixed_open": int((keep_open & ~P.is_fix).sum()),
                  "lagrangian_s": round(time.perf_counter() - t0, 3)})
    return A.y, A.lb, A.ub, keep_open, keep_closed, stats
