"""Print-ready static maps (matplotlib): page sizes per format and DPI, the bundled CJK font (no tofu),
user text as plain text, legend counts against the data, the HTTP endpoints, and the page and map
boxes on a phone-sized screen (Chromium)."""

from __future__ import annotations

import io
import re
import warnings

import numpy as np
import pytest
from scipy.spatial import cKDTree

from geo_service.core.dataset import Dataset
from maps.static_maps import render
from maps.static_render import (
    FONT_PATH,
    MAX_PIXELS,
    PixelBudgetError,
    figure_context,
    new_figure,
    nice_length,
    page_size,
    plain,
)

pytestmark = pytest.mark.filterwarnings("ignore:Glyph .* missing from font")


def small(dpi: int = 50, **kw):
    return page_size(dpi=dpi, **kw)


# --- page size and the pixel budget ----------------------------------------------------------------

def test_default_page_is_a4_landscape_at_300_dpi():
    s = page_size()
    assert (s.width_mm, s.height_mm, s.dpi) == (297.0, 210.0, 300)
    assert s.pixels == (3508, 2480)
    assert page_size("a4", orientation="portrait", dpi=100).pixels == (827, 1169)
    assert page_size(width_mm=100, height_mm=50, dpi=254).pixels == (1000, 500)


@pytest.mark.parametrize("kwargs, field", [
    ({"paper": "letter"}, "paper"), ({"orientation": "sideways"}, "orientation"), ({"dpi": 20}, "dpi"),
    ({"dpi": 300.5}, "dpi"), ({"width_mm": 100}, "height_mm"), ({"width_mm": 10, "height_mm": 100}, "width_mm"),
    ({"width_mm": 100, "height_mm": float("nan")}, "height_mm")])
def test_bad_page_arguments_are_named(kwargs, field):
    with pytest.raises(ValueError, match=field):
        page_size(**kwargs)


def test_pixel_budget():
    assert page_size("a2", dpi=300).pixels[0] * page_size("a2", dpi=300).pixels[1] <= MAX_PIXELS
    with pytest.raises(PixelBudgetError, match=r"width x height x dpi²"):
        page_size("a2", dpi=600)


def test_nice_scale_lengths():
    assert [nice_length(x) for x in (7.3, 1999, 2000, 34_000, 260_000)] == [5, 1000, 2000, 20_000, 200_000]
    with pytest.raises(ValueError, match="max_m"):
        nice_length(0)


# --- formats ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dpi", [50, 96])
def test_png_has_the_page_size_in_pixels(tiny, dpi):
    from PIL import Image

    for size in (small(dpi), small(dpi, paper="a5", orientation="portrait")):
        r = render("coverage", tiny, fmt="png", size=size)
        assert r.media_type == "image/png"
        img = Image.open(io.BytesIO(r.data))
        assert img.size == size.pixels == r.pixels
        assert img.info.get("dpi") and round(img.info["dpi"][0]) == dpi


def test_pdf_and_svg_have_the_page_size(tiny):
    pt_w, pt_h = 297 / 25.4 * 72, 210 / 25.4 * 72  # A4 landscape in points
    r = render("coverage", tiny, fmt="pdf", size=small())
    assert r.media_type == "application/pdf" and r.data.startswith(b"%PDF")
    box = re.search(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", r.data)
    assert box and abs(float(box.group(1)) - pt_w) < 0.1 and abs(float(box.group(2)) - pt_h) < 0.1
    # the CJK font is embedded as a TrueType subset (FontFile2 must hold TrueType outlines, not CFF)
    assert b"/FontFile2" in r.data and b"NotoSansSC-GB2312-Regular" in r.data
    from solvers.gaps import close_gaps

    r = render("gaps", tiny, fmt="svg", size=small(), gap_result=close_gaps(tiny, threshold_m=10000))
    assert r.media_type == "image/svg+xml"
    svg = r.data.decode("utf-8")
    w = re.search(r'<svg[^>]* width="([\d.]+)pt" height="([\d.]+)pt"', svg)
    assert w and abs(float(w.group(1)) - pt_w) < 0.1 and abs(float(w.group(2)) - pt_h) < 0.1
    assert "<script" not in svg and "<text" not in svg  # text drawn as paths: no font needed to view it


# --- the CJK font ------------------------------------------------------------------------------------

def glyph_pixels(text: str, cjk_font) -> np.ndarray:
    """``text`` drawn large at a fixed place, as a greyscale array."""
    size = page_size(width_mm=60, height_mm=50, dpi=100)
    with warnings.catch_warnings(), figure_context(cjk_font):
        warnings.simplefilter("ignore")
        fig = new_figure(size)
        fig.text(0.1, 0.3, text, fontsize=60)
        fig.canvas.draw()
        rgba = np.asarray(fig.canvas.buffer_rgba())
    return rgba[..., :3].mean(axis=2)


def test_cjk_glyphs_render_with_the_bundled_font_and_not_as_tofu():
    assert FONT_PATH.is_file() and (FONT_PATH.parent / "OFL.txt").is_file()
    title = "覆盖图"
    bundled, missing = glyph_pixels(title, FONT_PATH), glyph_pixels(title, None)
    assert (bundled < 128).sum() > 200 and (missing < 128).sum() > 100  # both drew something
    assert not np.array_equal(bundled, missing)
    # without a CJK font every hanzi is the same box ("tofu"); with it, each character is its own shape
    chars = ["覆", "盖", "图", "桦"]  # 桦 (桦南县) is GB2312 level 2: kept in the subset
    tofu = [glyph_pixels(c, None) for c in chars]
    assert all(np.array_equal(tofu[0], t) for t in tofu[1:])
    real = [glyph_pixels(c, FONT_PATH) for c in chars]
    for i in range(len(chars)):
        assert not np.array_equal(real[i], tofu[i]), chars[i]
        for j in range(i + 1, len(chars)):
            assert not np.array_equal(real[i], real[j]), (chars[i], chars[j])


def test_every_character_the_demo_maps_print_is_in_the_bundled_font(demo):
    from fontTools.ttLib import TTFont

    cmap = TTFont(str(FONT_PATH))["cmap"].getBestCmap()
    from maps.coverage import T as TC
    from maps.gaps import T as TG
    from maps.assignment import T as TA

    texts = []
    for layer, col in (("townships", "name"), ("villages", "name"), ("stations", "name"), ("groups", "name"),
                       ("committees", "name"), ("counties", "name")):
        texts += demo.layers[layer][col].astype(str).tolist()
    for table in (TC, TG, TA):
        texts += [str(v) for v in table["zh"].values()]
    chars = {c for s in texts for c in s if ord(c) > 0x2E80}
    missing = sorted(c for c in chars if ord(c) not in cmap)
    assert missing == []


def test_user_text_is_never_mathtext(tiny_layers):
    layers = tiny_layers
    layers["stations"].loc[0, "name"] = r"$\undefinedcommand{$x^2$ 站"  # would raise if parsed as math
    layers["villages"].loc[0, "name"] = "$5 一村$"
    ds = Dataset.from_layers(layers, name="$x$ 县")
    r = render("coverage", ds, fmt="png", size=small())
    assert r.data.startswith(b"\x89PNG")
    assert plain("a $x$") == r"a \$x\$"


# --- legend counts against the data --------------------------------------------------------------

def legend_texts(kind, ds, **kw) -> list[str]:
    from maps.static_coverage import coverage_figure
    from maps.static_gaps import gaps_figure

    with warnings.catch_warnings(), figure_context():
        warnings.simplefilter("ignore")
        if kind == "coverage":
            sm = coverage_figure(ds, size=small(), **kw)
        else:
            sm = gaps_figure(ds, size=small(), **kw)
        out = []
        for ax in sm.fig.axes:
            for lg in ax.findobj(lambda a: type(a).__name__ == "Legend"):
                out += [t.get_text() for t in lg.get_texts()]
    return out


@pytest.mark.parametrize("name", ["tiny", "demo"])
def test_coverage_legend_counts_match_the_data(name, request):
    ds = request.getfixturevalue(name)
    kinds = {"station_comprehensive": "综合型委员工作站", "station_sector": "界别型委员工作站",
             "studio": "委员工作室", "contact_point": "界别联系点"}
    # distances computed here independently: KD-tree on the metric coordinates
    d = cKDTree(ds.xy_m("stations")).query(ds.xy_m("villages"))[0]
    thresholds = (5000.0, 10000.0, 20000.0)
    within = [int((d <= thresholds[0]).sum()), int(((d > 5000) & (d <= 10000)).sum()),
              int(((d > 10000) & (d <= 20000)).sum()), int((d > 20000).sum())]
    texts = legend_texts("coverage", ds)
    for kind, n in ds.stations["kind"].value_counts().items():
        assert f"{kinds[kind]} ({n})" in texts
    assert f"≤ 5 公里 ({within[0]}个)" in texts
    assert f"5 公里 – 10 公里 ({within[1]}个)" in texts
    assert f"10 公里 – 20 公里 ({within[2]}个)" in texts
    assert f"> 20 公里 ({within[3]}个)" in texts
    assert sum(within) == len(ds.villages)


def test_gaps_legend_counts_match_the_data(tiny):
    from solvers.gaps import close_gaps

    gr = close_gaps(tiny, threshold_m=3000)
    sites = gr.proposed.to_crs(tiny.metric_crs)
    pxy = np.column_stack([sites.geometry.x, sites.geometry.y])
    vxy, sxy = tiny.xy_m("villages"), tiny.xy_m("stations")
    before = cKDTree(sxy).query(vxy)[0] <= 3000
    after = cKDTree(np.vstack([sxy, pxy])).query(vxy)[0] <= 3000
    texts = legend_texts("gaps", tiny, gap_result=gr, threshold_m=3000)
    assert f"已覆盖 ({int(before.sum())}个)" in texts
    assert f"新增覆盖 ({int((after & ~before).sum())}个)" in texts
    assert f"仍未覆盖 ({int((~after).sum())}个)" in texts
    assert f"建议点 ({len(gr.proposed)}个)" in texts


def test_assignment_counts_match_the_run(tiny):
    from solvers.pipeline import run_optimisation

    res = run_optimisation(tiny, {"townships_per_committee": 1, "villages_min": 1, "villages_max": 4}).to_dict()
    r = render("assignment", tiny, fmt="png", size=small(), result=res)
    va = res["tiers"]["villages"]["assignment"]
    assert r.counts["villages_per_group"] == {g: sum(1 for x in va.values() if x == g) for g in tiny.groups["id"]}
    assert r.counts["members_per_group"] == tiny.members["group_id"].value_counts().to_dict()
    ta = res["tiers"]["townships"]["assignment"]
    assert sum(r.counts["townships_per_committee"].values()) == sum(1 for x in ta.values() if x)


def test_bad_kind_and_format():
    with pytest.raises(ValueError, match="kind"):
        render("heat", None)
    with pytest.raises(ValueError, match="format"):
        render("coverage", None, fmt="gif")
    with pytest.raises(ValueError, match="gap_result"):
        render("gaps", None)


# --- over HTTP ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def api(tmp_path_factory):
    from conftest import make_tiny_layers
    from test_api_support import SETTINGS_KEYS

    from browser import make_app

    tiny = Dataset.from_layers(make_tiny_layers(), name="tiny")
    app = make_app(tmp_path_factory.mktemp("static"), {"tiny": tiny}, api_keys=SETTINGS_KEYS)
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c, app


@pytest.mark.slow  # > 3 s
def test_endpoints_serve_png_pdf_svg_with_their_content_types(api):
    from PIL import Image
    from test_api_support import hdr

    c, _ = api
    r = c.get("/v1/datasets/tiny/maps/coverage.png?dpi=60", headers=hdr("viewer"))
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(r.content)).size == page_size(dpi=60).pixels
    assert r.headers["x-content-type-options"] == "nosniff"
    r = c.get("/v1/datasets/tiny/maps/coverage.png?dpi=60&paper=a5&orientation=portrait", headers=hdr("viewer"))
    assert Image.open(io.BytesIO(r.content)).size == page_size("a5", orientation="portrait", dpi=60).pixels
    r = c.get("/v1/datasets/tiny/maps/gaps.pdf?dpi=60&lang=en", headers=hdr("viewer"))
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf" and r.content[:4] == b"%PDF"
    r = c.get("/v1/datasets/tiny/maps/coverage.svg?dpi=60&width_mm=200&height_mm=150", headers=hdr("viewer"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    # nothing may load or run; inline styles only (matplotlib styles each path with an attribute)
    csp = r.headers["content-security-policy"]
    assert "script-src" not in csp and csp.startswith("default-src 'none'")
    # the HTML map is still served at the name without a suffix
    r = c.get("/v1/datasets/tiny/maps/coverage", headers=hdr("viewer"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")


def test_endpoint_rules_roles_and_budget(api, tiny):
    from test_api_support import hdr

    from geo_service.core.store import JobRecord
    from solvers.pipeline import run_optimisation

    c, app = api
    assert c.get("/v1/datasets/tiny/maps/coverage.png?dpi=60").status_code == 401
    r = c.get("/v1/datasets/tiny/maps/coverage.png?paper=a2&dpi=600", headers=hdr("viewer"))
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert "像素数超过上限" in r.json()["detail"] and r.json()["errors"][0]["code"] == "pixel_budget"
    en = c.get("/v1/datasets/tiny/maps/coverage.png?paper=a2&dpi=600&lang=en", headers=hdr("viewer")).json()
    assert "width x height x dpi²" in en["detail"] and en["errors"] == r.json()["errors"]
    for q in ("dpi=20", "dpi=601", "width_mm=100", "width_mm=10&height_mm=100", "paper=letter"):
        r = c.get(f"/v1/datasets/tiny/maps/coverage.png?{q}", headers=hdr("viewer"))
        assert r.status_code == 422, q
    assert c.get("/v1/datasets/tiny/maps/coverage.gif", headers=hdr("viewer")).status_code == 422
    assert c.get("/v1/datasets/nope/maps/coverage.png", headers=hdr("viewer")).status_code == 404
    r = c.get("/v1/datasets/tiny/maps/assignment.png?dpi=60", headers=hdr("viewer"))
    assert r.status_code == 404 and r.json()["type"].endswith("no-result")
    res = run_optimisation(tiny, {"townships_per_committee": 1, "villages_min": 1, "villages_max": 4})
    app.state.store.create_job(JobRecord(id="run-1", dataset_id="tiny", kind="optimisation", params={},
                                         status="successful", progress=100.0, result=res.to_dict()))
    r = c.get("/v1/datasets/tiny/maps/assignment.pdf?dpi=60", headers=hdr("viewer"))
    assert r.status_code == 200 and r.content[:4] == b"%PDF"
    assert c.get("/v1/datasets/tiny/maps/assignment.png?dpi=60&job=nope", headers=hdr("viewer")).status_code == 404


# --- the page and the map boxes on a phone (Chromium) -------------------------------------------------

@pytest.fixture(scope="module")
def phone_server(tmp_path_factory):
    from browser import live_server, make_app
    from conftest import make_tiny_layers

    from geo_service.core.store import JobRecord

    tiny = Dataset.from_layers(make_tiny_layers(), name="小县（手机测试用的一个名字很长的数据集）")
    app = make_app(tmp_path_factory.mktemp("phone"), {"tiny": tiny})
    store = app.state.store
    for i in range(3):  # runs with long messages: the runs table is wider than a phone
        store.create_job(JobRecord(id=f"job-{i}-{'x' * 30}", dataset_id="tiny", kind="optimisation", params={},
                                   status="failed", progress=40.0,
                                   message="infeasible: villages_min x groups exceeds the villages " * 2))
    with live_server(app) as base:
        yield base


@pytest.mark.browser
@pytest.mark.slow  # > 3 s
def test_page_fits_a_phone_and_the_map_boxes_fold(chromium, phone_server, tmp_path):
    page, log = chromium.page()
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(f"{phone_server}/")
    page.wait_for_selector("#runs-table")
    page.screenshot(path=str(tmp_path / "page-375.png"), full_page=True)
    sw, cw = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert sw <= cw, f"horizontal scroll at 375 px: scrollWidth {sw} > clientWidth {cw}"
    box = page.evaluate("(() => { const b = document.getElementById('runs-box'); "
                        "return [b.scrollWidth, b.clientWidth]; })()")
    assert box[0] > box[1]  # the wide runs table scrolls inside its own box
    assert page.locator("#print-coverage-pdf").count() == 1
    assert log.page_errors == []

    # the coverage map on the phone: summary and legend folded, the map not covered
    page.goto(f"{phone_server}/v1/datasets/tiny/maps/coverage")
    page.wait_for_selector(".leaflet-control-layers", state="attached")
    page.wait_for_timeout(200)
    page.screenshot(path=str(tmp_path / "map-375.png"))
    # the layer control is Leaflet's folded button there, and opens on a tap
    assert page.locator(".leaflet-control-layers-expanded").count() == 0
    assert page.locator(".leaflet-control-layers-toggle").is_visible()
    summary = page.locator("details.gs-summary")
    assert summary.count() == 1 and page.evaluate("document.querySelector('details.gs-summary').open") is False
    assert page.evaluate("document.querySelector('details.gs-legend-box').open") is False
    h = page.evaluate("document.querySelector('details.gs-summary').getBoundingClientRect().height")
    assert h < 40  # just its summary line
    page.locator("details.gs-summary > summary").click()
    assert page.evaluate("document.querySelector('details.gs-summary').open") is True
    assert "覆盖人口" in summary.inner_text()
    sw, cw = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert sw <= cw
    assert log.page_errors == []

    # on a wide screen the summary starts open and folds on a click
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{phone_server}/v1/datasets/tiny/maps/coverage")
    page.wait_for_selector(".leaflet-control-layers", state="attached")
    page.wait_for_timeout(200)
    page.screenshot(path=str(tmp_path / "map-1280.png"))
    # the coverage map's nine layers stay behind the layers button, which opens on hover
    assert page.locator(".leaflet-control-layers-expanded").count() == 0
    page.locator(".leaflet-control-layers").hover()
    assert page.locator(".leaflet-control-layers-expanded").count() == 1
    page.mouse.move(5, 400)
    assert page.evaluate("document.querySelector('details.gs-summary').open") is True
    # the map is fitted beside the open boxes: no station symbol lies under the summary or the legend
    overlaps = page.evaluate("""(() => {
        const boxes = [...document.querySelectorAll('details.gs-box')].map(b => b.getBoundingClientRect());
        const syms = [...document.querySelectorAll('.gs-sym')].map(s => s.getBoundingClientRect());
        const hit = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
        return [syms.length, syms.filter(s => boxes.some(b => hit(s, b))).length];
    })()""")
    assert overlaps[0] == 3 and overlaps[1] == 0, overlaps
    page.locator("details.gs-summary > summary").click()
    assert page.evaluate("document.querySelector('details.gs-summary').open") is False
    assert log.page_errors == [] and log.console_errors_non_tiles() == []
    page.close()


def test_unknown_population_counts_villages(tiny_layers):
    from maps.static_coverage import coverage_figure

    tiny_layers["villages"]["population"] = None
    ds = Dataset.from_layers(tiny_layers, name="无人口县")
    with warnings.catch_warnings(), figure_context():
        warnings.simplefilter("ignore")
        sm = coverage_figure(ds, size=small())
        texts = [t.get_text() for t in sm.fig.findobj(lambda a: hasattr(a, "get_text"))]
    assert sm.counts["weight_basis"] == "villages" and sm.counts["total_population"] == len(ds.villages)
    assert any(t.startswith("村数：8") for t in texts)
    assert "覆盖率按村数计算" in "".join(texts)  # the note (wrapped to the panel)
