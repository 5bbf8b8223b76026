"""Coordinate reference systems offered by the OGC API routes (OGC API - Features Part 2).

Stored coordinates are WGS-84 lon/lat. Answers are in CRS84 (lon, lat) by default; on request
(``crs=``) in CGCS2000 (EPSG:4490, axis order lat, lon as EPSG defines it), in the dataset's local
metric CRS (CGCS2000 3-degree Gauss-Kruger on the central meridian nearest the dataset's centre,
EPSG:4534-4554, northing then easting in metres), or in GCJ-02, the shifted datum of Chinese web
basemaps (Gaode/AMap, Tencent), which has no EPSG code and is named by its own URI
:data:`GCJ02_URI`. CGCS2000 and WGS-84 differ by a few centimetres: no datum shift is applied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Transformer

from geo_service.core.crs import from_wgs84, to_wgs84
from geo_service.core.glossary import word

from ...problems import ProblemError

CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CGCS2000_URI = "http://www.opengis.net/def/crs/EPSG/0/4490"
GCJ02_URI = "urn:x-geo-service:def:crs:GCJ-02"
EPSG_PREFIX = "http://www.opengis.net/def/crs/EPSG/0/"
_GK_FIRST_EPSG, _GK_FIRST_CM, _GK_LAST_CM = 4534, 75, 135


def gauss_kruger_epsg(lon: float) -> int:
    """EPSG code of the CGCS2000 3-degree Gauss-Kruger CRS (central meridian form, metres) whose
    central meridian is nearest ``lon`` (degrees east), clamped to China's 75E..135E.

    Raises
    ------
    ValueError
        When ``lon`` is not a finite longitude in -180..180.
    """
    if not np.isfinite(lon) or not -180 <= lon <= 180:
        raise ValueError(f"lon must be a longitude in degrees, got {lon!r}")
    cm = min(max(3 * round(lon / 3), _GK_FIRST_CM), _GK_LAST_CM)
    return _GK_FIRST_EPSG + (cm - _GK_FIRST_CM) // 3


@dataclass(frozen=True)
class OfferedCrs:
    """One CRS a collection can be served in: its URI, a title and how to get there from CRS84."""

    uri: str
    title: str
    epsg: int | None  # None: CRS84 or GCJ-02

    def forward(self) -> Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """``f(lon, lat) -> (a, b)``: CRS84 degrees to this CRS's coordinates in its axis order."""
        if self.uri == CRS84_URI:
            return lambda x, y: (np.asarray(x, float), np.asarray(y, float))
        if self.uri == GCJ02_URI:
            return lambda x, y: from_wgs84(x, y, "gcj02")
        t = _transformer(self.epsg, inverse=False)
        return lambda x, y: t.transform(x, y)

    def inverse(self) -> Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """``f(a, b) -> (lon, lat)``: this CRS's coordinates (its axis order) to CRS84 degrees."""
        if self.uri == CRS84_URI:
            return lambda x, y: (np.asarray(x, float), np.asarray(y, float))
        if self.uri == GCJ02_URI:
            return lambda x, y: to_wgs84(x, y, "gcj02")
        t = _transformer(self.epsg, inverse=True)
        return lambda a, b: t.transform(a, b)

    @property
    def header(self) -> str:
        """The ``Content-Crs`` header value: the URI in angle brackets."""
        return f"<{self.uri}>"


@lru_cache(maxsize=64)
def _transformer(epsg: int, *, inverse: bool) -> Transformer:
    crs84, target = CRS.from_user_input("OGC:CRS84"), CRS.from_epsg(epsg)
    # no always_xy: coordinates follow each CRS's own axis order (CRS84 lon/lat; EPSG:4490 lat/lon)
    return Transformer.from_crs(target, crs84) if inverse else Transformer.from_crs(crs84, target)


def offered(centre_lon: float, lang: str = "zh") -> list[OfferedCrs]:
    """The CRSs of a dataset whose centre lies at ``centre_lon`` (degrees east), CRS84 first;
    titles in ``lang``."""
    gk = gauss_kruger_epsg(centre_lon)
    return [OfferedCrs(CRS84_URI, word("ogc_crs84", lang), None),
            OfferedCrs(CGCS2000_URI, word("ogc_cgcs2000", lang), 4490),
            OfferedCrs(f"{EPSG_PREFIX}{gk}", word("ogc_gauss_kruger", lang).format(epsg=gk), gk),
            OfferedCrs(GCJ02_URI, word("ogc_gcj02", lang), None)]


def pick(uri: str | None, choices: list[OfferedCrs], field: str) -> OfferedCrs:
    """The offered CRS named by ``uri`` (default CRS84); 400 problem naming ``field`` otherwise.

    ``EPSG:4490``-style short names and the ``[EPSG:4490]`` safe-CURIE form are accepted too."""
    if uri is None or uri == "":
        return choices[0]
    want = uri.strip().strip("[]")
    for c in choices:
        short = f"EPSG:{c.epsg}" if c.epsg else ("OGC:CRS84" if c.uri == CRS84_URI else "GCJ-02")
        if want in (c.uri, short) or (c.uri == CRS84_URI and want.endswith("/OGC/0/CRS84")):
            return c
    raise ProblemError(400, f"{field} '{uri[:200]}' is not offered; use one of: "
                            + ", ".join(c.uri for c in choices), code="invalid-parameters",
                       errors=[{"in": "query", "field": field, "message": "CRS not offered",
                                "code": "bad_crs"}])


def transform_geoms(geoms: np.ndarray, crs: OfferedCrs) -> np.ndarray:
    """Shapely geometries (CRS84) in ``crs`` (its axis order); None stays None."""
    if crs.uri == CRS84_URI:
        return geoms
    f = crs.forward()

    def _f(coords: np.ndarray) -> np.ndarray:
        a, b = f(coords[:, 0], coords[:, 1])
        return np.column_stack([a, b])

    return shapely.transform(np.asarray(geoms, dtype=object), _f)


def bbox_to_crs84(box: tuple[float, float, float, float], crs: OfferedCrs) -> tuple[float, float, float, float]:
    """A ``bbox`` given in ``crs`` (its axis order, lower corner then upper corner) as a CRS84 box
    enclosing it (its four corners and edge midpoints transformed)."""
    if crs.uri == CRS84_URI:
        return box
    a0, b0, a1, b1 = box
    a = np.array([a0, a1, a0, a1, (a0 + a1) / 2, (a0 + a1) / 2, a0, a1])
    b = np.array([b0, b0, b1, b1, b0, b1, (b0 + b1) / 2, (b0 + b1) / 2])
    x, y = crs.inverse()(a, b)
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ProblemError(400, "bbox lies outside the area of bbox-crs", code="invalid-bbox", field="bbox")
    return float(np.min(x)), float(np.min(y)), float(np.max(x)), float(np.max(y))


__all__ = ["CGCS2000_URI", "CRS84_URI", "GCJ02_URI", "OfferedCrs", "bbox_to_crs84", "gauss_kruger_epsg",
           "offered", "pick", "transform_geoms"]
