"""The rules that keep the service safe, one by one: whole numbers in every parameter model,
unencodable values never stored, job messages without solver internals, client addresses and
proxies, calendar text, zip entry counts, upload text lengths."""

from __future__ import annotations

import dataclasses
import time
import typing
import zipfile

import pytest
from annotated_types import Ge, Le
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from api.routers.batches import BatchRequest
from api.schemas import OptimisationRequest, RosterRequest
from api.server import address_key, idle_budget, uvicorn_config
from api.settings import Settings
from api.upload_limits import declared_entries, text_problems
from geo_service.app.children import public_failure
from geo_service.app.jobs import check_storable
from geo_service.core.io.calendar import ics_text
from geo_service.core.jsonsafe import dumps, loads
from geo_service.core.numbers import INT64_MAX, INT64_MIN, SEED_MAX, check_whole
from solvers.pipeline import OptimisationParams
from solvers.roster import RosterParams

PARAMETER_MODELS = [OptimisationParams, RosterParams, OptimisationRequest, RosterRequest, BatchRequest]


def _int_fields(model: type[BaseModel]):
    """(model, field, bounds) of every whole-number field of ``model`` and the models it nests."""
    for name, f in model.model_fields.items():
        ann = f.annotation
        args = typing.get_args(ann)
        if ann is int or (int in args and type(None) in args):
            lo = next((m.ge for m in f.metadata if isinstance(m, Ge)), None)
            hi = next((m.le for m in f.metadata if isinstance(m, Le)), None)
            yield model.__name__, name, lo, hi
        for sub in (ann, *args):
            if isinstance(sub, type) and issubclass(sub, BaseModel):
                yield from _int_fields(sub)


@pytest.mark.parametrize("model", PARAMETER_MODELS, ids=lambda m: m.__name__)
def test_every_whole_number_field_is_range_checked(model):
    fields = list(_int_fields(model))
    for owner, name, lo, hi in fields:
        assert lo is not None and hi is not None, f"{owner}.{name} has no range: declare it with whole()"
        assert INT64_MIN <= lo <= hi <= INT64_MAX, (owner, name, lo, hi)
    if model is not BatchRequest:
        assert ("seed" in [n for _, n, _, _ in fields]) and dict(
            (n, h) for _, n, _, h in fields)["seed"] == SEED_MAX


@pytest.mark.parametrize("model,field,value", [
    (RosterParams, "fairness_spread", 99999999999999999999), (RosterParams, "seed", 12345678901234567890),
    (OptimisationParams, "seed", 2**64 + 1), (OptimisationParams, "constituents_max", -(2**70)),
    (RosterParams, "platform_weekdays", {"S1": 2**80})])
def test_a_number_beyond_its_range_names_the_field(model, field, value):
    with pytest.raises(ValueError) as e:
        model.model_validate({field: value})
    assert field in str(e.value)


@given(st.integers())
def test_check_whole_accepts_exactly_the_64_bit_range(n):
    if INT64_MIN <= n <= INT64_MAX:
        assert check_whole(n, "n") == n
    else:
        with pytest.raises(ValueError, match="n must be between"):
            check_whole(n, "n")


@pytest.mark.parametrize("bad", [True, 1.5, "12a", "9" * 30, None, [1]])
def test_check_whole_refuses_what_is_not_a_whole_number(bad):
    with pytest.raises(ValueError, match="count"):
        check_whole(bad, "count")


@given(st.integers())
def test_any_whole_number_encodes_and_reads_back(n):
    out = loads(dumps({"n": n, "l": [n]}))
    want = n if -(2**63) <= n <= 2**64 - 1 else str(n)
    assert out == {"n": want, "l": [want]}


def test_params_that_cannot_be_stored_are_refused_naming_the_field():
    with pytest.raises(ValueError, match=r"locks\.x\[1\]"):
        check_storable({"locks": {"x": [1, 2**64]}})
    check_storable({"a": [1, {"b": INT64_MAX}], "c": True, "d": None})


def test_job_messages_carry_no_solver_internals():
    title, detail = public_failure("TypeError", "__init__(): incompatible constructor arguments. The "
                                   "following argument types are supported: 1. ortools...", "ab12")
    assert title == "SolverError" and "ortools" not in detail and "ab12" in detail
    assert public_failure("ValueError", "3 农业 members cannot take 50", "x") == ("ValueError", "3 农业 members "
                                                                                "cannot take 50")


def _broken(ds, params, previous, progress, cancel):
    raise TypeError("incompatible function arguments: random_seed(self: ortools.sat.SatParameters, arg0: int)")


_broken.run_in_process = True


def test_a_solver_library_error_reaches_the_job_as_one_line_without_internals(tmp_path, tiny):
    from test_api_support import client, hdr, make_app

    app = make_app(tmp_path / "d", tiny)
    app.state.jobs.runners["optimisation"] = _broken
    with client(app) as c:
        job = c.post("/v1/datasets/tiny/optimisations", json={}, headers=hdr("planner")).json()
        for _ in range(300):
            j = c.get(f"/v1/jobs/{job['id']}", headers=hdr("viewer")).json()
            if j["status"] == "failed":
                break
            time.sleep(0.05)
    assert j["status"] == "failed" and j["error"]["title"] == "SolverError" and "求解器意外出错" in j["message_text"]
    assert "ortools" not in str(j) and "random_seed" not in str(j) and "reference" in j["message"]


def test_ipv6_clients_are_counted_per_64_network():
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:10.0.0.1") == "10.0.0.1" and address_key("127.0.0.2") == "127.0.0.2"
    assert address_key("not-an-ip") == "not-an-ip"


def test_x_forwarded_for_is_believed_only_from_named_proxies():
    s = Settings(api_keys={}, data_dir="unused", limit_concurrency=300)
    cfg = uvicorn_config(None, s, host="127.0.0.1", port=1)
    assert cfg.proxy_headers is False and idle_budget(s) == 150
    assert cfg.http.max_idle_connections == 150
    named = Settings(api_keys={}, data_dir="unused", trusted_proxies="10.0.0.5, 10.0.0.6", max_idle_connections=7)
    cfg = uvicorn_config(None, named, host="127.0.0.1", port=1)
    assert cfg.proxy_headers is True
    assert cfg.forwarded_allow_ips in ("10.0.0.5,10.0.0.6", ["10.0.0.5", "10.0.0.6"])
    assert cfg.http.max_idle_connections == 7


@given(st.text())
def test_calendar_text_never_holds_a_line_break(text):
    out = ics_text(text)
    assert not any(c in out for c in "\r\n\x0b\x0c\x85\u2028\u2029") and len(out) <= 500
    assert all(ch >= " " for ch in out)


def test_a_zip_declares_its_entries_in_its_end_record(tmp_path):
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(1234):
            zf.writestr(f"{i}.csv", b"")
        zf.comment = b"PK\x05\x06 a comment that looks like an end record"
    assert declared_entries(path) == 1234
    (tmp_path / "not.zip").write_bytes(b"plain text")
    assert declared_entries(tmp_path / "not.zip") is None


def test_overlong_texts_are_problems_naming_layer_row_and_field(tiny):
    v = tiny.villages.copy()
    v.loc[v.index[2], "name"] = "村" * 201
    ds = dataclasses.replace(tiny, layers={**tiny.layers, "villages": v})
    probs = text_problems(ds, max_name_chars=200, max_text_chars=2000)
    assert [(p.layer, p.row, p.field, p.feature_id, p.code) for p in probs] == [
        ("villages", 3, "name", str(v["id"].iloc[2]), "too_long")]
    assert text_problems(tiny, max_name_chars=200, max_text_chars=2000) == []


def test_a_json_body_of_any_shape_is_counted_while_it_streams(tmp_path, tiny):
    from test_api_support import client, hdr, make_app

    app = make_app(tmp_path / "d", tiny, max_json_values=10_000)
    body = b'{"village_ids":[' + b"[]," * 20_000 + b"[]]}"
    with client(app) as c:
        r = c.post("/v1/datasets/tiny/optimisations", content=body,
                   headers={**hdr("planner"), "content-type": "application/json"})
        assert r.status_code == 413 and r.json()["type"].endswith("json-too-large")
        assert r.json()["limit_values"] == 10_000 and c.get("/v1/jobs", headers=hdr("viewer")).json()["jobs"] == []
        # nearest batches count points instead: 6,000 pairs (18,000 values) pass
        r = c.post("/v1/datasets/tiny/nearest", json=[[130.3, 46.8]] * 6000, headers=hdr("viewer"))
        assert r.status_code == 200 and r.json()["count"] == 6000


def test_a_damaged_job_record_does_not_break_the_job_list(tmp_path, tiny):
    import sqlite3

    from test_api_support import client, hdr, make_app

    from geo_service.core.store import JobRecord, SQLiteStore

    store = SQLiteStore(str(tmp_path / "d"))
    store.create_job(JobRecord(id="damaged", dataset_id="tiny", kind="optimisation", params={}, status="failed"))
    store.close()
    with sqlite3.connect(tmp_path / "d" / "catalog.sqlite") as con:
        con.execute("UPDATE jobs SET params='{not json', result='[1,' WHERE id='damaged'")
    app = make_app(tmp_path / "d", tiny)
    with client(app) as c:
        assert c.get("/v1/jobs", headers=hdr("viewer")).status_code == 200
        j = c.get("/v1/jobs/damaged", headers=hdr("viewer"))
        assert j.status_code == 200 and "unreadable" in j.json()["params"]


def test_failures_the_service_words_itself_are_in_chinese_by_default():
    from geo_service.core.glossary import job_failure_text

    err = {"title": "SolverError", "detail": "x", "params": {"ref": "ab12cd"}}
    assert job_failure_text(err) == "求解器意外出错，详情见服务日志（编号 ab12cd）"
    assert "reference ab12cd" in job_failure_text(err, "en")
    assert "道路图层" in job_failure_text({"title": "MissingLayer"}) and "中断" in job_failure_text({"title": "Interrupted"})
    assert job_failure_text({"title": "ValueError", "detail": "3 农业 members"}) is None  # its own words
