"""Import/export speed on the demo county, and GCJ-02 conversion against a per-point loop.

Run from the repository root: ``.venv/bin/python benchmarks/io_formats.py``. Prints, per format,
the time to write the whole demo county and to read + validate it back (median of 3), and the
time to convert 100,000 GCJ-02 points to WGS-84 vectorised (:func:`geo_service.core.crs.gcj02_to_wgs84`
on arrays) against the obvious alternative, the same formula called once per point (what
point-at-a-time packages such as ``prcoords`` do).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from geo_service.core.crs import gcj02_to_wgs84
from geo_service.app.demo import generate_demo
from geo_service.core.io import read_dataset, write_dataset

TARGETS = {"gpkg": "demo.gpkg", "xlsx": "demo.xlsx", "geojson": "geojson", "csv": "csv", "shp": "shp"}


def _median(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def formats() -> None:
    ds = generate_demo()
    print(f"demo county: {ds.counts()}")
    print(f"{'format':8} {'write s':>8} {'read s':>8} {'size MB':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for fmt, name in TARGETS.items():
            path = Path(tmp) / name
            w = _median(lambda: write_dataset(ds, path, fmt=fmt))
            r = _median(lambda: read_dataset(path))
            size = sum(p.stat().st_size for p in path.rglob("*")) if path.is_dir() else path.stat().st_size
            print(f"{fmt:8} {w:8.2f} {r:8.2f} {size / 1e6:8.2f}")


def datum() -> None:
    rng = np.random.default_rng(0)
    n = 100_000
    lon = rng.uniform(73.5, 135.0, n)
    lat = rng.uniform(18.0, 53.5, n)
    vec = _median(lambda: gcj02_to_wgs84(lon, lat))
    m = 5_000  # the loop is slow: time a slice and scale
    loop = _median(lambda: [gcj02_to_wgs84(float(x), float(y)) for x, y in zip(lon[:m], lat[:m])]) * n / m
    print(f"GCJ-02 -> WGS-84, {n:,} points: vectorised {vec:.3f} s, per-point loop {loop:.2f} s "
          f"(x{loop / vec:.0f})")


if __name__ == "__main__":
    formats()
    datum()
