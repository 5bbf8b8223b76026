"""The map 联系落实情况: planned zones against the villages the ledger says were reached.

Each member's planned zone is the outline (convex hull, buffered 500 m, in the dataset's metric
CRS) of the villages of the constituents assigned to them; villages are dots coloured by the days
from their last contact to the end of the period (never reached in the period: grey). Popups give
the last contact date, the days since and the contacts in the period. All text comes from the
glossary and travels as data (:class:`maps.render.DataLayer`), never as template source.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import folium
import geopandas as gpd
import pandas as pd
import shapely

from geo_service.core.glossary import header, label, value_label, word

from .coverage import boundary_layers
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
    legend_html,
    tile_datum,
)

#: (upper bound of days since the last contact, colour); beyond the last bound: OVER
BANDS: tuple[tuple[int, str], ...] = ((30, "#1a9641"), (90, "#a6d96a"), (180, "#fdae61"), (365, "#d7191c"))
OVER, NEVER, ZONE = "#7b3294", "#9e9e9e", "#2b83ba"
ZONE_BUFFER_M = 500.0


def band_of(days: Any, in_period: bool) -> str:
    """Style class of a village: ``never`` (no contact in the period), ``b0``.. by :data:`BANDS`,
    ``over``."""
    if not in_period or days is None:
        return "never"
    for i, (hi, _) in enumerate(BANDS):
        if days <= hi:
            return f"b{i}"
    return "over"


def planned_zones(ds: Any, links: pd.DataFrame) -> gpd.GeoDataFrame:
    """Per member of ``links`` (``constituent_id``, ``member_id``) the buffered hull of the villages
    of their constituents (WGS-84)."""
    cons = ds.layers.get("constituents")
    empty = gpd.GeoDataFrame({"member_id": []}, geometry=[], crs=4326)
    if cons is None or not len(links) or "village_id" not in cons.columns:
        return empty
    cv = cons[["id", "village_id"]].dropna().astype(str).rename(columns={"id": "constituent_id"})
    lv = links.merge(cv, on="constituent_id")
    vil = ds.to_metric("villages")[["id", "geometry"]].dropna()
    vil = vil.assign(id=vil["id"].astype(str))
    lv = lv.merge(vil, left_on="village_id", right_on="id")
    if lv.empty:
        return empty
    g = gpd.GeoDataFrame(lv, geometry="geometry", crs=vil.crs)
    hulls = g.dissolve("member_id").convex_hull.buffer(ZONE_BUFFER_M)
    return gpd.GeoDataFrame({"member_id": hulls.index}, geometry=hulls.values, crs=vil.crs).to_crs(4326)


def ledger_map(ds: Any, coverage: Mapping[str, Any], links: pd.DataFrame | None = None, *,
               names: Mapping[str, str] | None = None, lang: str = "zh", tiles: str = "osm",
               tianditu_key: str | None = None, static_prefix: str = "/static") -> folium.Map:
    """The map 联系落实情况 of ``coverage`` (:func:`geo_service.core.ledger_coverage.actual_coverage`)
    with the planned zones of ``links``; ``names``: member id -> name for the zones' popups."""
    check_lang(lang)
    datum = tile_datum(tiles)
    p = coverage["period"]
    title = f"{getattr(ds, 'name', '') or ''} · {word('map_ledger_title', lang)} {p['start']}~{p['end']}".strip(" ·")
    m = base_map(county_bounds(ds), tiles=tiles, lang=lang, tianditu_key=tianditu_key, title=title)
    for layer in boundary_layers(ds, lang=lang, datum=datum):
        layer.add_to(m)
    layers = []
    zones = planned_zones(ds, links if links is not None else pd.DataFrame(columns=["constituent_id", "member_id"]))
    if len(zones):
        zn = [(names or {}).get(z, z) for z in zones["member_id"]]
        zl = DataLayer(feature_collection(list(zones.geometry), zn, values=[[z] for z in zones["member_id"]],
                                          search=zn, datum=datum),
                       {"styles": {"_": {"color": ZONE, "weight": 2, "fillColor": ZONE, "fillOpacity": 0.08}},
                        "fields": [label("member_id", lang)]}, name=word("map_ledger_zones", lang))
        zl.add_to(m)
        layers.append(zl)
    vl = _village_layer(ds, coverage, lang, datum)
    vl.add_to(m)
    layers.append(vl)
    NameSearch(layers, lang=lang).add_to(m)
    _boxes(m, coverage, lang)
    return finish(m, prefix=static_prefix)


def _village_layer(ds: Any, coverage: Mapping[str, Any], lang: str, datum: str) -> DataLayer:
    rows = {r["village_id"]: r for r in coverage["villages"]}
    vil = ds.villages
    geoms: list[Any] = []
    vnames, classes, values = [], [], []
    start = coverage["period"]["start"]
    for vid, name, g in zip(vil["id"].astype(str), vil["name"], vil.geometry, strict=True):
        r = rows.get(vid, {})
        in_period = r.get("last_contact") is not None and r["last_contact"] >= start
        geoms.append(g if g is not None and not shapely.is_empty(g) else None)
        vnames.append(name)
        classes.append(band_of(r.get("days_since_contact"), in_period))
        values.append([r.get("last_contact") or "—", r.get("days_since_contact"), r.get("contacts", 0)])
    styles = {f"b{i}": {"radius": 6, "color": "#333", "weight": 1, "fillColor": c, "fillOpacity": 0.9}
              for i, (_, c) in enumerate(BANDS)}
    styles["over"] = {"radius": 6, "color": "#333", "weight": 1, "fillColor": OVER, "fillOpacity": 0.9}
    styles["never"] = {"radius": 5, "color": "#666", "weight": 1, "fillColor": NEVER, "fillOpacity": 0.7}
    return DataLayer(feature_collection(geoms, vnames, classes=classes, values=values, search=vnames, datum=datum),
                     {"styles": styles, "fields": [label("last_contact", lang), label("days_since_contact", lang),
                                                   header("contacts", lang)]},
                     name=word("map_ledger_villages", lang))


def _bands_legend(lang: str) -> Sequence[tuple[str, str, str]]:
    rows, lo = [], 0
    for hi, c in BANDS:
        rows.append(("circle", c, word("map_ledger_days", lang).format(a=lo, b=hi)))
        lo = hi + 1
    rows.append(("circle", OVER, word("map_ledger_over", lang).format(a=BANDS[-1][0])))
    rows.append(("circle", NEVER, word("map_ledger_never", lang)))
    return rows


def _boxes(m: folium.Map, coverage: Mapping[str, Any], lang: str) -> None:
    c, links = coverage["counts"], coverage["links"]
    rows = "".join(f"<tr><td>{esc(value_label('ledger_entity', k, lang))}</td>"
                   f"<td>{v['total'] - v['not_reached']} / {v['total']}</td></tr>"
                   for k, v in c.items() if k in ("villages", "constituents", "townships", "stations"))
    if links["planned"]:
        rows += f"<tr><td>{esc(label('reached_links', lang))}</td><td>{links['reached']} / {links['planned']}</td></tr>"
    add_box(m, f"<table>{rows}</table>", position="bottomleft", css_class="gs-summary",
            summary=word("map_ledger_title", lang))
    legend = [("line", ZONE, word("map_ledger_zones", lang)), *_bands_legend(lang)]
    add_box(m, legend_html(word("map_ledger_villages", lang), legend), position="bottomright",
            css_class="gs-legend-box", summary=word("map_legend", lang))


__all__ = ["BANDS", "band_of", "ledger_map", "planned_zones"]
