"""Road network: travel time (s) and road distance (m) to the nearest station, matrices, isochrones.

:class:`RoadNetwork` turns a dataset's roads layer into a routable graph in the dataset's metric
CRS (metres):

* lines are split where they cross or touch (``node_crossings=True``, the default; pass False for
  data such as OpenStreetMap whose junctions are shared vertices, so that bridges stay unjoined);
  every vertex becomes a node, so roads that share a vertex are connected;
* each segment's travel time is its length (m) at the road's ``speed_kmh``, else the default
  speed of its ``class`` (:data:`geo_service.core.domain.ROAD_SPEEDS_KMH`), else ``default_speed_kmh``;
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
lookup is a snap plus array indexing: an STR-tree snap for small batches, and for batches of
:data:`geo_service.core.road_snap.MIN_BATCH` points or more (with numba) one compiled pass over a
grid of candidate segments (:class:`~geo_service.core.road_snap.SegmentGrid`, built on first use)
that gives the same answers. The networkx graph (:attr:`RoadNetwork.graph`,
built on first use) holds the same nodes and edges for inspection and cross-checks.

Queries never change the object apart from filling caches under a lock, so one instance can serve
many threads. Build a new one when the dataset changes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS
from scipy.sparse.csgraph import dijkstra

from .domain import WGS84
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
from .index import config as index_config
from .road_graph import (
    MIN_EDGE_S,
    Snap,
    accumulate_along_paths,
    adjacency,
    insert_points,
    reached_pieces,
    road_parts,
    segments,
    snap_to_segments,
    split_at_crossings,
)
from . import road_snap
from .road_snap import RoadLegs, SegmentGrid, legs_from_snap

#: Default off-road speed (km/h): walking.
WALKING_KMH = 5.0
#: Default road speed (km/h) when a road has neither ``speed_kmh`` nor a known ``class``.
DEFAULT_ROAD_KMH = 30.0


class MissingLayer(ValueError):
    """A computation needs a layer the dataset lacks (``layer``: its name, e.g. ``roads``)."""

    def __init__(self, layer: str, message: str):
        super().__init__(message)
        self.layer = layer


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
            return np.where(ok, vals, np.array(None, dtype=object))

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
        """Build the graph from roads and attach the stations.

        Parameters
        ----------
        roads : geopandas.GeoDataFrame
            LineStrings in WGS-84 with optional ``speed_kmh`` (km/h), ``class`` and ``oneway``.
        stations : geopandas.GeoDataFrame
            Station points in WGS-84 (id, name, kind, sectors).
        metric_crs : pyproj.CRS or str
            The projected CRS in metres the graph is built in (the dataset's ``metric_crs``).
        offroad_speed_kmh : float
            Speed of off-road legs and straight walks, km/h (5: walking).
        default_speed_kmh : float
            Road speed, km/h, where a road has neither ``speed_kmh`` nor a known ``class``.
        snap_warn_m : float
            Points farther than this many metres from any road are flagged ``far_from_road``.
        node_crossings : bool
            Split lines where they cross or touch (False for data whose junctions are shared
            vertices, such as OpenStreetMap, so that bridges stay unjoined).

        Raises
        ------
        ValueError
            When there are no usable road segments, or a speed is not a positive number of km/h.
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

        parts, speeds, dirs = road_parts(roads, self.metric_crs, default_speed_kmh)
        if node_crossings:
            parts, speeds, dirs = split_at_crossings(parts, speeds, dirs)
        node_xy, ra, rb, rlen, rspeed, rdir = segments(parts, speeds, dirs)
        if len(ra) == 0:
            raise ValueError("the roads layer has no usable line segments")
        base_tree = shapely.STRtree(shapely.linestrings(np.stack([node_xy[ra], node_xy[rb]], axis=1)))
        ins = insert_points(node_xy, ra, rb, rlen, rspeed, self.index.xy, base_tree, rdir)
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
        self.csr = adjacency(self.ea, self.eb, self.e_time, len(self.node_xy), self.e_dir)
        self.csr_to = self.csr.T.tocsr() if self.oneway else self.csr
        self._edge_of = adjacency(self.ea, self.eb, np.arange(1, len(self.ea) + 1, dtype=float),
                             len(self.node_xy))
        self.seg_tree = shapely.STRtree(
            shapely.linestrings(np.stack([self.node_xy[self.ra], self.node_xy[self.rb]], axis=1)))
        self.seg_tree.query(shapely.points(0.0, 0.0))  # build the tree now, not in a query thread
        self._lock = threading.Lock()
        self._trees: dict[tuple, _Tree] = {}
        self._seg_grids: dict[None, SegmentGrid] = {}
        self._graph: nx.Graph | None = None

    @classmethod
    def from_dataset(cls, ds: Any, **kwargs: Any) -> RoadNetwork:
        """Network of a dataset's roads with its stations attached, in its metric CRS.

        Parameters
        ----------
        ds : geo_service.core.dataset.Dataset
        **kwargs
            Passed to :class:`RoadNetwork` (speeds in km/h, ``snap_warn_m``, ``node_crossings``).

        Returns
        -------
        RoadNetwork

        Raises
        ------
        ValueError
            When the dataset has no roads layer (or no usable segments).
        """
        if len(ds.roads) == 0:
            raise MissingLayer("roads", f"dataset {ds.name!r} has no roads layer: road mode needs one "
                                        "(roads.shp, roads.geojson or a roads sheet)")
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
                        for a, b, t, r, o, d in zip(self.ea, self.eb, np.maximum(self.e_time, MIN_EDGE_S),
                                                    self.e_road_m, self.e_off_m, self.e_dir)
                        for u, v in (((a, b),) if d == 1 else ((b, a),) if d == 2 else
                                     ((a, b), (b, a)) if self.oneway else ((a, b),)))
                    self._graph = g
        return self._graph

    # -- snapping -----------------------------------------------------------------------------
    def project(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.float64]:
        """Project WGS-84 points to the network's metric CRS.

        Parameters
        ----------
        lon, lat : array_like
            WGS-84 degrees.

        Returns
        -------
        ndarray
            (n, 2) metric-CRS coordinates, metres.
        """
        return self.index.project(lon, lat)

    def snap(self, xy_m: NDArray) -> Snap:
        """Snap metric points to their nearest road segment(s) (exact, via an STR-tree).

        Parameters
        ----------
        xy_m : ndarray
            (n, 2) metric-CRS coordinates, metres.

        Returns
        -------
        Snap
            (point, segment) pairs (ties within a centimetre each get one), the fraction along
            the segment and the distances in metres.
        """
        return snap_to_segments(self.node_xy, self.ra, self.rb, xy_m, self.seg_tree)

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
        acc = accumulate_along_paths(pred, w)
        node_to_row = np.full(n, -1, dtype=np.int64)
        node_to_row[self.station_node] = np.arange(len(self.station_node))
        station = np.where(src >= 0, node_to_row[np.maximum(src, 0)], -1)
        return _Tree(dist, acc[:, 0], acc[:, 1], station)

    def nearest(self, lon: ArrayLike, lat: ArrayLike, k: int = 1, *,
                kinds: str | Iterable[str] | None = None, sector: str | None = None) -> RoadResult:
        """Nearest station by travel time from each WGS-84 point (degrees; scalars or 1-d arrays).

        ``kinds``/``sector`` filter the stations as in :meth:`StationIndex.nearest`. Only
        ``k = 1`` is precomputed; for more stations per point use :meth:`travel_time_matrix`.

        Parameters
        ----------
        lon, lat : array_like
            Scalars or 1-d arrays, WGS-84 degrees.
        k : int
            Must be 1.
        kinds : str, iterable of str or None
            Station kinds (aliases accepted); None: every kind.
        sector : str or None
            A sector (界别) the station must host; None: any.

        Returns
        -------
        RoadResult
            Per point: the station, door-to-door ``time_s`` (seconds), ``road_m`` and
            ``offroad_m`` (metres), ``snap_m`` (metres to the nearest road), ``far_from_road``.

        Raises
        ------
        InvalidQuery
            (a ValueError) naming the field and row: bad points, ``k`` other than 1, an unknown
            kind or sector, or a point more than
            :data:`~geo_service.core.index.OUTSIDE_MARGIN_M` metres outside the dataset.
        """
        x, y = check_points(lon, lat, self.index.max_batch)
        if check_k(k) != 1:
            raise InvalidQuery("road mode answers k=1 (the nearest station by travel time); "
                               "use travel_time_matrix for more", field="k", value=k, code="road_k1")
        far = self.index.outside(x, y)
        if far.any():  # no road leads there: refuse the row rather than invent a walk of days
            i = int(np.flatnonzero(far)[0])
            raise InvalidQuery(f"({x[i]:g}, {y[i]:g}) lies more than {OUTSIDE_MARGIN_M / 1000:g} km outside the "
                               f"road network's area; road mode answers points near it (use mode=straight "
                               f"for a distance)", field="lon", index=i, value=x[i], code="outside_roads",
                               ctx={"km": f"{OUTSIDE_MARGIN_M / 1000:g}"})
        return self.nearest_xy(self.project(x, y), kinds=kinds, sector=sector)

    def nearest_xy(self, xy_m: ArrayLike, *, kinds: str | Iterable[str] | None = None,
                   sector: str | None = None) -> RoadResult:
        """Like :meth:`nearest` for points already in :attr:`metric_crs`.

        Parameters
        ----------
        xy_m : array_like
            (n, 2) metric-CRS coordinates, metres.
        kinds, sector
            As for :meth:`nearest`.

        Returns
        -------
        RoadResult

        Raises
        ------
        InvalidQuery
            (a ValueError) for an empty batch or an unknown kind or sector.
        """
        xy = np.asarray(xy_m, dtype=float).reshape(-1, 2)
        if len(xy) == 0:
            raise InvalidQuery("empty batch: give at least one point", field="xy", code="empty_batch")
        kset, sec = check_kinds(kinds), check_sector(sector)
        tree = self._tree(kset, sec)
        legs = self._legs(xy, tree)
        end = np.where(legs.use_a, self.ra[legs.seg], self.rb[legs.seg])
        part = np.where(legs.use_a, legs.t, 1.0 - legs.t)
        time = legs.time_s
        road = tree.road_m[end] + part * self.rlen[legs.seg]
        off = legs.dist_m + tree.offroad_m[end]
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
        return RoadResult(station, ids, time, road, off, legs.snap_m, legs.snap_m > self.snap_warn_m,
                          self.stations, self.offroad_speed_kmh)

    def _legs(self, xy: NDArray[np.float64], tree: _Tree) -> RoadLegs:
        """Each point's way onto the roads: the compiled grid for large batches (built on first
        use), the STR-tree for small ones and for points the grid leaves."""
        if not (index_config.USE_NUMBA and len(xy) >= road_snap.MIN_BATCH):
            return legs_from_snap(self.snap(xy), len(xy), self.ra, self.rb, tree.time_s, self.rtime,
                                  self.rdir, self._offroad_mps)
        grid = build_once(self._seg_grids, None, self._lock, lambda: SegmentGrid(
            self.node_xy, self.ra, self.rb, self.seg_tree, self.index._metric_extent()))
        legs = grid.best_legs(xy, tree.time_s, self.rtime, self.rdir, self._offroad_mps)
        rest = np.flatnonzero(~legs.ok)
        if len(rest):
            more = legs_from_snap(self.snap(xy[rest]), len(rest), self.ra, self.rb, tree.time_s,
                                  self.rtime, self.rdir, self._offroad_mps)
            for f in ("seg", "t", "use_a", "dist_m", "snap_m", "time_s"):
                getattr(legs, f)[rest] = getattr(more, f)
        return legs

    # -- matrices -----------------------------------------------------------------------------
    def travel_time_matrix(self, origins: Any, destinations: Any, *, chunk: int = 256
                           ) -> NDArray[np.float64]:
        """Door-to-door travel time in seconds, shape ``(len(origins), len(destinations))``.

        ``origins`` and ``destinations`` are points in WGS-84: a GeoSeries/GeoDataFrame, or an
        (n, 2) array of lon/lat degrees. Both are snapped onto the roads (off-road legs at
        :attr:`offroad_speed_kmh`); a straight walk is used where quicker. Unreachable pairs are
        ``inf``. Runs one Dijkstra per destination (in chunks of ``chunk``), so keep the number of
        destinations (candidate sites) modest.

        Parameters
        ----------
        origins, destinations : GeoSeries, GeoDataFrame or array_like
            Points in WGS-84 (an (n, 2) array: lon/lat degrees).
        chunk : int
            Destinations per Dijkstra batch (memory: ``chunk`` x graph nodes float64).

        Returns
        -------
        ndarray
            (len(origins), len(destinations)) seconds, ``inf`` where unreachable.

        Raises
        ------
        InvalidQuery
            (a ValueError) naming ``origins`` or ``destinations`` and the row: geometries that
            are not points, coordinates that are not finite or out of range.
        """
        o = self._points_xy(origins, "origins")
        d = self._points_xy(destinations, "destinations")
        pts = np.vstack([o, d])
        node_xy, ra, rb, rlen, rspeed, acc_a, acc_b, acc_len, vnode, _, rdir = insert_points(
            self.node_xy, self.ra, self.rb, self.rlen, self.rspeed, pts, self.seg_tree, self.rdir)
        ea = np.concatenate([ra, self.ea[len(self.ra):], acc_a])
        eb = np.concatenate([rb, self.eb[len(self.ra):], acc_b])
        et = np.concatenate([rlen / (rspeed / 3.6), self.e_time[len(self.ra):], acc_len / self._offroad_mps])
        ed = np.concatenate([rdir, self.e_dir[len(self.ra):], np.zeros(len(acc_a), dtype=np.int8)])
        g = adjacency(ea, eb, et, len(node_xy), ed)
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
                raise InvalidQuery("expected points", field=field, index=i, value=g.iloc[i], code="not_points")
            lon, lat = (g.x.to_numpy(), g.y.to_numpy()) if len(g) else (np.zeros(0), np.zeros(0))
        else:
            arr = np.asarray(pts, dtype=float).reshape(-1, 2)
            lon, lat = arr[:, 0], arr[:, 1]
        try:
            x, y = check_points(lon, lat, self.index.max_batch)
        except InvalidQuery as e:
            raise InvalidQuery(str(e), field=f"{field}.{e.field}", index=e.index, value=e.value, code=e.code,
                               ctx=e.ctx) from None
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

        Parameters
        ----------
        thresholds_s : iterable of float
            Travel times, seconds (positive).
        kinds, sector
            Station filter, as for :meth:`nearest`.
        buffer_m : float
            Width in metres of the buffer round the reached road pieces.
        dissolve : bool
            Merge the stations' polygons per threshold.

        Returns
        -------
        geopandas.GeoDataFrame
            Polygons in WGS-84, areas in km².

        Raises
        ------
        InvalidQuery
            (a ValueError) for thresholds that are not positive numbers of seconds, or an unknown
            kind or sector.
        """
        thr = sorted({float(t) for t in thresholds_s})
        if not thr or any(not np.isfinite(t) or t <= 0 for t in thr):
            raise InvalidQuery("thresholds must be positive numbers of seconds", field="thresholds_s",
                               value=list(thresholds_s), code="greater_than", ctx={"gt": 0})
        rows = np.flatnonzero(station_mask(self.stations["kind"].tolist(), self.stations["sectors"].tolist(),
                                           check_kinds(kinds), check_sector(sector)))
        A, B = self.node_xy[self.ra], self.node_xy[self.rb]
        records = []
        for r in rows:
            dist = dijkstra(self.csr, directed=True, indices=int(self.station_node[r]), limit=thr[-1])
            da, db = dist[self.ra], dist[self.rb]
            for t in thr:
                lines = reached_pieces(A, B, da, db, self.rtime, t)
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


__all__ = ["DEFAULT_ROAD_KMH", "WALKING_KMH", "MissingLayer", "RoadNetwork", "RoadResult"]
