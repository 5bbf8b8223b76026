"""Exact p-median by the radius formulation (Elloumi 2010; García, Labbé & Marín 2011).

One variable per demand and distinct distance level, levels generated on demand (LP, then MIP),
reduced-cost fixing of sites from the LP before the MIP.
"""

from __future__ import annotations

import time

import highspy
import numpy as np

from ._common import _finite_big, _highs
from .heuristics import greedy_interchange


class _RadiusModel:
    """Radius formulation of the p-median with a per-demand cut on the distance levels.

    For demand ``i`` with distinct costs ``L_0 < L_1 < ... <= cut_i`` the model has
    ``u_ik = sum_{j: c_ij < L_k} y_j`` (chained: ``u_ik = u_i,k-1 + ring_k``, so the matrix stays
    ~n*m nonzeros instead of n*m*levels) and ``z_ik >= 1 - u_ik`` at cost ``w_i (L_k - L_k-1)``.
    With every level present this is Elloumi's exact formulation; with a cut it is a
    relaxation (a lower bound) that is exact for any ``y`` whose nearest open site for each
    demand is at most ``cut_i`` away.
    """

    def __init__(self, c: np.ndarray, w: np.ndarray):
        self.c, self.w = c, w
        self.dense = False
        self.order = np.argsort(c, axis=1, kind="stable")
        self.sorted = np.take_along_axis(c, self.order, axis=1)

    def need(self, y: np.ndarray) -> np.ndarray:
        """Smallest cut per demand that makes the model exact at ``y`` (fractional allowed)."""
        cum = np.cumsum(y[self.order], axis=1)
        t = np.argmax(cum >= 1 - 1e-7, axis=1)
        t = np.where(cum[:, -1] >= 1 - 1e-7, t, self.c.shape[1] - 1)
        return self.sorted[np.arange(len(t)), t]

    def widen(self, level: np.ndarray, factor: float) -> np.ndarray:
        """A cut past ``level`` per demand: ``factor`` times as many sites lie within it."""
        m = self.c.shape[1]
        t = np.array([np.searchsorted(self.sorted[i], level[i], side="right")
                      for i in range(len(level))])
        pos = np.minimum(m - 1, np.ceil(t * factor).astype(int) + 1)
        return np.maximum(level, self.sorted[np.arange(len(level)), pos])

    def build(self, cut: np.ndarray, p: int, y_lo: np.ndarray):
        c, w, m = self.c, self.w, self.c.shape[1]
        cols_cost = [np.zeros(m)]
        cols_hi = [np.ones(m)]
        idx, val, rlo, rhi, starts = [], [], [], [], [0]
        ncol, const = m, 0.0
        for i in range(c.shape[0]):
            s = self.sorted[i]
            fin = s[np.isfinite(s)]
            if w[i] <= 0 or fin.size == 0:
                continue
            lv = np.unique(fin[fin <= cut[i]])
            const += w[i] * lv[0]
            K = len(lv) - 1
            if fin.size < m:  # some sites can never serve i: at least one serving site must open
                js = self.order[i, :fin.size]
                idx.append(js)
                val.append(np.ones(len(js)))
                starts.append(starts[-1] + len(js))
                rlo.append(1.0)
                rhi.append(np.inf)
            if K == 0:
                continue
            cnt = np.searchsorted(s, lv, side="left")  # cnt[k] = #sites with cost < lv[k]
            if self.dense:  # z_ik + sum_{j: c_ij < L_k} y_j >= 1
                z0 = ncol
                ncol += K
                cols_cost.append(w[i] * np.diff(lv))
                cols_hi.append(np.ones(K))
                for k in range(1, K + 1):
                    idx.append(np.concatenate([self.order[i, :cnt[k]], [z0 + k - 1]]))
                    val.append(np.ones(cnt[k] + 1))
                    starts.append(starts[-1] + cnt[k] + 1)
                    rlo.append(1.0)
                    rhi.append(np.inf)
                continue
            z0, u0 = ncol, ncol + K
            ncol += 2 * K
            cols_cost += [w[i] * np.diff(lv), np.zeros(K)]
            cols_hi += [np.ones(K), np.full(K, float(p))]
            for k in range(1, K + 1):
                ring = self.order[i, cnt[k - 1]:cnt[k]]
                prev = [u0 + k - 2] if k > 1 else []
                idx.append(np.concatenate([ring, [u0 + k - 1], prev]).astype(np.int64))
                val.append(np.concatenate([-np.ones(len(ring)), [1.0], [-1.0] * len(prev)]))
                starts.append(starts[-1] + len(idx[-1]))
                rlo.append(0.0)
                rhi.append(0.0)
                idx.append(np.array([z0 + k - 1, u0 + k - 1]))
                val.append(np.array([1.0, 1.0]))
                starts.append(starts[-1] + 2)
                rlo.append(1.0)
                rhi.append(np.inf)
        idx.append(np.arange(m))
        val.append(np.ones(m))
        starts.append(starts[-1] + m)
        rlo.append(float(p))
        rhi.append(float(p))
        cost = np.concatenate(cols_cost)
        lo = np.zeros(ncol)
        lo[:m] = y_lo
        hi = np.concatenate(cols_hi)
        return cost, lo, hi, const, (np.array(starts), np.concatenate(idx), np.concatenate(val),
                                     np.array(rlo), np.array(rhi))

    def solve(self, cut, p, y_lo, *, relax, time_limit, seed, start_y=None, cutoff=None,
              abs_gap=None, exact=True):
        """``exact``: HiGHS runs to optimality (its gap tolerance below one unit of an integral
        objective), so a finished run's objective is also its bound; else the dual bound stays."""
        cost, lo, hi, const, (st, ix, vl, rlo, rhi) = self.build(cut, p, y_lo)
        m = self.c.shape[1]
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = len(cost), len(rlo)
        lp.col_cost_, lp.col_lower_, lp.col_upper_, lp.offset_ = cost, lo, hi, const
        inf = highspy.kHighsInf
        lp.row_lower_ = np.where(np.isfinite(rlo), rlo, -inf)
        lp.row_upper_ = np.where(np.isfinite(rhi), rhi, inf)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = st.astype(np.int32)
        lp.a_matrix_.index_ = ix.astype(np.int32)
        lp.a_matrix_.value_ = vl.astype(float)
        if not relax:
            lp.integrality_ = ([highspy.HighsVarType.kInteger] * m
                               + [highspy.HighsVarType.kContinuous] * (len(cost) - m))
        h = _highs(time_limit, seed, mip=not relax)
        h.passModel(lp)
        if cutoff is not None and not relax:
            h.setOptionValue("objective_bound", float(cutoff))
        if abs_gap is not None and not relax:
            h.setOptionValue("mip_abs_gap", float(abs_gap))
        if start_y is not None and not relax:
            h.setSolution(m, np.arange(m, dtype=np.int32), start_y.astype(float))
        h.run()
        info = h.getInfo()
        ms = h.getModelStatus()
        M = highspy.HighsModelStatus
        if cutoff is not None and ms in (M.kInfeasible, M.kObjectiveBound) \
                and info.primal_solution_status != 2:
            # nothing below the cutoff: the cutoff itself is a proven lower bound
            return True, None, float(cutoff), {"rows": int(lp.num_row_), "cols": int(lp.num_col_),
                                               "nnz": int(len(ix))}
        done = ms == M.kOptimal
        has = info.primal_solution_status == 2
        sol = h.getSolution()
        y = np.array(sol.col_value[:m]) if has else None
        self.last_rc = np.array(sol.col_dual[:m]) if (relax and done and sol.dual_valid) else None
        if relax:
            bound = float(info.objective_function_value) if done else -np.inf
        else:
            bound = float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else -np.inf
            if done and exact:
                bound = max(bound, float(info.objective_function_value) - 1e-6)
        return done, y, bound, {"rows": int(lp.num_row_), "cols": int(lp.num_col_),
                                "nnz": int(len(ix))}


_DENSE_MIP = True
_WIDEN = 1.5


def _pmedian_exact(c, w, p, fx, deadline, seed, stats, start=None, rel_gap=0.0):
    """Heuristic incumbent, LP with level generation, reduced-cost fixing, then the MIP.

    ``start`` (site indices) replaces the heuristic incumbent; the search stops once the gap is
    at most ``rel_gap``. Returns ``(selected, objective, lower_bound, proven_optimal)``.
    """
    n, m = c.shape
    cw = _finite_big(c)
    if start is not None:
        sel = np.sort(np.asarray(start, int))
        ub = float(w @ cw[:, sel].min(axis=1))
    else:
        # random restarts are cheap while p is small, and small p is where the MIP is hardest
        restarts = 10 if p <= 20 else 0
        sel, ub = greedy_interchange(cw, p, w, fx, restarts=restarts, seed=seed)
    stats["heuristic_objective"] = ub
    best = sel
    if p == m:
        return best, ub, ub, True
    model = _RadiusModel(c, w)
    y_lo = np.zeros(m)
    y_lo[fx] = 1
    yb = np.zeros(m)
    yb[sel] = 1
    # with integer costs and weights every objective value is an integer, so a lower bound
    # above ub - 1 already proves ub optimal (and lets the MIP prune that much earlier)
    fin = c[np.isfinite(c)]
    integral = bool(np.all(w == np.round(w)) and np.all(fin == np.round(fin)))
    lb, y_lp, rc, timed_out = _lp_phase(model, model.need(yb), p, y_lo, deadline, seed, stats)
    if timed_out:
        return best, ub, lb, False
    stats["lp_bound"] = lb
    if lb > ub - _tol(integral, ub):
        return best, ub, lb, True
    if rel_gap > 0 and ub - lb <= rel_gap * abs(ub):
        return best, ub, lb, False
    # reduced-cost fixing: a site whose reduced cost lifts the LP bound past the incumbent
    # cannot be open in any better solution, so the MIP only sees the remaining sites
    keep = np.ones(m, bool)
    if rc is not None:
        keep = ~((y_lp < 1e-9) & (lb + rc > ub - _tol(integral, ub)))
        keep[fx] = True
    kept = np.flatnonzero(keep)
    stats["sites_after_fixing"] = int(keep.sum())
    return _mip_phase(c, w, cw, kept, y_lo[kept], y_lp, p, best, ub, lb, integral, rel_gap, deadline, seed, stats)


def _tol(integral: bool, ub: float) -> float:
    """How far below ``ub`` a bound must reach to prove it (just under 1 with integral costs)."""
    return 1 - 1e-6 if integral else 1e-6 * max(1.0, abs(ub))


def _lp_phase(model, cut, p, y_lo, deadline, seed, stats):
    """LP relaxation with level generation until the cut model's LP equals the full LP.
    Returns ``(lower_bound, y, reduced_costs, timed_out)`` (y and reduced costs None if unfinished)."""
    lb, y_lp, rc = -np.inf, None, None
    for it in range(100):
        left = deadline - time.perf_counter()
        if left <= 0:
            return lb, y_lp, rc, True
        done, y, bnd, info = model.solve(cut, p, y_lo, relax=True, time_limit=left, seed=seed)
        stats["lp_iterations"] = it + 1
        stats.update({"lp_" + k: v for k, v in info.items()})
        if not done or y is None:
            break
        newcut = np.maximum(cut, model.need(y))
        if np.array_equal(newcut, cut):
            lb, y_lp, rc = max(lb, bnd), y, model.last_rc
            break
        cut = newcut
    return lb, y_lp, rc, False


def _mip_phase(c, w, cw, kept, sub_lo, y_lp, p, best, ub, lb, integral, rel_gap, deadline, seed, stats):
    """MIP over the kept sites for a solution better than the incumbent (cutoff); none proves the
    incumbent optimal; one whose nearest site lies past the cut extends the cut.
    Returns ``(selected, objective, lower_bound, proven_optimal)``."""
    n = c.shape[0]
    sub = _RadiusModel(c[:, kept], w)
    sub.dense = _DENSE_MIP
    cut = sub.need(y_lp[kept]) if y_lp is not None else np.full(n, np.inf)
    for it in range(100):
        left = deadline - time.perf_counter()
        if left <= 0:
            break
        tol = _tol(integral, ub)
        start = np.isin(kept, best).astype(float) if np.isin(best, kept).all() else None
        done, y, bnd, info = sub.solve(cut, p, sub_lo, relax=False, time_limit=left, seed=seed,
                                       start_y=start, abs_gap=max(tol, rel_gap * abs(ub)),
                                       cutoff=None if start is not None else ub - tol + 1e-7,
                                       exact=rel_gap <= 0)
        stats["mip_iterations"] = it + 1
        stats.update({"mip_" + k: v for k, v in info.items()})
        if done and y is None:  # nothing below the cutoff
            return best, ub, max(lb, ub), True
        if y is not None:
            ys = kept[np.flatnonzero(y > 0.5)]
            val = float(w @ cw[:, ys].min(axis=1))
            if len(ys) == p and val < ub:
                ub, best = val, ys
        lb = max(lb, min(bnd, ub))
        if not done:  # time limit inside the MIP: its bound is still a valid lower bound
            break
        if lb > ub - _tol(integral, ub):
            return best, ub, lb, True
        if rel_gap > 0 and ub - lb <= rel_gap * abs(ub):
            return best, ub, lb, False
        if y is not None:
            need = sub.need((y > 0.5).astype(float))
            short = need > cut
            if not short.any():  # the cut model was exact at y: y is optimal (within rel_gap)
                if rel_gap > 0:
                    return best, ub, lb, lb > ub - _tol(integral, ub)
                return best, ub, max(lb, ub), True
            cut = np.where(short, sub.widen(need, _WIDEN), cut)
    return best, ub, lb, lb > ub - _tol(integral, ub)
