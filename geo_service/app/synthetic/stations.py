"""Synthetic stations: comprehensive, sector, studios and contact points, placed where members and
people are (stage 5 of :func:`geo_service.app.synthetic.generate_network`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

from .common import NetworkSizes, SECTOR_FAMILIES, _FAMILY_OF, _largest_remainder


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
