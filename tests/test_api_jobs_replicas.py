"""Two API replicas on one data directory: a job dismissed through one replica while the other
runs it stays dismissed, and the running replica stops it (its cancel event set from the store)."""

from __future__ import annotations

import threading
import time

from test_api_jobs import start, wait
from test_api_support import client, hdr, make_app

P = hdr("planner")


def _idle(app, timeout: float = 20.0) -> None:
    """Wait until ``app``'s job manager has no job left (its worker returned)."""
    t0 = time.monotonic()
    while app.state.jobs.active:
        assert time.monotonic() - t0 < timeout, "the worker never returned"
        time.sleep(0.02)


def test_dismissed_elsewhere_is_never_overwritten_by_a_late_result(tmp_path, tiny):
    data = tmp_path / "shared"
    runner_app, other_app = make_app(data, tiny), make_app(data, tiny)
    started, release = threading.Event(), threading.Event()

    def stubborn(ds, params, previous, progress, cancel):  # ignores cancel, reports no progress
        started.set()
        assert release.wait(20)
        return {"status": "optimal", "tables": {"t": [{"a": 1}]}}

    runner_app.state.jobs.runners["optimisation"] = stubborn
    with client(runner_app) as a, client(other_app) as b:
        job = start(a)
        assert started.wait(20)
        assert wait(b, job["id"], until=("running",))["status"] == "running"  # B sees A's job
        d = b.delete(f"/v1/jobs/{job['id']}", headers=P)
        assert d.status_code == 200 and d.json()["status"] == "dismissed"
        release.set()  # A's runner now finishes with a result ...
        _idle(runner_app)
        for c in (a, b):  # ... which was discarded: dismissed everywhere, no result
            got = c.get(f"/v1/jobs/{job['id']}", headers=P).json()
            assert got["status"] == "dismissed" and got["message"] == "dismissed on request", got
            assert c.get(f"/v1/jobs/{job['id']}/results", headers=P).status_code == 409
        # A's slot is free again: a new job runs to the end there
        runner_app.state.jobs.runners["optimisation"] = lambda ds, p, prev, progress, cancel: {"status": "optimal"}
        assert wait(b, start(a)["id"])["status"] == "successful"


def test_progress_callback_sets_the_cancel_event_from_the_store(tmp_path, tiny):
    data = tmp_path / "shared"
    runner_app, other_app = make_app(data, tiny), make_app(data, tiny)
    started, seen = threading.Event(), {}

    def cooperative(ds, params, previous, progress, cancel):
        started.set()
        t0, i = time.monotonic(), 0
        while not cancel.is_set():
            assert time.monotonic() - t0 < 20, "cancel was never set"
            i += 1
            progress(min(90, i / 10), "solving")
            time.sleep(0.01)
        seen["cancelled_after_s"] = time.monotonic() - t0
        return {"status": "optimal"}  # returned anyway: must be dropped

    runner_app.state.jobs.runners["optimisation"] = cooperative
    with client(runner_app) as a, client(other_app) as b:
        job = start(a)
        assert started.wait(20)
        assert wait(b, job["id"], until=("running",))["message"] in ("running", "solving")
        assert b.delete(f"/v1/jobs/{job['id']}", headers=P).json()["status"] == "dismissed"
        _idle(runner_app)
        assert "cancelled_after_s" in seen  # the runner saw its cancel event set
        got = a.get(f"/v1/jobs/{job['id']}", headers=P).json()
        assert got["status"] == "dismissed" and got["message"] == "dismissed on request"
        progress_then = got["progress"]
        time.sleep(0.3)
        assert b.get(f"/v1/jobs/{job['id']}", headers=P).json()["progress"] == progress_then


def test_a_queued_job_dismissed_elsewhere_never_starts(tmp_path, tiny):
    data = tmp_path / "shared"
    runner_app, other_app = make_app(data, tiny, job_workers=1), make_app(data, tiny)
    started, release, ran = threading.Event(), threading.Event(), []

    def runner(ds, params, previous, progress, cancel):
        ran.append(params.get("seed"))
        started.set()
        assert release.wait(20)
        return {"status": "optimal"}

    runner_app.state.jobs.runners["optimisation"] = runner
    with client(runner_app) as a, client(other_app) as b:
        first = start(a, {"seed": 1})
        assert started.wait(20)
        queued = start(a, {"seed": 2})  # waits behind the first on A's single worker
        assert b.delete(f"/v1/jobs/{queued['id']}", headers=P).json()["status"] == "dismissed"
        release.set()
        _idle(runner_app)
        assert ran == [1]
        assert wait(b, first["id"])["status"] == "successful"
        assert b.get(f"/v1/jobs/{queued['id']}", headers=P).json()["status"] == "dismissed"
