"""The viewer's assignment map in headless Chromium: zones and their links work, and no member's home
is drawn (members' homes are personal data: api/privacy.py), at desktop and phone width.

Named to sort with the other browser modules (after the asyncio tests)."""

from __future__ import annotations

import re

import pytest
from browser import chromium, live_server, make_app  # noqa: F401 (chromium is a fixture)

from geo_service.core.store import JobRecord
from solvers.pipeline import run_optimisation
from test_api_support import KEYS, SETTINGS_KEYS

SHOTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 375, "height": 740}}


@pytest.mark.browser
@pytest.mark.slow
def test_the_viewers_assignment_map_draws_zones_but_no_homes(chromium, tmp_path, tiny):  # noqa: F811
    run = run_optimisation(tiny, {"gap_threshold_m": 3000, "villages_min": 1}).to_dict()
    app = make_app(tmp_path / "d", {"tiny": tiny}, api_keys=SETTINGS_KEYS)
    app.state.store.create_job(JobRecord(id="job1", dataset_id="tiny", kind="optimisation", params={},
                                         status="successful", result=run))
    contact = next(v for v, g in run["tiers"]["villages"]["assignment"].items() if g == "G1")
    pt = tiny.villages.set_index("id").geometry[contact]
    circles = {}
    with live_server(app) as base:
        for role in ("planner", "viewer"):
            for shot, size in SHOTS.items():
                page, log = chromium.page()
                page.set_viewport_size(size)
                page.set_extra_http_headers({"X-API-Key": KEYS[role]})
                page.goto(f"{base}/v1/datasets/tiny/maps/assignment?job=job1")
                page.wait_for_selector(".leaflet-control-layers", state="attached")
                page.wait_for_timeout(400)
                # members' homes are the small circle markers of the map (villages are drawn as squares)
                circles[(role, shot)] = page.evaluate(
                    "() => { let n = 0; for (const k in window) { const m = window[k];"
                    " if (m && m instanceof L.Map) m.eachLayer(l => { if (l instanceof L.CircleMarker"
                    " && l.feature && l.feature.properties && l.options.radius === 5) n++; }); } return n; }")
                name = re.search(r"var (map_[0-9a-f]+) = L\.map", page.content()).group(1)
                xy = page.evaluate(f"(ll) => {{ var p = {name}.latLngToContainerPoint(L.latLng(ll[0], ll[1]));"
                                   f" var r = document.getElementById('{name}').getBoundingClientRect();"
                                   f" return [p.x + r.left + 12, p.y + r.top + 12]; }}", [pt.y, pt.x])
                page.mouse.click(xy[0], xy[1])  # inside G1's zone: its links are drawn for every role
                page.wait_for_selector("body[data-gs-selected='g:G1']", state="attached", timeout=5000)
                page.screenshot(path=str(tmp_path / f"assignment-{role}-{shot}.png"))
                assert log.page_errors == [] and log.dialogs == [], (role, shot, log.page_errors)
                page.close()
    assert circles[("planner", "desktop")] == len(tiny.members)  # the planner's map draws every home
    assert circles[("viewer", "desktop")] == 0 and circles[("viewer", "phone")] == 0
