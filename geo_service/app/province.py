"""A synthetic province: many seeded county datasets for batch runs and benchmarks.

:func:`county_polygons` tiles an area of north-east China (for 100 counties: 126-134 E,
44.5-48.5 N, about 620 x 445 km; smaller for fewer) into ``n`` convex county cells (a Voronoi
diagram of a jittered grid). :func:`generate_province` fills each county with a liaison network
by the demo county's generator (:func:`geo_service.app.synthetic.generate_network`), one
:class:`~geo_service.core.dataset.Dataset` per county, reproducibly from ``seed``. Counties are a
tenth of the demo's size by default, so a 100-county batch runs in minutes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import box

from ..core.dataset import Dataset
from ..core.domain import WGS84
from .synthetic import NetworkSizes, generate_network

#: (min lon, min lat, max lon, max lat), degrees WGS-84: eastern Heilongjiang, room for 100 counties.
PROVINCE_BOUNDS: tuple[float, float, float, float] = (126.0, 44.5, 134.0, 48.5)
_TOWN_STEMS = ("兴隆", "太平", "长发", "永安", "富民", "新华", "红旗", "双河", "东风", "胜利", "四马架",
               "建国", "友谊", "和平", "前进", "向阳", "星火", "杏林", "柳河", "松江")


def province_bounds(n: int) -> tuple[float, float, float, float]:
    """Bounds for ``n`` counties of the same size as 100 counties in :data:`PROVINCE_BOUNDS`.

    Centred on :data:`PROVINCE_BOUNDS`; each county is ~2,800 km2 whatever ``n`` (degrees WGS-84).
    """
    minx, miny, maxx, maxy = PROVINCE_BOUNDS
    cx, cy, f = (minx + maxx) / 2, (miny + maxy) / 2, math.sqrt(n / 100) / 2
    return (cx - (maxx - minx) * f, cy - (maxy - miny) * f, cx + (maxx - minx) * f, cy + (maxy - miny) * f)


def county_polygons(n: int, seed: int = 0, bounds: Sequence[float] | None = None) -> gpd.GeoDataFrame:
    """``n`` convex county cells tiling ``bounds`` (WGS-84 degrees), ids ``C001``..., EPSG:4326.

    Cells are the Voronoi diagram of a jittered grid of ``n`` seed points, clipped to ``bounds``
    (default :func:`province_bounds`: counties of ~2,800 km2), so counties have similar areas
    and share borders like real ones.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n_counties must be a whole number >= 1, got {n!r}")
    minx, miny, maxx, maxy = map(float, bounds if bounds is not None else province_bounds(n))
    if not (minx < maxx and miny < maxy):
        raise ValueError(f"bounds {tuple(bounds)} is not (min lon, min lat, max lon, max lat)")
    rng = np.random.default_rng(seed)
    # grid shape close to the area's aspect ratio in metres
    aspect = (maxx - minx) * math.cos(math.radians((miny + maxy) / 2)) / (maxy - miny)
    rows = min(n, max(1, round(math.sqrt(n / aspect))))
    per_row = [n // rows + (1 if r < n % rows else 0) for r in range(rows)]  # even rows: even areas
    dy = (maxy - miny) / rows
    pts = np.array([(minx + (c + 0.5 + rng.uniform(-0.3, 0.3)) * (maxx - minx) / k,
                     miny + (r + 0.5 + rng.uniform(-0.3, 0.3)) * dy)
                    for r, k in enumerate(per_row) for c in range(k)])
    frame = box(minx, miny, maxx, maxy)
    if n == 1:
        polys = [frame]
    else:
        vor = shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=frame)
        regions = list(vor.geoms)
        # voronoi output order is not the input order: match each seed to the region holding it
        tree = shapely.STRtree(regions)
        idx = tree.query(shapely.points(pts), predicate="within")
        by_seed = dict(zip(idx[0].tolist(), idx[1].tolist()))
        polys = [shapely.intersection(regions[by_seed[i]], frame) for i in range(n)]
    names = [f"{_TOWN_STEMS[i % len(_TOWN_STEMS)]}{'' if i < len(_TOWN_STEMS) else i // len(_TOWN_STEMS) + 1}县"
             for i in range(n)]
    return gpd.GeoDataFrame({"id": [f"C{i + 1:03d}" for i in range(n)], "name": names},
                            geometry=polys, crs=WGS84)


def generate_province(n_counties: int = 100, seed: int = 0, *, bounds: Sequence[float] | None = None,
                      county_share: float = 0.1, **sizes: Any) -> list[Dataset]:
    """``n_counties`` county datasets (names ``C001``...) of a synthetic province, from ``seed``.

    Each county is filled by the demo generator (:func:`geo_service.app.synthetic.generate_network`)
    with the demo network's sizes scaled by ``county_share`` (0.1: a tenth of Jiamusi's ~400
    members, i.e. ~40 members and ~100 villages on a ~2,800 km2 county); ``sizes`` override
    single :class:`~geo_service.app.synthetic.NetworkSizes` fields (e.g. ``members=60``,
    ``km2_per_village=80`` for fewer villages). County polygons come from
    :func:`county_polygons` (``bounds`` default: ~2,800 km2 per county); county ``i``'s network
    from seed ``seed * 100_003 + i``.
    """
    counties = county_polygons(n_counties, seed, bounds)
    base = NetworkSizes().scaled(county_share)
    out = []
    for i in range(n_counties):
        one = counties.iloc[[i]].reset_index(drop=True)
        cid = str(one["id"].iloc[0])
        out.append(generate_network(one, seed * 100_003 + i, sizes=base, name=cid, **sizes))
    return out


__all__ = ["PROVINCE_BOUNDS", "county_polygons", "generate_province", "province_bounds"]
