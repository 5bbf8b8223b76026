"""Road mode's compiled grid (geo_service.core.road_snap) against the STR-tree path and brute force,
on a demo county, on roads over a real county's villages and on one-way roads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer
from scipy.spatial import Delaunay
from shared_data import real_county, require_shared

from geo_service.app.demo import generate_demo
from geo_service.core._optional import HAVE_NUMBA
from geo_service.core.crs import metric_crs
from geo_service.core import road_snap
from geo_service.core.index import config, tm_scale_correction
from geo_service.core.network import RoadNetwork
from geo_service.core.road_graph import TIE_M
from geo_service.core.road_snap import SegmentGrid

needs_numba = pytest.mark.skipif(not HAVE_NUMBA, reason="the compiled grid needs numba")


def _answers(net, lon, lat, monkeypatch, grid: bool, **kw):
    """RoadResult by the grid (every batch) or by the STR-tree (never the grid)."""
    monkeypatch.setattr(road_snap, "MIN_BATCH", 1 if grid else 10**9)
    return net.nearest(lon, lat, **kw)


def _assert_same(a, b):
    np.testing.assert_array_equal(a.station_index, b.station_index)
    for f in ("time_s", "road_m", "offroad_m", "snap_m"):
        x, y = getattr(a, f), getattr(b, f)
        assert np.array_equal(np.isinf(x), np.isinf(y)), f
        fin = np.isfinite(y)
        np.testing.assert_allclose(x[fin], y[fin], rtol=1e-9, atol=1e-6, err_msg=f)
    np.testing.assert_array_equal(a.far_from_road, b.far_from_road)


def _points(net_lonlat: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Half uniform over the box of ``net_lonlat``, half within about 1 km of one of them, plus
    every one of them exactly (points on roads' vertices, where segments tie)."""
    rng = np.random.default_rng(seed)
    lo, hi = net_lonlat.min(axis=0), net_lonlat.max(axis=0)
    uni = rng.uniform(lo, hi, (n // 2, 2))
    near = net_lonlat[rng.integers(0, len(net_lonlat), n // 2)] + rng.normal(0, 0.006, (n // 2, 2))
    p = np.vstack([uni, near, net_lonlat])
    return p[:, 0], p[:, 1]


@pytest.fixture(scope="module")
def county():
    ds = generate_demo(counties=["230882"])
    net = RoadNetwork.from_dataset(ds)
    return ds, net


@needs_numba
def test_grid_gives_the_str_tree_answers_on_a_demo_county(county, monkeypatch):
    ds, net = county
    verts = shapely.get_coordinates(ds.roads.geometry.to_numpy())
    lon, lat = _points(verts, 6000, seed=7)
    for kw in ({}, {"kinds": "studio"}, {"sector": "经济"}):
        _assert_same(_answers(net, lon, lat, monkeypatch, True, **kw),
                     _answers(net, lon, lat, monkeypatch, False, **kw))


def _real_county_roads(name: str) -> RoadNetwork:
    """Roads drawn over a real county: the Delaunay edges (<= 8 km) of its located villages and
    township seats; the seats are the stations (the shared data has no roads layer)."""
    folder = require_shared(real_county(name), f"real county {name}")
    v = pd.read_csv(folder / "villages.csv").dropna(subset=["经度", "纬度"])
    t = pd.read_csv(folder / "townships.csv").dropna(subset=["经度", "纬度"])
    ll = np.vstack([v[["经度", "纬度"]].to_numpy(float), t[["经度", "纬度"]].to_numpy(float)])
    crs = metric_crs(*ll.mean(axis=0))
    xy = np.column_stack(Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(ll[:, 0], ll[:, 1]))
    tri = Delaunay(xy).simplices
    e = np.unique(np.sort(np.vstack([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [0, 2]]]), axis=1), axis=0)
    e = e[np.hypot(*(xy[e[:, 0]] - xy[e[:, 1]]).T) <= 8000.0]
    roads = gpd.GeoDataFrame({"id": [f"R{i}" for i in range(len(e))], "speed_kmh": 30.0},
                             geometry=shapely.linestrings(np.stack([ll[e[:, 0]], ll[e[:, 1]]], axis=1)),
                             crs="EPSG:4326")
    st = gpd.GeoDataFrame({"id": t["代码"].astype(str).to_numpy(), "name": t["名称"].to_numpy(),
                           "kind": "station_comprehensive", "sectors": [[] for _ in range(len(t))]},
                          geometry=gpd.points_from_xy(t["经度"], t["纬度"]), crs="EPSG:4326")
    return RoadNetwork(roads, st, crs), ll


@needs_numba
@pytest.mark.parametrize("name", ["dingri", "dongcheng"])
def test_grid_gives_the_str_tree_answers_on_real_counties(name, monkeypatch):
    net, ll = _real_county_roads(name)
    lon, lat = _points(ll, 4000, seed=11)
    _assert_same(_answers(net, lon, lat, monkeypatch, True), _answers(net, lon, lat, monkeypatch, False))


def _brute_snap(node_xy, ra, rb, xy):
    """Ground metres from every point to its nearest segment, over all segments."""
    A, B = node_xy[ra][None], node_xy[rb][None]
    P = xy[:, None]
    AB = B - A
    t = np.clip(((P - A) * AB).sum(-1) / np.maximum((AB * AB).sum(-1), 1e-300), 0, 1)
    foot = A + t[..., None] * AB
    d = np.hypot(*np.moveaxis(P - foot, -1, 0)) / tm_scale_correction(np.broadcast_to(P, foot.shape), foot)
    return d.min(axis=1)


@needs_numba
def test_grid_snap_is_the_brute_force_nearest_and_leaves_outside_points(county):
    _, net = county
    tree = net._tree(None, None)
    rng = np.random.default_rng(3)
    lo, hi = net.node_xy.min(axis=0), net.node_xy.max(axis=0)
    xy = np.vstack([rng.uniform(lo, hi, (1500, 2)), net.node_xy[:300], hi + [5000.0, 0.0]])
    for cps in (0.5, 4.0):
        g = SegmentGrid(net.node_xy, net.ra, net.rb, net.seg_tree, cells_per_segment=cps)
        legs = g.best_legs(xy, tree.time_s, net.rtime, net.rdir, net._offroad_mps)
        assert legs.ok[:-1].all() and not legs.ok[-1]  # the last lies outside the grid
        np.testing.assert_allclose(legs.snap_m[:-1], _brute_snap(net.node_xy, net.ra, net.rb, xy[:-1]),
                                   rtol=1e-9, atol=1e-6)
        assert np.all(legs.dist_m[:-1] <= legs.snap_m[:-1] + TIE_M + 1e-9)


@needs_numba
def test_grid_honours_one_way_roads(monkeypatch):
    # a ladder of two-way rungs between a one-way eastward rail (south) and a one-way westward rail
    lon0, lat0 = 120.0, 30.0
    xs = lon0 + np.arange(6) * 0.01
    lines, ow = [], []
    for y, d in ((lat0, "F"), (lat0 + 0.01, "T")):
        lines += [shapely.LineString([(a, y), (b, y)]) for a, b in zip(xs[:-1], xs[1:])]
        ow += [d] * 5
    lines += [shapely.LineString([(x, lat0), (x, lat0 + 0.01)]) for x in xs]
    ow += ["B"] * 6
    roads = gpd.GeoDataFrame({"id": [f"R{i}" for i in range(len(lines))], "speed_kmh": 40.0, "oneway": ow},
                             geometry=lines, crs="EPSG:4326")
    st = gpd.GeoDataFrame({"id": ["S1", "S2"], "name": ["甲", "乙"], "kind": "station_comprehensive",
                           "sectors": [[], []]}, geometry=[shapely.Point(xs[1], lat0 - 0.002),
                                                          shapely.Point(xs[4], lat0 + 0.012)], crs="EPSG:4326")
    net = RoadNetwork(roads, st, metric_crs(lon0 + 0.025, lat0 + 0.005))
    assert net.oneway
    rng = np.random.default_rng(5)
    lon, lat = rng.uniform(lon0 - 0.005, lon0 + 0.055, 3000), rng.uniform(lat0 - 0.004, lat0 + 0.014, 3000)
    a, b = _answers(net, lon, lat, monkeypatch, True), _answers(net, lon, lat, monkeypatch, False)
    _assert_same(a, b)
    assert len(set(a.station_id[np.isfinite(a.time_s)])) == 2


def test_segment_grid_refuses_bad_arguments(county):
    _, net = county
    with pytest.raises(ValueError, match="ra"):
        SegmentGrid(net.node_xy, net.ra[:0], net.rb[:0], net.seg_tree)
    with pytest.raises(ValueError, match="cells_per_segment"):
        SegmentGrid(net.node_xy, net.ra, net.rb, net.seg_tree, cells_per_segment=0)


@needs_numba
def test_cell_centres_nearest_distance_is_the_str_tree_one(county):
    _, net = county
    g = SegmentGrid(net.node_xy, net.ra, net.rb, net.seg_tree, cells_per_segment=8.0)
    bstart, bitems = road_snap._bucket(g.ax, g.ay, g.bx, g.by, g.x0, g.y0, g.h, g.nx, g.ny)
    d0 = road_snap._centre_nearest(g.x0, g.y0, g.h, g.nx, g.ny, bstart, bitems, g.ax, g.ay, g.bx, g.by, 3)
    c = np.arange(g.nx * g.ny)
    centres = shapely.points(g.x0 + (c % g.nx + 0.5) * g.h, g.y0 + (c // g.nx + 0.5) * g.h)
    ref = net.seg_tree.query_nearest(centres, all_matches=False, return_distance=True)[1]
    settled = d0 >= 0
    assert 0.3 < settled.mean() < 1.0  # some settled by the rings, some left to the tree
    np.testing.assert_allclose(d0[settled], ref[settled], rtol=1e-9, atol=1e-6)
    assert np.all(ref[~settled] > 3.5 * g.h * (1 - 1e-9))  # left only when farther than the rings
    road_snap._far_centres(d0, g.x0, g.y0, g.h, g.nx, g.ny, bstart, bitems, g.ax, g.ay, g.bx, g.by)
    assert (d0 >= 0).all()  # every far centre had a settled neighbour to start from
    np.testing.assert_allclose(d0, ref, rtol=1e-9, atol=1e-6)


@needs_numba
def test_threads_share_one_grid_and_get_the_same_answers(county, monkeypatch):
    ds, _ = county
    net = RoadNetwork.from_dataset(ds)  # nothing cached yet
    monkeypatch.setattr(road_snap, "MIN_BATCH", 1000)
    verts = shapely.get_coordinates(ds.roads.geometry.to_numpy())
    lon, lat = _points(verts, 3000, seed=13)
    with ThreadPoolExecutor(4) as ex:
        got = list(ex.map(lambda _: net.nearest(lon, lat), range(4)))
    assert len(net._seg_grids) == 1
    for r in got[1:]:
        _assert_same(r, got[0])
    _assert_same(got[0], _answers(net, lon, lat, monkeypatch, False))


def test_without_numba_large_batches_take_the_str_tree(county, monkeypatch):
    ds, _ = county
    net = RoadNetwork.from_dataset(ds)
    monkeypatch.setattr(config, "USE_NUMBA", False)
    monkeypatch.setattr(road_snap, "MIN_BATCH", 1)
    verts = shapely.get_coordinates(ds.roads.geometry.to_numpy())
    lon, lat = _points(verts, 1000, seed=17)
    r = net.nearest(lon, lat)
    assert not net._seg_grids and np.isfinite(r.time_s).all()
