"""Road network: hand-computed trips on the tiny county and networkx brute force on random points."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from conftest import LAT0, LON0, make_tiny_layers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point

from geo_service.core.crs import metric_crs
from geo_service.core.dataset import Dataset
from geo_service.core.index import InvalidQuery
from geo_service.core.network import RoadNetwork

CRS_M = metric_crs(LON0 + 0.1, LAT0 + 0.05)
# metres per degree near latitude 46.85 (WGS-84): 111,168 m north-south, 76,245 m east-west
M_LAT, M_LON = 111_168.0, 76_245.0
WALK = 5 / 3.6  # default off-road speed, m/s
KINDS = ("station_comprehensive", "station_sector", "studio", "contact_point")
SECS = ("经济", "农业", "医药卫生")


@pytest.fixture(scope="module")
def net(tiny):
    return RoadNetwork.from_dataset(tiny)


def test_hand_computed_trip_uses_the_crossing(net):
    # V1 (lon0+0.02, lat0+0.02) to S1 (lon0+0.05, lat0+0.05): north on the x=0.02 road (30 km/h)
    # 0.03 deg = 3,335 m -> 400.2 s, then east on the trunk (60 km/h) 0.03 deg = 2,287 m -> 137.2 s.
    r = net.nearest(LON0 + 0.02, LAT0 + 0.02)
    assert r.station_id.tolist() == ["S1"]
    assert r.time_s[0] == pytest.approx(400.2 + 137.2, rel=5e-3)
    assert r.road_m[0] == pytest.approx(3335 + 2287, rel=5e-3)
    assert r.offroad_m[0] < 1 and not r.far_from_road[0]
    # filtered to the 农业 sector station S2 (lon0+0.12, lat0+0.02): trunk 0.10 deg = 7,624 m
    # (457.5 s at 60 km/h) plus two north-south legs of 0.03 deg at 30 km/h (2 x 400.2 s)
    r = net.nearest(LON0 + 0.02, LAT0 + 0.02, kinds="station_sector")
    assert r.station_id.tolist() == ["S2"]
    assert r.time_s[0] == pytest.approx(457.5 + 800.4, rel=5e-3)


def test_colocated_station_off_the_road_is_a_zero_walk(net):
    # V8 and S3 share (lon0+0.19, lat0+0.01), 0.01 deg = 762 m from the x=0.18 road
    r = net.nearest(LON0 + 0.19, LAT0 + 0.01)
    assert r.station_id.tolist() == ["S3"] and r.time_s[0] == pytest.approx(0, abs=1e-6)
    assert r.snap_m[0] == pytest.approx(762, rel=5e-3)


def test_far_from_road_is_flagged_with_an_offroad_leg(net):
    # 0.1 deg north of the county: the nearest road end is ~11 km away
    r = net.nearest(LON0 + 0.1, LAT0 + 0.2)
    assert r.far_from_road[0] and r.snap_m[0] > 10_000
    assert r.offroad_m[0] >= r.snap_m[0] and r.time_s[0] >= r.snap_m[0] / WALK
    rec = r.records()[0]
    assert rec["far_from_road"] is True and rec["id"] in {"S1", "S2"} and rec["offroad_speed_kmh"] == 5.0


def test_without_noding_crossing_roads_stay_apart(tiny):
    # the tiny roads cross without shared vertices: unnoded, V1's road never meets S1's, so the
    # only way is the straight walk of 4,045 m at 5 km/h = 2,912 s
    net = RoadNetwork.from_dataset(tiny, node_crossings=False)
    r = net.nearest(LON0 + 0.02, LAT0 + 0.02)
    assert r.station_id.tolist() == ["S1"]
    assert r.time_s[0] == pytest.approx(4045 / WALK, rel=5e-3) and r.road_m[0] == 0


def test_bad_input(net, tiny):
    with pytest.raises(InvalidQuery) as e:
        net.nearest([130.3, 130.3], [46.8, 91.0])
    assert (e.value.field, e.value.index) == ("lat", 1)
    with pytest.raises(InvalidQuery) as e:
        net.nearest(130.3, 46.8, k=2)
    assert e.value.field == "k"
    with pytest.raises(InvalidQuery) as e:
        net.nearest(130.3, 46.8, sector="天文")
    assert e.value.field == "sector"
    with pytest.raises(InvalidQuery) as e:
        net.travel_time_matrix([[130.3, 46.8]], [[130.3, float("nan")]])
    assert (e.value.field, e.value.index) == ("destinations.lat", 0)
    no_roads = tiny.with_layers(roads=tiny.roads.iloc[:0])
    with pytest.raises(ValueError, match="no roads"):
        RoadNetwork.from_dataset(no_roads)
    with pytest.raises(ValueError, match="offroad_speed_kmh"):
        RoadNetwork.from_dataset(tiny, offroad_speed_kmh=0)


# --- brute force -------------------------------------------------------------------------------

def _brute(net: RoadNetwork, xy: np.ndarray, targets: list[int]) -> np.ndarray:
    """Door-to-door seconds from each metric point to the nearest target station, by networkx:
    snap to the nearest road edge(s) by scanning every edge, add the point as a node, run
    Dijkstra; or walk straight there when quicker."""
    g = net.graph
    edges = [(u, v, d) for u, v, d in g.edges(data=True) if d["offroad_m"] == 0]
    A = np.array([[g.nodes[u]["x"], g.nodes[u]["y"]] for u, _, _ in edges])
    B = np.array([[g.nodes[v]["x"], g.nodes[v]["y"]] for _, v, _ in edges])
    node_of = {d["station"]: n for n, d in g.nodes(data=True) if "station" in d}
    st_xy = net.index.xy
    out = []
    for p in xy:
        ab = B - A
        t = np.clip(((p - A) * ab).sum(1) / (ab * ab).sum(1), 0, 1)
        dist = np.hypot(*(p - (A + t[:, None] * ab)).T)
        h = g.copy()
        for e in np.flatnonzero(dist <= dist.min() + 0.01):  # equally near roads (a point on a border)
            u, v, d = edges[e]
            for node, w in ((u, t[e] * d["time_s"]), (v, (1 - t[e]) * d["time_s"])):
                w += dist[e] / WALK
                if not h.has_edge("q", node) or h["q"][node]["time_s"] > w:
                    h.add_edge("q", node, time_s=w)
        lengths = nx.single_source_dijkstra_path_length(h, "q", weight="time_s")
        best = np.inf
        for r in targets:
            best = min(best, lengths.get(node_of[net.stations["id"].iloc[r]], np.inf),
                       np.hypot(*(p - st_xy[r])) / WALK)
        out.append(best)
    return np.array(out)


inside = st.tuples(st.floats(LON0, LON0 + 0.2), st.floats(LAT0, LAT0 + 0.1))
border = st.tuples(st.just(LON0 + 0.1), st.floats(LAT0, LAT0 + 0.1))
outside = st.tuples(st.floats(LON0 - 0.2, LON0 + 0.4), st.floats(LAT0 - 0.2, LAT0 + 0.3))


@st.composite
def scenes(draw):
    n = draw(st.integers(1, 5))
    pts = draw(st.lists(inside, min_size=n, max_size=n))
    for i in draw(st.lists(st.integers(0, n - 1), max_size=2)):  # stations sharing a location
        pts.append(pts[i])
    stations = gpd.GeoDataFrame(
        {"id": [f"S{i}" for i in range(len(pts))], "name": [f"站{i}" for i in range(len(pts))],
         "kind": [draw(st.sampled_from(KINDS)) for _ in pts],
         "sectors": [draw(st.lists(st.sampled_from(SECS), max_size=2, unique=True)) for _ in pts]},
        geometry=[Point(p) for p in pts], crs="EPSG:4326")
    roads = make_tiny_layers()["roads"]
    extra = draw(st.lists(st.tuples(inside, inside), max_size=2))  # random roads crossing the grid
    if extra:
        roads = gpd.GeoDataFrame(
            {"id": list(roads["id"]) + [f"X{i}" for i in range(len(extra))],
             "class": list(roads["class"]) + ["track"] * len(extra),
             "speed_kmh": list(roads["speed_kmh"]) + [None] * len(extra)},
            geometry=list(roads.geometry) + [LineString(e) for e in extra if e[0] != e[1]]
            + [LineString([e[0], (e[0][0] + 1e-3, e[0][1])]) for e in extra if e[0] == e[1]],
            crs="EPSG:4326")
    queries = draw(st.lists(st.one_of(inside, border, outside), min_size=1, max_size=6))
    queries += queries[:2]  # duplicate points
    return stations, roads, queries


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scene=scenes(), kind=st.sampled_from((None,) + KINDS), sector=st.sampled_from((None,) + SECS))
def test_nearest_matches_networkx_brute_force(scene, kind, sector):
    stations, roads, queries = scene
    net = RoadNetwork(roads, stations, CRS_M)
    lon, lat = np.array(queries).T
    r = net.nearest(lon, lat, kinds=kind, sector=sector)
    targets = [i for i, (kd, ss) in enumerate(zip(stations["kind"], stations["sectors"]))
               if (kind is None or kd == kind) and (sector is None or sector in ss)]
    brute = _brute(net, net.project(lon, lat), targets)
    np.testing.assert_allclose(r.time_s, brute, rtol=1e-5, atol=1e-3)
    # the station named is one at that travel time
    if targets:
        assert set(r.station_id) <= set(stations["id"].iloc[targets])
    else:
        assert (r.station_index == -1).all()


def test_travel_time_matrix_matches_networkx(net, tiny):
    rng = np.random.default_rng(3)
    orig = np.column_stack([rng.uniform(LON0 - 0.05, LON0 + 0.25, 6), rng.uniform(LAT0 - 0.05, LAT0 + 0.15, 6)])
    dest = np.column_stack([rng.uniform(LON0, LON0 + 0.2, 4), rng.uniform(LAT0, LAT0 + 0.1, 4)])
    m = net.travel_time_matrix(orig, dest)
    assert m.shape == (6, 4)
    # brute force: each destination as the only station of a fresh network
    for j, (x, y) in enumerate(dest):
        one = gpd.GeoDataFrame({"id": ["D"], "name": ["D"], "kind": ["studio"], "sectors": [[]]},
                               geometry=[Point(x, y)], crs="EPSG:4326")
        single = RoadNetwork(tiny.roads, one, tiny.metric_crs)
        np.testing.assert_allclose(m[:, j], _brute(single, single.project(*orig.T), [0]), rtol=1e-5)
    # villages to stations: V1 -> S1 is the 537 s trip above
    vs = net.travel_time_matrix(tiny.villages, tiny.stations)
    assert vs[0, 0] == pytest.approx(537.6, rel=5e-3)
    np.testing.assert_allclose(vs.min(axis=1), net.nearest(tiny.villages.geometry.x, tiny.villages.geometry.y).time_s,
                               rtol=1e-9)


def test_service_areas_follow_roads(net):
    sa = net.service_areas((900, 1800))
    assert sa.crs.to_epsg() == 4326
    assert list(sa.columns) == ["station_id", "name", "kind", "threshold_s", "area_km2", "geometry"]
    assert len(sa) == 6
    s1 = sa[sa["station_id"] == "S1"].set_index("threshold_s").geometry
    v1 = Point(LON0 + 0.02, LAT0 + 0.02)  # 537 s from S1
    v7 = Point(LON0 + 0.18, LAT0 + 0.08)  # 995 s from S1: 305 s left at the x=0.18 turn = 2.5 km of 3.3
    between = Point(LON0 + 0.035, LAT0 + 0.08)  # 1.1 km from any road, 3.5 km from S1
    assert s1[900].contains(v1) and not s1[900].contains(v7)
    assert s1[1800].contains(v7)
    assert not s1[1800].contains(between)  # the roads around it are reached; the land is not
    assert s1[900].difference(s1[1800]).area < 1e-6 * s1[900].area  # nested (up to rounding)
    d = net.service_areas((900,), dissolve=True)
    assert len(d) == 1 and d["stations"].iloc[0] == 3
    each = sa[sa["threshold_s"] == 900].union_all()
    assert abs(d.geometry.iloc[0].symmetric_difference(each).area) < 1e-4 * each.area  # unioned before reprojection


def test_concurrent_lookups_agree(tiny):
    net = RoadNetwork.from_dataset(tiny)
    rng = np.random.default_rng(5)
    lon, lat = rng.uniform(LON0, LON0 + 0.2, 300), rng.uniform(LAT0, LAT0 + 0.1, 300)
    jobs = [(None, None), ("studio", None), (None, "农业"), ("station_comprehensive", "经济")] * 3
    fresh = RoadNetwork.from_dataset(tiny)
    expected = [fresh.nearest(lon, lat, kinds=k, sector=s).time_s for k, s in jobs]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda j: net.nearest(lon, lat, kinds=j[0], sector=j[1]).time_s, jobs))
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)


def test_dataset_roads_with_class_only_use_default_speeds(tiny_layers):
    layers = tiny_layers
    layers["roads"]["speed_kmh"] = None  # primary -> 60 km/h, tertiary -> 40 km/h
    net = RoadNetwork.from_dataset(Dataset.from_layers(layers))
    r = net.nearest(LON0 + 0.02, LAT0 + 0.02)
    # 3,335 m at 40 km/h = 300.2 s + 2,287 m at 60 km/h = 137.2 s
    assert r.time_s[0] == pytest.approx(300.2 + 137.2, rel=5e-3)


@pytest.mark.slow  # > 3 s
def test_demo_villages_match_networkx(demo):
    # the demo prefecture: every 40th village, road mode against per-village networkx Dijkstra
    net = RoadNetwork.from_dataset(demo)
    v = demo.villages.iloc[::40]
    r = net.nearest(v.geometry.x, v.geometry.y)
    brute = _brute(net, net.project(v.geometry.x, v.geometry.y), list(range(len(demo.stations))))
    np.testing.assert_allclose(r.time_s, brute, rtol=1e-5, atol=1e-3)
    assert np.isfinite(r.time_s).all()
