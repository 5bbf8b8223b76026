"""Set cover before the MIP: textbook reductions, a Lagrangian bound and a Lagrangian heuristic.

The LSCP's rows are demands (merged when their covering sets are equal), its columns candidate
sites, every column of cost 1. Before HiGHS sees it:

1. **Reductions** (repeated until nothing changes): a row covered by one site makes that site
   *essential* (open it, drop the rows it covers); a row whose sites include all of another row's
   sites is *dominated* (covering the smaller one covers it); a site whose rows all lie in another
   site's rows is *dominated* (the other site does at least as much for the same cost).
2. **LP bound**: HiGHS' interior point method (with crossover) solves the LP relaxation of the
   reduced problem; its row duals ``u`` are the best Lagrangian multipliers (for set cover the
   Lagrangian dual equals the LP). The bound is recomputed here from ``u`` by the Lagrangian
   formula below, so it is valid whatever the LP solver's tolerances.
3. **Lagrangian relaxation** of the covering rows, by subgradient steps (Beasley 1990): every
   multiplier vector ``u >= 0`` gives a lower bound ``sum(u) + sum(min(0, 1 - A^T u))``, so the
   bound is valid whenever the loop stops (and the bound where HiGHS did not finish). Every few
   steps the relaxed solution is completed greedily and stripped of redundant sites: an upper bound.
4. **Reduced-cost fixing**: a site whose reduced cost lifts the bound past ``best - 1`` is in no
   cover better than the best one, so the MIP only searches the others.

The MIP then starts from the best cover on the smaller problem; its bound on that problem, capped at
the best cover, combined with the Lagrangian bound, is a valid bound on the whole problem.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp

from ..highs import new_highs

__all__ = ["CoverReduction", "reduce_cover", "lagrangian_cover", "LagrangianCover", "remove_redundant",
           "lp_cover_bound", "lagrangian_value", "improve_by_windows"]


@dataclass
class CoverReduction:
    """What the reductions decided: ``essential`` sites (open), the ``rows`` and ``cols`` left."""

    essential: np.ndarray
    rows: np.ndarray
    cols: np.ndarray


def _subsets(A: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(a, b)``, ``a != b``, whose row ``a``'s columns all lie in row ``b``'s (ties: a < b)."""
    size = np.diff(A.indptr)
    inter = (A @ A.T).tocoo()
    a, b, v = inter.row, inter.col, inter.data
    sub = (a != b) & (v == size[a]) & ((size[a] < size[b]) | (a < b))
    return a[sub], b[sub]


def reduce_cover(A: sp.csr_matrix, max_rounds: int = 20) -> CoverReduction:
    """Essential sites, dominated rows and dominated columns of a 0/1 covering matrix.

    Parameters
    ----------
    A : scipy.sparse.csr_matrix
        (rows, sites) 0/1 matrix; ``A[i, j] = 1`` when site ``j`` covers row ``i``. Every row must
        have at least one site.
    max_rounds : int
        Rounds of the three reductions at most (each round is a few sparse products).

    Returns
    -------
    CoverReduction
        Indices into the original rows and sites: every optimal cover of the rows and sites left,
        plus the essential sites, is an optimal cover of ``A``.
    """
    rows = np.arange(A.shape[0])
    cols = np.arange(A.shape[1])
    essential: list[np.ndarray] = []
    B = sp.csr_matrix(A, dtype=np.int32)
    for _ in range(max_rounds):
        changed = False
        one = np.flatnonzero(np.diff(B.indptr) == 1)
        if len(one):
            ess = np.unique(B.indices[B.indptr[one]])
            essential.append(cols[ess])
            covered = np.asarray(B[:, ess].sum(axis=1)).ravel() > 0
            keep_c = np.ones(B.shape[1], bool)
            keep_c[ess] = False
            B, rows, cols = B[~covered][:, keep_c], rows[~covered], cols[keep_c]
            changed = True
        if B.shape[0] == 0:
            break
        _, sup = _subsets(B)
        if len(sup):
            keep_r = np.ones(B.shape[0], bool)
            keep_r[sup] = False
            B, rows = B[keep_r], rows[keep_r]
            changed = True
        BT = B.T.tocsr()
        sub, _ = _subsets(BT)
        if len(sub):
            keep_c = np.ones(B.shape[1], bool)
            keep_c[sub] = False
            B, cols = B[:, keep_c], cols[keep_c]
            changed = True
        used = np.diff(B.tocsc().indptr) > 0
        if not used.all():
            B, cols = B[:, used], cols[used]
        if not changed:
            break
    ess = np.unique(np.concatenate(essential)) if essential else np.zeros(0, np.int64)
    return CoverReduction(ess.astype(np.int64), rows.astype(np.int64), cols.astype(np.int64))


def remove_redundant(A_csc: sp.csc_matrix, y: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
    """``y`` (bool per site) without the sites whose rows are all covered twice or more.

    Sites are tried in ``order`` (default: fewest rows first), each removal updating the counts.
    """
    y = y.copy()
    count = np.asarray(A_csc @ y.astype(np.int32)).ravel()
    sel = np.flatnonzero(y)
    if order is None:
        order = sel[np.argsort(np.diff(A_csc.indptr)[sel], kind="stable")]
    ip, ix = A_csc.indptr, A_csc.indices
    for j in order:
        if not y[j]:
            continue
        r = ix[ip[j]:ip[j + 1]]
        if np.all(count[r] >= 2):
            y[j] = False
            count[r] -= 1
    return y


def _complete(A: sp.csr_matrix, A_csc: sp.csc_matrix, y: np.ndarray, cred: np.ndarray) -> np.ndarray:
    """Add sites to ``y`` until every row is covered: most uncovered rows per unit of
    (shifted) reduced cost first, then drop redundant sites (dearest reduced cost first)."""
    y = y.copy()
    left = np.asarray(A_csc @ y.astype(np.int32)).ravel() == 0
    price = np.maximum(cred, 0.0) + 1e-3
    rid = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    while left.any():
        live = left[rid]
        gain = np.bincount(A.indices[live], minlength=A.shape[1]).astype(float)
        gain[y] = 0
        score = gain / price
        j = int(np.argmax(score))
        if gain[j] <= 0:
            break
        y[j] = True
        left[A_csc.indices[A_csc.indptr[j]:A_csc.indptr[j + 1]]] = False
    sel = np.flatnonzero(y)
    return remove_redundant(A_csc, y, sel[np.argsort(-cred[sel], kind="stable")])


def lagrangian_value(A: sp.csr_matrix, u: np.ndarray) -> tuple[float, np.ndarray]:
    """Lagrangian lower bound of unit-cost set cover at multipliers ``u`` (negatives count as 0).

    Returns ``(bound, reduced_cost)``: ``sum(u) + sum(min(0, 1 - A^T u))`` (a valid lower bound on
    the number of sites for every ``u >= 0``) and ``1 - A^T u`` per site.
    """
    u = np.maximum(np.asarray(u, float), 0.0)
    cred = 1.0 - np.asarray(A.T @ u).ravel()
    return float(u.sum() + np.minimum(cred, 0.0).sum()), cred


def lp_cover_bound(A: sp.csr_matrix, *, time_limit_s: float = 10.0) -> tuple[float, np.ndarray, np.ndarray] | None:
    """LP relaxation of unit-cost set cover by HiGHS (interior point, then crossover).

    Parameters
    ----------
    A : scipy.sparse.csr_matrix
        (rows, sites) 0/1 covering matrix; every row has a site.
    time_limit_s : float
        Seconds at most for HiGHS.

    Returns
    -------
    tuple or None
        ``(bound, reduced_cost, u)``: the Lagrangian bound at the LP's row duals ``u`` (see
        :func:`lagrangian_value`; equal to the LP optimum up to tolerances, valid in any case)
        and the reduced cost per site; None when HiGHS did not finish.
    """
    if time_limit_s <= 0:
        raise ValueError(f"time_limit_s must be positive, got {time_limit_s}")
    A = sp.csr_matrix(A, dtype=np.float64)
    n, m = A.shape
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = m, n
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = np.ones(m), np.zeros(m), np.ones(m)
    lp.row_lower_, lp.row_upper_ = np.ones(n), np.full(n, highspy.kHighsInf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = np.ones(A.nnz)
    h = new_highs()
    for key, val in (("output_flag", False), ("threads", 1), ("solver", "ipm"), ("time_limit", float(time_limit_s))):
        h.setOptionValue(key, val)
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    u = np.maximum(np.array(h.getSolution().row_dual, float), 0.0)
    bound, cred = lagrangian_value(A, u)
    return bound, cred, u


@dataclass
class LagrangianCover:
    """Result of :func:`lagrangian_cover`: best cover found, the best bound and its multipliers."""

    cover: np.ndarray  # bool per site
    bound: float  # valid lower bound on the number of sites (not rounded)
    reduced_cost: np.ndarray  # per site, at the multipliers of the best bound
    iterations: int


def lagrangian_cover(A: sp.csr_matrix, start: np.ndarray, *, time_limit_s: float = 5.0,
                     max_iter: int = 1000, heuristic_every: int = 25) -> LagrangianCover:
    """Subgradient optimisation of the Lagrangian relaxation of set cover (unit costs).

    Parameters
    ----------
    A : scipy.sparse.csr_matrix
        (rows, sites) 0/1 covering matrix; every row has a site.
    start : numpy.ndarray
        A cover (bool per site) to improve on; gives the first upper bound.
    time_limit_s : float
        Seconds at most (the bound found so far is valid whenever it stops).
    max_iter : int
        Subgradient steps at most.
    heuristic_every : int
        Steps between two runs of the Lagrangian heuristic (greedy completion + redundancy removal).

    Returns
    -------
    LagrangianCover
    """
    t0 = time.perf_counter()
    A = sp.csr_matrix(A, dtype=np.float64)
    A_csc = A.tocsc()
    AT = A_csc.T.tocsr()
    n, m = A.shape
    best = start.copy()
    ub = float(best.sum())
    colsize = np.diff(A_csc.indptr).astype(float)
    # Beasley's start: each row's multiplier the cheapest per-row price of its sites
    inv = 1.0 / np.maximum(colsize, 1.0)
    u = np.array([inv[A.indices[A.indptr[i]:A.indptr[i + 1]]].min() for i in range(n)]) if n < 50_000 \
        else np.full(n, float(inv.mean()))
    lam, stall, best_lb = 2.0, 0, -math.inf
    best_cred = 1.0 - AT @ u
    it = 0
    for it in range(1, max_iter + 1):
        cred = 1.0 - AT @ u
        x = cred < 0
        lb = float(u.sum() + cred[x].sum())
        if lb > best_lb + 1e-9:
            best_lb, best_cred, stall = lb, cred, 0
        else:
            stall += 1
            if stall >= 20:
                lam, stall = lam / 2, 0
        if it % heuristic_every == 1:
            y = _complete(A, A_csc, x, cred)
            if y.sum() < ub:
                best, ub = y, float(y.sum())
        if math.ceil(best_lb - 1e-6) >= ub or lam < 5e-4 or time.perf_counter() - t0 > time_limit_s:
            break
        g = 1.0 - A @ x.astype(float)
        g[(u <= 0) & (g < 0)] = 0.0
        gg = float(g @ g)
        if gg == 0:  # x covers every row exactly once: optimal for the relaxation and feasible
            break
        u = np.maximum(0.0, u + lam * (1.05 * ub - lb) / gg * g)
    return LagrangianCover(best, max(best_lb, 0.0), best_cred, it)


def _window(A: sp.csr_matrix, A_csc: sp.csc_matrix, y: np.ndarray, first: int, size: int) -> np.ndarray:
    """Up to ``size`` open sites close to open site ``first`` (breadth first over shared rows)."""
    free = {first}
    frontier, seen = [first], {first}
    while frontier and len(free) < size:
        j = frontier.pop(0)
        rows = A_csc.indices[A_csc.indptr[j]:A_csc.indptr[j + 1]]
        near = np.unique(np.concatenate([A.indices[A.indptr[i]:A.indptr[i + 1]] for i in rows]))
        for k in (int(k) for k in near):
            if k in seen:
                continue
            seen.add(k)
            frontier.append(k)  # closed sites too: the window grows through them
            if y[k] and len(free) < size:
                free.add(k)
    return np.fromiter(free, np.int64)


def improve_by_windows(A: sp.csr_matrix, cover: np.ndarray, solve_window, *, time_limit_s: float,
                       window_sites: int = 15, seed: int = 0, lower_bound: float = 0.0,
                       grow_to: int | None = None) -> np.ndarray:
    """Large-neighbourhood search: re-solve the cover of one neighbourhood at a time exactly.

    A window frees ``window_sites`` open sites that lie close together (by shared rows, grown
    breadth-first from a random open site); the rows left uncovered by the other open sites are
    covered anew, optimally, by ``solve_window(A_sub) -> bool array | None`` over every site that
    covers them. Geographic covers improve this way where greedy moves cannot (three sites
    replaced by two). After a full round of windows without a gain the windows grow by 10 sites
    up to ``grow_to``; the search stops at ``time_limit_s``, after a full round without a gain at
    the largest size, or once the cover has no more than ``ceil(lower_bound)`` sites (optimal).

    Parameters
    ----------
    A : scipy.sparse.csr_matrix
        (rows, sites) 0/1 covering matrix.
    cover : numpy.ndarray
        A cover (bool per site).
    solve_window : callable
        Exact small set-cover solver for a sub-matrix; None when it could not finish.
    time_limit_s : float
        Seconds at most.
    window_sites : int
        Open sites freed per window.
    seed : int
        Order of the windows (same seed, same answer).
    lower_bound : float
        A valid lower bound on the number of sites (0: none known).
    grow_to : int, optional
        Largest window (open sites freed); default ``window_sites`` (windows keep their size).
    """
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    A = sp.csr_matrix(A)
    A_csc = A.tocsc()
    y = cover.copy()
    count = np.asarray(A_csc @ y.astype(np.int32)).ravel()
    no_gain, size = 0, window_sites
    target = math.ceil(lower_bound - 1e-6)
    while time.perf_counter() - t0 < time_limit_s and y.sum() > target:
        if no_gain >= max(10, int(y.sum())):  # a full round without a gain: larger windows, or stop
            if grow_to is None or size >= grow_to:
                break
            no_gain, size = 0, min(grow_to, size + 10)
        free = _window(A, A_csc, y, int(rng.choice(np.flatnonzero(y))), size)
        F = free[y[free]]
        lost = np.zeros(A.shape[0], np.int32)
        for j in F:
            lost[A_csc.indices[A_csc.indptr[j]:A_csc.indptr[j + 1]]] += 1
        rows = np.flatnonzero((lost > 0) & (count - lost == 0))
        if len(rows) == 0:  # the freed sites were all redundant
            y[F] = False
            count -= lost
            continue
        sub = A[rows]
        cols = np.unique(sub.indices)
        new = solve_window(sub[:, cols].tocsr())
        if new is not None and new.sum() < len(F):
            y[F] = False
            count -= lost
            add = cols[new]
            y[add] = True
            for j in add:
                count[A_csc.indices[A_csc.indptr[j]:A_csc.indptr[j + 1]]] += 1
            no_gain = 0
        else:
            no_gain += 1
    return remove_redundant(A_csc, y)
