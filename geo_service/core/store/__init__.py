"""Persistent storage of datasets and optimisation jobs.

:class:`Store` (in :mod:`.base`) is the interface; :class:`SQLiteStore` (:mod:`.sqlite`) the
embedded default, :class:`PostGISStore` (:mod:`.postgis`) a PostgreSQL + PostGIS server shared by
several replicas. :func:`open_store` picks one from a directory path or a database URL.
"""

from __future__ import annotations

import os

from .base import (
    DATASET_ID_RE,
    JOB_STATUSES,
    Conflict,
    DatasetInfo,
    JobRecord,
    NotFound,
    RecentDatasets,
    Store,
    StoreError,
    check_dataset_id,
    check_job_fields,
    utcnow,
)
from .postgis import PostGISStore, sqlalchemy_url
from .sqlite import SQLiteStore

POSTGRES_SCHEMES = ("postgresql://", "postgresql+psycopg://", "postgres://")


def open_store(url_or_dir: str | os.PathLike) -> Store:
    """Open a store from a directory path or ``sqlite:///path`` (embedded) or a ``postgresql://``
    URL (PostGIS).

    Parameters
    ----------
    url_or_dir : str or os.PathLike
        Data directory (created if absent), ``sqlite:///<dir>``, or a PostgreSQL URL.

    Returns
    -------
    Store
    """
    s = str(url_or_dir)
    if s.startswith(POSTGRES_SCHEMES):
        return PostGISStore(s)
    if s.startswith("sqlite:///"):
        s = s[len("sqlite:///"):]
    return SQLiteStore(s)


__all__ = [
    "DATASET_ID_RE", "JOB_STATUSES", "POSTGRES_SCHEMES", "Conflict", "DatasetInfo", "JobRecord", "NotFound",
    "PostGISStore", "RecentDatasets", "SQLiteStore", "Store", "StoreError", "check_dataset_id",
    "check_job_fields", "open_store", "sqlalchemy_url", "utcnow",
]
