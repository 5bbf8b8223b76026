"""Optimisation jobs over HTTP: submit, poll, results in every format, diff, cancel, a full queue,
and persistence across a restart (a new app on the same data directory)."""

from __future__ import annotations

import io
import threading
import time
import zipfile

import openpyxl
import pytest

from geo_service.core.glossary import job_status_text
from geo_service.core.store import JobRecord, SQLiteStore
from test_api import assert_problem
from test_api_support import client, hdr, make_app

P = hdr("planner")


def wait(c, job_id: str, until=("successful", "failed", "dismissed"), timeout: float = 60.0) -> dict:
    """Poll the job until its status is one of ``until``."""
    t0 = time.monotonic()
    while True:
        job = c.get(f"/v1/jobs/{job_id}", headers=hdr("viewer")).json()
        if job["status"] in until:
            return job
        assert time.monotonic() - t0 < timeout, job
        time.sleep(0.05)


def start(c, body=None, headers=P):
    r = c.post("/v1/datasets/tiny/optimisations", json=body or {}, headers=headers)
    assert r.status_code == 202, r.text
    assert r.headers["location"].endswith(f"/v1/jobs/{r.json()['id']}")
    return r.json()


def test_run_results_diff_and_restart(tmp_path, tiny):
    data = tmp_path / "data"
    with client(make_app(data, tiny)) as c:
        job = start(c, {"time_limit_s": 20, "seed": 1})
        assert job["status"] in ("accepted", "running") and job["params"]["seed"] == 1
        done = wait(c, job["id"])
        assert done["status"] == "successful", done
        assert done["progress"] == 100 and "result" not in done
        assert {link["title"] for link in done["links"] if link["rel"] == "results"} == \
            {"json", "csv", "xlsx", "geojson"}
        full = c.get(f"/v1/jobs/{job['id']}/results", headers=P).json()["result"]
        assert full["status"] == "relaxed"  # 2 townships for 2 committees x 2: the quota was lowered
        assert full["outcome"]["relaxations"][0]["rule"] == "townships_per_committee"
        assert set(full["tiers"]["constituents"]["assignment"]) == {f"P{i:03d}" for i in range(1, 61)}
        rows = c.get(f"/v1/jobs/{job['id']}/results?table=responsibility", headers=P).json()["rows"]
        assert {r["member_id"] for r in rows} == {f"M{i}" for i in range(1, 7)}
        assert sum(r["constituents"] or 0 for r in rows) == 60  # committee rows carry no constituents
        # CSV: a zip of tables, or one table
        z = zipfile.ZipFile(io.BytesIO(c.get(f"/v1/jobs/{job['id']}/results?format=csv", headers=P).content))
        assert "responsibility.csv" in z.namelist()
        one = c.get(f"/v1/jobs/{job['id']}/results?format=csv&table=members&lang=en", headers=P)
        assert one.headers["content-type"].startswith("text/csv") and "member_id" in one.text
        # XLSX: one sheet per table, the responsibility table titled in Chinese
        wb = openpyxl.load_workbook(io.BytesIO(c.get(f"/v1/jobs/{job['id']}/results?format=xlsx",
                                                     headers=P).content))
        assert "界别责任区一览表" in wb.sheetnames and len(wb.sheetnames) >= 5
        # GeoJSON: responsibility rows placed at the members' homes
        fc = c.get(f"/v1/jobs/{job['id']}/results?format=geojson", headers=P)
        assert fc.headers["content-type"].startswith("application/geo+json")
        feats = fc.json()["features"]
        assert len(feats) == 12 and all(f["geometry"]["type"] == "Point" for f in feats)  # a group row and a committee row per member
        assert_problem(c.get(f"/v1/jobs/{job['id']}/results?table=nope", headers=P), 404)
        assert_problem(c.get(f"/v1/jobs/{job['id']}/results", headers=hdr("viewer")), 403)
        # a minimal-change re-run against it, and the diff
        job2 = start(c, {"previous_job_id": job["id"], "minimal_change": True, "tiers": ["constituents"]})
        assert wait(c, job2["id"])["status"] == "successful"
        diff = c.get(f"/v1/jobs/{job2['id']}/diff?against={job['id']}", headers=P).json()
        assert diff["changed"] == len(diff["rows"])
        assert all(r["tier"] != "constituents" for r in diff["rows"])  # nothing forced a move
        listed = c.get("/v1/jobs?dataset=tiny", headers=hdr("viewer")).json()["jobs"]
        assert [j["id"] for j in listed] == [job2["id"], job["id"]]
    # a NEW app on the same data directory still has both results
    with client(make_app(data)) as c2:
        again = c2.get(f"/v1/jobs/{job['id']}", headers=hdr("viewer")).json()
        assert again["status"] == "successful"
        assert c2.get(f"/v1/jobs/{job['id']}/results", headers=P).json()["result"] == full


def test_road_mode_run_uses_the_cached_network(tmp_path, tiny):
    app = make_app(tmp_path / "d", tiny)
    with client(app) as c:
        job = wait(c, start(c, {"mode": "road", "tiers": ["constituents"]})["id"])
        assert job["status"] == "successful", job
        assert c.get(f"/v1/jobs/{job['id']}/results", headers=P).json()["result"]["unit"] == "s"
        assert app.state.cache.get("tiny").has("network")


def test_bad_parameters_are_refused_before_queueing(tmp_path, tiny):
    with client(make_app(tmp_path / "d", tiny)) as c:
        body = assert_problem(c.post("/v1/datasets/tiny/optimisations", json={"constituents_max": 0},
                                     headers=P), 422)
        assert body["errors"][0]["field"].endswith("constituents_max")
        assert_problem(c.post("/v1/datasets/tiny/optimisations", json={"colour": "red"}, headers=P), 422)
        assert_problem(c.post("/v1/datasets/tiny/optimisations", json={"minimal_change": True}, headers=P), 422)
        assert_problem(c.post("/v1/datasets/tiny/optimisations", json={"previous_job_id": "nojob"}, headers=P),
                       422)
        assert_problem(c.post("/v1/datasets/none/optimisations", json={}, headers=P), 404)
        assert c.get("/v1/jobs", headers=hdr("viewer")).json()["jobs"] == []
        assert_problem(c.get("/v1/jobs/nojob", headers=hdr("viewer")), 404, "job-not-found")


def _blocking_runner(started: threading.Event):
    def runner(ds, params, previous, progress, cancel):
        started.set()
        progress(50, "half way")
        for _ in range(400):  # stops when cancelled, or after 20 s
            if cancel.wait(0.05):
                raise RuntimeError("cancelled")
        return {"status": "optimal"}
    return runner


def test_cancel_and_full_queue(tmp_path, tiny):
    app = make_app(tmp_path / "d", tiny, job_workers=1, job_queue_size=1, job_retry_after_s=7)
    started = threading.Event()
    app.state.jobs.runners["optimisation"] = _blocking_runner(started)
    with client(app) as c:
        a = start(c)
        assert started.wait(10)
        for _ in range(200):
            running = c.get(f"/v1/jobs/{a['id']}", headers=hdr("viewer")).json()
            if running["progress"] == 50:
                break
            time.sleep(0.05)
        assert running["status"] == "running" and running["message"] == "half way"
        b = start(c)  # waits in the queue
        r = c.post("/v1/datasets/tiny/optimisations", json={}, headers=P)
        body = assert_problem(r, 503, "queue-full")
        assert r.headers["retry-after"] == "7" and body["retry_after_s"] == 7
        assert body["detail"] == "任务队列已满，请在 7 秒后重试。" and body["title"] == "任务队列已满"
        en = c.post("/v1/datasets/tiny/optimisations?lang=en", json={}, headers=P).json()
        assert en["retry_after_s"] == 7 and en["title"] == "Queue full" and "retry in 7 s" not in body["detail"]
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in en["detail"])
        r = c.post("/v1/processes/close-gaps/execution", json={"inputs": {"dataset": "tiny", "threshold_m": 3000}},
                   headers=P)  # the same answer through OGC API - Processes
        body = assert_problem(r, 503, "queue-full")
        assert r.headers["retry-after"] == "7" and body["retry_after_s"] == 7
        # the API stays responsive while a job runs
        assert c.get("/healthz").status_code == 200
        assert_problem(c.delete(f"/v1/jobs/{a['id']}", headers=hdr("viewer")), 403)
        d = c.delete(f"/v1/jobs/{a['id']}", headers=P).json()
        assert d["status"] == "dismissed"
        d2 = c.delete(f"/v1/jobs/{b['id']}", headers=P).json()  # cancelled while still queued
        assert d2["status"] == "dismissed"
        # the worker notices, and the dismissed status sticks (its late result is dropped)
        time.sleep(0.3)
        assert wait(c, a["id"])["status"] == "dismissed"
        assert wait(c, b["id"])["status"] == "dismissed"
        body = assert_problem(c.get(f"/v1/jobs/{a['id']}/results", headers=P), 409, "result-not-ready")
        assert body["detail"] == f"任务“{a['id']}”还没有结果：当前状态为{job_status_text('dismissed')}。"
        en = c.get(f"/v1/jobs/{a['id']}/results", headers={**P, "Accept-Language": "en"}).json()
        assert en["job_status"] == body["job_status"] == "dismissed" and "has no result" in en["detail"]
        # slots are free again
        app.state.jobs.runners["optimisation"] = lambda ds, p, prev, progress, cancel: {"status": "optimal",
                                                                                       "tables": {"t": [{"a": 1}]}}
        assert wait(c, start(c)["id"])["status"] == "successful"


def test_failed_job_reports_why(tmp_path, tiny):
    app = make_app(tmp_path / "d", tiny)

    def broken(ds, params, previous, progress, cancel):
        raise ValueError("3 农业 members cannot take 50 农业 constituents at max 12")

    app.state.jobs.runners["optimisation"] = broken
    with client(app) as c:
        job = wait(c, start(c)["id"])
        assert job["status"] == "failed" and "农业" in job["message"]
        assert job["error"]["title"] == "ValueError"


def test_interrupted_jobs_are_failed_on_start(tmp_path, tiny):
    data = tmp_path / "d"
    store = SQLiteStore(data)
    store.create_job(JobRecord(id="j-running", dataset_id="tiny", kind="optimisation", params={},
                               status="running"))
    store.create_job(JobRecord(id="j-done", dataset_id="tiny", kind="optimisation", params={},
                               status="successful", result={"status": "optimal", "tables": {}}))
    store.close()  # the process that ran them is gone (a live one keeps its running jobs)
    with client(make_app(data, tiny)) as c:
        j = c.get("/v1/jobs/j-running", headers=hdr("viewer")).json()
        assert j["status"] == "failed" and "interrupted" in j["message"]
        assert c.get("/v1/jobs/j-done", headers=hdr("viewer")).json()["status"] == "successful"


@pytest.mark.parametrize("path", ["/v1/jobs/x/diff?against=y", "/v1/jobs/x/results"])
def test_job_routes_need_planner(tmp_path, tiny, path):
    with client(make_app(tmp_path / "d", tiny)) as c:
        assert_problem(c.get(path), 401)
        assert_problem(c.get(path, headers=hdr("viewer")), 403)
        assert_problem(c.get(path, headers=P), 404)
