"""The map of people's messages (码上议事): where they come from and what is left unanswered.

One point per message (its place, else its station, else its village), coloured by state: overdue
(open past the escalation days), open, answered or closed; the popup holds the state, sector, township and
date, never the text or the sender's phone. All text travels as JSON data blocks
(:class:`maps.render.DataLayer`), never as template source.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import folium
from shapely.geometry import Point

from geo_service.core.glossary import LANGS, label, value_label, word

from .coverage import boundary_layers
from .page import county_bounds
from .render import (
    DataLayer,
    add_box,
    base_map,
    check_lang,
    esc,
    feature_collection,
    finish,
    legend_html,
    tile_datum,
)

COLOURS = {"overdue": "#d62728", "open": "#ff7f0e", "done": "#2ca02c"}
#: keys of :data:`T`, each the glossary word ``maps_messages_<key>``
_T_KEYS = ("title", "overdue", "open", "done", "legend", "count", "n_open", "n_overdue")
T = {lang: {k: word(f"maps_messages_{k}", lang) for k in _T_KEYS} for lang in LANGS}


def messages_map(ds, points: Sequence[dict[str, Any]], *, lang: str = "zh", tiles: str = "osm",
                 tianditu_key: str | None = None, static_prefix: str = "/static") -> folium.Map:
    """The map of ``points``: dicts with ``lon``, ``lat``, ``state`` (overdue/open/done), ``status``,
    ``sector``, ``township`` and ``created_at`` (see the module)."""
    check_lang(lang)
    t = T[lang]
    datum = tile_datum(tiles)
    m = base_map(county_bounds(ds), tiles=tiles, lang=lang, tianditu_key=tianditu_key,
                 title=f"{getattr(ds, 'name', '') or ''} · {t['title']}".strip(" ·"))
    for layer in boundary_layers(ds, lang=lang, datum=datum):
        layer.add_to(m)
    fc = feature_collection([Point(p["lon"], p["lat"]) for p in points],
                            [value_label("message_status", p["status"], lang) for p in points],
                            classes=[p["state"] for p in points],
                            values=[[p.get("sector"), p.get("township"), (p.get("created_at") or "")[:10]]
                                    for p in points], datum=datum)
    styles = {k: {"radius": 6, "color": "#333", "weight": 1, "fillColor": c, "fillOpacity": 0.85}
              for k, c in COLOURS.items()}
    DataLayer(fc, {"styles": styles, "fields": [label("sector", lang), label("township_name", lang),
                                                label("created_at", lang)]}, name=t["title"]).add_to(m)
    n_open = sum(p["state"] != "done" for p in points)
    n_over = sum(p["state"] == "overdue" for p in points)
    box = (f'<table><tr><td>{esc(t["count"])}</td><td>{len(points)}</td></tr>'
           f'<tr><td>{esc(t["n_open"])}</td><td>{n_open}</td></tr>'
           f'<tr><td>{esc(t["n_overdue"])}</td><td>{n_over}</td></tr></table>')
    add_box(m, box, position="bottomleft", css_class="gs-summary", summary=t["title"])
    add_box(m, legend_html(t["title"], [("circle", COLOURS[k], t[k]) for k in COLOURS]), position="bottomright",
            css_class="gs-legend-box", summary=t["legend"])
    return finish(m, prefix=static_prefix)


__all__ = ["messages_map"]
