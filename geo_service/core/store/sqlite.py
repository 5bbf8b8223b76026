"""Embedded store of datasets and optimisation jobs (SQLite catalog + GeoPackage files).

:class:`SQLiteStore` implements :class:`geo_service.core.store.base.Store`; it is the default (no server):

```
<data_dir>/catalog.sqlite              datasets (id, version, fingerprint, ...) and jobs
<data_dir>/datasets/<id>/v000003.gpkg  one GeoPackage per dataset version (QGIS opens it)
```

Writes are atomic: a new version is written to a temporary file, fsynced and renamed, and only
then does one SQLite transaction point the catalog at it. A process killed at any moment leaves
the catalog pointing at a complete file; leftovers are swept on the next open. A PostGIS store
(see :mod:`geo_service.core.store.postgis`) implements the same interface, chosen by the database URL.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..dataset import Dataset
from ..io.gpkg import read_gpkg, write_gpkg
from .base import (
    Conflict,
    DatasetInfo,
    JobRecord,
    NotFound,
    RecentDatasets,
    Store,
    check_dataset_id,
    check_job_fields,
    utcnow,
)
from .ledger import SQLiteLedger

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: every other instance's jobs count as interrupted
    fcntl = None  # type: ignore[assignment]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    path TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    counts TEXT NOT NULL,
    meta TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    dataset_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL,
    progress REAL NOT NULL,
    message TEXT NOT NULL,
    result TEXT,
    error TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    owner TEXT
);
CREATE INDEX IF NOT EXISTS jobs_dataset ON jobs(dataset_id, created_at);
"""

_JOB_JSON = ("params", "result", "error")


class SQLiteStore(Store):
    """Embedded store under ``data_dir`` (created if absent). Safe to share between threads."""

    def __init__(self, data_dir: str | os.PathLike):
        self.data_dir = Path(data_dir)
        (self.data_dir / "datasets").mkdir(parents=True, exist_ok=True)
        self._db_path = self.data_dir / "catalog.sqlite"
        self._lock = threading.RLock()
        self._cache = RecentDatasets()
        self._owner: _JobOwner | None = None
        self._ledger: SQLiteLedger | None = None
        with self._conn() as con:
            con.executescript(_SCHEMA)
            if "owner" not in {r["name"] for r in con.execute("PRAGMA table_info(jobs)")}:
                con.execute("ALTER TABLE jobs ADD COLUMN owner TEXT")  # catalogs from before job owners
        self._sweep()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.data_dir)!r})"

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self._db_path, timeout=30, isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=FULL")
            con.row_factory = sqlite3.Row
            yield con
        finally:
            con.close()

    def _sweep(self) -> None:
        """Remove temp files and versions the catalog no longer points at (left by a crash)."""
        with self._conn() as con:
            live = {Path(r["path"]).name for r in con.execute("SELECT path FROM datasets")}
        for d in (self.data_dir / "datasets").iterdir():
            if not d.is_dir():
                continue
            for f in d.iterdir():
                if f.name not in live:
                    f.unlink(missing_ok=True)
            if not any(d.iterdir()):
                d.rmdir()

    # -- datasets -----------------------------------------------------------------------------
    @staticmethod
    def _info(row: sqlite3.Row) -> DatasetInfo:
        return DatasetInfo(row["id"], row["version"], row["fingerprint"], json.loads(row["counts"]),
                           row["created_at"], row["updated_at"], json.loads(row["meta"]))

    def list_datasets(self) -> list[DatasetInfo]:
        with self._conn() as con:
            return [self._info(r) for r in con.execute("SELECT * FROM datasets ORDER BY id")]

    def dataset_info(self, dataset_id: str) -> DatasetInfo:
        check_dataset_id(dataset_id)
        with self._conn() as con:
            row = con.execute("SELECT * FROM datasets WHERE id=?", (dataset_id,)).fetchone()
        if row is None:
            raise NotFound(f"no dataset '{dataset_id}'")
        return self._info(row)

    def get_dataset(self, dataset_id: str) -> Dataset:
        check_dataset_id(dataset_id)
        with self._conn() as con:
            row = con.execute("SELECT version, path FROM datasets WHERE id=?", (dataset_id,)).fetchone()
        if row is None:
            raise NotFound(f"no dataset '{dataset_id}'")
        cached = self._cache.get(dataset_id)
        if cached and cached[0] == row["version"]:
            return cached[1]
        ds = read_gpkg(self.data_dir / row["path"], name=dataset_id)
        self._cache[dataset_id] = (row["version"], ds)
        return ds

    def put_dataset(self, dataset_id: str, ds: Dataset, *, expected_version: int | None = None,
                    meta: dict[str, Any] | None = None) -> DatasetInfo:
        check_dataset_id(dataset_id)
        folder = self.data_dir / "datasets" / dataset_id
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".tmp-{uuid.uuid4().hex}.gpkg"
        try:
            write_gpkg(ds, tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            fingerprint = ds.fingerprint()
            counts = json.dumps(ds.counts())
            now = utcnow()
            with self._lock, self._conn() as con:
                con.execute("BEGIN IMMEDIATE")
                try:
                    row = con.execute("SELECT * FROM datasets WHERE id=?", (dataset_id,)).fetchone()
                    current = row["version"] if row else 0
                    if expected_version is not None and expected_version != current:
                        raise Conflict(f"dataset '{dataset_id}' is at version {current}, "
                                       f"not {expected_version}: reload it and apply the change again")
                    version = current + 1
                    final = folder / f"v{version:06d}.gpkg"
                    os.replace(tmp, final)
                    rel = str(final.relative_to(self.data_dir))
                    meta_json = json.dumps(meta if meta is not None else (json.loads(row["meta"]) if row else {}),
                                           ensure_ascii=False)
                    if row:
                        con.execute("UPDATE datasets SET version=?, path=?, fingerprint=?, counts=?, meta=?, "
                                    "updated_at=? WHERE id=?",
                                    (version, rel, fingerprint, counts, meta_json, now, dataset_id))
                    else:
                        con.execute("INSERT INTO datasets VALUES (?,?,?,?,?,?,?,?)",
                                    (dataset_id, version, rel, fingerprint, counts, meta_json, now, now))
                    con.execute("COMMIT")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
            if row:
                (self.data_dir / row["path"]).unlink(missing_ok=True)
            self._cache[dataset_id] = (version, ds)
            return self.dataset_info(dataset_id)
        finally:
            tmp.unlink(missing_ok=True)

    def delete_dataset(self, dataset_id: str) -> None:
        check_dataset_id(dataset_id)
        with self._lock, self._conn() as con:
            row = con.execute("SELECT path FROM datasets WHERE id=?", (dataset_id,)).fetchone()
            if row is None:
                raise NotFound(f"no dataset '{dataset_id}'")
            con.execute("DELETE FROM datasets WHERE id=?", (dataset_id,))
        self.ledger().drop_dataset(dataset_id)  # a dataset's ledger goes with it
        self._cache.pop(dataset_id, None)
        folder = self.data_dir / "datasets" / dataset_id
        for f in folder.glob("*"):
            f.unlink(missing_ok=True)
        if folder.exists():
            folder.rmdir()

    def ledger(self) -> SQLiteLedger:
        """The ledger, in this store's catalog (tables made on first use)."""
        with self._lock:
            if self._ledger is None:
                self._ledger = SQLiteLedger(self._db_path)
            return self._ledger

    def dataset_path(self, dataset_id: str) -> Path:
        """Path of the current GeoPackage of ``dataset_id`` (read-only use, e.g. QGIS)."""
        check_dataset_id(dataset_id)
        with self._conn() as con:
            row = con.execute("SELECT path FROM datasets WHERE id=?", (dataset_id,)).fetchone()
        if row is None:
            raise NotFound(f"no dataset '{dataset_id}'")
        return self.data_dir / row["path"]

    # -- jobs ---------------------------------------------------------------------------------
    @staticmethod
    def _job(row: sqlite3.Row) -> JobRecord:
        d = dict(row)
        d.pop("owner", None)
        for k in _JOB_JSON:
            try:
                d[k] = json.loads(d[k]) if d[k] is not None else None
            except ValueError:  # never let one damaged record break the job list
                d[k] = {"unreadable": f"the stored {k} of this job is not valid JSON"}
        return JobRecord(**d)

    def _owner_id(self) -> str:
        """This instance's owner id for the jobs it writes (taking its owner lock on first use)."""
        with self._lock:
            if self._owner is None:
                self._owner = _JobOwner(self.data_dir / "owners")
            return self._owner.id

    def close(self) -> None:
        """Release the owner lock: this instance's unfinished jobs count as interrupted from now on."""
        with self._lock:
            if self._owner is not None:
                self._owner.release()
                self._owner = None

    def fail_interrupted_jobs(self, reason: str = "interrupted: the service stopped while it ran") -> int:
        """Fail ``accepted``/``running`` jobs whose owning store instance is gone; return how many.

        An owner is gone when its lock file is free (its process exited or closed the store), so a
        second process on the same data directory leaves the first one's running jobs alone."""
        with self._conn() as con:
            owners = {r[0] for r in con.execute("SELECT DISTINCT owner FROM jobs WHERE status IN "
                                                "('accepted', 'running')")}
        mine = self._owner.id if self._owner is not None else None
        folder = self.data_dir / "owners"
        dead = [o for o in owners if o != mine and not _JobOwner.alive(folder, o)]
        if folder.is_dir():  # lock files of exited processes whose jobs all finished
            for f in folder.glob("*.lock"):
                if mine is None or not mine.endswith("/" + f.stem):
                    _JobOwner.alive(folder, f.stem)
        if not dead:
            return 0
        err = json.dumps({"title": "Interrupted", "detail": reason}, ensure_ascii=False)
        marks = ",".join("?" * len(dead))
        with self._lock, self._conn() as con:
            n = con.execute(f"UPDATE jobs SET status='failed', finished_at=?, error=?, message=? WHERE status IN "
                            f"('accepted', 'running') AND (owner IN ({marks}) OR (owner IS NULL AND ?))",
                            (utcnow(), err, reason, *[o for o in dead if o is not None], None in dead)).rowcount
        return int(n)

    def take_over_queued_jobs(self, kinds: tuple[str, ...] | None = None) -> list[str]:
        """Own the ``accepted`` jobs (not of a batch) of store instances that are gone, so this one
        runs them; return their ids, oldest first. ``kinds``: only jobs of these kinds."""
        with self._conn() as con:
            rows = con.execute("SELECT id, kind, owner, params FROM jobs WHERE status='accepted' "
                               "ORDER BY created_at").fetchall()
        mine = self._owner_id()
        folder = self.data_dir / "owners"
        alive: dict[str | None, bool] = {}
        ids = []
        for r in rows:
            o = r["owner"]
            if o == mine or (kinds is not None and r["kind"] not in kinds):
                continue
            if o not in alive:
                alive[o] = o is not None and _JobOwner.alive(folder, o)
            params = json.loads(r["params"]) if r["params"] else {}
            if not alive[o] and not (isinstance(params, dict) and params.get("batch_id")):
                ids.append(r["id"])
        taken = []
        with self._lock, self._conn() as con:
            for job_id in ids:
                if con.execute("UPDATE jobs SET owner=? WHERE id=? AND status='accepted'",
                               (mine, job_id)).rowcount:
                    taken.append(job_id)
        return taken

    def create_job(self, job: JobRecord) -> JobRecord:
        d = job.to_dict()
        for k in _JOB_JSON:
            d[k] = json.dumps(d[k], ensure_ascii=False) if d[k] is not None else None
        d["owner"] = self._owner_id()
        cols = ",".join(d)
        with self._lock, self._conn() as con:
            con.execute(f"INSERT INTO jobs ({cols}) VALUES ({','.join('?' * len(d))})", tuple(d.values()))
        return job

    def update_job(self, job_id: str, *, only_if_status: tuple[str, ...] | None = None,
                   **fields: Any) -> JobRecord:
        check_job_fields(fields)
        vals = {k: (json.dumps(v, ensure_ascii=False) if k in _JOB_JSON and v is not None else v)
                for k, v in fields.items()}
        if fields.get("status") in ("accepted", "running"):
            vals["owner"] = self._owner_id()  # whoever runs it owns it
        with self._lock, self._conn() as con:
            if vals:
                sets = ",".join(f"{k}=?" for k in vals)
                q, args = f"UPDATE jobs SET {sets} WHERE id=?", (*vals.values(), job_id)
                if only_if_status is not None:
                    q += f" AND status IN ({','.join('?' * len(only_if_status))})"
                    args = (*args, *only_if_status)
                if con.execute(q, args).rowcount == 0:
                    row = con.execute("SELECT status FROM jobs WHERE id=?", (job_id,)).fetchone()
                    if row is None:
                        raise NotFound(f"no job '{job_id}'")
                    raise Conflict(f"job '{job_id}' is {row['status']}, not one of {list(only_if_status or ())}")
        return self.get_job(job_id)

    def create_jobs(self, jobs: Sequence[JobRecord]) -> list[JobRecord]:
        """Create ``jobs`` in one transaction (one WAL sync instead of one per job)."""
        rows = []
        for job in jobs:
            d = job.to_dict()
            for k in _JOB_JSON:
                d[k] = json.dumps(d[k], ensure_ascii=False) if d[k] is not None else None
            d["owner"] = self._owner_id()
            rows.append(d)
        if rows:
            q = f"INSERT INTO jobs ({','.join(rows[0])}) VALUES ({','.join('?' * len(rows[0]))})"
            with self._lock, self._conn() as con:
                con.execute("BEGIN IMMEDIATE")
                try:
                    con.executemany(q, [tuple(d.values()) for d in rows])
                    con.execute("COMMIT")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
        return list(jobs)

    def update_jobs(self, updates: Mapping[str, Mapping[str, Any]]) -> None:
        """Apply ``{job_id: fields}`` in one transaction (all or none; :class:`NotFound` if a job is
        missing)."""
        stmts = []
        for job_id, fields in updates.items():
            check_job_fields(fields)
            if fields:
                fields = dict(fields)
                if fields.get("status") in ("accepted", "running"):
                    fields["owner"] = self._owner_id()
                vals = [json.dumps(v, ensure_ascii=False) if k in _JOB_JSON and v is not None else v
                        for k, v in fields.items()]
                stmts.append((f"UPDATE jobs SET {','.join(f'{k}=?' for k in fields)} WHERE id=?",
                              (*vals, job_id), job_id))
        if not stmts:
            return
        with self._lock, self._conn() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                for q, args, job_id in stmts:
                    if con.execute(q, args).rowcount == 0:
                        raise NotFound(f"no job '{job_id}'")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def get_job(self, job_id: str) -> JobRecord:
        with self._conn() as con:
            row = con.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None:
            raise NotFound(f"no job '{job_id}'")
        return self._job(row)

    def list_jobs(self, dataset_id: str | None = None, limit: int = 100) -> list[JobRecord]:
        q = "SELECT * FROM jobs"
        args: tuple[Any, ...] = ()
        if dataset_id is not None:
            q += " WHERE dataset_id=?"
            args = (dataset_id,)
        q += " ORDER BY created_at DESC LIMIT ?"
        with self._conn() as con:
            return [self._job(r) for r in con.execute(q, (*args, limit))]

class _JobOwner:
    """Marks the jobs of one :class:`SQLiteStore` instance, like the PostGIS store's advisory lock:
    an exclusive ``flock`` on ``<data_dir>/owners/<token>.lock`` held while the instance lives. The
    id written into the job record is ``host/boot id/pid/token``; liveness is the lock alone (pids
    are reused and differ between containers sharing a volume; a lock dies with its process)."""

    def __init__(self, folder: Path):
        boot = ""
        try:
            boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
        except OSError:
            pass
        self._fh = None
        while True:
            token = uuid.uuid4().hex[:16]
            self.id = f"{socket.gethostname()}/{boot}/{os.getpid()}/{token}"
            self.path = folder / f"{token}.lock"
            if fcntl is None:
                return
            folder.mkdir(parents=True, exist_ok=True)
            fh = open(self.path, "a+")  # noqa: SIM115 - held open for the instance's life
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if os.stat(self.path).st_ino == os.fstat(fh.fileno()).st_ino:
                    self._fh = fh
                    return
            except (BlockingIOError, FileNotFoundError):
                pass
            # a sweep (:meth:`alive`) found the new, not yet locked file and is removing it (it
            # holds the lock: BlockingIOError) or has removed it: take another token
            fh.close()

    def release(self) -> None:
        if self._fh is not None:
            self.path.unlink(missing_ok=True)
            self._fh.close()
            self._fh = None

    @staticmethod
    def alive(folder: Path, owner: str | None) -> bool:
        """True while the instance that wrote ``owner`` holds its lock (False without ``fcntl``)."""
        if owner is None or fcntl is None:
            return False
        path = folder / f"{owner.rsplit('/', 1)[-1]}.lock"
        if not re.fullmatch(r"[0-9a-f]{16}\.lock", path.name):
            return False
        try:
            with open(path, "r+") as fh:  # never creates it: a missing file means a closed owner
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # got it: its owner is gone
                # unlinked while still locked: an owner just creating this file then either fails
                # to lock it or finds it gone and takes another token, never keeps a removed file
                path.unlink(missing_ok=True)
        except FileNotFoundError:
            return False
        except BlockingIOError:
            return True
        return False


