"""OGC API routes by role and with bad input: what each role is listed and given, problems naming the
field, tiles following dataset edits, and bbox filters against an independent count (hypothesis)."""

from __future__ import annotations

import mapbox_vector_tile
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.routers.ogc.tiles import lonlat_to_tile
from conftest import LAT0, LON0
from test_api_support import client, hdr, make_app

BASE = "/v1/datasets/tiny"


@pytest.fixture(scope="module")
def c(tmp_path_factory, tiny):
    app = make_app(tmp_path_factory.mktemp("ogc-access"), tiny)
    with client(app) as cl:
        yield cl


def test_roles_see_the_layers_and_fields_they_may(c):
    assert c.get(f"{BASE}/collections").status_code == 401
    viewer = [x["id"] for x in c.get(f"{BASE}/collections", headers=hdr("viewer")).json()["collections"]]
    planner = [x["id"] for x in c.get(f"{BASE}/collections", headers=hdr("planner")).json()["collections"]]
    assert "constituents" not in viewer and "constituents" in planner and "villages" in viewer
    assert c.get(f"{BASE}/collections/constituents/items", headers=hdr("viewer")).status_code == 404
    assert c.get(f"{BASE}/collections/constituents/items/P001", headers=hdr("viewer")).status_code == 404
    people = c.get(f"{BASE}/collections/constituents/items", headers=hdr("planner")).json()
    assert people["numberMatched"] == 60 and people["features"][0]["properties"]["phone"].startswith("138")
    members_v = c.get(f"{BASE}/collections/members/items", headers=hdr("viewer")).json()["features"]
    members_p = c.get(f"{BASE}/collections/members/items", headers=hdr("planner")).json()["features"]
    assert all(f["geometry"] is None for f in members_v)  # a member's point is their home
    assert all(f["geometry"]["type"] == "Point" for f in members_p)
    one = c.get(f"{BASE}/collections/members/items/M1", headers=hdr("viewer")).json()
    assert one["geometry"] is None and one["properties"]["name"] == "张伟"


def test_items_paging_filters_and_links(c):
    r = c.get(f"{BASE}/collections/villages/items", params={"limit": 3, "offset": 3}, headers=hdr("viewer"))
    body = r.json()
    assert [f["id"] for f in body["features"]] == ["V4", "V5", "V6"]
    assert body["numberMatched"] == 8 and body["numberReturned"] == 3
    rels = {lk["rel"]: lk["href"] for lk in body["links"]}
    assert "offset=6" in rels["next"] and "offset=0" in rels["prev"] and "alternate" in rels
    assert r.headers["content-type"].startswith("application/geo+json")
    farm = c.get(f"{BASE}/collections/stations/items", params={"sectors": "农业"}, headers=hdr("viewer")).json()
    assert sorted(f["id"] for f in farm["features"]) == ["S1", "S2"]  # a list property holds the value
    seats = c.get(f"{BASE}/collections/villages/items", params={"is_seat": "true"}, headers=hdr("viewer")).json()
    assert sorted(f["id"] for f in seats["features"]) == ["V2", "V5"]
    t2 = c.get(f"{BASE}/collections/villages/items", params={"township_id": "T2", "limit": 2},
               headers=hdr("viewer")).json()
    assert t2["numberMatched"] == 4 and t2["numberReturned"] == 2


@pytest.mark.parametrize("params, field", [({"bbox": "1,2,3"}, "bbox"), ({"bbox": "5,5,1,1"}, "bbox"),
                                           ({"colour": "red"}, "colour"), ({"crs": "EPSG:3857"}, "crs"),
                                           ({"bbox": "0,0,1,1", "bbox-crs": "EPSG:9999"}, "bbox-crs")])
def test_bad_item_queries_are_problems_naming_the_field(c, params, field):
    r = c.get(f"{BASE}/collections/villages/items", params=params, headers=hdr("viewer"))
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body.get("field") == field or any(e["field"] == field for e in body.get("errors", []))


def test_unknown_collection_and_limit_beyond_the_setting(c):
    r = c.get(f"{BASE}/collections/nope/items", headers=hdr("viewer"))
    assert r.status_code == 404 and r.json()["collection"] == "nope"
    assert c.get(f"{BASE}/collections/villages/items", params={"limit": 0}, headers=hdr("viewer")).status_code == 422


def test_tilesets_and_tiles_follow_an_edit(c):
    sets = c.get(f"{BASE}/tiles", headers=hdr("viewer")).json()["tilesets"]
    assert sets[0]["tileMatrixSetURI"].endswith("WebMercatorQuad")
    assert set(sets[0]["layers"]) == {"villages", "stations", "coverage"}  # no run yet: no zones
    meta = c.get(f"{BASE}/tiles/WebMercatorQuad", headers=hdr("viewer")).json()
    assert {lay["id"] for lay in meta["layers"]} == {"villages", "stations", "coverage"}
    assert any(lk["rel"] == "item" and "{tileMatrix}" in lk["href"] for lk in meta["links"])
    one = c.get(f"{BASE}/collections/villages/tiles/WebMercatorQuad", headers=hdr("viewer")).json()
    assert [lay["id"] for lay in one["layers"]] == ["villages"]
    assert c.get(f"{BASE}/collections/groups/tiles", headers=hdr("viewer")).status_code == 404
    x, y = lonlat_to_tile(LON0 + 0.02, LAT0 + 0.02, 12)
    url = f"{BASE}/collections/villages/tiles/WebMercatorQuad/12/{y}/{x}"
    names = {f["properties"]["id"]: f["properties"]["name"] for f in
             mapbox_vector_tile.decode(c.get(url, headers=hdr("viewer")).content)["villages"]["features"]}
    assert names["V1"] == "一村"
    etag = c.get(f"{BASE}/villages/V1", headers=hdr("admin")).headers["etag"]
    r = c.patch(f"{BASE}/villages/V1", json={"properties": {"name": "新一村"}},
                headers={**hdr("admin"), "If-Match": etag})
    assert r.status_code == 200
    names = {f["properties"]["id"]: f["properties"]["name"] for f in
             mapbox_vector_tile.decode(c.get(url, headers=hdr("viewer")).content)["villages"]["features"]}
    assert names["V1"] == "新一村"  # a new dataset version: never the cached tile of the old one
    item = c.get(f"{BASE}/collections/villages/items/V1", headers=hdr("viewer"))
    assert item.headers["etag"] == c.get(f"{BASE}/villages/V1", headers=hdr("admin")).headers["etag"]


def test_processes_keep_the_roles_of_the_routes_they_stand_for(c):
    body = {"inputs": {"dataset": "tiny"}}
    assert c.post("/v1/processes/optimisation/execution", json=body, headers=hdr("viewer")).status_code == 403
    assert c.post("/v1/processes/batch/execution", json={"inputs": {"datasets": ["tiny"]}},
                  headers=hdr("planner")).status_code == 403
    assert c.post("/v1/processes/nope/execution", json=body, headers=hdr("planner")).status_code == 404
    r = c.post("/v1/processes/roster/execution", json={"inputs": {}}, headers=hdr("planner"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "inputs.dataset"
    r = c.post("/v1/processes/roster/execution", json={"inputs": {"dataset": "missing"}}, headers=hdr("planner"))
    assert r.status_code == 404
    r = c.post("/v1/processes/roster/execution", json={"inputs": {"dataset": "tiny", "months": 99}},
               headers=hdr("planner"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "inputs.months"
    assert c.post("/v1/processes/roster/execution", json=[1], headers=hdr("planner")).status_code == 400
    titles = {p["id"]: p["title"] for p in c.get("/v1/processes", headers=hdr("viewer")).json()["processes"]}
    assert titles["roster"] == "值班排班"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.floats(-0.05, 0.25), st.floats(-0.05, 0.15), st.floats(0.0, 0.3), st.floats(0.0, 0.2))
def test_bbox_matches_an_independent_count(c, tiny, dx, dy, w, h):
    box = (LON0 + dx, LAT0 + dy, LON0 + dx + w, LAT0 + dy + h)
    x, y = tiny.villages.geometry.x.to_numpy(), tiny.villages.geometry.y.to_numpy()
    want = int(((x >= box[0]) & (x <= box[2]) & (y >= box[1]) & (y <= box[3])).sum())
    edge = np.minimum.reduce([abs(x - box[0]), abs(x - box[2]), abs(y - box[1]), abs(y - box[3])]) < 1e-12
    r = c.get(f"{BASE}/collections/villages/items", params={"bbox": ",".join(repr(v) for v in box)},
              headers=hdr("viewer"))
    assert abs(r.json()["numberMatched"] - want) <= int(edge.sum())
