"""The ledger's tables in the PostGIS store: :class:`PostGISLedger` (see :mod:`.ledger`).

The table ``<schema>.activities`` has the columns of the embedded ledger; a batch is written with
``COPY`` inside one transaction, under a per-dataset advisory lock so two writers never take the
same ids. A killed writer's transaction is rolled back by the server: nothing half-imported stays.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
from psycopg import sql

from ..ledger import FIELDS, INT_FIELDS
from .ledger import COLUMNS, Ledger


class PostGISLedger(Ledger):
    """The ledger in PostgreSQL schema ``schema``, through ``conn`` (a context manager giving a
    psycopg connection in autocommit mode, like :meth:`PostGISStore._conn`)."""

    ph = "%s"

    def __init__(self, conn: Any, schema: str):
        self._conn = conn
        self.schema = schema
        cols = ", ".join(f"{f} bigint" if f in INT_FIELDS else f"{f} text" for f in FIELDS)
        with self._conn() as con, con.transaction():
            con.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"geo_service ledger {schema}",))
            con.execute(sql.SQL(f"""CREATE TABLE IF NOT EXISTS {{}} (
                dataset_id text NOT NULL, id bigint NOT NULL, revision integer NOT NULL,
                current smallint NOT NULL, deleted smallint NOT NULL, {cols},
                recorded_by text, recorded_at text NOT NULL, PRIMARY KEY (dataset_id, id, revision))""")
                        .format(sql.Identifier(schema, "activities")))
            con.execute(sql.SQL("CREATE INDEX IF NOT EXISTS activities_current ON {} (dataset_id, current, date)")
                        .format(sql.Identifier(schema, "activities")))

    def _q(self, text: str) -> str:
        return text.replace("?", "%s").replace("FROM activities", f'FROM "{self.schema}".activities') \
            .replace("UPDATE activities", f'UPDATE "{self.schema}".activities')

    @contextmanager
    def _tx(self, dataset_id: str | None = None) -> Iterator[Any]:
        with self._conn() as con, con.transaction():
            cur = con.cursor()
            if dataset_id is not None:
                cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                            (f"geo_service ledger {self.schema}.{dataset_id}",))
            yield cur

    def _insert(self, cur: Any, rows: list[tuple]) -> None:
        q = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(self.schema, "activities"),
                                                      sql.SQL(",").join(map(sql.Identifier, COLUMNS)))
        with cur.copy(q) as cp:
            for r in rows:
                cp.write_row(r)

    def _read(self, query: str, args: tuple) -> pd.DataFrame:
        with self._conn() as con:
            cur = con.execute(query, args)
            names = [d.name for d in cur.description]
            return pd.DataFrame(cur.fetchall(), columns=names)


__all__ = ["PostGISLedger"]
