"""The job runner shared by the API's jobs and the Dask batches: job kinds, job records, solver processes.

- **Job kinds** (:data:`JOB_KINDS`, :func:`register_kind`): a kind is a runner function plus the
  pydantic model of its parameters. Adding one (say the roster) is a few lines::

      def run_roster_job(ds, params, previous, progress, cancel):
          p = RosterParams.model_validate(solver_params(params))
          return plan_roster(ds, p, progress, cancel.is_set).to_dict()

      register_kind("roster", run_roster_job, RosterParams)

- **Job records** (:func:`new_job`, :func:`running_fields`, :func:`success_fields`,
  :func:`failure_fields`, :func:`fail_unfinished`): the one place that says what a job's status,
  progress, message, result and error look like at each step, used by :class:`JobManager` (API jobs)
  and by :mod:`geo_service.app.batch` (one record per county), so both read the same.
- **Solver processes** (:mod:`geo_service.app.children`, :func:`run_in_child`): a runner solves in
  a forked child process that relays progress over a pipe, is terminated on cancel or far past its
  time limit, dies with its parent, holds no socket and stops itself at its hard limit.
- :class:`JobManager`: the API's bounded worker pool over those pieces.

Each job has a supervising worker thread; the solve itself runs in a child process of its own
(:data:`PROCESS_START`), so a dismissal (``DELETE /v1/jobs/{id}``) or a run far past its
``time_limit_s`` terminates the solver at once and frees the worker and its core: OR-Tools cannot
be interrupted from another thread, and a cancelled thread used to keep a core at 100 % for
minutes. The child inherits the dataset and road network by ``fork`` (no copy, no pickling) and
sends progress, then its result or error, back over a pipe; it never touches the store, so every
store write stays in this process. Runners marked ``run_in_process = True`` (the default
optimisation runner) run this way; other runners (tests, plug-ins sharing state with the caller)
run in the supervising thread as before. ``JobManager(isolation="thread")`` runs every runner in
its thread.

The queue is bounded: at most ``workers + queue_size`` jobs are accepted or running at once;
beyond that :meth:`JobManager.submit` raises :class:`QueueFull` (the API answers 503 with
``Retry-After``). Every state change is written to the store (``accepted`` -> ``running`` ->
``successful`` | ``failed`` | ``dismissed``, progress 0-100, message, result or error), so a
restart loses no finished result. On start-up the app kills solver processes a killed service left
behind (:meth:`JobManager.kill_strays`), queues again the jobs that were only waiting
(:meth:`JobManager.resume`) and marks those that were running as failed, ``Interrupted``
(:meth:`~geo_service.core.store.Store.fail_interrupted_jobs`).

A runner is ``runner(ds, params, previous, progress, cancel) -> dict`` where ``previous`` is the
result dict of an earlier job (minimal-change re-runs) or None, ``progress(percent, message="")``
reports 0-100 and ``cancel`` is a :class:`threading.Event` set once the job was dismissed; a
runner should check it and stop early (raising anything: its result is discarded either way).

Several replicas may share one store. A job is dismissed by whichever replica gets the
``DELETE``, but runs in another one's thread, whose in-memory cancel event that replica cannot
set. So every write of the worker (running, progress, result, failure) is one conditional update
(``only_if_status``: still accepted or running), which never overwrites a job ended elsewhere,
and the progress callback looks at the store too (at most every :data:`STORE_CHECK_S` seconds) and
sets ``cancel`` when the job was dismissed elsewhere; a job solving in a child process is
terminated then.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pydantic import BaseModel

from geo_service.core.dataset import Dataset
from geo_service.core.numbers import in_int64
from geo_service.core.store import Conflict, JobRecord, NotFound, Store, utcnow
from solvers.ledger_plan import annotate_result
from solvers.pipeline import OptimisationParams, run_optimisation
from solvers.roster import RosterParams, plan_roster
from solvers.review import REVIEW_COLUMNS, ReviewParams, review
from solvers.roster.outputs import roster_outcome

from .children import (
    OVERRUN_GRACE_S,
    PROCESS_START,
    TERMINATE_GRACE_S,
    JobCancelled,
    JobFailed,
    ProcessRecords,
    hard_deadline_s,
    kill_strays,
    public_failure,
    run_in_child,
    stop_process,
)

log = logging.getLogger("geo_service.jobs")

Runner = Callable[..., dict[str, Any]]
TERMINAL = ("successful", "failed", "dismissed")
ACTIVE = ("accepted", "running")
#: at most this often (seconds) a progress callback re-reads the job's stored status
STORE_CHECK_S = 0.2


class QueueFull(Exception):
    """The job queue is full; try again after ``retry_after_s`` seconds."""

    def __init__(self, retry_after_s: int):
        super().__init__(f"the job queue is full; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


def run_optimisation_job(ds: Dataset, params: dict[str, Any], previous: dict[str, Any] | None,
                         progress: Callable[..., None], cancel: threading.Event,
                         network: Any = None) -> dict[str, Any]:
    """Runner for kind ``optimisation``: ``solvers.pipeline.run_optimisation`` on ``ds`` (``network``:
    the dataset version's cached road network, for ``mode="road"``)."""
    p = OptimisationParams.model_validate(solver_params(params))
    result = run_optimisation(ds, p, previous=previous, progress=progress, cancel=cancel, network=network)
    if params.get("ledger_plan"):  # a ledger-aware re-run: its reasons go into the minimal-change report
        return annotate_result(result.to_dict(), params["ledger_plan"])
    return result.to_dict()


#: keys the API and the batches add to a job's params that are not solver parameters
API_PARAM_KEYS = ("previous_job_id", "dataset_version", "batch_id", "params_fingerprint", "ledger_plan")


def solver_params(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` without the API's own keys (what a kind's params model validates)."""
    return {k: v for k, v in params.items() if k not in API_PARAM_KEYS}


# -- job kinds ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class JobKind:
    """A kind of job: ``runner(ds, params, previous, progress, cancel, **extra) -> dict`` (a JSON-ready
    result), the pydantic model of its parameters (``None``: not checked), and whether it solves in
    a child process of its own (:func:`run_in_child`; the runner and its arguments must survive
    ``fork``, and its result must pickle)."""

    name: str
    runner: Runner
    params_model: type[BaseModel] | None = None
    in_process: bool = True
    #: ``inputs(store, job) -> dict`` of extra runner arguments read from the store before the run
    #: (the review's ledger rows); None: none
    inputs: Callable[[Store, JobRecord], dict[str, Any]] | None = None

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` validated by the kind's model (``ValueError`` naming the kind otherwise),
        JSON-ready, with the API's own keys (:data:`API_PARAM_KEYS`) kept as they were."""
        if self.params_model is None:
            return dict(params)
        own = {k: params[k] for k in API_PARAM_KEYS if k in params}
        try:
            checked = self.params_model.model_validate(solver_params(params)).model_dump(mode="json")
        except Exception as e:  # pydantic.ValidationError: one clear line
            raise ValueError(f"invalid {self.name} parameters: {e}") from e
        return {**checked, **own}


#: the job kinds the service runs, by name (see :func:`register_kind`)
JOB_KINDS: dict[str, JobKind] = {}


def register_kind(name: str, runner: Runner, params_model: type[BaseModel] | None = None, *,
                  in_process: bool = True,
                  inputs: Callable[[Store, JobRecord], dict[str, Any]] | None = None) -> JobKind:
    """Add (or replace) the job kind ``name`` in :data:`JOB_KINDS`; return it.

    Parameters
    ----------
    name : str
        Kind name, as stored in ``JobRecord.kind`` and accepted by :meth:`JobManager.submit`.
    runner : callable
        ``runner(ds, params, previous, progress, cancel, **extra) -> dict``; ``progress(percent,
        message="")`` takes 0-100; ``cancel`` is a :class:`threading.Event` set once the job is
        dismissed (a runner in a child process is terminated instead).
    params_model : pydantic model class, optional
        Validates the kind's parameters (:meth:`JobKind.check_params`).
    in_process : bool
        Solve in a child process per job (:func:`run_in_child`), terminated on cancel.
    inputs : callable, optional
        ``inputs(store, job) -> dict``: extra keyword arguments of the runner read from the store
        in the supervising thread (a child process never touches the store).
    """
    if not name or not isinstance(name, str):
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    if not callable(runner):
        raise ValueError(f"runner of kind {name!r} must be callable, got {runner!r}")
    kind = JobKind(name, runner, params_model, in_process, inputs)
    JOB_KINDS[name] = kind
    return kind


register_kind("optimisation", run_optimisation_job, OptimisationParams)
run_optimisation_job.run_in_process = True  # type: ignore[attr-defined]


def run_roster_job(ds: Dataset, params: dict[str, Any], previous: dict[str, Any] | None,
                   progress: Callable[..., None], cancel: threading.Event, network: Any = None) -> dict[str, Any]:
    """Runner for kind ``roster``: :func:`solvers.roster.plan_roster` on ``ds``; ``previous``:
    the roster of ``previous_job_id`` (re-planned from ``replan_from``); the result carries ``outcome``."""
    p = RosterParams.model_validate(solver_params(params))
    res = plan_roster(ds, p, progress=lambda f, msg="": progress(100.0 * float(f), msg), should_stop=cancel.is_set,
                      previous=previous, network=network)
    return {**res.to_dict(), "outcome": roster_outcome(res)}


register_kind("roster", run_roster_job, RosterParams)
run_roster_job.run_in_process = True  # type: ignore[attr-defined]


def review_inputs(store: Store, job: JobRecord) -> dict[str, Any]:
    """The ledger rows of a review job's year (read before the run, in the supervising thread)."""
    year = int(job.params.get("year", 0))
    frame = store.ledger().frame(job.dataset_id, start=f"{year}-01-01", end=f"{year}-12-31",
                                 columns=REVIEW_COLUMNS)
    return {"ledger": frame}


def run_review_job(ds: Dataset, params: dict[str, Any], previous: dict[str, Any] | None,
                   progress: Callable[..., None], cancel: threading.Event, ledger: Any = None,
                   network: Any = None) -> dict[str, Any]:
    """Runner for kind ``review`` (一年一考评): :func:`solvers.review.review` of the year's ledger rows
    (``ledger``, from :func:`review_inputs`) for every member of ``ds``."""
    p = ReviewParams.model_validate(solver_params(params))
    frame = ledger if ledger is not None else pd.DataFrame(columns=["id", *REVIEW_COLUMNS])
    members = ds.layers.get("members")
    ids = members["id"].astype(str).tolist() if members is not None else []
    names = dict(zip(ids, members["name"].astype(str), strict=True)) if members is not None and ids else {}
    progress(10.0, "running")
    res = review(frame, p.year, member_ids=ids, rules=p.rules, names=names)
    return res.to_dict()  # a computation, not an optimisation: no status, objective or bound


register_kind("review", run_review_job, ReviewParams, inputs=review_inputs)
run_review_job.run_in_process = True  # type: ignore[attr-defined]


def default_runners() -> dict[str, Runner]:
    """Kind name -> runner of every registered kind (what :class:`JobManager` runs by default)."""
    out = {}
    for k in JOB_KINDS.values():
        if k.in_process and not getattr(k.runner, "run_in_process", False):
            try:
                k.runner.run_in_process = True  # type: ignore[attr-defined]
            except AttributeError:  # a builtin or bound method: wrap it
                def wrapped(*a, _r=k.runner, **kw):
                    return _r(*a, **kw)
                wrapped.run_in_process = True  # type: ignore[attr-defined]
                out[k.name] = wrapped
                continue
        out[k.name] = k.runner
    return out


#: kept for callers of the earlier name; :func:`default_runners` follows later registrations
DEFAULT_RUNNERS: dict[str, Runner] = default_runners()


# -- job records ----------------------------------------------------------------------------------
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


class JobManager:
    """Runs jobs on ``workers`` threads with at most ``queue_size`` more waiting.

    ``load_dataset(dataset_id)`` returns the dataset to solve and ``load_network(dataset_id)`` its road
    network for road-mode runs (the API passes its cache, so both are built once per version).
    ``isolation``: ``"process"`` (default) solves runners marked ``run_in_process`` in a child
    process per job, terminated on cancel; ``"thread"`` runs every runner in its worker thread.

    ``process_records``: a folder where each running solver process is written down, so that
    :meth:`kill_strays` can end those a killed service left behind.

    Interface (what the app and the routers use): :meth:`submit`, :meth:`cancel`, :meth:`shutdown`,
    :meth:`resume`, :meth:`kill_strays`, :attr:`active`, :attr:`runners` and :meth:`worker_pids`
    (the job processes now running).
    """

    def __init__(self, store: Store, load_dataset: Callable[[str], Dataset], *, workers: int = 1,
                 queue_size: int = 4, retry_after_s: int = 30, runners: dict[str, Runner] | None = None,
                 load_network: Callable[[str], Any] | None = None, isolation: str = "process",
                 process_records: str | None = None):
        if isolation not in ("process", "thread"):
            raise ValueError(f"isolation must be 'process' or 'thread', got {isolation!r}")
        self.isolation = isolation
        self._procs: dict[str, Any] = {}  # job id -> its running multiprocessing.Process
        #: a file per running solver process (``process_records``: a folder), read by :meth:`kill_strays`
        self.records = ProcessRecords(process_records) if process_records else None
        self.store = store
        self.load_dataset = load_dataset
        self.load_network = load_network
        self.workers = workers
        self.capacity = workers + queue_size
        self.retry_after_s = retry_after_s
        self.runners = dict(default_runners() if runners is None else runners)
        self._executor: ThreadPoolExecutor | None = None  # started on first submit
        self._slots = threading.BoundedSemaphore(self.capacity)
        self._cancel: dict[str, threading.Event] = {}
        self._futures: dict[str, Future] = {}
        self._lock = threading.RLock()  # orders status writes between worker and cancel

    # -- public -----------------------------------------------------------------------------
    @property
    def active(self) -> int:
        """Jobs accepted or running in this process."""
        return len(self._cancel)

    def submit(self, dataset_id: str, kind: str, params: dict[str, Any]) -> JobRecord:
        """Record a new job as ``accepted`` and queue it; raise :class:`QueueFull` when full."""
        if kind not in self.runners:
            raise ValueError(f"unknown job kind '{kind}' (expected one of {', '.join(self.runners)})")
        check_storable(params)
        if not self._slots.acquire(blocking=False):
            raise QueueFull(self.retry_after_s)
        job_id = uuid.uuid4().hex
        try:
            self._cancel[job_id] = threading.Event()
            job = self.store.create_job(new_job(dataset_id, kind, params, job_id=job_id))
            with self._lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="geo-job")
                self._futures[job_id] = self._executor.submit(self._run, job_id)
        except BaseException:
            self._cancel.pop(job_id, None)
            self._slots.release()
            raise
        log.info("job accepted", extra={"job_id": job.id, "dataset_id": dataset_id, "kind": kind})
        return job

    def cancel(self, job_id: str) -> JobRecord:
        """Dismiss a job that is accepted or running; a finished job is returned unchanged."""
        with self._lock:
            job = self.store.get_job(job_id)
            if job.status in TERMINAL:
                return job
            ev = self._cancel.get(job_id)
            if ev is not None:
                ev.set()
            proc = self._procs.get(job_id)
            try:
                job = self.store.update_job(job_id, status="dismissed", finished_at=utcnow(),
                                            message="dismissed on request", only_if_status=ACTIVE)
            except Conflict:  # it finished (here or on another replica) a moment ago
                return self.store.get_job(job_id)
        if proc is not None:  # stop the solver now, not when its thread next looks
            stop_process(proc)
            with self._lock:
                if self._procs.get(job_id) is proc:
                    del self._procs[job_id]
        log.info("job dismissed", extra={"job_id": job_id})
        return job

    def resume(self, job_ids: Iterable[str]) -> list[str]:
        """Queue again the ``accepted`` jobs of ``job_ids`` (taken over from a service that stopped
        before running them); return those queued. Jobs beyond the queue's capacity are failed with
        ``Interrupted`` (they can be submitted again)."""
        queued, over = [], []
        for job_id in job_ids:
            if job_id in self._cancel:
                continue
            if not self._slots.acquire(blocking=False):
                over.append(job_id)
                continue
            self._cancel[job_id] = threading.Event()
            with self._lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="geo-job")
                self._futures[job_id] = self._executor.submit(self._run, job_id)
            queued.append(job_id)
        if over:
            fail_unfinished(self.store, over, "Interrupted", "the service restarted with more jobs waiting than "
                                                               "its queue holds; submit the job again")
        return queued

    def kill_strays(self) -> list[int]:
        """Kill solver processes a previous service left behind (by the process records): those
        whose job this process does not run and no live service runs either; return their pids."""
        if self.records is None:
            return []

        def still_running(job_id: str, service_pid: int) -> bool:
            if job_id in self._procs:
                return True
            if service_pid and service_pid != os.getpid() and _alive(service_pid):
                try:  # another live service on this data directory runs it
                    return self.store.get_job(job_id).status in ACTIVE
                except NotFound:
                    return False
            return False

        return kill_strays(self.records, still_running)

    def worker_pids(self) -> dict[str, int]:
        """Job id -> pid of its solver process, for the jobs now solving in a child process."""
        with self._lock:
            return {j: p.pid for j, p in self._procs.items() if p.pid is not None and p.is_alive()}

    def shutdown(self, wait: bool = False) -> None:
        """Signal running jobs to stop and release the worker threads (the app's shutdown).

        Jobs that were running are marked failed on the next start; jobs that were only waiting
        stay ``accepted`` and run after the next start. A later :meth:`submit` starts a
        fresh pool, so an app whose lifespan runs twice (tests) keeps working.
        """
        for ev in list(self._cancel.values()):
            ev.set()
        with self._lock:
            procs = list(self._procs.values())
        for proc in procs:
            stop_process(proc)
        with self._lock:
            ex, self._executor = self._executor, None
        if ex is not None:
            ex.shutdown(wait=wait, cancel_futures=True)
        for job_id, fut in list(self._futures.items()):
            if fut.cancelled() and self._cancel.pop(job_id, None) is not None:  # never started
                self._futures.pop(job_id, None)
                self._slots.release()  # it stays accepted: the next start runs it (:meth:`resume`)

    # -- worker -----------------------------------------------------------------------------
    def _ended_elsewhere(self, job_id: str, ev: threading.Event) -> bool:
        """True, and ``ev`` set, when the stored job already ended without this worker: another
        replica on the same store dismissed it (its cancel event lives in that process only), or
        the job record is gone. The store, not this process's memory, is the truth."""
        try:
            status = self.store.get_job(job_id).status
        except NotFound:
            status = "dismissed"
        if status in TERMINAL:
            if not ev.is_set():
                log.info("job ended elsewhere; stopping its runner", extra={"job_id": job_id, "status": status})
            ev.set()
            return True
        return False

    def _write(self, job_id: str, ev: threading.Event, **fields: Any) -> bool:
        """Write ``fields`` unless the job was dismissed meanwhile, here (``ev``) or by another
        replica (the stored status is re-read first); True when written."""
        with self._lock:
            if ev.is_set():
                return False
            try:  # atomic: never overwrites a job another replica ended meanwhile
                self.store.update_job(job_id, only_if_status=ACTIVE, **fields)
            except (Conflict, NotFound):
                self._ended_elsewhere(job_id, ev)
                ev.set()
                return False
            return True

    def _run(self, job_id: str) -> None:
        ev = self._cancel.get(job_id) or threading.Event()
        try:
            if ev.is_set():
                return
            job = self.store.get_job(job_id)
            if not self._write(job_id, ev, **running_fields()):
                return
            ds = self.load_dataset(job.dataset_id)
            previous = None
            prev_id = job.params.get("previous_job_id")
            if prev_id:
                prev = self.store.get_job(prev_id)
                if prev.status != "successful" or prev.result is None:
                    raise ValueError(f"previous job '{prev_id}' has no result (status {prev.status})")
                previous = prev.result
            last = [0.0, -1.0]  # time of last write, percent written
            checked = [time.monotonic()]  # time of the last look at the stored status

            def progress(percent: float, message: str = "") -> None:
                if ev.is_set():
                    return
                now = time.monotonic()
                if now - checked[0] >= STORE_CHECK_S:  # dismissed by another replica? sets ev
                    checked[0] = now
                    if self._ended_elsewhere(job_id, ev):
                        return
                pct = max(0.0, min(99.0, float(percent)))
                if pct - last[1] >= 1.0 or now - last[0] >= 0.5:
                    last[:] = [now, pct]
                    fields: dict[str, Any] = {"progress": round(pct, 1)}
                    if message:
                        fields["message"] = str(message)[:500]
                    self._write(job_id, ev, **fields)

            extra = {}
            if job.params.get("mode") == "road" and self.load_network is not None:
                extra["network"] = self.load_network(job.dataset_id)  # built once per dataset version
            spec = JOB_KINDS.get(job.kind)
            if spec is not None and spec.inputs is not None:
                extra.update(spec.inputs(self.store, job))
            runner = self.runners[job.kind]
            if self.isolation == "process" and getattr(runner, "run_in_process", False):
                result = self._run_in_process(job_id, ev, runner, ds, job.params, previous, extra, progress,
                                              checked)
            else:
                result = runner(ds, job.params, previous, progress, ev, **extra)
            if self._write(job_id, ev, **success_fields(result)):
                log.info("job successful", extra={"job_id": job_id})
        except Exception as e:  # a failed solve is a job state, not a crash of the service
            if ev.is_set() or isinstance(e, JobCancelled):
                return  # dismissed: the status was written by cancel()
            ref = uuid.uuid4().hex[:12]
            log.exception("job failed", extra={"job_id": job_id, "reference": ref})
            title, detail = public_failure(getattr(e, "title", type(e).__name__), str(e) or type(e).__name__, ref)
            try:
                extra = {"params": {"ref": ref}} if title == "SolverError" else {}
                self._write(job_id, ev, **failure_fields(title, detail, **extra))
            except NotFound:
                pass
        finally:
            self._futures.pop(job_id, None)
            if self._cancel.pop(job_id, None) is not None:
                self._slots.release()


    def _run_in_process(self, job_id: str, ev: threading.Event, runner: Runner, ds: Dataset,
                        params: dict[str, Any], previous: dict[str, Any] | None, extra: dict[str, Any],
                        progress: Callable[..., None], checked: list[float]) -> dict[str, Any]:
        """Solve in a child process (:func:`run_in_child`), stopped on cancel here or elsewhere."""

        def launch(proc) -> None:
            with self._lock:  # a cancel() now either sees the process or has set ev already
                if ev.is_set():
                    raise JobCancelled(job_id)
                proc.start()
                self._procs[job_id] = proc

        def should_stop() -> bool:
            if ev.is_set():
                return True
            now = time.monotonic()
            if now - checked[0] >= STORE_CHECK_S:  # dismissed by another replica?
                checked[0] = now
                return self._ended_elsewhere(job_id, ev)
            return False

        try:
            return run_in_child(runner, ds, params, previous, progress, should_stop, extra=extra,
                                launch=launch, name=f"geo-job-{job_id[:8]}",
                                record=(lambda proc: self.records.add(job_id, proc.pid)) if self.records else None)
        finally:
            with self._lock:
                self._procs.pop(job_id, None)
            if self.records is not None:
                self.records.remove(job_id)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_storable(params: dict[str, Any]) -> None:
    """``ValueError`` naming the field when ``params`` hold a value a job record cannot carry (a
    whole number beyond 64 bits): nothing is stored that the job list could not show again."""
    def walk(v: Any, path: str) -> None:
        if isinstance(v, bool) or v is None:
            return
        if isinstance(v, int):
            if not in_int64(v):
                raise ValueError(f"{path or 'params'} is a whole number beyond the 64-bit range")
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


__all__ = ["ACTIVE", "DEFAULT_RUNNERS", "JOB_KINDS", "JobCancelled", "JobFailed", "JobKind", "JobManager", "run_roster_job",
           "OVERRUN_GRACE_S", "PROCESS_START", "TERMINATE_GRACE_S",
           "QueueFull", "Runner", "TERMINAL", "check_storable", "default_runners", "review_inputs", "run_review_job",
           "fail_unfinished", "failure_fields",
           "hard_deadline_s", "new_job", "register_kind", "run_in_child", "run_optimisation_job",
           "running_fields", "solver_params", "success_fields", "summary_message"]
