"""A batch's job records: its id, parameters fingerprint and dataset versions, read back from the store.

Each county job of :func:`geo_service.app.batch.run_batch` (kind ``batch``) holds in its params
``batch_id``, ``run_id``, ``params_fingerprint`` and ``dataset_version``. These functions find a
batch's records (:func:`batch_jobs`), the counties a resume can skip (:func:`completed_counties`)
and the batch's state per county (:func:`batch_summary`, also ``GET /v1/batches/{id}``). The report
of a run (:class:`BatchReport`, one :class:`CountyOutcome` per county) and its exit codes live here too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
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




#: exit codes of ``geo-service batch``: all finished / some counties failed / the cluster was lost
EXIT_OK, EXIT_FAILED, EXIT_CLUSTER_LOST = 0, 1, 3


class ClusterLost(Exception):
    """The Dask scheduler, or every worker, went away during a batch (the message says which)."""


@dataclass
class CountyOutcome:
    """What happened to one county: ``status`` is ``successful``, ``failed`` or ``lost`` (its cluster
    went away before it finished; the job record says ``failed``, error title ``ClusterLost``).
    ``retried``: how many times its task was on a worker that died and was run again elsewhere."""

    dataset_id: str
    job_id: str
    status: str
    result_status: str | None = None  # optimal / feasible / infeasible when successful
    error: str | None = None
    time_s: float | None = None
    retried: int = 0


@dataclass
class BatchReport:
    """Outcome of :func:`geo_service.app.batch.run_batch`; ``elapsed_s`` is wall time of the whole batch (seconds).

    ``cluster_lost``: why the batch stopped early (the scheduler or every worker went away), else
    None. ``workers_lost``: ``[{worker, counties}]``, each worker that left during the batch and the
    counties it was running (Dask ran them again elsewhere). ``skipped``: counties a resume did not
    run again, ``{dataset_id: job_id}`` of their earlier successful result.
    """

    batch_id: str
    outcomes: list[CountyOutcome] = field(default_factory=list)
    elapsed_s: float = 0.0
    workers: int = 0
    startup_s: float = 0.0  # starting the LocalCluster (not in elapsed_s)
    loaded_on_workers: bool = False  # workers loaded their county from the store (else: shipped)
    driver_cpu_s: float = 0.0  # CPU seconds of this process during elapsed_s (with a LocalCluster: + scheduler)
    cluster_lost: str | None = None
    workers_lost: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    params_fingerprint: str = ""

    @property
    def succeeded(self) -> list[CountyOutcome]:
        return [o for o in self.outcomes if o.status == "successful"]

    @property
    def failed(self) -> list[CountyOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def lost(self) -> list[CountyOutcome]:
        return [o for o in self.outcomes if o.status == "lost"]

    @property
    def retried(self) -> list[CountyOutcome]:
        return [o for o in self.outcomes if o.retried]

    @property
    def exit_code(self) -> int:
        """:data:`EXIT_CLUSTER_LOST` when the cluster went away, :data:`EXIT_FAILED` when a county
        failed, else :data:`EXIT_OK`."""
        if self.cluster_lost or self.lost:
            return EXIT_CLUSTER_LOST
        return EXIT_FAILED if self.failed else EXIT_OK

    @property
    def counties_per_minute(self) -> float:
        n = len(self.outcomes) - len(self.lost)
        return 60.0 * n / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id, "params_fingerprint": self.params_fingerprint,
                "elapsed_s": round(self.elapsed_s, 3), "workers": self.workers,
                "startup_s": round(self.startup_s, 3), "loaded_on_workers": self.loaded_on_workers,
                "driver_cpu_s": round(self.driver_cpu_s, 3),
                "counties": len(self.outcomes),
                "succeeded": len(self.succeeded), "failed": len(self.failed), "lost": len(self.lost),
                # finished, but with no feasible plan: not to be counted as plain successes
                "infeasible": sum(o.result_status == "infeasible" for o in self.succeeded),
                "skipped": len(self.skipped),
                "cluster_lost": self.cluster_lost,
                "workers_lost": self.workers_lost,
                "retried": [o.dataset_id for o in self.retried],
                "exit_code": self.exit_code,
                "counties_per_minute": round(self.counties_per_minute, 2),
                "outcomes": [asdict(o) for o in self.outcomes],
                "skipped_counties": self.skipped}


__all__ = ["EXIT_CLUSTER_LOST", "EXIT_FAILED", "EXIT_OK", "LOST", "BatchReport", "ClusterLost", "CountyOutcome",
           "batch_jobs", "batch_summary", "completed_counties", "params_fingerprint"]
