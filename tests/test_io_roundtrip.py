"""Import -> export -> import for every format, and the input shapes users really send."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from shapely.geometry import Point, box

from geo_service.core.crs import from_wgs84
from geo_service.core.dataset import DatasetValidationError
from geo_service.core.io import (
    read_dataset,
    read_layers_from_files,
    townships_from_points,
    write_dataset,
    write_table,
)
from geo_service.core.io.gpkg import read_gpkg

FOLDER_FORMATS = ["geojson", "csv", "shp"]
TARGETS = {"gpkg": "county.gpkg", "xlsx": "county.xlsx", "geojson": "gj", "csv": "csv", "shp": "shp"}


@pytest.mark.parametrize("fmt", list(TARGETS))
def test_roundtrip_keeps_the_fingerprint(tiny, tmp_path, fmt):
    first = read_dataset(write_dataset(tiny, tmp_path / "a" / TARGETS[fmt], fmt=fmt))
    second = read_dataset(write_dataset(first, tmp_path / "b" / TARGETS[fmt], fmt=fmt))
    assert second.fingerprint() == first.fingerprint()
    assert first.counts() == tiny.counts()
    if fmt == "xlsx":  # Excel keeps 15 significant digits: within 1e-9 degrees (0.1 mm)
        d = np.abs(shapely.get_coordinates(first.villages.geometry) - shapely.get_coordinates(tiny.villages.geometry))
        assert d.max() < 1e-9
        assert first.with_layers().constituents.drop(columns="geometry").equals(
            tiny.constituents.drop(columns="geometry"))
    else:  # exact: even the last bit of every coordinate
        assert first.fingerprint() == tiny.fingerprint()


@pytest.fixture(scope="module")
def fujin():
    """One demo county (富锦市): real boundaries, MultiPolygons, clockwise rings, ~180 villages."""
    from geo_service.app.demo import generate_demo

    return generate_demo(counties=["230882"])


@pytest.mark.parametrize("fmt", list(TARGETS))
def test_demo_county_roundtrip(fujin, tmp_path, fmt):
    demo = fujin
    first = read_dataset(write_dataset(demo, tmp_path / "a" / TARGETS[fmt], fmt=fmt))
    assert first.counts() == demo.counts()
    if fmt in ("gpkg", "geojson", "csv"):  # shapes and values exactly as generated
        assert first.fingerprint() == demo.fingerprint()
    else:  # xlsx keeps 15 significant digits, shp re-orients rings (stability: see above)
        for layer in ("villages", "stations", "townships", "roads"):
            a = shapely.get_coordinates(first[layer].geometry)
            b = shapely.get_coordinates(demo[layer].geometry)
            if fmt == "shp" and layer == "townships":  # same rings, other orientation
                assert first.townships.geometry.geom_equals(demo.townships.geometry).all()
                continue
            assert a.shape == b.shape and np.abs(a - b).max() < 1e-9, layer
        for layer in ("members", "groups", "constituents"):
            cols = [c for c in demo[layer].columns if c != "geometry"]
            assert first[layer][cols].astype(str).equals(demo[layer][cols].astype(str)), layer


def test_gpkg_export_is_read_by_the_store_codec(tiny, tmp_path):
    path = write_dataset(tiny, tmp_path / "x.gpkg")
    assert read_gpkg(path).fingerprint() == tiny.fingerprint()


def test_chinese_headers_and_sheet_names(tiny, tmp_path):
    path = write_dataset(tiny, tmp_path / "zh.xlsx", lang="zh")
    sheets = pd.read_excel(path, sheet_name=None)
    assert {"站点", "村社区", "乡镇街道", "委员", "界别活动组", "专委会", "界别群众", "道路"} \
        <= set(sheets)
    assert list(sheets["站点"].columns) == ["编号", "名称", "类型", "界别列表", "容量", "乡镇编号",
                                            "经度", "纬度"]
    assert sheets["站点"]["界别列表"].iloc[0] == "经济;农业;医药卫生"
    assert set(sheets["站点"]["类型"]) <= {"综合型委员工作站", "界别型委员工作站", "委员工作室", "界别联系点"}
    assert "说明" in sheets
    assert read_dataset(path).fingerprint() == read_dataset(write_dataset(tiny, tmp_path / "en.xlsx")).fingerprint()


def test_csv_is_excel_friendly_utf8_with_bom(tiny, tmp_path):
    folder = write_dataset(tiny, tmp_path / "csv", fmt="csv", lang="zh")
    raw = (folder / "villages.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.decode("utf-8-sig").splitlines()[0] == "编号,名称,乡镇编号,人口(人),驻地,位置来源,经度,纬度"
    # polygons and lines as WKT
    assert read_csv_header(folder / "townships.csv")[-1] == "几何"


def read_csv_header(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8-sig").splitlines()[0].split(",")


def test_personal_fields_left_out_on_request(tiny, tmp_path):
    folder = write_dataset(tiny, tmp_path / "csv", fmt="csv", include_personal=False)
    text = (folder / "constituents.csv").read_text(encoding="utf-8-sig")
    assert "群众1" not in text and "1380000" not in text
    ds = read_dataset(folder)
    assert ds.constituents["name"].isna().all() and len(ds.constituents) == 60
    gp = write_dataset(tiny, tmp_path / "p.gpkg", include_personal=False)
    assert gpd.read_file(gp, layer="constituents")["phone"].isna().all()


def test_gbk_csv_from_chinese_excel(tiny, tmp_path):
    folder = write_dataset(tiny, tmp_path / "csv", fmt="csv", lang="zh")
    for p in folder.glob("*.csv"):  # what Excel on Chinese Windows writes by default
        p.write_bytes(p.read_text(encoding="utf-8-sig").encode("gbk"))
    assert read_dataset(folder).fingerprint() == tiny.fingerprint()


@pytest.mark.slow  # > 3 s
def test_chinese_file_names_and_gpkg_layer_names(tiny, tmp_path):
    folder = write_dataset(tiny, tmp_path / "csv", fmt="csv")
    names = {"stations": "站点", "villages": "村社区", "townships": "乡镇", "members": "委员",
             "groups": "活动组", "committees": "专委会", "constituents": "群众", "roads": "道路",
             "counties": "区县"}
    for en, zh in names.items():
        (folder / f"{en}.csv").rename(folder / f"{zh}.csv")
    assert read_dataset(folder).fingerprint() == tiny.fingerprint()
    gp = tmp_path / "zh.gpkg"
    src = write_dataset(tiny, tmp_path / "en.gpkg")
    for en, zh in names.items():
        pyogrio.write_dataframe(pyogrio.read_dataframe(src, layer=en), gp, layer=zh, driver="GPKG")
    assert read_dataset(gp).fingerprint() == tiny.fingerprint()


def test_english_header_variants(tiny, tmp_path):
    folder = write_dataset(tiny, tmp_path / "csv", fmt="csv")
    p = folder / "stations.csv"
    df = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    df = df.rename(columns={"id": "ID", "name": "Name", "kind": "Type", "lon": "Longitude", "lat": "Latitude",
                            "township_id": "Township", "sectors": "Sectors"})
    df.to_csv(p, index=False)
    assert read_dataset(folder).fingerprint() == tiny.fingerprint()


def test_zip_of_folder_of_gpkg_and_of_subfolder(tiny, tmp_path):
    folder = write_dataset(tiny, tmp_path / "csv", fmt="csv")
    z1 = tmp_path / "flat.zip"
    with zipfile.ZipFile(z1, "w") as zf:
        for p in folder.iterdir():
            zf.write(p, p.name)
    z2 = Path(shutil.make_archive(str(tmp_path / "nested"), "zip", tmp_path, "csv"))
    z3 = tmp_path / "one.zip"
    with zipfile.ZipFile(z3, "w") as zf:
        zf.write(write_dataset(tiny, tmp_path / "whole.gpkg"), "县域数据.gpkg")
    for z in (z1, z2, z3):
        assert read_dataset(z).fingerprint() == tiny.fingerprint(), z.name


@pytest.mark.slow  # > 3 s
@pytest.mark.parametrize("fmt", ["shp", "csv", "gpkg", "xlsx"])
def test_export_to_zip_reads_back(tiny, tmp_path, fmt):
    z = write_dataset(tiny, tmp_path / "下载.zip", fmt=fmt, lang="zh")
    names = zipfile.ZipFile(z).namelist()
    assert names and all("/" not in n for n in names)  # flat: unzips into one folder
    back = read_dataset(z)
    assert back.counts() == tiny.counts()
    if fmt != "xlsx":
        assert back.fingerprint() == tiny.fingerprint()
    assert read_dataset(write_dataset(tiny, tmp_path / "villages.zip", fmt=fmt)).counts() == tiny.counts()


def test_zip_problems_name_the_file_inside(tiny, tmp_path):
    folder = write_dataset(tiny, tmp_path / "csv", fmt="csv")
    df = pd.read_csv(folder / "villages.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    df.loc[1, "population"] = "-7"
    df.to_csv(folder / "villages.csv", index=False, encoding="utf-8-sig")
    z = Path(shutil.make_archive(str(tmp_path / "up"), "zip", folder))
    with pytest.raises(DatasetValidationError) as exc:
        read_dataset(z)
    (p,) = exc.value.problems
    assert (p.source, p.row, p.feature_id) == ("up.zip/villages.csv", 3, "V2")


def test_unsafe_zip_is_refused(tmp_path):
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("../../escape.csv", "id\n1\n")
    with pytest.raises(DatasetValidationError) as exc:
        read_dataset(z)
    assert exc.value.problems[0].code == "unreadable_file" and "unsafe" in exc.value.problems[0].message
    assert not (tmp_path.parent / "escape.csv").exists()


def test_mapping_of_layers_to_arbitrary_file_names(tiny, tmp_path):
    folder = write_dataset(tiny, tmp_path / "csv", fmt="csv")
    files = {}
    for i, p in enumerate(sorted(folder.glob("*.csv"))):
        new = p.with_name(f"export_{i}.csv")
        p.rename(new)
        files[p.stem] = new.name
    files["村社区"] = files.pop("villages")
    ds = read_layers_from_files(files, base=folder)
    assert ds.fingerprint() == tiny.fingerprint()
    with pytest.raises(DatasetValidationError) as exc:
        read_layers_from_files({"villages": "nope.csv", "townships": files["townships"]}, base=folder)
    assert exc.value.problems[0].code == "missing_file"


def test_bad_options_and_missing_path(tmp_path):
    with pytest.raises(ValueError, match="datum"):
        read_dataset(tmp_path, datum="wgs72")
    with pytest.raises(ValueError, match="missing_points"):
        read_dataset(tmp_path, missing_points="guess")
    with pytest.raises(FileNotFoundError):
        read_dataset(tmp_path / "nope.gpkg")
    with pytest.raises(DatasetValidationError) as exc:
        read_dataset(tmp_path)  # an empty folder
    assert exc.value.problems[0].code == "missing_layer"


@pytest.mark.parametrize("datum", ["gcj02", "bd09"])
def test_datum_conversion_of_every_layer(tiny, tmp_path, datum):
    layers = {}
    for name in tiny.layers:
        df = tiny[name]
        if isinstance(df, gpd.GeoDataFrame) and len(df):
            df = df.copy()
            df["geometry"] = shapely.transform(df.geometry.to_numpy(),
                                               lambda xy: np.column_stack(from_wgs84(xy[:, 0], xy[:, 1], datum)))
        layers[name] = df
    from geo_service.core.dataset import Dataset

    shifted = Dataset.from_layers(layers)
    folder = write_dataset(shifted, tmp_path / "d", fmt="csv")
    ds = read_dataset(folder, datum=datum)
    for name in ("villages", "stations", "townships", "roads"):
        a = shapely.get_coordinates(ds[name].geometry)
        b = shapely.get_coordinates(tiny[name].geometry)
        # GCJ-02 is inverted to 1e-9 degrees; the published BD-09 -> GCJ-02 formula is itself an
        # approximation good to ~1.2e-6 degrees (0.15 m), far below what a planner can see
        assert np.abs(a - b).max() < (1e-8 if datum == "gcj02" else 3e-6), name
    moved = shifted.villages.to_crs(tiny.metric_crs).distance(tiny.villages.to_crs(tiny.metric_crs))
    assert moved.min() > 100  # the conversion did real work


def test_long_wkt_fits_one_cell_in_xlsx(tiny, tmp_path):
    t = tiny.townships.copy()
    circle = Point(130.35, 46.85).buffer(0.05, quad_segs=600)  # ~2,400 vertices: > 32,767 characters
    t.loc[0, "geometry"] = shapely.intersection(circle, box(130.3, 46.8, 130.4, 46.9))
    ds = tiny.with_layers(townships=t)
    path = write_dataset(ds, tmp_path / "long.xlsx")
    sheet = pd.read_excel(path, sheet_name="townships")
    assert "wkt_2" not in sheet.columns  # one cell, never split
    back = read_dataset(path)
    g = back.townships.set_index("id").geometry["T1"]
    assert g.hausdorff_distance(t.geometry.iloc[0]) < 1e-4  # simplified to fit: within ~10 m


def test_write_dataset_format_errors(tiny, tmp_path):
    with pytest.raises(ValueError, match="folder"):
        write_dataset(tiny, tmp_path / "x.csv")
    with pytest.raises(ValueError, match="unknown format"):
        write_dataset(tiny, tmp_path / "x", fmt="kml")
    with pytest.raises(ValueError, match="lang"):
        write_dataset(tiny, tmp_path / "x.xlsx", lang="fr")


# --- write_table ----------------------------------------------------------------------------------
def test_write_table_formats(tmp_path):
    df = gpd.GeoDataFrame({"id": ["a", "b"], "sectors": [["经济", "农业"], []], "population": [3, None]},
                          geometry=[Point(130.1, 46.5), None], crs=4326)
    data = write_table(df, None, "csv", lang="zh")
    assert data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(back.columns) == ["编号", "界别列表", "人口(人)", "经度", "纬度"]
    assert back["界别列表"].tolist() == ["经济;农业", ""] and back["经度"].iloc[0] == "130.1"
    buf = io.BytesIO()
    assert write_table(df, buf, "xlsx") is None
    x = pd.read_excel(io.BytesIO(buf.getvalue()))
    assert x["sectors"].iloc[0] == "经济;农业" and x["lat"].iloc[0] == 46.5
    p = write_table(df.to_crs(3857), tmp_path / "t.geojson")
    fc = json.loads(p.read_text(encoding="utf-8"))
    assert fc["features"][0]["geometry"]["coordinates"] == pytest.approx([130.1, 46.5])
    assert fc["features"][0]["properties"]["sectors"] == "经济;农业"
    plain = write_table(pd.DataFrame({"x": [1]}), None, "geojson")
    assert json.loads(plain)["features"][0]["geometry"] is None
    with pytest.raises(ValueError):
        write_table(df, None, "kml")
    with pytest.raises(ValueError):
        write_table(df, io.BytesIO())


# --- townships from seat points ------------------------------------------------------------------
def test_townships_from_points_partition_the_county():
    county = box(114.0, 29.0, 114.2, 29.1)
    seats = gpd.GeoDataFrame({"id": ["A", "B"], "name": ["甲镇", "乙镇"]},
                             geometry=[Point(114.03, 29.05), Point(114.17, 29.05)], crs=4326)
    rng = np.random.default_rng(1)
    xs = rng.uniform(114.0, 114.2, 40)
    ys = rng.uniform(29.0, 29.1, 40)
    villages = gpd.GeoDataFrame({"id": [f"v{i}" for i in range(40)],
                                 "township_id": ["A" if x < 114.1 else "B" for x in xs]},
                                geometry=gpd.points_from_xy(xs, ys), crs=4326)
    polys, seat = townships_from_points(seats, villages, county)
    a, b = polys.geometry
    # cells are cut in metres and mapped back to degrees: equal to the county within 1e-5
    assert abs(a.union(b).area - county.area) < 1e-5 * county.area
    assert a.intersection(b).area < 1e-9 * county.area
    for x, y, t in zip(xs, ys, villages["township_id"]):  # every village inside its own township
        assert (a if t == "A" else b).covers(Point(x, y))
    assert seat.sum() == 2
    for tid, seat_pt in zip(seats["id"], seats.geometry):
        own = villages[villages["township_id"] == tid]
        seat_m = gpd.GeoSeries([seat_pt], crs=4326).to_crs(32650).iloc[0]
        nearest = own.geometry.to_crs(32650).distance(seat_m).idxmin()  # metres, UTM 50N
        assert seat[nearest]
    # without a boundary: clipped to the villages' hull grown by the margin
    polys2, _ = townships_from_points(seats, villages)
    assert polys2.geometry.union_all().contains(villages.geometry.union_all())


def test_townships_given_as_points_in_a_csv(tiny, tmp_path):
    folder = write_dataset(tiny, tmp_path / "csv", fmt="csv", lang="zh")
    pd.DataFrame({"代码": ["T1", "T2"], "名称": ["西镇", "东镇"], "经度": [130.35, 130.42],
                  "纬度": [46.85, 46.82]}).to_csv(folder / "townships.csv", index=False, encoding="utf-8-sig")
    v = pd.read_csv(folder / "villages.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    v = v.rename(columns={"乡镇编号": "乡镇"})  # the header statistics lists use
    v["乡镇"] = v["乡镇"].map({"T1": "西镇", "T2": "东镇"})  # by name, as statistics lists do
    v = v.drop(columns=["驻地"])
    v.to_csv(folder / "villages.csv", index=False, encoding="utf-8-sig")
    ds = read_dataset(folder)
    assert set(ds.townships.geom_type) == {"Polygon"}
    t = ds.townships.set_index("id").geometry
    county = ds.counties.geometry.iloc[0]
    assert abs(t.union_all().area - county.area) < 1e-5 * county.area
    for vid, tid, pt in zip(ds.villages["id"], ds.villages["township_id"], ds.villages.geometry):
        assert t[tid].covers(pt), vid
    assert sorted(ds.villages.loc[ds.villages["is_seat"].astype(bool), "id"]) == ["V2", "V5"]
    assert any(w.code == "derived_polygons" for w in ds.warnings)
