"""Binary nearest batches over HTTP: Arrow IPC (and .npy) in, Arrow IPC out, JSON unchanged."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.batch_format import ARROW_STREAM, NPY, parse_binary_points, wants_arrow
from api.problems import ProblemError
from browser import live_server
from conftest import LAT0, LON0
from geo_service.core.index import StationIndex
from test_api_support import hdr, make_app

URL = "/v1/datasets/tiny/nearest"


def arrow_points(lon, lat, **extra) -> bytes:
    cols = {"lon": pa.array(lon), "lat": pa.array(lat), **extra}
    table = pa.table(cols)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table, max_chunksize=700)  # several record batches
    return sink.getvalue().to_pybytes()


def npy_points(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(arr))
    return buf.getvalue()


@pytest.fixture
def base(tmp_path, tiny):
    app = make_app(tmp_path / "data", tiny, max_batch_points=5_000, max_nearest_answer_bytes=2_000_000)
    with live_server(app) as url:
        yield url


@pytest.fixture
def pts():
    rng = np.random.default_rng(11)
    return np.column_stack([LON0 + rng.random(2_000) * 0.2, LAT0 + rng.random(2_000) * 0.1])


def assert_problem(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text[:300]
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and body["type"] == f"urn:geo-service:problem:{code}", body
    return body


def test_arrow_round_trip_matches_json_and_the_index(base, tiny, pts):
    ref = StationIndex.from_dataset(tiny).nearest(pts[:, 0], pts[:, 1], k=2)
    with httpx.Client(base_url=base, headers=hdr("viewer"), timeout=60) as c:
        js = c.post(f"{URL}?k=2", json=pts.tolist()).json()
        r = c.post(f"{URL}?k=2", content=arrow_points(pts[:, 0], pts[:, 1]),
                   headers={"Content-Type": ARROW_STREAM, "Accept": ARROW_STREAM})
        assert r.status_code == 200 and r.headers["content-type"] == ARROW_STREAM
        t = pa.ipc.open_stream(r.content).read_all()
        # npy in, Arrow out; Arrow in, JSON out
        r2 = c.post(f"{URL}?k=2", content=npy_points(pts), headers={"Content-Type": NPY, "Accept": ARROW_STREAM})
        r3 = c.post(f"{URL}?k=2", content=arrow_points(pts[:, 0], pts[:, 1]),
                    headers={"Content-Type": ARROW_STREAM})
    assert t.num_rows == 4_000
    assert t.column("station_id").to_pylist() == ref.station_id.reshape(-1).tolist()
    assert t.column("station_id").to_pylist() == js["columns"]["station_id"]
    np.testing.assert_allclose(t.column("distance_m").to_numpy(), ref.distance_m.reshape(-1), atol=0.1)
    assert t.column("point").to_pylist()[:4] == [0, 0, 1, 1] and t.column("rank").to_pylist()[:4] == [1, 2, 1, 2]
    meta = {k.decode(): v.decode() for k, v in t.schema.metadata.items()}
    assert meta["dataset_id"] == "tiny" and meta["count"] == "2000" and meta["k"] == "2"
    assert pa.ipc.open_stream(r2.content).read_all().equals(t)
    assert r3.headers["content-type"].startswith("application/json")
    assert r3.json()["columns"]["station_id"] == js["columns"]["station_id"]


def test_arrow_answer_marks_no_station_as_null(base, pts):
    with httpx.Client(base_url=base, headers=hdr("viewer"), timeout=60) as c:
        r = c.post(f"{URL}?max_distance_m=500", content=arrow_points(pts[:50, 0], pts[:50, 1]),
                   headers={"Content-Type": ARROW_STREAM, "Accept": ARROW_STREAM})
        js = c.post(f"{URL}?max_distance_m=500", json=pts[:50].tolist()).json()
    t = pa.ipc.open_stream(r.content).read_all()
    ids = t.column("station_id").to_pylist()
    assert ids == js["columns"]["station_id"] and None in ids
    none = [i for i, v in enumerate(ids) if v is None]
    assert all(t.column("distance_m")[i].as_py() is None for i in none)


def test_binary_errors_are_problems_before_work(base, pts):
    ok = {"Content-Type": ARROW_STREAM, "Accept": ARROW_STREAM}
    with httpx.Client(base_url=base, headers=hdr("viewer"), timeout=60) as c:
        assert_problem(c.post(URL, content=b"not arrow at all", headers=ok), 400, "invalid-arrow")
        assert_problem(c.post(URL, content=b"\x93NUMPY broken", headers={"Content-Type": NPY}), 400, "invalid-npy")
        body = assert_problem(c.post(URL, content=arrow_points(pts[:5, 0], pts[:5, 0])
                                     .replace(b"lat", b"lax"), headers=ok), 422, "invalid-points")
        assert body["errors"][0]["field"] == "lat"
        lat = pa.array([LAT0, LAT0, LAT0, None, LAT0])
        body = assert_problem(c.post(URL, content=arrow_points(pts[:5, 0], lat), headers=ok), 422, "invalid-points")
        assert body["errors"][0]["index"] == 3 and body["detail"] == "列 lat 第 4 行为空"  # Chinese, counted from 1
        en = c.post(URL, content=arrow_points(pts[:5, 0], lat), headers={**ok, "Accept-Language": "en"}).json()
        assert en["detail"] == "column 'lat' is empty in row 3" and en["errors"] == body["errors"]
        text = pa.array(["a"] * 5)
        assert_problem(c.post(URL, content=arrow_points(pts[:5, 0], text), headers=ok), 422, "invalid-points")
        assert_problem(c.post(URL, content=npy_points(pts[:, 0]), headers={"Content-Type": NPY}), 422,
                       "invalid-points")
        # a bad coordinate names its batch row, as for JSON
        bad = pts[:10].copy()
        bad[4, 1] = 95.0
        body = assert_problem(c.post(URL, content=npy_points(bad), headers={"Content-Type": NPY}), 422,
                              "invalid-query")
        assert body["errors"][0]["index"] == 4 and "第 5 个值无效" in body["detail"], body  # Chinese counts from 1
        # budgets: the point limit and the answer estimate refuse before any lookup
        many = np.repeat(pts, 3, axis=0)
        assert_problem(c.post(URL, content=arrow_points(many[:, 0], many[:, 1]), headers=ok), 413,
                       "batch-too-large")
        assert_problem(c.post(f"{URL}?k=50", content=arrow_points(pts[:, 0], pts[:, 1]), headers=ok), 413,
                       "answer-too-large")
        # the route still needs a key
        r = httpx.post(f"{base}{URL}", content=arrow_points(pts[:5, 0], pts[:5, 1]), headers=ok)
        assert_problem(r, 401, r.json()["type"].rsplit(":", 1)[-1])


def test_accept_negotiation():
    assert wants_arrow(ARROW_STREAM)
    assert wants_arrow(f"{ARROW_STREAM};q=0.9, application/json;q=0.5")
    assert not wants_arrow(f"application/json, {ARROW_STREAM}")
    assert not wants_arrow(f"{ARROW_STREAM};q=0")
    assert not wants_arrow("*/*") and not wants_arrow(None) and not wants_arrow("")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(-180, 180), st.floats(-90, 90)), min_size=1, max_size=300),
       st.sampled_from(["float64", "float32"]))
def test_arrow_points_load_exactly(pairs, dtype):
    a = np.asarray(pairs, dtype=dtype)
    lon, lat = parse_binary_points(arrow_points(a[:, 0], a[:, 1]), ARROW_STREAM, 1_000)
    np.testing.assert_array_equal(lon, a[:, 0].astype(float))
    np.testing.assert_array_equal(lat, a[:, 1].astype(float))
    lon2, lat2 = parse_binary_points(npy_points(a), f"{NPY}; charset=binary", 1_000)
    np.testing.assert_array_equal(lon2, lon)
    with pytest.raises(ProblemError) as e:
        parse_binary_points(arrow_points(a[:, 0], a[:, 1]), ARROW_STREAM, len(a) - 1) if len(a) > 1 \
            else parse_binary_points(b"", ARROW_STREAM, 1)
    assert e.value.status in (400, 413)
