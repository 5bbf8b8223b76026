"""The LP bound of the maximal covering model by column generation (pricing of sites).

The LP relaxation of the merged MCLP, ``max sum_g w_g z_g`` subject to ``z_g <= sum_{j in N_g}
y_j``, ``sum_j y_j = p``, ``0 <= y, z <= 1``, is solved by HiGHS on a few columns ``y_j`` at a
time: every group row stays, sites enter when their reduced cost ``B_j - mu`` is positive under
the duals ``lam`` of the rows (``B_j = sum_{g in N_j} lam_g``, ``mu`` the dual of the budget), and
each re-solve starts from the previous basis. Whatever the columns, the duals give the Lagrangian
bound ``L(lam) = sum_g max(0, w_g - lam_g) + (the p largest B_j)`` over *all* sites, which is a
valid upper bound for any ``lam >= 0`` and equals the LP bound once no site prices out. So every
round returns a valid bound and the loop can stop at any deadline.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp

from ..highs import new_highs
from ._common import _solve_mip
from . import mclp_kernels as K

_ADD_SHARE = 8          # sites priced in per round: m / this (at least 2p)
_START_PER_SITE = 3     # first columns: the incumbent and this many times p best by gain
# HiGHS's MIP presolve ignores the time limit and took 19 s on 2.6 M nonzeros (134,000 per second,
# idle); below this rate per second left it is skipped, so the MIP keeps its deadline
_PRESOLVE_NNZ_PER_S = 40_000


@dataclass
class LPBound:
    """Outcome of :func:`lp_bound`: the best multipliers and their bound, the LP's own value,
    the fractional ``y`` over all sites, rounds and columns used, and whether pricing closed."""

    lam: np.ndarray
    bound: float
    lp_value: float
    y: np.ndarray
    rounds: int
    columns: int
    priced_out: bool


def _model(P, cols: np.ndarray, time_limit: float) -> highspy.Highs:
    """HiGHS with the z columns, one row per group and the budget row, then the sites ``cols``."""
    G = len(P.gw)
    h = new_highs()
    for k, v in (("output_flag", False), ("threads", 1), ("solver", "simplex")):
        h.setOptionValue(k, v)
    h.setOptionValue("time_limit", max(0.01, float(time_limit)))
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    h.addCols(G, P.gw, np.zeros(G), np.ones(G), 0, np.zeros(G, np.int32),
              np.zeros(0, np.int32), np.zeros(0))
    inf = highspy.kHighsInf
    lo = np.concatenate([np.full(G, -inf), [float(P.k + P.is_fix.sum())]])
    hi = np.concatenate([np.zeros(G), [float(P.k + P.is_fix.sum())]])
    h.addRows(G + 1, lo, hi, G, np.concatenate([np.arange(G), [G]]).astype(np.int32),
              np.arange(G, dtype=np.int32), np.ones(G))
    _add_sites(h, P, cols)
    return h


def _add_sites(h: highspy.Highs, P, cols: np.ndarray) -> None:
    """Columns ``y_j`` for the sites ``cols``: -1 in the rows of their groups, 1 in the budget."""
    G = len(P.gw)
    lens = P.s_ptr[cols + 1] - P.s_ptr[cols] + 1
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int32)
    idx = np.concatenate([np.concatenate([P.s_grp[P.s_ptr[j]:P.s_ptr[j + 1]], [G]]) for j in cols])
    val = np.concatenate([np.concatenate([-np.ones(int(n) - 1), [1.0]]) for n in lens])
    lo = P.is_fix[cols].astype(float)
    h.addCols(len(cols), np.zeros(len(cols)), lo, np.ones(len(cols)), int(lens.sum()), starts,
              idx.astype(np.int32), val)


def lagrangian_value(P, lam: np.ndarray) -> tuple[float, np.ndarray]:
    """``(L(lam), B)`` over all sites: a valid upper bound for any ``lam >= 0``."""
    B = K.site_sums(P.g_ptr, P.g_idx, lam, P.m)
    free = P.free()
    top = B[free]
    if 0 < P.k < len(free):
        top = top[np.argpartition(-top, P.k - 1)[:P.k]]
    elif P.k <= 0:
        top = top[:0]
    return float(np.maximum(P.gw - lam, 0).sum() + B[P.is_fix].sum() + top.sum()), B


def _first_columns(P, y_inc: np.ndarray) -> np.ndarray:
    """The incumbent's and fixed sites plus the sites of largest gain against the incumbent."""
    _, _, gain, _, _ = K.state(P.g_ptr, P.g_idx, P.s_ptr, P.s_grp, P.gw, y_inc)
    take = np.zeros(P.m, bool)
    take[y_inc | P.is_fix] = True
    n_more = min(P.m, max(_START_PER_SITE * P.k, P.m // _ADD_SHARE))
    take[np.argsort(-gain)[:n_more]] = True
    return np.flatnonzero(take)


def lp_bound(P, y_inc: np.ndarray, lb: float, deadline: float, rel_gap: float) -> LPBound | None:
    """Column generation for the LP bound, stopping when no site prices out, when the bound is
    within ``rel_gap`` of the incumbent value ``lb``, or at ``deadline`` (``perf_counter``).

    Returns None when HiGHS gives no dual solution before the deadline.
    """
    G = len(P.gw)
    cols = _first_columns(P, np.asarray(y_inc, bool))
    in_lp = np.zeros(P.m, bool)
    in_lp[cols] = True
    h = _model(P, cols, deadline - time.perf_counter())
    order = cols          # the site of each y column, in column order
    best: LPBound | None = None
    rounds = 0
    while time.perf_counter() < deadline:
        # HiGHS's clock runs on across runs of one instance: its limit is cumulative
        h.setOptionValue("time_limit", h.getRunTime() + max(0.01, deadline - time.perf_counter()))
        h.run()
        sol = h.getSolution()
        if not sol.dual_valid or h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            break
        rounds += 1
        rd = np.asarray(sol.row_dual)
        lam = np.clip(np.abs(rd[:G]), 0.0, P.gw)
        L, B = lagrangian_value(P, lam)
        y = np.zeros(P.m)
        y[order] = np.asarray(sol.col_value)[G:]
        if best is None or L < best.bound:
            best = LPBound(lam, L, float(h.getInfo().objective_function_value), y, rounds,
                           int(in_lp.sum()), False)
        mu = abs(float(rd[G]))
        price = np.where(in_lp | (B <= mu * (1 + 1e-9) + 1e-9), -np.inf, B - mu)
        n_pos = int(np.isfinite(price).sum())
        if n_pos == 0:
            best.priced_out = True
            break
        if best.bound - lb <= rel_gap * lb:
            break
        add = np.argsort(-price)[:min(n_pos, max(P.m // _ADD_SHARE, 2 * P.k, 200))]
        _add_sites(h, P, add)
        in_lp[add] = True
        order = np.concatenate([order, add])
    if best is not None:
        best.rounds, best.columns = rounds, int(in_lp.sum())
    return best


def mclp_rows(g_ptr: np.ndarray, g_idx: np.ndarray, m: int, p: int) -> tuple[np.ndarray, ...]:
    """CSR rows of the uncapacitated MCLP: ``z_g - sum_{j in g} y_j <= 0`` per covering set g, then
    ``sum y = p`` (columns: y_0..y_{m-1}, then z_g). Returns ``(starts, index, value, rlo, rhi)``."""
    G = len(g_ptr) - 1
    lens = np.diff(g_ptr)
    starts = np.concatenate([[0], np.cumsum(lens + 1)]).astype(np.int64)
    index = np.empty(int(starts[-1]), np.int64)
    value = -np.ones(int(starts[-1]))
    index[starts[:-1]] = m + np.arange(G)
    value[starts[:-1]] = 1.0
    body = np.ones(int(starts[-1]), bool)
    body[starts[:-1]] = False
    index[body] = g_idx
    starts = np.concatenate([starts, [starts[-1] + m]])  # sum y = p
    index = np.concatenate([index, np.arange(m)])
    value = np.concatenate([value, np.ones(m)])
    rlo = np.concatenate([np.full(G, -np.inf), [p]])
    rhi = np.concatenate([np.zeros(G), [p]])
    return starts, index, value, rlo, rhi


def restricted_mip(P, J: np.ndarray, y_start: np.ndarray, deadline: float, seed: int,
                   rel_gap: float, force_open: np.ndarray | None = None) -> tuple[str, np.ndarray | None, float]:
    """The MIP over the sites ``J`` only (``force_open`` sites, else the fixed ones, open), started
    from ``y_start`` (whose sites must lie in ``J``), until ``deadline`` (``perf_counter``; the
    model is built first). Returns ``(status, y over all sites or None, bound)``: the bound holds
    for the solutions that use only ``J`` and open ``force_open``."""
    J = np.asarray(J, np.int64)
    G, nj = len(P.gw), len(J)
    A = sp.csr_matrix((np.ones(len(P.g_idx)), P.g_idx, P.g_ptr), shape=(G, P.m))[:, J].tocsr()
    rows = np.flatnonzero(np.diff(A.indptr) > 0)
    A = A[rows]
    A.sort_indices()
    z0 = (A @ y_start[J].astype(float)) > 0
    left = deadline - time.perf_counter()
    lo = (P.is_fix if force_open is None else (force_open | P.is_fix))[J].astype(float)
    st, x, _, bound = _solve_mip(np.concatenate([np.zeros(nj), P.gw[rows]]),
                                 np.concatenate([lo, np.zeros(len(rows))]), np.ones(nj + len(rows)),
                                 np.concatenate([np.ones(nj, bool), np.zeros(len(rows), bool)]), None,
                                 sense=-1, time_limit=max(0.01, deadline - time.perf_counter()),
                                 seed=seed, rel_gap=rel_gap,
                                 presolve=A.nnz + A.shape[0] + nj <= _PRESOLVE_NNZ_PER_S * left,
                                 start=(np.arange(nj + len(rows)),
                                        np.concatenate([y_start[J], z0]).astype(float)),
                                 csr=mclp_rows(A.indptr, A.indices, nj, P.k + int(P.is_fix.sum())))
    if x is None:
        return st, None, bound
    y = np.zeros(P.m, bool)
    y[J[x[:nj] > 0.5]] = True
    return st, y, bound
