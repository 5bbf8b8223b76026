"""PostgreSQL + PostGIS implementation of :class:`geo_service.core.store.base.Store`.

Chosen by a database URL (``open_store("postgresql://user@host:5432/db")``) so several API
replicas and batch drivers can share one database. Layout, all in one PostgreSQL schema
(default ``geo_service``)::

    datasets        catalog: id, version, fingerprint, counts, meta, extra columns, timestamps
    jobs            JobRecord rows (params/result/error as JSON text) + the owning store instance
    <layer>         one table per layer of :data:`geo_service.core.domain.LAYERS`, rows of every dataset:
                    (dataset_id, ord, <declared fields>, extra, geom geometry(Geometry, 4326))
                    primary key (dataset_id, ord); GiST index on ``geom``; the stations table also
                    has a GiST index on ``geom::geography`` for metric KNN (``<->``)

Field types map as str -> text, int -> bigint, float -> double precision, bool -> boolean,
list -> text[]; columns outside the schema go to ``extra`` (a JSON object per row). Geometry is
stored exactly (WKB doubles, 2-D, EPSG:4326), so a dataset read back has the same
:meth:`~geo_service.core.dataset.Dataset.fingerprint` as the one written.

``put_dataset`` replaces all rows of a dataset and bumps the catalog in ONE transaction, under a
per-dataset advisory lock: readers see the old version until commit, and a failed or killed
writer leaves the previous version intact. ``get_dataset`` reads inside one REPEATABLE READ
transaction, so all layers come from the same version.

Jobs are owned by the store instance that created (or last set running) them; the instance holds
a session advisory lock on its owner key for as long as it lives. :meth:`fail_interrupted_jobs`
fails only jobs whose owner's lock is free, i.e. whose process is gone: with several API
replicas on one database, a replica that restarts does not fail jobs another replica is running.

Spatial SQL for ad-hoc queries over data too large to hold in memory:
:meth:`PostGISStore.nearest_stations_sql` (KNN ``<->``, geodesic metres) and
:meth:`PostGISStore.features_in_bbox` (GiST bbox filter). Nearest lookups on the hot path use the
in-memory :class:`geo_service.core.index.StationIndex` instead.

The statements that make the tables are in :mod:`.postgis_schema`, the job methods in
:mod:`.postgis_jobs` (a mixin of :class:`PostGISStore`).
"""

from __future__ import annotations

import json
import math
import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import sql

from ..dataset import Dataset
from ..domain import LAYER_ORDER, LAYERS, STATION_KINDS, WGS84, canonical_sector
from ..jsonsafe import to_jsonable
from .base import (
    Conflict,
    DatasetInfo,
    NotFound,
    RecentDatasets,
    Store,
    StoreError,
    check_dataset_id,
    utcnow,
)
from .ledger_postgis import PostGISLedger
from .postgis_jobs import PostGISJobs, _dumps
from .postgis_schema import COPY_TYPES, init_schema

#: KNN candidates fetched per wanted neighbour before re-ranking on the spheroid (the ``<->``
#: geography operator orders on a sphere, up to ~0.5% off the spheroid).
KNN_OVERFETCH = 8


def sqlalchemy_url(url: str) -> str:
    """``postgresql://`` or ``postgres://`` URL rewritten for SQLAlchemy's psycopg 3 driver."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    raise ValueError(f"not a PostgreSQL URL: {url!r} (expected postgresql://user@host:port/database)")


def _jsonable(v: Any) -> Any:
    """A JSON-serialisable form of one extra-column value (NaN/NA -> null, numpy -> Python)."""
    out = to_jsonable(v)
    return out if out is None or isinstance(out, (str, int, float, bool, list, dict)) else str(out)


class PostGISStore(PostGISJobs, Store):
    """Store on PostgreSQL + PostGIS at ``url``, tables in PostgreSQL schema ``schema``.

    Creates the ``postgis`` extension (if the role may), the schema and the tables on first use.
    Safe to share between threads (a SQLAlchemy connection pool of ``pool_size`` connections).
    """

    def __init__(self, url: str, *, schema: str = "geo_service", pool_size: int = 5):
        from sqlalchemy import create_engine

        if not schema.replace("_", "").isalnum():
            raise ValueError(f"invalid schema name {schema!r}: use letters, digits and '_'")
        self.url = url
        self.schema = schema
        self._engine = create_engine(sqlalchemy_url(url), pool_size=pool_size, max_overflow=pool_size,
                                     pool_pre_ping=True, isolation_level="AUTOCOMMIT")
        self._cache = RecentDatasets()
        self._lock = threading.RLock()
        self.owner_key = secrets.randbits(62)  # advisory-lock key marking jobs of this instance
        self._owner_conn: psycopg.Connection | None = None
        self._ledger: PostGISLedger | None = None
        self._init_schema()

    def __repr__(self) -> str:
        return f"PostGISStore({self._engine.url.render_as_string(hide_password=True)!r}, schema={self.schema!r})"

    # -- plumbing -----------------------------------------------------------------------------
    @contextmanager
    def _conn(self) -> Iterator[Any]:
        """A pooled psycopg connection in autocommit mode (use ``con.transaction()`` for atomicity)."""
        raw = self._engine.raw_connection()
        try:
            yield raw.driver_connection
        finally:
            raw.close()

    def _t(self, table: str) -> sql.Identifier:
        return sql.Identifier(self.schema, table)

    def _init_schema(self) -> None:
        with self._conn() as con:
            init_schema(con, self.schema)

    def close(self) -> None:
        """Release the owner lock (this instance's jobs become 'interrupted') and the pool.

        The lock is free when this returns: another instance's :meth:`fail_interrupted_jobs`
        called afterwards fails this instance's unfinished jobs.
        """
        with self._lock:
            conn, self._owner_conn = self._owner_conn, None
            if conn is not None:
                try:
                    if not conn.closed:
                        # Closing the socket alone returns before the server process has exited
                        # and dropped its locks (tens of ms under load); an explicit unlock is
                        # answered only once the lock is free.
                        conn.execute("SELECT pg_advisory_unlock_all()")
                except psycopg.Error:
                    pass  # session already broken: the server drops its locks with it
                finally:
                    conn.close()
        self._engine.dispose()

    def _hold_owner_lock(self) -> None:
        """Hold a session advisory lock on :attr:`owner_key` on a dedicated connection."""
        with self._lock:
            if self._owner_conn is not None and not self._owner_conn.closed:
                return
            dsn = self._engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            self._owner_conn = psycopg.connect(dsn, autocommit=True)
            self._owner_conn.execute("SELECT pg_advisory_lock(%s)", (self.owner_key,))

    # -- datasets -----------------------------------------------------------------------------
    @staticmethod
    def _info(row: Sequence[Any]) -> DatasetInfo:
        id_, version, fp, counts, meta, created, updated = row
        return DatasetInfo(id_, int(version), fp, json.loads(counts), created, updated, json.loads(meta))

    _INFO_COLS = "id, version, fingerprint, counts, meta, created_at, updated_at"

    def list_datasets(self) -> list[DatasetInfo]:
        with self._conn() as con:
            rows = con.execute(sql.SQL(f"SELECT {self._INFO_COLS} FROM {{}} ORDER BY id")
                               .format(self._t("datasets"))).fetchall()
        return [self._info(r) for r in rows]

    def dataset_info(self, dataset_id: str) -> DatasetInfo:
        check_dataset_id(dataset_id)
        with self._conn() as con:
            row = con.execute(sql.SQL(f"SELECT {self._INFO_COLS} FROM {{}} WHERE id=%s")
                              .format(self._t("datasets")), (dataset_id,)).fetchone()
        if row is None:
            raise NotFound(f"no dataset '{dataset_id}'")
        return self._info(row)

    def get_dataset(self, dataset_id: str) -> Dataset:
        check_dataset_id(dataset_id)
        with self._conn() as con, con.transaction():
            con.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            row = con.execute(sql.SQL("SELECT version, columns FROM {} WHERE id=%s").format(self._t("datasets")),
                              (dataset_id,)).fetchone()
            if row is None:
                raise NotFound(f"no dataset '{dataset_id}'")
            version, columns = int(row[0]), json.loads(row[1])
            cached = self._cache.get(dataset_id)
            if cached and cached[0] == version:
                return cached[1]
            layers = {name: self._read_layer(con, dataset_id, name, columns.get(name, {}))
                      for name in LAYER_ORDER}
        ds = Dataset.from_layers(layers, name=dataset_id, required=())
        self._cache[dataset_id] = (version, ds)
        return ds

    def _read_layer(self, con: Any, dataset_id: str, name: str, extras: dict[str, str], *,
                    where: sql.Composable | None = None, params: Sequence[Any] = (),
                    limit: int | None = None, offset: int = 0) -> pd.DataFrame:
        """Rows of layer ``name`` of ``dataset_id`` in their original order, as a raw frame."""
        spec = LAYERS[name]
        fields = spec.field_names
        cols = [sql.Identifier(f) for f in fields] + [sql.SQL("extra")]
        if spec.geometry is not None:
            cols.append(sql.SQL("ST_AsBinary(geom)"))
        q = sql.SQL("SELECT {} FROM {} WHERE dataset_id=%s").format(sql.SQL(", ").join(cols), self._t(name))
        if where is not None:
            q += sql.SQL(" AND ") + where
        q += sql.SQL(" ORDER BY ord")
        args: list[Any] = [dataset_id, *params]
        if limit is not None:
            q += sql.SQL(" LIMIT %s OFFSET %s")
            args += [limit, offset]
        rows = con.execute(q, args).fetchall()
        n = len(fields)
        data: dict[str, Any] = {f: pd.Series([r[i] for r in rows], dtype=object) for i, f in enumerate(fields)}
        df = pd.DataFrame(data)
        if extras:
            rec = [json.loads(r[n]) if r[n] is not None else {} for r in rows]
            for c, dtype in extras.items():
                s = pd.Series([x.get(c) for x in rec], dtype=object)
                if dtype != "object":
                    try:
                        s = s.astype(dtype)
                    except (TypeError, ValueError):
                        s = pd.Series(s.tolist())
                df[c] = s
        if spec.geometry is None:
            return df
        wkb = np.array([r[-1] if r[-1] is None else bytes(r[-1]) for r in rows], dtype=object)
        geoms = shapely.from_wkb(wkb) if len(rows) else np.array([], dtype=object)
        return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs=WGS84), crs=WGS84)

    def put_dataset(self, dataset_id: str, ds: Dataset, *, expected_version: int | None = None,
                    meta: dict[str, Any] | None = None) -> DatasetInfo:
        check_dataset_id(dataset_id)
        fingerprint = ds.fingerprint()
        counts = json.dumps(ds.counts())
        now = utcnow()
        with self._conn() as con, con.transaction():
            con.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                        (f"geo_service dataset {self.schema}.{dataset_id}",))
            row = con.execute(sql.SQL("SELECT version, meta, created_at FROM {} WHERE id=%s FOR UPDATE")
                              .format(self._t("datasets")), (dataset_id,)).fetchone()
            current = int(row[0]) if row else 0
            if expected_version is not None and expected_version != current:
                raise Conflict(f"dataset '{dataset_id}' is at version {current}, "
                               f"not {expected_version}: reload it and apply the change again")
            columns: dict[str, dict[str, str]] = {}
            for name in LAYER_ORDER:
                con.execute(sql.SQL("DELETE FROM {} WHERE dataset_id=%s").format(self._t(name)), (dataset_id,))
                columns[name] = self._write_layer(con, dataset_id, name, ds[name])
            version = current + 1
            meta_json = json.dumps(meta, ensure_ascii=False) if meta is not None else (row[1] if row else "{}")
            if row:
                con.execute(sql.SQL("UPDATE {} SET version=%s, fingerprint=%s, counts=%s, meta=%s, columns=%s, "
                                    "updated_at=%s WHERE id=%s").format(self._t("datasets")),
                            (version, fingerprint, counts, meta_json, json.dumps(columns), now, dataset_id))
            else:
                con.execute(sql.SQL("INSERT INTO {} VALUES (%s,%s,%s,%s,%s,%s,%s,%s)").format(self._t("datasets")),
                            (dataset_id, version, fingerprint, counts, meta_json, json.dumps(columns), now, now))
        self._analyze(ds)
        self._cache[dataset_id] = (version, ds)
        return self.dataset_info(dataset_id)

    def _analyze(self, ds: Dataset) -> None:
        """Refresh planner statistics of the layers just written (bounded cost: ANALYZE samples).

        Without it, right after a bulk load the planner does not know how many rows a dataset has
        and may sort a whole dataset for a KNN query instead of walking the GiST index (45 ms
        instead of 0.4 ms for 20,000 stations).
        """
        with self._conn() as con:
            for name in LAYER_ORDER:
                if len(ds[name]):
                    con.execute(sql.SQL("ANALYZE {}").format(self._t(name)))

    def _write_layer(self, con: Any, dataset_id: str, name: str, df: pd.DataFrame) -> dict[str, str]:
        """COPY the rows of one layer; return its extra columns as {name: pandas dtype}."""
        spec = LAYERS[name]
        fields = spec.field_names
        extras = [c for c in df.columns if c not in fields and c != "geometry"]
        cols = ["dataset_id", "ord", *fields, "extra"] + (["geom"] if spec.geometry is not None else [])
        types = ["text", "int4", *[COPY_TYPES[f.dtype] for f in spec.fields], "text"]
        if spec.geometry is not None:
            types.append("text")  # hex EWKB, parsed by the geometry type's input function
        n = len(df)
        values = [df[f].tolist() for f in fields]
        for f, vals in zip(spec.fields, values):
            if f.dtype == "list":
                vals[:] = [list(v) if v is not None else [] for v in vals]
        extra_vals = (
            [_dumps({c: _jsonable(v) for c, v in zip(extras, row)}) for row in zip(*(df[c].tolist() for c in extras))]
            if extras else [None] * n)
        if spec.geometry is not None:
            geoms = df.geometry.to_numpy()
            geoms = shapely.set_srid(shapely.force_2d(geoms), 4326)
            hexes = shapely.to_wkb(geoms, hex=True, include_srid=True, output_dimension=2)
        q = sql.SQL("COPY {} ({}) FROM STDIN").format(self._t(name),
                                                      sql.SQL(", ").join(map(sql.Identifier, cols)))
        try:
            with con.cursor() as cur, cur.copy(q) as cp:
                cp.set_types(types)
                for i in range(n):
                    rec = [dataset_id, i, *(v[i] for v in values), extra_vals[i]]
                    if spec.geometry is not None:
                        rec.append(hexes[i])
                    cp.write_row(rec)
        except psycopg.DataError as e:  # e.g. a NUL character, which PostgreSQL text cannot hold
            raise StoreError(f"layer {name}: PostgreSQL refused a value: {str(e).splitlines()[0]}") from e
        return {c: str(df[c].dtype) for c in extras}

    def delete_dataset(self, dataset_id: str) -> None:
        check_dataset_id(dataset_id)
        with self._conn() as con, con.transaction():
            con.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                        (f"geo_service dataset {self.schema}.{dataset_id}",))
            cur = con.execute(sql.SQL("DELETE FROM {} WHERE id=%s").format(self._t("datasets")), (dataset_id,))
            if cur.rowcount == 0:
                raise NotFound(f"no dataset '{dataset_id}'")
            for name in LAYER_ORDER:
                con.execute(sql.SQL("DELETE FROM {} WHERE dataset_id=%s").format(self._t(name)), (dataset_id,))
        if self._ledger is not None or self._has_ledger():
            self.ledger().drop_dataset(dataset_id)  # a dataset's ledger goes with it
        self._cache.pop(dataset_id, None)

    def _has_ledger(self) -> bool:
        with self._conn() as con:
            return con.execute("SELECT to_regclass(%s)", (f'"{self.schema}".activities',)).fetchone()[0] is not None

    def ledger(self) -> PostGISLedger:
        """The ledger, in this store's schema (table made on first use)."""
        with self._lock:
            if self._ledger is None:
                self._ledger = PostGISLedger(self._conn, self.schema)
            return self._ledger

    # -- spatial SQL --------------------------------------------------------------------------
    def nearest_stations_sql(self, dataset_id: str, lon: float, lat: float, k: int = 1, *,
                             kinds: Sequence[str] | str | None = None, sector: str | None = None,
                             max_distance_m: float | None = None) -> list[dict[str, Any]]:
        """The ``k`` stations of ``dataset_id`` nearest to (``lon``, ``lat``) (WGS-84 degrees), by SQL.

        Uses the KNN operator ``<->`` on the GiST index over ``geom::geography`` to fetch
        candidates (sphere distance), then ranks them by geodesic distance on the WGS-84 spheroid.
        Optional filters: station ``kinds``, a hosted ``sector``, ``max_distance_m`` (metres).
        Returns dicts ``{id, name, kind, sectors, lon, lat, distance_m}``, nearest first.
        """
        check_dataset_id(dataset_id)
        lon, lat = float(lon), float(lat)
        if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValueError(f"point ({lon}, {lat}) is not a WGS-84 lon/lat (lon -180..180, lat -90..90)")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= int(k) <= 1000:
            raise ValueError(f"k must be a whole number from 1 to 1000, got {k!r}")
        conds: list[sql.Composable] = [sql.SQL("dataset_id = %(ds)s")]
        params: dict[str, Any] = {"ds": dataset_id, "lon": lon, "lat": lat,
                                  "cand": int(k) * KNN_OVERFETCH + 8, "k": int(k)}
        if kinds is not None:
            kinds = [kinds] if isinstance(kinds, str) else list(kinds)
            bad = [x for x in kinds if x not in STATION_KINDS]
            if bad:
                raise ValueError(f"unknown station kind(s) {bad}: expected some of {', '.join(STATION_KINDS)}")
            conds.append(sql.SQL("kind = ANY(%(kinds)s)"))
            params["kinds"] = kinds
        if sector is not None:
            canon = canonical_sector(sector)
            if canon is None:
                raise ValueError(f"unknown sector {sector!r}")
            conds.append(sql.SQL("%(sector)s = ANY(sectors)"))
            params["sector"] = canon
        if max_distance_m is not None:
            if not (math.isfinite(max_distance_m) and max_distance_m > 0):
                raise ValueError(f"max_distance_m must be a positive number of metres, got {max_distance_m!r}")
            conds.append(sql.SQL("ST_DWithin(geom::geography, {pt}, %(maxd)s)").format(pt=_PT))
            params["maxd"] = float(max_distance_m)
        q = sql.SQL("""
            SELECT id, name, kind, sectors, ST_X(geom), ST_Y(geom),
                   ST_Distance(geom::geography, {pt}, true) AS d
            FROM (SELECT id, name, kind, sectors, geom FROM {t} WHERE {conds}
                  ORDER BY geom::geography <-> {pt} LIMIT %(cand)s) c
            ORDER BY d, id LIMIT %(k)s""").format(pt=_PT, t=self._t("stations"),
                                                  conds=sql.SQL(" AND ").join(conds))
        with self._conn() as con:
            rows = con.execute(q, params).fetchall()
        return [{"id": r[0], "name": r[1], "kind": r[2], "sectors": list(r[3] or []), "lon": r[4], "lat": r[5],
                 "distance_m": float(r[6])} for r in rows
                if max_distance_m is None or r[6] <= max_distance_m]

    def features_in_bbox(self, dataset_id: str, layer: str, bbox: Sequence[float], *, limit: int = 1000,
                         offset: int = 0) -> gpd.GeoDataFrame:
        """Features of ``layer`` intersecting ``bbox`` = (min lon, min lat, max lon, max lat), WGS-84.

        Filtered in SQL with the layer's GiST index; rows in their stored order, paged by
        ``limit``/``offset``. Raises :class:`NotFound` for an unknown dataset.
        """
        check_dataset_id(dataset_id)
        spec = LAYERS.get(layer)
        if spec is None or spec.geometry is None:
            spatial = [n for n in LAYER_ORDER if LAYERS[n].geometry is not None]
            raise ValueError(f"layer {layer!r} has no geometry: expected one of {', '.join(spatial)}")
        try:
            minx, miny, maxx, maxy = (float(v) for v in bbox)
        except (TypeError, ValueError) as e:
            raise ValueError(f"bbox must be 4 numbers (min lon, min lat, max lon, max lat), got {bbox!r}") from e
        if not (minx <= maxx and miny <= maxy and all(map(math.isfinite, (minx, miny, maxx, maxy)))):
            raise ValueError(f"bbox {bbox!r} is not (min lon, min lat, max lon, max lat) with min <= max")
        if not (0 <= int(limit) <= 100_000 and int(offset) >= 0):
            raise ValueError("limit must be 0..100000 and offset >= 0")
        with self._conn() as con:
            row = con.execute(sql.SQL("SELECT columns FROM {} WHERE id=%s").format(self._t("datasets")),
                              (dataset_id,)).fetchone()
            if row is None:
                raise NotFound(f"no dataset '{dataset_id}'")
            extras = json.loads(row[0]).get(layer, {})
            return self._read_layer(con, dataset_id, layer, extras,
                                    where=sql.SQL("ST_Intersects(geom, ST_MakeEnvelope(%s, %s, %s, %s, 4326))"),
                                    params=(minx, miny, maxx, maxy), limit=int(limit), offset=int(offset))


_PT = sql.SQL("ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography")

__all__ = ["PostGISStore", "sqlalchemy_url"]
