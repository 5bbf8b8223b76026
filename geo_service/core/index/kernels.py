"""Compiled loops of the large-batch grids (numba, the ``fast`` extra): one pass over the points,
no temporary arrays. Without numba they are plain Python functions the grids do not call
(:data:`geo_service.core.index.config.USE_NUMBA` is False then)."""

from __future__ import annotations

import numpy as np

from .._optional import njit
from .config import _R_EARTH_M


@njit
def _nearest_candidate(px, py, cand, m, sx, sy, margin_m):  # pragma: no cover - compiled
    """Row, squared distance and sureness of the nearest of ``cand[m]`` to (px, py); not sure
    when another candidate, not at the same place, is within ``margin_m`` (< 0: no check)."""
    sentinel = sx.shape[0] - 1
    bd = np.inf
    bj = sentinel
    for j in range(cand.shape[1]):
        s = cand[m, j]
        if s == sentinel:
            break
        dx = px - sx[s]
        dy = py - sy[s]
        d2 = dx * dx + dy * dy
        if d2 < bd:
            bd = d2
            bj = s
    sure = True
    if margin_m >= 0:
        d = np.sqrt(bd)
        for j in range(cand.shape[1]):
            s = cand[m, j]
            if s == sentinel:
                break
            if sx[s] == sx[bj] and sy[s] == sy[bj]:
                continue
            dx = px - sx[s]
            dy = py - sy[s]
            if np.sqrt(dx * dx + dy * dy) - d < margin_m:
                sure = False
                break
    return bj, bd, sure


@njit
def cell_kernel(x, y, x0, y0, inv_size, nx, ny, table, m_cand, sx, sy, best, dist,
                 ok):  # pragma: no cover - compiled
    """:meth:`CellGrid.query` as one loop, writing ``best``, ``dist`` and ``ok`` (n,)."""
    for i in range(x.shape[0]):
        fx = (x[i] - x0) * inv_size
        fy = (y[i] - y0) * inv_size
        ix = min(max(int(fx), 0), nx - 1)
        iy = min(max(int(fy), 0), ny - 1)
        c = iy * nx + ix
        code = table[c, 3]
        if code >= 0:
            dx = table[c, 0] + (fx - ix) * table[c, 2]
            dy = table[c, 1] + (fy - iy) * table[c, 2]
            best[i] = int(code)
            dist[i] = np.sqrt(dx * dx + dy * dy)
            ok[i] = True
        elif code == -1:
            ok[i] = False
        else:
            px, py = x[i], y[i]
            bj, bd, _ = _nearest_candidate(px, py, m_cand, int(-2 - code), sx, sy, -1.0)
            bx = sx[bj]
            best[i] = bj
            dist[i] = np.sqrt(bd) / (1.0 + (px * px + px * bx + bx * bx) / (6.0 * _R_EARTH_M ** 2))
            ok[i] = True


@njit
def lonlat_kernel(lon, lat, lon0, lat0, inv_dlon, inv_dlat, nx, ny, table, m_aff, m_cand, sx, sy,
                   margin_m, best, dist, ok):  # pragma: no cover - compiled
    """:meth:`LonLatGrid.query` as one loop, writing ``best``, ``dist`` and ``ok`` (n,)."""
    for i in range(lon.shape[0]):
        fx = (lon[i] - lon0) * inv_dlon
        fy = (lat[i] - lat0) * inv_dlat
        ix = min(max(int(fx), 0), nx - 1)
        iy = min(max(int(fy), 0), ny - 1)
        c = iy * nx + ix
        code = table[c, 6]
        u = fx - ix
        v = fy - iy
        if code >= 0:
            dx = table[c, 0] + u * table[c, 2] + v * table[c, 4]
            dy = table[c, 1] + u * table[c, 3] + v * table[c, 5]
            best[i] = int(code)
            dist[i] = np.sqrt(dx * dx + dy * dy)
            ok[i] = True
        elif code == -1:
            ok[i] = False
        else:
            m = int(-2 - code)
            px = m_aff[m, 0] + u * m_aff[m, 1] + v * m_aff[m, 2]
            py = m_aff[m, 3] + u * m_aff[m, 4] + v * m_aff[m, 5]
            bj, bd, sure = _nearest_candidate(px, py, m_cand, m, sx, sy, margin_m)
            bx = sx[bj]
            best[i] = bj
            dist[i] = np.sqrt(bd) / (1.0 + (px * px + px * bx + bx * bx) / (6.0 * _R_EARTH_M ** 2))
            ok[i] = sure


__all__ = ["cell_kernel", "lonlat_kernel"]
