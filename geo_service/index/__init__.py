"""Nearest-station lookup by straight line (moved from ``geo_service/index.py``; split next)."""

from .station_index import *  # noqa: F403
from .station_index import (  # noqa: F401
    GRID_CELLS,
    GRID_MIN_BATCH,
    MAX_BATCH,
    MAX_XY_M,
    OUTSIDE_MARGIN_M,
    USE_NUMBA,
    InvalidQuery,
    NearestResult,
    StationIndex,
    build_once,
    check_k,
    check_kinds,
    check_max_distance,
    check_points,
    check_sector,
    station_mask,
    tm_scale_correction,
)
