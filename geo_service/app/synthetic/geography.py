"""Synthetic geography: counties, townships (seats + Voronoi cells), villages and roads, in metres.

Stages 1-3 of :func:`geo_service.app.synthetic.generate_network`.
"""

from __future__ import annotations

from dataclasses import dataclass
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

from .. import names as N
from ...core.crs import metric_crs
from ...core.domain import WGS84
from .common import (
    _EDGE_MARGIN_M,
    ROAD_CLASSES,
    NetworkSizes,
    _largest_remainder,
    _poisson_pick,
    _sample_in,
)


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
