"""Every optional field of every layer may be missing or blank, in every input format.

Hypothesis drops or blanks one optional column of one layer in a written county (CSV, XLSX, GeoJSON,
Shapefile, GeoPackage, zip) and reads it back: it either imports (the column simply absent) or fails
with :class:`DatasetValidationError` whose every error names a row and a field; nothing else.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pyogrio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo_service.core.dataset import Dataset, DatasetValidationError
from geo_service.core.domain import LAYERS
from geo_service.core.io import read_dataset, write_dataset
from tests.conftest import make_tiny_layers

FORMATS = ("csv", "xlsx", "geojson", "shp", "gpkg", "zip")
#: Filled from the geometry when absent (where a location or boundary comes from), never left blank.
DERIVED = ("location_source", "boundary_source")
OPTIONAL = [(layer, f.name) for layer, spec in LAYERS.items() for f in spec.fields
            if not f.required and f.name not in DERIVED]


def _full_dataset() -> Dataset:
    layers = make_tiny_layers()
    layers["constituents"] = layers["constituents"].iloc[:6].copy()
    m = layers["members"]
    m["role"] = ["convener", "", "deputy_convener", "", "convener", ""]
    m["station_id"] = ["S1", None, None, "S2", None, None]
    m["village_id"] = [None, "V2", None, None, None, "V4"]
    layers["groups"]["station_id"] = ["S1", None]
    return Dataset.from_layers(layers)


FULL = _full_dataset()


def _match(columns, name: str) -> list[str]:
    """Columns meaning ``name`` (Shapefile cuts names to 10 characters)."""
    return [c for c in columns if c == name or (len(c) == 10 and name.startswith(c))]


def _edit_frame(df: pd.DataFrame, name: str, how: str) -> pd.DataFrame:
    cols = _match(df.columns, name)
    if how == "drop":
        return df.drop(columns=cols)
    for c in cols:
        df[c] = None
    return df


def _edit_xlsx(path: Path, layer: str, name: str, how: str) -> None:
    wb = openpyxl.load_workbook(path)
    if layer in wb.sheetnames:
        ws = wb[layer]
        header = [c.value for c in ws[1]]
        if name in header:
            j = header.index(name) + 1
            if how == "drop":
                ws.delete_cols(j)
            else:
                for r in range(2, ws.max_row + 1):
                    ws.cell(r, j).value = None
    wb.save(path)


def _write_edited(tmp: Path, fmt: str, layer: str, name: str, how: str) -> Path:
    if fmt == "xlsx":
        out = write_dataset(FULL, tmp / "county.xlsx", fmt="xlsx")
        _edit_xlsx(out, layer, name, how)
        return out
    if fmt == "gpkg":
        out = write_dataset(FULL, tmp / "county.gpkg", fmt="gpkg")
        if layer in pyogrio.list_layers(out)[:, 0]:
            df = pyogrio.read_dataframe(out, layer=layer)
            df = _edit_frame(df, name, how)
            if isinstance(df, gpd.GeoDataFrame):
                pyogrio.write_dataframe(df, out, layer=layer)
            else:  # attribute table (groups, committees)
                pyogrio.write_dataframe(df, out, layer=layer)
        return out
    folder_fmt = "csv" if fmt == "zip" else fmt
    folder = write_dataset(FULL, tmp / "county", fmt=folder_fmt)
    files = [p for p in folder.iterdir() if p.stem == layer and p.suffix in (".csv", ".geojson", ".shp")]
    for p in files:
        if p.suffix == ".csv":
            df = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
            _edit_frame(df, name, how).to_csv(p, index=False, encoding="utf-8-sig")
        else:
            df = gpd.read_file(p)
            df = _edit_frame(df, name, how)
            for side in folder.glob(f"{layer}.*"):
                side.unlink()
            df.to_file(p)
    if fmt != "zip":
        return folder
    z = tmp / "county.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for p in folder.iterdir():
            zf.write(p, f"county/{p.name}")
    shutil.rmtree(folder)
    return z


def _read_or_explain(path: Path) -> Dataset | None:
    try:
        return read_dataset(path)
    except DatasetValidationError as e:
        errors = [p for p in e.problems if p.severity == "error"]
        assert errors
        for p in errors:  # the rows and fields to fix, not a traceback
            assert p.field is not None and (p.row is not None or p.code == "missing_column"), str(p)
        return None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(target=st.sampled_from(OPTIONAL), fmt=st.sampled_from(FORMATS), how=st.sampled_from(["drop", "blank"]))
def test_dropping_or_blanking_an_optional_column_never_crashes(target, fmt, how):
    layer, name = target
    with tempfile.TemporaryDirectory() as tmp:
        ds = _read_or_explain(_write_edited(Path(tmp), fmt, layer, name, how))
    if ds is None:
        return
    assert len(ds[layer]) == len(FULL[layer])
    col = ds[layer][name]
    if LAYERS[layer].field(name).dtype == "list":
        assert all(isinstance(v, list) for v in col)
    if how == "drop" and fmt != "shp" or (how == "drop" and len(name) <= 10):
        assert all(v is None or v == [] for v in col), (layer, name, fmt, col.tolist())


@pytest.mark.parametrize("layer,name", OPTIONAL)
def test_each_optional_column_may_be_absent_from_a_dict_of_frames(layer, name):
    layers = _full_dataset().layers
    frames = {k: (v.drop(columns=[name]) if k == layer else v) for k, v in layers.items()}
    ds = Dataset.from_layers(frames)
    want = [] if LAYERS[layer].field(name).dtype == "list" else None
    assert all(v == want for v in ds[layer][name])


@pytest.mark.parametrize("layer,name", [(la, f.name) for la, spec in LAYERS.items() for f in spec.fields
                                        if f.name in DERIVED])
def test_an_absent_source_column_is_filled_from_the_geometry(layer, name):
    layers = _full_dataset().layers
    frames = {k: (v.drop(columns=[name]) if k == layer else v) for k, v in layers.items()}
    ds = Dataset.from_layers(frames)
    assert set(ds[layer][name]) <= {"given", "unknown", "none"} and ds[layer][name].notna().all()


def test_stations_without_sectors_column_import(tmp_path):
    """The reported crash: 名称, 类型, 乡镇, 经度, 纬度 and no 界别 column."""
    (tmp_path / "townships.csv").write_text("名称,经度,纬度\n天城镇,114.04742,29.549776\n", encoding="utf-8")
    (tmp_path / "villages.csv").write_text("名称,乡镇,经度,纬度\n一村,天城镇,114.05,29.55\n", encoding="utf-8")
    (tmp_path / "stations.csv").write_text("名称,类型,乡镇,经度,纬度\n天城站,综合型,天城镇,114.05,29.55\n",
                                           encoding="utf-8")
    ds = read_dataset(tmp_path)
    assert ds.stations["sectors"].tolist() == [[]]
    assert ds.villages["population"].isna().all()
