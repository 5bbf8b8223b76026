"""Road mode's per-point step as one compiled pass over a batch: snap each point to its nearest
road segment and take the quicker end (:class:`SegmentGrid`), for
:meth:`geo_service.core.network.RoadNetwork.nearest_xy` on large batches.

A square grid in metres covers the roads and the area queries come from. Each cell lists every
segment that can be among the nearest to some point of the cell: with ``d0`` the distance from the
cell's centre to its nearest segment and ``rho`` half the cell's diagonal, a point of the cell is
within ``d0 + rho`` of that segment, so its nearest segments (and those within the tie slack) are
within ``d0 + 2 rho`` (plus the slack) of the centre. A lookup is one cell, a short list and the
arithmetic of :func:`~geo_service.core.road_graph.snap_to_segments` and of the STR-tree path
(:func:`legs_from_snap`): the nearest segments by ground distance, ties within
:data:`~geo_service.core.road_graph.TIE_M`, and among them the one whose walk to the road plus
the drive to its ``a`` or ``b`` end plus that end's time to the nearest station is smallest. So
both paths give the same answers; points outside the grid come back flagged (``ok`` False) for
the STR-tree.

The lists are built once per network, on first use: the segments bucketed by the cells they
cross; each centre's nearest distance from the buckets of the cells round it, or where no road is
within :data:`CENTRE_RINGS` cells from a neighbour's (the annulus it bounds), the STR-tree only for
what is left; then a compiled sweep over the cells that can hold a segment within reach, skipping
those wholly inside ``d0``. About 20 ms CPU for the demo's 4,000 segments, 0.25 s for a street
grid of 81,000. Needs numba (the ``fast`` extra,
:data:`geo_service.core.index.config.USE_NUMBA`); without it the network uses the STR-tree path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray

from ._optional import njit
from .index.config import _R_EARTH_M
from .road_graph import TIE_M, Snap

#: Batches of at least this many points use the grid (built on the first); smaller ones the
#: STR-tree. Read when used, so tests and benchmarks may change it here.
MIN_BATCH = 20_000
#: About this many grid cells per road segment (sets the cell size).
CELLS_PER_SEGMENT = 0.5
#: Rings of cells searched round a cell's centre for its nearest segment before the STR-tree.
CENTRE_RINGS = 3
#: Most cells a grid may have (memory: 8 bytes a cell, plus 8 bytes per candidate list entry).
MAX_CELLS = 1 << 21

_K6R2 = 6.0 * _R_EARTH_M ** 2


@njit
def _seg_dist2(px, py, ax, ay, bx, by):  # pragma: no cover - compiled
    """Squared planar distance from (px, py) to segment a-b, the fraction ``t`` of its foot
    along a-b and the foot's x (metres)."""
    abx = bx - ax
    aby = by - ay
    den = abx * abx + aby * aby
    t = ((px - ax) * abx + (py - ay) * aby) / (den if den > 0 else 1.0)
    t = min(max(t, 0.0), 1.0)
    fx = ax + t * abx
    fy = ay + t * aby
    dx = px - fx
    dy = py - fy
    return dx * dx + dy * dy, t, fx


@njit
def _bucket(ax, ay, bx, by, x0, y0, h, nx, ny):  # pragma: no cover - compiled
    """CSR lists of the segments passing through each cell (a superset: the cells of a
    segment's bounding box whose centre is within half a cell diagonal of it)."""
    reach2 = (0.5 * h * np.sqrt(2.0) * (1.0 + 1e-9) + 1e-6) ** 2
    start = np.zeros(nx * ny + 1, dtype=np.int64)
    items = np.empty(0, dtype=np.int64)
    pos = np.empty(0, dtype=np.int64)
    for fill in range(2):
        if fill:
            items = np.empty(start[-1], dtype=np.int64)
            pos = start[:-1].copy()
        for s in range(ax.shape[0]):
            i0 = max(int(np.floor((min(ax[s], bx[s]) - x0) / h)) - 1, 0)
            i1 = min(int(np.floor((max(ax[s], bx[s]) - x0) / h)) + 1, nx - 1)
            j0 = max(int(np.floor((min(ay[s], by[s]) - y0) / h)) - 1, 0)
            j1 = min(int(np.floor((max(ay[s], by[s]) - y0) / h)) + 1, ny - 1)
            for j in range(j0, j1 + 1):
                for i in range(i0, i1 + 1):
                    if _seg_dist2(x0 + (i + 0.5) * h, y0 + (j + 0.5) * h, ax[s], ay[s], bx[s],
                                  by[s])[0] <= reach2:
                        if fill:
                            items[pos[j * nx + i]] = s
                            pos[j * nx + i] += 1
                        else:
                            start[j * nx + i + 1] += 1
        if not fill:
            for c in range(nx * ny):
                start[c + 1] += start[c]
    return start, items


@njit
def _cell_min2(b, px, py, bstart, bitems, ax, ay, bx, by, best):  # pragma: no cover - compiled
    """``best`` lowered to the least squared distance from (px, py) to cell ``b``'s segments."""
    for q in range(bstart[b], bstart[b + 1]):
        s = bitems[q]
        best = min(best, _seg_dist2(px, py, ax[s], ay[s], bx[s], by[s])[0])
    return best


@njit
def _ring_min2(px, py, ci, cj, r, nx, ny, bstart, bitems, ax, ay, bx, by):  # pragma: no cover
    """Least squared distance from (px, py) to the segments listed in the cells of ring ``r``
    (Chebyshev distance ``r`` from cell (ci, cj)); inf when none."""
    best = np.inf
    for j in range(max(cj - r, 0), min(cj + r, ny - 1) + 1):
        if j == cj - r or j == cj + r:  # the ring's bottom or top row
            for i in range(max(ci - r, 0), min(ci + r, nx - 1) + 1):
                best = _cell_min2(j * nx + i, px, py, bstart, bitems, ax, ay, bx, by, best)
        else:  # its left and right cells
            if ci - r >= 0:
                best = _cell_min2(j * nx + ci - r, px, py, bstart, bitems, ax, ay, bx, by, best)
            if ci + r <= nx - 1:
                best = _cell_min2(j * nx + ci + r, px, py, bstart, bitems, ax, ay, bx, by, best)
    return best


@njit
def _centre_nearest(x0, y0, h, nx, ny, bstart, bitems, ax, ay, bx, by, max_ring
                    ):  # pragma: no cover - compiled
    """Planar distance from each cell's centre to its nearest segment where rings of at most
    ``max_ring`` cells settle it, else -1 (left to the STR-tree)."""
    d0 = np.full(nx * ny, -1.0)
    for c in range(nx * ny):
        ci, cj = c % nx, c // nx
        ox, oy = x0 + (ci + 0.5) * h, y0 + (cj + 0.5) * h
        best = np.inf
        for r in range(max_ring + 1):
            best = min(best, _ring_min2(ox, oy, ci, cj, r, nx, ny, bstart, bitems, ax, ay, bx, by))
            if best <= ((r + 0.5) * h) ** 2:  # nothing outside rings 0..r is nearer
                d0[c] = np.sqrt(best)
                break
    return d0


@njit
def _row_span(ox, oy, j, x0, y0, h, nx, r_out, r_in):  # pragma: no cover - compiled
    """Cells of row ``j`` that can hold a point at distance ``r_in..r_out`` from (ox, oy):
    (first, last, first skipped, last skipped); the skipped ones lie inside radius ``r_in``."""
    ylo = y0 + j * h - oy
    yhi = ylo + h
    dymin = 0.0 if ylo <= 0.0 <= yhi else min(abs(ylo), abs(yhi))
    dymax = max(abs(ylo), abs(yhi))
    if dymin > r_out:
        return 0, -1, 0, -1
    xr = np.sqrt(r_out * r_out - dymin * dymin)
    lo = max(int(np.floor((ox - xr - x0) / h)), 0)
    hi = min(int(np.floor((ox + xr - x0) / h)), nx - 1)
    s_lo, s_hi = 0, -1
    if dymax < r_in:
        xi = np.sqrt(r_in * r_in - dymax * dymax) * (1 - 1e-9) - 1e-6
        s_lo = int(np.floor((ox - xi - x0) / h)) + 1
        s_hi = int(np.floor((ox + xi - x0) / h)) - 1
    return lo, hi, s_lo, s_hi


@njit
def _from_neighbour(c, dn, x0, y0, h, nx, ny, bstart, bitems, ax, ay, bx, by):  # pragma: no cover
    """Planar distance from cell ``c``'s centre to its nearest segment, given ``dn`` that of a
    neighbour's centre ``h`` away: it is ``dn - h`` to ``dn + h``, so only the cells of that
    annulus are scanned."""
    ox, oy = x0 + (c % nx + 0.5) * h, y0 + (c // nx + 0.5) * h
    r_in = max(dn - h, 0.0) * (1 - 1e-9) - 1e-6
    r_out = (dn + h) * (1 + 1e-9) + 1e-6
    cj = c // nx
    rr = int(r_out / h) + 1
    best = np.inf
    for j in range(max(cj - rr, 0), min(cj + rr, ny - 1) + 1):
        lo, hi, s_lo, s_hi = _row_span(ox, oy, j, x0, y0, h, nx, r_out, r_in)
        i = lo
        while i <= hi:
            if s_lo <= i <= s_hi:
                i = s_hi + 1
                continue
            best = _cell_min2(j * nx + i, ox, oy, bstart, bitems, ax, ay, bx, by, best)
            i += 1
    return np.sqrt(best)


@njit
def _far_centres(d0, x0, y0, h, nx, ny, bstart, bitems, ax, ay, bx, by):  # pragma: no cover
    """Fill the unsettled (-1) centre distances of ``d0`` in place from settled neighbours: a
    forward pass (from the left or below), then a backward one (from the right or above). Cells
    with no settled neighbour in either stay -1."""
    for back in range(2):
        for k in range(nx * ny):
            c = nx * ny - 1 - k if back else k
            if d0[c] >= 0:
                continue
            if back:
                nb = c + 1 if c % nx < nx - 1 and d0[c + 1] >= 0 else (
                    c + nx if c + nx < nx * ny and d0[c + nx] >= 0 else -1)
            else:
                nb = c - 1 if c % nx > 0 and d0[c - 1] >= 0 else (c - nx if c >= nx and d0[c - nx] >= 0 else -1)
            if nb >= 0:
                d0[c] = _from_neighbour(c, d0[nb], x0, y0, h, nx, ny, bstart, bitems, ax, ay, bx, by)


@njit
def _candidate_lists(d0, rho, x0, y0, h, nx, ny, bstart, bitems, ax, ay, bx, by
                     ):  # pragma: no cover - compiled
    """CSR lists per cell of the segments within ``d0 + 2 rho`` (plus slack) of its centre,
    nearest first, with those distances (planar metres)."""
    stamp = np.full(ax.shape[0], -1, dtype=np.int64)
    start = np.zeros(nx * ny + 1, dtype=np.int64)
    items = np.empty(max(16, 8 * nx * ny), dtype=np.int64)
    dists = np.empty(items.shape[0])
    n = 0
    for c in range(nx * ny):
        ox = x0 + (c % nx + 0.5) * h
        oy = y0 + (c // nx + 0.5) * h
        reach = (d0[c] + rho) * (1 + 1e-9) + rho + 2 * TIE_M + 1e-6
        cj = c // nx
        rr = int(reach / h) + 1
        for j in range(max(cj - rr, 0), min(cj + rr, ny - 1) + 1):
            lo, hi, s_lo, s_hi = _row_span(ox, oy, j, x0, y0, h, nx, reach, d0[c])
            i = lo
            while i <= hi:
                if s_lo <= i <= s_hi:
                    i = s_hi + 1
                    continue
                b = j * nx + i
                for q in range(bstart[b], bstart[b + 1]):
                    s = bitems[q]
                    if stamp[s] == c:
                        continue
                    stamp[s] = c
                    d2 = _seg_dist2(ox, oy, ax[s], ay[s], bx[s], by[s])[0]
                    if d2 <= reach * reach:
                        if n == items.shape[0]:
                            items, dists = _grown(items, n), _grown(dists, n)
                        items[n] = s
                        dists[n] = np.sqrt(d2)
                        n += 1
                i += 1
        order = np.argsort(dists[start[c]:n], kind="mergesort") + start[c]  # nearest first
        items[start[c]:n] = items[order]
        dists[start[c]:n] = dists[order]
        start[c + 1] = n
    # 8 bytes an entry: int32 segments, float32 distances rounded down (a lower bound stays one)
    return start, items[:n].astype(np.int32), (dists[:n] * (1 - 1e-6)).astype(np.float32)


@njit
def _grown(a, n):  # pragma: no cover - compiled
    """``a`` (holding ``n`` values) copied into an array twice as long."""
    out = np.empty(2 * n, dtype=a.dtype)
    out[:n] = a[:n]
    return out


@njit
def _cell_near(px, py, c, ox, oy, start, items, item_d, ax, ay, bx, by, buf, buf_d):  # pragma: no cover
    """Segments of cell ``c`` (centre ox, oy) within the tie slack of the nearest to (px, py),
    into ``buf`` with their planar distances in ``buf_d``; returns how many. The cell's list is
    sorted by distance from the centre, so the scan stops where even the centre's distance
    less the point's offset exceeds the slack."""
    off = np.sqrt((px - ox) ** 2 + (py - oy) ** 2)
    best = np.inf
    m = 0
    for q in range(start[c], start[c + 1]):
        lim = best * (1 + 1e-9) + 2 * TIE_M
        if item_d[q] - off > lim:
            break
        s = items[q]
        d = np.sqrt(_seg_dist2(px, py, ax[s], ay[s], bx[s], by[s])[0])
        if d <= lim:
            buf[m] = s
            buf_d[m] = d
            m += 1
            best = min(best, d)
    lim = best * (1 + 1e-9) + 2 * TIE_M
    keep = 0
    for k in range(m):
        if buf_d[k] <= lim:
            buf[keep] = buf[k]
            keep += 1
    return keep


@njit
def _legs_kernel(x, y, x0, y0, h, nx, ny, start, items, item_d, longest, ax, ay, bx, by, node_a, node_b,
                 node_time, seg_time, seg_dir, offroad_mps, ok, seg, frac, use_a, dist, snap,
                 time):  # pragma: no cover - compiled
    """Per point: its cell's candidates, the nearest of them (ground metres, ties within
    ``TIE_M`` as in ``snap_to_segments``) and the quickest tied one by walk + drive to an end +
    that end's ``node_time``; writes the output arrays (n,), ``ok`` False outside the grid."""
    buf = np.empty(longest, dtype=np.int64)
    buf_d = np.empty(longest)
    for p in range(x.shape[0]):
        px, py = x[p], y[p]
        fi, fj = (px - x0) / h, (py - y0) / h
        ok[p] = 0.0 <= fi < nx and 0.0 <= fj < ny
        if not ok[p]:
            continue
        i, j = int(fi), int(fj)
        m = _cell_near(px, py, j * nx + i, x0 + (i + 0.5) * h, y0 + (j + 0.5) * h, start, items, item_d,
                       ax, ay, bx, by, buf, buf_d)
        best_g = np.inf
        for k in range(m):
            s = buf[k]
            d2, t, fx = _seg_dist2(px, py, ax[s], ay[s], bx[s], by[s])
            buf_d[k] = np.sqrt(d2) / (1.0 + (px * px + px * fx + fx * fx) / _K6R2)  # ground metres
            best_g = min(best_g, buf_d[k])
        snap[p] = best_g
        chosen = False
        for k in range(m):
            if buf_d[k] > best_g + TIE_M:
                continue
            s = buf[k]
            t = _seg_dist2(px, py, ax[s], ay[s], bx[s], by[s])[1]
            via_a = np.inf if seg_dir[s] == 1 else node_time[node_a[s]] + t * seg_time[s]
            via_b = np.inf if seg_dir[s] == 2 else node_time[node_b[s]] + (1.0 - t) * seg_time[s]
            ptime = buf_d[k] / offroad_mps + min(via_a, via_b)
            if not chosen or ptime < time[p]:
                chosen = True
                seg[p], frac[p], use_a[p], dist[p], time[p] = s, t, via_a <= via_b, buf_d[k], ptime


@dataclass(frozen=True)
class RoadLegs:
    """Per point: the segment it joins the roads on, the fraction ``t`` of its foot along the
    segment from ``a``, whether the quicker way is via ``a``, the walk to the foot and to the
    nearest road (ground metres) and the door-to-station time (seconds); ``ok`` False where the
    grid left the point to the STR-tree (the other fields are then undefined)."""

    ok: NDArray[np.bool_]
    seg: NDArray[np.int64]
    t: NDArray[np.float64]
    use_a: NDArray[np.bool_]
    dist_m: NDArray[np.float64]
    snap_m: NDArray[np.float64]
    time_s: NDArray[np.float64]


def legs_from_snap(s: Snap, n: int, node_a: NDArray, node_b: NDArray, node_time: NDArray,
                   seg_time: NDArray, seg_dir: NDArray, offroad_mps: float) -> RoadLegs:
    """:class:`RoadLegs` of ``n`` points from their STR-tree snap pairs (the reference the grid
    matches: per point the quickest of its tied nearest segments).

    Parameters
    ----------
    s : Snap
        (point, segment) pairs of :func:`~geo_service.core.road_graph.snap_to_segments`.
    n : int
        How many points were snapped.
    node_a, node_b : ndarray
        Segment end nodes.
    node_time : ndarray
        Seconds from every graph node to its nearest station (inf: none reached).
    seg_time : ndarray
        Seconds to drive each segment.
    seg_dir : ndarray
        Each segment's direction (0 both ways, 1 a->b only, 2 b->a only).
    offroad_mps : float
        Off-road speed, m/s.

    Returns
    -------
    RoadLegs
        ``ok`` True throughout.
    """
    a, b = node_a[s.seg], node_b[s.seg]
    T, d = seg_time[s.seg], seg_dir[s.seg]  # one-way: from the foot toward a needs b->a allowed
    via_a = np.where(d == 1, np.inf, node_time[a] + s.t * T)
    via_b = np.where(d == 2, np.inf, node_time[b] + (1.0 - s.t) * T)
    ptime = s.dist_m / offroad_mps + np.minimum(via_a, via_b)
    # best pair per point (ties between equally near segments go to the quicker one)
    order = np.lexsort((ptime, s.pt))
    first = order[np.r_[True, s.pt[order][1:] != s.pt[order][:-1]]]
    if len(first) != n:
        raise ValueError(f"s: snap pairs for {len(first)} points, expected n={n}")
    return RoadLegs(np.ones(n, dtype=bool), s.seg[first], s.t[first], (via_a <= via_b)[first],
                    s.dist_m[first], s.snap_m, ptime[first])


class SegmentGrid:
    """Road segments listed per cell of a square grid in metres: every segment that can be among
    the nearest (with ties) to some point of the cell (see the module docstring)."""

    def __init__(self, node_xy: NDArray, ra: NDArray, rb: NDArray, tree: shapely.STRtree,
                 extent_m: tuple[float, float, float, float] | None = None, *,
                 cells_per_segment: float | None = None):
        """List the candidates of every cell.

        Parameters
        ----------
        node_xy : ndarray
            (n, 2) node coordinates in a metric CRS, metres.
        ra, rb : ndarray
            (m,) segment end nodes (m >= 1).
        tree : shapely.STRtree
            The segments ``node_xy[ra]``-``node_xy[rb]`` as LineStrings, in that order.
        extent_m : tuple of float, optional
            (x0, y0, x1, y1) metres the grid must cover besides the segments (the area queries
            come from); points outside the grid are left to the STR-tree.
        cells_per_segment : float, optional
            About this many cells per segment (more: shorter candidate lists, longer build);
            default :data:`CELLS_PER_SEGMENT`.

        Raises
        ------
        ValueError
            When there are no segments or ``cells_per_segment`` is not positive.
        """
        if len(ra) == 0:
            raise ValueError("ra: a segment grid needs at least one segment")
        cells_per_segment = CELLS_PER_SEGMENT if cells_per_segment is None else cells_per_segment
        if not cells_per_segment > 0:
            raise ValueError(f"cells_per_segment must be positive, got {cells_per_segment!r}")
        self.ra = np.ascontiguousarray(ra, dtype=np.int64)
        self.rb = np.ascontiguousarray(rb, dtype=np.int64)
        a, b = node_xy[self.ra], node_xy[self.rb]
        self.ax, self.ay = np.ascontiguousarray(a[:, 0]), np.ascontiguousarray(a[:, 1])
        self.bx, self.by = np.ascontiguousarray(b[:, 0]), np.ascontiguousarray(b[:, 1])
        lo, hi = np.minimum(a, b).min(axis=0), np.maximum(a, b).max(axis=0)
        if extent_m is not None:
            lo = np.minimum(lo, extent_m[:2])
            hi = np.maximum(hi, extent_m[2:])
        w, hgt = max(hi[0] - lo[0], 1.0), max(hi[1] - lo[1], 1.0)
        n_cells = min(cells_per_segment * len(ra), MAX_CELLS)
        self.h = float(max(np.sqrt(w * hgt / n_cells), 1.0))
        self.x0, self.y0 = float(lo[0]), float(lo[1])
        self.nx = int(w // self.h) + 1
        self.ny = int(hgt // self.h) + 1
        self.start, self.items, self.item_d = self._candidates(tree)
        self.longest = max(int(np.diff(self.start).max()), 1)  # the longest list

    def _candidates(self, tree: shapely.STRtree) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray]:
        """CSR lists: the segments within ``d0 + 2 rho`` (plus the tie slack) of each cell's
        centre, ``d0`` the centre's nearest and ``rho`` half the cell's diagonal, which holds
        every segment that can be among the nearest to a point of the cell; nearest to the
        centre first, with those distances."""
        bstart, bitems = _bucket(self.ax, self.ay, self.bx, self.by, self.x0, self.y0, self.h, self.nx,
                                 self.ny)
        d0 = _centre_nearest(self.x0, self.y0, self.h, self.nx, self.ny, bstart, bitems, self.ax, self.ay,
                             self.bx, self.by, CENTRE_RINGS)
        _far_centres(d0, self.x0, self.y0, self.h, self.nx, self.ny, bstart, bitems, self.ax, self.ay,
                     self.bx, self.by)
        far = np.flatnonzero(d0 < 0)  # far from every road with no settled neighbour: the STR-tree
        if len(far):
            centres = shapely.points(self.x0 + (far % self.nx + 0.5) * self.h,
                                     self.y0 + (far // self.nx + 0.5) * self.h)
            d0[far] = tree.query_nearest(centres, all_matches=False, return_distance=True)[1]
        rho = 0.5 * self.h * np.sqrt(2.0) * (1 + 1e-9) + 1e-6
        return _candidate_lists(np.ascontiguousarray(d0, dtype=float), rho, self.x0, self.y0, self.h,
                                self.nx, self.ny, bstart, bitems, self.ax, self.ay, self.bx, self.by)

    def best_legs(self, xy: NDArray, node_time: NDArray, seg_time: NDArray, seg_dir: NDArray,
                  offroad_mps: float) -> RoadLegs:
        """Snap points and pick each one's quickest way onto the roads.

        Parameters
        ----------
        xy : ndarray
            (n, 2) points, metres.
        node_time : ndarray
            Seconds from every graph node to its nearest station (inf: none reached).
        seg_time : ndarray
            Seconds to drive each segment.
        seg_dir : ndarray
            Each segment's direction (0 both ways, 1 a->b only, 2 b->a only).
        offroad_mps : float
            Off-road speed, m/s.

        Returns
        -------
        RoadLegs
        """
        n = len(xy)
        out = RoadLegs(np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int64), np.zeros(n),
                       np.zeros(n, dtype=bool), np.zeros(n), np.zeros(n), np.zeros(n))
        _legs_kernel(np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1]), self.x0, self.y0,
                     self.h, self.nx, self.ny, self.start, self.items, self.item_d, self.longest, self.ax, self.ay, self.bx,
                     self.by, self.ra, self.rb, np.ascontiguousarray(node_time, dtype=float),
                     np.ascontiguousarray(seg_time, dtype=float),
                     np.ascontiguousarray(seg_dir, dtype=np.int8), float(offroad_mps), out.ok,
                     out.seg, out.t, out.use_a, out.dist_m, out.snap_m, out.time_s)
        return out


__all__ = ["CELLS_PER_SEGMENT", "MAX_CELLS", "MIN_BATCH", "RoadLegs", "SegmentGrid", "legs_from_snap"]
