"""Coordinate reference systems: a metric CRS per dataset, and Chinese datum conversion.

Storage is WGS-84 lon/lat (EPSG:4326). Distances in metres come from :func:`metric_crs`, a
transverse Mercator centred on the data (scale factor 1 on its central meridian), which keeps
Euclidean distances within about 0.02 % of geodesic ones across a county of 200 km.

GCJ-02 ("Mars coordinates", used by Gaode/AMap, Tencent) and BD-09 (Baidu) are obfuscated
datums that PROJ does not implement, so the published forward formulas live here, vectorised with
NumPy (the PyPI packages that implement them, e.g. ``prcoords``, work one point at a time). The
inverse is solved by fixed-point iteration to better than 1e-7 degrees (about 1 cm).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS, Geod

Datum = Literal["wgs84", "gcj02", "bd09"]
DATUMS: tuple[str, ...] = ("wgs84", "gcj02", "bd09")

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by GCJ-02 (metres)
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0

GEOD = Geod(ellps="WGS84")


def metric_crs(lon0: float, lat0: float) -> CRS:
    """A transverse Mercator CRS in metres centred on a WGS-84 point (scale factor 1 there).

    Parameters
    ----------
    lon0, lat0 : float
        Centre in WGS-84 degrees (the data's centre: its central meridian and origin).

    Returns
    -------
    pyproj.CRS
        ``+proj=tmerc`` on the WGS-84 ellipsoid, coordinates in metres, (0, 0) at the centre.

    Raises
    ------
    ValueError
        When ``lon0`` is outside -180..180 or ``lat0`` outside -90..90 degrees.
    """
    if not (-180.0 <= lon0 <= 180.0 and -90.0 <= lat0 <= 90.0):
        raise ValueError(f"centre ({lon0}, {lat0}) is not a WGS-84 lon/lat")
    return CRS.from_proj4(
        f"+proj=tmerc +lat_0={lat0:.6f} +lon_0={lon0:.6f} +k=1 +x_0=0 +y_0=0 "
        "+ellps=WGS84 +units=m +no_defs"
    )


def geodesic_m(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike) -> NDArray:
    """Geodesic distance on the WGS-84 ellipsoid (vectorised, broadcasting).

    Parameters
    ----------
    lon1, lat1, lon2, lat2 : array_like
        End points in WGS-84 degrees; broadcast against each other.

    Returns
    -------
    ndarray
        Distances in metres, shaped like the broadcast inputs.
    """
    a = [np.broadcast_to(np.asarray(v, dtype=float), np.broadcast(lon1, lat1, lon2, lat2).shape)
         for v in (lon1, lat1, lon2, lat2)]
    _, _, d = GEOD.inv(a[0], a[1], a[2], a[3])
    return np.asarray(d, dtype=float)


def _out_of_china(lon: NDArray, lat: NDArray) -> NDArray:
    # GCJ-02 leaves points outside China's rough bounding box unchanged.
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _gcj_delta(lon: NDArray, lat: NDArray) -> tuple[NDArray, NDArray]:
    x = lon - 105.0
    y = lat - 35.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
            + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
            + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
            + (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
            + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
            + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
            + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0)
    radlat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    outside = _out_of_china(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    """WGS-84 -> GCJ-02 (vectorised); points outside China are returned unchanged.

    Parameters
    ----------
    lon, lat : array_like
        WGS-84 degrees.

    Returns
    -------
    tuple of ndarray
        GCJ-02 longitudes and latitudes, degrees.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dlon, dlat = _gcj_delta(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike, tol_deg: float = 1e-9) -> tuple[NDArray, NDArray]:
    """GCJ-02 -> WGS-84, inverting the forward formula by fixed-point iteration.

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 degrees (Gaode/AMap, Tencent).
    tol_deg : float
        Stop when every point's residual is below this many degrees (1e-9: about 0.1 mm);
        at most 30 iterations.

    Returns
    -------
    tuple of ndarray
        WGS-84 longitudes and latitudes, degrees.
    """
    glon = np.asarray(lon, dtype=float)
    glat = np.asarray(lat, dtype=float)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(30):
        flon, flat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = flon - glon, flat - glat
        wlon = wlon - elon
        wlat = wlat - elat
        if np.all(np.nan_to_num(np.abs(elon) + np.abs(elat)) < tol_deg):
            break
    return wlon, wlat


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    """BD-09 (Baidu) -> GCJ-02 (vectorised).

    Parameters
    ----------
    lon, lat : array_like
        BD-09 degrees.

    Returns
    -------
    tuple of ndarray
        GCJ-02 longitudes and latitudes, degrees.
    """
    x = np.asarray(lon, dtype=float) - 0.0065
    y = np.asarray(lat, dtype=float) - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    """GCJ-02 -> BD-09 (Baidu) (vectorised).

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 degrees.

    Returns
    -------
    tuple of ndarray
        BD-09 longitudes and latitudes, degrees.
    """
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def to_wgs84(lon: ArrayLike, lat: ArrayLike, datum: str) -> tuple[NDArray, NDArray]:
    """Convert coordinates given in ``datum`` to WGS-84.

    Parameters
    ----------
    lon, lat : array_like
        Degrees in ``datum``.
    datum : {"wgs84", "gcj02", "bd09"}
        The datum of the input.

    Returns
    -------
    tuple of ndarray
        WGS-84 longitudes and latitudes, degrees.

    Raises
    ------
    ValueError
        For a ``datum`` not in :data:`DATUMS`.
    """
    if datum == "wgs84":
        return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if datum == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if datum == "bd09":
        return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))
    raise ValueError(f"unknown datum {datum!r}; expected one of {', '.join(DATUMS)}")


def from_wgs84(lon: ArrayLike, lat: ArrayLike, datum: str) -> tuple[NDArray, NDArray]:
    """Convert WGS-84 coordinates to ``datum`` (for GCJ-02 tiles and exports).

    Parameters
    ----------
    lon, lat : array_like
        WGS-84 degrees.
    datum : {"wgs84", "gcj02", "bd09"}
        The datum wanted.

    Returns
    -------
    tuple of ndarray
        Longitudes and latitudes in ``datum``, degrees.

    Raises
    ------
    ValueError
        For a ``datum`` not in :data:`DATUMS`.
    """
    if datum == "wgs84":
        return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if datum == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    if datum == "bd09":
        return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))
    raise ValueError(f"unknown datum {datum!r}; expected one of {', '.join(DATUMS)}")


def transform_geometry(geoms, func):
    """Apply a vectorised coordinate function to every vertex of shapely geometries.

    Parameters
    ----------
    geoms : array_like of shapely.Geometry
        Geometries (any type; empty and None pass through).
    func : callable
        ``func(x, y) -> (x, y)`` on 1-d arrays, e.g. :func:`to_wgs84` with a datum bound.

    Returns
    -------
    ndarray of shapely.Geometry
        New geometries with the transformed coordinates.
    """
    def _f(coords: NDArray) -> NDArray:
        x, y = func(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(np.asarray(geoms, dtype=object), _f)


__all__ = ["DATUMS", "GEOD", "Datum", "bd09_to_gcj02", "from_wgs84", "gcj02_to_bd09", "gcj02_to_wgs84",
           "geodesic_m", "metric_crs", "to_wgs84", "transform_geometry", "wgs84_to_gcj02"]
