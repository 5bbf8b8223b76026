"""Maps of village lists as offices have them: most villages without coordinates.

On real counties (``../shared/real``) whose villages without coordinates sit at their township seat
(approximate) or have no location at all: every village is accounted for on the map (drawn as
itself, in a counted hollow ring at its seat, or named as 未定位), the counts per seat and the covered
villages agree with an independent computation, distances from a seat carry ≈, and the words speak
of villages, never of people. Print maps hold every station in their frame, place labels without
overlaps and carry the county's name.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pandas as pd
import pytest

import maps
from conftest import make_tiny_layers
from geo_service.core.coverage import location_line
from geo_service.core.crs import geodesic_m
from geo_service.core.dataset import Dataset
from maps.locations import location_sources
from maps.names import county_name, disambiguate
from maps.render import data_layers
from maps.static_coverage import coverage_figure
from maps.static_render import figure_context, page_size
from real_sparse import sparse_real_county

COUNTIES = ["chongyang", "dingri", "dongcheng", "shaoyang", "horqin-left-middle"]
PEOPLE_WORDS = ("覆盖人口", "圆点大小表示人口", "人口最多", "按人口排序")


def html_of(m) -> str:
    return m.get_root().render()


def test_location_line_counts_every_source():
    L = make_tiny_layers()
    v = L["villages"].copy()
    assert location_line(v) == f"{len(v)} 个村社区：{len(v)} 个有坐标"
    v["location_source"] = ["given", "placed", "township_seat", "township_seat", "township_centre"] + \
        ["given"] * (len(v) - 5)
    v.loc[v.index[-1], "geometry"] = None  # no point: unknown, whatever the column says
    assert location_sources(v).tolist()[-1] == "unknown"
    n_given = len(v) - 5  # the first given, the last unknown
    assert location_line(v) == (f"{len(v)} 个村社区：{n_given + 1} 个有坐标，其中 1 个为人工标注，2 个按乡镇驻地近似，"
                                "1 个按乡镇中心近似，1 个未定位")
    assert location_line(v, "en").startswith(f"{len(v)} villages: {n_given + 1} with coordinates")
    with pytest.raises(ValueError, match="lang"):
        location_line(v, "fr")


def test_names_shared_by_two_stations_carry_their_township():
    assert disambiguate(["聚宝镇站", "聚宝镇站", "东站"], ["聚宝镇", "西镇", "东镇"]) == \
        ["聚宝镇站（聚宝镇）", "聚宝镇站（西镇）", "东站"]
    assert disambiguate(["甲", "甲"], ["乙", "乙"]) == ["甲（乙 1）", "甲（乙 2）"]
    L = make_tiny_layers()
    L["stations"]["name"] = "同名站"
    m = maps.coverage_map(Dataset.from_layers(L, name="tiny"))
    names = [f["properties"]["n"] for f in data_layers(m)["站点"].data["features"]]
    assert len(set(names)) == len(names) and all(n.startswith("同名站（") for n in names)


def _haversine_nearest(vx, vy, sx, sy) -> np.ndarray:
    if not len(sx):
        return np.full(len(vx), np.inf)
    return geodesic_m(np.asarray(vx)[:, None], np.asarray(vy)[:, None],
                      np.asarray(sx)[None, :], np.asarray(sy)[None, :]).min(axis=1)


@pytest.mark.parametrize("county", COUNTIES)
def test_every_village_is_drawn_as_what_it_is(county):
    ds = sparse_real_county(county, unknown_every=5)
    v = ds.villages
    src = location_sources(v)
    m = maps.coverage_map(ds, gap_threshold=10000)
    html = html_of(m)
    layers = data_layers(m)
    exact = layers["村社区（按最近站点距离着色）"].data["features"]
    approx_name = next((n for n in layers if n.startswith("近似位置")), None)
    rings = layers[approx_name].data["features"] if approx_name else []
    unknown = v[src == "unknown"]
    # every village accounted for: drawn itself, counted in a ring at its seat, or named as 未定位
    assert len(exact) == int((src == "given").sum())
    assert sum(f["properties"]["k"] for f in rings) == int(src.isin(["township_seat", "township_centre"]).sum())
    assert len(exact) + sum(f["properties"]["k"] for f in rings) + len(unknown) == len(v)
    if len(unknown):
        assert f"未定位的村社区（{len(unknown)} 个，未画在图上）" in html
        for name in unknown["name"].head(10):
            assert name in html
    # the rings: one per seat, counted as an independent grouping of the list says
    seats = v[src.isin(["township_seat", "township_centre"])]
    want = Counter((round(p.x, 5), round(p.y, 5)) for p in seats.geometry)
    got = Counter()
    for f in rings:
        lon, lat = f["geometry"]["coordinates"]
        got[(round(lon, 5), round(lat, 5))] += f["properties"]["k"]
    assert got == want
    for f in rings:  # distances from a seat are approximate
        assert str(f["properties"]["v"][2]).startswith("≈ ")
    assert location_line(v) in html
    assert not [w for w in PEOPLE_WORDS if w in html]
    gaps = next(layer for n, layer in layers.items() if n.startswith("覆盖缺口"))
    assert len(gaps.data["features"]) <= 10  # the worst 10, ringed and numbered
    # covered villages per threshold: an independent geodesic count over the located villages
    loc = v[src != "unknown"]
    d = _haversine_nearest(loc.geometry.x, loc.geometry.y, ds.stations.geometry.x, ds.stations.geometry.y)
    for thr in (5000, 10000, 20000):
        want_n = int((d <= thr).sum())
        amb = int((np.abs(d - thr) < 5).sum())
        cell = re.search(rf"<td>{thr // 1000} 公里</td><td>([\d,]+)</td>", html)
        assert cell is not None and abs(int(cell.group(1).replace(",", "")) - want_n) <= amb


def _visible_texts(ax):
    fig = ax.figure
    r = fig.canvas.get_renderer()
    return [t.get_window_extent(r) for t in ax.texts if t.get_visible() and t.get_text().strip()]


def _overlaps(boxes) -> list[tuple[int, int]]:
    out = []
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            a, b = boxes[i], boxes[j]
            if a.x0 < b.x1 - 0.5 and b.x0 < a.x1 - 0.5 and a.y0 < b.y1 - 0.5 and b.y0 < a.y1 - 0.5:
                out.append((i, j))
    return out


def test_print_map_holds_a_station_outside_every_township_and_is_titled_with_the_county():
    L = make_tiny_layers()
    st = L["stations"]
    far = st.iloc[[0]].copy()
    tw_bounds = L["townships"].total_bounds
    far["id"], far["name"] = "S-far", "远处工作站"
    far["geometry"] = far.geometry.translate(xoff=(tw_bounds[2] - tw_bounds[0]) * 0.8 + 0.05)
    L["stations"] = pd.concat([st, far], ignore_index=True)
    L["counties"] = L["counties"].iloc[0:0]  # no county outline: the township shapes would be the frame
    L["townships"]["county_id"] = None
    ds = Dataset.from_layers(L, name="tiny-id")
    with figure_context():
        sm = coverage_figure(ds, size=page_size("a5", dpi=72))
        ax = sm.fig.axes[0]
        x0, x1 = ax.get_xlim()
        y0, y1 = ax.get_ylim()
        xy = ds.xy_m("stations")
        assert ((xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)).all()
        assert sm.counts["stations"]["station_comprehensive"] >= 2
        assert sm.title == "tiny-id · 覆盖图"  # no county row: the dataset's name
    L2 = make_tiny_layers()
    ds2 = Dataset.from_layers(L2, name="tiny-id")
    assert county_name(ds2) == L2["counties"]["name"].iloc[0]
    with figure_context():
        assert coverage_figure(ds2, size=page_size("a5", dpi=72)).title.startswith(county_name(ds2))


def test_print_map_labels_never_overlap(demo):
    with figure_context():
        sm = coverage_figure(demo, size=page_size("a4", dpi=100))
        ax = sm.fig.axes[0]
        boxes = _visible_texts(ax)
        assert len(boxes) >= 5  # still labelled
        assert _overlaps(boxes) == []
    real = sparse_real_county("shaoyang", unknown_every=7)
    with figure_context():
        sm = coverage_figure(real, size=page_size("a4", dpi=100))
        ax = sm.fig.axes[0]
        assert _overlaps(_visible_texts(ax)) == []
        assert sm.counts["weight_basis"] == "villages"


def test_a_county_named_after_its_file_is_not_a_title():
    L = make_tiny_layers()
    L["counties"].loc[0, "name"] = "county_boundary_gcj02"  # what an import takes from a file without names
    assert county_name(Dataset.from_layers(L, name="tieli")) == "tieli"
    L["counties"].loc[0, "name"] = "铁力市"
    assert county_name(Dataset.from_layers(L, name="tieli")) == "铁力市"
    assert maps.coverage_map(Dataset.from_layers(L, name="tieli")).get_root().render().count("<title>铁力市 · 覆盖图") == 1


def test_derived_township_shapes_are_drawn_as_derived():
    L = make_tiny_layers()
    L["townships"]["boundary_source"] = ["derived", "given"]
    m = maps.coverage_map(Dataset.from_layers(L, name="tiny"))
    layer = next(layer for n, layer in data_layers(m).items() if n.startswith("乡镇街道边界"))
    assert "推算边界" in layer.layer_name
    cls = [f["properties"]["c"] for f in layer.data["features"]]
    assert cls == ["derived", "_"] and layer.config["styles"]["derived"]["dashArray"] != "4 3"
    assert "非官方" in layer.data["features"][0]["properties"]["v"][-1]
    with figure_context():
        coverage_figure(Dataset.from_layers(L, name="tiny"), size=page_size("a5", dpi=72))
