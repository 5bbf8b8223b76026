"""Nearest-station batches over HTTP against in-process peers.

    PYTHONPATH=. .venv/bin/python benchmarks/api_nearest_batch.py [--points 100000] [--repeat 3]
                                  [--binary-points 1000000] [--only sjoin|binary]

Two comparisons, each against its peer in one process on the same points:

1. ``--points`` (100,000) uniform points, JSON over HTTP vs ``geopandas.sjoin_nearest``;
2. ``--binary-points`` (1,000,000) points, half uniform over the demo's extent and half clustered
   around its villages (seed 1), three ways with turns interleaved: the in-process
   ``StationIndex.nearest`` call, the HTTP batch in JSON, and the HTTP batch in Arrow IPC both ways
   (``Content-Type``/``Accept: application/vnd.apache.arrow.stream``, decoded with pyarrow). The
   ratios HTTP / in-process are what a client pays for the wire.

HTTP: the client encodes the points as a JSON array of [lon, lat] pairs, POSTs them to
``/v1/datasets/demo/nearest`` (uvicorn subprocess on 127.0.0.1) and decodes the column-wise JSON
answer; the timed span covers all of that. In-process: ``geopandas.sjoin_nearest`` of the same
points against the demo's stations, both projected to the dataset's metric CRS (projection
included in the timing, the GeoDataFrame of points built from the arrays). Prints the best of
``repeat`` runs of each, the ratio, and checks that both give the same station for >= 99.9 % of
points (ties between equidistant stations may differ).
"""

from __future__ import annotations

import argparse
import json
import time

import geopandas as gpd
import httpx
import numpy as np

from api_common import headers, server

try:
    import orjson

    def dumps(o) -> bytes:
        return orjson.dumps(o, option=orjson.OPT_SERIALIZE_NUMPY)

    loads = orjson.loads
except ImportError:  # pragma: no cover
    def dumps(o) -> bytes:
        return json.dumps(o.tolist() if hasattr(o, "tolist") else o).encode()

    loads = json.loads

BBOX = (129.6, 46.1, 134.9, 48.3)


def clustered_points(ds, n: int, seed: int = 1) -> np.ndarray:
    """Half uniform over the demo's extent, half within ~3 km of random villages (lon, lat)."""
    rng = np.random.default_rng(seed)
    half = n // 2
    uni = np.column_stack([rng.uniform(BBOX[0], BBOX[2], half), rng.uniform(BBOX[1], BBOX[3], half)])
    vil = ds.villages.geometry
    vxy = np.column_stack([vil.x.to_numpy(), vil.y.to_numpy()])
    pick = vxy[rng.integers(0, len(vxy), n - half)]
    near = pick + rng.normal(0.0, 0.03, (n - half, 2)) * np.array([1.4, 1.0])
    return np.vstack([uni, near])


def binary_comparison(ds, n: int, repeat: int) -> None:
    """1M points: in-process StationIndex vs HTTP JSON vs HTTP Arrow, turns interleaved."""
    import pyarrow as pa

    from geo_service.core.index import StationIndex

    arrow = "application/vnd.apache.arrow.stream"
    pts = clustered_points(ds, n)
    idx = StationIndex.from_dataset(ds)
    idx.nearest(pts[:30_000, 0], pts[:30_000, 1])  # builds the grid (the server's is warmed below too)

    def arrow_body() -> bytes:
        t = pa.table({"lon": pts[:, 0], "lat": pts[:, 1]})
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, t.schema) as w:
            w.write_table(t)
        return sink.getvalue().to_pybytes()

    best = {"in-process": float("inf"), "HTTP JSON": float("inf"), "HTTP Arrow": float("inf")}
    sizes = {}
    with server() as base, httpx.Client(base_url=base, headers=headers(), timeout=600) as c:
        c.post("/v1/datasets/demo/nearest", content=dumps(pts[:30_000]),
               headers={"Content-Type": "application/json"})  # warm up the index and its grid
        for _ in range(repeat):
            t = time.perf_counter()
            ref = idx.nearest(pts[:, 0], pts[:, 1])
            best["in-process"] = min(best["in-process"], time.perf_counter() - t)
            t = time.perf_counter()
            body = dumps(pts)
            r = c.post("/v1/datasets/demo/nearest", content=body, headers={"Content-Type": "application/json"})
            js = loads(r.content)
            best["HTTP JSON"] = min(best["HTTP JSON"], time.perf_counter() - t)
            assert r.status_code == 200, r.text[:300]
            sizes["JSON"] = (len(body), len(r.content))
            t = time.perf_counter()
            body = arrow_body()
            r = c.post("/v1/datasets/demo/nearest", content=body,
                       headers={"Content-Type": arrow, "Accept": arrow})
            tab = pa.ipc.open_stream(r.content).read_all()
            ids = tab.column("station_id").to_numpy(zero_copy_only=False)
            best["HTTP Arrow"] = min(best["HTTP Arrow"], time.perf_counter() - t)
            assert r.status_code == 200, r.text[:300]
            sizes["Arrow"] = (len(body), len(r.content))
    same_json = float(np.mean(np.asarray(js["columns"]["station_id"], dtype=object) == ref.station_id[:, 0]))
    same_arrow = float(np.mean(ids == ref.station_id[:, 0]))
    base_t = best["in-process"]
    print(f"{n:,} points (half uniform, half clustered around villages; seed 1), best of {repeat}, "
          f"turns interleaved:")
    for name, v in best.items():
        size = sizes.get(name.split()[-1])
        txt = f" ({size[0] / 1e6:.1f} MB in, {size[1] / 1e6:.1f} MB out)" if size else ""
        print(f"  {name}: {v * 1000:.0f} ms{txt}; {v / base_t:.2f}x in-process")
    print(f"  same station as in-process: JSON {same_json * 100:.3f} %, Arrow {same_arrow * 100:.3f} %")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--binary-points", type=int, default=1_000_000)
    ap.add_argument("--only", choices=["sjoin", "binary"], default=None)
    a = ap.parse_args()
    import os

    print(f"load average before: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})")
    if a.only == "binary":
        from geo_service.app.demo import generate_demo

        binary_comparison(generate_demo(), a.binary_points, a.repeat)
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        return
    rng = np.random.default_rng(1)
    pts = np.column_stack([rng.uniform(BBOX[0], BBOX[2], a.points), rng.uniform(BBOX[1], BBOX[3], a.points)])

    from geo_service.app.demo import generate_demo

    ds = generate_demo()
    stations = ds.stations[["id", "geometry"]]
    crs = ds.metric_crs

    def sjoin():
        g = gpd.GeoDataFrame(geometry=gpd.points_from_xy(pts[:, 0], pts[:, 1]), crs="EPSG:4326").to_crs(crs)
        out = gpd.sjoin_nearest(g, stations.to_crs(crs), how="left", distance_col="distance_m")
        return out[~out.index.duplicated()]

    best_sj, ref = float("inf"), None
    for _ in range(a.repeat):
        t = time.perf_counter()
        ref = sjoin()
        best_sj = min(best_sj, time.perf_counter() - t)

    with server() as base, httpx.Client(base_url=base, headers=headers(), timeout=300) as c:
        c.post("/v1/datasets/demo/nearest", content=dumps(pts[:10]),
               headers={"Content-Type": "application/json"})  # warm up the index
        best_http, body = float("inf"), None
        for _ in range(a.repeat):
            t = time.perf_counter()
            r = c.post("/v1/datasets/demo/nearest", content=dumps(pts), headers={"Content-Type": "application/json"})
            body = loads(r.content)
            best_http = min(best_http, time.perf_counter() - t)
            assert r.status_code == 200, r.text[:500]
        size_in, size_out = len(dumps(pts)), len(r.content)

    ids = np.asarray(body["columns"]["station_id"], dtype=object)
    same = float(np.mean(ids == ref["id"].to_numpy(dtype=object)))
    dist_err = np.nanmax(np.abs(np.asarray(body["columns"]["distance_m"], dtype=float)
                                - ref["distance_m"].to_numpy()) / np.maximum(ref["distance_m"].to_numpy(), 1.0))
    print(f"{a.points:,} points against {len(stations)} demo stations (best of {a.repeat}):")
    print(f"  HTTP POST /v1/datasets/demo/nearest (JSON {size_in / 1e6:.1f} MB in, {size_out / 1e6:.1f} MB out, "
          f"encode+send+decode): {best_http * 1000:.0f} ms")
    print(f"  geopandas.sjoin_nearest in-process (projection included): {best_sj * 1000:.0f} ms")
    print(f"  ratio sjoin_nearest / HTTP: {best_sj / best_http:.2f}x  (goal > 1: HTTP faster)")
    print(f"  same nearest station: {same * 100:.3f} % of points; max relative distance difference "
          f"{dist_err * 100:.3f} %")
    if a.only != "sjoin":
        binary_comparison(ds, a.binary_points, a.repeat)
    print(f"load average after: {__import__('os').getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
