"""The ledger over HTTP: round trips, roles (a member never sees another member's rows or
constituents), workbook import naming bad rows, exports through the table writer, edits with
If-Match, login links, the review job."""

from __future__ import annotations

import io
import time

import openpyxl
import pytest

from geo_service.core.io.sheets import write_xlsx
from geo_service.core.ledger import template_frame
from geo_service.core.store import JobRecord, SQLiteStore
from test_api import assert_problem
from test_api_support import client, hdr, make_app

MEMBER_KEYS = {"member-key-0001": "M1", "member-key-0002": "M2"}
M1 = {"X-API-Key": "member-key-0001"}
M2 = {"X-API-Key": "member-key-0002"}


@pytest.fixture
def api(tmp_path, tiny):
    app = make_app(tmp_path / "store", tiny, member_keys=MEMBER_KEYS)
    store: SQLiteStore = app.state.store
    cons = tiny.constituents["id"].astype(str).tolist()
    members = tiny.members["id"].astype(str).tolist()
    assert members[:2] == ["M1", "M2"]
    assign = {c: members[i % 2] for i, c in enumerate(cons)}  # M1 and M2 share the constituents
    store.create_job(JobRecord(id="run1", dataset_id="tiny", kind="optimisation", params={}, status="successful",
                               result={"status": "optimal", "params": {}, "unit": "m",
                                       "tiers": {"constituents": {"name": "constituents", "status": "optimal",
                                                                  "objective": 0.0, "bound": 0.0, "gap": 0.0,
                                                                  "time_s": 0.0, "solver": "flow",
                                                                  "assignment": assign}}}))
    with client(app) as c:
        yield c, tiny, assign


def _contact(c_id, **kw):
    return {"kind": "contact", "constituent_id": c_id, "date": "2027-03-05", "way": "电话", **kw}


def test_members_record_and_see_only_their_own(api):
    c, tiny, assign = api
    mine = [k for k, v in assign.items() if v == "M1"]
    theirs = [k for k, v in assign.items() if v == "M2"]
    r = c.post("/v1/datasets/tiny/activities", json=_contact(mine[0]), headers=M1)
    assert r.status_code == 201 and r.json()["ids"] == [1]
    r = c.post("/v1/datasets/tiny/activities", json=_contact(theirs[0]), headers=M2)
    assert r.status_code == 201
    r = c.post("/v1/datasets/tiny/activities", json={"activities": [_contact(mine[1]), _contact(mine[2], member_id="M2")]},
               headers=M1)
    assert r.status_code == 403 and r.json()["errors"][0]["row"] == 2  # nothing stored
    rows = c.get("/v1/datasets/tiny/activities", headers=M1).json()["activities"]
    assert [x["member_id"] for x in rows] == ["M1"] and rows[0]["recorded_by"] == "member:M1"
    assert c.get("/v1/datasets/tiny/activities?member_id=M2", headers=M1).status_code == 403
    assert c.get("/v1/datasets/tiny/activities/2", headers=M1).status_code == 403
    assert c.get("/v1/datasets/tiny/activities", headers=hdr("viewer")).status_code == 403
    assert len(c.get("/v1/datasets/tiny/activities", headers=hdr("planner")).json()["activities"]) == 2
    me = c.get("/v1/datasets/tiny/members/me", headers=M1).json()
    assert me["member_id"] == "M1" and {p["id"] for p in me["constituents"]} == set(mine)
    assert all("phone" in p for p in me["constituents"])  # their own constituents with contact details
    assert c.get("/v1/datasets/tiny/members/me?member_id=M2", headers=M1).status_code == 403
    assert c.get("/v1/datasets/tiny/members/me?member_id=M2", headers=hdr("planner")).json()["member_id"] == "M2"
    # aggregates: a viewer gets counts, no list of people; a member only their own links
    cov = c.get("/v1/datasets/tiny/ledger/coverage?period=2027-Q1", headers=hdr("viewer")).json()
    assert "constituents" not in cov["not_reached"] and "items" not in cov["links"]
    assert cov["links"] == {"planned": len(assign), "reached": 2, "unreached": len(assign) - 2,
                            "share": pytest.approx(2 / len(assign))}
    cov = c.get("/v1/datasets/tiny/ledger/coverage?period=2027-Q1", headers=M1).json()
    assert {x["member_id"] for x in cov["links"]["items"]} == {"M1"}
    cov = c.get("/v1/datasets/tiny/ledger/coverage?period=2027-Q1", headers=hdr("planner")).json()
    assert len(cov["not_reached"]["constituents"]) == len(assign) - 2
    prog = c.get("/v1/datasets/tiny/ledger/progress?period=2027", headers=hdr("viewer")).json()
    assert "members" not in prog and prog["members_total"] == len(tiny.members)
    prog = c.get("/v1/datasets/tiny/ledger/progress?period=2027&constituents=1", headers=M1).json()
    assert [p["member_id"] for p in prog["members"]] == ["M1"] and prog["members"][0]["constituents"]["met"]


def test_edits_make_revisions_with_if_match(api):
    c, _, assign = api
    cid = next(iter(assign))
    c.post("/v1/datasets/tiny/activities", json=_contact(cid, member_id=assign[cid]), headers=hdr("planner"))
    r = c.get("/v1/datasets/tiny/activities/1", headers=hdr("planner"))
    assert r.headers["etag"] == '"1"'
    assert c.patch("/v1/datasets/tiny/activities/1", json={"topic": "x"}, headers=hdr("planner")).status_code == 428
    r = c.patch("/v1/datasets/tiny/activities/1", json={"topic": "水渠", "satisfaction": 5},
                headers={**hdr("planner"), "If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["revision"] == 2
    r = c.patch("/v1/datasets/tiny/activities/1", json={"topic": "late"}, headers={**hdr("planner"), "If-Match": '"1"'})
    assert r.status_code == 412
    r = c.patch("/v1/datasets/tiny/activities/1", json={"satisfaction": 9}, headers={**hdr("planner"), "If-Match": '"2"'})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "satisfaction"
    hist = c.get("/v1/datasets/tiny/activities/1/history", headers=hdr("planner")).json()["revisions"]
    assert [h["topic"] for h in hist] == [None, "水渠"]
    assert c.delete("/v1/datasets/tiny/activities/1", headers={**hdr("planner"), "If-Match": '"2"'}).status_code == 200
    assert c.get("/v1/datasets/tiny/activities/1", headers=hdr("planner")).status_code == 404


def test_workbook_import_names_every_bad_row_and_stores_all_or_none(api, tmp_path):
    c, tiny, assign = api
    cid = next(iter(assign))
    df = template_frame("zh")
    df.iloc[:, 1] = "M1"  # 委员编号
    df["群众编号"] = [cid, None, None, None, None]
    df["村社区编号"] = [None] * 5
    df["站点编号"] = [None, tiny.stations["id"].iloc[0], tiny.stations["id"].iloc[0], None, None]
    df["乡镇编号"] = [None, None, None, tiny.townships["id"].iloc[0], None]
    good = write_xlsx({"ledger": df}, tmp_path / "good.xlsx", "zh").read_bytes()
    bad_df = df.copy()
    bad_df.loc[1, "日期"] = "2027-02-31"
    bad_df.loc[3, "活动类型"] = "聚餐"
    bad_df.loc[4, "办理情况"] = "=HYPERLINK(\"http://x\")"
    bad = write_xlsx({"ledger": bad_df}, tmp_path / "bad.xlsx", "zh").read_bytes()
    r = c.post("/v1/datasets/tiny/activities/import", content=bad, headers=hdr("planner"))
    assert r.status_code == 422
    named = {(e["row"], e["field"]) for e in r.json()["errors"]}
    assert named == {(3, "date"), (5, "kind"), (6, "status")}  # rows as numbered in the sheet
    assert "第 3 行" in r.json()["detail"]
    assert c.get("/v1/datasets/tiny/activities", headers=hdr("planner")).json()["count"] == 0
    r = c.post("/v1/datasets/tiny/activities/import", content=good, headers=hdr("planner"))
    assert r.status_code == 201 and r.json()["imported"] == 5
    csv_text = "活动类型,委员编号,群众编号,日期,联系方式\n联系群众,M1,%s,2027-05-01,微信\n" % cid
    r = c.post("/v1/datasets/tiny/activities/import?filename=a.csv", content=csv_text.encode("utf-8-sig"),
               headers={**M1, "Content-Type": "text/csv"})
    assert r.status_code == 201 and r.json()["ids"] == [6]
    assert c.post("/v1/datasets/tiny/activities/import", content=b"not a zip", headers=hdr("planner")).status_code == 422
    assert c.post("/v1/datasets/tiny/activities/import", content=good, headers=hdr("viewer")).status_code == 403


def test_exports_go_through_the_table_writer(api):
    c, _, assign = api
    cid = next(iter(assign))
    c.post("/v1/datasets/tiny/activities", json=_contact(cid, member_id=assign[cid], topic="=1+1"), headers=hdr("planner"))
    r = c.get("/v1/datasets/tiny/activities?format=xlsx", headers=hdr("planner"))
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    ws = wb["联系台账"]
    head = [x.value for x in ws[1]]
    assert "活动类型" in head and "联系方式" in head and "主题" in head
    row = dict(zip(head, [x.value for x in ws[2]], strict=False))
    assert row["活动类型"] == "联系群众" and row["联系方式"] == "电话"
    assert row["主题"] == "=1+1" and ws.cell(2, head.index("主题") + 1).data_type == "s"  # text, not a formula
    r = c.get("/v1/datasets/tiny/activities?format=csv&lang=en", headers=hdr("planner"))
    assert r.content.startswith(b"\xef\xbb\xbf") and b"'=1+1" in r.content
    r = c.get("/v1/datasets/tiny/ledger/coverage?period=2027&format=xlsx", headers=hdr("planner"))
    assert "落实情况" in openpyxl.load_workbook(io.BytesIO(r.content)).sheetnames
    assert c.get("/v1/datasets/tiny/ledger/coverage?period=2027&format=xlsx", headers=hdr("viewer")).status_code == 403
    assert c.get("/v1/datasets/tiny/ledger/coverage?period=2027-Q9", headers=hdr("viewer")).status_code == 422
    r = c.get("/v1/templates/ledger.xlsx", headers=hdr("viewer"))
    assert r.status_code == 200


def test_login_link_signs_a_member_in(api):
    c, _, _ = api
    r = c.post("/v1/datasets/tiny/members/M1/login-link", headers=hdr("admin"))
    assert r.status_code == 200
    url = r.json()["url"]
    assert c.post("/v1/datasets/tiny/members/M1/login-link", headers=hdr("planner")).status_code == 403
    assert c.post("/v1/datasets/tiny/members/M9/login-link", headers=hdr("admin")).status_code == 404
    c.cookies.clear()
    r = c.get(url)
    assert r.status_code == 200 and "gs_session" in r.headers["set-cookie"]
    r = c.get("/v1/datasets/tiny/members/me")
    assert r.status_code == 200 and r.json()["member_id"] == "M1"
    c.cookies.clear()
    assert c.get(url.replace("t=v1.", "t=v1.9")).status_code == 401


def test_review_job_over_http(api):
    c, tiny, assign = api
    rows = [_contact(k, member_id=v, satisfaction=5) for k, v in assign.items()]
    rows.append({"kind": "duty", "member_id": "M1", "station_id": tiny.stations["id"].iloc[0], "date": "2027-02-01",
                 "status": "missed"})
    assert c.post("/v1/datasets/tiny/activities", json={"activities": rows}, headers=hdr("planner")).status_code == 201
    assert c.post("/v1/datasets/tiny/reviews", json={"year": 2027}, headers=hdr("viewer")).status_code == 403
    assert c.post("/v1/datasets/tiny/reviews", json={"year": 2027, "rules": {"points": {"x": 1}}},
                  headers=hdr("planner")).status_code == 422
    r = c.post("/v1/datasets/tiny/reviews", json={"year": 2027, "rules": {"talk_below": 70}}, headers=hdr("planner"))
    assert r.status_code == 202
    job = r.json()["id"]
    for _ in range(200):
        st = c.get(f"/v1/jobs/{job}", headers=hdr("planner")).json()
        if st["status"] not in ("accepted", "running"):
            break
        time.sleep(0.05)
    assert st["status"] == "successful", st
    assert any(link["href"].endswith("/review?format=xlsx") for link in st["links"])
    res = c.get(f"/v1/jobs/{job}/review", headers=hdr("planner")).json()
    by = {m["member_id"]: m for m in res["members"]}
    n1 = sum(1 for v in assign.values() if v == "M1")
    # M1: base 60 + contacts min(n1, 20) + satisfied min(0.5 n1, 5) - 5 for the missed duty
    assert by["M1"]["score"] == pytest.approx(60 + min(n1, 20) + min(0.5 * n1, 5) - 5)
    assert by["M1"]["talk"] == (by["M1"]["score"] < 70)
    assert res["rules"]["talk_below"] == 70
    r = c.get(f"/v1/jobs/{job}/review?format=xlsx", headers=hdr("planner"))
    assert openpyxl.load_workbook(io.BytesIO(r.content)).sheetnames == ["考评排名", "考评明细", "计分规则", "说明"]


def _wait(c, job):
    for _ in range(400):
        st = c.get(f"/v1/jobs/{job}", headers=hdr("planner")).json()
        if st["status"] not in ("accepted", "running"):
            return st
        time.sleep(0.05)
    raise AssertionError(f"job {job} did not finish")


@pytest.mark.slow  # two optimisation runs
def test_replan_keeps_links_that_work_and_moves_the_unreached(api):
    c, _, _ = api
    r = c.post("/v1/datasets/tiny/optimisations", json={"tiers": ["constituents"], "time_limit_s": 20},
               headers=hdr("planner"))
    assert r.status_code == 202
    first = r.json()["id"]
    assert _wait(c, first)["status"] == "successful"
    plan = c.get(f"/v1/jobs/{first}/results?format=json", headers=hdr("planner")).json()["result"]
    assign = {k: v for k, v in plan["tiers"]["constituents"]["assignment"].items() if v}
    items = sorted(assign.items())
    reached = dict(items[::2])  # every other link had a contact in the first quarter
    rows = [_contact(k, member_id=v) for k, v in reached.items()]
    rows.append(_contact(items[1][0], member_id=items[1][1], date="2027-05-01"))  # outside the period: no help
    assert c.post("/v1/datasets/tiny/activities", json={"activities": rows}, headers=hdr("planner")).status_code == 201
    r = c.post("/v1/datasets/tiny/ledger/replan", json={"previous_job_id": first, "period": "2027-Q1",
                                                         "params": {"tiers": ["constituents"], "time_limit_s": 20}},
               headers=hdr("planner"))
    assert r.status_code == 202, r.text
    assert r.json()["ledger"]["kept"] == len(reached)
    second = r.json()["id"]
    assert _wait(c, second)["status"] == "successful"
    res = c.get(f"/v1/jobs/{second}/results?format=json", headers=hdr("planner")).json()["result"]
    tier = res["tiers"]["constituents"]
    for k, v in reached.items():  # links that work are kept
        assert tier["assignment"][k] == v
    moved = [k for k, v in assign.items() if k not in reached and tier["assignment"].get(k) not in (None, v)]
    assert moved, "no unreached constituent moved"
    assert all(tier["move_reasons"][k] == "ledger_unreached" for k in moved)
    assert tier["extra"]["ledger"]["kept"] == len(reached) and tier["extra"]["ledger"]["moved"] == len(moved)
    bad = c.post("/v1/datasets/tiny/ledger/replan", json={"previous_job_id": first, "period": "2027-Q1",
                                                           "params": {"constituents_max": 0}}, headers=hdr("planner"))
    assert bad.status_code == 422


def test_results_workbook_gains_the_implementation_sheets(api):
    c, _, assign = api
    cid = next(iter(assign))
    c.post("/v1/datasets/tiny/activities", json=_contact(cid, member_id=assign[cid]), headers=hdr("planner"))
    r = c.get("/v1/jobs/run1/results?format=xlsx&ledger_period=2027-Q1", headers=hdr("planner"))
    assert r.status_code == 200, r.text
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    assert {"落实情况", "未联系对象", "村社区联系情况", "委员完成情况"} <= set(wb.sheetnames)
    ws = wb["落实情况"]
    head = [x.value for x in ws[1]]
    row = dict(zip(head, [x.value for x in ws[2]], strict=False))
    assert row["计划联系数"] == len(assign) and row["已落实联系数"] == 1
    bad = c.get("/v1/jobs/run1/results?format=xlsx&ledger_period=someday", headers=hdr("planner"))
    assert bad.status_code == 422


def test_replan_params_a_job_cannot_carry_are_named(api):
    """A lock value beyond 64 bits is refused by the job runner naming its field; the error table
    answers it (422 with ``errors``), and nothing is queued."""
    c, _, _ = api
    before = len(c.get("/v1/jobs", headers=hdr("planner")).json()["jobs"])
    r = c.post("/v1/datasets/tiny/ledger/replan", json={"previous_job_id": "run1", "period": "2027-Q1",
                                                         "params": {"locks": {"groups": {"G1": 2**70}}}},
               headers=hdr("planner"))
    body = assert_problem(r, 422, "invalid-parameters")
    assert [(e["in"], e["field"], e["code"]) for e in body["errors"]] == [("body", "locks.groups.G1", "beyond_int64")]
    assert "64 位整数" in body["detail"] and "locks.groups.G1" in body["detail"]
    r = c.post("/v1/datasets/tiny/ledger/replan?lang=en", json={"previous_job_id": "run1", "period": "2027-Q1",
                                                                 "params": {"locks": {"groups": {"G1": 2**70}}}},
               headers=hdr("planner"))
    assert "64-bit" in r.json()["detail"] and r.json()["errors"] == body["errors"]
    assert len(c.get("/v1/jobs", headers=hdr("planner")).json()["jobs"]) == before
