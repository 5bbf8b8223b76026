"""A synthetic province: many seeded county datasets for batch runs and benchmarks.

:func:`county_polygons` tiles a province-sized area of north-east China (default: 126-134 E,
44.5-48.5 N, about 620 x 445 km) into ``n`` convex county cells (a Voronoi diagram of a jittered
grid). :func:`generate_province` fills each county with a liaison network, one
:class:`~geo_service.dataset.Dataset` per county, reproducibly from ``seed``:

- with the demo generator's :func:`geo_service.demo.generate_network` when that is available
  (the same generator as the bundled demo county);
- otherwise with :func:`small_county_network` below, a compact generator of demo-like shape
  (township Voronoi cells, villages with populations and a seat each, comprehensive stations at
  most seats leaving some gaps, sector stations, members in sector groups, ~10 constituents per
  member, roads from each seat to its villages and between seats).

Sizes are small by default so a 100-county batch runs in minutes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString, Point, Polygon, box

from .dataset import Dataset
from .domain import WGS84

#: (min lon, min lat, max lon, max lat), degrees WGS-84: eastern Heilongjiang.
PROVINCE_BOUNDS: tuple[float, float, float, float] = (126.0, 44.5, 134.0, 48.5)
#: Sectors a synthetic county draws its members' sectors from.
PROVINCE_SECTORS: tuple[str, ...] = ("经济", "农业", "教育", "医药卫生", "科技", "文化艺术", "中共", "民盟")
_DIGITS = "一二三四五六七八九十"
_TOWN_STEMS = ("兴隆", "太平", "长发", "永安", "富民", "新华", "红旗", "双河", "东风", "胜利", "四马架",
               "建国", "友谊", "和平", "前进", "向阳", "星火", "杏林", "柳河", "松江")
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁宋谢唐韩冯于董"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红文"


def county_polygons(n: int, seed: int = 0, bounds: Sequence[float] = PROVINCE_BOUNDS) -> gpd.GeoDataFrame:
    """``n`` convex county cells tiling ``bounds`` (WGS-84 degrees), ids ``C001``..., EPSG:4326.

    Cells are the Voronoi diagram of a jittered grid of ``n`` seed points, clipped to ``bounds``,
    so counties have similar areas and share borders like real ones.
    """
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n_counties must be a whole number >= 1, got {n!r}")
    minx, miny, maxx, maxy = map(float, bounds)
    if not (minx < maxx and miny < maxy):
        raise ValueError(f"bounds {tuple(bounds)} is not (min lon, min lat, max lon, max lat)")
    rng = np.random.default_rng(seed)
    # grid shape close to the area's aspect ratio in metres
    aspect = (maxx - minx) * math.cos(math.radians((miny + maxy) / 2)) / (maxy - miny)
    cols = max(1, round(math.sqrt(n * aspect)))
    rows = math.ceil(n / cols)
    dx, dy = (maxx - minx) / cols, (maxy - miny) / rows
    cells = [(r, c) for r in range(rows) for c in range(cols)][:n]
    pts = np.array([(minx + (c + 0.5 + rng.uniform(-0.3, 0.3)) * dx, miny + (r + 0.5 + rng.uniform(-0.3, 0.3)) * dy)
                    for r, c in cells])
    frame = box(minx, miny, maxx, maxy)
    if n == 1:
        polys = [frame]
    else:
        vor = shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=frame)
        regions = list(vor.geoms)
        # voronoi output order is not the input order: match each seed to the region holding it
        tree = shapely.STRtree(regions)
        idx = tree.query(shapely.points(pts), predicate="within")
        by_seed = dict(zip(idx[0].tolist(), idx[1].tolist()))
        polys = [shapely.intersection(regions[by_seed[i]], frame) for i in range(n)]
    names = [f"{_TOWN_STEMS[i % len(_TOWN_STEMS)]}{'' if i < len(_TOWN_STEMS) else i // len(_TOWN_STEMS) + 1}县"
             for i in range(n)]
    return gpd.GeoDataFrame({"id": [f"C{i + 1:03d}" for i in range(n)], "name": names},
                            geometry=polys, crs=WGS84)


def _points_in(poly: Polygon, n: int, rng: np.random.Generator) -> list[Point]:
    """``n`` uniform random points inside ``poly`` (rejection sampling on its bounding box)."""
    minx, miny, maxx, maxy = poly.bounds
    out: list[Point] = []
    shapely.prepare(poly)
    while len(out) < n:
        xs = rng.uniform(minx, maxx, 4 * n)
        ys = rng.uniform(miny, maxy, 4 * n)
        cand = shapely.points(xs, ys)
        out += [p for p in cand[shapely.contains(poly, cand)]][: n - len(out)]
    return out


def _person(rng: np.random.Generator) -> str:
    return _SURNAMES[rng.integers(len(_SURNAMES))] + "".join(
        _GIVEN[j] for j in rng.integers(len(_GIVEN), size=rng.integers(1, 3)))


def small_county_network(county: gpd.GeoDataFrame, seed: int = 0, *, townships: int = 4,
                         villages_per_township: int = 6, members: int = 12, sectors: int = 3,
                         constituents_per_member: int = 10, gap_share: float = 0.25) -> Dataset:
    """A small demo-like liaison network inside the one-row ``county`` frame (EPSG:4326).

    Sizes: ``townships`` Voronoi cells, ``villages_per_township`` villages each (the first is the
    seat), ``members`` members over ``sectors`` sectors (one group per sector, two committees),
    ``constituents_per_member`` constituents each (in the member's sector, placed by village). A
    comprehensive station stands at each township seat except a share ``gap_share`` of them (gaps);
    each sector also gets a sector station at a random village. Roads join each seat to its
    villages (乡道, 40 km/h) and the seats in a chain (县道, 50 km/h).
    """
    rng = np.random.default_rng(seed)
    cid, cname = str(county["id"].iloc[0]), str(county["name"].iloc[0])
    poly = county.geometry.iloc[0]
    seeds = _points_in(poly, townships, rng)
    if townships == 1:
        t_polys = [poly]
    else:
        vor = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=poly)
        regions = list(vor.geoms)
        idx = shapely.STRtree(regions).query(np.array(seeds, dtype=object), predicate="within")
        by_seed = dict(zip(idx[0].tolist(), idx[1].tolist()))
        t_polys = [shapely.intersection(regions[by_seed[i]], poly) for i in range(townships)]
    t_ids = [f"{cid}-T{i + 1}" for i in range(townships)]
    tw = gpd.GeoDataFrame({"id": t_ids, "name": [f"{cname[:-1]}{_DIGITS[i % 10]}{'镇' if i == 0 else '乡'}"
                                                 for i in range(townships)], "county_id": cid},
                          geometry=t_polys, crs=WGS84)
    v_rows, v_geom = [], []
    for ti, (tid, tp) in enumerate(zip(t_ids, t_polys)):
        seat = tp.representative_point()
        pts = [seat, *_points_in(tp, villages_per_township - 1, rng)]
        for vi, p in enumerate(pts):
            pop = int(rng.lognormal(6.7, 0.5)) * (5 if vi == 0 else 1)
            v_rows.append({"id": f"{tid}-V{vi + 1}", "name": f"{_DIGITS[vi % 10]}{'社区' if vi == 0 else '村'}",
                           "township_id": tid, "population": pop, "is_seat": vi == 0})
            v_geom.append(p)
    villages = gpd.GeoDataFrame(v_rows, geometry=v_geom, crs=WGS84)
    secs = [str(s) for s in rng.choice(PROVINCE_SECTORS, size=min(sectors, len(PROVINCE_SECTORS)), replace=False)]

    s_rows, s_geom = [], []
    for ti, tid in enumerate(t_ids):
        if ti > 0 and rng.random() < gap_share:
            continue
        seat = villages[villages["township_id"] == tid].iloc[0]
        s_rows.append({"id": f"{cid}-S{len(s_rows) + 1}", "name": f"{tw['name'].iloc[ti]}委员工作站",
                       "kind": "station_comprehensive", "sectors": list(secs), "capacity": 2, "township_id": tid})
        s_geom.append(seat.geometry)
    for sec in secs:
        v = villages.iloc[int(rng.integers(len(villages)))]
        s_rows.append({"id": f"{cid}-S{len(s_rows) + 1}", "name": f"{sec}界别工作站", "kind": "station_sector",
                       "sectors": [sec], "capacity": 1, "township_id": v["township_id"]})
        s_geom.append(Point(v.geometry.x + rng.normal(0, 0.003), v.geometry.y + rng.normal(0, 0.003)))
    stations = gpd.GeoDataFrame(s_rows, geometry=s_geom, crs=WGS84)

    committees = pd.DataFrame({"id": [f"{cid}-K1", f"{cid}-K2"], "name": ["经济委员会", "社会法制委员会"]})
    m_sector = [secs[i % len(secs)] for i in range(members)]
    m_rows, m_geom = [], []
    for i, sec in enumerate(m_sector):
        v = villages.iloc[int(rng.integers(len(villages)))]
        m_rows.append({"id": f"{cid}-M{i + 1}", "name": _person(rng), "sector": sec,
                       "group_id": f"{cid}-G{secs.index(sec) + 1}", "committee_id": f"{cid}-K{i % 2 + 1}",
                       "role": "convener" if i < len(secs) else None})
        m_geom.append(Point(v.geometry.x + rng.normal(0, 0.01), v.geometry.y + rng.normal(0, 0.01)))
    members_gdf = gpd.GeoDataFrame(m_rows, geometry=m_geom, crs=WGS84)
    groups = pd.DataFrame({"id": [f"{cid}-G{j + 1}" for j in range(len(secs))],
                           "name": [f"{s}界别活动组" for s in secs], "sectors": [[s] for s in secs],
                           "convener_id": [f"{cid}-M{j + 1}" if j < members else None for j in range(len(secs))],
                           "station_id": None})
    c_rows = []
    weights = villages["population"].to_numpy(float)
    weights /= weights.sum()
    for sec in m_sector:
        for vi in rng.choice(len(villages), size=constituents_per_member, p=weights):
            c_rows.append({"id": f"{cid}-P{len(c_rows) + 1}", "sector": sec,
                           "village_id": villages["id"].iloc[int(vi)], "name": _person(rng),
                           "phone": f"13{rng.integers(10**8, 10**9)}"})
    constituents = gpd.GeoDataFrame(c_rows, geometry=[None] * len(c_rows), crs=WGS84)

    r_rows, r_geom = [], []
    seats = villages[villages["is_seat"]]
    for _, v in villages[~villages["is_seat"]].iterrows():
        s = seats[seats["township_id"] == v["township_id"]].iloc[0]
        r_rows.append({"id": f"{cid}-R{len(r_rows) + 1}", "class": "乡道", "speed_kmh": 40.0})
        r_geom.append(LineString([s.geometry, v.geometry]))
    sp = list(seats.geometry)
    order = np.argsort([p.x for p in sp])
    for a, b in zip(order[:-1], order[1:]):
        r_rows.append({"id": f"{cid}-R{len(r_rows) + 1}", "class": "县道", "speed_kmh": 50.0})
        r_geom.append(LineString([sp[a], sp[b]]))
    roads = gpd.GeoDataFrame(r_rows, geometry=r_geom, crs=WGS84)
    return Dataset.from_layers({"counties": county.reset_index(drop=True)[["id", "name", "geometry"]],
                                "townships": tw, "villages": villages, "stations": stations,
                                "members": members_gdf, "groups": groups, "committees": committees,
                                "constituents": constituents, "roads": roads}, name=cid)


def _demo_network():
    """The demo generator's ``generate_network`` if it exists, else None."""
    try:
        from .demo import generate_network
    except ImportError:
        return None
    return generate_network


def generate_province(n_counties: int = 100, seed: int = 0, *, bounds: Sequence[float] = PROVINCE_BOUNDS,
                      use_demo_generator: bool | None = None, **sizes: Any) -> list[Dataset]:
    """``n_counties`` county datasets (names/ids ``C001``...) of a synthetic province, from ``seed``.

    ``sizes`` go to the network generator (for :func:`small_county_network`: ``townships``,
    ``villages_per_township``, ``members``, ``sectors``, ``constituents_per_member``, ``gap_share``).
    ``use_demo_generator``: True forces :func:`geo_service.demo.generate_network`, False forces
    :func:`small_county_network`, None (default) uses the demo generator when it is installed.
    County ``i`` is generated from seed ``seed * 100_003 + i``, so any county can be rebuilt alone.
    """
    counties = county_polygons(n_counties, seed, bounds)
    demo_gen = _demo_network() if use_demo_generator is not False else None
    if use_demo_generator and demo_gen is None:
        raise RuntimeError("geo_service.demo.generate_network is not available")
    out = []
    for i in range(n_counties):
        one = counties.iloc[[i]].reset_index(drop=True)
        cseed = seed * 100_003 + i
        if demo_gen is not None:
            ds = demo_gen(one, cseed, **sizes)
            ds = Dataset(ds.layers, name=str(one["id"].iloc[0]), warnings=ds.warnings, meta=ds.meta)
        else:
            ds = small_county_network(one, cseed, **sizes)
        out.append(ds)
    return out


__all__ = ["PROVINCE_BOUNDS", "county_polygons", "generate_province", "small_county_network"]
