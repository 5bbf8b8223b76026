"""The assignment map as zones: bounded drawn features, zone figures equal to the tables', links only on
selection (URL or a click in Chromium), and the dataset's own assignment before any run (200)."""

from __future__ import annotations

import json
import re

import pytest
from browser import make_app
from fastapi.testclient import TestClient

import maps
from maps.assignment import current_state, group_bases, nearest_base_zone
from maps.render import data_layers
from solvers.pipeline import run_optimisation

BLOCK = re.compile(r'<script type="application/json" id="([^"]+)">(.*?)</script>', re.S)


def blocks(html: str) -> dict[str, dict]:
    return {k: json.loads(v) for k, v in BLOCK.findall(html)}


def drawn_features(html: str) -> int:
    """Features drawn when the page opens: every FeatureCollection in the JSON data blocks."""
    return sum(len(b["data"]["features"]) for b in blocks(html).values()
               if isinstance(b.get("data"), dict) and "features" in b["data"])


def links_block(html: str) -> dict:
    return next(b for k, b in blocks(html).items() if k.endswith("_links"))


@pytest.fixture(scope="module")
def tiny_run(tiny):
    return run_optimisation(tiny, {"gap_threshold_m": 3000, "villages_min": 1}).to_dict()


def test_zones_contacts_and_figures(tiny, tiny_run):
    m = maps.assignment_map(tiny, tiny_run)
    layers = data_layers(m)
    zones = layers["活动组责任区"].data["features"]
    extra = tiny_run["tiers"]["villages"]["extra"]
    assert {f["properties"]["c"] for f in zones} == {g for g, z in extra["zones"].items() if z["villages"]}
    for f in zones:  # popup: sector, station, contact points, villages, population, constituents, km
        z = extra["zones"][f["properties"]["c"]]
        assert f["properties"]["v"][3:] == [z["villages"], z["population"], z["constituents"], z["mean_km"],
                                             z["max_km"]]
        assert f["geometry"]["type"] in ("Polygon", "MultiPolygon")
    cps = layers["界别联系点"].data["features"]
    assert len(cps) == sum(1 for g in tiny_run["tiers"]["villages"]["assignment"].values() if g)
    html = m.get_root().render()
    assert "委员—联系群众所在村" not in html  # the old web of lines is gone
    lk = links_block(html)
    assert lk["select"] is None and set(lk) >= {"g", "m", "k"}
    # member links carry the count of constituents per village
    assert sum(n for v in lk["m"].values() for _, n in v["n"]) == 60


def test_url_selection_and_filters(tiny, tiny_run):
    html = maps.assignment_map(tiny, tiny_run, member="M3").get_root().render()
    lk = links_block(html)
    homes = data_layers(maps.assignment_map(tiny, tiny_run))["委员住址"].data["features"]
    names = [f["properties"]["n"] for f in homes]
    assert lk["select"] == ["m", str(names.index("李强"))]
    g2 = maps.assignment_map(tiny, tiny_run, group="G2")
    assert links_block(g2.get_root().render())["select"] == ["g", "G2"]
    assert [f["properties"]["n"] for f in data_layers(g2)["委员住址"].data["features"]] == ["陈静", "杨磊"]
    with pytest.raises(ValueError, match="M99"):
        maps.assignment_map(tiny, tiny_run, member="M99")


def test_current_state_without_a_run(tiny):
    layers = tiny.layers
    mem = layers["members"].copy()
    mem.loc[0, "village_id"] = "V4"  # a pinned village: the group's current zone
    ds = tiny.with_layers(members=mem)
    m = maps.assignment_map(ds, None)
    html = m.get_root().render()
    assert "尚未运行优化" in html
    # zones before any run: each village to the nearest group base, the pinned village kept by its group
    assert "每个村归最近的活动组驻地" in html
    zones = {f["properties"]["c"]: f["properties"] for f in data_layers(m)["活动组责任区"].data["features"]}
    assert set(zones) == set(ds.groups["id"])
    assert sum(z["v"][3] for z in zones.values()) == len(ds.villages)
    zone = {**nearest_base_zone(ds, group_bases(ds, current_state(ds)["group_station"])), "V4": "G1"}
    assert zones["G1"]["v"][3] == sum(1 for g in zone.values() if g == "G1")


@pytest.mark.slow
def test_demo_feature_count_is_bounded(demo):
    r = run_optimisation(demo, {"tiers": ["constituents", "stations", "villages", "townships"]}).to_dict()
    html = maps.assignment_map(demo, r).get_root().render()
    n = drawn_features(html)
    n_links = sum(len(v["l"]) for kind in ("g", "m", "k") for v in links_block(html)[kind].values())
    # zones, committees' townships, contact points, member homes, stations and the (hidden) boundaries:
    # bounded by the entities, never by the links (the old map drew each of them)
    bound = (len(demo.groups) + 2 * len(demo.townships) + 88 + len(demo.members) + len(demo.stations)
             + len(demo.counties))
    assert n <= bound and n < n_links
    assert drawn_features(maps.assignment_map(demo, None).get_root().render()) <= bound


def test_route_is_200_before_any_run_and_the_page_links_it(tmp_path, tiny):
    app = make_app(tmp_path, {"tiny": tiny})
    with TestClient(app) as c:
        r = c.get("/v1/datasets/tiny/maps/assignment")
        assert r.status_code == 200 and "尚未运行优化" in r.text
        assert c.get("/v1/datasets/tiny/maps/assignment?member=M99").status_code == 422
        assert 'href="/v1/datasets/tiny/maps/assignment?lang=zh"' in c.get("/?dataset=tiny").text
