"""A real county's village list as an office has it: most villages without coordinates.

:func:`sparse_real_county` imports a county of ``../shared/real`` (GCJ-02) with a comprehensive
station at every third township seat, then gives back every village the import could not locate:
at its township's seat (``location_source`` ``township_seat``), or without a point (``unknown``)
when ``unknown`` says so or the township has no seat point. The villages layer keeps every row of
the list, as an import that keeps villages without coordinates does.
"""

from __future__ import annotations

import csv
import dataclasses
import shutil
import tempfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
from shapely.geometry import Point

from geo_service.core.crs import gcj02_to_wgs84
from geo_service.core.io import read_dataset

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real"
if not REAL.is_dir():  # the main checkout sees it beside the repository too
    REAL = Path(__file__).resolve().parents[2] / "shared" / "real"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def sparse_real_county(county: str, *, unknown_every: int = 0, station_every: int = 3):
    """The county's dataset with approximate (and, every ``unknown_every``-th, unlocated) villages;
    None when the shared data is absent."""
    src = REAL / county
    if not (src / "villages.csv").exists():
        return None
    tmp = Path(tempfile.mkdtemp(prefix="gs-real-"))
    try:
        shutil.copy(src / "villages.csv", tmp / "villages.csv")
        shutil.copy(src / "townships.csv", tmp / "townships.csv")
        if (src / "county_boundary_gcj02.json").exists():
            shutil.copy(src / "county_boundary_gcj02.json", tmp / "counties.geojson")
        towns = _rows(src / "townships.csv")
        seats = [t for t in towns if t["经度"].strip() and t["纬度"].strip()]
        with (tmp / "stations.csv").open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["名称", "类型", "乡镇", "经度", "纬度"])
            for t in seats[::station_every]:
                w.writerow([f"{t['名称']}综合型委员工作站", "综合型", t["名称"], t["经度"], t["纬度"]])
        ds = read_dataset(tmp, datum="gcj02", name=county, missing_points="drop")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    seat_pt = {}
    for t in seats:
        x, y = gcj02_to_wgs84(float(t["经度"]), float(t["纬度"]))
        seat_pt[t["名称"]] = Point(float(x), float(y))
    tid = dict(zip(ds.townships["name"], ds.townships["id"]))
    have = set(ds.villages["id"].astype(str))
    rows = []
    for k, r in enumerate(r for r in _rows(src / "villages.csv") if r["代码"] not in have):
        g = seat_pt.get(r["乡镇"])
        if unknown_every and k % unknown_every == 0:
            g = None
        rows.append({"id": r["代码"], "name": r["名称"], "township_id": tid.get(r["乡镇"]), "population": None,
                     "is_seat": False, "geometry": g,
                     "location_source": "township_seat" if g is not None else "unknown"})
    given = ds.villages.assign(location_source="given")
    extra = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    v = gpd.GeoDataFrame(pd.concat([given, extra], ignore_index=True), geometry="geometry", crs="EPSG:4326")
    return dataclasses.replace(ds, layers={**ds.layers, "villages": v})


__all__ = ["REAL", "sparse_real_county"]
