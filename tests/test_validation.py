"""Every validation rule, exercised through real files as users produce them.

Each test writes the tiny county to files (CSV, GeoJSON, GeoPackage, XLSX, Shapefile), breaks one
thing the way real data breaks, and checks the importer names the file, layer, 1-based data row,
feature id and the user's own column header.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point, Polygon

from geo_service.core.crs import wgs84_to_gcj02
from geo_service.core.dataset import DatasetValidationError, Problem
from geo_service.core.io import read_dataset, read_layers_from_files, write_dataset

from shared_data import real_county, require_shared


# --- helpers ------------------------------------------------------------------------------------
def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def edit_csv(folder: Path, layer: str, row: int, column: str, value: str) -> None:
    """Set data row ``row`` (1-based) of ``column`` in ``folder/layer.csv``."""
    p = folder / f"{layer}.csv"
    df = read_csv(p)
    df.loc[row - 1, column] = value
    df.to_csv(p, index=False, encoding="utf-8-sig")


def problems_of(path, **kw) -> list[Problem]:
    with pytest.raises(DatasetValidationError) as exc:
        read_dataset(path, **kw)
    return exc.value.problems


def one(problems: list[Problem], code: str) -> Problem:
    found = [p for p in problems if p.code == code and p.severity == "error"]
    assert len(found) == 1, (code, [str(p) for p in problems])
    return found[0]


@pytest.fixture
def csv_dir(tiny, tmp_path) -> Path:
    return write_dataset(tiny, tmp_path / "csv", fmt="csv")


@pytest.fixture
def csv_dir_zh(tiny, tmp_path) -> Path:
    return write_dataset(tiny, tmp_path / "csv_zh", fmt="csv", lang="zh")


@pytest.fixture
def geojson_dir(tiny, tmp_path) -> Path:
    return write_dataset(tiny, tmp_path / "gj", fmt="geojson")


def edit_geojson(folder: Path, layer: str, row: int, *, props: dict | None = None, geometry=...) -> None:
    p = folder / f"{layer}.geojson"
    fc = json.loads(p.read_text(encoding="utf-8"))
    feat = fc["features"][row - 1]
    feat["properties"].update(props or {})
    if geometry is not ...:
        feat["geometry"] = geometry
    p.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")


# --- references and ids -------------------------------------------------------------------------
def test_unknown_reference_names_file_row_id_and_field(csv_dir):
    edit_csv(csv_dir, "members", 2, "group_id", "G404")
    p = one(problems_of(csv_dir), "unknown_reference")
    assert (p.layer, p.row, p.feature_id, p.field) == ("members", 3, "M2", "group_id")
    assert p.source == "csv/members.csv" and "G404" in p.message
    assert str(p).startswith("csv/members.csv: members row 3 id=M2 field 'group_id'")


def test_unknown_reference_in_geojson(geojson_dir):
    edit_geojson(geojson_dir, "villages", 3, props={"township_id": "T9"})
    p = one(problems_of(geojson_dir), "unknown_reference")
    assert (p.layer, p.row, p.feature_id, p.field, p.source) == ("villages", 3, "V3", "township_id",
                                                                 "gj/villages.geojson")


def test_reference_by_name_is_resolved_and_ambiguity_reported(csv_dir_zh):
    # villages refer to their township by name, as statistics lists do
    edit_csv(csv_dir_zh, "villages", 1, "乡镇编号", "西镇")
    edit_csv(csv_dir_zh, "villages", 5, "乡镇编号", "东镇")
    ds = read_dataset(csv_dir_zh)
    assert ds.villages.set_index("id").loc[["V1", "V5"], "township_id"].tolist() == ["T1", "T2"]
    # two townships with one name: the name cannot be resolved, the user is told which ids
    edit_csv(csv_dir_zh, "townships", 2, "名称", "西镇")
    p = one(problems_of(csv_dir_zh), "ambiguous_reference")
    assert (p.layer, p.row, p.feature_id, p.field) == ("villages", 2, "V1", "乡镇编号")
    assert "T1" in p.message and "T2" in p.message


def test_duplicate_ids_each_reported(csv_dir):
    edit_csv(csv_dir, "stations", 3, "id", "S1")
    found = [p for p in problems_of(csv_dir) if p.code == "duplicate_id"]
    assert sorted((p.row, p.feature_id, p.field) for p in found) == [(2, "S1", "id"), (4, "S1", "id")]


def test_missing_value_and_missing_column(csv_dir):
    edit_csv(csv_dir, "villages", 4, "name", "")
    df = read_csv(csv_dir / "stations.csv").drop(columns=["kind"])
    df.to_csv(csv_dir / "stations.csv", index=False, encoding="utf-8-sig")
    probs = problems_of(csv_dir)
    p = one(probs, "missing_value")
    assert (p.layer, p.row, p.feature_id, p.field) == ("villages", 5, "V4", "name")
    p = one(probs, "missing_column")
    assert (p.layer, p.row, p.field, p.source) == ("stations", None, "kind", "csv/stations.csv")


def test_required_list_value(csv_dir):
    edit_csv(csv_dir, "groups", 2, "sectors", "")
    p = one(problems_of(csv_dir), "missing_value")
    assert (p.layer, p.row, p.feature_id, p.field) == ("groups", 3, "G2", "sectors")


def test_missing_and_unknown_layers(csv_dir):
    (csv_dir / "villages.csv").unlink()
    probs = problems_of(csv_dir)
    p = one(probs, "missing_layer")
    assert p.layer == "villages"
    # constituents now refer to villages that do not exist: reported too, all at once
    assert any(q.code == "unknown_reference" and q.layer == "constituents" for q in probs)
    with pytest.raises(DatasetValidationError) as exc:
        read_layers_from_files({"rivers": "townships.csv", "townships": "townships.csv"}, base=csv_dir)
    codes = {q.code for q in exc.value.problems}
    assert {"unknown_layer", "missing_layer"} <= codes


# --- vocabulary and ranges ----------------------------------------------------------------------
def test_unknown_kind_sector_role(csv_dir):
    edit_csv(csv_dir, "stations", 2, "kind", "博物馆")
    edit_csv(csv_dir, "stations", 1, "sectors", "经济;火星")
    edit_csv(csv_dir, "members", 3, "sector", "外星人")
    edit_csv(csv_dir, "members", 4, "role", "组长")
    probs = problems_of(csv_dir)
    p = one(probs, "unknown_kind")
    assert (p.layer, p.row, p.feature_id, p.field) == ("stations", 3, "S2", "kind") and "博物馆" in p.message
    sectors = sorted((p.layer, p.row, p.field) for p in probs if p.code == "unknown_sector")
    assert sectors == [("members", 4, "sector"), ("stations", 2, "sectors")]
    p = one(probs, "unknown_role")
    assert (p.layer, p.row, p.feature_id) == ("members", 5, "M4") and "组长" in p.message


def test_chinese_vocabulary_is_accepted(csv_dir_zh):
    edit_csv(csv_dir_zh, "stations", 1, "类型", "综合型")
    edit_csv(csv_dir_zh, "members", 1, "职务", "召集人")
    edit_csv(csv_dir_zh, "members", 2, "界别", "中国民主同盟")
    ds = read_dataset(csv_dir_zh)
    assert ds.stations["kind"].iloc[0] == "station_comprehensive"
    assert ds.members.set_index("id").loc[["M1", "M2"], ["role", "sector"]].values.tolist() == [
        ["convener", "经济"], [None, "民盟"]]


def test_negative_and_non_numeric_values_in_xlsx_with_chinese_headers(tiny, tmp_path):
    path = write_dataset(tiny, tmp_path / "county.xlsx", lang="zh")
    sheets = pd.read_excel(path, sheet_name=None, dtype=object)
    sheets["村社区"].loc[1, "人口(人)"] = -5
    sheets["村社区"].loc[2, "人口(人)"] = "很多"
    sheets["村社区"].loc[3, "驻地"] = "maybe"
    sheets["站点"].loc[0, "容量"] = -1
    sheets["道路"].loc[0, "速度(公里/小时)"] = 0
    with pd.ExcelWriter(path) as xw:
        for name, df in sheets.items():
            df.to_excel(xw, sheet_name=name, index=False)
    probs = problems_of(path)
    got = {(p.code, p.layer, p.row, p.feature_id, p.field) for p in probs}
    src = {p.source for p in probs}
    assert ("out_of_range", "villages", 3, "V2", "人口(人)") in got
    assert ("bad_number", "villages", 4, "V3", "人口(人)") in got
    assert ("bad_bool", "villages", 5, "V4", "驻地") in got
    assert ("out_of_range", "stations", 2, "S1", "容量") in got
    assert ("out_of_range", "roads", 2, "R0", "速度(公里/小时)") in got
    assert "county.xlsx[村社区]" in src and "county.xlsx[道路]" in src


# --- geometry -----------------------------------------------------------------------------------
def test_missing_point_error_or_drop(csv_dir):
    edit_csv(csv_dir, "villages", 3, "lon", "")
    edit_csv(csv_dir, "villages", 3, "lat", "")
    # kept by default: at its township's seat or centre, said so
    ds = read_dataset(csv_dir)
    assert len(ds.villages) == 8
    assert ds.villages.set_index("id").at["V3", "location_source"] in ("township_seat", "township_centre")
    assert any(w.code == "approximate_location" for w in ds.warnings)
    p = one(problems_of(csv_dir, missing_points="error"), "missing_geometry")
    assert (p.layer, p.row, p.feature_id, p.field) == ("villages", 4, "V3", "lon/lat")
    assert "missing_points='drop'" in p.message and "--missing-points drop" in p.message
    # the dropped village is still referenced: the problem says why it is gone
    probs = problems_of(csv_dir, missing_points="drop")
    refs = [q for q in probs if q.code == "unknown_reference"]
    assert refs and all(q.layer == "constituents" and "dropped" in q.message for q in refs)
    # dropped rows: later rows keep their own row numbers in problems (the header is row 1)
    edit_csv(csv_dir, "villages", 5, "population", "-1")
    for row in (3, 11, 19, 27, 35, 43, 51, 59):  # the constituents who lived in the dropped V3
        edit_csv(csv_dir, "constituents", row, "village_id", "V1")
    p = one(problems_of(csv_dir, missing_points="drop"), "out_of_range")
    assert (p.layer, p.row, p.feature_id) == ("villages", 6, "V5")
    edit_csv(csv_dir, "villages", 5, "population", "10")
    ds = read_dataset(csv_dir, missing_points="drop")
    assert "V3" not in set(ds.villages["id"]) and len(ds.villages) == 7
    dropped = [w for w in ds.warnings if w.code == "dropped_no_coordinates"]
    assert [(w.layer, w.row, w.feature_id) for w in dropped] == [("villages", 4, "V3")]
    assert "三村" in dropped[0].message
    assert ds.meta["import_report"]["dropped"] == {"villages": ["V3"]}


def test_village_without_township_or_point_is_not_placed_at_a_township_centre(tmp_path):
    """A real village list where two villages lost their township (one with coordinates, one
    without): the unlocated one has no township whose centre it could take, so the import says it
    stays without a point (the import still fails: the township is required)."""
    src = require_shared(real_county("chongyang") / "villages.csv", "the real county chongyang")
    shutil.copy(src.parent / "townships.csv", tmp_path / "townships.csv")
    rows = read_csv(src)
    located = rows.index[rows["经度"].ne("")][0]
    unlocated = rows.index[rows["经度"].eq("")][0]
    rows.loc[[located, unlocated], "乡镇"] = ""
    rows.to_csv(tmp_path / "villages.csv", index=False, encoding="utf-8-sig")
    probs = problems_of(tmp_path, datum="gcj02")
    assert {(p.code, p.row) for p in probs if p.severity == "error"} == {
        ("missing_value", located + 2), ("missing_value", unlocated + 2)}
    assert not [p for p in probs if p.code == "approximate_location" and "centre" in p.message], \
        [str(p) for p in probs]
    unknown = [p for p in probs if p.code == "unknown_location" and p.layer == "villages"]
    assert len(unknown) == 1 and rows.at[unlocated, "名称"] in unknown[0].message


def test_table_without_coordinate_columns_is_one_problem(csv_dir):
    df = read_csv(csv_dir / "stations.csv").drop(columns=["lon", "lat"])
    df.to_csv(csv_dir / "stations.csv", index=False, encoding="utf-8-sig")
    probs = [p for p in problems_of(csv_dir) if p.layer == "stations"]
    assert len(probs) == 1 and probs[0].code == "missing_column" and "经度" in probs[0].message


def test_bad_coordinate_cells(csv_dir_zh):
    edit_csv(csv_dir_zh, "villages", 1, "经度", "东经130度")
    edit_csv(csv_dir_zh, "villages", 2, "纬度", "")
    edit_csv(csv_dir_zh, "villages", 3, "纬度", "inf")
    probs = problems_of(csv_dir_zh)
    got = sorted((p.code, p.row, p.field) for p in probs if p.severity == "error")
    assert got == [("bad_number", 2, "经度"), ("bad_number", 4, "纬度"), ("missing_value", 3, "纬度")]
    assert "东经130度" in probs[0].message or "东经130度" in str(probs)


def test_out_of_range_and_swapped_coordinates(csv_dir):
    edit_csv(csv_dir, "villages", 1, "lon", "200")
    edit_csv(csv_dir, "villages", 1, "lat", "95")
    edit_csv(csv_dir, "villages", 2, "lon", "46.85")  # lat/lon given: latitude 130 is impossible
    edit_csv(csv_dir, "villages", 2, "lat", "130.35")
    edit_csv(csv_dir, "stations", 1, "lon", "29.5")  # lat/lon in China: a latitude of 114 never is
    edit_csv(csv_dir, "stations", 1, "lat", "80.1")
    probs = problems_of(csv_dir)
    got = {(p.code, p.layer, p.row, p.field) for p in probs}
    assert ("out_of_range", "villages", 2, "lon/lat") in got
    assert ("swapped_coordinates", "villages", 3, "lon/lat") in got
    assert ("swapped_coordinates", "stations", 2, "lon/lat") in got


def test_non_finite_coordinates_in_wkt(csv_dir):
    edit_csv(csv_dir, "townships", 1, "wkt", "POLYGON ((130.3 46.8, inf 46.8, 130.4 46.9, 130.3 46.8))")
    p = one(problems_of(csv_dir), "bad_coordinates")
    assert (p.layer, p.row, p.feature_id, p.field) == ("townships", 2, "T1", "wkt")


def test_bad_wkt_text(csv_dir):
    edit_csv(csv_dir, "townships", 2, "wkt", "POLYGON ((130.3 46.8, oops")
    p = one(problems_of(csv_dir), "bad_geometry")
    assert (p.layer, p.row, p.feature_id, p.field) == ("townships", 3, "T2", "wkt")


def test_invalid_and_wrong_type_geometry_in_geojson(geojson_dir):
    bowtie = {"type": "Polygon", "coordinates": [[[130.3, 46.8], [130.4, 46.9], [130.4, 46.8],
                                                  [130.3, 46.9], [130.3, 46.8]]]}
    edit_geojson(geojson_dir, "townships", 1, geometry=bowtie)
    edit_geojson(geojson_dir, "villages", 2, geometry={"type": "LineString",
                                                       "coordinates": [[130.3, 46.8], [130.4, 46.9]]})
    edit_geojson(geojson_dir, "stations", 3, geometry=None)
    probs = problems_of(geojson_dir)
    p = one(probs, "invalid_geometry")
    assert (p.layer, p.row, p.feature_id, p.field) == ("townships", 1, "T1", "geometry")
    assert "Self-intersection" in p.message
    p = one(probs, "wrong_geometry_type")
    assert (p.layer, p.row, p.feature_id) == ("villages", 2, "V2") and "LineString" in p.message
    p = one(probs, "missing_geometry")
    assert (p.layer, p.row, p.feature_id) == ("stations", 3, "S3")


# --- CRS ----------------------------------------------------------------------------------------
def test_declared_crs_is_reprojected(tiny, tmp_path):
    path = write_dataset(tiny, tmp_path / "c.gpkg")
    st = gpd.read_file(path, layer="stations").to_crs(3857)
    st.to_file(path, layer="stations", driver="GPKG")
    ds = read_dataset(path)
    d = ds.to_metric("stations").distance(tiny.to_metric("stations"))
    assert ds.stations.crs.to_epsg() == 4326 and float(d.max()) < 1e-3  # metres


def test_projected_coordinates_without_crs_are_wrong_crs(tiny, tmp_path):
    # a shapefile whose .prj went missing
    shp = write_dataset(tiny, tmp_path / "shp", fmt="shp")
    st = gpd.read_file(shp / "stations.shp").to_crs(32652)
    st.to_file(shp / "stations.shp")
    (shp / "stations.prj").unlink()
    p = one(problems_of(shp), "wrong_crs")
    assert (p.layer, p.source) == ("stations", "shp/stations.shp") and ".prj" in p.message
    # a CSV whose "lon/lat" are metres
    csv = write_dataset(tiny, tmp_path / "csv", fmt="csv")
    edit_csv(csv, "villages", 2, "lon", "523456.7")
    edit_csv(csv, "villages", 2, "lat", "5184321.0")
    p = one(problems_of(csv), "wrong_crs")
    assert (p.layer, p.row, p.feature_id) == ("villages", 3, "V2") and "projected" in p.message


def test_user_named_crs_for_tables_and_prj_less_shapefiles(tiny, tmp_path):
    # surveyors deliver projected x/y (here UTM 52N, EPSG:32652) in spreadsheets and bare shapefiles
    csv = write_dataset(tiny, tmp_path / "csv", fmt="csv")
    for layer in ("villages", "stations", "members", "constituents"):
        p = csv / f"{layer}.csv"
        df = read_csv(p)
        has = df["lon"] != ""
        pts = gpd.GeoSeries(gpd.points_from_xy(df.loc[has, "lon"].astype(float), df.loc[has, "lat"].astype(float)),
                            crs=4326).to_crs(32652)
        df.loc[has, "lon"] = [repr(x) for x in pts.x]
        df.loc[has, "lat"] = [repr(y) for y in pts.y]
        df.to_csv(p, index=False, encoding="utf-8-sig")
    for layer in ("townships", "counties", "roads"):
        (csv / f"{layer}.csv").unlink()
    shp = write_dataset(tiny, tmp_path / "shp", fmt="shp")
    for layer in ("townships", "counties", "roads"):
        g = gpd.read_file(shp / f"{layer}.shp").to_crs(32652)
        g.to_file(csv / f"{layer}.shp")
        (csv / f"{layer}.prj").unlink()
    p = [q for q in problems_of(csv) if q.code == "wrong_crs"]
    assert {q.layer for q in p} == {"villages", "stations", "members", "townships", "counties", "roads"}
    assert any("crs='EPSG:4547'" in q.message for q in p)
    ds = read_dataset(csv, crs="EPSG:32652")
    for layer in ("villages", "stations", "townships", "roads"):
        d = ds[layer].to_crs(tiny.metric_crs).distance(tiny[layer].to_crs(tiny.metric_crs), align=False)
        assert float(d.max()) < 1e-3, layer  # metres
    with pytest.raises(ValueError, match="CRS"):
        read_dataset(csv, crs="EPSG:99999999")


def test_geojson_with_legacy_crs_member_is_reprojected(tiny, tmp_path):
    folder = write_dataset(tiny, tmp_path / "gj", fmt="geojson")
    st = tiny.stations.to_crs(3857)
    st["sectors"] = [";".join(v) for v in st["sectors"]]
    (folder / "stations.geojson").unlink()
    st.to_file(folder / "stations.geojson", driver="GeoJSON")  # GDAL writes a "crs" member
    assert '"crs"' in (folder / "stations.geojson").read_text(encoding="utf-8")
    ds = read_dataset(folder)
    d = ds.stations.to_crs(tiny.metric_crs).distance(tiny.stations.to_crs(tiny.metric_crs))
    assert float(d.max()) < 1e-3


def test_lonlat_shapefile_without_prj_is_assumed_wgs84_with_warning(tiny, tmp_path):
    shp = write_dataset(tiny, tmp_path / "shp", fmt="shp")
    (shp / "villages.prj").unlink()
    ds = read_dataset(shp)
    assert ds.fingerprint() == read_dataset(write_dataset(tiny, tmp_path / "shp2", fmt="shp")).fingerprint()
    assert any(w.code == "assumed_crs" and w.layer == "villages" for w in ds.warnings)


def test_gpkg_layer_without_crs_and_projected_coordinates(tiny, tmp_path):
    path = tmp_path / "nocrs.gpkg"
    write_dataset(tiny, path)
    st = gpd.read_file(path, layer="stations").to_crs(32652)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "crs was not provided": that is the point
        pyogrio.write_dataframe(st.set_crs(None, allow_override=True), path, layer="stations", driver="GPKG")
    p = one(problems_of(path), "wrong_crs")
    assert p.layer == "stations" and p.source == "nocrs.gpkg:stations"


# --- convener warning, bad files, everything at once --------------------------------------------
def test_convener_outside_group_is_a_warning(csv_dir):
    edit_csv(csv_dir, "groups", 2, "convener_id", "M3")  # M3 belongs to G1
    ds = read_dataset(csv_dir)
    w = [w for w in ds.warnings if w.code == "convener_not_in_group"]
    assert [(x.layer, x.row, x.feature_id, x.source) for x in w] == [("groups", 3, "G2", "csv/groups.csv")]


def test_unreadable_and_duplicate_layer_files(csv_dir):
    (csv_dir / "roads.geojson").write_text("{ this is not json", encoding="utf-8")
    p = one(problems_of(csv_dir), "duplicate_layer")
    assert p.layer == "roads" and "roads.csv" in p.message and "roads.geojson" in p.message
    (csv_dir / "roads.csv").unlink()
    p = one(problems_of(csv_dir), "unreadable_file")
    assert (p.layer, p.source) == ("roads", "csv/roads.geojson") and str(csv_dir) not in p.message


def test_all_problems_at_once_across_files_and_formats(tiny, tmp_path):
    folder = write_dataset(tiny, tmp_path / "mixed", fmt="csv", lang="zh")
    # stations as GCJ-02 GeoJSON with one bad kind, villages as CSV with Chinese headers
    st = tiny.stations.copy()
    x, y = wgs84_to_gcj02(st.geometry.x, st.geometry.y)
    st["geometry"] = gpd.points_from_xy(x, y)
    st["sectors"] = [";".join(v) for v in st["sectors"]]
    st.loc[1, "kind"] = "castle"
    (folder / "stations.csv").unlink()
    st.to_file(folder / "站点.geojson", driver="GeoJSON")
    edit_csv(folder, "villages", 6, "人口(人)", "-3")
    edit_csv(folder, "villages", 7, "乡镇编号", "T404")
    edit_csv(folder, "members", 1, "界别", "火星")
    edit_csv(folder, "constituents", 5, "编号", "P001")
    with pytest.raises(DatasetValidationError) as exc:
        read_dataset(folder, datum="gcj02")
    errs = [p for p in exc.value.problems if p.severity == "error"]
    got = {(p.source.split("/")[-1], p.layer, p.row, p.feature_id, p.field, p.code) for p in errs}
    assert got == {
        ("站点.geojson", "stations", 2, "S2", "kind", "unknown_kind"),
        ("villages.csv", "villages", 7, "V6", "人口(人)", "out_of_range"),
        ("villages.csv", "villages", 8, "V7", "乡镇编号", "unknown_reference"),
        ("members.csv", "members", 2, "M1", "界别", "unknown_sector"),
        ("constituents.csv", "constituents", 2, "P001", "编号", "duplicate_id"),
        ("constituents.csv", "constituents", 6, "P001", "编号", "duplicate_id"),
    }
    assert str(exc.value).startswith("6 validation error(s)")


def test_valid_gcj02_geojson_lands_on_wgs84(tiny, tmp_path):
    folder = write_dataset(tiny, tmp_path / "gj", fmt="geojson")
    fc = json.loads((folder / "stations.geojson").read_text(encoding="utf-8"))
    for f in fc["features"]:
        lon, lat = f["geometry"]["coordinates"]
        gx, gy = wgs84_to_gcj02(lon, lat)
        f["geometry"]["coordinates"] = [float(gx), float(gy)]
    (folder / "stations.geojson").write_text(json.dumps(fc), encoding="utf-8")
    raw = read_dataset(folder)  # read as if WGS-84: off by the GCJ shift
    ds = read_dataset(folder, datum="gcj02")  # converted: the stations land back
    crs = tiny.metric_crs
    shift = raw.stations.to_crs(crs).distance(tiny.stations.to_crs(crs))
    back = ds.stations.to_crs(crs).distance(tiny.stations.to_crs(crs))
    assert 100 < float(shift.min()) and float(shift.max()) < 1000
    assert float(back.max()) < 0.01
    assert ds.meta["datum"] == "gcj02"


def test_polygon_layers_accept_multipolygons_and_keep_holes(tiny, tmp_path):
    folder = write_dataset(tiny, tmp_path / "gj", fmt="geojson")
    ring = [[130.3, 46.8], [130.4, 46.8], [130.4, 46.9], [130.3, 46.9], [130.3, 46.8]]
    hole = [[130.32, 46.82], [130.33, 46.82], [130.33, 46.83], [130.32, 46.82]]
    edit_geojson(folder, "townships", 1, geometry={"type": "Polygon", "coordinates": [ring, hole]})
    ds = read_dataset(folder)
    t1 = ds.townships.set_index("id").geometry["T1"]
    assert isinstance(t1, Polygon) and len(t1.interiors) == 1 and t1.exterior.is_ccw
    assert not t1.contains(Point(130.325, 46.8235))
