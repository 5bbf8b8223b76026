"""Pairs within reach for the covering models: sparse cost matrices, KD-tree construction,
merging of demands with identical covering sets.

A covering model (LSCP, MCLP) only needs the (demand, site) pairs whose cost is within the radius,
so it can take a ``scipy.sparse`` matrix whose *stored entries* are those pairs (explicit zeros
included: a site at the demand itself has cost 0) and use memory linear in the pairs instead of
``n_demand x n_sites``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from pyproj import Transformer
from scipy.spatial import cKDTree

from geo_service.core.crs import metric_crs

from ._common import _check_cost

__all__ = ["covering_matrix", "covering_matrix_lonlat"]


def covering_matrix(demand_xy: Any, site_xy: Any, radius: float) -> sp.csr_matrix:
    """Distances within ``radius`` between planar points, as a sparse matrix (KD-tree).

    Args:
        demand_xy: (n, 2) demand coordinates in metres (a local metric projection).
        site_xy: (m, 2) candidate site coordinates, same projection.
        radius: reach in metres; pairs farther than this are not stored.

    Returns:
        ``scipy.sparse.csr_matrix`` of shape (n, m) whose stored entries are the Euclidean
        distances (metres) of the pairs within ``radius`` (explicit zeros kept for coincident
        points), ready for :func:`~solvers.location.set_cover` and
        :func:`~solvers.location.max_coverage`. Memory is linear in the number of such pairs.

    Raises:
        ValueError: a coordinate array is not (k, 2) or not finite, or ``radius`` is not > 0.
    """
    a = _xy(demand_xy, "demand_xy")
    b = _xy(site_xy, "site_xy")
    if not (np.isfinite(radius) and radius > 0):
        raise ValueError(f"radius must be a finite number > 0, got {radius!r}")
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        return sp.csr_matrix((n, m))
    # query the smaller tree against the larger one's points, in chunks to bound the lists
    tree = cKDTree(b)
    rows, cols, vals = [], [], []
    for lo in range(0, n, 4096):
        hits = tree.query_ball_point(a[lo:lo + 4096], r=float(radius))
        cnt = np.fromiter((len(h) for h in hits), np.int64, len(hits))
        if cnt.sum() == 0:
            continue
        j = np.fromiter((k for h in hits for k in h), np.int64, int(cnt.sum()))
        i = np.repeat(np.arange(lo, lo + len(hits)), cnt)
        d = np.hypot(a[i, 0] - b[j, 0], a[i, 1] - b[j, 1])
        ok = d <= radius  # the tree's test is inclusive too; keep exactly cost <= radius
        rows.append(i[ok])
        cols.append(j[ok])
        vals.append(d[ok])
    if not rows:
        return sp.csr_matrix((n, m))
    return _csr_from_pairs(np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), n, m)


def covering_matrix_lonlat(demand_lonlat: Any, site_lonlat: Any, radius_m: float,
                           crs: Any = None) -> sp.csr_matrix:
    """:func:`covering_matrix` for WGS-84 longitude/latitude points (degrees).

    Projects both sets to ``crs`` (default: the project's local transverse Mercator centred on the
    demands, :func:`geo_service.core.crs.metric_crs`, < 0.05 % distance error over a county or a
    province's few hundred kilometres) and measures straight-line metres there.
    """
    a = _xy(demand_lonlat, "demand_lonlat")
    b = _xy(site_lonlat, "site_lonlat")
    if crs is None:
        ref = a if len(a) else b
        crs = metric_crs(float(np.mean(ref[:, 0])), float(np.mean(ref[:, 1])))
    tr = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    pa = np.column_stack(tr.transform(a[:, 0], a[:, 1])) if len(a) else a
    pb = np.column_stack(tr.transform(b[:, 0], b[:, 1])) if len(b) else b
    return covering_matrix(pa, pb, radius_m)


def _xy(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim != 2 or a.shape[1] != 2:
        raise ValueError(f"{name} must be an (n, 2) array of coordinates, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} has a non-finite coordinate at row {int(np.argwhere(~np.isfinite(a))[0, 0])}")
    return a


def _csr_from_pairs(i: np.ndarray, j: np.ndarray, v: np.ndarray, n: int, m: int) -> sp.csr_matrix:
    """CSR with sorted indices that keeps explicit zeros (pairs assumed unique)."""
    order = np.lexsort((j, i))
    i, j, v = i[order], j[order], v[order]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(i, minlength=n))])
    return sp.csr_matrix((v.astype(float), j.astype(np.int32), indptr), shape=(n, m))


def reach(cost: Any, radius: float) -> tuple[sp.csr_matrix, np.ndarray | None]:
    """``(S, dense)``: CSR of the pairs with ``cost <= radius`` (values = costs) and the checked
    dense matrix (``None`` for sparse input). Sparse input: stored entries are the candidate pairs.
    """
    if not sp.issparse(cost):
        c = _check_cost(cost)
        ii, jj = np.nonzero(c <= radius)
        return _csr_from_pairs(ii, jj, c[ii, jj], *c.shape), c
    if cost.ndim != 2:
        raise ValueError(f"cost must be a 2-D (n_demand x n_sites) matrix, got shape {cost.shape}")
    if cost.shape[1] == 0:
        raise ValueError("cost has no candidate sites (0 columns)")
    coo = sp.coo_matrix(cost)
    v = np.asarray(coo.data, dtype=float)
    if np.isnan(v).any():
        k = int(np.flatnonzero(np.isnan(v))[0])
        raise ValueError(f"cost[{coo.row[k]}, {coo.col[k]}] is NaN; leave a pair that cannot be "
                         "served out of the sparse matrix")
    if (v < 0).any():
        k = int(np.flatnonzero(v < 0)[0])
        raise ValueError(f"cost[{coo.row[k]}, {coo.col[k]}] = {v[k]} is negative; costs must be >= 0")
    i, j = coo.row.astype(np.int64), coo.col.astype(np.int64)
    if len(i):  # duplicates: the smallest cost of a pair counts
        key = i * cost.shape[1] + j
        order = np.lexsort((v, key))
        first = np.ones(len(key), bool)
        first[1:] = key[order][1:] != key[order][:-1]
        i, j, v = i[order][first], j[order][first], v[order][first]
    ok = v <= radius
    return _csr_from_pairs(i[ok], j[ok], v[ok], *cost.shape), None


def row_ids(S: sp.csr_matrix) -> np.ndarray:
    """Row index of every stored entry of ``S``."""
    return np.repeat(np.arange(S.shape[0]), np.diff(S.indptr))


def merge_rows(S: sp.csr_matrix, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group ``rows`` of ``S`` with identical sets of columns.

    Returns ``(group, g_indptr, g_indices)``: ``group[k]`` is the group of ``rows[k]``; the
    groups' column sets in CSR form (first member's columns, sorted).
    """
    ip, ix = S.indptr, S.indices
    keys: dict[bytes, int] = {}
    group = np.empty(len(rows), np.int64)
    first: list[int] = []
    for k, i in enumerate(rows):
        key = ix[ip[i]:ip[i + 1]].tobytes()
        g = keys.get(key)
        if g is None:
            g = keys[key] = len(first)
            first.append(int(i))
        group[k] = g
    first_a = np.asarray(first, np.int64)
    lens = (ip[first_a + 1] - ip[first_a]) if len(first_a) else np.zeros(0, np.int64)
    g_indptr = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    g_indices = (np.concatenate([ix[ip[i]:ip[i + 1]] for i in first_a]).astype(np.int64)
                 if len(first_a) else np.zeros(0, np.int64))
    return group, g_indptr, g_indices


def nearest_in_reach(S: sp.csr_matrix, sel: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the stored column of least cost (among ``sel`` if given): ``(site, cost)``,
    ``(-1, inf)`` where there is none."""
    n, m = S.shape
    ok = np.ones(len(S.data), bool)
    if sel is not None:
        mask = np.zeros(m, bool)
        mask[np.asarray(sel, int)] = True
        ok = mask[S.indices]
    r = row_ids(S)[ok]
    v = S.data[ok]
    col = S.indices[ok]
    site = np.full(n, -1, np.int64)
    cost = np.full(n, np.inf)
    if len(v):
        order = np.lexsort((v, r))  # by row, cheapest first
        r, v, col = r[order], v[order], col[order]
        head = np.ones(len(r), bool)
        head[1:] = r[1:] != r[:-1]
        site[r[head]] = col[head]
        cost[r[head]] = v[head]
    return site, cost
