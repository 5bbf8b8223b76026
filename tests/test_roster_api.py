"""The duty roster job over HTTP: 202 -> progress -> files (json, xlsx, csv, ics, geojson),
cancel, roles (viewer refused, homes only for planner), this month's duty, the map and the page."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import time

import openpyxl
import pytest
from browser import live_server
from browser import make_app as browser_app
from icalendar import Calendar

from conftest import make_tiny_layers
from geo_service.core.dataset import Dataset
from test_api import assert_problem
from test_api_support import client, hdr, make_app

P, V = hdr("planner"), hdr("viewer")


def this_month() -> str:
    d = dt.date.today()
    return f"{d.year:04d}-{d.month:02d}"


def wait(c, job_id: str, timeout: float = 90.0) -> dict:
    t0 = time.monotonic()
    seen = []
    while True:
        job = c.get(f"/v1/jobs/{job_id}", headers=V).json()
        seen.append(job["progress"])
        if job["status"] in ("successful", "failed", "dismissed"):
            job["_seen"] = seen
            return job
        assert time.monotonic() - t0 < timeout, job
        time.sleep(0.05)


@pytest.fixture(scope="module")
def roster_app(tmp_path_factory, tiny):
    """An app holding ``tiny`` and one finished roster of 6 months from this month."""
    app = make_app(tmp_path_factory.mktemp("roster-api"), tiny)
    with client(app) as c:
        r = c.post("/v1/datasets/tiny/rosters", json={"start": this_month(), "months": 6, "time_limit_s": 10},
                   headers=P)
        assert r.status_code == 202, r.text
        assert r.headers["location"].endswith(f"/v1/jobs/{r.json()['id']}")
        assert r.json()["kind"] == "roster" and r.json()["status"] in ("accepted", "running")
        done = wait(c, r.json()["id"])
        yield app, c, done


def test_roster_job_end_to_end(roster_app):
    _, c, done = roster_app
    assert done["status"] == "successful", done
    assert done["progress"] == 100 and "result" not in done
    assert done["outcome"]["outcome"] in ("optimal", "feasible") and done["outcome"]["text"]
    links = {link["title"]: link["href"] for link in done["links"] if link["rel"] == "results"}
    assert set(links) == {"json", "xlsx", "csv", "ics", "geojson"}
    assert all(f"/v1/jobs/{done['id']}/roster?format=" in h for h in links.values())
    j = c.get(f"/v1/jobs/{done['id']}/roster", headers=P).json()
    assert set(j) >= {"status", "outcome", "objective", "bound", "gap", "duties", "consultations", "diagnostics"}
    assert j["duties"] and set(j["duties"][0]) == {"month", "station_id", "member_id", "date"}
    assert {d["month"] for d in j["duties"]} <= set(j["months"]) and j["months"][0] == this_month()
    assert all(set(x) == {"quarter", "township_id", "committee_id", "date", "member_ids"} for x in j["consultations"])
    assert j["gap"] is not None and j["bound"] <= j["objective"] + 1e-6
    # XLSX: the 轮值表 workbook through the one table writer
    x = c.get(f"/v1/jobs/{done['id']}/roster?format=xlsx", headers=P)
    assert x.status_code == 200 and x.headers["content-type"].startswith("application/vnd.openxml")
    wb = openpyxl.load_workbook(io.BytesIO(x.content))
    assert wb.sheetnames == ["轮值表", "委员值班", "接待日", "一季一协商", "说明"]
    assert wb["轮值表"]["A1"].value == "值班平台"
    # ICS parsed back: one event per duty slot and consultation
    cal = Calendar.from_ical(c.get(f"/v1/jobs/{done['id']}/roster?format=ics", headers=P).content)
    slots = {(d["month"], d["station_id"]) for d in j["duties"]}
    assert len(list(cal.walk("VEVENT"))) == len(slots) + len(j["consultations"])
    m = j["duties"][0]["member_id"]
    mine = Calendar.from_ical(c.get(f"/v1/jobs/{done['id']}/roster?format=ics&member={m}", headers=P).content)
    assert len(list(mine.walk("VEVENT"))) == sum(d["member_id"] == m for d in j["duties"]) + \
        sum(m in x["member_ids"] for x in j["consultations"])
    body = assert_problem(c.get(f"/v1/jobs/{done['id']}/roster?format=ics&member=nobody", headers=P), 422,
                          "invalid-parameters")
    assert [(e["in"], e["field"], e["code"]) for e in body["errors"]] == [("query", "member", "unknown_member")]
    # CSV: one row per duty, BOM for Excel
    csv = c.get(f"/v1/jobs/{done['id']}/roster?format=csv", headers=P)
    assert csv.content.startswith(b"\xef\xbb\xbf") and len(csv.text.strip().splitlines()) == len(j["duties"]) + 1
    # GeoJSON: this month's duty with homes and lines (planner)
    gj = c.get(f"/v1/jobs/{done['id']}/roster?format=geojson", headers=P).json()
    layers = {f["properties"]["layer"] for f in gj["features"]}
    assert layers == {"platform", "member", "link"}
    body = assert_problem(c.get(f"/v1/jobs/{done['id']}/roster?format=geojson&month=1999-01",
                                headers={**P, "Accept-Language": "en"}), 422, "invalid-parameters")
    assert [(e["in"], e["field"]) for e in body["errors"]] == [("query", "month")] and "1999-01" in body["detail"]
    zh = c.get(f"/v1/jobs/{done['id']}/roster?format=geojson&month=1999-01", headers=P).json()
    first, last = body["errors"][0]["ctx"]["first"], body["errors"][0]["ctx"]["last"]
    assert zh["errors"] == body["errors"] and zh["detail"] == f"参数 month（月份）无效：不在排班的月份内（{first} 至 {last}）。"
    assert f"({first}..{last})" in body["detail"]
    # the generic results route also knows roster tables
    g = c.get(f"/v1/jobs/{done['id']}/results?format=xlsx", headers=P)
    assert g.status_code == 200 and "轮值表" in openpyxl.load_workbook(io.BytesIO(g.content)).sheetnames


def test_roles_and_personal_data(roster_app):
    _, c, done = roster_app
    # running and downloading rosters needs planner
    assert_problem(c.post("/v1/datasets/tiny/rosters", json={}, headers=V), 403)
    assert_problem(c.get(f"/v1/jobs/{done['id']}/roster?format=json", headers=V), 403)
    assert_problem(c.get(f"/v1/jobs/{done['id']}/roster?format=geojson", headers=V), 403)
    # this month's duty: viewers see names, not homes; planners see homes
    cur_v = c.get("/v1/datasets/tiny/rosters/current", headers=V).json()
    cur_p = c.get("/v1/datasets/tiny/rosters/current", headers=P).json()
    assert cur_v["month"] == this_month() and cur_v["job_id"] == done["id"]
    on_v = [m for p in cur_v["platforms"] for m in p["members"]]
    on_p = [m for p in cur_p["platforms"] for m in p["members"]]
    assert on_v and all("lon" not in m and "lat" not in m for m in on_v)
    assert all(m["lon"] is not None for m in on_p)
    # the map: platforms for a viewer, homes and lines only for a planner
    mv = c.get("/v1/datasets/tiny/maps/roster", headers=V)
    mp = c.get("/v1/datasets/tiny/maps/roster", headers=P)
    assert mv.status_code == 200 and mp.status_code == 200
    csp = mv.headers["content-security-policy"]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert "值班平台" in mv.text and "值班委员住址" not in mv.text
    assert "值班委员住址" in mp.text and "委员—平台连线" in mp.text
    home = on_p[0]
    coord = f"{home['lon']:.5f}".rstrip("0").rstrip(".")
    assert re.search(rf"\[{re.escape(coord)}\d*,", mp.text) and not re.search(rf"\[{re.escape(coord)}\d*,", mv.text)
    assert_problem(c.get("/v1/datasets/tiny/maps/roster?month=1999-01", headers=V), 422)
    assert_problem(c.get("/v1/datasets/tiny/maps/roster"), 401)


def test_bad_parameters_and_cancel(roster_app):
    _, c, done = roster_app
    r = c.post("/v1/datasets/tiny/rosters", json={"start": "2027-13"}, headers=P)
    assert_problem(r, 422)
    r = c.post("/v1/datasets/tiny/rosters", json={"months": 6, "per_platform_min": 3, "per_platform_max": 1},
               headers=P)
    assert_problem(r, 422)
    r = c.post("/v1/datasets/tiny/rosters", json={"previous_job_id": "nope"}, headers=P)
    assert_problem(r, 422)
    # cancel: dismissed at once and stays dismissed
    r = c.post("/v1/datasets/tiny/rosters", json={"start": "2027-01", "months": 36, "time_limit_s": 30}, headers=P)
    assert r.status_code == 202
    jid = r.json()["id"]
    d = c.delete(f"/v1/jobs/{jid}", headers=P)
    assert d.status_code == 200 and d.json()["status"] == "dismissed"
    assert wait(c, jid)["status"] == "dismissed"
    assert_problem(c.get(f"/v1/jobs/{jid}/roster", headers=P), 409)
    # re-plan from a month on, against the finished roster
    months = json.loads(json.dumps(c.get(f"/v1/jobs/{done['id']}/roster", headers=P).json()["months"]))
    r = c.post("/v1/datasets/tiny/rosters", json={"start": months[0], "months": 6, "replan_from": months[2],
                                                   "previous_job_id": done["id"], "time_limit_s": 10}, headers=P)
    assert r.status_code == 202, r.text
    again = wait(c, r.json()["id"])
    assert again["status"] == "successful", again
    before = c.get(f"/v1/jobs/{done['id']}/roster", headers=P).json()["duties"]
    after = c.get(f"/v1/jobs/{again['id']}/roster", headers=P).json()["duties"]
    frozen = {m for m in months[:2]}
    key = (lambda d: (d["month"], d["station_id"], d["member_id"]))
    assert {key(d) for d in before if d["month"] in frozen} == {key(d) for d in after if d["month"] in frozen}


XSS = "<img src=x onerror=alert(1)>"


@pytest.mark.browser
@pytest.mark.slow  # > 3 s
def test_page_shows_this_months_duty_after_a_roster_job(chromium, tmp_path):
    layers = make_tiny_layers()
    layers["stations"].loc[0, "name"] = XSS  # the comprehensive station: the one platform
    app = browser_app(tmp_path / "data", {"tiny": Dataset.from_layers(layers, name="tiny")})
    with live_server(app) as base:
        page, log = chromium.page()
        page.goto(f"{base}/")
        assert page.locator("#no-duty").count() == 1
        page.fill("#r_start", this_month())
        page.fill("#r_months", "3")
        page.click("#roster-submit")
        page.wait_for_selector("#duty-table", timeout=90_000)  # the page reloads when the job is done
        page.screenshot(path=str(tmp_path / "duty.png"), full_page=True)
        assert page.locator("#duty-month").inner_text() == this_month()
        rows = page.locator("#duty-table tbody tr")
        assert rows.count() == 1
        cells = rows.nth(0).locator("td")
        assert cells.nth(0).inner_text() == XSS and page.locator("#duty-table img").count() == 0
        assert cells.nth(1).inner_text().strip() and re.match(r"\d{4}-\d{2}-\d{2}", cells.nth(2).inner_text())
        assert log.page_errors == [] and log.dialogs == []
        href = page.get_attribute("#link-roster-map", "href")
        mp, mlog = chromium.page()
        mp.goto(base + href)
        mp.wait_for_selector(".leaflet-control-layers", state="attached")
        assert mp.locator(".leaflet-control-layers-overlays label", has_text="值班平台").count() == 1
        # clicking the platform draws the lines from its members' homes (local demo: admin sees homes)
        mp.wait_for_timeout(300)
        assert mp.evaluate("document.body.getAttribute('data-gs-selected')") in (None, "")
        st = layers["stations"].iloc[0]
        name = re.search(r"var (map_[0-9a-f]+) = L\.map", mp.content()).group(1)
        xy = mp.evaluate(f"(ll) => {{ var p = {name}.latLngToContainerPoint(L.latLng(ll[0], ll[1]));"
                         f" var r = document.getElementById('{name}').getBoundingClientRect();"
                         f" return [p.x + r.left, p.y + r.top]; }}", [float(st.geometry.y), float(st.geometry.x)])
        mp.mouse.click(xy[0], xy[1])
        mp.wait_for_selector("body[data-gs-selected='p:0']", state="attached", timeout=5000)
        n_on = len(cells.nth(1).inner_text().split("、"))
        assert int(mp.evaluate("document.body.getAttribute('data-gs-links')")) == n_on
        mp.screenshot(path=str(tmp_path / "duty_map.png"))
        assert mlog.page_errors == [] and mlog.dialogs == []
        mp.close()
        page.close()
