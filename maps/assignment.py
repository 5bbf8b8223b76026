"""The assignment map: members' homes, member -> constituents' villages, group -> villages,
committee -> townships, coloured per group/committee, filtered by sector, group or committee.

``result`` is a ``solvers.pipeline.OptimisationResult`` or its ``to_dict()`` form (a job's
result): only each tier's ``assignment`` (id -> id) is read, so personal fields never reach the map.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import folium
import numpy as np
from shapely.geometry import LineString

from .coverage import boundary_layers, county_bounds, station_layer
from .render import (
    DataLayer,
    NameSearch,
    add_box,
    base_map,
    check_lang,
    esc,
    feature_collection,
    finish,
    legend_html,
    page_title,
    palette,
    simplify_m,
    tile_datum,
)

T = {
    "zh": {"members": "委员住址", "links": "委员—联系群众所在村", "groups": "活动组—责任村",
           "committees": "专委会—责任乡镇", "sector": "界别", "group": "界别活动组", "committee": "专委会",
           "constituents": "联系群众数", "villages": "村/社区", "legend": "界别活动组（颜色）",
           "legend_k": "专委会（颜色）", "member": "委员", "village": "村/社区", "count": "群众数",
           "none": "未分组", "title": "分配结果", "filter": "筛选"},
    "en": {"members": "Members' homes", "links": "Member to constituents' villages",
           "groups": "Groups to their villages", "committees": "Committees to their townships",
           "sector": "Sector", "group": "Group", "committee": "Committee", "constituents": "Constituents",
           "villages": "Villages", "legend": "Groups (colour)", "legend_k": "Committees (colour)",
           "member": "Member", "village": "Village", "count": "Constituents", "none": "no group",
           "title": "Assignment", "filter": "Filter"},
}


def tier_assignment(result: Any, tier: str) -> dict[str, str | None]:
    """The ``assignment`` mapping of ``tier`` in an OptimisationResult or its dict form ({} if absent)."""
    if result is None:
        return {}
    tiers = result.get("tiers", {}) if isinstance(result, dict) else getattr(result, "tiers", {})
    t = tiers.get(tier)
    if t is None:
        return {}
    a = t.get("assignment") if isinstance(t, dict) else getattr(t, "assignment", None)
    return {str(k): (None if v is None else str(v)) for k, v in (a or {}).items()}


def assignment_map(ds, result: Any, *, sector: str | None = None, group: str | None = None,
                   committee: str | None = None, lang: str = "zh", tiles: str = "osm",
                   tianditu_key: str | None = None, static_prefix: str = "/static") -> folium.Map:
    """Map of an optimisation ``result`` over dataset ``ds``.

    Layers: township boundaries filled by the committee responsible for them; villages coloured
    by their responsible group with lines from the group's station (or its members' centre);
    members' homes coloured by group with lines to the villages of their constituents (line
    width by the number of constituents); stations. ``sector``/``group``/``committee`` (ids,
    or sector name) keep only the matching members, groups and committees.
    """
    check_lang(lang)
    t = T[lang]
    datum = tile_datum(tiles)
    m = base_map(county_bounds(ds), tiles=tiles, lang=lang, tianditu_key=tianditu_key,
                 title=page_title(getattr(ds, "name", None), "assignment", lang))
    mem = ds.members.reset_index(drop=True)
    for val, col, layer in ((group, "group_id", "groups"), (committee, "committee_id", "committees")):
        if val is not None and val not in set(ds.layers[layer]["id"]):
            raise ValueError(f"{col[:-3]} '{val}' is not in the dataset's {layer}")
    keep = np.ones(len(mem), dtype=bool)
    if sector is not None:
        keep &= (mem["sector"] == sector).to_numpy()
    if group is not None:
        keep &= (mem["group_id"] == group).to_numpy()
    if committee is not None:
        keep &= (mem["committee_id"] == committee).to_numpy()
    mem = mem[keep].reset_index(drop=True)

    gids = ds.groups["id"].astype(str).tolist()
    gcol = dict(zip(gids, palette(len(gids))))
    kids = ds.committees["id"].astype(str).tolist()
    kcol = dict(zip(kids, palette(len(kids), pastel=True)))
    gname = dict(zip(gids, ds.groups["name"]))
    kname = dict(zip(kids, ds.committees["name"]))
    vname = dict(zip(ds.villages["id"], ds.villages["name"]))
    vpt = dict(zip(ds.villages["id"], ds.villages.geometry))
    spt = dict(zip(ds.stations["id"], ds.stations.geometry))

    # committees -> townships
    t_a = tier_assignment(result, "townships")
    shown_k = set(mem["committee_id"].dropna()) if (sector or group or committee) else set(kids)
    tw = ds.townships
    sel = [i for i, tid in enumerate(tw["id"]) if t_a.get(tid) in shown_k]
    if sel:
        sub = tw.iloc[sel]
        fc = feature_collection(simplify_m(sub, 30.0, ds.metric_crs), sub["name"].tolist(),
                                classes=[t_a[x] for x in sub["id"]],
                                values=[[kname.get(t_a[x])] for x in sub["id"]], datum=datum)
        styles = {k: {"color": "#666", "weight": 1.5, "fillColor": c, "fillOpacity": 0.45} for k, c in kcol.items()}
        DataLayer(fc, {"styles": styles, "fields": [t["committee"]], "sticky": True},
                  name=t["committees"]).add_to(m)
    for layer in boundary_layers(ds, lang=lang, datum=datum):
        layer.show = False
        layer.add_to(m)

    # groups -> villages (lines from the group's station, else its members' mean home)
    v_a = tier_assignment(result, "villages")
    s_a = tier_assignment(result, "stations")
    shown_g = set(mem["group_id"].dropna()) if (sector or group or committee) else set(gids)
    g_anchor = {}
    allm = ds.members
    for g in gids:
        sid = s_a.get(g) or (ds.groups.set_index("id").at[g, "station_id"] if g in set(ds.groups["id"]) else None)
        if isinstance(sid, str) and sid in spt:
            g_anchor[g] = spt[sid]
        else:
            pts = allm.geometry[allm["group_id"] == g]
            if len(pts):
                from shapely.geometry import Point

                g_anchor[g] = Point(float(pts.x.mean()), float(pts.y.mean()))
    gv = [(v, g) for v, g in v_a.items() if g in shown_g and v in vpt]
    geoms, names, classes, values = [], [], [], []
    for v, g in gv:
        names.append(vname[v]); classes.append(g); values.append([gname.get(g)])
        geoms.append(vpt[v])
    for v, g in gv:
        if g in g_anchor:
            geoms.append(LineString([g_anchor[g], vpt[v]]))
            names.append(f"{gname.get(g)} → {vname[v]}"); classes.append(g); values.append([gname.get(g)])
    if geoms:
        styles = {g: {"color": c, "weight": 2, "dashArray": "5 4", "radius": 7, "fillColor": c,
                      "fillOpacity": 0.8} for g, c in gcol.items()}
        DataLayer(feature_collection(geoms, names, classes=classes, values=values, datum=datum),
                  {"styles": styles, "fields": [t["group"]]}, name=t["groups"]).add_to(m)

    # members -> constituents' villages
    c_a = tier_assignment(result, "constituents")
    cv = dict(zip(ds.constituents["id"], ds.constituents["village_id"]))
    shown_m = set(mem["id"])
    links = Counter((mid, cv.get(cid)) for cid, mid in c_a.items() if mid in shown_m and cv.get(cid) in vpt)
    per_member = Counter(mid for cid, mid in c_a.items() if mid in shown_m)
    mg = dict(zip(mem["id"], mem["group_id"]))
    mpt = dict(zip(mem["id"], mem.geometry))
    mname = dict(zip(mem["id"], mem["name"]))
    if links:
        keys = sorted(links, key=lambda k: (k[0], k[1]))
        lgeoms = [LineString([mpt[a], vpt[b]]) for a, b in keys]
        lcls = [f"{mg.get(a) or '_'}:{min(4, links[(a, b)])}" for a, b in keys]
        styles = {}
        for c in set(lcls):
            g, w = c.rsplit(":", 1)
            styles[c] = {"color": gcol.get(g, "#555"), "weight": 1 + int(w) * 0.8, "opacity": 0.7}
        DataLayer(feature_collection(lgeoms, [f"{mname[a]} → {vname[b]}" for a, b in keys], classes=lcls,
                                     values=[[mname[a], vname[b], links[(a, b)]] for a, b in keys], datum=datum),
                  {"styles": styles, "fields": [t["member"], t["village"], t["count"]], "sticky": True},
                  name=t["links"]).add_to(m)
    values = [[s, gname.get(g), kname.get(k), per_member.get(i, 0)]
              for i, s, g, k in zip(mem["id"], mem["sector"], mem["group_id"], mem["committee_id"])]
    styles = {g: {"radius": 6, "color": "#fff", "weight": 1.5, "fillColor": c, "fillOpacity": 1.0}
              for g, c in gcol.items()}
    styles["_"] = {"radius": 6, "color": "#fff", "weight": 1.5, "fillColor": "#555", "fillOpacity": 1.0}
    members = DataLayer(feature_collection(mem.geometry.to_numpy(), mem["name"].tolist(),
                                           classes=[g if isinstance(g, str) else "_" for g in mem["group_id"]],
                                           values=values, search=[f"{n} · {s}" for n, s in zip(mem["name"], mem["sector"])],
                                           datum=datum),
                        {"styles": styles, "fields": [t["sector"], t["group"], t["committee"], t["constituents"]]},
                        name=t["members"])
    members.add_to(m)
    stations = station_layer(ds, lang=lang, datum=datum)
    stations.add_to(m)
    NameSearch([members, stations], lang=lang).add_to(m)

    rows = [("circle", gcol[g], gname[g]) for g in gids if g in shown_g]
    krows = [("square", kcol[k], kname[k]) for k in kids if k in shown_k]
    filt = [f"{lab}: {val}" for lab, val in ((t["sector"], sector), (t["group"], gname.get(group or "")),
                                            (t["committee"], kname.get(committee or ""))) if val]
    head = ""
    if filt:
        head += f'<div class="gs-note">{esc(t["filter"])}: {esc("；".join(filt))}</div>'
    add_box(m, head + legend_html(t["legend"], rows[:30]) + legend_html(t["legend_k"], krows[:30]),
            position="bottomright", css_class="gs-legend-box", summary=f"{ds.name} · {t['title']}")
    return finish(m, prefix=static_prefix)

