"""Property-based fuzzing of every operation in ``/openapi.json`` (schemathesis): no input gets a 5xx,
and every error is problem+json. Bounded (a few examples per operation) to stay around a minute."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402

from conftest import make_tiny_layers  # noqa: E402
from geo_service.core.dataset import Dataset  # noqa: E402
from test_api_support import KEYS, make_app  # noqa: E402

_DATA = Path(tempfile.mkdtemp(prefix="geo-api-fuzz-"))
APP = make_app(_DATA, Dataset.from_layers(make_tiny_layers(), name="tiny"), max_batch_points=5000)
# optimisation jobs: a quick stand-in, so fuzzed solver parameters cannot keep a worker busy for long
APP.state.jobs.runners["optimisation"] = lambda ds, p, prev, progress, cancel: {"status": "optimal",
                                                                               "tables": {"t": [{"a": 1}]}}
APP.state.jobs.runners["roster"] = lambda ds, p, prev, progress, cancel: {  # same for rosters
    "status": "nothing_to_do", "objective": None, "bound": None, "gap": None, "unit": "m", "months": [], "duties": []}
APP.state.jobs.runners["close_gaps"] = lambda ds, p, prev, progress, cancel: {  # and gap closings (OGC process)
    "status": "optimal", "objective": 0, "bound": 0, "gap": 0, "proposed": []}
APP.state.jobs.runners["review"] = lambda ds, p, prev, progress, cancel, **extra: {  # and yearly reviews
    "year": 2027, "members": [], "rules": {}}
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
_rng = random.Random(0)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    # half of the cases address the real dataset, so the fuzzer gets past the 404 into the handlers
    if "dataset_id" in (case.path_parameters or {}) and _rng.random() < 0.5:
        case.path_parameters["dataset_id"] = "tiny"
    role = _rng.choice(["viewer", "planner", "admin", None])
    headers = {"X-API-Key": KEYS[role]} if role else {}
    response = case.call(headers=headers)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])
    if response.status_code >= 400:
        ctype = response.headers.get("content-type", [""])
        ctype = ctype[0] if isinstance(ctype, list) else ctype
        assert ctype.startswith("application/problem+json"), (case.method, case.formatted_path, response.text[:300])


_BIG = (2**64 + 1, -(2**64) - 7, 10**20, 2**63)


def _bigify(v, rng):
    """``v`` with every whole number swapped for one at or beyond the 64-bit range."""
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return rng.choice(_BIG)
    if isinstance(v, dict):
        return {k: _bigify(x, rng) for k, x in v.items()}
    if isinstance(v, list):
        return [_bigify(x, rng) for x in v]
    return v


def _call_checked(case, role):
    headers = {"X-API-Key": KEYS[role]} if role else {}
    response = case.call(headers=headers)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])
    if response.status_code >= 400:
        ctype = response.headers.get("content-type", [""])
        ctype = ctype[0] if isinstance(ctype, list) else ctype
        assert ctype.startswith("application/problem+json"), (case.method, case.formatted_path, response.text[:300])
    return response


@pytest.mark.slow
@schema.include(method=["POST", "PUT", "PATCH", "DELETE", "GET"]).parametrize()
@settings(max_examples=6, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_integers_beyond_64_bits_get_no_server_error(case):
    """Every operation, DELETE ones included, with each whole number in its body and query moved to
    2^63 and beyond: refused or answered, never a 5xx, never a job the job list cannot show."""
    if "dataset_id" in (case.path_parameters or {}):
        case.path_parameters["dataset_id"] = "tiny"
    if isinstance(case.body, (dict, list)):
        case.body = _bigify(case.body, _rng)
    if case.query:
        case.query = _bigify(dict(case.query), _rng)
    _call_checked(case, _rng.choice(["viewer", "planner", "admin"]))


@pytest.mark.slow
@schema.include(method="DELETE").parametrize()
@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_delete_routes_get_no_server_error(case):
    if "dataset_id" in (case.path_parameters or {}) and _rng.random() < 0.3:
        case.path_parameters["dataset_id"] = "scratch"
    _call_checked(case, _rng.choice(["viewer", "planner", "admin", None]))


@pytest.mark.slow
def test_the_job_list_reads_after_the_fuzzing():
    from fastapi.testclient import TestClient

    with TestClient(APP, client=("127.0.0.1", 50000)) as c:
        for role in ("viewer", "planner", "admin"):
            r = c.get("/v1/jobs?limit=1000", headers={"X-API-Key": KEYS[role]})
            assert r.status_code == 200, r.text[:300]
            for j in r.json()["jobs"]:
                assert c.get(f"/v1/jobs/{j['id']}", headers={"X-API-Key": KEYS[role]}).status_code == 200
