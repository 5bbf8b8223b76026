"""The job runner shared by the API's jobs and the Dask batches: job kinds, job records, solver processes.

One module per job, all importable from here (``from geo_service.app.jobs import ...``):

- **Job kinds** (:mod:`.kinds`: :data:`JOB_KINDS`, :func:`register_kind`): a kind is a runner function
  plus the pydantic model of its parameters. The service's kinds (``optimisation``, ``roster``,
  ``review``) sit in :mod:`.runners`, each runner followed by its ``register_kind`` line; a new kind
  is one more such block there::

      def run_routing_job(ds, params, previous, progress, cancel, network=None):
          p = RoutingParams.model_validate(solver_params(params))
          return RoutingModel.from_dataset(ds, p).solve(should_stop=cancel.is_set).to_dict()

      register_kind("routing", run_routing_job, RoutingParams)
      run_routing_job.run_in_process = True

- **Job records** (:mod:`.records`: :func:`new_job`, :func:`running_fields`, :func:`success_fields`,
  :func:`failure_fields`, :func:`fail_unfinished`): the one place that says what a job's status,
  progress, message, result and error look like at each step, used by :class:`JobManager` (API jobs)
  and by :mod:`geo_service.app.batch` (one record per county), so both read the same.
- **Solver processes** (:mod:`geo_service.app.children`, :func:`run_in_child`): a runner solves in
  a forked child process that relays progress over a pipe, is terminated on cancel or far past its
  time limit, dies with its parent, holds no socket and stops itself at its hard limit.
- :class:`JobManager` (:mod:`.manager`): the API's bounded worker pool over those pieces.

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

from ..children import (
    OVERRUN_GRACE_S,
    PROCESS_START,
    TERMINATE_GRACE_S,
    JobCancelled,
    JobFailed,
    hard_deadline_s,
    run_in_child,
)
from .kinds import API_PARAM_KEYS, JOB_KINDS, JobKind, Runner, default_runners, register_kind, solver_params
from .manager import STORE_CHECK_S, JobManager, QueueFull
from .records import (
    ACTIVE,
    TERMINAL,
    check_storable,
    fail_unfinished,
    failure_fields,
    new_job,
    running_fields,
    success_fields,
    summary_message,
)
from .runners import DEFAULT_RUNNERS, review_inputs, run_optimisation_job, run_review_job, run_roster_job

__all__ = ["ACTIVE", "DEFAULT_RUNNERS", "JOB_KINDS", "JobCancelled", "JobFailed", "JobKind", "JobManager", "run_roster_job",
           "OVERRUN_GRACE_S", "PROCESS_START", "TERMINATE_GRACE_S",
           "QueueFull", "Runner", "TERMINAL", "check_storable", "default_runners", "review_inputs", "run_review_job",
           "fail_unfinished", "failure_fields",
           "hard_deadline_s", "new_job", "register_kind", "run_in_child", "run_optimisation_job",
           "running_fields", "solver_params", "success_fields", "summary_message", "API_PARAM_KEYS", "STORE_CHECK_S"]
