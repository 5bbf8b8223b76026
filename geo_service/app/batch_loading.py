"""Where a batch's county is loaded: by each Dask worker from the store, or by the driver and shipped.

Loading a county from the store (GeoPackage read + validation, ~50-250 ms) costs as much as
computing it, so when the workers can reach the store they load their own county and the driver
only sends an id (:func:`workers_can_load`). Each worker process opens the store once (cached
here, keyed by its location) and keeps no dataset cache: every county is read once per batch.
Used by :func:`geo_service.app.batch.run_batch`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core.dataset import Dataset
from ..core.io.gpkg import read_gpkg
from ..core.store import PostGISStore, SQLiteStore, Store, sqlalchemy_url

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
        self._owner = None  # a reader owns no jobs; close() has nothing to release
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


__all__ = ["store_location", "workers_can_load"]
