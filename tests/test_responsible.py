"""Who is responsible here, checked against an independent walk of the dataset (haversine distances on the
raw coordinates): the containing (nearest) village, the nearest stations, each sector's member and this
month's duty, on the demo county and on the real counties (../shared/real), over HTTP."""

from __future__ import annotations

import csv
import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest
from test_api_support import client, hdr, make_app

from geo_service.core.crs import gcj02_to_wgs84
from geo_service.core.dataset import Dataset
from geo_service.core.io import read_dataset
from geo_service.core.responsible import DutyIndex, ResponsibilityIndex, lookup
from geo_service.core.store import SQLiteStore
from shared_data import require_shared, shared_path

REAL = shared_path("real")
COUNTIES = ["chongyang", "dingri", "dongcheng", "shaoyang", "horqin-left-middle"]
SECTORS = ("经济", "农业", "教育")
R_EARTH = 6371008.8
REL_TOL = 0.005  # the index measures in a transverse Mercator projection: within 0.5 % of haversine at 200 km


def hav(lon1, lat1, lon2, lat2):
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * R_EARTH * np.arcsin(np.sqrt(a))


def _xy(gdf):
    g = gdf.geometry
    ok = ~(g.isna() | g.is_empty)
    x = np.where(ok, g.x.where(ok), np.nan)
    y = np.where(ok, g.y.where(ok), np.nan)
    return x.astype(float), y.astype(float)


def _check_nearest(got_id, got_d, ids, d, what):
    """``got_id`` is the nearest by ``d`` up to measuring tolerance (ties and near-ties accepted)."""
    best = np.nanmin(d)
    mine = d[ids.index(got_id)]
    assert mine <= best * (1 + REL_TOL) + 1.0, f"{what}: {got_id} at {mine:.0f} m, nearest is {best:.0f} m"
    if got_d is not None:
        assert got_d == pytest.approx(mine, rel=REL_TOL, abs=1.0), what


def walk_check(ds, ans, lon, lat, k=3):
    """Compare one answer with a brute-force walk of ``ds``."""
    v = ds.villages
    vx, vy = _xy(v)
    dv = hav(lon, lat, vx, vy)
    vids = v["id"].astype(str).tolist()
    _check_nearest(ans["village"]["id"], ans["distance_to_village_m"], vids, dv, "village")
    assert ans["township"]["id"] == str(v.set_index("id").loc[ans["village"]["id"], "township_id"])
    s = ds.stations
    sx, sy = _xy(s)
    ds_ = hav(lon, lat, sx, sy)
    order = np.argsort(ds_)
    sids = s["id"].astype(str).tolist()
    assert len(ans["stations"]) == min(k, len(sids))
    for rank, st in enumerate(ans["stations"]):
        assert st["distance_m"] == pytest.approx(ds_[sids.index(st["id"])], rel=REL_TOL, abs=1.0)
        assert ds_[sids.index(st["id"])] <= ds_[order[rank]] * (1 + REL_TOL) + 1.0
    # each sector: the member living in the village, else the nearest home
    m = ds.members
    mx, my = _xy(m)
    row = vids.index(ans["village"]["id"])
    cx, cy = vx[row], vy[row]
    got = {x["sector"]: x for x in ans["members"]}
    for sec in sorted(set(m["sector"].astype(str))):
        sel = (m["sector"].astype(str) == sec).to_numpy()
        assert sec in got, f"no member for sector {sec}"
        living = m[sel & (m["village_id"].astype(str) == ans["village"]["id"]).to_numpy()] if "village_id" in m else []
        if len(living):
            assert got[sec]["id"] in set(living["id"].astype(str))
            continue
        dm = np.where(sel, hav(cx, cy, mx, my), np.nan)
        _check_nearest(got[sec]["id"], got[sec]["distance_m"], m["id"].astype(str).tolist(), dm, f"member {sec}")
    for g in ans["groups"]:
        assert g["id"] in {x["group_id"] for x in ans["members"]}


@pytest.mark.slow
def test_demo_lookup_matches_an_independent_walk(demo):
    ix = ResponsibilityIndex(demo)
    rng = np.random.default_rng(7)
    b = demo.villages.total_bounds
    for lon, lat in zip(rng.uniform(b[0], b[2], 40), rng.uniform(b[1], b[3], 40)):
        walk_check(demo, lookup(ix, lon=float(lon), lat=float(lat)), float(lon), float(lat))


def test_station_and_village_lookups(demo):
    ix = ResponsibilityIndex(demo)
    sid = str(demo.stations["id"].iloc[5])
    a = lookup(ix, station_id=sid)
    assert a["stations"][0]["id"] == sid and a["stations"][0]["distance_m"] == 0.0
    g = demo.stations.geometry.iloc[5]
    walk_check(demo, lookup(ix, lon=g.x, lat=g.y), g.x, g.y)
    vid = str(demo.villages["id"].iloc[17])
    assert lookup(ix, village_id=vid)["village"]["id"] == vid
    for bad, kw in (("village_id", {"village_id": "nope"}), ("station_id", {"station_id": "nope"}),
                    ("exactly one", {}), ("exactly one", {"lon": 1.0, "lat": 1.0, "station_id": sid}),
                    ("k must", {"lon": 130.4, "lat": 46.8, "k": 0})):
        with pytest.raises(ValueError, match=bad):
            lookup(ix, **kw)


def _roster(demo, month: str):
    st = [str(s) for s in demo.stations["id"].iloc[:3]]
    mem = [str(m) for m in demo.members["id"].iloc[:6]]
    duties = [{"month": month, "station_id": st[i % 3], "member_id": mem[i], "date": f"{month}-{10 + i:02d}"}
              for i in range(6)]
    duties.append({"month": "2031-02", "station_id": st[0], "member_id": mem[0], "date": "2031-02-11"})
    return {"duties": duties, "members": [{"id": m, "name": m} for m in mem], "months": [month, "2031-02"]}, st, mem


def test_duty_of_the_month_and_next_reception(demo):
    result, st, _ = _roster(demo, "2031-01")
    ix = ResponsibilityIndex(demo)
    duty = DutyIndex.from_result(result)
    a = lookup(ix, station_id=st[0], duty=duty, today=dt.date(2031, 1, 5))
    # independent: the duties of station 0 in January
    want = {r["member_id"] for r in result["duties"] if r["station_id"] == st[0] and r["month"] == "2031-01"}
    assert {m["id"] for m in a["stations"][0]["duty"]} == want == {m["id"] for m in a["duty"]}
    assert a["next_reception"]["date"] == "2031-01-10"
    later = lookup(ix, station_id=st[0], duty=duty, today=dt.date(2031, 1, 20))
    assert later["next_reception"]["date"] == "2031-02-11"  # January's reception has passed
    assert lookup(ix, station_id=st[0], today=dt.date(2031, 1, 5))["duty"] == []


def test_public_answer_holds_no_personal_fields(demo):
    ix = ResponsibilityIndex(demo)
    vid = str(demo.constituents["village_id"].iloc[0])
    pub, per = lookup(ix, village_id=vid), lookup(ix, village_id=vid, personal=True)
    text = str(pub)
    assert "home" not in text and "constituents" not in pub and "phone" not in text
    assert per["constituents"] and all("phone" in c for c in per["constituents"])
    assert all("home" in m for m in per["members"])


@pytest.mark.slow
def test_responsible_over_http_roles(tmp_path, demo):
    app = make_app(tmp_path, demo)
    with client(app) as c:
        sid = str(demo.stations["id"].iloc[0])
        r = c.get("/v1/datasets/tiny/responsible", params={"station_id": sid})
        assert r.status_code == 200, r.text
        assert "phone" not in r.text and "home" not in r.text and "constituents" not in r.json()
        vid = str(demo.constituents["village_id"].iloc[0])
        for role in (None, "viewer"):
            body = c.get("/v1/datasets/tiny/responsible", params={"village_id": vid}, headers=hdr(role)).text
            assert '"phone"' not in body and '"home"' not in body
        r = c.get("/v1/datasets/tiny/responsible", params={"village_id": vid}, headers=hdr("planner"))
        assert r.json()["constituents"] and '"phone"' in r.text
        for params, field in (({"lon": 200, "lat": 1}, "lon"), ({"village_id": "x"}, "village_id"), ({}, "lon"),
                              ({"station_id": "x" * 70}, "station_id"), ({"lon": "abc", "lat": 1}, "lon")):
            r = c.get("/v1/datasets/tiny/responsible", params=params)
            assert r.status_code == 422, (params, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["errors"][0]["field"] == field
        assert c.get("/v1/datasets/nope/responsible", params={"lon": 1, "lat": 1}).status_code == 404


def _rows(p: Path) -> list[dict[str, str]]:
    with open(p, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def _write(p: Path, header: list[str], rows: list[list]) -> None:
    with open(p, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def real_county(county: str, folder: Path):
    """A real county with a station at every located seat and three members per sector near seats
    (GCJ-02 like the lists), read as an office would import it."""
    src = REAL / county
    require_shared(src / "villages.csv", "the real county list")
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("villages.csv", "townships.csv"):
        (folder / name).write_bytes((src / name).read_bytes())
    seats = [t for t in _rows(src / "townships.csv") if t["经度"] and t["纬度"]]
    _write(folder / "stations.csv", ["编号", "名称", "类型", "乡镇", "经度", "纬度"],
           [[f"S{i + 1:02d}", f"{t['名称']}综合型委员工作站", "综合型", t["名称"], t["经度"], t["纬度"]]
            for i, t in enumerate(seats)])
    rng = np.random.default_rng(len(county))
    members, groups = [], []
    for si, sec in enumerate(SECTORS):
        groups.append([f"G{si + 1}", f"{sec}界别活动组", sec, f"M{si * 3 + 1:02d}"])
        for j in range(3):
            t = seats[(si * 3 + j * 5) % len(seats)]
            members.append([f"M{si * 3 + j + 1:02d}", f"委员{si * 3 + j + 1}", sec, f"G{si + 1}",
                            float(t["经度"]) + rng.uniform(-0.02, 0.02), float(t["纬度"]) + rng.uniform(-0.02, 0.02)])
    _write(folder / "members.csv", ["编号", "姓名", "界别", "活动组", "经度", "纬度"], members)
    _write(folder / "groups.csv", ["编号", "名称", "界别", "召集人"], groups)
    return read_dataset(folder, datum="gcj02", missing_points="drop", name=county)


@pytest.mark.slow
@pytest.mark.parametrize("county", COUNTIES)
def test_real_county_lookup_matches_an_independent_walk(county, tmp_path):
    ds = real_county(county, tmp_path / county)
    # the walk uses the raw GCJ-02 list converted here, not the dataset's points
    raw = [r for r in _rows(REAL / county / "villages.csv") if r["经度"] and r["纬度"]]
    rl, rb = gcj02_to_wgs84(np.array([float(r["经度"]) for r in raw]), np.array([float(r["纬度"]) for r in raw]))
    assert len(ds.villages) == len(raw)
    store_dir = tmp_path / "store"
    SQLiteStore(store_dir).put_dataset(county, ds)
    rng = np.random.default_rng(3)
    picks = rng.choice(len(raw), size=12, replace=False)
    with client(make_app(store_dir)) as c:
        for i in picks:  # points a little off each village, as a phone would report them
            lon, lat = float(rl[i]) + rng.uniform(-0.003, 0.003), float(rb[i]) + rng.uniform(-0.003, 0.003)
            r = c.get(f"/v1/datasets/{county}/responsible", params={"lon": lon, "lat": lat})
            assert r.status_code == 200, r.text
            ans = r.json()
            d = hav(lon, lat, rl, rb)
            ids = [r_["代码"] for r_ in raw]
            _check_nearest(ans["village"]["id"], ans["distance_to_village_m"], ids, d, f"{county} village")
            walk_check(ds, ans, lon, lat)
            assert '"phone"' not in r.text and '"home"' not in r.text
            assert math.isfinite(ans["stations"][0]["distance_m"])


def test_a_county_with_only_villages_still_answers(tiny_layers):
    layers = {k: v for k, v in tiny_layers.items() if k in ("counties", "townships", "villages")}
    ds = Dataset.from_layers(layers)
    a = lookup(ResponsibilityIndex(ds), lon=130.38, lat=46.88)
    assert a["village"]["id"] == "V3" and a["stations"] == [] and a["members"] == [] and a["groups"] == []
    assert a["duty"] == [] and a["next_reception"] is None
