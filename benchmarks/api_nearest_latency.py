"""Single nearest-station lookup over HTTP vs ``/healthz`` in the same run, then concurrent load.

    .venv/bin/python benchmarks/api_nearest_latency.py [--n 1000] [--concurrency 8] [--load 4000]

1. Sequential: ``n`` requests to each endpoint, interleaved (one keep-alive connection), on the demo
   county; prints median and p95 latency and the ratio nearest/healthz (goal: <= 1.5).
2. Concurrent: ``concurrency`` clients send ``load`` nearest lookups (random points in the county,
   random k, kind filters) as fast as they can; prints throughput, p50/p99 latency and errors (goal: 0).
Server: uvicorn in a subprocess on 127.0.0.1 (one worker process, the service's JSON logs on).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx
import numpy as np

from api_common import headers, server

BBOX = (129.6, 46.1, 134.9, 48.3)  # the demo county (Jiamusi), WGS-84


def pct(xs, q):
    return float(np.percentile(np.asarray(xs) * 1000, q))


def sequential(base: str, n: int, rng) -> dict[str, list[float]]:
    out = {"healthz": [], "nearest": []}
    with httpx.Client(base_url=base, headers=headers(), timeout=10) as c:
        for _ in range(50):  # warm up: connection, caches, index
            c.get("/healthz")
            c.get("/v1/datasets/demo/nearest", params={"lon": 130.3, "lat": 46.8})
        for _ in range(n):
            lon, lat = rng.uniform(BBOX[0], BBOX[2]), rng.uniform(BBOX[1], BBOX[3])
            t = time.perf_counter()
            r = c.get("/healthz")
            out["healthz"].append(time.perf_counter() - t)
            assert r.status_code == 200
            t = time.perf_counter()
            r = c.get("/v1/datasets/demo/nearest", params={"lon": lon, "lat": lat, "k": 3})
            out["nearest"].append(time.perf_counter() - t)
            assert r.status_code == 200 and len(r.json()["results"]) == 3, r.text
    return out


async def load(base: str, total: int, concurrency: int, rng) -> tuple[list[float], int, float]:
    kinds = [None, "station_comprehensive", "studio", "station_sector"]
    queries = [{"lon": rng.uniform(BBOX[0], BBOX[2]), "lat": rng.uniform(BBOX[1], BBOX[3]),
                "k": int(rng.integers(1, 4)), **({"kind": k} if (k := kinds[i % 4]) else {})}
               for i in range(total)]
    lat_s: list[float] = []
    errors = 0
    it = iter(queries)

    async def worker(c: httpx.AsyncClient):
        nonlocal errors
        for q in it:
            t = time.perf_counter()
            try:
                r = await c.get("/v1/datasets/demo/nearest", params=q)
                if r.status_code != 200:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            lat_s.append(time.perf_counter() - t)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers(), timeout=30, limits=limits) as c:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(c) for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    return lat_s, errors, wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--load", type=int, default=4000)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    with server() as base:
        seq = sequential(base, a.n, rng)
        h, n = statistics.median(seq["healthz"]) * 1000, statistics.median(seq["nearest"]) * 1000
        print(f"sequential, {a.n} requests each, one keep-alive connection:")
        print(f"  /healthz                median {h:.3f} ms  p95 {pct(seq['healthz'], 95):.3f} ms")
        print(f"  /v1/datasets/demo/nearest (k=3) median {n:.3f} ms  p95 {pct(seq['nearest'], 95):.3f} ms")
        print(f"  ratio nearest/healthz (median): {n / h:.2f}  (goal <= 1.5)")
        lat_s, errors, wall = asyncio.run(load(base, a.load, a.concurrency, rng))
        print(f"concurrent: {a.load} nearest lookups, {a.concurrency} clients: {a.load / wall:.0f} req/s, "
              f"p50 {pct(lat_s, 50):.2f} ms, p99 {pct(lat_s, 99):.2f} ms, errors {errors}")


if __name__ == "__main__":
    main()
