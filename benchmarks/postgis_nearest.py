"""Nearest station over the HTTP API: PostGIS KNN (``<->``) vs the in-memory index, same data.

One run, one uvicorn server on 127.0.0.1 backed by a :class:`PostGISStore`:

- ``index``: the API's own ``GET /v1/datasets/{id}/nearest`` (the hot path: a KD-tree on the
  dataset's metric CRS, built once per dataset version and cached in memory);
- ``sql``: a route added to the same app for this benchmark, ``GET /bench/{id}/nearest_sql``,
  answering from :meth:`PostGISStore.nearest_stations_sql` (KNN on the GiST geography index,
  one database round trip per request), so both go through the same HTTP stack.

Requests alternate between the two methods point by point, so both see the same machine load.
Data: the demo county (~80 stations) and a large synthetic station layer (``--large`` stations
spread over a province, 126-134 E, 44.5-48.5 N). Query points are uniform over each dataset's
extent. Prints median / p95 latency (ms) and requests per second for k=1 and k=5, the ratio
sql / index, and how often both answers agree (same station ids; distances within 0.1%). Also
times the two in-process (no HTTP). Uses ``GEO_SERVICE_TEST_PG_URL`` or starts a throwaway
cluster (scripts/pg_test_server.py).

    .venv/bin/python benchmarks/postgis_nearest.py [--requests 300] [--large 20000]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import socket
import statistics
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import geopandas as gpd
import httpx
import numpy as np
import pandas as pd
from shapely.geometry import Point, box

ROOT = Path(__file__).resolve().parents[1]


def _pg_script():
    spec = importlib.util.spec_from_file_location("pg_test_server", ROOT / "scripts" / "pg_test_server.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def large_dataset(n: int, seed: int = 0):
    """A dataset of ``n`` stations spread over a province (one township, one village)."""
    from geo_service.core.dataset import Dataset
    from geo_service.core.domain import SECTORS, STATION_KINDS

    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = 126.0, 44.5, 134.0, 48.5
    tw = gpd.GeoDataFrame({"id": ["T1"], "name": ["全省"]}, geometry=[box(minx, miny, maxx, maxy)], crs=4326)
    vil = gpd.GeoDataFrame({"id": ["V1"], "name": ["一村"], "township_id": ["T1"], "population": [100]},
                           geometry=[Point(130, 46.5)], crs=4326)
    st = gpd.GeoDataFrame(
        {"id": [f"S{i}" for i in range(n)], "name": [f"站{i}" for i in range(n)],
         "kind": rng.choice(STATION_KINDS, n), "sectors": [[str(s)] for s in rng.choice(SECTORS[:10], n)]},
        geometry=gpd.points_from_xy(rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)), crs=4326)
    return Dataset.from_layers({"townships": tw, "villages": vil, "stations": st}, name="large")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(app, port: int):
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    for _ in range(200):
        if server.started:
            return server, th
        time.sleep(0.05)
    raise RuntimeError("uvicorn did not start")


def timed(client: httpx.Client, urls: dict[str, str], pts: np.ndarray, k: int
          ) -> dict[str, tuple[list[float], list[list[tuple]]]]:
    """Per method: latencies (ms) and answers; the methods alternate point by point (same load)."""
    out: dict[str, tuple[list[float], list[list[tuple]]]] = {m: ([], []) for m in urls}
    for i, (lon, lat) in enumerate(pts):
        methods = list(urls) if i % 2 == 0 else list(urls)[::-1]
        for m in methods:
            t = time.perf_counter()
            r = client.get(urls[m], params={"lon": lon, "lat": lat, "k": k})
            out[m][0].append((time.perf_counter() - t) * 1000)
            r.raise_for_status()
            out[m][1].append([(x.get("station_id") or x.get("id"), x["distance_m"]) for x in r.json()["results"]])
    return out


def agree(a: list[list[tuple]], b: list[list[tuple]]) -> float:
    ok = 0
    for x, y in zip(a, b):
        same_ids = [i for i, _ in x] == [i for i, _ in y]
        close = all(abs(d1 - d2) <= 1e-3 * max(d1, 1.0) for (_, d1), (_, d2) in zip(x, y))
        ok += same_ids and close
    return ok / len(a)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=300, help="queries per (dataset, method, k)")
    ap.add_argument("--large", type=int, default=20000, help="stations in the large dataset")
    args = ap.parse_args()

    from fastapi import HTTPException

    from api.app import create_app
    from api.settings import Settings
    from geo_service.app.demo import generate_demo
    from geo_service.core.index import StationIndex
    from geo_service.core.store.postgis import PostGISStore

    with ExitStack() as stack:
        url = os.environ.get("GEO_SERVICE_TEST_PG_URL")
        if not url:
            pg = _pg_script()
            url, root = pg.start()
            stack.callback(pg.stop, root)
        store = PostGISStore(url, schema="bench_nearest")
        stack.callback(store.close)
        datasets = {"demo": generate_demo(), "large": large_dataset(args.large)}
        for name, ds in datasets.items():
            t = time.perf_counter()
            store.put_dataset(name, ds)
            print(f"stored {name}: {len(ds.stations)} stations in {time.perf_counter() - t:.2f} s")

        app = create_app(Settings(database_url=url, load_demo=False, log_level="WARNING"), store=store)

        @app.get("/bench/{dataset_id}/nearest_sql")
        def nearest_sql(dataset_id: str, lon: float, lat: float, k: int = 1):
            try:
                return {"results": store.nearest_stations_sql(dataset_id, lon, lat, k)}
            except ValueError as e:
                raise HTTPException(422, str(e)) from e

        port = free_port()
        server, th = serve(app, port)
        stack.callback(th.join, 10)
        stack.callback(setattr, server, "should_exit", True)
        client = stack.enter_context(httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30))

        rows = []
        rng = np.random.default_rng(1)
        for name, ds in datasets.items():
            minx, miny, maxx, maxy = ds.stations.total_bounds
            pts = np.column_stack([rng.uniform(minx, maxx, args.requests), rng.uniform(miny, maxy, args.requests)])
            for k in (1, 5):
                urls = {"index": f"/v1/datasets/{name}/nearest", "sql": f"/bench/{name}/nearest_sql"}
                timed(client, urls, pts[:20], k)  # warm-up: index build, connection pool, query plans
                res = timed(client, urls, pts, k)
                for method, (ms, _) in res.items():
                    rows.append({"dataset": name, "stations": len(ds.stations), "k": k, "method": method,
                                 "median_ms": statistics.median(ms), "p95_ms": float(np.percentile(ms, 95)),
                                 "req_per_s": len(ms) / (sum(ms) / 1000)})
                rows[-1]["agree"] = rows[-2]["agree"] = agree(res["index"][1], res["sql"][1])

            # in-process, no HTTP: StationIndex.nearest vs nearest_stations_sql, one point per call
            idx = StationIndex.from_dataset(ds)
            n = min(args.requests, 200)
            t = time.perf_counter()
            for lon, lat in pts[:n]:
                idx.nearest(lon, lat, k=5)
            t_idx = (time.perf_counter() - t) / n * 1000
            t = time.perf_counter()
            for lon, lat in pts[:n]:
                store.nearest_stations_sql(name, lon, lat, k=5)
            t_sql = (time.perf_counter() - t) / n * 1000
            print(f"in-process, {name}, k=5: StationIndex {t_idx:.3f} ms/query, SQL KNN {t_sql:.3f} ms/query, "
                  f"ratio sql/index {t_sql / t_idx:.1f}x")

        df = pd.DataFrame(rows)
        print()
        print(df.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        print()
        for (name, k), g in df.groupby(["dataset", "k"], sort=False):
            m = g.set_index("method")["median_ms"]
            print(f"{name} (k={k}): over HTTP, PostGIS <-> median {m['sql']:.2f} ms vs in-memory index "
                  f"{m['index']:.2f} ms: ratio sql/index {m['sql'] / m['index']:.2f}x; answers agree "
                  f"{g['agree'].iloc[0]:.1%}")
        import psycopg

        with psycopg.connect(url, autocommit=True) as con:
            con.execute('DROP SCHEMA IF EXISTS "bench_nearest" CASCADE')


if __name__ == "__main__":
    main()
