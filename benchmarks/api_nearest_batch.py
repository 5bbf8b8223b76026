"""A 100,000-point nearest-station batch over HTTP vs ``geopandas.sjoin_nearest`` in-process.

    .venv/bin/python benchmarks/api_nearest_batch.py [--points 100000] [--repeat 3]

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
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


if __name__ == "__main__":
    main()
