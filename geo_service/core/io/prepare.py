"""After reading, before validation: coordinates to WGS-84, rows without points, names to ids,
defaults for what official lists lack, township polygons from seat points, shapefile shapes.

Each step works on a :class:`~geo_service.core.io.collect.Collector` in place and records problems
and warnings there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..crs import to_wgs84, transform_geometry
from ..dataset import Problem
from ..validation import text_params
from ..domain import LAYERS, WGS84
from ..locations import present as present_mask
from .collect import Collector, read_pending_osm
from .locate import handle_missing_points, place_approximate, seat_points, warn_shared_points
from .tables import blank, clean_id
from .townships import far_from_seat, townships_from_points


def _apply_table_crs(col: Collector) -> None:
    """Reproject the x/y columns of CSV/XLSX tables from the user's ``crs`` to EPSG:4326."""
    if col.crs is None:
        return
    for raw in col.layers.values():
        if raw.kind == "table" and isinstance(raw.frame, gpd.GeoDataFrame) and len(raw.frame):
            raw.frame = raw.frame.set_crs(col.crs, allow_override=True).to_crs(WGS84)


def _convert_datum(col: Collector, option: str) -> None:
    """Coordinates to WGS-84 from the datum their headers name (经度(GCJ-02)), else from ``option``."""
    for raw in col.layers.values():
        df = raw.frame
        datum = raw.datum or option
        if raw.layer in col.wgs84_layers or datum == "wgs84":
            continue  # OpenStreetMap data is WGS-84
        if isinstance(df, gpd.GeoDataFrame) and len(df):
            geoms = df.geometry.to_numpy()
            ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
            b = shapely.bounds(geoms)
            with np.errstate(invalid="ignore"):
                ok &= np.isfinite(b).all(axis=1) & (np.abs(b[:, [0, 2]]) <= 180).all(axis=1) \
                    & (np.abs(b[:, [1, 3]]) <= 90).all(axis=1)
            new = geoms.copy()
            new[ok] = transform_geometry(geoms[ok], lambda x, y, d=datum: to_wgs84(x, y, d))
            raw.frame = df.set_geometry(gpd.GeoSeries(new, crs=WGS84, index=df.index))


def _normalise_shapefile_shapes(col: Collector) -> None:
    """Undo what the Shapefile format does to shapes, so a shapefile reads like the other formats.

    Shapefile stores outer rings clockwise and has no single-part/multi-part distinction: rings
    are oriented counter-clockwise outside (RFC 7946, and shapely's default) and single-part
    Multi* geometries become their part. Other formats keep shapes exactly as written.
    """
    for raw in col.layers.values():
        df = raw.frame
        if raw.kind != "shapefile" or not isinstance(df, gpd.GeoDataFrame) or not len(df):
            continue
        geoms = df.geometry.to_numpy().copy()
        types = shapely.get_type_id(geoms)
        multi = np.isin(types, (5, 6)) & (shapely.get_num_geometries(geoms) == 1)
        if multi.any():
            geoms[multi] = shapely.get_geometry(geoms[multi], 0)
        poly = np.isin(shapely.get_type_id(geoms), (3, 6))
        if poly.any():
            geoms[poly] = shapely.orient_polygons(geoms[poly], exterior_cw=False)
        if multi.any() or poly.any():
            raw.frame = df.set_geometry(gpd.GeoSeries(geoms, crs=WGS84, index=df.index))


def _resolve_names(col: Collector) -> None:
    """Replace references written as names by ids, when the name is unambiguous.

    A value that is already an id of the target layer stays. A value equal to exactly one target
    name becomes that row's id; a name shared by several targets is an ``ambiguous_reference``
    error naming the candidates. Anything else is left for validation (``unknown_reference``).
    """
    for raw in col.layers.values():
        spec = LAYERS[raw.layer]
        for f in spec.fields:
            if not f.ref or f.name not in raw.frame.columns or f.ref not in col.layers:
                continue
            target = col.layers[f.ref].frame
            if "id" not in target.columns:
                continue
            ids = {clean_id(v) for v in target["id"]}
            by_name: dict[str, list[str]] = {}
            if "name" in target.columns:
                for tid, tname in zip(target["id"], target["name"]):
                    if not blank(tname) and (cid := clean_id(tid)) is not None:
                        by_name.setdefault(str(tname).strip(), []).append(cid)
            out = []
            for i, v in enumerate(raw.frame[f.name]):
                cv = clean_id(v)
                if cv is None or cv in ids or cv not in by_name:
                    out.append(cv)
                    continue
                cands = by_name[cv]
                if len(cands) == 1:
                    out.append(cands[0])
                else:
                    fid = clean_id(raw.frame["id"].iloc[i]) if "id" in raw.frame.columns else None
                    col.problems.append(Problem(
                        raw.layer, f"'{cv}' names {len(cands)} {f.ref} (ids {', '.join(cands)}); use the id",
                        "ambiguous_reference", int(raw.rows[i]), fid, raw.headers.get(f.name, f.name),
                        source=raw.source))
                    out.append(cv)
            raw.frame[f.name] = pd.Series(out, index=raw.frame.index, dtype=object)


def _fill_defaults(col: Collector) -> None:
    """Fill what boundary files and statistics lists commonly lack, with a warning each.

    - counties without ``id``/``name`` (a bare outline): ids ``C1``, ``C2`` ... and the file name;
    - villages without any population column: population blank (unknown); coverage then counts
      villages (:func:`geo_service.core.coverage.village_weights`) until real figures are imported.
    """
    raw = col.layers.get("counties")
    if raw is not None and isinstance(raw.frame, gpd.GeoDataFrame):
        df = raw.frame
        for fld in ("id", "name"):
            if fld not in df.columns:
                stem = Path(raw.source.split(":")[0].split("[")[0]).stem
                df[fld] = [f"C{i + 1}" for i in range(len(df))] if fld == "id" else [stem] * len(df)
                col.fail("counties", f"no '{fld}' column; set to {df[fld].iloc[0] if len(df) else ''!r}",
                         "filled_default", raw.source, "warning",
                         words=(f"problem_county_no_{fld}", {"value": df[fld].iloc[0] if len(df) else ""}))
    # a list without a code column (站点名称, 类型, 经度, 纬度): the names are the ids when unique,
    # else the row numbers; references by name still resolve (_resolve_names)
    for layer, raw in col.layers.items():
        df = raw.frame
        if layer == "counties" or "id" in df.columns or "name" not in df.columns or not len(df):
            continue
        names = [None if v is None or (isinstance(v, float) and v != v) else str(v).strip() for v in df["name"]]
        unique = all(names) and len(set(names)) == len(names)
        df["id"] = names if unique else [f"{layer[0].upper()}{i + 1}" for i in range(len(df))]
        col.fail(layer, "no id column (代码/编号); ids set to the " + ("names" if unique else "row numbers"),
                 "filled_default", raw.source, "warning",
                 words=("problem_ids_from_names" if unique else "problem_ids_from_rows", {}))
    raw = col.layers.get("villages")
    if raw is not None and "population" not in raw.frame.columns:
        raw.frame["population"] = None
        col.fail("villages", "no population column (人口): population unknown; coverage counts villages "
                             "(每村计 1) until a 人口 column is imported",
                 "filled_default", raw.source, "warning", words=("problem_no_population", {}))


def _derive_townships(col: Collector, missing_points: str) -> None:
    """Townships given as points: derive polygons (Voronoi of villages) and mark seat villages.

    A township with neither a seat point nor a village with coordinates gets no polygon: kept
    without one (``boundary_source="none"``, listed as 未定位) with ``missing_points="keep"``,
    dropped (warning) with ``"drop"``, an error naming the row with ``"error"``. Derived polygons
    are marked ``boundary_source="derived"``: they are not official boundaries.
    """
    traw, vraw = col.layers.get("townships"), col.layers.get("villages")
    if traw is None or not isinstance(traw.frame, gpd.GeoDataFrame) or not len(traw.frame):
        return
    geoms = traw.frame.geometry.to_numpy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if present.any() and not (shapely.get_type_id(geoms[present]) == 0).all():
        return  # polygons given
    if not present.any() and not (vraw is not None and isinstance(vraw.frame, gpd.GeoDataFrame)
                                  and present_mask(vraw.frame.geometry).any()):
        return  # nothing to derive from: every township stays without a polygon
    villages = vraw.frame if vraw is not None and isinstance(vraw.frame, gpd.GeoDataFrame) else None
    if villages is None or "township_id" not in villages.columns or "id" not in traw.frame.columns:
        villages = gpd.GeoDataFrame({"township_id": []}, geometry=gpd.GeoSeries([], crs=WGS84), crs=WGS84)
    boundary = None
    craw = col.layers.get("counties")
    if craw is not None and isinstance(craw.frame, gpd.GeoDataFrame) and len(craw.frame):
        cg = craw.frame.geometry.to_numpy()
        cg = cg[~(shapely.is_missing(cg) | shapely.is_empty(cg))]
        polys = [g for g in cg if g.geom_type in ("Polygon", "MultiPolygon")]
        if polys:
            boundary = shapely.make_valid(shapely.union_all(polys))
    tw = traw.frame.copy()
    tw["id"] = [clean_id(v) for v in tw["id"]]
    new, seat = townships_from_points(tw, villages, boundary)
    no_poly = ~present_mask(new.geometry)
    # no seat and no located village (a township whose cells all went to another keeps its row)
    located_towns: set[Any] = {clean_id(t) for t, ok in zip(villages["township_id"], present_mask(villages.geometry)) if ok}
    empty = no_poly & ~present & ~np.isin(np.asarray(tw["id"], dtype=object), list(located_towns))
    for i in np.flatnonzero(empty):
        drop, strict = missing_points == "drop", missing_points == "error"
        label = f"'{new['name'].iloc[i]}' " if "name" in new.columns and not blank(new["name"].iloc[i]) else ""
        col.problems.append(Problem(
            "townships", f"{label}has no seat coordinates and no village with coordinates, so no polygon"
                         + ("; dropped" if drop else " can be derived" if strict else "; kept without one (未定位)"),
            "dropped_no_coordinates" if drop else "missing_geometry" if strict else "unknown_location",
            int(traw.rows[i]), new["id"].iloc[i], None if drop else traw.headers.get("lon", "lon"),
            "error" if strict else "warning", traw.source,
            message_code=f"problem_township_no_seat_{missing_points}",
            params=text_params({"name": new["name"].iloc[i] if label else new["id"].iloc[i]})))
    new["boundary_source"] = np.where(no_poly, "none", "derived").astype(object)
    if missing_points == "drop" and empty.any():
        col.dropped.setdefault("townships", set()).update(new["id"][empty].dropna().astype(str))
        new = new.loc[~empty].reset_index(drop=True)
        traw.rows = traw.rows[~empty]
    traw.frame = new
    col.fail("townships", "townships given as points (seats): polygons derived as the union of the Voronoi "
                          "cells of their villages" + (", clipped to the county boundary" if boundary else ""),
             "derived_polygons", traw.source, "warning",
             words=("problem_derived_polygons_clipped" if boundary else "problem_derived_polygons", {}))
    if vraw is not None and len(villages):
        names = dict(zip(tw["id"], tw["name"])) if "name" in tw.columns else {}
        for _, r in far_from_seat(tw, villages).iterrows():
            k = int(r["position"])
            vname = villages["name"].iloc[k] if "name" in villages.columns else ""
            col.problems.append(Problem(
                "villages", f"'{vname}' lies {r['own_m'] / 1000:.1f} km from the seat of its township "
                            f"'{names.get(str(villages['township_id'].iloc[k]), '')}' but "
                            f"{r['nearest_m'] / 1000:.1f} km from that of '{names.get(r['nearest_township'], '')}': "
                            "check its coordinates or township", "far_from_seat", int(vraw.rows[k]),
                clean_id(villages["id"].iloc[k]) if "id" in villages.columns else None,
                vraw.headers.get("township_id", "township_id"), "warning", vraw.source,
                message_code="problem_far_from_seat",
                params=text_params({"village": vname, "own_km": f"{r['own_m'] / 1000:.1f}",
                                    "township": names.get(str(villages["township_id"].iloc[k]), ""),
                                    "nearest_km": f"{r['nearest_m'] / 1000:.1f}",
                                    "nearest_township": names.get(r["nearest_township"], "")})))
    if vraw is not None and len(villages) and ("is_seat" not in vraw.frame.columns
                                               or all(blank(v) for v in vraw.frame["is_seat"])):
        vraw.frame["is_seat"] = seat.to_numpy()


def prepare(col: Collector, datum: str, missing_points: str) -> None:
    """Every step between reading and validation, in order, on ``col`` in place.

    Parameters
    ----------
    col : Collector
        The raw layers read and the problems met so far.
    datum : str
        ``"wgs84"``, ``"gcj02"`` or ``"bd09"``: the datum of the input coordinates (checked by
        the caller).
    missing_points : str
        ``"keep"``, ``"drop"`` or ``"error"``: what to do with rows without coordinates (see
        :mod:`geo_service.core.io.locate`).
    """
    col.datum = datum
    _apply_table_crs(col)
    _convert_datum(col, datum)
    handle_missing_points(col, missing_points)
    read_pending_osm(col)
    _fill_defaults(col)
    _resolve_names(col)
    seats = seat_points(col)
    try:
        _derive_townships(col, missing_points)
    except Exception as e:  # degenerate input (e.g. all villages at one spot): say so, do not crash
        col.fail("townships", f"cannot derive township polygons from points: {e}", "derive_failed",
                 col.layers["townships"].source)
    warn_shared_points(col)
    _normalise_shapefile_shapes(col)
    if missing_points == "keep":
        place_approximate(col, seats)


__all__ = ["prepare"]
