"""The driver of one batch run on Dask: plan, cluster, job records, the submit/collect loop, the end.

:func:`geo_service.app.batch.run_batch` calls these in order: :func:`plan_batch` (parameters checked,
a resume's finished counties skipped), :func:`open_cluster` (a client, the workers warmed up),
:func:`create_county_jobs` (one ``accepted`` job record per county, in one transaction) and
:meth:`BatchDriver.run` (at most ``limit`` counties in flight, each round of finished counties
written in one transaction, the cluster watched between rounds); :meth:`BatchDriver.settle` leaves
no job record of the batch ``accepted`` or ``running``, whatever stopped it.
"""

from __future__ import annotations

import contextlib
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..core._optional import require_distributed
from ..core.store import JobRecord, Store
from .batch_loading import _forget_worker_store, _load_and_run, _warm_up, store_location, workers_can_load
from .batch_records import LOST, BatchReport, ClusterLost, CountyOutcome, batch_jobs, completed_counties
from .batch_records import params_fingerprint
from .jobs import fail_unfinished, failure_fields, new_job, running_fields, success_fields


def _error_dict(exc: BaseException) -> dict[str, Any]:
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:])
    return {"title": type(exc).__name__, "detail": str(exc) or type(exc).__name__, "traceback": tb}


def _client(scheduler: str | None, n_workers: int, threads_per_worker: int, processes: bool):
    """A distributed Client (and the LocalCluster it owns, or None) for the arguments."""
    require_distributed()
    from distributed import Client, LocalCluster  # ~1.2 s to import: only batch runs pay it

    if scheduler:
        return Client(scheduler), None
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker, processes=processes,
                           # CRITICAL: a worker's heartbeat racing the scheduler's shutdown logs an ERROR
                           # traceback on every clean close; losses reach the report through the futures
                           dashboard_address=None, silence_logs=50)
    return Client(cluster), cluster


class _ClusterWatch:
    """Looks at the cluster between rounds: is the scheduler still there, which workers left, and which
    county tasks were running on them (the scheduler's ``remove-worker`` events)."""

    def __init__(self, client: Any, keys: dict[str, str], no_workers_timeout_s: float):
        self.client = client
        self.keys = keys  # task key -> dataset id
        self.t0 = time.time()
        self.known: set[str] = set()
        self.lost: dict[str, dict[str, Any]] = {}
        self.retried: dict[str, int] = {}
        self._seen: set[tuple[float, str]] = set()
        self.no_workers_timeout_s = no_workers_timeout_s
        self._no_workers_since: float | None = None

    def check(self) -> int:
        """Number of workers now; raise :class:`ClusterLost` when the scheduler is gone or no worker
        came back for ``no_workers_timeout_s`` seconds."""
        from distributed.comm.core import CommClosedError

        if self.client.status != "running":
            raise ClusterLost(f"lost the connection to the Dask scheduler ({self.client.status}; "
                              "scheduler-connection-lost)")
        try:
            workers = set(self.client.nthreads())
            events = self.client.get_events("all")
        except (OSError, TimeoutError, CommClosedError) as e:  # CommClosedError is an OSError; said for clarity
            raise ClusterLost(f"lost the connection to the Dask scheduler ({type(e).__name__}: {e})") from e
        for addr in self.known - workers:
            self.lost.setdefault(addr, {"worker": addr, "counties": []})
        self.known |= workers
        for t, msg in events:
            if not isinstance(msg, dict) or msg.get("action") != "remove-worker" or t < self.t0:
                continue
            addr = str(msg.get("worker"))
            if (t, addr) in self._seen:
                continue
            self._seen.add((t, addr))
            entry = self.lost.setdefault(addr, {"worker": addr, "counties": []})
            for key in msg.get("processing-tasks") or ():
                did = self.keys.get(str(key))
                if did is not None:
                    entry["counties"].append(did)
                    self.retried[did] = self.retried.get(did, 0) + 1
        if workers:
            self._no_workers_since = None
        elif self._no_workers_since is None:
            self._no_workers_since = time.monotonic()
        elif time.monotonic() - self._no_workers_since > self.no_workers_timeout_s:
            raise ClusterLost(f"no Dask worker left for {self.no_workers_timeout_s:.0f} s")
        return len(workers)


def _close(client: Any, cluster: Any) -> None:
    """Close a client (and its LocalCluster) without waiting long for a scheduler that is gone."""
    if client is not None:
        with contextlib.suppress(Exception):
            client.close(timeout=5)
    if cluster is not None:
        with contextlib.suppress(Exception):
            cluster.close()


def _progress_bar(enabled: bool, total: int):
    if not enabled:
        return None, None
    console = Console(stderr=True)
    bar = Progress(TextColumn("counties"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=console, disable=not console.is_terminal)
    return bar, bar.add_task("counties", total=total)




@dataclass
class BatchPlan:
    """What one run does: the counties, checked parameters and ids (see :func:`plan_batch`)."""

    dataset_ids: list[str]
    params: dict[str, Any]
    fingerprint: str
    location: Any
    batch_id: str
    run_id: str
    report: BatchReport


def plan_batch(store: Store, dataset_ids: Sequence[str] | None, params: dict[str, Any] | None,
               check: Callable[[dict[str, Any] | None], dict[str, Any]], *, resume: str | None,
               batch_id: str | None, load_on_workers: bool | None) -> BatchPlan:
    """The run's plan: ``resume`` takes an earlier batch's counties and parameters (unless given)
    and skips the counties it already finished (``report.skipped``); ``check`` validates ``params``.

    Raises
    ------
    ValueError
        An unknown ``resume`` batch, bad ``params``, or ``load_on_workers=True`` with a store the
        workers cannot open.
    """
    if resume:
        earlier = batch_jobs(store, resume)
        if not earlier:
            raise ValueError(f"resume: no batch '{resume}' in the store")
        if params is None:
            params = {k: v for k, v in earlier[0].params.items() if k in ("coverage", "optimisation")}
        if not dataset_ids:
            dataset_ids = list(dict.fromkeys(j.dataset_id for j in earlier))
        batch_id = resume
    ids = list(dataset_ids or [])
    params = check(params)
    fingerprint = params_fingerprint(params)
    location = store_location(store)
    if load_on_workers and location is None:
        raise ValueError(f"load_on_workers=True, but workers cannot open {store!r}: "
                         "use load_on_workers=False (the driver ships each dataset)")
    batch_id = batch_id or uuid.uuid4().hex[:12]
    report = BatchReport(batch_id, params_fingerprint=fingerprint)
    if resume:
        report.skipped = completed_counties(store, ids, fingerprint)
        ids = [d for d in ids if d not in report.skipped]
    return BatchPlan(ids, params, fingerprint, location, batch_id, uuid.uuid4().hex[:8], report)


@dataclass
class Cluster:
    """The client a run uses, the LocalCluster it created (or None) and whether it owns the client."""

    client: Any
    cluster: Any
    own: bool
    load_on_workers: bool

    def close(self) -> None:
        if self.own:
            _close(self.client, self.cluster)


def open_cluster(plan: BatchPlan, client: Any, scheduler: str | None, n_workers: int, threads_per_worker: int,
                 processes: bool, load_on_workers: bool | None) -> Cluster:
    """The given ``client``, or one on ``scheduler``, or a new LocalCluster; workers warmed up
    (solvers imported, the store opened when they load their own counties).

    Raises
    ------
    ClusterLost
        The scheduler cannot be reached or the cluster is not usable (nothing was recorded yet).
    """
    own = client is None
    cluster = None
    try:
        if own:
            client, cluster = _client(scheduler, n_workers, threads_per_worker, processes)
    except (OSError, TimeoutError) as e:
        raise ClusterLost(f"cannot reach the Dask scheduler at {scheduler}: {e}") from e
    try:
        if load_on_workers is None:
            load_on_workers = workers_can_load(plan.location, client)
        plan.report.loaded_on_workers = bool(load_on_workers)
        if own:
            client.wait_for_workers(1 if scheduler else n_workers, timeout=120)
        # import the solvers (and open the store) on every worker now, not inside the first county
        client.run(_warm_up, plan.location if load_on_workers else None)
    except BaseException as e:
        _close(client if own else None, cluster)
        if isinstance(e, (OSError, TimeoutError)):
            raise ClusterLost(f"the Dask cluster is not usable: {type(e).__name__}: {e}") from e
        raise
    return Cluster(client, cluster, own, bool(load_on_workers))


def create_county_jobs(store: Store, plan: BatchPlan) -> tuple[dict[str, JobRecord], dict[str, dict[str, Any]]]:
    """One job record per county, all ``accepted`` in one transaction, except a county whose dataset
    is not stored: its record is created ``failed`` with the store's own words. Returns the records
    by dataset id and the errors of those that failed."""
    stored = {i.id: i.version for i in store.list_datasets()}
    jobs: dict[str, JobRecord] = {}
    missing: dict[str, dict[str, Any]] = {}
    for did in plan.dataset_ids:
        job = new_job(did, "batch", {**plan.params, "batch_id": plan.batch_id, "run_id": plan.run_id,
                                     "params_fingerprint": plan.fingerprint, "dataset_version": stored.get(did)},
                      job_id=f"batch-{plan.batch_id}-{uuid.uuid4().hex[:8]}", message="waiting for a Dask worker")
        if did not in stored:  # fails at once, with the store's own words (NotFound or a bad id)
            try:
                job.params["dataset_version"] = store.dataset_info(did).version  # stored since the listing
            except Exception as e:  # noqa: BLE001 - reported per county
                missing[did] = err = _error_dict(e)
                for k, v in failure_fields(err["title"], err["detail"],
                                           message=f"could not load the dataset: {err['detail']}",
                                           traceback=err["traceback"]).items():
                    setattr(job, k, v)
                job.progress = 100.0
        jobs[did] = job
    store.create_jobs(list(jobs.values()))
    return jobs, missing


@dataclass
class BatchDriver:
    """Submits counties, collects their outcomes and writes their job records, one round at a time."""

    store: Store
    plan: BatchPlan
    cluster: Cluster
    func: Callable[..., dict[str, Any]]
    jobs: dict[str, JobRecord]
    missing: dict[str, dict[str, Any]]
    limit: int
    on_outcome: Callable[[CountyOutcome], None] | None = None
    bar: Any = None
    task: Any = None
    writes: dict[str, dict[str, Any]] = field(default_factory=dict)  # job updates of this round
    done: list[CountyOutcome] = field(default_factory=list)
    ended: set[str] = field(default_factory=set)  # counties whose job record holds its final state
    pending: list[str] = field(default_factory=list)
    futures: dict[Any, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # task key -> dataset id
    watch: Any = None

    def __post_init__(self) -> None:
        self.ended |= set(self.missing)
        self.pending = list(self.plan.dataset_ids)

    def finish(self, outcome: CountyOutcome, **job_fields: Any) -> None:
        self.writes[outcome.job_id] = {"progress": 100.0, **job_fields}
        self.ended.add(outcome.dataset_id)
        self.done.append(outcome)

    def flush(self) -> None:
        """Write this round's job updates in one transaction, then report its outcomes."""
        if self.writes:
            self.store.update_jobs(self.writes)
            self.writes.clear()
        for outcome in self.done:
            self.plan.report.outcomes.append(outcome)
            if self.bar is not None:
                self.bar.advance(self.task)
            if self.on_outcome is not None:
                self.on_outcome(outcome)
        self.done.clear()

    def _fail(self, did: str, err: dict[str, Any], message: str) -> None:
        self.finish(CountyOutcome(did, self.jobs[did].id, "failed", error=f"{err['title']}: {err['detail']}"),
                    **failure_fields(err["title"], err["detail"], traceback=err["traceback"], message=message))

    def submit_next(self, ac: Any) -> None:
        """Submit counties until ``limit`` are in flight (the driver loads those it ships)."""
        client, plan = self.cluster.client, self.plan
        while self.pending and len(self.futures) < self.limit:
            did = self.pending.pop(0)
            job = self.jobs[did]
            if did in self.missing:
                err = self.missing[did]
                self.done.append(CountyOutcome(did, job.id, "failed", error=f"{err['title']}: {err['detail']}"))
                continue  # its job was created failed
            key = f"county-{did}-{plan.batch_id}-{plan.run_id}"
            if self.cluster.load_on_workers:
                fut = client.submit(_load_and_run, plan.location, did, self.func, plan.params, key=key, pure=False)
            else:
                try:
                    ds = self.store.get_dataset(did)
                except Exception as e:  # noqa: BLE001 - reported per county
                    err = _error_dict(e)
                    self._fail(did, err, f"could not load the dataset: {err['detail']}")
                    continue
                fut = client.submit(self.func, ds, plan.params, key=key, pure=False)
            self.keys[key] = did
            self.writes[job.id] = running_fields("submitted to Dask")
            self.futures[fut] = did
            ac.add(fut)

    def collect(self, ac: Any) -> list[str]:
        """Record the counties that finished since the last round; the ids whose task Dask cancelled."""
        from distributed.scheduler import KilledWorker

        lost_now = []
        for fut in ac.next_batch(block=False):
            did = self.futures.pop(fut)
            job = self.jobs[did]
            if fut.status == "finished":
                res = fut.result()
                self.finish(CountyOutcome(did, job.id, "successful", result_status=res.get("status"),
                                          time_s=res.get("time_s")),
                            **success_fields(res, message=f"done: {res.get('status')}"))
            elif fut.status == "error":
                exc = fut.exception()
                err = _error_dict(exc)
                if isinstance(exc, KilledWorker):  # this county's task took down several workers
                    err["detail"] = (f"its task was running on {len(self.watch.lost) or 'several'} worker(s) that "
                                     f"died (out of memory?): {err['detail']}")
                self._fail(did, err, f"failed: {err['detail']}")
            else:  # cancelled or lost: the scheduler connection went (its future was cancelled)
                lost_now.append(did)
            with contextlib.suppress(Exception):
                fut.release()
        return lost_now

    def run(self, check_every_s: float) -> None:
        """Submit and collect until every county ended; :class:`ClusterLost` when the cluster went."""
        from distributed import as_completed  # ~1.2 s to import: only batch runs pay it

        if self.bar is not None:
            self.bar.start()
        ac = as_completed([])
        self.submit_next(ac)
        self.flush()
        t_check = time.monotonic()
        while self.futures:
            if not ac.has_ready():
                if time.monotonic() - t_check >= check_every_s:
                    self.watch.check()
                    t_check = time.monotonic()
                time.sleep(0.02)
                continue
            lost_now = self.collect(ac)
            if lost_now:
                self.flush()  # the counties that did finish in this round are kept
                self.watch.check()  # says why (scheduler-connection-lost) ...
                raise ClusterLost(f"{len(lost_now)} county task(s) were cancelled by Dask")  # ... or this
            self.submit_next(ac)
            self.flush()

    def settle(self, stopped: BaseException | None) -> None:
        """Mark every county not ended ``failed`` (lost, or interrupted by ``stopped``), with how to resume."""
        report = self.plan.report
        if report.cluster_lost is None and stopped is None:
            with contextlib.suppress(ClusterLost):
                self.watch.check()  # worker losses since the last look
        if stopped is not None:
            title, reason = "Interrupted", f"the batch stopped ({type(stopped).__name__}: {stopped})"
        else:
            title, reason = LOST, report.cluster_lost or "the batch ended before this county ran"
        reason = f"{reason}; resume with: geo-service batch --resume {self.plan.batch_id}"
        with contextlib.suppress(Exception):
            self.flush()
        unfinished = [d for d in self.jobs if d not in self.ended]
        if unfinished:
            try:
                self.store.update_jobs({self.jobs[d].id: failure_fields(title, reason) for d in unfinished})
            except Exception:  # noqa: BLE001 - one by one, so a broken batch write loses nothing more
                fail_unfinished(self.store, [self.jobs[d].id for d in unfinished], title, reason)
            report.outcomes += [CountyOutcome(d, self.jobs[d].id, "lost", error=f"{title}: {reason}")
                                for d in unfinished]
        report.workers_lost = list(self.watch.lost.values())
        for o in report.outcomes:
            o.retried = self.watch.retried.get(o.dataset_id, 0)
        if self.bar is not None:
            self.bar.stop()

    def close(self) -> None:
        """Let go of the workers' stores (threads of ``processes=False`` live here), then the cluster."""
        c, plan = self.cluster, self.plan
        if c.own and c.load_on_workers and plan.location is not None and plan.report.cluster_lost is None:
            with contextlib.suppress(Exception):
                c.client.run(_forget_worker_store, plan.location)
        c.close()


__all__ = ["BatchDriver", "BatchPlan", "Cluster", "create_county_jobs", "open_cluster", "plan_batch"]
