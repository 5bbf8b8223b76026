"""The tables of the PostGIS store (see :mod:`geo_service.core.store.postgis` for the layout).

:func:`init_schema` creates the ``postgis`` extension where the role may, the schema, the
catalog and jobs tables and one table per layer, and adds fields declared after a table was
made; it is idempotent and safe when several replicas start together.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from ..domain import LAYER_ORDER, LAYERS
from .base import StoreError

SQL_TYPES = {"str": "text", "int": "bigint", "float": "double precision", "bool": "boolean", "list": "text[]"}
COPY_TYPES = {"str": "text", "int": "int8", "float": "float8", "bool": "bool", "list": "text[]"}


def init_schema(con: Any, schema: str) -> None:
    """Create (if absent) everything the store needs in PostgreSQL schema ``schema``.

    Parameters
    ----------
    con : psycopg.Connection
        A connection in autocommit mode.
    schema : str
        The schema name (letters, digits and ``_``).

    Raises
    ------
    StoreError
        When the database has no PostGIS and the role cannot create the extension.
    """
    if con.execute("SELECT 1 FROM pg_extension WHERE extname='postgis'").fetchone() is None:
        try:
            con.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        except Exception as e:  # noqa: BLE001 - re-raised with the fix
            raise StoreError(f"the database has no PostGIS and this role cannot create it ({e}); "
                             "run 'CREATE EXTENSION postgis' as a superuser") from e
    with con.transaction():
        # one initialiser at a time: replicas starting together would race on CREATE TABLE
        con.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"geo_service schema {schema}",))
        for stmt in ddl(schema):
            con.execute(stmt)


def ddl(schema: str) -> list[sql.Composable]:
    """The ``CREATE``/``ALTER`` statements of the store's tables and indexes in ``schema``."""
    S = sql.SQL

    def t(table: str) -> sql.Identifier:
        return sql.Identifier(schema, table)

    out: list[sql.Composable] = [
        S("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)),
        S("""CREATE TABLE IF NOT EXISTS {} (
            id text PRIMARY KEY, version integer NOT NULL, fingerprint text NOT NULL,
            counts text NOT NULL, meta text NOT NULL, columns text NOT NULL,
            created_at text NOT NULL, updated_at text NOT NULL)""").format(t("datasets")),
        S("""CREATE TABLE IF NOT EXISTS {} (
            id text PRIMARY KEY, dataset_id text NOT NULL, kind text NOT NULL, params text NOT NULL,
            status text NOT NULL, progress double precision NOT NULL, message text NOT NULL,
            result text, error text, created_at text NOT NULL, started_at text, finished_at text,
            owner bigint)""").format(t("jobs")),
        S("CREATE INDEX IF NOT EXISTS jobs_dataset ON {} (dataset_id, created_at)").format(t("jobs")),
        S("CREATE INDEX IF NOT EXISTS jobs_status ON {} (status)").format(t("jobs")),
    ]
    for name in LAYER_ORDER:
        spec = LAYERS[name]
        cols: list[sql.Composable] = [S("dataset_id text NOT NULL"), S("ord integer NOT NULL")]
        cols += [S("{} {}").format(sql.Identifier(f.name), S(SQL_TYPES[f.dtype])) for f in spec.fields]
        cols.append(S("extra text"))
        if spec.geometry is not None:
            cols.append(S("geom geometry(Geometry, 4326)"))
        cols.append(S("PRIMARY KEY (dataset_id, ord)"))
        out.append(S("CREATE TABLE IF NOT EXISTS {} ({})").format(t(name), S(", ").join(cols)))
        # fields declared after a table was made (where a location comes from) join it
        out += [S("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}").format(
            t(name), sql.Identifier(f.name), S(SQL_TYPES[f.dtype])) for f in spec.fields]
        if spec.geometry is not None:
            out.append(S("CREATE INDEX IF NOT EXISTS {} ON {} USING gist (geom)").format(
                sql.Identifier(f"{name}_geom_gist"), t(name)))
    out.append(S("CREATE INDEX IF NOT EXISTS stations_geog_gist ON {} USING gist ((geom::geography))")
               .format(t("stations")))
    return out


__all__ = ["COPY_TYPES", "SQL_TYPES", "ddl", "init_schema"]
