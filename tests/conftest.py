"""Shared fixtures: a tiny hand-made county (numbers checkable by hand) and the demo county."""

from __future__ import annotations

import os

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, box

from geo_service.core.dataset import Dataset

# one session-wide browser for every module (a fixture imported into two modules would start two
# Playwright loops in one thread, and the second refuses to start)
from browser import chromium  # noqa: E402,F401

from shared_data import IN_CI, SHARED, require_shared  # noqa: E402  (the one way to find ../shared)
# Starlette's TestClient sends "Host: testserver"; without API keys the service answers loopback names only.
os.environ.setdefault("GEO_SERVICE_TRUSTED_HOSTS", "127.0.0.1,localhost,[::1],testserver")


@pytest.fixture(scope="session")
def shared_root():
    """``../shared`` beside the repository; skips locally, fails under CI, when it is absent."""
    return require_shared(SHARED)


def skip_unless_ci(reason: str) -> None:
    """Skip with ``reason`` locally; under CI (CI=true) fail instead, since CI must run every test."""
    if IN_CI:
        pytest.fail(f"CI must run this test, but: {reason}")
    pytest.skip(reason)


# A 0.2 x 0.1 degree county near Jiamusi split into two townships (west T1, east T2).
LON0, LAT0 = 130.30, 46.80


def make_tiny_layers() -> dict[str, pd.DataFrame]:
    """Raw layers of the tiny county (not yet validated), so tests can break them on purpose."""
    crs = "EPSG:4326"
    counties = gpd.GeoDataFrame({"id": ["C1"], "name": ["小县"]},
                                geometry=[box(LON0, LAT0, LON0 + 0.2, LAT0 + 0.1)], crs=crs)
    townships = gpd.GeoDataFrame(
        {"id": ["T1", "T2"], "name": ["西镇", "东镇"], "county_id": ["C1", "C1"]},
        geometry=[box(LON0, LAT0, LON0 + 0.1, LAT0 + 0.1), box(LON0 + 0.1, LAT0, LON0 + 0.2, LAT0 + 0.1)],
        crs=crs)
    vill = [  # id, name, township, population, dx, dy (degrees from LON0, LAT0)
        ("V1", "一村", "T1", 1000, 0.02, 0.02), ("V2", "二村", "T1", 500, 0.05, 0.05),
        ("V3", "三村", "T1", 800, 0.08, 0.08), ("V4", "四村", "T1", 200, 0.02, 0.08),
        ("V5", "五村", "T2", 1500, 0.12, 0.02), ("V6", "六村", "T2", 300, 0.15, 0.05),
        ("V7", "七村", "T2", 700, 0.18, 0.08), ("V8", "八社区", "T2", 2500, 0.19, 0.01),
    ]
    villages = gpd.GeoDataFrame(
        {"id": [v[0] for v in vill], "name": [v[1] for v in vill], "township_id": [v[2] for v in vill],
         "population": [v[3] for v in vill], "is_seat": [v[0] in ("V2", "V5") for v in vill]},
        geometry=[Point(LON0 + v[4], LAT0 + v[5]) for v in vill], crs=crs)
    stations = gpd.GeoDataFrame(
        {"id": ["S1", "S2", "S3"], "name": ["西镇综合站", "东镇农业站", "医卫工作室"],
         "kind": ["station_comprehensive", "station_sector", "studio"],
         "sectors": [["经济", "农业", "医药卫生"], ["农业"], ["医药卫生"]], "capacity": [2, 1, 0],
         "township_id": ["T1", "T2", "T2"]},
        geometry=[Point(LON0 + 0.05, LAT0 + 0.05), Point(LON0 + 0.12, LAT0 + 0.02),
                  Point(LON0 + 0.19, LAT0 + 0.01)], crs=crs)
    committees = pd.DataFrame({"id": ["K1", "K2"], "name": ["经济委员会", "农业农村委员会"]})
    groups = pd.DataFrame({"id": ["G1", "G2"], "name": ["经济农业组", "医卫组"],
                           "sectors": [["经济", "农业"], ["医药卫生"]], "convener_id": ["M1", "M5"],
                           "station_id": [None, None]})
    mem = [("M1", "张伟", "经济", "G1", "K1", 0.03, 0.03), ("M2", "王芳", "经济", "G1", "K1", 0.06, 0.06),
           ("M3", "李强", "农业", "G1", "K2", 0.13, 0.03), ("M4", "刘洋", "农业", "G1", "K2", 0.16, 0.06),
           ("M5", "陈静", "医药卫生", "G2", "K1", 0.18, 0.02), ("M6", "杨磊", "医药卫生", "G2", "K2", 0.04, 0.07)]
    members = gpd.GeoDataFrame(
        {"id": [m[0] for m in mem], "name": [m[1] for m in mem], "sector": [m[2] for m in mem],
         "group_id": [m[3] for m in mem], "committee_id": [m[4] for m in mem]},
        geometry=[Point(LON0 + m[5], LAT0 + m[6]) for m in mem], crs=crs)
    sectors = ["经济", "农业", "医药卫生"]
    rows = []
    for i in range(60):
        rows.append({"id": f"P{i + 1:03d}", "sector": sectors[i % 3], "village_id": vill[i % 8][0],
                     "name": f"群众{i + 1}", "phone": f"1380000{i:04d}"})
    constituents = gpd.GeoDataFrame(rows, geometry=[None] * len(rows), crs=crs)
    # a road grid: west-east trunk at y=0.05, north-south roads at x=0.02, 0.05, 0.08, 0.12, 0.15, 0.18
    lines, cls, spd = [LineString([(LON0, LAT0 + 0.05), (LON0 + 0.2, LAT0 + 0.05)])], ["primary"], [60.0]
    for dx in (0.02, 0.05, 0.08, 0.12, 0.15, 0.18):
        lines.append(LineString([(LON0 + dx, LAT0), (LON0 + dx, LAT0 + 0.1)]))
        cls.append("tertiary")
        spd.append(30.0)
    roads = gpd.GeoDataFrame({"id": [f"R{i}" for i in range(len(lines))], "class": cls, "speed_kmh": spd},
                             geometry=lines, crs=crs)
    return {"counties": counties, "townships": townships, "villages": villages, "stations": stations,
            "committees": committees, "groups": groups, "members": members,
            "constituents": constituents, "roads": roads}


@pytest.fixture
def tiny_layers() -> dict[str, pd.DataFrame]:
    return make_tiny_layers()


@pytest.fixture(scope="session")
def tiny() -> Dataset:
    """The tiny county, validated."""
    return Dataset.from_layers(make_tiny_layers(), name="tiny")


@pytest.fixture(scope="session")
def demo() -> Dataset:
    """The bundled demo county (generated from its fixed seed)."""
    from geo_service.app.demo import generate_demo

    return generate_demo()
