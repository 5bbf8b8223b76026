"""Building blocks of the road graph (:class:`geo_service.core.network.RoadNetwork`), in metres and seconds.

Roads as single LineStrings with speeds and directions (:func:`road_parts`), split where they
cross (:func:`split_at_crossings`), cut into segments (:func:`segments`); points snapped to their
nearest segments (:func:`snap_to_segments`) and inserted as nodes (:func:`insert_points`); the
sparse adjacency :func:`scipy.sparse.csgraph.dijkstra` runs on (:func:`adjacency`); path sums
along a shortest-path tree (:func:`accumulate_along_paths`) and the road pieces reached within a
time (:func:`reached_pieces`, for service areas).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from pyproj import CRS
from scipy.sparse import csr_matrix

from .domain import ROAD_SPEEDS_KMH
from .index import tm_scale_correction

MIN_EDGE_S = 1e-6  # csgraph drops zero weights; every edge costs at least this (seconds)
SPLIT_EPS_M = 0.01  # snaps closer than this (m) to a segment end use the end node
TIE_M = 0.01  # segments this much (m) farther than the nearest still count as nearest


@dataclass(frozen=True)
class Snap:
    """Points snapped to their nearest road segments, as (point, segment) pairs: a point as far
    from two segments (within :data:`TIE_M`) has a pair for each. ``t`` is the fraction along
    the segment from its ``a`` end, ``dist_m`` the pair's distance, ``snap_m`` each point's
    distance to the nearest road (metres)."""

    pt: NDArray[np.int64]
    seg: NDArray[np.int64]
    t: NDArray[np.float64]
    dist_m: NDArray[np.float64]
    snap_m: NDArray[np.float64]


def road_parts(roads: gpd.GeoDataFrame, crs: CRS, default_kmh: float
                ) -> tuple[NDArray[np.object_], NDArray[np.float64], NDArray[np.int8]]:
    """Single LineStrings in ``crs``, their speeds (km/h) and directions (0 both ways, 1 along the
    line only, 2 against it only: ``oneway`` F / T, anything else two-way)."""
    r = roads[roads.geometry.notna() & ~roads.geometry.is_empty]
    if len(r) == 0:
        raise ValueError("the roads layer has no line geometries")
    speeds = []
    for sp, cls in zip(r["speed_kmh"] if "speed_kmh" in r else [None] * len(r),
                       r["class"] if "class" in r else [None] * len(r)):
        v = sp if sp is not None and not pd.isna(sp) else ROAD_SPEEDS_KMH.get(str(cls).strip().lower(),
                                                                         ROAD_SPEEDS_KMH.get(str(cls).strip(),
                                                                                             default_kmh))
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"road speed must be > 0 km/h, got {v!r}")
        speeds.append(float(v))
    ow = (r["oneway"].astype(str).str.strip().str.upper().to_numpy() if "oneway" in r
          else np.full(len(r), "B", dtype=object))
    dirs = np.where(ow == "F", 1, np.where(ow == "T", 2, 0)).astype(np.int8)
    geoms = r.geometry.to_crs(crs).to_numpy()
    parts, idx = shapely.get_parts(geoms, return_index=True)
    keep = shapely.get_type_id(parts) == 1  # LineString
    return parts[keep], np.asarray(speeds)[idx[keep]], dirs[idx[keep]]


def split_at_crossings(parts: NDArray[np.object_], speeds: NDArray[np.float64], dirs: NDArray[np.int8] | None = None
          ) -> tuple[NDArray[np.object_], NDArray[np.float64], NDArray[np.int8]]:
    """Split lines at every crossing/touch; each piece keeps the speed of the fastest road on it
    and the direction of a one-way road on it (two-way when any road on it is)."""
    dirs = np.zeros(len(parts), dtype=np.int8) if dirs is None else dirs
    pieces = shapely.get_parts(shapely.node(shapely.multilinestrings(parts)))
    if len(pieces) == 0:
        return pieces, np.zeros(0), np.zeros(0, dtype=np.int8)
    mid = shapely.line_interpolate_point(pieces, 0.5, normalized=True)
    tree = shapely.STRtree(parts)
    src, dst = tree.query(mid, predicate="dwithin", distance=0.01)
    sp = np.zeros(len(pieces))
    np.maximum.at(sp, src, speeds[dst])
    missing = sp == 0
    if missing.any():  # numerical corner case: use the nearest road
        _, near = tree.query_nearest(mid[missing])
        sp[missing] = speeds[near]
    pdir = np.zeros(len(pieces), dtype=np.int8)
    one = dirs[dst] != 0
    if one.any():
        two_way = np.zeros(len(pieces), dtype=bool)
        np.logical_or.at(two_way, src, ~one)
        s1, d1 = src[one], dst[one]
        # noding may reverse a piece: compare its ends' positions along the source road
        p0 = shapely.line_locate_point(parts[d1], shapely.get_point(pieces[s1], 0))
        p1 = shapely.line_locate_point(parts[d1], shapely.get_point(pieces[s1], -1))
        same = p1 >= p0
        dd = dirs[d1]
        pdir[s1] = np.where(same, dd, 3 - dd)
        pdir[two_way] = 0
    return pieces, sp, pdir


def segments(parts: NDArray[np.object_], speeds: NDArray[np.float64], dirs: NDArray[np.int8] | None = None
             ) -> tuple[NDArray, NDArray, NDArray, NDArray, NDArray, NDArray]:
    """Nodes (unique vertices, metres) and deduplicated two-point segments of the lines, with each
    segment's direction (0 both, 1 lo->hi only, 2 hi->lo only)."""
    dirs = np.zeros(len(parts), dtype=np.int8) if dirs is None else dirs
    coords, owner = shapely.get_coordinates(parts, return_index=True)
    key = np.round(coords, 3)
    node_xy, inv = np.unique(key, axis=0, return_inverse=True)
    inv = inv.ravel()
    same = owner[1:] == owner[:-1]
    a, b = inv[:-1][same], inv[1:][same]
    sp = speeds[owner[:-1][same]]
    dr = dirs[owner[:-1][same]]
    ok = a != b
    a, b, sp, dr = a[ok], b[ok], sp[ok], dr[ok]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    dr = np.where((dr != 0) & (a > b), 3 - dr, dr).astype(np.int8)  # relative to lo -> hi
    length = np.hypot(*(node_xy[hi] - node_xy[lo]).T) / tm_scale_correction(node_xy[lo], node_xy[hi])
    time = length / sp
    order = np.lexsort((time, hi, lo))  # fastest first within each node pair
    lo, hi, sp, length, dr = lo[order], hi[order], sp[order], length[order], dr[order]
    first = np.ones(len(lo), dtype=bool)
    first[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    # a pair given by roads of different directions is open both ways
    grp = np.cumsum(first) - 1
    lo_dir = np.full(int(first.sum()), -1, dtype=np.int8)
    mixed = np.zeros(int(first.sum()), dtype=bool)
    fd = dr[first]
    mixed_any = dr != fd[grp]
    np.logical_or.at(mixed, grp, mixed_any)
    lo_dir = np.where(mixed, 0, fd).astype(np.int8)
    return node_xy, lo[first], hi[first], length[first], sp[first], lo_dir


def _foot(node_xy: NDArray, ra: NDArray, rb: NDArray, xy: NDArray, seg: NDArray) -> tuple[NDArray, NDArray]:
    """Fraction ``t`` along segments ``seg`` of the feet of ``xy`` and the ground distances
    (metres, projected lengths scale-corrected like every length in the graph)."""
    A, B = node_xy[ra[seg]], node_xy[rb[seg]]
    AB = B - A
    den = np.einsum("ij,ij->i", AB, AB)
    t = np.clip(np.einsum("ij,ij->i", xy - A, AB) / np.where(den > 0, den, 1.0), 0.0, 1.0)
    foot = A + t[:, None] * AB
    return t, np.hypot(*(xy - foot).T) / tm_scale_correction(xy, foot)


def snap_to_segments(node_xy: NDArray, ra: NDArray, rb: NDArray, xy: NDArray, tree: shapely.STRtree) -> Snap:
    """Every nearest segment of each point (ties within :data:`TIE_M`), as pairs."""
    pts = shapely.points(xy)
    _, d0 = tree.query_nearest(pts, all_matches=False, return_distance=True)  # planar metres
    pt, seg = tree.query(pts, predicate="dwithin", distance=d0 * (1 + 1e-9) + 2 * TIE_M)
    t, d = _foot(node_xy, ra, rb, xy[pt], seg)
    best = np.full(len(xy), np.inf)
    np.minimum.at(best, pt, d)
    keep = d <= best[pt] + TIE_M
    return Snap(pt[keep].astype(np.int64), seg[keep].astype(np.int64), t[keep], d[keep], best)


def insert_points(node_xy, ra, rb, rlen, rspeed, pts_xy, tree, rdir=None):
    """Attach points to the graph: split their nearest segments at the snap feet and give each
    point its own node joined to its foot (or feet, when segments tie) by off-road access edges.

    Returns (node_xy, ra, rb, rlen, rspeed, access_a, access_b, access_len, point_node, snap, rdir):
    the new nodes and road segments, the access edges (foot node, point node, metres), the node
    of each point, the snap pairs and the segments' directions (pieces keep their segment's).
    """
    n_nodes = len(node_xy)
    rdir = np.zeros(len(ra), dtype=np.int8) if rdir is None else rdir
    if len(pts_xy) == 0:
        e = np.zeros(0, dtype=np.int64)
        z = np.zeros(0)
        return node_xy, ra, rb, rlen, rspeed, e, e, z, e, Snap(e, e, z, z, z), rdir
    s = snap_to_segments(node_xy, ra, rb, pts_xy, tree)
    attach = np.empty(len(s.pt), dtype=np.int64)  # foot node of each (point, segment) pair
    new_xy: list[NDArray] = []
    drop = np.zeros(len(ra), dtype=bool)
    add_a: list[int] = []
    add_b: list[int] = []
    add_len: list[float] = []
    add_sp: list[float] = []
    add_dir: list[int] = []
    order = np.argsort(s.seg, kind="stable")
    segs = s.seg[order]
    starts = np.flatnonzero(np.r_[True, segs[1:] != segs[:-1]])
    for lo, hi in zip(starts, np.r_[starts[1:], len(segs)]):
        g = int(segs[lo])
        a, b, L = int(ra[g]), int(rb[g]), float(rlen[g])
        pts = order[lo:hi]
        pos = s.t[pts] * L  # metres from a
        chain = [(0.0, a)]
        for p in pts[np.argsort(pos, kind="stable")]:
            m = float(s.t[p] * L)
            if m <= SPLIT_EPS_M:
                attach[p] = a
            elif m >= L - SPLIT_EPS_M:
                attach[p] = b
            elif m - chain[-1][0] <= SPLIT_EPS_M:
                attach[p] = chain[-1][1]
            else:
                node = n_nodes + len(new_xy)
                new_xy.append(node_xy[a] + (node_xy[b] - node_xy[a]) * (m / L))
                chain.append((m, node))
                attach[p] = node
        if len(chain) > 1:
            drop[g] = True
            chain.append((L, b))
            for (m0, u), (m1, v) in pairwise(chain):
                if m1 - m0 > 0:
                    add_a.append(u)
                    add_b.append(v)
                    add_len.append(m1 - m0)
                    add_sp.append(float(rspeed[g]))
                    add_dir.append(int(rdir[g]))  # the chain runs a -> b like its segment
    all_xy = np.vstack([node_xy, np.asarray(new_xy).reshape(-1, 2), pts_xy])
    point_node = np.arange(n_nodes + len(new_xy), len(all_xy), dtype=np.int64)
    keep = ~drop
    ra2 = np.concatenate([ra[keep], np.asarray(add_a, dtype=np.int64)])
    rb2 = np.concatenate([rb[keep], np.asarray(add_b, dtype=np.int64)])
    rlen2 = np.concatenate([rlen[keep], np.asarray(add_len, dtype=float)])
    rsp2 = np.concatenate([rspeed[keep], np.asarray(add_sp, dtype=float)])
    rdir2 = np.concatenate([rdir[keep], np.asarray(add_dir, dtype=np.int8)])
    # one access edge per (foot, point): a point on a vertex shared by two segments ties twice
    acc_b = point_node[s.pt]
    order = np.lexsort((s.dist_m, acc_b, attach))
    first = order[np.r_[True, (attach[order][1:] != attach[order][:-1]) | (acc_b[order][1:] != acc_b[order][:-1])]]
    return all_xy, ra2, rb2, rlen2, rsp2, attach[first], acc_b[first], s.dist_m[first], point_node, s, rdir2


def adjacency(a: NDArray, b: NDArray, w: NDArray, n: int, d: NDArray | None = None) -> csr_matrix:
    """Sparse adjacency with weights ``w`` (at least :data:`MIN_EDGE_S`): a->b and b->a, or only
    a->b where ``d`` is 1 and only b->a where it is 2 (one-way roads)."""
    w = np.maximum(np.asarray(w, dtype=float), MIN_EDGE_S)
    if d is None or not (np.asarray(d) != 0).any():
        return csr_matrix((np.concatenate([w, w]), (np.concatenate([a, b]), np.concatenate([b, a]))),
                          shape=(n, n))
    d = np.asarray(d)
    f, r = d != 2, d != 1  # forward a->b allowed, reverse b->a allowed
    return csr_matrix((np.concatenate([w[f], w[r]]), (np.concatenate([a[f], b[r]]), np.concatenate([b[f], a[r]]))),
                      shape=(n, n))


def accumulate_along_paths(pred: NDArray[np.int64], w: NDArray[np.float64]) -> NDArray[np.float64]:
    """Sum per-edge weights ``w[v]`` (edge pred[v]-v) from each node back to its tree root.

    Pointer jumping: O(log depth) vectorised passes instead of a walk per node.
    """
    acc = w.copy()
    p = np.where(pred >= 0, pred, -1)
    active = p >= 0
    while active.any():
        pa = p[active]
        new_acc = acc.copy()
        new_acc[active] += acc[pa]
        new_p = p.copy()
        new_p[active] = p[pa]
        acc, p = new_acc, new_p
        active = p >= 0
    return acc


def reached_pieces(A: NDArray, B: NDArray, da: NDArray, db: NDArray, T: NDArray, t: float
                    ) -> NDArray:
    """(m, 2, 2) segment pieces reachable within ``t`` seconds given end times ``da``, ``db``."""
    ra_ = np.where(np.isfinite(da), t - da, -1.0)  # time left on arrival at A
    rb_ = np.where(np.isfinite(db), t - db, -1.0)
    full = (ra_ >= T) | (rb_ >= T) | ((ra_ >= 0) & (rb_ >= 0) & (ra_ + rb_ >= T))
    pieces = [np.stack([A[full], B[full]], axis=1)]
    for left, P, Q in ((ra_, A, B), (rb_, B, A)):
        part = ~full & (left > 0)
        f = (left[part] / T[part])[:, None]
        pieces.append(np.stack([P[part], P[part] + f * (Q[part] - P[part])], axis=1))
    return np.concatenate(pieces, axis=0)


__all__ = ["MIN_EDGE_S", "Snap", "accumulate_along_paths", "adjacency", "insert_points", "reached_pieces",
           "road_parts", "segments", "snap_to_segments", "split_at_crossings"]
