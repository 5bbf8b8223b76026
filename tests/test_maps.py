"""Map HTML without a browser: offline assets, escaping, labels, GCJ-02 shift, figures, size."""

from __future__ import annotations

import re

import folium
import numpy as np
import pytest

import maps
from geo_service.core.crs import geodesic_m, wgs84_to_gcj02
from geo_service.core.dataset import Dataset
from maps.assets import STATIC_DIR, UnservedAssetError, check, localize
from maps.render import RUNTIME_JS, data_layers, js_json
from solvers.gaps import close_gaps

XSS = "<img src=x onerror=alert(1)>"
SCRIPT_END = "</script><script>alert(2)</script>"


def html_of(m: folium.Map) -> str:
    return m.get_root().render()


def asset_urls(html: str) -> list[str]:
    return re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)


@pytest.fixture(scope="module")
def evil(tiny_layers_mod) -> Dataset:
    """The tiny county with markup in a station, a village and a township name."""
    layers = tiny_layers_mod
    layers["stations"].loc[0, "name"] = XSS
    layers["villages"].loc[2, "name"] = SCRIPT_END  # V3, 800 people
    layers["townships"].loc[1, "name"] = '东镇"><b>x</b>'
    layers["counties"].loc[0, "name"] = "evil<i>县"
    return Dataset.from_layers(layers, name="evil<i>")


@pytest.fixture(scope="module")
def tiny_layers_mod():
    from conftest import make_tiny_layers

    return make_tiny_layers()


def test_assets_are_vendored_and_unchanged():
    assert check() == []


@pytest.mark.parametrize("build", ["coverage", "assignment", "gaps"])
def test_every_asset_is_served_locally(tiny, build):
    m = {"coverage": lambda: maps.coverage_map(tiny),
         "assignment": lambda: maps.assignment_map(tiny, {"tiers": {}}),
         "gaps": lambda: maps.gaps_map(tiny, {"proposed": [{"lon": 130.33, "lat": 46.88}]})}[build]()
    html = html_of(m)
    urls = asset_urls(html)
    assert urls, "no asset links found"
    for u in urls:
        assert u.startswith("/static/vendor/"), u
        assert (STATIC_DIR / u.removeprefix("/static/")).is_file(), u
    assert "cdn" not in html.lower() and "code.jquery.com" not in html


def test_localize_refuses_an_asset_it_does_not_vendor():
    from folium.plugins import Fullscreen

    m = folium.Map(tiles=None)
    Fullscreen().add_to(m)
    with pytest.raises(UnservedAssetError, match="Fullscreen"):
        localize(m)


def test_localize_leaves_folium_class_defaults_alone():
    before = list(folium.Map.default_js)
    localize(folium.Map(tiles=None))
    assert folium.Map.default_js == before


def test_names_from_data_are_escaped_in_the_html(evil):
    html = html_of(maps.coverage_map(evil, gap_threshold=1000))
    assert XSS not in html and "<img" not in html
    assert SCRIPT_END not in html and "<script>alert" not in html
    assert "<b>x</b>" not in html
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in html  # the station, as JSON data
    assert "evil&lt;i&gt;县" in html  # the county's name in the summary box
    assert "&lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in html  # the gap village in the ranking
    # the only <script> blocks are ours: count opening tags == closing tags
    assert html.count("<script") == html.count("</script>")


def test_js_json_cannot_close_a_script():
    s = js_json({"n": "</script><!-- & ' \u2028"})
    assert "<" not in s and ">" not in s and "&" not in s and "'" not in s and "\u2028" not in s


def test_labels_follow_lang(tiny):
    zh, en = html_of(maps.coverage_map(tiny)), html_of(maps.coverage_map(tiny, lang="en"))
    assert "综合型委员工作站" in zh and "覆盖人口" in zh
    assert "Comprehensive work station" in en and "Covered population" in en
    assert "综合型委员工作站" not in en and "覆盖人口" not in en
    with pytest.raises(ValueError, match="lang"):
        maps.coverage_map(tiny, lang="fr")


def test_layers_legend_search_and_fit(tiny):
    m = maps.coverage_map(tiny)
    names = list(data_layers(m))
    assert names[:3] == ["服务范围 20 公里", "服务范围 10 公里", "服务范围 5 公里"]
    assert {"乡镇街道边界", "区县边界", "站点"} <= set(names)
    assert any(n.startswith("村社区") for n in names) and any(n.startswith("覆盖缺口") for n in names)
    html = html_of(m)
    assert "L.control.layers" in html and "L.Control.Search" in html and "gs-legend-box" in html
    assert "gs.fitPadded(" in html and "[[46.8,130.3],[46.9,130.5]]" in html  # the county box, room for the boxes


def test_stations_by_kind_and_popup_facts(tiny):
    st = data_layers(maps.coverage_map(tiny))["站点"]
    feats = {f["properties"]["n"]: f["properties"] for f in st.data["features"]}
    assert feats["西镇综合站"]["c"] == "station_comprehensive"
    assert feats["西镇综合站"]["v"] == ["综合型委员工作站", "经济、农业、医药卫生", 2, "西镇"]
    assert feats["医卫工作室"]["c"] == "studio"


def test_villages_coloured_by_distance_band(tiny):
    """Each village's band agrees with a geodesic distance to its nearest station."""
    m = maps.coverage_map(tiny, thresholds_m=(2000, 5000, 8000))
    vl = next(layer for n, layer in data_layers(m).items() if n.startswith("村社区"))
    v, s = tiny.villages, tiny.stations
    d = geodesic_m(v.geometry.x.to_numpy()[:, None], v.geometry.y.to_numpy()[:, None],
                   s.geometry.x.to_numpy()[None, :], s.geometry.y.to_numpy()[None, :]).min(axis=1)
    want = np.searchsorted([2000, 5000, 8000], d, side="left")
    got = [int(f["properties"]["c"].split(":")[0]) for f in vl.data["features"]]
    assert got == want.tolist()


def test_summary_gives_population_within_each_threshold(tiny):
    html = html_of(maps.coverage_map(tiny, lang="en"))
    v, s = tiny.villages, tiny.stations
    d = geodesic_m(v.geometry.x.to_numpy()[:, None], v.geometry.y.to_numpy()[:, None],
                   s.geometry.x.to_numpy()[None, :], s.geometry.y.to_numpy()[None, :]).min(axis=1)
    pop = v["population"].to_numpy(dtype=int)
    for t in (5000, 10000, 20000):
        covered = int(pop[d <= t].sum())
        assert f"<td>{t // 1000} km</td><td>{covered:,}</td>" in html


def test_gaps_ranked_by_population_only_the_worst_ringed(tiny):
    m = maps.coverage_map(tiny, gap_threshold=3000, top_gaps=2)
    gaps = next(layer for n, layer in data_layers(m).items() if n.startswith("覆盖缺口"))
    props = [f["properties"] for f in gaps.data["features"]]
    # the top 2 only, each ringed with its number, however many villages lie beyond
    assert [p["c"] for p in props] == [1, 2] and [p["v"][0] for p in props] == [1, 2]
    assert gaps.config["styles"]["_"]["ring_color"] == "#b10026"
    v, s = tiny.villages, tiny.stations
    d = geodesic_m(v.geometry.x.to_numpy()[:, None], v.geometry.y.to_numpy()[:, None],
                   s.geometry.x.to_numpy()[None, :], s.geometry.y.to_numpy()[None, :]).min(axis=1)
    beyond = sorted(v["population"].to_numpy(dtype=int)[d > 3000], reverse=True)
    assert len(beyond) >= 3  # more gaps than rings
    assert [p["v"][2] for p in props] == beyond[:2]


def test_gcj02_tiles_shift_overlays_not_data(tiny):
    before = tiny.stations.geometry.copy()
    osm = data_layers(maps.coverage_map(tiny))["站点"].data["features"]
    gd = data_layers(maps.coverage_map(tiny, tiles="gaode"))["站点"].data["features"]
    for fo, fg, pt in zip(osm, gd, before):
        assert fo["geometry"]["coordinates"] == pytest.approx([pt.x, pt.y], abs=1e-5)
        glon, glat = wgs84_to_gcj02(pt.x, pt.y)
        assert fg["geometry"]["coordinates"] == pytest.approx([float(glon), float(glat)], abs=1e-5)
        # the shift is hundreds of metres here, far more than the rounding
        assert geodesic_m(pt.x, pt.y, float(glon), float(glat)) > 100
    assert tiny.stations.geometry.equals(before)
    html = html_of(maps.coverage_map(tiny, tiles="gaode"))
    assert "autonavi.com" in html and "tile.openstreetmap.org" not in html


def test_tile_choices_are_checked(tiny):
    with pytest.raises(ValueError, match="tianditu_key"):
        maps.coverage_map(tiny, tiles="tianditu")
    with pytest.raises(ValueError, match="tiles must be one of"):
        maps.coverage_map(tiny, tiles="google")
    assert "tianditu.gov.cn" in html_of(maps.coverage_map(tiny, tiles="tianditu", tianditu_key="k3y"))
    assert "L.tileLayer" not in html_of(maps.coverage_map(tiny, tiles="none"))


def test_thresholds_must_increase(tiny):
    with pytest.raises(ValueError, match="increasing"):
        maps.coverage_map(tiny, thresholds_m=(10000, 5000))


RESULT = {"tiers": {
    "constituents": {"assignment": {f"P{i + 1:03d}": f"M{i % 6 + 1}" for i in range(60)}},
    "villages": {"assignment": {"V3": "G1", "V4": "G1", "V7": "G2"}},
    "townships": {"assignment": {"T1": "K1", "T2": "K2"}},
    "stations": {"assignment": {"G1": "S1", "G2": "S3"}}}}


def test_assignment_map_zones_and_filters(tiny):
    layers = data_layers(maps.assignment_map(tiny, RESULT))
    assert "委员—联系群众所在村" not in layers  # links are drawn on selection only (tests/test_assignment_map.py)
    assert {f["properties"]["c"] for f in layers["活动组责任区"].data["features"]} == {"G1", "G2"}
    assert len(layers["委员住址"].data["features"]) == 6
    assert {f["properties"]["c"] for f in layers["专委会责任乡镇"].data["features"]} == {"K1", "K2"}
    g2 = data_layers(maps.assignment_map(tiny, RESULT, group="G2"))
    assert [f["properties"]["n"] for f in g2["委员住址"].data["features"]] == ["陈静", "杨磊"]
    assert {f["properties"]["c"] for f in g2["活动组责任区"].data["features"]} == {"G2"}
    sec = data_layers(maps.assignment_map(tiny, RESULT, sector="农业", lang="en"))
    assert [f["properties"]["n"] for f in sec["Members&#x27; homes"].data["features"]] == ["李强", "刘洋"]
    with pytest.raises(ValueError, match="G9"):
        maps.assignment_map(tiny, RESULT, group="G9")


def test_assignment_map_never_carries_personal_fields(tiny):
    html = html_of(maps.assignment_map(tiny, RESULT))
    assert "群众1" not in html and "13800000" not in html


def test_gaps_map_before_and_after(tiny):
    # a proposed point at village V4 (0.02, 0.08): V4 is 3.6 km from S1, so at 3 km it is a gap
    res = {"proposed": [{"lon": 130.32, "lat": 46.88, "name": "新点"}], "threshold_m": 3000}
    m = maps.gaps_map(tiny, res)
    vl = data_layers(m)["村社区（新增前后）"].data["features"]
    status = {f["properties"]["n"]: f["properties"]["c"] for f in vl}
    assert status["四村"] == "a"  # newly covered
    assert status["二村"] == "b"  # the station's own village
    site = data_layers(m)["建议新增联系点"].data["features"][0]["properties"]
    assert site["n"] == "新点" and site["v"][0] >= 200  # gains at least V4's 200 people
    html = html_of(m)
    assert "新增前" in html and "新增后" in html
    with pytest.raises(ValueError, match="proposed"):
        maps.gaps_map(tiny, {})


def test_demo_coverage_map_is_small(demo):
    html = html_of(maps.coverage_map(demo))
    assert len(html.encode()) < 3 * 2**20
    # one L.geoJson per layer draws every point: no per-feature Marker objects in the page
    for call in ("L.marker(", "L.circleMarker("):
        assert html.count(call) == RUNTIME_JS.count(call)


def test_gaps_map_from_close_gaps(tiny):
    res = close_gaps(tiny, threshold_m=3000)
    m = maps.gaps_map(tiny, res)
    vl = data_layers(m)["村社区（新增前后）"].data["features"]
    assert len(data_layers(m)["建议新增联系点"].data["features"]) == len(res.proposed) > 0
    # set cover at 3 km: every village is covered afterwards (LSCP), some only thanks to new points
    assert {f["properties"]["c"] for f in vl} <= {"b", "a"} and "a" in {f["properties"]["c"] for f in vl}
    assert "3 公里" in html_of(m) and "求解结果：最优" in html_of(m) and res.status == "optimal"  # zh words (glossary)


def test_road_mode_colours_by_travel_time(tiny):
    from geo_service.core.coverage import last_mile
    from geo_service.core.network import RoadNetwork

    net = RoadNetwork.from_dataset(tiny)
    m = maps.coverage_map(tiny, mode="road", network=net, thresholds_s=(300, 600, 1200), lang="en")
    vl = data_layers(m)["Villages (coloured by road time to nearest station)"]
    want = np.searchsorted([300, 600, 1200], last_mile(tiny, net)["nearest_s"].to_numpy(), side="left")
    assert [int(f["properties"]["c"].split(":")[0]) for f in vl.data["features"]] == want.tolist()
    assert "Service area 10 min" in data_layers(m)
    assert all(f["properties"]["v"][3].endswith(" min") for f in vl.data["features"])  # popup: road time
