"""The stations as every web map draws them: one symbol and colour per kind, clustered at a
county's first view, and the legend rows of those symbols."""

from __future__ import annotations

from typing import Any

import folium

from geo_service.core.domain import STATION_KINDS
from geo_service.core.glossary import map_words, value_label

from .names import disambiguate
from .render import DataLayer, feature_collection

# Station kinds: a distinct symbol and colour each (drawn as text symbols, no icon font needed).
STATION_STYLE: dict[str, dict[str, Any]] = {
    "station_comprehensive": {"symbol": "★", "color": "#c00000", "size": 24},
    "station_sector": {"symbol": "■", "color": "#1f4e9c", "size": 18},
    "studio": {"symbol": "◆", "color": "#7b2d8e", "size": 18},
    "contact_point": {"symbol": "▲", "color": "#1b7f3b", "size": 16},
}


def station_labels(ds) -> list[str]:
    """Station names as a reader can tell them apart: a name shared by several stations carries
    its township (``聚宝镇综合型委员工作站（聚宝镇）``)."""
    tnames = ds.townships.set_index("id")["name"].to_dict()
    return disambiguate(ds.stations["name"].tolist(), [tnames.get(tw) for tw in ds.stations["township_id"]])


def station_layer(ds, *, lang: str, datum: str, name: str | None = None, cluster: bool = False) -> DataLayer:
    """Stations with a distinct symbol per kind; popups: name, kind, sectors, capacity, township.

    ``cluster``: grouped into counted clusters below zoom 11 (a county's first view), each station
    on its own from there."""
    t = map_words(lang)
    st = ds.stations
    tnames = ds.townships.set_index("id")["name"].to_dict()
    kinds = st["kind"].tolist()
    kind_label = [value_label("station_kind", k, lang) for k in kinds]
    values = [[kl, s, cap, tnames.get(tw)] for kl, s, cap, tw in
              zip(kind_label, st["sectors"], st["capacity"], st["township_id"])]
    labels = station_labels(ds)
    fc = feature_collection(st.geometry.to_numpy(), labels, classes=kinds, values=values,
                            search=[f"{n} · {kl}" for n, kl in zip(labels, kind_label)], datum=datum)
    config = {"styles": STATION_STYLE, "fields": [t["kind"], t["sectors"], t["capacity"], t["township"]]}
    if cluster and len(st) > 12:
        config["cluster"] = 11
    return DataLayer(fc, config, name=name or t["stations"])


def add_stations(m: folium.Map, ds, *, lang: str, datum: str) -> DataLayer:
    """The stations layer, clustered at the first view (:func:`station_layer`), added to ``m``."""
    layer = station_layer(ds, lang=lang, datum=datum, cluster=True)
    layer.add_to(m)
    return layer


def station_legend_rows(lang: str) -> list[tuple[str, str, str]]:
    """Legend rows (symbol, colour, kind in words) of every station kind, in the domain's order."""
    return [(STATION_STYLE[k]["symbol"], STATION_STYLE[k]["color"], value_label("station_kind", k, lang))
            for k in STATION_KINDS]


__all__ = ["STATION_STYLE", "add_stations", "station_labels", "station_layer", "station_legend_rows"]
