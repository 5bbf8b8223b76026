"""Property tests for the loaders: random valid tables round-trip, garbage never crashes, GCJ-02 inverts."""

from __future__ import annotations

import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from geo_service.core.crs import gcj02_to_wgs84, wgs84_to_gcj02
from geo_service.core.dataset import Dataset, DatasetValidationError
from geo_service.core.domain import SECTORS, STATION_KINDS
from geo_service.core.io import read_dataset, write_dataset

FAST = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# text as people type it: Chinese, Latin, digits, CSV-hostile punctuation, a formula-looking "="
_alphabet = st.sampled_from(list("村镇社区天城沙坪石桂花泉abcXYZ0123456789 ,\"'=-_.()（）·"))
names = st.text(_alphabet, min_size=1, max_size=12).filter(lambda s: s.strip() != "")
ids = st.text(st.sampled_from(list("0123456789ABCVTPabc-_村")), min_size=1, max_size=8)
coord6 = st.integers(0, 10**6).map(lambda k: k / 10**6)  # 6 decimals, what map providers give


@st.composite
def valid_datasets(draw) -> Dataset:
    n_v = draw(st.integers(1, 8))
    vids = draw(st.lists(ids, min_size=n_v, max_size=n_v, unique_by=lambda s: s.strip()))
    n_s = draw(st.integers(0, 4))
    sids = draw(st.lists(ids, min_size=n_s, max_size=n_s, unique_by=lambda s: s.strip()))
    lon0, lat0 = draw(st.sampled_from([(114.0, 29.3), (130.3, 46.8), (87.5, 43.8), (110.2, 20.0)]))

    def pts(n):
        return [Point(round(lon0 + draw(coord6) * 0.2, 6), round(lat0 + draw(coord6) * 0.1, 6)) for _ in range(n)]

    townships = gpd.GeoDataFrame({"id": ["T1", "T2"], "name": ["西镇", "东镇"]},
                                 geometry=[box(lon0, lat0, lon0 + 0.1, lat0 + 0.1),
                                           box(lon0 + 0.1, lat0, lon0 + 0.2, lat0 + 0.1)], crs=4326)
    villages = gpd.GeoDataFrame({
        "id": vids, "name": [draw(names) for _ in vids],
        "township_id": [draw(st.sampled_from(["T1", "T2"])) for _ in vids],
        "population": [draw(st.integers(0, 10**7)) for _ in vids],
        "is_seat": [draw(st.sampled_from([True, False, None])) for _ in vids]}, geometry=pts(n_v), crs=4326)
    stations = gpd.GeoDataFrame({
        "id": sids, "name": [draw(names) for _ in sids],
        "kind": [draw(st.sampled_from(STATION_KINDS)) for _ in sids],
        "sectors": [draw(st.lists(st.sampled_from(SECTORS), max_size=3, unique=True)) for _ in sids],
        "capacity": [draw(st.one_of(st.none(), st.integers(0, 20))) for _ in sids]},
        geometry=pts(n_s), crs=4326)
    return Dataset.from_layers({"townships": townships, "villages": villages, "stations": stations})


@FAST
@given(ds=valid_datasets(), fmt=st.sampled_from(["csv", "xlsx"]), lang=st.sampled_from(["en", "zh"]))
def test_random_valid_tables_roundtrip(ds, fmt, lang):
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / ("out.xlsx" if fmt == "xlsx" else "out")
        back = read_dataset(write_dataset(ds, target, fmt=fmt, lang=lang))
    assert back.fingerprint() == ds.fingerprint()


@settings(max_examples=300, deadline=None)
@given(lon=st.floats(73.5, 135.0), lat=st.floats(18.0, 53.5))
def test_gcj02_forward_inverse_roundtrip(lon, lat):
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert 1e-4 < abs(glon - lon) + abs(glat - lat) < 2e-2  # a real shift: tens of metres to ~1 km
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    assert abs(wlon - lon) < 1e-6 and abs(wlat - lat) < 1e-6


def test_gcj02_roundtrip_vectorised_grid():
    lon, lat = np.meshgrid(np.linspace(73.5, 135.0, 60), np.linspace(18.0, 53.5, 40))
    wlon, wlat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert np.abs(wlon - lon).max() < 1e-6 and np.abs(wlat - lat).max() < 1e-6


# --- garbage never crashes the loader -----------------------------------------------------------
garbage_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
garbage_cell = st.one_of(garbage_text, st.sampled_from(["", " ", "nan", "NULL", "inf", "-inf", "1e999", "0x1F",
                                                        "116,5", "北纬30度", "None", "[]", "{}", "=1/0",
                                                        "POINT (1 2)", "经济;;火星", "-0", "1.5"]),
                         st.integers(-10**12, 10**12).map(str), st.floats(allow_nan=True).map(repr))


@pytest.fixture(scope="module")
def tiny_csv(tmp_path_factory) -> Path:
    from conftest import make_tiny_layers

    ds = Dataset.from_layers(make_tiny_layers())
    return write_dataset(ds, tmp_path_factory.mktemp("garbage") / "csv", fmt="csv", lang="zh")


def _read_any(folder: Path, **kw):
    try:
        return read_dataset(folder, **kw)
    except DatasetValidationError as e:
        assert e.problems, "a validation error always lists its problems"
        for p in e.problems:
            assert p.layer and p.message and p.code
        return e


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layer=st.sampled_from(["villages", "stations", "members", "townships", "groups", "roads"]),
       edits=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 9), garbage_cell), min_size=1, max_size=4),
       datum=st.sampled_from(["wgs84", "gcj02"]), missing=st.sampled_from(["keep", "error", "drop"]))
@pytest.mark.slow  # > 3 s
def test_garbage_cells_never_crash(tiny_csv, layer, edits, datum, missing):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for p in tiny_csv.iterdir():
            (folder / p.name).write_bytes(p.read_bytes())
        path = folder / f"{layer}.csv"
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        for r, c, v in edits:
            df.iloc[r % len(df), c % len(df.columns)] = v
        df.to_csv(path, index=False, encoding="utf-8-sig")
        out = _read_any(folder, datum=datum, missing_points=missing)
    assert isinstance(out, (Dataset, DatasetValidationError))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300) | garbage_text.map(lambda s: s.encode("utf-8")),
       header=st.booleans())
@pytest.mark.slow  # > 3 s
def test_garbage_files_never_crash(tiny_csv, data, header):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for p in tiny_csv.iterdir():
            (folder / p.name).write_bytes(p.read_bytes())
        prefix = "编号,名称,乡镇,人口,经度,纬度\n".encode() if header else b""
        (folder / "villages.csv").write_bytes(prefix + data)
        out = _read_any(folder)
    assert isinstance(out, (Dataset, DatasetValidationError))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cells=st.lists(st.one_of(garbage_text, st.integers(-10**15, 10**15), st.booleans(),
                                st.floats(allow_nan=False, allow_infinity=False), st.none(),
                                st.datetimes(min_value=pd.Timestamp("1990-01-01").to_pydatetime(),
                                             max_value=pd.Timestamp("2030-01-01").to_pydatetime())),
                      min_size=6, max_size=6))
def test_garbage_xlsx_cells_never_crash(tiny_csv, cells):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for p in tiny_csv.iterdir():
            if p.stem != "villages":
                (folder / p.name).write_bytes(p.read_bytes())
        v = pd.read_csv(tiny_csv / "villages.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
        v = v.astype(object)
        for c, val in zip(["编号", "名称", "乡镇编号", "人口(人)", "经度", "纬度"], cells):
            v.loc[2, c] = val
        from geo_service.core.io import write_table

        write_table(v, folder / "村社区.xlsx")
        out = _read_any(folder)
    assert isinstance(out, (Dataset, DatasetValidationError))
