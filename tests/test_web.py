"""The web page and the HTML map routes over HTTP (no browser)."""

from __future__ import annotations

import re

import pytest
from browser import make_app
from fastapi.testclient import TestClient

from geo_service.core.dataset import Dataset

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def evil_ds() -> Dataset:
    from conftest import make_tiny_layers

    layers = make_tiny_layers()
    layers["stations"].loc[0, "name"] = XSS
    return Dataset.from_layers(layers, name="tiny")


@pytest.fixture(scope="module")
def client(tmp_path_factory, evil_ds):
    app = make_app(tmp_path_factory.mktemp("web"), {"tiny": evil_ds})
    with TestClient(app) as c:
        yield c


def test_index_lists_datasets_coverage_and_map_links(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert 'href="?dataset=tiny&amp;lang=zh">tiny</a>' in html
    # tiny county: 6,800 of 7,500 people within 5 km, everyone within 10 km (see test_maps)
    assert re.search(r"5 公里</td><td>7 / 8</td>\s*<td>6,800 / 7,500</td>\s*<td>90.7%", html)
    assert "/v1/datasets/tiny/maps/coverage?lang=zh" in html and "/v1/datasets/tiny/maps/gaps?lang=zh" in html
    assert 'id="rerun-form"' in html and 'name="minimal_change"' in html
    for name in ("constituents_min", "constituents_max", "villages_min", "villages_max",
                 "townships_per_committee", "gap_threshold_m"):
        assert f'name="{name}"' in html
    assert '<script src="/web/page.js"></script>' in html
    assert "http://" not in html and "https://" not in html  # no outside asset


def test_index_in_english(client):
    html = client.get("/?lang=en").text
    assert "Coverage map" in html and "Re-run the optimisation" in html and "覆盖地图" not in html


def test_page_script_and_static_assets_are_served(client):
    r = client.get("/web/page.js")
    assert r.status_code == 200 and "javascript" in r.headers["content-type"]
    assert "innerHTML" not in r.text  # results are inserted as text only
    r = client.get("/static/vendor/leaflet-1.9.3/dist/leaflet.js")
    assert r.status_code == 200 and "javascript" in r.headers["content-type"] and len(r.content) > 100_000
    assert client.get("/static/vendor/manifest.json").status_code == 200
    assert client.get("/static/../api/web.py").status_code == 404


def test_coverage_map_route(client):
    r = client.get("/v1/datasets/tiny/maps/coverage?lang=en&tiles=gaode")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "Covered population" in r.text and "autonavi.com" in r.text
    assert XSS not in r.text and "\\u003cimg src=x onerror=alert(1)\\u003e" in r.text
    for url in re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', r.text):
        assert url.startswith("/static/") and client.get(url).status_code == 200, url


def test_map_route_errors(client):
    assert client.get("/v1/datasets/nope/maps/coverage").status_code == 404
    assert client.get("/v1/datasets/tiny/maps/elevation").status_code == 422
    assert client.get("/v1/datasets/tiny/maps/coverage?tiles=google").status_code == 422
    r = client.get("/v1/datasets/tiny/maps/assignment")  # no run yet: the dataset's own assignment
    assert r.status_code == 200 and "尚未运行优化" in r.text
    assert client.get("/v1/datasets/tiny/maps/assignment?job=nojob").status_code == 404


def test_gaps_map_route(client):
    r = client.get("/v1/datasets/tiny/maps/gaps?threshold_m=3000")
    assert r.status_code == 200 and "新增后" in r.text


def test_page_and_maps_need_a_key_once_keys_are_set(tmp_path, evil_ds):
    app = make_app(tmp_path, {"tiny": evil_ds}, api_keys={"viewer-key-123": "viewer"})
    with TestClient(app) as c:
        assert c.get("/").status_code == 401
        assert c.get("/v1/datasets/tiny/maps/coverage").status_code == 401
        r = c.get("/", headers={"X-API-Key": "viewer-key-123"})
        assert r.status_code == 200 and "tiny" in r.text
        assert c.get("/v1/datasets/tiny/maps/coverage", headers={"X-API-Key": "viewer-key-123"}).status_code == 200
        assert c.get("/static/vendor/leaflet-1.9.3/dist/leaflet.css").status_code == 200  # assets are public
