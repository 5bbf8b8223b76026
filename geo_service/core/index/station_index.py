"""The public :class:`StationIndex`: KD-trees per station filter, the large-batch grids and the
far-point fallbacks put together (the package docstring, :mod:`geo_service.core.index`, tells how)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS, Transformer
from scipy.spatial import cKDTree

from ..crs import geodesic_m
from ..domain import WGS84
from . import config
from .checks import (
    InvalidQuery,
    check_k,
    check_kinds,
    check_max_distance,
    check_points,
    check_sector,
    station_mask,
)
from .config import _FAR_M, MAX_BATCH, MAX_XY_M
from .far import geodesic_query, global_rows, outside_extent, rerank_far, unproject
from .kdtree import build_once, tm_scale_correction
from .lonlat_grid import GridFrame, LonLatGrid
from .metric_grid import CellGrid
from .result import NearestResult


class StationIndex:
    """Straight-line nearest-station index over one dataset's stations (see :mod:`geo_service.core.index`)."""

    def __init__(self, stations: gpd.GeoDataFrame, metric_crs: CRS | str, *,
                 max_batch: int = MAX_BATCH,
                 extent: tuple[float, float, float, float] | None = None):
        """Index a stations layer.

        Parameters
        ----------
        stations : geopandas.GeoDataFrame
            Stations (id, name, kind, sectors, point geometry); reprojected to WGS-84 if needed.
        metric_crs : pyproj.CRS or str
            The projected CRS in metres the KD-tree is built in; use the dataset's
            :attr:`~geo_service.core.dataset.Dataset.metric_crs` (a transverse Mercator with k0 = 1
            centred on the data: the distance correction assumes that).
        max_batch : int
            Most points one query accepts.
        extent : tuple of float, optional
            (lon0, lat0, lon1, lat1) in degrees where large batches are expected (the grids'
            cover, and the area :meth:`outside` measures from); by default the stations'
            bounding box with a margin.
        """
        st = stations
        if st.crs is not None and not CRS.from_user_input(st.crs).equals(CRS.from_user_input(WGS84)):
            st = st.to_crs(WGS84)
        geom = st.geometry
        lon = geom.x.to_numpy(dtype=float) if len(st) else np.zeros(0)
        lat = geom.y.to_numpy(dtype=float) if len(st) else np.zeros(0)
        self.stations = pd.DataFrame({
            "id": st["id"].astype(object).to_numpy() if len(st) else np.array([], dtype=object),
            "name": st["name"].to_numpy() if len(st) else np.array([], dtype=object),
            "kind": st["kind"].to_numpy() if len(st) else np.array([], dtype=object),
            "sectors": [list(s or []) for s in st["sectors"]] if len(st) else [],
            "lon": lon, "lat": lat,
        })
        self.metric_crs = CRS.from_user_input(metric_crs)
        self.max_batch = int(max_batch)
        self._local = threading.local()
        self.xy = np.column_stack(self._transformer().transform(lon, lat)) if len(st) else np.zeros((0, 2))
        self._ids_ext = np.append(self.stations["id"].to_numpy(dtype=object), np.array([None], dtype=object))
        self._lock = threading.Lock()
        self._trees: dict[tuple, tuple[cKDTree | None, NDArray[np.int64]]] = {}
        self._grids: dict[tuple, CellGrid | None] = {}
        self._frame: GridFrame | None = None
        self._llgrids: dict[tuple, LonLatGrid] = {}
        if extent is None and len(st):
            pad = max(0.05, 0.1 * max(lon.max() - lon.min(), lat.max() - lat.min()))
            extent = (lon.min() - pad, lat.min() - pad, lon.max() + pad, lat.max() + pad)
        self.extent = extent
        inv = Transformer.from_crs(self.metric_crs, WGS84, always_xy=True)
        ox, oy = inv.transform(0.0, 0.0)
        self._origin = (float(ox), float(oy))
        self._st_lonlat = (lon, lat)  # degrees, for the geodesic fallbacks

    @classmethod
    def from_dataset(cls, ds: Any, **kwargs: Any) -> StationIndex:
        """Index of a dataset's stations in its metric CRS.

        Parameters
        ----------
        ds : geo_service.core.dataset.Dataset
            The dataset; the grids' extent covers all its layers (plus 0.02 degrees).
        **kwargs
            Passed to :class:`StationIndex` (``max_batch``, ``extent``).

        Returns
        -------
        StationIndex
        """
        if "extent" not in kwargs:
            bounds = [df.total_bounds for name in ("counties", "townships", "villages", "stations")
                      if len(df := ds.layers[name])]
            if bounds:
                b = np.array(bounds)
                pad = 0.02
                kwargs["extent"] = (float(b[:, 0].min() - pad), float(b[:, 1].min() - pad),
                                    float(b[:, 2].max() + pad), float(b[:, 3].max() + pad))
        return cls(ds.stations, ds.metric_crs, **kwargs)

    def __len__(self) -> int:
        return len(self.stations)

    def __repr__(self) -> str:  # pragma: no cover - cosmetic
        return f"StationIndex({len(self)} stations, {len(self._trees)} trees cached)"

    # -- projection ---------------------------------------------------------------------------
    def _transformer(self) -> Transformer:
        # pyproj transformers are not shared between threads: one per thread.
        t = getattr(self._local, "t", None)
        if t is None:
            t = Transformer.from_crs(WGS84, self.metric_crs, always_xy=True)
            self._local.t = t
        return t

    def project(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.float64]:
        """Project WGS-84 points to the index's metric CRS (arguments unchecked).

        Parameters
        ----------
        lon, lat : array_like
            WGS-84 degrees.

        Returns
        -------
        ndarray
            (n, 2) metric-CRS coordinates, metres.
        """
        x, y = self._transformer().transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        return np.column_stack([np.atleast_1d(x), np.atleast_1d(y)])

    # -- filters ------------------------------------------------------------------------------
    def mask(self, kinds: str | Iterable[str] | None = None, sector: str | None = None
             ) -> NDArray[np.bool_]:
        """Which of :attr:`stations` match a filter.

        Parameters
        ----------
        kinds : str, iterable of str or None
            Station kinds (aliases accepted); None: every kind.
        sector : str or None
            A sector the station hosts (aliases accepted); None: any.

        Returns
        -------
        ndarray of bool
            (n_stations,) True where the station matches.

        Raises
        ------
        InvalidQuery
            (a ValueError) for an unknown kind or sector.
        """
        return station_mask(self.stations["kind"].tolist(), self.stations["sectors"].tolist(),
                            check_kinds(kinds), check_sector(sector))

    def _tree(self, kinds: frozenset[str] | None, sector: str | None
              ) -> tuple[cKDTree | None, NDArray[np.int64]]:
        def build() -> tuple[cKDTree | None, NDArray[np.int64]]:
            rows = np.flatnonzero(station_mask(self.stations["kind"].tolist(),
                                               self.stations["sectors"].tolist(), kinds, sector))
            return (cKDTree(self.xy[rows]) if len(rows) else None), rows.astype(np.int64)

        return build_once(self._trees, (kinds, sector), self._lock, build)

    # -- queries ------------------------------------------------------------------------------
    def nearest(self, lon: ArrayLike, lat: ArrayLike, k: int = 1, *,
                kinds: str | Iterable[str] | None = None, sector: str | None = None,
                max_distance_m: float | None = None) -> NearestResult:
        """The ``k`` nearest stations to each WGS-84 point.

        Parameters
        ----------
        lon, lat : array_like
            Scalars or 1-d arrays, WGS-84 degrees (a batch of at most :attr:`max_batch` points).
        k : int
            Neighbours per point (>= 1).
        kinds : str, iterable of str or None
            Station kinds to consider (aliases accepted); None: every kind.
        sector : str or None
            A sector (界别) the station must host (aliases accepted); None: any.
        max_distance_m : float or None
            Drop neighbours farther than this many metres; None: no cut.

        Returns
        -------
        NearestResult
            (n, k) station rows, ids and ground distances in metres (within 0.5 % of the
            geodesic), nearest first; ``outside_dataset`` flags points more than
            :data:`OUTSIDE_MARGIN_M` metres from the indexed area.

        Raises
        ------
        InvalidQuery
            (a ValueError) naming the field and row: points that are not finite or out of range,
            an empty or too large batch, ``k`` < 1, an unknown kind or sector, a negative or
            non-finite ``max_distance_m``.
        """
        x, y = check_points(lon, lat, self.max_batch)
        k = check_k(k)
        kset, sec = check_kinds(kinds), check_sector(sector)
        dmax = check_max_distance(max_distance_m)
        if len(x) >= config.GRID_MIN_BATCH and k == 1 and self.extent is not None:
            r = self._query_lonlat_grid(x, y, kset, sec, dmax)
        else:
            r = self._query(self.project(x, y), k, kset, sec, dmax, lonlat=(x, y))
        return dataclasses.replace(r, outside_dataset=self.outside(x, y))

    def outside(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
        """Which points lie far outside the indexed area.

        Parameters
        ----------
        lon, lat : array_like
            WGS-84 degrees.

        Returns
        -------
        ndarray of bool
            True where the geodesic distance from the point to the nearest point of
            :attr:`extent` (a lon/lat box) exceeds :data:`OUTSIDE_MARGIN_M` metres; all False
            when the index has no extent (no stations, no dataset layers).
        """
        return outside_extent(self.extent, np.atleast_1d(np.asarray(lon, dtype=float)),
                              np.atleast_1d(np.asarray(lat, dtype=float)))

    def nearest_xy(self, xy_m: ArrayLike, k: int = 1, *, kinds: str | Iterable[str] | None = None,
                   sector: str | None = None, max_distance_m: float | None = None) -> NearestResult:
        """Like :meth:`nearest` for points already in :attr:`metric_crs`.

        Parameters
        ----------
        xy_m : array_like
            (n, 2) metric-CRS coordinates, metres.
        k, kinds, sector, max_distance_m
            As for :meth:`nearest`.

        Returns
        -------
        NearestResult
            As for :meth:`nearest`, with ``outside_dataset`` None.

        Raises
        ------
        InvalidQuery
            (a ValueError) for an empty or too large batch, or naming the first row that is not
            finite or lies beyond :data:`MAX_XY_M` metres of the projection's origin (not metres
            of a projected CRS); bad ``k``, kinds, sector or distance as for :meth:`nearest`.
        """
        xy = np.asarray(xy_m, dtype=float).reshape(-1, 2)
        if len(xy) == 0:
            raise InvalidQuery("empty batch: give at least one point", field="xy", code="empty_batch")
        if len(xy) > self.max_batch:
            raise InvalidQuery(f"batch of {len(xy)} points exceeds the limit of {self.max_batch}",
                               field="xy", code="batch_too_large", ctx={"n": len(xy), "limit": self.max_batch})
        if not (xy.min() >= -MAX_XY_M and xy.max() <= MAX_XY_M):  # (NaN fails these too)
            bad = ~np.isfinite(xy).all(axis=1)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InvalidQuery("coordinates are not finite numbers", field="xy", index=i, value=xy[i],
                                   code="finite_number")
            i = int(np.flatnonzero((np.abs(xy) > MAX_XY_M).any(axis=1))[0])
            raise InvalidQuery(f"coordinates beyond {MAX_XY_M:,.0f} m of the origin are not metres in "
                               f"{self.metric_crs.name}", field="xy", index=i, value=xy[i], code="not_metres")
        return self._query(xy, check_k(k), check_kinds(kinds), check_sector(sector),
                           check_max_distance(max_distance_m))

    def _query_lonlat_grid(self, lon: NDArray, lat: NDArray, kinds: frozenset[str] | None,
                           sector: str | None, dmax: float | None) -> NearestResult:
        """Large-batch answer (k = 1) for WGS-84 points: the lon/lat cell grid, PROJ + KD-tree
        for the points it leaves over."""
        tree, rows = self._tree(kinds, sector)
        if tree is None:
            return self._query(self.project(lon, lat), 1, kinds, sector, dmax, lonlat=(lon, lat))
        grid = self._lonlat_grid(kinds, sector)
        todo, idx, dist = grid.query(lon, lat)
        if len(todo):
            sub = (lon[todo], lat[todo])
            sxy = self.project(*sub)
            glob = global_rows(sxy, sub, self._origin)
            if glob.any():  # far from the county (or off the projection): geodesic brute force
                g = todo[glob]
                idx[g], dist[g] = geodesic_query(lon[g], lat[g], 1, rows, *self._st_lonlat)
                todo, sxy, sub = todo[~glob], sxy[~glob], (sub[0][~glob], sub[1][~glob])
            if len(todo):
                idx[todo], dist[todo] = self._tree_query(sxy, 1, tree, rows, sub)
        # the affine projection is off by up to err_m: points so near their station that this
        # could be more than 0.1 % of the distance (a handful per million) get the geodesic
        near = np.flatnonzero(dist[:, 0] < grid.exact_below_m)
        if len(near):
            s = idx[near, 0]
            st = self.stations
            dist[near, 0] = geodesic_m(lon[near], lat[near], st["lon"].to_numpy()[s], st["lat"].to_numpy()[s])
        return self._finish(idx, dist, dmax)

    def _lonlat_grid(self, kinds: frozenset[str] | None, sector: str | None) -> LonLatGrid:
        def build() -> LonLatGrid:
            if self._frame is None:  # shared by every filter's grid; built under the lock
                if self.extent is None:
                    raise ValueError("extent: an index without stations has no extent to lay a grid over")
                self._frame = GridFrame(self.extent, self.metric_crs)
            tree, rows = self._trees[(kinds, sector)]
            return LonLatGrid(self._frame, self.xy, tree, rows)

        return build_once(self._llgrids, (kinds, sector), self._lock, build)

    def _query(self, xy: NDArray, k: int, kinds: frozenset[str] | None, sector: str | None,
               dmax: float | None, lonlat: tuple[NDArray, NDArray] | None = None) -> NearestResult:
        """Answer for metric points ``xy`` (an (n, 2) array, metres; ``lonlat``: the same points
        in WGS-84 degrees when known)."""
        n = len(xy)
        tree, rows = self._tree(kinds, sector)
        if tree is None:
            return self._finish(np.full((n, k), -1, dtype=np.int64), np.full((n, k), np.inf), dmax)
        glob = global_rows(xy, lonlat, self._origin)
        if glob.any():  # points anywhere on Earth: geodesic to every station, the rest as usual
            idx = np.full((n, k), -1, dtype=np.int64)
            dist = np.full((n, k), np.inf)
            gi, rest = np.flatnonzero(glob), np.flatnonzero(~glob)
            if len(rest):
                sub = None if lonlat is None else (lonlat[0][rest], lonlat[1][rest])
                r = self._query(xy[rest], k, kinds, sector, None, lonlat=sub)
                idx[rest], dist[rest] = r.station_index, r.distance_m
            if lonlat is None:
                glon, glat = unproject(self.metric_crs, xy[gi, 0], xy[gi, 1])
            else:
                glon, glat = lonlat[0][gi], lonlat[1][gi]
            idx[gi], dist[gi] = geodesic_query(glon, glat, k, rows, *self._st_lonlat)
            return self._finish(idx, dist, dmax)
        if n >= config.GRID_MIN_BATCH and k == 1:  # (for k > 1 the cell grid is no faster)
            ok, idx, dist = self._grid(kinds, sector).query(xy[:, 0], xy[:, 1])
            if not ok.all():
                todo = np.flatnonzero(~ok)
                sub_ll = None if lonlat is None else (lonlat[0][todo], lonlat[1][todo])
                idx[todo], dist[todo] = self._tree_query(xy[todo], k, tree, rows, sub_ll)
            # float32 offsets are good to about 0.1 mm: within a metre of the station, float64
            near = np.flatnonzero(dist[:, 0] < 1.0)
            if len(near):
                p, q = xy[near], self.xy[idx[near, 0]]
                dist[near, 0] = np.hypot(*(p - q).T) / tm_scale_correction(p, q)
        else:
            idx, dist = self._tree_query(xy, k, tree, rows, lonlat)
        return self._finish(idx, dist, dmax)

    def _tree_query(self, xy: NDArray, k: int, tree: cKDTree, rows: NDArray,
                    lonlat: tuple[NDArray, NDArray] | None) -> tuple[NDArray, NDArray]:
        """KD-tree answer: (station rows (n, k), ground distances in metres (n, k))."""
        n = len(xy)
        idx = np.full((n, k), -1, dtype=np.int64)
        dist = np.full((n, k), np.inf)
        kk = min(k, len(rows))
        d, j = tree.query(xy, k=kk)
        d = d.reshape(n, kk)
        j = j.reshape(n, kk)
        idx[:, :kk] = rows[j]
        dist[:, :kk] = d / tm_scale_correction(xy[:, None, :], self.xy[idx[:, :kk]])
        far = np.hypot(xy[:, 0], xy[:, 1]) > _FAR_M
        if far.any():
            rerank_far(xy, far, idx, dist, tree, rows, k, lonlat, self.metric_crs, *self._st_lonlat)
        return idx, dist

    def _finish(self, idx: NDArray, dist: NDArray, dmax: float | None) -> NearestResult:
        if dmax is not None:
            out = dist > dmax
            idx[out] = -1
            dist[out] = np.inf
        ids = self._ids_ext[idx]  # index -1 is the trailing None
        return NearestResult(idx, ids, dist, self.stations)

    def _grid(self, kinds: frozenset[str] | None, sector: str | None) -> CellGrid:
        def build() -> CellGrid:
            tree, rows = self._trees[(kinds, sector)]
            return CellGrid(self._metric_extent(), self.xy, tree, rows)

        return build_once(self._grids, (kinds, sector), self._lock, build)

    def _metric_extent(self) -> tuple[float, float, float, float]:
        """Bounding box in metres of :attr:`extent` (or of the stations), for the cell grid."""
        if self.extent is None:
            lo, hi = self.xy.min(axis=0) - 1000.0, self.xy.max(axis=0) + 1000.0
            return (lo[0], lo[1], hi[0], hi[1])
        lon0, lat0, lon1, lat1 = self.extent
        t = np.linspace(0.0, 1.0, 101)
        ring_lon = np.concatenate([lon0 + (lon1 - lon0) * t, np.full(101, lon1), lon1 - (lon1 - lon0) * t,
                                   np.full(101, lon0)])
        ring_lat = np.concatenate([np.full(101, lat0), lat0 + (lat1 - lat0) * t, np.full(101, lat1),
                                   lat1 - (lat1 - lat0) * t])
        xy = np.vstack([self.project(ring_lon, ring_lat), self.xy])
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        return (lo[0], lo[1], hi[0], hi[1])


__all__ = ["StationIndex"]
