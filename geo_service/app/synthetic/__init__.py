"""Generate a plausible CPPCC liaison network inside any county polygons, reproducibly from a seed.

:func:`generate_network` is the engine behind the demo county (:mod:`geo_service.app.demo`) and the
synthetic provinces used for batch tests: give it county polygons (WGS-84) and target sizes, get a
validated :class:`~geo_service.core.dataset.Dataset`. It works in a metric CRS (metres) and proceeds in
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

from dataclasses import dataclass, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import names as N
from ...core.dataset import Dataset
from ...core.domain import WGS84
from .common import COMMITTEES, ROAD_CLASSES, SECTOR_FAMILIES, SECTOR_SHARES, NetworkSizes, _rng
from .geography import (
    DensityField,
    _density_field,
    _Frame,
    _road_edges,
    _road_lines,
    _township_of,
    _townships,
    _villages,
    prepare_counties,
    township_cells,
    township_seats,
)
from .people import (
    _assign_committees,
    _constituent_villages,
    _make_groups,
    _member_homes,
    _member_sectors,
    _pick_conveners,
)
from .stations import _place_stations


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
    cor_m = _corridors_metric(corridors, fr)

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
    ppl = _people(sz, towns, vil, vxy, r_mem, r_grp, r_names)
    # 5. stations
    st = _place_stations(sz, towns, vil, vxy, ppl.sector, ppl.xy, ppl.names, r_sta)
    # 6. constituents
    con_sector, con_vil = _constituent_villages(ppl.sector, ppl.village, ppl.sectors, vil,
                                                sz.constituents_per_member, r_con)
    con_names = N.person_names(r_names, len(con_sector), unique=False)
    phones = N.phone_numbers(r_names, len(con_sector))

    t_geo = shapely.make_valid(gpd.GeoSeries(towns["geometry"].to_numpy(), crs=fr.crs).to_crs(WGS84).to_numpy())
    sxy = st.pop("xy")
    st["township_id"] = _township_of(sxy, towns, st.pop("t_idx"))
    layers = {
        "counties": cty[["id", "name", *[c for c in ("name_en", "level") if c in cty.columns], "geometry"]].copy(),
        "townships": _gdf({"id": towns["id"], "name": towns["name"], "county_id": towns["county_id"]}, t_geo),
        "villages": _gdf({"id": vil["id"], "name": vil["name"], "township_id": vil["township_id"],
                          "population": vil["population"].astype(int), "is_seat": vil["is_seat"].astype(bool)},
                         shapely.points(vlon, vlat)),
        "roads": _gdf({k: v for k, v in roads.items() if k != "geometry"}, roads["geometry"]),
        "stations": _gdf(st, shapely.points(*fr.to_deg.transform(sxy[:, 0], sxy[:, 1]))),
        **_people_layers(ppl, fr, sz),
        "constituents": _gdf({"id": [f"P{i + 1:05d}" for i in range(len(con_sector))],
                              "sector": list(con_sector), "village_id": vil["id"].to_numpy()[con_vil],
                              "name": con_names, "phone": phones}, [None] * len(con_sector)),
    }
    meta = {"generator": "geo_service.app.synthetic.generate_network", "seed": int(seed)}
    return Dataset.from_layers(layers, name=name, meta=meta)


def _gdf(d: dict, geom) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(d, geometry=gpd.GeoSeries(geom, crs=WGS84), crs=WGS84)


def _corridors_metric(corridors: gpd.GeoSeries | None, fr: _Frame) -> Any:
    """The union of ``corridors`` (WGS-84 when they carry no CRS) in the frame's metres; None without any."""
    if corridors is None or not len(corridors):
        return None
    cs = gpd.GeoSeries(corridors)
    cs = cs.set_crs(WGS84) if cs.crs is None else cs
    return shapely.union_all(cs.to_crs(fr.crs).to_numpy())


@dataclass
class _People:
    """The members drawn by :func:`_people`: per member its sector, home village, home (metres),
    name, id, group index, role and committee index; the sectors and the groups."""

    sectors: Any
    sector: np.ndarray
    village: np.ndarray
    xy: np.ndarray
    names: list[str]
    ids: list[str]
    groups: list[dict[str, Any]]
    group: Any
    roles: Any
    conveners: Any
    committee: Any


def _people(sz: NetworkSizes, towns, vil, vxy: np.ndarray, r_mem, r_grp, r_names) -> _People:
    """Stage 4: members by sector with homes, names and ids; groups with conveners; committees."""
    sectors, mem_sector = _member_sectors(sz, r_mem)
    mem_vil, mxy = _member_homes(mem_sector, sectors, towns, vil, vxy, r_mem)
    minority = np.isin(mem_sector, ["少数民族", "宗教"])
    mem_names = N.person_names(r_names, len(mem_sector), minority=minority.tolist())
    mem_ids = [f"M{i + 1:03d}" for i in range(len(mem_sector))]
    groups, mem_group = _make_groups(mem_sector, mxy, sz.groups)
    roles, conveners = _pick_conveners(mem_group, len(groups), sz.conveners, r_grp)
    mem_committee = _assign_committees(mem_sector, sz.committees, r_grp)
    return _People(sectors, mem_sector, mem_vil, mxy, mem_names, mem_ids, groups, mem_group, roles, conveners,
                   mem_committee)


def _people_layers(ppl: _People, fr: _Frame, sz: NetworkSizes) -> dict[str, Any]:
    """The ``members``, ``groups`` and ``committees`` layers of the members drawn by :func:`_people`."""
    return {
        "members": _gdf({"id": ppl.ids, "name": ppl.names, "sector": list(ppl.sector),
                         "group_id": [ppl.groups[g]["id"] for g in ppl.group],
                         "committee_id": [f"K{k + 1:02d}" for k in ppl.committee],
                         "role": ppl.roles}, shapely.points(*fr.to_deg.transform(ppl.xy[:, 0], ppl.xy[:, 1]))),
        "groups": pd.DataFrame({"id": [g["id"] for g in ppl.groups], "name": [g["name"] for g in ppl.groups],
                                "sectors": [g["sectors"] for g in ppl.groups],
                                "convener_id": [ppl.ids[c] for c in ppl.conveners], "station_id": None}),
        "committees": pd.DataFrame({"id": [f"K{k + 1:02d}" for k in range(len(sz.committees))],
                                    "name": list(sz.committees)}),
    }


__all__ = ["COMMITTEES", "NetworkSizes", "ROAD_CLASSES", "SECTOR_FAMILIES", "SECTOR_SHARES",
           "DensityField", "generate_network", "prepare_counties", "township_cells", "township_seats"]
