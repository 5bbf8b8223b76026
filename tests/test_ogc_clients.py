"""OGC API - Features, Tiles and Processes read by clients nobody here wrote: GDAL's OAPIF driver
(``ogrinfo``/``ogr2ogr``, the driver QGIS uses), OWSLib, and the ``mapbox-vector-tile`` decoder.

The service runs in uvicorn on a free loopback port (local demo mode: loopback is admin) on a store
holding a real county (崇阳县, ../shared/real/chongyang, GCJ-02 coordinates; a station per township
at its first village) and the tiny hand-made county, on which the Processes tests start an
optimisation, a roster and a gap closing. Figures are checked against independent counts: GDAL's
own spatial filter on the store's GeoPackage, and the raw CSV's GCJ-02 coordinates.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import threading
import time
from pathlib import Path

import geopandas as gpd
import httpx
import numpy as np
import pandas as pd
import pytest
import shapely

from api.app import create_app
from api.settings import Settings
from browser import free_port
from conftest import make_tiny_layers, skip_unless_ci
from geo_service.core.dataset import Dataset
from geo_service.core.io import read_dataset
from geo_service.core.store import SQLiteStore
from shared_data import real_county, require_shared

REAL = real_county("chongyang")
GCJ02 = "urn:x-geo-service:def:crs:GCJ-02"
pytestmark = pytest.mark.slow


def _need(tool: str) -> None:
    if shutil.which(tool) is None:
        skip_unless_ci(f"{tool} is absent (apt-get install gdal-bin)")


def real_county() -> Dataset:
    """崇阳县 as imported (GCJ-02, rows without coordinates dropped), a comprehensive station per
    township at its first village (by id)."""
    ds = read_dataset(REAL, datum="gcj02", missing_points="drop", name="chongyang")
    v = ds.villages.sort_values("id")
    first = v.groupby("township_id", sort=True).head(1)
    stations = gpd.GeoDataFrame({"id": [f"S{i:02d}" for i in range(len(first))],
                                 "name": [f"{n}综合站" for n in first["name"]],
                                 "kind": "station_comprehensive", "sectors": [["经济"]] * len(first),
                                 "capacity": 5, "township_id": first["township_id"].to_numpy()},
                                geometry=first.geometry.to_numpy(), crs="EPSG:4326")
    return ds.with_layers(stations=stations)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_shared(REAL, "the real county 崇阳县")
    import uvicorn

    data = tmp_path_factory.mktemp("ogc-store")
    store = SQLiteStore(data)
    store.put_dataset("chongyang", real_county())
    tiny = Dataset.from_layers(make_tiny_layers(), name="tiny")
    tiny = tiny.with_layers(villages=tiny.villages.assign(name=tiny.villages["name"].where(
        tiny.villages["id"] != "V4", "<script>alert(1)</script>村")))
    store.put_dataset("tiny", tiny)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(Settings(data_dir=str(data), load_demo=False, public_base_url=url, log_level="WARNING"),
                     store=store)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the test server did not start"
        time.sleep(0.05)
    yield {"url": url, "store": store, "data": data}
    srv.should_exit = True
    thread.join(timeout=10)


def _ogr(*args: str) -> str:
    r = subprocess.run(["ogrinfo", "-ro", *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _count(out: str) -> int:
    return int(next(line for line in out.splitlines() if line.startswith("Feature Count:")).split(":")[1])


def _wait(url: str, job_id: str, timeout_s: float = 120) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        j = httpx.get(f"{url}/v1/jobs/{job_id}").json()
        if j["status"] in ("successful", "failed", "dismissed"):
            return j
        assert time.monotonic() < deadline, f"job {job_id} still {j['status']}"
        time.sleep(0.3)


def test_gdal_copies_every_layer_to_a_geopackage_equal_to_the_store(server, tmp_path):
    _need("ogr2ogr")
    out = tmp_path / "copy.gpkg"
    r = subprocess.run(["ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{server['url']}/v1/datasets/chongyang",
                        "-oo", "PAGE_SIZE=100"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    ds = server["store"].get_dataset("chongyang")
    listed = [c["id"] for c in httpx.get(f"{server['url']}/v1/datasets/chongyang/collections").json()["collections"]]
    import pyogrio

    copied = {name for name, _ in pyogrio.list_layers(out)}
    assert set(listed) == copied
    for layer in ("villages", "townships", "stations", "counties"):
        got = gpd.read_file(out, layer=layer).sort_values("id").reset_index(drop=True)
        want = ds[layer].sort_values("id").reset_index(drop=True)
        assert got["id"].tolist() == want["id"].astype(str).tolist(), layer
        assert got["name"].tolist() == want["name"].tolist(), layer
        assert np.all(shapely.equals_exact(got.geometry.to_numpy(), want.geometry.to_numpy(), 1e-9)), layer
    cov = gpd.read_file(out, layer="coverage")
    assert len(cov) == len(ds.villages) and cov["nearest_m"].notna().all()
    # every station's own village lies 0 m from it; no village is nearer than 0
    assert (cov["nearest_m"] >= 0).all() and (cov["nearest_m"] < 1).sum() >= len(ds.stations)


def test_gdal_bbox_counts_agree_with_gdal_on_the_stored_geopackage(server):
    _need("ogrinfo")
    store_file = sorted(Path(server["data"]).rglob("*.gpkg"))
    ds = server["store"].get_dataset("chongyang")
    x0, y0, x1, y1 = ds.villages.total_bounds + np.array([-0.01, -0.01, 0.01, 0.01])  # no village on an edge
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    gpkg = next(p for p in store_file if "chongyang" in str(p))
    for box in ((x0, y0, xm, ym), (xm, y0, x1, ym), (x0, ym, xm, y1), (xm - 0.05, ym - 0.05, xm + 0.05, ym + 0.05)):
        spat = [f"{v:.6f}" for v in box]
        served = _count(_ogr("-so", "-spat", *spat, f"OAPIF:{server['url']}/v1/datasets/chongyang", "villages"))
        direct = _count(_ogr("-so", "-spat", *spat, str(gpkg), "villages"))
        assert served == direct and served > 0, box


def test_gdal_attribute_filter_and_default_paging(server):
    _need("ogrinfo")
    ds = server["store"].get_dataset("chongyang")
    town = ds.villages["township_id"].value_counts().index[0]
    out = _ogr("-so", "-where", f"township_id='{town}'", f"OAPIF:{server['url']}/v1/datasets/chongyang", "villages")
    assert _count(out) == int((ds.villages["township_id"] == town).sum())
    # the default page of 10 features, followed through every next link
    out = _ogr("-q", "-al", f"OAPIF:{server['url']}/v1/datasets/chongyang", "villages")
    assert out.count("OGRFeature(villages)") == len(ds.villages)


def test_bbox_in_gcj02_agrees_with_the_raw_csv(server):
    with (REAL / "villages.csv").open(encoding="utf-8-sig") as f:
        rows = [r for r in csv.DictReader(f) if r["经度"].strip() and r["纬度"].strip()]
    lon = np.array([float(r["经度"]) for r in rows])
    lat = np.array([float(r["纬度"]) for r in rows])
    box = (np.percentile(lon, 20), np.percentile(lat, 30), np.percentile(lon, 70), np.percentile(lat, 90))
    inside = (lon >= box[0]) & (lon <= box[2]) & (lat >= box[1]) & (lat <= box[3])
    edge = (np.minimum.reduce([abs(lon - box[0]), abs(lon - box[2]), abs(lat - box[1]), abs(lat - box[3])]) < 1e-6)
    r = httpx.get(f"{server['url']}/v1/datasets/chongyang/collections/villages/items",
                  params={"bbox": ",".join(map(str, box)), "bbox-crs": GCJ02, "crs": GCJ02, "limit": 1000})
    assert r.status_code == 200 and r.headers["content-crs"] == f"<{GCJ02}>"
    body = r.json()
    assert abs(body["numberMatched"] - int(inside.sum())) <= int(edge.sum())
    raw = {r["代码"]: (float(r["经度"]), float(r["纬度"])) for r in rows}
    for f in body["features"]:  # served back in GCJ-02: the file's own numbers, to about 1 cm
        assert np.allclose(f["geometry"]["coordinates"], raw[f["id"]], atol=2e-7)


def test_crs_by_reference_follows_each_crs_axis_order(server):
    from pyproj import Transformer

    base = f"{server['url']}/v1/datasets/chongyang/collections/villages"
    coll = httpx.get(base).json()
    gk = next(c for c in coll["crs"] if c.rsplit("/", 1)[-1].startswith("45"))
    assert gk.endswith("/4547")  # 崇阳 lies near 114°E: CGCS2000 / 3-degree Gauss-Kruger CM 114E
    plain = httpx.get(f"{base}/items", params={"limit": 5}).json()["features"]
    cgcs = httpx.get(f"{base}/items", params={"limit": 5, "crs": "http://www.opengis.net/def/crs/EPSG/0/4490"}).json()
    metric = httpx.get(f"{base}/items", params={"limit": 5, "crs": gk}).json()["features"]
    t = Transformer.from_crs("EPSG:4326", "EPSG:4547", always_xy=True)
    for p, c, m in zip(plain, cgcs["features"], metric):
        lon, lat = p["geometry"]["coordinates"]
        assert c["geometry"]["coordinates"] == pytest.approx([lat, lon])  # EPSG:4490 is lat, lon
        e, n = t.transform(lon, lat)
        assert m["geometry"]["coordinates"] == pytest.approx([n, e], abs=0.01)  # northing, easting (m)
    bad = httpx.get(f"{base}/items", params={"crs": "http://www.opengis.net/def/crs/EPSG/0/3857"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "crs"


def test_owslib_features_reads_collections_and_pages(server):
    from owslib.ogcapi.features import Features

    w = Features(f"{server['url']}/v1/datasets/chongyang")
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in w.conformance()["conformsTo"]
    ids = [c["id"] for c in w.collections()["collections"]]
    assert {"villages", "stations", "townships", "coverage"} <= set(ids) and "constituents" in ids  # admin
    ds = server["store"].get_dataset("chongyang")
    page = w.collection_items("villages", limit=50, offset=100)
    assert page["numberMatched"] == len(ds.villages) and page["numberReturned"] == 50
    assert [f["id"] for f in page["features"]] == ds.villages["id"].astype(str).tolist()[100:150]
    nxt = next(lk for lk in page["links"] if lk["rel"] == "next")["href"]
    assert "offset=150" in nxt and nxt.startswith(server["url"])
    one = w.collection_item("villages", page["features"][0]["id"])
    assert one["properties"]["name"] == page["features"][0]["properties"]["name"]


def test_single_item_etag_matches_the_compact_route_and_answers_304(server):
    base = f"{server['url']}/v1/datasets/tiny"
    r = httpx.get(f"{base}/collections/stations/items/S1")
    assert r.status_code == 200 and r.headers["etag"] == httpx.get(f"{base}/stations/S1").headers["etag"]
    assert httpx.get(f"{base}/collections/stations/items/S1", headers={"If-None-Match": r.headers["etag"]}
                     ).status_code == 304
    missing = httpx.get(f"{base}/collections/stations/items/NOPE")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")


def test_html_pages_escape_user_text(server):
    r = httpx.get(f"{server['url']}/v1/datasets/tiny/collections/villages/items", params={"f": "html"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "<script>alert" not in r.text and "&lt;script&gt;alert(1)&lt;/script&gt;村" in r.text
    assert "村社区" in r.text and "共 8 个" in r.text  # Chinese words by default
    en = httpx.get(f"{server['url']}/v1/datasets/tiny/collections/villages/items", params={"f": "html", "lang": "en"})
    assert "8 in all" in en.text


def test_mvt_tiles_decode_back_to_the_villages(server):
    import mapbox_vector_tile

    from api.routers.ogc.tiles import EXTENT, lonlat_to_tile, tile_bounds

    ds = server["store"].get_dataset("chongyang")
    lon, lat = ds.villages.geometry.x.to_numpy(), ds.villages.geometry.y.to_numpy()
    z = 7
    tiles = {lonlat_to_tile(a, b, z) for a, b in zip(lon, lat)}
    seen: dict[str, tuple[float, float]] = {}
    for x, y in tiles:
        r = httpx.get(f"{server['url']}/v1/datasets/chongyang/tiles/WebMercatorQuad/{z}/{y}/{x}")
        assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
        tile = mapbox_vector_tile.decode(r.content)
        assert {"villages", "stations", "coverage"} <= set(tile)
        minx, miny, maxx, maxy = tile_bounds(z, x, y)
        for f in tile["villages"]["features"]:
            px, py = f["geometry"]["coordinates"]
            if 0 <= px <= EXTENT and 0 <= py <= EXTENT:  # the decoder flips y back to up
                seen[f["properties"]["id"]] = (minx + px / EXTENT * (maxx - minx), miny + py / EXTENT * (maxy - miny))
    assert set(seen) == set(ds.villages["id"].astype(str))
    from pyproj import Transformer

    t = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    mx, my = t.transform(lon, lat)
    got = np.array([seen[i] for i in ds.villages["id"].astype(str)])
    pixel_m = (tile_bounds(z, 0, 0)[2] - tile_bounds(z, 0, 0)[0]) / EXTENT
    assert np.abs(got - np.column_stack([mx, my])).max() <= pixel_m  # placed to within a tile pixel
    empty = httpx.get(f"{server['url']}/v1/datasets/chongyang/tiles/WebMercatorQuad/7/0/0")
    assert empty.status_code == 204
    assert httpx.get(f"{server['url']}/v1/datasets/chongyang/tiles/WebMercatorQuad/2/9/0").status_code in (404, 422)


def test_owslib_processes_start_a_roster_follow_it_and_fetch_results(server):
    from owslib.ogcapi.processes import Processes

    p = Processes(f"{server['url']}/v1/")
    assert {"optimisation", "roster", "close-gaps", "batch"} <= {x["id"] for x in p.processes()}
    desc = p.process("roster")
    assert desc["inputs"]["dataset"]["minOccurs"] == 1 and "months" in desc["inputs"]
    started = p.execute("roster", inputs={"dataset": "tiny", "start": "2027-01", "months": 3,
                                          "sectors_min": 0, "member_min": 0}, async_=True)
    assert started["status"] == "accepted" and started["processID"] == "roster"
    assert p.response_headers["Location"].endswith(f"/v1/jobs/{started['jobID']}")
    done = _wait(server["url"], started["jobID"])
    assert done["status"] == "successful", done
    assert done["jobID"] == started["jobID"] and done["type"] == "process"
    res = httpx.get(f"{server['url']}/v1/jobs/{started['jobID']}/results").json()
    assert res["result"]["months"] == ["2027-01", "2027-02", "2027-03"]
    # the roster is now the duty layer: one point per platform with its members' names
    duty = httpx.get(f"{server['url']}/v1/datasets/tiny/collections/duty/items").json()
    assert duty["numberMatched"] >= 1 and all(f["geometry"]["type"] == "Point" for f in duty["features"])


def test_processes_optimisation_and_close_gaps_become_result_layers_gdal_reads(server):
    _need("ogrinfo")
    url = server["url"]
    opt = httpx.post(f"{url}/v1/processes/optimisation/execution", headers={"Prefer": "respond-async"},
                     json={"inputs": {"dataset": "tiny", "time_limit_s": 10, "villages": "all"}})
    assert opt.status_code == 201 and opt.headers["preference-applied"] == "respond-async"
    gaps = httpx.post(f"{url}/v1/processes/close-gaps/execution",
                      json={"inputs": {"dataset": "chongyang", "threshold_m": 3000, "time_limit_s": 20}})
    assert gaps.status_code == 201
    for r in (opt, gaps):
        assert _wait(url, r.json()["jobID"])["status"] == "successful"
    result = httpx.get(f"{url}/v1/jobs/{gaps.json()['jobID']}/results").json()["result"]
    assert result["status"] in ("optimal", "feasible") and "bound" in result and "gap" in result
    out = _ogr("-so", f"OAPIF:{url}/v1/datasets/chongyang", "proposals")
    assert _count(out) == len(result["proposed"]) > 0
    zones = _ogr("-so", f"OAPIF:{url}/v1/datasets/tiny", "zones")
    assert "Multi Polygon" in zones and _count(zones) == 2  # every village in a zone of one of the two groups
    assert _count(_ogr("-so", f"OAPIF:{url}/v1/datasets/tiny", "contact_points")) >= 1
    bad = httpx.post(f"{url}/v1/processes/close-gaps/execution", json={"inputs": {"dataset": "tiny",
                                                                                  "threshold_m": -1}})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "inputs.threshold_m"


def test_conformance_claims_only_tested_classes(server):
    from openapi_spec_validator import validate

    claimed = set(httpx.get(f"{server['url']}/v1/datasets/tiny/conformance").json()["conformsTo"])
    api = httpx.get(f"{server['url']}/v1/api")
    assert api.headers["content-type"].startswith("application/vnd.oai.openapi+json;version=3.0")
    doc = api.json()
    validate(doc)  # a valid OpenAPI 3.0 document (the 3.1 one of /openapi.json is not)
    assert doc["openapi"] == "3.0.3" and "/v1/datasets/{dataset_id}/collections/{collection_id}/items" in doc["paths"]
    tested = {"ogcapi-features-1/1.0/conf/core", "ogcapi-features-1/1.0/conf/geojson", "ogcapi-features-1/1.0/conf/oas30",
              "ogcapi-features-1/1.0/conf/html", "ogcapi-features-2/1.0/conf/crs", "ogcapi-common-1/1.0/conf/core",
              "ogcapi-tiles-1/1.0/conf/core", "ogcapi-tiles-1/1.0/conf/tileset",
              "ogcapi-tiles-1/1.0/conf/tilesets-list", "ogcapi-tiles-1/1.0/conf/geodata-tilesets",
              "ogcapi-tiles-1/1.0/conf/mvt"}
    assert {c.split("/spec/", 1)[1] for c in claimed} == tested
    landing = httpx.get(f"{server['url']}/v1/datasets/tiny").json()
    assert {"conformance", "data", "service-desc"} <= {lk["rel"] for lk in landing["links"]}
    assert landing["counts"]["villages"] == 8  # what the route returned before stays
    json.dumps(landing)
    assert pd.notna(landing["version"])


@pytest.mark.browser
def test_html_pages_in_chromium(server, chromium, tmp_path):
    page, log = chromium.page()
    try:
        for width in (1280, 375):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{server['url']}/v1/datasets/chongyang?f=html")
            assert page.locator("a[href$='/collections']").count() >= 1
            page.goto(f"{server['url']}/v1/datasets/chongyang/collections?f=html")
            page.click("text=villages")  # the items page of the villages, as HTML
            page.wait_for_selector("table tr >> nth=10")
            assert page.url.endswith("/collections/villages/items?f=html")
            rows = page.locator("table tr").count() - 1
            assert rows == min(1000, len(server["store"].get_dataset("chongyang").villages))
            page.screenshot(path=str(tmp_path / f"items-{width}.png"))
            page.goto(f"{server['url']}/v1/datasets/tiny/collections/villages/items/V4?f=html")
            assert "<script>alert(1)</script>村" in page.inner_text("h1")  # shown as text
            page.goto(f"{server['url']}/v1/datasets/chongyang/collections/villages?f=html")
            assert "GCJ-02" in page.inner_text("body") and "EPSG:4547" in page.inner_text("body")
            page.screenshot(path=str(tmp_path / f"collection-{width}.png"))
        assert log.page_errors == [] and log.dialogs == [] and log.console_errors == []
    finally:
        page.close()
