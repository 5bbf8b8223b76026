"""Tables of an optimisation result (per member, group, committee, station, the responsibility table).

Pure functions: an :class:`~solvers.pipeline.OptimisationResult` and its dataset in, DataFrames out;
no IO (:mod:`geo_service.app.outputs` writes the workbook). Personal fields of constituents (name, phone) are never included.
Costs are in the result's unit (``result.unit``): metres (straight) or seconds (road), and the
column names say which: ``total_m``/``mean_m``/``max_m``/``cost_m`` or ``..._s``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_service.core import glossary as G
from geo_service.core.coverage import village_weights
from geo_service.core.io import sheets
from geo_service.core.locations import distance_basis, has_approximate_locations, location_notes, sources_by_id

#: Chinese sheet titles of the result tables (from the glossary; Excel allows 31 characters).
SHEETS_ZH = {k: G.table_title(k, "zh") for k in ("responsibility", "members", "groups", "committees",
                                                 "stations", "constituents", "uncovered", "long_distances",
                                                 "summary")}


def _names(df: pd.DataFrame) -> dict[str, str]:
    return dict(zip(df["id"].astype(str), df["name"].astype(str))) if len(df) else {}


@dataclass
class _Lookups:
    """Names and figures by id the tables look up (villages, townships, groups, committees, stations, members)."""

    villages: dict[str, str]
    townships: dict[str, str]
    groups: dict[str, str]
    committees: dict[str, str]
    stations: dict[str, str]
    members: dict[str, str]
    village_township: dict[str, str]
    village_population: dict[str, int]
    by_people: bool

    @classmethod
    def of(cls, ds: Any) -> _Lookups:
        v = ds.villages
        return cls(villages=_names(v), townships=_names(ds.townships), groups=_names(ds.groups),
                   committees=_names(ds.committees), stations=_names(ds.stations), members=_names(ds.members),
                   village_township=dict(zip(v["id"].astype(str), v["township_id"].astype(str))),
                   village_population=dict(zip(v["id"].astype(str),
                                               pd.to_numeric(v["population"], errors="coerce").fillna(0).astype(int))),
                   # without population every figure counts villages: no 人口 column holding zeros or village counts
                   by_people=village_weights(v).basis == "population")


def result_tables(result: Any, ds: Any, lang: str = "en") -> dict[str, pd.DataFrame]:
    """DataFrames of a run: responsibility (界别责任区一览表, one row per member), members, groups,
    committees, stations, constituents (ids only), uncovered villages and a per-tier summary.

    ``lang="zh"`` gives what people read (:func:`geo_service.core.io.sheets.localise`): glossary
    headers with units, Chinese enum values (职务 召集人, 站点类型 综合型委员工作站, 求解结果 最优),
    distances in km; the table keys stay English. ``lang="en"`` keeps schema names and stored values.
    """
    G.check_lang(lang)
    unit = result.unit
    tiers = result.tiers
    names = _Lookups.of(ds)
    g_station, g_vill, k_town = _zones(ds, tiers)
    constituents, per_member = _constituents_table(ds, tiers, names)
    members, responsibility = _member_tables(ds, names, g_station, g_vill, k_town, per_member)
    out = {"responsibility": responsibility, "members": members,
           "groups": _groups_table(ds, tiers, names, g_station, g_vill),
           "committees": _committees_table(ds, tiers, names, k_town),
           "stations": _stations_table(ds, names, g_station), "constituents": constituents,
           "uncovered": _uncovered_table(tiers, names), "long_distances": _long_distances_table(tiers),
           "summary": _summary_table(tiers, unit)}
    if has_approximate_locations(ds):  # a dataset with every location by coordinates keeps its columns
        out = _with_distance_basis(out, ds, g_vill)
    by_unit = {"total_cost": f"total_{unit}", "mean_cost": f"mean_{unit}", "max_cost": f"max_{unit}",
               "cost": f"cost_{unit}"}
    out = {k: v.rename(columns=by_unit) for k, v in out.items()}
    return {k: sheets.localise(v, lang) for k, v in out.items()}


def _with_distance_basis(tables: dict[str, pd.DataFrame], ds: Any, g_vill: dict[str, list[str]]
                         ) -> dict[str, pd.DataFrame]:
    """``tables`` with ``distance_basis`` beside their distances: how the ends were located
    (:func:`~geo_service.core.locations.distance_basis`), so a reader sees which are approximate.

    Constituents: the constituent's and its member's location (``unknown`` when unassigned);
    members: the member's and every assigned constituent's; groups (with tier 2's zones): the
    group's contact villages. Distances stay numbers; the basis is a column of its own.
    """
    c_src = sources_by_id(ds.layers.get("constituents"))
    m_src = sources_by_id(ds.layers.get("members"))
    v_src = sources_by_id(ds.villages)
    out = dict(tables)
    cons = tables["constituents"]
    basis = [distance_basis(c_src.get(str(c)), m_src.get(str(m)) if isinstance(m, str) else None)
             for c, m in zip(cons["constituent_id"], cons["member_id"])]
    out["constituents"] = _insert_after(cons, "distance_m", basis)
    mine: dict[str, list[str | None]] = {}
    for c, m in zip(cons["constituent_id"], cons["member_id"]):
        if isinstance(m, str):
            mine.setdefault(m, []).append(c_src.get(str(c)))
    mem = tables["members"]
    out["members"] = _insert_after(mem, "max_cost", [distance_basis(m_src.get(m), *mine.get(m, []))
                                                     for m in mem["member_id"].astype(str)])
    groups = tables["groups"]
    if "zone_max_m" in groups.columns:
        out["groups"] = _insert_after(groups, "zone_max_m", [
            distance_basis(*[v_src.get(v) for v in g_vill.get(g, [])]) if g_vill.get(g) else "unknown"
            for g in groups["group_id"].astype(str)])
    return out


def _insert_after(df: pd.DataFrame, column: str, values: list[str]) -> pd.DataFrame:
    """``df`` with ``distance_basis`` = ``values`` right after ``column``."""
    df = df.copy()
    df.insert(df.columns.get_loc(column) + 1, "distance_basis", pd.Series(values, index=df.index, dtype=object))
    return df


def _zones(ds: Any, tiers: dict[str, Any]
           ) -> tuple[dict[str, str | None], dict[str, list[str]], dict[str, list[str]]]:
    """Group -> station (tier 4 or the dataset), group -> villages, committee -> townships."""
    g_station = {str(g): (None if pd.isna(s) else str(s)) for g, s in zip(ds.groups["id"], ds.groups["station_id"])}
    if "stations" in tiers:
        g_station.update(tiers["stations"].assignment)
    g_vill: dict[str, list[str]] = {}
    if "villages" in tiers:
        for v, g in tiers["villages"].assignment.items():
            if g is not None:
                g_vill.setdefault(g, []).append(v)
    k_town: dict[str, list[str]] = {}
    if "townships" in tiers:
        for t, k in tiers["townships"].assignment.items():
            if k is not None:
                k_town.setdefault(k, []).append(t)
    return g_station, g_vill, k_town


def _constituents_table(ds: Any, tiers: dict[str, Any], names: _Lookups
                        ) -> tuple[pd.DataFrame, dict[str, list[float]]]:
    """One row per constituent of tier 1 (ids only, never personal fields), and each member's costs."""
    c_rows = []
    per_member: dict[str, list[float]] = {}
    if "constituents" in tiers:
        c = ds.constituents
        t1 = tiers["constituents"]
        csec = dict(zip(c["id"].astype(str), c["sector"].astype(str)))
        cvil = dict(zip(c["id"].astype(str), c["village_id"]))
        line = t1.extra.get("distance_m", {})  # straight-line metres, also in road mode
        for cid, mid in t1.assignment.items():
            d = t1.row_cost.get(cid, np.nan) if mid is not None else np.nan
            vid = cvil.get(cid)
            vid = None if vid is None or pd.isna(vid) else str(vid)
            c_rows.append({"constituent_id": cid, "sector": csec.get(cid), "village_id": vid,
                           "village_name": names.villages.get(vid or ""), "member_id": mid,
                           "member_name": names.members.get(mid or ""), "cost": d,
                           "distance_m": line.get(cid, np.nan), "reason": t1.move_reasons.get(cid, "")})
            if mid is not None:
                per_member.setdefault(mid, []).append(d)
    constituents = pd.DataFrame(c_rows, columns=["constituent_id", "sector", "village_id", "village_name",
                                                 "member_id", "member_name", "cost", "distance_m", "reason"])
    return constituents, per_member


def _member_tables(ds: Any, names: _Lookups, g_station: dict[str, str | None], g_vill: dict[str, list[str]],
                   k_town: dict[str, list[str]], per_member: dict[str, list[float]]
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The members table and the responsibility table (one responsibility per row)."""
    m_rows, r_rows = [], []
    for _, m in ds.members.iterrows():
        mid, gid, kid = str(m["id"]), m["group_id"], m["committee_id"]
        gid = None if pd.isna(gid) else str(gid)
        kid = None if pd.isna(kid) else str(kid)
        sid = g_station.get(gid) if gid else None
        ds_ = per_member.get(mid, [])
        arr = np.array(ds_, float)
        tot = float(np.nansum(arr)) if len(arr) else 0.0
        m_rows.append({"member_id": mid, "member_name": m["name"], "sector": m["sector"], "group_id": gid,
                       "group_name": names.groups.get(gid or ""), "committee_id": kid,
                       "committee_name": names.committees.get(kid or ""), "station_id": sid,
                       "station_name": names.stations.get(sid or ""), "constituents": len(ds_),
                       "total_cost": tot, "mean_cost": tot / len(arr) if len(arr) else np.nan,
                       "max_cost": float(np.nanmax(arr)) if len(arr) and np.isfinite(arr).any() else np.nan})
        vs = sorted(g_vill.get(gid or "", []))
        ts = sorted(k_town.get(kid or "", []))
        person = {"member_id": mid, "member_name": m["name"], "sector": m["sector"], "role": m.get("role", "")}
        # one responsibility per row: the group's (station, villages, constituents), then the committee's
        r_rows.append({**person, "responsibility_kind": "group", "group_name": names.groups.get(gid or ""),
                       "committee_name": None, "station_name": names.stations.get(sid or ""),
                       "villages": "、".join(names.villages.get(v, v) for v in vs), "townships": None,
                       "constituents": len(ds_)})
        if kid:
            r_rows.append({**person, "responsibility_kind": "committee", "group_name": None,
                           "committee_name": names.committees.get(kid, kid), "station_name": None, "villages": None,
                           "townships": "、".join(names.townships.get(t, t) for t in ts), "constituents": None})
    # explicit columns: an empty layer still gets its header row
    members = pd.DataFrame(m_rows, columns=["member_id", "member_name", "sector", "group_id", "group_name",
                                            "committee_id", "committee_name", "station_id", "station_name",
                                            "constituents", "total_cost", "mean_cost", "max_cost"])
    responsibility = pd.DataFrame(r_rows, columns=["member_id", "member_name", "sector", "role", "responsibility_kind",
                                                   "group_name", "committee_name", "station_name", "villages",
                                                   "townships", "constituents"])
    responsibility["constituents"] = responsibility["constituents"].astype("Int64")  # blank on committee rows
    return members, responsibility


def _groups_table(ds: Any, tiers: dict[str, Any], names: _Lookups, g_station: dict[str, str | None],
                  g_vill: dict[str, list[str]]) -> pd.DataFrame:
    """One row per group: station, members, convener, contact villages and the zone they reach."""
    mem = ds.members
    g_rows = []
    zones = tiers["villages"].extra.get("zones", {}) if "villages" in tiers else {}
    for _, g in ds.groups.iterrows():
        gid = str(g["id"])
        vs = sorted(g_vill.get(gid, []))
        sid = g_station.get(gid)
        in_g = mem["group_id"].astype(str) == gid
        conv = None if pd.isna(g.get("convener_id")) else str(g.get("convener_id"))
        conv = conv or next((str(x) for x in mem.loc[in_g & (mem["role"] == "convener"), "id"]), None)
        g_rows.append({"group_id": gid, "group_name": g["name"], "sectors": ";".join(g["sectors"] or []),
                       "station_id": sid, "station_name": names.stations.get(sid or ""),
                       "members": int(in_g.sum()), "convener_name": names.members.get(conv or ""),
                       "deputy_conveners": int((in_g & (mem["role"] == "deputy_convener")).sum()),
                       "n_villages": len(vs), "village_ids": ";".join(vs),
                       "villages": "、".join(names.villages.get(v, v) for v in vs),
                       "townships": "、".join(sorted({names.townships.get(names.village_township.get(v, ""), "")
                                                     for v in vs} - {""})),
                       "covered_population": int(sum(names.village_population.get(v, 0) for v in vs))})
        z = zones.get(gid)
        if z is not None:  # tier 2 covering: the zone its contact points reach (km -> m, shown in km)
            g_rows[-1].update({"zone_villages": z["villages"], "zone_population": z["population"],
                               "zone_constituents": z["constituents"],
                               "zone_mean_m": None if z["mean_km"] is None else z["mean_km"] * 1000,
                               "zone_max_m": None if z["max_km"] is None else z["max_km"] * 1000})
    by_people = names.by_people
    return pd.DataFrame(g_rows, columns=["group_id", "group_name", "sectors", "station_id", "station_name",
                                         "members", "convener_name", "deputy_conveners", "n_villages",
                                         "village_ids", "villages", "townships"]
                        + (["covered_population"] if by_people else [])
                        + (["zone_villages"] + (["zone_population"] if by_people else [])
                           + ["zone_constituents", "zone_mean_m", "zone_max_m"] if zones else []))


def _committees_table(ds: Any, tiers: dict[str, Any], names: _Lookups, k_town: dict[str, list[str]]
                      ) -> pd.DataFrame:
    """One row per committee: members, townships and the gap weight left in them."""
    mem = ds.members
    up = tiers["townships"].extra.get("uncovered_population", {}) if "townships" in tiers else {}
    k_rows = []
    for _, k in ds.committees.iterrows():
        kid = str(k["id"])
        ts = sorted(k_town.get(kid, []))
        k_rows.append({"committee_id": kid, "committee_name": k["name"],
                       "members": int((mem["committee_id"].astype(str) == kid).sum()),
                       "n_townships": len(ts), "township_ids": ";".join(ts),
                       "townships": "、".join(names.townships.get(t, t) for t in ts),
                       "uncovered_population": float(sum(up.get(t, 0) for t in ts))})
    committees = pd.DataFrame(k_rows, columns=["committee_id", "committee_name", "members", "n_townships",
                                               "township_ids", "townships", "uncovered_population"])
    if not names.by_people:  # the tier's weights are villages then: gap villages in the committee's townships
        committees = committees.rename(columns={"uncovered_population": "uncovered_villages"})
    return committees


def _stations_table(ds: Any, names: _Lookups, g_station: dict[str, str | None]) -> pd.DataFrame:
    """One row per station: its groups, their members and whether it is over capacity."""
    mem = ds.members
    s_rows = []
    for _, s in ds.stations.iterrows():
        sid = str(s["id"])
        gs = sorted(g for g, st in g_station.items() if st == sid)
        cap = pd.to_numeric(pd.Series([s["capacity"]]), errors="coerce").iloc[0]
        s_rows.append({"station_id": sid, "station_name": s["name"], "station_kind": s["kind"],
                       "sectors": ";".join(s["sectors"] or []), "capacity": cap, "n_groups": len(gs),
                       "groups": "、".join(names.groups.get(g, g) for g in gs),
                       "members": int(mem["group_id"].astype(str).isin(gs).sum()),
                       "over_capacity": bool(pd.notna(cap) and len(gs) > cap)})
    return pd.DataFrame(s_rows, columns=["station_id", "station_name", "station_kind", "sectors", "capacity",
                                         "n_groups", "groups", "members", "over_capacity"])


def _uncovered_table(tiers: dict[str, Any], names: _Lookups) -> pd.DataFrame:
    """Gap villages tier 2 left out of reach (population only where the dataset has it)."""
    unc = []
    if "villages" in tiers:
        for v in tiers["villages"].extra.get("uncovered", []):
            unc.append({"village_id": v, "village_name": names.villages.get(v),
                        "township_name": names.townships.get(names.village_township.get(v, "")),
                        "population": names.village_population.get(v, 0)})
    uncovered = pd.DataFrame(unc, columns=["village_id", "village_name", "township_name", "population"])
    if not names.by_people:
        uncovered = uncovered.drop(columns="population")
    return uncovered


def _long_distances_table(tiers: dict[str, Any]) -> pd.DataFrame:
    """Sectors and townships whose constituents are far from every member of their sector."""
    far = tiers["constituents"].extra.get("long_distances", []) if "constituents" in tiers else []
    return pd.DataFrame([{"sector": x["sector"], "county_name": x["county"], "township_name": x["township"],
                          "constituents": x["constituents"], "line_max_m": x["max_km"] * 1000,
                          "line_mean_m": x["mean_km"] * 1000} for x in far],
                        columns=["sector", "county_name", "township_name", "constituents", "line_max_m",
                                 "line_mean_m"])


def _summary_table(tiers: dict[str, Any], unit: str) -> pd.DataFrame:
    """One row per tier: status, objective, bound, gap, time, relaxations and diagnostics."""
    summ = [{"tier": t, "status": r.status, "objective": r.objective, "bound": r.bound, "gap": r.gap,
             "time_s": r.time_s, "solver": r.solver, "moved": (r.moved or {}).get("moved"),
             "relaxations": [{"tier": t, **x} for x in (r.relaxations or [])],  # one line each, zh or en
             "diagnostics": list(r.diagnostics)} for t, r in tiers.items()]
    summary = pd.DataFrame(summ, columns=["tier", "status", "objective", "bound", "gap", "time_s", "solver",
                                          "moved", "relaxations", "diagnostics"])
    summary.insert(2, "unit", unit)
    return summary


def result_notes(result: Any, ds: Any = None, lang: str = "zh") -> dict[str, Any]:
    """Items of the 说明 sheet of a result workbook: dataset, version, date, parameters, outcome."""
    name = ""
    if ds is not None:
        name = (getattr(ds, "meta", {}) or {}).get("name") or getattr(ds, "name", "") or ""
    params = G.param_items(getattr(result, "params", {}) or {}, lang)
    return {"dataset": name, "version": sheets.service_version(), "date": pd.Timestamp.now().date().isoformat(),
            "parameters": params, "outcome": G.value_label("outcome", getattr(result, "status", ""), lang),
            **(location_notes(ds, lang) if ds is not None and hasattr(ds, "villages") else {})}


def responsibility_first(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The tables with the responsibility table (界别责任区一览表) first."""
    return dict(sorted(tables.items(), key=lambda kv: kv[0] != "responsibility"))


def result_layers(result: Any, ds: Any) -> dict[str, Any]:
    """Map layers of a run (GeoDataFrames in WGS-84, e.g. for GeoJSON export):

    - ``members``: member points with their responsibility row (sector, group, committee, station,
      villages, townships, constituents);
    - ``villages``: the villages tier 2 considered, with ``group_id`` (None = uncovered) and population;
    - ``stations``: station points with the groups they host.
    """
    t = result_tables(result, ds)
    mem = ds.members[["id", "geometry"]].rename(columns={"id": "member_id"})
    resp = t["responsibility"]
    own = resp[resp["responsibility_kind"] == "group"].drop(columns=["responsibility_kind", "committee_name", "townships"])
    kom = resp.loc[resp["responsibility_kind"] == "committee", ["member_id", "committee_name", "townships"]]
    per_member = own.merge(kom, on="member_id", how="left")  # a point per member: both duties on it
    members = gpd.GeoDataFrame(mem.merge(per_member, on="member_id", how="left"),
                               geometry="geometry", crs=ds.members.crs)
    vrows = []
    if "villages" in result.tiers:
        vg = result.tiers["villages"].assignment
        v = ds.villages[ds.villages["id"].astype(str).isin(list(vg))]
        vrows = v[["id", "name", "township_id", "population", "geometry"]].rename(
            columns={"id": "village_id", "name": "village_name"})
        vrows = vrows.assign(group_id=[vg.get(str(i)) for i in vrows["village_id"]])
        vrows = vrows.assign(covered=vrows["group_id"].notna())
        villages = gpd.GeoDataFrame(vrows, geometry="geometry", crs=ds.villages.crs)
    else:
        villages = gpd.GeoDataFrame({"village_id": [], "group_id": []}, geometry=[], crs=ds.villages.crs)
    st = ds.stations[["id", "geometry"]].rename(columns={"id": "station_id"})
    stations = gpd.GeoDataFrame(st.merge(t["stations"], on="station_id", how="left"), geometry="geometry",
                                crs=ds.stations.crs)
    return {"members": members, "villages": villages, "stations": stations}
