"""The ``tianditu_key`` setting: Tianditu tiles are offered on the HTML maps only when a key is set."""

from __future__ import annotations

import re

import pytest
from browser import make_app
from fastapi.testclient import TestClient

TK = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def apps(tmp_path_factory, tiny):
    with_key = make_app(tmp_path_factory.mktemp("tk"), {"tiny": tiny}, tianditu_key=TK)
    without = make_app(tmp_path_factory.mktemp("notk"), {"tiny": tiny})
    with TestClient(with_key) as a, TestClient(without) as b:
        yield a, b


def tile_urls(html: str) -> list[str]:
    return re.findall(r'L\.tileLayer\(\s*"([^"]+)"', html)


def test_tianditu_layer_only_with_a_key(apps):
    with_key, without = apps
    html = with_key.get("/v1/datasets/tiny/maps/coverage").text
    urls = tile_urls(html)
    assert urls[0].startswith("https://tile.openstreetmap.org/")  # OSM stays the default base
    assert any("tianditu.gov.cn" in u and f"tk={TK}" in u for u in urls[1:]), urls
    assert '"\\u5929\\u5730\\u56fe" : tile_layer_' in html  # "天地图" listed among the base layers
    html = without.get("/v1/datasets/tiny/maps/coverage").text
    assert "tianditu" not in html and "\\u5929\\u5730\\u56fe" not in html
    assert len(tile_urls(html)) == 1


def test_tianditu_as_base_tiles(apps):
    with_key, without = apps
    r = with_key.get("/v1/datasets/tiny/maps/coverage?tiles=tianditu&lang=en")
    assert r.status_code == 200 and '"Tianditu" : tile_layer_' in r.text
    assert "tianditu.gov.cn" in tile_urls(r.text)[0] and len(tile_urls(r.text)) == 2  # + OSM as the other
    r = without.get("/v1/datasets/tiny/maps/coverage?tiles=tianditu")
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert "GEO_SERVICE_TIANDITU_KEY" in r.json()["detail"] and "天地图" in r.json()["detail"]
    # GCJ-02 (Gaode) tiles: Tianditu is WGS-84, so it is not offered beside them (overlays would misalign)
    assert "tianditu" not in with_key.get("/v1/datasets/tiny/maps/coverage?tiles=gaode").text


def test_tianditu_key_from_the_environment(monkeypatch):
    from api.settings import Settings

    monkeypatch.setenv("GEO_SERVICE_TIANDITU_KEY", TK)
    assert Settings(load_demo=False).tianditu_key == TK
    monkeypatch.delenv("GEO_SERVICE_TIANDITU_KEY")
    assert Settings(load_demo=False).tianditu_key is None
