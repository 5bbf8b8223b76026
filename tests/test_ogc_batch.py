"""A province batch started through OGC API - Processes by OWSLib, followed to its end, its counties'
coverage checked against a brute-force great-circle count.

The store holds the real 崇阳县 twice: with a station at the first village of every township, and with
only the western half of those stations. OWSLib executes the ``batch`` process over both (a glob);
the batch is followed at the monitor link the answer gives, then each county's job result is read
at ``/v1/jobs/{id}/results``.
"""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest

pytest.importorskip("distributed")  # batches run on Dask (the "batch" extra, installed by the tests)

from api.app import create_app  # noqa: E402
from api.settings import Settings  # noqa: E402
from browser import live_server  # noqa: E402
from geo_service.core.store import SQLiteStore  # noqa: E402
from test_ogc_clients import real_county  # noqa: E402

pytestmark = pytest.mark.slow
EARTH_RADIUS_M = 6_371_008.8
THRESHOLDS_M = (3000.0, 8000.0)


def _west_half(ds):
    st = ds.stations
    keep = st.geometry.x <= float(np.median(st.geometry.x))
    return ds.with_layers(stations=st[keep].reset_index(drop=True))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("ogc-batch")
    store = SQLiteStore(data)
    full = real_county()
    store.put_dataset("cy-full", full)
    store.put_dataset("cy-west", _west_half(full))
    app = create_app(Settings(data_dir=str(data), load_demo=False, log_level="WARNING", job_workers=1), store=store)
    with live_server(app) as url:
        yield {"url": url, "store": store}


def _covered_by_brute_force(ds, threshold_m: float, slack: float) -> int:
    """Villages with a station within ``threshold_m * (1 + slack)`` metres (haversine on lon/lat)."""
    v = ds.villages[ds.villages.geometry.notna()]
    lon1, lat1 = np.radians(v.geometry.x.to_numpy())[:, None], np.radians(v.geometry.y.to_numpy())[:, None]
    lon2, lat2 = np.radians(ds.stations.geometry.x.to_numpy())[None, :], np.radians(ds.stations.geometry.y.to_numpy())[None, :]
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    d = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(h))
    return int((d.min(axis=1) <= threshold_m * (1 + slack)).sum())


def _follow(monitor: str, timeout_s: float = 240) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        out = httpx.get(monitor).json()
        if out.get("finished") and not out.get("running"):
            return out
        assert time.monotonic() < deadline, f"batch still running: {out}"
        time.sleep(0.5)


def test_owslib_runs_a_batch_whose_coverage_matches_a_brute_force_count(server):
    from owslib.ogcapi.processes import Processes

    url, store = server["url"], server["store"]
    p = Processes(f"{url}/v1/")
    desc = p.process("batch")
    assert "datasets" in desc["inputs"] and "dataset" not in desc["inputs"]  # many counties, not one
    started = p.execute("batch", inputs={"datasets": ["cy-*"], "params": {
        "coverage": {"thresholds_m": list(THRESHOLDS_M)}, "optimisation": {"time_limit_s": 5}}}, async_=True)
    assert started["status"] == "accepted" and started["processID"] == "batch"
    href = started["links"][0]["href"]  # relative without public_base_url: never built from Host
    assert href == f"/v1/batches/{started['jobID']}" and p.response_headers["Location"] == href
    monitor = url + href
    report = _follow(monitor)
    assert report["counts"] == {"successful": 2}, report
    assert report["to_resume"] == [] and sorted(j["dataset_id"] for j in report["jobs"]) == ["cy-full", "cy-west"]
    covered = {}
    for job in report["jobs"]:
        result = httpx.get(f"{url}/v1/jobs/{job['job_id']}/results").json()["result"]
        assert result["dataset_id"] == job["dataset_id"] and result["status"] == job["result_status"]
        ds = store.get_dataset(job["dataset_id"])
        total = {row["threshold"]: row for row in result["coverage"]["total"]}
        assert sorted(total) == list(THRESHOLDS_M)
        for t in THRESHOLDS_M:
            got = total[t]["covered_villages"]
            # geodesic vs spherical distances differ by well under 0.5 %
            assert _covered_by_brute_force(ds, t, -0.005) <= got <= _covered_by_brute_force(ds, t, 0.005), t
            assert total[t]["villages"] == len(ds.villages)
        covered[job["dataset_id"]] = total[8000.0]["covered_villages"]
    assert covered["cy-west"] < covered["cy-full"]  # half the stations reach fewer villages
    # a glob that matches no stored dataset is refused before anything runs, naming the glob
    bad = httpx.post(f"{url}/v1/processes/batch/execution?lang=en", json={"inputs": {"datasets": ["zz-*"]}})
    assert bad.status_code == 422 and "zz-*" in bad.json()["detail"]
