"""The "本月值班" (this month's duty) map of a duty roster.

Platforms on duty in a month, each with its members and reception date in the popup; with
``homes=True`` (planner and above: homes are personal data) the members' homes and a line from each
home to its platform drawn when a platform is clicked (the assignment map's link selection); the
homes are a layer of their own, off at first. All
text travels as JSON data blocks (:class:`maps.render.DataLayer`) or escaped HTML, never as
template source. Works from the roster result alone (names and points travel in it), plus the
dataset for the county outline.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import folium
from shapely.geometry import Point

from geo_service.core.errors import InvalidParameter
from geo_service.core.glossary import LANGS, word

from .coverage import boundary_layers
from .links import LinkSelection, lat_lon
from .page import county_bounds
from .render import (
    DataLayer,
    NameSearch,
    add_box,
    base_map,
    check_lang,
    esc,
    feature_collection,
    finish,
    km,
    legend_html,
    tile_datum,
)

#: keys of :data:`T`, each the glossary word ``maps_roster_<key>``
_T_KEYS = ("platforms", "homes", "links", "date", "members", "sector", "platform", "distance", "hint", "none",
           "on", "off", "summary", "legend", "n_platforms", "n_members", "status")
T = {lang: {k: word(f"maps_roster_{k}", lang) for k in _T_KEYS} for lang in LANGS}
#: keys of :data:`STATUS`, each the glossary word ``maps_roster_status_<key>``
_STATUS_KEYS = ("optimal", "feasible", "infeasible", "nothing_to_do", "unknown")
STATUS = {lang: {k: word(f"maps_roster_status_{k}", lang) for k in _STATUS_KEYS} for lang in LANGS}
ON, OFF, HOME, LINK = "#d62728", "#9e9e9e", "#1f77b4", "#1f77b4"


def duty_month(result: Mapping[str, Any], month: str | None = None, today: str | None = None) -> str | None:
    """The month to show: ``month`` if given (``InvalidParameter`` naming ``month``, a ``ValueError``,
    when not in the roster), else the current month (``today``, ``YYYY-MM``) if the roster covers
    it, else its first month."""
    months = list(result.get("months") or [])
    if month is not None:
        if month not in months:
            if not months:
                raise InvalidParameter("month", f"month: {month!r}: the roster has no months", "roster_empty")
            raise InvalidParameter("month", f"month: {month!r} is not in the roster ({months[0]}..{months[-1]})",
                                   "not_in_roster", ctx={"first": months[0], "last": months[-1]})
        return month
    if today in months:
        return today
    return months[0] if months else None


def month_duty(result: Mapping[str, Any], month: str | None, *, homes: bool = False) -> list[dict[str, Any]]:
    """Per platform of the roster, its duty in ``month``: ``station_id``, ``name``, ``lon``/``lat``,
    ``date`` and ``members`` (``id``, ``name``, ``sector``, ``distance_m``; ``lon``/``lat`` of the
    home only with ``homes``)."""
    mem = {m["id"]: m for m in result.get("members") or []}
    on: dict[str, list[dict]] = defaultdict(list)
    for r in result.get("duties") or []:
        if r["month"] == month:
            on[r["station_id"]].append(r)
    out = []
    for p in result.get("platforms") or []:
        rs = on.get(p["id"], [])
        members = []
        for r in rs:
            m = mem.get(r["member_id"], {"id": r["member_id"], "name": r["member_id"]})
            row = {"id": m["id"], "name": m.get("name") or m["id"], "sector": m.get("sector"),
                   "distance_m": r.get("distance_m")}
            if homes:
                row |= {"lon": m.get("lon"), "lat": m.get("lat")}
            members.append(row)
        out.append({"station_id": p["id"], "name": p.get("name") or p["id"], "lon": p.get("lon"),
                    "lat": p.get("lat"), "date": rs[0]["date"] if rs else None, "members": members})
    return out


def roster_map(ds, result: Mapping[str, Any], *, month: str | None = None, today: str | None = None,
               homes: bool = False, lang: str = "zh", tiles: str = "osm", tianditu_key: str | None = None,
               static_prefix: str = "/static") -> folium.Map:
    """Map "本月值班": the platforms of ``result`` (a roster result dict) in ``month`` (default: this
    month, see :func:`duty_month`), members and reception date per platform; ``homes``: also the
    members' homes and lines home -> platform (personal data: planner and above)."""
    check_lang(lang)
    t = T[lang]
    month = duty_month(result, month, today)
    datum = tile_datum(tiles)
    title = f"{getattr(ds, 'name', '') or ''} · {word('this_month_duty', lang)} {month or ''}".strip(" ·")
    m = base_map(county_bounds(ds), tiles=tiles, lang=lang, tianditu_key=tianditu_key, title=title)
    for layer in boundary_layers(ds, lang=lang, datum=datum):
        layer.add_to(m)
    rows = month_duty(result, month, homes=homes) if month else []
    placed = [r for r in rows if r["lon"] is not None and r["lat"] is not None]
    sep = word("sep_list", lang)
    pfc = feature_collection([Point(r["lon"], r["lat"]) for r in placed], [r["name"] for r in placed],
                             classes=["on" if r["members"] else "off" for r in placed],
                             values=[[r["date"], sep.join(x["name"] for x in r["members"]) or t["none"]]
                                     for r in placed],
                             search=[f"{r['name']} · " + sep.join(x["name"] for x in r["members"]) for r in placed],
                             datum=datum)
    platforms = DataLayer(pfc, {"styles": {"on": {"radius": 9, "color": "#333", "weight": 1, "fillColor": ON,
                                                  "fillOpacity": 0.95},
                                           "off": {"radius": 6, "color": "#666", "weight": 1, "fillColor": OFF,
                                                   "fillOpacity": 0.8}},
                                "fields": [t["date"], t["members"]]}, name=t["platforms"])
    platforms.add_to(m)  # before the link selection, whose script binds to it
    layers = [platforms]
    if homes:
        hg, hn, hv = [], [], []
        picks: dict[str, Any] = {}  # platform feature index -> its lines home -> platform, on selection
        for i, r in enumerate(placed):
            lines, names = [], []
            for x in r["members"]:
                if x.get("lon") is None or x.get("lat") is None:
                    continue
                d = "" if x.get("distance_m") is None else km(float(x["distance_m"]), lang)
                hg.append(Point(x["lon"], x["lat"]))
                hn.append(x["name"])
                hv.append([x.get("sector"), r["name"], d])
                home, plat = lat_lon([Point(x["lon"], x["lat"]), Point(r["lon"], r["lat"])], datum)
                lines.append([[home, plat], 3, True])
                names.append([home, x["name"]])
            if lines:
                picks[str(i)] = {"c": LINK, "l": lines, "n": names}
        homes_layer = DataLayer(feature_collection(hg, hn, values=hv, search=hn, datum=datum),
                                {"styles": {"_": {"radius": 5, "color": "#fff", "weight": 1, "fillColor": HOME,
                                                  "fillOpacity": 0.9}},
                                 "fields": [t["sector"], t["platform"], t["distance"]]}, name=t["homes"], show=False)
        homes_layer.add_to(m)
        layers.append(homes_layer)
        LinkSelection({"p": picks, "select": None}, [(platforms, "p", True)]).add_to(m)
    NameSearch(layers, lang=lang).add_to(m)
    n_on = sum(1 for r in rows if r["members"])
    n_mem = sum(len(r["members"]) for r in rows)
    status = STATUS[lang].get(str(result.get("status")), str(result.get("status")))
    box = (f'<table><tr><td>{esc(t["n_platforms"])}</td><td>{n_on} / {len(rows)}</td></tr>'
           f'<tr><td>{esc(t["n_members"])}</td><td>{n_mem}</td></tr>'
           f'<tr><td>{esc(t["status"])}</td><td>{esc(status)}</td></tr></table>')
    if homes:
        box += f'<div class="gs-note">{esc(t["hint"])}</div>'
    add_box(m, box, position="bottomleft", css_class="gs-summary", summary=f"{t['summary']} {month or ''}")
    legend = [("circle", ON, t["on"]), ("circle", OFF, t["off"])]
    if homes:
        legend += [("circle", HOME, t["homes"]), ("line", LINK, t["links"])]
    add_box(m, legend_html(t["platforms"], legend), position="bottomright", css_class="gs-legend-box",
            summary=t["legend"])
    return finish(m, prefix=static_prefix)


__all__ = ["duty_month", "month_duty", "roster_map"]
