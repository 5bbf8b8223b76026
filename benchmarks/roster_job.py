"""The duty roster as the product runs it: CLI, API job, and counties of a synthetic province.

    PYTHONPATH=. .venv/bin/python benchmarks/roster_job.py [--time-limit 30] [--counties 10]

1. The demo (its comprehensive stations, 400 members, 12 months): ``plan_roster`` called directly
   (the obvious alternative) vs the same roster as an API job over HTTP (``POST /v1/datasets/demo/
   rosters`` -> poll -> ``GET .../roster?format=xlsx``): the job's overhead (child process, store
   writes, polling) as a ratio; plus the XLSX and ICS exports.
2. ``--counties N`` counties of the synthetic province (``generate_province``, a tenth of the demo's
   size each): one roster per county, in this process, one after another (``geo-service batch``
   runs optimisations only; this is the per-county figure a roster batch would multiply).

Prints the machine load: the machine is shared and the figures vary with it. No timing assertions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from geo_service.app.demo import generate_demo
from geo_service.app.outputs import roster_ics_bytes, roster_xlsx_bytes
from geo_service.app.province import generate_province
from geo_service.core.store import SQLiteStore
from solvers.roster import RosterParams, plan_roster


def demo_direct_vs_job(time_limit: float) -> None:
    ds = generate_demo()
    prm = RosterParams(start="2027-01", months=12, time_limit_s=time_limit)
    t = time.perf_counter()
    res = plan_roster(ds, prm)
    direct = time.perf_counter() - t
    print(f"demo direct: {direct:.2f} s, status {res.status}, gap {res.gap}, first feasible "
          f"{res.time_to_first_s} s, {len(res.duties)} duties, {len(res.consultations)} consultations")
    t = time.perf_counter()
    xb = roster_xlsx_bytes(res)
    t_x = time.perf_counter() - t
    t = time.perf_counter()
    ib = roster_ics_bytes(res)
    t_i = time.perf_counter() - t
    print(f"exports: XLSX {len(xb) / 1024:.0f} KiB in {t_x:.2f} s, ICS {len(ib) / 1024:.0f} KiB in {t_i:.2f} s")

    data = Path(tempfile.mkdtemp(prefix="roster-bench-"))
    store = SQLiteStore(data)
    store.put_dataset("demo", ds)
    app = create_app(Settings(data_dir=str(data), load_demo=False, log_level="WARNING"), store=store)
    with TestClient(app, base_url="http://127.0.0.1", client=("127.0.0.1", 50000)) as c:
        t = time.perf_counter()
        r = c.post("/v1/datasets/demo/rosters", json={"start": "2027-01", "months": 12, "time_limit_s": time_limit})
        assert r.status_code == 202, r.text
        jid = r.json()["id"]
        while True:
            job = c.get(f"/v1/jobs/{jid}").json()
            if job["status"] in ("successful", "failed", "dismissed"):
                break
            time.sleep(0.2)
        t_job = time.perf_counter() - t
        x = c.get(f"/v1/jobs/{jid}/roster?format=xlsx")
        t_all = time.perf_counter() - t
    print(f"demo API job: {job['status']} ({job['outcome']['text']}) in {t_job:.2f} s, with the XLSX download "
          f"{t_all:.2f} s ({len(x.content) / 1024:.0f} KiB); job / direct = {t_job / direct:.2f}")


def province(n: int, time_limit: float) -> None:
    t = time.perf_counter()
    counties = generate_province(n, seed=0)
    print(f"province: {n} counties generated in {time.perf_counter() - t:.1f} s")
    times, statuses, duties, plats = [], [], 0, 0
    for ds in counties:
        t = time.perf_counter()
        res = plan_roster(ds, RosterParams(start="2027-01", months=12, time_limit_s=time_limit))
        times.append(time.perf_counter() - t)
        statuses.append(res.status)
        duties += len(res.duties)
        plats += len(res.platforms)
    print(f"province rosters: {n} counties, {statistics.mean(times):.2f} s mean, {max(times):.2f} s max, "
          f"{sum(times):.1f} s total; {plats} platforms, {duties} duties; statuses {dict((s, statuses.count(s)) for s in set(statuses))}; "
          f"100 counties one after another ~{100 * statistics.mean(times) / 60:.1f} min")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--counties", type=int, default=10)
    a = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    demo_direct_vs_job(a.time_limit)
    if a.counties:
        province(a.counties, a.time_limit)


if __name__ == "__main__":
    main()
