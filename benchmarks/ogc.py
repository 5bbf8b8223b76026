"""OGC API items pages and vector tiles of a province-size dataset against the plain GeoJSON route.

A synthetic province of about 20,000 villages (:func:`geo_service.app.province_merge.province_dataset`)
is stored in a fresh embedded store; the service runs in a uvicorn subprocess on loopback (viewer key)
and one client measures, each request repeated and the median taken:

- a page of 1,000 villages from the compact route ``/v1/datasets/{id}/villages`` and from the OGC
  route ``/collections/villages/items`` (first request after start, then warm; offsets spread over
  the layer), and the same with a ``bbox`` of a county-size window;
- every village through ``next`` links (20 pages) on both routes;
- vector tiles (all tileable layers) at zooms 6, 8 and 10 over the province: first (encoded) and
  again (cached), with their sizes; before them one request that builds the layers (coverage per
  village, Web Mercator copies), timed on its own.

Run: ``.venv/bin/python benchmarks/ogc.py [--villages 20000] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from api.routers.ogc.tiles import lonlat_to_tile
from benchmarks.api_common import free_port
from geo_service.app.province_merge import province_dataset
from geo_service.core.store import SQLiteStore

KEY = "bench-viewer-key-0001"


@contextlib.contextmanager
def serve(data: Path):
    port = free_port()
    env = {**os.environ, "GEO_SERVICE_DATA_DIR": str(data), "GEO_SERVICE_LOAD_DEMO": "false",
           "GEO_SERVICE_API_KEYS": f"{KEY}:viewer", "GEO_SERVICE_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    log = open(data / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host",
                             "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[1])
    base = f"http://127.0.0.1:{port}"
    try:
        t0 = time.monotonic()
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: see {data / 'server.log'}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            if time.monotonic() - t0 > 180:
                raise RuntimeError("server did not start within 180 s")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def timed(client: httpx.Client, url: str, params: dict | None = None) -> tuple[float, int, httpx.Response]:
    t = time.perf_counter()
    r = client.get(url, params=params)
    dt = (time.perf_counter() - t) * 1000
    r.raise_for_status()
    return dt, len(r.content), r


def walk(client: httpx.Client, url: str) -> tuple[float, int]:
    """Follow ``next`` links from ``url``; (ms, features)."""
    t, n = time.perf_counter(), 0
    while url:
        body = client.get(url).json()
        n += len(body["features"])
        url = next((lk["href"] for lk in body["links"] if lk["rel"] == "next"), None)
    return (time.perf_counter() - t) * 1000, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--villages", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    ds = province_dataset(a.villages)
    data = Path(tempfile.mkdtemp(prefix="geo-bench-ogc-"))
    SQLiteStore(data).put_dataset("p", ds)
    x0, y0, x1, y1 = ds.villages.total_bounds
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    window = f"{cx - 0.3},{cy - 0.3},{cx + 0.3},{cy + 0.3}"
    print(f"province: {len(ds.villages)} villages, {len(ds.stations)} stations, {len(ds.townships)} townships")
    with serve(data) as base, httpx.Client(headers={"X-API-Key": KEY}, timeout=120) as c:
        plain, ogc = f"{base}/v1/datasets/p/villages", f"{base}/v1/datasets/p/collections/villages/items"
        for name, url in (("plain GeoJSON route", plain), ("OGC items", ogc)):
            first = timed(c, url, {"limit": 1000})[0]
            offs = [i * len(ds.villages) // (a.repeat + 1) for i in range(1, a.repeat + 1)]
            warm = [timed(c, url, {"limit": 1000, "offset": o}) for o in offs]
            box = [timed(c, url, {"limit": 1000, "bbox": window}) for _ in range(a.repeat)]
            print(f"{name:<22} page of 1000: first {first:7.1f} ms, warm median "
                  f"{statistics.median(w[0] for w in warm):6.1f} ms ({warm[0][1] / 1024:.0f} KiB); bbox "
                  f"{statistics.median(b[0] for b in box):6.1f} ms ({box[0][2].json()['numberMatched']} matched)")
        for name, url in (("plain GeoJSON route", f"{plain}?limit=1000"), ("OGC items", f"{ogc}?limit=1000")):
            ms, n = walk(c, url)
            print(f"{name:<22} every village by next links: {ms:7.0f} ms for {n} features")
        t0 = timed(c, f"{base}/v1/datasets/p/tiles/WebMercatorQuad/14/0/0")[0]  # empty: builds the layers
        print(f"first tile request (builds coverage and the layers' Web Mercator copies): {t0:.0f} ms")
        for z in (6, 8, 10):
            xa, ya = lonlat_to_tile(x0, y1, z)
            xb, yb = lonlat_to_tile(x1, y0, z)
            tiles = [(x, y) for x in range(xa, xb + 1) for y in range(ya, yb + 1)][:64]
            cold = [timed(c, f"{base}/v1/datasets/p/tiles/WebMercatorQuad/{z}/{y}/{x}") for x, y in tiles]
            hot = [timed(c, f"{base}/v1/datasets/p/tiles/WebMercatorQuad/{z}/{y}/{x}") for x, y in tiles]
            print(f"tiles z{z:<2} ({len(tiles):>2} tiles): encoded median {statistics.median(t[0] for t in cold):6.1f} ms"
                  f" (max {max(t[0] for t in cold):6.1f}), cached median {statistics.median(t[0] for t in hot):5.1f} ms,"
                  f" size median {statistics.median(t[1] for t in cold) / 1024:6.1f} KiB"
                  f" (max {max(t[1] for t in cold) / 1024:.0f})")


if __name__ == "__main__":
    main()
