"""Duty roster: every rule checked independently on produced rosters, brute-force optima,
infeasibility diagnoses, ICS parsed back, minimal change after a member leaves."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
from collections import Counter, defaultdict

import numpy as np
import pytest
from pyproj import Geod

from geo_service.app.demo import generate_demo
from solvers.roster import RosterParams, RosterProblem, RosterResult, plan_roster
from solvers.roster.calendar import iso_week, load_holidays, month_range, reception_date
from geo_service.app.outputs import roster_ics_bytes, write_roster, write_roster_calendars
from solvers.roster.outputs import duty_geojson, roster_tables

GEOD = Geod(ellps="WGS84")


# -- independent checker -----------------------------------------------------------------------------
def check_roster(res: RosterResult, prm: RosterParams, *, sectors: dict[str, str] | None = None,
                 unavailable: dict[str, set[str]] | None = None, holidays=None,
                 members_present: set[str] | None = None) -> list[str]:
    """Every roster rule re-checked from the result's plain rows; returns the violations."""
    bad: list[str] = []
    months = month_range(prm.start, prm.months)
    assert res.months == months
    mem = {m["id"]: m for m in res.members}
    plat = {p["id"]: p for p in res.platforms}
    sectors = sectors or {m["id"]: m["sector"] for m in res.members}
    present = members_present if members_present is not None else set(mem)
    frozen_before = prm.replan_from or months[0]
    per_pt: Counter = Counter()
    per_mt: Counter = Counter()
    per_m: Counter = Counter()
    seen = set()
    for r in res.duties:
        key = (r["month"], r["station_id"], r["member_id"])
        if key in seen:
            bad.append(f"duplicate duty {key}")
        seen.add(key)
        per_pt[(r["station_id"], r["month"])] += 1
        per_mt[(r["member_id"], r["month"])] += 1
        per_m[r["member_id"]] += 1
    for p in plat:
        for mo in months:
            if mo < frozen_before:
                continue
            k = per_pt[(p, mo)]
            if not prm.per_platform_min <= k <= prm.per_platform_max:
                bad.append(f"{mo} {p}: {k} on duty")
    for (m, mo), k in per_mt.items():
        if k > 1:
            bad.append(f"{m} twice in {mo}")
    totals = [per_m[m] for m in present]
    for m in present:
        if not prm.member_min <= per_m[m] <= prm.member_max:
            bad.append(f"{m} serves {per_m[m]} months")
    if totals and max(totals) - min(totals) > prm.fairness_spread:
        if not any(d["code"] == "fairness_relaxed" for d in res.diagnostics):
            bad.append(f"spread {max(totals) - min(totals)} without a fairness_relaxed diagnostic")
    by_mp = defaultdict(set)
    for r in res.duties:
        by_mp[(r["member_id"], r["station_id"])].add(months.index(r["month"]))
        if unavailable and r["month"] in unavailable.get(r["member_id"], set()) and r["month"] >= frozen_before:
            bad.append(f"{r['member_id']} on duty in unavailable {r['month']}")
        if prm.max_distance_m is not None and r["member_id"] in mem and mem[r["member_id"]]["lon"] is not None:
            m, p = mem[r["member_id"]], plat[r["station_id"]]
            _, _, d = GEOD.inv(m["lon"], m["lat"], p["lon"], p["lat"])
            if d > prm.max_distance_m * 1.003:  # transverse Mercator vs geodesic, < 0.3 %
                bad.append(f"{r['member_id']} -> {r['station_id']} {d:.0f} m > cap")
        # reception date: in its month, a working day, the platform's weekday unless moved off a holiday
        d = dt.date.fromisoformat(r["date"])
        if d.strftime("%Y-%m") != r["month"]:
            bad.append(f"date {d} outside {r['month']}")
        if holidays is not None and not holidays.is_working_day(d):
            bad.append(f"date {d} is not a working day")
    if not prm.allow_consecutive:
        for (m, p), ts in by_mp.items():
            if any(t + 1 in ts for t in ts):
                bad.append(f"{m} at {p} two months running")
    if prm.sectors_min:
        for p in plat:
            secs = {sectors.get(r["member_id"]) for r in res.duties if r["station_id"] == p}
            if len(secs) < prm.sectors_min:
                bad.append(f"{p} sees {len(secs)} sectors")
    for lk in prm.locks:
        if (lk.month, lk.station_id, lk.member_id) not in seen:
            bad.append(f"lock {lk} not kept")
    # consultations: one per township and quarter, no member twice in one ISO week
    qt = Counter((c["quarter"], c["township_id"]) for c in res.consultations)
    bad += [f"{k} has {v} consultations" for k, v in qt.items() if v > 1]
    wk: Counter = Counter()
    for c in res.consultations:
        for m in c["member_ids"]:
            wk[(m, iso_week(dt.date.fromisoformat(c["date"])))] += 1
        for m in c["member_ids"]:
            if sectors.get(m) not in c["sectors"]:
                bad.append(f"consultation {c['quarter']} {c['township_id']}: {m} not of an invited sector")
    bad += [f"{k[0]} in {v} consultations in week {k[1]}" for k, v in wk.items() if v > 1]
    return bad


@pytest.fixture(scope="module")
def fujin():
    return generate_demo(counties=["230882"])


@pytest.fixture(scope="module")
def fujin_roster(fujin):
    prm = RosterParams(start="2027-01", months=12, time_limit_s=20)
    return prm, plan_roster(fujin, prm)


# -- the demo --------------------------------------------------------------------------------------------
def test_demo_roster_meets_every_rule():
    ds = generate_demo()
    prm = RosterParams(start="2027-01", months=12, time_limit_s=30)
    res = plan_roster(ds, prm)
    assert res.status in ("optimal", "feasible")
    assert res.gap is not None and res.gap <= 0.01
    assert res.bound <= res.objective + 1e-6
    assert len(res.platforms) == int((ds.stations["kind"] == "station_comprehensive").sum())
    hol = load_holidays([2027])
    assert check_roster(res, prm, holidays=hol) == []
    # everyone takes a turn: 400 members, at least one month each
    assert len({r["member_id"] for r in res.duties}) == len(ds.members)
    assert {c["quarter"] for c in res.consultations} == {"2027Q1", "2027Q2", "2027Q3", "2027Q4"}
    again = RosterResult.from_dict(json.loads(json.dumps(res.to_dict())))
    assert again.to_dict() == res.to_dict()


def test_fujin_roster_and_outputs(fujin_roster, tmp_path):
    prm, res = fujin_roster
    assert res.status == "optimal"
    assert check_roster(res, prm, holidays=load_holidays([2027])) == []
    assert all(d["code"] != "platform_short" for d in res.diagnostics)
    tables = roster_tables(res)
    assert list(tables) == ["轮值表", "委员值班", "接待日", "一季一协商", "说明"]
    assert list(tables["轮值表"].columns) == ["值班平台", *res.months]  # glossary: platform
    gj = duty_geojson(res, "2027-03")
    layers = Counter(f["properties"]["layer"] for f in gj["features"])
    on_duty = [r for r in res.duties if r["month"] == "2027-03"]
    assert layers == {"platform": len(res.platforms), "member": len(on_duty), "link": len(on_duty)}
    with pytest.raises(ValueError, match="month"):
        duty_geojson(res, "2030-01")


def test_ics_parsed_back_with_stable_uids(fujin_roster, tmp_path):
    from icalendar import Calendar

    _, res = fujin_roster
    files = write_roster_calendars(res, tmp_path / "ics")
    cal = Calendar.from_ical((tmp_path / "ics" / "all.ics").read_bytes())
    events = list(cal.walk("VEVENT"))
    slots = {(r["month"], r["station_id"]) for r in res.duties}
    assert len(events) == len(slots) + len(res.consultations)
    uids = [str(e["UID"]) for e in events]
    assert len(set(uids)) == len(uids)
    dates = sorted(str(e.decoded("DTSTART")) for e in events if "接待日" in str(e["SUMMARY"]))
    assert dates == sorted({(r["month"], r["station_id"]): r["date"] for r in res.duties}.values())
    # per member: exactly that member's duties and consultations
    m = res.duties[0]["member_id"]
    mine = Calendar.from_ical(roster_ics_bytes(res, m))
    n_mine = sum(r["member_id"] == m for r in res.duties) + sum(m in c["member_ids"] for c in res.consultations)
    assert len(list(mine.walk("VEVENT"))) == n_mine
    assert len(files) == 1 + len({r["member_id"] for r in res.duties} | {i for c in res.consultations
                                                                         for i in c["member_ids"]})
    # same roster, same bytes (stable UIDs and stamps)
    assert roster_ics_bytes(res) == roster_ics_bytes(RosterResult.from_dict(res.to_dict()))


def test_formula_like_names_stay_text(fujin, tmp_path):
    import openpyxl

    mem = fujin.members.copy()
    mem.loc[mem.index[0], "name"] = "=1+1"
    mem.loc[mem.index[1], "name"] = "@SUM(A1)"
    ds = fujin.with_layers(members=mem)
    res = plan_roster(ds, dict(start="2027-01", months=12, consultations=False, time_limit_s=10))
    p = write_roster(res, tmp_path / "r.xlsx")
    wb = openpyxl.load_workbook(p)
    vals = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value and "1+1" in str(c.value)]
    assert vals and all(c.data_type == "s" for c in vals)
    assert any("=1+1" in str(c.value) for c in vals)
    text = write_roster(res, tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    assert "'=1+1" in text and "'@SUM(A1)" in text
    assert "\n=1+1" not in text and ",=1+1" not in text


# -- optimum against brute force -------------------------------------------------------------------
def _brute(cost, sectors, prm: RosterParams, T: int, avail=None):
    n, P = cost.shape
    best, arg = math.inf, None
    slots = [(p, t) for t in range(T) for p in range(P)]
    for choice in itertools.product(range(n), repeat=len(slots)):
        tot = Counter(choice)
        if any(not prm.member_min <= tot[m] <= prm.member_max for m in range(n)):
            continue
        if max(tot[m] for m in range(n)) - min(tot[m] for m in range(n)) > prm.fairness_spread:
            continue
        at = defaultdict(set)
        ok = avail is None or all(avail[m, t] for (p, t), m in zip(slots, choice))
        for (p, t), m in zip(slots, choice):
            if not ok:
                break
            if any(q != p and (m, t) in at[q] for q in range(P)):
                ok = False
                break
            at[p].add((m, t))
        if not ok:
            continue
        if not prm.allow_consecutive and any((m, t + 1) in at[p] for p in range(P) for (m, t) in at[p]):
            continue
        if any(len({sectors[m] for (m, _t) in at[p]}) < prm.sectors_min for p in range(P)):
            continue
        c = sum(cost[m, p] for (p, t), m in zip(slots, choice))
        if c < best:
            best, arg = c, choice
    return best, arg


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_small_instances_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, P, T = 4, 2, 3
    cost = np.round(rng.uniform(1000, 30000, (n, P)))
    sectors = ["A", "A", "B", "C"]
    prm = RosterParams(start="2027-01", months=T, per_platform_min=1, per_platform_max=1, member_min=1,
                       member_max=2, sectors_min=2, consultations=False, time_limit_s=10)
    best, _ = _brute(cost, sectors, prm, T)
    res = RosterProblem.from_arrays(cost, member_sectors=sectors, params=prm).solve()
    assert res.status == "optimal"
    assert res.cost == pytest.approx(best)
    assert res.objective == pytest.approx(best)
    sec = {f"M{i + 1}": s for i, s in enumerate(sectors)}
    assert check_roster(res, prm, sectors=sec) == []


@pytest.mark.parametrize("seed", [3, 4, 5, 6, 7, 8])
def test_small_instances_with_availability_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, P, T = 4, 2, 3
    cost = np.round(rng.uniform(1000, 30000, (n, P)))
    avail = rng.random((n, T)) > 0.25
    avail[:, 0] = True  # keep it feasible often enough
    sectors = ["A", "B", "A", "B"]
    prm = RosterParams(start="2027-01", months=T, per_platform_min=1, per_platform_max=1, member_min=1,
                       member_max=2, sectors_min=2, consultations=False, time_limit_s=10)
    best, _ = _brute(cost, sectors, prm, T, avail)
    res = RosterProblem.from_arrays(cost, member_sectors=sectors, available=avail, params=prm).solve()
    if math.isinf(best):
        assert res.status == "infeasible"
        return
    assert res.status == "optimal"
    assert res.cost == pytest.approx(best)
    un = {f"M{i + 1}": {f"2027-0{t + 1}" for t in range(T) if not avail[i, t]} for i in range(n)}
    assert check_roster(res, prm, sectors={f"M{i + 1}": s for i, s in enumerate(sectors)}, unavailable=un) == []


# -- infeasibility explained ---------------------------------------------------------------------------
def test_platform_out_of_reach_names_month_platform_and_cap():
    # platform 2 (铁力镇) is 40.3 and 40.8 km from the nearest members, 70 km from the third
    cost = np.array([[5000.0, 40300.0], [8000.0, 40800.0], [6000.0, 70000.0]])
    prm = RosterParams(start="2027-01", months=3, per_platform_min=1, per_platform_max=2, member_min=0,
                       member_max=3, sectors_min=0, max_distance_m=30000, consultations=False, time_limit_s=10)
    pb = RosterProblem.from_arrays(cost, platform_names=["东风镇", "铁力镇"], platform_ids=["P1", "P2"],
                                   params=prm)
    res = pb.solve()
    assert res.status == "infeasible"
    d = [x for x in res.diagnostics if x["code"] == "platform_short"]
    assert {x["month"] for x in d} == {"2027-01", "2027-02", "2027-03"}
    feb = next(x for x in d if x["month"] == "2027-02")
    assert feb["station_id"] == "P2" and feb["available"] == 0
    assert feb["message_en"] == ("2027-02: 铁力镇 needs 1 member, only 0 are available within 30 km; "
                                 "raise max_distance_m to 41 km or add availability")
    assert "铁力镇" in feb["message_zh"] and "41 公里" in feb["message_zh"] and "最远值班距离" in feb["message_zh"]
    assert feb["relax"]["max_distance_m"] == 41000
    # the relaxed roster still staffs every platform-month, and the relaxation works
    assert len(res.duties) >= 6
    ok = RosterProblem.from_arrays(cost, params=prm.model_copy(update={"max_distance_m": 41000})).solve()
    assert ok.status == "optimal"


def test_availability_shortage_found_by_relaxed_model():
    # one platform, one member every month: never two months running -> a month is short
    cost = np.array([[1000.0]])
    prm = RosterParams(start="2027-01", months=3, per_platform_min=1, per_platform_max=1, member_min=1,
                       member_max=3, sectors_min=0, consultations=False, time_limit_s=5)
    res = RosterProblem.from_arrays(cost, params=prm).solve()
    assert res.status == "infeasible"
    short = [d for d in res.diagnostics if d["code"] == "platform_short"]
    assert len(short) == 1 and short[0]["month"] == "2027-02"
    assert res.relaxation["platform_short"] == [{"month": "2027-02", "station_id": "P1", "by": 1}]
    assert check_roster(res, prm.model_copy(update={"per_platform_min": 0})) == []


def test_capacity_and_member_min_conflict():
    cost = np.ones((10, 1)) * 1000
    prm = RosterParams(start="2027-01", months=2, per_platform_min=1, per_platform_max=2, member_min=1,
                       member_max=1, sectors_min=0, consultations=False, time_limit_s=5)
    res = RosterProblem.from_arrays(cost, params=prm).solve()
    assert res.status == "infeasible"
    assert any(d["code"] == "total_over" and d["needed"] == 10 and d["available"] == 4 for d in res.diagnostics)


def test_fairness_relaxed_and_said(fujin):
    # member M1 can only serve once (available one month), others must serve 3: spread 2
    cost = np.array([[1000.0], [2000.0]])
    av = np.array([[True, False, False, False, False], [True, True, True, True, True]])
    prm = RosterParams(start="2027-01", months=5, per_platform_min=1, per_platform_max=1, member_min=1,
                       member_max=4, sectors_min=0, allow_consecutive=True, consultations=False, time_limit_s=5)
    res = RosterProblem.from_arrays(cost, available=av, params=prm).solve()
    assert res.status == "optimal"
    fr = [d for d in res.diagnostics if d["code"] == "fairness_relaxed"]
    assert fr and fr[0]["spread"] == 3 and fr[0]["severity"] == "warning"


def test_locks_and_availability_kept(fujin):
    ms = list(fujin.members["id"])
    st = fujin.stations
    plat = list(st[st["kind"] == "station_comprehensive"]["id"])
    far = plat[-1]
    prm = RosterParams(start="2027-01", months=12, time_limit_s=15, consultations=False,
                       locks=[{"month": "2027-04", "station_id": far, "member_id": ms[0]}],
                       availability=[{"member_id": ms[1], "months": ["2027-01", "2027-02", "2027-03"]},
                                     {"member_id": ms[2], "start": "2027-01-01", "end": "2027-06-30"}])
    res = plan_roster(fujin, prm)
    assert res.status in ("optimal", "feasible")
    un = {ms[1]: {"2027-01", "2027-02", "2027-03"}, ms[2]: set(month_range("2027-01", 6))}
    assert check_roster(res, prm, unavailable=un) == []


# -- re-planning -------------------------------------------------------------------------------------
def test_member_leaves_mid_year_minimal_change(fujin, fujin_roster):
    prm, first = fujin_roster
    leaver = next(r["member_id"] for r in first.duties if r["month"] >= "2027-07")
    left_duties = [r for r in first.duties if r["member_id"] == leaver and r["month"] >= "2027-07"]
    ds = fujin.with_layers(members=fujin.members[fujin.members["id"] != leaver])
    prm2 = prm.model_copy(update={"replan_from": "2027-07"})
    res = plan_roster(ds, prm2, previous=first)
    assert res.status in ("optimal", "feasible")
    # months before July unchanged, the leaver's history kept
    before = lambda r: [(d["month"], d["station_id"], d["member_id"]) for d in r.duties if d["month"] < "2027-07"]  # noqa: E731
    assert sorted(before(res)) == sorted(before(first))
    after_new = {(d["month"], d["station_id"], d["member_id"]) for d in res.duties if d["month"] >= "2027-07"}
    after_old = {(d["month"], d["station_id"], d["member_id"]) for d in first.duties if d["month"] >= "2027-07"}
    assert leaver not in {m for (_a, _b, m) in after_new}
    changes = len(after_new ^ after_old)
    assert res.churn["changes"] == changes
    assert res.churn["removed"] == len(left_duties) + (changes - len(left_duties) - res.churn["added"])
    assert changes <= 2 * len(left_duties)  # the leaver's duty goes, at most one member steps in
    remaining = {m for m in ds.members["id"]}
    assert check_roster(res, prm2, members_present=remaining) == []
    early = lambda r: sorted((c["quarter"], c["township_id"], c["date"]) for c in r.consultations  # noqa: E731
                             if c["date"] < "2027-07")
    assert early(res) == early(first) and early(first)
    assert {c["quarter"] for c in res.consultations} == {"2027Q1", "2027Q2", "2027Q3", "2027Q4"}


def test_replan_from_needs_previous(fujin):
    with pytest.raises(ValueError, match="previous"):
        plan_roster(fujin, dict(start="2027-01", months=12, replan_from="2027-07"))


# -- params, calendar ------------------------------------------------------------------------------
@pytest.mark.parametrize("bad, word", [
    (dict(start="2027-13"), "start"),
    (dict(per_platform_min=3, per_platform_max=2), "per_platform_max"),
    (dict(member_min=3, member_max=2), "member_max"),
    (dict(months=0), "months"),
    (dict(replan_from="2030-01"), "replan_from"),
    (dict(locks=[{"month": "2030-01", "station_id": "C1", "member_id": "M1"}]), "locks"),
    (dict(reception_weekday=6), "reception_weekday"),
    (dict(surprise=1), "surprise"),
    (dict(holidays=[{"date": "2027-02-30", "type": "holiday"}]), "2027-02-30"),
    (dict(holidays=[{"date": "2027-02-03", "type": "party"}]), "party"),
])
def test_bad_params_named(bad, word):
    with pytest.raises(ValueError, match=word):
        RosterParams(**{"start": "2027-01", **bad})


def test_unknown_ids_named(fujin):
    with pytest.raises(ValueError, match=r"locks\[0\].member_id"):
        plan_roster(fujin, dict(start="2027-01", locks=[{"month": "2027-01", "station_id": "C01",
                                                          "member_id": "nobody"}]))
    with pytest.raises(ValueError, match=r"availability\[0\].member_id"):
        plan_roster(fujin, dict(start="2027-01", availability=[{"member_id": "nobody", "months": ["2027-01"]}]))


def test_reception_dates_move_off_holidays():
    hol = load_holidays([2026, 2027])
    # 1st Wednesday of October 2026 is 10-07 (国庆节): moved to Thursday 10-08
    assert reception_date("2026-10", 2, 1, hol) == dt.date(2026, 10, 8)
    # 2nd Monday of February 2026 is 02-09, a working day
    assert reception_date("2026-02", 0, 2, hol) == dt.date(2026, 2, 9)
    # 3rd Wednesday of February 2026 is 02-18 (春节, off to 02-23): first working day after is 02-24
    assert reception_date("2026-02", 2, 3, hol) == dt.date(2026, 2, 24)
    assert hol.is_working_day(dt.date(2026, 2, 28))  # a Saturday worked (调休)
    assert 2027 in hol.incomplete_years
    assert load_holidays([2031]).missing_years == [2031]


def test_nothing_to_do():
    res = RosterProblem.from_arrays(np.zeros((0, 2)), params=RosterParams(start="2027-01", months=3)).solve()
    assert res.status == "nothing_to_do" and res.duties == []


def test_township_platforms_committees_and_road_mode(fujin):
    towns = list(fujin.townships["id"])
    com = {t: "K01" if i % 2 else "K02" for i, t in enumerate(towns)}
    prm = RosterParams(start="2027-01", months=6, platforms="townships", township_committees=com,
                       member_min=0, member_max=2, sectors_min=2, time_limit_s=5)
    res = plan_roster(fujin, prm)
    assert res.status in ("optimal", "feasible")
    assert [p["township_id"] for p in res.platforms] == towns
    assert check_roster(res, prm) == []
    assert res.consultations and all(c["committee_id"] == com[c["township_id"]] for c in res.consultations)
    assert not any(d["code"] == "committee_inferred" for d in res.diagnostics)
    assert {c["quarter"] for c in res.consultations} == {"2027Q1", "2027Q2"}
    road = plan_roster(fujin, dict(start="2027-01", months=12, mode="road", consultations=False, time_limit_s=15))
    assert road.unit == "s" and road.status in ("optimal", "feasible")
    assert all(r["cost"] > 0 for r in road.duties)


def test_cancel_and_progress(fujin):
    from solvers.roster import Cancelled

    seen = []
    plan_roster(fujin, dict(start="2027-01", consultations=False, time_limit_s=5),
                progress=lambda f, msg: seen.append((f, msg)))
    assert seen and seen[-1][0] == 1.0 and all(0 <= f <= 1 for f, _ in seen)
    with pytest.raises(Cancelled):
        plan_roster(fujin, dict(start="2027-01", time_limit_s=5), should_stop=lambda: True)


def test_demo_with_a_distance_cap_is_explained(fujin):
    # Fujin's members all live within ~60 km of a platform; a 15 km cap leaves some unreachable
    prm = RosterParams(start="2027-01", months=12, max_distance_m=15000, consultations=False, time_limit_s=20)
    res = plan_roster(fujin, prm)
    assert res.status == "infeasible"
    short = [d for d in res.diagnostics if d["code"] == "member_short"]
    assert short and all("raise max_distance_m to" in d["message_en"] for d in short)
    cap = next(d for d in res.diagnostics if d["code"] == "max_distance")
    to = cap["relax"]["max_distance_m"]
    assert to > 15000 and res.relaxation["max_distance_m"] == to
    # the relaxed roster keeps every other rule
    assert check_roster(res, prm.model_copy(update={"max_distance_m": to})) == []
    ok = plan_roster(fujin, prm.model_copy(update={"max_distance_m": to}))
    assert ok.status in ("optimal", "feasible")


def test_committees_from_the_assignment_tier_3(fujin):
    from solvers.pipeline import run_optimisation
    from solvers.roster import township_committees_from

    opt = run_optimisation(fujin, {"tiers": ["townships"], "all_townships": True})
    com = township_committees_from(opt)
    assert com and set(com) <= set(fujin.townships["id"])
    assert township_committees_from(opt.to_dict()) == com
    res = plan_roster(fujin, dict(start="2027-01", township_committees=com, time_limit_s=10))
    assert all(c["committee_id"] == com[c["township_id"]] for c in res.consultations if c["township_id"] in com)


def test_diagnostics_are_glossary_messages_in_both_languages():
    """Each diagnostic carries its glossary message code and params, and its two texts are that
    message in zh and en (so a reader can word it again from code and params alone)."""
    import re

    from geo_service.core.glossary import MESSAGES, message

    cost = np.array([[5000.0, 40300.0], [8000.0, 40800.0], [6000.0, 70000.0]])
    prm = RosterParams(start="2027-01", months=3, per_platform_min=2, per_platform_max=2, member_min=1,
                       member_max=3, sectors_min=0, max_distance_m=30000, consultations=False, time_limit_s=5)
    res = RosterProblem.from_arrays(cost, params=prm).solve()
    codes = {d["code"] for d in res.diagnostics}
    assert {"platform_short", "max_distance"} <= codes
    for d in res.diagnostics:
        assert d["message_code"] in MESSAGES
        assert d["message_en"] == message(d["message_code"], "en", **d["params"])
        assert d["message_zh"] == message(d["message_code"], "zh", **d["params"])
        assert not re.search(r"[a-z]+_[a-z_]+| km\b", d["message_zh"]), d["message_zh"]  # the glossary's names
    short = next(d for d in res.diagnostics if d["code"] == "platform_short" and d["station_id"] == "P2")
    assert short["message_en"] == (f"{short['month']}: P2 needs 2 members, only 0 are available within 30 km; "
                                   "raise max_distance_m to 41 km or add availability")
    assert short["message_zh"].startswith(f"{short['month']}：P2 需要 2 名委员值班，30 公里内可值班的只有 0 名；")
