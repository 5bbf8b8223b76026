"""HTTP API over HTTP (Starlette TestClient): system routes, problem+json, auth per role, datasets,
layers, feature edits with ETags, personal-data filtering, nearest and coverage."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import LAT0, LON0, make_tiny_layers
from geo_service.core.io.gpkg import write_gpkg
from test_api_support import KEYS, client, hdr, make_app, write_raw_gpkg

PROBLEM = "application/problem+json"


@pytest.fixture
def app(tmp_path, tiny):
    return make_app(tmp_path / "data", tiny)


@pytest.fixture
def c(app):
    with client(app) as cl:
        yield cl


def assert_problem(r, status: int, code: str | None = None):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM), r.headers["content-type"]
    body = r.json()
    for k in ("type", "title", "status", "detail", "instance"):
        assert k in body, body
    assert body["status"] == status
    if code:
        assert body["type"] == f"urn:geo-service:problem:{code}", body
    return body


# --- system ------------------------------------------------------------------------------------

def test_health_ready_and_request_id(c):
    r = c.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert len(r.headers["x-request-id"]) == 32
    r = c.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = c.get("/readyz")
    assert r.status_code == 200 and r.json()["checks"]["datasets"] == 1


def test_docs_are_offline(c):
    r = c.get("/docs")
    assert r.status_code == 200
    html = r.text
    assert "cdn" not in html.lower() and "https://" not in html
    for asset in ("/static-docs/swagger-ui-bundle.js", "/static-docs/swagger-ui.css"):
        assert asset in html
        a = c.get(asset)
        assert a.status_code == 200 and len(a.content) > 10_000
    spec = c.get("/openapi.json").json()
    assert "/v1/datasets/{dataset_id}/nearest" in spec["paths"]
    assert "/v1/jobs/{job_id}/results" in spec["paths"]


def test_errors_are_problem_json(c):
    body = assert_problem(c.get("/nope"), 404)
    assert body["instance"] == "/nope" and body["request_id"]
    assert_problem(c.post("/healthz"), 405)
    body = assert_problem(c.get("/v1/datasets/tiny/nearest?lon=abc&lat=46.8", headers=hdr("viewer")), 422,
                          "invalid-parameters")
    assert {"in": "query", "field": "lon"}.items() <= body["errors"][0].items()
    body = assert_problem(c.get("/v1/datasets/tiny/nearest?lon=200&lat=46.8", headers=hdr("viewer")), 422)
    assert body["errors"][0]["field"] == "lon"
    assert_problem(c.get("/v1/datasets/none/stations", headers=hdr("viewer")), 404, "dataset-not-found")


@pytest.mark.parametrize("bad", ["..", "a%2F..%2F..", "-x", "x" * 65, "a.b"])
def test_dataset_ids_are_checked(c, bad):
    r = c.get(f"/v1/datasets/{bad}/stations", headers=hdr("viewer"))
    assert 400 <= r.status_code < 500 and r.headers["content-type"].startswith(PROBLEM)
    r = c.delete(f"/v1/datasets/{bad}", headers=hdr("admin"))
    assert 400 <= r.status_code < 500


# --- auth --------------------------------------------------------------------------------------

def test_roles(c, tiny, tmp_path):
    assert_problem(c.get("/v1/datasets"), 401, "unauthenticated")
    assert_problem(c.get("/v1/datasets", headers={"X-API-Key": "wrong-key-123"}), 401, "invalid-api-key")
    assert c.get("/v1/datasets", headers=hdr("viewer")).status_code == 200
    assert c.get("/v1/datasets", headers={"Authorization": f"Bearer {KEYS['viewer']}"}).status_code == 200
    for role in ("viewer", "planner", "admin"):
        assert c.get("/v1/datasets/tiny/coverage", headers=hdr(role)).status_code == 200
        assert c.get(f"/v1/datasets/tiny/nearest?lon={LON0 + 0.05}&lat={LAT0 + 0.05}",
                     headers=hdr(role)).status_code == 200
    # nearest is not anonymous by default
    assert_problem(c.get(f"/v1/datasets/tiny/nearest?lon={LON0}&lat={LAT0}"), 401)
    # upload and delete are admin only
    gpkg = write_gpkg(tiny, tmp_path / "t2.gpkg")
    for role in ("viewer", "planner"):
        with open(gpkg, "rb") as fh:
            r = c.post("/v1/datasets", files={"file": ("t2.gpkg", fh)}, headers=hdr(role))
        assert_problem(r, 403, "forbidden")
        assert_problem(c.delete("/v1/datasets/tiny", headers=hdr(role)), 403)
    # optimisations are planner+
    assert_problem(c.post("/v1/datasets/tiny/optimisations", json={}, headers=hdr("viewer")), 403)


def test_anonymous_nearest_setting(tmp_path, tiny):
    with client(make_app(tmp_path / "d", tiny, anonymous_nearest=True)) as c:
        r = c.get(f"/v1/datasets/tiny/nearest?lon={LON0}&lat={LAT0}")
        assert r.status_code == 200 and r.json()["results"]
        assert c.get("/v1/datasets/tiny/coverage").status_code == 401  # only nearest is opened


def test_local_open_mode_without_keys(tmp_path, tiny):
    app = make_app(tmp_path / "d", tiny, api_keys={})
    with client(app, "127.0.0.1") as c:
        assert c.get("/v1/datasets").status_code == 200
        assert c.delete("/v1/datasets/tiny").status_code == 204  # loopback = admin in the local demo
    with client(app, "10.1.2.3") as c:
        assert_problem(c.get("/v1/datasets"), 401)
    app = make_app(tmp_path / "e", tiny, api_keys={}, local_open=False)
    with client(app, "127.0.0.1") as c:
        assert c.get("/v1/datasets").status_code == 401


def test_settings_from_env_and_file(tmp_path, monkeypatch):
    from api.settings import Settings

    f = tmp_path / "geo.toml"
    f.write_text('data_dir = "/from/file"\njob_workers = 3\n[api_keys]\n"file-key-0001" = "planner"\n')
    monkeypatch.setenv("GEO_SERVICE_SETTINGS_FILE", str(f))
    monkeypatch.setenv("GEO_SERVICE_JOB_WORKERS", "2")
    s = Settings()
    assert s.data_dir == "/from/file" and s.job_workers == 2  # env beats file
    assert s.api_keys == {"file-key-0001": "planner"}
    monkeypatch.setenv("GEO_SERVICE_API_KEYS", "k-one-0001:viewer,k-two-0002:admin")
    assert Settings().api_keys == {"k-one-0001": "viewer", "k-two-0002": "admin"}
    monkeypatch.setenv("GEO_SERVICE_API_KEYS", '{"short": "admin"}')
    with pytest.raises(ValueError):
        Settings()


# --- datasets ----------------------------------------------------------------------------------

@pytest.mark.slow  # > 3 s
def test_upload_list_get_delete(c, tiny, tmp_path):
    gpkg = write_gpkg(tiny, tmp_path / "county.gpkg")
    with open(gpkg, "rb") as fh:
        r = c.post("/v1/datasets", files={"file": ("county.gpkg", fh)}, headers=hdr("admin"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["id"] == "county" and body["version"] == 1 and body["counts"]["villages"] == 8
    assert r.headers["location"].endswith("/v1/datasets/county") and r.headers["etag"] == body["etag"]
    with open(gpkg, "rb") as fh:
        assert_problem(c.post("/v1/datasets", files={"file": ("county.gpkg", fh)}, headers=hdr("admin")),
                       409, "dataset-exists")
    with open(gpkg, "rb") as fh:
        r = c.post("/v1/datasets", files={"file": ("x.gpkg", fh)}, data={"id": "county", "replace": "true"},
                   headers=hdr("admin"))
    assert r.status_code == 201 and r.json()["version"] == 2
    ids = [d["id"] for d in c.get("/v1/datasets", headers=hdr("viewer")).json()["datasets"]]
    assert ids == ["county", "tiny"]
    got = c.get("/v1/datasets/county", headers=hdr("viewer"))
    assert got.json()["version"] == 2 and got.headers["etag"] == '"county-v2"'
    assert_problem(c.delete("/v1/datasets/county", headers={**hdr("admin"), "If-Match": '"county-v1"'}), 412)
    assert c.delete("/v1/datasets/county", headers=hdr("admin")).status_code == 204
    assert_problem(c.get("/v1/datasets/county", headers=hdr("viewer")), 404)


def test_invalid_upload_lists_every_error_and_stores_nothing(c, tmp_path):
    layers = make_tiny_layers()
    layers["stations"].loc[1, "kind"] = "bogus"
    layers["villages"].loc[2, "id"] = "V1"  # duplicate id
    layers["villages"].loc[4, "population"] = -5
    path = write_raw_gpkg({k: layers[k] for k in ("townships", "villages", "stations")}, tmp_path / "bad.gpkg")
    with open(path, "rb") as fh:
        r = c.post("/v1/datasets", files={"file": ("bad.gpkg", fh)}, headers=hdr("admin"))
    body = assert_problem(r, 422, "dataset-invalid")
    codes = {(e["layer"], e["code"], e["field"]) for e in body["errors"]}
    assert ("stations", "unknown_kind", "kind") in codes
    assert ("villages", "duplicate_id", "id") in codes
    assert ("villages", "out_of_range", "population") in codes
    kind_err = next(e for e in body["errors"] if e["code"] == "unknown_kind")
    assert kind_err["row"] == 2 and kind_err["feature_id"] == "S2"
    assert c.get("/v1/datasets/bad", headers=hdr("viewer")).status_code == 404


@pytest.mark.parametrize("fmt", ["geojson", "xlsx"])
def test_upload_zip_of_layer_files_and_workbook(c, tiny, tmp_path, fmt):
    import zipfile

    from geo_service.core.io import write_dataset

    if fmt == "xlsx":
        path = tmp_path / "wb.xlsx"
        write_dataset(tiny, path, fmt="xlsx")
    else:
        folder = tmp_path / "layers"
        write_dataset(tiny, folder, fmt=fmt)
        path = tmp_path / "layers.zip"
        with zipfile.ZipFile(path, "w") as zf:
            for f in folder.iterdir():
                zf.write(f, f.name)
    with open(path, "rb") as fh:
        r = c.post("/v1/datasets", files={"file": (path.name, fh)}, data={"id": f"up-{fmt}"}, headers=hdr("admin"))
    assert r.status_code == 201, r.text
    assert r.json()["counts"]["villages"] == 8 and r.json()["counts"]["stations"] == 3


def test_unsafe_zip_is_refused(c, tmp_path):
    import zipfile

    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("../../escape.geojson", "{}")
    with open(path, "rb") as fh:
        assert_problem(c.post("/v1/datasets", files={"file": ("evil.zip", fh)}, headers=hdr("admin")), 422,
                       "unsafe-zip")


def test_unreadable_and_unsupported_uploads(c, tmp_path):
    assert_problem(c.post("/v1/datasets", files={"file": ("x.txt", b"hello")}, headers=hdr("admin")), 415)
    body = assert_problem(c.post("/v1/datasets", files={"file": ("x.gpkg", b"not a database")},
                                 headers=hdr("admin")), 422)
    assert body["type"].rsplit(":", 1)[1] in ("unreadable-upload", "dataset-invalid")
    assert_problem(c.post("/v1/datasets", files={"file": ("x.zip", b"PK\x03\x04junk")}, headers=hdr("admin")),
                   422)
    assert c.get("/v1/datasets/x", headers=hdr("viewer")).status_code == 404


def test_body_size_limit(tmp_path, tiny):
    with client(make_app(tmp_path / "d", tiny, max_upload_bytes=1000, max_body_bytes=1000)) as c:
        r = c.post("/v1/datasets", files={"file": ("x.gpkg", b"x" * 5000)}, headers=hdr("admin"))
        assert_problem(r, 413, "body-too-large")
        r = c.post("/v1/datasets/tiny/nearest", content=json.dumps([[LON0, LAT0]] * 200),
                   headers={**hdr("viewer"), "Content-Type": "application/json"})
        assert_problem(r, 413)


# --- layers ------------------------------------------------------------------------------------

def test_layer_paging_bbox_and_geojson(c):
    r = c.get("/v1/datasets/tiny/villages?limit=3&offset=3", headers=hdr("viewer"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    fc = r.json()
    assert fc["type"] == "FeatureCollection" and fc["numberMatched"] == 8 and fc["numberReturned"] == 3
    assert [f["id"] for f in fc["features"]] == ["V4", "V5", "V6"]
    rels = {link["rel"]: link["href"] for link in fc["links"]}
    assert "offset=6" in rels["next"] and "offset=0" in rels["prev"]
    f = fc["features"][0]
    assert f["geometry"]["type"] == "Point" and len(fc["bbox"]) == 4
    assert f["properties"]["population"] == 200
    last = c.get(rels["next"], headers=hdr("viewer")).json()
    assert last["numberReturned"] == 2 and "next" not in {link["rel"] for link in last["links"]}
    # bbox: the western township's villages only
    fc = c.get(f"/v1/datasets/tiny/villages?bbox={LON0},{LAT0},{LON0 + 0.099},{LAT0 + 0.1}",
               headers=hdr("viewer")).json()
    assert sorted(f["id"] for f in fc["features"]) == ["V1", "V2", "V3", "V4"]
    assert_problem(c.get("/v1/datasets/tiny/villages?bbox=1,2,3", headers=hdr("viewer")), 400, "invalid-bbox")
    groups = c.get("/v1/datasets/tiny/groups", headers=hdr("viewer")).json()
    assert groups["features"][0]["geometry"] is None and groups["features"][0]["properties"]["sectors"]
    assert_problem(c.get("/v1/datasets/tiny/nolayer", headers=hdr("viewer")), 422)


def test_personal_fields_only_for_planner_and_admin(c):
    for role, sees in (("viewer", False), ("planner", True), ("admin", True)):
        r = c.get("/v1/datasets/tiny/constituents?limit=5", headers=hdr(role))
        if not sees:  # constituents are personal as a whole: not even without their names
            assert r.status_code == 403 and r.json()["type"].endswith("personal-data")
            assert "群众" not in r.text and "1380000" not in r.text
            assert c.get("/v1/datasets/tiny/constituents/P001", headers=hdr(role)).status_code == 403
            continue
        props = r.json()["features"][0]["properties"]
        assert "name" in props and "phone" in props, (role, props)
        one = c.get("/v1/datasets/tiny/constituents/P001", headers=hdr(role)).json()
        assert "phone" in one["properties"]


# --- feature edits -----------------------------------------------------------------------------

@pytest.mark.slow  # > 3 s
def test_feature_edit_with_etags(c):
    url = "/v1/datasets/tiny/villages/V2"
    r = c.get(url, headers=hdr("admin"))
    etag = r.headers["etag"]
    assert r.json()["properties"]["population"] == 500
    patch = {"type": "Feature", "properties": {"population": 650}}
    assert_problem(c.patch(url, json=patch, headers=hdr("admin")), 428, "precondition-required")
    assert_problem(c.patch(url, json=patch, headers={**hdr("admin"), "If-Match": '"stale"'}), 412,
                   "version-mismatch")
    assert_problem(c.patch(url, json=patch, headers={**hdr("planner"), "If-Match": etag}), 403)
    r = c.patch(url, json=patch, headers={**hdr("admin"), "If-Match": etag})
    assert r.status_code == 200 and r.json()["properties"]["population"] == 650
    new_etag = r.headers["etag"]
    assert new_etag != etag
    assert c.get("/v1/datasets/tiny", headers=hdr("viewer")).json()["version"] == 2
    # the second editor, still holding the old ETag, is refused: no silent overwrite
    r2 = c.patch(url, json={"properties": {"population": 1}}, headers={**hdr("admin"), "If-Match": etag})
    assert_problem(r2, 412)
    assert c.get(url, headers=hdr("viewer")).json()["properties"]["population"] == 650
    # an edit of another feature is not blocked by the first one
    e3 = c.get("/v1/datasets/tiny/villages/V3", headers=hdr("admin")).headers["etag"]
    r = c.patch("/v1/datasets/tiny/villages/V3", json={"properties": {"name": "三村新"},
                                                       "geometry": {"type": "Point",
                                                                    "coordinates": [LON0 + 0.081, LAT0 + 0.08]}},
                headers={**hdr("admin"), "If-Match": e3})
    assert r.status_code == 200 and r.json()["geometry"]["coordinates"][0] == pytest.approx(LON0 + 0.081)
    # the layer collection reflects the edits
    fc = c.get("/v1/datasets/tiny/villages", headers=hdr("viewer")).json()
    assert {f["id"]: f["properties"]["population"] for f in fc["features"]}["V2"] == 650


def test_invalid_edits_are_refused_and_nothing_stored(c):
    url = "/v1/datasets/tiny/stations/S2"
    etag = c.get(url, headers=hdr("admin")).headers["etag"]
    body = assert_problem(c.patch(url, json={"properties": {"kind": "castle", "sectors": ["农业"]}},
                                  headers={**hdr("admin"), "If-Match": etag}), 422, "dataset-invalid")
    assert body["errors"][0]["code"] == "unknown_kind" and body["errors"][0]["feature_id"] == "S2"
    body = assert_problem(c.patch(url, json={"properties": {"colour": "red"}},
                                  headers={**hdr("admin"), "If-Match": etag}), 422, "invalid-feature")
    assert body["errors"][0]["field"] == "colour"
    assert_problem(c.patch(url, content=b"{not json", headers={**hdr("admin"), "If-Match": etag,
                                                               "Content-Type": "application/json"}), 400)
    # deleting a township that villages refer to breaks references: refused with the offenders named
    t_etag = c.get("/v1/datasets/tiny/townships/T1", headers=hdr("admin")).headers["etag"]
    body = assert_problem(c.delete("/v1/datasets/tiny/townships/T1", headers={**hdr("admin"), "If-Match": t_etag}),
                          422)
    assert {e["feature_id"] for e in body["errors"] if e["layer"] == "villages"} >= {"V1", "V2"}
    assert c.get("/v1/datasets/tiny", headers=hdr("viewer")).json()["version"] == 1


@pytest.mark.slow  # > 3 s
def test_feature_create_and_delete(c):
    url = "/v1/datasets/tiny/stations/S9"
    new = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [LON0 + 0.15, LAT0 + 0.09]},
           "properties": {"name": "新联系点", "kind": "界别联系点", "sectors": ["教育"], "capacity": 1}}
    assert_problem(c.put(url, json=new, headers=hdr("admin")), 428)
    r = c.put(url, json=new, headers={**hdr("admin"), "If-None-Match": "*"})
    assert r.status_code == 201, r.text
    assert r.json()["properties"]["kind"] == "contact_point"  # canonicalised on validation
    assert_problem(c.put(url, json=new, headers={**hdr("admin"), "If-None-Match": "*"}), 412)
    # nearest sees the new station at once (the cache follows the new version)
    near = c.get(f"/v1/datasets/tiny/nearest?lon={LON0 + 0.15}&lat={LAT0 + 0.09}", headers=hdr("viewer")).json()
    assert near["results"][0]["station_id"] == "S9" and near["dataset_version"] == 2
    etag = r.headers["etag"]
    assert c.delete(url, headers={**hdr("admin"), "If-Match": etag}).status_code == 204
    assert_problem(c.get(url, headers=hdr("viewer")), 404, "feature-not-found")


# --- nearest -----------------------------------------------------------------------------------

def test_nearest_matches_the_index(c, tiny):
    from geo_service.core.index import StationIndex

    rng = np.random.default_rng(7)
    pts = np.column_stack([LON0 + rng.random(50) * 0.2, LAT0 + rng.random(50) * 0.1])
    ref = StationIndex.from_dataset(tiny).nearest(pts[:, 0], pts[:, 1], k=2)
    lon, lat = pts[0]
    one = c.get(f"/v1/datasets/tiny/nearest?lon={lon}&lat={lat}&k=2", headers=hdr("viewer")).json()
    assert [r["station_id"] for r in one["results"]] == list(ref.station_id[0])
    assert one["results"][0]["distance_m"] == pytest.approx(ref.distance_m[0, 0], abs=0.1)
    forms = [pts.tolist(), [{"lon": a, "lat": b} for a, b in pts],
             {"points": pts.tolist()},
             {"type": "FeatureCollection", "features": [
                 {"type": "Feature", "geometry": {"type": "Point", "coordinates": [a, b]}, "properties": {}}
                 for a, b in pts]}]
    for body in forms:
        r = c.post("/v1/datasets/tiny/nearest?k=2", json=body, headers=hdr("viewer"))
        assert r.status_code == 200, r.text
        cols = r.json()["columns"]
        assert r.json()["count"] == 50 and len(cols["station_id"]) == 100
        assert cols["station_id"] == ref.station_id.reshape(-1).tolist()
        np.testing.assert_allclose(cols["distance_m"], ref.distance_m.reshape(-1), atol=0.1)
    assert set(r.json()["stations"]) == set(ref.station_id.reshape(-1))
    assert r.json()["stations"]["S3"] == {"name": "医卫工作室", "kind": "studio"}
    # the C fast path (pairs with odd spacing) and the general path (a 3rd coordinate) agree
    spaced = "[ \n" + ",\n ".join(f"[ {a} , {b} ]" for a, b in pts) + " ]"
    with_z = json.dumps([[a, b, 0.0] for a, b in pts])
    for body in (spaced, with_z):
        r = c.post("/v1/datasets/tiny/nearest?k=2", content=body, headers=hdr("viewer"))
        assert r.json()["columns"]["station_id"] == ref.station_id.reshape(-1).tolist()
    rows = c.post("/v1/datasets/tiny/nearest?format=rows&kind=studio", json=pts[:3].tolist(),
                  headers=hdr("viewer")).json()["results"]
    assert [r["station_id"] for r in rows] == ["S3"] * 3 and rows[2]["point"] == 2


def test_nearest_filters_road_mode_and_bad_input(c):
    q = f"lon={LON0 + 0.02}&lat={LAT0 + 0.02}"
    r = c.get(f"/v1/datasets/tiny/nearest?{q}&sector=医药卫生&k=3", headers=hdr("viewer")).json()
    assert {x["station_id"] for x in r["results"]} == {"S1", "S3"}
    r = c.get(f"/v1/datasets/tiny/nearest?{q}&max_distance_m=1", headers=hdr("viewer")).json()
    assert r["results"] == []
    road = c.get(f"/v1/datasets/tiny/nearest?{q}&mode=road", headers=hdr("viewer")).json()
    assert road["results"][0]["duration_s"] > 0 and road["results"][0]["distance_m"] > 0
    v = hdr("viewer")
    assert_problem(c.get(f"/v1/datasets/tiny/nearest?{q}&kind=castle", headers=v), 422, "invalid-query")
    assert_problem(c.get(f"/v1/datasets/tiny/nearest?{q}&sector=火星", headers=v), 422)
    assert_problem(c.get(f"/v1/datasets/tiny/nearest?{q}&k=0", headers=v), 422)
    assert_problem(c.get(f"/v1/datasets/tiny/nearest?{q}&k=2&mode=road", headers=v), 422)
    assert_problem(c.post("/v1/datasets/tiny/nearest", json=[], headers=v), 422, "invalid-points")
    assert_problem(c.post("/v1/datasets/tiny/nearest", json=[[1, 2, 3, 4]], headers=v), 422)
    assert_problem(c.post("/v1/datasets/tiny/nearest", json=[["a", "b"]], headers=v), 422)
    assert_problem(c.post("/v1/datasets/tiny/nearest", json=[[LON0, 95.0]], headers=v), 422)
    assert_problem(c.post("/v1/datasets/tiny/nearest", json={"x": 1}, headers=v), 422)
    assert_problem(c.post("/v1/datasets/tiny/nearest", content=b"[[1,", headers=v), 400, "invalid-json")


@given(st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)), min_size=1, max_size=30))
@settings(max_examples=60, deadline=None)
def test_fast_pair_parser_matches_json(pairs):
    import orjson

    from api.routers.nearest import fast_pairs

    raw = orjson.dumps([list(p) for p in pairs])
    lon, lat = fast_pairs(raw)
    np.testing.assert_array_equal(lon, [p[0] for p in pairs])
    np.testing.assert_array_equal(lat, [p[1] for p in pairs])


@pytest.mark.parametrize("raw", [b"[[1,2],[3]]", b"[[1,2,3],[4]]", b"[1,[2,3]]", b"[[1,2]],[[3,4]]", b"[[1,2],[nan,3]]",
                                 b"[[1,2],[\"3\",4]]", b"[[1,,2]]", b"[[1e,2]]", b"[]", b"[[]]"])
def test_fast_pair_parser_declines_other_shapes(raw):
    from api.routers.nearest import fast_pairs

    assert fast_pairs(raw) is None


def test_batch_point_limit(tmp_path, tiny):
    with client(make_app(tmp_path / "d", tiny, max_batch_points=10)) as c:
        r = c.post("/v1/datasets/tiny/nearest", json=[[LON0, LAT0]] * 11, headers=hdr("viewer"))
        assert_problem(r, 413, "batch-too-large")
        assert c.post("/v1/datasets/tiny/nearest", json=[[LON0, LAT0]] * 10, headers=hdr("viewer")).status_code == 200


# --- coverage ----------------------------------------------------------------------------------

def test_coverage_matches_the_library(c, tiny):
    from geo_service.core.coverage import coverage_summary, find_gaps

    r = c.get("/v1/datasets/tiny/coverage?thresholds=3000,8000&gap_threshold=3000", headers=hdr("viewer"))
    assert r.status_code == 200, r.text
    body = r.json()
    ref = coverage_summary(tiny, thresholds_m=[3000, 8000])
    assert body["summary"]["total"] == ref["total"]
    gaps = find_gaps(tiny, threshold_m=3000)
    assert [g["village_id"] for g in body["gaps"]["villages"]] == gaps["village_id"].tolist()
    assert body["gaps"]["count"] == len(gaps) and "lon" in body["gaps"]["villages"][0]
    road = c.get("/v1/datasets/tiny/coverage?mode=road&thresholds=600,1200", headers=hdr("viewer")).json()
    assert road["summary"]["unit"] == "s" and len(road["summary"]["total"]) == 2
    assert_problem(c.get("/v1/datasets/tiny/coverage?thresholds=a,b", headers=hdr("viewer")), 422)
    assert_problem(c.get("/v1/datasets/tiny/coverage?kind=castle", headers=hdr("viewer")), 422)


# --- start-up and logs -------------------------------------------------------------------------

def test_demo_loaded_into_an_empty_store(tmp_path, tiny, monkeypatch):
    import geo_service.app.demo

    monkeypatch.setattr(geo_service.app.demo, "generate_demo", lambda *a, **k: tiny)  # the wiring, not the generator
    from api.app import create_app
    from api.settings import Settings

    app = create_app(Settings(data_dir=str(tmp_path / "d"), api_keys={"viewer-key-0001": "viewer"}))
    with client(app) as c:
        ids = [d["id"] for d in c.get("/v1/datasets", headers=hdr("viewer")).json()["datasets"]]
        assert ids == ["demo"]
    app = create_app(Settings(data_dir=str(tmp_path / "e"), load_demo=False))
    assert app.state.store.list_datasets() == []


def test_json_logs_carry_the_request_id(c):
    import io
    import logging

    from api.logs import JsonFormatter

    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("geo_service.api.access")
    logger.addHandler(handler)
    try:
        c.get("/v1/datasets/tiny", headers={**hdr("viewer"), "X-Request-ID": "trace-42"})
    finally:
        logger.removeHandler(handler)
    access = [json.loads(x) for x in buf.getvalue().splitlines()]
    assert access and access[-1]["request_id"] == "trace-42" and access[-1]["msg"] == "request"
    assert access[-1]["status"] == 200 and access[-1]["role"] == "viewer" and access[-1]["path"] == "/v1/datasets/tiny"
    assert access[-1]["duration_ms"] >= 0 and access[-1]["level"] == "INFO"


@pytest.mark.parametrize("fmt", ["gpkg", "csv"])
def test_dataset_export(c, tmp_path, fmt):
    from geo_service.core.io import read_dataset

    assert_problem(c.get(f"/v1/datasets/tiny/export?format={fmt}", headers=hdr("viewer")), 403)
    r = c.get(f"/v1/datasets/tiny/export?format={fmt}", headers=hdr("planner"))
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    path = tmp_path / ("x.gpkg" if fmt == "gpkg" else "x.zip")
    path.write_bytes(r.content)
    back = read_dataset(path)
    assert back.counts()["constituents"] == 60 and back.constituents["phone"].notna().all()
    r = c.get(f"/v1/datasets/tiny/export?format={fmt}&personal=false", headers=hdr("planner"))
    path.write_bytes(r.content)
    assert read_dataset(path).constituents["phone"].isna().all()


@pytest.mark.slow  # > 3 s
def test_concurrent_edits_of_different_features_both_land(c):
    """Two editors of different villages at once: the store's version check makes one retry, and
    neither edit is lost."""
    from concurrent.futures import ThreadPoolExecutor

    ids = ["V1", "V4", "V6", "V7"]
    etags = {v: c.get(f"/v1/datasets/tiny/villages/{v}", headers=hdr("admin")).headers["etag"] for v in ids}

    def edit(v):
        return c.patch(f"/v1/datasets/tiny/villages/{v}", json={"properties": {"population": 4321}},
                       headers={**hdr("admin"), "If-Match": etags[v]}).status_code

    with ThreadPoolExecutor(4) as ex:
        assert list(ex.map(edit, ids)) == [200] * 4
    fc = c.get("/v1/datasets/tiny/villages", headers=hdr("viewer")).json()
    pops = {f["id"]: f["properties"]["population"] for f in fc["features"]}
    assert all(pops[v] == 4321 for v in ids) and pops["V2"] == 500
    assert c.get("/v1/datasets/tiny", headers=hdr("viewer")).json()["version"] == 5
