"""Synthetic province and the Dask batch: many counties, per-county failures, results in the store."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from geo_service.app.batch import (
    check_params,
    process_county,
    resolve_dataset_ids,
    run_batch,
    store_location,
    store_province,
    workers_can_load,
)
from geo_service.app.province import county_polygons, generate_province, province_bounds
from geo_service.core.store import JobRecord, NotFound, SQLiteStore
from test_store import pg_url  # noqa: F401 - the PostGIS fixture (starts a throwaway server)


@pytest.fixture(scope="module")
def province():
    """Ten small counties (~30 villages, 30 members each)."""
    return generate_province(10, seed=1, county_share=0.05, km2_per_village=150.0)


@pytest.fixture(scope="module")
def stored(tmp_path_factory, province):
    """The ten counties in one embedded store shared by this module's tests (as p-C001 ...)."""
    store = SQLiteStore(tmp_path_factory.mktemp("batch") / "store")
    return store, store_province(store, province, prefix="p-")


# -- the province -----------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 7, 100])
def test_county_polygons_tile_the_area_without_overlap(n):
    c = county_polygons(n, seed=4)
    assert c["id"].tolist() == [f"C{i + 1:03d}" for i in range(n)] and c.crs.to_epsg() == 4326
    assert c.geometry.is_valid.all() and (c.geom_type == "Polygon").all()
    area = shapely.area(c.geometry.to_numpy()).sum()
    frame = shapely.box(*province_bounds(n))
    assert area == pytest.approx(frame.area, rel=1e-9)  # cells cover the frame ...
    assert shapely.union_all(c.geometry.to_numpy()).area == pytest.approx(area, rel=1e-9)  # ... once
    if n > 1:  # similar sizes: no county is more than 4x another
        a = shapely.area(c.geometry.to_numpy())
        assert a.max() / a.min() < 4


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 60), seed=st.integers(0, 2**32 - 1))
def test_county_polygons_property(n, seed):
    """Any count and seed: n valid convex cells that cover the frame exactly once, in their rows."""
    c = county_polygons(n, seed=seed)
    g = c.geometry.to_numpy()
    assert len(c) == n and shapely.is_valid(g).all()
    assert shapely.area(shapely.convex_hull(g)) == pytest.approx(shapely.area(g), rel=1e-9)
    frame = shapely.box(*province_bounds(n))
    assert shapely.area(g).sum() == pytest.approx(frame.area, rel=1e-9)
    assert shapely.union_all(g).area == pytest.approx(frame.area, rel=1e-9)
    assert c.equals(county_polygons(n, seed=seed))


def test_county_size_does_not_depend_on_the_count():
    km2 = []
    for n in (4, 100):
        c = county_polygons(n).to_crs("+proj=aea +lat_1=44 +lat_2=49 +lon_0=130")
        km2.append(c.area.mean() / 1e6)
    assert km2[0] == pytest.approx(km2[1], rel=0.02) and 2000 < km2[1] < 3500


def test_county_polygons_reject_bad_input():
    with pytest.raises(ValueError, match="whole number >= 1"):
        county_polygons(0)
    with pytest.raises(ValueError, match="min lon"):
        county_polygons(3, bounds=(130, 46, 129, 47))


def test_generate_province_is_seeded_and_valid(province):
    assert [d.name for d in province] == [f"C{i + 1:03d}" for i in range(10)]
    again = generate_province(2, seed=1, county_share=0.05, km2_per_village=150.0)
    other = generate_province(2, seed=2, county_share=0.05, km2_per_village=150.0)
    assert again[0].fingerprint() == generate_province(2, seed=1, county_share=0.05,
                                                       km2_per_village=150.0)[0].fingerprint()
    assert again[0].fingerprint() != other[0].fingerprint()
    for ds in province:
        assert len(ds.counties) == 1 and len(ds.members) >= 30 and len(ds.stations) >= 3
        county = ds.counties.to_crs(ds.metric_crs).geometry.iloc[0]
        # in the county (the generator works in metres, where the county's long straight lon/lat
        # edges bow by up to ~100 m, so allow that much)
        assert ds.villages.to_crs(ds.metric_crs).distance(county).max() < 150


# -- parameters and ids -----------------------------------------------------------------------
def test_check_params_fills_defaults_and_names_bad_keys():
    p = check_params({"optimisation": {"time_limit_s": 5}})
    assert p["coverage"]["thresholds_m"] == [5000.0, 10000.0, 20000.0]
    assert p["optimisation"]["time_limit_s"] == 5 and json.loads(json.dumps(p)) == p
    with pytest.raises(ValueError, match="unknown batch parameter"):
        check_params({"optimization": {}})
    with pytest.raises(ValueError, match="unknown coverage parameter"):
        check_params({"coverage": {"radius": 5}})
    with pytest.raises(ValueError, match="constituents_max"):
        check_params({"optimisation": {"constituents_min": 9, "constituents_max": 3}})


def test_bad_params_fail_before_any_job(stored):
    store, ids = stored
    before = len(store.list_jobs(limit=10_000))
    with pytest.raises(ValueError, match="invalid optimisation parameters"):
        run_batch(store, ids, {"optimisation": {"time_limit_s": -1}}, processes=False, progress=False)
    assert len(store.list_jobs(limit=10_000)) == before


def test_resolve_dataset_ids(stored):
    store, ids = stored
    assert resolve_dataset_ids(store, ["p-C00*"]) == ids[:9]
    assert resolve_dataset_ids(store, ["p-C010", "p-C00[12]", "p-C010", "absent"]) == \
        ["p-C010", "p-C001", "p-C002", "absent"]
    with pytest.raises(ValueError, match="no stored dataset matches 'q-\\*'"):
        resolve_dataset_ids(store, ["q-*"])


# -- the batch --------------------------------------------------------------------------------
def flaky_county(ds, params):
    """process_county, except that county C004 fails inside the worker."""
    if ds.name.endswith("C004"):
        raise RuntimeError("solver crashed on C004")
    return process_county(ds, params)


@pytest.mark.slow  # > 3 s
def test_batch_of_ten_counties_on_a_local_cluster(stored, province):
    store, ids = stored
    seen = []
    report = run_batch(store, [*ids, "p-missing"], {"optimisation": {"time_limit_s": 10}}, n_workers=2,
                       processes=False, progress=False, func=flaky_county, on_outcome=seen.append)
    assert [o.dataset_id for o in report.outcomes] == [*ids, "p-missing"] and len(seen) == 11
    failed = {o.dataset_id: o.error for o in report.failed}
    assert failed == {"p-C004": "RuntimeError: solver crashed on C004",
                      "p-missing": "NotFound: no dataset 'p-missing'"}
    assert len(report.succeeded) == 9 and report.workers == 2 and report.counties_per_minute > 0
    for o in report.succeeded:
        job = store.get_job(o.job_id)
        assert (job.status, job.kind, job.progress, job.dataset_id) == ("successful", "batch", 100.0, o.dataset_id)
        assert job.params["batch_id"] == report.batch_id and job.started_at and job.finished_at
        ds = province[ids.index(o.dataset_id)]
        assert job.result["fingerprint"] == ds.fingerprint() and job.result["status"] == o.result_status
        assert job.result["status"] in ("optimal", "relaxed", "feasible", "infeasible")
        total = job.result["coverage"]["total"]
        assert [r["threshold"] for r in total] == [5000.0, 10000.0, 20000.0]
        assert total[0]["population"] == int(ds.villages["population"].sum())
        assert set(job.result["optimisation"]["tiers"]) >= {"constituents"}
    bad = store.get_job(next(o.job_id for o in report.failed if o.dataset_id == "p-C004"))
    assert bad.status == "failed" and bad.error["title"] == "RuntimeError" and bad.result is None
    assert "solver crashed" in bad.error["traceback"]
    assert store.get_job(report.outcomes[-1].job_id).error["title"] == "NotFound"
    mine = [j for j in store.list_jobs(limit=10_000) if j.params.get("batch_id") == report.batch_id]
    assert len(mine) == 11


def test_an_infeasible_county_is_a_result_not_a_failure(tmp_path, province):
    """A county whose quotas cannot be met finishes 'successful' with status 'infeasible'."""
    ds = province[0]
    one_member = ds.with_layers(members=ds.members.iloc[:1], groups=ds.groups.assign(convener_id=None))
    store = SQLiteStore(tmp_path)
    store.put_dataset("lonely", one_member)
    report = run_batch(store, ["lonely"], {"optimisation": {"time_limit_s": 5}}, n_workers=1, processes=False,
                       progress=False)
    (o,) = report.outcomes
    assert (o.status, o.result_status) == ("successful", "infeasible")
    assert store.get_job(o.job_id).result["optimisation"]["status"] == "infeasible"


@pytest.mark.slow
def test_batch_in_worker_processes(stored):
    store, ids = stored
    report = run_batch(store, ids[:3], {"optimisation": {"time_limit_s": 10}}, n_workers=2, processes=True,
                       progress=False)
    assert [o.status for o in report.outcomes] == ["successful"] * 3 and report.workers == 2


@pytest.mark.slow  # > 3 s
def test_batch_results_land_in_postgis(pg_url, province):  # noqa: F811 - fixture
    import uuid

    import psycopg

    from geo_service.core.store.postgis import PostGISStore

    class DriverMustNotLoad(PostGISStore):
        def get_dataset(self, dataset_id):
            raise AssertionError("the driver loaded a dataset")

    schema = f"t_{uuid.uuid4().hex[:12]}"
    store = DriverMustNotLoad(pg_url, schema=schema, pool_size=2)
    try:
        ids = store_province(store, province[:2])
        assert store_location(store) == ("postgis", pg_url, schema)
        report = run_batch(store, [*ids, "absent"], {"optimisation": {"time_limit_s": 10}}, n_workers=1,
                           processes=False, progress=False)  # auto: a PostGIS URL is reachable from workers
        assert report.loaded_on_workers
        assert [o.status for o in report.outcomes] == ["successful", "successful", "failed"]
        assert report.outcomes[-1].error == "NotFound: no dataset 'absent'"
        for o, ds in zip(report.outcomes, province[:2]):
            assert store.get_job(o.job_id).result["fingerprint"] == ds.fingerprint()
            assert store.dataset_info(o.dataset_id).fingerprint == ds.fingerprint()
    finally:
        store.close()
        with psycopg.connect(pg_url, autocommit=True) as con:
            con.execute(f'DROP SCHEMA "{schema}" CASCADE')


class DriverMustNotLoad(SQLiteStore):
    """An embedded store whose driver-side ``get_dataset`` fails: only workers may load counties."""

    def get_dataset(self, dataset_id):
        raise AssertionError(f"the driver loaded {dataset_id}")


@pytest.mark.slow  # > 3 s
def test_workers_load_from_an_embedded_store_on_a_local_cluster(stored, province):
    """With a LocalCluster the driver sends ids only; the workers read the SQLite data dir."""
    store, ids = stored
    guarded = DriverMustNotLoad(store.data_dir)
    report = run_batch(guarded, ids[:3], {"optimisation": {"time_limit_s": 10}}, n_workers=2, processes=False,
                       progress=False)
    assert report.loaded_on_workers and report.to_dict()["loaded_on_workers"] is True
    assert [o.status for o in report.outcomes] == ["successful"] * 3
    for o, ds in zip(report.outcomes, province[:3]):
        assert store.get_job(o.job_id).result["fingerprint"] == ds.fingerprint()
    # the fallback ships datasets from the driver, which this store refuses: every county fails alone
    report = run_batch(guarded, ids[:2], {}, n_workers=1, processes=False, progress=False, load_on_workers=False)
    assert not report.loaded_on_workers
    assert [o.error for o in report.outcomes] == [f"AssertionError: the driver loaded {i}" for i in ids[:2]]
    assert store.get_job(report.outcomes[0].job_id).message.startswith("could not load the dataset")


def test_a_remote_cluster_gets_datasets_shipped(stored, province):
    """A client of a scheduler address (not a LocalCluster of this process): auto ships datasets."""
    from distributed import Client, LocalCluster

    store, ids = stored
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster.scheduler_address) as client:
        report = run_batch(store, ids[:2], {"optimisation": {"time_limit_s": 10}}, client=client, progress=False)
        assert client.status == "running"  # a client that was given is not closed
    assert not report.loaded_on_workers
    assert [o.status for o in report.outcomes] == ["successful"] * 2
    assert store.get_job(report.outcomes[1].job_id).result["fingerprint"] == province[1].fingerprint()


def test_load_on_workers_needs_a_store_workers_can_open(stored):
    store, ids = stored

    class Opaque:  # a store that is neither an embedded data dir nor a PostGIS URL
        def __getattr__(self, name):
            return getattr(store, name)

    assert store_location(Opaque()) is None
    assert store_location(store) == ("sqlite", str(store.data_dir.resolve()))
    with pytest.raises(ValueError, match="load_on_workers=True, but workers cannot open"):
        run_batch(Opaque(), ids[:1], {}, processes=False, progress=False, load_on_workers=True)


def test_which_stores_workers_of_a_remote_cluster_can_open():
    class Remote:  # a client of a scheduler address: no LocalCluster of this process
        cluster = None

    assert workers_can_load(("postgis", "postgresql://geo:pw@db.internal:5432/geo", "s"), Remote())
    assert workers_can_load(("postgis", "postgresql+psycopg://geo@10.0.0.5/geo", "s"), Remote())
    for url in ("postgresql://geo@localhost/geo", "postgresql://geo@127.0.0.1:5433/geo", "postgresql:///geo"):
        assert not workers_can_load(("postgis", url, "s"), Remote()), url
    assert not workers_can_load(("sqlite", "/data/var"), Remote())
    assert not workers_can_load(None, Remote())


def test_batched_job_writes_are_one_transaction(tmp_path):
    """create_jobs / update_jobs: all jobs written, or (a job missing) none."""
    store = SQLiteStore(tmp_path)
    jobs = store.create_jobs([JobRecord(id=f"j{i}", dataset_id="d", kind="batch", params={"i": i})
                              for i in range(3)])
    assert [store.get_job(j.id).params for j in jobs] == [{"i": 0}, {"i": 1}, {"i": 2}]
    store.update_jobs({"j0": {"status": "running"}, "j1": {"status": "successful", "result": {"x": 1}}})
    assert [store.get_job(f"j{i}").status for i in range(3)] == ["running", "successful", "accepted"]
    assert store.get_job("j1").result == {"x": 1}
    with pytest.raises(NotFound, match="no job 'nope'"):
        store.update_jobs({"j2": {"status": "failed"}, "nope": {"status": "failed"}})
    assert store.get_job("j2").status == "accepted"  # rolled back with the rest
    with pytest.raises(ValueError, match="unknown job status 'done'"):
        store.update_jobs({"j2": {"status": "done"}})


@pytest.mark.slow  # > 3 s
def test_cli_batch(tmp_path):
    from geo_service.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["batch", "--province", "3", "--seed", "5", "--threads", "--workers", "1",
                            "--time-limit", "10", "--data-dir", str(tmp_path), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["counties"] == 3 and out["succeeded"] == 3 and out["failed"] == 0
    assert [o["dataset_id"] for o in out["outcomes"]] == ["prov-C001", "prov-C002", "prov-C003"]
    r = runner.invoke(app, ["batch", "prov-C00[12]", "nope", "--threads", "--workers", "1",
                            "--data-dir", str(tmp_path)])
    assert r.exit_code == 1
    assert "失败：nope" in r.stderr and "3 个区县：2 个已求解" in r.stdout and "0 个不可行" in r.stdout
    r = runner.invoke(app, ["batch", "zz*", "--data-dir", str(tmp_path)])
    assert r.exit_code == 2 and "没有与 'zz*' 匹配的数据集" in r.stderr
    r = runner.invoke(app, ["batch", "--data-dir", str(tmp_path), "--lang", "en"])
    assert r.exit_code == 2 and "give dataset ids" in r.stderr
    assert np.isfinite(out["counties_per_minute"])


def test_a_batch_plans_each_countys_duty_roster(stored, province):
    """With ``roster`` parameters every county also gets its 一月一轮值 roster, its consultations
    led by the committees that county's tier 3 gave its townships."""
    store, ids = stored
    with pytest.raises(ValueError, match="roster"):
        check_params({"roster": {"months": 0}})
    report = run_batch(store, ids[:3], {"optimisation": {"time_limit_s": 10},
                                        # one comprehensive station, 30 members: not all can serve a month
                                        "roster": {"start": "2027-01", "months": 12, "member_min": 0,
                                                   "time_limit_s": 20}},
                       n_workers=1, processes=False, progress=False)
    assert len(report.succeeded) == 3, [o.error for o in report.failed]
    for o in report.succeeded:
        res = store.get_job(o.job_id).result
        roster, ds = res["roster"], province[ids.index(o.dataset_id)]
        assert roster["status"] in ("optimal", "feasible")
        assert {d["month"] for d in roster["duties"]} == {f"2027-{m:02d}" for m in range(1, 13)}
        assert {d["member_id"] for d in roster["duties"]} <= set(ds.members["id"].astype(str))
        tier3 = res["optimisation"]["tiers"].get("townships", {}).get("assignment") or {}
        for c in roster["consultations"]:
            if c["township_id"] in tier3 and tier3[c["township_id"]] is not None:
                assert c["committee_id"] == tier3[c["township_id"]]
