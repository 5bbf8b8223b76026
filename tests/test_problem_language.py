"""Problem answers in the user's language: Chinese unless the request asks for English (``lang=en``
or an ``Accept-Language`` whose first language is English), said in ``Content-Language``; the
machine members (``type``, ``status``, ``errors[].field``/``code``, ids) the same in both."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.problems import ERROR_TABLE, answer_lang
from conftest import make_tiny_layers
from geo_service.core.dataset import Dataset
from geo_service.core.glossary import PROBLEM_DETAILS, PROBLEMS, problem_detail
from test_api import assert_problem
from test_api_support import client, hdr, make_app

API = Path(__file__).resolve().parents[1] / "api"
EN_HEADER = {"Accept-Language": "en-GB,en;q=0.9"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def _codes_in_api() -> set[str]:
    """Every problem code the service can answer: ``code="..."`` in api/, the middleware's refusals
    (``(status, detail, "code")`` tuples), the rate limits' codes and the error table's."""
    codes: set[str] = set()
    for path in API.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        codes |= set(re.findall(r'code="([a-z0-9-]+)"', text))
        codes |= set(re.findall(r'_limited\([^,]+, "([a-z0-9-]+)"', text))
        if path.name == "middleware.py":
            codes |= set(re.findall(r'(?<!b)"([a-z]+(?:-[a-z]+)+)"[,)]', text)) - {"same-origin", "x-request-id"}
    return codes | {pt.code for pt in ERROR_TABLE.values()}


def test_every_problem_code_has_a_chinese_and_an_english_title():
    codes = _codes_in_api()
    assert len(codes) > 55 and {"dataset-not-found", "body-timeout", "too-many-messages"} <= codes
    missing = sorted(codes - set(PROBLEMS))
    assert not missing, missing
    for code in codes:
        zh, en = PROBLEMS[code]
        assert CJK.search(zh) and en and not CJK.search(en), code
    for code, variants in PROBLEM_DETAILS.items():  # templates: Chinese and English, same fields
        for zh, en in variants:
            assert CJK.search(zh) and not CJK.search(en), code
            assert set(re.findall(r"{(\w+)}", zh)) == set(re.findall(r"{(\w+)}", en)), code


def test_the_language_rule():
    assert answer_lang(None, None) == "zh"
    assert answer_lang("en", None) == "en" and answer_lang(None, "en-GB,en;q=0.9") == "en"
    assert answer_lang(None, "zh-CN,zh;q=0.9,en;q=0.8") == "zh" and answer_lang(None, "fr, en") == "zh"
    assert answer_lang("zh", "en") == "zh" and answer_lang("xx", "EN-us") == "en"
    assert answer_lang(None, "english") == "zh"


def test_a_template_is_used_only_where_its_members_are_all_there():
    assert problem_detail("dataset-not-found", dataset_id="x") == "找不到数据集“x”。"
    assert problem_detail("dataset-not-found") == "找不到该数据集。"
    assert problem_detail("forbidden", "en", role="viewer", required_role="admin").startswith("role 'viewer'")
    assert "查看者" in problem_detail("forbidden", role="viewer", required_role="admin")
    assert problem_detail("unavailable", dataset_id="x") is None  # no template: the caller's text stays
    assert problem_detail("invalid-feature", feature_id="V1") is None  # a template needs all its members
    assert problem_detail("invalid-feature", feature_id="V1", errors=[{}, {}]) == "要素“V1”有 2 处问题，未保存。"


@pytest.fixture(scope="module")
def c(tmp_path_factory, tiny):
    app = make_app(tmp_path_factory.mktemp("d"), tiny)
    with client(app) as cl:
        yield cl


def _three(c, method: str, url: str, **kw):
    """The same request in Chinese (default), with ``lang=en`` and with an English Accept-Language."""
    headers = kw.pop("headers", {})
    sep = "&" if "?" in url else "?"
    return (c.request(method, url, headers=headers, **kw),
            c.request(method, f"{url}{sep}lang=en", headers=headers, **kw),
            c.request(method, url, headers={**headers, **EN_HEADER}, **kw))


def _machine(body: dict) -> dict:
    keep = {k: v for k, v in body.items() if k not in ("title", "detail", "request_id")}
    keep["errors"] = [{k: v for k, v in e.items() if k in ("in", "field", "code", "layer", "row")}
                      for e in body.get("errors", [])]
    return keep


def test_the_same_bad_request_in_chinese_and_english(c):
    zh, en, en_h = _three(c, "GET", "/v1/jobs?limit=abc", headers=hdr("viewer"))
    bodies = [assert_problem(r, 422, "invalid-parameters") for r in (zh, en, en_h)]
    assert [r.headers["content-language"] for r in (zh, en, en_h)] == ["zh", "en", "en"]
    assert _machine(bodies[0]) == _machine(bodies[2]) and bodies[0]["errors"][0]["field"] == "limit"
    assert {k: v for k, v in _machine(bodies[1]).items() if k != "instance"} == \
        {k: v for k, v in _machine(bodies[0]).items() if k != "instance"}
    assert bodies[0]["title"] == "请求参数无效" and bodies[0]["detail"] == "参数 limit（条数上限）无效：应为整数。"
    assert bodies[0]["errors"][0]["message_zh"] == "应为整数" and bodies[1]["errors"][0]["message_zh"] == "应为整数"
    for b in bodies[1:]:
        assert b["title"] == "Invalid request parameters" and b["detail"].startswith("invalid request parameters: query:limit: ")
        assert not CJK.search(b["title"] + b["detail"])


# (method, url, role, extra request arguments, status, code, Chinese detail)
CASES = [
    ("GET", "/v1/datasets/tiny/responsible?station_id=S1&k=50", None, {}, 422, "invalid-parameters",
     "参数 k 无效：应在 1 到 20 之间。"),
    ("GET", "/v1/datasets/tiny/nearest?lon=130&lat=46.8&k=0", "viewer", {}, 422, "invalid-parameters",
     "参数 k 无效：应在 1 到 50 之间。"),
    ("GET", "/v1/datasets/tiny/nearest?lon=abc&lat=46.8", "viewer", {}, 422, "invalid-parameters",
     "参数 lon（经度）无效：应为数字。"),
    ("GET", "/v1/datasets/nope", "viewer", {}, 404, "dataset-not-found", "找不到数据集“nope”。"),
    ("GET", "/v1/jobs/nojob", "viewer", {}, 404, "job-not-found", "找不到任务“nojob”。"),
    ("GET", "/v1/datasets/tiny/villages/NOPE", "admin", {}, 404, "feature-not-found",
     "图层“villages”中找不到要素“NOPE”。"),
    ("GET", "/v1/datasets/tiny/posters/NOPE.png", "viewer", {}, 404, "station-not-found", "找不到站点“NOPE”。"),
    ("GET", "/v1/messages/ZZZZZZZZ", None, {}, 404, "message-not-found", "找不到该留言。"),
    ("DELETE", "/v1/datasets/tiny", "viewer", {}, 403, "forbidden",
     "当前角色“查看者”无权执行此操作，需要“管理员”或更高角色。"),
    ("DELETE", "/v1/datasets/tiny", None, {}, 401, "unauthenticated", "需要“管理员”或更高角色的 API 密钥"),
    ("GET", "/v1/datasets", None, {"headers": {"X-API-Key": "wrong-key-000001"}}, 401, "invalid-api-key",
     "API 密钥无效。"),
    ("DELETE", "/v1/datasets/tiny", "admin", {"headers": {"If-Match": '"stale"'}}, 412, "version-mismatch",
     "数据集“tiny”的当前版本是"),
    ("PATCH", "/v1/datasets/tiny/villages/V2", "admin", {"json": {"type": "Feature", "properties": {}}}, 428,
     "precondition-required", "请在 If-Match 中附上要素“V2”的 ETag"),
    ("POST", "/v1/datasets", "admin", {"files": {"file": ("x.zip", b"not a zip at all")}}, 422,
     "unreadable-upload", "无法读取上传的文件"),
    ("POST", "/v1/datasets/tiny/messages", None, {"content": b"{not json", "headers": {
        "Content-Type": "application/json"}}, 400, "invalid-json", "请求体不是有效的 JSON。"),
    ("POST", "/v1/datasets/tiny/nearest", "viewer", {"json": {"points": [[130.3, 46.8], [200, 46]]}}, 422,
     "invalid-query", "参数 lon（经度）第 2 个值无效：应在 -180 到 180 之间。"),
    ("POST", "/v1/datasets/tiny/nearest", "viewer", {"json": {"lon": [1, 2], "lat": [1]}}, 422, "invalid-points",
     "请求体应为点的数组 [[经度, 纬度], ...]"),
    ("GET", "/v1/datasets/tiny/villages?bbox=1,2,3", "viewer", {}, 400, "invalid-bbox", "范围框无效：应为“最小经度"),
    ("POST", "/v1/datasets/tiny/activities", "planner", {"json": [1, 2]}, 422, "invalid-activities",
     "请求体应为一条活动记录"),
    ("GET", "/v1/datasets/tiny/activities?period=2027-13x", "planner", {}, 422, "invalid-parameters",
     "参数 period（时段）无效：应为年份（2027）、季度（2027-Q2）"),
    ("POST", "/v1/datasets/tiny/messages", None, {"json": {"station_id": "NOPE", "text": "路灯坏了"}}, 422,
     "invalid-parameters", "参数 station_id（站点编号）无效：数据集中没有此值。"),
    ("GET", "/v1/messages/ab", None, {}, 422, "invalid-parameters", "应为 6-16 个字母或数字"),
    ("GET", "/v1/batches/nope", "admin", {}, 404, "batch-not-found", "找不到批处理“nope”。"),
    ("POST", "/v1/datasets", "admin", {"files": {"file": ("x.csv", b"a,b\n1,2\n")}}, 415, "unsupported-upload",
     "而不是“x.csv”。"),
    ("GET", "/v1/datasets/tiny/activities/999", "planner", {}, 404, "activity-not-found", "找不到活动记录“999”。"),
    ("GET", "/v1/datasets/tiny/members?bbox=120,40,140,50", "viewer", {}, 403, "personal-data",
     "图层“members”含有个人住址等信息"),
    ("GET", "/nowhere/at/all", None, {}, 404, None, "此地址没有资源：/nowhere/at/all"),
    ("DELETE", "/healthz", None, {}, 405, None, "/healthz 不接受 DELETE 请求。"),
]


@pytest.mark.parametrize("method,url,role,kw,status,code,zh_detail", CASES,
                         ids=[f"{c[5] or c[4]}-{i}" for i, c in enumerate(CASES)])
def test_templated_problems_answer_in_both_languages(c, method, url, role, kw, status, code, zh_detail):
    kw = {**kw, "headers": {**hdr(role), **kw.get("headers", {})}}
    zh, en, en_h = _three(c, method, url, **kw)
    bodies = [assert_problem(r, status, code) for r in (zh, en, en_h)]
    assert zh_detail in bodies[0]["detail"], bodies[0]
    assert CJK.search(bodies[0]["title"]) and zh.headers["content-language"] == "zh"
    assert _machine(bodies[0]) == _machine(bodies[2])
    for r, b in zip((en, en_h), bodies[1:]):
        assert r.headers["content-language"] == "en" and not CJK.search(b["title"] + b["detail"]), b
        assert b["detail"] == bodies[2]["detail"]


def test_limits_answer_in_chinese(tmp_path, tiny):
    from test_security_limits import TOWNSHIPS_CSV, _csv_rows, _zip

    app = make_app(tmp_path / "d", tiny, max_upload_bytes=4000, max_body_bytes=1000, max_table_rows=3)
    with client(app) as c:
        big = json.dumps([[130.3, 46.8]] * 200)
        for extra, lang in (({}, "zh"), (EN_HEADER, "en")):
            r = c.post("/v1/datasets/tiny/nearest", content=big,
                       headers={**hdr("viewer"), "Content-Type": "application/json", **extra})
            body = assert_problem(r, 413, "body-too-large")
            assert r.headers["content-language"] == lang and body["limit_bytes"] == 1000
            assert ("请求体超过上限 1000 字节。" if lang == "zh" else "1000 bytes") in body["detail"]
        rows = {"activities": [{"kind": "visit", "member_id": "M1", "date": "2027-01-05"}] * 4}
        body = assert_problem(c.post("/v1/datasets/tiny/activities", json=rows, headers=hdr("planner")), 413,
                              "too-many-rows")
        assert body["detail"] == "行数超过上限 3 行，请缩小范围或分批提交。" and body["limit_rows"] == 3
        data = _zip({"townships.csv": TOWNSHIPS_CSV, "villages.csv": _csv_rows(5)})
        r = c.post("/v1/datasets", files={"file": ("county.zip", data)}, data={"id": "up"}, headers=hdr("admin"))
        body = assert_problem(r, 413, "upload-too-large")
        assert body["detail"] == f"上传文件 {body['source']} 超过上限（max_table_rows = 3）。"
        assert "county.zip" in body["source"]


def test_an_invalid_dataset_is_counted_in_chinese(c, tmp_path):
    from test_api_support import write_raw_gpkg

    layers = make_tiny_layers()
    layers["villages"].loc[2, "id"] = "V1"
    layers["villages"].loc[4, "population"] = -5
    path = write_raw_gpkg({k: layers[k] for k in ("townships", "villages", "stations")}, tmp_path / "bad.gpkg")
    answers = []
    for extra in ({}, EN_HEADER):
        with open(path, "rb") as fh:
            answers.append(c.post("/v1/datasets", files={"file": ("bad.gpkg", fh)}, headers={**hdr("admin"), **extra}))
    zh, en = (assert_problem(r, 422, "dataset-invalid") for r in answers)
    n = zh["error_count"]
    assert n == len(zh["errors"]) >= 2 and zh["detail"] == f"数据集有 {n} 处错误，未保存任何内容。"
    assert zh["title"] == "数据集无效" and en["title"] == "Invalid dataset" and "nothing was stored" in en["detail"]
    assert _machine(zh) == _machine(en)


def test_a_missing_road_layer_is_named_in_chinese(tmp_path):
    layers = make_tiny_layers()
    layers["roads"] = layers["roads"].iloc[0:0]
    app = make_app(tmp_path / "d", Dataset.from_layers(layers, name="tiny"))
    with client(app) as c:
        body = assert_problem(c.get("/v1/datasets/tiny/nearest?lon=130.3&lat=46.8&mode=road", headers=hdr("viewer")),
                              422, "missing-layer")
        assert body["detail"] == "数据集缺少“roads”图层，无法完成此请求。" and body["layer"] == "roads"
        en = c.get("/v1/datasets/tiny/nearest?lon=130.3&lat=46.8&mode=road&lang=en", headers=hdr("viewer")).json()
        assert "roads" in en["detail"] and not CJK.search(en["detail"]) and en["errors"] == body["errors"]


def test_an_unexpected_error_hides_its_cause_in_both_languages(tmp_path, tiny):
    app = make_app(tmp_path / "d", tiny)

    @app.get("/boom")
    def _boom():
        raise RuntimeError("secret cause /var/lib/x")

    with TestClient(app, raise_server_exceptions=False, client=("127.0.0.1", 50000)) as c:
        zh = assert_problem(c.get("/boom"), 500, "internal-error")
        en = assert_problem(c.get("/boom?lang=en"), 500, "internal-error")
    assert zh["detail"] == "服务处理此请求时出错，错误已按本请求编号记录。" and zh["title"] == "服务内部错误"
    assert "logged with this request id" in en["detail"]
    assert all("secret" not in b["detail"] and zh["request_id"] for b in (zh, en))


def test_a_user_value_in_a_detail_stays_data(c):
    r = c.get("/v1/datasets/tiny/villages/%3Cscript%3E", headers=hdr("admin"))
    body = assert_problem(r, 404, "feature-not-found")
    assert body["detail"] == "图层“villages”中找不到要素“<script>”。" and body["feature_id"] == "<script>"
    assert "\\u003c" not in r.text and "&lt;" not in r.text  # plain text in JSON, not HTML-escaped
    r = c.get("/v1/datasets/%3Cscript%3E/nearest?lon=130.3&lat=46.8", headers=hdr("viewer"))
    bad = "<script>"
    body = assert_problem(r, 400, "invalid-dataset-id")
    assert body["dataset_id"] == bad and f"“{bad}”" in body["detail"]


def test_a_rate_limited_message_answers_in_both_languages(tmp_path, tiny):
    with client(make_app(tmp_path / "d", tiny, messages_per_address_per_hour=3)) as c:
        answers = [c.post("/v1/datasets/tiny/messages", json={"station_id": "S2", "text": f"第{i}条"})
                   for i in range(5)]
        limited = [r for r in answers if r.status_code == 429]
        assert limited and answers[0].status_code == 201
        zh = assert_problem(limited[0], 429, "too-many-messages")
        r = c.post("/v1/datasets/tiny/messages", json={"station_id": "S2", "text": "再一条"}, headers=EN_HEADER)
        en = assert_problem(r, 429, "too-many-messages")
    assert zh["detail"].startswith("留言过于频繁") and zh["title"] == "留言过于频繁"
    assert en["detail"].startswith("too many messages") and en["title"] == "Too many messages"
    assert zh["retry_after_s"] >= 1 and en["retry_after_s"] >= 1


def test_the_login_page_a_browser_gets_shows_the_detail_in_its_language(c):
    page = c.get("/v1/jobs", headers={"Accept": "text/html"})
    assert page.status_code == 401 and page.headers["content-type"].startswith("text/html")
    assert "需要“查看者”或更高角色的 API 密钥" in page.text
    page = c.get("/v1/jobs?lang=en", headers={"Accept": "text/html"})
    assert "an API key with role &#39;viewer&#39; or higher is required" in page.text
