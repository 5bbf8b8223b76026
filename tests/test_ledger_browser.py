"""The phone page for entering ledger activities, in headless Chromium at 375 px (and 1280x900):
a member signs in by a login link, records a contact, sees it listed; bad input is named on the
page; text with markup stays text. Screenshots go to the test's tmp dir."""

from __future__ import annotations

import pytest
from browser import live_server, make_app

from geo_service.core.store import JobRecord
from test_api_support import KEYS, SETTINGS_KEYS

pytestmark = pytest.mark.browser
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny):
    app = make_app(tmp_path_factory.mktemp("ledger-browser"), {"tiny": tiny}, api_keys=SETTINGS_KEYS,
                   member_keys={"member-key-0001": "M1"})
    cons = tiny.constituents["id"].astype(str).tolist()
    app.state.store.create_job(JobRecord(id="run1", dataset_id="tiny", kind="optimisation", params={},
                                         status="successful",
                                         result={"tiers": {"constituents": {"assignment": {c: "M1" for c in cons[:5]}}}}))
    with live_server(app) as base:
        yield base


@pytest.mark.slow  # a browser session
def test_member_records_a_contact_on_a_phone(chromium, server, tmp_path, tiny):
    import httpx

    link = httpx.post(f"{server}/v1/datasets/tiny/members/M1/login-link",
                      headers={"X-API-Key": KEYS["admin"]}).json()["url"]
    page, log = chromium.page()
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(f"{server}{link}")
    page.click("#go")
    page.wait_for_selector("form")
    assert "录入联系台账" in page.inner_text("h1")
    options = page.locator("#constituent_id option").all_inner_texts()
    assert len(options) == 6  # a blank choice and the member's 5 constituents, nobody else's
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page is {width} px wide on a 375 px phone"
    page.evaluate("document.fonts.ready.then(() => true)")
    page.wait_for_timeout(300)
    page.screenshot(path=str(tmp_path / "ledger-phone.png"), full_page=True)
    page.select_option("#kind", "contact")
    page.fill("#date", "2027-03-05")
    page.select_option("#way", "visit")
    page.select_option("#constituent_id", index=1)
    page.fill("#topic", XSS)
    page.select_option("#satisfaction", "4")
    page.click("#save")
    page.wait_for_selector("#saved")
    assert "已保存第 1 条" in page.inner_text("#saved")
    mine = page.inner_text("#mine")
    assert XSS in mine and "联系群众" in mine  # markup shown as text, not run
    page.evaluate("document.fonts.ready.then(() => true)")
    page.wait_for_timeout(300)
    page.screenshot(path=str(tmp_path / "ledger-saved.png"), full_page=True)
    # a bad date is named on the page, nothing stored
    page.fill("#date", "")
    page.evaluate("document.querySelector('#date').removeAttribute('required')")
    page.click("#save")
    page.wait_for_selector("#errors")
    assert "日期不能为空" in page.inner_text("#errors")
    assert page.locator("#mine tr").count() == 2  # header + the one saved record
    assert log.page_errors == [] and log.dialogs == [] and log.blocked_non_tiles() == []
    r = httpx.get(f"{server}/v1/datasets/tiny/activities", headers={"X-API-Key": KEYS["planner"]}).json()
    assert r["count"] == 1 and r["activities"][0]["member_id"] == "M1" and r["activities"][0]["topic"] == XSS
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{server}/ledger?dataset=tiny")
    page.evaluate("document.fonts.ready.then(() => true)")
    page.wait_for_timeout(300)
    page.screenshot(path=str(tmp_path / "ledger-desktop.png"), full_page=True)
    page.close()


@pytest.mark.slow  # a browser session
def test_ledger_map_offline_with_legend(chromium, server, tmp_path, tiny):
    import httpx

    v = str(tiny.villages["id"].iloc[0])
    rows = [{"kind": "contact", "member_id": "M1", "village_id": v, "date": "2027-03-01", "way": "visit",
             "topic": XSS}]
    assert httpx.post(f"{server}/v1/datasets/tiny/activities", json={"activities": rows},
                      headers={"X-API-Key": KEYS["planner"]}).status_code == 201
    page, log = chromium.page()
    page.set_extra_http_headers({"X-API-Key": KEYS["viewer"]})  # the map needs a viewer
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{server}/v1/datasets/tiny/maps/ledger?period=2027-Q1")
    page.wait_for_selector(".leaflet-control-layers", state="attached")
    page.wait_for_timeout(300)
    page.screenshot(path=str(tmp_path / "ledger-map.png"))
    assert log.page_errors == [] and log.dialogs == [] and log.blocked_non_tiles() == []
    legend = page.locator(".gs-legend-box").inner_text()
    assert "期间内未联系" in legend and "0-30 天" in legend
    labels = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    assert any("距最近联系天数" in x for x in labels) and any("计划责任区" in x for x in labels)
    page.set_viewport_size({"width": 375, "height": 740})
    page.wait_for_timeout(200)
    page.screenshot(path=str(tmp_path / "ledger-map-phone.png"))
    page.close()
