"""The cell grid in metres for large batches of metric points (k = 1), and the candidate ranking
it shares with :mod:`geo_service.core.index.lonlat_grid`."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from . import config
from .config import _FAR_M, _GRID_EXTRA, _R_EARTH_M
from .kdtree import tm_scale_correction
from .kernels import cell_kernel


class CellGrid:
    """For one station filter: the stations that can be the nearest, per square cell of a grid
    in metres (k = 1; for k > 1 the KD-tree is as fast).

    A station can be the nearest of a point in a cell only if its distance from the cell centre
    is at most d_1(centre) + 2 * half-diagonal (d_1: the nearest distance from the centre), so
    keeping those stations per cell keeps the answer exact. Cells with more than 8 such
    stations, cells far from the projection centre and the outer ring of cells (which also
    catches every point outside the grid) are left to the KD-tree. One float32 row per cell
    gives, for a cell with one candidate, the distance from a point's position in the cell with
    one multiply-add per coordinate.
    """

    def __init__(self, extent_m: tuple[float, float, float, float], st_xy: NDArray, tree: cKDTree,
                 rows: NDArray):
        x0, y0, x1, y1 = extent_m
        size = max(200.0, np.sqrt(max(x1 - x0, 1.0) * max(y1 - y0, 1.0) / config.GRID_CELLS))
        self.size = size
        self.x0, self.y0 = x0 - size, y0 - size  # one ring of cells round the extent
        self.nx = int(np.ceil((x1 - x0) / size)) + 3
        self.ny = int(np.ceil((y1 - y0) / size)) + 3
        gx, gy = np.meshgrid(np.arange(self.nx), np.arange(self.ny))
        ix, iy = gx.ravel(), gy.ravel()
        centre = np.column_stack([self.x0 + (ix + 0.5) * size, self.y0 + (iy + 0.5) * size])
        half_diag = size * np.sqrt(0.5) * (1 + 1e-9) + 1e-6
        kq = min(len(rows), 1 + _GRID_EXTRA)
        d, j = tree.query(centre, k=kq)
        d, j = d.reshape(len(d), kq), j.reshape(len(j), kq)
        valid = d <= (d[:, 0] + 2 * half_diag)[:, None]  # a prefix of each row (d is sorted)
        count = valid.sum(axis=1)
        far = np.hypot(np.abs(centre[:, 0]) + size, np.abs(centre[:, 1]) + size) > _FAR_M
        ring = (ix == 0) | (iy == 0) | (ix == self.nx - 1) | (iy == self.ny - 1)
        tree_cells = ((count == kq) & (kq < len(rows))) | far | ring
        single = ~tree_cells & (count == 1)
        multi = np.flatnonzero(~tree_cells & ~single)
        width = int(count[multi].max()) if len(multi) else 1
        sentinel = len(st_xy)
        # candidate lists of the cells with several, compact (they are a few per cent)
        self.m_cand = np.where(valid, rows[j], sentinel)[multi, :width].astype(np.int64)
        st = np.vstack([st_xy, [np.inf, np.inf]])  # the sentinel is infinitely far
        self.sx, self.sy = st[:, 0].copy(), st[:, 1].copy()
        # one float32 row per cell: for a single-candidate cell the offsets (m) of its lower-left
        # corner from the station and its side, times the scale correction at the centre, so that
        # a point at fraction (u, v) of the cell lies (a0 + u s, b0 + v s) ground metres from it;
        # then a code: the station (>= 0), -1 (the KD-tree) or -2 - its row in ``m_cand``
        first = rows[j[:, 0]]
        fx, fy = self.sx[first], self.sy[first]
        with np.errstate(invalid="ignore"):
            fcorr = np.where(single, 1.0 / tm_scale_correction(centre, np.column_stack([fx, fy])), 0.0)
        ll_x, ll_y = self.x0 + ix * size, self.y0 + iy * size
        code = np.where(single, first, -1.0)
        code[multi] = -2.0 - np.arange(len(multi))
        if len(st_xy) >= 2 ** 24 or len(multi) >= 2 ** 24 - 2:
            raise ValueError("too many stations or cells for the float32 cell table")
        self.table = np.column_stack([np.where(single, (ll_x - fx) * fcorr, 0.0),
                                      np.where(single, (ll_y - fy) * fcorr, 0.0),
                                      size * fcorr, code]).astype(np.float32)

    def query(self, x: NDArray, y: NDArray) -> tuple[NDArray, NDArray, NDArray]:
        """(answered mask, nearest station rows (n, 1), ground metres (n, 1)) for metric points
        ``x``, ``y``; rows not answered (mask False) hold junk for the caller to fill from the
        KD-tree."""
        if config.USE_NUMBA:
            n = len(x)
            best, dist, ok = np.empty((n, 1), dtype=np.int64), np.empty((n, 1)), np.empty(n, dtype=bool)
            cell_kernel(x, y, self.x0, self.y0, 1.0 / self.size, self.nx, self.ny, self.table, self.m_cand,
                         self.sx, self.sy, best[:, 0], dist[:, 0], ok)
            return ok, best, dist
        fx = x - self.x0
        fx *= 1.0 / self.size
        fy = y - self.y0
        fy *= 1.0 / self.size
        ix = fx.astype(np.intp)
        iy = fy.astype(np.intp)
        np.clip(ix, 0, self.nx - 1, out=ix)
        np.clip(iy, 0, self.ny - 1, out=iy)
        cell = iy * self.nx
        cell += ix
        # cells with one candidate: no comparison; the scale correction varies by < 1e-6
        # across a cell, so the centre's is used; float32 offsets: millimetres
        row = self.table.take(cell, axis=0)
        code = row[:, 3]
        dx = np.subtract(fx, ix, out=fx).astype(np.float32)
        dy = np.subtract(fy, iy, out=fy).astype(np.float32)
        dx *= row[:, 2]
        dx += row[:, 0]
        dy *= row[:, 2]
        dy += row[:, 1]
        dx *= dx
        dy *= dy
        dx += dy
        dist = np.sqrt(dx, out=dx).astype(np.float64)[:, None]
        best = code.astype(np.int64)[:, None]
        neg = np.flatnonzero(code < 0)
        c = code[neg]
        ok = np.ones(len(cell), dtype=bool)
        ok[neg[c == -1]] = False
        multi = neg[c <= -2]
        if len(multi):
            m = (-2 - c[c <= -2]).astype(np.intp)
            _, best[multi, 0], dist[multi, 0] = rank_candidates(x[multi], y[multi], self.m_cand[m],
                                                                 self.sx, self.sy, None)
        return ok, best, dist


def rank_candidates(px: NDArray, py: NDArray, cand: NDArray, sx: NDArray, sy: NDArray,
                     margin_m: float | None) -> tuple[NDArray, NDArray, NDArray]:
    """The nearest of each point's candidate stations by projected distance.

    ``px``, ``py`` (m,) are metric points, ``cand`` (m, w) rows into ``sx``, ``sy`` (the
    stations' metric coordinates, a trailing sentinel at infinity pads short lists). Returns
    (sure mask (m,), the nearest rows (m,), ground metres (m,)). With ``margin_m`` a point is
    not sure when its runner-up, at another place, is within ``margin_m`` of the nearest (its
    projection is only good to that much, so the choice could be wrong).
    """
    w = cand.shape[1]
    sentinel = len(sx) - 1
    if w == 1:
        return _rank_pairs(px, py, cand[:, 0], cand[:, 0], sx, sy, None)
    if w > 2:
        # most cells with several candidates have two: those points are ranked with flat arrays
        pair = cand[:, 2] == sentinel
        p = np.flatnonzero(pair)
        if 4 * len(p) > len(px):
            rest = np.flatnonzero(~pair)
            sure = np.empty(len(px), dtype=bool)
            best = np.empty(len(px), dtype=cand.dtype)
            dist = np.empty(len(px))
            sure[p], best[p], dist[p] = _rank_pairs(px[p], py[p], cand[p, 0], cand[p, 1], sx, sy, margin_m)
            if len(rest):
                sure[rest], best[rest], dist[rest] = _rank_many(px[rest], py[rest], cand[rest], sx, sy,
                                                                margin_m)
            return sure, best, dist
    if w == 2:
        return _rank_pairs(px, py, cand[:, 0], cand[:, 1], sx, sy, margin_m)
    return _rank_many(px, py, cand, sx, sy, margin_m)


def _rank_many(px: NDArray, py: NDArray, cand: NDArray, sx: NDArray, sy: NDArray,
               margin_m: float | None) -> tuple[NDArray, NDArray, NDArray]:
    """:func:`rank_candidates` for any number of candidates per point."""
    dx = px[:, None] - sx.take(cand)
    dy = py[:, None] - sy.take(cand)
    d2 = dx * dx + dy * dy
    j = d2.argmin(axis=1)[:, None]
    best = np.take_along_axis(cand, j, axis=1)[:, 0]
    d = np.sqrt(np.take_along_axis(d2, j, axis=1))[:, 0]
    sure = np.ones(len(px), dtype=bool)
    if margin_m is not None:
        # the second smallest first; the few close calls are checked in full below
        second = np.sqrt(np.partition(d2, 1, axis=1)[:, 1])
        with np.errstate(invalid="ignore"):
            check = np.flatnonzero(second - d < margin_m)
        if len(check):  # unsure when another candidate, not at the same place, is that close
            cc = cand[check]
            bc = best[check][:, None]
            apart = (sx.take(cc) != sx.take(bc)) | (sy.take(cc) != sy.take(bc))
            with np.errstate(invalid="ignore"):
                close = np.sqrt(d2[check]) - d[check][:, None] < margin_m
            sure[check] = ~(close & apart).any(axis=1)
    bx = sx.take(best)
    dist = d / (1.0 + (px * px + px * bx + bx * bx) / (6.0 * _R_EARTH_M ** 2))
    return sure, best, dist


def _rank_pairs(px: NDArray, py: NDArray, c0: NDArray, c1: NDArray, sx: NDArray, sy: NDArray,
                margin_m: float | None) -> tuple[NDArray, NDArray, NDArray]:
    """:func:`rank_candidates` for k = 1 and two candidates per point (``c0``, ``c1``)."""
    ax, ay, bx, by = sx.take(c0), sy.take(c0), sx.take(c1), sy.take(c1)
    d0 = np.square(px - ax)
    d0 += np.square(py - ay)
    d1 = np.square(px - bx)
    d1 += np.square(py - by)
    pick = d1 < d0
    best = np.where(pick, c1, c0)
    d = np.sqrt(np.minimum(d0, d1))
    if margin_m is None:
        sure = np.ones(len(px), dtype=bool)
    else:
        close = np.abs(np.sqrt(np.maximum(d0, d1)) - d) < margin_m
        sure = ~(close & ((ax != bx) | (ay != by)))
    qx = np.where(pick, bx, ax)
    dist = d / (1.0 + (px * px + px * qx + qx * qx) / (6.0 * _R_EARTH_M ** 2))
    return sure, best, dist


__all__ = ["CellGrid", "rank_candidates"]
