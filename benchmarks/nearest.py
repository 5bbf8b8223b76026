"""Straight-line nearest station: StationIndex vs geopandas.sjoin_nearest, same points, one run.

    .venv/bin/python benchmarks/nearest.py [--points 100000] [--repeat 3] [--seed 0] [--sequential]
                                           [--no-numba]

Uses the demo prefecture (geo_service.app.demo.generate_demo) and random points over its extent.
Two comparisons, each ending with the nearest station and its distance in metres:

* from WGS-84 lon/lat: ``StationIndex.nearest`` vs ``to_crs`` + ``sjoin_nearest``;
* from points already in the metric CRS: ``StationIndex.nearest_xy`` vs ``sjoin_nearest``.

Answers are checked to be the same (same station, or an equally near one; distances within
0.1 %: the index applies the transverse Mercator scale correction the planar join lacks).
The four contenders run ``--repeat`` rounds in one process, taking turns within each round (so a
change in the machine's load hits them alike, and each starts with CPU caches the others have
used), or with ``--sequential`` each ``--repeat`` times back to back (warm caches). The figures
are the median (and, in brackets, the best) of those runs; the speed-ups are median over median
(best over best). The machine is shared: use a large ``--repeat`` (21) and read the medians.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import time

import geopandas as gpd
import numpy as np


class Timing:
    """Wall times (s) of repeated runs: ``median`` and ``best``."""

    def __init__(self, times: list[float]):
        self.median = float(np.median(times))
        self.best = float(np.min(times))

    def ms(self) -> str:
        return f"{self.median * 1e3:9.1f} ms  ({self.best * 1e3:.1f})"

    def __truediv__(self, other: Timing) -> str:
        return f"{self.median / other.median:9.1f} x  ({self.best / other.best:.1f})"


def interleaved(fns: list, repeat: int, sequential: bool = False) -> list:
    """Run each of ``fns`` in turn, ``repeat`` rounds (or, ``sequential``, each ``repeat`` times
    back to back); [Timing, last result] for each, flattened."""
    times: list[list[float]] = [[] for _ in fns]
    outs: list[object] = [None] * len(fns)
    order = ([i for i in range(len(fns)) for _ in range(repeat)] if sequential
             else [i for _ in range(repeat) for i in range(len(fns))])
    for i in order:
        t = time.perf_counter()
        outs[i] = fns[i]()
        times[i].append(time.perf_counter() - t)
    return [x for ts, out in zip(times, outs) for x in (Timing(ts), out)]


def timed(fn, repeat: int) -> tuple[Timing, object]:
    """Wall times of ``repeat`` runs of ``fn()`` and its last result."""
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return Timing(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-numba", action="store_true",
                    help="answer large batches with the numpy code even where numba is installed")
    ap.add_argument("--sequential", action="store_true",
                    help="run each contender's repeats back to back (warm caches) instead of in turns")
    args = ap.parse_args()

    from geo_service.core.index import config as index_module
    from geo_service.app.demo import generate_demo
    from geo_service.core.index import StationIndex

    if args.no_numba:
        index_module.USE_NUMBA = False

    ds = generate_demo()
    rng = np.random.default_rng(args.seed)
    x0, y0, x1, y1 = ds.villages.total_bounds
    lon = rng.uniform(x0, x1, args.points)
    lat = rng.uniform(y0, y1, args.points)
    print(f"dataset: {ds.name} ({len(ds.stations)} stations); {args.points:,} random points")
    kernel = (f"numba {importlib.metadata.version('numba')}" if index_module.USE_NUMBA else "numpy")
    print(f"large-batch grids run as: {kernel}")

    t_build, index = timed(lambda: StationIndex.from_dataset(ds), args.repeat)
    index.nearest(lon[:10], lat[:10])  # build the unfiltered tree
    t = time.perf_counter()
    index.nearest(lon, lat)  # first large batch: builds the lon/lat cell grid (cached)
    t_grid = time.perf_counter() - t

    crs = ds.metric_crs
    st_m = ds.stations[["id", "geometry"]].to_crs(crs)
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    pts_m = pts.to_crs(crs)
    xy_m = np.column_stack([pts_m.geometry.x.to_numpy(), pts_m.geometry.y.to_numpy()])
    index.nearest_xy(xy_m)  # builds the metric cell grid (cached)

    def baseline():
        p = pts.to_crs(crs)
        j = gpd.sjoin_nearest(p, st_m, how="left", distance_col="distance_m")
        return j[~j.index.duplicated(keep="first")]  # ties: sjoin_nearest returns every equal one

    # the four contenders take turns, so that changes in the machine's load hit them alike
    t_ours, res, t_base, joined, t_xy, res_xy, t_join_only, _ = interleaved(
        [lambda: index.nearest(lon, lat), baseline, lambda: index.nearest_xy(xy_m),
         lambda: gpd.sjoin_nearest(pts_m, st_m, how="left", distance_col="d")], args.repeat,
        args.sequential)
    assert np.all((res_xy.station_id[:, 0] == joined["id"].to_numpy())
                  | np.isclose(res_xy.distance_m[:, 0], joined["distance_m"].to_numpy(), rtol=1e-3))

    # same answers
    ids = res.station_id[:, 0]
    d_ours = res.distance_m[:, 0]
    d_base = joined["distance_m"].to_numpy()
    same_id = ids == joined["id"].to_numpy()
    rel = np.abs(d_ours / np.where(d_base > 0, d_base, 1) - np.where(d_base > 0, 1, 0))
    tie = np.isclose(d_ours, d_base, rtol=1e-3)
    assert np.all(same_id | tie), "different stations at different distances"
    assert rel.max() < 1e-3, rel.max()

    # single points and a big batch
    n1 = 2000
    t = time.perf_counter()
    for i in range(n1):
        index.nearest(lon[i], lat[i])
    t_single = (time.perf_counter() - t) / n1
    big = 1_000_000
    blon = rng.uniform(x0, x1, big)
    blat = rng.uniform(y0, y1, big)
    t_big, _ = timed(lambda: index.nearest(blon, blat, k=3), 1)
    index.nearest(lon, lat, k=1, sector="经济")  # its grids
    t_sector, _ = timed(lambda: index.nearest(lon, lat, k=1, sector="经济"), args.repeat)

    print(f"median (best) of {args.repeat} runs, "
          f"{'each back to back' if args.sequential else 'taking turns'}")
    print(f"StationIndex build              {t_build.ms()}")
    print(f"first large batch (grid build)  {t_grid * 1e3:9.1f} ms")
    print("from lon/lat:")
    print(f"  StationIndex.nearest          {t_ours.ms()}  {args.points / t_ours.median / 1e6:.1f} M points/s")
    print(f"  to_crs + sjoin_nearest        {t_base.ms()}")
    print(f"  speed-up                      {t_base / t_ours}")
    print("from projected points:")
    print(f"  StationIndex.nearest_xy       {t_xy.ms()}")
    print(f"  sjoin_nearest                 {t_join_only.ms()}")
    print(f"  speed-up                      {t_join_only / t_xy}")
    print(f"same station: {same_id.mean() * 100:.3f} % (rest are ties); max distance difference "
          f"{rel.max() * 100:.4f} %")
    print(f"single-point query              {t_single * 1e6:9.1f} us")
    print(f"sector filter (经济), batch     {t_sector.ms()}")
    print(f"1,000,000 points, k=3           {t_big.median:9.2f} s")


if __name__ == "__main__":
    main()
