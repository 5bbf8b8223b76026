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

import fnmatch
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from solvers.pipeline import OptimisationParams, run_optimisation
from solvers.roster import RosterParams, plan_roster, township_committees_from

from ..core._optional import require_distributed
from ..core.coverage import coverage_summary
from ..core.dataset import Dataset
from ..core.errors import InvalidParameter, invalid_from_validation
from ..core.store import Store
from .batch_driver import BatchDriver, _ClusterWatch, _progress_bar, create_county_jobs, open_cluster, plan_batch
from .batch_loading import store_location, workers_can_load
from .batch_records import (
    EXIT_CLUSTER_LOST,
    EXIT_FAILED,
    EXIT_OK,
    LOST,
    BatchReport,
    ClusterLost,
    CountyOutcome,
    batch_jobs,
    batch_summary,
    completed_counties,
    params_fingerprint,
)

DEFAULT_THRESHOLDS_M: tuple[float, ...] = (5000.0, 10000.0, 20000.0)


def check_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """Validated, JSON-ready batch parameters.

    ``{"coverage": {"thresholds_m": [...], "mode": "straight"|"road", ...},
    "optimisation": {...fields of solvers.pipeline.OptimisationParams...},
    "roster": {...fields of solvers.roster.RosterParams...}}``; all optional, and the duty roster
    (一月一轮值) is planned only when ``roster`` is given.
    Raises :class:`~geo_service.core.errors.InvalidParameter` (``params``, a ``ValueError``) naming
    the bad key, before anything is submitted.
    """
    params = dict(params or {})
    bad = set(params) - {"coverage", "optimisation", "roster"}
    if bad:
        raise InvalidParameter("params", f"unknown batch parameter(s) {sorted(bad)}: expected 'coverage', "
                               "'optimisation' and/or 'roster'", "unknown_keys",
                               ctx={"keys": ", ".join(sorted(map(str, bad))), "expected": "coverage, optimisation, roster"})
    cov = dict(params.get("coverage") or {})
    bad = set(cov) - {"thresholds_m", "thresholds_s", "mode", "kinds"}
    if bad:
        raise InvalidParameter("params.coverage", f"unknown coverage parameter(s) {sorted(bad)}: expected "
                               "thresholds_m, thresholds_s, mode, kinds", "unknown_keys",
                               ctx={"keys": ", ".join(sorted(map(str, bad))),
                                    "expected": "thresholds_m, thresholds_s, mode, kinds"})
    cov.setdefault("thresholds_m", list(DEFAULT_THRESHOLDS_M))
    try:
        opt = OptimisationParams.model_validate(params.get("optimisation") or {}).model_dump(mode="json")
    except Exception as e:  # pydantic.ValidationError: one clear line
        raise invalid_from_validation(e, "params.optimisation", f"invalid optimisation parameters: {e}") from e
    out = {"coverage": cov, "optimisation": opt}
    if params.get("roster") is not None:
        try:
            out["roster"] = RosterParams.model_validate(params["roster"]).model_dump(mode="json")
        except Exception as e:  # pydantic.ValidationError: one clear line
            raise invalid_from_validation(e, "params.roster", f"invalid roster parameters: {e}") from e
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


def resolve_dataset_ids(store: Store, patterns: Iterable[str]) -> list[str]:
    """Dataset ids matching ``patterns`` (exact ids or shell globs like ``county-*``), in order, unique.

    An exact id that is not stored is kept (the batch reports it as a failed county); a glob
    that matches nothing raises :class:`~geo_service.core.errors.InvalidParameter` (``datasets``,
    code ``no_match``; a ``ValueError``).
    """
    stored = [i.id for i in store.list_datasets()]
    out: dict[str, None] = {}
    for p in patterns:
        if any(ch in p for ch in "*?["):
            hits = fnmatch.filter(stored, p)
            if not hits:
                raise InvalidParameter("datasets", f"no stored dataset matches {p!r}", "no_match")
            out.update(dict.fromkeys(hits))
        else:
            out[p] = None
    return list(out)


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
    plan = plan_batch(store, dataset_ids, params, check_params, resume=resume, batch_id=batch_id,
                      load_on_workers=load_on_workers)
    report = plan.report
    if not plan.dataset_ids and resume:  # all done already: no cluster needed
        return report
    t_start = time.perf_counter()
    cluster = open_cluster(plan, client, scheduler, n_workers, threads_per_worker, processes, load_on_workers)
    jobs, missing = create_county_jobs(store, plan)
    t0, cpu0 = time.perf_counter(), time.process_time()
    report.startup_s = t0 - t_start
    report.workers = len(cluster.client.scheduler_info().get("workers", {})) or n_workers
    bar, task = _progress_bar(progress, len(plan.dataset_ids))
    driver = BatchDriver(store, plan, cluster, func, jobs, missing, limit=max_in_flight or max(2, 2 * report.workers),
                         on_outcome=on_outcome, bar=bar, task=task)
    driver.watch = _ClusterWatch(cluster.client, driver.keys, no_workers_timeout_s)
    _drive(driver, report, check_every_s, t0, cpu0)
    order = {d: i for i, d in enumerate(plan.dataset_ids)}
    report.outcomes.sort(key=lambda o: order[o.dataset_id])
    return report


def _drive(driver: BatchDriver, report: BatchReport, check_every_s: float, t0: float, cpu0: float) -> None:
    """Run ``driver`` to the end; a lost scheduler (or its connection) is written into ``report``
    as ``cluster_lost``, anything else propagates. Whatever stops it, the batch's time and the
    driver's CPU seconds since ``t0``/``cpu0`` are recorded and no job of it stays accepted or running."""
    from distributed.client import FutureCancelledError  # ~1.2 s to import: only batch runs pay it
    from distributed.comm.core import CommClosedError

    stopped: BaseException | None = None
    try:
        driver.run(check_every_s)
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
        driver.settle(stopped)  # no job of this batch stays accepted/running, whatever stopped it
        driver.close()


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
