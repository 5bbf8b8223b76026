"""Job records: the one place that says what a job's status, progress, message, result and error
look like at each step (``accepted`` -> ``running`` -> ``successful`` | ``failed`` | ``dismissed``).

Used by :class:`~geo_service.app.jobs.manager.JobManager` (API jobs), by
:mod:`geo_service.app.batch` (one record per county) and by the CLI's runs, so all read the same.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from geo_service.core.errors import InvalidParameter
from geo_service.core.numbers import in_int64
from geo_service.core.store import Conflict, JobRecord, NotFound, Store, utcnow

TERMINAL = ("successful", "failed", "dismissed")
ACTIVE = ("accepted", "running")


def new_job(dataset_id: str, kind: str, params: dict[str, Any], *, job_id: str | None = None,
            message: str = "waiting for a worker") -> JobRecord:
    """A new ``accepted`` job record (not yet stored); ``job_id`` defaults to a random hex id."""
    return JobRecord(id=job_id or uuid.uuid4().hex, dataset_id=dataset_id, kind=kind, params=params,
                     message=message)


def running_fields(message: str = "running") -> dict[str, Any]:
    """Fields of a job that starts running now."""
    return {"status": "running", "started_at": utcnow(), "progress": 0.0, "message": message}


def success_fields(result: dict[str, Any], message: str | None = None) -> dict[str, Any]:
    """Fields of a job that finished with ``result``; the message says its status and outcome in words."""
    return {"status": "successful", "progress": 100.0, "result": result, "finished_at": utcnow(),
            "message": (message or summary_message(result))[:500]}


def failure_fields(title: str, detail: str, *, message: str | None = None, **error: Any) -> dict[str, Any]:
    """Fields of a failed job: ``error = {title, detail, **error}`` (``title``: an exception type name
    or a reason such as ``ClusterLost``; ``detail``: one line in words)."""
    detail = str(detail) or title
    return {"status": "failed", "finished_at": utcnow(), "message": (message or detail)[:500],
            "error": {"title": title, "detail": detail, **error}}


def fail_unfinished(store: Store, job_ids: Iterable[str], title: str, reason: str) -> int:
    """Mark the jobs of ``job_ids`` still ``accepted`` or ``running`` as failed with ``reason``, each
    in one conditional write (a job that ended meanwhile is left alone); return how many."""
    n = 0
    fields = failure_fields(title, reason)
    for job_id in job_ids:
        try:
            store.update_job(job_id, only_if_status=ACTIVE, **fields)
            n += 1
        except (Conflict, NotFound):
            pass
    return n



def check_storable(params: dict[str, Any]) -> None:
    """:class:`~geo_service.core.errors.InvalidParameter` (a ``ValueError``) naming the field when ``params`` hold a value a job record cannot carry (a
    whole number beyond 64 bits): nothing is stored that the job list could not show again."""
    def walk(v: Any, path: str) -> None:
        if isinstance(v, bool) or v is None:
            return
        if isinstance(v, int):
            if not in_int64(v):
                raise InvalidParameter(path or "params", f"{path or 'params'} is a whole number beyond the 64-bit "
                                       "range", "beyond_int64")
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(x, f"{path}.{k}" if path else str(k))
        elif isinstance(v, (list, tuple)):
            for i, x in enumerate(v):
                walk(x, f"{path}[{i}]")

    walk(params, "")


def summary_message(result: dict[str, Any]) -> str:
    status = result.get("status") if isinstance(result, dict) else None
    oc = (result.get("outcome") or (result.get("optimisation") or {}).get("outcome")) if status else None
    if oc:  # infeasible / nothing to do is said in words, with the first diagnosis
        return (f"finished: {status} ({oc.get('text')})" + (f": {oc['diagnosis']}" if oc.get("diagnosis") else ""))[:500]
    return f"finished: {status}" if status else "finished"



__all__ = ["ACTIVE", "TERMINAL", "check_storable", "fail_unfinished", "failure_fields", "new_job", "running_fields",
           "success_fields", "summary_message"]
