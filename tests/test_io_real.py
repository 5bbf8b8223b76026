"""Real data nobody here made: Chongyang County (崇阳县, Hubei), villages and township seats in GCJ-02.

Imported as a user would: the folder as it is, GCJ-02, rows without coordinates dropped. Skips
cleanly when the shared data folder is absent.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import shape

from geo_service.core.crs import gcj02_to_wgs84, transform_geometry
from geo_service.core.dataset import DatasetValidationError
from geo_service.core.io import read_dataset, read_layers_from_files, write_dataset
from shared_data import real_county, require_shared

FOLDER = real_county("chongyang")


@pytest.fixture(autouse=True)
def _needs_the_real_county():
    require_shared(FOLDER / "villages.csv", "real Chongyang data")


@pytest.fixture(scope="module")
def chongyang():
    return read_dataset(FOLDER, datum="gcj02", missing_points="drop")


@pytest.fixture(scope="module")
def source():
    v = pd.read_csv(FOLDER / "villages.csv", dtype={"代码": str})
    t = pd.read_csv(FOLDER / "townships.csv", dtype={"代码": str})
    b = shape(json.loads((FOLDER / "county_boundary_gcj02.json").read_text(encoding="utf-8")))
    return v, t, b


def test_counts_and_dropped_rows(chongyang, source):
    v, t, _ = source
    no_xy = v["经度"].isna() | v["纬度"].isna()
    assert len(chongyang.villages) == len(v) - int(no_xy.sum()) == 178
    dropped = sorted(w.row for w in chongyang.warnings
                     if w.code == "dropped_no_coordinates" and w.layer == "villages")
    assert dropped == [i + 2 for i in np.flatnonzero(no_xy.to_numpy())]  # the spreadsheet's rows (header = 1)
    # the industrial park has neither a seat point nor a located village: dropped, and said so
    assert len(chongyang.townships) == len(t) - 1 == 12
    assert any(w.code == "dropped_no_coordinates" and w.layer == "townships" and "工业园区" in w.message
               for w in chongyang.warnings)
    assert chongyang.counts()["stations"] == 0  # a county planning its first stations


def test_names_resolved_to_township_ids(chongyang, source):
    _, t, _ = source
    name_to_id = dict(zip(t["名称"], t["代码"]))
    v = chongyang.villages.set_index("id")
    assert v.loc["421223100003", "township_id"] == name_to_id["天城镇"]
    assert set(chongyang.villages["township_id"]) <= set(chongyang.townships["id"])


def test_every_point_inside_the_converted_boundary(chongyang, source):
    _, _, boundary_gcj = source
    boundary = transform_geometry([boundary_gcj], gcj02_to_wgs84)[0]
    county = chongyang.counties.geometry.iloc[0]
    assert county.symmetric_difference(boundary).area < 1e-9
    inside = chongyang.villages.geometry.within(boundary)
    assert inside.all(), chongyang.villages.loc[~inside, "name"].tolist()


def test_gcj_shift_applied(chongyang, source):
    v, _, _ = source
    v = v.dropna(subset=["经度", "纬度"]).set_index("代码")
    ours = chongyang.villages.set_index("id").loc[v.index]
    raw = gpd.GeoSeries(gpd.points_from_xy(v["经度"], v["纬度"]), crs=4326, index=v.index)
    crs = chongyang.metric_crs
    shift = ours.geometry.to_crs(crs).distance(raw.to_crs(crs))
    assert 450 < shift.min() and shift.max() < 750  # metres: the GCJ-02 offset in Hubei (~600 m)


def test_township_polygons_tile_the_county(chongyang):
    t = chongyang.townships.to_crs(chongyang.metric_crs)
    county = chongyang.counties.to_crs(chongyang.metric_crs).geometry.iloc[0]
    assert abs(t.union_all().area - county.area) < 1e-3 * county.area
    assert 1900e6 < county.area < 2050e6  # Chongyang is ~1,968 km2
    overlap = sum(a.intersection(b).area for i, a in enumerate(t.geometry) for b in t.geometry[i + 1:])
    assert overlap < 1e-6 * county.area
    v = chongyang.villages
    tg = chongyang.townships.set_index("id").geometry
    outside = [vid for vid, tid, pt in zip(v["id"], v["township_id"], v.geometry)
               if not tg[tid].buffer(1e-9).covers(pt)]
    # only the geocoding collision: two 畈上村 at one point, the cell went to the nearer seat (港口乡)
    assert outside == ["421223106207"]
    seats = v[v["is_seat"].astype(bool)]
    assert len(seats) == 12 and seats["township_id"].is_unique


def test_holes_and_errors_are_said_not_guessed(chongyang):
    codes = {w.code for w in chongyang.warnings}
    assert {"dropped_no_coordinates", "filled_default", "derived_polygons", "far_from_seat",
            "shared_coordinates"} <= codes
    shared = [w for w in chongyang.warnings if w.code == "shared_coordinates"]
    assert [(w.row, w.feature_id) for w in shared] == [(191, "421223202206")] and "row 135" in shared[0].message
    # the point as the file gives it (GCJ-02) and both townships
    assert "(114.184494, 29.496556)" in shared[0].message and "港口乡" in shared[0].message and "金塘镇" in shared[0].message
    far = [w for w in chongyang.warnings if w.code == "far_from_seat"]
    assert any("佛岭村" in w.message for w in far)
    assert all(w.source == "chongyang/villages.csv" and w.row and w.feature_id for w in far)
    assert chongyang.villages["population"].isna().all()  # unknown (blank), said in a warning


def test_error_on_request_lists_every_hole():
    with pytest.raises(DatasetValidationError) as exc:
        read_dataset(FOLDER, datum="gcj02", missing_points="error")
    errs = [p for p in exc.value.problems if p.severity == "error"]
    assert len([p for p in errs if p.layer == "villages" and p.field == "经度/纬度"]) == 25
    assert all(p.source and p.row and p.feature_id for p in errs)


def test_default_keeps_every_village_and_township(source):
    v, t, _ = source
    ds = read_dataset(FOLDER, datum="gcj02")
    assert len(ds.villages) == len(v) and len(ds.townships) == len(t)
    rep = ds.meta["import_report"]
    assert rep["by_source"]["given"] == 178 and rep["approximate"] + rep["unknown"] == 25
    # the industrial park: no seat, no located village: kept without polygon, its village unlocated
    park = ds.townships.set_index("name").loc["崇阳县工业园区"]
    assert park["boundary_source"] == "none" and park.geometry is None
    assert rep["unknown"] == 1 and rep["townships"] == {"given": 0, "derived": 12, "none": 1}
    assert rep["datum"] == "gcj02" and rep["dropped_count"] == 0


def test_explicit_mapping_and_export_roundtrip(chongyang, tmp_path):
    ds = read_layers_from_files({"村社区": "villages.csv", "乡镇": "townships.csv",
                                 "区县": "county_boundary_gcj02.json"},
                                base=FOLDER, datum="gcj02", missing_points="drop", name="崇阳县")
    assert ds.fingerprint() == chongyang.fingerprint()
    for fmt, target in (("gpkg", "cy.gpkg"), ("csv", "cy_csv")):
        back = read_dataset(write_dataset(ds, tmp_path / target, fmt=fmt, datum="wgs84"))
        assert back.fingerprint() == ds.fingerprint(), fmt
    # by default tables are written in the datum the data came in, named in the header, and read back so
    folder = write_dataset(ds, tmp_path / "cy_gcj", fmt="csv", lang="zh")
    v = pd.read_csv(folder / "villages.csv", dtype=str, encoding="utf-8-sig").set_index("编号")
    src = pd.read_csv(FOLDER / "villages.csv", dtype=str).set_index("代码").dropna(subset=["经度"])
    assert "经度(GCJ-02)" in v.columns
    assert np.allclose(v.loc[src.index, "经度(GCJ-02)"].astype(float), src["经度"].astype(float), atol=1e-8)
    back = read_dataset(folder)  # no datum option: the headers say GCJ-02
    d_deg = np.abs(shapely.get_coordinates(back.villages.geometry) - shapely.get_coordinates(ds.villages.geometry))
    assert float(d_deg.max()) < 1e-8 and list(back.villages["location_source"]) == list(ds.villages["location_source"])
    assert shapely.get_coordinates(ds.villages.geometry).shape == (178, 2)
