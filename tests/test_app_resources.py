"""The lifespan opens and closes the app's resources; core errors map to problem types in one table."""

from __future__ import annotations

import json
import uuid

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.problems import ERROR_TABLE, problem_for
from api.settings import Settings
from geo_service.app.jobs import QueueFull
from geo_service.core.index import InvalidQuery
from geo_service.core.store import Conflict, JobRecord, NotFound, SQLiteStore
from test_api import assert_problem
from test_api_support import client, hdr, make_app
from test_store import pg_url  # noqa: F401 - the PostGIS fixture (starts a throwaway server)


def _running_job(store, job_id: str) -> None:
    store.create_job(JobRecord(id=job_id, dataset_id="tiny", kind="optimisation", params={}, status="running"))


def test_lifespan_closes_the_store_it_opened(tmp_path):
    data = tmp_path / "d"
    app = create_app(Settings(data_dir=str(data), load_demo=False, log_level="WARNING"))
    with TestClient(app, client=("127.0.0.1", 50000)) as c:
        assert c.get("/readyz").status_code == 200
        _running_job(app.state.store, "j-live")
        # the app is alive: another process must not fail its running job
        assert SQLiteStore(data).fail_interrupted_jobs() == 0
    # after shutdown the store is closed (owner lock released): its unfinished job is interrupted
    other = SQLiteStore(data)
    assert other.fail_interrupted_jobs() == 1
    assert other.get_job("j-live").status == "failed"


@pytest.mark.postgis
@pytest.mark.slow
def test_lifespan_closes_a_postgis_store_and_its_pool(pg_url, tmp_path):  # noqa: F811
    from geo_service.core.store import PostGISStore

    job_id = f"j-{uuid.uuid4().hex[:8]}"
    app = create_app(Settings(data_dir=str(tmp_path / "d"), database_url=pg_url, load_demo=False,
                              log_level="WARNING"))
    other = PostGISStore(pg_url, pool_size=1)
    try:
        with TestClient(app, client=("127.0.0.1", 50000)) as c:
            assert c.get("/readyz").status_code == 200
            _running_job(app.state.store, job_id)
            other.fail_interrupted_jobs()
            assert other.get_job(job_id).status == "running"  # its owner is alive
        assert app.state.store._engine.pool.checkedout() == 0  # the pool was disposed
        other.fail_interrupted_jobs()
        assert other.get_job(job_id).status == "failed"  # the owner lock went with the store
    finally:
        other.close()


def test_lifespan_leaves_a_callers_store_open(tmp_path, tiny):
    data = tmp_path / "d"
    app = make_app(data, tiny)
    with client(app) as c:
        assert c.get("/v1/datasets", headers=hdr("viewer")).status_code == 200
        _running_job(app.state.store, "j-mine")
    assert SQLiteStore(data).fail_interrupted_jobs() == 0  # the caller still owns it
    app.state.store.close()
    assert SQLiteStore(data).fail_interrupted_jobs() == 1


def test_lifespan_stops_the_job_workers_and_runs_again(tmp_path, tiny):
    app = make_app(tmp_path / "d", tiny)
    for _ in range(2):  # an app whose lifespan runs twice keeps working
        with client(app) as c:
            assert c.get("/v1/datasets/tiny", headers=hdr("viewer")).status_code == 200
    assert app.state.jobs._executor is None


def test_error_table_answers_each_core_error():
    cases = {NotFound("no dataset 'x'"): (404, "not-found"), Conflict("version 2 is not 1"): (412, "version-mismatch"),
             InvalidQuery("must be a number", field="lon"): (422, "invalid-query"),
             QueueFull(7): (503, "queue-full")}
    assert {type(e) for e in cases} <= set(ERROR_TABLE)
    for exc, (status, code) in cases.items():
        r = problem_for(None, exc)
        body = json.loads(r.body)
        assert r.status_code == status and body["type"].endswith(code) and body["detail"]
    assert problem_for(None, QueueFull(7)).headers["retry-after"] == "7"
    assert problem_for(None, RuntimeError("boom")) is None  # not in the table: the 500 handler answers


def test_invalid_query_is_a_problem_over_http(tmp_path, tiny):
    with client(make_app(tmp_path / "d", tiny)) as c:
        r = c.get("/v1/datasets/tiny/coverage?kind=nope", headers=hdr("viewer"))
        body = assert_problem(r, 422, "invalid-query")
        assert body["errors"][0]["in"] == "query"
