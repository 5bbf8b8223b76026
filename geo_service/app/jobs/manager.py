"""The API's bounded worker pool over the job kinds, records and solver processes: :class:`JobManager`.

Each job has a supervising worker thread; the solve itself runs in a child process of its own
(:data:`~geo_service.app.children.PROCESS_START`, :func:`~geo_service.app.children.run_in_child`), so
a dismissal or a run far past its ``time_limit_s`` terminates the solver at once and frees the worker
and its core. See :mod:`geo_service.app.jobs` for the queue, restart and replica rules.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from geo_service.core.dataset import Dataset
from geo_service.core.errors import InvalidParameter
from geo_service.core.store import Conflict, JobRecord, NotFound, Store, utcnow

from ..children import JobCancelled, ProcessRecords, kill_strays, public_failure, run_in_child, stop_process
from .kinds import JOB_KINDS, Runner, default_runners
from .records import ACTIVE, TERMINAL, check_storable, fail_unfinished, failure_fields, new_job, running_fields, \
    success_fields

log = logging.getLogger("geo_service.jobs")

#: at most this often (seconds) a progress callback re-reads the job's stored status
STORE_CHECK_S = 0.2


class QueueFull(Exception):
    """The job queue is full; try again after ``retry_after_s`` seconds."""

    def __init__(self, retry_after_s: int):
        super().__init__(f"the job queue is full; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


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
        """Record a new job as ``accepted`` and queue it; raise :class:`QueueFull` when full and
        :class:`~geo_service.core.errors.InvalidParameter` naming ``kind`` or the field of ``params``
        a job record cannot carry."""
        if kind not in self.runners:
            raise InvalidParameter("kind", f"unknown job kind '{kind}' (expected one of {', '.join(self.runners)})",
                                   "unknown_kind", ctx={"expected": ", ".join(self.runners)})
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


__all__ = ["JobManager", "QueueFull", "STORE_CHECK_S"]
