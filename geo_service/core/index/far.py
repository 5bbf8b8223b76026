"""Far-point fallback: points the local transverse Mercator does not serve well.

The index projects to a transverse Mercator centred on the county. Beyond :data:`_FAR_M`
(400 km) from its origin the KD-tree's candidates are re-ranked by geodesic distance
(:func:`rerank_far`); beyond :data:`_GLOBAL_M` (2,000 km great-circle), or where the projection
gives no finite coordinates, the nearest stations are found by geodesic distance to every
matching station (:func:`global_rows`, :func:`geodesic_query`). :func:`outside_extent` flags
points more than :data:`OUTSIDE_MARGIN_M` from the indexed area.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from pyproj import CRS, Transformer
from scipy.spatial import cKDTree

from ..crs import geodesic_m
from ..domain import WGS84
from .config import _FAR_EXTRA, _GLOBAL_CHUNK, _GLOBAL_M, _R_EARTH_M, OUTSIDE_MARGIN_M


def outside_extent(extent: tuple[float, float, float, float] | None, lon: NDArray, lat: NDArray
                   ) -> NDArray[np.bool_]:
    """True where a WGS-84 point lies more than :data:`OUTSIDE_MARGIN_M` metres from ``extent``.

    Parameters
    ----------
    extent : tuple of float or None
        (lon0, lat0, lon1, lat1) in degrees; None gives all False.
    lon, lat : ndarray
        (n,) WGS-84 degrees.

    Returns
    -------
    ndarray of bool
        (n,) True where the geodesic distance to the nearest point of the box exceeds the margin.
    """
    if extent is None:
        return np.zeros(len(lon), dtype=bool)
    lon0, lat0, lon1, lat1 = extent
    cx, cy = np.clip(lon, lon0, lon1), np.clip(lat, lat0, lat1)
    inside = (cx == lon) & (cy == lat)
    out = np.zeros(len(lon), dtype=bool)
    todo = np.flatnonzero(~inside)
    if len(todo):
        out[todo] = geodesic_m(lon[todo], lat[todo], cx[todo], cy[todo]) > OUTSIDE_MARGIN_M
    return out


def unproject(metric_crs: CRS, x: NDArray, y: NDArray) -> tuple[NDArray, NDArray]:
    """WGS-84 lon, lat (degrees) of metric-CRS points ``x``, ``y`` (metres)."""
    inv = Transformer.from_crs(metric_crs, WGS84, always_xy=True)
    lon, lat = inv.transform(x, y)
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def global_rows(xy: NDArray, lonlat: tuple[NDArray, NDArray] | None, origin: tuple[float, float]
                ) -> NDArray[np.bool_]:
    """Rows too far from the projection ``origin`` (lon, lat degrees) for the KD-tree.

    ``xy`` (n, 2) metres; ``lonlat`` the same points in WGS-84 degrees when known. True beyond
    :data:`_GLOBAL_M` metres (projected or great-circle) or where the projection gave up.
    """
    bad = ~(np.abs(xy) <= _GLOBAL_M).all(axis=1)  # also NaN/inf: the projection gave up
    if lonlat is not None:  # the far side of the Earth can project near the origin
        lam = np.radians(lonlat[0] - origin[0])
        p1, p2 = np.radians(origin[1]), np.radians(lonlat[1])
        h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(lam / 2) ** 2
        bad |= 2 * _R_EARTH_M * np.arcsin(np.sqrt(np.clip(h, 0, 1))) > _GLOBAL_M
    return bad


def geodesic_query(lon: NDArray, lat: NDArray, k: int, rows: NDArray, st_lon: NDArray, st_lat: NDArray
                   ) -> tuple[NDArray, NDArray]:
    """Brute force: geodesic distance from each point to every station in ``rows``, k best.

    ``lon``, ``lat`` (n,) and ``st_lon``, ``st_lat`` (all stations) in degrees. Returns (station
    rows (n, k), metres (n, k)); slots beyond ``len(rows)`` hold -1 and inf.
    """
    n = len(lon)
    idx = np.full((n, k), -1, dtype=np.int64)
    dist = np.full((n, k), np.inf)
    slon, slat = st_lon[rows], st_lat[rows]
    kk = min(k, len(rows))
    step = max(1, _GLOBAL_CHUNK // max(1, len(rows)))
    for a in range(0, n, step):
        b = min(n, a + step)
        g = geodesic_m(lon[a:b, None], lat[a:b, None], slon[None, :], slat[None, :])
        order = np.argsort(g, axis=1, kind="stable")[:, :kk]
        idx[a:b, :kk] = rows[order]
        dist[a:b, :kk] = np.take_along_axis(g, order, axis=1)
    return idx, dist


def rerank_far(xy: NDArray, far: NDArray[np.bool_], idx: NDArray, dist: NDArray, tree: cKDTree,
               rows: NDArray, k: int, lonlat: tuple[NDArray, NDArray] | None, metric_crs: CRS,
               st_lon: NDArray, st_lat: NDArray) -> None:
    """For points far from the projection centre, rank KD-tree candidates by geodesic distance.

    Rewrites the ``far`` rows of ``idx`` and ``dist`` (metres) in place.
    """
    fi = np.flatnonzero(far)
    kk = min(k + _FAR_EXTRA, len(rows))
    _, j = tree.query(xy[fi], k=kk)
    cand = rows[np.asarray(j).reshape(len(fi), kk)]
    if lonlat is None:
        plon, plat = unproject(metric_crs, xy[fi, 0], xy[fi, 1])
    else:
        plon, plat = lonlat[0][fi], lonlat[1][fi]
    g = geodesic_m(np.asarray(plon)[:, None], np.asarray(plat)[:, None], st_lon[cand], st_lat[cand])
    order = np.argsort(g, axis=1, kind="stable")[:, :k]
    kc = order.shape[1]
    idx[fi, :kc] = np.take_along_axis(cand, order, axis=1)
    dist[fi, :kc] = np.take_along_axis(g, order, axis=1)


__all__ = ["geodesic_query", "global_rows", "outside_extent", "rerank_far", "unproject"]
