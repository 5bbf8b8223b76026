"""Roads as people have them: OpenStreetMap extracts (Geofabrik shapefiles and ``.osm.pbf``).

* Geofabrik's ``gis_osm_roads_free_1.shp`` has the columns osm_id, code, fclass, name, ref, oneway,
  maxspeed, layer, bridge, tunnel. :func:`geofabrik_roads` maps it to the roads layer: ``osm_id`` is
  the id (``code``, the OSM feature class number shared by every road of a class, is not),
  ``fclass`` the class, ``maxspeed`` the speed in km/h where it is > 0 (Geofabrik writes 0 for
  unknown), else the speed of the class (:data:`OSM_CLASS_SPEEDS_KMH`), and ``oneway`` (F: along the
  line, T: against it, B: both) travels with the layer.
* :func:`read_osm_pbf` reads the ``highway=*`` ways of an ``.osm.pbf`` extract with pyosmium, keeping
  the ways with a node inside a bounding box (the dataset's area), with the same columns.

OpenStreetMap coordinates are WGS-84 whatever datum the county's own tables use, so the reader
never shifts these layers (``--datum gcj02`` applies to the other files only).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import LineString

from ..domain import WGS84

#: Speed (km/h) by OSM ``highway`` class where a road gives no maxspeed: Chinese rural practice
#: (expressway 100, national road 80, provincial 60, county 40-50, village 30, tracks 15, paths
#: walked at 5).
OSM_CLASS_SPEEDS_KMH: dict[str, float] = {
    "motorway": 100.0, "motorway_link": 60.0, "trunk": 80.0, "trunk_link": 50.0,
    "primary": 60.0, "primary_link": 40.0, "secondary": 50.0, "secondary_link": 40.0,
    "tertiary": 40.0, "tertiary_link": 30.0, "unclassified": 30.0, "residential": 30.0,
    "living_street": 15.0, "service": 20.0, "road": 30.0, "unknown": 30.0,
    "track": 15.0, "track_grade1": 20.0, "track_grade2": 15.0, "track_grade3": 12.0,
    "track_grade4": 10.0, "track_grade5": 8.0,
    "pedestrian": 5.0, "footway": 5.0, "path": 5.0, "steps": 3.0, "cycleway": 5.0, "bridleway": 5.0,
}
#: Classes that are not roads (construction, proposed, platforms...): left out of the layer.
_NOT_ROADS = {"proposed", "construction", "abandoned", "platform", "raceway", "bus_guideway", "corridor",
              "elevator", "escalator", "via_ferrata", "rest_area", "services"}
ONEWAY_CODES = ("F", "T", "B")


def is_geofabrik_name(name: str) -> bool:
    """True for Geofabrik's road file names (``gis_osm_roads_free_1``, ``gis_osm_roads_07_1`` ...)."""
    return str(name).strip().lower().startswith("gis_osm_roads")


def is_geofabrik(frame: pd.DataFrame) -> bool:
    """True when ``frame`` has Geofabrik's road columns (osm_id and fclass)."""
    cols = {str(c).lower() for c in frame.columns}
    return {"osm_id", "fclass"} <= cols


def _speed(maxspeed: Any, cls: Any) -> float | None:
    """km/h from an OSM maxspeed (a number, "50", "30 mph", 0 = unknown), else the class's speed."""
    v = None
    if maxspeed is not None and not (isinstance(maxspeed, float) and np.isnan(maxspeed)):
        m = re.match(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(mph)?", str(maxspeed))
        if m:
            v = float(m.group(1)) * (1.609344 if m.group(2) else 1.0)
    if v is not None and np.isfinite(v) and v > 0:
        return v
    return OSM_CLASS_SPEEDS_KMH.get(str(cls).strip().lower()) if cls is not None else None


def geofabrik_roads(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A Geofabrik roads shapefile frame as a roads layer frame (see module docstring), WGS-84."""
    df = gdf.rename(columns={c: str(c).lower() for c in gdf.columns if c != gdf.geometry.name})
    cls = df["fclass"].astype(object).where(df["fclass"].notna(), None)
    keep = ~cls.isin(_NOT_ROADS).to_numpy()
    speeds = [_speed(m, c) for m, c in zip(df.get("maxspeed", pd.Series([None] * len(df))), cls)]
    oneway = (df["oneway"].astype(str).str.upper().where(lambda s: s.isin(ONEWAY_CODES), "B")
              if "oneway" in df else pd.Series(["B"] * len(df)))
    out = gpd.GeoDataFrame({
        "id": [str(int(v)) if isinstance(v, (float, np.floating)) and float(v).is_integer() else str(v)
               for v in df["osm_id"]],
        "class": cls.to_numpy(), "speed_kmh": speeds, "oneway": oneway.to_numpy(),
        "name": df["name"].to_numpy() if "name" in df else None,
        "ref": df["ref"].to_numpy() if "ref" in df else None,
    }, geometry=df.geometry.to_numpy(), crs=df.crs or WGS84)
    if out.crs is not None and not out.crs.equals(WGS84):
        out = out.to_crs(WGS84)
    return out[keep].reset_index(drop=True)


def _oneway_tag(tags: dict[str, str], highway: str) -> str:
    v = str(tags.get("oneway", "")).strip().lower()
    if v in ("yes", "true", "1"):
        return "F"
    if v in ("-1", "reverse"):
        return "T"
    if v in ("no", "false", "0"):
        return "B"
    return "F" if highway in ("motorway", "motorway_link") or tags.get("junction") == "roundabout" else "B"


def read_osm_pbf(path: str | os.PathLike, bbox: tuple[float, float, float, float] | None = None
                 ) -> gpd.GeoDataFrame:
    """The ``highway=*`` ways of an OpenStreetMap extract (``.osm.pbf``, or ``.osm`` XML) as a roads
    layer frame: id (way id), class (highway), speed_kmh (maxspeed, else by class), oneway (F/T/B),
    name, ref; LineStrings in WGS-84. With ``bbox`` (lon0, lat0, lon1, lat1, degrees) only the ways
    with a node inside it are kept (the extract clipped to the dataset's area).

    Raises ``ValueError`` when the file cannot be read (pyosmium's message).
    """
    import osmium

    rows: list[dict[str, Any]] = []
    geoms: list[LineString] = []
    x0, y0, x1, y1 = bbox if bbox is not None else (-180.0, -90.0, 180.0, 90.0)
    try:
        fp = (osmium.FileProcessor(str(Path(path)), osmium.osm.NODE | osmium.osm.WAY).with_locations()
              .with_filter(osmium.filter.KeyFilter("highway")))
        for w in cast(Iterable[Any], fp):  # nodes and ways; is_way() picks the ways (not a narrowing mypy sees)
            if not w.is_way():
                continue
            tags = {t.k: t.v for t in w.tags}
            hw = tags.get("highway", "")
            if hw in _NOT_ROADS:
                continue
            try:
                pts = [(n.lon, n.lat) for n in w.nodes if n.location.valid()]
            except osmium.InvalidLocationError:
                continue
            if len(pts) < 2:
                continue
            a = np.asarray(pts)
            if not ((a[:, 0] >= x0) & (a[:, 0] <= x1) & (a[:, 1] >= y0) & (a[:, 1] <= y1)).any():
                continue
            rows.append({"id": str(w.id), "class": hw, "speed_kmh": _speed(tags.get("maxspeed"), hw),
                         "oneway": _oneway_tag(tags, hw), "name": tags.get("name"), "ref": tags.get("ref")})
            geoms.append(LineString(pts))
    except RuntimeError as e:
        raise ValueError(f"cannot read OpenStreetMap file {Path(path).name}: {e}") from None
    cols = ["id", "class", "speed_kmh", "oneway", "name", "ref"]
    return gpd.GeoDataFrame(pd.DataFrame(rows, columns=cols), geometry=geoms, crs=WGS84)


__all__ = ["OSM_CLASS_SPEEDS_KMH", "geofabrik_roads", "is_geofabrik", "is_geofabrik_name", "read_osm_pbf"]
