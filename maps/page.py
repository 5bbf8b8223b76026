"""What every web map's page shares: the map fitted to the county with its title, and the two
boxes (legend bottom right, summary bottom left), each folding away under its summary line."""

from __future__ import annotations

import folium
import numpy as np

from geo_service.core.errors import InvalidParameter

from .names import county_name
from .render import add_box, base_map, page_title


def county_bounds(ds) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) WGS-84 of the county: its boundary, else townships, else all points."""
    for layer in ("counties", "townships", "villages", "stations"):
        g = ds.layers[layer].geometry
        if len(g) and not g.isna().all():
            b = g.total_bounds
            if np.all(np.isfinite(b)):
                return tuple(float(x) for x in b)  # type: ignore[return-value]
    raise InvalidParameter("dataset_id", "the dataset has no geometry to fit the map to (no counties, townships, "
                           "villages or stations)", "no_geometry", where="path")


def open_map(ds, kind: str, *, tiles: str, lang: str, tianditu_key: str | None) -> folium.Map:
    """An empty map of ``ds`` fitted to the county (:func:`county_bounds`), titled
    ``<county> · <kind>`` (:func:`maps.render.page_title`); ``tiles`` as :func:`maps.render.base_map`."""
    return base_map(county_bounds(ds), tiles=tiles, lang=lang, tianditu_key=tianditu_key,
                    title=page_title(county_name(ds), kind, lang))


def legend_box(m: folium.Map, inner_html: str, summary: str) -> None:
    """The legend box (bottom right) holding ``inner_html`` (already escaped) under ``summary``."""
    add_box(m, inner_html, position="bottomright", css_class="gs-legend-box", summary=summary)


def summary_box(m: folium.Map, inner_html: str, summary: str) -> None:
    """The summary box (bottom left) holding ``inner_html`` (already escaped) under ``summary``."""
    add_box(m, inner_html, position="bottomleft", css_class="gs-summary", summary=summary)


__all__ = ["county_bounds", "legend_box", "open_map", "summary_box"]
