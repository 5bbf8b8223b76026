"""Generate a plausible CPPCC liaison network inside any county polygons, reproducibly from a seed.

:func:`generate_network` is the engine behind the demo county (:mod:`geo_service.app.demo`) and the
synthetic provinces used for batch tests: give it county polygons (WGS-84) and target sizes, get a
validated :class:`~geo_service.dataset.Dataset`. It works in a metric CRS (metres) and proceeds in
stages, each a small pure function over arrays:

1. **townships**: seats placed by density-weighted k-means inside each county (the county seat is
   one of them), Voronoi cells clipped to the county, detached slivers handed to a neighbour;
2. **villages**: a seat village per township, 社区 clustered round town and street seats, 村/屯
   spread by a settlement density (high near seats and along given corridors such as a river plain,
   low elsewhere), with skewed populations;
3. **roads**: 国道 spanning county seats, 县道 spanning township seats, 乡道/村道 spanning each
   township's villages (minimum spanning trees plus a few nearest-neighbour loops): connected;
4. **members** by sector, living mostly in towns; **groups** (界别活动组) of 1-3 related sectors with
   conveners and deputies; **committees** (专委会) by sector affinity;
5. **stations**: comprehensive ones at the busiest township seats, sector ones where their sector's
   members concentrate, studios at members' homes, a few contact points; remote villages are left
   uncovered, as in real networks;
6. **constituents**: about ``constituents_per_member`` per member of each sector, in villages.

Every stage draws from its own child of one :class:`numpy.random.SeedSequence`, so the same seed
gives the same dataset (same :meth:`Dataset.fingerprint`) and changing one stage's code does not
reshuffle the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from pyproj import Transformer
from scipy.cluster.vq import kmeans2
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

from . import names as N
from ..crs import metric_crs
from ..dataset import Dataset
from ..domain import WGS84, canonical_sector

# --- vocabulary --------------------------------------------------------------------------------
#: Share of members per sector (界别) in a prefecture-level committee of about 400 members.
SECTOR_SHARES: dict[str, float] = {
    "中共": 0.10, "民革": 0.03, "民盟": 0.035, "民建": 0.035, "民进": 0.03, "农工党": 0.03,
    "九三学社": 0.025, "无党派": 0.03, "共青团": 0.015, "工会": 0.02, "妇联": 0.02, "青联": 0.015,
    "工商联": 0.07, "科协": 0.02, "科技": 0.035, "社会科学": 0.02, "经济": 0.08, "农业": 0.065,
    "教育": 0.05, "体育": 0.01, "文化艺术": 0.04, "新闻出版": 0.015, "医药卫生": 0.05,
    "对外友好": 0.01, "社会福利和社会保障": 0.02, "少数民族": 0.03, "宗教": 0.015, "特邀": 0.06,
    "环境资源": 0.015,
}

#: Related sectors that may share one activity group (at most 3 per group).
SECTOR_FAMILIES: tuple[tuple[str, ...], ...] = (
    ("中共",), ("民革", "民盟", "民建", "民进", "农工党", "致公党", "九三学社", "台盟"),
    ("无党派", "特邀"), ("共青团", "工会", "妇联", "青联"), ("工商联", "经济"),
    ("科协", "科技", "社会科学"), ("文化艺术", "新闻出版", "体育"), ("教育",), ("医药卫生",),
    ("农业", "环境资源"), ("对外友好", "台联", "侨联"), ("社会福利和社会保障",), ("少数民族", "宗教"),
)
_FAMILY_OF = {s: i for i, fam in enumerate(SECTOR_FAMILIES) for s in fam}

#: Special committees (专委会) and the sectors whose members usually sit on them.
COMMITTEES: dict[str, tuple[str, ...]] = {
    "提案委员会": ("中共", "无党派", "特邀"),
    "经济委员会": ("经济", "工商联", "民建"),
    "农业和农村委员会": ("农业", "环境资源"),
    "教科卫体委员会": ("教育", "科技", "科协", "医药卫生", "体育", "九三学社", "农工党", "民进"),
    "文化文史和学习委员会": ("文化艺术", "新闻出版", "社会科学", "民盟"),
    "社会和法制委员会": ("社会福利和社会保障", "工会", "妇联", "共青团", "青联"),
    "民族宗教委员会": ("少数民族", "宗教"),
    "港澳台侨和外事委员会": ("对外友好", "台联", "侨联", "民革", "致公党", "台盟"),
    "人口资源环境委员会": ("环境资源",),
}

#: Road classes (class, speed km/h) by tier.
ROAD_CLASSES: dict[str, tuple[str, float]] = {
    "county": ("国道", 80.0), "township": ("县道", 50.0), "seat_link": ("乡道", 40.0),
    "village": ("村道", 30.0), "urban": ("城市道路", 30.0),
}

#: How much more likely a member of a sector lives in a town (社区/seat) than in a village.
_URBAN_PULL = {"农业": 0.6, "宗教": 1.5, "少数民族": 1.5, "环境资源": 2.0}
_DEFAULT_URBAN_PULL = 6.0
_EDGE_MARGIN_M = 60.0  # villages keep this far inside their township (metres)


@dataclass(frozen=True)
class NetworkSizes:
    """Target sizes of a generated network (whole network, not per county).

    ``villages``: rural villages in total (None: one per ``km2_per_village`` of rural land).
    Township counts come from a ``townships`` column of the counties, else from area.
    """

    members: int = 400
    comprehensive: int = 23
    sector_stations: int = 34
    studios: int = 20
    contact_points: int = 3
    groups: int = 22
    conveners: int = 80
    committees: tuple[str, ...] = tuple(COMMITTEES)
    constituents_per_member: float = 10.0
    villages: int | None = None
    km2_per_village: float = 26.0
    km2_per_township: float = 380.0
    km2_per_street: float = 8.0
    townships_range: tuple[int, int] = (4, 14)
    urban_max_km2: float = 200.0
    sector_shares: dict[str, float] = field(default_factory=lambda: dict(SECTOR_SHARES))

    def __post_init__(self) -> None:
        ints = ("members", "comprehensive", "sector_stations", "studios", "contact_points", "groups",
                "conveners")
        for name in ints:
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"NetworkSizes.{name} must be an integer >= 0, got {v!r}")
        if self.members < 1 or not 1 <= self.groups <= self.members:
            raise ValueError(f"NetworkSizes needs members >= 1 and 1 <= groups <= members, "
                             f"got members={self.members}, groups={self.groups}")
        if self.conveners < self.groups:
            raise ValueError(f"NetworkSizes.conveners ({self.conveners}) must be at least one per "
                             f"group ({self.groups})")
        if not self.committees:
            raise ValueError("NetworkSizes.committees must name at least one committee")
        if self.constituents_per_member < 0:
            raise ValueError(f"NetworkSizes.constituents_per_member must be >= 0, "
                             f"got {self.constituents_per_member}")
        unknown = [k for k in self.sector_shares if canonical_sector(k) != k]
        if unknown or not any(v > 0 for v in self.sector_shares.values()):
            raise ValueError(f"NetworkSizes.sector_shares needs positive shares of canonical sectors "
                             f"(geo_service.domain.SECTORS); unknown: {', '.join(unknown) or 'none'}")

    def scaled(self, share: float) -> NetworkSizes:
        """Sizes for a part of the network holding ``share`` (0..1] of its people."""
        if not 0 < share <= 1:
            raise ValueError(f"share must be in (0, 1], got {share}")
        s = lambda n, lo: max(lo, int(round(n * share)))  # noqa: E731
        groups = s(self.groups, 2)
        return replace(self, members=s(self.members, 30), comprehensive=s(self.comprehensive, 1),
                       sector_stations=s(self.sector_stations, 1), studios=s(self.studios, 1),
                       contact_points=s(self.contact_points, 0), groups=groups,
                       conveners=max(3 * groups, s(self.conveners, 3)),
                       committees=self.committees[: max(3, min(len(self.committees),
                                                               s(self.members, 30) // 8))],
                       villages=None if self.villages is None else s(self.villages, 10))


# --- helpers -----------------------------------------------------------------------------------
def _rng(seq: np.random.SeedSequence) -> np.random.Generator:
    return np.random.default_rng(seq)


def _sample_in(geom, n: int, rng: np.random.Generator, weight=None, max_rounds: int = 60) -> NDArray:
    """``n`` random points (metres) inside ``geom``, accepted with probability ``weight(xy)`` (0..1)."""
    minx, miny, maxx, maxy = geom.bounds
    shapely.prepare(geom)
    out: list[NDArray] = []
    got = 0
    frac = max(geom.area / max((maxx - minx) * (maxy - miny), 1e-9), 0.02)
    for _ in range(max_rounds):
        k = int((n - got) / frac * 1.5) + 16
        xy = np.column_stack([rng.uniform(minx, maxx, k), rng.uniform(miny, maxy, k)])
        xy = xy[shapely.contains_xy(geom, xy[:, 0], xy[:, 1])]
        if weight is not None and len(xy):
            xy = xy[rng.random(len(xy)) < weight(xy)]
        out.append(xy)
        got += len(xy)
        if got >= n:
            break
    pts = np.concatenate(out) if out else np.zeros((0, 2))
    if len(pts) < n:  # a sliver: fall back to points on the surface
        extra = np.array([shapely.get_coordinates(shapely.point_on_surface(geom))[0]] * (n - len(pts)))
        pts = np.concatenate([pts, extra]) if len(pts) else extra
    return pts[:n]


def _poisson_pick(cand: NDArray, n: int, min_dist: float, fixed: NDArray | None = None) -> NDArray:
    """Keep candidates in order while they are at least ``min_dist`` metres from those kept."""
    kept: list[NDArray] = [] if fixed is None else list(fixed)
    n0 = len(kept)
    for p in cand:
        if len(kept) - n0 >= n:
            break
        if kept and np.min(np.hypot(*(np.asarray(kept) - p).T)) < min_dist:
            continue
        kept.append(p)
    return np.asarray(kept[n0:]).reshape(-1, 2)


class DensityField:
    """Settlement density (0..1, unitless) over metric coordinates.

    High near ``centres`` (county seats, Gaussian of ``sigma_m`` metres), raised along
    ``corridors`` (lines, e.g. a river plain, within about ``corridor_m``), plus a floor ``base``
    and a few random bumps so that no two counties look alike.
    """

    def __init__(self, centres: NDArray, sigma_m: float, corridors=None, corridor_m: float = 15_000.0,
                 bumps: NDArray | None = None, base: float = 0.12):
        self.centres = np.asarray(centres, float).reshape(-1, 2)
        self.sigma = sigma_m
        self.corridors = corridors
        self.corridor_m = corridor_m
        self.bumps = np.zeros((0, 3)) if bumps is None else np.asarray(bumps, float)
        self.base = base

    def __call__(self, xy: NDArray) -> NDArray:
        xy = np.asarray(xy, float).reshape(-1, 2)
        d = np.full(len(xy), self.base)
        if len(self.centres):
            r2 = cdist(xy, self.centres, "sqeuclidean").min(axis=1)
            d += 0.6 * np.exp(-r2 / (2 * self.sigma**2))
        if self.corridors is not None and len(xy):
            dist = shapely.distance(self.corridors, shapely.points(xy))
            d += 0.35 * np.exp(-(dist**2) / (2 * self.corridor_m**2))
        if len(self.bumps):
            r2 = cdist(xy, self.bumps[:, :2], "sqeuclidean")
            d += 0.2 * np.exp(-r2 / (2 * self.bumps[:, 2] ** 2)).sum(axis=1)
        return np.clip(d, 0.0, 1.0)


# --- stage 1: counties and townships ------------------------------------------------------------
def prepare_counties(counties: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Check and normalise input county polygons (WGS-84 or any CRS); return them in WGS-84.

    Needs ``id`` and ``name`` columns and (Multi)Polygon geometry. Optional columns: ``level``
    (``district`` marks a city district), ``townships`` (count), ``seat_lon``/``seat_lat``
    (county seat, WGS-84 degrees), ``population`` (residents: spreads villages between counties).
    """
    if not isinstance(counties, gpd.GeoDataFrame) or counties.crs is None:
        raise ValueError("counties must be a GeoDataFrame with a CRS")
    for col in ("id", "name"):
        if col not in counties.columns:
            raise ValueError(f"counties lack the '{col}' column")
    if len(counties) == 0:
        raise ValueError("no counties given")
    c = counties.to_crs(WGS84).reset_index(drop=True).copy()
    c["id"] = c["id"].astype(str)
    dup = c["id"][c["id"].duplicated()]
    if len(dup):
        raise ValueError(f"duplicate county id '{dup.iloc[0]}'")
    types = c.geometry.geom_type
    bad = ~types.isin(["Polygon", "MultiPolygon"]) | ~c.geometry.is_valid
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"county id={c['id'][i]}: geometry must be a valid (Multi)Polygon, "
                         f"got {types[i]}")
    return c


def _inner(geom, margin: float | None = None):
    """``geom`` shrunk by ``margin`` metres (default :data:`_EDGE_MARGIN_M`), so points drawn in it
    stay inside ``geom`` after reprojection; ``geom`` itself when shrinking would eat it."""
    inner = geom.buffer(-(_EDGE_MARGIN_M if margin is None else margin))
    return inner if not inner.is_empty and inner.area > 0.2 * geom.area else geom


def _county_seat(poly, hint: NDArray | None, rng: np.random.Generator) -> NDArray:
    """The county seat (metres): the hint when it lies inside, else the sample point nearest the centroid."""
    poly = _inner(poly)
    if hint is not None and np.all(np.isfinite(hint)) and shapely.contains_xy(poly, *hint):
        return np.asarray(hint, float)
    pts = _sample_in(poly, 200, rng)
    if hint is not None and np.all(np.isfinite(hint)):
        target = hint
    else:
        target = np.asarray(poly.centroid.coords[0])
    return pts[np.argmin(np.hypot(*(pts - target).T))]


def township_seats(poly, n: int, county_seat: NDArray, density: DensityField,
                   rng: np.random.Generator) -> NDArray:
    """``n`` township seats (metres) inside ``poly``: density-weighted k-means centres, snapped inside,
    the first being ``county_seat``."""
    if n <= 1:
        return county_seat.reshape(1, 2)
    pts = _sample_in(_inner(poly), 150 * n, rng, weight=lambda xy: 0.25 + 0.75 * density(xy))
    centres, _ = kmeans2(pts, n, seed=rng, minit="++", iter=15)
    centres = centres[np.isfinite(centres).all(axis=1)]
    # snap each centre to its nearest sample point (inside the polygon), keep distinct ones
    tree = cKDTree(pts)
    _, idx = tree.query(centres)
    snapped = pts[np.unique(idx)]
    # the centre nearest the county seat becomes the county seat
    j = int(np.argmin(np.hypot(*(snapped - county_seat).T)))
    others = np.delete(snapped, j, axis=0)
    seats = np.vstack([county_seat, others])
    spacing = 0.3 * np.sqrt(poly.area / n)
    keep = _poisson_pick(seats, n, spacing)
    if len(keep) < n:  # top up from the sample if snapping merged centres
        extra = _poisson_pick(pts[rng.permutation(len(pts))], n - len(keep), spacing * 0.5, fixed=keep)
        keep = np.vstack([keep, extra])
    return keep[:n]


def township_cells(poly, seats: NDArray) -> list:
    """Voronoi cells of ``seats`` clipped to ``poly``; detached pieces join the neighbour sharing
    the longest border, so every township is one piece holding its seat (islands excepted)."""
    if len(seats) == 1:
        return [poly]
    env = shapely.box(*poly.buffer(1000).bounds)
    vor = shapely.voronoi_polygons(shapely.multipoints(seats), extend_to=env, ordered=True)
    cells = [c.intersection(poly) for c in shapely.get_parts(vor)]
    seat_pts = shapely.points(seats)
    moves: list[tuple[int, Any]] = []
    for i, cell in enumerate(cells):
        parts = list(shapely.get_parts(cell))
        if len(parts) <= 1:
            continue
        main = [p for p in parts if p.covers(seat_pts[i])] or [max(parts, key=lambda p: p.area)]
        cells[i] = main[0]
        moves += [(i, p) for p in parts if p is not main[0]]
    for i, piece in moves:
        best, shared = i, 0.0
        for j, other in enumerate(cells):
            if j != i:
                length = piece.boundary.intersection(other.buffer(1.0)).length
                if length > shared:
                    best, shared = j, length
        cells[best] = cells[best].union(piece)
    return [shapely.make_valid(c) if not c.is_valid else c for c in cells]


# --- stage 2: villages --------------------------------------------------------------------------
def _populations(rng: np.random.Generator, n: int, kind: str) -> NDArray:
    """Skewed resident counts (persons): lognormal, clipped to the range of ``kind``."""
    median, sigma, lo, hi = {
        "village": (850, 0.5, 300, 3000), "seat_village": (1800, 0.4, 800, 4500),
        "town_community": (3200, 0.45, 1500, 9000), "city_community": (6500, 0.4, 2500, 15000),
    }[kind]
    return np.clip(np.round(rng.lognormal(np.log(median), sigma, n)), lo, hi).astype(int)


# --- stage 3: roads -----------------------------------------------------------------------------
def _mst_edges(xy: NDArray) -> list[tuple[int, int]]:
    """Edges (i, j) of the Euclidean minimum spanning tree of ``xy`` (metres)."""
    if len(xy) < 2:
        return []
    d = cdist(xy, xy)
    d[d == 0] = 1e-6
    np.fill_diagonal(d, 0.0)
    t = minimum_spanning_tree(d).tocoo()
    return [(int(min(a, b)), int(max(a, b))) for a, b in zip(t.row, t.col)]


def _loop_edges(xy: NDArray, have: set[tuple[int, int]], rng: np.random.Generator,
                share: float, k: int = 3) -> list[tuple[int, int]]:
    """Extra links from about ``share`` of the nodes to a near neighbour they are not yet linked to."""
    if len(xy) < 3:
        return []
    tree = cKDTree(xy)
    _, nn = tree.query(xy, k=min(k + 1, len(xy)))
    out = []
    for i in np.flatnonzero(rng.random(len(xy)) < share):
        for j in nn[i][1:]:
            e = (int(min(i, j)), int(max(i, j)))
            if e not in have:
                have.add(e)
                out.append(e)
                break
    return out


# --- stage functions ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Frame:
    """The metric working frame: a transverse Mercator centred on the counties and its transforms."""

    crs: Any
    to_m: Transformer
    to_deg: Transformer

    @classmethod
    def around(cls, cty: gpd.GeoDataFrame) -> _Frame:
        lon0, lat0 = shapely.union_all(cty.geometry.to_numpy()).centroid.coords[0]
        crs = metric_crs(lon0, lat0)
        return cls(crs, Transformer.from_crs(WGS84, crs, always_xy=True),
                   Transformer.from_crs(crs, WGS84, always_xy=True))


def _density_field(cty: gpd.GeoDataFrame, cty_m: gpd.GeoDataFrame, fr: _Frame, corridors_m,
                   rng: np.random.Generator) -> tuple[NDArray, DensityField]:
    """County seats (metres; from ``seat_lon``/``seat_lat`` where given) and the settlement density."""
    seats = []
    for i, poly in enumerate(cty_m.geometry):
        hint = None
        if {"seat_lon", "seat_lat"} <= set(cty.columns) and pd.notna(cty["seat_lon"][i]):
            hint = np.array(fr.to_m.transform(float(cty["seat_lon"][i]), float(cty["seat_lat"][i])))
        seats.append(_county_seat(poly, hint, rng))
    seats = np.asarray(seats)
    bumps = [(p[0], p[1], rng.uniform(4000, 12000))
             for poly in cty_m.geometry for p in _sample_in(poly, 3, rng)]
    return seats, DensityField(seats, sigma_m=9000.0, corridors=corridors_m, bumps=np.asarray(bumps))


def _township_kinds(n: int, urban: bool, district: bool, rng: np.random.Generator) -> list[str]:
    """街道 in city districts (and at a district's seat), else the seat a 镇 and 60 % 镇 / 40 % 乡."""
    kinds = []
    for j in range(n):
        if urban or (j == 0 and district):
            kinds.append("街道")
        elif j == 0:
            kinds.append("镇")
        else:
            kinds.append("镇" if rng.random() < 0.6 else "乡")
    return kinds


def _townships(cty: gpd.GeoDataFrame, cty_m: gpd.GeoDataFrame, urban: NDArray, level: NDArray,
               county_seats: NDArray, density: DensityField, sz: NetworkSizes,
               rng: np.random.Generator, rng_names: np.random.Generator) -> pd.DataFrame:
    """Townships of every county: id (adcode + 001.. streets, 100.. towns, 200.. 乡), name, kind,
    metric ``geometry`` and ``seat``; the first of each county holds the county seat."""
    area_km2 = cty_m.area.to_numpy() / 1e6
    rows: list[dict] = []
    street_names: set[str] = set()
    for i, poly in enumerate(cty_m.geometry):
        cid = cty["id"][i]
        if "townships" in cty.columns and pd.notna(cty["townships"][i]):
            n = int(cty["townships"][i])
        elif urban[i]:
            n = int(np.clip(round(area_km2[i] / sz.km2_per_street), 3, 12))
        else:
            n = int(np.clip(round(area_km2[i] / sz.km2_per_township), *sz.townships_range))
        seats = township_seats(poly, n, county_seats[i], density, rng)
        cells = township_cells(poly, seats)
        kinds = _township_kinds(len(seats), bool(urban[i]), level[i] == "district", rng)
        # a county's seat town carries the county's name (富锦市 -> 富锦镇); streets are unique city-wide
        cname = str(cty["name"][i])
        seat_name = None
        if kinds[0] == "镇" and len(cname) >= 3 and cname[-1] in "县市旗":
            seat_name = cname[:-1] + "镇"
        tnames = N.township_names(rng_names, kinds[1:] if seat_name else kinds,
                                  taken=street_names | ({seat_name} if seat_name else set()))
        tnames = [seat_name, *tnames] if seat_name else tnames
        street_names |= {t for t, k in zip(tnames, kinds) if k == "街道"}
        counters = {"街道": 1, "镇": 100, "乡": 200}
        for j, (seat, cell, kind, tname) in enumerate(zip(seats, cells, kinds, tnames)):
            code = counters[kind]
            counters[kind] += 1
            rows.append({"id": f"{cid}{code:03d}", "name": tname, "county_id": cid, "kind": kind,
                         "urban": bool(urban[i]), "county_seat": j == 0, "seat": seat,
                         "geometry": cell, "county_idx": i})
    towns = pd.DataFrame(rows)
    towns["area_km2"] = [g.area / 1e6 for g in towns["geometry"]]
    return towns


def _village_allocation(cty: gpd.GeoDataFrame, towns: pd.DataFrame, density: DensityField,
                        sz: NetworkSizes) -> NDArray:
    """Rural villages per township: by area and density; between counties by their ``population``
    (residents^0.7 x area^0.3) when given; at least 4 per rural township."""
    t_area = towns["area_km2"].to_numpy()
    t_dens = density(np.vstack(towns["seat"].to_numpy()))
    rural = ~towns["urban"].to_numpy()
    total = sz.villages if sz.villages is not None else int(round(t_area[rural].sum() / sz.km2_per_village))
    w = np.where(rural, t_area * (0.35 + t_dens), 0.0)
    if "population" in cty.columns and cty["population"].notna().all():
        t_cty = towns["county_idx"].to_numpy()
        w_cty = np.bincount(t_cty, weights=w, minlength=len(cty))
        a_cty = np.bincount(t_cty, weights=np.where(rural, t_area, 0.0), minlength=len(cty))
        target = cty["population"].to_numpy(float) ** 0.7 * a_cty ** 0.3
        w = np.where(w_cty[t_cty] > 0, w / np.maximum(w_cty[t_cty], 1e-12) * target[t_cty], 0.0)
    alloc = np.zeros(len(towns), int)
    if w.sum() > 0:
        alloc = _largest_remainder(w, total)
        alloc[rural] = np.maximum(alloc[rural], 4)
    return alloc


def _community_count(trow: pd.Series, rng: np.random.Generator) -> int:
    """社区 in a township: 4-10 in a street, 5-9 in a county seat town, 1-2 in a town, none in a 乡."""
    if trow["kind"] == "街道":
        return int(np.clip(round(trow["area_km2"] / 1.2), 4, 10)) if trow["urban"] else int(rng.integers(4, 9))
    if trow["county_seat"]:
        return int(rng.integers(5, 10))
    if trow["kind"] == "镇":
        return int(rng.integers(1, 3))
    return 0


def _township_villages(trow: pd.Series, n_villages: int, density: DensityField,
                       rng: np.random.Generator, rng_names: np.random.Generator) -> list[dict]:
    """The seat, 社区 clustered round it and ``n_villages`` 村/屯 spread by density (metric ``xy``)."""
    cell, seat, kind, city = trow["geometry"], np.asarray(trow["seat"]), trow["kind"], trow["urban"]
    cell = _inner(cell)  # keep villages a little inside, so they stay inside after reprojection
    n_comm = _community_count(trow, rng)
    spread = max(600.0, np.sqrt(trow["area_km2"] * 1e6) / 4) if city else 1500.0
    cand = seat + rng.normal(0, spread, (30 * max(n_comm, 1) + 30, 2))
    cand = cand[shapely.contains_xy(cell, cand[:, 0], cand[:, 1])]
    comm = _poisson_pick(cand, n_comm - 1, 350.0, fixed=seat.reshape(1, 2)) if n_comm > 1 else np.zeros((0, 2))
    if n_villages:
        spacing = 0.4 * np.sqrt(trow["area_km2"] * 1e6 / (n_villages + 1))
        cand = _sample_in(cell, 12 * n_villages + 20, rng, weight=density)
        fixed = np.vstack([seat.reshape(1, 2), comm]) if len(comm) else seat.reshape(1, 2)
        vill = _poisson_pick(cand, n_villages, spacing, fixed=fixed)
        if len(vill) < n_villages:
            vill = np.vstack([vill, _poisson_pick(cand, n_villages - len(vill), spacing / 3,
                                                  fixed=np.vstack([fixed, vill]))])
    else:
        vill = np.zeros((0, 2))
    comm_names = N.village_names(rng_names, n_comm, community=True) if n_comm else []
    vill_names = N.village_names(rng_names, len(vill) + (0 if n_comm else 1))
    c_kind = "city_community" if city or (trow["county_seat"] and kind == "街道") else "town_community"
    comm_pop = _populations(rng, n_comm, c_kind)
    if trow["county_seat"] and not city:
        comm_pop = np.round(comm_pop * 1.6).astype(int)
    vill_pop = _populations(rng, len(vill), "village")
    dens_v = density(vill) if len(vill) else np.zeros(0)
    vill_pop = np.clip(np.round(vill_pop * (0.7 + 0.6 * dens_v)), 300, 3000).astype(int)
    tid = trow["id"]
    rows, k = [], 0
    if n_comm:
        for j, (p, nm, pop) in enumerate(zip([seat, *comm], comm_names, comm_pop)):
            rows.append({"id": f"{tid}{j + 1:03d}", "name": nm, "township_id": tid,
                         "population": int(pop), "is_seat": j == 0, "community": True, "xy": p})
    else:
        rows.append({"id": f"{tid}200", "name": vill_names[0], "township_id": tid,
                     "population": int(_populations(rng, 1, "seat_village")[0]), "is_seat": True,
                     "community": False, "xy": seat})
        vill_names = vill_names[1:]
        k = 1
    for j, (p, nm, pop) in enumerate(zip(vill, vill_names, vill_pop)):
        rows.append({"id": f"{tid}{200 + k + j:03d}", "name": nm, "township_id": tid,
                     "population": int(pop), "is_seat": False, "community": False, "xy": p})
    return rows


def _scale_population(vil: pd.DataFrame, want: NDArray) -> NDArray:
    """Residents per village scaled towards each county's ``want`` (persons): villages a little
    (kept within 150-3000), town and city communities take the rest."""
    c_idx = vil["c_idx"].to_numpy()
    comm = vil["community"].to_numpy()
    popv = vil["population"].to_numpy(float)
    n = len(want)
    got = np.bincount(c_idx, weights=popv, minlength=n)
    f_v = np.sqrt(np.clip(want / np.maximum(got, 1.0), 0.25, 4.0))
    new_v = np.where(comm, popv, np.clip(np.round(popv * f_v[c_idx]), 150, 3000))
    v_sum = np.bincount(c_idx, weights=np.where(comm, 0.0, new_v), minlength=n)
    c_sum = np.bincount(c_idx, weights=np.where(comm, popv, 0.0), minlength=n)
    f_c = np.clip((want - v_sum) / np.maximum(c_sum, 1.0), 0.3, 4.0)
    return np.where(comm, np.clip(np.round(popv * f_c[c_idx]), 500, 30_000), new_v).astype(int)


def _villages(cty: gpd.GeoDataFrame, towns: pd.DataFrame, density: DensityField, sz: NetworkSizes,
              rng: np.random.Generator, rng_names: np.random.Generator) -> pd.DataFrame:
    """All villages and communities with metric ``xy`` and their township/county indices."""
    alloc = _village_allocation(cty, towns, density, sz)
    rows: list[dict] = []
    for t, trow in towns.iterrows():
        rows += _township_villages(trow, int(alloc[t]), density, rng, rng_names)
    vil = pd.DataFrame(rows)
    t_index = {tid: i for i, tid in enumerate(towns["id"])}
    vil["t_idx"] = vil["township_id"].map(t_index).to_numpy()
    vil["c_idx"] = towns["county_idx"].to_numpy()[vil["t_idx"].to_numpy()]
    vil["urban"] = towns["urban"].to_numpy()[vil["t_idx"].to_numpy()]
    vil["county_seat"] = towns["county_seat"].to_numpy()[vil["t_idx"].to_numpy()]
    if "population" in cty.columns and cty["population"].notna().all():
        vil["population"] = _scale_population(vil, cty["population"].to_numpy(float))
    return vil


def _road_edges(towns: pd.DataFrame, vil: pd.DataFrame, vxy: NDArray, n_counties: int,
                rng: np.random.Generator) -> dict[tuple[int, int], str]:
    """Road tiers between village indices: each township's villages (MST + loops, 乡道 to the seat,
    村道 otherwise, 城市道路 in city streets), township seats per county (县道), county seats (国道)."""
    edges: dict[tuple[int, int], str] = {}
    t_idx, c_idx = vil["t_idx"].to_numpy(), vil["c_idx"].to_numpy()
    is_seat = vil["is_seat"].to_numpy()
    seat_idx = np.flatnonzero(is_seat)

    def link(idx: NDArray, share: float, k: int = 3):
        local = _mst_edges(vxy[idx])
        local += _loop_edges(vxy[idx], set(local), rng, share=share, k=k)
        return [(int(min(idx[a], idx[b])), int(max(idx[a], idx[b]))) for a, b in local]

    for t in range(len(towns)):
        for a, b in link(np.flatnonzero(t_idx == t), 0.25):
            if towns["urban"][t]:
                edges[(a, b)] = "urban"
            else:
                edges[(a, b)] = "seat_link" if is_seat[a] or is_seat[b] else "village"
    for c in range(n_counties):
        for e in link(seat_idx[c_idx[seat_idx] == c], 0.3):
            edges[e] = "township"
    cseat = np.array([seat_idx[(c_idx[seat_idx] == c) & vil["county_seat"].to_numpy()[seat_idx]][0]
                      for c in range(n_counties)])
    for e in link(cseat, 0.3, k=2):
        edges[e] = "county"
    return edges


def _road_lines(edges: dict[tuple[int, int], str], vxy: NDArray, vlon: NDArray, vlat: NDArray,
                land_m, fr: _Frame, rng: np.random.Generator) -> dict[str, list]:
    """Road LineStrings (WGS-84) from village to village through a gently offset midpoint kept
    on land (``land_m``, metric); ends are the villages' exact coordinates, so the graph is noded."""
    shapely.prepare(land_m)
    geoms, cls_, spd = [], [], []
    for (a, b), tier in sorted(edges.items()):
        pa, pb = vxy[a], vxy[b]
        v = pb - pa
        length = float(np.hypot(*v))
        mid = (pa + pb) / 2 + np.array([-v[1], v[0]]) / max(length, 1e-9) * rng.normal(0, 0.07) * length
        if not shapely.contains_xy(land_m, *mid):
            mid = (pa + pb) / 2
        mlon, mlat = fr.to_deg.transform(mid[0], mid[1])
        geoms.append(shapely.LineString([(vlon[a], vlat[a]), (mlon, mlat), (vlon[b], vlat[b])]))
        c, s = ROAD_CLASSES[tier]
        cls_.append(c)
        spd.append(s)
    return {"id": [f"R{i + 1:05d}" for i in range(len(geoms))], "class": cls_, "speed_kmh": spd,
            "geometry": geoms}


def _member_sectors(sz: NetworkSizes, rng: np.random.Generator) -> tuple[tuple[str, ...], NDArray]:
    """The sectors in play and each member's sector (shuffled), in proportion to ``sector_shares``.

    Groups hold 1-3 sectors, so with few groups only the largest 2 x groups sectors are kept,
    which guarantees that :func:`_make_groups` reaches the target number of groups.
    """
    order = list(sz.sector_shares)
    ranked = sorted((p, s) for s, p in sz.sector_shares.items() if p > 0)[::-1][: 2 * sz.groups]
    sectors, shares = zip(*[(s, p) for p, s in sorted(ranked, key=lambda x: order.index(x[1]))])
    counts = _largest_remainder(np.asarray(shares, float), sz.members)
    mem_sector = np.repeat(np.asarray(sectors, dtype=object), counts)
    return sectors, mem_sector[rng.permutation(len(mem_sector))]


def _member_homes(mem_sector: NDArray, sectors: tuple[str, ...], towns: pd.DataFrame, vil: pd.DataFrame,
                  vxy: NDArray, rng: np.random.Generator) -> tuple[NDArray, NDArray]:
    """Each member's home village (mostly towns, by sector) and point (metres, a few hundred metres
    from the village centre, inside its township)."""
    pop = vil["population"].to_numpy(float)
    town_like = (vil["community"] | vil["is_seat"]).to_numpy()
    urban = vil["urban"].to_numpy()
    mem_vil = np.empty(len(mem_sector), int)
    for s in sectors:
        wv = pop * np.where(town_like, _URBAN_PULL.get(s, _DEFAULT_URBAN_PULL), 1.0) * np.where(urban, 1.5, 1.0)
        sel = np.flatnonzero(mem_sector == s)
        mem_vil[sel] = rng.choice(len(vil), size=len(sel), p=wv / wv.sum())
    jitter = rng.normal(0, 1, (len(mem_vil), 2)) * np.where(urban[mem_vil], 400, 150)[:, None]
    mxy = vxy[mem_vil] + jitter
    cells = towns["geometry"].to_numpy()[vil["t_idx"].to_numpy()[mem_vil]]
    outside = ~np.array([shapely.contains_xy(c, *p) for c, p in zip(cells, mxy)], dtype=bool)
    mxy[outside] = vxy[mem_vil[outside]]
    return mem_vil, mxy


def _constituent_villages(mem_sector: NDArray, mem_vil: NDArray, sectors: tuple[str, ...],
                          vil: pd.DataFrame, per_member: float, rng: np.random.Generator) -> tuple[NDArray, NDArray]:
    """About ``per_member`` constituents per member, of the member's sector: 70 % in the member's
    county, the rest anywhere, villages weighted by residents (towns a little more)."""
    n_con = np.clip(np.round(rng.normal(per_member, 1.5, len(mem_sector))), 1, None).astype(int)
    con_sector = np.repeat(mem_sector, n_con)
    vc = vil["c_idx"].to_numpy()
    con_county = np.repeat(vc[mem_vil], n_con)
    con_vil = np.empty(len(con_sector), int)
    pop = vil["population"].to_numpy(float)
    town_like = (vil["community"] | vil["is_seat"]).to_numpy()
    for s in sectors:
        base = pop * np.where(town_like, _URBAN_PULL.get(s, _DEFAULT_URBAN_PULL) ** 0.5, 1.0)
        sel = np.flatnonzero(con_sector == s)
        if not len(sel):
            continue
        own = rng.random(len(sel)) < 0.7
        con_vil[sel[~own]] = rng.choice(len(vil), size=int((~own).sum()), p=base / base.sum())
        for c in np.unique(con_county[sel[own]]):
            cs = sel[own][con_county[sel[own]] == c]
            wc = base * (vc == c)
            con_vil[cs] = rng.choice(len(vil), size=len(cs), p=wc / wc.sum())
    return con_sector, con_vil


# --- the generator ------------------------------------------------------------------------------
def generate_network(counties: gpd.GeoDataFrame, seed: int = 0, *, sizes: NetworkSizes | None = None,
                     corridors: gpd.GeoSeries | None = None, name: str = "synthetic",
                     **overrides: Any) -> Dataset:
    """Generate a validated liaison network inside ``counties`` (see the module docstring).

    ``counties``: GeoDataFrame with ``id``, ``name`` and polygons (any CRS; optional ``level``,
    ``townships``, ``seat_lon``, ``seat_lat``, ``population``, see :func:`prepare_counties`).
    ``seed``: the whole result is a function of it. ``sizes``: target sizes for the whole network
    (default :class:`NetworkSizes`), ``overrides`` replacing single fields, e.g. ``members=1000``.
    ``corridors``: lines (WGS-84) along which settlement is denser, e.g. a river plain. Returns a
    :class:`Dataset` with every layer filled (counties included); ids follow the Chinese codes
    (township = county id + 3 digits, village = township id + 3 digits).
    """
    sz = replace(sizes or NetworkSizes(), **overrides)
    cty = prepare_counties(counties)
    ss = np.random.SeedSequence(int(seed))
    r_cty, r_town, r_vil, r_road, r_mem, r_grp, r_sta, r_con, r_names = (_rng(s) for s in ss.spawn(9))
    fr = _Frame.around(cty)
    cty_m = cty.to_crs(fr.crs)
    cor_m = None
    if corridors is not None and len(corridors):
        cs = gpd.GeoSeries(corridors)
        cs = cs.set_crs(WGS84) if cs.crs is None else cs
        cor_m = shapely.union_all(cs.to_crs(fr.crs).to_numpy())

    # 1. townships; 2. villages
    level = cty["level"].astype(str).to_numpy() if "level" in cty.columns else np.array([""] * len(cty))
    urban = (level == "district") & (cty_m.area.to_numpy() / 1e6 <= sz.urban_max_km2)
    county_seats, density = _density_field(cty, cty_m, fr, cor_m, r_cty)
    towns = _townships(cty, cty_m, urban, level, county_seats, density, sz, r_town, r_names)
    vil = _villages(cty, towns, density, sz, r_vil, r_names)
    vxy = np.vstack(vil["xy"].to_numpy())
    vlon, vlat = fr.to_deg.transform(vxy[:, 0], vxy[:, 1])
    # 3. roads
    edges = _road_edges(towns, vil, vxy, len(cty), r_road)
    roads = _road_lines(edges, vxy, vlon, vlat, shapely.union_all(cty_m.geometry.to_numpy()), fr, r_road)
    # 4. members, groups, committees
    sectors, mem_sector = _member_sectors(sz, r_mem)
    mem_vil, mxy = _member_homes(mem_sector, sectors, towns, vil, vxy, r_mem)
    minority = np.isin(mem_sector, ["少数民族", "宗教"])
    mem_names = N.person_names(r_names, len(mem_sector), minority=minority.tolist())
    mem_ids = [f"M{i + 1:03d}" for i in range(len(mem_sector))]
    groups, mem_group = _make_groups(mem_sector, mxy, sz.groups)
    roles, conveners = _pick_conveners(mem_group, len(groups), sz.conveners, r_grp)
    mem_committee = _assign_committees(mem_sector, sz.committees, r_grp)
    # 5. stations
    st = _place_stations(sz, towns, vil, vxy, mem_sector, mxy, mem_names, r_sta)
    # 6. constituents
    con_sector, con_vil = _constituent_villages(mem_sector, mem_vil, sectors, vil,
                                                sz.constituents_per_member, r_con)
    con_names = N.person_names(r_names, len(con_sector), unique=False)
    phones = N.phone_numbers(r_names, len(con_sector))

    def gdf(d: dict, geom) -> gpd.GeoDataFrame:
        return gpd.GeoDataFrame(d, geometry=gpd.GeoSeries(geom, crs=WGS84), crs=WGS84)

    t_geo = shapely.make_valid(gpd.GeoSeries(towns["geometry"].to_numpy(), crs=fr.crs).to_crs(WGS84).to_numpy())
    sxy = st.pop("xy")
    st["township_id"] = _township_of(sxy, towns, st.pop("t_idx"))
    layers = {
        "counties": cty[["id", "name", *[c for c in ("name_en", "level") if c in cty.columns], "geometry"]].copy(),
        "townships": gdf({"id": towns["id"], "name": towns["name"], "county_id": towns["county_id"]}, t_geo),
        "villages": gdf({"id": vil["id"], "name": vil["name"], "township_id": vil["township_id"],
                         "population": vil["population"].astype(int), "is_seat": vil["is_seat"].astype(bool)},
                        shapely.points(vlon, vlat)),
        "roads": gdf({k: v for k, v in roads.items() if k != "geometry"}, roads["geometry"]),
        "stations": gdf(st, shapely.points(*fr.to_deg.transform(sxy[:, 0], sxy[:, 1]))),
        "members": gdf({"id": mem_ids, "name": mem_names, "sector": list(mem_sector),
                        "group_id": [groups[g]["id"] for g in mem_group],
                        "committee_id": [f"K{k + 1:02d}" for k in mem_committee],
                        "role": roles}, shapely.points(*fr.to_deg.transform(mxy[:, 0], mxy[:, 1]))),
        "groups": pd.DataFrame({"id": [g["id"] for g in groups], "name": [g["name"] for g in groups],
                                "sectors": [g["sectors"] for g in groups],
                                "convener_id": [mem_ids[c] for c in conveners], "station_id": None}),
        "committees": pd.DataFrame({"id": [f"K{k + 1:02d}" for k in range(len(sz.committees))],
                                    "name": list(sz.committees)}),
        "constituents": gdf({"id": [f"P{i + 1:05d}" for i in range(len(con_sector))],
                             "sector": list(con_sector), "village_id": vil["id"].to_numpy()[con_vil],
                             "name": con_names, "phone": phones}, [None] * len(con_sector)),
    }
    meta = {"generator": "geo_service.app.synthetic.generate_network", "seed": int(seed)}
    return Dataset.from_layers(layers, name=name, meta=meta)


def _township_of(xy: NDArray, towns: pd.DataFrame, hint: list[int]) -> list[str]:
    """Township id holding each point (metres), checking the hinted township first."""
    out = []
    geoms = towns["geometry"].to_numpy()
    for p, h in zip(xy, hint):
        if shapely.contains_xy(geoms[h], *p):
            out.append(towns["id"][h])
            continue
        hit = [j for j, g in enumerate(geoms) if shapely.contains_xy(g, *p)]
        out.append(towns["id"][hit[0] if hit else h])
    return out


def _largest_remainder(weights: NDArray, total: int) -> NDArray:
    """Integers proportional to ``weights`` summing to ``total`` (largest remainder method)."""
    q = weights / weights.sum() * total
    n = np.floor(q).astype(int)
    n[np.argsort(-(q - n), kind="stable")[: total - n.sum()]] += 1
    return n


def _zh_number(n: int) -> str:
    """Chinese numeral for 1 <= n <= 99 (一, 十二, 二十三); larger numbers in digits."""
    digits = "零一二三四五六七八九"
    if not 1 <= n <= 99:
        return str(n)
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else digits[tens] + "十")
    return head + (digits[ones] if ones else "")


def _make_groups(mem_sector: NDArray, mxy: NDArray, target: int) -> tuple[list[dict], NDArray]:
    """Partition members into ``target`` activity groups of 1-3 related sectors.

    Start with one group per sector; merge the two smallest related groups while there are too
    many; split the largest one by geography (west/east) while there are too few.
    """
    present = list(dict.fromkeys(s for s in SECTOR_SHARES if (mem_sector == s).any()))
    present += [s for s in dict.fromkeys(mem_sector) if s not in present]
    groups = [{"sectors": [s], "members": np.flatnonzero(mem_sector == s)} for s in present]
    while len(groups) > target:
        best = None
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                a, b = groups[i], groups[j]
                fa = {_FAMILY_OF.get(s, -1 - k) for k, s in enumerate(a["sectors"])}
                fb = {_FAMILY_OF.get(s, -100 - k) for k, s in enumerate(b["sectors"])}
                if len(a["sectors"]) + len(b["sectors"]) > 3 or not fa & fb or "part" in a or "part" in b:
                    continue
                size = len(a["members"]) + len(b["members"])
                if best is None or size < best[0]:
                    best = (size, i, j)
        if best is None:  # no related pair left: merge the two smallest groups of up to 3 sectors
            order = np.argsort([len(g["members"]) for g in groups], kind="stable")
            pairs = [(int(a), int(b)) for a in order for b in order if a < b
                     and len(groups[a]["sectors"]) + len(groups[b]["sectors"]) <= 3
                     and "part" not in groups[a] and "part" not in groups[b]]
            if not pairs:
                break
            best = (0, *min(pairs, key=lambda p: len(groups[p[0]]["members"]) + len(groups[p[1]]["members"])))
        _, i, j = best
        groups[i] = {"sectors": groups[i]["sectors"] + groups[j]["sectors"],
                     "members": np.sort(np.concatenate([groups[i]["members"], groups[j]["members"]]))}
        del groups[j]
    while len(groups) < target:
        i = int(np.argmax([len(g["members"]) for g in groups]))
        g = groups[i]
        if len(g["members"]) < 8:
            break
        order = g["members"][np.argsort(mxy[g["members"], 0], kind="stable")]
        half = len(order) // 2
        part = g.get("part", 0)
        groups[i] = {"sectors": g["sectors"], "members": np.sort(order[:half]), "part": part + 1}
        groups.insert(i + 1, {"sectors": g["sectors"], "members": np.sort(order[half:]), "part": part + 1})
    # name them; numbered when a sector set has several groups
    labels = ["、".join(g["sectors"]) for g in groups]
    seen: dict[str, int] = {}
    out = []
    mem_group = np.empty(len(mem_sector), int)
    for k, (g, lab) in enumerate(zip(groups, labels)):
        seen[lab] = seen.get(lab, 0) + 1
        suffix = f"第{_zh_number(seen[lab])}" if labels.count(lab) > 1 else ""
        out.append({"id": f"G{k + 1:02d}", "name": f"{lab}界别{suffix}活动组", "sectors": list(g["sectors"])})
        mem_group[g["members"]] = k
    return out, mem_group


def _pick_conveners(mem_group: NDArray, n_groups: int, total: int,
                    rng: np.random.Generator) -> tuple[list[str | None], list[int]]:
    """A convener and 2-4 deputies per group, about ``total`` in all; returns roles and conveners."""
    sizes = np.bincount(mem_group, minlength=n_groups)
    deputies = np.minimum(np.full(n_groups, 2), np.maximum(sizes - 1, 0))
    extra = total - n_groups - int(deputies.sum())
    for g in np.argsort(-sizes, kind="stable"):
        if extra <= 0:
            break
        add = min(2, extra, max(0, sizes[g] - 1 - deputies[g]))
        deputies[g] += add
        extra -= add
    roles: list[str | None] = [None] * len(mem_group)
    conveners = []
    for g in range(n_groups):
        m = rng.permutation(np.flatnonzero(mem_group == g))
        conveners.append(int(m[0]))
        roles[m[0]] = "convener"
        for d in m[1:1 + deputies[g]]:
            roles[d] = "deputy_convener"
    return roles, conveners


def _assign_committees(mem_sector: NDArray, committees: tuple[str, ...],
                       rng: np.random.Generator) -> NDArray:
    """Committee index per member: usually one matching the sector, else the emptiest one."""
    n = len(committees)
    load = np.zeros(n, int)
    out = np.empty(len(mem_sector), int)
    affinity = {c: i for i, c in enumerate(committees)}
    for m in rng.permutation(len(mem_sector)):
        match = [affinity[c] for c, secs in COMMITTEES.items() if c in affinity and mem_sector[m] in secs]
        cap = 1.6 * len(mem_sector) / n
        match = [k for k in match if load[k] < cap]
        k = int(rng.choice(match)) if match and rng.random() < 0.75 else int(np.argmin(load + rng.random(n)))
        out[m] = k
        load[k] += 1
    return out


class _Stations:
    """Stations placed so far (metric ``xy``), with the context every placement rule needs."""

    def __init__(self, towns: pd.DataFrame, vil: pd.DataFrame, vxy: NDArray, mem_sector: NDArray,
                 mxy: NDArray):
        self.towns, self.vil, self.vxy, self.mem_sector, self.mxy = towns, vil, vxy, mem_sector, mxy
        self.member_tree = cKDTree(mxy)
        self.rows: dict[str, list] = {k: [] for k in ("id", "name", "kind", "sectors", "capacity", "xy", "t_idx")}
        self.used: set[int] = set()  # villages that already host a station

    def add(self, sid: str, name: str, kind: str, sectors: list[str], capacity: int, xy: NDArray,
            t_idx: int) -> None:
        for k, v in zip(self.rows, (sid, name, kind, sectors, capacity, xy, t_idx)):
            self.rows[k].append(v)

    def distance_to_nearest(self, xy: NDArray) -> NDArray:
        """Metres from each point to the nearest station so far (inf when there is none)."""
        if not self.rows["xy"]:
            return np.full(len(xy), np.inf)
        return cKDTree(np.asarray(self.rows["xy"])).query(xy)[0]

    def local_sectors(self, p: NDArray, radius: float, k: int) -> list[str]:
        """The ``k`` most common sectors among members within ``radius`` metres of ``p`` (or among
        its ``10 k`` nearest members where fewer than ``k`` sectors live that close)."""
        near = self.member_tree.query_ball_point(p, radius)
        if len(set(self.mem_sector[near])) < k:  # sparse area: the nearest members instead
            near = self.member_tree.query(p, k=min(len(self.mxy), 10 * k))[1]
        return list(pd.Series(self.mem_sector[np.atleast_1d(near)]).value_counts().index[:k])

    def table(self) -> dict[str, Any]:
        out = dict(self.rows)
        out["xy"] = np.asarray(out["xy"], float).reshape(-1, 2)
        return out


def _comprehensive_stations(S: _Stations, n: int, rng: np.random.Generator) -> None:
    """Comprehensive stations shared out between counties by residents (at least one each while
    ``n`` allows), in each county at the busiest township seats (the county seat counts triple),
    each hosting the 4-7 main sectors of the members around it."""
    vil = S.vil
    seats = np.flatnonzero(vil["is_seat"].to_numpy())
    tpop = vil.groupby("t_idx")["population"].sum()
    is_cseat = vil["county_seat"].to_numpy()
    score = tpop.reindex(vil["t_idx"].to_numpy()[seats]).to_numpy() * np.where(is_cseat[seats], 3.0, 1.0)
    score = score * rng.lognormal(0, 0.5, len(seats))
    county = vil["c_idx"].to_numpy()[seats]
    n_cty = int(vil["c_idx"].max()) + 1
    cpop = np.bincount(vil["c_idx"].to_numpy(), weights=vil["population"].to_numpy(float), minlength=n_cty)
    n_seats = np.bincount(county, minlength=n_cty)
    n = min(n, len(seats))
    quota = np.minimum(np.ones(n_cty, int) if n >= n_cty else np.zeros(n_cty, int), n_seats)
    while quota.sum() < n:  # hand out the rest by residents per station (D'Hondt), within seats
        room = quota < n_seats
        quota[np.flatnonzero(room)[int(np.argmax((cpop / (quota + 1))[room]))]] += 1
    chosen: list[int] = []
    for c in np.argsort(-cpop, kind="stable"):
        cand = np.flatnonzero(county == c)
        chosen += [int(j) for j in cand[np.argsort(-score[cand], kind="stable")][: quota[c]]]
    for k, j in enumerate(chosen):
        v = int(seats[j])
        S.used.add(v)
        t = int(vil["t_idx"][v])
        sectors = S.local_sectors(S.vxy[v], 15_000.0, int(rng.integers(4, 8)))
        S.add(f"C{k + 1:02d}", f"{S.towns['name'][t]}综合型委员工作站", "station_comprehensive", sectors,
              int(rng.integers(2, 5)), S.vxy[v], t)


def _sector_stations(S: _Stations, n: int, rng: np.random.Generator) -> None:
    """``n`` sector stations shared out by sector size (members^1.2), each placed greedily where
    its sector's members are densest (Gaussian kernel, 5 km), discounting members near the sector's
    earlier stations (12 km) and sites next to any station (4 km); towns only, except 农业. A
    station also hosts up to 2 related sectors with members nearby (1-3 sectors in all)."""
    vil, vxy = S.vil, S.vxy
    town_like = np.flatnonzero((vil["community"] | vil["is_seat"]).to_numpy())
    sectors, m_counts = np.unique(S.mem_sector, return_counts=True)
    quota = _largest_remainder(m_counts.astype(float) ** 1.2, n)
    seq = 0
    for s, q in sorted(zip(sectors, quota), key=lambda x: (-x[1], x[0])):
        pts = S.mxy[S.mem_sector == s]
        weight = np.ones(len(pts))
        cand = town_like if s != "农业" else np.arange(len(vil))
        kernel = np.exp(-cdist(vxy[cand], pts, "sqeuclidean") / (2 * 5000.0**2)) if q else None
        for _ in range(int(q)):
            dens = kernel @ weight
            dens *= 1 - 0.7 * np.exp(-S.distance_to_nearest(vxy[cand]) ** 2 / (2 * 4000.0**2))
            dens[np.isin(cand, list(S.used))] = -1
            v = int(cand[int(np.argmax(dens))])
            S.used.add(v)
            weight *= 1 - 0.95 * np.exp(-cdist(vxy[v:v + 1], pts, "sqeuclidean")[0] / (2 * 12000.0**2))
            fam = [x for x in SECTOR_FAMILIES[_FAMILY_OF[s]] if x != s] if s in _FAMILY_OF else []
            extra = [x for x in S.local_sectors(vxy[v], 10_000.0, 8) if x in fam][: int(rng.integers(0, 3))]
            seq += 1
            p = vxy[v] + rng.normal(0, 150, 2)
            S.add(f"J{seq:02d}", f"{vil['name'][v]}{'、'.join([s, *extra])}界别委员工作站", "station_sector",
                  [s, *extra], int(rng.integers(1, 3)), p, int(vil["t_idx"][v]))


_PRACTICAL_SECTORS = ("医药卫生", "农业", "科技", "教育", "文化艺术", "经济", "工商联", "社会福利和社会保障",
                      "少数民族")


def _studios(S: _Stations, n: int, mem_names: list[str], rng: np.random.Generator) -> None:
    """``n`` member studios (委员工作室) at members' homes, members of practical sectors 4x as likely."""
    w = np.where(np.isin(S.mem_sector, _PRACTICAL_SECTORS), 4.0, 1.0)
    pick = rng.choice(len(S.mem_sector), size=min(n, len(S.mem_sector)), replace=False, p=w / w.sum())
    vtree = cKDTree(S.vxy)
    for k, m in enumerate(sorted(pick)):
        S.add(f"W{k + 1:02d}", f"{mem_names[m]}委员工作室", "studio", [str(S.mem_sector[m])], 1, S.mxy[m],
              int(S.vil["t_idx"][int(vtree.query(S.mxy[m])[1])]))


def _contact_points(S: _Stations, n: int, rng: np.random.Generator) -> None:
    """``n`` sector contact points in large rural villages more than 8 km from any station."""
    vil = S.vil
    far = S.distance_to_nearest(S.vxy)
    rural = np.flatnonzero(~(vil["community"] | vil["is_seat"]).to_numpy() & (far > 8000))
    if not len(rural) or not n:
        return
    order = rural[np.argsort(-vil["population"].to_numpy()[rural] * rng.random(len(rural)), kind="stable")]
    present = set(S.mem_sector)
    grassroots = [x for x in ("农业", "少数民族", "医药卫生", "教育", "科技") if x in present]
    for k, v in enumerate(order[:n]):
        s = grassroots[k % len(grassroots)] if grassroots else str(S.mem_sector[0])
        S.add(f"L{k + 1:02d}", f"{vil['name'][v]}{s}界别联系点", "contact_point", [s], 1, S.vxy[v],
              int(vil["t_idx"][v]))


def _place_stations(sz: NetworkSizes, towns: pd.DataFrame, vil: pd.DataFrame, vxy: NDArray,
                    mem_sector: NDArray, mxy: NDArray, mem_names: list[str],
                    rng: np.random.Generator) -> dict[str, Any]:
    """Stations as a real network places them (see the module docstring); columns, metric ``xy``."""
    S = _Stations(towns, vil, vxy, mem_sector, mxy)
    _comprehensive_stations(S, sz.comprehensive, rng)
    _sector_stations(S, sz.sector_stations, rng)
    _studios(S, sz.studios, mem_names, rng)
    _contact_points(S, sz.contact_points, rng)
    _host_every_sector(S)
    return S.table()


def _host_every_sector(S: _Stations) -> None:
    """Let the comprehensive station closest to a sector's members host every sector that no
    station hosts yet (comprehensive stations serve all sectors), so every group has a home."""
    comp = [i for i, k in enumerate(S.rows["kind"]) if k == "station_comprehensive"]
    if not comp:
        return
    hosted = {x for secs in S.rows["sectors"] for x in secs}
    cxy = np.asarray([S.rows["xy"][i] for i in comp])
    for sector in dict.fromkeys(S.mem_sector):
        if sector in hosted:
            continue
        d = cdist(cxy, S.mxy[S.mem_sector == sector]).mean(axis=1)
        S.rows["sectors"][comp[int(np.argmin(d))]].append(str(sector))
        hosted.add(sector)


__all__ = ["COMMITTEES", "NetworkSizes", "ROAD_CLASSES", "SECTOR_FAMILIES", "SECTOR_SHARES",
           "DensityField", "generate_network", "prepare_counties", "township_cells", "township_seats"]
