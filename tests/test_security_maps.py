"""Maps: text from data or from a request is never template source, and the pages run
under a strict Content-Security-Policy.

Every text field of every layer that reaches a map (dataset, station, village, township, county,
member, group and committee names; group and committee ids, which style and filter the
assignment map) and every map query parameter carries each payload below, through the API
(TestClient, viewer key). Each answer must be 200 (422 where a parameter is refused), never 500;
the payload must show as data (JSON-encoded or HTML-escaped) and never evaluated: no ``49``
where ``{{7*7}}`` was, no server PID. Chromium then shows a payload name as text in a popup
and a legend, runs no injected script, and reports no CSP violation on the page or any map.
"""

from __future__ import annotations

import html as htmlmod
import os
import re

import pytest

from api.html import content_security_policy
from browser import live_server
from geo_service.core.dataset import Dataset
from geo_service.core.store import JobRecord, SQLiteStore
from maps.render import js_json
from test_api_support import KEYS, SETTINGS_KEYS

PAYLOADS = ("{{7*7}}", "{% raw %}", "{{ broken", "${7*7}", "<%= 7*7 %>",
            "{{lipsum.__globals__.os.getpid()}}", "<img src=x onerror=alert(1)>")
PID = str(os.getpid())  # the TestClient runs the app in this process
VIEWER = {"X-API-Key": KEYS["viewer"]}
PLANNER = {"X-API-Key": KEYS["planner"]}  # sees members' homes (and their names) on the assignment map
BASE = "http://127.0.0.1:8767"


def evil_layers(p: str) -> dict:
    """The tiny county with ``p`` appended to every free-text field and to the group/committee ids."""
    from conftest import make_tiny_layers

    L = make_tiny_layers()
    for layer in ("counties", "townships", "villages", "stations", "members", "groups", "committees"):
        L[layer]["name"] = [f"{n}{p}" for n in L[layer]["name"]]
    L["groups"]["id"] = [f"{g}{p}" for g in L["groups"]["id"]]
    L["committees"]["id"] = [f"{k}{p}" for k in L["committees"]["id"]]
    L["members"]["group_id"] = [f"{g}{p}" for g in L["members"]["group_id"]]
    L["members"]["committee_id"] = [f"{k}{p}" for k in L["members"]["committee_id"]]
    return L


def result_for(p: str) -> dict:
    """A finished optimisation's result over the evil ids (only assignments reach the map)."""
    return {"tiers": {
        "constituents": {"assignment": {f"P{i + 1:03d}": f"M{i % 6 + 1}" for i in range(60)}},
        "villages": {"assignment": {"V3": f"G1{p}", "V4": f"G1{p}", "V7": f"G2{p}"}},
        "townships": {"assignment": {"T1": f"K1{p}", "T2": f"K2{p}"}},
        "stations": {"assignment": {f"G1{p}": "S1", f"G2{p}": "S3"}}}}


# the texts each map must show (as data), per payload: (label for messages, text)
def texts(p: str, kind: str) -> list[str]:
    out = [f"小县{p}", f"西镇综合站{p}", f"西镇{p}", f"东镇{p}"]  # maps are titled with the county's name
    if kind in ("coverage", "gaps"):
        out += [f"一村{p}", f"八社区{p}"]
    if kind == "assignment":
        out += [f"张伟{p}", f"经济农业组{p}", f"医卫组{p}", f"经济委员会{p}", f"农业农村委员会{p}", f"三村{p}"]
    return out


def seeded_app(data_dir, indices=range(len(PAYLOADS))):
    """The service (keys per role, a Tianditu key) holding dataset ``p<i>`` and its finished job
    ``job<i>`` per payload index."""
    from api.app import create_app
    from api.settings import Settings

    store = SQLiteStore(str(data_dir))
    for i in indices:
        p = PAYLOADS[i]
        store.put_dataset(f"p{i}", Dataset.from_layers(evil_layers(p), name=f"邪恶县{p}"))
        store.create_job(JobRecord(id=f"job{i}", dataset_id=f"p{i}", kind="optimisation", params={},
                                   status="successful", progress=100.0, result=result_for(p)))
    return create_app(Settings(data_dir=str(data_dir), load_demo=False, log_level="WARNING",
                               api_keys=SETTINGS_KEYS, tianditu_key="0123456789abcdef"), store=store)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return seeded_app(tmp_path_factory.mktemp("secmaps"))


@pytest.fixture(scope="module")
def http(app):
    from fastapi.testclient import TestClient

    with TestClient(app, base_url=BASE, client=("127.0.0.1", 50000)) as c:
        yield c


def assert_safe(r, p: str, shown: list[str], where: str) -> str:
    """``r`` answered 200 with every text of ``shown`` as data and no evaluated payload."""
    assert r.status_code == 200, (where, r.status_code, r.text[:500])
    page = r.text
    for text in shown:
        as_json, as_html = js_json(text)[1:-1], htmlmod.escape(text, quote=True)
        assert as_json in page or as_html in page, f"{where}: {text!r} is not on the page as data"
        # the payload's place holds the payload, not what a template engine made of it
        prefix = text[: -len(p)]
        assert js_json(prefix + "49")[1:-1] not in page and htmlmod.escape(prefix + "49") not in page, (where, text)
        assert js_json(prefix + PID)[1:-1] not in page and htmlmod.escape(prefix + PID) not in page, (where, text)
    assert "<img" not in page  # markup from data never reaches the page as markup
    assert page.count("<script") == page.count("</script>")
    return page


@pytest.mark.parametrize("i", range(len(PAYLOADS)), ids=[f"p{i}" for i in range(len(PAYLOADS))])
def test_every_map_shows_every_text_field_as_data(http, i):
    p = PAYLOADS[i]
    for kind in ("coverage", "gaps", "assignment"):
        for lang in ("zh", "en"):
            who = PLANNER if kind == "assignment" else VIEWER
            r = http.get(f"/v1/datasets/p{i}/maps/{kind}", params={"lang": lang}, headers=who)
            page = assert_safe(r, p, texts(p, kind), f"{kind}/{lang}")
            title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
            label = {"zh": {"coverage": "覆盖图", "gaps": "补点方案图", "assignment": "分配图"},
                     "en": {"coverage": "Coverage map", "gaps": "Gap-closing map",
                            "assignment": "Assignment map"}}[lang][kind]
            assert title == htmlmod.escape(f"小县{p} · {label}")


@pytest.mark.parametrize("i", range(len(PAYLOADS)), ids=[f"p{i}" for i in range(len(PAYLOADS))])
def test_map_query_parameters_are_data(http, i):
    p = PAYLOADS[i]
    base = f"/v1/datasets/p{i}/maps/assignment"
    # filters that match: the filter shows in the legend (escaped), the matching members on the map
    for params, shown in (({"group": f"G2{p}"}, [f"医卫组{p}", f"陈静{p}"]),
                          ({"committee": f"K1{p}"}, [f"经济委员会{p}", f"张伟{p}"]),
                          ({"sector": "农业"}, [f"李强{p}"])):
        assert_safe(http.get(base, params={"job": f"job{i}", **params}, headers=PLANNER), p, shown, str(params))
    # a sector that matches nothing: an empty map whose legend quotes the request, as text
    r = http.get(base, params={"sector": f"界别{p}"}, headers=VIEWER)
    assert_safe(r, p, [f"界别{p}"], "sector")
    # parameters the API refuses: 422 problem+json, never 500, never evaluated
    for kind in ("coverage", "gaps", "assignment"):
        for name in ("lang", "tiles", "job", "threshold_m", "group", "committee"):
            r = http.get(f"/v1/datasets/p{i}/maps/{kind}", params={name: f"x{p}"}, headers=VIEWER)
            want = 200 if (kind != "assignment" and name in ("group", "committee")) else 422
            assert r.status_code == want, (kind, name, r.status_code, r.text[:300])
            assert "x49" not in r.text and f"x{PID}" not in r.text
        r = http.get(f"/v1/datasets/p{i}/maps/{kind}", params={"sector": f"x{p}"}, headers=VIEWER)
        assert r.status_code == 200 and "x49" not in r.text and f"x{PID}" not in r.text


def test_a_payload_station_name_in_a_standalone_map(tmp_path):
    import maps

    ds = Dataset.from_layers(evil_layers(PAYLOADS[0]), name="邪恶县{{7*7}}")
    out = maps.write_standalone(maps.coverage_map(ds), tmp_path / "m.html")
    page = out.read_text(encoding="utf-8")
    assert "西镇综合站{{7*7}}" in page and "西镇综合站49" not in page and "<title>小县{{7*7}} · 覆盖图</title>" in page


def test_tianditu_key_must_be_a_key():
    import maps

    ds = Dataset.from_layers(evil_layers(""), name="x")
    with pytest.raises(ValueError, match="tianditu_key"):
        maps.coverage_map(ds, tiles="tianditu", tianditu_key="{{7*7}}")


# --- Content-Security-Policy ------------------------------------------------------------------------

def _inline_hashes(page: str) -> tuple[set[str], set[str]]:
    import base64
    import hashlib

    def h(body: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"

    scripts = {h(b) for a, b in re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
               if "src=" not in a and "application/json" not in a}
    styles = {h(b) for b in re.findall(r"<style[^>]*>(.*?)</style>", page, re.S)}
    return scripts, styles


def _directives(csp: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in (x.strip() for x in csp.split(";")) if d}


@pytest.mark.parametrize("url,hosts", [
    ("/", ()), ("/login", ()),
    ("/v1/datasets/p0/maps/coverage", ("https://tile.openstreetmap.org",)),
    ("/v1/datasets/p0/maps/coverage?tiles=gaode", ("https://webrd01.is.autonavi.com", "https://webst04.is.autonavi.com")),
    ("/v1/datasets/p0/maps/coverage?tiles=tianditu", ("https://t7.tianditu.gov.cn", "https://tile.openstreetmap.org")),
    ("/v1/datasets/p0/maps/coverage?tiles=none", ()),
    ("/v1/datasets/p0/maps/gaps", ("https://tile.openstreetmap.org",)),
    ("/v1/datasets/p0/maps/assignment", ("https://tile.openstreetmap.org",))])
def test_every_html_response_carries_a_strict_csp(http, url, hosts):
    r = http.get(url, headers={**VIEWER, "Accept": "text/html"} if url != "/login" else {"Accept": "text/html"})
    assert r.status_code == 200, r.text[:300]
    d = _directives(r.headers["content-security-policy"])
    assert d["default-src"] == ["'self'"] and d["object-src"] == ["'none'"] and d["base-uri"] == ["'none'"]
    assert d["frame-ancestors"] == ["'none'"] and r.headers["x-frame-options"] == "DENY"
    policy = r.headers["content-security-policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy and "*" not in policy
    scripts, styles = _inline_hashes(r.text)
    assert set(d["script-src"]) == {"'self'"} | scripts  # every inline script we serve, nothing else
    assert set(d["style-src"]) == {"'self'"} | styles
    assert not re.search(r"<[^>]+\sstyle=", r.text) and not re.search(r"<[^>]+\son[a-z]+=", r.text)
    assert set(hosts) <= set(d["img-src"]) and {"'self'", "data:"} <= set(d["img-src"])
    if "tiles=none" in url:
        assert d["img-src"] == ["'self'", "data:"]
    if "tiles=gaode" in url:
        assert "https://tile.openstreetmap.org" not in d["img-src"]  # other datum: not offered


def test_csp_helper_arguments():
    assert "frame-ancestors 'self'" in content_security_policy("<p>", frame_ancestors="'self'")
    with pytest.raises(ValueError, match="frame_ancestors"):
        content_security_policy("<p>", frame_ancestors="*")
    with pytest.raises(ValueError, match="img_hosts"):
        content_security_policy("<p>", img_hosts=["https://x.example; script-src *"])
    s = content_security_policy('<script>a()</script><script type="application/json">{}</script>'
                                '<script src="/x.js"></script><style>p{}</style>')
    assert len(re.findall(r"'sha256-", s)) == 2


# --- Chromium ------------------------------------------------------------------------------------------

CSP_WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || ''));
});
"""


@pytest.mark.browser
def test_chromium_shows_payloads_as_text_and_reports_no_csp_violation(chromium, tmp_path):
    app = seeded_app(tmp_path / "store", indices=(0, 6))
    with live_server(app) as base:
        pages = {"page": "/", "coverage": "/v1/datasets/p6/maps/coverage",
                 "gaode": "/v1/datasets/p0/maps/coverage?tiles=gaode&lang=en",
                 "tianditu": "/v1/datasets/p0/maps/gaps?tiles=tianditu",
                 "assignment": "/v1/datasets/p0/maps/assignment?job=job0&group=G1%7B%7B7*7%7D%7D"}
        for name, url in pages.items():
            page, log = chromium.page()
            page.set_extra_http_headers(VIEWER)  # the viewer key rides in a header
            page.add_init_script(CSP_WATCH)
            page.goto(base + url)
            if name != "page":
                page.wait_for_selector(".leaflet-control-layers", state="attached")
                page.wait_for_timeout(300)
            page.screenshot(path=str(tmp_path / f"{name}.png"))
            if name == "page":
                assert f"邪恶县{PAYLOADS[0]}" in page.locator("#coverage h2").inner_text()
            assert page.evaluate("window.__csp") == [], name
            assert log.page_errors == [] and log.dialogs == [] and log.blocked_non_tiles() == [], name
            assert [t for t, _ in log.console_errors if "Content Security Policy" in t] == [], name
            if name == "coverage":  # p6: every name ends in <img src=x onerror=alert(1)>
                star = page.locator(".gs-sym", has_text="★")
                star.click()
                page.wait_for_selector(".leaflet-popup-content")
                title = page.locator(".leaflet-popup-content .gs-popup-title").inner_text()
                assert title == f"西镇综合站{PAYLOADS[6]}"
                assert page.locator("img[src=x]").count() == 0
                assert f"小县{PAYLOADS[6]}" in page.locator(".gs-summary").inner_text()
                assert page.title() == f"小县{PAYLOADS[6]} · 覆盖图"
            if name == "assignment":  # p0: {{7*7}} in group names (legend) and in the filter
                legend = page.locator(".gs-legend-box").inner_text()
                assert legend.count(f"经济农业组{PAYLOADS[0]}") == 2  # the filter and the group's row
                assert "经济农业组49" not in legend and f"李强{PAYLOADS[0]}" not in legend
                sw = page.locator(".gs-legend-box .gs-sw-circle").first
                assert sw.evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"
            if name in ("gaode", "tianditu"):
                host = "autonavi.com" if name == "gaode" else "tianditu.gov.cn"
                assert any(host in u for u in log.blocked), "tiles were not even requested"
            page.close()
