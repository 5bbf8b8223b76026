"""The resources one app holds: the store (a PostGIS pool or the embedded store), the dataset
cache and the job manager.

:class:`AppResources` opens them at the start of the app's lifespan (or on first use, for a test
client that never runs the lifespan) and closes them at its end: the job manager stops its
workers, and a store the app opened itself is closed (its pool released, its owner lock freed so
another process sees its unfinished jobs as interrupted). A store handed to
:func:`api.app.create_app` belongs to the caller and is left open. Each resource can be used again
after :meth:`AppResources.close` (an app whose lifespan runs twice keeps working).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from starlette.datastructures import State

from geo_service.core.store import Store, open_store

from .cache import DatasetCache
from .jobs import JobManager
from .settings import Settings

log = logging.getLogger("geo_service.api")

#: attributes of ``app.state`` served by :class:`AppResources`
RESOURCE_NAMES = ("store", "cache", "jobs")


class AppResources:
    """Store, dataset cache and job manager of one app, opened once and closed once.

    Parameters
    ----------
    settings : Settings
        Where the store lives (``store_location``), cache size, job workers and queue.
    store : Store, optional
        A store the caller owns (left open by :meth:`close`); default: opened from the settings.
    """

    def __init__(self, settings: Settings, store: Store | None = None):
        self.settings = settings
        self._store = store
        self._owns_store = store is None
        self._cache: DatasetCache | None = None
        self._jobs: JobManager | None = None
        self._lock = threading.RLock()

    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                self._store = open_store(self.settings.store_location)
            return self._store

    @property
    def cache(self) -> DatasetCache:
        with self._lock:
            if self._cache is None:
                self._cache = DatasetCache(self.store, size=self.settings.index_cache_size)
            return self._cache

    @property
    def jobs(self) -> JobManager:
        with self._lock:
            if self._jobs is None:
                s, cache = self.settings, self.cache
                self._jobs = JobManager(self.store, lambda dataset_id: cache.get(dataset_id).ds,
                                        workers=s.job_workers, queue_size=s.job_queue_size,
                                        retry_after_s=s.job_retry_after_s,
                                        load_network=lambda dataset_id: cache.get(dataset_id).network,
                                        process_records=str(Path(s.data_dir) / "job-processes"))
            return self._jobs

    def open(self) -> None:
        """Open every resource now (the lifespan's start)."""
        for name in RESOURCE_NAMES:
            getattr(self, name)

    def close(self) -> None:
        """Stop the job workers, then close the store when this app opened it (the lifespan's end)."""
        with self._lock:
            jobs, store = self._jobs, self._store
        if jobs is not None:
            jobs.shutdown(wait=False)
        if store is not None and self._owns_store:
            try:
                store.close()
            except Exception:  # a broken connection must not keep the process from exiting
                log.exception("closing the store failed")


class ResourceState(State):
    """``app.state`` whose ``store``, ``cache`` and ``jobs`` come from its :class:`AppResources`."""

    def __getattr__(self, key: str) -> Any:
        state = self.__dict__["_state"]
        if key in state:
            return state[key]
        res = state.get("resources")
        if res is not None and key in RESOURCE_NAMES:
            return getattr(res, key)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{key}'")
