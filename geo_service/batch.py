"""Coverage + optimisation for many counties (one dataset each) on Dask.

A province (~100 county committees) or the country (~2,800) is many independent county problems.
:func:`run_batch` sends each stored dataset to a ``dask.distributed`` cluster (a
``LocalCluster`` by default, or the scheduler at an address), runs :func:`process_county` on it
and writes the outcome back to the store as a job record per county (kind ``"batch"``): the
result on success, the error on failure. A county that fails is reported and does not stop the
others. At most ``max_in_flight`` datasets are loaded and in flight at once, so the driver's
memory does not grow with the number of counties.

The driver (this process) is the only one that touches the store; workers get a
:class:`~geo_service.dataset.Dataset` and return a JSON-ready dict, so they need no database
access and a SQLite store works with a multi-machine cluster too.

Example::

    from geo_service.store import open_store
    report = run_batch(open_store("var"), ["C001", "C002"], {"optimisation": {"time_limit_s": 30}})
    report.counties_per_minute, report.failed
"""

from __future__ import annotations

import fnmatch
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .dataset import Dataset
from .store import JobRecord, Store, utcnow

DEFAULT_THRESHOLDS_M: tuple[float, ...] = (5000.0, 10000.0, 20000.0)


def check_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """Validated, JSON-ready batch parameters.

    ``{"coverage": {"thresholds_m": [...], "mode": "straight"|"road", ...},
    "optimisation": {...fields of solvers.pipeline.OptimisationParams...}}``; both optional.
    Raises ``ValueError`` naming the bad key, before anything is submitted.
    """
    from solvers.pipeline import OptimisationParams

    params = dict(params or {})
    bad = set(params) - {"coverage", "optimisation"}
    if bad:
        raise ValueError(f"unknown batch parameter(s) {sorted(bad)}: expected 'coverage' and/or 'optimisation'")
    cov = dict(params.get("coverage") or {})
    bad = set(cov) - {"thresholds_m", "thresholds_s", "mode", "kinds"}
    if bad:
        raise ValueError(f"unknown coverage parameter(s) {sorted(bad)}: expected thresholds_m, thresholds_s, "
                         "mode, kinds")
    cov.setdefault("thresholds_m", list(DEFAULT_THRESHOLDS_M))
    try:
        opt = OptimisationParams.model_validate(params.get("optimisation") or {}).model_dump(mode="json")
    except Exception as e:  # pydantic.ValidationError: one clear line
        raise ValueError(f"invalid optimisation parameters: {e}") from e
    return {"coverage": cov, "optimisation": opt}


def process_county(ds: Dataset, params: dict[str, Any]) -> dict[str, Any]:
    """Coverage summary and optimisation of one county dataset; a JSON-ready dict.

    Runs :func:`geo_service.coverage.coverage_summary` (``params["coverage"]``) and
    :func:`solvers.pipeline.run_optimisation` (``params["optimisation"]``). Returns
    ``{dataset_id, fingerprint, status, coverage, optimisation, time_s}`` where ``status`` is the
    optimisation's (optimal / feasible / infeasible). Exceptions propagate: the batch records them.
    """
    from solvers.pipeline import OptimisationParams, run_optimisation

    from .coverage import coverage_summary

    t0 = time.perf_counter()
    cov = coverage_summary(ds, **params.get("coverage", {}))
    opt = run_optimisation(ds, OptimisationParams.model_validate(params.get("optimisation", {})))
    return {"dataset_id": ds.name, "fingerprint": ds.fingerprint(), "status": opt.status,
            "coverage": cov, "optimisation": opt.to_dict(), "time_s": round(time.perf_counter() - t0, 3)}


@dataclass
class CountyOutcome:
    """What happened to one county: ``status`` is ``successful`` or ``failed`` (job status)."""

    dataset_id: str
    job_id: str
    status: str
    result_status: str | None = None  # optimal / feasible / infeasible when successful
    error: str | None = None
    time_s: float | None = None


@dataclass
class BatchReport:
    """Outcome of :func:`run_batch`; ``elapsed_s`` is wall time of the whole batch (seconds)."""

    batch_id: str
    outcomes: list[CountyOutcome] = field(default_factory=list)
    elapsed_s: float = 0.0
    workers: int = 0
    startup_s: float = 0.0  # starting the LocalCluster (not in elapsed_s)

    @property
    def succeeded(self) -> list[CountyOutcome]:
        return [o for o in self.outcomes if o.status == "successful"]

    @property
    def failed(self) -> list[CountyOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def counties_per_minute(self) -> float:
        return 60.0 * len(self.outcomes) / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id, "elapsed_s": round(self.elapsed_s, 3), "workers": self.workers,
                "startup_s": round(self.startup_s, 3), "counties": len(self.outcomes),
                "succeeded": len(self.succeeded), "failed": len(self.failed),
                "counties_per_minute": round(self.counties_per_minute, 2),
                "outcomes": [asdict(o) for o in self.outcomes]}


def resolve_dataset_ids(store: Store, patterns: Iterable[str]) -> list[str]:
    """Dataset ids matching ``patterns`` (exact ids or shell globs like ``county-*``), in order, unique.

    An exact id that is not stored is kept (the batch reports it as a failed county); a glob
    that matches nothing raises ``ValueError``.
    """
    stored = [i.id for i in store.list_datasets()]
    out: dict[str, None] = {}
    for p in patterns:
        if any(ch in p for ch in "*?["):
            hits = fnmatch.filter(stored, p)
            if not hits:
                raise ValueError(f"no stored dataset matches {p!r}")
            out.update(dict.fromkeys(hits))
        else:
            out[p] = None
    return list(out)


def _error_dict(exc: BaseException) -> dict[str, Any]:
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:])
    return {"title": type(exc).__name__, "detail": str(exc) or type(exc).__name__, "traceback": tb}


def _warm_up() -> None:
    """Import the heavy modules (OR-Tools, geopandas) on a worker."""
    import solvers.pipeline  # noqa: F401

    from . import coverage  # noqa: F401


def _client(scheduler: str | None, n_workers: int, threads_per_worker: int, processes: bool):
    """A distributed Client (and the LocalCluster it owns, or None) for the arguments."""
    from distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler), None
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker, processes=processes,
                           dashboard_address=None, silence_logs=40)
    return Client(cluster), cluster


def run_batch(store: Store, dataset_ids: Sequence[str], params: dict[str, Any] | None = None, *,
              client: Any = None, scheduler: str | None = None, n_workers: int = 2,
              threads_per_worker: int = 1, processes: bool = True, max_in_flight: int | None = None,
              progress: bool = True, func: Callable[[Dataset, dict[str, Any]], dict[str, Any]] = process_county,
              on_outcome: Callable[[CountyOutcome], None] | None = None) -> BatchReport:
    """Run ``func`` (default :func:`process_county`) for each dataset in ``dataset_ids`` on Dask.

    Cluster: ``client`` (an existing ``distributed.Client``), else the scheduler at ``scheduler``
    (``tcp://host:8786``), else a new ``LocalCluster`` of ``n_workers`` workers with
    ``threads_per_worker`` threads each (1: the solvers are CPU-bound), worker processes unless
    ``processes=False``; a cluster created here is closed at the end.

    Each county gets a job record (kind ``batch``): ``running`` when submitted, then
    ``successful`` with the result dict or ``failed`` with ``{title, detail, traceback}``. A
    dataset that cannot be loaded fails alone. ``progress`` shows a bar on stderr;
    ``on_outcome`` is called as each county finishes. ``report.elapsed_s`` runs from the moment the
    workers are up (cluster start-up is ``report.startup_s``). ``params`` are checked first
    (:func:`check_params`) so bad parameters fail the batch before anything runs.
    """
    from distributed import as_completed

    params = check_params(params)
    batch_id = uuid.uuid4().hex[:12]
    report = BatchReport(batch_id)
    jobs: dict[str, JobRecord] = {}
    for did in dataset_ids:
        job = JobRecord(id=f"batch-{batch_id}-{uuid.uuid4().hex[:8]}", dataset_id=did, kind="batch",
                        params={**params, "batch_id": batch_id})
        jobs[did] = store.create_job(job)

    own_client = client is None
    t_start = time.perf_counter()
    if own_client:
        client, cluster = _client(scheduler, n_workers, threads_per_worker, processes)
        client.wait_for_workers(1 if scheduler else n_workers, timeout=120)
    else:
        cluster = None
    client.run(_warm_up)  # import the solvers on every worker now, not inside the first county
    t0 = time.perf_counter()
    report.startup_s = t0 - t_start
    report.workers = len(client.scheduler_info().get("workers", {})) or n_workers
    limit = max_in_flight or max(2, 2 * report.workers)
    bar, task = _progress_bar(progress, len(dataset_ids))

    def finish(outcome: CountyOutcome, **job_fields: Any) -> None:
        store.update_job(outcome.job_id, status=outcome.status, progress=100.0, finished_at=utcnow(), **job_fields)
        report.outcomes.append(outcome)
        if bar is not None:
            bar.advance(task)
        if on_outcome is not None:
            on_outcome(outcome)

    pending = list(dataset_ids)
    futures: dict[Any, str] = {}

    def submit_next(ac) -> None:
        while pending and len(futures) < limit:
            did = pending.pop(0)
            job = jobs[did]
            try:
                ds = store.get_dataset(did)
            except Exception as e:  # noqa: BLE001 - reported per county
                err = _error_dict(e)
                finish(CountyOutcome(did, job.id, "failed", error=f"{err['title']}: {err['detail']}"),
                       error=err, message=f"could not load the dataset: {err['detail']}")
                continue
            store.update_job(job.id, status="running", started_at=utcnow(), message="submitted to Dask")
            fut = client.submit(func, ds, params, key=f"county-{did}-{batch_id}", pure=False)
            futures[fut] = did
            ac.add(fut)

    try:
        if bar is not None:
            bar.start()
        ac = as_completed([])
        submit_next(ac)
        for fut in ac:
            did = futures.pop(fut)
            job = jobs[did]
            if fut.status == "error":
                exc = fut.exception()
                err = _error_dict(exc)
                finish(CountyOutcome(did, job.id, "failed", error=f"{err['title']}: {err['detail']}"),
                       error=err, message=f"failed: {err['detail']}")
            else:
                res = fut.result()
                finish(CountyOutcome(did, job.id, "successful", result_status=res.get("status"),
                                     time_s=res.get("time_s")),
                       result=res, message=f"done: {res.get('status')}")
            fut.release()
            submit_next(ac)
    finally:
        report.elapsed_s = time.perf_counter() - t0
        if bar is not None:
            bar.stop()
        if own_client:
            client.close()
            if cluster is not None:
                cluster.close()
    order = {d: i for i, d in enumerate(dataset_ids)}
    report.outcomes.sort(key=lambda o: order[o.dataset_id])
    return report


def _progress_bar(enabled: bool, total: int):
    if not enabled:
        return None, None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    bar = Progress(TextColumn("counties"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=console, disable=not console.is_terminal)
    return bar, bar.add_task("counties", total=total)


def store_province(store: Store, datasets: Iterable[Dataset], prefix: str = "") -> list[str]:
    """Put each dataset into ``store`` as ``<prefix><name>`` (replacing any); return the ids."""
    ids = []
    for ds in datasets:
        did = f"{prefix}{ds.name}"
        store.put_dataset(did, ds, meta={"source": "geo_service.province", "name": ds.name})
        ids.append(did)
    return ids


__all__ = ["BatchReport", "CountyOutcome", "check_params", "process_county", "resolve_dataset_ids",
           "run_batch", "store_province"]
