"""Far and odd points: lookups answer any point on Earth with its geodesic distance,
flagged ``outside_dataset`` beyond 50 km of the dataset, or refuse it by row with 422; never a 500."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import LAT0, LON0
from geo_service.core.crs import geodesic_m
from geo_service.core.index import OUTSIDE_MARGIN_M, InvalidQuery, StationIndex
from geo_service.core.network import RoadNetwork
from test_api_support import client, hdr, make_app

lons = st.floats(-180, 180, allow_nan=False)
lats = st.floats(-90, 90, allow_nan=False)


@pytest.fixture(scope="module")
def index(tiny):
    return StationIndex.from_dataset(tiny)


def _brute(index, lon, lat):
    st_ = index.stations
    g = geodesic_m(np.asarray(lon)[:, None], np.asarray(lat)[:, None], st_["lon"].to_numpy()[None],
                   st_["lat"].to_numpy()[None])
    return g.min(axis=1), g.argmin(axis=1)


@settings(max_examples=300, deadline=None)
@given(lon=lons, lat=lats, k=st.integers(1, 3))
def test_any_point_on_earth_gets_its_geodesic_nearest(index, lon, lat, k):
    r = index.nearest(lon, lat, k=k)
    d, j = _brute(index, [lon], [lat])
    assert np.isfinite(r.distance_m[0, 0])
    assert abs(r.distance_m[0, 0] - d[0]) <= max(1.0, 0.005 * d[0])
    outside_expected = d[0] > OUTSIDE_MARGIN_M + 30_000  # the stations lie inside the area
    if outside_expected:
        assert r.outside_dataset[0]
    if abs(lon - LON0) < 0.1 and abs(lat - LAT0) < 0.1:
        assert not r.outside_dataset[0]


def test_large_batch_anywhere(index):
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(-180, 180, 25_000), rng.uniform(-90, 90, 25_000)
    lon[:5000] = LON0 + rng.uniform(0, 0.2, 5000)  # some inside, for the grid path
    lat[:5000] = LAT0 + rng.uniform(0, 0.1, 5000)
    r = index.nearest(lon, lat)
    d, j = _brute(index, lon, lat)
    assert np.all(np.abs(r.distance_m[:, 0] - d) <= np.maximum(1.0, 0.005 * d))
    assert not r.outside_dataset[:5000].any() and r.outside_dataset[5000:].mean() > 0.99


def test_road_mode_refuses_far_points_by_row(tiny):
    net = RoadNetwork.from_dataset(tiny)
    with pytest.raises(InvalidQuery) as e:
        net.nearest([LON0 + 0.05, 45.0], [LAT0 + 0.05, 0.0])
    assert e.value.index == 1 and "outside" in str(e.value)
    assert net.nearest(LON0 + 0.05, LAT0 + 0.05).station_id[0] is not None


def test_api_far_points_never_500(tmp_path, tiny):
    with client(make_app(tmp_path / "data", tiny)) as c:
        r = c.get("/v1/datasets/tiny/nearest", params={"lon": 45, "lat": 0}, headers=hdr("viewer"))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["outside_dataset"] is True and body["results"][0]["distance_m"] > 8e6
        r = c.get("/v1/datasets/tiny/nearest", params={"lon": LON0 + 0.05, "lat": LAT0 + 0.05},
                  headers=hdr("viewer"))
        assert r.json()["outside_dataset"] is False
        r = c.post("/v1/datasets/tiny/nearest", json=[[45, 0], [-179.9, -89.9], [LON0, LAT0], [180, 90]],
                   headers=hdr("viewer"))
        assert r.status_code == 200, r.text
        cols = r.json()["columns"]
        assert cols["outside_dataset"] == [True, True, False, True] and all(cols["distance_m"])
        r = c.get("/v1/datasets/tiny/nearest", params={"lon": 45, "lat": 0, "mode": "road"},
                  headers=hdr("viewer"))
        assert r.status_code == 422, r.text
        r = c.post("/v1/datasets/tiny/nearest?mode=road", json=[[LON0, LAT0], [45, 0]], headers=hdr("viewer"))
        assert r.status_code == 422 and "[1]" in r.text
