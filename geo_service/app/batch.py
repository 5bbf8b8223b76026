"""Coverage + optimisation for many counties (one dataset each) on Dask.

A province (~100 county committees) or the country (~2,800) is many independent county problems.
:func:`run_batch` sends each stored dataset to a ``dask.distributed`` cluster (a
``LocalCluster`` by default, or the scheduler at an address), runs :func:`process_county` on it
and writes the outcome back to the store as a job record per county (kind ``"batch"``): the
result on success, the error on failure. A county that fails is reported and does not stop the
others. At most ``max_in_flight`` datasets are loaded and in flight at once, so the driver's
memory does not grow with the number of counties.

A batch has an id; each county's job record holds it with the parameters' fingerprint and the
dataset version. A worker that dies is reported with the counties Dask ran again; a scheduler that
dies stops the batch with every unfinished county marked lost (never left running), and
``run_batch(resume=BATCH_ID)`` later runs only the counties without a successful result for their
dataset version and these parameters (docs/deploy.md, section 3).

Workers load their own county from the store when they can reach it (a PostGIS URL of another
host; any store with a ``LocalCluster`` on this machine), opening it once per worker process,
so the driver (this process) only sends ids, creates the job records in one transaction and
writes each round of finished counties in one more. With a remote cluster and an embedded store
the driver loads each dataset and ships it instead (see ``load_on_workers`` of :func:`run_batch`).

Example::

    from geo_service.core.store import open_store
    report = run_batch(open_store("var"), ["C001", "C002"], {"optimisation": {"time_limit_s": 30}})
    report.counties_per_minute, report.failed
"""

from __future__ import annotations

import contextlib
import fnmatch
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from solvers.pipeline import OptimisationParams, run_optimisation
from solvers.roster import RosterParams, plan_roster, township_committees_from

from ..core._optional import require_distributed
from ..core.coverage import coverage_summary
from ..core.dataset import Dataset
from ..core.store import JobRecord, Store
from .batch_loading import _forget_worker_store, _load_and_run, _warm_up, store_location, workers_can_load
from .batch_records import LOST, batch_jobs, batch_summary, completed_counties, params_fingerprint
from .jobs import fail_unfinished, failure_fields, new_job, running_fields, success_fields

DEFAULT_THRESHOLDS_M: tuple[float, ...] = (5000.0, 10000.0, 20000.0)


def check_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """Validated, JSON-ready batch parameters.

    ``{"coverage": {"thresholds_m": [...], "mode": "straight"|"road", ...},
    "optimisation": {...fields of solvers.pipeline.OptimisationParams...},
    "roster": {...fields of solvers.roster.RosterParams...}}``; all optional, and the duty roster
    (一月一轮值) is planned only when ``roster`` is given.
    Raises ``ValueError`` naming the bad key, before anything is submitted.
    """
    params = dict(params or {})
    bad = set(params) - {"coverage", "optimisation", "roster"}
    if bad:
        raise ValueError(f"unknown batch parameter(s) {sorted(bad)}: expected 'coverage', 'optimisation' "
                         "and/or 'roster'")
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
    out = {"coverage": cov, "optimisation": opt}
    if params.get("roster") is not None:
        try:
            out["roster"] = RosterParams.model_validate(params["roster"]).model_dump(mode="json")
        except Exception as e:  # pydantic.ValidationError: one clear line
            raise ValueError(f"invalid roster parameters: {e}") from e
    return out


def process_county(ds: Dataset, params: dict[str, Any]) -> dict[str, Any]:
    """Coverage summary and optimisation of one county dataset; a JSON-ready dict.

    Runs :func:`geo_service.core.coverage.coverage_summary` (``params["coverage"]``) and
    :func:`solvers.pipeline.run_optimisation` (``params["optimisation"]``). Returns
    ``{dataset_id, fingerprint, status, coverage, optimisation, time_s}`` where ``status`` is the
    optimisation's (optimal / feasible / infeasible); with ``params["roster"]`` also ``roster``
    (:func:`solvers.roster.plan_roster`, consultations led by the committees of the optimisation's
    tier 3 unless the parameters name them). Exceptions propagate: the batch records them.
    """
    t0 = time.perf_counter()
    cov = coverage_summary(ds, **params.get("coverage", {}))
    opt = run_optimisation(ds, OptimisationParams.model_validate(params.get("optimisation", {})))
    out = {"dataset_id": ds.name, "fingerprint": ds.fingerprint(), "status": opt.status,
           "coverage": cov, "optimisation": opt.to_dict()}
    if params.get("roster") is not None:
        rp = dict(params["roster"])
        if not rp.get("township_committees"):
            rp["township_committees"] = township_committees_from(opt)
        out["roster"] = plan_roster(ds, rp).to_dict()
    out["time_s"] = round(time.perf_counter() - t0, 3)
    return out


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
    """Outcome of :func:`run_batch`; ``elapsed_s`` is wall time of the whole batch (seconds).

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


def run_batch(store: Store, dataset_ids: Sequence[str] | None = None, params: dict[str, Any] | None = None, *,
              client: Any = None, scheduler: str | None = None, n_workers: int = 2,
              threads_per_worker: int = 1, processes: bool = True, max_in_flight: int | None = None,
              progress: bool = True, func: Callable[[Dataset, dict[str, Any]], dict[str, Any]] = process_county,
              on_outcome: Callable[[CountyOutcome], None] | None = None,
              load_on_workers: bool | None = None, resume: str | None = None, batch_id: str | None = None,
              check_every_s: float = 1.0, no_workers_timeout_s: float = 120.0) -> BatchReport:
    """Run ``func`` (default :func:`process_county`) for each dataset in ``dataset_ids`` on Dask.

    Cluster: ``client`` (an existing ``distributed.Client``), else the scheduler at ``scheduler``
    (``tcp://host:8786``), else a new ``LocalCluster`` of ``n_workers`` workers with
    ``threads_per_worker`` threads each (1: the solvers are CPU-bound), worker processes unless
    ``processes=False``; a cluster created here is closed at the end.

    ``load_on_workers``: whether each worker loads its county from the store itself (the driver
    sends only the id; each worker process opens the store once) rather than the driver loading
    every dataset and shipping it. ``None`` (default) decides (:func:`workers_can_load`): yes on a
    ``LocalCluster`` of this machine, and for a PostGIS URL whose host is not ``localhost`` on any
    cluster; no otherwise (an embedded store or a local database with a remote scheduler). ``True`` with an
    embedded store and a remote cluster asserts that the data dir is on a shared file system at
    the same path. ``report.loaded_on_workers`` says which was used.

    Each county gets a job record (kind ``batch``, written with the job runner's record fields of
    :mod:`geo_service.app.jobs`), all created in one transaction as ``accepted`` (a dataset id that
    is not stored fails at once); ``running`` when submitted, then ``successful`` with the result
    dict or ``failed`` with ``{title, detail, traceback}``. Each record's params hold the checked
    ``params`` plus ``batch_id``, ``run_id``, ``params_fingerprint`` (:func:`params_fingerprint`)
    and the ``dataset_version`` it ran on. Writes are batched: one transaction per round of
    finished counties. ``progress`` shows a bar on stderr; ``on_outcome`` is called as each county
    finishes (after its job is written).

    Survival: a worker that dies is reported in ``report.workers_lost`` with the counties it was
    running (Dask runs them again; ``CountyOutcome.retried``); a county whose task killed too many
    workers (``KilledWorker``) fails alone. When the scheduler goes away (or no worker is left for
    ``no_workers_timeout_s`` seconds) the batch stops: the counties not finished are ``lost``
    (``report.cluster_lost`` says why, ``report.exit_code`` is :data:`EXIT_CLUSTER_LOST`). Whatever
    stops the batch, no job record of it is left ``accepted`` or ``running`` (a ``finally`` marks
    them failed with the reason). The cluster is looked at every ``check_every_s`` seconds.

    ``resume``: the id of an earlier batch to finish: its counties and parameters (unless given)
    are taken from its job records, and only the counties without a successful batch result for
    their current dataset version and these parameters run (the others are in
    ``report.skipped``); the new job records carry the same ``batch_id``. ``batch_id`` names a new
    batch (default: a random id). ``params`` are checked first (:func:`check_params`) so bad
    parameters fail the batch before anything runs.
    """
    require_distributed()
    from distributed import as_completed  # ~1.2 s to import: only batch runs pay it
    from distributed.client import FutureCancelledError
    from distributed.comm.core import CommClosedError
    from distributed.scheduler import KilledWorker

    if resume:
        earlier = batch_jobs(store, resume)
        if not earlier:
            raise ValueError(f"resume: no batch '{resume}' in the store")
        if params is None:
            params = {k: v for k, v in earlier[0].params.items() if k in ("coverage", "optimisation")}
        if not dataset_ids:
            dataset_ids = list(dict.fromkeys(j.dataset_id for j in earlier))
        batch_id = resume
    dataset_ids = list(dataset_ids or [])
    params = check_params(params)
    fingerprint = params_fingerprint(params)
    location = store_location(store)
    if load_on_workers and location is None:
        raise ValueError(f"load_on_workers=True, but workers cannot open {store!r}: "
                         "use load_on_workers=False (the driver ships each dataset)")
    batch_id = batch_id or uuid.uuid4().hex[:12]
    run_id = uuid.uuid4().hex[:8]
    report = BatchReport(batch_id, params_fingerprint=fingerprint)
    if resume:
        report.skipped = completed_counties(store, dataset_ids, fingerprint)
        dataset_ids = [d for d in dataset_ids if d not in report.skipped]
        if not dataset_ids:  # all done already: no cluster needed
            return report

    own_client = client is None
    t_start = time.perf_counter()
    try:
        if own_client:
            client, cluster = _client(scheduler, n_workers, threads_per_worker, processes)
        else:
            cluster = None
    except (OSError, TimeoutError) as e:  # nothing was recorded yet
        raise ClusterLost(f"cannot reach the Dask scheduler at {scheduler}: {e}") from e
    try:
        if load_on_workers is None:
            load_on_workers = workers_can_load(location, client)
        report.loaded_on_workers = bool(load_on_workers)
        if own_client:
            client.wait_for_workers(1 if scheduler else n_workers, timeout=120)
        # import the solvers (and open the store) on every worker now, not inside the first county
        client.run(_warm_up, location if load_on_workers else None)
    except BaseException as e:
        _close(client if own_client else None, cluster)
        if isinstance(e, (OSError, TimeoutError)):
            raise ClusterLost(f"the Dask cluster is not usable: {type(e).__name__}: {e}") from e
        raise

    stored = {i.id: i.version for i in store.list_datasets()}
    jobs: dict[str, JobRecord] = {}
    missing: dict[str, dict[str, Any]] = {}
    for did in dataset_ids:
        job = new_job(did, "batch", {**params, "batch_id": batch_id, "run_id": run_id,
                                     "params_fingerprint": fingerprint, "dataset_version": stored.get(did)},
                      job_id=f"batch-{batch_id}-{uuid.uuid4().hex[:8]}", message="waiting for a Dask worker")
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

    t0, cpu0 = time.perf_counter(), time.process_time()
    report.startup_s = t0 - t_start
    report.workers = len(client.scheduler_info().get("workers", {})) or n_workers
    limit = max_in_flight or max(2, 2 * report.workers)
    bar, task = _progress_bar(progress, len(dataset_ids))
    writes: dict[str, dict[str, Any]] = {}  # job updates of this round, written in one transaction
    done: list[CountyOutcome] = []
    ended: set[str] = set(missing)  # counties whose job record holds its final state

    def finish(outcome: CountyOutcome, **job_fields: Any) -> None:
        writes[outcome.job_id] = {"progress": 100.0, **job_fields}
        ended.add(outcome.dataset_id)
        done.append(outcome)

    def flush() -> None:
        if writes:
            store.update_jobs(writes)
            writes.clear()
        for outcome in done:
            report.outcomes.append(outcome)
            if bar is not None:
                bar.advance(task)
            if on_outcome is not None:
                on_outcome(outcome)
        done.clear()

    pending = list(dataset_ids)
    futures: dict[Any, str] = {}
    keys: dict[str, str] = {}
    watch = _ClusterWatch(client, keys, no_workers_timeout_s)

    def submit_next(ac) -> None:
        while pending and len(futures) < limit:
            did = pending.pop(0)
            job = jobs[did]
            if did in missing:
                err = missing[did]
                outcome = CountyOutcome(did, job.id, "failed", error=f"{err['title']}: {err['detail']}")
                done.append(outcome)  # its job was created failed
                continue
            key = f"county-{did}-{batch_id}-{run_id}"
            if load_on_workers:
                fut = client.submit(_load_and_run, location, did, func, params, key=key, pure=False)
            else:
                try:
                    ds = store.get_dataset(did)
                except Exception as e:  # noqa: BLE001 - reported per county
                    err = _error_dict(e)
                    finish(CountyOutcome(did, job.id, "failed", error=f"{err['title']}: {err['detail']}"),
                           **failure_fields(err["title"], err["detail"], traceback=err["traceback"],
                                            message=f"could not load the dataset: {err['detail']}"))
                    continue
                fut = client.submit(func, ds, params, key=key, pure=False)
            keys[key] = did
            writes[job.id] = running_fields("submitted to Dask")
            futures[fut] = did
            ac.add(fut)

    stopped: BaseException | None = None
    try:
        if bar is not None:
            bar.start()
        ac = as_completed([])
        submit_next(ac)
        flush()
        t_check = time.monotonic()
        while futures:
            if not ac.has_ready():
                if time.monotonic() - t_check >= check_every_s:
                    watch.check()
                    t_check = time.monotonic()
                time.sleep(0.02)
                continue
            lost_now = []
            for fut in ac.next_batch(block=False):
                did = futures.pop(fut)
                job = jobs[did]
                if fut.status == "finished":
                    res = fut.result()
                    finish(CountyOutcome(did, job.id, "successful", result_status=res.get("status"),
                                         time_s=res.get("time_s")),
                           **success_fields(res, message=f"done: {res.get('status')}"))
                elif fut.status == "error":
                    exc = fut.exception()
                    err = _error_dict(exc)
                    if isinstance(exc, KilledWorker):  # this county's task took down several workers
                        err["detail"] = (f"its task was running on {len(watch.lost) or 'several'} worker(s) that "
                                         f"died (out of memory?): {err['detail']}")
                    finish(CountyOutcome(did, job.id, "failed", error=f"{err['title']}: {err['detail']}"),
                           **failure_fields(err["title"], err["detail"], traceback=err["traceback"],
                                            message=f"failed: {err['detail']}"))
                else:  # cancelled or lost: the scheduler connection went (its future was cancelled)
                    lost_now.append(did)
                with contextlib.suppress(Exception):
                    fut.release()
            if lost_now:
                flush()  # the counties that did finish in this round are kept
                watch.check()  # says why (scheduler-connection-lost) ...
                raise ClusterLost(f"{len(lost_now)} county task(s) were cancelled by Dask")  # ... or this
            submit_next(ac)
            flush()
    except ClusterLost as e:
        report.cluster_lost = str(e)
    except (CommClosedError, FutureCancelledError, OSError, TimeoutError) as e:
        report.cluster_lost = f"lost the connection to the Dask scheduler ({type(e).__name__}: {e})"
    except BaseException as e:
        stopped = e
        raise
    finally:
        report.elapsed_s = time.perf_counter() - t0
        report.driver_cpu_s = time.process_time() - cpu0
        if report.cluster_lost is None and stopped is None:
            with contextlib.suppress(ClusterLost):
                watch.check()  # worker losses since the last look
        # no job of this batch stays accepted/running, whatever stopped it
        if stopped is not None:
            title, reason = "Interrupted", f"the batch stopped ({type(stopped).__name__}: {stopped})"
        else:
            title, reason = LOST, report.cluster_lost or "the batch ended before this county ran"
        reason = f"{reason}; resume with: geo-service batch --resume {batch_id}"
        with contextlib.suppress(Exception):
            flush()
        unfinished = [d for d in jobs if d not in ended]
        if unfinished:
            try:
                store.update_jobs({jobs[d].id: failure_fields(title, reason)
                                   for d in unfinished})
            except Exception:  # noqa: BLE001 - one by one, so a broken batch write loses nothing more
                fail_unfinished(store, [jobs[d].id for d in unfinished], title, reason)
            report.outcomes += [CountyOutcome(d, jobs[d].id, "lost", error=f"{title}: {reason}")
                                for d in unfinished]
        report.workers_lost = list(watch.lost.values())
        for o in report.outcomes:
            o.retried = watch.retried.get(o.dataset_id, 0)
        if bar is not None:
            bar.stop()
        if own_client:
            if load_on_workers and location is not None and report.cluster_lost is None:
                with contextlib.suppress(Exception):  # worker threads of processes=False live here
                    client.run(_forget_worker_store, location)
            _close(client, cluster)
    order = {d: i for i, d in enumerate(dataset_ids)}
    report.outcomes.sort(key=lambda o: order[o.dataset_id])
    return report


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


def store_province(store: Store, datasets: Iterable[Dataset], prefix: str = "") -> list[str]:
    """Put each dataset into ``store`` as ``<prefix><name>`` (replacing any); return the ids."""
    ids = []
    for ds in datasets:
        did = f"{prefix}{ds.name}"
        store.put_dataset(did, ds, meta={"source": "geo_service.app.province", "name": ds.name})
        ids.append(did)
    return ids


__all__ = ["BatchReport", "ClusterLost", "CountyOutcome", "EXIT_CLUSTER_LOST", "EXIT_FAILED", "EXIT_OK", "LOST",
           "batch_jobs", "batch_summary", "check_params", "completed_counties", "params_fingerprint",
           "process_county", "resolve_dataset_ids", "run_batch", "store_location", "store_province",
           "workers_can_load"]
