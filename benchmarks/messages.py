"""码上议事 speed: the responsibility lookup vs ``/healthz`` over HTTP, and routing a province's day of messages.

    .venv/bin/python benchmarks/messages.py [--n 500] [--counties 100] [--per-county 300]

1. Sequential over one keep-alive connection (uvicorn in a subprocess, the demo county, a viewer key):
   ``/healthz`` and ``GET /v1/datasets/demo/responsible?lon=&lat=`` at random points, interleaved;
   prints the medians, p95 and the ratio (goal: <= 2).
2. Routing: ``counties`` county committees, each with ``per-county`` messages in a day (random places in
   the demo county, random sectors, a fifth of them at stations), each county routed as one assignment
   (``solvers.messages.route``) against the open messages so far; prints the total time (goal: seconds).
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx
import numpy as np
from api_common import headers, server

from geo_service.app.demo import generate_demo
from geo_service.core.index import StationIndex
from geo_service.core.responsible import ResponsibilityIndex
from solvers.messages import candidates, route

BBOX = (129.6, 46.1, 134.9, 48.3)  # the demo county (Jiamusi), WGS-84


def pct(xs, q):
    return float(np.percentile(np.asarray(xs) * 1000, q))


def sequential(base: str, n: int, rng) -> dict[str, list[float]]:
    out = {"healthz": [], "responsible": [], "nearest": []}
    with httpx.Client(base_url=base, headers=headers(), timeout=10) as c:
        for _ in range(50):  # warm up: connection, caches, the index of the version
            c.get("/healthz")
            c.get("/v1/datasets/demo/responsible", params={"lon": 130.3, "lat": 46.8})
        for _ in range(n):
            lon, lat = rng.uniform(BBOX[0], BBOX[2]), rng.uniform(BBOX[1], BBOX[3])
            t = time.perf_counter()
            r = c.get("/healthz")
            out["healthz"].append(time.perf_counter() - t)
            assert r.status_code == 200
            t = time.perf_counter()
            r = c.get("/v1/datasets/demo/responsible", params={"lon": lon, "lat": lat})
            out["responsible"].append(time.perf_counter() - t)
            assert r.status_code == 200 and r.json()["village"], r.text
            t = time.perf_counter()
            r = c.get("/v1/datasets/demo/nearest", params={"lon": lon, "lat": lat, "k": 3})
            out["nearest"].append(time.perf_counter() - t)
            assert r.status_code == 200
    return out


def province_day(counties: int, per_county: int, rng) -> tuple[float, int, int]:
    ds = generate_demo()
    ix = ResponsibilityIndex(ds, StationIndex.from_dataset(ds))
    sectors = ix.sectors
    stations = ds.stations["id"].astype(str).tolist()
    t0 = time.perf_counter()
    routed = unrouted = 0
    for _ in range(counties):
        open_counts: dict[str, int] = {}
        cands = []
        for i in range(per_county):
            if i % 5 == 0:  # left at a station: its duty, else its members, else its village's members
                sid = stations[int(rng.integers(len(stations)))]
                row, _ = ix.village_at(*ix.station_lonlat(sid))
                cands.append(candidates(ix, station_id=sid, village_row=row))
                continue
            row, _ = ix.village_at(rng.uniform(BBOX[0], BBOX[2]), rng.uniform(BBOX[1], BBOX[3]))
            cands.append(candidates(ix, village_row=row, sector=sectors[int(rng.integers(len(sectors)))]))
        r = route(cands, open_counts)
        assert r.status == "optimal"
        routed += sum(x.member_id is not None for x in r.routed)
        unrouted += len(r.unrouted)
    return time.perf_counter() - t0, routed, unrouted


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--counties", type=int, default=100)
    ap.add_argument("--per-county", type=int, default=300)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    with server() as base:
        seq = sequential(base, a.n, rng)
    h, r = statistics.median(seq["healthz"]) * 1000, statistics.median(seq["responsible"]) * 1000
    print(f"sequential, {a.n} requests each, one keep-alive connection:")
    print(f"  /healthz                        median {h:.3f} ms  p95 {pct(seq['healthz'], 95):.3f} ms")
    print(f"  /v1/datasets/demo/responsible   median {r:.3f} ms  p95 {pct(seq['responsible'], 95):.3f} ms")
    nn = statistics.median(seq["nearest"]) * 1000
    print(f"  /v1/datasets/demo/nearest k=3   median {nn:.3f} ms  p95 {pct(seq['nearest'], 95):.3f} ms")
    print(f"  ratio responsible/healthz (median): {r / h:.2f}  (goal <= 2); nearest/healthz {nn / h:.2f}")
    wall, routed, unrouted = province_day(a.counties, a.per_county, rng)
    total = a.counties * a.per_county
    print(f"routing a province's day: {a.counties} counties x {a.per_county} messages = {total} messages in "
          f"{wall:.2f} s ({routed} routed, {unrouted} with nobody to route to)")


if __name__ == "__main__":
    main()
