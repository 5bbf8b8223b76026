"""Limits and tunables of the straight-line index, in one place.

The index modules read the tunables (:data:`GRID_MIN_BATCH`, :data:`GRID_CELLS`,
:data:`USE_NUMBA`) as ``config.NAME`` when they are used, so tests and benchmarks change them here.
"""

from __future__ import annotations

from .._optional import HAVE_NUMBA


#: Largest batch accepted by one :meth:`StationIndex.nearest` call (points).
MAX_BATCH = 1_000_000
#: Largest metric coordinate accepted by :meth:`StationIndex.nearest_xy` (m): 10,000 km, beyond
#: which a local transverse Mercator no longer stands for places on the ground.
MAX_XY_M = 10_000_000.0

_R_EARTH_M = 6_371_000.0
# Beyond this distance (m) from the projection origin, answers are re-ranked geodesically.
_FAR_M = 400_000.0
_FAR_EXTRA = 8  # extra KD-tree candidates considered when re-ranking far points
# Beyond this great-circle distance (m) from the projection origin, or where the projection gives
# no finite coordinates (the other side of the Earth), the nearest stations are found by geodesic
# distance to every matching station: the local transverse Mercator means nothing there.
_GLOBAL_M = 2_000_000.0
_GLOBAL_CHUNK = 2_000_000  # (points x stations) per chunk of that brute force
#: A point farther than this (m) from the indexed area (the dataset's bounding box) is answered
#: with its geodesic distance and flagged ``outside_dataset``.
OUTSIDE_MARGIN_M = 50_000.0
#: Batches at least this large use the cell grid (built per filter and k on first use).
GRID_MIN_BATCH = 20_000
#: Target number of grid cells (cells are at least 200 m across).
GRID_CELLS = 250_000
_GRID_EXTRA = 7  # candidates per cell beyond the first before a cell counts as crowded
#: Answer large batches with the numba kernels when numba is installed (same answers as the
#: numpy code, which is used otherwise; set False to force numpy).
#: numpy code, which is used otherwise; set False to force numpy).
USE_NUMBA = HAVE_NUMBA

__all__ = ["GRID_CELLS", "GRID_MIN_BATCH", "MAX_BATCH", "MAX_XY_M", "OUTSIDE_MARGIN_M", "USE_NUMBA"]
