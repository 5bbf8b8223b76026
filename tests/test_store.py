"""The store test suite: every test runs against BOTH stores (embedded SQLite and PostGIS).

PostGIS comes from ``GEO_SERVICE_TEST_PG_URL`` when set, else from a throwaway cluster this module
starts itself (``scripts/pg_test_server.py``; needs the Debian packages postgresql-15 and
postgresql-15-postgis-3). Where neither is possible the PostGIS cases skip with the reason (and
fail under CI=true, which must run them). Each PostGIS test gets its own PostgreSQL schema.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import uuid
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Point, box

from conftest import LAT0, LON0, make_tiny_layers, skip_unless_ci
from test_villages_hypothesis import _write
from geo_service.core.crs import geodesic_m
from geo_service.core.dataset import Dataset
from geo_service.core.io import read_dataset
from geo_service.core.domain import SECTORS
from geo_service.core.store import Conflict, JobRecord, NotFound, SQLiteStore, Store

ROOT = Path(__file__).resolve().parents[1]


def _load_pg_script():
    spec = importlib.util.spec_from_file_location("pg_test_server", ROOT / "scripts" / "pg_test_server.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def pg_url():
    """URL of a PostgreSQL+PostGIS server for tests, or skip (fail under CI) saying why not."""
    url = os.environ.get("GEO_SERVICE_TEST_PG_URL")
    if url:
        yield url
        return
    pg = _load_pg_script()
    try:
        url, root = pg.start()
    except pg.PGUnavailable as e:
        skip_unless_ci(f"no PostGIS for the store tests: {e} (or set GEO_SERVICE_TEST_PG_URL)")
    try:
        yield url
    finally:
        pg.stop(root)


class StoreFactory:
    """Opens a store of one kind at one location; ``open()`` again re-opens the same data."""

    def __init__(self, kind: str, location: str, schema: str | None = None):
        self.kind, self.location, self.schema = kind, location, schema
        self.opened: list[Store] = []

    def open(self) -> Store:
        if self.kind == "sqlite":
            s: Store = SQLiteStore(self.location)
        else:
            from geo_service.core.store.postgis import PostGISStore

            s = PostGISStore(self.location, schema=self.schema, pool_size=2)
        self.opened.append(s)
        return s

    def subprocess_args(self) -> str:
        """Python source that opens this store in another process."""
        if self.kind == "sqlite":
            return f"SQLiteStore({self.location!r})"
        return f"PostGISStore({self.location!r}, schema={self.schema!r}, pool_size=1)"


def _drop_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def pg_factory(pg_url):
    """A PostGIS store location of its own (a fresh PostgreSQL schema), dropped afterwards."""
    f = StoreFactory("postgis", pg_url, f"t_{uuid.uuid4().hex[:12]}")
    yield f
    for s in f.opened:
        s.close()
    _drop_schema(pg_url, f.schema)


@pytest.fixture(params=["sqlite", "postgis"])
def factory(request, tmp_path):
    """The same tests for both stores."""
    if request.param == "postgis":
        return request.getfixturevalue("pg_factory")
    f = StoreFactory("sqlite", str(tmp_path / "store"))
    request.addfinalizer(lambda: [s.close() for s in f.opened])
    return f


@pytest.fixture
def store(factory) -> Store:
    return factory.open()


@pytest.fixture
def postgis(pg_factory):
    return pg_factory.open()


class FailingDataset(Dataset):
    """A dataset whose ``members`` layer raises when a store reads it to write it."""

    def __getitem__(self, layer):
        if layer == "members":
            raise RuntimeError("injected failure while writing")
        return super().__getitem__(layer)


def rich_dataset() -> Dataset:
    """The tiny county plus awkward values: empty lists, null bools/ints, a MultiPolygon, extra columns."""
    lay = make_tiny_layers()
    lay["townships"].loc[1, "geometry"] = MultiPolygon([box(LON0 + 0.1, LAT0, LON0 + 0.14, LAT0 + 0.1),
                                                        box(LON0 + 0.16, LAT0, LON0 + 0.2, LAT0 + 0.1)])
    lay["stations"]["sectors"] = [["经济", "农业"], [], ["医药卫生"]]
    lay["stations"]["capacity"] = [2, None, 0]
    lay["stations"]["note"] = ["备注：一", None, "quote ' \" \\ tab\t"]  # extra column
    lay["villages"]["is_seat"] = [True, None, False, None, True, False, None, False]
    lay["villages"]["households"] = np.arange(8, dtype="int64") * 10  # extra int column
    lay["roads"]["speed_kmh"] = [60.0, None, 30.5, 30.0, 1e-3, 30.0, 30.0]
    return Dataset.from_layers(lay, name="rich")


# -- datasets ---------------------------------------------------------------------------------
def test_put_get_round_trip_keeps_fingerprint(factory, tiny):
    s = factory.open()
    info = s.put_dataset("tiny", tiny, meta={"source": "测试", "n": 1})
    assert info.version == 1 and info.etag == '"tiny-v1"'
    assert info.fingerprint == tiny.fingerprint()
    assert info.counts == tiny.counts() and info.meta == {"source": "测试", "n": 1}
    back = factory.open().get_dataset("tiny")  # fresh instance: no in-process cache
    assert back.fingerprint() == tiny.fingerprint()
    assert back.name == "tiny"
    assert back.stations["sectors"].tolist() == tiny.stations["sectors"].tolist()
    assert back.villages["is_seat"].tolist() == tiny.villages["is_seat"].tolist()


def test_round_trip_of_awkward_values(factory):
    ds = rich_dataset()
    factory.open().put_dataset("rich", ds)
    back = factory.open().get_dataset("rich")
    assert back.fingerprint() == ds.fingerprint()
    assert back.stations["sectors"].tolist() == [["经济", "农业"], [], ["医药卫生"]]
    assert back.stations["capacity"].tolist() == [2, None, 0]
    assert back.stations["note"].tolist()[0] == "备注：一"
    assert back.villages["is_seat"].tolist()[:3] == [True, None, False]
    assert back.townships.geometry.iloc[1].geom_type == "MultiPolygon"
    assert back.roads["speed_kmh"].tolist()[:3] == [60.0, None, 30.5]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
            min_size=1, max_size=12).filter(str.strip),
    st.lists(st.sampled_from(SECTORS), max_size=4),
    st.one_of(st.none(), st.integers(0, 2**40)),
    st.floats(-0.05, 0.05), st.floats(-0.05, 0.05)), min_size=1, max_size=6))
@pytest.mark.slow  # > 3 s
def test_round_trip_property(factory, rows):
    """Any names (any Unicode but NUL), sector lists, capacities and points survive a round trip."""
    lay = make_tiny_layers()
    lay["stations"] = gpd.GeoDataFrame(
        {"id": [f"S{i}" for i in range(len(rows))], "name": [r[0] for r in rows],
         "kind": "studio", "sectors": [r[1] for r in rows], "capacity": [r[2] for r in rows]},
        geometry=[Point(LON0 + 0.1 + r[3], LAT0 + 0.05 + r[4]) for r in rows], crs="EPSG:4326")
    ds = Dataset.from_layers(lay, name="p")
    s = factory.open()
    s.put_dataset("p", ds)
    back = factory.open().get_dataset("p")
    assert back.fingerprint() == ds.fingerprint()


def test_list_delete_and_not_found(store, tiny):
    assert store.list_datasets() == []
    store.put_dataset("b", tiny)
    store.put_dataset("a", tiny)
    assert [i.id for i in store.list_datasets()] == ["a", "b"]
    assert store.has_dataset("a") and not store.has_dataset("zz")
    store.delete_dataset("a")
    assert [i.id for i in store.list_datasets()] == ["b"]
    for call in (store.get_dataset, store.dataset_info, store.delete_dataset):
        with pytest.raises(NotFound, match="no dataset 'a'"):
            call("a")
    assert store.get_dataset("b").fingerprint() == tiny.fingerprint()


@pytest.mark.slow  # > 3 s
def test_versions_etags_and_conflicts(store, tiny):
    first = store.put_dataset("d", tiny, expected_version=0, meta={"v": 1})
    with pytest.raises(Conflict, match="version 1, not 0"):
        store.put_dataset("d", tiny, expected_version=0)
    smaller = tiny.with_layers(roads=tiny.roads.iloc[:2])
    second = store.put_dataset("d", smaller, expected_version=1)  # meta=None keeps the old meta
    assert (second.version, second.etag) == (2, '"d-v2"')
    assert second.meta == {"v": 1} and second.created_at == first.created_at
    assert second.updated_at >= first.updated_at and second.counts["roads"] == 2
    with pytest.raises(Conflict):
        store.put_dataset("d", tiny, expected_version=1)  # stale
    assert store.dataset_info("d").version == 2
    assert store.get_dataset("d").fingerprint() == smaller.fingerprint()
    third = store.put_dataset("d", tiny, meta={})
    assert third.version == 3 and third.meta == {}
    with pytest.raises(Conflict):
        store.put_dataset("new", tiny, expected_version=2)  # does not exist: version 0
    assert not store.has_dataset("new")


@pytest.mark.slow  # > 3 s
def test_concurrent_writers_with_same_expected_version_one_wins(factory, tiny):
    s = factory.open()
    s.put_dataset("d", tiny)
    outcomes: list[str] = []
    barrier = threading.Barrier(3)

    def write():
        st_ = factory.open()
        barrier.wait()
        try:
            st_.put_dataset("d", tiny, expected_version=1)
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=write) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["conflict", "conflict", "ok"]
    assert s.dataset_info("d").version == 2


@pytest.mark.slow  # > 3 s
def test_failed_write_leaves_previous_version(factory, tiny):
    s = factory.open()
    s.put_dataset("d", tiny)
    bad = FailingDataset(tiny.with_layers(roads=tiny.roads.iloc[:1]).layers, name="bad")
    with pytest.raises(RuntimeError, match="injected"):
        s.put_dataset("d", bad)
    with pytest.raises(RuntimeError, match="injected"):
        s.put_dataset("fresh", bad)
    for fresh in (s, factory.open()):
        info = fresh.dataset_info("d")
        assert info.version == 1 and info.counts["roads"] == 7
        assert fresh.get_dataset("d").fingerprint() == tiny.fingerprint()
        assert not fresh.has_dataset("fresh")
    assert s.put_dataset("d", tiny, expected_version=1).version == 2  # the store still works


KILL_SCRIPT = """
import sys, time
from conftest import make_tiny_layers
from geo_service.core.dataset import Dataset
from geo_service.core.store import SQLiteStore
from geo_service.core.store.postgis import PostGISStore

class Slow(Dataset):
    def __getitem__(self, layer):
        if layer == "members":
            print("WRITING", flush=True)
            time.sleep(120)
        return super().__getitem__(layer)

ds = Dataset.from_layers(make_tiny_layers(), name="x")
s = {store}
s.put_dataset("d", Slow(ds.with_layers(roads=ds.roads.iloc[:1]).layers, name="x"))
"""


@pytest.mark.slow
def test_killed_writer_leaves_previous_version(factory, tiny):
    """A writer process killed (SIGKILL) after writing some layers leaves version 1 intact."""
    s = factory.open()
    s.put_dataset("d", tiny)
    code = textwrap.dedent(KILL_SCRIPT).format(store=factory.subprocess_args())
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)])}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "WRITING", proc.stderr.read()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    fresh = factory.open()
    assert fresh.dataset_info("d").version == 1
    assert fresh.get_dataset("d").fingerprint() == tiny.fingerprint()
    assert fresh.put_dataset("d", tiny, expected_version=1).version == 2
    if factory.kind == "sqlite":  # leftovers of the killed write are swept on open
        files = sorted(p.name for p in (Path(factory.location) / "datasets" / "d").iterdir())
        assert files == ["v000002.gpkg"]


def test_persistence_across_reopen(factory, tiny):
    s = factory.open()
    s.put_dataset("d", tiny, meta={"k": "值"})
    s.create_job(JobRecord(id="j1", dataset_id="d", kind="optimise", params={"a": [1, 2]}))
    s.close()
    again = factory.open()
    assert [i.id for i in again.list_datasets()] == ["d"]
    assert again.dataset_info("d").meta == {"k": "值"}
    assert again.get_dataset("d").fingerprint() == tiny.fingerprint()
    assert again.get_job("j1").params == {"a": [1, 2]}


@pytest.mark.parametrize("bad", ["", "../etc", "a b", "x" * 65, "-lead", "a/b", "名字", None])
def test_invalid_dataset_ids_rejected(store, tiny, bad):
    with pytest.raises(ValueError, match="invalid dataset id"):
        store.put_dataset(bad, tiny)
    for call in (store.get_dataset, store.dataset_info, store.delete_dataset):
        with pytest.raises(ValueError, match="invalid dataset id"):
            call(bad)
    assert store.list_datasets() == []


# -- jobs -------------------------------------------------------------------------------------
def test_job_create_update_get_list(store):
    a = store.create_job(JobRecord(id="a", dataset_id="d1", kind="optimise", params={"名": "值", "k": 3},
                                   created_at="2026-01-01T00:00:00.000+00:00"))
    store.create_job(JobRecord(id="b", dataset_id="d2", kind="batch", params={},
                               created_at="2026-01-02T00:00:00.000+00:00"))
    store.create_job(JobRecord(id="c", dataset_id="d1", kind="optimise", params={},
                               created_at="2026-01-03T00:00:00.000+00:00"))
    assert store.get_job("a") == a
    j = store.update_job("a", status="running", progress=42.5, message="第2步", started_at="t0")
    assert (j.status, j.progress, j.message, j.started_at) == ("running", 42.5, "第2步", "t0")
    result = {"status": "optimal", "objective": 12.5, "rows": [{"id": "V1", "ok": True, "x": None}]}
    j = store.update_job("a", status="successful", progress=100.0, result=result, finished_at="t1")
    assert store.get_job("a").result == result and j.params == {"名": "值", "k": 3}
    assert [x.id for x in store.list_jobs()] == ["c", "b", "a"]
    assert [x.id for x in store.list_jobs(dataset_id="d1")] == ["c", "a"]
    assert [x.id for x in store.list_jobs(limit=1)] == ["c"]
    with pytest.raises(ValueError, match="unknown job fields"):
        store.update_job("a", colour="red")
    with pytest.raises(ValueError, match="unknown job status"):
        store.update_job("a", status="done")
    with pytest.raises(NotFound, match="no job 'zz'"):
        store.update_job("zz", progress=1.0)
    with pytest.raises(NotFound):
        store.get_job("zz")


def test_fail_interrupted_jobs_after_restart(factory):
    s = factory.open()
    for jid, status in (("acc", "accepted"), ("run", "running"), ("ok", "successful"), ("bad", "failed")):
        s.create_job(JobRecord(id=jid, dataset_id="d", kind="optimise", params={}, status=status))
    s.close()  # the process that ran them is gone
    again = factory.open()
    assert again.fail_interrupted_jobs("stopped for the test") == 2
    for jid in ("acc", "run"):
        j = again.get_job(jid)
        assert j.status == "failed" and j.error == {"title": "Interrupted", "detail": "stopped for the test"}
        assert j.finished_at is not None and j.message == "stopped for the test"
    assert again.get_job("ok").status == "successful" and again.get_job("bad").error is None
    assert again.fail_interrupted_jobs() == 0


def test_queued_jobs_are_taken_over_after_restart_running_ones_failed(factory):
    s = factory.open()
    for jid, status, params in (("acc", "accepted", {}), ("acc2", "accepted", {"seed": 3}),
                                ("batch", "accepted", {"batch_id": "b1"}), ("run", "running", {})):
        s.create_job(JobRecord(id=jid, dataset_id="d", kind="optimisation", params=params, status=status))
    s.create_job(JobRecord(id="other", dataset_id="d", kind="plug-in", params={}, status="accepted"))
    assert s.take_over_queued_jobs() == []  # its own jobs: nothing to take over
    s.close()
    again = factory.open()
    assert again.take_over_queued_jobs(kinds=("optimisation",)) == ["acc", "acc2"]  # oldest first, no batch
    assert again.fail_interrupted_jobs() == 3  # the running one, the batch's and the unknown kind
    assert [again.get_job(j).status for j in ("acc", "acc2", "batch", "run", "other")] == [
        "accepted", "accepted", "failed", "failed", "failed"]
    third = factory.open()  # the taker is alive: its jobs are not taken again
    assert third.take_over_queued_jobs() == [] and third.fail_interrupted_jobs() == 0


# -- PostGIS only -----------------------------------------------------------------------------
def test_postgis_replica_does_not_fail_jobs_of_a_live_replica(pg_factory, postgis):
    postgis.create_job(JobRecord(id="live", dataset_id="d", kind="optimise", params={}, status="running"))
    other = pg_factory.open()
    assert other.fail_interrupted_jobs() == 0
    assert other.get_job("live").status == "running"
    postgis.close()
    assert other.fail_interrupted_jobs() == 1
    assert other.get_job("live").status == "failed"


def test_postgis_close_frees_the_owner_lock_before_returning(pg_factory, postgis, monkeypatch):
    """close() does not count on the server noticing the closed socket (which lags under load):
    here the owner connection's socket stays open, and the jobs still count as interrupted."""
    import psycopg

    postgis.create_job(JobRecord(id="live", dataset_id="d", kind="optimise", params={}, status="running"))
    lagging = postgis._owner_conn
    real_close = psycopg.Connection.close
    monkeypatch.setattr(psycopg.Connection, "close", lambda c: None if c is lagging else real_close(c))
    try:
        postgis.close()
    finally:
        monkeypatch.undo()
    try:
        assert pg_factory.open().fail_interrupted_jobs() == 1
    finally:
        lagging.close()


def test_postgis_nearest_sql_matches_brute_force_geodesic(postgis, tiny):
    postgis.put_dataset("tiny", tiny)
    st_ = tiny.stations
    rng = np.random.default_rng(3)
    for lon, lat in zip(rng.uniform(LON0 - 0.05, LON0 + 0.25, 20), rng.uniform(LAT0 - 0.05, LAT0 + 0.15, 20)):
        d = geodesic_m(lon, lat, st_.geometry.x.to_numpy(), st_.geometry.y.to_numpy())
        got = postgis.nearest_stations_sql("tiny", lon, lat, k=2)
        assert [g["id"] for g in got] == st_["id"].to_numpy()[np.argsort(d)[:2]].tolist()
        assert got[0]["distance_m"] == pytest.approx(np.sort(d)[0], rel=1e-6)
    at_s3 = (LON0 + 0.19, LAT0 + 0.01)
    assert [g["id"] for g in postgis.nearest_stations_sql("tiny", *at_s3, k=3)] == ["S3", "S2", "S1"]
    assert [g["id"] for g in postgis.nearest_stations_sql("tiny", *at_s3, k=3, sector="农业")] == ["S2", "S1"]
    assert [g["id"] for g in postgis.nearest_stations_sql("tiny", *at_s3, kinds=["station_comprehensive"])] == ["S1"]
    near = postgis.nearest_stations_sql("tiny", *at_s3, k=3, max_distance_m=6000)
    assert [g["id"] for g in near] == ["S3", "S2"] and all(g["distance_m"] <= 6000 for g in near)
    assert postgis.nearest_stations_sql("other", *at_s3) == []
    with pytest.raises(ValueError, match="unknown station kind"):
        postgis.nearest_stations_sql("tiny", *at_s3, kinds=["shop"])
    with pytest.raises(ValueError, match="unknown sector"):
        postgis.nearest_stations_sql("tiny", *at_s3, sector="nope")
    with pytest.raises(ValueError, match="not a WGS-84"):
        postgis.nearest_stations_sql("tiny", 46.8, 230.0)


def test_postgis_features_in_bbox(postgis, tiny):
    postgis.put_dataset("tiny", tiny)
    west = (LON0, LAT0, LON0 + 0.099, LAT0 + 0.1)
    v = postgis.features_in_bbox("tiny", "villages", west)
    assert v["id"].tolist() == ["V1", "V2", "V3", "V4"] and v.crs.to_epsg() == 4326
    assert postgis.features_in_bbox("tiny", "villages", west, limit=2, offset=1)["id"].tolist() == ["V2", "V3"]
    t = postgis.features_in_bbox("tiny", "townships", (LON0 + 0.11, LAT0, LON0 + 0.12, LAT0 + 0.01))
    assert t["id"].tolist() == ["T2"]
    with pytest.raises(ValueError, match="has no geometry"):
        postgis.features_in_bbox("tiny", "groups", west)
    with pytest.raises(ValueError, match="min <= max"):
        postgis.features_in_bbox("tiny", "villages", (1, 1, 0, 0))
    with pytest.raises(NotFound):
        postgis.features_in_bbox("nope", "villages", west)


def test_open_store_dispatches_postgresql_urls(pg_url):
    from geo_service.core.store import open_store
    from geo_service.core.store.postgis import PostGISStore

    s = open_store(pg_url)
    try:
        assert isinstance(s, PostGISStore) and s.schema == "geo_service"
    finally:
        s.close()


def test_sqlite_and_postgis_agree_on_a_dataset(tmp_path, pg_url):
    """The same dataset stored in both stores reads back identically."""
    from geo_service.core.store.postgis import PostGISStore

    ds = rich_dataset()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    pg = PostGISStore(pg_url, schema=schema, pool_size=1)
    try:
        a = SQLiteStore(tmp_path).put_dataset("r", ds)
        b = pg.put_dataset("r", ds)
        assert a.fingerprint == b.fingerprint and a.counts == b.counts
        pg2 = PostGISStore(pg_url, schema=schema, pool_size=1)  # fresh instance: no in-process cache
        x, y = SQLiteStore(tmp_path).get_dataset("r"), pg2.get_dataset("r")
        pg2.close()
        for layer in ds.layers:
            pd.testing.assert_frame_equal(pd.DataFrame(x[layer]).astype(str), pd.DataFrame(y[layer]).astype(str))
    finally:
        pg.close()
        _drop_schema(pg_url, schema)


def test_postgis_refuses_nul_characters_clearly(postgis, tiny_layers):
    """PostgreSQL text cannot hold NUL: the error names the layer, and nothing is stored."""
    from geo_service.core.store import StoreError

    tiny_layers["stations"].loc[0, "name"] = "a\x00b"
    with pytest.raises(StoreError, match="layer stations: .*NUL"):
        postgis.put_dataset("x", Dataset.from_layers(tiny_layers))
    assert not postgis.has_dataset("x")


# -- SQLite only ------------------------------------------------------------------------------
def test_sqlite_sweep_racing_a_new_owner_never_removes_its_lock_file(tmp_path, monkeypatch):
    """Another store's sweep (``fail_interrupted_jobs``) checks a new owner's lock file between its
    creation and its lock; whatever the sweep does, the owner ends up holding a lock file that the
    next sweep sees as alive (else a live replica's jobs would be failed), and creation never raises.
    The interleaving is forced: the sweep pauses just before it removes the file."""
    import pathlib

    from geo_service.core.store import sqlite as sqlite_store

    folder = tmp_path / "owners"
    real_flock, real_unlink = sqlite_store.fcntl.flock, pathlib.Path.unlink
    at_unlink, owner_done, first = threading.Event(), threading.Event(), []

    def unlink(path, missing_ok=False):
        if threading.current_thread().name == "sweep":
            at_unlink.set()
            assert owner_done.wait(10)
        real_unlink(path, missing_ok=missing_ok)

    def flock(fh, op):
        if threading.current_thread().name != "sweep" and not first:  # the owner, before its lock
            first.append(fh.name)
            sweep = threading.Thread(target=sqlite_store._JobOwner.alive, name="sweep",
                                     args=(folder, Path(fh.name).stem))
            first.append(sweep)
            sweep.start()
            assert at_unlink.wait(10)
        real_flock(fh, op)

    monkeypatch.setattr(sqlite_store.fcntl, "flock", flock)
    monkeypatch.setattr(pathlib.Path, "unlink", unlink)
    try:
        owner = sqlite_store._JobOwner(folder)
    finally:
        owner_done.set()
        if len(first) == 2:
            first[1].join(10)
        monkeypatch.undo()
    assert first, "the sweep never ran"
    assert sqlite_store._JobOwner.alive(folder, owner.id)
    assert [p.name for p in folder.iterdir()] == [owner.path.name]
    owner.release()


def test_conditional_job_update_never_overwrites_an_ended_job(store):
    """A runner's write guarded by only_if_status loses to a dismissal made in between."""
    from geo_service.core.store import Conflict, JobRecord

    store.create_job(JobRecord(id="cj1", dataset_id="d", kind="optimise", params={}))
    store.update_job("cj1", status="running", only_if_status=("accepted", "running"))
    store.update_job("cj1", status="dismissed")  # another replica dismisses it
    with pytest.raises(Conflict, match="dismissed"):
        store.update_job("cj1", status="successful", result={"x": 1}, only_if_status=("accepted", "running"))
    job = store.get_job("cj1")
    assert job.status == "dismissed" and job.result is None
    with pytest.raises(NotFound):
        store.update_job("nope", progress=1.0, only_if_status=("running",))


def test_dataset_cache_is_bounded_lru():
    """A store serving thousands of counties keeps only the most recently read ones in memory."""
    from geo_service.core.store import RecentDatasets

    c = RecentDatasets(max_entries=2)
    c["a"], c["b"] = (1, "A"), (1, "B")
    assert c.get("a") == (1, "A")  # a is now the most recent
    c["c"] = (1, "C")
    assert c.get("b") is None and c.get("a") == (1, "A") and c.get("c") == (1, "C")
    assert len(c) == 2
    c.pop("a")
    assert c.get("a") is None


def test_villages_of_unknown_location_and_townships_without_polygon_stored(store):
    """A village list with holes keeps every row, its sources and the missing points in both stores."""
    towns = [{"代码": "T0", "名称": "甲镇", "xy": (114.05, 29.55)}, {"代码": "T1", "名称": "乙镇", "xy": None}]
    vills = [{"代码": "V0", "名称": "一村", "乡镇": "甲镇", "xy": (114.06, 29.56)},
             {"代码": "V1", "名称": "二村", "乡镇": "甲镇", "xy": None},
             {"代码": "V2", "名称": "三村", "乡镇": "乙镇", "xy": None}]
    with tempfile.TemporaryDirectory() as tmp:
        _write(Path(tmp), towns, vills)
        ds = read_dataset(tmp, datum="gcj02")
    store.put_dataset("holes", ds)
    back = store.get_dataset("holes")
    assert back.fingerprint() == ds.fingerprint()
    assert list(back.villages["location_source"]) == ["given", "township_seat", "unknown"]
    assert back.villages.geometry.iloc[2] is None and list(back.townships["boundary_source"]) == ["derived", "none"]
