"""Import steps about locations: rows without coordinates, shared points, approximate villages, the report.

Statistics bureau lists give a code and a name for every village but coordinates for few. The
import keeps every row (``missing_points="keep"``, the default): a village without coordinates
is placed at its township's seat (``township_seat``) or at the centre of its township's polygon
(``township_centre``), else it stays without a point (``unknown``). ``"drop"`` drops such rows
(an explicit choice, listed in the import report); ``"error"`` refuses them.

:func:`import_report` summarises what the import knew: villages by source, townships by boundary
source, dropped rows, villages of different townships sharing a point, and the datum.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..crs import from_wgs84
from ..dataset import Problem
from ..validation import text_params
from ..domain import APPROXIMATE_SOURCES, WGS84
from ..locations import present, source_counts
from .collect import Collector
from .tables import RawLayer, blank, clean_id

MISSING_POINTS = ("keep", "drop", "error")
#: Layers whose rows without coordinates ``missing_points`` decides about (stations always need one).
_POINT_LAYERS = ("villages", "stations", "members")


def _name(df: pd.DataFrame, i: int | np.integer) -> str:
    v = df["name"].iloc[i] if "name" in df.columns else None
    return "" if blank(v) else f"'{v}' "


def _plain_name(df: pd.DataFrame, i: int | np.integer) -> str:
    """A row's name as written, else its id (the glossary's texts quote it)."""
    for col in ("name", "id"):
        v = df[col].iloc[i] if col in df.columns else None
        if not blank(v):
            return str(v)
    return "?"


def _lacking(col: Collector, raw: RawLayer) -> np.ndarray:
    """Rows of ``raw`` without coordinates (and without a parse error of their own); members with a
    home village are located by it and never lack."""
    df = raw.frame
    if not isinstance(df, gpd.GeoDataFrame) or not len(df):
        return np.zeros(len(df), dtype=bool)
    bad_rows = {(p.layer, p.row) for p in col.problems if p.row is not None and p.severity == "error"}
    out = ~present(df.geometry)
    out &= np.array([(raw.layer, int(r)) not in bad_rows for r in raw.rows], dtype=bool)
    if raw.layer == "members" and "village_id" in df.columns:
        out &= np.array([blank(v) for v in df["village_id"]], dtype=bool)
    return out


def handle_missing_points(col: Collector, missing_points: str) -> None:
    """``drop``: drop rows without coordinates (a warning each, ids kept in ``col.dropped``);
    ``error``: each such village is an error naming its row; ``keep``: nothing here."""
    if missing_points == "keep":
        return
    for layer in _POINT_LAYERS:
        raw = col.layers.get(layer)
        if raw is None:
            continue
        lack = _lacking(col, raw)
        if not lack.any():
            continue
        df = raw.frame
        if missing_points == "error":
            if layer == "villages":
                fld = "/".join(raw.headers.get(c, c) for c in ("lon", "lat"))
                for i in np.flatnonzero(lack):
                    col.problems.append(Problem(
                        layer, f"{_name(df, i)}has no coordinates ({fld} blank); fill them in, or keep such rows "
                               "(missing_points='keep', CLI --missing-points keep: placed at the township seat) "
                               "or drop them (missing_points='drop', CLI --missing-points drop)",
                        "missing_geometry", int(raw.rows[i]), clean_id(df["id"].iloc[i]) if "id" in df else None,
                        fld, "error", raw.source))
            continue
        for i in np.flatnonzero(lack):
            col.problems.append(Problem(layer, f"{_name(df, i)}has no coordinates; dropped", "dropped_no_coordinates",
                                        int(raw.rows[i]), clean_id(df["id"].iloc[i]) if "id" in df else None,
                                        None, "warning", raw.source, message_code="problem_no_coordinates_dropped",
                                        params=text_params({"name": _plain_name(df, i)})))
        if "id" in df.columns:
            col.dropped.setdefault(layer, set()).update(
                i for i in (clean_id(v) for v in df["id"].to_numpy()[lack]) if i is not None)
        raw.frame = df.loc[~lack].reset_index(drop=True)
        raw.rows = raw.rows[~lack]


def seat_points(col: Collector) -> dict[str, Any]:
    """Township id -> seat point (WGS-84), for townships given as points."""
    traw = col.layers.get("townships")
    if traw is None or not isinstance(traw.frame, gpd.GeoDataFrame) or "id" not in traw.frame.columns:
        return {}
    g = traw.frame.geometry.to_numpy()
    ok = present(g)
    ok[ok] = shapely.get_type_id(g[ok]) == 0
    return {tid: g[i] for i, t in enumerate(traw.frame["id"]) if ok[i] and (tid := clean_id(t)) is not None}


def warn_shared_points(col: Collector) -> None:
    """Warn about villages that share exact coordinates (often a geocoder matching one name): the
    warning names both rows, both townships and the point (in the datum the file came in)."""
    vraw = col.layers.get("villages")
    if vraw is None or not isinstance(vraw.frame, gpd.GeoDataFrame) or not len(vraw.frame):
        return
    v = vraw.frame
    geoms = v.geometry.to_numpy()
    ok = present(geoms)
    ok[ok] = shapely.get_type_id(geoms[ok]) == 0
    traw = col.layers.get("townships")
    tnames = {}
    if traw is not None and {"id", "name"} <= set(traw.frame.columns):
        tnames = {clean_id(a): b for a, b in zip(traw.frame["id"], traw.frame["name"])}
    town = [clean_id(x) for x in v["township_id"]] if "township_id" in v.columns else [None] * len(v)
    seen: dict[tuple[float, float], int] = {}
    for i in np.flatnonzero(ok):
        key = (float(shapely.get_x(geoms[i])), float(shapely.get_y(geoms[i])))
        j = seen.setdefault(key, int(i))
        if j == i:
            continue
        lon, lat = (float(a[0]) for a in from_wgs84(np.array([key[0]]), np.array([key[1]]), col.datum))
        ti, tj = (tnames.get(town[k]) or town[k] or "?" for k in (i, j))
        col.shared_points.append({"rows": [int(vraw.rows[j]), int(vraw.rows[i])],
                                  "ids": [clean_id(v["id"].iloc[k]) if "id" in v else None for k in (j, i)],
                                  "names": [str(v["name"].iloc[k]) if "name" in v else "" for k in (j, i)],
                                  "townships": [tj, ti], "lon": round(lon, 6), "lat": round(lat, 6)})
        col.problems.append(Problem(
            "villages", f"{_name(v, i)}({ti}) has the same coordinates ({lon:.6f}, {lat:.6f}) as row "
                        f"{int(vraw.rows[j])} {_name(v, j)}({tj}): probably a geocoding mistake",
            "shared_coordinates", int(vraw.rows[i]), clean_id(v["id"].iloc[i]) if "id" in v.columns else None,
            "/".join(vraw.headers.get(c, c) for c in ("lon", "lat")), "warning", vraw.source,
            message_code="problem_shared_coordinates",
            params=text_params({"name": _plain_name(v, i), "township": ti, "lon": f"{lon:.6f}", "lat": f"{lat:.6f}",
                                "other_row": int(vraw.rows[j]), "other": _plain_name(v, j), "other_township": tj})))


def _centre(poly: Any) -> Any:
    """The centroid of a polygon when it lies inside, else a point surely inside (a point or line
    of located villages: its centroid)."""
    c = poly.centroid
    if poly.geom_type not in ("Polygon", "MultiPolygon"):
        return c
    return c if poly.contains(c) else poly.representative_point()


def place_approximate(col: Collector, seats: dict[str, Any]) -> None:
    """Villages without coordinates: at their township's seat, else its polygon's centre, else none.

    Sets ``location_source`` (``given`` where the file gave a point and no source) and adds one
    warning per kind of approximation, with the count.
    """
    vraw, traw = col.layers.get("villages"), col.layers.get("townships")
    if vraw is None or not isinstance(vraw.frame, gpd.GeoDataFrame):
        return
    v = vraw.frame
    polys: dict[str, Any] = {}
    if traw is not None and isinstance(traw.frame, gpd.GeoDataFrame) and "id" in traw.frame.columns:
        for t, g in zip(traw.frame["id"], traw.frame.geometry):
            tid = clean_id(t)
            if tid is not None and g is not None and not g.is_empty and g.geom_type in ("Polygon", "MultiPolygon"):
                polys[tid] = g  # given or derived
    given = list(v["location_source"]) if "location_source" in v.columns else [None] * len(v)
    has = present(v.geometry)
    geoms, src = list(v.geometry), []
    town = [clean_id(x) for x in v["township_id"]] if "township_id" in v.columns else [None] * len(v)
    # a township whose cells all went to another (its villages share points with that one's): the
    # centre of its own located villages (a village without a township has no such centre)
    for t in {x for x in (town[i] for i in np.flatnonzero(has)) if x is not None} - set(polys) - set(seats):
        own = [geoms[i] for i in np.flatnonzero(has) if town[i] == t]
        polys[t] = shapely.MultiPoint([(g.x, g.y) for g in own]).convex_hull
    for i in range(len(v)):
        t = town[i]
        if has[i]:
            src.append(None if blank(given[i]) else str(given[i]).strip())
        elif t is not None and t in seats:
            geoms[i] = seats[t]
            src.append("township_seat")
        elif t is not None and t in polys:
            geoms[i] = _centre(polys[t])
            src.append("township_centre")
        else:
            src.append("unknown")
    v = v.set_geometry(gpd.GeoSeries(geoms, crs=WGS84, index=v.index))
    v["location_source"] = pd.Series(src, index=v.index, dtype=object)
    vraw.frame = v
    for code, what in (("township_seat", "at their township's seat"), ("township_centre",
                                                                      "at their township's centre")):
        n = sum(s == code for s in src)
        if n:
            col.fail("villages", f"{n} villages without coordinates placed {what} (approximate, "
                                 f"location_source={code})", "approximate_location", vraw.source, "warning",
                     words=(f"problem_placed_at_{code}", {"n": n}))
    n = sum(s == "unknown" for s in src)
    if n:
        label = v["name"] if "name" in v.columns else (v["id"] if "id" in v.columns else pd.Series(v.index, index=v.index))
        names = [str(label.iloc[i]) for i in range(len(v)) if src[i] == "unknown"][:10]
        col.fail("villages", f"{n} villages without coordinates and without a located township are kept "
                             f"without a point (未定位): {', '.join(names)}{' ...' if n > 10 else ''}",
                 "unknown_location", vraw.source, "warning",
                 words=("problem_villages_unlocated", {"n": n, "names": "、".join(names) + ("……" if n > 10 else "")}))


def import_report(ds: Any, col: Collector) -> dict[str, Any]:
    """What an import knew about locations, JSON-ready (kept with the stored dataset).

    Parameters
    ----------
    ds : geo_service.core.dataset.Dataset
        The dataset just read.
    col : Collector
        Its collector (dropped rows, shared points, datum).

    Returns
    -------
    dict
        ``villages`` (rows kept), ``given``, ``approximate``, ``unknown``, ``by_source`` (counts by
        ``location_source``), ``townships`` (counts by ``boundary_source``), ``dropped`` (ids per
        layer) and ``dropped_count``, ``duplicate_points`` (rows, ids, names, townships, lon/lat in
        ``datum``), ``datum``.
    """
    by = source_counts(ds.villages)
    tb = ds.townships["boundary_source"].value_counts()
    dropped = {k: sorted(v) for k, v in col.dropped.items() if v}
    return {"villages": int(len(ds.villages)), "given": by["given"] + by["placed"],
            "approximate": int(sum(by[s] for s in APPROXIMATE_SOURCES)), "unknown": by["unknown"],
            "by_source": by, "townships": {s: int(tb.get(s, 0)) for s in ("given", "derived", "none")},
            "dropped": dropped, "dropped_count": int(sum(len(v) for v in dropped.values())),
            "duplicate_points": list(col.shared_points), "datum": col.datum}


__all__ = ["MISSING_POINTS", "handle_missing_points", "import_report", "place_approximate", "seat_points",
           "warn_shared_points"]
