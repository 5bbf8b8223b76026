"""Township polygons from township seat points (镇政府驻地), as statistics data gives them.

Official village lists carry one point per village and one per township seat, but no township
boundaries. A township is then approximated by the union of the Voronoi cells of its villages
(every place is assigned to the township of its nearest village), clipped to the county boundary
when one is known. Computed in a local transverse Mercator (metres), returned in WGS-84.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from ..crs import metric_crs
from ..domain import WGS84

#: Margin (metres) around the villages' convex hull used as the clip region without a boundary.
DEFAULT_MARGIN_M = 2000.0


def _points_ok(geoms: np.ndarray) -> np.ndarray:
    """Mask of usable WGS-84 points: present, Point type, finite, lon/lat in range."""
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    ok &= shapely.get_type_id(geoms) == 0
    b = shapely.bounds(geoms)
    with np.errstate(invalid="ignore"):
        ok &= np.isfinite(b).all(axis=1) & (np.abs(b[:, 0]) <= 180) & (np.abs(b[:, 1]) <= 90)
    return ok


def _sites(vt: list, vok: np.ndarray, tids: list, tok: np.ndarray, to_m: np.ndarray,
           seat_m: np.ndarray) -> tuple[np.ndarray, list]:
    """Voronoi sites (metres): every usable village, plus the seat of a township that has no
    usable village; returns their (n, 2) coordinates and each one's township id."""
    has_village = {t for t, ok in zip(vt, vok) if ok}
    site_geom = list(to_m[vok])
    site_town = [vt[i] for i in np.flatnonzero(vok)]
    for j in np.flatnonzero(tok):
        if tids[j] not in has_village:
            site_geom.append(seat_m[j])
            site_town.append(tids[j])
    return shapely.get_coordinates(np.array(site_geom, dtype=object)), site_town


def _region(boundary: BaseGeometry | None, crs: CRS, xy: np.ndarray, margin_m: float) -> BaseGeometry:
    """The clip region in metres: the county outline, else the sites' hull grown by ``margin_m``."""
    if boundary is not None and not boundary.is_empty:
        region = gpd.GeoSeries([boundary], crs=WGS84).to_crs(crs).iloc[0]
        return shapely.make_valid(region)
    return shapely.MultiPoint(xy).convex_hull.buffer(margin_m)


def _cells(xy: np.ndarray, region: BaseGeometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Voronoi cells of the distinct site locations (coincident villages share one cell).

    Returns the distinct locations (metres, rounded to the millimetre), each site's position
    among them and one cell per distinct location, in their order.
    """
    uniq, inverse = np.unique(np.round(xy, 3), axis=0, return_inverse=True)
    inverse = np.asarray(inverse).ravel()
    if len(uniq) == 1:
        return uniq, inverse, np.array([region], dtype=object)
    extent = shapely.box(*np.minimum(region.bounds[:2], uniq.min(axis=0)) - 1e5,
                         *np.maximum(region.bounds[2:], uniq.max(axis=0)) + 1e5)
    vor = shapely.voronoi_polygons(shapely.MultiPoint(uniq), extend_to=extent, ordered=True)
    return uniq, inverse, np.array(list(vor.geoms), dtype=object)


def _cells_by_township(site_town: list, inverse: np.ndarray, uniq: np.ndarray, cells: np.ndarray,
                       seat_xy: dict) -> dict[str, list]:
    """Each township's cells. A location shared by villages of several townships (a geocoding
    collision) goes to the township whose seat is nearest, else to the first; each cell belongs
    to one township."""
    owner: dict[int, str] = {}
    for k, t in enumerate(site_town):
        u = int(inverse[k])
        if u not in owner:
            owner[u] = t
        elif owner[u] != t and t in seat_xy:
            cur = seat_xy.get(owner[u])
            if cur is None or np.hypot(*(seat_xy[t] - uniq[u])) < np.hypot(*(cur - uniq[u])):
                owner[u] = t
    town_cells: dict[str, list] = {}
    for u, t in owner.items():
        town_cells.setdefault(t, []).append(cells[u])
    return town_cells


def _polygons(tids: list, town_cells: dict[str, list], region: BaseGeometry) -> list:
    """One (multi)polygon per township id (metres), its cells' union clipped to ``region``;
    None for a township without cells or with an empty clip."""
    polys: list[BaseGeometry | None] = []
    for t in tids:
        parts = town_cells.get(t)
        if not parts:
            polys.append(None)
            continue
        poly = shapely.intersection(shapely.union_all(parts), region)
        poly = shapely.make_valid(poly)
        if poly.geom_type == "GeometryCollection":
            poly = shapely.union_all([g for g in poly.geoms if g.geom_type in ("Polygon", "MultiPolygon")])
        polys.append(None if poly.is_empty else poly)
    return polys


def _mark_seats(is_seat: pd.Series, vt: list, vok: np.ndarray, tids: list, tok: np.ndarray,
                to_m: np.ndarray, seat_m: np.ndarray) -> None:
    """Mark (in place) the seat village: the township's own village nearest its seat point."""
    vidx = np.flatnonzero(vok)
    for j in np.flatnonzero(tok):
        own = [i for i in vidx if vt[i] == tids[j]]
        if not own:
            continue
        d = shapely.distance(to_m[own], seat_m[j])
        is_seat.iloc[own[int(np.argmin(d))]] = True


def townships_from_points(townships: gpd.GeoDataFrame, villages: gpd.GeoDataFrame,
                          boundary: BaseGeometry | None = None, *,
                          margin_m: float = DEFAULT_MARGIN_M) -> tuple[gpd.GeoDataFrame, pd.Series]:
    """Derive township polygons from seat points and village points.

    Parameters
    ----------
    townships : GeoDataFrame, EPSG:4326
        Columns ``id`` (and any others, kept); geometry the seat point of each township (may be
        missing for some).
    villages : GeoDataFrame, EPSG:4326
        Columns ``id``, ``township_id`` (ids of ``townships``); point geometry. Villages with a
        missing/invalid point or an unknown township are ignored.
    boundary : shapely geometry in WGS-84, optional
        The county outline. Cells are clipped to it; without it they are clipped to the convex hull
        of all points grown by ``margin_m`` metres.

    Returns
    -------
    (townships, is_seat)
        ``townships``: a copy with polygon (or multipolygon) geometry, EPSG:4326; a township with
        neither villages nor a seat point keeps an empty geometry (validation reports it). The
        polygons do not overlap: villages of different townships at one location (a geocoding
        collision) give their cell to the township whose seat is nearest.
        ``is_seat``: boolean Series aligned to ``villages``, True for the village nearest each
        township's seat point among that township's own villages.
    """
    tw = townships.reset_index(drop=True)
    vg = villages.reset_index(drop=True)
    tids = [None if t is None else str(t) for t in tw["id"]]
    vt = [None if t is None or (isinstance(t, float) and np.isnan(t)) else str(t) for t in vg["township_id"]]
    vgeom = vg.geometry.to_numpy()
    tgeom = tw.geometry.to_numpy()
    vok = _points_ok(vgeom) & np.array([t in set(tids) for t in vt], dtype=bool)
    tok = _points_ok(tgeom)
    is_seat = pd.Series(False, index=villages.index, dtype=bool)
    if not (vok.any() or tok.any()):
        return tw.set_geometry(gpd.GeoSeries([None] * len(tw), crs=WGS84)), is_seat

    allpts = np.concatenate([shapely.get_coordinates(vgeom[vok]), shapely.get_coordinates(tgeom[tok])])
    lon0, lat0 = allpts.mean(axis=0)
    crs = metric_crs(float(lon0), float(lat0))
    to_m = gpd.GeoSeries(list(vgeom), crs=WGS84).to_crs(crs).to_numpy()
    seat_m = gpd.GeoSeries(list(tgeom), crs=WGS84).to_crs(crs).to_numpy()
    xy, site_town = _sites(vt, vok, tids, tok, to_m, seat_m)
    region = _region(boundary, crs, xy, margin_m)
    uniq, inverse, cells = _cells(xy, region)
    seat_xy = {tids[j]: shapely.get_coordinates(seat_m[j])[0] for j in np.flatnonzero(tok)}
    town_cells = _cells_by_township(site_town, inverse, uniq, cells, seat_xy)
    geom = gpd.GeoSeries(_polygons(tids, town_cells, region), crs=crs).to_crs(WGS84)
    out = gpd.GeoDataFrame(tw.drop(columns=tw.geometry.name), geometry=geom.to_numpy(), crs=WGS84)
    _mark_seats(is_seat, vt, vok, tids, tok, to_m, seat_m)
    return out, is_seat


def far_from_seat(townships: gpd.GeoDataFrame, villages: gpd.GeoDataFrame, *, ratio: float = 3.0,
                  min_m: float = 10_000.0) -> pd.DataFrame:
    """Villages that look misplaced: far from their own township's seat, near another's.

    A village is flagged when its distance to its own seat exceeds ``min_m`` metres and is more
    than ``ratio`` times its distance to the nearest other seat (a wrong point or a wrong
    township in the source). Inputs as :func:`townships_from_points` (EPSG:4326).

    Returns a DataFrame with one row per flagged village: ``position`` (0-based row of
    ``villages``), ``own_m``, ``nearest_township`` (id), ``nearest_m`` (metres).
    """
    cols = ["position", "own_m", "nearest_township", "nearest_m"]
    tw = townships.reset_index(drop=True)
    vg = villages.reset_index(drop=True)
    tok = _points_ok(tw.geometry.to_numpy())
    vok = _points_ok(vg.geometry.to_numpy())
    if tok.sum() < 2 or not vok.any():
        return pd.DataFrame(columns=cols)
    tids = np.array([str(t) for t in tw["id"]], dtype=object)[tok]
    pts = np.concatenate([shapely.get_coordinates(tw.geometry.to_numpy()[tok]),
                          shapely.get_coordinates(vg.geometry.to_numpy()[vok])])
    crs = metric_crs(*map(float, pts.mean(axis=0)))
    seats = shapely.get_coordinates(gpd.GeoSeries(tw.geometry.to_numpy()[tok], crs=WGS84).to_crs(crs).to_numpy())
    vpos = np.flatnonzero(vok)
    vxy = shapely.get_coordinates(gpd.GeoSeries(vg.geometry.to_numpy()[vok], crs=WGS84).to_crs(crs).to_numpy())
    d = np.hypot(vxy[:, None, 0] - seats[None, :, 0], vxy[:, None, 1] - seats[None, :, 1])
    rows = []
    for k, i in enumerate(vpos):
        own = np.flatnonzero(tids == str(vg["township_id"].iloc[i]))
        if not len(own):
            continue
        own_m = float(d[k, own[0]])
        others = np.flatnonzero(tids != tids[own[0]])
        j = others[int(np.argmin(d[k, others]))]
        if own_m > min_m and own_m > ratio * d[k, j]:
            rows.append((int(i), own_m, tids[j], float(d[k, j])))
    return pd.DataFrame(rows, columns=cols)


__all__ = ["townships_from_points", "far_from_seat", "DEFAULT_MARGIN_M"]
