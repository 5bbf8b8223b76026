"""Nearest-station lookup by straight line: a KD-tree on projected metres.

:class:`StationIndex` holds the stations of one dataset projected to the dataset's metric CRS
(:attr:`geo_service.core.dataset.Dataset.metric_crs`, a transverse Mercator centred on the county) and
answers "which k stations are nearest to these points?" for one point or a batch of up to
1,000,000 points, optionally filtered by station kind and by sector hosted (界别) and cut at a
maximum distance.

Distances are in metres. The Euclidean distance in the metric CRS is divided by the mean
transverse Mercator scale factor along the line, which keeps it within about 0.01 % of the WGS-84
geodesic within a few hundred kilometres of the county; for points farther out (a GPS fix from
another province) the candidates are re-ranked and reported by exact geodesic distance. Either
way the reported distance stays within 0.5 % of :func:`geo_service.core.crs.geodesic_m`.

One KD-tree (:class:`scipy.spatial.cKDTree`) is built per filter combination the first time it is
asked for and cached under a lock; queries never change the index otherwise, so one instance can
serve many threads. Rebuild the index (``StationIndex.from_dataset``) when the dataset changes.

Large batches (>= :data:`~geo_service.core.index.config.GRID_MIN_BATCH` points) take a faster path with the KD-tree's answers.
WGS-84 points look up one cell of a lon/lat grid over the dataset's extent (about
:data:`~geo_service.core.index.config.GRID_CELLS` cells of a few hundred metres) that holds the cell's affine form of the
projection (within a few centimetres of PROJ) and the few stations that can be among the k
nearest anywhere in the cell; where that is one station (most cells for k = 1) the distance is
one affine map and a hypot. Where several stations compete, they are ranked, and a point whose
two best differ by less than the affine error allows is answered by PROJ and the KD-tree, so the
chosen stations are the KD-tree's. Points already in metres (:meth:`StationIndex.nearest_xy`)
use the same idea on a square grid in metres. Points outside the grids, far from the county or
in cells crowded with candidates fall back to PROJ and the KD-tree. The grids serve k = 1; for
k > 1 the KD-tree is as fast. Where numba is installed (optional) the per-point work of the grids
runs as one compiled loop (:data:`~geo_service.core.index.config.USE_NUMBA`); the numpy code gives the same answers without it.

Modules: :mod:`~geo_service.core.index.station_index` (the public :class:`StationIndex`),
:mod:`~geo_service.core.index.checks` (argument checks, :class:`InvalidQuery`),
:mod:`~geo_service.core.index.result` (:class:`NearestResult`), :mod:`~geo_service.core.index.kdtree`
(scale correction, per-filter cache), :mod:`~geo_service.core.index.far` (far-point fallbacks),
:mod:`~geo_service.core.index.metric_grid` and :mod:`~geo_service.core.index.lonlat_grid` (the large-batch
grids), :mod:`~geo_service.core.index.kernels` (their numba loops) and
:mod:`~geo_service.core.index.config` (limits and tunables, changed there by tests and benchmarks).
"""

from .checks import (
    InvalidQuery,
    check_k,
    check_kinds,
    check_max_distance,
    check_points,
    check_sector,
    station_mask,
)
from .config import GRID_CELLS, GRID_MIN_BATCH, MAX_BATCH, MAX_XY_M, OUTSIDE_MARGIN_M
from .kdtree import build_once, tm_scale_correction
from .result import NearestResult
from .station_index import StationIndex

__all__ = [
    "GRID_CELLS",
    "GRID_MIN_BATCH",
    "MAX_BATCH",
    "MAX_XY_M",
    "OUTSIDE_MARGIN_M",
    "InvalidQuery",
    "NearestResult",
    "StationIndex",
    "build_once",
    "check_k",
    "check_kinds",
    "check_max_distance",
    "check_points",
    "check_sector",
    "station_mask",
    "tm_scale_correction",
]
