"""The yearly review: scores recomputed independently from the rules, row by row; every item
traceable to its ledger rows; the CLI's JSON and workbook."""

from __future__ import annotations

import json
import math
from collections import defaultdict

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from geo_service.app.synthetic.ledger import generate_year, generate_year_for
from geo_service.cli import app
from geo_service.core.ledger import validate_activities
from geo_service.core.store import SQLiteStore
from solvers.review import RULES, ReviewRules, review

runner = CliRunner()


def _year(n_members: int = 12, seed: int = 11) -> pd.DataFrame:
    members = [f"M{i:02d}" for i in range(n_members)]
    links = pd.DataFrame({"constituent_id": [f"C{i}" for i in range(n_members * 10)],
                          "member_id": [members[i // 10] for i in range(n_members * 10)]})
    df = validate_activities(generate_year(members, 2027, links=links, contacts_per_member=25, seed=seed))[0]
    other_year = validate_activities(generate_year(members[:3], 2026, seed=seed + 1))[0]
    out = pd.concat([df, other_year], ignore_index=True)
    return out.assign(id=range(1, len(out) + 1))


def _rule_of_row(r) -> list[str]:
    """The rules one ledger row counts for, written out case by case."""
    out = []
    if r["kind"] == "contact":
        out.append("contact")
        s = r["satisfaction"]
        if s is not None and not pd.isna(s):
            if s >= 4:
                out.append("satisfaction")
            if s <= 2:
                out.append("dissatisfied")
    elif r["kind"] == "duty":
        out.append("duty_missed" if r["status"] == "missed" else "duty")
    elif r["kind"] == "opinion":
        out.append("opinion")
        if r["status"] == "adopted":
            out.append("opinion_adopted")
    else:
        out.append(r["kind"])
    return out


def _independent(df: pd.DataFrame, year: int, rules: ReviewRules, members: list[str]):
    counts = defaultdict(lambda: defaultdict(list))
    for r in df.to_dict("records"):
        if not str(r["date"]).startswith(str(year)):
            continue
        for rule in _rule_of_row(r):
            counts[r["member_id"]][rule].append(r["id"])
    q = rules.quota_set()
    scores = {}
    for m in members:
        total = rules.base
        for rule, rows in counts[m].items():
            raw = len(rows) * rules.points.get(rule, 0.0)
            cap = rules.caps.get(rule, math.inf)
            total += max(-cap, min(cap, raw))
        rows = [r for r in df.to_dict("records") if r["member_id"] == m and str(r["date"]).startswith(str(year))]
        cons = {r["constituent_id"] for r in rows if r["kind"] == "contact" and r["constituent_id"]}
        people = sum(int(r["people"]) for r in rows if r["kind"] == "contact")
        rec = sum(1 for r in rows if r["kind"] == "reception")
        con = sum(1 for r in rows if r["kind"] == "consultation")
        op = sum(1 for r in rows if r["kind"] == "opinion")
        if (len(cons) >= q.constituents and people >= q.people_per_year and rec >= 12 * q.receptions_per_month
                and con >= 4 * q.consultations_per_quarter and op >= q.opinions_per_year):
            total += rules.bonus
        scores[m] = (total, counts[m])
    return scores


@pytest.mark.parametrize("rules", [ReviewRules(),
                                   ReviewRules(base=50, points={"contact": 2, "duty_missed": -10, "opinion_adopted": 5},
                                               caps={"contact": 30, "duty_missed": 20}, bonus=0, talk_below=75,
                                               quotas={"constituents": 5, "people_per_year": 20})])
def test_scores_match_an_independent_recomputation(rules):
    df = _year()
    members = sorted(df["member_id"].unique())
    res = review(df, 2027, member_ids=members + ["M99"], rules=rules)
    want = _independent(df, 2027, rules, members + ["M99"])
    got = {m["member_id"]: m for m in res.members}
    assert set(got) == set(want)
    for m, (score, rows) in want.items():
        assert got[m]["score"] == pytest.approx(score), m
        assert got[m]["talk"] == (score < rules.talk_below)
        items = {it["rule"]: it for it in got[m]["items"]}
        for rule, ids in rows.items():
            assert sorted(items[rule]["activity_ids"]) == sorted(ids)  # traceable to the rows behind it
            assert items[rule]["n"] == len(ids)
    assert got["M99"]["score"] == rules.base  # a member without a row keeps the base
    for m in members:  # satisfaction where it was recorded: how many were asked, and their mean
        rows = df[(df["member_id"] == m) & (df["kind"] == "contact") & df["date"].str.startswith("2027")
                  & df["satisfaction"].notna()]
        assert got[m]["satisfaction"]["asked"] == len(rows)
        assert got[m]["satisfaction"]["mean"] == pytest.approx(rows["satisfaction"].astype(float).mean(), abs=1e-3)
    assert got["M99"]["satisfaction"] == {"asked": 0, "mean": None}
    ranks = [m["rank"] for m in res.members]
    assert ranks == list(range(1, len(ranks) + 1))
    assert all(a["score"] >= b["score"] for a, b in zip(res.members, res.members[1:]))


def test_caps_cut_and_say_so():
    rows = [{"kind": "contact", "member_id": "M1", "village_id": "V1", "date": "2027-01-%02d" % (i + 1),
             "way": "phone"} for i in range(25)]
    df = validate_activities(rows)[0].assign(id=range(1, 26))
    res = review(df, 2027, rules=ReviewRules(points={"contact": 1.0}, caps={"contact": 20.0}))
    it = next(i for i in res.members[0]["items"] if i["rule"] == "contact")
    assert it["n"] == 25 and it["points"] == 20 and it["capped"] is True
    assert len(it["activity_ids"]) == 25


def test_rules_are_checked():
    with pytest.raises(ValueError, match="unknown rule"):
        ReviewRules(points={"karaoke": 1})
    with pytest.raises(ValueError, match="caps.contact"):
        ReviewRules(caps={"contact": -1})
    with pytest.raises(ValueError, match="year"):
        review(pd.DataFrame(columns=["id", "kind", "member_id", "date", "status", "satisfaction", "people",
                                     "constituent_id"]), 99)
    assert set(RULES) == set(ReviewRules().points)


@pytest.mark.slow  # imports the demo county into a store and runs the CLI twice
def test_cli_review_json_and_workbook(tmp_path, demo):
    store = SQLiteStore(tmp_path / "store")
    store.put_dataset("county", demo)
    members = demo.members["id"].astype(str).tolist()
    df = validate_activities(generate_year_for(demo, 2027, seed=2), demo)[0]
    store.ledger().add("county", df, validated=True)
    out = tmp_path / "考评.xlsx"
    r = runner.invoke(app, ["review", "county", "--year", "2027", "--json", "--data-dir", str(tmp_path / "store"),
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert set(data) >= {"members", "rules"} and len(data["members"]) == len(members)
    first = data["members"][0]
    assert {"member_id", "score", "items"} <= set(first)
    stored = store.ledger().frame("county")
    by_id = stored.set_index("id")
    for it in first["items"]:  # every item's rows are that member's rows of the ledger
        for aid in it["activity_ids"]:
            assert by_id.loc[aid, "member_id"] == first["member_id"]
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["考评排名", "考评明细", "计分规则", "说明"]
    ws = wb["考评排名"]
    assert [c.value for c in ws[1]][:4] == ["排名", "委员编号", "委员", "得分"]
    notes = "\n".join(str(c.value) for row in wb["说明"].iter_rows() for c in row if c.value)
    assert "联系群众" in notes and "低于此分约谈" in notes
    r = runner.invoke(app, ["review", "county", "--year", "2027", "--data-dir", str(tmp_path / "store"),
                            "--out", str(tmp_path / "r2.xlsx")])
    assert r.exit_code == 0 and "年度考评" in r.stdout


def test_cli_review_of_a_workbook_names_bad_rows_and_scores_good_ones(tmp_path, tiny):
    from geo_service.core.io import write_dataset

    src = write_dataset(tiny, tmp_path / "tiny.gpkg") or tmp_path / "tiny.gpkg"
    v = tiny.villages["id"].iloc[0]
    bad = tmp_path / "bad.csv"
    bad.write_text(f"活动类型,委员编号,村社区编号,日期,联系方式\n联系群众,M1,{v},2027-03-01,走访\n"
                   f"联系群众,M1,{v},2027-13-01,走访\n", encoding="utf-8-sig")
    r = runner.invoke(app, ["review", str(src), "--ledger", str(bad), "--out", str(tmp_path / "x.xlsx")])
    assert r.exit_code == 2 and "第 3 行" in r.output  # the sheet's row, header = row 1
    good = tmp_path / "good.csv"
    good.write_text(f"活动类型,委员编号,村社区编号,日期,联系方式\n联系群众,M1,{v},2027-03-01,走访\n",
                    encoding="utf-8-sig")
    r = runner.invoke(app, ["review", str(src), "--ledger", str(good), "--json", "--lang", "en",
                            "--out", str(tmp_path / "x.xlsx")])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    m1 = next(m for m in data["members"] if m["member_id"] == "M1")
    assert m1["score"] == data["rules"]["base"] + data["rules"]["points"]["contact"]


def test_review_runner_stops_when_its_job_is_cancelled(tiny):
    """The review runner solves through :class:`ReviewModel`: a set cancel event stops it like the
    other kinds (no result), an unset one answers exactly what :func:`review` computes."""
    import threading

    from geo_service.app.jobs.runners import run_review_job
    from solvers.model import Cancelled

    members = tiny.members["id"].astype(str).tolist()
    df = validate_activities(generate_year_for(tiny, 2027, seed=4), tiny)[0]
    df = df.assign(id=range(1, len(df) + 1))
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        run_review_job(tiny, {"year": 2027}, None, lambda pct, msg="": None, stop, ledger=df)
    seen: list[float] = []
    got = run_review_job(tiny, {"year": 2027}, None, lambda pct, msg="": seen.append(pct), threading.Event(),
                         ledger=df)
    names = dict(zip(members, tiny.members["name"].astype(str), strict=True))
    assert got == review(df, 2027, member_ids=members, names=names).to_dict()
    assert seen[0] == 0.0 and seen[-1] == 100.0  # percent, from the model's fraction


def test_review_job_cancelled_through_the_job_manager_ends_dismissed(tmp_path, tiny):
    """A review job dismissed while it runs ends ``dismissed`` with no result, and the next one
    runs to ``successful`` (thread isolation: the runner itself sees the cancel)."""
    import threading
    import time

    from geo_service.app.jobs import JobManager

    store = SQLiteStore(tmp_path / "store")
    store.put_dataset("tiny", tiny)
    members = tiny.members["id"].astype(str).tolist()
    store.ledger().add("tiny", validate_activities(generate_year_for(tiny, 2027, seed=4), tiny)[0], validated=True)
    hold = threading.Event()

    def load(dataset_id):  # the job is running (its status written) while this waits
        assert hold.wait(20)
        return store.get_dataset(dataset_id)

    jobs = JobManager(store, load, isolation="thread")
    try:
        job = jobs.submit("tiny", "review", {"year": 2027})
        for _ in range(400):
            if store.get_job(job.id).status == "running":
                break
            time.sleep(0.05)
        assert store.get_job(job.id).status == "running"
        assert jobs.cancel(job.id).status == "dismissed"
        hold.set()
        for _ in range(400):
            if jobs.active == 0:
                break
            time.sleep(0.05)
        done = store.get_job(job.id)
        assert done.status == "dismissed" and done.result is None
        again = jobs.submit("tiny", "review", {"year": 2027})
        for _ in range(400):
            if store.get_job(again.id).status not in ("accepted", "running"):
                break
            time.sleep(0.05)
        ok = store.get_job(again.id)
        assert ok.status == "successful" and len(ok.result["members"]) == len(members)
    finally:
        hold.set()
        jobs.shutdown(wait=True)
