"""Exact p-median by Lagrangian branch-and-bound over site decisions (Beasley 1985).

Relaxes the assignment constraints; subgradient ascent per node (compiled with numba where the
optional "fast" extra is installed), Lagrangian reduced-cost fixing of sites, depth-first branching.
"""

from __future__ import annotations

import time

import numpy as np

from geo_service.core._optional import HAVE_NUMBA

from .heuristics import greedy_interchange

if HAVE_NUMBA:  # the optional 'fast' extra (geo_service.core._optional)
    import numba as _numba
else:  # pragma: no cover - depends on the environment
    _numba = None

# --------------------------------------------------------------------------------------------
# p-median: Lagrangian branch-and-bound over site decisions (small p)
# --------------------------------------------------------------------------------------------
_ROOT_ROUNDS, _ROOT_ITERS, _ROOT_PATIENCE = 30, 200, 20
_NODE_ITERS, _NODE_PATIENCE = 300, 20


def lagrangian_bound(a: np.ndarray, u: np.ndarray, p: int, is_open: np.ndarray | None = None,
                     active: np.ndarray | None = None) -> tuple[float, np.ndarray, np.ndarray]:
    """Lagrangian lower bound of the p-median for multipliers ``u`` (one per demand).

    Relaxing ``sum_j x_ij = 1`` with ``u_i`` in ``min sum_ij a_ij x_ij`` (``a_ij`` = weight x
    cost, ``x_ij <= y_j``, ``sum_j y_j = p``) leaves ``sum_i u_i + min sum_j rho_j y_j`` with
    ``rho_j = sum_i min(0, a_ij - u_i)``: open the forced sites (``is_open``) and the cheapest
    remaining active ones. Valid for ANY ``u``; its maximum over ``u`` equals the LP bound of the
    classical formulation (Cornuéjols, Fisher & Nemhauser 1977). Sites outside ``active`` are
    closed.

    Returns ``(bound, selected site indices, rho)``.
    """
    m = a.shape[1]
    is_open = np.zeros(m, bool) if is_open is None else is_open
    active = np.ones(m, bool) if active is None else active
    rho = np.minimum(a - u[:, None], 0.0).sum(axis=0)
    op = np.flatnonzero(is_open & active)
    fr = np.flatnonzero(active & ~is_open)
    k = p - len(op)
    if k > len(fr):
        return np.inf, op, rho
    if k > 0:
        part = fr[np.argpartition(rho[fr], k - 1)[:k]] if k < len(fr) else fr
        op = np.concatenate([op, part])
    return float(u.sum() + rho[op].sum()), op, rho


#: Run the Lagrangian's subgradient loop compiled with numba where installed (the optional "fast"
#: extra; compiled once per machine, cached). Same search as the numpy loop; float rounding may
#: steer it to a different one of several optimal solutions. Set False to force numpy.
USE_NUMBA = _numba is not None

if _numba is not None:
    _FAST = {"reassoc", "nsz", "arcp", "contract"}

    @_numba.njit(cache=True, fastmath=_FAST, inline="always")
    def _lagrangian_pick(at, u, u32, op, k, rho, chosen, sel):  # pragma: no cover - compiled
        """``rho`` (float32 sums) at ``u`` and the Lagrangian solution in ``sel`` (the open
        sites, then ``k`` times the free site of lowest ``rho``); returns ``L(u)``."""
        K, n = at.shape
        for i in range(n):
            u32[i] = u[i]
        for j in range(K):
            s = np.float32(0.0)
            for i in range(n):
                s += min(at[j, i] - u32[i], np.float32(0.0))
            rho[j] = s
        m = 0
        for j in range(K):
            chosen[j] = op[j]
            if op[j]:
                sel[m] = j
                m += 1
        for _ in range(k):
            bj = -1
            bv = np.inf
            for j in range(K):
                if not chosen[j] and rho[j] < bv:
                    bv = rho[j]
                    bj = j
            chosen[bj] = True
            sel[m] = bj
            m += 1
        L = 0.0
        for i in range(n):
            L += u[i]
        for t in range(sel.shape[0]):
            L += rho[sel[t]]
        return L

    @_numba.njit(cache=True, fastmath=_FAST, inline="always")
    def _value_subgradient(at, u32, sel, g):  # pragma: no cover - compiled
        """Cost of serving each demand from its nearest site of ``sel``; fills the subgradient
        ``g_i = 1 - #{j in sel: a_ij < u_i}``."""
        v = 0.0
        for i in range(at.shape[1]):
            mn = at[sel[0], i]
            cnt = 0
            for t in range(sel.shape[0]):
                x = at[sel[t], i]
                if x < mn:
                    mn = x
                if x < u32[i]:
                    cnt += 1
            v += mn
            g[i] = 1.0 - cnt
        return v

    @_numba.njit(cache=True, fastmath=_FAST)
    def _ascent_numba(at, u0, op, k, ub, tol, iters, theta, patience):  # pragma: no cover
        """The subgradient loop of :meth:`_LagrangianBnB._ascend` in one compiled call."""
        K, n = at.shape
        u = u0.copy()
        best_u = u0.copy()
        best_L = -np.inf
        rho = np.empty(K)
        chosen = np.zeros(K, np.bool_)
        p = k
        for j in range(K):
            if op[j]:
                p += 1
        sel = np.empty(p, np.int64)
        best_sel = np.empty(p, np.int64)
        best_v = np.inf
        g = np.empty(n)
        u32 = np.empty(n, np.float32)
        stall = 0
        it = 0
        while it < iters:
            it += 1
            L = _lagrangian_pick(at, u, u32, op, k, rho, chosen, sel)
            v = _value_subgradient(at, u32, sel, g)
            if v < best_v:
                best_v = v
                best_sel[:] = sel
            if v < ub:
                ub = v
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
            gg = 0.0
            for i in range(n):
                gg += g[i] * g[i]
            if gg == 0.0:
                break
            step = theta * (ub - L) / gg
            for i in range(n):
                u[i] += step * g[i]
        return best_u, theta, best_sel, it


def _rho_fast(at: np.ndarray, u32: np.ndarray, buf: np.ndarray) -> np.ndarray:
    """``rho_j = sum_i min(0, a_ij - u_i)`` for ``at`` = ``a`` transposed (sites x demands,
    float32, C-contiguous), in the scratch array ``buf``. Approximate (float32): it steers the
    ascent only; the bounds that prune are re-evaluated in float64 by :func:`lagrangian_bound`."""
    np.subtract(at, u32[None, :], out=buf)
    np.minimum(buf, 0.0, out=buf)
    return buf.sum(axis=1, dtype=np.float64)


class _LagrangianBnB:
    """Exact p-median by depth-first branch-and-bound on sites with Lagrangian bounds.

    Each node (sites forced open, sites closed) maximises the Lagrangian dual of the
    assignment constraints by subgradient ascent (Polyak steps towards the incumbent, warm
    started from the parent's multipliers); every Lagrangian solution is also a p-site
    solution, which may improve the incumbent. Lagrangian (reduced-cost) fixing then closes a
    free site whose opening lifts the bound past the incumbent and opens a site whose closing
    does. Branching: the selected free site with the most negative ``rho`` is opened (explored
    first) or closed. Every bound used to prune is ``L(u)`` for some ``u`` and so a valid lower
    bound; with integer data a node is pruned when its bound exceeds ``incumbent - 1``.
    """

    def __init__(self, a: np.ndarray, p: int, fixed: np.ndarray, ub: float, ub_sel: np.ndarray,
                 integral: bool, deadline: float):
        self.a, self.p, self.deadline = a, p, deadline
        self.a32 = a.astype(np.float32)
        self.fixed = np.asarray(fixed, int)
        self.ub, self.ub_sel = float(ub), np.sort(np.asarray(ub_sel, int))
        self.integral = integral
        self.nodes = 0
        self.iterations = 0
        self.root_bound = -np.inf
        self.root_active = a.shape[1]

    def tol(self) -> float:
        return 1 - 1e-6 if self.integral else 1e-6 * max(1.0, abs(self.ub))

    def _try(self, cols: np.ndarray) -> None:
        v = float(self.a[:, cols].min(axis=1).sum())
        if v < self.ub - 1e-9 * max(1.0, abs(self.ub)):
            self.ub, self.ub_sel = v, np.sort(cols)

    def _ascend(self, active, is_open, u, iters, theta, patience):
        """Subgradient ascent on the active columns; returns the best bound and its data."""
        cols = np.flatnonzero(active)
        at = np.ascontiguousarray(self.a32[:, cols].T)  # float32 for speed; exact bound below
        op = is_open[cols]
        fr = np.flatnonzero(~op)
        opi = np.flatnonzero(op)
        k = self.p - len(opi)
        if k > len(fr):  # fewer sites left than must open: the node is infeasible
            return np.inf, u, theta, cols, None, None
        if USE_NUMBA:
            best_u, theta, bsel, its = _ascent_numba(at, np.asarray(u, float), op, k, self.ub,
                                                     self.tol(), iters, theta, patience)
            self.iterations += its
            self._try(cols[bsel])
            L, sel, rho = lagrangian_bound(self.a[:, cols], best_u, self.p, op)
            return L, best_u, theta, cols, rho, sel
        buf = np.empty_like(at)
        best_L, best_u, stall = -np.inf, u, 0
        for _ in range(iters):
            u32 = u.astype(np.float32)
            rho = _rho_fast(at, u32, buf)
            sel = opi
            if k > 0:
                part = fr[np.argpartition(rho[fr], k - 1)[:k]] if k < len(fr) else fr
                sel = np.concatenate([opi, part])
            L = float(u.sum() + rho[sel].sum())
            self.iterations += 1
            if at[sel].min(axis=0).sum(dtype=np.float64) < self.ub * (1 + 1e-5) + 1e-9:
                self._try(cols[sel])  # possibly better than the incumbent: evaluate exactly
            if L > best_L + 1e-12 * max(1.0, abs(L)):
                best_L, best_u, stall = L, u, 0
            else:
                stall += 1
                if stall >= patience:
                    theta, stall = theta * 0.5, 0
            if best_L > self.ub - self.tol() or theta < 1e-5 \
                    or time.perf_counter() > self.deadline:
                break
            g = 1.0 - (at[sel] < u32[None, :]).sum(axis=0)
            gg = float(g @ g)
            if gg == 0:  # the relaxed solution is feasible, so L(u) is this node's optimum
                break
            u = u + theta * (self.ub - L) / gg * g
        # the bound that prunes and fixes is L(best_u) evaluated exactly, in float64
        L, sel, rho = lagrangian_bound(self.a[:, cols], best_u, self.p, op)
        return L, best_u, theta, cols, rho, sel

    def _fix(self, L, cols, rho, sel, active, is_open):
        """Lagrangian fixing at a node (copies of the masks come back)."""
        active, is_open = active.copy(), is_open.copy()
        op = is_open[cols]
        free_sel = sel[~op[sel]]
        if free_sel.size == 0:
            return active, is_open
        rest = np.setdiff1d(np.flatnonzero(~op), free_sel)
        if rest.size:
            lim = self.ub - self.tol()
            # opening j instead of the worst selected free site costs rho_j - max(rho_sel)
            active[cols[rest[L - rho[free_sel].max() + rho[rest] > lim]]] = False
            # closing a selected site brings in the best unselected one
            is_open[cols[free_sel[L - rho[free_sel] + rho[rest].min() > lim]]] = True
        return active, is_open

    def run(self, u0: np.ndarray) -> tuple[float, bool]:
        """Returns ``(lower bound, proven)``; the incumbent is in ``ub`` / ``ub_sel``."""
        m = self.a.shape[1]
        active = np.ones(m, bool)
        is_open = np.zeros(m, bool)
        is_open[self.fixed] = True
        u, theta, lb = u0.astype(float), 2.0, -np.inf
        for _ in range(_ROOT_ROUNDS):  # root: ascent with fixing every few hundred steps
            L, u, theta, cols, rho, sel = self._ascend(active, is_open, u, _ROOT_ITERS, theta,
                                                       _ROOT_PATIENCE)
            lb = max(lb, L)
            if lb > self.ub - self.tol() or theta < 1e-4 or rho is None \
                    or time.perf_counter() > self.deadline:
                break
            active, is_open = self._fix(L, cols, rho, sel, active, is_open)
        self.root_bound, self.root_active = lb, int(active.sum())
        self.root_masks = (active, is_open)
        stack = [(active, is_open, u, lb, theta)]
        while stack:
            if time.perf_counter() > self.deadline:
                return min([self.ub] + [s[3] for s in stack]), False
            active, is_open, u, lb, theta = stack.pop()
            if lb > self.ub - self.tol():
                continue
            self.nodes += 1
            n_open, n_act = int((is_open & active).sum()), int(active.sum())
            if n_open >= self.p or n_act <= self.p:  # the node fixes a single solution
                cols = np.flatnonzero(is_open & active) if n_open >= self.p else np.flatnonzero(active)
                if len(cols) == self.p:
                    self._try(cols)
                continue
            L, u, theta, cols, rho, sel = self._ascend(active, is_open, u, _NODE_ITERS,
                                                       min(1.0, 4 * theta), _NODE_PATIENCE)
            lb = max(lb, L)
            if lb > self.ub - self.tol() or rho is None:
                if time.perf_counter() > self.deadline and not lb > self.ub - self.tol():
                    stack.append((active, is_open, u, lb, theta))
                continue
            active, is_open = self._fix(L, cols, rho, sel, active, is_open)
            free_sel = [t for t in sel if active[cols[t]] and not is_open[cols[t]]]
            if not free_sel:  # fixing decided every selected site: look at the node again
                stack.append((active, is_open, u, lb, theta))
                continue
            j = cols[min(free_sel, key=lambda t: rho[t])]
            closed, opened = active.copy(), is_open.copy()
            closed[j], opened[j] = False, True
            stack.append((closed, is_open, u, lb, theta))
            stack.append((active, opened, u, lb, theta))
        return self.ub, True


def _pmedian_lagrangian(c, w, p, fx, deadline, seed, stats):
    """Incumbent from the interchange heuristic, then the Lagrangian branch-and-bound.

    Returns ``(selected, objective, lower_bound, proven_optimal)``. Needs every cost of a
    positive-weight demand finite.
    """
    sel, ub = greedy_interchange(c, p, w, fx, restarts=10, seed=seed)
    stats["heuristic_objective"] = ub
    rows = w > 0
    a = w[rows, None] * c[rows]
    fin = c[np.isfinite(c)]
    integral = bool(np.all(w == np.round(w)) and np.all(fin == np.round(fin)))
    bb = _LagrangianBnB(a, p, fx, ub, sel, integral, deadline)
    lb, proven = bb.run(a[:, sel].min(axis=1))
    stats.update({"method": "lagrangian_bnb", "lagrangian_root_bound": bb.root_bound,
                  "sites_after_root_fixing": bb.root_active, "bnb_nodes": bb.nodes,
                  "subgradient_iterations": bb.iterations})
    return bb.ub_sel, bb.ub, lb, proven
