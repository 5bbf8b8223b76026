"""Building blocks shared by the maps: base map and tiles, compact GeoJSON layers, legend boxes.

Safety: text from data or from a request (names, sectors, legends, query parameters) is never
template source and never markup. Folium/branca render each element's macro and then compile
that output as a Jinja template a second time (``Element(output)``), which would evaluate any
``{{ ... }}`` in a name on the server. Here the page is a :class:`PageFigure`: its sections are
emitted verbatim (:class:`Literal`, no template) after the first pass, so that second pass never
runs, and our own elements keep data out of every macro anyway:

* feature properties and layer styles travel as JSON in ``<script type="application/json">``
  blocks (:func:`json_block`; ``<``, ``>``, ``&``, ``'``, U+2028/9 escaped as ``\\u003c`` ...,
  so a ``</script>`` in a name cannot end the block), read by the page's runtime
  (:data:`RUNTIME_JS`), which builds tooltips, popups and search suggestions with ``textContent``;
* boxes rendered in Python (legend, summary, gap ranking, title) escape with :func:`html.escape`
  and are emitted as :class:`Literal` markup; colours ride in ``data-c`` attributes that the
  runtime applies through CSSOM (no inline ``style`` attributes, so a strict Content-Security-Policy
  without ``'unsafe-inline'`` holds); layer names shown by Leaflet's layer control are escaped.

The executable inline scripts (our runtime, Folium's map code) hold element names, our
constants and numbers only; the service allows them by SHA-256 hash (see
``api.web.content_security_policy``).

Size: points are drawn as canvas circle markers through one ``L.geoJson`` per layer, each feature
carrying only a name, a style class and its popup values (the field labels live once per layer);
coordinates are rounded to 5 decimals (about 1 m) and polygons simplified in metres.

Datum: overlays are stored and passed in WGS-84. When the chosen tiles are GCJ-02 (Gaode), every
overlay coordinate is shifted to GCJ-02 while the GeoJSON is written (:func:`feature_collection`),
so the overlays line up with the tiles; the data themselves are never changed.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import folium
import numpy as np
import orjson
import shapely
from branca.element import Element, Figure, MacroElement
from folium.elements import JSCSSMixin
from folium.template import Template

from geo_service.core.crs import transform_geometry, wgs84_to_gcj02

from .assets import localize
from .runtime import RUNTIME_CSS, RUNTIME_JS
from geo_service.core.glossary import message, word

COORD_DECIMALS = 5  # about 1.1 m in latitude


# --- labels ------------------------------------------------------------------------------------------

LANGS = ("zh", "en")


def check_lang(lang: str) -> str:
    """``lang`` if it is ``zh`` or ``en``, else ValueError naming the value."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {', '.join(LANGS)}, got {lang!r}")
    return lang


def km(metres: float, lang: str = "zh") -> str:
    """``5000`` -> ``"5 km"`` (or ``"5 公里"``)."""
    v = metres / 1000.0
    s = f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"
    return message("maps_render_km", lang, s=s)


def minutes(seconds: float, lang: str = "zh") -> str:
    """``900`` -> ``"15 分钟"`` (or ``"15 min"``)."""
    v = seconds / 60.0
    s = f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"
    return message("maps_render_min", lang, s=s)


def esc(value: Any) -> str:
    """HTML-escape any value (None -> empty string)."""
    return "" if value is None else html.escape(str(value), quote=True)


#: keys of :data:`MAP_TITLES`, each the glossary word ``maps_title_<key>``
_MAP_KINDS = ("coverage", "assignment", "gaps")
MAP_TITLES = {k: {lang: word(f"maps_title_{k}", lang) for lang in LANGS} for k in _MAP_KINDS}


def page_title(dataset_name: Any, kind: str, lang: str = "zh") -> str:
    """The page title of a map: ``"佳木斯演示 · 覆盖图"`` (plain text; escaped when rendered)."""
    label = MAP_TITLES[kind][check_lang(lang)]
    name = "" if dataset_name is None else str(dataset_name).strip()
    return f"{name} · {label}" if name else label


# --- the page: no second template pass ------------------------------------------------------------

class Literal(Element):
    """A piece of finished HTML emitted verbatim: never compiled or rendered as a template."""

    def __init__(self, markup: str):
        super().__init__()
        self._name = "Literal"
        self.markup = str(markup)

    def render(self, **kwargs) -> str:
        return self.markup


class PageFigure(Figure):
    """The page around a map: ``<html lang>``, ``<meta charset>``, an escaped ``<title>``.

    Branca renders every macro element once and wraps the output in ``Element(output)``, which
    compiles it as Jinja source and renders it again. :meth:`render` replaces those wrappers with
    :class:`Literal` (the first pass's output, verbatim) before the page is assembled, so text
    that reached a macro can only ever show as text; the page template itself sees the sections
    and the title only as values.
    """

    _template = Template(
        "<!DOCTYPE html>\n"
        "<html lang=\"{{ this.html_lang }}\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<title>{{ this.title|e }}</title>\n"
        "{{ this.header.render(**kwargs) }}\n</head>\n<body>\n"
        "{{ this.html.render(**kwargs) }}\n"
        "<script>\n{{ this.script.render(**kwargs) }}\n</script>\n"
        "</body>\n</html>\n")

    def __init__(self, *, title: str = "", lang: str = "zh"):
        super().__init__(title=title)
        self._name = "PageFigure"
        self.html_lang = {"zh": "zh-CN", "en": "en"}[check_lang(lang)]
        self.header._children.pop("meta_http", None)  # <meta charset> comes first instead

    def render(self, **kwargs) -> str:
        for child in list(self._children.values()):
            child.render(**kwargs)
        for section in (self.header, self.html, self.script):
            for key, el in list(section._children.items()):
                if el._template_str is not None:  # branca's Element(macro output): keep it as text
                    lit = Literal(el._template_str)
                    lit._parent = section
                    section._children[key] = lit
        return self._template.render(this=self, kwargs=kwargs)


def json_block(block_id: str, payload: Any) -> Literal:
    """``<script type="application/json" id=block_id>`` holding ``payload`` (:func:`js_json`).

    ``block_id`` is ours (an element name), never data."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", block_id):
        raise ValueError(f"block_id must be an identifier, got {block_id!r}")
    return Literal(f'<script type="application/json" id="{block_id}">{js_json(payload)}</script>')


# --- tiles ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TileSource:
    """A tile service: URL template, attribution, datum of its coordinates (wgs84 or gcj02)."""

    key: str
    url: str
    attr: str
    datum: str
    names: dict[str, str]
    subdomains: str = "abc"
    max_zoom: int = 18
    needs_key: bool = False


def _tile_names(key: str) -> dict[str, str]:
    """A basemap's name by language, from the glossary's ``maps_tiles_<key>``."""
    return {lang: word(f"maps_tiles_{key}", lang) for lang in LANGS}


TILE_SOURCES: dict[str, TileSource] = {
    "osm": TileSource("osm", "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                      '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
                      "wgs84", _tile_names("osm"), max_zoom=19),
    "gaode": TileSource("gaode", "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1"
                                 "&style=8&x={x}&y={y}&z={z}",
                        "&copy; 高德地图 AutoNavi (GCJ-02)", "gcj02",
                        _tile_names("gaode"), subdomains="1234"),
    "gaode_satellite": TileSource("gaode_satellite", "https://webst0{s}.is.autonavi.com/appmaptile?style=6"
                                                     "&x={x}&y={y}&z={z}",
                                  "&copy; 高德地图 AutoNavi (GCJ-02)", "gcj02",
                                  _tile_names("gaode_satellite"), subdomains="1234"),
    "tianditu": TileSource("tianditu", "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
                                       "&VERSION=1.0.0&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                                       "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}",
                           "&copy; 天地图 Tianditu (CGCS2000)", "wgs84",
                           _tile_names("tianditu"), subdomains="01234567", needs_key=True),
}
TILE_CHOICES = tuple(TILE_SOURCES) + ("none",)


def tile_datum(tiles: str) -> str:
    """The datum overlays must be drawn in for ``tiles`` (``wgs84`` or ``gcj02``)."""
    if tiles == "none":
        return "wgs84"
    if tiles not in TILE_SOURCES:
        raise ValueError(f"tiles must be one of {', '.join(TILE_CHOICES)}, got {tiles!r}")
    return TILE_SOURCES[tiles].datum


def _origins(src: TileSource) -> list[str]:
    """The ``https://host`` origins tiles of ``src`` load from (one per subdomain)."""
    base = src.url.split("/", 3)
    host = base[2]
    subs = src.subdomains if "{s}" in host else "-"
    return [f"{base[0]}//{host.replace('{s}', s)}" for s in subs]


def tile_hosts(m: folium.Map) -> list[str]:
    """The origins the map's tile layers load images from (for a CSP ``img-src``); [] without tiles."""
    return list(getattr(m, "gs_tile_hosts", []))


def base_map(bounds: Sequence[float], *, tiles: str = "osm", lang: str = "zh",
             tianditu_key: str | None = None, title: str = "") -> folium.Map:
    """An empty map fitted to ``bounds`` (minx, miny, maxx, maxy; WGS-84 degrees).

    ``tiles`` picks the base layer; the other tile sources of the same datum are offered in the
    layer control (switching datum would misplace the overlays). ``"none"``: no tiles at all
    (a plain grey background, for intranets without a tile server). Tianditu needs a key
    (``tianditu_key``, letters and digits); it is listed only when one is given. ``title``: the
    page's ``<title>`` (plain text, see :func:`page_title`).
    """
    check_lang(lang)
    datum = tile_datum(tiles)
    if tiles == "tianditu" and not tianditu_key:
        raise ValueError("tiles='tianditu' needs tianditu_key (a Tianditu developer key, 'tk')")
    if tianditu_key and not re.fullmatch(r"[A-Za-z0-9]{1,128}", tianditu_key):
        raise ValueError("tianditu_key must be 1-128 letters and digits (a Tianditu developer key)")
    m = folium.Map(location=None, tiles=None, prefer_canvas=True, control_scale=False, zoom_snap=0.25,
                   zoom_control=True)
    PageFigure(title=title, lang=lang).add_child(m)  # replaces Folium's Figure as the root
    m.gs_tile_hosts = []
    if tiles != "none":
        chosen = [TILE_SOURCES[tiles]] + [s for k, s in TILE_SOURCES.items()
                                          if k != tiles and s.datum == datum
                                          and (not s.needs_key or tianditu_key)]
        for src in chosen:
            url = src.url.replace("{key}", tianditu_key or "") if src.needs_key else src.url
            folium.TileLayer(tiles=url, attr=src.attr, name=src.names[lang], subdomains=src.subdomains,
                             max_zoom=src.max_zoom, overlay=False, control=True,
                             show=src is chosen[0]).add_to(m)
            m.gs_tile_hosts += _origins(src)
    minx, miny, maxx, maxy = (float(b) for b in bounds)
    if datum == "gcj02":
        (minx, maxx), (miny, maxy) = wgs84_to_gcj02(np.array([minx, maxx]), np.array([miny, maxy]))
    FitPadded([[float(miny), float(minx)], [float(maxy), float(maxx)]]).add_to(m)
    MetricScale().add_to(m)
    m.get_root().header.add_child(Literal(f"<style>{RUNTIME_CSS}</style>"), name="gs_css")
    m.get_root().header.add_child(Literal(f"<script>{RUNTIME_JS}</script>"), name="gs_js")
    m.get_root().html.add_child(Literal(f'<div class="gs-datum" hidden data-datum="{esc(datum)}"></div>'),
                                name="gs_datum")
    return m


class FitPadded(MacroElement):
    """Fit the map to ``bounds`` ([[south, west], [north, east]]) leaving room for the open boxes
    (summary on the left, legend on the right) on a wide screen; on a small one the runtime folds
    the boxes instead (``gs.fitPadded``). Renders numbers and the map's name only."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        gs.fitPadded({{ this._parent.get_name() }}, {{ this.bounds_js }});
        {% endmacro %}
    """)

    def __init__(self, bounds: Sequence[Sequence[float]]):
        super().__init__()
        self._name = "FitPadded"
        vals = [[float(x) for x in pair] for pair in bounds]
        if len(vals) != 2 or any(len(p) != 2 or not all(math.isfinite(x) for x in p) for p in vals):
            raise ValueError(f"bounds must be [[south, west], [north, east]] finite degrees, got {bounds!r}")
        self.bounds_js = js_json(vals)


class MetricScale(MacroElement):
    """A scale bar in metres and kilometres only (no miles), bottom left. Names only."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        gs.scale({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self):
        super().__init__()
        self._name = "MetricScale"


class ClusterAssets(JSCSSMixin, MacroElement):
    """Loads Leaflet.markercluster for layers drawn clustered (``config["cluster"]``); no script."""

    _template = Template("")
    default_js = [("markerclusterjs",  # noqa: RUF012 - Folium's interface; localize() sets per instance
                   "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/leaflet.markercluster.js")]
    default_css = [("markerclustercss",  # noqa: RUF012
                    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/MarkerCluster.css"),
                   ("markerclusterdefaultcss",
                    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/MarkerCluster.Default.css")]

    def __init__(self):
        super().__init__()
        self._name = "ClusterAssets"


class FoldOnSmall(MacroElement):
    """On a small screen, turn the map's expanded layer control into Leaflet's folded button
    (``gs.foldControl``), so it does not cover a third of a phone's map. Names only."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        gs.foldControl({{ this._parent.get_name() }}, {{ this.control.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, control: folium.LayerControl):
        super().__init__()
        self._name = "FoldOnSmall"
        self.control = control


# --- GeoJSON --------------------------------------------------------------------------------------------

def js_json(obj: Any) -> str:
    """JSON safe to embed in a ``<script>`` (UTF-8 kept; ``< > & '`` and line separators escaped).

    NaN and infinities become ``null`` (orjson)."""
    s = orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS).decode()
    return (s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("'", "\\u0027").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _round_coords(coords: np.ndarray) -> np.ndarray:
    return np.round(coords, COORD_DECIMALS)


def prepare_geometries(geoms: Iterable, *, datum: str = "wgs84") -> np.ndarray:
    """Geometries (WGS-84) ready to draw: shifted to GCJ-02 when ``datum == "gcj02"``, rounded.

    Returns new shapely geometries; the inputs are not modified.
    """
    arr = np.asarray(list(geoms) if not isinstance(geoms, np.ndarray) else geoms, dtype=object)
    if datum == "gcj02":
        arr = transform_geometry(arr, wgs84_to_gcj02)
    elif datum != "wgs84":
        raise ValueError(f"datum must be wgs84 or gcj02, got {datum!r}")
    return shapely.transform(arr, _round_coords)


def simplify_m(gdf, tolerance_m: float, metric_crs) -> np.ndarray:
    """Polygons/lines of ``gdf`` simplified by ``tolerance_m`` metres (in ``metric_crs``), back in WGS-84."""
    if len(gdf) == 0 or tolerance_m <= 0:
        return gdf.geometry.to_numpy()
    g = gdf.geometry.to_crs(metric_crs).simplify(tolerance_m, preserve_topology=True)
    return g.to_crs("EPSG:4326").to_numpy()


def _clean(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return None if not math.isfinite(f) else f
    if isinstance(v, (list, tuple, np.ndarray)):
        return "、".join(str(x) for x in v)
    try:
        import pandas as pd

        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return v if isinstance(v, (str, int, bool)) else str(v)


def feature_collection(geoms: Sequence, names: Sequence[Any], *, classes: Sequence[Any] | None = None,
                       values: Sequence[Sequence[Any]] | None = None, search: Sequence[Any] | None = None,
                       datum: str = "wgs84", counts: Sequence[Any] | None = None) -> dict[str, Any]:
    """A compact GeoJSON FeatureCollection: per feature ``n`` (name), ``c`` (style class),
    ``v`` (popup values, aligned with the layer's field labels), ``s`` (search text), ``k``
    (``counts``: the number a ring marker shows).

    Geometries are WGS-84 shapely objects; they are shifted (GCJ-02 tiles) and rounded here, on
    copies. Rows with a missing or empty geometry are skipped.
    """
    prepared = prepare_geometries(geoms, datum=datum)
    feats = []
    for i, g in enumerate(prepared):
        if g is None or shapely.is_empty(g):
            continue
        props: dict[str, Any] = {"n": _clean(names[i])}
        if classes is not None:
            props["c"] = _clean(classes[i])
        if values is not None:
            props["v"] = [_clean(x) for x in values[i]]
        if search is not None:
            props["s"] = _clean(search[i])
        if counts is not None:
            props["k"] = _clean(counts[i])
        feats.append({"type": "Feature", "properties": props,
                      "geometry": orjson.loads(shapely.to_geojson(g))})
    return {"type": "FeatureCollection", "features": feats}


class DataLayer(folium.map.Layer):
    """An overlay drawn by the page runtime from a compact FeatureCollection.

    The collection and ``config`` travel in a JSON block (:func:`json_block`) next to the map;
    the layer's script names only that block, so no data ever reaches a template.

    ``config``: ``styles`` (style class -> Leaflet path style; ``symbol``/``size``/``color`` draw a
    text symbol marker, ``label`` a numbered badge, otherwise points are circle markers),
    ``fields`` (popup labels, aligned with each feature's ``v``), ``tooltip`` (bool),
    ``permanent`` (tooltip always shown).
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = gs.layerFrom({{ this.block_id|tojson }});
        {% endmacro %}
    """)

    def __init__(self, data: dict[str, Any], config: dict[str, Any], *, name: str, show: bool = True,
                 control: bool = True):
        super().__init__(name=esc(name), overlay=True, control=control, show=show)
        self._name = "DataLayer"
        self.data = data
        self.config = config
        self.block_id = f"{self.get_name()}_data"

    def render(self, **kwargs):
        self.get_root().html.add_child(json_block(self.block_id, {"data": self.data, "config": self.config}),
                                       name=self.block_id)
        super().render(**kwargs)

    @property
    def n_features(self) -> int:
        return len(self.data["features"])


class NameSearch(JSCSSMixin, MacroElement):
    """Search box over the features' ``s`` (or ``n``) property of some :class:`DataLayer`\\s.

    Uses Leaflet.Search (vendored) with suggestions built as text nodes, so a name holding markup
    shows as text. On a match the map moves there and opens the feature's popup.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = new L.Control.Search({
            layer: L.layerGroup([{% for l in this.layers %}{{ l.get_name() }},{% endfor %}]),
            propertyName: 's', initial: false, collapsed: false, zoom: 13, position: 'topleft',
            textPlaceholder: {{ this.placeholder_js }}, textErr: {{ this.not_found_js }},
            hideMarkerOnCollapse: true,
            buildTip: function(text) { var li = document.createElement('li'); li.textContent = text; return li; }
        });
        {{ this.get_name() }}.on('search:locationfound', function(e) {
            if (e.layer && e.layer.getPopup && e.layer.getPopup() && e.layer._map) { e.layer.openPopup(); }
        });
        {{ this._parent.get_name() }}.addControl({{ this.get_name() }});
        {% endmacro %}
    """)

    default_js = [("Leaflet.Search.js",  # noqa: RUF012 - Folium's interface; localize() sets per instance
                   "https://cdn.jsdelivr.net/npm/leaflet-search@2.9.7/dist/leaflet-search.min.js")]
    default_css = [("Leaflet.Search.css",  # noqa: RUF012
                    "https://cdn.jsdelivr.net/npm/leaflet-search@2.9.7/dist/leaflet-search.min.css")]

    def __init__(self, layers: Sequence[DataLayer], *, lang: str = "zh"):
        super().__init__()
        self._name = "NameSearch"
        self.layers = list(layers)
        self.placeholder_js = js_json(word("maps_render_search_by_name", lang))
        self.not_found_js = js_json(word("maps_render_not_found", lang))


# --- boxes (legend, summary) ---------------------------------------------------------------------------

BOX_POSITIONS = ("bottomright", "bottomleft", "topright", "topleft")


def add_box(m: folium.Map, inner_html: str, *, position: str = "bottomright", css_class: str = "",
            summary: str | None = None) -> None:
    """Add a fixed box of (already escaped) HTML to the map page at ``position``.

    ``summary`` (plain text, escaped here): the box is a ``<details>`` whose ``<summary>`` line
    folds it away (no script needed); the page runtime folds such boxes on small screens.
    The markup is emitted verbatim (:class:`Literal`), never rendered as a template."""
    if position not in BOX_POSITIONS:
        raise ValueError(f"position must be one of {', '.join(BOX_POSITIONS)}, got {position!r}")
    if summary is None:
        markup = f'<div class="gs-box gs-{position} {esc(css_class)}">{inner_html}</div>'
    else:
        markup = (f'<details class="gs-box gs-{position} gs-collapsible {esc(css_class)}" open>'
                  f'<summary class="gs-title">{esc(summary)}</summary>{inner_html}</details>')
    m.get_root().html.add_child(Literal(markup))


def legend_html(title: str, rows: Iterable[tuple[str, str, str]]) -> str:
    """A legend: ``rows`` of (swatch kind ``circle``/``square``/``line``/symbol text, colour, label).

    Colours ride in ``data-c`` (applied by the runtime), not in ``style`` attributes (CSP)."""
    out = [f'<div class="gs-legend"><div class="gs-title">{esc(title)}</div>']
    for kind, colour, label in rows:
        c = esc(colour)
        if kind in ("circle", "square", "line"):
            sw = f'<span class="gs-sw gs-sw-{kind}" data-c="{c}"></span>'
        else:
            sw = f'<span class="gs-symsw" data-c="{c}">{esc(kind)}</span>'
        out.append(f'<div class="gs-row">{sw}<span>{esc(label)}</span></div>')
    out.append("</div>")
    return "".join(out)


# What our maps load: Leaflet alone (plus the plugins they add). Folium's other defaults (jQuery,
# Bootstrap, Font Awesome, awesome-markers) serve features these maps do not use; leaving them
# out saves about 0.5 MB of downloads and parsing per page (see benchmarks/map_size.py).
MAP_JS = [("leaflet", "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js")]
MAP_CSS = [("leaflet_css", "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css")]


def finish(m: folium.Map, *, collapsed: bool = False, prefix: str = "/static", lean: bool = True) -> folium.Map:
    """Add the layer control and point every asset at the service (see :func:`maps.assets.localize`).

    ``lean``: load only Leaflet and the plugins in use, not Folium's jQuery/Bootstrap/Font Awesome.
    """
    if any(isinstance(c, DataLayer) and c.config.get("cluster") for c in m._children.values()):
        ClusterAssets().add_to(m)
    control = folium.LayerControl(collapsed=collapsed, position="topright")
    control.add_to(m)
    FoldOnSmall(control).add_to(m)
    if lean:
        m.default_js = list(MAP_JS)
        m.default_css = list(MAP_CSS)
    return localize(m, prefix)


PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd")


PASTEL = ("#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462", "#b3de69", "#fccde5",
          "#d9d9d9", "#bc80bd", "#ccebc5", "#ffed6f")


def palette(n: int, *, pastel: bool = False) -> list[str]:
    """``n`` distinct colours (cycling a 16-colour qualitative palette, or 12 pastel fills)."""
    p = PASTEL if pastel else PALETTE
    return [p[i % len(p)] for i in range(n)]


def data_layers(m: folium.Map) -> dict[str, DataLayer]:
    """The map's :class:`DataLayer` overlays by (escaped) layer name, in drawing order."""
    return {c.layer_name: c for c in m._children.values() if isinstance(c, DataLayer)}
