"""The assignment map in headless Chromium: clicking a zone draws that group's links (and only then).

Named to sort after the other browser modules: the session-wide Chromium (Playwright's sync API) keeps
an event loop in the main thread, which breaks the asyncio tests of modules that run after its start.
"""

from __future__ import annotations

import re

import pytest
from browser import chromium, live_server, make_app  # noqa: F401 (chromium is a fixture)

from solvers.pipeline import run_optimisation


@pytest.fixture(scope="module")
def tiny_run(tiny):
    return run_optimisation(tiny, {"gap_threshold_m": 3000, "villages_min": 1}).to_dict()


@pytest.mark.browser
@pytest.mark.slow
def test_click_a_zone_shows_its_links(chromium, tmp_path, tiny, tiny_run):  # noqa: F811
    from geo_service.core.store import JobRecord, SQLiteStore

    app = make_app(tmp_path, {"tiny": tiny})
    store: SQLiteStore = app.state.store
    store.create_job(JobRecord(id="job1", dataset_id="tiny", kind="optimisation", params={},
                               status="successful", result=tiny_run))
    # a point inside G1's zone (its first contact village), to click on
    contact = next(v for v, g in tiny_run["tiers"]["villages"]["assignment"].items() if g == "G1")
    pt = tiny.villages.set_index("id").geometry[contact]
    with live_server(app) as base:
        page, log = chromium.page()
        page.goto(f"{base}/v1/datasets/tiny/maps/assignment?job=job1")
        page.wait_for_selector(".leaflet-control-layers", state="attached")
        page.wait_for_timeout(300)
        assert page.evaluate("document.body.getAttribute('data-gs-selected')") in (None, "")
        name = re.search(r"var (map_[0-9a-f]+) = L\.map", page.content()).group(1)
        xy = page.evaluate(f"(ll) => {{ var p = {name}.latLngToContainerPoint(L.latLng(ll[0], ll[1]));"
                           f" var r = document.getElementById('{name}').getBoundingClientRect();"
                           f" return [p.x + r.left + 12, p.y + r.top + 12]; }}", [pt.y, pt.x])
        page.mouse.click(xy[0], xy[1])  # beside the ★, inside the zone
        page.wait_for_selector("body[data-gs-selected='g:G1']", state="attached", timeout=5000)
        assert int(page.evaluate("document.body.getAttribute('data-gs-links')")) >= 1
        page.screenshot(path=str(tmp_path / "zone_click.png"))
        assert log.page_errors == [] and log.dialogs == []
        page.close()
