"""The lon/lat cell grid for large batches of WGS-84 points (k = 1): each cell's affine form of
the projection (:class:`GridFrame`) and the stations that can be nearest in it (:class:`LonLatGrid`)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from pyproj import CRS, Transformer
from scipy.spatial import cKDTree

from ..domain import WGS84
from . import config
from .config import _FAR_M, _GRID_EXTRA
from .kdtree import tm_scale_correction
from .kernels import lonlat_kernel
from .metric_grid import rank_candidates


class GridFrame:
    """A lon/lat grid over ``extent`` holding each cell's local affine form of the projection.

    Within a cell of a few hundred metres the transverse Mercator is affine to within a few
    centimetres (``err_m``, measured against PROJ), so projecting costs a cell lookup and two
    multiply-adds per coordinate; :class:`LonLatGrid` builds on it. A ring of cells round the
    extent catches points outside it (they are left to PROJ and the KD-tree).
    """

    def __init__(self, extent: tuple[float, float, float, float], crs: CRS):
        lon0, lat0, lon1, lat1 = (float(v) for v in extent)
        latc = np.radians((lat0 + lat1) / 2)
        w_m = max((lon1 - lon0) * 111_320.0 * np.cos(latc), 1.0)
        h_m = max((lat1 - lat0) * 110_574.0, 1.0)
        size = max(200.0, np.sqrt(w_m * h_m / config.GRID_CELLS))
        nx, ny = int(np.ceil(w_m / size)), int(np.ceil(h_m / size))
        self.dlon, self.dlat = (lon1 - lon0) / nx, (lat1 - lat0) / ny
        self.lon0, self.lat0 = lon0 - self.dlon, lat0 - self.dlat  # the ring
        self.nx, self.ny = nx + 2, ny + 2
        gx, gy = np.meshgrid(np.arange(self.nx), np.arange(self.ny))
        ix, iy = gx.ravel(), gy.ravel()
        self.inner = (ix > 0) & (iy > 0) & (ix < self.nx - 1) & (iy < self.ny - 1)
        llon = self.lon0 + ix * self.dlon  # lower-left corners
        llat = self.lat0 + iy * self.dlat
        hx, hy = self.dlon / 2, self.dlat / 2
        clon = np.clip(llon + hx, -180, 180)
        clat = np.clip(llat + hy, -90, 90)
        t = Transformer.from_crs(WGS84, crs, always_xy=True)
        cx, cy = t.transform(clon, clat)
        xe, ye = t.transform(clon + hx, clat)
        xw, yw = t.transform(clon - hx, clat)
        xn, yn = t.transform(clon, clat + hy)
        xs, ys = t.transform(clon, clat - hy)
        jxl, jxp = (xe - xw) / (2 * hx), (xn - xs) / (2 * hy)
        jyl, jyp = (ye - yw) / (2 * hx), (yn - ys) / (2 * hy)
        # per cell: x, y at the lower-left corner (from the centre's affine form) and the Jacobian
        # scaled to one cell, so that with the fractional position (u, v) in the cell
        # x = x0 + u * xu + v * xv (contiguous columns: one gather each)
        self.x0 = np.ascontiguousarray(cx - jxl * hx - jxp * hy)
        self.y0 = np.ascontiguousarray(cy - jyl * hx - jyp * hy)
        self.xu, self.xv = jxl * self.dlon, jxp * self.dlat
        self.yu, self.yv = jyl * self.dlon, jyp * self.dlat
        self.err_m = self._affine_error(t)

    def _affine_error(self, t: Transformer) -> float:
        """Largest distance (m) between the affine forms and PROJ at the corners and edge
        midpoints of a sample of about 20,000 cells (the error is smooth across the frame, and
        largest on a cell's boundary), doubled for safety."""
        n = self.nx * self.ny
        cells = np.unique(np.append(np.arange(0, n, max(1, n // 20_000)), n - 1))
        cells = cells[self.inner[cells]]
        uv = np.array([(0, 0), (1, 0), (0, 1), (1, 1), (0.5, 0), (0.5, 1), (0, 0.5), (1, 0.5)])
        u, v = uv[:, 0][:, None], uv[:, 1][:, None]
        ix, iy = cells % self.nx, cells // self.nx
        lon = np.clip(self.lon0 + (ix + u) * self.dlon, -180, 180)
        lat = np.clip(self.lat0 + (iy + v) * self.dlat, -90, 90)
        px, py = t.transform(lon.ravel(), lat.ravel())
        ax = self.x0[cells] + u * self.xu[cells] + v * self.xv[cells]
        ay = self.y0[cells] + u * self.yu[cells] + v * self.yv[cells]
        err = np.hypot(ax.ravel() - px, ay.ravel() - py)
        err = err[np.isfinite(err)]
        return 2.0 * float(err.max()) if len(err) else 1.0


class LonLatGrid:
    """For one station filter: per cell of the lon/lat :class:`GridFrame`, the stations that
    can be the nearest anywhere in the cell, with the cell's affine projection (k = 1).

    Built like :class:`CellGrid` but on the frame's cells, so a WGS-84 point costs one cell
    lookup for both its projection and its candidates. The cell's image in metres is (to within
    the frame's affine error, a few centimetres) a parallelogram of circumradius ``R`` round its
    centre ``C``; a station can be the nearest of a point in it only if it lies within
    ``d_1(C) + 2 R`` (plus the affine error) of ``C``. One row of float32 per cell holds, for a
    cell with a single candidate, the affine map from the point's fractional position (u, v) in
    the cell straight to its offset from that station, pre-scaled by the transverse Mercator
    scale correction: ``dx = a0 + u a1 + v a2``, ``dy = b0 + u b1 + v b2`` (read as complex
    numbers), distance ``hypot(dx, dy)``; float32 keeps these offsets (tens of km at most) to
    about 1e-7 of the distance.
    Cells with several candidates compute the point's metres from float64 affine forms and rank
    their candidates; a point whose ranking is closer than the affine error allows (two
    candidates at different places within ``margin_m`` of each other) is left to PROJ and the
    KD-tree, so the answer is the KD-tree's. The frame's ring, far cells and crowded cells are
    left to the KD-tree too.
    """

    _TREE = -1  # code of a cell left to the KD-tree; >= 0: single station; <= -2: multi row

    def __init__(self, frame: GridFrame, st_xy: NDArray, tree: cKDTree, rows: NDArray):
        f = frame
        self.lon0, self.lat0, self.nx, self.ny = f.lon0, f.lat0, f.nx, f.ny
        self.inv_dlon, self.inv_dlat = 1.0 / f.dlon, 1.0 / f.dlat
        self.margin_m = 4.0 * f.err_m + 0.01
        #: distances (m) below which the frame's affine error could exceed 0.1 % of them
        self.exact_below_m = f.err_m / 1e-3
        cx = f.x0 + 0.5 * (f.xu + f.xv)
        cy = f.y0 + 0.5 * (f.yu + f.yv)
        radius = np.maximum(np.hypot(0.5 * (f.xu + f.xv), 0.5 * (f.yu + f.yv)),
                            np.hypot(0.5 * (f.xu - f.xv), 0.5 * (f.yu - f.yv))) + self.margin_m
        kq = min(len(rows), 1 + _GRID_EXTRA)
        d, j = tree.query(np.column_stack([cx, cy]), k=kq)
        d, j = d.reshape(len(cx), kq), j.reshape(len(cx), kq)
        valid = d <= (d[:, 0] + 2 * radius)[:, None]  # a prefix of each row (d is sorted)
        count = valid.sum(axis=1)
        far = np.hypot(np.abs(cx) + radius, np.abs(cy) + radius) > _FAR_M
        tree_cells = ((count == kq) & (kq < len(rows))) | far | ~f.inner
        single = ~tree_cells & (count == 1)
        multi = np.flatnonzero(~tree_cells & ~single)
        if len(rows) >= 2 ** 24 or len(multi) >= 2 ** 24 - 2:
            raise ValueError("too many stations or cells for the float32 cell table")
        code = np.full(len(cx), float(self._TREE))
        first = rows[j[:, 0]]
        code[single] = first[single]
        code[multi] = -2.0 - np.arange(len(multi))
        sx, sy = st_xy[first, 0], st_xy[first, 1]
        corr = 1.0 / tm_scale_correction(np.column_stack([cx, cy]), np.column_stack([sx, sy]))
        corr[~single] = 0.0
        # columns a0, b0, a1, b1, a2, b2 (read as three complex numbers), code, padding
        table = np.zeros((len(cx), 8), dtype=np.float32)
        for col, v in enumerate(((f.x0 - sx), (f.y0 - sy), f.xu, f.yu, f.xv, f.yv)):
            table[:, col] = v * corr
        table[:, 6] = code
        self.table = table
        # cells with several candidates: their float64 affine forms and candidate lists
        self.m_aff = np.column_stack([f.x0, f.xu, f.xv, f.y0, f.yu, f.yv])[multi]
        width = int(count[multi].max()) if len(multi) else 1
        sentinel = len(st_xy)
        self.m_cand = np.where(valid, rows[j], sentinel)[multi, :width].astype(np.int64)
        st = np.vstack([st_xy, [np.inf, np.inf]])  # the sentinel is infinitely far
        self.sx, self.sy = st[:, 0].copy(), st[:, 1].copy()

    def query(self, lon: NDArray, lat: NDArray) -> tuple[NDArray, NDArray, NDArray]:
        """(rows left to the KD-tree, nearest station rows (n, 1), ground metres (n, 1)) for
        WGS-84 ``lon``, ``lat`` (degrees); the rows left over hold junk for the caller to fill."""
        if config.USE_NUMBA:
            n = len(lon)
            best, dist, ok = np.empty((n, 1), dtype=np.int64), np.empty((n, 1)), np.empty(n, dtype=bool)
            lonlat_kernel(lon, lat, self.lon0, self.lat0, self.inv_dlon, self.inv_dlat, self.nx, self.ny,
                           self.table, self.m_aff, self.m_cand, self.sx, self.sy, self.margin_m,
                           best[:, 0], dist[:, 0], ok)
            return np.flatnonzero(~ok), best, dist
        fx = lon - self.lon0
        fx *= self.inv_dlon
        fy = lat - self.lat0
        fy *= self.inv_dlat
        ix = fx.astype(np.intp)
        iy = fy.astype(np.intp)
        np.clip(ix, 0, self.nx - 1, out=ix)
        np.clip(iy, 0, self.ny - 1, out=iy)
        cell = iy * self.nx
        cell += ix
        u = np.subtract(fx, ix, out=fx)
        v = np.subtract(fy, iy, out=fy)
        row = self.table.take(cell, axis=0)
        code = row[:, 6]
        # the offset from the station as a complex number z0 + u z1 + v z2 (float32); its
        # modulus is the distance
        z = row.view(np.complex64)
        off = z[:, 1] * u.astype(np.float32)
        off += z[:, 0]
        off += z[:, 2] * v.astype(np.float32)
        dist = np.abs(off).astype(np.float64)[:, None]
        best = code.astype(np.int64)[:, None]
        neg = np.flatnonzero(code < 0)  # cells left to the KD-tree or with several candidates
        c = code[neg]
        todo = [neg[c == self._TREE]]
        multi = neg[c <= -2]
        if len(multi):
            m = (-2 - code[multi]).astype(np.intp)
            a = self.m_aff[m]
            um, vm = u[multi], v[multi]
            px = a[:, 0] + um * a[:, 1] + vm * a[:, 2]
            py = a[:, 3] + um * a[:, 4] + vm * a[:, 5]
            sure, best[multi, 0], dist[multi, 0] = rank_candidates(px, py, self.m_cand[m], self.sx, self.sy,
                                                                    self.margin_m)
            todo.append(multi[~sure])
        return np.sort(np.concatenate(todo)), best, dist


__all__ = ["GridFrame", "LonLatGrid"]
