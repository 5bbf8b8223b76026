"""Tables of an optimisation result (per member, group, committee, station, the responsibility table).

Pure functions: an :class:`~solvers.pipeline.OptimisationResult` and its dataset in, DataFrames out;
:func:`write_xlsx` is the only IO. Personal fields of constituents (name, phone) are never included.
Costs are in the result's unit (``result.unit``): metres (straight) or seconds (road), and the
column names say which: ``total_m``/``mean_m``/``max_m``/``cost_m`` or ``..._s``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

ZH: dict[str, str] = {
    "member_id": "委员编号", "member_name": "委员", "sector": "界别", "group_id": "活动组编号",
    "group_name": "界别活动组", "committee_id": "专委会编号", "committee_name": "专委会",
    "station_id": "工作站编号", "station_name": "委员工作站", "station_kind": "站点类型",
    "constituents": "联系群众数",
    "villages": "责任村社区", "village_ids": "村社区编号", "n_villages": "村社区数",
    "townships": "责任乡镇", "township_ids": "乡镇编号", "n_townships": "乡镇数",
    "population": "覆盖人口", "uncovered_population": "未覆盖人口", "members": "委员数",
    "groups": "入站活动组", "n_groups": "活动组数", "capacity": "容量", "over_capacity": "超出容量",
    "sectors": "界别", "constituent_id": "群众编号", "village_id": "村社区编号",
    "village_name": "村社区", "township_id": "乡镇编号", "township_name": "乡镇", "reason": "说明",
    "groups_needed": "还需活动组数", "tier": "层级", "id": "编号", "previous": "原分配", "new": "新分配",
    "status": "状态", "objective": "目标值", "bound": "下界", "gap": "间隙", "time_s": "用时(秒)",
    "solver": "求解器", "diagnostics": "诊断", "moved": "调整数", "role": "职务",
    "distance_km": "距离(公里)", "zone_villages": "责任区村社区数", "zone_population": "责任区人口",
    "zone_constituents": "责任区群众数", "zone_mean_km": "责任区平均距离(公里)",
    "zone_max_km": "责任区最远距离(公里)", "county": "县市区", "township": "乡镇", "max_km": "最远(公里)",
    "mean_km": "平均(公里)",
}
ZH_M = {"total_m": "总距离(米)", "mean_m": "平均距离(米)", "max_m": "最远距离(米)", "cost_m": "距离(米)",
        "unit": "单位"}
ZH_S = {"total_s": "总用时(秒)", "mean_s": "平均用时(秒)", "max_s": "最长用时(秒)", "cost_s": "用时(秒)",
        "unit": "单位"}
SHEETS_ZH = {"responsibility": "界别责任区一览表", "members": "委员", "groups": "界别活动组",
             "committees": "专委会", "stations": "委员工作站", "constituents": "界别群众",
             "uncovered": "未覆盖村社区", "long_distances": "远距离联系", "summary": "求解概况"}


def _names(df: pd.DataFrame) -> dict[str, str]:
    return dict(zip(df["id"].astype(str), df["name"].astype(str))) if len(df) else {}


def result_tables(result: Any, ds: Any, lang: str = "en") -> dict[str, pd.DataFrame]:
    """DataFrames of a run: responsibility (界别责任区一览表, one row per member), members, groups,
    committees, stations, constituents (ids only), uncovered villages and a per-tier summary.

    ``lang="zh"`` gives Chinese column headers (the table keys stay English).
    """
    unit = result.unit
    tiers = result.tiers
    mem = ds.members
    vnames, tnames = _names(ds.villages), _names(ds.townships)
    gnames, knames, snames = _names(ds.groups), _names(ds.committees), _names(ds.stations)
    v_town = dict(zip(ds.villages["id"].astype(str), ds.villages["township_id"].astype(str)))
    v_pop = dict(zip(ds.villages["id"].astype(str),
                     pd.to_numeric(ds.villages["population"], errors="coerce").fillna(0).astype(int)))

    # group -> station (tier 4 or the dataset), group -> villages, committee -> townships
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

    # constituents
    c_rows = []
    per_member: dict[str, list[float]] = {}
    if "constituents" in tiers:
        c = ds.constituents
        t1 = tiers["constituents"]
        csec = dict(zip(c["id"].astype(str), c["sector"].astype(str)))
        cvil = dict(zip(c["id"].astype(str), c["village_id"]))
        km = t1.extra.get("distance_km", {})
        for cid, mid in t1.assignment.items():
            d = t1.row_cost.get(cid, np.nan) if mid is not None else np.nan
            c_rows.append({"constituent_id": cid, "sector": csec.get(cid), "village_id": cvil.get(cid),
                           "member_id": mid, "cost": d, "distance_km": km.get(cid, np.nan),
                           "reason": t1.move_reasons.get(cid, "")})
            if mid is not None:
                per_member.setdefault(mid, []).append(d)
    constituents = pd.DataFrame(c_rows, columns=["constituent_id", "sector", "village_id", "member_id", "cost",
                                                 "distance_km", "reason"])

    m_rows, r_rows = [], []
    for _, m in mem.iterrows():
        mid, gid, kid = str(m["id"]), m["group_id"], m["committee_id"]
        gid = None if pd.isna(gid) else str(gid)
        kid = None if pd.isna(kid) else str(kid)
        sid = g_station.get(gid) if gid else None
        ds_ = per_member.get(mid, [])
        arr = np.array(ds_, float)
        tot = float(np.nansum(arr)) if len(arr) else 0.0
        row = {"member_id": mid, "member_name": m["name"], "sector": m["sector"], "group_id": gid,
               "group_name": gnames.get(gid or ""), "committee_id": kid, "committee_name": knames.get(kid or ""),
               "station_id": sid, "station_name": snames.get(sid or ""), "constituents": len(ds_),
               "total_cost": tot, "mean_cost": tot / len(arr) if len(arr) else np.nan,
               "max_cost": float(np.nanmax(arr)) if len(arr) and np.isfinite(arr).any() else np.nan}
        m_rows.append(row)
        vs = sorted(g_vill.get(gid or "", []))
        ts = sorted(k_town.get(kid or "", []))
        r_rows.append({"member_id": mid, "member_name": m["name"], "sector": m["sector"],
                       "role": m.get("role", ""), "group_name": gnames.get(gid or ""),
                       "committee_name": knames.get(kid or ""), "station_name": snames.get(sid or ""),
                       "villages": "、".join(vnames.get(v, v) for v in vs),
                       "townships": "、".join(tnames.get(t, t) for t in ts),
                       "constituents": len(ds_)})
    # explicit columns: an empty layer still gets its header row
    members = pd.DataFrame(m_rows, columns=["member_id", "member_name", "sector", "group_id", "group_name",
                                            "committee_id", "committee_name", "station_id", "station_name",
                                            "constituents", "total_cost", "mean_cost", "max_cost"])
    responsibility = pd.DataFrame(r_rows, columns=["member_id", "member_name", "sector", "role", "group_name",
                                                   "committee_name", "station_name", "villages", "townships",
                                                   "constituents"])

    g_rows = []
    zones = tiers["villages"].extra.get("zones", {}) if "villages" in tiers else {}
    for _, g in ds.groups.iterrows():
        gid = str(g["id"])
        vs = sorted(g_vill.get(gid, []))
        sid = g_station.get(gid)
        g_rows.append({"group_id": gid, "group_name": g["name"], "sectors": ";".join(g["sectors"] or []),
                       "station_id": sid, "station_name": snames.get(sid or ""),
                       "members": int((mem["group_id"].astype(str) == gid).sum()),
                       "n_villages": len(vs), "village_ids": ";".join(vs),
                       "villages": "、".join(vnames.get(v, v) for v in vs),
                       "townships": "、".join(sorted({tnames.get(v_town.get(v, ""), "") for v in vs} - {""})),
                       "population": int(sum(v_pop.get(v, 0) for v in vs))})
        z = zones.get(gid)
        if z is not None:  # tier 2 covering: the zone its contact points reach
            g_rows[-1].update({"zone_villages": z["villages"], "zone_population": z["population"],
                               "zone_constituents": z["constituents"], "zone_mean_km": z["mean_km"],
                               "zone_max_km": z["max_km"]})
    groups = pd.DataFrame(g_rows, columns=["group_id", "group_name", "sectors", "station_id", "station_name",
                                           "members", "n_villages", "village_ids", "villages", "townships",
                                           "population"]
                          + (["zone_villages", "zone_population", "zone_constituents", "zone_mean_km",
                              "zone_max_km"] if zones else []))

    up = tiers["townships"].extra.get("uncovered_population", {}) if "townships" in tiers else {}
    k_rows = []
    for _, k in ds.committees.iterrows():
        kid = str(k["id"])
        ts = sorted(k_town.get(kid, []))
        k_rows.append({"committee_id": kid, "committee_name": k["name"],
                       "members": int((mem["committee_id"].astype(str) == kid).sum()),
                       "n_townships": len(ts), "township_ids": ";".join(ts),
                       "townships": "、".join(tnames.get(t, t) for t in ts),
                       "uncovered_population": float(sum(up.get(t, 0) for t in ts))})
    committees = pd.DataFrame(k_rows, columns=["committee_id", "committee_name", "members", "n_townships",
                                               "township_ids", "townships", "uncovered_population"])

    s_rows = []
    for _, s in ds.stations.iterrows():
        sid = str(s["id"])
        gs = sorted(g for g, st in g_station.items() if st == sid)
        cap = pd.to_numeric(pd.Series([s["capacity"]]), errors="coerce").iloc[0]
        s_rows.append({"station_id": sid, "station_name": s["name"], "station_kind": s["kind"],
                       "sectors": ";".join(s["sectors"] or []), "capacity": cap, "n_groups": len(gs),
                       "groups": "、".join(gnames.get(g, g) for g in gs),
                       "members": int(mem["group_id"].astype(str).isin(gs).sum()),
                       "over_capacity": bool(pd.notna(cap) and len(gs) > cap)})
    stations = pd.DataFrame(s_rows, columns=["station_id", "station_name", "station_kind", "sectors", "capacity",
                                             "n_groups", "groups", "members", "over_capacity"])

    unc = []
    if "villages" in tiers:
        for v in tiers["villages"].extra.get("uncovered", []):
            unc.append({"village_id": v, "village_name": vnames.get(v), "township_name": tnames.get(v_town.get(v, "")),
                        "population": v_pop.get(v, 0)})
    uncovered = pd.DataFrame(unc, columns=["village_id", "village_name", "township_name", "population"])

    far = tiers["constituents"].extra.get("long_distances", []) if "constituents" in tiers else []
    long_distances = pd.DataFrame(far, columns=["sector", "county", "township", "constituents", "max_km",
                                                "mean_km"])
    summ = [{"tier": t, "status": r.status, "objective": r.objective, "bound": r.bound, "gap": r.gap,
             "time_s": r.time_s, "solver": r.solver, "moved": (r.moved or {}).get("moved"),
             "diagnostics": " | ".join(d.get("message", "") for d in r.diagnostics)} for t, r in tiers.items()]
    summary = pd.DataFrame(summ, columns=["tier", "status", "objective", "bound", "gap", "time_s", "solver",
                                          "moved", "diagnostics"])
    summary.insert(2, "unit", unit)
    out = {"responsibility": responsibility, "members": members, "groups": groups, "committees": committees,
           "stations": stations, "constituents": constituents, "uncovered": uncovered, "long_distances": long_distances,
           "summary": summary}
    by_unit = {"total_cost": f"total_{unit}", "mean_cost": f"mean_{unit}", "max_cost": f"max_{unit}",
               "cost": f"cost_{unit}"}
    out = {k: v.rename(columns=by_unit) for k, v in out.items()}
    if lang == "zh":
        zh = {**ZH, **(ZH_M if unit == "m" else ZH_S)}
        out = {k: v.rename(columns=zh) for k, v in out.items()}
    return out


def write_xlsx(tables: dict[str, pd.DataFrame], path: str | Path, lang: str = "zh") -> Path:
    """One sheet per table (Chinese sheet names with ``lang="zh"``), header row frozen."""
    path = Path(path)
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        for key, df in tables.items():
            name = (SHEETS_ZH.get(key, key) if lang == "zh" else key)[:31]
            df.to_excel(xw, sheet_name=name, index=False)
            ws = xw.sheets[name]
            ws.freeze_panes = "A2"
            for col in ws.columns:
                width = max([len(str(c.value or "")) for c in col[:200]] + [4])
                ws.column_dimensions[col[0].column_letter].width = min(60, width * 1.6 + 2)
    return path


def write_csv(tables: dict[str, pd.DataFrame], folder: str | Path) -> list[Path]:
    """One UTF-8 (with BOM, so Excel reads Chinese) CSV per table into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for key, df in tables.items():
        p = folder / f"{key}.csv"
        df.to_csv(p, index=False, encoding="utf-8-sig")
        out.append(p)
    return out


def result_layers(result: Any, ds: Any) -> dict[str, Any]:
    """Map layers of a run (GeoDataFrames in WGS-84, e.g. for GeoJSON export):

    - ``members``: member points with their responsibility row (sector, group, committee, station,
      villages, townships, constituents);
    - ``villages``: the villages tier 2 considered, with ``group_id`` (None = uncovered) and population;
    - ``stations``: station points with the groups they host.
    """
    t = result_tables(result, ds)
    mem = ds.members[["id", "geometry"]].rename(columns={"id": "member_id"})
    members = gpd.GeoDataFrame(mem.merge(t["responsibility"], on="member_id", how="left"),
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
