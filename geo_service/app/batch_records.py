"""A batch's job records: its id, parameters fingerprint and dataset versions, read back from the store.

Each county job of :func:`geo_service.app.batch.run_batch` (kind ``batch``) holds in its params
``batch_id``, ``run_id``, ``params_fingerprint`` and ``dataset_version``. These functions find a
batch's records (:func:`batch_jobs`), the counties a resume can skip (:func:`completed_counties`)
and the batch's state per county (:func:`batch_summary`, also ``GET /v1/batches/{id}``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from ..core.store import JobRecord, Store

#: error title of a county lost with its cluster (its job is ``failed``; a resume runs it again)
LOST = "ClusterLost"


def params_fingerprint(params: dict[str, Any]) -> str:
    """16 hex digits that identify checked batch ``params`` (:func:`check_params`): equal parameters
    give equal fingerprints whatever the key order."""
    return hashlib.sha256(json.dumps(params, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def batch_jobs(store: Store, batch_id: str) -> list[JobRecord]:
    """Job records of batch ``batch_id`` (every run of it: the first and each resume), oldest first."""
    jobs = [j for j in store.list_jobs(limit=1_000_000)
            if j.kind == "batch" and (j.params or {}).get("batch_id") == batch_id]
    return sorted(jobs, key=lambda j: (j.created_at, j.id))


def completed_counties(store: Store, dataset_ids: Iterable[str], fingerprint: str) -> dict[str, str]:
    """``{dataset_id: job_id}`` of the counties among ``dataset_ids`` that already have a successful
    batch result for their stored dataset version and parameters ``fingerprint`` (any batch's)."""
    versions = {i.id: i.version for i in store.list_datasets()}
    wanted = set(dataset_ids)
    out: dict[str, str] = {}
    for j in store.list_jobs(limit=1_000_000):
        p = j.params or {}
        if (j.kind == "batch" and j.status == "successful" and j.dataset_id in wanted
                and p.get("params_fingerprint") == fingerprint
                and p.get("dataset_version") is not None and p.get("dataset_version") == versions.get(j.dataset_id)):
            out.setdefault(j.dataset_id, j.id)
    return out


def batch_summary(store: Store, batch_id: str) -> dict[str, Any]:
    """What the store says about batch ``batch_id``: per county its latest job (status, message,
    error title), counts per status, and the counties still to run (no successful result).
    ``ValueError`` when no job record names the batch."""
    jobs = batch_jobs(store, batch_id)
    if not jobs:
        raise ValueError(f"no batch '{batch_id}' in the store")
    latest: dict[str, JobRecord] = {}
    for j in jobs:  # oldest first: a later run replaces an earlier one, except a success
        if latest.get(j.dataset_id) is None or latest[j.dataset_id].status != "successful":
            latest[j.dataset_id] = j
    counties = [{"dataset_id": d, "job_id": j.id, "status": j.status, "message": j.message,
                 "error": (j.error or {}).get("title"),
                 "result_status": (j.result or {}).get("status") if j.status == "successful" else None}
                for d, j in latest.items()]
    counts: dict[str, int] = {}
    for c in counties:
        counts[c["status"]] = counts.get(c["status"], 0) + 1
    first = jobs[0].params
    return {"batch_id": batch_id, "params": {k: first.get(k) for k in ("coverage", "optimisation")},
            "params_fingerprint": first.get("params_fingerprint"), "runs": len({j.params.get("run_id") for j in jobs}),
            "counties": len(counties), "counts": counts,
            "lost": sum((c["error"] == LOST) for c in counties if c["status"] == "failed"),
            "to_resume": [c["dataset_id"] for c in counties if c["status"] != "successful"],
            "finished": all(c["status"] in ("successful", "failed", "dismissed") for c in counties),
            "jobs": counties}


__all__ = ["LOST", "batch_jobs", "batch_summary", "completed_counties", "params_fingerprint"]
