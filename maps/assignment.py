"""The assignment map as responsibility zones, not a web of lines.

Drawn before any selection (bounded by the number of groups, townships, members and stations, never
by the number of links): each group's zone as one filled shape (its villages' Voronoi cells clipped to
their townships and merged, coloured per group), committees' townships outlined in the committee's
colour, contact points, member homes and stations. Links (group base -> contact villages and the gap
villages they reach; member -> the villages of their constituents with a count per village; committee
-> townships) travel in one JSON block and are drawn only for the group, member or committee the planner
clicks, or names in the URL (``group=``/``member=``/``committee=``).

``result`` is an ``OptimisationResult`` or its ``to_dict()`` form (a job's result): only the tiers'
assignments and tier 2's zone figures are read, so personal fields never reach the map. ``result=None``
shows the dataset's own assignment (members' groups and stations, groups' stations, villages pinned
by members), with no run needed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import folium
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPoint, Point

from geo_service.core.coverage import village_weights
from geo_service.core.errors import InvalidParameter
from geo_service.core.glossary import LANGS, word

from .coverage import boundary_layers
from .links import LinkSelection, lat_lon
from .locations import located_dataset, location_statement_html
from .names import county_name
from .page import legend_box, open_map
from .render import (
    DataLayer,
    NameSearch,
    check_lang,
    esc,
    feature_collection,
    finish,
    legend_html,
    palette,
    simplify_m,
    tile_datum,
)
from .stations import add_stations

#: keys of :data:`T`, each the glossary word ``maps_assignment_<key>``
_T_KEYS = ("members", "zones", "contacts", "committees", "sector", "group", "committee", "constituents",
           "villages", "legend", "legend_k", "member", "population", "contact_villages", "mean_km", "max_km",
           "station", "none", "title", "current", "filter", "hint", "diff", "diff_station", "diff_contacts",
           "townships")
T = {lang: {k: word(f"maps_assignment_{k}", lang) for k in _T_KEYS} for lang in LANGS}


def tier_assignment(result: Any, tier: str) -> dict[str, str | None]:
    """The ``assignment`` mapping of ``tier`` in an OptimisationResult or its dict form ({} if absent)."""
    return {str(k): (None if v is None else str(v)) for k, v in (_tier(result, tier, "assignment") or {}).items()}


def _tier(result: Any, tier: str, key: str) -> Any:
    if result is None:
        return None
    tiers = result.get("tiers", {}) if isinstance(result, dict) else getattr(result, "tiers", {})
    t = tiers.get(tier)
    if t is None:
        return None
    return t.get(key) if isinstance(t, dict) else getattr(t, key, None)


def _s(v: Any) -> str | None:
    return None if v is None or (isinstance(v, float) and np.isnan(v)) or pd.isna(v) else str(v)


def current_state(ds) -> dict[str, Any]:
    """The dataset's own assignment: group -> station (the group's, else the one all its members pin),
    village -> group (villages pinned by members of a group); no constituents or townships."""
    mem = ds.members
    g_station = {str(g): _s(s) for g, s in zip(ds.groups["id"], ds.groups["station_id"])}
    pins: dict[str, set[str]] = {}
    contacts: dict[str, str] = {}
    for g, st, v in zip(mem["group_id"], mem["station_id"], mem["village_id"]):
        if _s(g) is None:
            continue
        if _s(st) is not None:
            pins.setdefault(str(g), set()).add(str(st))
        if _s(v) is not None:
            contacts[str(v)] = str(g)
    for g, sts in pins.items():
        if g_station.get(g) is None and len(sts) == 1:
            g_station[g] = next(iter(sts))
    return {"source": "dataset", "group_station": g_station, "contacts": contacts, "zone": dict(contacts),
            "constituents": {}, "townships": {}, "zones": None}


def run_state(ds, result: Any) -> dict[str, Any]:
    """What a run decided, in the same shape as :func:`current_state`."""
    g_station = {str(g): _s(s) for g, s in zip(ds.groups["id"], ds.groups["station_id"])}
    g_station.update({g: s for g, s in tier_assignment(result, "stations").items()})
    contacts = {v: g for v, g in tier_assignment(result, "villages").items() if g is not None}
    extra = _tier(result, "villages", "extra") or {}
    zone = {str(v): str(g) for v, g in (extra.get("zone") or contacts).items()}
    return {"source": "run", "group_station": g_station, "contacts": contacts, "zone": zone,
            "constituents": {c: m for c, m in tier_assignment(result, "constituents").items() if m is not None},
            "townships": {t: k for t, k in tier_assignment(result, "townships").items() if k is not None},
            "zones": extra.get("zones")}


def group_bases(ds, g_station: dict[str, str | None]) -> dict[str, Point]:
    """Each group's base (WGS-84): its station, else its members' mean position (as the pipeline)."""
    spt = dict(zip(ds.stations["id"].astype(str), ds.stations.geometry))
    mem = ds.members
    out = {}
    for g in ds.groups["id"].astype(str):
        st = g_station.get(g)
        if st is not None and st in spt:
            out[g] = spt[st]
            continue
        pts = mem.geometry[(mem["group_id"].astype(str) == g).to_numpy()]
        pts = pts[~(pts.isna() | pts.is_empty)]  # homes left out (a viewer's map) give no base
        if len(pts):
            out[g] = Point(float(pts.x.mean()), float(pts.y.mean()))
    return out


def zone_figures(ds, zone: dict[str, str], bases: dict[str, Point]) -> dict[str, dict[str, Any]]:
    """Per group: villages, population, constituents living there, mean and largest straight-line km
    from the group's base (the same figures as tier 2's ``extra["zones"]``)."""
    v = ds.villages
    vid = v["id"].astype(str).tolist()
    pos = {x: i for i, x in enumerate(vid)}
    pop = pd.to_numeric(v["population"], errors="coerce").fillna(0).to_numpy()
    tf = Transformer.from_crs("EPSG:4326", ds.metric_crs, always_xy=True)
    vx, vy = tf.transform(v.geometry.x.to_numpy(), v.geometry.y.to_numpy())
    n_c = ds.constituents["village_id"].astype(str).value_counts().to_dict()
    out = {}
    for g in ds.groups["id"].astype(str):
        vs = [x for x, q in zone.items() if q == g and x in pos]
        ix = np.array([pos[x] for x in vs], np.int64)
        if len(ix) and g in bases:
            bx, by = tf.transform(bases[g].x, bases[g].y)
            dk = np.hypot(vx[ix] - bx, vy[ix] - by) / 1000
        else:
            dk = np.zeros(0)
        out[g] = {"villages": len(vs), "population": int(pop[ix].sum()) if len(ix) else 0,
                  "constituents": int(sum(n_c.get(x, 0) for x in vs)),
                  "mean_km": round(float(dk.mean()), 1) if len(dk) else None,
                  "max_km": round(float(dk.max()), 1) if len(dk) else None}
    return out


def zone_shapes(ds, zone: dict[str, str], tolerance_m: float = 30.0) -> dict[str, Any]:
    """Per group: the union of its villages' Voronoi cells, each clipped to its township (WGS-84)."""
    if not zone:
        return {}
    vm = ds.to_metric("villages")
    vm = vm[~(vm.geometry.isna() | vm.geometry.is_empty)]  # villages of unknown location have no cell
    vid = vm["id"].astype(str).tolist()
    pts = shapely.get_coordinates(vm.geometry.to_numpy())
    tw = ds.to_metric("townships")
    t_geom = dict(zip(tw["id"].astype(str), tw.geometry))
    frame = shapely.box(*tw.total_bounds) if len(tw) else shapely.box(*vm.total_bounds).buffer(5000)
    # duplicate points share one cell
    uniq, first = np.unique(np.round(pts, 1), axis=0, return_inverse=True)
    cells = shapely.voronoi_polygons(MultiPoint(uniq), extend_to=frame.buffer(1000), ordered=True)
    cell = [cells.geoms[i] for i in np.asarray(first).ravel()]
    v_t = dict(zip(vid, vm["township_id"].astype(str)))
    pos = {x: i for i, x in enumerate(vid)}
    by_g: dict[str, list] = {}
    for v, g in zone.items():
        if v not in pos:
            continue
        c = cell[pos[v]]
        t = t_geom.get(v_t.get(v, ""))
        by_g.setdefault(g, []).append(c.intersection(t) if t is not None else c.intersection(frame))
    out = {}
    for g, parts in by_g.items():
        u = shapely.union_all(parts).simplify(tolerance_m, preserve_topology=True)
        if not u.is_empty:
            out[g] = u
    if not out:
        return {}
    import geopandas as gpd

    s = gpd.GeoSeries(list(out.values()), index=list(out), crs=ds.metric_crs).to_crs("EPSG:4326")
    return dict(zip(s.index, s.to_numpy()))


def nearest_base_zone(ds, bases: dict[str, Point]) -> dict[str, str]:
    """Village -> the group whose base is nearest (straight line, metres): the zones a county has
    before any run, drawn so the first view shows who is near whom. Villages without a point are left out."""
    if not bases:
        return {}
    v = ds.villages
    ok = ~(v.geometry.isna() | v.geometry.is_empty).to_numpy()
    if not ok.any():
        return {}
    tf = Transformer.from_crs("EPSG:4326", ds.metric_crs, always_xy=True)
    vx, vy = tf.transform(v.geometry.x.to_numpy()[ok], v.geometry.y.to_numpy()[ok])
    gids = list(bases)
    bx, by = tf.transform(np.array([bases[g].x for g in gids]), np.array([bases[g].y for g in gids]))
    d = np.hypot(np.asarray(vx)[:, None] - np.asarray(bx)[None, :], np.asarray(vy)[:, None] - np.asarray(by)[None, :])
    near = d.argmin(axis=1)
    return {str(x): gids[j] for x, j in zip(v["id"].astype(str).to_numpy()[ok], near)}


def assignment_map(ds, result: Any = None, *, sector: str | None = None, group: str | None = None,
                   committee: str | None = None, member: str | None = None, lang: str = "zh",
                   tiles: str = "osm", tianditu_key: str | None = None, static_prefix: str = "/static",
                   compare: bool = True) -> folium.Map:
    """Responsibility zones of a run (``result``), or of the dataset itself (``result=None``).

    ``sector``/``group``/``committee`` keep only the matching members, groups and committees;
    ``group``/``member``/``committee`` also select whose links are drawn when the page opens.
    ``compare`` (a run only) adds how the run differs from the dataset's own assignment.
    """
    check_lang(lang)
    t = T[lang]
    datum = tile_datum(tiles)
    m = open_map(ds, "assignment", tiles=tiles, lang=lang, tianditu_key=tianditu_key)
    _check_selection(ds, group=group, committee=committee, member=member)
    state = current_state(ds) if result is None else run_state(ds, result)
    mem = _shown_members(ds, sector=sector, group=group, committee=committee)
    lk = _Lookups.of(ds)
    shown_g, shown_k = _shown(mem, lk, filtered=bool(sector or group or committee), group=group,
                              committee=committee)
    bases = group_bases(ds, state["group_station"])
    figures = state["zones"] or zone_figures(located_dataset(ds), state["zone"], bases)

    towns_layer = _towns_layer(ds, state["townships"], shown_k, lk, t=t, datum=datum)
    for layer in boundary_layers(ds, lang=lang, datum=datum):
        layer.add_to(m)  # on by default: zones read against the townships

    # zones: one filled shape per group; before any run, each village to the nearest group base
    nearest_zones = result is None and len(state["zone"]) < len(ds.villages)
    if nearest_zones:
        state["zone"] = {**nearest_base_zone(ds, bases), **state["zone"]}
        figures = zone_figures(located_dataset(ds), state["zone"], bases)
    zones_layer = _zones_layer(ds, state, figures, shown_g, lk, t=t, datum=datum)
    for layer in (zones_layer, towns_layer):
        if layer is not None:
            layer.add_to(m)
    cp_layer = _contacts_layer(state["contacts"], shown_g, lk, t=t, datum=datum)
    if cp_layer is not None:
        cp_layer.add_to(m)
    members_layer = _members_layer(mem, state["constituents"], lk, t=t, datum=datum)
    members_layer.add_to(m)
    stations = add_stations(m, ds, lang=lang, datum=datum)
    NameSearch([members_layer, stations] + ([cp_layer] if cp_layer is not None else []), lang=lang).add_to(m)

    # links, drawn on selection only
    links = _links(ds, state, mem, bases, shown_g, shown_k, lk.gcol, lk.kcol, datum)
    links["select"] = _selection(mem, member=member, group=group, committee=committee)
    bind = [(x, kind, by_index) for x, kind, by_index in ((zones_layer, "g", False), (cp_layer, "g", False),
                                                          (members_layer, "m", True), (towns_layer, "k", False))
            if x is not None]
    LinkSelection(links, bind).add_to(m)

    head = _notes_html(ds, result, state, compare=compare, nearest_zones=nearest_zones, lk=lk, t=t, lang=lang,
                       filters=((t["sector"], sector), (t["group"], lk.gname.get(group or "")),
                                (t["committee"], lk.kname.get(committee or ""))))
    legend_box(m, location_statement_html(ds.villages, lang) + head + _legends_html(lk, shown_g, shown_k, state, t),
               f"{county_name(ds)} · {t['title']}")
    return finish(m, prefix=static_prefix)


@dataclass(frozen=True)
class _Lookups:
    """Ids, names and colours of the dataset's groups, committees, villages and stations."""

    gids: list[str]
    gcol: dict[str, str]
    gname: dict[str, Any]
    gsec: dict[str, Any]
    kids: list[str]
    kcol: dict[str, str]
    kname: dict[str, Any]
    vname: dict[str, Any]
    vpt: dict[str, Any]
    snames: dict[str, Any]

    @classmethod
    def of(cls, ds) -> _Lookups:
        gids = ds.groups["id"].astype(str).tolist()
        kids = ds.committees["id"].astype(str).tolist()
        vid = ds.villages["id"].astype(str).tolist()
        return cls(gids=gids, gcol=dict(zip(gids, palette(len(gids)))), gname=dict(zip(gids, ds.groups["name"])),
                   gsec=dict(zip(gids, ds.groups["sectors"])), kids=kids, kcol=dict(zip(kids, palette(len(kids)))),
                   kname=dict(zip(kids, ds.committees["name"])), vname=dict(zip(vid, ds.villages["name"])),
                   vpt=dict(zip(vid, ds.villages.geometry)),
                   snames=dict(zip(ds.stations["id"].astype(str), ds.stations["name"])))


def _check_selection(ds, *, group: str | None, committee: str | None, member: str | None) -> None:
    """:class:`~geo_service.core.errors.InvalidParameter` naming the selection (``group``, ``committee``,
    ``member``) not in the dataset."""
    for val, layer, what in ((group, "groups", "group"), (committee, "committees", "committee"),
                             (member, "members", "member")):
        if val is not None and val not in set(ds.layers[layer]["id"].astype(str)):
            raise InvalidParameter(what, f"{what} '{val}' is not in the dataset's {layer}", "not_in_dataset")


def _shown_members(ds, *, sector: str | None, group: str | None, committee: str | None) -> pd.DataFrame:
    """The located members matching ``sector``, ``group`` and ``committee`` (each None: any)."""
    mem_all = ds.members.reset_index(drop=True)
    keep = np.ones(len(mem_all), dtype=bool)
    if sector is not None:
        keep &= (mem_all["sector"] == sector).to_numpy()
    if group is not None:
        keep &= (mem_all["group_id"].astype(str) == group).to_numpy()
    if committee is not None:
        keep &= (mem_all["committee_id"].astype(str) == committee).to_numpy()
    keep &= ~(mem_all.geometry.isna() | mem_all.geometry.is_empty).to_numpy()
    return mem_all[keep].reset_index(drop=True)


def _shown(mem: pd.DataFrame, lk: _Lookups, *, filtered: bool, group: str | None,
           committee: str | None) -> tuple[set[str], set[str]]:
    """The groups and committees drawn: all, or under a filter those of the members shown (the
    selected group or committee alone when one is named)."""
    shown_g = set(mem["group_id"].dropna().astype(str)) if filtered else set(lk.gids)
    if group is not None:
        shown_g = {group}
    shown_k = set(mem["committee_id"].dropna().astype(str)) if filtered else set(lk.kids)
    if committee is not None:
        shown_k = {committee}
    return shown_g, shown_k


def _towns_layer(ds, t_k: dict[str, str], shown_k: set[str], lk: _Lookups, *, t: dict,
                 datum: str) -> DataLayer | None:
    """Committees' townships (``t_k``: township -> committee) outlined in the committee's colour,
    with the committee and the constituents living there; None when none is shown."""
    tw = ds.townships
    c_per_t = Counter()
    v_t = dict(zip(ds.villages["id"].astype(str).tolist(), ds.villages["township_id"].astype(str)))
    for cv in ds.constituents["village_id"].astype(str):
        c_per_t[v_t.get(cv, "")] += 1
    sel_t = [i for i, x in enumerate(tw["id"].astype(str)) if t_k.get(x) in shown_k]
    if not sel_t:
        return None
    sub = tw.iloc[sel_t]
    # boundaries as lines: a canvas polygon takes clicks inside even unfilled, and a click inside a
    # township must reach the zone below it
    fc = feature_collection(shapely.boundary(simplify_m(sub, 30.0, ds.metric_crs)), sub["name"].tolist(),
                            classes=[t_k[x] for x in sub["id"].astype(str)],
                            values=[[lk.kname.get(t_k[x]), c_per_t.get(x, 0)] for x in sub["id"].astype(str)],
                            datum=datum)
    styles = {k: {"color": c, "weight": 3} for k, c in lk.kcol.items()}
    return DataLayer(fc, {"styles": styles, "fields": [t["committee"], t["constituents"]], "sticky": True},
                     name=t["committees"])


def _zones_layer(ds, state: dict[str, Any], figures: dict[str, dict[str, Any]], shown_g: set[str], lk: _Lookups,
                 *, t: dict, datum: str) -> DataLayer | None:
    """One filled shape per shown group (its zone's villages' cells), with its figures; None when
    no shown group has a zone."""
    shapes = zone_shapes(located_dataset(ds), {v: g for v, g in state["zone"].items() if g in shown_g})
    zg = [g for g in lk.gids if g in shapes]
    if not zg:
        return None
    contacts_of: dict[str, list[str]] = {}
    for v, g in state["contacts"].items():
        contacts_of.setdefault(g, []).append(v)
    by_pop = village_weights(ds.villages).basis == "population"
    vals = []
    for g in zg:
        f = figures.get(g, {})
        vals.append([_sectors(lk.gsec.get(g)), lk.snames.get(state["group_station"].get(g) or ""),
                     "、".join(str(lk.vname.get(v, v)) for v in sorted(contacts_of.get(g, []))),
                     f.get("villages")] + ([f.get("population")] if by_pop else [])
                    + [f.get("constituents"), f.get("mean_km"), f.get("max_km")])
    fc = feature_collection([shapes[g] for g in zg], [lk.gname[g] for g in zg], classes=zg, values=vals,
                            datum=datum)
    styles = {g: {"color": c, "weight": 1, "fillColor": c, "fillOpacity": 0.35} for g, c in lk.gcol.items()}
    return DataLayer(fc, {"styles": styles, "sticky": True,
                          "fields": [t["sector"], t["station"], t["contact_villages"], t["villages"]]
                          + ([t["population"]] if by_pop else [])
                          + [t["constituents"], t["mean_km"], t["max_km"]]},
                     name=t["zones"])


def _contacts_layer(contacts: dict[str, str], shown_g: set[str], lk: _Lookups, *, t: dict,
                    datum: str) -> DataLayer | None:
    """The contact points (village -> group) of the shown groups as stars in the group's colour."""
    cps = [(v, g) for v, g in sorted(contacts.items()) if g in shown_g and v in lk.vpt]
    if not cps:
        return None
    fc = feature_collection([lk.vpt[v] for v, _ in cps], [lk.vname[v] for v, _ in cps], classes=[g for _, g in cps],
                            values=[[lk.gname.get(g)] for _, g in cps],
                            search=[f"{lk.vname[v]} · {lk.gname.get(g)}" for v, g in cps], datum=datum)
    styles = {g: {"symbol": "★", "size": 16, "color": c} for g, c in lk.gcol.items()}
    return DataLayer(fc, {"styles": styles, "fields": [t["group"]]}, name=t["contacts"])


def _members_layer(mem: pd.DataFrame, c_m: dict[str, str], lk: _Lookups, *, t: dict, datum: str) -> DataLayer:
    """Members' homes in their group's colour, with sector, group, committee and the number of
    constituents assigned (``c_m``: constituent -> member)."""
    per_member = Counter(c_m.values())
    values = [[s, lk.gname.get(_s(g) or ""), lk.kname.get(_s(k) or ""), per_member.get(str(i), 0)]
              for i, s, g, k in zip(mem["id"], mem["sector"], mem["group_id"], mem["committee_id"])]
    styles = {g: {"radius": 5, "color": "#fff", "weight": 1.2, "fillColor": c, "fillOpacity": 1.0}
              for g, c in lk.gcol.items()}
    styles["_"] = {"radius": 5, "color": "#fff", "weight": 1.2, "fillColor": "#555", "fillOpacity": 1.0}
    return DataLayer(
        feature_collection(mem.geometry.to_numpy(), mem["name"].tolist(),
                           classes=[_s(g) or "_" for g in mem["group_id"]], values=values,
                           search=[f"{n} · {s}" for n, s in zip(mem["name"], mem["sector"])], datum=datum),
        {"styles": styles, "fields": [t["sector"], t["group"], t["committee"], t["constituents"]]},
        name=t["members"])


def _selection(mem: pd.DataFrame, *, member: str | None, group: str | None,
               committee: str | None) -> list[str] | None:
    """The links drawn when the page opens: ``[kind, key]`` of the named member (by feature index),
    group or committee, in that order of precedence; None for none."""
    if member is not None:
        ids = mem["id"].astype(str).tolist()
        return ["m", str(ids.index(member))] if member in ids else None
    if group is not None:
        return ["g", group]
    if committee is not None:
        return ["k", committee]
    return None


def _notes_html(ds, result: Any, state: dict[str, Any], *, compare: bool, nearest_zones: bool, lk: _Lookups,
                t: dict, lang: str, filters: tuple[tuple[str, Any], ...]) -> str:
    """The notes above the legends: what is drawn (the dataset's state, or how the run differs from
    it), the filters (label, value) in force, and the hint to click."""
    filt = [f"{lab}: {val}" for lab, val in filters if val]
    head = ""  # the title rides in the box's summary line (collapsible panel)
    if result is None:
        head += f'<div class="gs-note">{esc(word("map_zones_nearest", lang) if nearest_zones else t["current"])}</div>'
    elif compare:
        cur = current_state(ds)
        n_st = sum(1 for g in lk.gids if cur["group_station"].get(g) != state["group_station"].get(g))
        n_new = sum(1 for v, g in state["contacts"].items() if cur["contacts"].get(v) != g)
        head += (f'<div class="gs-note">{esc(t["diff"])}: {n_st} {esc(t["diff_station"])}；'
                 f'{n_new} {esc(t["diff_contacts"])}</div>')
    if filt:
        head += f'<div class="gs-note">{esc(t["filter"])}: {esc("；".join(filt))}</div>'
    return head + f'<div class="gs-note">{esc(t["hint"])}</div>'


def _legends_html(lk: _Lookups, shown_g: set[str], shown_k: set[str], state: dict[str, Any], t: dict) -> str:
    """The groups' colours (zones and member homes) and the committees' outline colours, 30 each at most."""
    rows = [("circle", lk.gcol[g], lk.gname[g]) for g in lk.gids if g in shown_g]
    t_k = state["townships"]
    krows = [("line", lk.kcol[k], lk.kname[k]) for k in lk.kids if k in shown_k and k in set(t_k.values())]
    return legend_html(t["legend"], rows[:30]) + legend_html(t["legend_k"], krows[:30])


def _sectors(v: Any) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    return "、".join(str(x) for x in v) if isinstance(v, (list, tuple, np.ndarray)) else str(v)


def _links(ds, state: dict[str, Any], mem: pd.DataFrame, bases: dict[str, Point], shown_g: set[str],
           shown_k: set[str], gcol: dict[str, str], kcol: dict[str, str], datum: str) -> dict[str, Any]:
    """Per group / member (by feature index) / committee: ``l`` lines ([[lat, lon], [lat, lon]], weight,
    dashed) and ``n`` counts per village ([[lat, lon], count]); coordinates in the tiles' datum."""
    vid = ds.villages["id"].astype(str).tolist()
    vpt = {v: g for v, g in zip(vid, ds.villages.geometry) if g is not None and not g.is_empty}  # located only
    out: dict[str, Any] = {"g": {}, "m": {}, "k": {}}
    served = {v: g for v, g in state["zone"].items() if v not in state["contacts"]}
    for g in shown_g:
        if g not in bases:
            continue
        lines = []
        for vs, w, dash in ((sorted(v for v, q in state["contacts"].items() if q == g), 3, False),
                            (sorted(v for v, q in served.items() if q == g), 1, True)):
            vs = [v for v in vs if v in vpt]
            if vs:
                b = lat_lon([bases[g]], datum)[0]
                lines += [[[b, p], w, dash] for p in lat_lon([vpt[v] for v in vs], datum)]
        out["g"][g] = {"c": gcol.get(g, "#555"), "l": lines}
    cv = dict(zip(ds.constituents["id"].astype(str), ds.constituents["village_id"].astype(str)))
    by_m: dict[str, Counter] = {}
    for c, mid in state["constituents"].items():
        v = cv.get(c)
        if v in vpt:
            by_m.setdefault(mid, Counter())[v] += 1
    for i, (mid, g, home) in enumerate(zip(mem["id"].astype(str), mem["group_id"], mem.geometry)):
        g = _s(g)
        if home is None or home.is_empty:  # a member of unknown location: no lines to draw
            continue
        h = lat_lon([home], datum)[0]
        cnt = by_m.get(mid, Counter())
        vs = sorted(cnt)
        pts = lat_lon([vpt[v] for v in vs], datum) if vs else []
        lines = [[[h, p], 1 + min(cnt[v], 4) * 0.8, False] for v, p in zip(vs, pts)]
        if g is not None and g in bases:
            lines.append([[h, lat_lon([bases[g]], datum)[0]], 1, True])
        out["m"][str(i)] = {"c": gcol.get(g or "", "#555"), "l": lines,
                            "n": [[p, cnt[v]] for v, p in zip(vs, pts)]}
    tw = ds.townships
    if len(tw):
        rep = ds.to_metric("townships").geometry.representative_point().to_crs("EPSG:4326")
        t_pt = {t: p for t, p in zip(tw["id"].astype(str), rep) if p is not None and not p.is_empty}
        allm = ds.members
        for k in shown_k:
            ts = sorted(x for x, q in state["townships"].items() if q == k and x in t_pt)
            pts = allm.geometry[(allm["committee_id"].astype(str) == k).to_numpy()]
            pts = pts[~(pts.isna() | pts.is_empty)]
            if not ts or not len(pts):
                continue
            centre = lat_lon([Point(float(pts.x.mean()), float(pts.y.mean()))], datum)[0]
            out["k"][k] = {"c": kcol.get(k, "#555"),
                           "l": [[[centre, p], 2.5, False] for p in lat_lon([t_pt[x] for x in ts], datum)]}
    return out
