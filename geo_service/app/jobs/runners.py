"""The service's job kinds, each a runner beside its siblings and registered right after it.

A new kind is one more block here: ``runner(ds, params, previous, progress, cancel, **extra) -> dict``
(a JSON-ready result; ``progress(percent, message="")`` takes 0-100), then
``register_kind(name, runner, ParamsModel)`` (:func:`geo_service.app.jobs.kinds.register_kind`)
and ``runner.run_in_process = True`` when it solves in a child process of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pandas as pd

from geo_service.core.dataset import Dataset
from geo_service.core.store import JobRecord, Store
from solvers.ledger_plan import annotate_result
from solvers.pipeline import OptimisationParams, run_optimisation
from solvers.roster import RosterParams, plan_roster
from solvers.review import REVIEW_COLUMNS, ReviewModel, ReviewParams
from solvers.roster.outputs import roster_outcome

from .kinds import Runner, default_runners, register_kind, solver_params


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
    """Runner for kind ``review`` (一年一考评): :class:`solvers.review.ReviewModel` of the year's ledger
    rows (``ledger``, from :func:`review_inputs`) for every member of ``ds``; a set ``cancel`` stops
    it (:class:`solvers.model.Cancelled`) like every other kind."""
    p = ReviewParams.model_validate(solver_params(params))
    frame = ledger if ledger is not None else pd.DataFrame(columns=["id", *REVIEW_COLUMNS])
    model = ReviewModel.from_dataset(ds, p, activities=frame)
    res = model.solve(should_stop=cancel.is_set, progress=lambda f, msg="": progress(100.0 * float(f), msg))
    return res.to_dict()  # a computation, not an optimisation: no status, objective or bound


register_kind("review", run_review_job, ReviewParams, inputs=review_inputs)
run_review_job.run_in_process = True  # type: ignore[attr-defined]


#: kept for callers of the earlier name; :func:`default_runners` follows later registrations
DEFAULT_RUNNERS: dict[str, Runner] = default_runners()


__all__ = ["DEFAULT_RUNNERS", "review_inputs", "run_optimisation_job", "run_review_job", "run_roster_job"]
