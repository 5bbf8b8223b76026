"""The maps and the planners' page in headless Chromium (Playwright driving /usr/bin/chromium).

Every request that does not go to the loopback test server is blocked and recorded: a page must
need nothing from outside but map tiles, and stay usable when those fail. Screenshots go to the
test's tmp dir.
"""

from __future__ import annotations

import pytest
from browser import live_server, make_app

from api.session import COOKIE
from geo_service.core.dataset import Dataset
from test_api_support import KEYS, SETTINGS_KEYS

pytestmark = pytest.mark.browser
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from conftest import make_tiny_layers

    layers = make_tiny_layers()
    layers["stations"].loc[0, "name"] = XSS  # the comprehensive station (★)
    layers["villages"].loc[1, "name"] = "<b>二村</b>"
    app = make_app(tmp_path_factory.mktemp("browser"), {"tiny": Dataset.from_layers(layers, name="tiny")})
    with live_server(app) as base:
        yield base


def assert_clean(log, *, tiles_expected: bool = True) -> None:
    assert log.page_errors == []
    assert log.console_errors_non_tiles() == []
    assert log.dialogs == []
    assert log.blocked_non_tiles() == []
    if tiles_expected:
        assert log.blocked, "the map asked for no tile at all"


@pytest.mark.slow  # > 3 s
def test_coverage_map_offline_layers_legend_and_escaping(chromium, server, tmp_path):
    page, log = chromium.page()
    page.goto(f"{server}/v1/datasets/tiny/maps/coverage")
    page.wait_for_selector(".leaflet-control-layers", state="attached")
    page.wait_for_timeout(300)
    page.screenshot(path=str(tmp_path / "coverage.png"))
    assert_clean(log)
    # layer control: 3 service areas, boundaries x2, villages, gaps, stations
    labels = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    assert len(labels) == 8 and any("站点" in x for x in labels)
    assert page.locator(".gs-legend-box").is_visible()
    assert "综合型委员工作站" in page.locator(".gs-legend-box").inner_text()
    assert "覆盖人口" in page.locator(".gs-summary").inner_text()
    assert page.locator(".gs-sym").count() == 3  # one symbol marker per station
    assert page.locator(".leaflet-overlay-pane canvas").count() >= 1  # villages drawn on canvas

    # tooltip and popup of the station named with markup show it as text
    star = page.locator(".gs-sym", has_text="★")
    star.hover()
    page.wait_for_selector(".leaflet-tooltip")
    assert page.locator(".leaflet-tooltip").inner_text() == XSS
    star.click()
    page.wait_for_selector(".leaflet-popup-content")
    popup = page.locator(".leaflet-popup-content").inner_text()
    assert XSS in popup and "综合型委员工作站" in popup and "西镇" in popup
    assert page.locator(".leaflet-popup-content img").count() == 0

    # search suggestions are text too
    page.locator(".leaflet-control-search input").press_sequentially("<img")
    page.wait_for_selector(".search-tip")
    tips = page.locator(".search-tip").all_inner_texts()
    assert any(t.startswith(XSS) for t in tips)
    assert page.locator(".search-tooltip img").count() == 0
    page.locator(".leaflet-control-search input").fill("")
    page.locator(".leaflet-control-search input").press_sequentially("<b")
    tip = page.locator(".search-tip", has_text="二村").first
    tip.wait_for()
    assert tip.inner_text() == "<b>二村</b> · 西镇"
    tip.click()  # moves there and opens the village's popup
    title = page.locator(".leaflet-popup-content .gs-popup-title", has_text="二村")
    title.wait_for()
    assert title.inner_text() == "<b>二村</b>"
    assert page.locator(".leaflet-popup-content b").count() == 0

    # layers still toggle with tiles blocked (the coverage map's layer list opens from its button)
    page.locator(".leaflet-control-layers").hover()
    page.get_by_role("checkbox", name="站点", exact=True).uncheck()
    assert page.locator(".gs-sym").count() == 0
    assert log.dialogs == [] and log.page_errors == []
    page.close()


def test_coverage_map_english_and_gaode(chromium, server, tmp_path):
    page, log = chromium.page()
    page.goto(f"{server}/v1/datasets/tiny/maps/coverage?lang=en&tiles=gaode")
    page.wait_for_selector(".leaflet-control-layers", state="attached")
    page.screenshot(path=str(tmp_path / "coverage-en.png"))
    assert_clean(log)
    assert any("autonavi.com" in u for u in log.blocked)
    assert "Comprehensive work station" in page.locator(".gs-legend-box").inner_text()
    page.close()


@pytest.mark.slow  # > 3 s
def test_page_rerun_to_a_finished_result(chromium, server, tmp_path):
    page, log = chromium.page()
    page.goto(f"{server}/")
    assert "覆盖情况" in page.locator("#coverage").inner_text()
    page.fill("#c_min", "8")
    page.fill("#c_max", "12")
    page.fill("#v_min", "1")
    page.fill("#v_max", "4")
    page.fill("#t_per", "1")
    page.fill("#thr", "5000")
    page.click("#rerun-submit")
    assert page.locator("#progress").is_visible()
    page.wait_for_selector("body[data-run-state]:not([data-run-state='running'])", state="attached",
                           timeout=90_000)  # a selector: wait_for_function would eval() under the page's CSP
    page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
    assert page.evaluate("document.body.dataset.runState") == "done", page.locator("#error").inner_text()
    assert page.locator("#progress-bar").inner_text() == "100%"
    rows = page.locator("#result-table tbody tr")
    assert rows.count() == 12  # one responsibility per row: each member's group, then committee
    assert XSS in page.locator("#result-table").inner_text()  # station names shown as text
    assert page.locator("#result-table img").count() == 0
    assert_clean(log, tiles_expected=False)

    href = page.get_attribute("#result-map", "href")
    assert href.startswith("/v1/datasets/tiny/maps/assignment?job=")
    mp, mlog = chromium.page()
    mp.goto(server + href)
    mp.wait_for_selector(".leaflet-control-layers", state="attached")
    mp.screenshot(path=str(tmp_path / "assignment.png"))
    assert_clean(mlog)
    assert mp.locator(".leaflet-control-layers-overlays label", has_text="委员住址").count() == 1
    mp.close()

    # the page now lists the run and links its map
    page.goto(f"{server}/")
    assert "已完成" in page.locator("#runs-table").inner_text()  # status in words (glossary)
    assert page.locator("#link-assignment").count() == 1
    page.close()


def test_standalone_map_opens_from_disk(chromium, tiny, tmp_path):
    import maps

    out = maps.write_standalone(maps.coverage_map(tiny, lang="en"), tmp_path / "map" / "coverage.html")
    page, log = chromium.page()
    page.goto(out.as_uri())
    page.wait_for_selector(".leaflet-control-layers", state="attached")
    assert_clean(log)
    assert page.locator(".gs-sym").count() == 3
    assert "Station kinds" in page.locator(".gs-legend-box").inner_text()
    page.close()


# --- logging in with an API key (keys enforced) --------------------------------------------------
# The login form, the session cookie's flags, the map and XLSX links and a re-run carried by the
# cookie (its POST passing the Origin check), logout. The Tianditu base layer is offered because
# this server has a Tianditu key.


@pytest.fixture(scope="module")
def login_server(tmp_path_factory, tiny):
    app = make_app(tmp_path_factory.mktemp("login"), {"tiny": tiny}, api_keys=SETTINGS_KEYS,
                   tianditu_key="0123456789abcdef")
    with live_server(app) as base:
        yield base


@pytest.fixture
def ctx(chromium):
    chromium.context.clear_cookies()  # the browser is shared by the session: start and end logged out
    yield chromium
    chromium.context.clear_cookies()


@pytest.mark.slow  # > 3 s
def test_login_links_rerun_and_logout(ctx, login_server, tmp_path):
    page, log = ctx.page()
    page.goto(f"{login_server}/?lang=en")
    assert page.locator("#login-form").is_visible()  # the login form, not a JSON problem
    page.fill("#login-key", "not-the-key-123")
    page.click("#login-submit")
    assert "not valid" in page.locator("#login-error").inner_text()
    page.fill("#login-key", KEYS["planner"])
    page.click("#login-submit")
    page.wait_for_selector("#coverage-table")
    assert page.url.endswith("/?lang=en") and "planner" in page.locator("#who").inner_text()
    cookie = next(c for c in ctx.context.cookies(login_server) if c["name"] == COOKIE)
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and KEYS["planner"] not in cookie["value"]
    assert page.evaluate("document.cookie") == ""  # scripts cannot read it

    # a plain link to a map works (the cookie rides along); Tianditu is among the base layers
    mp, mlog = ctx.page()
    mp.goto(login_server + page.get_attribute("#link-coverage", "href"))
    mp.wait_for_selector(".leaflet-control-layers", state="attached")
    assert_clean(mlog)
    bases = mp.locator(".leaflet-control-layers-base label").all_inner_texts()
    assert any("Tianditu" in b for b in bases) and any("OpenStreetMap" in b for b in bases)
    mp.close()

    # the re-run form: its POST is carried by the cookie and passes the Origin check
    page.fill("#v_min", "1")
    page.fill("#t_per", "1")
    page.fill("#thr", "5000")
    page.click("#rerun-submit")
    page.wait_for_selector("body[data-run-state]:not([data-run-state='running'])", state="attached",
                           timeout=90_000)  # a selector: wait_for_function would eval() under the page's CSP
    assert page.evaluate("document.body.dataset.runState") == "done", page.locator("#error").inner_text()
    page.screenshot(path=str(tmp_path / "logged-in.png"), full_page=True)
    xlsx = page.get_attribute("#result-xlsx", "href")
    r = page.request.get(login_server + xlsx, headers={"Accept": "text/html"})  # the browser's cookies
    assert r.status == 200 and r.body()[:2] == b"PK"
    # clean apart from the two deliberate 401 answers (the login form before and after a wrong key)
    assert log.page_errors == [] and log.dialogs == [] and log.blocked_non_tiles() == []
    assert [t for t, url in log.console_errors_non_tiles() if "status of 401" not in t] == []
    assert len(log.console_errors) == 2

    # logout: the cookie is gone and the page asks for a key again
    page.click("#logout")
    page.wait_for_selector("#login-form")
    assert not [c for c in ctx.context.cookies(login_server) if c["name"] == COOKIE]
    page.goto(f"{login_server}/")
    assert page.locator("#login-form").is_visible()
    page.close()


def test_map_link_without_login_shows_the_form_then_the_map(ctx, login_server):
    page, log = ctx.page()
    page.goto(f"{login_server}/v1/datasets/tiny/maps/coverage?lang=en")
    assert page.locator("#login-form").is_visible() and log.page_errors == []
    page.fill("#login-key", KEYS["viewer"])
    page.click("#login-submit")
    page.wait_for_selector(".leaflet-control-layers", state="attached")  # back where the link pointed
    assert page.url.endswith("/v1/datasets/tiny/maps/coverage?lang=en")
    assert page.locator(".gs-legend-box").is_visible()
    page.close()
