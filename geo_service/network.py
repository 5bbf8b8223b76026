"""Road network: travel time (s) and road distance (m) to the nearest station, matrices, isochrones.

:class:`RoadNetwork` turns a dataset's roads layer into a routable graph in the dataset's metric
CRS (metres):

* lines are split where they cross or touch (``node_crossings=True``, the default; pass False for
  data such as OpenStreetMap whose junctions are shared vertices, so that bridges stay unjoined);
  every vertex becomes a node, so roads that share a vertex are connected;
* each segment's travel time is its length (m) at the road's ``speed_kmh``, else the default
  speed of its ``class`` (:data:`geo_service.domain.ROAD_SPEEDS_KMH`), else ``default_speed_kmh``;
  roads are two-way unless a ``oneway`` column says ``F`` (only along the line's direction) or ``T``
  (only against it), as in OpenStreetMap/Geofabrik data; trips to a station follow those directions;
* every station is snapped to its nearest road segment (the segment is split there) and joined to
  it by an *off-road leg* travelled at ``offroad_speed_kmh`` (5 km/h, walking, by default; pass
  e.g. 30 for driving on unmapped tracks). Query points are snapped the same way;
* a trip may also go straight across country at ``offroad_speed_kmh`` when that is quicker (a
  village next to a station but far from any road), so a travel time never exceeds
  ``straight-line distance / offroad speed``.

Travel time from every node to its nearest station is precomputed per station filter (kind,
sector) with one multi-source :func:`scipy.sparse.csgraph.dijkstra` (``min_only=True``), so a
lookup is a KD-tree/STR-tree snap plus array indexing. The networkx graph (:attr:`RoadNetwork.graph`,
built on first use) holds the same nodes and edges for inspection and cross-checks.

Queries never change the object apart from filling caches under a lock, so one instance can serve
many threads. Build a new one when the dataset changes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from .domain import ROAD_SPEEDS_KMH, WGS84
from .index import (
    OUTSIDE_MARGIN_M,
    InvalidQuery,
    StationIndex,
    build_once,
    check_k,
    check_kinds,
    check_points,
    check_sector,
    station_mask,
    tm_scale_correction,
)

#: Default off-road speed (km/h): walking.
WALKING_KMH = 5.0
#: Default road speed (km/h) when a road has neither ``speed_kmh`` nor a known ``class``.
DEFAULT_ROAD_KMH = 30.0
_MIN_EDGE_S = 1e-6  # csgraph drops zero weights; every edge costs at least this (seconds)
_SPLIT_EPS_M = 0.01  # snaps closer than this (m) to a segment end use the end node
_TIE_M = 0.01  # segments this much (m) farther than the nearest still count as nearest
_NO_PRED = -9999


@dataclass(frozen=True)
class RoadResult:
    """Nearest station by travel time for ``n`` points (arrays of length ``n``).

    ``time_s`` is door to door: off-road leg to the road, the drive, and the station's off-road
    leg (or a straight walk when quicker). ``road_m`` is the distance driven on roads (metres),
    ``offroad_m`` the distance covered off-road (metres), ``snap_m`` the distance from the point to
    the nearest road (metres) and ``far_from_road`` flags ``snap_m > snap_warn_m``.
    ``station_index`` is -1 (``station_id`` None, ``time_s`` inf) when no station can be reached.
    """

    station_index: NDArray[np.int64]
    station_id: NDArray[np.object_]
    time_s: NDArray[np.float64]
    road_m: NDArray[np.float64]
    offroad_m: NDArray[np.float64]
    snap_m: NDArray[np.float64]
    far_from_road: NDArray[np.bool_]
    stations: pd.DataFrame
    offroad_speed_kmh: float = WALKING_KMH  #: the speed the off-road legs are timed at

    def to_frame(self) -> pd.DataFrame:
        """One row per point: point, id, name, kind, time_s, road_m, offroad_m, snap_m,
        far_from_road (unreachable points have id None and time_s inf)."""
        si = self.station_index
        ok = si >= 0
        take = np.where(ok, si, 0)

        def col(c: str) -> NDArray:
            vals = self.stations[c].to_numpy()[take] if len(self.stations) else np.full(len(si), None)
            return np.where(ok, vals, None)

        return pd.DataFrame({"point": np.arange(len(si)), "id": col("id"), "name": col("name"),
                             "kind": col("kind"), "time_s": self.time_s, "road_m": self.road_m,
                             "offroad_m": self.offroad_m, "snap_m": self.snap_m,
                             "far_from_road": self.far_from_road})

    def records(self) -> list[dict[str, Any]]:
        """JSON-ready dicts, one per point (unreachable: id None and time_s/road_m None), each
        stating ``offroad_speed_kmh``."""
        out = []
        for r in self.to_frame().to_dict("records"):
            if r["id"] is None:
                r.update(time_s=None, road_m=None, offroad_m=None)
            r["far_from_road"] = bool(r["far_from_road"])
            r["offroad_speed_kmh"] = self.offroad_speed_kmh
            out.append(r)
        return out


@dataclass(frozen=True)
class _Snap:
    """Points snapped to their nearest road segments, as (point, segment) pairs: a point as far
    from two segments (within :data:`_TIE_M`) has a pair for each. ``t`` is the fraction along
    the segment from its ``a`` end, ``dist_m`` the pair's distance, ``snap_m`` each point's
    distance to the nearest road (metres)."""

    pt: NDArray[np.int64]
    seg: NDArray[np.int64]
    t: NDArray[np.float64]
    dist_m: NDArray[np.float64]
    snap_m: NDArray[np.float64]


@dataclass(frozen=True)
class _Tree:
    """Per-filter precomputation: nearest-station time/distances for every graph node."""

    time_s: NDArray[np.float64]
    road_m: NDArray[np.float64]
    offroad_m: NDArray[np.float64]
    station: NDArray[np.int64]  # station row, -1 where unreachable


class RoadNetwork:
    """A routable road graph of one dataset with its stations attached (see module docstring)."""

    def __init__(self, roads: gpd.GeoDataFrame, stations: gpd.GeoDataFrame, metric_crs: CRS | str, *,
                 offroad_speed_kmh: float = WALKING_KMH, default_speed_kmh: float = DEFAULT_ROAD_KMH,
                 snap_warn_m: float = 1000.0, node_crossings: bool = True):
        """Build the graph from ``roads`` (LineStrings, WGS-84; ``speed_kmh``/``class``) and attach
        ``stations`` (points, WGS-84), working in ``metric_crs`` (metres).

        Raises ``ValueError`` when there are no usable roads or a speed is not positive.
        """
        for name, v in (("offroad_speed_kmh", offroad_speed_kmh), ("default_speed_kmh", default_speed_kmh)):
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number of km/h, got {v!r}")
        self.metric_crs = CRS.from_user_input(metric_crs)
        self.offroad_speed_kmh = float(offroad_speed_kmh)
        self.snap_warn_m = float(snap_warn_m)
        self.index = StationIndex(stations, self.metric_crs)
        if len(roads):  # the area a road answer means something: roads and stations
            b = np.array([roads.total_bounds] + ([stations.total_bounds] if len(stations) else []))
            self.index.extent = (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()),
                                 float(b[:, 3].max()))
        self.stations = self.index.stations
        self._offroad_mps = self.offroad_speed_kmh / 3.6

        parts, speeds, dirs = _road_parts(roads, self.metric_crs, default_speed_kmh)
        if node_crossings:
            parts, speeds, dirs = _node(parts, speeds, dirs)
        node_xy, ra, rb, rlen, rspeed, rdir = _segments(parts, speeds, dirs)
        if len(ra) == 0:
            raise ValueError("the roads layer has no usable line segments")
        base_tree = shapely.STRtree(shapely.linestrings(np.stack([node_xy[ra], node_xy[rb]], axis=1)))
        ins = _insert_points(node_xy, ra, rb, rlen, rspeed, self.index.xy, base_tree, rdir)
        (self.node_xy, self.ra, self.rb, self.rlen, self.rspeed,
         acc_a, acc_b, acc_len, self.station_node, station_snap, self.rdir) = ins
        self.station_snap_m = station_snap.snap_m
        self.rtime = self.rlen / (self.rspeed / 3.6)
        self.n_road_nodes = len(self.node_xy) - len(self.station_node)
        # edge table: road edges first, then station access edges
        self.ea = np.concatenate([self.ra, acc_a])
        self.eb = np.concatenate([self.rb, acc_b])
        self.e_road_m = np.concatenate([self.rlen, np.zeros(len(acc_a))])
        self.e_off_m = np.concatenate([np.zeros(len(self.ra)), acc_len])
        self.e_time = np.concatenate([self.rtime, acc_len / self._offroad_mps])
        self.e_dir = np.concatenate([self.rdir, np.zeros(len(acc_a), dtype=np.int8)])
        self.oneway = bool((self.rdir != 0).any())
        # csr: travel as allowed (from a station outward); csr_to: reversed, toward the stations
        self.csr = _csr(self.ea, self.eb, self.e_time, len(self.node_xy), self.e_dir)
        self.csr_to = self.csr.T.tocsr() if self.oneway else self.csr
        self._edge_of = _csr(self.ea, self.eb, np.arange(1, len(self.ea) + 1, dtype=float),
                             len(self.node_xy))
        self.seg_tree = shapely.STRtree(
            shapely.linestrings(np.stack([self.node_xy[self.ra], self.node_xy[self.rb]], axis=1)))
        self.seg_tree.query(shapely.points(0.0, 0.0))  # build the tree now, not in a query thread
        self._lock = threading.Lock()
        self._trees: dict[tuple, _Tree] = {}
        self._graph: nx.Graph | None = None

    @classmethod
    def from_dataset(cls, ds, **kwargs) -> RoadNetwork:
        """Network of ``ds.roads`` with ``ds.stations`` attached, in ``ds.metric_crs``."""
        if len(ds.roads) == 0:
            raise ValueError(f"dataset {ds.name!r} has no roads layer: road mode needs one")
        return cls(ds.roads, ds.stations, ds.metric_crs, **kwargs)

    def __repr__(self) -> str:  # pragma: no cover - cosmetic
        return (f"RoadNetwork({self.n_road_nodes} road nodes, {len(self.ra)} road segments, "
                f"{len(self.station_node)} stations)")

    # -- networkx view ------------------------------------------------------------------------
    @property
    def graph(self) -> nx.Graph:
        """The graph as networkx (a DiGraph when some road is one-way): nodes 0..N-1 with ``x``, ``y`` (metres) and, for station nodes,
        ``station`` (id); edges with ``time_s``, ``road_m`` and ``offroad_m``. Built on first use."""
        if self._graph is None:
            with self._lock:
                if self._graph is None:
                    g = nx.DiGraph() if self.oneway else nx.Graph()  # one-way roads: directed edges
                    g.add_nodes_from((i, {"x": float(x), "y": float(y)})
                                     for i, (x, y) in enumerate(self.node_xy))
                    for node, sid in zip(self.station_node, self.stations["id"]):
                        g.nodes[int(node)]["station"] = sid
                    g.add_edges_from(
                        (int(u), int(v), {"time_s": float(t), "road_m": float(r), "offroad_m": float(o)})
                        for a, b, t, r, o, d in zip(self.ea, self.eb, np.maximum(self.e_time, _MIN_EDGE_S),
                                                    self.e_road_m, self.e_off_m, self.e_dir)
                        for u, v in (((a, b),) if d == 1 else ((b, a),) if d == 2 else
                                     ((a, b), (b, a)) if self.oneway else ((a, b),)))
                    self._graph = g
        return self._graph

    # -- snapping -----------------------------------------------------------------------------
    def project(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.float64]:
        """(n, 2) metric-CRS coordinates (metres) of WGS-84 ``lon``/``lat`` (degrees)."""
        return self.index.project(lon, lat)

    def snap(self, xy_m: NDArray) -> _Snap:
        """Snap metric points to their nearest road segment(s) (exact, via an STR-tree)."""
        return _snap(self.node_xy, self.ra, self.rb, xy_m, self.seg_tree)

    # -- nearest station ----------------------------------------------------------------------
    def _tree(self, kinds: frozenset[str] | None, sector: str | None) -> _Tree:
        return build_once(self._trees, (kinds, sector), self._lock,
                          lambda: self._precompute(station_mask(self.stations["kind"].tolist(),
                                                                self.stations["sectors"].tolist(),
                                                                kinds, sector)))

    def _precompute(self, mask: NDArray[np.bool_]) -> _Tree:
        n = len(self.node_xy)
        rows = np.flatnonzero(mask)
        if len(rows) == 0:
            inf = np.full(n, np.inf)
            return _Tree(inf, inf.copy(), inf.copy(), np.full(n, -1, dtype=np.int64))
        dist, pred, src = dijkstra(self.csr_to, directed=True, indices=self.station_node[rows],
                                   min_only=True, return_predecessors=True)
        has = pred >= 0
        w = np.zeros((n, 2))
        e = np.asarray(self._edge_of[pred[has], np.flatnonzero(has)]).ravel().astype(np.int64) - 1
        w[has, 0] = self.e_road_m[e]
        w[has, 1] = self.e_off_m[e]
        acc = _accumulate(pred, w)
        node_to_row = np.full(n, -1, dtype=np.int64)
        node_to_row[self.station_node] = np.arange(len(self.station_node))
        station = np.where(src >= 0, node_to_row[np.maximum(src, 0)], -1)
        return _Tree(dist, acc[:, 0], acc[:, 1], station)

    def nearest(self, lon: ArrayLike, lat: ArrayLike, k: int = 1, *,
                kinds: str | Iterable[str] | None = None, sector: str | None = None) -> RoadResult:
        """Nearest station by travel time from each WGS-84 point (degrees; scalars or 1-d arrays).

        ``kinds``/``sector`` filter the stations as in :meth:`StationIndex.nearest`. Only
        ``k = 1`` is precomputed; for more stations per point use :meth:`travel_time_matrix`.
        Raises :class:`~geo_service.index.InvalidQuery` for bad arguments.
        """
        x, y = check_points(lon, lat, self.index.max_batch)
        if check_k(k) != 1:
            raise InvalidQuery("road mode answers k=1 (the nearest station by travel time); "
                               "use travel_time_matrix for more", field="k", value=k)
        far = self.index.outside(x, y)
        if far.any():  # no road leads there: refuse the row rather than invent a walk of days
            i = int(np.flatnonzero(far)[0])
            raise InvalidQuery(f"({x[i]:g}, {y[i]:g}) lies more than {OUTSIDE_MARGIN_M / 1000:g} km outside the "
                               f"road network's area; road mode answers points near it (use mode=straight "
                               f"for a distance)", field="lon", index=i, value=x[i])
        return self.nearest_xy(self.project(x, y), kinds=kinds, sector=sector)

    def nearest_xy(self, xy_m: ArrayLike, *, kinds: str | Iterable[str] | None = None,
                   sector: str | None = None) -> RoadResult:
        """Like :meth:`nearest` for points already in :attr:`metric_crs` (an (n, 2) array, metres)."""
        xy = np.asarray(xy_m, dtype=float).reshape(-1, 2)
        if len(xy) == 0:
            raise InvalidQuery("empty batch: give at least one point", field="xy")
        kset, sec = check_kinds(kinds), check_sector(sector)
        tree = self._tree(kset, sec)
        s = self.snap(xy)
        a, b = self.ra[s.seg], self.rb[s.seg]
        T, L = self.rtime[s.seg], self.rlen[s.seg]
        d = self.rdir[s.seg]  # one-way: from the foot toward a needs b->a allowed (dir != 1), etc.
        via_a = np.where(d == 1, np.inf, tree.time_s[a] + s.t * T)
        via_b = np.where(d == 2, np.inf, tree.time_s[b] + (1.0 - s.t) * T)
        use_a = via_a <= via_b
        end = np.where(use_a, a, b)
        part = np.where(use_a, s.t, 1.0 - s.t)
        ptime = s.dist_m / self._offroad_mps + np.minimum(via_a, via_b)
        # best pair per point (ties between equally near segments go to the quicker one)
        order = np.lexsort((ptime, s.pt))
        first = order[np.r_[True, s.pt[order][1:] != s.pt[order][:-1]]]
        time = ptime[first]
        end, part, dist = end[first], part[first], s.dist_m[first]
        road = tree.road_m[end] + part * L[first]
        off = dist + tree.offroad_m[end]
        station = tree.station[end].copy()
        # a straight walk across country when it is quicker
        direct = self.index._query(xy, 1, kset, sec, None)
        dd = direct.distance_m[:, 0]
        walk = dd / self._offroad_mps < time
        station[walk] = direct.station_index[walk, 0]
        time = np.where(walk, dd / self._offroad_mps, time)
        road = np.where(walk, 0.0, road)
        off = np.where(walk, dd, off)
        unreached = station < 0
        time[unreached] = np.inf
        road[unreached] = np.inf
        off[unreached] = np.inf
        ids = np.full(len(xy), None, dtype=object)
        ids[~unreached] = self.stations["id"].to_numpy()[station[~unreached]]
        return RoadResult(station, ids, time, road, off, s.snap_m, s.snap_m > self.snap_warn_m,
                          self.stations, self.offroad_speed_kmh)

    # -- matrices -----------------------------------------------------------------------------
    def travel_time_matrix(self, origins: Any, destinations: Any, *, chunk: int = 256
                           ) -> NDArray[np.float64]:
        """Door-to-door travel time in seconds, shape ``(len(origins), len(destinations))``.

        ``origins`` and ``destinations`` are points in WGS-84: a GeoSeries/GeoDataFrame, or an
        (n, 2) array of lon/lat degrees. Both are snapped onto the roads (off-road legs at
        :attr:`offroad_speed_kmh`); a straight walk is used where quicker. Unreachable pairs are
        ``inf``. Runs one Dijkstra per destination (in chunks of ``chunk``), so keep the number of
        destinations (candidate sites) modest.
        """
        o = self._points_xy(origins, "origins")
        d = self._points_xy(destinations, "destinations")
        pts = np.vstack([o, d])
        node_xy, ra, rb, rlen, rspeed, acc_a, acc_b, acc_len, vnode, _, rdir = _insert_points(
            self.node_xy, self.ra, self.rb, self.rlen, self.rspeed, pts, self.seg_tree, self.rdir)
        ea = np.concatenate([ra, self.ea[len(self.ra):], acc_a])
        eb = np.concatenate([rb, self.eb[len(self.ra):], acc_b])
        et = np.concatenate([rlen / (rspeed / 3.6), self.e_time[len(self.ra):], acc_len / self._offroad_mps])
        ed = np.concatenate([rdir, self.e_dir[len(self.ra):], np.zeros(len(acc_a), dtype=np.int8)])
        g = _csr(ea, eb, et, len(node_xy), ed)
        g = g.T.tocsr() if self.oneway else g  # from each destination backwards: origin -> destination
        on, dn = vnode[:len(o)], vnode[len(o):]
        out = np.empty((len(o), len(d)))
        for j0 in range(0, len(d), chunk):
            dist = dijkstra(g, directed=True, indices=dn[j0:j0 + chunk])
            out[:, j0:j0 + chunk] = dist[:, on].T
        straight = (np.hypot(o[:, None, 0] - d[None, :, 0], o[:, None, 1] - d[None, :, 1])
                    / tm_scale_correction(o[:, None, :], d[None, :, :]))
        return np.minimum(out, straight / self._offroad_mps)

    def _points_xy(self, pts: Any, field: str) -> NDArray[np.float64]:
        if isinstance(pts, (gpd.GeoDataFrame, gpd.GeoSeries)):
            g = pts.geometry if isinstance(pts, gpd.GeoDataFrame) else pts
            if g.crs is not None:
                g = g.to_crs(WGS84)
            if len(g) and not (g.geom_type == "Point").all():
                i = int(np.flatnonzero((g.geom_type != "Point").to_numpy())[0])
                raise InvalidQuery("expected points", field=field, index=i, value=g.iloc[i])
            lon, lat = (g.x.to_numpy(), g.y.to_numpy()) if len(g) else (np.zeros(0), np.zeros(0))
        else:
            arr = np.asarray(pts, dtype=float).reshape(-1, 2)
            lon, lat = arr[:, 0], arr[:, 1]
        try:
            x, y = check_points(lon, lat, self.index.max_batch)
        except InvalidQuery as e:
            raise InvalidQuery(str(e), field=f"{field}.{e.field}", index=e.index, value=e.value) from None
        return self.project(x, y)

    # -- isochrones ---------------------------------------------------------------------------
    def service_areas(self, thresholds_s: Iterable[float] = (900, 1800), *,
                      kinds: str | Iterable[str] | None = None, sector: str | None = None,
                      buffer_m: float = 200.0, dissolve: bool = False) -> gpd.GeoDataFrame:
        """Isochrone polygons (WGS-84) of the matching stations for each threshold (seconds).

        A polygon is the road stretches reachable within the threshold (partly reached segments
        cut where time runs out), buffered by ``buffer_m`` metres, plus the disc a walker covers
        from the station at the off-road speed. Unreachable land between roads is not swallowed.
        Columns: station_id, name, kind, threshold_s, area_km2, geometry; with ``dissolve`` one
        row per threshold (station_id None, ``stations`` = how many were merged).
        """
        thr = sorted({float(t) for t in thresholds_s})
        if not thr or any(not np.isfinite(t) or t <= 0 for t in thr):
            raise InvalidQuery("thresholds must be positive numbers of seconds", field="thresholds_s",
                               value=list(thresholds_s))
        rows = np.flatnonzero(station_mask(self.stations["kind"].tolist(), self.stations["sectors"].tolist(),
                                           check_kinds(kinds), check_sector(sector)))
        A, B = self.node_xy[self.ra], self.node_xy[self.rb]
        records = []
        for r in rows:
            dist = dijkstra(self.csr, directed=True, indices=int(self.station_node[r]), limit=thr[-1])
            da, db = dist[self.ra], dist[self.rb]
            for t in thr:
                lines = _reached_pieces(A, B, da, db, self.rtime, t)
                sxy = self.index.xy[r]
                walk = shapely.buffer(shapely.points(sxy), min(t * self._offroad_mps, 5000.0), quad_segs=8)
                # buffering each piece then a cascaded union is several times faster than
                # buffering one MultiLineString
                parts = np.concatenate([[walk], shapely.buffer(shapely.linestrings(lines), buffer_m,
                                                               quad_segs=4)]) if len(lines) else [walk]
                records.append({"station_id": self.stations["id"].iloc[r], "name": self.stations["name"].iloc[r],
                                "kind": self.stations["kind"].iloc[r], "threshold_s": t,
                                "geometry": shapely.union_all(parts)})
        cols = ["station_id", "name", "kind", "threshold_s", "area_km2", "geometry"]
        if not records:
            return gpd.GeoDataFrame({c: [] for c in cols[:-1]}, geometry=[], crs=WGS84)
        gdf = gpd.GeoDataFrame(records, geometry="geometry", crs=self.metric_crs)
        if dissolve:
            merged = [{"station_id": None, "name": None, "kind": None, "threshold_s": t,
                       "stations": int((gdf["threshold_s"] == t).sum()),
                       "geometry": shapely.union_all(gdf.geometry[gdf["threshold_s"] == t].to_numpy())}
                      for t in thr]
            gdf = gpd.GeoDataFrame(merged, geometry="geometry", crs=self.metric_crs)
            cols = cols[:4] + ["stations", "area_km2", "geometry"]
        gdf["area_km2"] = gdf.geometry.area / 1e6
        return gdf[cols].to_crs(WGS84)


# --- building blocks -----------------------------------------------------------------------------

def _road_parts(roads: gpd.GeoDataFrame, crs: CRS, default_kmh: float
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


def _node(parts: NDArray[np.object_], speeds: NDArray[np.float64], dirs: NDArray[np.int8] | None = None
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


def _segments(parts: NDArray[np.object_], speeds: NDArray[np.float64], dirs: NDArray[np.int8] | None = None):
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


def _foot(node_xy, ra, rb, xy, seg) -> tuple[NDArray, NDArray]:
    """Fraction ``t`` along segments ``seg`` of the feet of ``xy`` and the ground distances
    (metres, projected lengths scale-corrected like every length in the graph)."""
    A, B = node_xy[ra[seg]], node_xy[rb[seg]]
    AB = B - A
    den = np.einsum("ij,ij->i", AB, AB)
    t = np.clip(np.einsum("ij,ij->i", xy - A, AB) / np.where(den > 0, den, 1.0), 0.0, 1.0)
    foot = A + t[:, None] * AB
    return t, np.hypot(*(xy - foot).T) / tm_scale_correction(xy, foot)


def _snap(node_xy, ra, rb, xy, tree) -> _Snap:
    """Every nearest segment of each point (ties within :data:`_TIE_M`), as pairs."""
    pts = shapely.points(xy)
    _, d0 = tree.query_nearest(pts, all_matches=False, return_distance=True)  # planar metres
    pt, seg = tree.query(pts, predicate="dwithin", distance=d0 * (1 + 1e-9) + 2 * _TIE_M)
    t, d = _foot(node_xy, ra, rb, xy[pt], seg)
    best = np.full(len(xy), np.inf)
    np.minimum.at(best, pt, d)
    keep = d <= best[pt] + _TIE_M
    return _Snap(pt[keep].astype(np.int64), seg[keep].astype(np.int64), t[keep], d[keep], best)


def _insert_points(node_xy, ra, rb, rlen, rspeed, pts_xy, tree, rdir=None):
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
        return node_xy, ra, rb, rlen, rspeed, e, e, z, e, _Snap(e, e, z, z, z), rdir
    s = _snap(node_xy, ra, rb, pts_xy, tree)
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
            if m <= _SPLIT_EPS_M:
                attach[p] = a
            elif m >= L - _SPLIT_EPS_M:
                attach[p] = b
            elif m - chain[-1][0] <= _SPLIT_EPS_M:
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


def _csr(a: NDArray, b: NDArray, w: NDArray, n: int, d: NDArray | None = None) -> csr_matrix:
    """Sparse adjacency with weights ``w`` (at least :data:`_MIN_EDGE_S`): a->b and b->a, or only
    a->b where ``d`` is 1 and only b->a where it is 2 (one-way roads)."""
    w = np.maximum(np.asarray(w, dtype=float), _MIN_EDGE_S)
    if d is None or not (np.asarray(d) != 0).any():
        return csr_matrix((np.concatenate([w, w]), (np.concatenate([a, b]), np.concatenate([b, a]))),
                          shape=(n, n))
    d = np.asarray(d)
    f, r = d != 2, d != 1  # forward a->b allowed, reverse b->a allowed
    return csr_matrix((np.concatenate([w[f], w[r]]), (np.concatenate([a[f], b[r]]), np.concatenate([b[f], a[r]]))),
                      shape=(n, n))


def _accumulate(pred: NDArray[np.int64], w: NDArray[np.float64]) -> NDArray[np.float64]:
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


def _reached_pieces(A: NDArray, B: NDArray, da: NDArray, db: NDArray, T: NDArray, t: float
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
