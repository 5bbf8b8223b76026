"""Village lists as the statistics bureau gives them: the five real counties with coordinates removed.

For each county of ``../shared/real`` and each share of the located villages stripped of their
coordinates at random (30 %, 90 %, 100 %, fixed seeds), with members given only by their home village
and constituents only by village: the import keeps every village and township, the counts by
``location_source`` are exactly what the rules say (worked out here from the CSV files, not by the
service), coverage of the villages with their own coordinates equals a haversine count on the raw
GCJ-02 points, a village of unknown location is never covered and always listed, and close-gaps,
the optimisation and the roster run. Skips cleanly when the data is absent.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from geo_service.core.coverage import coverage_summary, location_line
from geo_service.core.io import read_dataset
from solvers.gaps import close_gaps
from solvers.pipeline import run_optimisation
from solvers.roster import plan_roster
from shared_data import require_shared, shared_path

REAL = shared_path("real")
COUNTIES = ["chongyang", "dingri", "dongcheng", "shaoyang", "horqin-left-middle"]
FRACTIONS = (0.3, 0.9, 1.0)
THRESHOLDS = (5000.0, 10000.0, 20000.0)
AMBIGUOUS_M = 100.0  # the GCJ-02 shift is nearly uniform over a county: closer calls are ambiguous
SECTORS = ("经济", "农业", "教育")


def haversine_m(lon1, lat1, lon2, lat2):
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(v, dtype=float)) for v in (lon1, lat1, lon2, lat2))
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * np.arcsin(np.sqrt(h))


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def _write(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def _has_xy(r: dict[str, str]) -> bool:
    return bool(r["经度"].strip() and r["纬度"].strip())


def county_files(folder: Path, county: str, fraction: float, seed: int) -> dict:
    """Write the county with ``fraction`` of its located villages stripped, stations at the seats,
    members by village and constituents by village; return what the rules say independently."""
    src = REAL / county
    villages, towns = _read(src / "villages.csv"), _read(src / "townships.csv")
    rng = np.random.default_rng(seed)
    located = [i for i, r in enumerate(villages) if _has_xy(r)]
    for i in rng.choice(located, size=int(round(fraction * len(located))), replace=False):
        villages[i]["经度"] = villages[i]["纬度"] = ""
    _write(folder / "villages.csv", list(villages[0]), [list(r.values()) for r in villages])
    _write(folder / "townships.csv", list(towns[0]), [list(t.values()) for t in towns])
    seats = [t for t in towns if _has_xy(t)]
    _write(folder / "stations.csv", ["名称", "类型", "界别", "经度", "纬度"],
           [[f"{t['名称']}综合型委员工作站", "综合型", ";".join(SECTORS), t["经度"], t["纬度"]] for t in seats])
    # expected sources: own point, else the township's seat, else the centre of its derived polygon
    # (a township with a located village), else unknown
    seat_of = {t["名称"] for t in seats}
    town_has_given = {r["乡镇"] for r in villages if _has_xy(r)}
    expect = []
    for r in villages:
        expect.append("given" if _has_xy(r) else "township_seat" if r["乡镇"] in seat_of
                      else "township_centre" if r["乡镇"] in town_has_given else "unknown")
    # members given only by their home village; constituents only by village
    homes = rng.choice(len(villages), size=9, replace=False)
    _write(folder / "members.csv", ["编号", "姓名", "界别", "活动组", "专委会", "村社区编号"],
           [[f"M{k + 1}", f"委员{k + 1}", SECTORS[k % 3], f"G{k % 3 + 1}", f"K{k % 2 + 1}", villages[h]["代码"]]
            for k, h in enumerate(homes)])
    _write(folder / "groups.csv", ["编号", "名称", "界别"], [[f"G{i + 1}", f"{s}界别活动组", s] for i, s in enumerate(SECTORS)])
    _write(folder / "committees.csv", ["编号", "名称"], [["K1", "经济委员会"], ["K2", "农业农村委员会"]])
    picks = rng.choice(len(villages), size=90, replace=True)
    _write(folder / "constituents.csv", ["编号", "界别", "村"],
           [[f"P{i + 1:03d}", SECTORS[i % 3], villages[v]["代码"]] for i, v in enumerate(picks)])
    return {"villages": villages, "towns": towns, "seats": seats, "expect": expect,
            "homes": [villages[h]["代码"] for h in homes], "picks": [villages[v]["代码"] for v in picks]}


def _check_count(got: int, d: np.ndarray, thr: float, what: str) -> None:
    want = int((d <= thr).sum())
    ambiguous = int((np.abs(d - thr) < AMBIGUOUS_M).sum())
    assert abs(got - want) <= ambiguous, f"{what} at {thr:g} m: service {got}, haversine {want} (±{ambiguous})"


CASES = [(c, f) for c in COUNTIES for f in FRACTIONS]


@pytest.mark.parametrize(("county", "fraction"), CASES, ids=[f"{c}-{int(f * 100)}" for c, f in CASES])
def test_county_without_coordinates(county, fraction, tmp_path):
    require_shared(REAL / county / "villages.csv", "the real county list")
    info = county_files(tmp_path, county, fraction, seed=1000 + COUNTIES.index(county) * 10 + int(fraction * 10))
    ds = read_dataset(tmp_path, datum="gcj02", name=county)
    vs = info["villages"]

    # every village and township kept, each source exactly as the rules say
    assert len(ds.villages) == len(vs) and len(ds.townships) == len(info["towns"])
    got = dict(zip(ds.villages["id"], ds.villages["location_source"]))
    assert [got[r["代码"]] for r in vs] == info["expect"]
    rep = ds.meta["import_report"]
    want = {s: info["expect"].count(s) for s in ("given", "township_seat", "township_centre", "unknown")}
    assert {s: rep["by_source"][s] for s in want} == want and sum(rep["by_source"].values()) == len(vs)
    assert rep["unknown"] == want["unknown"] and rep["datum"] == "gcj02" and rep["dropped_count"] == 0
    line = location_line(ds.villages)
    assert line.startswith(f"{len(vs)} 个村社区：{want['given']} 个有坐标")
    unknown_ids = [r["代码"] for r, e in zip(vs, info["expect"]) if e == "unknown"]
    assert (f"{len(unknown_ids)} 个未定位" in line) == bool(unknown_ids)

    # members located by their home village, with its source
    m = ds.members.set_index("id")
    for k, home in enumerate(info["homes"]):
        assert m.at[f"M{k + 1}", "location_source"] == got[home]

    # coverage: given villages as an independent haversine count; unknown never covered, listed
    cov = coverage_summary(ds, THRESHOLDS)
    assert cov["location_sources"] == rep["by_source"] and cov["unlocated"] == unknown_ids
    given = [r for r in vs if _has_xy(r)]
    s_lon = np.array([float(t["经度"]) for t in info["seats"]])
    s_lat = np.array([float(t["纬度"]) for t in info["seats"]])
    if given:
        d = haversine_m(np.array([float(r["经度"]) for r in given])[:, None],
                        np.array([float(r["纬度"]) for r in given])[:, None], s_lon[None, :], s_lat[None, :]).min(axis=1)
    else:
        d = np.zeros(0)
    for row in cov["total"]:
        assert row["villages"] == len(vs) and row["given_villages"] == len(given)
        _check_count(row["covered_given_villages"], d, row["threshold"], f"{county} given villages")
        # villages at a seat lie at a station; centre villages may or may not be covered
        lo = row["covered_given_villages"] + want["township_seat"]
        assert lo <= row["covered_villages"] <= lo + want["township_centre"]
        assert row["covered_villages"] <= len(vs) - want["unknown"]
        assert row["share"] == pytest.approx(row["covered_villages"] / len(vs))

    # close-gaps says how many villages it could not consider
    if len(ds.villages) > len(unknown_ids):
        gaps = close_gaps(ds, threshold_m=10000, time_limit=10).to_dict()
        assert gaps["unconsidered"] == len(unknown_ids) and gaps["unconsidered_ids"] == unknown_ids
        assert gaps["status"] in ("optimal", "feasible")
        # a proposal at an approximate village is said to be (its point is the township's)
        assert all(p["location_source"] == got[p["village"]] for p in gaps["proposed"])

    # optimisation: every constituent assigned to a member of their sector, even of unknown location
    res = run_optimisation(ds, {"time_limit_s": 20})
    assert all(t.status != "error" for t in res.tiers.values())
    assign = res.tiers["constituents"].assignment
    assert len(assign) == 90 and all(v is not None for v in assign.values())
    msec = dict(zip(ds.members["id"], ds.members["sector"]))
    csec = dict(zip(ds.constituents["id"], ds.constituents["sector"]))
    assert all(msec[assign[c]] == csec[c] for c in assign)
    unlocated_people = [f"P{i + 1:03d}" for i, v in enumerate(info["picks"]) if v in set(unknown_ids)]
    if unlocated_people:
        diag = [x for x in res.diagnostics + res.tiers["constituents"].diagnostics
                if x.get("code") == "distance_unknown_assigned"]
        assert diag and diag[0]["params"]["n"] == len(unlocated_people)

    # the roster runs (members of unknown location on duty by sector and load)
    roster = plan_roster(ds, {"start": "2027-01", "months": 3, "time_limit_s": 10, "per_platform_min": 0,
                              "member_min": 1, "member_max": 3, "sectors_min": 0})
    assert roster.status in ("optimal", "feasible")


def test_maps_draw_a_county_with_unlocated_villages(tmp_path):
    """Every map takes villages and members of unknown location (they have nothing to draw)."""
    import maps

    require_shared(REAL / "dongcheng" / "villages.csv", "the real county list")
    county_files(tmp_path, "dongcheng", 1.0, seed=3)
    ds = read_dataset(tmp_path, datum="gcj02", name="dongcheng")
    assert ds.meta["import_report"]["unknown"] > 0  # 5 townships without a seat: their villages unlocated
    gaps = close_gaps(ds, threshold_m=10000, time_limit=10)
    res = run_optimisation(ds, {"time_limit_s": 10})
    for m in (maps.coverage_map(ds), maps.gaps_map(ds, gaps), maps.assignment_map(ds, res)):
        assert "村社区" in m.get_root().render()


def test_a_county_where_nothing_is_located(tmp_path):
    """No village and no township seat with coordinates: it imports, and every answer says so."""
    require_shared(REAL / "shaoyang" / "villages.csv", "the real county list")
    info = county_files(tmp_path, "shaoyang", 1.0, seed=9)
    towns = [{**t, "经度": "", "纬度": ""} for t in info["towns"]]
    _write(tmp_path / "townships.csv", list(towns[0]), [list(t.values()) for t in towns])
    (tmp_path / "stations.csv").unlink()
    ds = read_dataset(tmp_path, datum="gcj02")
    n = len(info["villages"])
    assert len(ds.villages) == n and ds.villages.geometry.isna().all()
    assert set(ds.townships["boundary_source"]) == {"none"}
    assert location_line(ds.villages) == f"{n} 个村社区：0 个有坐标，{n} 个未定位"
    cov = coverage_summary(ds)
    assert all(r["covered_villages"] == 0 and r["villages"] == n for r in cov["total"]) and len(cov["unlocated"]) == n
    gaps = close_gaps(ds).to_dict()  # nothing to decide, and says why
    assert gaps["status"] == "nothing_to_do" and gaps["unconsidered"] == n and not gaps["proposed"]
    res = run_optimisation(ds, {"time_limit_s": 5})
    assign = res.tiers["constituents"].assignment
    assert len(assign) == 90 and all(v is not None for v in assign.values())  # by sector and load
