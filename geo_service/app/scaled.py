"""The demo county scaled up: the same ten Jiamusi counties with k times the members and stations.

For benchmarks and tests of work past the demo's size (rosters of a city or prefecture-level
committee): ``generate_scaled_demo(3)`` has 1,200 members and 69 comprehensive stations,
``generate_scaled_demo(10)`` 4,000 members and 84 (one per township at most, as the generator
places them).

>>> ds = generate_scaled_demo(3)        # doctest: +SKIP
>>> len(ds.members)                     # doctest: +SKIP
1200
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import geopandas as gpd
from shapely.geometry import LineString

from ..core.dataset import Dataset
from ..core.domain import WGS84
from .demo import DEFAULT_SEED, JIAMUSI_SIZES, SONGHUA_COURSE, _counties_with_figures, load_boundaries
from .synthetic import generate_network


@lru_cache(maxsize=4)
def generate_scaled_demo(factor: int, seed: int = DEFAULT_SEED) -> Dataset:
    """The demo with ``factor`` times its members, stations, studios, groups and conveners.

    Parameters
    ----------
    factor : int
        Scale (1 gives the demo's sizes on a network drawn from ``seed``), 1 to 20.
    seed : int
        Seed of the generated network.

    Returns
    -------
    Dataset
        Named ``demo-x{factor}``. Cached: treat the layers as read-only.
    """
    if not isinstance(factor, int) or not 1 <= factor <= 20:
        raise ValueError(f"factor must be an integer from 1 to 20, got {factor!r}")
    s = JIAMUSI_SIZES
    sizes = replace(s, members=s.members * factor, comprehensive=s.comprehensive * factor,
                    sector_stations=s.sector_stations * factor, studios=s.studios * factor,
                    groups=s.groups * factor, conveners=s.conveners * factor)
    gdf = _counties_with_figures(load_boundaries())
    river = gpd.GeoSeries([LineString(SONGHUA_COURSE)], crs=WGS84)
    return generate_network(gdf, int(seed), sizes=sizes, corridors=river, name=f"demo-x{factor}")


__all__ = ["generate_scaled_demo"]
