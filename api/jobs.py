"""The API's view of the job runner: :class:`~geo_service.app.jobs.JobManager` and its errors.

The runner itself (worker pool, bounded queue, solver processes terminated on cancel, job kinds and
job records) lives in :mod:`geo_service.app.jobs`, shared with the Dask batches
(:mod:`geo_service.app.batch`). The routers turn :class:`QueueFull` into a 503 with
``Retry-After`` (:mod:`api.routers.jobs`); nothing else about jobs is HTTP-specific.
"""

from __future__ import annotations

from geo_service.app.jobs import (
    ACTIVE,
    JOB_KINDS,
    TERMINAL,
    JobManager,
    QueueFull,
    register_kind,
    solver_params,
)

__all__ = ["ACTIVE", "JOB_KINDS", "JobManager", "QueueFull", "TERMINAL", "register_kind", "solver_params"]
