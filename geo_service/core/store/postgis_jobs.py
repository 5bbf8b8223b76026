"""The jobs table of the PostGIS store: :class:`PostGISJobs`, mixed into
:class:`~geo_service.core.store.postgis.PostGISStore`.

Rows of ``<schema>.jobs`` are :class:`~geo_service.core.store.base.JobRecord` fields (params,
result and error as JSON text) plus ``owner``, the advisory-lock key of the store instance that
created or last set the job running. An owner whose session lock is free is gone: its queued jobs
may be taken over (:meth:`PostGISJobs.take_over_queued_jobs`) and its unfinished ones failed
(:meth:`PostGISJobs.fail_interrupted_jobs`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from psycopg import sql

from .base import Conflict, JobRecord, NotFound, check_job_fields, utcnow

_JOB_JSON = ("params", "result", "error")
_JOB_FIELDS = tuple(JobRecord.__dataclass_fields__)


def _dumps(v: Any) -> str | None:
    return None if v is None else json.dumps(v, ensure_ascii=False)


def _loads(v: str | None) -> Any:
    return None if v is None else json.loads(v)


class PostGISJobs:
    """Job methods of the PostGIS store; the store gives the connections, table names and the
    owner lock."""

    owner_key: int

    def _conn(self) -> AbstractContextManager[Any]:  # pragma: no cover - given by the store
        raise NotImplementedError

    def _t(self, table: str) -> sql.Identifier:  # pragma: no cover - given by the store
        raise NotImplementedError

    def _hold_owner_lock(self) -> None:  # pragma: no cover - given by the store
        raise NotImplementedError

    # -- jobs ---------------------------------------------------------------------------------
    @staticmethod
    def _job(row: Sequence[Any]) -> JobRecord:
        d = dict(zip(_JOB_FIELDS, row))
        for k in _JOB_JSON:
            d[k] = _loads(d[k])
        d["progress"] = float(d["progress"])
        return JobRecord(**d)

    def create_job(self, job: JobRecord) -> JobRecord:
        self._hold_owner_lock()
        d = job.to_dict()
        for k in _JOB_JSON:
            d[k] = _dumps(d[k])
        cols = [*d, "owner"]
        q = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            self._t("jobs"), sql.SQL(", ").join(map(sql.Identifier, cols)),
            sql.SQL(", ").join(sql.Placeholder() * len(cols)))
        with self._conn() as con:
            con.execute(q, (*d.values(), self.owner_key))
        return job

    def update_job(self, job_id: str, *, only_if_status: tuple[str, ...] | None = None,
                   **fields: Any) -> JobRecord:
        check_job_fields(fields)
        vals: dict[str, Any] = {k: (_dumps(v) if k in _JOB_JSON else v) for k, v in fields.items()}
        if fields.get("status") in ("accepted", "running"):
            self._hold_owner_lock()
            vals["owner"] = self.owner_key  # whoever runs it owns it
        with self._conn() as con:
            if vals:
                q = sql.SQL("UPDATE {} SET {} WHERE id=%s").format(
                    self._t("jobs"), sql.SQL(", ").join(sql.SQL("{}=%s").format(sql.Identifier(k)) for k in vals))
                args: tuple[Any, ...] = (*vals.values(), job_id)
                if only_if_status is not None:
                    q = q + sql.SQL(" AND status = ANY(%s)")
                    args = (*args, list(only_if_status))
                if con.execute(q, args).rowcount == 0:
                    row = con.execute(sql.SQL("SELECT status FROM {} WHERE id=%s").format(self._t("jobs")),
                                      (job_id,)).fetchone()
                    if row is None:
                        raise NotFound(f"no job '{job_id}'")
                    raise Conflict(f"job '{job_id}' is {row[0]}, not one of {list(only_if_status or ())}")
        return self.get_job(job_id)

    def create_jobs(self, jobs: Sequence[JobRecord]) -> list[JobRecord]:
        """Create ``jobs`` in one transaction."""
        rows = []
        for job in jobs:
            d = job.to_dict()
            for k in _JOB_JSON:
                d[k] = _dumps(d[k])
            rows.append((*d.values(), self.owner_key))
        if rows:
            self._hold_owner_lock()
            cols = [*_JOB_FIELDS, "owner"]
            q = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                self._t("jobs"), sql.SQL(", ").join(map(sql.Identifier, cols)),
                sql.SQL(", ").join(sql.Placeholder() * len(cols)))
            with self._conn() as con, con.transaction(), con.cursor() as cur:
                cur.executemany(q, rows)
        return list(jobs)

    def update_jobs(self, updates: Mapping[str, Mapping[str, Any]]) -> None:
        """Apply ``{job_id: fields}`` in one transaction (all or none; :class:`NotFound` if a job is
        missing)."""
        stmts = []
        for job_id, fields in updates.items():
            check_job_fields(fields)
            vals: dict[str, Any] = {k: (_dumps(v) if k in _JOB_JSON else v) for k, v in fields.items()}
            if fields.get("status") in ("accepted", "running"):
                self._hold_owner_lock()
                vals["owner"] = self.owner_key
            if vals:
                q = sql.SQL("UPDATE {} SET {} WHERE id=%s").format(
                    self._t("jobs"), sql.SQL(", ").join(sql.SQL("{}=%s").format(sql.Identifier(k)) for k in vals))
                stmts.append((q, (*vals.values(), job_id), job_id))
        if not stmts:
            return
        with self._conn() as con, con.transaction():
            for q, args, job_id in stmts:
                if con.execute(q, args).rowcount == 0:
                    raise NotFound(f"no job '{job_id}'")

    def get_job(self, job_id: str) -> JobRecord:
        q = sql.SQL("SELECT {} FROM {} WHERE id=%s").format(
            sql.SQL(", ").join(map(sql.Identifier, _JOB_FIELDS)), self._t("jobs"))
        with self._conn() as con:
            row = con.execute(q, (job_id,)).fetchone()
        if row is None:
            raise NotFound(f"no job '{job_id}'")
        return self._job(row)

    def list_jobs(self, dataset_id: str | None = None, limit: int = 100) -> list[JobRecord]:
        q = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(map(sql.Identifier, _JOB_FIELDS)),
                                                self._t("jobs"))
        args: list[Any] = []
        if dataset_id is not None:
            q += sql.SQL(" WHERE dataset_id=%s")
            args.append(dataset_id)
        q += sql.SQL(" ORDER BY created_at DESC LIMIT %s")
        with self._conn() as con:
            return [self._job(r) for r in con.execute(q, (*args, int(limit))).fetchall()]

    def take_over_queued_jobs(self, kinds: tuple[str, ...] | None = None) -> list[str]:
        """Own the ``accepted`` jobs (not of a batch) of store instances that are gone, so this one
        runs them; return their ids, oldest first. ``kinds``: only jobs of these kinds."""
        self._hold_owner_lock()
        with self._conn() as con, con.transaction():
            rows = con.execute(sql.SQL("SELECT id, kind, owner, params FROM {} WHERE status='accepted' "
                                       "ORDER BY created_at").format(self._t("jobs"))).fetchall()
            alive: dict[Any, bool] = {}
            taken = []
            for job_id, kind, owner, params in rows:
                if owner == self.owner_key or (kinds is not None and kind not in kinds):
                    continue
                if owner not in alive:
                    alive[owner] = owner is not None and not con.execute(
                        "SELECT pg_try_advisory_xact_lock(%s)", (owner,)).fetchone()[0]
                if isinstance(params, str):
                    params = json.loads(params)
                if alive[owner] or (isinstance(params, dict) and params.get("batch_id")):
                    continue
                cur = con.execute(sql.SQL("UPDATE {} SET owner=%s WHERE id=%s AND status='accepted'")
                                  .format(self._t("jobs")), (self.owner_key, job_id))
                if cur.rowcount:
                    taken.append(job_id)
            return taken

    def fail_interrupted_jobs(self, reason: str = "interrupted: the service stopped while it ran") -> int:
        """Fail ``accepted``/``running`` jobs whose owning store instance is gone; return how many.

        An owner is gone when its session advisory lock is free (its process exited or lost its
        connection). Jobs of live instances, this one included, are left alone.
        """
        now = utcnow()
        err = json.dumps({"title": "Interrupted", "detail": reason}, ensure_ascii=False)
        with self._conn() as con, con.transaction():
            owners = [r[0] for r in con.execute(
                sql.SQL("SELECT DISTINCT owner FROM {} WHERE status IN ('accepted', 'running')")
                .format(self._t("jobs"))).fetchall()]
            dead = [o for o in owners if o is None or (
                o != self.owner_key
                and con.execute("SELECT pg_try_advisory_xact_lock(%s)", (o,)).fetchone()[0])]
            if not dead:
                return 0
            cur = con.execute(
                sql.SQL("UPDATE {} SET status='failed', finished_at=%s, error=%s, message=%s "
                        "WHERE status IN ('accepted', 'running') AND (owner = ANY(%s) OR (owner IS NULL AND %s))")
                .format(self._t("jobs")),
                (now, err, reason, [o for o in dead if o is not None], None in dead))
            return int(cur.rowcount)


__all__ = ["PostGISJobs"]
