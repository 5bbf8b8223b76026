"""A whole optimisation run on the tiny county: tiers, JSON round trip, tables, locks, minimal change,
cancel, progress, road mode and parameter validation."""

from __future__ import annotations

import json
import threading

import numpy as np
import openpyxl
import pytest
from pydantic import ValidationError

from geo_service.app.outputs import write_result_xlsx
from solvers.pipeline import (
    Cancelled,
    OptimisationParams,
    OptimisationResult,
    diff_results,
    run_optimisation,
)


@pytest.fixture(scope="module")
def run_all(tiny):
    return run_optimisation(tiny, {"villages": "all"})


def test_every_tier_solved_and_quotas_met(tiny, run_all):
    r = run_all
    assert set(r.tiers) == {"constituents", "villages", "townships", "stations"}
    t1 = r.tiers["constituents"]
    assert t1.status == "optimal" and t1.gap < 1e-6
    sector = dict(zip(tiny.members["id"], tiny.members["sector"]))
    csec = dict(zip(tiny.constituents["id"], tiny.constituents["sector"]))
    assert len(t1.assignment) == 60
    assert all(sector[m] == csec[c] for c, m in t1.assignment.items())
    loads = np.unique(list(t1.assignment.values()), return_counts=True)[1]
    assert loads.min() >= 8 and loads.max() <= 12
    # every village has a group with 2..4 villages each; stations within capacity and host kinds
    vg = r.tiers["villages"].assignment
    assert set(vg) == set(tiny.villages["id"]) and None not in vg.values()
    assert all(2 <= n <= 4 for n in np.unique(list(vg.values()), return_counts=True)[1])
    gs = r.tiers["stations"].assignment
    assert r.tiers["stations"].status == "optimal"
    assert set(gs.values()) <= {"S1", "S2"}  # the studio hosts no groups
    assert list(gs.values()).count("S2") <= 1
    # 2 townships for 2 committees x 2: the quota was lowered to 1, so the run is relaxed, not optimal
    assert r.tiers["townships"].status == "relaxed" and r.status == "relaxed"
    assert r.tiers["townships"].relaxations == [
        {"rule": "townships_per_committee", "scope": "K1/K2", "asked": 2, "given": 1, "reason": "too_few",
         "params": {"n": 2, "cols": 2, "what": "townships", "who": "committees", "cap": 4}}]


def test_result_is_json_and_round_trips(tiny, run_all):
    d = run_all.to_dict()
    text = json.dumps(d, allow_nan=False)
    back = OptimisationResult.from_dict(json.loads(text))
    assert back.to_dict() == d
    assert back.tiers["constituents"].assignment == run_all.tiers["constituents"].assignment
    assert diff_results(back, run_all).empty


def test_tables_and_xlsx(tiny, run_all, tmp_path):
    t = run_all.tables(tiny)
    resp = t["responsibility"]
    # one responsibility per row: each member's group duty, then their committee's townships
    assert len(resp) == 2 * len(tiny.members)
    kinds = resp.groupby("member_id")["responsibility_kind"].apply(list)
    assert all(k == ["group", "committee"] for k in kinds)
    assert resp.loc[resp["responsibility_kind"] == "group", "townships"].isna().all()
    assert resp.loc[resp["responsibility_kind"] == "committee", "villages"].isna().all()
    row = resp[resp["responsibility_kind"] == "group"].set_index("member_id").loc["M1"]
    assert row["sector"] == "经济" and row["group_name"] == "经济农业组" and row["constituents"] >= 8
    members = t["members"].set_index("member_id")
    assert members["constituents"].sum() == 60
    assert (members["mean_m"] * members["constituents"]).sum() == pytest.approx(members["total_m"].sum())
    assert members["total_m"].sum() == pytest.approx(run_all.tiers["constituents"].cost)
    assert t["groups"]["n_villages"].sum() == 8
    assert "phone" not in t["constituents"].columns and "name" not in t["constituents"].columns
    zh = run_all.tables(tiny, lang="zh")
    assert "界别" in zh["responsibility"].columns and "站点名称" in zh["responsibility"].columns
    path = write_result_xlsx(run_all.tables(tiny, lang="zh"), tmp_path / "r.xlsx", lang="zh")
    wb = openpyxl.load_workbook(path)
    assert "界别责任区一览表" in wb.sheetnames
    ws = wb["界别责任区一览表"]
    assert ws.max_row == 2 * len(tiny.members) + 1


def test_locks_kept(tiny):
    base = run_optimisation(tiny, {"tiers": ["constituents"]})
    p001 = base.tiers["constituents"].assignment["P001"]
    other = "M2" if p001 == "M1" else "M1"
    r = run_optimisation(tiny, {"tiers": ["constituents", "villages", "stations", "townships"], "villages": "all",
                                "locks": {"constituents": {"P001": other}, "villages": {"V1": "G1"},
                                          "townships": {"T1": "K2"}, "groups": {"G2": "S2"}}})
    assert r.tiers["constituents"].assignment["P001"] == other
    assert r.tiers["villages"].assignment["V1"] == "G1"
    assert r.tiers["townships"].assignment["T1"] == "K2"
    assert r.tiers["stations"].assignment["G2"] == "S2"
    with pytest.raises(ValueError, match="unknown member id 'M99'"):
        run_optimisation(tiny, {"tiers": ["constituents"], "locks": {"constituents": {"P001": "M99"}}})


def test_minimal_change_after_member_leaves(tiny):
    first = run_optimisation(tiny, {"tiers": ["constituents"], "constituents_min": 0})
    gone = "M2"
    orphans = {c for c, m in first.tiers["constituents"].assignment.items() if m == gone}
    smaller = tiny.with_layers(members=tiny.members[tiny.members["id"] != gone])
    again = run_optimisation(smaller, {"tiers": ["constituents"], "constituents_min": 0,
                                       "constituents_max": 30, "minimal_change": True}, previous=first.to_dict())
    t = again.tiers["constituents"]
    changed = diff_results(first, again)
    assert set(changed["id"]) == orphans  # only the leaver's constituents move
    assert set(changed["reason"]) == {"member_left"}
    assert t.moved["moved"] == len(orphans) and t.moved["member_left"] == len(orphans)
    scratch = run_optimisation(smaller, {"tiers": ["constituents"], "constituents_min": 0,
                                         "constituents_max": 30}, previous=first)
    assert scratch.tiers["constituents"].cost <= t.cost + 1e-6


def test_cancel_and_progress(tiny):
    ev = threading.Event()
    ev.set()
    with pytest.raises(Cancelled):
        run_optimisation(tiny, {}, cancel=ev)
    seen = []
    run_optimisation(tiny, {"villages": "all"}, progress=lambda pct, msg: seen.append((pct, msg)))
    pcts = [p for p, _ in seen]
    assert pcts == sorted(pcts) and pcts[0] == 0 and pcts[-1] == 100
    assert all(isinstance(m, str) and m for _, m in seen)


def test_infeasible_quota_is_diagnosed(tiny):
    r = run_optimisation(tiny, {"tiers": ["constituents"], "constituents_min": 0, "constituents_max": 5})
    t = r.tiers["constituents"]
    assert t.status == "infeasible" and r.status == "infeasible"
    msgs = [d["message"] for d in t.diagnostics]
    assert any(m.startswith("经济: 2 members x max 5 = 10 < 20 constituents, short by 10") for m in msgs)
    assert None not in t.assignment.values()  # the relaxed answer, not an empty one
    fb = run_optimisation(tiny, {"tiers": ["constituents"], "constituents_min": 0, "constituents_max": 10,
                                 "allow_cross_sector": True})
    assert fb.tiers["constituents"].status == "optimal"


def test_gap_villages_and_list(tiny):
    far = run_optimisation(tiny, {"tiers": ["villages", "townships"], "gap_threshold_m": 3000})
    assert set(far.tiers["villages"].assignment) == set(far.gap_villages)
    assert far.gap_villages and "V8" not in far.gap_villages  # V8 hosts a studio
    some = run_optimisation(tiny, {"tiers": ["villages"], "villages": "list", "village_ids": ["V1", "V7"],
                                   "compactness": 0})
    assert set(some.tiers["villages"].assignment) == {"V1", "V7"}
    with pytest.raises(ValueError, match="unknown village id 'V99'"):
        run_optimisation(tiny, {"tiers": ["villages"], "villages": "list", "village_ids": ["V99"]})


def test_road_mode(tiny):
    r = run_optimisation(tiny, {"mode": "road", "tiers": ["constituents", "stations"]})
    assert r.unit == "s"
    assert r.tiers["constituents"].status == "optimal"
    assert r.tiers["constituents"].objective > 0
    members = r.tables(tiny)["members"]
    assert members["total_s"].sum() == pytest.approx(r.tiers["constituents"].cost)
    assert "总路程用时(分钟)" in r.tables(tiny, lang="zh")["members"].columns  # seconds shown in minutes


def test_params_validation():
    with pytest.raises(ValidationError, match="constituents_max 5 < constituents_min 8"):
        OptimisationParams(constituents_max=5)
    with pytest.raises(ValidationError):
        OptimisationParams(mode="flying")
    with pytest.raises(ValidationError):
        OptimisationParams(unknown=1)
    p = OptimisationParams.model_validate_json(OptimisationParams(seed=3).model_dump_json())
    assert p.seed == 3 and p.constituents_max == 12


def test_deterministic(tiny):
    a = run_optimisation(tiny, {"villages": "all", "seed": 4}).to_dict()
    b = run_optimisation(tiny, {"villages": "all", "seed": 4}).to_dict()
    for t in a["tiers"]:
        assert a["tiers"][t]["assignment"] == b["tiers"][t]["assignment"]


def test_cli_optimise(tiny, tmp_path):
    from typer.testing import CliRunner

    from geo_service.cli import app
    from geo_service.core.io.gpkg import write_gpkg

    src = tmp_path / "tiny.gpkg"
    write_gpkg(tiny, src)
    runner = CliRunner()
    out = tmp_path / "out"
    r = runner.invoke(app, ["optimise", str(src), "--out", str(out), "--tiers", "constituents,stations"])
    assert r.exit_code == 0, r.output
    assert "界别群众：最优" in r.output
    resp = (out / "responsibility.csv").read_text(encoding="utf-8-sig")
    assert resp.splitlines()[0].startswith("委员编号,委员,界别") and len(resp.splitlines()) == 13  # 6 x (group, committee)
    again = runner.invoke(app, ["optimise", str(src), "--out", str(tmp_path / "r.xlsx"), "--tiers", "constituents",
                                "--previous", str(out / "result.json")])
    assert again.exit_code == 0 and "调整 0" in again.output
    bad = runner.invoke(app, ["optimise", str(src), "--out", str(out), "--mode", "flying"])
    assert bad.exit_code == 2 and "距离方式" in bad.output and "straight" in bad.output


def test_layers_for_geojson(tiny, run_all, tmp_path):
    layers = run_all.layers(tiny)
    m = layers["members"]
    assert len(m) == 6 and m.crs.to_epsg() == 4326 and (m["constituents"] >= 8).all()
    v = layers["villages"]
    assert len(v) == 8 and v["covered"].all() and set(v["group_id"]) == {"G1", "G2"}
    path = tmp_path / "m.geojson"
    m.to_file(path, driver="GeoJSON")
    back = json.loads(path.read_text(encoding="utf-8"))
    assert len(back["features"]) == 6 and back["features"][0]["properties"]["sector"]


def test_no_members_is_diagnosed(tiny):
    ds = tiny.with_layers(members=tiny.members.iloc[0:0], groups=tiny.groups.assign(convener_id=None))
    r = run_optimisation(ds, {"tiers": ["constituents"]})
    t = r.tiers["constituents"]
    assert t.status == "infeasible" and set(t.assignment.values()) == {None}
    assert {d["scope"] for d in t.diagnostics} == {"医药卫生", "农业", "经济"}
    assert all(d["quota"] == "no_member" and d["short_by"] == 20 for d in t.diagnostics)


def test_cancel_inside_a_tier(tiny):
    ev = threading.Event()

    def progress(pct, msg):
        if msg.startswith("assigning constituents"):
            ev.set()  # the solver itself must notice, before the next tier starts

    with pytest.raises(Cancelled):
        run_optimisation(tiny, {"tiers": ["constituents"]}, progress=progress, cancel=ev)


def test_member_pins_become_locks(tiny):
    members = tiny.members.copy()
    members.loc[members["id"] == "M5", "village_id"] = "V1"  # M5 is in G2: V1 -> G2
    members.loc[members["id"] == "M1", "station_id"] = "S2"  # G1 -> S2
    ds = tiny.with_layers(members=members)
    r = run_optimisation(ds, {"villages": "list", "village_ids": ["V5"], "tiers": ["villages", "stations"]})
    assert r.tiers["villages"].assignment["V1"] == "G2"
    assert r.tiers["stations"].assignment["G1"] == "S2"
    free = run_optimisation(ds, {"villages": "list", "village_ids": ["V5"], "tiers": ["villages"],
                                 "use_member_pins": False})
    assert set(free.tiers["villages"].assignment) == {"V5"}


def test_infeasible_offers_both_relaxations(tiny):
    # no 农业 constituents: 经济 and 医药卫生 each have 20 for 2 members x max 8 = 16, 农业 members idle
    ds = tiny.with_layers(constituents=tiny.constituents[tiny.constituents["sector"] != "农业"])
    base = {"tiers": ["constituents"], "constituents_min": 0, "constituents_max": 8, "target_penalty": 0}
    r = run_optimisation(ds, base)
    t = r.tiers["constituents"]
    assert t.status == "infeasible" and t.extra["fallback"]["status"] == "optimal"
    assert t.extra["fallback"]["cross_sector"] == 8 and not t.extra["fallback"]["used"]
    assert any(d["quota"] == "fallback" for d in t.diagnostics)
    loads = np.unique(list(t.assignment.values()), return_counts=True)[1]
    assert loads.max() == 10  # default answer: that sector's max raised to 10
    fb = run_optimisation(ds, {**base, "on_infeasible": "cross_sector"})
    t2 = fb.tiers["constituents"]
    assert t2.status == "infeasible" and t2.extra["fallback"]["used"]
    loads = np.unique(list(t2.assignment.values()), return_counts=True)[1]
    assert loads.max() <= 8 and len(t2.assignment) == 40 and None not in t2.assignment.values()


def test_no_host_station_and_no_gap_village(tiny):
    ds = tiny.with_layers(stations=tiny.stations.assign(kind="studio"))
    r = run_optimisation(ds, {"tiers": ["stations", "villages"], "gap_threshold_m": 1e6})
    t4 = r.tiers["stations"]
    assert t4.status == "infeasible" and set(t4.assignment.values()) == {None}
    assert sorted(d["scope"] for d in t4.diagnostics) == ["G1", "G2"]
    assert "cross-sector" not in t4.diagnostics[0]["message"]
    t2 = r.tiers["villages"]  # no gap village: nothing to do, and no min-load complaint
    assert t2.status == "nothing_to_do" and t2.assignment == {}  # said, not "optimal"
    assert [d["quota"] for d in t2.diagnostics] == ["nothing_to_do"]
    assert r.status == "infeasible" and r.outcome["outcome"] == "infeasible" and r.outcome["diagnosis"]
