"""People's messages: routing against a brute-force optimum, the escalation timeline on a fake clock, the
follow-up states over HTTP, who sees a phone, a bounded flood from several loopback addresses."""

from __future__ import annotations

import json

import datetime as dt
import io
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from test_api_support import client, hdr, make_app

from api.settings import Settings
from geo_service.core.responsible import DutyIndex, ResponsibilityIndex
from geo_service.core.store import JobRecord
from solvers.messages import Candidate, brute_force, candidates, due_level, route

MEMBER_KEYS = {"member-key-M1": "M1", "member-key-M2": "M2", "member-key-M3": "M3"}
AT_V1 = {"lon": 130.32, "lat": 46.82}  # village 一村 of the tiny county (T1)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_routing_matches_brute_force(data):
    members = [f"M{i}" for i in range(data.draw(st.integers(1, 4)))]
    msgs = []
    for _ in range(data.draw(st.integers(1, 5))):
        who = data.draw(st.lists(st.sampled_from(members), unique=True, max_size=len(members)))
        msgs.append([Candidate(m, data.draw(st.floats(0, 20000)), "place") for m in who])
    open_counts = {m: data.draw(st.integers(0, 4)) for m in members}
    load = data.draw(st.sampled_from([0.0, 500.0, 2000.0, 8000.0]))
    r = route(msgs, open_counts, load_m=load)
    assert r.status == "optimal" and r.gap == 0.0 and r.bound == r.objective
    assert r.objective == pytest.approx(brute_force(msgs, open_counts, load_m=load))
    for cs, got in zip(msgs, r.routed):
        assert (got.member_id is None) == (not cs)
        if cs:
            assert got.member_id in {c.member_id for c in cs}
            assert got.reason["basis"] == "place" and "alternatives" in got.reason


def test_routing_spreads_load_over_near_members():
    cands = [[Candidate("A", 1000, "place"), Candidate("B", 1500, "place")] for _ in range(4)]
    r = route(cands, {"A": 0, "B": 0}, load_m=2000)
    assert sorted(x.member_id for x in r.routed) == ["A", "A", "B", "B"]
    assert [x.member_id for x in route(cands[:1], {"A": 3, "B": 0}, load_m=2000).routed] == ["B"]
    with pytest.raises(ValueError, match="load_m"):
        route(cands, load_m=-1)


def test_candidates_by_station_duty_and_by_sector(tiny):
    ix = ResponsibilityIndex(tiny)
    duty = DutyIndex.from_result({"duties": [{"month": "2031-01", "station_id": "S1", "member_id": "M6",
                                              "date": "2031-01-15"}], "members": []})
    c = candidates(ix, station_id="S1", duty=duty, today=dt.date(2031, 1, 3))
    assert [x.member_id for x in c] == ["M6"] and c[0].basis == "station_duty"
    row, _ = ix.village_at(AT_V1["lon"], AT_V1["lat"])
    c = candidates(ix, village_row=row, sector="农业")
    assert [x.member_id for x in c] == ["M3", "M4"] and c[0].basis == "sector_place"  # nearest first
    c = candidates(ix, village_row=row)  # no sector: each sector's responsible member
    assert {x.basis for x in c} == {"place"} and len(c) == 3


def test_escalation_levels():
    t0 = dt.datetime(2031, 1, 1, 8, tzinfo=dt.UTC)
    created = t0.isoformat()
    assert [due_level(created, created, t0 + dt.timedelta(days=d), 3) for d in (0, 2.9, 3, 5.9, 6, 30)] == \
        [0, 0, 1, 1, 2, 2]
    with pytest.raises(ValueError, match="days"):
        due_level(created, created, t0, 0)


class Clock:
    def __init__(self, t):
        self.t = t

    def __call__(self):
        return self.t


def _app(tmp_path, tiny, **kw):
    app = make_app(tmp_path, tiny, member_keys=MEMBER_KEYS, **kw)
    clock = Clock(dt.datetime(2031, 1, 5, 9, tzinfo=dt.UTC))
    app.state.clock = clock
    return app, clock


def test_message_follow_up_and_escalation_timeline(tmp_path, tiny):
    app, clock = _app(tmp_path, tiny, message_escalate_days=3)
    with client(app) as c:
        r = c.post("/v1/datasets/tiny/messages", json={**AT_V1, "sector": "农业", "topic": "灌溉",
                                                       "text": "水渠堵了", "phone": "13900001234"})
        assert r.status_code == 201, r.text
        ticket = r.json()["ticket"]
        assert r.json()["status_text"] == "已分派" and "phone" not in r.text
        mine = c.get("/v1/datasets/tiny/messages", headers={"X-API-Key": "member-key-M3"}).json()["messages"]
        assert len(mine) == 1 and mine[0]["member_id"] == "M3" and mine[0]["phone"] == "13900001234"
        assert "农业" in mine[0]["reason_text"] and mine[0]["escalation"] == 0
        mid = mine[0]["id"]
        # another member sees nothing and may not answer
        assert c.get("/v1/datasets/tiny/messages", headers={"X-API-Key": "member-key-M2"}).json()["count"] == 0
        r = c.post(f"/v1/datasets/tiny/messages/{mid}", json={"status": "in_progress"},
                   headers={"X-API-Key": "member-key-M2"})
        assert r.status_code == 403
        # three days unanswered: the group's convener (M1) gets it; six: the office; 12345 hand-off lists it
        clock.t += dt.timedelta(days=3, minutes=1)
        conv = c.get("/v1/datasets/tiny/messages", headers={"X-API-Key": "member-key-M1"}).json()["messages"]
        assert [m["id"] for m in conv] == [mid] and conv[0]["escalation"] == 1 and conv[0]["overdue"]
        assert conv[0]["escalation_text"] == "召集人督办"
        assert c.get("/v1/datasets/tiny/messages/handoff.csv", headers=hdr("planner")).text.count("\n") == 1
        clock.t += dt.timedelta(days=3)
        s = c.get("/v1/datasets/tiny/messages/summary", headers=hdr("viewer")).json()
        assert s["overdue"] == 1 and s["by_township"][0]["id"] == "T1" and s["by_member"][0]["id"] == "M3"
        csv_text = c.get("/v1/datasets/tiny/messages/handoff.csv", headers=hdr("planner")).text
        assert "水渠堵了" in csv_text and "13900001234" in csv_text and "政协办公室督办" in csv_text
        # the member moves it along; the sender follows it by ticket
        for body, status in (({"status": "in_progress"}, "处理中"),
                             ({"status": "answered", "answer": "已联系水利站疏通"}, "已答复")):
            clock.t += dt.timedelta(hours=2)
            r = c.post(f"/v1/datasets/tiny/messages/{mid}", json=body, headers={"X-API-Key": "member-key-M3"})
            assert r.status_code == 200, r.text
            t = c.get(f"/v1/messages/{ticket}").json()
            assert t["status_text"] == status
        assert t["answer"] == "已联系水利站疏通" and "phone" not in str(t) and "text" not in t
        assert [x["status"] for x in t["steps"]] == ["received", "assigned", "in_progress", "answered"]
        r = c.post(f"/v1/datasets/tiny/messages/{mid}", json={"status": "received"}, headers=hdr("planner"))
        assert r.status_code == 409
        r = c.post(f"/v1/datasets/tiny/messages/{mid}", json={"status": "closed"}, headers=hdr("planner"))
        assert r.json()["status"] == "closed" and c.get(f"/v1/messages/{ticket}").json()["status_text"] == "已办结"
        s = c.get("/v1/datasets/tiny/messages/summary", headers=hdr("viewer")).json()
        assert s["open"] == 0 and s["time_to_answer_h"]["answered"] == 1
        assert c.get("/v1/datasets/tiny/messages?status=closed", headers=hdr("viewer")).json()["count"] == 1
        assert c.get("/v1/datasets/tiny/messages?open=true", headers=hdr("viewer")).json()["count"] == 0
        assert c.get("/v1/datasets/tiny/messages?status=lost", headers=hdr("viewer")).status_code == 422
        assert s["time_to_answer_h"]["median"] == pytest.approx(6 * 24 + 4 + 1 / 60, abs=0.01)


def test_who_sees_a_phone(tmp_path, tiny):
    app, _ = _app(tmp_path, tiny)
    with client(app) as c:
        r = c.post("/v1/datasets/tiny/messages", json={"station_id": "S1", "text": "想反映一下", "phone": "13700007777"})
        assert r.status_code == 201, r.text
        ticket = r.json()["ticket"]
        assert "13700007777" not in c.get(f"/v1/messages/{ticket}").text
        assert c.get("/v1/datasets/tiny/messages").status_code == 401  # anonymous: no list at all
        viewer = c.get("/v1/datasets/tiny/messages", headers=hdr("viewer"))
        assert viewer.json()["count"] == 1 and "13700007777" not in viewer.text and "sender" not in viewer.text
        assert "13700007777" not in c.get("/v1/datasets/tiny/messages.geojson", headers=hdr("viewer")).text
        assert "13700007777" in c.get("/v1/datasets/tiny/messages", headers=hdr("planner")).text
        c.post("/v1/datasets/tiny/messages", json={"lon": 130.321234, "lat": 46.823456, "text": "在家门口"})
        seen = [m for m in c.get("/v1/datasets/tiny/messages", headers=hdr("viewer")).json()["messages"] if m["lon"]]
        assert (seen[0]["lon"], seen[0]["lat"]) == (130.321, 46.823)  # about 100 m, not the doorstep
        assert "130.321234" not in c.get("/v1/datasets/tiny/messages.geojson", headers=hdr("viewer")).text
        assert "130.321234" in c.get("/v1/datasets/tiny/messages", headers=hdr("planner")).text
        assert c.get("/v1/datasets/tiny/messages.xlsx", headers=hdr("viewer")).status_code == 403
        assert c.get("/v1/datasets/tiny/messages/handoff.csv", headers=hdr("viewer")).status_code == 403


def test_bad_input_is_named_and_text_stays_text(tmp_path, tiny):
    app, _ = _app(tmp_path, tiny)
    with client(app) as c:
        for body, field, code in (({"text": "x"}, "station_id", 422), ({**AT_V1}, "text", 422),
                                  ({**AT_V1, "text": "x" * 1001}, "text", 413),
                                  ({**AT_V1, "text": "x", "phone": "call me"}, "phone", 422),
                                  ({"lon": 999, "lat": 1, "text": "x"}, "lon", 422),
                                  ({"station_id": "NOPE", "text": "x"}, "station_id", 422),
                                  ({**AT_V1, "text": "a\x00b"}, "text", 422)):
            r = c.post("/v1/datasets/tiny/messages", json=body)
            assert r.status_code == code, (body, r.text)
            assert r.json()["errors"][0]["field"] == field
        r = c.post("/v1/datasets/tiny/messages", content=b"{not json", headers={"Content-Type": "application/json"})
        assert r.status_code == 400
        r = c.post("/v1/datasets/tiny/messages", content=b"x" * 20000, headers={"Content-Type": "application/json"})
        assert r.status_code == 413
        evil = '=HYPERLINK("http://x","y")<script>alert(1)</script>{{7*7}}'
        assert c.post("/v1/datasets/tiny/messages", json={**AT_V1, "text": evil, "topic": "@SUM(A1)"}).status_code == 201
        got = c.get("/v1/datasets/tiny/messages", headers=hdr("planner")).json()["messages"][0]
        assert got["text"] == evil and got["topic"] == "@SUM(A1)"
        wb = load_workbook(io.BytesIO(c.get("/v1/datasets/tiny/messages.xlsx?month=2031-01",
                                            headers=hdr("planner")).content))
        cells = [cell for row in wb.worksheets[0].iter_rows() for cell in row if cell.value == evil]
        assert cells and all(cell.data_type == "s" for cell in cells)
        assert "'=HYPERLINK" in c.get("/v1/datasets/tiny/messages/handoff.csv?level=0", headers=hdr("planner")).text


def test_a_bounded_flood_from_several_addresses(tmp_path, tiny):
    """Ten loopback addresses send 30 messages each at one station: each address is stopped after its
    hourly allowance, the station after its daily cap of stored open messages; lookups stay fast."""
    app, _ = _app(tmp_path, tiny, messages_per_address_per_hour=5, messages_per_station_per_hour=1000,
                  messages_open_per_station_day=25)
    codes: dict[int, int] = {}
    with client(app) as c0:
        def lookup_ms(n=30):
            t = time.perf_counter()
            for _ in range(n):
                assert c0.get("/v1/datasets/tiny/responsible", params={"station_id": "S2"}).status_code == 200
            return (time.perf_counter() - t) / n * 1000
        before = lookup_ms()
        for a in range(10):
            with client(app, host=f"127.0.0.{a + 2}") as c:
                for i in range(30):
                    r = c.post("/v1/datasets/tiny/messages", json={"station_id": "S2", "text": f"第{a}-{i}条"})
                    codes[r.status_code] = codes.get(r.status_code, 0) + 1
                    if r.status_code == 429:
                        assert int(r.headers["Retry-After"]) >= 1
                        assert r.json()["type"].rsplit(":", 1)[1] in ("too-many-messages", "station-full")
        after = lookup_ms()
        stored = c0.get("/v1/datasets/tiny/messages", headers=hdr("planner")).json()["count"]
    assert codes[201] == stored == 25  # the station's daily cap, not 10 x 5 = 50 allowed by address
    assert codes[429] == 300 - 25
    assert after < max(3 * before, before + 20), (before, after)
    # another station still takes messages the same day
    with client(app, host="127.0.0.99") as c:
        assert c.post("/v1/datasets/tiny/messages", json={"station_id": "S1", "text": "别处"}).status_code == 201


def test_member_key_setting_forms():
    s = Settings(member_keys="k-member-0001:M1,k-member-0002:M2", load_demo=False)
    assert s.member_keys == {"k-member-0001": "M1", "k-member-0002": "M2"}
    with pytest.raises(ValueError, match="at least 8"):
        Settings(member_keys={"short": "M1"}, load_demo=False)


def test_messages_map_page(tmp_path, tiny):
    app, clock = _app(tmp_path, tiny)
    with client(app) as c:
        for body in ({**AT_V1, "text": "一", "phone": "13600001111"}, {"station_id": "S3", "text": "二"}):
            assert c.post("/v1/datasets/tiny/messages", json=body).status_code == 201
        clock.t += dt.timedelta(days=4)
        r = c.get("/v1/datasets/tiny/maps/messages", headers=hdr("viewer"))
        assert r.status_code == 200 and "群众留言分布" in r.text and "超期未答复" in r.text
        assert "13600001111" not in r.text and "content-security-policy" in r.headers
        assert c.get("/v1/datasets/tiny/maps/messages").status_code == 401


@settings(max_examples=60, deadline=None)
@given(body=st.dictionaries(st.sampled_from(["station_id", "lon", "lat", "topic", "sector", "text", "phone", "x"]),
                            st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                                      st.text(max_size=60), st.lists(st.integers(), max_size=3)), max_size=8))
def test_any_body_gets_an_answer_not_a_crash(tiny, tmp_path_factory, body):
    app = _flood_app(tmp_path_factory, tiny)
    with client(app) as c:
        # stdlib json writes NaN/Infinity literals, as a careless client would
        r = c.post("/v1/datasets/tiny/messages", content=json.dumps(body),
                   headers={"content-type": "application/json"})
    assert r.status_code in (201, 400, 413, 422), r.text
    if r.status_code != 201:
        problem = r.json()
        assert r.headers["content-type"].startswith("application/problem+json")
        # a field is named, or (NaN/Infinity literals are not JSON) the body as a whole is refused
        assert problem.get("errors", [{}])[0].get("field") or "JSON" in problem["detail"], problem


_APPS: dict = {}


def _flood_app(tmp_path_factory, tiny):
    if "app" not in _APPS:
        _APPS["app"] = make_app(tmp_path_factory.mktemp("any-body"), tiny, messages_per_address_per_hour=100_000,
                                messages_per_station_per_hour=100_000)
    return _APPS["app"]


def test_stored_roster_gives_the_duty_and_routes_station_messages(tmp_path, tiny):
    app, clock = _app(tmp_path, tiny)
    result = {"status": "optimal", "months": ["2031-01"], "members": [{"id": "M6", "name": "杨磊"}],
              "platforms": [{"id": "S1", "name": "西镇综合站"}],
              "duties": [{"month": "2031-01", "station_id": "S1", "member_id": "M6", "date": "2031-01-15"}]}
    app.state.store.create_job(JobRecord(id="r1", dataset_id="tiny", kind="roster", params={}, status="successful",
                                         result=result))
    with client(app) as c:
        a = c.get("/v1/datasets/tiny/responsible", params={"station_id": "S1"}).json()
        assert a["roster_job_id"] == "r1" and [m["name"] for m in a["duty"]] == ["杨磊"]
        assert a["next_reception"]["date"] == "2031-01-15"
        r = c.post("/v1/datasets/tiny/messages", json={"station_id": "S1", "text": "接待日能来吗"})
        assert r.status_code == 201
        got = c.get("/v1/datasets/tiny/messages", headers={"X-API-Key": "member-key-M1"}).json()["count"]
        assert got == 0  # M1 is not on duty there
        m = c.get("/v1/datasets/tiny/messages", headers=hdr("planner")).json()["messages"][0]
        assert m["member_id"] == "M6" and m["reason"]["basis"] == "station_duty" and "值班" in m["reason_text"]
        clock.t = dt.datetime(2031, 1, 20, tzinfo=dt.UTC)  # after the reception day: none left this roster
        assert c.get("/v1/datasets/tiny/responsible", params={"station_id": "S1"}).json()["next_reception"] is None
