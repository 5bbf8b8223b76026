"""The job runner's kind registry and record fields (geo_service.app.jobs), shared by API jobs and batches."""

from __future__ import annotations

import time

import pytest
from pydantic import BaseModel, Field

from geo_service.app import jobs as J
from geo_service.core.store import SQLiteStore


class EchoParams(BaseModel):
    times: int = Field(1, ge=1, le=5)


def run_echo(ds, params, previous, progress, cancel):
    p = EchoParams.model_validate(J.solver_params(params))
    progress(50, "half way")
    return {"status": "optimal", "echo": [ds] * p.times}


@pytest.fixture
def echo_kind():
    kind = J.register_kind("echo", run_echo, EchoParams)
    try:
        yield kind
    finally:
        J.JOB_KINDS.pop("echo", None)


def test_a_registered_kind_runs_in_a_child_process_through_the_manager(tmp_path, echo_kind):
    assert J.JOB_KINDS["echo"] is echo_kind and "optimisation" in J.JOB_KINDS
    assert echo_kind.check_params({"times": 2, "batch_id": "b1"}) == {"times": 2, "batch_id": "b1"}
    with pytest.raises(ValueError, match="invalid echo parameters"):
        echo_kind.check_params({"times": 9})
    store = SQLiteStore(tmp_path / "s")
    m = J.JobManager(store, lambda dataset_id: dataset_id.upper())
    assert getattr(m.runners["echo"], "run_in_process", False)
    job = m.submit("d1", "echo", {"times": 3})
    deadline = time.monotonic() + 60
    while store.get_job(job.id).status in J.ACTIVE and time.monotonic() < deadline:
        time.sleep(0.05)
    done = store.get_job(job.id)
    assert (done.status, done.progress, done.result["echo"]) == ("successful", 100.0, ["D1"] * 3)
    assert done.message == "finished: optimal" and done.started_at and done.finished_at
    m.shutdown(wait=True)
    with pytest.raises(ValueError, match="unknown job kind 'nope'"):
        m.submit("d1", "nope", {})


def test_register_kind_names_bad_arguments():
    with pytest.raises(ValueError, match="name"):
        J.register_kind("", run_echo)
    with pytest.raises(ValueError, match="runner of kind 'x'"):
        J.register_kind("x", 42)
    assert "x" not in J.JOB_KINDS


def test_record_fields_and_fail_unfinished(tmp_path):
    store = SQLiteStore(tmp_path / "s")
    a, b = J.new_job("d", "batch", {"batch_id": "b"}), J.new_job("d", "batch", {})
    store.create_jobs([a, b])
    store.update_job(a.id, **J.running_fields())
    store.update_job(b.id, **J.success_fields({"status": "feasible"}))
    assert J.fail_unfinished(store, [a.id, b.id], "ClusterLost", "the scheduler went away") == 1
    fa, fb = store.get_job(a.id), store.get_job(b.id)
    assert fa.status == "failed" and fa.error == {"title": "ClusterLost", "detail": "the scheduler went away"}
    assert fa.message == "the scheduler went away" and fa.finished_at
    assert fb.status == "successful" and fb.message == "finished: feasible"
