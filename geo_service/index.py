"""Nearest-station lookup by straight line: a KD-tree on projected metres.

:class:`StationIndex` holds the stations of one dataset projected to the dataset's metric CRS
(:attr:`geo_service.dataset.Dataset.metric_crs`, a transverse Mercator centred on the county) and
answers "which k stations are nearest to these points?" for one point or a batch of up to
1,000,000 points, optionally filtered by station kind and by sector hosted (界别) and cut at a
maximum distance.

Distances are in metres. The Euclidean distance in the metric CRS is divided by the mean
transverse Mercator scale factor along the line, which keeps it within about 0.01 % of the WGS-84
geodesic within a few hundred kilometres of the county; for points farther out (a GPS fix from
another province) the candidates are re-ranked and reported by exact geodesic distance. Either
way the reported distance stays within 0.5 % of :func:`geo_service.crs.geodesic_m`.

One KD-tree (:class:`scipy.spatial.cKDTree`) is built per filter combination the first time it is
asked for and cached under a lock; queries never change the index otherwise, so one instance can
serve many threads. Rebuild the index (``StationIndex.from_dataset``) when the dataset changes.

Large batches (>= :data:`GRID_MIN_BATCH` points) take a faster path with the KD-tree's answers.
WGS-84 points look up one cell of a lon/lat grid over the dataset's extent (about
:data:`GRID_CELLS` cells of a few hundred metres) that holds the cell's affine form of the
projection (within a few centimetres of PROJ) and the few stations that can be among the k
nearest anywhere in the cell; where that is one station (most cells for k = 1) the distance is
one affine map and a hypot. Where several stations compete, they are ranked, and a point whose
two best differ by less than the affine error allows is answered by PROJ and the KD-tree, so the
chosen stations are the KD-tree's. Points already in metres (:meth:`StationIndex.nearest_xy`)
use the same idea on a square grid in metres. Points outside the grids, far from the county or
in cells crowded with candidates fall back to PROJ and the KD-tree. The grids serve k = 1; for
k > 1 the KD-tree is as fast. Where numba is installed (optional) the per-point work of the grids
runs as one compiled loop (:data:`USE_NUMBA`); the numpy code gives the same answers without it.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS, Transformer
from scipy.spatial import cKDTree

from .crs import geodesic_m

try:  # optional: compiled loops for the large-batch grids; numpy does the same without it
    import numba as _numba
except ImportError:  # pragma: no cover - depends on the environment
    _numba = None
from .domain import (
    SECTORS,
    STATION_KINDS,
    WGS84,
    canonical_sector,
    canonical_station_kind,
)

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
USE_NUMBA = _numba is not None


class InvalidQuery(ValueError):
    """A query argument is wrong; ``field``, ``index`` (row of a batch) and ``value`` say which.

    The API maps it to an RFC 9457 problem+json response (HTTP 422).
    """

    def __init__(self, message: str, *, field: str, index: int | None = None, value: Any = None):
        self.field = field
        self.index = index
        self.value = value
        where = f"{field}[{index}]" if index is not None else field
        super().__init__(f"{where}: {message}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly description: message, field, index, value (as a string)."""
        return {"message": str(self), "field": self.field, "index": self.index,
                "value": None if self.value is None else str(self.value)}


# --- argument checking (shared with geo_service.network) ------------------------------------------

def check_points(lon: ArrayLike, lat: ArrayLike, max_batch: int = MAX_BATCH
                 ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Validate WGS-84 lon/lat (scalars or 1-d arrays, degrees) and return them as float arrays.

    Raises :class:`InvalidQuery` naming the first bad row: shapes that differ, an empty batch, a
    batch larger than ``max_batch``, a value that is not a finite number, lon outside -180..180
    or lat outside -90..90.
    """
    try:
        x = np.atleast_1d(np.asarray(lon, dtype=float))
    except (TypeError, ValueError) as e:
        raise InvalidQuery(f"longitudes must be numbers ({e})", field="lon") from None
    try:
        y = np.atleast_1d(np.asarray(lat, dtype=float))
    except (TypeError, ValueError) as e:
        raise InvalidQuery(f"latitudes must be numbers ({e})", field="lat") from None
    if x.ndim != 1 or y.ndim != 1:
        raise InvalidQuery("lon and lat must be scalars or 1-d arrays", field="lon")
    if x.shape != y.shape:
        raise InvalidQuery(f"got {len(x)} longitudes but {len(y)} latitudes", field="lat")
    if len(x) == 0:
        raise InvalidQuery("empty batch: give at least one point", field="lon")
    if len(x) > max_batch:
        raise InvalidQuery(f"batch of {len(x)} points exceeds the limit of {max_batch}", field="lon")
    for name, v, lo, hi in (("lon", x, -180.0, 180.0), ("lat", y, -90.0, 90.0)):
        if v.min() >= lo and v.max() <= hi:  # all good (NaN fails these): no temporary arrays
            continue
        bad = ~np.isfinite(v)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InvalidQuery(f"{v[i]} is not a finite number", field=name, index=i, value=v[i])
        bad = (v < lo) | (v > hi)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InvalidQuery(f"{v[i]} is outside {lo:g}..{hi:g} degrees", field=name, index=i,
                               value=v[i])
    return x, y


def check_kinds(kinds: str | Iterable[str] | None) -> frozenset[str] | None:
    """Canonical station kinds (aliases such as ``工作室`` accepted); None means every kind."""
    if kinds is None:
        return None
    items = [kinds] if isinstance(kinds, str) else list(kinds)
    out = set()
    for v in items:
        k = canonical_station_kind(v)
        if k is None:
            raise InvalidQuery(f"unknown station kind '{v}' (expected one of {', '.join(STATION_KINDS)})",
                               field="kinds", value=v)
        out.add(k)
    if not out:
        raise InvalidQuery("empty list of kinds: give at least one, or none to mean every kind",
                           field="kinds", value=[])
    return frozenset(out)


def check_sector(sector: str | None) -> str | None:
    """Canonical sector (界别) name (aliases accepted); None means no sector filter."""
    if sector is None:
        return None
    s = canonical_sector(sector)
    if s is None:
        raise InvalidQuery(f"unknown sector '{sector}' (expected one of {', '.join(SECTORS)})",
                           field="sector", value=sector)
    return s


def check_k(k: int) -> int:
    """``k`` as an int >= 1."""
    try:
        ki = int(k)
    except (TypeError, ValueError):
        raise InvalidQuery(f"k must be an integer >= 1, got {k!r}", field="k", value=k) from None
    if ki != k or ki < 1:
        raise InvalidQuery(f"k must be an integer >= 1, got {k!r}", field="k", value=k)
    return ki


def check_max_distance(max_distance_m: float | None) -> float | None:
    """A maximum distance in metres (finite, >= 0) or None."""
    if max_distance_m is None:
        return None
    try:
        d = float(max_distance_m)
    except (TypeError, ValueError):
        raise InvalidQuery("must be a number of metres", field="max_distance_m",
                           value=max_distance_m) from None
    if not np.isfinite(d) or d < 0:
        raise InvalidQuery("must be a finite number of metres >= 0", field="max_distance_m",
                           value=max_distance_m)
    return d


def station_mask(kinds_col: Sequence[str], sectors_col: Sequence[Sequence[str]],
                 kinds: frozenset[str] | None, sector: str | None) -> NDArray[np.bool_]:
    """Boolean mask of stations whose kind is in ``kinds`` and which host ``sector``."""
    n = len(kinds_col)
    m = np.ones(n, dtype=bool)
    if kinds is not None:
        m &= np.fromiter((k in kinds for k in kinds_col), dtype=bool, count=n)
    if sector is not None:
        m &= np.fromiter((sector in (s or ()) for s in sectors_col), dtype=bool, count=n)
    return m


def tm_scale_correction(xy1: NDArray, xy2: NDArray) -> NDArray:
    """Mean transverse Mercator scale factor along segments ``xy1``-``xy2`` (metres, k0 = 1).

    The point scale of a transverse Mercator with k0 = 1 is about ``1 + x**2 / (2 R**2)`` at
    easting ``x``; averaged along a straight segment (Simpson) it is
    ``1 + (x1**2 + x1*x2 + x2**2) / (6 R**2)``. Divide projected lengths by it to get ground metres.
    """
    x1 = xy1[..., 0]
    x2 = xy2[..., 0]
    return 1.0 + (x1 * x1 + x1 * x2 + x2 * x2) / (6.0 * _R_EARTH_M ** 2)


# --- result --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NearestResult:
    """Answer to a nearest-station query of ``n`` points with ``k`` neighbours each.

    Arrays are shaped ``(n, k)``, nearest first. Where fewer than ``k`` stations match the filter
    (or lie within ``max_distance_m``) the missing slots hold ``station_index == -1``,
    ``station_id is None`` and ``distance_m == inf``.
    """

    station_index: NDArray[np.int64]  #: row in the index's station table, -1 when none
    station_id: NDArray[np.object_]  #: station ids (str), None when none
    distance_m: NDArray[np.float64]  #: ground distance in metres, inf when none
    stations: pd.DataFrame  #: the index's station table (id, name, kind, sectors, lon, lat)
    #: (n,) True where the point lies more than :data:`OUTSIDE_MARGIN_M` outside the indexed area
    #: (None for metric queries)
    outside_dataset: NDArray[np.bool_] | None = None

    @property
    def found(self) -> NDArray[np.bool_]:
        """(n, k) mask of slots that hold a station."""
        return self.station_index >= 0

    def to_frame(self) -> pd.DataFrame:
        """Long table, one row per found neighbour: point (query row), rank (1 = nearest), id,
        name, kind, distance_m (metres)."""
        pt, rk = np.nonzero(self.found)
        si = self.station_index[pt, rk]
        st = self.stations
        return pd.DataFrame({
            "point": pt.astype(np.int64), "rank": (rk + 1).astype(np.int64),
            "id": st["id"].to_numpy()[si], "name": st["name"].to_numpy()[si],
            "kind": st["kind"].to_numpy()[si], "distance_m": self.distance_m[pt, rk],
        })

    def records(self) -> list[list[dict[str, Any]]]:
        """Per query point, its neighbours as JSON-ready dicts (id, name, kind, distance_m)."""
        st = self.stations
        ids, names, kinds = (st[c].to_numpy() for c in ("id", "name", "kind"))
        out = []
        for row_i, row_d in zip(self.station_index.tolist(), self.distance_m.tolist()):
            out.append([{"id": ids[i], "name": names[i], "kind": kinds[i], "distance_m": d}
                        for i, d in zip(row_i, row_d) if i >= 0])
        return out


# --- the index -----------------------------------------------------------------------------------


def build_once(cache: dict, key: Any, lock: threading.Lock, build: Callable[[], Any]) -> Any:
    """``cache[key]``, built by ``build()`` on first use under ``lock`` (double-checked, so reads of
    an already built entry take no lock and concurrent first users build it once)."""
    hit = cache.get(key)
    if hit is not None:
        return hit
    with lock:
        if key not in cache:
            cache[key] = build()
        return cache[key]


class StationIndex:
    """Straight-line nearest-station index over one dataset's stations (see module docstring)."""

    def __init__(self, stations: gpd.GeoDataFrame, metric_crs: CRS | str, *,
                 max_batch: int = MAX_BATCH,
                 extent: tuple[float, float, float, float] | None = None):
        """Index ``stations`` (a stations layer in WGS-84: id, name, kind, sectors, point).

        ``metric_crs`` is the projected CRS in metres the KD-tree is built in; use the dataset's
        :attr:`~geo_service.dataset.Dataset.metric_crs` (a transverse Mercator with k0 = 1 centred
        on the data: the distance correction assumes that). ``extent`` (lon0, lat0, lon1, lat1,
        degrees) is where large batches are expected (the grid's cover); by default the stations'
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
        self._ids_ext = np.append(self.stations["id"].to_numpy(dtype=object), None)
        self._lock = threading.Lock()
        self._trees: dict[tuple, tuple[cKDTree | None, NDArray[np.int64]]] = {}
        self._grids: dict[tuple, _CellGrid | None] = {}
        self._frame: _GridFrame | None = None
        self._llgrids: dict[tuple, _LonLatGrid] = {}
        if extent is None and len(st):
            pad = max(0.05, 0.1 * max(lon.max() - lon.min(), lat.max() - lat.min()))
            extent = (lon.min() - pad, lat.min() - pad, lon.max() + pad, lat.max() + pad)
        self.extent = extent
        inv = Transformer.from_crs(self.metric_crs, WGS84, always_xy=True)
        self._origin = tuple(float(v) for v in inv.transform(0.0, 0.0))

    @classmethod
    def from_dataset(cls, ds, **kwargs) -> StationIndex:
        """Index of ``ds.stations`` in ``ds.metric_crs`` (a :class:`~geo_service.dataset.Dataset`);
        the grid for large batches covers the dataset's layers."""
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
        """(n, 2) metric-CRS coordinates (metres) of WGS-84 ``lon``/``lat`` (degrees, unchecked)."""
        x, y = self._transformer().transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        return np.column_stack([np.atleast_1d(x), np.atleast_1d(y)])

    # -- filters ------------------------------------------------------------------------------
    def mask(self, kinds: str | Iterable[str] | None = None, sector: str | None = None
             ) -> NDArray[np.bool_]:
        """Boolean mask over :attr:`stations` of those matching ``kinds`` and ``sector``."""
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
        """The ``k`` nearest stations to each WGS-84 point (``lon``, ``lat`` in degrees).

        ``lon``/``lat`` are scalars or 1-d arrays (a batch of at most :attr:`max_batch` points).
        ``kinds`` (a kind or list of kinds, aliases accepted) and ``sector`` (a sector hosted by
        the station, aliases accepted) filter the stations; ``max_distance_m`` drops neighbours
        farther than that many metres. Raises :class:`InvalidQuery` for bad arguments.
        """
        x, y = check_points(lon, lat, self.max_batch)
        k = check_k(k)
        kset, sec = check_kinds(kinds), check_sector(sector)
        dmax = check_max_distance(max_distance_m)
        if len(x) >= GRID_MIN_BATCH and k == 1 and self.extent is not None:
            r = self._query_lonlat_grid(x, y, kset, sec, dmax)
        else:
            r = self._query(self.project(x, y), k, kset, sec, dmax, lonlat=(x, y))
        return dataclasses.replace(r, outside_dataset=self.outside(x, y))

    def outside(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
        """True where a WGS-84 point lies more than :data:`OUTSIDE_MARGIN_M` metres from the
        indexed area (:attr:`extent`; geodesic distance to the nearest point of that lon/lat box).
        All False when the index has no extent (no stations, no dataset layers)."""
        x = np.atleast_1d(np.asarray(lon, dtype=float))
        y = np.atleast_1d(np.asarray(lat, dtype=float))
        if self.extent is None:
            return np.zeros(len(x), dtype=bool)
        lon0, lat0, lon1, lat1 = self.extent
        cx, cy = np.clip(x, lon0, lon1), np.clip(y, lat0, lat1)
        inside = (cx == x) & (cy == y)
        out = np.zeros(len(x), dtype=bool)
        todo = np.flatnonzero(~inside)
        if len(todo):
            out[todo] = geodesic_m(x[todo], y[todo], cx[todo], cy[todo]) > OUTSIDE_MARGIN_M
        return out

    def nearest_xy(self, xy_m: ArrayLike, k: int = 1, *, kinds: str | Iterable[str] | None = None,
                   sector: str | None = None, max_distance_m: float | None = None) -> NearestResult:
        """Like :meth:`nearest` for points already in :attr:`metric_crs` (an (n, 2) array, metres).

        Raises :class:`InvalidQuery` naming the first row that is not finite or lies beyond
        :data:`MAX_XY_M` metres of the projection's origin (not metres of a projected CRS).
        """
        xy = np.asarray(xy_m, dtype=float).reshape(-1, 2)
        if len(xy) == 0:
            raise InvalidQuery("empty batch: give at least one point", field="xy")
        if len(xy) > self.max_batch:
            raise InvalidQuery(f"batch of {len(xy)} points exceeds the limit of {self.max_batch}",
                               field="xy")
        if not (xy.min() >= -MAX_XY_M and xy.max() <= MAX_XY_M):  # (NaN fails these too)
            bad = ~np.isfinite(xy).all(axis=1)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InvalidQuery("coordinates are not finite numbers", field="xy", index=i, value=xy[i])
            i = int(np.flatnonzero((np.abs(xy) > MAX_XY_M).any(axis=1))[0])
            raise InvalidQuery(f"coordinates beyond {MAX_XY_M:,.0f} m of the origin are not metres in "
                               f"{self.metric_crs.name}", field="xy", index=i, value=xy[i])
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
            glob = self._global_rows(sxy, sub)
            if glob.any():  # far from the county (or off the projection): geodesic brute force
                g = todo[glob]
                idx[g], dist[g] = self._geodesic_query(lon[g], lat[g], 1, rows)
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

    def _lonlat_grid(self, kinds: frozenset[str] | None, sector: str | None) -> _LonLatGrid:
        def build() -> _LonLatGrid:
            if self._frame is None:  # shared by every filter's grid; built under the lock
                self._frame = _GridFrame(self.extent, self.metric_crs)
            tree, rows = self._trees[(kinds, sector)]
            return _LonLatGrid(self._frame, self.xy, tree, rows)

        return build_once(self._llgrids, (kinds, sector), self._lock, build)

    def _query(self, xy: NDArray, k: int, kinds: frozenset[str] | None, sector: str | None,
               dmax: float | None, lonlat: tuple[NDArray, NDArray] | None = None) -> NearestResult:
        """Answer for metric points ``xy`` (an (n, 2) array, metres; ``lonlat``: the same points
        in WGS-84 degrees when known)."""
        n = len(xy)
        tree, rows = self._tree(kinds, sector)
        if tree is None:
            return self._finish(np.full((n, k), -1, dtype=np.int64), np.full((n, k), np.inf), dmax)
        glob = self._global_rows(xy, lonlat)
        if glob.any():  # points anywhere on Earth: geodesic to every station, the rest as usual
            idx = np.full((n, k), -1, dtype=np.int64)
            dist = np.full((n, k), np.inf)
            gi, rest = np.flatnonzero(glob), np.flatnonzero(~glob)
            if len(rest):
                sub = None if lonlat is None else (lonlat[0][rest], lonlat[1][rest])
                r = self._query(xy[rest], k, kinds, sector, None, lonlat=sub)
                idx[rest], dist[rest] = r.station_index, r.distance_m
            if lonlat is None:
                inv = Transformer.from_crs(self.metric_crs, WGS84, always_xy=True)
                glon, glat = (np.asarray(v, dtype=float) for v in inv.transform(xy[gi, 0], xy[gi, 1]))
            else:
                glon, glat = lonlat[0][gi], lonlat[1][gi]
            idx[gi], dist[gi] = self._geodesic_query(glon, glat, k, rows)
            return self._finish(idx, dist, dmax)
        if n >= GRID_MIN_BATCH and k == 1:  # (for k > 1 the cell grid is no faster)
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

    def _global_rows(self, xy: NDArray, lonlat: tuple[NDArray, NDArray] | None) -> NDArray[np.bool_]:
        """Rows too far from the projection origin for the KD-tree (see :data:`_GLOBAL_M`)."""
        bad = ~(np.abs(xy) <= _GLOBAL_M).all(axis=1)  # also NaN/inf: the projection gave up
        if lonlat is not None:  # the far side of the Earth can project near the origin
            lam = np.radians(lonlat[0] - self._origin[0])
            p1, p2 = np.radians(self._origin[1]), np.radians(lonlat[1])
            h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(lam / 2) ** 2
            bad |= 2 * _R_EARTH_M * np.arcsin(np.sqrt(np.clip(h, 0, 1))) > _GLOBAL_M
        return bad

    def _geodesic_query(self, lon: NDArray, lat: NDArray, k: int, rows: NDArray
                        ) -> tuple[NDArray, NDArray]:
        """Brute force: geodesic distance from each point to every station in ``rows``, k best."""
        n = len(lon)
        idx = np.full((n, k), -1, dtype=np.int64)
        dist = np.full((n, k), np.inf)
        slon, slat = self.stations["lon"].to_numpy()[rows], self.stations["lat"].to_numpy()[rows]
        kk = min(k, len(rows))
        step = max(1, _GLOBAL_CHUNK // max(1, len(rows)))
        for a in range(0, n, step):
            b = min(n, a + step)
            g = geodesic_m(lon[a:b, None], lat[a:b, None], slon[None, :], slat[None, :])
            order = np.argsort(g, axis=1, kind="stable")[:, :kk]
            idx[a:b, :kk] = rows[order]
            dist[a:b, :kk] = np.take_along_axis(g, order, axis=1)
        return idx, dist

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
            self._rerank_far(xy, far, idx, dist, tree, rows, k, lonlat)
        return idx, dist

    def _finish(self, idx: NDArray, dist: NDArray, dmax: float | None) -> NearestResult:
        if dmax is not None:
            out = dist > dmax
            idx[out] = -1
            dist[out] = np.inf
        ids = self._ids_ext[idx]  # index -1 is the trailing None
        return NearestResult(idx, ids, dist, self.stations)

    def _grid(self, kinds: frozenset[str] | None, sector: str | None) -> _CellGrid:
        def build() -> _CellGrid:
            tree, rows = self._trees[(kinds, sector)]
            return _CellGrid(self._metric_extent(), self.xy, tree, rows)

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

    def _rerank_far(self, xy, far, idx, dist, tree, rows, k, lonlat) -> None:
        """For points far from the projection centre, rank candidates by geodesic distance."""
        fi = np.flatnonzero(far)
        kk = min(k + _FAR_EXTRA, len(rows))
        _, j = tree.query(xy[fi], k=kk)
        cand = rows[np.asarray(j).reshape(len(fi), kk)]
        if lonlat is None:
            inv = Transformer.from_crs(self.metric_crs, WGS84, always_xy=True)
            plon, plat = inv.transform(xy[fi, 0], xy[fi, 1])
        else:
            plon, plat = lonlat[0][fi], lonlat[1][fi]
        slon = self.stations["lon"].to_numpy()[cand]
        slat = self.stations["lat"].to_numpy()[cand]
        g = geodesic_m(np.asarray(plon)[:, None], np.asarray(plat)[:, None], slon, slat)
        order = np.argsort(g, axis=1, kind="stable")[:, :k]
        kc = order.shape[1]
        idx[fi, :kc] = np.take_along_axis(cand, order, axis=1)
        dist[fi, :kc] = np.take_along_axis(g, order, axis=1)


# --- grid accelerators for large batches ---------------------------------------------------------

class _GridFrame:
    """A lon/lat grid over ``extent`` holding each cell's local affine form of the projection.

    Within a cell of a few hundred metres the transverse Mercator is affine to within a few
    centimetres (``err_m``, measured against PROJ), so projecting costs a cell lookup and two
    multiply-adds per coordinate; :class:`_LonLatGrid` builds on it. A ring of cells round the
    extent catches points outside it (they are left to PROJ and the KD-tree).
    """

    def __init__(self, extent: tuple[float, float, float, float], crs: CRS):
        lon0, lat0, lon1, lat1 = (float(v) for v in extent)
        latc = np.radians((lat0 + lat1) / 2)
        w_m = max((lon1 - lon0) * 111_320.0 * np.cos(latc), 1.0)
        h_m = max((lat1 - lat0) * 110_574.0, 1.0)
        size = max(200.0, np.sqrt(w_m * h_m / GRID_CELLS))
        nx, ny = int(np.ceil(w_m / size)), int(np.ceil(h_m / size))
        self.dlon, self.dlat = (lon1 - lon0) / nx, (lat1 - lat0) / ny
        self.lon0, self.lat0 = lon0 - self.dlon, lat0 - self.dlat  # the ring
        self.nx, self.ny = nx + 2, ny + 2
        ix, iy = np.meshgrid(np.arange(self.nx), np.arange(self.ny))
        ix, iy = ix.ravel(), iy.ravel()
        self.inner = (ix > 0) & (iy > 0) & (ix < self.nx - 1) & (iy < self.ny - 1)
        llon = self.lon0 + ix * self.dlon  # lower-left corners
        llat = self.lat0 + iy * self.dlat
        hx, hy = self.dlon / 2, self.dlat / 2
        clon = np.clip(llon + hx, -180, 180)
        clat = np.clip(llat + hy, -90, 90)
        t = Transformer.from_crs(WGS84, crs, always_xy=True)
        cx, cy = t.transform(clon, clat)
        xe, ye = t.transform(clon + hx, clat)
        xw, yw = t.transform(clon - hx, clat)
        xn, yn = t.transform(clon, clat + hy)
        xs, ys = t.transform(clon, clat - hy)
        jxl, jxp = (xe - xw) / (2 * hx), (xn - xs) / (2 * hy)
        jyl, jyp = (ye - yw) / (2 * hx), (yn - ys) / (2 * hy)
        # per cell: x, y at the lower-left corner (from the centre's affine form) and the Jacobian
        # scaled to one cell, so that with the fractional position (u, v) in the cell
        # x = x0 + u * xu + v * xv (contiguous columns: one gather each)
        self.x0 = np.ascontiguousarray(cx - jxl * hx - jxp * hy)
        self.y0 = np.ascontiguousarray(cy - jyl * hx - jyp * hy)
        self.xu, self.xv = jxl * self.dlon, jxp * self.dlat
        self.yu, self.yv = jyl * self.dlon, jyp * self.dlat
        self.err_m = self._affine_error(t)

    def _affine_error(self, t: Transformer) -> float:
        """Largest distance (m) between the affine forms and PROJ at the corners and edge
        midpoints of a sample of about 20,000 cells (the error is smooth across the frame, and
        largest on a cell's boundary), doubled for safety."""
        n = self.nx * self.ny
        cells = np.unique(np.append(np.arange(0, n, max(1, n // 20_000)), n - 1))
        cells = cells[self.inner[cells]]
        uv = np.array([(0, 0), (1, 0), (0, 1), (1, 1), (0.5, 0), (0.5, 1), (0, 0.5), (1, 0.5)])
        u, v = uv[:, 0][:, None], uv[:, 1][:, None]
        ix, iy = cells % self.nx, cells // self.nx
        lon = np.clip(self.lon0 + (ix + u) * self.dlon, -180, 180)
        lat = np.clip(self.lat0 + (iy + v) * self.dlat, -90, 90)
        px, py = t.transform(lon.ravel(), lat.ravel())
        ax = self.x0[cells] + u * self.xu[cells] + v * self.xv[cells]
        ay = self.y0[cells] + u * self.yu[cells] + v * self.yv[cells]
        err = np.hypot(ax.ravel() - px, ay.ravel() - py)
        err = err[np.isfinite(err)]
        return 2.0 * float(err.max()) if len(err) else 1.0


class _CellGrid:
    """For one station filter: the stations that can be the nearest, per square cell of a grid
    in metres (k = 1; for k > 1 the KD-tree is as fast).

    A station can be the nearest of a point in a cell only if its distance from the cell centre
    is at most d_1(centre) + 2 * half-diagonal (d_1: the nearest distance from the centre), so
    keeping those stations per cell keeps the answer exact. Cells with more than 8 such
    stations, cells far from the projection centre and the outer ring of cells (which also
    catches every point outside the grid) are left to the KD-tree. One float32 row per cell
    gives, for a cell with one candidate, the distance from a point's position in the cell with
    one multiply-add per coordinate.
    """

    def __init__(self, extent_m: tuple[float, float, float, float], st_xy: NDArray, tree: cKDTree,
                 rows: NDArray):
        x0, y0, x1, y1 = extent_m
        size = max(200.0, np.sqrt(max(x1 - x0, 1.0) * max(y1 - y0, 1.0) / GRID_CELLS))
        self.size = size
        self.x0, self.y0 = x0 - size, y0 - size  # one ring of cells round the extent
        self.nx = int(np.ceil((x1 - x0) / size)) + 3
        self.ny = int(np.ceil((y1 - y0) / size)) + 3
        ix, iy = np.meshgrid(np.arange(self.nx), np.arange(self.ny))
        ix, iy = ix.ravel(), iy.ravel()
        centre = np.column_stack([self.x0 + (ix + 0.5) * size, self.y0 + (iy + 0.5) * size])
        half_diag = size * np.sqrt(0.5) * (1 + 1e-9) + 1e-6
        kq = min(len(rows), 1 + _GRID_EXTRA)
        d, j = tree.query(centre, k=kq)
        d, j = d.reshape(len(d), kq), j.reshape(len(j), kq)
        valid = d <= (d[:, 0] + 2 * half_diag)[:, None]  # a prefix of each row (d is sorted)
        count = valid.sum(axis=1)
        far = np.hypot(np.abs(centre[:, 0]) + size, np.abs(centre[:, 1]) + size) > _FAR_M
        ring = (ix == 0) | (iy == 0) | (ix == self.nx - 1) | (iy == self.ny - 1)
        tree_cells = ((count == kq) & (kq < len(rows))) | far | ring
        single = ~tree_cells & (count == 1)
        multi = np.flatnonzero(~tree_cells & ~single)
        width = int(count[multi].max()) if len(multi) else 1
        sentinel = len(st_xy)
        # candidate lists of the cells with several, compact (they are a few per cent)
        self.m_cand = np.where(valid, rows[j], sentinel)[multi, :width].astype(np.int64)
        st = np.vstack([st_xy, [np.inf, np.inf]])  # the sentinel is infinitely far
        self.sx, self.sy = st[:, 0].copy(), st[:, 1].copy()
        # one float32 row per cell: for a single-candidate cell the offsets (m) of its lower-left
        # corner from the station and its side, times the scale correction at the centre, so that
        # a point at fraction (u, v) of the cell lies (a0 + u s, b0 + v s) ground metres from it;
        # then a code: the station (>= 0), -1 (the KD-tree) or -2 - its row in ``m_cand``
        first = rows[j[:, 0]]
        fx, fy = self.sx[first], self.sy[first]
        with np.errstate(invalid="ignore"):
            fcorr = np.where(single, 1.0 / tm_scale_correction(centre, np.column_stack([fx, fy])), 0.0)
        ll_x, ll_y = self.x0 + ix * size, self.y0 + iy * size
        code = np.where(single, first, -1.0)
        code[multi] = -2.0 - np.arange(len(multi))
        if len(st_xy) >= 2 ** 24 or len(multi) >= 2 ** 24 - 2:
            raise ValueError("too many stations or cells for the float32 cell table")
        self.table = np.column_stack([np.where(single, (ll_x - fx) * fcorr, 0.0),
                                      np.where(single, (ll_y - fy) * fcorr, 0.0),
                                      size * fcorr, code]).astype(np.float32)

    def query(self, x: NDArray, y: NDArray) -> tuple[NDArray, NDArray, NDArray]:
        """(answered mask, nearest station rows (n, 1), ground metres (n, 1)) for metric points
        ``x``, ``y``; rows not answered (mask False) hold junk for the caller to fill from the
        KD-tree."""
        if USE_NUMBA:
            n = len(x)
            best, dist, ok = np.empty((n, 1), dtype=np.int64), np.empty((n, 1)), np.empty(n, dtype=bool)
            _cell_kernel(x, y, self.x0, self.y0, 1.0 / self.size, self.nx, self.ny, self.table, self.m_cand,
                         self.sx, self.sy, best[:, 0], dist[:, 0], ok)
            return ok, best, dist
        fx = x - self.x0
        fx *= 1.0 / self.size
        fy = y - self.y0
        fy *= 1.0 / self.size
        ix = fx.astype(np.intp)
        iy = fy.astype(np.intp)
        np.clip(ix, 0, self.nx - 1, out=ix)
        np.clip(iy, 0, self.ny - 1, out=iy)
        cell = iy * self.nx
        cell += ix
        # cells with one candidate: no comparison; the scale correction varies by < 1e-6
        # across a cell, so the centre's is used; float32 offsets: millimetres
        row = self.table.take(cell, axis=0)
        code = row[:, 3]
        dx = np.subtract(fx, ix, out=fx).astype(np.float32)
        dy = np.subtract(fy, iy, out=fy).astype(np.float32)
        dx *= row[:, 2]
        dx += row[:, 0]
        dy *= row[:, 2]
        dy += row[:, 1]
        dx *= dx
        dy *= dy
        dx += dy
        dist = np.sqrt(dx, out=dx).astype(np.float64)[:, None]
        best = code.astype(np.int64)[:, None]
        neg = np.flatnonzero(code < 0)
        c = code[neg]
        ok = np.ones(len(cell), dtype=bool)
        ok[neg[c == -1]] = False
        multi = neg[c <= -2]
        if len(multi):
            m = (-2 - c[c <= -2]).astype(np.intp)
            _, best[multi, 0], dist[multi, 0] = _rank_candidates(x[multi], y[multi], self.m_cand[m],
                                                                 self.sx, self.sy, None)
        return ok, best, dist


def _rank_candidates(px: NDArray, py: NDArray, cand: NDArray, sx: NDArray, sy: NDArray,
                     margin_m: float | None) -> tuple[NDArray, NDArray, NDArray]:
    """The nearest of each point's candidate stations by projected distance.

    ``px``, ``py`` (m,) are metric points, ``cand`` (m, w) rows into ``sx``, ``sy`` (the
    stations' metric coordinates, a trailing sentinel at infinity pads short lists). Returns
    (sure mask (m,), the nearest rows (m,), ground metres (m,)). With ``margin_m`` a point is
    not sure when its runner-up, at another place, is within ``margin_m`` of the nearest (its
    projection is only good to that much, so the choice could be wrong).
    """
    w = cand.shape[1]
    sentinel = len(sx) - 1
    if w == 1:
        return _rank_pairs(px, py, cand[:, 0], cand[:, 0], sx, sy, None)
    if w > 2:
        # most cells with several candidates have two: those points are ranked with flat arrays
        pair = cand[:, 2] == sentinel
        p = np.flatnonzero(pair)
        if 4 * len(p) > len(px):
            rest = np.flatnonzero(~pair)
            sure = np.empty(len(px), dtype=bool)
            best = np.empty(len(px), dtype=cand.dtype)
            dist = np.empty(len(px))
            sure[p], best[p], dist[p] = _rank_pairs(px[p], py[p], cand[p, 0], cand[p, 1], sx, sy, margin_m)
            if len(rest):
                sure[rest], best[rest], dist[rest] = _rank_many(px[rest], py[rest], cand[rest], sx, sy,
                                                                margin_m)
            return sure, best, dist
    if w == 2:
        return _rank_pairs(px, py, cand[:, 0], cand[:, 1], sx, sy, margin_m)
    return _rank_many(px, py, cand, sx, sy, margin_m)


def _rank_many(px: NDArray, py: NDArray, cand: NDArray, sx: NDArray, sy: NDArray,
               margin_m: float | None) -> tuple[NDArray, NDArray, NDArray]:
    """:func:`_rank_candidates` for any number of candidates per point."""
    dx = px[:, None] - sx.take(cand)
    dy = py[:, None] - sy.take(cand)
    d2 = dx * dx + dy * dy
    j = d2.argmin(axis=1)[:, None]
    best = np.take_along_axis(cand, j, axis=1)[:, 0]
    d = np.sqrt(np.take_along_axis(d2, j, axis=1))[:, 0]
    sure = np.ones(len(px), dtype=bool)
    if margin_m is not None:
        # the second smallest first; the few close calls are checked in full below
        second = np.sqrt(np.partition(d2, 1, axis=1)[:, 1])
        with np.errstate(invalid="ignore"):
            check = np.flatnonzero(second - d < margin_m)
        if len(check):  # unsure when another candidate, not at the same place, is that close
            cc = cand[check]
            bc = best[check][:, None]
            apart = (sx.take(cc) != sx.take(bc)) | (sy.take(cc) != sy.take(bc))
            with np.errstate(invalid="ignore"):
                close = np.sqrt(d2[check]) - d[check][:, None] < margin_m
            sure[check] = ~(close & apart).any(axis=1)
    bx = sx.take(best)
    dist = d / (1.0 + (px * px + px * bx + bx * bx) / (6.0 * _R_EARTH_M ** 2))
    return sure, best, dist


def _rank_pairs(px: NDArray, py: NDArray, c0: NDArray, c1: NDArray, sx: NDArray, sy: NDArray,
                margin_m: float | None) -> tuple[NDArray, NDArray, NDArray]:
    """:func:`_rank_candidates` for k = 1 and two candidates per point (``c0``, ``c1``)."""
    ax, ay, bx, by = sx.take(c0), sy.take(c0), sx.take(c1), sy.take(c1)
    d0 = np.square(px - ax)
    d0 += np.square(py - ay)
    d1 = np.square(px - bx)
    d1 += np.square(py - by)
    pick = d1 < d0
    best = np.where(pick, c1, c0)
    d = np.sqrt(np.minimum(d0, d1))
    if margin_m is None:
        sure = np.ones(len(px), dtype=bool)
    else:
        close = np.abs(np.sqrt(np.maximum(d0, d1)) - d) < margin_m
        sure = ~(close & ((ax != bx) | (ay != by)))
    qx = np.where(pick, bx, ax)
    dist = d / (1.0 + (px * px + px * qx + qx * qx) / (6.0 * _R_EARTH_M ** 2))
    return sure, best, dist


class _LonLatGrid:
    """For one station filter: per cell of the lon/lat :class:`_GridFrame`, the stations that
    can be the nearest anywhere in the cell, with the cell's affine projection (k = 1).

    Built like :class:`_CellGrid` but on the frame's cells, so a WGS-84 point costs one cell
    lookup for both its projection and its candidates. The cell's image in metres is (to within
    the frame's affine error, a few centimetres) a parallelogram of circumradius ``R`` round its
    centre ``C``; a station can be the nearest of a point in it only if it lies within
    ``d_1(C) + 2 R`` (plus the affine error) of ``C``. One row of float32 per cell holds, for a
    cell with a single candidate, the affine map from the point's fractional position (u, v) in
    the cell straight to its offset from that station, pre-scaled by the transverse Mercator
    scale correction: ``dx = a0 + u a1 + v a2``, ``dy = b0 + u b1 + v b2`` (read as complex
    numbers), distance ``hypot(dx, dy)``; float32 keeps these offsets (tens of km at most) to
    about 1e-7 of the distance.
    Cells with several candidates compute the point's metres from float64 affine forms and rank
    their candidates; a point whose ranking is closer than the affine error allows (two
    candidates at different places within ``margin_m`` of each other) is left to PROJ and the
    KD-tree, so the answer is the KD-tree's. The frame's ring, far cells and crowded cells are
    left to the KD-tree too.
    """

    _TREE = -1  # code of a cell left to the KD-tree; >= 0: single station; <= -2: multi row

    def __init__(self, frame: _GridFrame, st_xy: NDArray, tree: cKDTree, rows: NDArray):
        f = frame
        self.lon0, self.lat0, self.nx, self.ny = f.lon0, f.lat0, f.nx, f.ny
        self.inv_dlon, self.inv_dlat = 1.0 / f.dlon, 1.0 / f.dlat
        self.margin_m = 4.0 * f.err_m + 0.01
        #: distances (m) below which the frame's affine error could exceed 0.1 % of them
        self.exact_below_m = f.err_m / 1e-3
        cx = f.x0 + 0.5 * (f.xu + f.xv)
        cy = f.y0 + 0.5 * (f.yu + f.yv)
        radius = np.maximum(np.hypot(0.5 * (f.xu + f.xv), 0.5 * (f.yu + f.yv)),
                            np.hypot(0.5 * (f.xu - f.xv), 0.5 * (f.yu - f.yv))) + self.margin_m
        kq = min(len(rows), 1 + _GRID_EXTRA)
        d, j = tree.query(np.column_stack([cx, cy]), k=kq)
        d, j = d.reshape(len(cx), kq), j.reshape(len(cx), kq)
        valid = d <= (d[:, 0] + 2 * radius)[:, None]  # a prefix of each row (d is sorted)
        count = valid.sum(axis=1)
        far = np.hypot(np.abs(cx) + radius, np.abs(cy) + radius) > _FAR_M
        tree_cells = ((count == kq) & (kq < len(rows))) | far | ~f.inner
        single = ~tree_cells & (count == 1)
        multi = np.flatnonzero(~tree_cells & ~single)
        if len(rows) >= 2 ** 24 or len(multi) >= 2 ** 24 - 2:
            raise ValueError("too many stations or cells for the float32 cell table")
        code = np.full(len(cx), float(self._TREE))
        first = rows[j[:, 0]]
        code[single] = first[single]
        code[multi] = -2.0 - np.arange(len(multi))
        sx, sy = st_xy[first, 0], st_xy[first, 1]
        corr = 1.0 / tm_scale_correction(np.column_stack([cx, cy]), np.column_stack([sx, sy]))
        corr[~single] = 0.0
        # columns a0, b0, a1, b1, a2, b2 (read as three complex numbers), code, padding
        table = np.zeros((len(cx), 8), dtype=np.float32)
        for col, v in enumerate(((f.x0 - sx), (f.y0 - sy), f.xu, f.yu, f.xv, f.yv)):
            table[:, col] = v * corr
        table[:, 6] = code
        self.table = table
        # cells with several candidates: their float64 affine forms and candidate lists
        self.m_aff = np.column_stack([f.x0, f.xu, f.xv, f.y0, f.yu, f.yv])[multi]
        width = int(count[multi].max()) if len(multi) else 1
        sentinel = len(st_xy)
        self.m_cand = np.where(valid, rows[j], sentinel)[multi, :width].astype(np.int64)
        st = np.vstack([st_xy, [np.inf, np.inf]])  # the sentinel is infinitely far
        self.sx, self.sy = st[:, 0].copy(), st[:, 1].copy()

    def query(self, lon: NDArray, lat: NDArray) -> tuple[NDArray, NDArray, NDArray]:
        """(rows left to the KD-tree, nearest station rows (n, 1), ground metres (n, 1)) for
        WGS-84 ``lon``, ``lat`` (degrees); the rows left over hold junk for the caller to fill."""
        if USE_NUMBA:
            n = len(lon)
            best, dist, ok = np.empty((n, 1), dtype=np.int64), np.empty((n, 1)), np.empty(n, dtype=bool)
            _lonlat_kernel(lon, lat, self.lon0, self.lat0, self.inv_dlon, self.inv_dlat, self.nx, self.ny,
                           self.table, self.m_aff, self.m_cand, self.sx, self.sy, self.margin_m,
                           best[:, 0], dist[:, 0], ok)
            return np.flatnonzero(~ok), best, dist
        fx = lon - self.lon0
        fx *= self.inv_dlon
        fy = lat - self.lat0
        fy *= self.inv_dlat
        ix = fx.astype(np.intp)
        iy = fy.astype(np.intp)
        np.clip(ix, 0, self.nx - 1, out=ix)
        np.clip(iy, 0, self.ny - 1, out=iy)
        cell = iy * self.nx
        cell += ix
        u = np.subtract(fx, ix, out=fx)
        v = np.subtract(fy, iy, out=fy)
        row = self.table.take(cell, axis=0)
        code = row[:, 6]
        # the offset from the station as a complex number z0 + u z1 + v z2 (float32); its
        # modulus is the distance
        z = row.view(np.complex64)
        off = z[:, 1] * u.astype(np.float32)
        off += z[:, 0]
        off += z[:, 2] * v.astype(np.float32)
        dist = np.abs(off).astype(np.float64)[:, None]
        best = code.astype(np.int64)[:, None]
        neg = np.flatnonzero(code < 0)  # cells left to the KD-tree or with several candidates
        c = code[neg]
        todo = [neg[c == self._TREE]]
        multi = neg[c <= -2]
        if len(multi):
            m = (-2 - code[multi]).astype(np.intp)
            a = self.m_aff[m]
            um, vm = u[multi], v[multi]
            px = a[:, 0] + um * a[:, 1] + vm * a[:, 2]
            py = a[:, 3] + um * a[:, 4] + vm * a[:, 5]
            sure, best[multi, 0], dist[multi, 0] = _rank_candidates(px, py, self.m_cand[m], self.sx, self.sy,
                                                                    self.margin_m)
            todo.append(multi[~sure])
        return np.sort(np.concatenate(todo)), best, dist


# --- optional numba kernels: one pass over the points, no temporary arrays -----------------------

def _njit(fn):
    """``numba.njit`` (cached on disk, releasing the GIL) when numba is installed, else ``fn``."""
    return fn if _numba is None else _numba.njit(cache=True, nogil=True)(fn)


@_njit
def _nearest_candidate(px, py, cand, m, sx, sy, margin_m):  # pragma: no cover - compiled
    """Row, squared distance and sureness of the nearest of ``cand[m]`` to (px, py); not sure
    when another candidate, not at the same place, is within ``margin_m`` (< 0: no check)."""
    sentinel = sx.shape[0] - 1
    bd = np.inf
    bj = sentinel
    for j in range(cand.shape[1]):
        s = cand[m, j]
        if s == sentinel:
            break
        dx = px - sx[s]
        dy = py - sy[s]
        d2 = dx * dx + dy * dy
        if d2 < bd:
            bd = d2
            bj = s
    sure = True
    if margin_m >= 0:
        d = np.sqrt(bd)
        for j in range(cand.shape[1]):
            s = cand[m, j]
            if s == sentinel:
                break
            if sx[s] == sx[bj] and sy[s] == sy[bj]:
                continue
            dx = px - sx[s]
            dy = py - sy[s]
            if np.sqrt(dx * dx + dy * dy) - d < margin_m:
                sure = False
                break
    return bj, bd, sure


@_njit
def _cell_kernel(x, y, x0, y0, inv_size, nx, ny, table, m_cand, sx, sy, best, dist,
                 ok):  # pragma: no cover - compiled
    """:meth:`_CellGrid.query` as one loop, writing ``best``, ``dist`` and ``ok`` (n,)."""
    for i in range(x.shape[0]):
        fx = (x[i] - x0) * inv_size
        fy = (y[i] - y0) * inv_size
        ix = min(max(int(fx), 0), nx - 1)
        iy = min(max(int(fy), 0), ny - 1)
        c = iy * nx + ix
        code = table[c, 3]
        if code >= 0:
            dx = table[c, 0] + (fx - ix) * table[c, 2]
            dy = table[c, 1] + (fy - iy) * table[c, 2]
            best[i] = int(code)
            dist[i] = np.sqrt(dx * dx + dy * dy)
            ok[i] = True
        elif code == -1:
            ok[i] = False
        else:
            px, py = x[i], y[i]
            bj, bd, _ = _nearest_candidate(px, py, m_cand, int(-2 - code), sx, sy, -1.0)
            bx = sx[bj]
            best[i] = bj
            dist[i] = np.sqrt(bd) / (1.0 + (px * px + px * bx + bx * bx) / (6.0 * _R_EARTH_M ** 2))
            ok[i] = True


@_njit
def _lonlat_kernel(lon, lat, lon0, lat0, inv_dlon, inv_dlat, nx, ny, table, m_aff, m_cand, sx, sy,
                   margin_m, best, dist, ok):  # pragma: no cover - compiled
    """:meth:`_LonLatGrid.query` as one loop, writing ``best``, ``dist`` and ``ok`` (n,)."""
    for i in range(lon.shape[0]):
        fx = (lon[i] - lon0) * inv_dlon
        fy = (lat[i] - lat0) * inv_dlat
        ix = min(max(int(fx), 0), nx - 1)
        iy = min(max(int(fy), 0), ny - 1)
        c = iy * nx + ix
        code = table[c, 6]
        u = fx - ix
        v = fy - iy
        if code >= 0:
            dx = table[c, 0] + u * table[c, 2] + v * table[c, 4]
            dy = table[c, 1] + u * table[c, 3] + v * table[c, 5]
            best[i] = int(code)
            dist[i] = np.sqrt(dx * dx + dy * dy)
            ok[i] = True
        elif code == -1:
            ok[i] = False
        else:
            m = int(-2 - code)
            px = m_aff[m, 0] + u * m_aff[m, 1] + v * m_aff[m, 2]
            py = m_aff[m, 3] + u * m_aff[m, 4] + v * m_aff[m, 5]
            bj, bd, sure = _nearest_candidate(px, py, m_cand, m, sx, sy, margin_m)
            bx = sx[bj]
            best[i] = bj
            dist[i] = np.sqrt(bd) / (1.0 + (px * px + px * bx + bx * bx) / (6.0 * _R_EARTH_M ** 2))
            ok[i] = sure
