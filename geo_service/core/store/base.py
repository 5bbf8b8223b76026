"""Store interface, its records and errors, shared by the SQLite and PostGIS stores.

:class:`Store` is the interface of a store of named datasets and optimisation jobs;
:class:`DatasetInfo` and :class:`JobRecord` are what it returns; :class:`NotFound` and
:class:`Conflict` what it raises. The implementations live in :mod:`geo_service.core.store.sqlite`
(embedded, the default) and :mod:`geo_service.core.store.postgis` (a PostgreSQL server).
"""

from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from cachetools import LRUCache

from ..dataset import Dataset
from ..errors import InvalidDatasetId

DATASET_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
JOB_STATUSES = ("accepted", "running", "successful", "failed", "dismissed")


class RecentDatasets:
    """Recently read datasets, ``id -> (version, Dataset)``, at most ``max_entries`` (least recently
    used dropped first), so a process serving thousands of counties does not hold them all."""

    def __init__(self, max_entries: int = 16):
        self.max_entries = max_entries
        self._data: LRUCache[str, tuple[int, Dataset]] = LRUCache(maxsize=max_entries)
        self._lock = threading.Lock()

    def get(self, dataset_id: str) -> tuple[int, Dataset] | None:
        with self._lock:
            return self._data.get(dataset_id)  # a hit becomes the most recently used

    def __setitem__(self, dataset_id: str, value: tuple[int, Dataset]) -> None:
        with self._lock:
            self._data[dataset_id] = value  # the least recently used beyond max_entries is dropped

    def pop(self, dataset_id: str, default: Any = None) -> Any:
        with self._lock:
            return self._data.pop(dataset_id, default)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class StoreError(Exception):
    """Base class for store errors."""


class NotFound(StoreError, KeyError):
    """No dataset or job with that id."""

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0]) if self.args else ""


class Conflict(StoreError):
    """The expected version (ETag / If-Match) does not match the stored one."""


def check_dataset_id(dataset_id: str) -> str:
    """Return ``dataset_id`` if it is a safe id (letters, digits, ``_``, ``-``; 1-64 chars), else
    raise :class:`~geo_service.core.errors.InvalidDatasetId` (a ``ValueError``)."""
    if not isinstance(dataset_id, str) or not DATASET_ID_RE.fullmatch(dataset_id):
        raise InvalidDatasetId(dataset_id, f"invalid dataset id {dataset_id!r}: use 1-64 letters, digits, '_' "
                                           "or '-', starting with a letter or digit")
    return dataset_id


def check_job_fields(fields: Mapping[str, Any]) -> None:
    """Raise ValueError for fields a :class:`JobRecord` does not have or an unknown status."""
    bad = set(fields) - (set(JobRecord.__dataclass_fields__) - {"id"})
    if bad:
        raise ValueError(f"unknown job fields: {sorted(bad)}")
    if "status" in fields and fields["status"] not in JOB_STATUSES:
        raise ValueError(f"unknown job status {fields['status']!r}")


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class DatasetInfo:
    """Catalog entry of a stored dataset. ``version`` grows by one on every write."""

    id: str
    version: int
    fingerprint: str
    counts: dict[str, int]
    created_at: str
    updated_at: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def etag(self) -> str:
        return f'"{self.id}-v{self.version}"'

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "etag": self.etag}


@dataclass
class JobRecord:
    """An optimisation (or batch) job. ``status`` follows OGC API - Processes."""

    id: str
    dataset_id: str
    kind: str
    params: dict[str, Any]
    status: str = "accepted"
    progress: float = 0.0
    message: str = ""
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    created_at: str = field(default_factory=utcnow)
    started_at: str | None = None
    finished_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Store(ABC):
    """Interface of a store of named datasets and jobs."""

    # datasets
    @abstractmethod
    def list_datasets(self) -> list[DatasetInfo]: ...

    @abstractmethod
    def dataset_info(self, dataset_id: str) -> DatasetInfo: ...

    @abstractmethod
    def get_dataset(self, dataset_id: str) -> Dataset: ...

    @abstractmethod
    def put_dataset(self, dataset_id: str, ds: Dataset, *, expected_version: int | None = None,
                    meta: dict[str, Any] | None = None) -> DatasetInfo:
        """Store ``ds`` atomically as a new version; with ``expected_version`` raise
        :class:`Conflict` if the stored version differs (0 means "must not exist yet")."""

    @abstractmethod
    def delete_dataset(self, dataset_id: str) -> None: ...

    def has_dataset(self, dataset_id: str) -> bool:
        try:
            self.dataset_info(dataset_id)
            return True
        except NotFound:
            return False

    # jobs
    @abstractmethod
    def create_job(self, job: JobRecord) -> JobRecord: ...

    @abstractmethod
    def update_job(self, job_id: str, *, only_if_status: tuple[str, ...] | None = None,
                   **fields: Any) -> JobRecord:
        """Update ``fields`` of a job. With ``only_if_status`` the write happens atomically only while
        the stored status is one of those, else :class:`Conflict` (so a runner never overwrites a
        job that another process dismissed in the meantime)."""

    def create_jobs(self, jobs: Sequence[JobRecord]) -> list[JobRecord]:
        """Create several jobs; stores override this to write them in one transaction."""
        return [self.create_job(job) for job in jobs]

    def update_jobs(self, updates: Mapping[str, Mapping[str, Any]]) -> None:
        """Apply ``{job_id: fields}`` as :meth:`update_job` would (no ``only_if_status``); stores
        override this to write them in one transaction (all or none)."""
        for job_id, fields in updates.items():
            self.update_job(job_id, **fields)

    @abstractmethod
    def get_job(self, job_id: str) -> JobRecord: ...

    @abstractmethod
    def list_jobs(self, dataset_id: str | None = None, limit: int = 100) -> list[JobRecord]: ...

    def take_over_queued_jobs(self, kinds: tuple[str, ...] | None = None) -> list[str]:
        """Own the ``accepted`` jobs a previous process left waiting, so this one runs them; return
        their ids. Stores that cannot tell a live owner from a gone one take none (they are then
        failed by :meth:`fail_interrupted_jobs`)."""
        return []

    def fail_interrupted_jobs(self, reason: str = "interrupted: the service stopped while it ran") -> int:
        """Mark jobs left ``accepted``/``running`` by a previous process as failed; return how many."""
        n = 0
        for job in self.list_jobs(limit=100_000):
            if job.status in ("accepted", "running"):
                self.update_job(job.id, status="failed", finished_at=utcnow(),
                                error={"title": "Interrupted", "detail": reason}, message=reason)
                n += 1
        return n

    def forget_cached(self, dataset_id: str) -> None:
        """Drop ``dataset_id`` from this store's in-memory cache of recently read datasets (the
        stored data is untouched); a batch worker that reads each county once calls this."""
        cache = getattr(self, "_cache", None)
        if cache is not None:
            cache.pop(dataset_id, None)

    # ledger (activity records, see :mod:`geo_service.core.store.ledger`)
    def ledger(self) -> Any:
        """The ledger of this store's datasets (a :class:`~geo_service.core.store.ledger.Ledger`)."""
        raise StoreError(f"{type(self).__name__} keeps no ledger")

    def close(self) -> None:  # noqa: B027  # pragma: no cover - a store holding nothing to release
        pass
