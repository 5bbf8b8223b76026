"""The web maps at their first view, and placing a village on the page, in headless Chromium.

Each map (coverage, assignment before any run, gaps) is opened on the demo county and on a real
county whose village list is mostly without coordinates, at 1280x900 and on a phone (375x812), and
screenshotted (``GEO_SERVICE_SCREENSHOTS``: a folder that keeps them; else the test's tmp dir).
What is drawn is checked from Leaflet's own layers: gap rings bounded, boundaries and zones present,
stations clustered, approximate villages as hollow rings, a metric scale only, the phone view fits.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from browser import live_server, make_app

from geo_service.core.coverage import location_line
from geo_service.core.dataset import Dataset
from geo_service.core.store import JobRecord, SQLiteStore
from real_sparse import sparse_real_county
from test_web_places import approx_layers

pytestmark = [pytest.mark.browser, pytest.mark.slow]
KINDS = ("coverage", "assignment", "gaps")
VIEWS = {"desktop": (1280, 900), "phone": (375, 812)}

# What Leaflet drew, counted from the map object (canvas layers leave no DOM to count).
DRAWN_JS = """() => {
  var m = null;
  for (var k in window) { if (k.indexOf('map_') === 0 && window[k] && window[k].eachLayer) { m = window[k]; } }
  var out = {gapRings: 0, boundaries: 0, zones: 0, hollow: 0, villages: 0, clusters: 0, stations: 0};
  if (!m) { return null; }
  m.eachLayer(function (l) {
    var o = l.options || {};
    if (l instanceof L.CircleMarker) {
      out.villages += 1;
    } else if (l instanceof L.Polyline && (o.dashArray === '4 3' || o.dashArray === '1 4')) { out.boundaries += 1; }
    else if (l instanceof L.Polygon && o.fillOpacity === 0.35) { out.zones += 1; }
  });
  out.hollow = document.querySelectorAll('.gs-ring').length;
  out.gapRings = document.querySelectorAll('.gs-gap-ring').length;
  out.clusters = document.querySelectorAll('.marker-cluster').length;
  out.stations = document.querySelectorAll('.gs-sym').length;
  var sc = document.querySelector('.leaflet-control-scale');
  out.scale = sc ? sc.innerText : '';
  var r = sc ? sc.getBoundingClientRect() : null;
  out.scaleBox = r ? [r.left, r.top, r.right, r.bottom] : null;
  out.scrollWidth = document.documentElement.scrollWidth;
  out.legend = (document.querySelector('.gs-legend-box') || {}).textContent || '';
  out.summary = (document.querySelector('.gs-summary') || {}).textContent || '';
  return out;
}"""


def shots_dir(tmp_path: Path) -> Path:
    keep = os.environ.get("GEO_SERVICE_SCREENSHOTS")
    d = Path(keep) if keep else tmp_path
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="module")
def server(tmp_path_factory, demo):
    datasets = {"demo": demo, "tiny": Dataset.from_layers(approx_layers(), name="tiny")}
    datasets["real"] = sparse_real_county("chongyang", unknown_every=6)
    app = make_app(tmp_path_factory.mktemp("maps-browser"), datasets)
    with live_server(app) as base:
        yield base, app, set(datasets)


def open_map(chromium, base: str, url: str, view: str, shot: Path):
    page, log = chromium.page()
    page.set_viewport_size(dict(zip(("width", "height"), VIEWS[view])))
    page.goto(base + url)
    page.wait_for_function("() => document.querySelector('.leaflet-control-scale') !== null")
    page.wait_for_timeout(600)
    page.screenshot(path=str(shot))
    drawn = page.evaluate(DRAWN_JS)
    page.close()
    assert log.page_errors == [] and log.console_errors_non_tiles() == []
    return drawn


def check_first_view(kind: str, view: str, d: dict, *, has_groups: bool = True) -> None:
    w, h = VIEWS[view]
    assert d is not None
    assert d["boundaries"] > 0, "township boundaries are on at first view"
    assert "mi" not in d["scale"] and "ft" not in d["scale"] and ("km" in d["scale"] or " m" in d["scale"])
    left, top, right, bottom = d["scaleBox"]
    assert 0 <= left and right <= w and bottom <= h, f"the scale bar is cut off: {d['scaleBox']}"
    assert d["scrollWidth"] <= w, "the page is wider than the screen"
    if kind == "coverage":
        assert 0 < d["gapRings"] <= 10, "only the worst gaps are ringed"
    if kind == "assignment" and has_groups:
        assert d["zones"] > 0, "zones are drawn before any run"


@pytest.mark.parametrize("view", list(VIEWS))
def test_demo_maps_at_first_view(chromium, server, view, tmp_path):
    base, _app, _ = server
    out = shots_dir(tmp_path)
    for kind in KINDS:
        d = open_map(chromium, base, f"/v1/datasets/demo/maps/{kind}?tiles=none", view, out / f"demo-{kind}-{view}.png")
        check_first_view(kind, view, d)
        assert d["clusters"] > 0, f"{kind}: the demo's 80 stations are clustered at the county's zoom"
        assert "人口" in d["summary"] or kind == "assignment"  # the demo has population


@pytest.mark.parametrize("view", list(VIEWS))
def test_sparse_real_county_maps_at_first_view(chromium, server, view, tmp_path):
    base, app, _ids = server
    ds = app.state.store.get_dataset("real")
    out = shots_dir(tmp_path)
    for kind in KINDS:
        d = open_map(chromium, base, f"/v1/datasets/real/maps/{kind}?tiles=none", view, out / f"real-{kind}-{view}.png")
        check_first_view(kind, view, d, has_groups=len(ds.groups) > 0)
        assert location_line(ds.villages) in d["legend"].replace("\n", "")
        if kind != "assignment":
            assert d["hollow"] > 0, f"{kind}: approximate villages are hollow rings"
            text = d["summary"] + d["legend"]
            assert "未定位" in d["summary"]
            assert not [w for w in ("覆盖人口", "圆点大小表示人口", "人口最多", "按人口") if w in text], text


def test_a_planner_places_a_village_on_the_page(chromium, server, tmp_path):
    base, app, _ = server
    store: SQLiteStore = app.state.store
    before = store.get_dataset("tiny")
    vid = before.villages["id"].iloc[-1]
    v0 = store.dataset_info("tiny").version
    page, log = chromium.page()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(base + "/?dataset=tiny")
    page.wait_for_function("() => document.body.dataset.placeState === 'picking'")
    page.select_option("#place-village", vid)
    page.select_option("#place-tiles", "gaode")
    page.locator("#place-map").scroll_into_view_if_needed()
    box = page.locator("#place-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.3)
    page.wait_for_function("() => document.body.dataset.placeState === 'clicked'")
    assert "GCJ-02" in page.locator("#place-status").inner_text()
    page.click("#place-save")
    page.wait_for_function("() => document.body.dataset.placeState === 'saved'")
    page.screenshot(path=str(shots_dir(tmp_path) / "page-placed.png"), full_page=True)
    after = store.get_dataset("tiny")
    assert store.dataset_info("tiny").version == v0 + 1
    assert after.villages.set_index("id").loc[vid, "location_source"] == "placed"
    moved = after.villages.set_index("id").geometry[vid]
    assert moved.distance(before.villages.set_index("id").geometry[vid]) > 1e-4
    page.click("#place-undo")
    page.wait_for_function("() => document.body.dataset.placeState === 'undone'")
    undone = store.get_dataset("tiny").villages.set_index("id")
    assert undone.loc[vid, "location_source"] == "township_seat"
    back = undone.geometry[vid]
    assert back.equals_exact(before.villages.set_index("id").geometry[vid], 1e-7)
    assert store.dataset_info("tiny").version == v0 + 2
    assert log.page_errors == [] and log.console_errors_non_tiles() == [] and log.blocked_non_tiles() == []
    page.close()


def test_the_page_follows_runs_made_elsewhere(chromium, server, tmp_path):
    """A run started from the command line (a job in the store) appears on an open page and its
    status follows it to the end, with no reload and no repeated status."""
    base, app, _ = server
    store: SQLiteStore = app.state.store
    page, log = chromium.page()
    page.goto(base + "/?dataset=tiny")
    assert page.locator("#no-runs").is_visible()
    store.create_job(JobRecord(id="cli-run-000000001", dataset_id="tiny", kind="optimisation", params={},
                               status="running", progress=30.0, message="running"))
    row = page.locator('#runs-table tr[data-job="cli-run-000000001"]')
    row.wait_for(timeout=15000)
    assert row.get_attribute("data-status") == "running" and "运行中" in row.inner_text()
    store.update_job("cli-run-000000001", status="successful", progress=100.0, message="finished")
    page.wait_for_selector('#runs-table tr[data-job="cli-run-000000001"][data-status="successful"]', timeout=15000)
    text = row.inner_text()
    assert "已完成" in text and text.count("已完成") == 1 and "地图" in text
    assert not page.locator("#no-runs").is_visible()
    assert log.page_errors == []
    page.close()
