"""Long member-constituent distances on plain arrays: who has no member of their sector within reach,
and how many more members would reach them.

Used by tier 1 (:mod:`solvers.pipeline`) for ``max_distance_m`` and the long-distance listing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.spatial import cKDTree


def nearest_same_sector(c_xy: np.ndarray, m_xy: np.ndarray, c_sector: Sequence[str],
                        m_sector: Sequence[str]) -> np.ndarray:
    """Straight-line distance (metres) from each constituent to the nearest member of its sector.

    Parameters
    ----------
    c_xy, m_xy : numpy.ndarray, shape (n, 2) / (m, 2)
        Projected coordinates (metres).
    c_sector, m_sector : sequence of str
        Sector of each constituent / member.

    Returns
    -------
    numpy.ndarray, shape (n,)
        Metres; ``inf`` where the sector has no member.
    """
    c_xy = np.asarray(c_xy, float).reshape(-1, 2)
    m_xy = np.asarray(m_xy, float).reshape(-1, 2)
    cs, ms = np.asarray(c_sector, object), np.asarray(m_sector, object)
    out = np.full(len(c_xy), np.inf)
    for s in set(cs.tolist()):
        ci, mj = np.flatnonzero(cs == s), np.flatnonzero(ms == s)
        if len(mj) and len(ci):
            out[ci] = cKDTree(m_xy[mj]).query(c_xy[ci])[0]
    return out


def members_needed(xy: np.ndarray, radius_m: float, per_member: int) -> int:
    """How many new members (placed at constituents' homes, greedy cover) reach all of ``xy``.

    Parameters
    ----------
    xy : numpy.ndarray, shape (n, 2)
        The unreached constituents (metres).
    radius_m : float
        Reach of one member (metres, > 0).
    per_member : int
        Constituents one member takes at most (>= 1).

    Returns
    -------
    int
        ``max(greedy cover size, ceil(n / per_member))``: an honest estimate, not a proven minimum.
    """
    if not radius_m > 0:
        raise ValueError(f"radius_m must be > 0 metres, got {radius_m}")
    if per_member < 1:
        raise ValueError(f"per_member must be >= 1, got {per_member}")
    xy = np.asarray(xy, float).reshape(-1, 2)
    n = len(xy)
    if not n:
        return 0
    hits = cKDTree(xy).query_ball_point(xy, radius_m)
    left = np.ones(n, bool)
    count = 0
    while left.any():
        gain = [int(left[h].sum()) for h in hits]
        j = int(np.argmax(gain))
        left[hits[j]] = False
        count += 1
    return max(count, math.ceil(n / per_member))
