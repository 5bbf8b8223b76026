"""The phone page a QR scan opens, in headless Chromium at 375 px: who is responsible and when they receive,
leave a message, get a ticket, follow it to the answer. Names and answers with markup stay text."""

from __future__ import annotations

import httpx
import pytest
from browser import live_server, make_app
from conftest import make_tiny_layers
from playwright.sync_api import expect
from test_api_support import KEYS, SETTINGS_KEYS

from geo_service.core.dataset import Dataset

pytestmark = [pytest.mark.browser, pytest.mark.slow]
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    layers = make_tiny_layers()
    layers["stations"].loc[0, "name"] = f"西镇综合站{XSS}"
    app = make_app(tmp_path_factory.mktemp("phone"), {"tiny": Dataset.from_layers(layers, name="tiny")},
                   api_keys=SETTINGS_KEYS, member_keys={"member-key-M6": "M6"})
    with live_server(app) as base:
        yield base


def test_scan_message_ticket_status(chromium, server, tmp_path):
    page, log = chromium.page()
    page.set_viewport_size({"width": 375, "height": 780})
    r = page.goto(f"{server}/m/tiny/S1")
    assert r.status == 200 and "script-src 'self' 'sha256-" in r.headers["content-security-policy"]
    expect(page.locator("#place")).to_contain_text("西镇")
    assert XSS in page.text_content("#place")  # shown as text, never parsed
    assert page.locator("#place img").count() == 0
    assert "码上议事" in page.text_content("h1")
    members = page.text_content("#members")
    assert "张伟" in members or "王芳" in members
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.screenshot(path=str(tmp_path / "phone-375.png"), full_page=True)
    page.click("#send")  # nothing written yet: the page says so, nothing is sent
    expect(page.locator("#form-err")).to_have_text("请填写留言内容")
    page.fill("#topic", "路灯")
    page.select_option("#sector", "经济")
    page.fill("#text", "村口路灯坏了<b>三天</b>")
    page.fill("#phone", "13800002222")
    page.click("#send")
    page.wait_for_selector("#follow:not([hidden])")
    ticket = page.text_content("#ticket").strip()
    assert len(ticket) == 12 and page.text_content("#status") == "已分派"
    page.screenshot(path=str(tmp_path / "phone-ticket.png"), full_page=True)
    # the assigned member answers; the sender's page shows it after a refresh
    with httpx.Client(base_url=server) as c:
        msgs = c.get("/v1/datasets/tiny/messages", headers={"X-API-Key": KEYS["planner"]}).json()["messages"]
        assert msgs[0]["phone"] == "13800002222" and msgs[0]["text"] == "村口路灯坏了<b>三天</b>"
        member = msgs[0]["member_id"]
        key = "member-key-M6" if member == "M6" else KEYS["planner"]
        r = c.post(f"/v1/datasets/tiny/messages/{msgs[0]['id']}", json={"status": "answered", "answer": f"已修好{XSS}"},
                   headers={"X-API-Key": key})
        assert r.status_code == 200, r.text
        assert "13800002222" not in c.get(f"/v1/messages/{ticket}").text
    page.click("#refresh")
    expect(page.locator("#status")).to_have_text("已答复")
    assert page.text_content("#answer") == f"已修好{XSS}"
    page.screenshot(path=str(tmp_path / "phone-answered.png"), full_page=True)
    assert log.page_errors == [] and log.dialogs == [] and log.blocked == []
    page.close()


def test_place_page_by_location_and_desktop(chromium, server, tmp_path):
    page, log = chromium.page()
    page.set_viewport_size({"width": 1280, "height": 900})
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    r = page.goto(f"{server}/m/tiny?lon=130.45&lat=46.85")
    expect(page.locator("#place")).to_contain_text("东镇")
    assert len(r.body()) < 12_000  # light: one small page and one lookup, nothing else
    assert [u.split("?")[0].removeprefix(server) for u in asked] == ["/m/tiny", "/v1/datasets/tiny/responsible"]
    assert "公里" in page.text_content("#stations")
    page.screenshot(path=str(tmp_path / "phone-1280.png"), full_page=True)
    assert log.page_errors == [] and log.dialogs == [] and log.blocked == []
    assert page.goto(f"{server}/m/tiny/NOPE").status == 404
    page.goto(f"{server}/m/tiny/S2?lang=en")
    expect(page.locator("h1")).to_have_text("Scan to reach a member")
    expect(page.locator("#stations")).to_contain_text(" km")
    page.close()


def test_staff_map_of_messages(chromium, server, tmp_path):
    with httpx.Client(base_url=server) as c:
        assert c.post("/v1/datasets/tiny/messages", json={"lon": 130.45, "lat": 46.85, "text": "东镇的事"}).status_code == 201
    page, log = chromium.page()
    page.set_extra_http_headers({"X-API-Key": KEYS["viewer"]})
    page.set_viewport_size({"width": 1280, "height": 900})
    r = page.goto(f"{server}/v1/datasets/tiny/maps/messages?tiles=none")
    assert r.status == 200
    expect(page.locator(".gs-legend-box")).to_contain_text("超期未答复")
    page.wait_for_timeout(500)
    page.screenshot(path=str(tmp_path / "messages-map.png"))
    assert page.locator("canvas").count() >= 1  # the message points (a canvas layer)
    assert log.page_errors == [] and log.dialogs == [] and log.blocked == []
    page.close()
