"""The page over HTTP: placing a village (list, versioned edit in the basemap's datum, undo, the
coverage following the new version), the runs list with every job of the store, words by weight."""

from __future__ import annotations

import re

import numpy as np
import pytest

from api.geojson import geometry_to_wgs84
from conftest import make_tiny_layers
from geo_service.core.coverage import location_line
from geo_service.core.crs import geodesic_m, gcj02_to_wgs84, wgs84_to_gcj02
from geo_service.core.dataset import Dataset
from geo_service.core.store import JobRecord
from test_api_support import client, hdr, make_app


def approx_layers():
    """The tiny county without population; its last two villages approximate, at their township's
    first village (as an import places a village without coordinates at the township seat)."""
    L = make_tiny_layers()
    v = L["villages"]
    v["population"] = None
    v["location_source"] = "given"
    for i in (len(v) - 2, len(v) - 1):
        seat = v.index[(v["township_id"] == v.loc[i, "township_id"]).to_numpy()][0]
        v.loc[i, "geometry"] = v.loc[seat, "geometry"]
        v.loc[i, "location_source"] = "township_seat"
    return L


@pytest.fixture()
def app(tmp_path):
    return make_app(tmp_path, Dataset.from_layers(approx_layers(), name="tiny"))


def test_the_page_lists_villages_to_place_and_the_location_line(app):
    ds = Dataset.from_layers(approx_layers(), name="tiny")
    with client(app) as c:
        page = c.get("/?dataset=tiny", headers=hdr("planner")).text
        assert location_line(ds.villages) in page and "2 个按乡镇驻地近似" in page
        opts = re.findall(r'<option value="([^"]+)">([^<]+)</option>', page)
        placeable = [o for o in opts if "按乡镇驻地近似" in o[1]]
        assert [o[0] for o in placeable] == ds.villages["id"].tolist()[-2:]
        # no population: the coverage table counts villages and never shows 覆盖人口 or "0 / 0"
        assert "覆盖村数" in page and "覆盖人口" not in page and "0 / 0" not in page
        # a viewer sees the line but gets no placing tool
        viewer = c.get("/?dataset=tiny", headers=hdr("viewer")).text
        assert 'id="place"' not in viewer and location_line(ds.villages) in viewer


def test_a_planner_places_a_village_clicked_on_gaode_tiles_and_undoes_it(app):
    ds = Dataset.from_layers(approx_layers(), name="tiny")
    vid = ds.villages["id"].iloc[-1]
    before_pt = ds.villages.geometry.iloc[-1]
    # the true place: 1.5 km north-east of the seat, as the planner sees it on a GCJ-02 map
    true_lon, true_lat = before_pt.x + 0.012, before_pt.y + 0.009
    glon, glat = (float(a) for a in wgs84_to_gcj02(true_lon, true_lat))
    with client(app) as c:
        cov0 = c.get("/v1/datasets/tiny/coverage?gap_limit=0", headers=hdr("viewer")).json()
        r = c.get(f"/v1/datasets/tiny/villages/{vid}", headers=hdr("planner"))
        etag = r.headers["ETag"]
        body = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [glon, glat]}}
        # a viewer may not; a planner may move a village but not rename it
        assert c.patch(f"/v1/datasets/tiny/villages/{vid}?datum=gcj02", json=body,
                       headers={**hdr("viewer"), "If-Match": etag}).status_code == 403
        rename = {"type": "Feature", "properties": {"name": "改名"}}
        r = c.patch(f"/v1/datasets/tiny/villages/{vid}", json=rename, headers={**hdr("planner"), "If-Match": etag})
        assert r.status_code == 403 and "管理员" in r.json()["detail"] and r.json()["required_role"] == "admin"
        r = c.patch(f"/v1/datasets/tiny/villages/{vid}?datum=gcj02", json=body,
                    headers={**hdr("planner"), "If-Match": etag})
        assert r.status_code == 200, r.text
        lon, lat = r.json()["geometry"]["coordinates"]
        assert geodesic_m(lon, lat, true_lon, true_lat) < 1.0  # stored in WGS-84: the GCJ-02 shift undone
        assert geodesic_m(glon, glat, true_lon, true_lat) > 100  # which is hundreds of metres here
        cov1 = c.get("/v1/datasets/tiny/coverage?gap_limit=0", headers=hdr("viewer")).json()
        assert cov1["dataset_version"] == cov0["dataset_version"] + 1
        stored = app.state.store.get_dataset("tiny").villages.set_index("id")
        assert stored.loc[vid, "location_source"] == "placed"
        # the maps follow the new version: the village is drawn as itself, not in its seat's ring
        page = c.get("/v1/datasets/tiny/maps/coverage", headers=hdr("viewer")).text
        assert "其中 1 个为人工标注" in page and "1 个按乡镇驻地近似" in page
        # undo: the stored point as it was, through the same route
        etag = r.headers["ETag"]
        back = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [before_pt.x, before_pt.y]},
                "properties": {"location_source": "township_seat"}}
        bad = {**back, "properties": {"location_source": "guessed"}}
        r_bad = c.patch(f"/v1/datasets/tiny/villages/{vid}", json=bad, headers={**hdr("planner"), "If-Match": etag})
        assert r_bad.status_code == 422 and "location_source" in r_bad.text
        r = c.patch(f"/v1/datasets/tiny/villages/{vid}", json=back, headers={**hdr("planner"), "If-Match": etag})
        assert r.status_code == 200
        assert r.json()["geometry"]["coordinates"] == pytest.approx([before_pt.x, before_pt.y], abs=1e-7)
        assert app.state.store.get_dataset("tiny").villages.set_index("id").loc[vid, "location_source"] == \
            "township_seat"
        cov2 = c.get("/v1/datasets/tiny/coverage?gap_limit=0", headers=hdr("viewer")).json()
        assert cov2["dataset_version"] == cov0["dataset_version"] + 2
        assert [x["covered_villages"] for x in cov2["summary"]["total"]] == \
            [x["covered_villages"] for x in cov0["summary"]["total"]]


def test_gcj02_geometry_conversion_is_the_inverse_of_the_shift():
    lon, lat = np.array([126.1, 130.4]), np.array([45.2, 46.8])
    glon, glat = wgs84_to_gcj02(lon, lat)
    for i in range(2):
        g = geometry_to_wgs84({"type": "Point", "coordinates": [float(glon[i]), float(glat[i])]}, "gcj02")
        assert g["coordinates"] == pytest.approx([lon[i], lat[i]], abs=1e-7)
        assert gcj02_to_wgs84(glon[i], glat[i])[0] == pytest.approx(lon[i], abs=1e-7)
    with pytest.raises(ValueError, match="datum"):
        geometry_to_wgs84({"type": "Point", "coordinates": [1, 2]}, "itrf")


def test_runs_list_every_job_of_the_store_without_repeating_the_status(app, tmp_path):
    with client(app) as c:
        store = app.state.store
        store.create_job(JobRecord(id="cli0000000000001", dataset_id="tiny", kind="optimisation", params={},
                                   status="successful", progress=100.0, message="finished"))
        store.create_job(JobRecord(id="ros0000000000001", dataset_id="tiny", kind="roster", params={},
                                   status="running", progress=40.0, message="running"))
        page = c.get("/?dataset=tiny", headers=hdr("viewer")).text
        rows = re.findall(r'<tr data-job="([^"]+)" data-status="([^"]+)">(.*?)</tr>', page, flags=re.S)
        assert {r[0] for r in rows} == {"cli0000000000001", "ros0000000000001"}
        text = {r[0]: re.sub(r"<[^>]+>", "|", r[2]) for r in rows}
        assert "优化" in text["cli0000000000001"] and "排班" in text["ros0000000000001"]
        assert "已完成 · 已完成" not in page and text["cli0000000000001"].count("已完成") == 1
        assert 'id="no-runs" hidden' in page  # "no run yet" is not what the page says
