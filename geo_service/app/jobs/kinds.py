"""The registry of job kinds: a kind is a runner function plus the pydantic model of its parameters.

:func:`register_kind` adds one to :data:`JOB_KINDS`; the service's own kinds are registered beside
their runners in :mod:`geo_service.app.jobs.runners`, where a new kind goes (a runner and one
``register_kind`` line). :func:`default_runners` is what a
:class:`~geo_service.app.jobs.manager.JobManager` runs unless told otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from geo_service.core.errors import invalid_from_validation
from geo_service.core.store import JobRecord, Store

Runner = Callable[..., dict[str, Any]]

#: keys the API and the batches add to a job's params that are not solver parameters
API_PARAM_KEYS = ("previous_job_id", "dataset_version", "batch_id", "params_fingerprint", "ledger_plan")


def solver_params(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` without the API's own keys (what a kind's params model validates)."""
    return {k: v for k, v in params.items() if k not in API_PARAM_KEYS}


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
        """``params`` validated by the kind's model (:class:`~geo_service.core.errors.InvalidParameter`
        naming ``params`` and the kind otherwise),
        JSON-ready, with the API's own keys (:data:`API_PARAM_KEYS`) kept as they were."""
        if self.params_model is None:
            return dict(params)
        own = {k: params[k] for k in API_PARAM_KEYS if k in params}
        try:
            checked = self.params_model.model_validate(solver_params(params)).model_dump(mode="json")
        except Exception as e:  # pydantic.ValidationError: one clear line
            raise invalid_from_validation(e, "params", f"invalid {self.name} parameters: {e}") from e
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


__all__ = ["API_PARAM_KEYS", "JOB_KINDS", "JobKind", "Runner", "default_runners", "register_kind", "solver_params"]
