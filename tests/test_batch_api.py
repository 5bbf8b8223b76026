"""The batch API: POST /v1/batches (admin, 202), GET /v1/batches/{id}, POST .../resume."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("distributed")  # the optional "batch" extra

from geo_service.app.batch import store_province  # noqa: E402
from geo_service.app.province import generate_province  # noqa: E402

pytestmark = pytest.mark.slow


def _wait(c, batch_id, headers, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = c.get(f"/v1/batches/{batch_id}", headers=headers).json()
        if not out["running"] and out.get("last_run"):
            return out
        time.sleep(0.2)
    raise AssertionError(f"batch {batch_id} still running after {timeout} s")


def test_batch_api_runs_reports_and_resumes(tmp_path):
    from test_api_support import client, hdr, make_app

    app = make_app(tmp_path / "d")
    ids = store_province(app.state.store, generate_province(2, seed=4, county_share=0.03, km2_per_village=300.0),
                         prefix="b-")
    A, V = hdr("admin"), hdr("viewer")
    with client(app) as c:
        body = {"datasets": ["b-*"], "params": {"optimisation": {"time_limit_s": 5}}}
        assert c.post("/v1/batches", json=body, headers=hdr("planner")).status_code == 403
        r = c.post("/v1/batches", json={"datasets": ["b-*"], "params": {"optimization": {}}}, headers=A)
        assert r.status_code == 422 and r.json()["detail"] == \
            "参数 params 无效：不接受 optimization；可用的有 coverage、optimisation、roster。"
        assert r.json()["errors"][0]["field"] == "params"
        r = c.post("/v1/batches", json={"datasets": ["zz-*"]}, headers={**A, "Accept-Language": "en"})
        assert r.status_code == 422 and "zz-*" in r.json()["detail"]
        r = c.post("/v1/batches", json={**body, "params": {"optimisation": {"time_limit_s": 99999}}}, headers=A)
        assert r.status_code == 422
        r = c.post("/v1/batches", json=body, headers=A)
        assert r.status_code == 202 and r.json()["counties"] == 2
        batch_id = r.json()["batch_id"]
        assert r.headers["Location"].endswith(f"/v1/batches/{batch_id}")
        assert c.get(f"/v1/batches/{batch_id}", headers=V).status_code == 403  # admin only
        out = _wait(c, batch_id, A)
        assert out["counts"] == {"successful": 2} and out["to_resume"] == [] and out["finished"]
        assert out["last_run"]["exit_code"] == 0 and out["last_run"]["workers_lost"] == []
        assert sorted(j["dataset_id"] for j in out["jobs"]) == ids
        # nothing left to do: a resume skips both counties
        r = c.post(f"/v1/batches/{batch_id}/resume", headers=A)
        assert r.status_code == 202
        again = _wait(c, batch_id, A)
        assert again["last_run"]["skipped"] == 2 and again["last_run"]["counties"] == 0
        assert c.post("/v1/batches/nope/resume", headers=A).status_code == 404
        assert c.get("/v1/batches/nope", headers=A).status_code == 404
        assert c.get("/v1/batches/nope", headers=V).status_code == 403
