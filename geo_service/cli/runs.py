"""Runs made on the command line recorded as jobs in the store, like the API's.

``geo-service optimise`` and ``roster`` on a stored dataset write one job record each (kind
``optimisation`` or ``roster``, the parameters the run used, the dataset version, its result or
its failure), so the web page lists them beside the runs started from the form, and a later
roster follows the committees of the latest run. Runs on a file outside the store are not recorded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..app.jobs import failure_fields, new_job, running_fields, success_fields
from ..core.store import JobRecord, NotFound, Store, open_store
from .common import _data_dir


def stored_dataset_id(source: str | None) -> str | None:
    """The dataset id ``source`` names in the store, or None when it names a file or folder."""
    source = source or "demo"
    return None if Path(source).exists() else source


def start_job(data_dir: str | None, source: str | None, kind: str, params: dict[str, Any]
              ) -> tuple[Store, JobRecord] | None:
    """A ``running`` job record of a CLI run on a stored dataset (None for a file, or when the store
    does not hold the dataset)."""
    dataset_id = stored_dataset_id(source)
    if dataset_id is None:
        return None
    store = open_store(_data_dir(data_dir))
    try:
        version = store.dataset_info(dataset_id).version
    except (NotFound, ValueError):
        return None
    job = store.create_job(new_job(dataset_id, kind, {**params, "dataset_version": version}))
    store.update_job(job.id, **running_fields())
    return store, job


def finish_job(started: tuple[Store, JobRecord] | None, result: dict[str, Any]) -> str | None:
    """Store ``result`` as the job's outcome; its id (None when nothing was recorded)."""
    if started is None:
        return None
    store, job = started
    store.update_job(job.id, **success_fields(result))
    return job.id


def fail_job(started: tuple[Store, JobRecord] | None, title: str, detail: str) -> None:
    """Mark the job failed with ``detail`` (one line in words)."""
    if started is not None:
        store, job = started
        store.update_job(job.id, **failure_fields(title, detail))


__all__ = ["fail_job", "finish_job", "start_job", "stored_dataset_id"]
