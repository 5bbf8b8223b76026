"""A job kind is registered beside its siblings (``geo_service/app/jobs/runners.py``) and a kind added
with ``register_kind`` alone is run by a job manager without further wiring. (Function and module
sizes of every floor are checked in ``test_layout.py``.)"""

from __future__ import annotations

import time

import pytest

from geo_service.app import jobs as J


def test_the_service_kinds_are_registered_beside_each_other():
    """The kinds the service runs are the runners of ``jobs/runners.py``, in their order there."""
    from geo_service.app.jobs import runners

    own = [k for k in J.JOB_KINDS if J.JOB_KINDS[k].runner.__module__ == runners.__name__]
    assert own[:3] == ["optimisation", "roster", "review"]
    assert J.JOB_KINDS["review"].inputs is runners.review_inputs
    assert all(getattr(J.JOB_KINDS[k].runner, "run_in_process", False) for k in own)


@pytest.fixture
def echo_kind():
    def run_echo(ds, params, previous, progress, cancel):
        progress(50.0, "half")
        return {"status": "done", "dataset": ds, "x": J.solver_params(params)["x"]}

    kind = J.register_kind("echo_shape", run_echo, in_process=False)
    yield kind
    J.JOB_KINDS.pop("echo_shape", None)


def test_a_registered_kind_runs_without_further_wiring(echo_kind, tmp_path):
    from geo_service.core.store import SQLiteStore

    store = SQLiteStore(tmp_path)
    m = J.JobManager(store, lambda dataset_id: dataset_id.upper(), isolation="thread")
    try:
        job = m.submit("d1", "echo_shape", {"x": 3, "batch_id": "b"})
        deadline = time.monotonic() + 20
        while store.get_job(job.id).status in J.ACTIVE and time.monotonic() < deadline:
            time.sleep(0.05)
        done = store.get_job(job.id)
        assert done.status == "successful", done
        assert done.result == {"status": "done", "dataset": "D1", "x": 3}
        assert done.message == "finished: done"
    finally:
        m.shutdown(wait=True)
