"""Straight-line nearest-station index: brute force (geodesic) comparisons, filters, bad input."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import geopandas as gpd
import numpy as np
import pytest
from conftest import LAT0, LON0
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from shapely.geometry import Point

from geo_service.core._optional import HAVE_NUMBA
from geo_service.core.crs import geodesic_m, metric_crs
from geo_service.core.index import config as index_module
from geo_service.core.index import GRID_MIN_BATCH, InvalidQuery, StationIndex

# the large-batch grids run as numpy code, or as numba kernels where numba is installed: both
KERNELS = (False, True) if HAVE_NUMBA else (False,)
KERNEL_PARAMS = [pytest.param(False, id="numpy"),
                 pytest.param(True, id="numba", marks=pytest.mark.skipif(
                     not HAVE_NUMBA, reason="numba is not installed"))]
KINDS = ("station_comprehensive", "station_sector", "studio", "contact_point")
SECS = ("经济", "农业", "医药卫生", "教育")
CRS_M = metric_crs(LON0 + 0.1, LAT0 + 0.05)  # the tiny county's centre


def _stations(points, kinds, sectors) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": [f"S{i}" for i in range(len(points))], "name": [f"站{i}" for i in range(len(points))],
         "kind": list(kinds), "sectors": [list(s) for s in sectors]},
        geometry=[Point(x, y) for x, y in points], crs="EPSG:4326")


# coordinates inside the tiny county (0.2 x 0.1 degrees), on its township border (lon0 + 0.1),
# on its edge, or outside every county (up to a degree beyond)
inside = st.tuples(st.floats(LON0, LON0 + 0.2), st.floats(LAT0, LAT0 + 0.1))
border = st.tuples(st.just(LON0 + 0.1), st.floats(LAT0, LAT0 + 0.1))
outside = st.tuples(st.floats(LON0 - 1.0, LON0 + 1.2), st.floats(LAT0 - 1.0, LAT0 + 1.1))
query_point = st.one_of(inside, border, outside)


@st.composite
def station_sets(draw):
    n = draw(st.integers(1, 8))
    pts = draw(st.lists(inside, min_size=n, max_size=n))
    # stations sharing a location
    for i in draw(st.lists(st.integers(0, n - 1), max_size=3)):
        pts.append(pts[i])
    kinds = [draw(st.sampled_from(KINDS)) for _ in pts]
    sectors = [draw(st.lists(st.sampled_from(SECS), max_size=2, unique=True)) for _ in pts]
    return pts, kinds, sectors


def _brute(lon, lat, st_gdf, mask):
    """Geodesic distance (m) from each query point to every matching station, sorted."""
    slon, slat = st_gdf.geometry.x.to_numpy()[mask], st_gdf.geometry.y.to_numpy()[mask]
    d = geodesic_m(np.asarray(lon)[:, None], np.asarray(lat)[:, None], slon[None, :], slat[None, :])
    return np.sort(d, axis=1)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stations=station_sets(), pts=st.lists(query_point, min_size=1, max_size=12),
       dup=st.booleans(), k=st.integers(1, 4), kind=st.sampled_from((None,) + KINDS),
       sector=st.sampled_from((None,) + SECS), grid=st.booleans(), use_numba=st.sampled_from(KERNELS))
@pytest.mark.slow  # > 3 s
def test_matches_geodesic_brute_force(stations, pts, dup, k, kind, sector, grid, use_numba):
    gdf = _stations(*stations)
    if dup:  # duplicate query points in one batch
        pts = pts + pts[:3]
    lon, lat = np.array(pts).T
    # grid=True sends even these small batches down the large-batch path (a coarse cell grid)
    limits = {"GRID_MIN_BATCH": 1 if grid else GRID_MIN_BATCH, "GRID_CELLS": 3000, "USE_NUMBA": use_numba}
    with mock.patch.multiple(index_module, **limits):
        index = StationIndex(gdf, CRS_M, extent=(LON0 - 0.3, LAT0 - 0.3, LON0 + 0.5, LAT0 + 0.4))
        res = index.nearest(lon, lat, k=k, kinds=kind, sector=sector)
    mask = np.array([(kind is None or kd == kind) and (sector is None or sector in ss)
                     for kd, ss in zip(stations[1], stations[2])])
    brute = _brute(lon, lat, gdf, mask)
    kk = min(k, int(mask.sum()))
    assert res.station_index.shape == (len(lon), k)
    # the k distances are the k smallest geodesic ones (ties between stations in any order)
    # the grid path's affine projection is good to a few cm, and within 0.1 % of the distance
    # near stations (the geodesic is used there): 0.5 % holds at every distance
    atol = 1e-6
    np.testing.assert_allclose(res.distance_m[:, :kk], brute[:, :kk], rtol=5e-3, atol=atol)
    # and each reported distance is the geodesic distance to the station it names
    if kk:
        si = res.station_index[:, :kk]
        g = geodesic_m(lon[:, None], lat[:, None], gdf.geometry.x.to_numpy()[si], gdf.geometry.y.to_numpy()[si])
        np.testing.assert_allclose(res.distance_m[:, :kk], g, rtol=5e-3, atol=atol)
        assert mask[si].all()
    # missing slots when fewer stations match than asked for
    assert (res.station_index[:, kk:] == -1).all()
    assert np.isinf(res.distance_m[:, kk:]).all()
    assert all(x is None for x in res.station_id[:, kk:].ravel())


def test_accuracy_within_county_is_far_better_than_half_a_percent(tiny):
    rng = np.random.default_rng(1)
    lon = rng.uniform(LON0, LON0 + 0.2, 2000)
    lat = rng.uniform(LAT0, LAT0 + 0.1, 2000)
    index = StationIndex.from_dataset(tiny)
    res = index.nearest(lon, lat, k=3)
    st_ = index.stations
    g = geodesic_m(lon[:, None], lat[:, None], st_["lon"].to_numpy()[res.station_index],
                   st_["lat"].to_numpy()[res.station_index])
    assert np.max(np.abs(res.distance_m / g - 1)) < 1e-4


def test_points_far_outside_the_county_are_ranked_geodesically(tiny):
    index = StationIndex.from_dataset(tiny)
    lon = np.array([116.40, 87.6, 126.6])  # Beijing, Urumqi (re-ranked geodesically), Harbin (300 km)
    lat = np.array([39.90, 43.8, 45.75])
    res = index.nearest(lon, lat, k=3)
    brute = _brute(lon, lat, tiny.stations, np.ones(3, dtype=bool))
    np.testing.assert_allclose(res.distance_m[:2], brute[:2], rtol=1e-9)
    np.testing.assert_allclose(res.distance_m[2], brute[2], rtol=1e-5)


def test_filters_aliases_and_records(tiny):
    index = StationIndex.from_dataset(tiny)
    # V1 of the tiny county (lon0+0.02, lat0+0.02): S1 is 0.03 deg east and north, about 4.04 km
    r = index.nearest(LON0 + 0.02, LAT0 + 0.02, k=2)
    assert r.station_id.tolist() == [["S1", "S2"]]
    assert r.distance_m[0, 0] == pytest.approx(4044.8, rel=1e-3)
    # studios hosting 医药卫生 (alias 医卫, kind alias 工作室): only S3
    r = index.nearest(LON0 + 0.02, LAT0 + 0.02, k=2, kinds="工作室", sector="医卫")
    assert r.station_id.tolist() == [["S3", None]]
    recs = r.records()
    assert recs == [[{"id": "S3", "name": "医卫工作室", "kind": "studio",
                      "distance_m": pytest.approx(r.distance_m[0, 0])}]]
    frame = index.nearest([LON0 + 0.02, LON0 + 0.19], [LAT0 + 0.02, LAT0 + 0.01], k=1).to_frame()
    assert frame[["point", "rank", "id", "kind"]].values.tolist() == [
        [0, 1, "S1", "station_comprehensive"], [1, 1, "S3", "studio"]]
    assert list(frame.columns) == ["point", "rank", "id", "name", "kind", "distance_m"]
    # a known kind without stations answers "none", not an error
    r = index.nearest(LON0, LAT0, kinds="contact_point")
    assert r.station_index.tolist() == [[-1]] and np.isinf(r.distance_m).all()
    assert r.to_frame().empty and r.records() == [[]]


def test_max_distance_drops_far_neighbours(tiny):
    index = StationIndex.from_dataset(tiny)
    r = index.nearest(LON0 + 0.02, LAT0 + 0.02, k=3, max_distance_m=5000)
    assert r.station_id.tolist() == [["S1", None, None]]
    r = index.nearest(LON0 + 0.05, LAT0 + 0.05, k=1, max_distance_m=0)  # exactly on S1
    assert r.station_id.tolist() == [["S1"]]


@pytest.mark.parametrize("call, field, idx", [
    (lambda ix: ix.nearest([130.3, 130.4, 200.0], [46.8, 46.8, 46.8]), "lon", 2),
    (lambda ix: ix.nearest([130.3, 130.4], [46.8, float("nan")]), "lat", 1),
    (lambda ix: ix.nearest([130.3], [95.0]), "lat", 0),
    (lambda ix: ix.nearest([], []), "lon", None),
    (lambda ix: ix.nearest([130.3, 130.4], [46.8]), "lat", None),
    (lambda ix: ix.nearest(130.3, 46.8, k=0), "k", None),
    (lambda ix: ix.nearest(130.3, 46.8, k=1.5), "k", None),
    (lambda ix: ix.nearest(130.3, 46.8, kinds="花园"), "kinds", None),
    (lambda ix: ix.nearest(130.3, 46.8, kinds=[]), "kinds", None),
    (lambda ix: ix.nearest(130.3, 46.8, sector="天文"), "sector", None),
    (lambda ix: ix.nearest(130.3, 46.8, max_distance_m=-1), "max_distance_m", None),
    (lambda ix: ix.nearest(["x"], [46.8]), "lon", None),
])
def test_bad_input_names_field_and_row(tiny, call, field, idx):
    index = StationIndex.from_dataset(tiny)
    with pytest.raises(InvalidQuery) as e:
        call(index)
    assert isinstance(e.value, ValueError)
    assert e.value.field == field and e.value.index == idx
    assert field in str(e.value)
    assert e.value.to_dict()["field"] == field


@pytest.mark.parametrize("bad, row", [(np.nan, 1), (np.inf, 2), (-np.inf, 0)])
def test_nearest_xy_names_the_non_finite_row(tiny, bad, row):
    index = StationIndex.from_dataset(tiny)
    xy = np.zeros((3, 2))
    xy[row, row % 2] = bad
    if bad == np.inf:
        xy[0, 0] = -np.inf  # +inf and -inf in one batch: their sum is NaN, still caught
        row = 0
    with pytest.raises(InvalidQuery) as e:
        index.nearest_xy(xy)
    assert e.value.field == "xy" and e.value.index == row
    with pytest.raises(InvalidQuery, match="empty batch"):
        index.nearest_xy(np.zeros((0, 2)))
    # finite but absurd coordinates (not metres of a projected CRS) are refused by row
    with pytest.raises(InvalidQuery, match="beyond") as e:
        index.nearest_xy([[0.0, 0.0], [1e308, 0.0]])
    assert e.value.index == 1
    # the edge of the accepted range still answers
    r = index.nearest_xy([[-index_module.MAX_XY_M, index_module.MAX_XY_M]])
    assert r.station_index.shape == (1, 1) and np.isfinite(r.distance_m).all()


def test_batch_limit(tiny):
    index = StationIndex(tiny.stations, tiny.metric_crs, max_batch=10)
    assert index.nearest(np.full(10, LON0), np.full(10, LAT0)).station_index.shape == (10, 1)
    with pytest.raises(InvalidQuery, match="exceeds the limit"):
        index.nearest(np.full(11, LON0), np.full(11, LAT0))


def test_empty_station_layer_answers_none(tiny):
    index = StationIndex(tiny.stations.iloc[:0], tiny.metric_crs)
    r = index.nearest([LON0, LON0 + 0.1], [LAT0, LAT0], k=2)
    assert (r.station_index == -1).all() and np.isinf(r.distance_m).all()


def test_concurrent_queries_agree_with_sequential(tiny):
    index = StationIndex.from_dataset(tiny)
    rng = np.random.default_rng(7)
    lon = rng.uniform(LON0 - 0.1, LON0 + 0.3, 500)
    lat = rng.uniform(LAT0 - 0.1, LAT0 + 0.2, 500)
    jobs = [(None, None), ("studio", None), (None, "农业"), ("station_sector", "农业")] * 4
    expected = [StationIndex.from_dataset(tiny).nearest(lon, lat, k=2, kinds=kd, sector=sc).station_index
                for kd, sc in jobs]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda j: index.nearest(lon, lat, k=2, kinds=j[0], sector=j[1]).station_index,
                            jobs))
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("use_numba", KERNEL_PARAMS)
@pytest.mark.parametrize("k, kind, sector", [(1, None, None), (3, None, None), (1, "studio", None),
                                             (1, None, "农业"), (2, None, "农业")])
def test_large_batch_grid_path_equals_tree_path(k, kind, sector, use_numba, monkeypatch):
    monkeypatch.setattr(index_module, "USE_NUMBA", use_numba)
    # stations of the tiny county plus co-located duplicates and a tight cluster
    pts = [(LON0 + 0.05, LAT0 + 0.05), (LON0 + 0.12, LAT0 + 0.02), (LON0 + 0.19, LAT0 + 0.01)]
    pts += [pts[0], pts[0], pts[2]] + [(LON0 + 0.15 + 0.001 * i, LAT0 + 0.08) for i in range(10)]
    kinds = [KINDS[i % 4] for i in range(len(pts))]
    sectors = [[SECS[i % 3]] for i in range(len(pts))]
    gdf = _stations(pts, kinds, sectors)
    index = StationIndex(gdf, CRS_M, extent=(LON0 - 0.05, LAT0 - 0.05, LON0 + 0.25, LAT0 + 0.15))
    rng = np.random.default_rng(11)
    n = GRID_MIN_BATCH + 5000
    lon = rng.uniform(LON0 - 0.3, LON0 + 0.5, n)  # a third outside the grid's extent
    lat = rng.uniform(LAT0 - 0.2, LAT0 + 0.3, n)
    lon[:50], lat[:50] = pts[0]  # on top of co-located stations
    big = index.nearest(lon, lat, k=k, kinds=kind, sector=sector)
    # k = 1 takes the lon/lat grid; k > 1 PROJ and the KD-tree (the grid is no faster there)
    assert bool(index._llgrids) == (k == 1), "the large batch did not take the expected path"
    parts = [index.nearest(lon[i:i + 5000], lat[i:i + 5000], k=k, kinds=kind, sector=sector)
             for i in range(0, n, 5000)]  # small batches: PROJ + KD-tree
    tree_d = np.vstack([p.distance_m for p in parts])
    tree_i = np.vstack([p.station_index for p in parts])
    # affine projection: < 5 cm; float32 offsets and the cell's scale correction: < 1e-6
    np.testing.assert_allclose(big.distance_m, tree_d, rtol=1e-6, atol=0.05)
    _assert_same_stations(index, big.station_index, tree_i)
    # the same points given in metres take the metric cell grid: the KD-tree's answer
    xy = index.project(lon, lat)
    big_xy = index.nearest_xy(xy, k=k, kinds=kind, sector=sector)
    assert bool(index._grids) == (k == 1), "the large batch did not take the expected path"
    parts = [index.nearest_xy(xy[i:i + 5000], k=k, kinds=kind, sector=sector) for i in range(0, n, 5000)]
    np.testing.assert_allclose(big_xy.distance_m, np.vstack([p.distance_m for p in parts]), rtol=1e-6,  # float32
                               atol=1e-3)
    _assert_same_stations(index, big_xy.station_index, np.vstack([p.station_index for p in parts]))


@pytest.mark.parametrize("use_numba", KERNEL_PARAMS)
def test_lonlat_grid_distance_is_within_half_a_percent_even_next_to_a_station(tiny, use_numba, monkeypatch):
    monkeypatch.setattr(index_module, "USE_NUMBA", use_numba)
    # coarse cells (affine error of centimetres) and points 0.2 m to 2 km from station S1
    st1 = tiny.stations.set_index("id").geometry["S1"]
    off_m = np.array([0.0, 0.2, 1.0, 5.0, 30.0, 200.0, 2000.0])
    lon = st1.x + off_m / (111_320.0 * np.cos(np.radians(st1.y)))
    lat = np.full(len(off_m), st1.y)
    with mock.patch.multiple(index_module, GRID_MIN_BATCH=1, GRID_CELLS=300):
        index = StationIndex.from_dataset(tiny)
        r = index.nearest(lon, lat)
        assert index._llgrids and index._frame.err_m > 0.01  # the grid was used: cm errors
    assert r.station_id[:, 0].tolist() == ["S1"] * len(off_m)
    g = geodesic_m(lon, lat, np.full(len(off_m), st1.x), np.full(len(off_m), st1.y))
    np.testing.assert_allclose(r.distance_m[:, 0], g, rtol=5e-3, atol=1e-9)
    # the same from metres, down to a millimetre from the station (the metric grid)
    off_m = np.array([0.0, 0.001, 0.01, 0.3, 30.0, 2000.0])
    xy = index.xy[[0]] + np.column_stack([off_m, np.zeros(len(off_m))])
    with mock.patch.multiple(index_module, GRID_MIN_BATCH=1, GRID_CELLS=300):
        r = index.nearest_xy(xy)
        assert index._grids
    np.testing.assert_allclose(r.distance_m[:, 0], off_m, rtol=1e-4, atol=1e-12)


@pytest.mark.parametrize("use_numba", KERNEL_PARAMS)
def test_lonlat_grid_leaves_close_calls_to_proj(use_numba, monkeypatch):
    # points on the perpendicular bisector of two stations (in the metric CRS): which one is
    # nearer is decided below the affine projection's centimetres, so the grid must hand them to
    # PROJ + KD-tree and give its answers, not its own
    monkeypatch.setattr(index_module, "USE_NUMBA", use_numba)
    gdf = _stations([(LON0 + 0.05, LAT0 + 0.03), (LON0 + 0.13, LAT0 + 0.07)], KINDS[:2], [[], []])
    extent = (LON0 - 0.05, LAT0 - 0.05, LON0 + 0.25, LAT0 + 0.15)
    index = StationIndex(gdf, CRS_M, extent=extent)
    a, b = index.xy
    mid, along = (a + b) / 2, np.array([-(b - a)[1], (b - a)[0]]) / np.hypot(*(b - a))
    xy = mid + np.linspace(-4000, 4000, 2001)[:, None] * along
    lon, lat = Transformer.from_crs(CRS_M, "EPSG:4326", always_xy=True).transform(xy[:, 0], xy[:, 1])
    want = index.nearest(lon, lat)  # a small batch: PROJ + KD-tree
    with mock.patch.multiple(index_module, GRID_MIN_BATCH=1):
        got = index.nearest(lon, lat)
        assert index._llgrids
    np.testing.assert_array_equal(got.station_index, want.station_index)


def _assert_same_stations(index, got, want):
    """The same stations, except co-located ones (which are interchangeable)."""
    xy = np.vstack([index.xy, [np.nan, np.nan]])  # row -1: none
    same = got == want
    colocated = np.all(xy[got] == xy[want], axis=-1)
    assert np.all(same | colocated), np.argwhere(~(same | colocated))[:5]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stations=station_sets(), pts=st.lists(query_point, min_size=1, max_size=12), k=st.sampled_from((1, 1, 2)),
       kind=st.sampled_from((None,) + KINDS), sector=st.sampled_from((None,) + SECS),
       dmax=st.floats(0, 40_000), cells=st.sampled_from((300, 3000, 30_000)),
       use_numba=st.sampled_from(KERNELS))
@pytest.mark.slow  # > 3 s
def test_grid_paths_equal_kd_tree_with_max_distance(stations, pts, k, kind, sector, dmax, cells, use_numba):
    """Large-batch paths (lon/lat grid, metric grid) vs PROJ + KD-tree: points inside, on the
    township border and outside every county, filters, k > 1, max_distance_m, coarse and fine
    cells, co-located stations."""
    gdf = _stations(*stations)
    lon, lat = np.array(pts).T
    extent = (LON0 - 0.3, LAT0 - 0.3, LON0 + 0.5, LAT0 + 0.4)
    kw = {"k": k, "kinds": kind, "sector": sector, "max_distance_m": dmax}
    want = StationIndex(gdf, CRS_M, extent=extent).nearest(lon, lat, **kw)
    with mock.patch.multiple(index_module, GRID_MIN_BATCH=1, GRID_CELLS=cells, USE_NUMBA=use_numba):
        index = StationIndex(gdf, CRS_M, extent=extent)
        got = index.nearest(lon, lat, **kw)
        got_xy = index.nearest_xy(index.project(lon, lat), **kw)
    # the lon/lat grid's projection is affine per cell: good to its measured error (centimetres
    # for the default cells of a few hundred metres, about a metre for these coarse test cells)
    frame_err = index._frame.err_m if index._frame is not None else 0.0
    for g, atol in ((got, frame_err), (got_xy, 1e-3)):  # metric grid: float32 offsets, mm
        # a neighbour within centimetres of max_distance_m may be kept by one and dropped by the other
        edge = np.isclose(np.where(g.found, g.distance_m, want.distance_m), dmax, rtol=1e-5, atol=atol)
        keep = ~edge.any(axis=1)
        assert (g.found == want.found)[keep].all()
        both = g.found & want.found
        np.testing.assert_allclose(g.distance_m[both], want.distance_m[both], rtol=1e-6, atol=atol)
        _assert_same_stations(index, np.where(both, g.station_index, -1), np.where(both, want.station_index, -1))
        assert all(i is None for i in g.station_id[~g.found])
