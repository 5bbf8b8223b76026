"""A wrong argument raised below the API (``InvalidParameter``, ``InvalidDatasetId``) is answered by
the one error table: the routes let it propagate, the problem names the field."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from api.problems import ERROR_TABLE, install_handlers, problem_for
from geo_service.core import glossary as G
from geo_service.core.errors import InvalidDatasetId, InvalidParameter
from geo_service.core.store import check_dataset_id
from maps.roster import duty_month
from test_api import assert_problem
from test_api_support import client, hdr, make_app

EN = {"Accept-Language": "en-GB,en;q=0.9"}


def test_invalid_parameter_is_a_value_error_naming_its_field():
    e = InvalidParameter("month", "month: '2030-01' is not in the roster", "not_in_roster")
    assert isinstance(e, ValueError) and str(e) == "month: '2030-01' is not in the roster"
    assert e.to_dict() == {"field": "month", "message": str(e), "code": "not_in_roster"}
    assert InvalidParameter("k", "too big", where="body").to_dict()["in"] == "body"
    with pytest.raises(ValueError, match="field"):
        InvalidParameter("", "no field named")


def test_check_dataset_id_raises_invalid_dataset_id():
    for bad in ("..", "-x", "a/b", "x" * 65, 7):
        with pytest.raises(InvalidDatasetId) as info:
            check_dataset_id(bad)
        assert info.value.dataset_id == bad and info.value.field == "dataset_id"
    assert check_dataset_id("county-1") == "county-1"


def test_the_table_answers_both_and_the_most_specific_wins():
    assert {InvalidParameter, InvalidDatasetId} <= set(ERROR_TABLE)
    r = problem_for(None, InvalidDatasetId("..", "invalid dataset id '..'"))
    body = json.loads(r.body)
    assert r.status_code == 400 and body["type"].endswith("invalid-dataset-id") and body["dataset_id"] == ".."
    assert "errors" not in body
    body = json.loads(problem_for(None, InvalidParameter("k", "k must be between 1 and 20")).body)
    assert body["status"] == 422 and body["type"].endswith("invalid-parameters")
    assert body["errors"] == [{"in": "query", "field": "k", "message": "k must be between 1 and 20",
                               "code": "invalid"}]


def test_the_errors_member_says_query_or_body_from_the_request():
    app = FastAPI()
    install_handlers(app)

    @app.api_route("/raise", methods=["GET", "POST"])
    def _raise(request: Request):
        raise InvalidParameter("params", "unknown parameter 'x'")

    @app.get("/told")
    def _told():
        raise InvalidParameter("month", "not a month", where="body")

    with TestClient(app) as c:
        got = assert_problem(c.get("/raise", headers=EN), 422, "invalid-parameters")
        assert got["errors"][0]["in"] == "query" and got["detail"] == "unknown parameter 'x'"
        zh = assert_problem(c.get("/raise"), 422, "invalid-parameters")
        assert zh["errors"] == got["errors"] and zh["detail"] == "参数 params 无效。"
        assert assert_problem(c.post("/raise"), 422)["errors"][0]["in"] == "body"
        assert c.get("/told").json()["errors"][0]["in"] == "body"  # the exception's own word wins


def test_duty_month_names_month():
    with pytest.raises(InvalidParameter) as info:
        duty_month({"months": ["2027-01", "2027-02"]}, "2030-05")
    assert info.value.field == "month" and "2027-01..2027-02" in str(info.value)
    assert duty_month({"months": ["2027-01"]}, "2027-01") == "2027-01"


def test_routes_let_the_floor_errors_propagate(tmp_path, tiny):
    with client(make_app(tmp_path / "d", tiny)) as c:
        for url in ("/v1/datasets/-bad/nearest?lon=130.3&lat=46.8", "/v1/datasets/-bad/responsible?station_id=S1",
                    "/m/-bad"):
            body = assert_problem(c.get(url, headers=hdr("viewer")), 400, "invalid-dataset-id")
            assert body["dataset_id"] == "-bad" and "数据集编号“-bad”无效" in body["detail"]
            en = assert_problem(c.get(url, headers={**hdr("viewer"), **EN}), 400, "invalid-dataset-id")
            assert en["dataset_id"] == "-bad" and "invalid dataset id" in en["detail"]
        for query, field, code, why in (
                ("station_id=S1&k=50", "k", "between", "应在 1 到 20 之间"),
                ("village_id=nope", "village_id", "not_in_dataset", "数据集中没有此值"),
                ("station_id=nope", "station_id", "not_in_dataset", "数据集中没有此值"),
                ("", "lon", "one_place", "须且只须给出一种"),
                ("lon=130.3", "lon", "lonlat_pair", "经度、纬度须同时给出")):
            r = c.get(f"/v1/datasets/tiny/responsible?{query}")
            body = assert_problem(r, 422, "invalid-parameters")
            assert [(e["in"], e["field"], e["code"]) for e in body["errors"]] == [("query", field, code)], body
            assert body["detail"].startswith(f"参数 {field}") and why in body["detail"], body["detail"]
            assert why in body["errors"][0]["message_zh"]
        en = c.get("/v1/datasets/tiny/responsible?station_id=S1&k=50&lang=en").json()
        assert en["detail"] == "k must be between 1 and 20, got 50"  # the raiser's own words, with the value
        assert c.get("/v1/datasets/tiny/responsible?station_id=S1").status_code == 200


def test_batch_parameters_are_named_in_the_body(tmp_path, tiny):
    A = hdr("admin")
    with client(make_app(tmp_path / "d", tiny)) as c:
        r = c.post("/v1/batches", json={"datasets": ["tiny"], "params": {"optimization": {}}}, headers={**A, **EN})
        body = assert_problem(r, 422, "invalid-parameters")
        assert "unknown batch parameter" in body["detail"]
        assert [(e["in"], e["field"], e["code"]) for e in body["errors"]] == [("body", "params", "unknown_keys")]
        zh = c.post("/v1/batches", json={"datasets": ["tiny"], "params": {"optimization": {}}}, headers=A).json()
        assert zh["detail"] == "参数 params 无效：不接受 optimization；可用的有 coverage、optimisation、roster。"
        zh = c.post("/v1/batches", json={"datasets": ["tiny"], "params": {"optimisation": {"time_limit_s": -1}}},
                    headers=A).json()
        assert [(e["field"], e["code"]) for e in zh["errors"]] == [("params.optimisation.time_limit_s",
                                                                    "greater_than")], zh
        assert "应大于 0" in zh["detail"], zh["detail"]
        r = c.post("/v1/batches?lang=en", json={"datasets": ["zz-*"]}, headers=A)
        body = assert_problem(r, 422, "invalid-parameters")
        assert body["detail"] == "no stored dataset matches 'zz-*'"
        zh = c.post("/v1/batches", json={"datasets": ["zz-*"]}, headers=A).json()
        assert zh["detail"] == "参数 datasets（数据集）无效：没有匹配的数据集。"
        assert [(e["in"], e["field"], e["code"]) for e in body["errors"]] == [("body", "datasets", "no_match")]


def test_page_size_names_the_bad_argument():
    from maps.static_render import PixelBudgetError, page_size

    for kw, field, code, why in (
            ({"width_mm": 100}, "width_mm", "size_pair", "须同时给出"),
            ({"width_mm": 100, "height_mm": 10}, "height_mm", "between_mm", "应在 50 到"),
            ({"paper": "letter"}, "paper", "literal_error", "应为以下之一：a5、a4"),
            ({"orientation": "sideways"}, "orientation", "literal_error", "应为以下之一：landscape、portrait"),
            ({"dpi": 601}, "dpi", "between_int", "应为 50 到 600 之间的整数")):
        with pytest.raises(InvalidParameter) as info:
            page_size(**kw)
        assert (info.value.field, info.value.code) == (field, code), kw
        assert why in G.parameter_text(info.value.to_dict(), "zh"), (kw, G.parameter_text(info.value.to_dict()))
    with pytest.raises(PixelBudgetError) as info:
        page_size("a2", dpi=600)
    assert (info.value.field, info.value.code) == ("dpi", "pixel_budget")


def test_static_map_sizes_are_answered_by_the_table(tmp_path, tiny):
    with client(make_app(tmp_path / "d", tiny)) as c:
        for query, field, code in (("paper=a2&dpi=600", "dpi", "pixel_budget"),
                                   ("width_mm=100", "width_mm", "size_pair")):
            r = c.get(f"/v1/datasets/tiny/maps/coverage.png?{query}", headers=hdr("viewer"))
            body = assert_problem(r, 422, "invalid-parameters")
            assert [(e["in"], e["field"], e["code"]) for e in body["errors"]] == [("query", field, code)], body


def test_assignment_map_selection_not_in_the_dataset_is_named(tmp_path, tiny):
    with client(make_app(tmp_path / "d", tiny)) as c:
        for field in ("group", "committee", "member"):
            r = c.get(f"/v1/datasets/tiny/maps/assignment?{field}=nope", headers={**hdr("viewer"), **EN})
            body = assert_problem(r, 422, "invalid-parameters")
            assert [(e["in"], e["field"], e["code"]) for e in body["errors"]] == [("query", field, "not_in_dataset")]
            assert "'nope'" in body["detail"]
        group = str(tiny.groups["id"].iloc[0])
        assert c.get(f"/v1/datasets/tiny/maps/assignment?group={group}", headers=hdr("viewer")).status_code == 200


def test_the_job_runner_and_the_map_renderer_name_their_arguments(tmp_path, tiny):
    from geo_service.app.jobs import JobManager, check_storable
    from geo_service.app.outputs import roster_ics_bytes
    from geo_service.core.store import SQLiteStore
    from maps.static_maps import render

    jobs = JobManager(SQLiteStore(tmp_path / "s"), lambda _: tiny)
    with pytest.raises(InvalidParameter) as info:
        jobs.submit("tiny", "no-such-kind", {})
    assert (info.value.field, info.value.code) == ("kind", "unknown_kind")
    assert G.parameter_text(info.value.to_dict()) == f"参数 kind（类型）无效：应为以下之一：{'、'.join(jobs.runners)}"
    with pytest.raises(InvalidParameter) as info:
        check_storable({"locks": {"x": [1, 2**64]}})
    assert (info.value.field, info.value.code) == ("locks.x[1]", "beyond_int64")
    for kw, field in (({"kind": "heat"}, "kind"), ({"kind": "coverage", "fmt": "gif"}, "fmt")):
        with pytest.raises(InvalidParameter) as info:
            render(ds=tiny, **kw)
        assert info.value.field == field
    with pytest.raises(InvalidParameter) as info:
        roster_ics_bytes({"status": "optimal", "objective": 0.0, "bound": 0.0, "gap": 0.0, "unit": "m", "months": [],
                          "duties": [], "consultations": [], "members": [], "platforms": []}, "M9")
    assert (info.value.field, info.value.code) == ("member", "unknown_member")


def _reason_codes(node):
    """The reason codes an argument-error call or ``errors[]`` item names (both branches of an
    ``a if c else b``); None for a code passed on from another error."""
    import ast

    if isinstance(node, ast.IfExp):
        return (_reason_codes(node.body) or []) + (_reason_codes(node.orelse) or [])
    if isinstance(node, ast.Constant):
        return [node.value]
    return None


def test_every_wrong_argument_is_worded_in_the_glossary():
    """Each wrong-argument error in the code (``InvalidParameter``, ``InvalidQuery``, the routes'
    request-parameter items) names a code the glossary words (``REASONS``) and gives every value its
    template needs, so a Chinese answer says why, not only which."""
    import ast
    import string
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    seen, missing = 0, []

    def check(where, code_node, ctx_names):
        nonlocal seen
        seen += 1
        codes = _reason_codes(code_node) if code_node is not None else ["invalid"]
        for code in codes or []:
            if code not in G.REASONS:
                missing.append(f"{where} code {code}")
                continue
            for tpl in G.REASONS[code]:
                need = {name for _, name, _, _ in string.Formatter().parse(tpl) if name}
                if need - ctx_names:
                    missing.append(f"{where} {code} lacks {sorted(need - ctx_names)}")

    def dict_keys(node):
        return {k.value for k in node.keys if isinstance(k, ast.Constant)} if isinstance(node, ast.Dict) else set()

    for py in [p for d in ("geo_service", "api", "maps", "solvers") for p in (root / d).rglob("*.py")
               if p.name not in ("errors.py", "checks.py") or "core" not in p.parts]:  # the classes themselves
        rel = py.relative_to(root)
        for node in ast.walk(ast.parse(py.read_text(encoding="utf-8"))):
            where = f"{rel}:{getattr(node, 'lineno', 0)}"
            kw = {k.arg: k.value for k in getattr(node, "keywords", []) if k.arg}
            name = getattr(getattr(node, "func", None), "id", None) if isinstance(node, ast.Call) else None
            if name == "InvalidParameter":
                check(where, node.args[2] if len(node.args) > 2 else kw.get("code"), dict_keys(kw.get("ctx")))
            elif name == "InvalidQuery":
                check(where, kw.get("code"), dict_keys(kw.get("ctx")))
            elif name == "_bad" and py.name in ("messages.py", "nearest.py"):  # (..., message, code, **ctx)
                check(where, node.args[3 if py.name == "messages.py" else 2], set(kw))
            elif name == "validator_error":  # (code, message, **ctx): a pydantic validator's reason
                check(where, node.args[0], set(kw) - {"field"})
            elif isinstance(node, ast.Dict) and {"in", "field", "code"} <= dict_keys(node):
                code = node.values[[getattr(k, "value", None) for k in node.keys].index("code")]
                if isinstance(code, ast.Constant):  # a literal request-parameter item of a route
                    check(where, code, set())
    assert seen > 60, seen  # the scan sees the raises
    assert not missing, missing


def test_parameter_validators_raise_worded_reasons():
    """A validator of the parameters users send (rosters, optimisation, review rules) raises
    ``validator_error`` with a glossary code, never a bare ``ValueError`` whose English text would
    stand in the Chinese answer. (Service settings are the operator's, read at start-up: not scanned.)"""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    bare, validators = [], 0
    for py in [p for d in ("geo_service", "api", "maps", "solvers") for p in (root / d).rglob("*.py")
               if p.name != "settings.py"]:
        for fn in ast.walk(ast.parse(py.read_text(encoding="utf-8"))):
            if not isinstance(fn, ast.FunctionDef):
                continue
            names = {getattr(getattr(d, "func", d), "id", None) for d in fn.decorator_list}
            if not names & {"field_validator", "model_validator"}:
                continue
            validators += 1
            for node in ast.walk(fn):
                if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) \
                        and getattr(node.exc.func, "id", None) in ("ValueError", "AssertionError"):
                    bare.append(f"{py.relative_to(root)}:{node.lineno}")
    assert validators >= 8, validators
    assert not bare, bare


@pytest.mark.parametrize(("url", "body", "field", "code", "zh", "en"), [
    ("/v1/datasets/tiny/rosters", {"months": 6, "per_platform_min": 3, "per_platform_max": 1},
     "per_platform_max", "below_other", "参数 per_platform_max（每平台每月值班人数上限）无效：不应小于每平台每月值班人数下限（3）。",
     "per_platform_max 1 < per_platform_min 3"),
    ("/v1/datasets/tiny/rosters", {"start": "2027-13"}, "start", "bad_month",
     "参数 start（起始月份）无效：应为月份，如 2027-01（收到 2027-13）。", "start must be a month like 2027-01"),
    ("/v1/datasets/tiny/rosters", {"availability": [{"member_id": "M1", "start": "2027-02-01"}]},
     "availability.0.end", "start_end_pair", "委员 M1 的请假须同时给出开始日期（start）和结束日期（end）",
     "availability of M1: give both start and end"),
    ("/v1/datasets/tiny/rosters", {"holidays": [{"date": "2027-01-01"}, {"date": "2027-02-30"}]},
     "holidays.1", "holiday_date", "第 2 行的日期 2027-02-30 应为 YYYY-MM-DD", "is not YYYY-MM-DD"),
    ("/v1/datasets/tiny/rosters", {"months": 3, "locks": [{"month": "2099-01", "station_id": "S1", "member_id": "M1"}]},
     "locks.0.month", "not_in_roster", "不在排班的月份内（", "is not in the period"),
    ("/v1/datasets/tiny/reviews", {"year": 2027, "rules": {"caps": {"duty": -1}}}, "rules.caps.duty",
     "greater_than_equal", "参数 rules.caps.duty（值班）无效：应不小于 0。", "caps.duty must be >= 0"),
    ("/v1/datasets/tiny/reviews", {"year": 2027, "rules": {"quotas": {"visits": 3}}}, "rules.quotas",
     "unknown_keys", "不接受 visits；可用的有 constituents、", "unknown quota(s) ['visits']"),
    ("/v1/datasets/tiny/ledger/replan", {"previous_job_id": "x", "period": "2027-Q1",
                                         "params": {"constituents_min": 5, "constituents_max": 2}},
     "params.constituents_max", "below_other", "不应小于每位委员联系群众下限（5）", "constituents_max 2 < constituents_min 5"),
])
def test_a_validators_reason_is_worded_over_http(tmp_path, tiny, url, body, field, code, zh, en):
    with client(make_app(tmp_path / "d", tiny)) as c:
        got = assert_problem(c.post(url, json=body, headers=hdr("planner")), 422, "invalid-parameters")
        assert [(e["in"], e["field"], e["code"]) for e in got["errors"]] == [("body", field, code)], got
        assert zh in got["detail"] and "error" not in got["detail"], got["detail"]
        assert zh.removeprefix(f"参数 {field}").strip("（）。") and got["errors"][0].get("message_zh")
        english = assert_problem(c.post(url, json=body, headers={**hdr("planner"), **EN}), 422)
        assert en in english["detail"], english["detail"]
