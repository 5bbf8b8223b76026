"""Coverage + optimisation for many counties (one dataset each) on Dask.

A province (~100 county committees) or the country (~2,800) is many independent county problems.
:func:`run_batch` sends each stored dataset to a ``dask.distributed`` cluster (a
``LocalCluster`` by default, or the scheduler at an address), runs :func:`process_county` on it
and writes the outcome back to the store as a job record per county (kind ``"batch"``): the
result on success, the error on failure. A county that fails is reported and does not stop the
others. At most ``max_in_flight`` datasets are loaded and in flight at once, so the driver's
memory does not grow with the number of counties.

Workers load their own county from the store when they can reach it (a PostGIS URL of another
host; any store with a ``LocalCluster`` on this machine), opening it once per worker process,
so the driver (this process) only sends ids, creates the job records in one transaction and
writes each round of finished counties in one more. With a remote cluster and an embedded store
the driver loads each dataset and ships it instead (see ``load_on_workers`` of :func:`run_batch`).

Example::

    from geo_service.store import open_store
    report = run_batch(open_store("var"), ["C001", "C002"], {"optimisation": {"time_limit_s": 30}})
    report.counties_per_minute, report.failed
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from solvers.pipeline import OptimisationParams, run_optimisation

from .._optional import require_distributed
from ..coverage import coverage_summary
from ..dataset import Dataset
from ..io.gpkg import read_gpkg
from ..store import JobRecord, PostGISStore, SQLiteStore, Store, sqlalchemy_url, utcnow

DEFAULT_THRESHOLDS_M: tuple[float, ...] = (5000.0, 10000.0, 20000.0)


def check_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """Validated, JSON-ready batch parameters.

    ``{"coverage": {"thresholds_m": [...], "mode": "straight"|"road", ...},
    "optimisation": {...fields of solvers.pipeline.OptimisationParams...}}``; both optional.
    Raises ``ValueError`` naming the bad key, before anything is submitted.
    """
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
    loaded_on_workers: bool = False  # workers loaded their county from the store (else: shipped)
    driver_cpu_s: float = 0.0  # CPU seconds of this process during elapsed_s (with a LocalCluster: + scheduler)

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
                "startup_s": round(self.startup_s, 3), "loaded_on_workers": self.loaded_on_workers,
                "driver_cpu_s": round(self.driver_cpu_s, 3),
                "counties": len(self.outcomes),
                "succeeded": len(self.succeeded), "failed": len(self.failed),
                # finished, but with no feasible plan: not to be counted as plain successes
                "infeasible": sum(o.result_status == "infeasible" for o in self.succeeded),
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


# -- where a county is loaded -------------------------------------------------------------------
#
# Loading a county from the store (GeoPackage read + validation, ~50-250 ms) costs as much as
# computing it, so when the workers can reach the store they load their own county and the
# driver only sends an id. Each worker process opens the store once (cached here, keyed by its
# location) and keeps no dataset cache: every county is read once per batch.

_WORKER_STORES: dict[tuple[str, ...], Store] = {}
_WORKER_STORES_LOCK = threading.Lock()


class _SQLiteReader(SQLiteStore):
    """An embedded store opened for reading by a worker on the same machine.

    Unlike ``SQLiteStore(data_dir)`` it neither creates the schema nor sweeps leftover files
    (that is the owner's job, and a sweep could delete a version a writer has just renamed into
    place), and it caches no datasets. SQLite in WAL mode lets it read while the driver writes.
    """

    def __init__(self, data_dir: str | os.PathLike):
        self.data_dir = Path(data_dir)
        self._db_path = self.data_dir / "catalog.sqlite"
        self._lock = threading.RLock()
        self._cache = {}
        if not self._db_path.exists():
            raise FileNotFoundError(f"no store catalog at {self._db_path} (is the data dir on this machine?)")

    def get_dataset(self, dataset_id: str) -> Dataset:
        return read_gpkg(self.dataset_path(dataset_id), name=dataset_id)


def store_location(store: Store) -> tuple[str, ...] | None:
    """How another process reopens ``store``: ``("sqlite", data_dir)``, ``("postgis", url, schema)``,
    or ``None`` for a store it cannot open by itself."""
    if isinstance(store, SQLiteStore):
        return ("sqlite", str(Path(store.data_dir).resolve()))
    url, schema = getattr(store, "url", None), getattr(store, "schema", None)
    if isinstance(url, str) and url.startswith(("postgresql", "postgres://")) and isinstance(schema, str):
        return ("postgis", url, schema)
    return None


def _worker_store(location: tuple[str, ...]) -> Store:
    """The store at ``location``, opened once per worker process."""
    with _WORKER_STORES_LOCK:
        store = _WORKER_STORES.get(location)
        if store is None:
            if location[0] == "sqlite":
                store = _SQLiteReader(location[1])
            else:
                store = PostGISStore(location[1], schema=location[2], pool_size=1)
            _WORKER_STORES[location] = store
        return store


def _forget_worker_store(location: tuple[str, ...]) -> None:
    """Close and drop the cached store at ``location`` in this process (if any)."""
    with _WORKER_STORES_LOCK:
        store = _WORKER_STORES.pop(location, None)
    if store is not None:
        store.close()


def _load_and_run(location: tuple[str, ...], dataset_id: str,
                  func: Callable[[Dataset, dict[str, Any]], dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """On a worker: load ``dataset_id`` from the store at ``location`` and run ``func`` on it."""
    store = _worker_store(location)
    ds = store.get_dataset(dataset_id)
    store.forget_cached(dataset_id)  # a worker reads each county once: do not keep it in memory
    return func(ds, params)


def _warm_up(location: tuple[str, ...] | None = None) -> None:
    """Load this module on a worker (which imports the solvers, OR-Tools and geopandas) and open the
    store there, before the first county is timed."""
    if location is not None:
        _worker_store(location)


def _is_local_cluster(client: Any) -> bool:
    """Whether ``client``'s workers run on this machine (a ``LocalCluster``)."""
    from distributed import LocalCluster  # ~1.2 s to import: only batch runs pay it (the "batch" extra)

    return isinstance(getattr(client, "cluster", None), LocalCluster)


def workers_can_load(location: tuple[str, ...] | None, client: Any) -> bool:
    """Whether ``client``'s workers can open the store at ``location`` (see :func:`store_location`).

    Yes on a ``LocalCluster`` of this machine (an embedded data dir is safe to read there: SQLite
    WAL readers); on another cluster only for a PostGIS URL whose host is not this machine
    (``localhost``, a loopback address or a Unix socket mean something else on a worker host).
    """
    if location is None:
        return False
    if _is_local_cluster(client):
        return True
    if location[0] != "postgis":
        return False
    from sqlalchemy.engine import make_url  # ~0.3 s to import: only for a PostGIS store

    host = make_url(sqlalchemy_url(location[1])).host or ""
    return bool(host) and host != "localhost" and not host.startswith(("127.", "::1", "/"))


def _client(scheduler: str | None, n_workers: int, threads_per_worker: int, processes: bool):
    """A distributed Client (and the LocalCluster it owns, or None) for the arguments."""
    require_distributed()
    from distributed import Client, LocalCluster  # ~1.2 s to import: only batch runs pay it

    if scheduler:
        return Client(scheduler), None
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker, processes=processes,
                           dashboard_address=None, silence_logs=40)
    return Client(cluster), cluster


def run_batch(store: Store, dataset_ids: Sequence[str], params: dict[str, Any] | None = None, *,
              client: Any = None, scheduler: str | None = None, n_workers: int = 2,
              threads_per_worker: int = 1, processes: bool = True, max_in_flight: int | None = None,
              progress: bool = True, func: Callable[[Dataset, dict[str, Any]], dict[str, Any]] = process_county,
              on_outcome: Callable[[CountyOutcome], None] | None = None,
              load_on_workers: bool | None = None) -> BatchReport:
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

    Each county gets a job record (kind ``batch``), all created in one transaction as ``accepted``
    (a dataset id that is not stored fails at once); ``running`` when submitted, then
    ``successful`` with the result dict or ``failed`` with ``{title, detail, traceback}``. Writes
    are batched: one transaction per round of finished counties, which also marks the counties
    submitted next as ``running``. A dataset that cannot be loaded fails alone. ``progress`` shows
    a bar on stderr; ``on_outcome`` is called as each county finishes (after its job is written).
    ``report.elapsed_s`` runs from the moment the workers are up (cluster start-up is
    ``report.startup_s``). ``params`` are checked first (:func:`check_params`) so bad parameters
    fail the batch before anything runs.
    """
    require_distributed()
    from distributed import as_completed  # ~1.2 s to import: only batch runs pay it

    params = check_params(params)
    location = store_location(store)
    if load_on_workers and location is None:
        raise ValueError(f"load_on_workers=True, but workers cannot open {store!r}: "
                         "use load_on_workers=False (the driver ships each dataset)")
    batch_id = uuid.uuid4().hex[:12]
    report = BatchReport(batch_id)
    stored = {i.id for i in store.list_datasets()}
    jobs: dict[str, JobRecord] = {}
    missing: dict[str, dict[str, Any]] = {}
    for did in dataset_ids:
        job = JobRecord(id=f"batch-{batch_id}-{uuid.uuid4().hex[:8]}", dataset_id=did, kind="batch",
                        params={**params, "batch_id": batch_id})
        if did not in stored:  # fails at once, with the store's own words (NotFound or a bad id)
            try:
                store.dataset_info(did)
                stored.add(did)  # stored since the listing
            except Exception as e:  # noqa: BLE001 - reported per county
                missing[did] = err = _error_dict(e)
                job.status, job.progress, job.finished_at = "failed", 100.0, utcnow()
                job.error, job.message = err, f"could not load the dataset: {err['detail']}"
        jobs[did] = job
    store.create_jobs(list(jobs.values()))

    own_client = client is None
    t_start = time.perf_counter()
    if own_client:
        client, cluster = _client(scheduler, n_workers, threads_per_worker, processes)
    else:
        cluster = None
    if load_on_workers is None:
        load_on_workers = workers_can_load(location, client)
    report.loaded_on_workers = bool(load_on_workers)
    try:
        if own_client:
            client.wait_for_workers(1 if scheduler else n_workers, timeout=120)
        # import the solvers (and open the store) on every worker now, not inside the first county
        client.run(_warm_up, location if load_on_workers else None)
    except BaseException:
        if own_client:
            client.close()
            if cluster is not None:
                cluster.close()
        raise
    t0, cpu0 = time.perf_counter(), time.process_time()
    report.startup_s = t0 - t_start
    report.workers = len(client.scheduler_info().get("workers", {})) or n_workers
    limit = max_in_flight or max(2, 2 * report.workers)
    bar, task = _progress_bar(progress, len(dataset_ids))
    writes: dict[str, dict[str, Any]] = {}  # job updates of this round, written in one transaction
    done: list[CountyOutcome] = []

    def finish(outcome: CountyOutcome, **job_fields: Any) -> None:
        writes[outcome.job_id] = {"status": outcome.status, "progress": 100.0, "finished_at": utcnow(),
                                  **job_fields}
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

    def submit_next(ac) -> None:
        while pending and len(futures) < limit:
            did = pending.pop(0)
            job = jobs[did]
            if did in missing:
                err = missing[did]
                outcome = CountyOutcome(did, job.id, "failed", error=f"{err['title']}: {err['detail']}")
                done.append(outcome)  # its job was created failed
                continue
            if load_on_workers:
                fut = client.submit(_load_and_run, location, did, func, params, key=f"county-{did}-{batch_id}",
                                    pure=False)
            else:
                try:
                    ds = store.get_dataset(did)
                except Exception as e:  # noqa: BLE001 - reported per county
                    err = _error_dict(e)
                    finish(CountyOutcome(did, job.id, "failed", error=f"{err['title']}: {err['detail']}"),
                           error=err, message=f"could not load the dataset: {err['detail']}")
                    continue
                fut = client.submit(func, ds, params, key=f"county-{did}-{batch_id}", pure=False)
            writes[job.id] = {"status": "running", "started_at": utcnow(), "message": "submitted to Dask"}
            futures[fut] = did
            ac.add(fut)

    try:
        if bar is not None:
            bar.start()
        ac = as_completed([])
        submit_next(ac)
        flush()
        for finished in ac.batches():  # every county that finished since the last round
            for fut in finished:
                did = futures.pop(fut)
                job = jobs[did]
                if fut.status == "error":
                    err = _error_dict(fut.exception())
                    finish(CountyOutcome(did, job.id, "failed", error=f"{err['title']}: {err['detail']}"),
                           error=err, message=f"failed: {err['detail']}")
                else:
                    res = fut.result()
                    finish(CountyOutcome(did, job.id, "successful", result_status=res.get("status"),
                                         time_s=res.get("time_s")),
                           result=res, message=f"done: {res.get('status')}")
                fut.release()
            submit_next(ac)
            flush()
    finally:
        report.elapsed_s = time.perf_counter() - t0
        report.driver_cpu_s = time.process_time() - cpu0
        if bar is not None:
            bar.stop()
        if own_client:
            if load_on_workers and location is not None:
                with contextlib.suppress(Exception):  # worker threads of processes=False live here
                    client.run(_forget_worker_store, location)
            client.close()
            if cluster is not None:
                cluster.close()
    order = {d: i for i, d in enumerate(dataset_ids)}
    report.outcomes.sort(key=lambda o: order[o.dataset_id])
    return report


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


__all__ = ["BatchReport", "CountyOutcome", "check_params", "process_county", "resolve_dataset_ids",
           "run_batch", "store_location", "store_province", "workers_can_load"]
