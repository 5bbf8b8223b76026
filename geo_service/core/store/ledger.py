"""The ledger's tables: activity records with every revision kept, in SQLite or PostgreSQL.

One table ``activities`` holds every revision of every record::

    (dataset_id, id, revision) primary key; current (1 on the newest revision only); deleted;
    the fields of :data:`geo_service.core.ledger.FIELDS`; recorded_by, recorded_at

- :meth:`Ledger.add` writes a batch (one record or a million) in ONE transaction: a process
  killed mid-import leaves the ledger exactly as it was before the import began;
- :meth:`Ledger.edit` makes a new revision (the old one stays, ``current`` moves) and checks the
  expected revision (:class:`~geo_service.core.store.base.Conflict` on a stale edit);
  :meth:`Ledger.delete` is an edit that marks the record deleted; :meth:`Ledger.history` lists
  every revision;
- :meth:`Ledger.frame` reads the current, not deleted records of a period as a DataFrame.

:class:`SQLiteLedger` lives in the embedded store's catalog (WAL, ``synchronous=FULL``: a
committed record survives a power cut); :class:`geo_service.core.store.ledger_postgis.PostGISLedger`
in the PostGIS store's schema. Both share the SQL here and differ in placeholders, bulk writes
and locking.
"""

from __future__ import annotations

import math
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..ledger import FIELDS, INT_FIELDS, validate_activities
from .base import Conflict, NotFound, check_dataset_id, utcnow

#: stored columns, in table order
COLUMNS: tuple[str, ...] = ("dataset_id", "id", "revision", "current", "deleted", *FIELDS, "recorded_by",
                            "recorded_at")
_INT_COLS = {"id", "revision", "current", "deleted", *INT_FIELDS}


def _rows(dataset_id: str, frame: pd.DataFrame, first_id: int, recorded_by: str, now: str) -> list[tuple]:
    """Row tuples of validated ``frame`` with ids ``first_id, first_id + 1, ...`` (revision 1)."""
    n = len(frame)
    cols: list[list[Any]] = [[dataset_id] * n, list(range(first_id, first_id + n)), [1] * n, [1] * n, [0] * n]
    for f in FIELDS:
        s = frame[f]
        if f in INT_FIELDS:
            cols.append([None if v is pd.NA else int(v) for v in s.astype(object).tolist()])
        else:
            cols.append([v if isinstance(v, str) else None for v in s.tolist()])
    cols += [[recorded_by] * n, [now] * n]
    return list(zip(*cols, strict=True))


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Plain dicts of stored rows (no NaN: missing is None; integers as int)."""
    out = []
    for rec in df.to_dict("records"):
        for k, v in rec.items():
            if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
                rec[k] = None
            elif k in _INT_COLS:
                rec[k] = int(v)
        rec["deleted"] = bool(rec.get("deleted"))
        rec.pop("current", None)
        out.append(rec)
    return out


class Ledger(ABC):
    """Activity records of datasets, every revision kept (see module docstring)."""

    ph = "?"

    @abstractmethod
    @contextmanager
    def _tx(self, dataset_id: str | None = None) -> Iterator[Any]:
        """A cursor inside one transaction (committed on exit, rolled back on error); with
        ``dataset_id`` the dataset's ledger is locked against other writers."""

    @abstractmethod
    def _insert(self, cur: Any, rows: list[tuple]) -> None: ...

    @abstractmethod
    def _read(self, query: str, args: tuple) -> pd.DataFrame: ...

    def _q(self, text: str) -> str:
        return text.replace("?", self.ph)

    # -- writes ------------------------------------------------------------------------------
    def add(self, dataset_id: str, activities: Any, *, recorded_by: str = "", ds: Any = None,
            validated: bool = False) -> list[int]:
        """Validate ``activities`` (rows or a frame) and store them all in one transaction.

        Parameters
        ----------
        dataset_id : str
            The dataset they belong to.
        activities : DataFrame or iterable of mappings
            See :func:`geo_service.core.ledger.validate_activities`.
        recorded_by : str
            Who records them (a key id or member id), kept on every revision.
        ds : Dataset, optional
            Check ids against its layers.
        validated : bool
            ``activities`` already came out of ``validate_activities``.

        Returns
        -------
        list of int
            The new records' ids, in input order.

        Raises
        ------
        geo_service.core.ledger.ActivityError
            Naming every bad row and field; nothing is stored then.
        """
        check_dataset_id(dataset_id)
        frame = activities if validated else validate_activities(activities, ds)[0]
        if frame.empty:
            return []
        now = utcnow()
        with self._tx(dataset_id) as cur:
            cur.execute(self._q("SELECT COALESCE(MAX(id), 0) FROM activities WHERE dataset_id=?"), (dataset_id,))
            first = int(cur.fetchone()[0]) + 1
            self._insert(cur, _rows(dataset_id, frame, first, recorded_by, now))
        return list(range(first, first + len(frame)))

    def edit(self, dataset_id: str, activity_id: int, changes: Mapping[str, Any], *,
             expected_revision: int | None = None, recorded_by: str = "", ds: Any = None,
             delete: bool = False) -> dict[str, Any]:
        """Write a new revision of record ``activity_id`` with ``changes`` applied; return it.

        Raises
        ------
        NotFound
            No such record.
        Conflict
            ``expected_revision`` is not the current revision.
        geo_service.core.ledger.ActivityError
            The changed record is invalid.
        ValueError
            ``changes`` names a field records do not have.
        """
        bad = set(changes) - set(FIELDS)
        if bad:
            raise ValueError(f"changes: unknown activity field(s) {sorted(bad)}")
        check_dataset_id(dataset_id)
        with self._tx(dataset_id) as cur:
            cur.execute(self._q(f"SELECT {','.join(COLUMNS)} FROM activities WHERE dataset_id=? AND id=? "
                                "AND current=1"), (dataset_id, int(activity_id)))
            row = cur.fetchone()
            if row is None:
                raise NotFound(f"no activity {activity_id} in dataset '{dataset_id}'")
            old = dict(zip(COLUMNS, row, strict=True))
            if old["deleted"] and not delete:
                raise NotFound(f"activity {activity_id} of dataset '{dataset_id}' was deleted")
            if expected_revision is not None and int(expected_revision) != old["revision"]:
                raise Conflict(f"activity {activity_id} is at revision {old['revision']}, not {expected_revision}: "
                               "reload it and apply the change again")
            merged = {f: old[f] for f in FIELDS} | dict(changes)
            frame = validate_activities([merged], ds)[0]
            new = _rows(dataset_id, frame, int(activity_id), recorded_by, utcnow())[0]
            new = (*new[:2], old["revision"] + 1, 1, 1 if delete else 0, *new[5:])
            cur.execute(self._q("UPDATE activities SET current=0 WHERE dataset_id=? AND id=? AND current=1"),
                        (dataset_id, int(activity_id)))
            self._insert(cur, [new])
        return records(pd.DataFrame([new], columns=list(COLUMNS)).drop(columns=["dataset_id"]))[0]

    def delete(self, dataset_id: str, activity_id: int, *, expected_revision: int | None = None,
               recorded_by: str = "") -> dict[str, Any]:
        """Mark record ``activity_id`` deleted (a new revision; the history stays)."""
        return self.edit(dataset_id, activity_id, {}, expected_revision=expected_revision,
                         recorded_by=recorded_by, delete=True)

    def drop_dataset(self, dataset_id: str) -> int:
        """Remove every record and revision of ``dataset_id``; return how many rows went."""
        with self._tx(dataset_id) as cur:
            cur.execute(self._q("DELETE FROM activities WHERE dataset_id=?"), (dataset_id,))
            return int(cur.rowcount or 0)

    # -- reads -------------------------------------------------------------------------------
    def get(self, dataset_id: str, activity_id: int) -> dict[str, Any]:
        """The current revision of record ``activity_id`` (:class:`NotFound` when absent or deleted)."""
        df = self._read(self._q(f"SELECT {','.join(COLUMNS[1:])} FROM activities WHERE dataset_id=? AND id=? "
                                "AND current=1 AND deleted=0"), (dataset_id, int(activity_id)))
        if df.empty:
            raise NotFound(f"no activity {activity_id} in dataset '{dataset_id}'")
        return records(df)[0]

    def history(self, dataset_id: str, activity_id: int) -> list[dict[str, Any]]:
        """Every revision of record ``activity_id``, oldest first."""
        df = self._read(self._q(f"SELECT {','.join(COLUMNS[1:])} FROM activities WHERE dataset_id=? AND id=? "
                                "ORDER BY revision"), (dataset_id, int(activity_id)))
        if df.empty:
            raise NotFound(f"no activity {activity_id} in dataset '{dataset_id}'")
        return records(df)

    def frame(self, dataset_id: str, *, start: str | None = None, end: str | None = None,
              member_id: str | None = None, kind: str | None = None, columns: tuple[str, ...] | None = None,
              limit: int | None = None, offset: int = 0) -> pd.DataFrame:
        """Current, not deleted records of ``dataset_id`` as a frame, ordered by id.

        Parameters
        ----------
        start, end : str, optional
            ISO dates, inclusive.
        member_id, kind : str, optional
            Only this member's / this kind's records.
        columns : tuple of str, optional
            Only these columns (``id`` and ``revision`` always come along).
        limit, offset : int, optional
            Paging.
        """
        check_dataset_id(dataset_id)
        cols = [c for c in COLUMNS[1:] if c not in ("current", "deleted")]
        if columns is not None:
            unknown = set(columns) - set(cols)
            if unknown:
                raise ValueError(f"columns: unknown activity column(s) {sorted(unknown)}")
            cols = ["id", "revision", *[c for c in columns if c not in ("id", "revision")]]
        where, args = ["dataset_id=?", "current=1", "deleted=0"], [dataset_id]
        for col, op, v in (("date", ">=", start), ("date", "<=", end), ("member_id", "=", member_id),
                           ("kind", "=", kind)):
            if v is not None:
                where.append(f"{col}{op}?")
                args.append(v)
        q = f"SELECT {','.join(cols)} FROM activities WHERE {' AND '.join(where)} ORDER BY id"
        if limit is not None:
            q += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        df = self._read(self._q(q), tuple(args))
        for c in cols:
            if c in _INT_COLS and c in df.columns:
                df[c] = df[c].astype("Int64") if df[c].isna().any() else df[c].astype(np.int64)
        return df

    def count(self, dataset_id: str) -> int:
        """Number of current, not deleted records of ``dataset_id``."""
        df = self._read(self._q("SELECT COUNT(*) AS n FROM activities WHERE dataset_id=? AND current=1 "
                                "AND deleted=0"), (dataset_id,))
        return int(df["n"].iloc[0])


_SQLITE_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS activities (
    dataset_id TEXT NOT NULL, id INTEGER NOT NULL, revision INTEGER NOT NULL,
    current INTEGER NOT NULL, deleted INTEGER NOT NULL,
    {', '.join(f'{f} INTEGER' if f in INT_FIELDS else f'{f} TEXT' for f in FIELDS)},
    recorded_by TEXT, recorded_at TEXT NOT NULL,
    PRIMARY KEY (dataset_id, id, revision)
);
CREATE INDEX IF NOT EXISTS activities_current ON activities(dataset_id, current, date);
"""


class SQLiteLedger(Ledger):
    """The ledger in the embedded store's SQLite catalog at ``db_path``."""

    def __init__(self, db_path: str | Path):
        self.db_path = Path(db_path)
        with self._connect() as con:
            con.executescript(_SQLITE_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.db_path, timeout=60, isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=FULL")
            yield con
        finally:
            con.close()

    @contextmanager
    def _tx(self, dataset_id: str | None = None) -> Iterator[sqlite3.Cursor]:
        with self._connect() as con:
            cur = con.cursor()
            cur.execute("BEGIN IMMEDIATE")  # one writer at a time: ids never collide
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    def _insert(self, cur: sqlite3.Cursor, rows: list[tuple]) -> None:
        cur.executemany(f"INSERT INTO activities ({','.join(COLUMNS)}) VALUES ({','.join('?' * len(COLUMNS))})",
                        rows)

    def _read(self, query: str, args: tuple) -> pd.DataFrame:
        with self._connect() as con:
            cur = con.execute(query, args)
            names = [d[0] for d in cur.description]
            return pd.DataFrame(cur.fetchall(), columns=names)


__all__ = ["COLUMNS", "Ledger", "SQLiteLedger", "records"]
