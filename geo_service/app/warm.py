"""Compile the numba kernels once, ahead of the first real call (``geo-service warm``).

The kernels (the large-batch grids of :mod:`geo_service.core.index`, road mode's segment grid
(:mod:`geo_service.core.road_snap`), the Lagrangian loops of
:mod:`solvers.location`) are ``numba.njit(cache=True)``: the first call on a machine compiles them
(4-7 s in all) and writes the machine code to numba's cache (``__pycache__`` beside the source
where the package directory is writable, else the user's cache folder, or ``NUMBA_CACHE_DIR``);
later processes load it in well under a second. :func:`warm` runs each kernel once on a tiny
input of the same types the services pass, so that compilation happens here (at install, or in a
background thread when ``geo-service serve`` starts) and not in a user's first request.

>>> report = warm()          # doctest: +SKIP
>>> report["kernels"]        # doctest: +SKIP
{'index': 0.41, 'pmedian': 0.12, 'pmedian_large': 0.2, 'mclp': 0.05}
"""

from __future__ import annotations

import threading
import time
from typing import Any

import geopandas as gpd
import numpy as np
from shapely.geometry import LineString, Point

from geo_service.core._optional import HAVE_NUMBA
from geo_service.core.crs import metric_crs
from geo_service.core.index import StationIndex
from geo_service.core import road_snap
from geo_service.core.index import config as index_config
from geo_service.core.network import RoadNetwork
from solvers.location import p_median
from solvers.location import pmedian_sparse as ps
from solvers.location.mclp_lagrange import mclp_lagrangian
from solvers.location.reach import merge_rows, reach

_LON0, _LAT0 = 130.36, 46.8  # a place inside the demo county (any place would do)
_SOLVE_S = 30.0  # limit of the tiny solves: compiling happens inside them, so a short one could
                 # stop before reaching the later kernels on a busy machine


def _warm_index(rng: np.random.Generator) -> None:
    """The lon/lat and metric grids' kernels: one batch each, as large as the grids need."""
    n_st = 12
    lon = _LON0 + rng.uniform(-0.3, 0.3, n_st)
    lat = _LAT0 + rng.uniform(-0.2, 0.2, n_st)
    st = gpd.GeoDataFrame({"id": [f"S{i}" for i in range(n_st)], "name": [f"S{i}" for i in range(n_st)],
                           "kind": ["station_comprehensive"] * n_st, "sectors": [[] for _ in range(n_st)],
                           "capacity": [10] * n_st},
                          geometry=[Point(a, b) for a, b in zip(lon, lat)], crs="EPSG:4326")
    idx = StationIndex(st, metric_crs(_LON0, _LAT0))
    n = max(index_config.GRID_MIN_BATCH, 1)
    pts = np.column_stack([_LON0 + rng.uniform(-0.3, 0.3, n), _LAT0 + rng.uniform(-0.2, 0.2, n)])
    idx.nearest(pts[:, 0], pts[:, 1])
    xy = rng.uniform(-20_000.0, 20_000.0, (n, 2))
    idx.nearest_xy(xy)


def _warm_pmedian(rng: np.random.Generator) -> None:
    """The Lagrangian branch-and-bound (small p) and the large-p loops (swaps, subgradient)."""
    cost = rng.uniform(100.0, 10_000.0, (80, 40))
    p_median(cost, 3, time_limit=_SOLVE_S)


def _warm_pmedian_large(rng: np.random.Generator) -> None:
    """The any-p loops, dense (interchange, subgradient) and on candidate lists (thousands of
    sites: bound, ascent, interchange)."""
    cost = rng.uniform(100.0, 10_000.0, (120, 60))
    p_median(cost, 20, time_limit=_SOLVE_S)
    if HAVE_NUMBA:
        lists = ps.candidate_lists(cost, 12)
        is_open = np.zeros(60, bool)
        ps.bound_lists(lists, cost.min(axis=1), 20, is_open)
        ps.ascent(lists[0], lists[1], cost, lists[2], cost.min(axis=1), is_open, 20, np.inf, 1e-9,
                  5, 2.0, 30)
        ps.local_search_lists(lists, cost, np.arange(20), np.zeros(0, np.int64), float("inf"))


def _warm_mclp(rng: np.random.Generator) -> None:
    """The MCLP Lagrangian's site sums and group counts (used above 200,000 pairs in service)."""
    cost = rng.uniform(0.0, 10_000.0, (200, 30))
    S, _ = reach(cost, 3_000.0)
    rows = np.flatnonzero(np.diff(S.indptr) > 0)
    group, g_ptr, g_idx = merge_rows(S, rows)
    G = len(g_ptr) - 1
    gw = np.bincount(group, weights=np.ones(len(rows)), minlength=G).astype(float)
    start = np.zeros(30, bool)
    start[:5] = True
    mclp_lagrangian(g_ptr, g_idx, gw, 5, np.zeros(0, np.int64), 30, time.perf_counter() + 2.0, 0.0, start)


def _warm_road(rng: np.random.Generator) -> None:
    """Road mode's segment grid (its build and its lookup): one batch as large as it needs."""
    xs = _LON0 + np.linspace(-0.2, 0.2, 5)
    lines = [LineString([(x, _LAT0 - 0.1), (x, _LAT0 + 0.1)]) for x in xs]
    lines.append(LineString([(xs[0], _LAT0), (xs[-1], _LAT0)]))
    roads = gpd.GeoDataFrame({"id": [f"R{i}" for i in range(len(lines))], "speed_kmh": [40.0] * len(lines)},
                             geometry=lines, crs="EPSG:4326")
    st = gpd.GeoDataFrame({"id": ["S0"], "name": ["S0"], "kind": ["station_comprehensive"], "sectors": [[]]},
                          geometry=[Point(_LON0, _LAT0)], crs="EPSG:4326")
    n = max(road_snap.MIN_BATCH, 1)
    RoadNetwork(roads, st, metric_crs(_LON0, _LAT0)).nearest(_LON0 + rng.uniform(-0.2, 0.2, n),
                                                             _LAT0 + rng.uniform(-0.1, 0.1, n))


_STEPS = {"index": _warm_index, "pmedian": _warm_pmedian, "pmedian_large": _warm_pmedian_large,
          "mclp": _warm_mclp, "road": _warm_road}


def warm(seed: int = 0) -> dict[str, Any]:
    """Run every compiled kernel once so numba compiles it and caches it on disk.

    Parameters
    ----------
    seed : int
        Seed of the tiny random inputs.

    Returns
    -------
    dict
        ``{"numba": bool, "kernels": {name: seconds}, "errors": {name: message}, "time_s": s}``;
        without numba the kernels are plain numpy and nothing is compiled (``kernels`` empty).
    """
    t0 = time.perf_counter()
    out: dict[str, Any] = {"numba": HAVE_NUMBA, "kernels": {}, "errors": {}}
    if HAVE_NUMBA:
        rng = np.random.default_rng(seed)
        for name, step in _STEPS.items():
            t = time.perf_counter()
            try:
                step(rng)
            except Exception as e:  # a kernel that cannot warm still works: it compiles on first use
                out["errors"][name] = f"{type(e).__name__}: {e}"
            out["kernels"][name] = round(time.perf_counter() - t, 3)
    out["time_s"] = round(time.perf_counter() - t0, 3)
    return out


def warm_in_background() -> threading.Thread:
    """Start :func:`warm` in a daemon thread (the kernels release the GIL once compiled)."""
    th = threading.Thread(target=warm, name="geo-service-warm", daemon=True)
    th.start()
    return th


__all__ = ["warm", "warm_in_background"]
