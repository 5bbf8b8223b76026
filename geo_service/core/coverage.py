"""Last-mile coverage of villages by stations: per village, summaries by threshold, gaps, isochrones.

Two modes measure how far a village is from a station:

* ``"straight"``: straight-line ground distance in metres (:class:`geo_service.core.index.StationIndex`);
* ``"road"``: door-to-door travel time in seconds over the road graph
  (:class:`geo_service.core.network.RoadNetwork`, off-road legs at its stated off-road speed).

A village is *covered* at a threshold when a matching station lies within it (distance <=
threshold); coverage is weighted by village population (persons), or counts villages where the
population is unknown (:func:`village_weights`; ``weight`` in every result says which). A *sector* (界别) is covered in
a village when a station hosting that sector lies within the threshold. Everything here is pure:
datasets in, DataFrames and JSON-ready dicts out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .dataset import Dataset
from .domain import SECTORS, STATION_KINDS
from .index import InvalidQuery, StationIndex, check_kinds, check_sector
from .locations import location_line, present, real_mask, source_counts, unlocated_ids
from .network import RoadNetwork

MODES = ("straight", "road")
#: What a dataset without stations can still answer, and the file that unlocks the rest.
NO_STATIONS_NOTE = "没有站点：每个村都是空白；请添加 站点.csv（名称、类型、经度、纬度）"  # zh file names are read too


def dataset_notes(ds: Dataset) -> list[str]:
    """Missing layers explained (Chinese): what the answers mean without them, which file to add.

    Parameters
    ----------
    ds : geo_service.core.dataset.Dataset

    Returns
    -------
    list of str
        One note per missing layer that changes the answers (empty when nothing is missing).
    """
    notes = []
    if len(ds.stations) == 0:
        notes.append(NO_STATIONS_NOTE)
    return notes

#: Below this share of villages with a known population, coverage counts villages (weight 1 each).
MIN_KNOWN_POPULATION_SHARE = 0.5


@dataclass(frozen=True)
class VillageWeights:
    """What each village weighs in shares, gap ranking and the location objectives.

    The one rule (documented in README "Unknown population"):

    * every village has a population > 0 known: weight = population (persons), ``basis="population"``;
    * no population known, or known for fewer than :data:`MIN_KNOWN_POPULATION_SHARE` of the villages,
      or every known figure is 0: weight 1 per village, ``basis="villages"`` (shares are shares of
      villages);
    * otherwise (at least half known): a village without a population weighs the median of the known
      figures, ``basis="population"``, and ``note`` says how many were filled.

    Attributes
    ----------
    weights : ndarray of float, one per village (persons, or 1.0 per village).
    basis : ``"population"`` or ``"villages"``.
    known : int, villages with a population figure.
    total : int, villages.
    note : str or None, the warning to show once (Chinese) when the basis is not plain population.
    """

    weights: np.ndarray
    basis: str
    known: int
    total: int
    note: str | None = None

    @property
    def unit_zh(self) -> str:
        return "人口" if self.basis == "population" else "村数"


def village_weights(villages: pd.DataFrame) -> VillageWeights:
    """Apply the unknown-population rule to ``villages`` (see :class:`VillageWeights`).

    Parameters
    ----------
    villages : pandas.DataFrame
        The villages layer; ``population`` (persons) may be absent or blank for some rows.

    Returns
    -------
    VillageWeights
        Per-village weights (persons, or 1 per village when population is unknown) and what
        they stand for.
    """
    n = len(villages)
    raw = (pd.to_numeric(villages["population"], errors="coerce") if "population" in villages
           else pd.Series(np.nan, index=villages.index)).to_numpy(dtype=float)
    known = np.isfinite(raw)
    nk = int(known.sum())
    if n == 0:
        return VillageWeights(np.zeros(0), "population", 0, 0)
    if nk == 0 or nk < MIN_KNOWN_POPULATION_SHARE * n or not (raw[known] > 0).any():
        why = ("没有人口数据" if nk == 0 else
               f"只有 {nk}/{n} 个村有人口数据" if nk < MIN_KNOWN_POPULATION_SHARE * n else "人口均为 0")
        return VillageWeights(np.ones(n), "villages", nk, n,
                              f"{why}：覆盖率按村数计算（每村计 1）；请在 村社区.csv 中补充人口列")
    if nk == n:
        return VillageWeights(raw.copy(), "population", nk, n)
    med = float(np.median(raw[known]))
    w = np.where(known, raw, med)
    return VillageWeights(w, "population", nk, n,
                          f"{n - nk}/{n} 个村没有人口数据：按已知村人口的中位数 {med:.0f} 人计")


def _known_pop(v: pd.DataFrame) -> np.ndarray:
    """Known population per village (persons, int64), 0 where unknown."""
    return pd.to_numeric(v["population"], errors="coerce").fillna(0).astype(np.int64).to_numpy()


def _check_mode(mode: str, network: RoadNetwork | None, ds: Dataset) -> RoadNetwork | None:
    if mode not in MODES:
        raise InvalidQuery(f"unknown mode '{mode}' (expected one of {', '.join(MODES)})", field="mode",
                           value=mode, code="literal_error", ctx={"expected": ", ".join(MODES)})
    if mode == "road" and network is None:
        if len(ds.roads) == 0:
            raise InvalidQuery("road mode needs a roads layer; this dataset has none (没有道路：请添加 "
                               "roads.shp，如 Geofabrik 的 gis_osm_roads_free_1.shp，或 .osm.pbf)",
                               field="mode", value=mode, code="no_roads")
        network = RoadNetwork.from_dataset(ds)
    return network


def _check_thresholds(values: Iterable[float] | None, field: str) -> list[float]:
    vals = [] if values is None else list(values)
    if not vals:
        raise InvalidQuery("give at least one threshold", field=field, value=vals, code="too_short",
                           ctx={"min_length": 1})
    out = []
    for i, v in enumerate(vals):
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise InvalidQuery(f"{v!r} is not a number", field=field, index=i, value=v,
                               code="float_parsing") from None
        if not np.isfinite(f) or f <= 0:
            raise InvalidQuery(f"{v!r} must be a positive number", field=field, index=i, value=v,
                               code="greater_than", ctx={"gt": 0})
        out.append(f)
    return sorted(set(out))


def _village_points(ds: Dataset, index: StationIndex) -> np.ndarray:
    """Village points in the index's metres; NaN rows for villages of unknown location."""
    v = ds.villages
    out = np.full((len(v), 2), np.nan)
    has = present(v.geometry)
    if has.any():
        g = v.geometry[has]
        out[has] = index.project(g.x.to_numpy(), g.y.to_numpy())
    return out


def _nearest(ds: Dataset, xy: np.ndarray, mode: str, index: StationIndex, network: RoadNetwork | None,
             kinds: frozenset[str] | None = None, sector: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(value, station id) per village: metres (straight) or seconds (road); inf/None if none, and
    for a village of unknown location (it is never within any threshold)."""
    value, sid = np.full(len(xy), np.inf), np.full(len(xy), None, dtype=object)
    ok = np.isfinite(xy).all(axis=1) if len(xy) else np.zeros(0, dtype=bool)
    if not ok.any():
        return value, sid
    if mode == "straight":
        r = index.nearest_xy(xy[ok], kinds=kinds, sector=sector)
        value[ok], sid[ok] = r.distance_m[:, 0], r.station_id[:, 0]
    else:
        assert network is not None  # _check_mode gives road mode a network
        rr = network.nearest_xy(xy[ok], kinds=kinds, sector=sector)
        value[ok], sid[ok] = rr.time_s, rr.station_id
    return value, sid


def last_mile(ds: Dataset, network: RoadNetwork | None = None, *, index: StationIndex | None = None
              ) -> pd.DataFrame:
    """Per village, the nearest station overall and of each kind.

    Columns: village_id, village_name, township_id, population, then for each of ``nearest``
    (any kind) and every kind in :data:`~geo_service.core.domain.STATION_KINDS`: ``<k>_id`` and
    ``<k>_m`` (straight-line nearest station and its distance, metres). With a ``network``, also
    ``<k>_road_id``, ``<k>_s`` (nearest by travel time and the door-to-door time, seconds; it may
    be a different station from the straight-line one) and ``<k>_road_m`` (metres on roads),
    plus ``snap_m`` and ``far_from_road``. Missing stations give id None and inf.

    Parameters
    ----------
    ds : geo_service.core.dataset.Dataset
    network : RoadNetwork, optional
        Adds the road columns (seconds, metres) when given.
    index : StationIndex, optional
        A prebuilt index of ``ds`` (built when not given).

    Returns
    -------
    pandas.DataFrame
        One row per village, the columns above (metres, seconds).
    """
    index = index or StationIndex.from_dataset(ds)
    v = ds.villages
    out = pd.DataFrame({"village_id": v["id"].to_numpy(), "village_name": v["name"].to_numpy(),
                        "township_id": v["township_id"].to_numpy(),
                        "population": _known_pop(v), "weight": village_weights(v).weights,
                        "location_source": v["location_source"].to_numpy()})
    xy = _village_points(ds, index)
    ok = np.isfinite(xy).all(axis=1)
    for label, kinds in (("nearest", None),) + tuple((k, k) for k in STATION_KINDS):
        sid, dist = np.full(len(xy), None, dtype=object), np.full(len(xy), np.inf)
        if ok.any():
            r = index.nearest_xy(xy[ok], kinds=kinds)
            sid[ok], dist[ok] = r.station_id[:, 0], r.distance_m[:, 0]
        out[f"{label}_id"], out[f"{label}_m"] = sid, dist
        if network is not None:
            cols = {c: np.full(len(xy), None if c == "road_id" else np.inf, dtype=object if c == "road_id"
                               else float) for c in ("road_id", "s", "road_m")}
            if ok.any():
                rr = network.nearest_xy(xy[ok], kinds=kinds)
                cols["road_id"][ok], cols["s"][ok], cols["road_m"][ok] = rr.station_id, rr.time_s, rr.road_m
                if label == "nearest":
                    snap, far = np.full(len(xy), np.nan), np.zeros(len(xy), dtype=bool)
                    snap[ok], far[ok] = rr.snap_m, rr.far_from_road
                    out["snap_m"], out["far_from_road"] = snap, far
            elif label == "nearest":
                out["snap_m"], out["far_from_road"] = np.full(len(xy), np.nan), np.zeros(len(xy), dtype=bool)
            for c, vals in cols.items():
                out[f"{label}_{c}"] = vals
    return out


def _present_sectors(ds: Dataset) -> list[str]:
    seen: set[str] = set()
    for col in (ds.stations["sectors"], ds.groups["sectors"]):
        for items in col:
            seen.update(items or [])
    for col in (ds.members["sector"], ds.constituents["sector"]):
        seen.update(s for s in col if s)
    return [s for s in SECTORS if s in seen] + sorted(seen - set(SECTORS))


def _rows(keys: dict[str, Any], pop: np.ndarray, within: np.ndarray, thresholds: Sequence[float],
          weight: np.ndarray | None = None, given: np.ndarray | None = None) -> list[dict[str, Any]]:
    """One record per threshold for a set of villages (``within``: villages x thresholds).

    ``share`` is the weighted share (``weight``: see :func:`village_weights`; default ``pop``) of
    every village of the list (a village of unknown location is never within);
    ``population``/``covered_population`` are the known persons (0 where unknown);
    ``covered_given_villages`` counts the covered villages whose point is their own (``given`` mask).
    """
    w = pop.astype(float) if weight is None else weight
    g = np.ones(len(pop), dtype=bool) if given is None else given
    total, wt = int(pop.sum()), float(w.sum())
    rows = []
    for j, t in enumerate(thresholds):
        cov = int(pop[within[:, j]].sum())
        wc = float(w[within[:, j]].sum())
        rows.append({**keys, "threshold": t, "villages": len(pop),
                     "covered_villages": int(within[:, j].sum()),
                     "covered_given_villages": int((within[:, j] & g).sum()),
                     "given_villages": int(g.sum()), "population": total,
                     "covered_population": cov, "share": (wc / wt) if wt else None})
    return rows


def coverage_summary(ds: Dataset, thresholds_m: Iterable[float] = (5000, 10000, 20000),
                     thresholds_s: Iterable[float] = (900, 1800, 3600), mode: str = "straight", *,
                     network: RoadNetwork | None = None, kinds: str | Iterable[str] | None = None,
                     index: StationIndex | None = None) -> dict[str, Any]:
    """Population-weighted coverage by threshold: in total, per county, per township, per sector.

    ``mode="straight"`` uses ``thresholds_m`` (metres), ``mode="road"`` uses ``thresholds_s``
    (seconds, door to door; ``network`` is built from the dataset when not given). ``kinds``
    restricts the stations counted (default: every kind). A village is covered when a matching
    station lies within the threshold; for the ``sector`` table, when a matching station hosting
    that sector does (sectors listed: those that appear anywhere in the dataset).

    Every village of the list counts; one of unknown location is never covered. The answer says
    what it stands on: ``location_sources`` (villages by ``location_source``, summing to every
    village), ``unlocated`` (ids of the villages of unknown location), ``location_line`` (one
    Chinese line, :func:`location_line`) and per row ``covered_given_villages`` (covered villages
    whose point is their own: given or placed) out of ``given_villages``.

    Returns a JSON-ready dict: ``mode``, ``unit`` ("m" or "s"), ``thresholds``, ``kinds``, and
    tables as lists of records ``total``, ``county``, ``township``, ``sector`` with columns
    threshold, villages, covered_villages, population, covered_population, share (weighted, see
    :func:`village_weights`; None when there is nothing to weigh), and top-level ``weight``
    (``"population"`` or ``"villages"``), ``weight_note`` and ``population_known``, plus their keys
    (county_id/county_name, township_id/township_name/county_id, sector/stations).

    Parameters
    ----------
    ds : geo_service.core.dataset.Dataset
    thresholds_m : iterable of float
        Straight-line thresholds, metres (positive).
    thresholds_s : iterable of float
        Travel-time thresholds, seconds door to door (positive).
    mode : {"straight", "road"}
    network : RoadNetwork, optional
        For road mode; built from ``ds`` when not given.
    kinds : str, iterable of str or None
        Station kinds counted (aliases accepted); None: every kind.
    index : StationIndex, optional
        A prebuilt index of ``ds``.

    Returns
    -------
    dict
        The JSON-ready summary described above.

    Raises
    ------
    InvalidQuery
        (a ValueError) naming the field: unknown ``mode``, road mode without roads, an empty
        list of thresholds or one that is not a positive number, an unknown kind.
    """
    network = _check_mode(mode, network, ds)
    thresholds = _check_thresholds(thresholds_m if mode == "straight" else thresholds_s,
                                   "thresholds_m" if mode == "straight" else "thresholds_s")
    kset = check_kinds(kinds)
    index = index or StationIndex.from_dataset(ds)
    v = ds.villages
    pop = _known_pop(v)
    vw = village_weights(v)
    w = vw.weights
    xy = _village_points(ds, index)
    thr = np.asarray(thresholds)
    value, _ = _nearest(ds, xy, mode, index, network, kinds=kset)
    within = value[:, None] <= thr[None, :]
    given = real_mask(v)
    county, township = _area_tables(ds, pop, within, thresholds, w, given)
    sector = []
    st_mask_kind = index.mask(kinds=kset)
    for sec in _present_sectors(ds):
        sv, _ = _nearest(ds, xy, mode, index, network, kinds=kset, sector=sec)
        hosting = int((index.mask(sector=sec) & st_mask_kind).sum())
        sector += _rows({"sector": sec, "stations": hosting}, pop, sv[:, None] <= thr[None, :], thresholds, w,
                        given)
    return {"mode": mode, "unit": "m" if mode == "straight" else "s", "thresholds": thresholds,
            "kinds": sorted(kset) if kset else None, "weight": vw.basis, "weight_note": vw.note,
            "population_known": vw.known, "notes": dataset_notes(ds), "location_sources": source_counts(v),
            "unlocated": unlocated_ids(v), "location_line": location_line(v),
            "total": _rows({}, pop, within, thresholds, w, given), "county": county, "township": township,
            "sector": sector}


def _area_tables(ds: Dataset, pop: np.ndarray, within: np.ndarray, thresholds: Sequence[float], w: np.ndarray,
                 given: np.ndarray) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ``county`` and ``township`` tables of :func:`coverage_summary` (villages in the order
    of ``ds.villages``; ``within``: villages x thresholds)."""
    tw = ds.townships.set_index("id")
    county_of_t = tw["county_id"].to_dict()
    county_names = ds.counties.set_index("id")["name"].to_dict()
    t_ids = ds.villages["township_id"].to_numpy()
    c_ids = np.array([county_of_t.get(t) for t in t_ids], dtype=object)
    county: list[dict[str, Any]] = []
    for cid in dict.fromkeys(c_ids.tolist()):
        m = np.array([c == cid for c in c_ids], dtype=bool)
        county += _rows({"county_id": cid, "county_name": county_names.get(cid)}, pop[m],
                        within[m], thresholds, w[m], given[m])
    township: list[dict[str, Any]] = []
    for tid in ds.townships["id"]:
        m = t_ids == tid
        township += _rows({"township_id": tid, "township_name": tw.at[tid, "name"],
                           "county_id": county_of_t.get(tid)}, pop[m], within[m], thresholds,
                          w[m], given[m])
    return county, township


def find_gaps(ds: Dataset, threshold_m: float | None = None, threshold_s: float | None = None,
              mode: str = "straight", *, network: RoadNetwork | None = None,
              kinds: str | Iterable[str] | None = None, sector: str | None = None,
              index: StationIndex | None = None) -> gpd.GeoDataFrame:
    """Villages beyond the threshold from every matching station, most populous first.

    ``mode="straight"``: ``threshold_m`` metres (default 10,000); ``mode="road"``:
    ``threshold_s`` seconds door to door (default 1,800). ``kinds``/``sector`` restrict the
    stations. Columns: rank, village_id, village_name, township_id, township_name, population,
    station_id (nearest matching station, None if none), ``distance_m`` & ``beyond_m`` (straight)
    or ``time_s`` & ``beyond_s`` (road): how far the village lies, and how far beyond the
    threshold (inf when no station can be reached). Geometry: village points, WGS-84.

    Parameters
    ----------
    ds : geo_service.core.dataset.Dataset
    threshold_m : float, optional
        Straight-line threshold, metres (default 10,000).
    threshold_s : float, optional
        Travel-time threshold, seconds (default 1,800).
    mode : {"straight", "road"}
    network : RoadNetwork, optional
        For road mode; built from ``ds`` when not given.
    kinds : str, iterable of str or None
        Station kinds that count (aliases accepted); None: every kind.
    sector : str or None
        A sector (界别) the station must host; None: any.
    index : StationIndex, optional
        A prebuilt index of ``ds``.

    Returns
    -------
    geopandas.GeoDataFrame
        The gap villages, most populous first, with the columns above.

    Raises
    ------
    InvalidQuery
        (a ValueError) naming the field: unknown ``mode``, road mode without roads, a threshold
        that is not a positive number, an unknown kind or sector.
    """
    network = _check_mode(mode, network, ds)
    if mode == "straight":
        t = _check_thresholds([10000.0 if threshold_m is None else threshold_m], "threshold_m")[0]
    else:
        t = _check_thresholds([1800.0 if threshold_s is None else threshold_s], "threshold_s")[0]
    kset, sec = check_kinds(kinds), check_sector(sector)
    index = index or StationIndex.from_dataset(ds)
    v = ds.villages
    xy = _village_points(ds, index)
    value, sid = _nearest(ds, xy, mode, index, network, kinds=kset, sector=sec)
    unit = "m" if mode == "straight" else "s"
    measure = "distance_m" if mode == "straight" else "time_s"
    tnames = ds.townships.set_index("id")["name"].to_dict()
    gaps = gpd.GeoDataFrame({
        "village_id": v["id"].to_numpy(), "village_name": v["name"].to_numpy(),
        "township_id": v["township_id"].to_numpy(),
        "township_name": [tnames.get(x) for x in v["township_id"]],
        "population": _known_pop(v), "weight": village_weights(v).weights,
        "station_id": sid, measure: value, f"beyond_{unit}": value - t,
        "location_source": v["location_source"].to_numpy(),
    }, geometry=v.geometry.to_numpy(), crs=v.crs)
    # ranked by weight: persons, or (population unknown) every village equal, farthest first; a
    # village of unknown location is no known gap (coverage lists it as unlocated)
    gaps = gaps[(gaps[measure] > t) & present(gaps.geometry)].sort_values(["weight", measure], ascending=[False, False],
                                                kind="stable")
    gaps.insert(0, "rank", np.arange(1, len(gaps) + 1))
    return gaps.reset_index(drop=True)


def service_areas(ds: Dataset, network: RoadNetwork | None = None, thresholds_s: Iterable[float] = (900, 1800),
                  dissolve: bool = False, *, kinds: str | Iterable[str] | None = None,
                  sector: str | None = None, buffer_m: float = 200.0) -> gpd.GeoDataFrame:
    """Isochrones (WGS-84 polygons) per station and threshold (seconds), or dissolved per threshold.

    See :meth:`geo_service.core.network.RoadNetwork.service_areas`.

    Parameters
    ----------
    ds : geo_service.core.dataset.Dataset
    network : RoadNetwork, optional
        Built from ``ds`` when not given.
    thresholds_s : iterable of float
        Travel times, seconds (positive).
    dissolve : bool
        One polygon per threshold instead of one per station and threshold.
    kinds, sector
        Station filter, as for :func:`find_gaps`.
    buffer_m : float
        Width in metres of the buffer round the reached road pieces.

    Returns
    -------
    geopandas.GeoDataFrame
        Isochrone polygons in WGS-84 with their threshold (seconds) and area (km²).

    Raises
    ------
    InvalidQuery
        (a ValueError) when the dataset has no roads, for a threshold that is not a positive
        number, or an unknown kind or sector.
    """
    network = _check_mode("road", network, ds)
    assert network is not None  # _check_mode gives road mode a network
    return network.service_areas(_check_thresholds(thresholds_s, "thresholds_s"), kinds=kinds,
                                 sector=sector, buffer_m=buffer_m, dissolve=dissolve)


def summary_frames(summary: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """The tables of a :func:`coverage_summary` result as DataFrames.

    Parameters
    ----------
    summary : dict
        A :func:`coverage_summary` result.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``total``, ``county``, ``township`` and ``sector`` tables.
    """
    return {k: pd.DataFrame(summary[k]) for k in ("total", "county", "township", "sector")}


#: Where a village's point comes from, most trustworthy first (column ``location_source``).
_LOCATION_SOURCES = ("given", "placed", "township_seat", "township_centre", "unknown")


def _location_sources(villages: pd.DataFrame) -> np.ndarray:
    """Each village's source: the column where it names one, else ``given`` with a point and
    ``unknown`` without; never other than ``unknown`` without a point."""
    n = len(villages)
    if isinstance(villages, gpd.GeoDataFrame) and villages.geometry.name in villages.columns:
        has_point = ~(villages.geometry.isna() | villages.geometry.is_empty).to_numpy()
    else:
        has_point = np.zeros(n, dtype=bool)
    col = villages["location_source"].tolist() if "location_source" in villages.columns else [None] * n
    src = [c if c in _LOCATION_SOURCES else ("given" if p else "unknown") for c, p in zip(col, has_point)]
    return np.where(has_point, np.array(src, dtype=object), "unknown")


__all__ = ["MODES", "NO_STATIONS_NOTE", "VillageWeights", "coverage_summary", "dataset_notes", "find_gaps",
           "last_mile", "location_line", "service_areas", "summary_frames", "village_weights"]
