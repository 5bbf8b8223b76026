"""Province-size coverage maps: hex-bin aggregates on the first page, villages from vector tiles
as the planner zooms in (and by bbox for API clients).

One synthetic province of ~20,000 villages (36 merged counties) serves every test of the module.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

import maps
from browser import live_server, make_app
from geo_service.app.province_merge import merge_counties, province_dataset
from geo_service.core.coverage import coverage_summary, last_mile, village_weights
from geo_service.core.crs import wgs84_to_gcj02
from maps.aggregate import LARGE_VILLAGES, aggregate_villages, hex_index, hex_polygons, hex_size_m
from maps.render import data_layers

THRESHOLDS = (5000.0, 10000.0, 20000.0)
URL = "/v1/datasets/prov/maps/coverage/villages"
PAYLOAD = "</script><img src=x onerror=alert(1)>{{7*7}}村"


@pytest.fixture(scope="module")
def province():
    ds = province_dataset(20_000, seed=3)
    assert len(ds.villages) >= 20_000 > LARGE_VILLAGES
    # the village nearest the middle carries markup and template text: it must show as text
    x, y = _xy(ds)
    i = int(np.argmin(np.hypot(x - np.median(x), y - np.median(y))))
    ds.villages.loc[ds.villages.index[i], "name"] = PAYLOAD
    return ds


@pytest.fixture(scope="module")
def measure(province):
    lm = last_mile(province).set_index("village_id").reindex(province.villages["id"].astype(str))
    return lm["nearest_m"].to_numpy(float)


@pytest.fixture(scope="module")
def client(province, tmp_path_factory):
    from fastapi.testclient import TestClient

    app = make_app(tmp_path_factory.mktemp("prov"), {"prov": province})
    with TestClient(app) as c:
        yield c


def _xy(ds):
    return ds.villages.geometry.x.to_numpy(), ds.villages.geometry.y.to_numpy()


# --- the page ------------------------------------------------------------------------------------------

@pytest.mark.slow  # the 20,000-village province fixture
def test_served_page_of_20k_villages_is_small_and_holds_no_village(province):
    m = maps.coverage_map(province, detail_url="coverage/villages")
    html = m.get_root().render()
    assert len(html.encode()) < 3 * 2**20  # 3 MB; today's page drawing every village was 7.9 MB
    layers = data_layers(m)
    assert not any(name.startswith("村社区（") for name in layers)  # no per-village layer
    hexes = next(l for name, l in layers.items() if name.startswith("村/社区汇总"))
    assert 100 <= hexes.n_features <= 2000
    assert sum(f["properties"]["v"][0] for f in hexes.data["features"]) == len(province.villages)
    gaps = next(l for name, l in layers.items() if name.startswith("覆盖缺口"))
    assert gaps.n_features <= 10  # only the numbered gap villages
    assert '"url":"coverage/villages"' in html and "gsDetail.attach(" in html
    assert 'style="' not in html.split("<body>", 1)[1].split("<script>", 1)[0]  # CSP: no inline style attributes


@pytest.mark.slow  # the 20,000-village province fixture
def test_standalone_page_of_20k_villages_holds_aggregates_and_says_so(province, tmp_path):
    out = maps.write_standalone(maps.coverage_map(province, lang="en"), tmp_path / "p.html")
    html = out.read_text(encoding="utf-8")
    assert len(html.encode()) < 3 * 2**20
    assert '"url":null' in html and "this offline file has no village details" in html


def test_small_datasets_keep_every_village(demo):
    layers = data_layers(maps.coverage_map(demo))
    assert layers["村社区（按最近站点距离着色）"].n_features == len(demo.villages)
    assert not any("汇总" in name for name in layers)


def test_village_limit_is_a_parameter(tiny):
    m = maps.coverage_map(tiny, village_limit=5, gap_threshold=7000)
    layers = data_layers(m)
    hexes = next(l for name, l in layers.items() if name.startswith("村/社区汇总"))
    assert sum(f["properties"]["v"][0] for f in hexes.data["features"]) == len(tiny.villages)
    assert "7 公里以内覆盖占比" in m.get_root().render()  # coloured by the share within the gap threshold
    with pytest.raises(ValueError, match="size_m"):
        hex_index(np.zeros(1), np.zeros(1), 0)


# --- aggregates ------------------------------------------------------------------------------------------

@pytest.mark.slow  # the 20,000-village province fixture
def test_hex_bins_add_up_to_villages_counted_independently(province, measure):
    v = province.villages
    bins, side, basis = aggregate_villages(v, measure, THRESHOLDS, province.metric_crs)
    assert basis == "population" and side >= 1000
    # independently: which hexagon polygon (metres) holds each village point
    pts = v.geometry.to_crs(province.metric_crs)
    polys = hex_polygons(bins["q"].to_numpy(), bins["r"].to_numpy(), side)
    hit_pt, hit_poly = shapely.STRtree(polys).query(pts.to_numpy(), predicate="intersects")
    assert np.array_equal(np.bincount(hit_pt, minlength=len(v)), np.ones(len(v), int))  # each in exactly one
    counts = np.bincount(hit_poly, minlength=len(bins))
    assert np.array_equal(counts, bins["villages"].to_numpy())
    pop = pd.to_numeric(v["population"]).to_numpy(float)
    assert np.allclose(np.bincount(hit_poly, weights=pop[hit_pt], minlength=len(bins)), bins["weight"])
    for i, t in enumerate(THRESHOLDS):
        cov = np.where(measure[hit_pt] <= t, pop[hit_pt], 0.0)
        assert np.allclose(np.bincount(hit_poly, weights=cov, minlength=len(bins)), bins[f"within_{i}"])
    # and the totals agree with the coverage summary of the service
    total = coverage_summary(province, thresholds_m=THRESHOLDS)["total"]
    for i, row in enumerate(total):
        assert round(bins[f"within_{i}"].sum()) == row["covered_population"]


@pytest.mark.slow  # the 20,000-village province fixture
def test_hex_bins_count_villages_when_populations_are_unknown(province, measure):
    v = province.villages.assign(population=np.nan)
    assert village_weights(v).basis == "villages"
    bins, _, basis = aggregate_villages(v, measure, THRESHOLDS, province.metric_crs)
    assert basis == "villages"
    assert np.array_equal(bins["weight"].to_numpy(), bins["villages"].to_numpy(float))
    assert bins["within_1"].sum() == int((measure <= THRESHOLDS[1]).sum())


def test_hex_size_aims_at_about_a_thousand_bins():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 300_000, 20_000), rng.uniform(0, 300_000, 20_000)
    s = hex_size_m(x, y)
    n = len(set(zip(*hex_index(x, y, s))))
    assert 500 <= n <= 1500 and s % 500 == 0


# --- the bbox endpoint -------------------------------------------------------------------------------------

@pytest.mark.slow  # the 20,000-village province fixture
def test_bbox_returns_exactly_the_villages_inside(client, province):
    x, y = _xy(province)
    cx, cy = float(np.median(x)), float(np.median(y))
    box = (cx - 0.3, cy - 0.2, cx + 0.3, cy + 0.2)
    r = client.get(URL, params={"bbox": ",".join(map(str, box)), "limit": 5000})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/geo+json")
    body = r.json()
    inside = shapely.box(*box).covers(shapely.points(x, y))  # edges included
    expected = set(province.villages["id"].astype(str)[inside])
    got = [f["properties"]["i"] for f in body["features"]]
    assert body["complete"] is True and body["count"] == len(got) == len(set(got))
    assert set(got) == expected and 100 < len(got) <= 5000
    f = body["features"][0]
    assert f["geometry"]["type"] == "Point" and len(f["properties"]["v"]) == 5
    band, radius = f["properties"]["c"].split(":")
    assert 0 <= int(band) <= 4 and 4 <= float(radius) <= 12


@pytest.mark.slow  # the 20,000-village province fixture
def test_bbox_in_gcj02_filters_shifted_coordinates(client, province):
    x, y = _xy(province)
    gx, gy = wgs84_to_gcj02(x, y)
    cx, cy = float(np.median(gx)), float(np.median(gy))
    box = (cx - 0.1, cy - 0.1, cx + 0.1, cy + 0.1)
    body = client.get(URL, params={"bbox": ",".join(map(str, box)), "datum": "gcj02"}).json()
    inside = (gx >= box[0]) & (gx <= box[2]) & (gy >= box[1]) & (gy <= box[3])
    assert {f["properties"]["i"] for f in body["features"]} == set(province.villages["id"].astype(str)[inside])


@pytest.mark.slow  # the 20,000-village province fixture
def test_bbox_over_the_limit_says_zoom_in(client, province):
    x, y = _xy(province)
    box = (float(x.min()), float(y.min()), float(x.max()), float(y.max()))
    r = client.get(URL, params={"bbox": ",".join(map(str, box)), "limit": 1000})
    assert r.status_code == 200
    body = r.json()
    assert body["complete"] is False and body["features"] == []
    assert body["count"] == len(province.villages) and body["limit"] == 1000
    assert "zoom in" in body["message"] and "请放大" in body["message"]


@pytest.mark.slow  # the 20,000-village province fixture
@pytest.mark.parametrize("params, field", [
    ({"bbox": "1,2,3"}, "bbox"), ({"bbox": "a,b,c,d"}, "bbox"), ({"bbox": "10,50,5,60"}, "bbox"),
    ({"bbox": "0,0,1,nan"}, "bbox"), ({"bbox": "0,-95,1,1"}, "bbox"), ({"bbox": "0,0,1,1", "limit": 100_000}, "limit"),
    ({}, "bbox")])
def test_bad_requests_name_the_parameter(client, params, field):
    r = client.get(URL, params=params)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in r.text


@pytest.mark.slow  # the 20,000-village province fixture
def test_unknown_dataset_and_roles(client, tmp_path, tiny):
    from fastapi.testclient import TestClient

    assert client.get("/v1/datasets/nope/maps/coverage/villages", params={"bbox": "0,0,1,1"}).status_code == 404
    app = make_app(tmp_path, {"tiny": tiny}, api_keys={"v" * 24: "viewer"})
    with TestClient(app) as c:
        url = "/v1/datasets/tiny/maps/coverage/villages?bbox=130,46,131,47"
        assert c.get(url).status_code == 401
        r = c.get(url, headers={"X-API-Key": "v" * 24})
        assert r.status_code == 200 and r.json()["count"] == len(tiny.villages)


def test_merge_counties_needs_counties():
    with pytest.raises(ValueError, match="counties"):
        merge_counties([])


# --- in Chromium ---------------------------------------------------------------------------------------------

COUNT_JS = """() => {
  let m = null;
  for (const k of Object.keys(window)) { if (window[k] instanceof L.Map) { m = window[k]; } }
  let circles = 0, polygons = 0;
  m.eachLayer(l => { if (l instanceof L.CircleMarker) { circles++; } else if (l instanceof L.Polygon) { polygons++; } });
  return {circles, polygons, zoom: m.getZoom()};
}"""


@pytest.mark.slow  # the 20,000-village province fixture
def test_zooming_in_loads_the_villages_in_view(chromium, province, tmp_path):
    app = make_app(tmp_path, {"prov": province})
    x, y = _xy(province)
    with live_server(app) as base:
        page, log = chromium.page()
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url))
        page.set_viewport_size({"width": 1280, "height": 900})
        try:
            page.goto(f"{base}/v1/datasets/prov/maps/coverage?tiles=none")
            page.wait_for_selector(".gs-detail-note[data-state='overview']", state="attached")
            before = page.evaluate(COUNT_JS)
            assert before["circles"] == 0 and before["polygons"] > 100  # hexagons, no village
            assert "放大地图查看各村" in page.inner_text(".gs-detail-note")
            page.evaluate("""([lat, lon]) => { for (const k of Object.keys(window)) {
                if (window[k] instanceof L.Map) { window[k].setView([lat, lon], 12); } } }""",
                          [float(np.median(y)), float(np.median(x))])
            page.wait_for_selector(".gs-detail-note[data-state='detail']", state="attached")
            after = page.evaluate(COUNT_JS)
            shown = int(page.get_attribute(".gs-detail-note", "data-count"))
            assert after["zoom"] == 12 and 0 < shown <= 3000
            assert after["circles"] == shown  # one marker per village in view, hexagons gone
            # the villages came from the coverage collection's vector tiles, not the bbox endpoint
            tiles = [u for u in asked if "/v1/datasets/prov/collections/coverage/tiles/WebMercatorQuad/12/" in u]
            assert tiles and not any("maps/coverage/villages" in u for u in asked)
            page.screenshot(path=str(tmp_path / "province-1280.png"))
            # a village's popup is built from the fetched values
            page.evaluate("""() => { for (const k of Object.keys(window)) { const m = window[k];
                if (m instanceof L.Map) { m.eachLayer(l => { if (l instanceof L.CircleMarker && !m._gsOpened) {
                  m._gsOpened = true; l.openPopup(); } }); } } }""")
            page.wait_for_selector(".leaflet-popup-content .gs-popup-title")
            assert "最近站点" in page.inner_text(".leaflet-popup-content")
            # the payload village (at the centre of the view) is drawn, its name shown as text
            page.evaluate("""(name) => { for (const k of Object.keys(window)) { const m = window[k];
                if (m instanceof L.Map) { m.eachLayer(l => { if (l instanceof L.CircleMarker && l.feature
                    && l.feature.properties.n === name) { l.openPopup(); } }); } } }""", PAYLOAD)
            page.wait_for_selector(".leaflet-popup-content .gs-popup-title >> text=onerror")
            assert page.locator(".gs-popup-title", has_text="onerror").inner_text() == PAYLOAD
            assert page.locator("img[src='x']").count() == 0 and log.dialogs == []
            assert log.page_errors == [] and log.console_errors_non_tiles() == []  # CSP allowed all of it
            page.set_viewport_size({"width": 375, "height": 740})
            page.wait_for_timeout(600)
            page.screenshot(path=str(tmp_path / "province-375.png"))
        finally:
            page.close()
