"""In-memory cache of datasets and their lookup structures, keyed by dataset version.

The nearest-station hot path must not touch the database per request: a :class:`DatasetEntry`
holds the validated :class:`~geo_service.core.dataset.Dataset` of one version, and builds its
``StationIndex`` (straight line) and ``RoadNetwork`` (road mode) once, on first use. The cache
re-checks the catalog version of a dataset at most every ``check_interval_s`` seconds (so a CLI
import into the same store is picked up), and the API invalidates entries it writes itself.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache

from geo_service.core.dataset import Dataset
from geo_service.core.index import StationIndex
from geo_service.core.network import RoadNetwork
from geo_service.core.store import DatasetInfo, Store


@dataclass
class DatasetEntry:
    """One dataset version and its lazily built lookup structures."""

    info: DatasetInfo
    ds: Dataset
    checked_at: float = field(default_factory=time.monotonic)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _built: dict[str, Any] = field(default_factory=dict, repr=False)

    def _get(self, name: str, build):
        obj = self._built.get(name)
        if obj is None:
            with self._lock:
                obj = self._built.get(name)
                if obj is None:
                    obj = build(self.ds)
                    self._built[name] = obj
        return obj

    def has(self, name: str) -> bool:
        """True when ``name`` (``station_index``, ``network``, a memo) is already built."""
        return name in self._built

    @property
    def station_index(self):
        """``geo_service.core.index.StationIndex`` of this version (built on first use)."""
        return self._get("station_index", StationIndex.from_dataset)

    @property
    def network(self):
        """``geo_service.core.network.RoadNetwork`` of this version (built on first use)."""
        return self._get("network", RoadNetwork.from_dataset)

    def memo(self, name: str, build, max_items: int = 32):
        """Any other derived object of this version, built once by ``build(ds)``; at most
        ``max_items`` memos are kept (the oldest is dropped)."""
        obj = self._get(name, build)
        memos = [k for k in self._built if k not in ("station_index", "network")]
        for k in memos[:-max_items]:
            self._built.pop(k, None)
        return obj


class DatasetCache:
    """LRU of :class:`DatasetEntry` per dataset id (at most ``size`` entries), thread-safe."""

    def __init__(self, store: Store, size: int = 8, check_interval_s: float = 2.0):
        self.store = store
        self.size = size
        self.check_interval_s = check_interval_s
        self._entries: LRUCache[str, DatasetEntry] = LRUCache(maxsize=size)  # drops the least recently used
        self._lock = threading.Lock()

    def get(self, dataset_id: str) -> DatasetEntry:
        """The current entry of ``dataset_id`` (raises ``NotFound``/``ValueError`` like the store)."""
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(dataset_id)  # a hit becomes the most recently used
            if entry is not None and now - entry.checked_at < self.check_interval_s:
                return entry
        info = self.store.dataset_info(dataset_id)
        if entry is not None and entry.info.version == info.version:
            entry.checked_at = now
            return entry
        ds = self.store.get_dataset(dataset_id)
        info = self.store.dataset_info(dataset_id)  # the version we actually read
        entry = DatasetEntry(info, ds, checked_at=now)
        with self._lock:
            self._entries[dataset_id] = entry
        return entry

    def peek(self, dataset_id: str) -> DatasetEntry | None:
        """The entry of ``dataset_id`` when it was checked within ``check_interval_s``, else None
        (never touches the store: safe to call on the event loop)."""
        with self._lock:
            entry = self._entries.get(dataset_id)
        if entry is not None and time.monotonic() - entry.checked_at < self.check_interval_s:
            return entry
        return None

    def put(self, info: DatasetInfo, ds: Dataset) -> DatasetEntry:
        """Record a version the API has just written."""
        entry = DatasetEntry(info, ds)
        with self._lock:
            self._entries[info.id] = entry
        return entry

    def invalidate(self, dataset_id: str) -> None:
        with self._lock:
            self._entries.pop(dataset_id, None)
