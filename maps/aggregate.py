"""Province-size coverage maps: villages aggregated into hexagons, details loaded by bounding box.

A coverage map draws one marker per village, about 450 bytes each: a 20,000-village province
would be a 9 MB page that Chromium takes seconds to draw. Above :data:`LARGE_VILLAGES` villages
:func:`maps.coverage.coverage_map` draws instead (:func:`add_overview`):

* **hex bins** in the dataset's metric projection (pointy-top hexagons of :func:`hex_size_m`
  metres, about 1,000 occupied bins whatever the province's size), each coloured by the share of
  the weight (persons, or villages when populations are unknown:
  :func:`geo_service.core.coverage.village_weights`) within the colour threshold, with a popup giving
  the village count, the weight and the covered share within every threshold;
* **village details** as the planner zooms in: at zoom :data:`DETAIL_ZOOM` or closer the page's
  runtime (:data:`DETAIL_JS`) fetches the service's vector tiles of the ``coverage`` collection in
  view (:data:`TILE_URL`, OGC API - Tiles, Mapbox Vector Tiles; same origin so ``connect-src 'self'``
  allows it; each tile once), decodes their points (``gsMvt``, a reader of the MVT protobuf) and
  draws each village with its distance band and popup values; when the view holds more than
  :data:`DETAIL_LIMIT` villages the page asks the planner to zoom in. (The bbox endpoint,
  ``GET /v1/datasets/{id}/maps/coverage/villages``, still answers API clients.) A standalone page (no service, ``detail_url=None``) shows the aggregates and
  a note saying so.

Safety as for every map (:mod:`maps.render`): the runtime is a constant inline script (allowed by
its hash), its configuration a JSON block, names reach the page only as JSON and are drawn with
``textContent`` by ``gs.layer``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from folium.template import Template

from geo_service.core.coverage import village_weights
from geo_service.core.domain import STATION_KIND_LABELS
from geo_service.core.glossary import UNITS, map_words, message, word

from .render import DataLayer, Literal, esc, feature_collection, json_block, legend_html

#: above this many villages a coverage map shows hex-bin aggregates instead of every village
LARGE_VILLAGES = 5000
#: zoom level from which the page loads the villages in view (zoom 11: a 1280 x 800 view spans about 100 x 60 km)
DETAIL_ZOOM = 11
#: villages the page asks for at most per view; the endpoint accepts up to :data:`MAX_DETAIL_LIMIT`
DETAIL_LIMIT = 3000
MAX_DETAIL_LIMIT = 5000
#: the village details come from the service's vector tiles of this collection (OGC API - Tiles,
#: WebMercatorQuad), at the map's zoom up to this one
TILE_LAYER = "coverage"
TILE_MAX_ZOOM = 14
#: the tile URL template of a served coverage map, relative to its page (``/v1/datasets/{id}/maps/coverage``)
TILE_URL = "../collections/coverage/tiles/WebMercatorQuad/{z}/{y}/{x}"
#: occupied hexagons aimed at (page size ~ 300 bytes a bin)
TARGET_BINS = 1000
SHARE_COLOURS = ("#d73027", "#fc8d59", "#fee08b", "#91cf60", "#1a9850")  # share 0-20 % ... 80-100 %
SQRT3 = math.sqrt(3.0)

TEXT = {
    "zh": {"layer": "村/社区汇总（六边形，按覆盖占比着色）", "villages": "村/社区数", "weight_pop": "人口",
           "weight_vil": "村数", "within": "{t}以内", "legend": "汇总：{t}以内覆盖占比",
           "hex": "六边形边长 {s}", "zoom_in": "共 {n} 个村，按六边形汇总；放大地图查看各村",
           "too_many": "本视野内有 {n} 个村（每次最多 {limit} 个），请继续放大",
           "shown": "本视野内 {n} 个村", "loading": "正在加载本视野内的村…",
           "failed": "村级明细加载失败，请稍后重试",
           "standalone": "共 {n} 个村，按六边形汇总（离线文件不含村级明细；在服务中打开本图，放大即可查看各村）",
           "bin": "{n} 个村 · {share} 覆盖"},
    "en": {"layer": "Villages aggregated (hexagons, coloured by covered share)", "villages": "Villages",
           "weight_pop": "Population", "weight_vil": "Villages", "within": "within {t}",
           "legend": "Aggregates: share covered within {t}", "hex": "hexagon side {s}",
           "zoom_in": "{n} villages shown as hexagons; zoom in to see each village",
           "too_many": "{n} villages in view (at most {limit} at a time): zoom in further",
           "shown": "{n} villages in view", "loading": "Loading the villages in view…",
           "failed": "Could not load the villages; try again later",
           "standalone": "{n} villages shown as hexagons (this offline file has no village details; open "
                         "the map from the service and zoom in to see each village)",
           "bin": "{n} villages · {share} covered"},
}


# --- hexagons ----------------------------------------------------------------------------------------

def hex_size_m(x: np.ndarray, y: np.ndarray, target_bins: int = TARGET_BINS) -> float:
    """Hexagon side (metres, a multiple of 500 m, at least 1 km) giving about ``target_bins``
    hexagons over the bounding box of the points ``x, y`` (metres)."""
    if target_bins < 1:
        raise ValueError(f"target_bins must be >= 1, got {target_bins}")
    if len(x) == 0:
        return 1000.0
    area = max(float(np.ptp(x)) * float(np.ptp(y)), 1.0)
    side = math.sqrt(area / target_bins / (1.5 * SQRT3))  # hexagon area = 3*sqrt(3)/2 * side^2
    return max(1000.0, math.ceil(side / 500.0) * 500.0)


def hex_index(x: np.ndarray, y: np.ndarray, size_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Axial coordinates (q, r) of the pointy-top hexagon of side ``size_m`` holding each point."""
    if not size_m > 0:
        raise ValueError(f"size_m must be > 0, got {size_m}")
    qf = (SQRT3 / 3.0 * np.asarray(x, float) - np.asarray(y, float) / 3.0) / size_m
    rf = (2.0 / 3.0 * np.asarray(y, float)) / size_m
    sf = -qf - rf
    q, r, s = np.round(qf), np.round(rf), np.round(sf)  # cube rounding: fix the largest error
    dq, dr, ds = np.abs(q - qf), np.abs(r - rf), np.abs(s - sf)
    fix_q = (dq > dr) & (dq > ds)
    fix_r = ~fix_q & (dr > ds)
    q = np.where(fix_q, -r - s, q)
    r = np.where(fix_r, -q - s, r)
    return q.astype(np.int64), r.astype(np.int64)


def hex_polygons(q: np.ndarray, r: np.ndarray, size_m: float) -> np.ndarray:
    """Shapely hexagons (metres) of axial coordinates ``q, r``."""
    cx = size_m * SQRT3 * (np.asarray(q, float) + np.asarray(r, float) / 2.0)
    cy = size_m * 1.5 * np.asarray(r, float)
    ang = np.radians(60.0 * np.arange(6) - 30.0)
    xs = cx[:, None] + size_m * np.cos(ang)[None, :]
    ys = cy[:, None] + size_m * np.sin(ang)[None, :]
    ring = np.stack([xs, ys], axis=-1)
    return shapely.polygons(np.concatenate([ring, ring[:, :1]], axis=1))


def aggregate_villages(villages: gpd.GeoDataFrame, measure: np.ndarray, thresholds: Sequence[float], metric_crs,
                       *, size_m: float | None = None) -> tuple[gpd.GeoDataFrame, float, str]:
    """Villages per hexagon with their weight and the weight within each threshold.

    ``measure``: distance (m) or time (s) to the nearest station per village, aligned with
    ``villages`` (NaN: no station reachable, never covered). Returns (bins, side in metres, weight
    basis ``"population"`` or ``"villages"``); ``bins`` has ``q``, ``r``, ``villages`` (count),
    ``weight`` and ``within_0``... (weight with ``measure <= thresholds[i]``), geometry WGS-84.
    Villages without a geometry are left out.
    """
    measure = np.asarray(measure, dtype=float)
    if len(measure) != len(villages):
        raise ValueError(f"measure has {len(measure)} values for {len(villages)} villages")
    vw = village_weights(villages)
    g = villages.geometry
    ok = ~(g.isna() | g.is_empty).to_numpy()
    pts = g[ok].to_crs(metric_crs)
    x, y = pts.x.to_numpy(), pts.y.to_numpy()
    side = float(size_m) if size_m is not None else hex_size_m(x, y)
    q, r = hex_index(x, y, side)
    frame = pd.DataFrame({"q": q, "r": r, "villages": 1, "weight": vw.weights[ok]})
    for i, t in enumerate(thresholds):
        frame[f"within_{i}"] = np.where(measure[ok] <= float(t), vw.weights[ok], 0.0)
    bins = frame.groupby(["q", "r"], sort=True).sum().reset_index()
    geom = gpd.GeoSeries(hex_polygons(bins["q"].to_numpy(), bins["r"].to_numpy(), side), crs=metric_crs)
    return gpd.GeoDataFrame(bins, geometry=geom.to_crs("EPSG:4326").to_numpy(), crs="EPSG:4326"), side, vw.basis


def _share_class(share: np.ndarray) -> np.ndarray:
    return np.clip((np.nan_to_num(share) * 5).astype(int), 0, 4)


def _pct(x: float) -> str:
    return f"{100.0 * x:.1f}%"


# --- the page: overview layer + detail loader ------------------------------------------------------------

def add_overview(m: folium.Map, ds, measure: np.ndarray, thresholds: Sequence[float], *, colour_threshold: float,
                 fmt: Callable[[float], str], fields: Sequence[str], band_colours: Sequence[str],
                 lang: str, datum: str, detail_url: str | None) -> tuple[DataLayer, str]:
    """Add the hex-bin overview of ``ds``'s villages and the detail loader to ``m``.

    ``measure`` per village (aligned with ``ds.villages``), ``thresholds`` and ``fmt`` (threshold ->
    label) as in the coverage map; bins are coloured by the share within ``colour_threshold``.
    ``fields``: popup labels of a village (as the endpoint's ``v`` values), ``band_colours`` the
    village colour per distance band. ``detail_url``: the bbox endpoint, relative to the page
    (``"coverage/villages"``), or None for a standalone page. Returns the overview layer and the
    legend HTML to add to the map's legend.
    """
    tx = TEXT[lang]
    v = ds.villages.reset_index(drop=True)
    nt = len(thresholds)  # the colour threshold rides as one more column: within_{nt}
    bins, side, basis = aggregate_villages(v, measure, [*thresholds, colour_threshold], ds.metric_crs)
    w = bins["weight"].to_numpy(float)
    share = np.divide(bins[f"within_{nt}"].to_numpy(float), w, out=np.zeros(len(w)), where=w > 0)
    cls = _share_class(share)
    unit = getattr(UNITS["persons"], lang) if basis == "population" else (word("maps_aggregate_villages", lang))
    values, names = [], []
    for k in range(len(bins)):
        row = [int(bins["villages"].iat[k]), f"{int(round(w[k])):,} {unit}"]
        for i in range(nt):
            cov = float(bins[f"within_{i}"].iat[k])
            row.append(message("maps_aggregate_covered", lang, covered=int(round(cov)), unit=unit, share=_pct(cov / w[k]) if w[k] > 0 else '–'))
        values.append(row)
        names.append(tx["bin"].format(n=int(bins["villages"].iat[k]), share=_pct(share[k])))
    fc = feature_collection(bins.geometry.to_numpy(), names, classes=cls.tolist(), values=values, datum=datum)
    styles = {int(c): {"color": "#555", "weight": 0.5, "fillColor": SHARE_COLOURS[c], "fillOpacity": 0.6}
              for c in range(len(SHARE_COLOURS))}
    wlabel = tx["weight_pop"] if basis == "population" else tx["weight_vil"]
    layer = DataLayer(fc, {"styles": styles, "fields": [tx["villages"], wlabel] +
                           [tx["within"].format(t=fmt(t)) for t in thresholds]}, name=tx["layer"])
    layer.add_to(m)
    n = len(v)
    DetailLoader(layer, url=detail_url, lang=lang, datum=datum, fields=fields, band_colours=band_colours,
                 thresholds=thresholds, text={k: s.replace("{n}", f"{n:,}") if k in ("zoom_in", "standalone") else s
                       for k, s in tx.items()}).add_to(m)
    rows = [("square", SHARE_COLOURS[c], f"{20 * c}–{20 * (c + 1)}%") for c in range(len(SHARE_COLOURS))]
    size = message("maps_aggregate_km", lang, km=side / 1000)
    legend = (legend_html(tx["legend"].format(t=fmt(colour_threshold)), rows)
              + f'<div class="gs-note">{esc(tx["hex"].format(s=size))}</div>')
    return layer, legend


class DetailLoader(MacroElement):
    """Loads the villages in view from the service at zoom :data:`DETAIL_ZOOM` or closer.

    The script names only our elements (the map, the overview layer, the config block id); the
    configuration (endpoint, labels, colours) travels in a JSON block; :data:`DETAIL_JS` does the
    work (one constant inline script, allowed by its hash).
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        gsDetail.attach({{ this._parent.get_name() }}, {{ this.overview.get_name() }}, {{ this.block_id|tojson }});
        {% endmacro %}
    """)

    def __init__(self, overview: DataLayer, *, url: str | None, lang: str, datum: str, fields: Sequence[str],
                 band_colours: Sequence[str], text: dict[str, str], thresholds: Sequence[float] = (5000, 10000, 20000)):
        super().__init__()
        self._name = "DetailLoader"
        self.overview = overview
        self.block_id = f"{self.get_name()}_cfg"
        words = map_words(lang)
        self.config = {"url": url, "lang": lang, "datum": datum, "zoom": DETAIL_ZOOM, "limit": DETAIL_LIMIT,
                       "maxzoom": TILE_MAX_ZOOM, "layer": TILE_LAYER, "thresholds": [float(t) for t in thresholds],
                       "kinds": {k: v[lang] for k, v in STATION_KIND_LABELS.items()},
                       "colours": list(band_colours), "note": f"{self.get_name()}_note",
                       "text": {**text, "no_station": words["no_station"], "yes": words["yes"]},
                       "villages": {"styles": {}, "fields": list(fields)}}

    def render(self, **kwargs):
        root = self.get_root()
        root.header.add_child(Literal(f"<style>{DETAIL_CSS}</style>"), name="gs_detail_css")
        root.header.add_child(Literal(f"<script>{DETAIL_JS}</script>"), name="gs_detail_js")
        root.html.add_child(Literal(f'<div class="gs-box gs-detail-note" id="{self.config["note"]}" '
                                    f'data-state="init"></div>'), name=self.config["note"])
        root.html.add_child(json_block(self.block_id, self.config), name=self.block_id)
        super().render(**kwargs)


DETAIL_CSS = (".gs-detail-note{top:10px;left:50%;transform:translateX(-50%);max-width:420px;text-align:center}"
              "@media (max-width:640px){.gs-detail-note{left:54px;transform:none;max-width:calc(100vw - 120px);"
              "font-size:11px}}")

DETAIL_JS = r"""
var gsMvt = (function () {  // Mapbox Vector Tile points (protobuf) -> [{x, y, props}] in tile units
  var utf8 = new TextDecoder('utf-8');
  function Reader(buf) { this.b = buf; this.p = 0; this.v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength); }
  Reader.prototype.varint = function () {
    var r = 0, s = 1, c;
    do { c = this.b[this.p++]; r += (c & 0x7f) * s; s *= 128; } while (c >= 128);
    return r;
  };
  Reader.prototype.zig = function (n) { return n % 2 ? -(n + 1) / 2 : n / 2; };
  Reader.prototype.bytes = function () { var n = this.varint(), a = this.b.subarray(this.p, this.p + n); this.p += n; return a; };
  Reader.prototype.skip = function (w) {
    if (w === 0) { this.varint(); } else if (w === 1) { this.p += 8; } else if (w === 2) { this.p += this.varint(); }
    else if (w === 5) { this.p += 4; } else { throw new Error('wire type ' + w); }
  };
  function each(buf, fn) {
    var r = new Reader(buf);
    while (r.p < buf.length) { var k = r.varint(); fn(k >> 3, k & 7, r); }
  }
  function value(buf) {
    var out = null;
    each(buf, function (f, w, r) {
      if (f === 1) { out = utf8.decode(r.bytes()); }
      else if (f === 2) { out = r.v.getFloat32(r.p, true); r.p += 4; }
      else if (f === 3) { out = r.v.getFloat64(r.p, true); r.p += 8; }
      else if (f === 4 || f === 5) { out = r.varint(); }
      else if (f === 6) { out = r.zig(r.varint()); }
      else if (f === 7) { out = r.varint() !== 0; }
      else { r.skip(w); }
    });
    return out;
  }
  function packed(r) {
    var end = r.varint() + r.p, a = [];
    while (r.p < end) { a.push(r.varint()); }
    return a;
  }
  function layer(buf) {
    var name = '', keys = [], vals = [], feats = [], extent = 4096;
    each(buf, function (f, w, r) {
      if (f === 1) { name = utf8.decode(r.bytes()); }
      else if (f === 2) { feats.push(r.bytes()); }
      else if (f === 3) { keys.push(utf8.decode(r.bytes())); }
      else if (f === 4) { vals.push(value(r.bytes())); }
      else if (f === 5) { extent = r.varint(); }
      else { r.skip(w); }
    });
    var out = [];
    feats.forEach(function (fb) {
      var tags = [], geom = [], type = 0;
      each(fb, function (f, w, r) {
        if (f === 2) { tags = packed(r); } else if (f === 4) { geom = packed(r); }
        else if (f === 3) { type = r.varint(); } else { r.skip(w); }
      });
      if (type !== 1 || geom.length < 3) { return; }
      var props = {};
      for (var i = 0; i + 1 < tags.length; i += 2) { props[keys[tags[i]]] = vals[tags[i + 1]]; }
      var x = Reader.prototype.zig(geom[1]), y = Reader.prototype.zig(geom[2]);
      out.push({x: x / extent, y: y / extent, props: props});
    });
    return {name: name, features: out};
  }
  function decode(buf) {
    var layers = {};
    each(new Uint8Array(buf), function (f, w, r) {
      if (f === 3) { var l = layer(r.bytes()); layers[l.name] = l; } else { r.skip(w); }
    });
    return layers;
  }
  return {decode: decode};
})();

var gsDetail = (function () {
  var PI = Math.PI, A = 6378245.0, EE = 0.00669342162296594323;
  function gcj(lon, lat) {  // WGS-84 -> GCJ-02 (the formula of geo_service.core.crs), for Gaode tiles
    if (lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271) { return [lon, lat]; }
    var x = lon - 105.0, y = lat - 35.0;
    var dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x))
      + (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0
      + (20.0 * Math.sin(y * PI) + 40.0 * Math.sin(y / 3.0 * PI)) * 2.0 / 3.0
      + (160.0 * Math.sin(y / 12.0 * PI) + 320 * Math.sin(y * PI / 30.0)) * 2.0 / 3.0;
    var dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x))
      + (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0
      + (20.0 * Math.sin(x * PI) + 40.0 * Math.sin(x / 3.0 * PI)) * 2.0 / 3.0
      + (150.0 * Math.sin(x / 12.0 * PI) + 300.0 * Math.sin(x / 30.0 * PI)) * 2.0 / 3.0;
    var rad = lat / 180.0 * PI, magic = 1 - EE * Math.sin(rad) * Math.sin(rad), sq = Math.sqrt(magic);
    dlat = (dlat * 180.0) / ((A * (1 - EE)) / (magic * sq) * PI);
    dlon = (dlon * 180.0) / (A / sq * Math.cos(rad) * PI);
    return [lon + dlon, lat + dlat];
  }
  function km(m, lang) {
    var v = Math.round(m / 100) / 10, s = v % 1 === 0 ? v.toFixed(0) : v.toFixed(1);
    return lang === 'zh' ? s + ' 公里' : s + ' km';
  }
  function feature(cfg, tz, tx, ty, f) {  // a coverage tile's village as the map draws it
    var n = Math.pow(2, tz), lon = (tx + f.x) / n * 360 - 180;
    var lat = Math.atan(Math.sinh(PI * (1 - 2 * (ty + f.y) / n))) * 180 / PI;
    var p = f.props, d = typeof p.nearest_m === 'number' ? p.nearest_m : null, band = cfg.thresholds.length + 1;
    if (d !== null) { band = 0; cfg.thresholds.forEach(function (t) { if (t < d) { band++; } }); }
    var pop = typeof p.population === 'number' ? p.population : 0;
    var radius = Math.round(Math.min(12, Math.max(4, 4 + Math.sqrt(pop / 400))) * 10) / 10;
    var kind = cfg.kinds[p.nearest_station_kind] || '';
    var near = p.nearest_station_name ? (kind ? p.nearest_station_name + '（' + kind + '）' : p.nearest_station_name)
                                      : cfg.text.no_station;
    var xy = cfg.datum === 'gcj02' ? gcj(lon, lat) : [lon, lat];
    return {type: 'Feature', geometry: {type: 'Point', coordinates: xy},
            properties: {n: p.name, c: band + ':' + radius, i: p.id,
                         v: [p.township_name || null, Math.round(pop), near, d === null ? null : km(d, cfg.lang),
                             p.is_seat ? cfg.text.yes : null]}};
  }
  function tilesInView(map, z) {
    var b = map.getBounds().pad(0.05), n = Math.pow(2, z);  // a margin: GCJ-02 views sit ~500 m off the grid
    function col(lon) { return Math.min(n - 1, Math.max(0, Math.floor((lon + 180) / 360 * n))); }
    function row(lat) {
      var r = Math.max(-85.0511, Math.min(85.0511, lat)) * PI / 180;
      return Math.min(n - 1, Math.max(0, Math.floor((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / PI) / 2 * n)));
    }
    var out = [];
    for (var x = col(b.getWest()); x <= col(b.getEast()); x++) {
      for (var y = row(b.getNorth()); y <= row(b.getSouth()); y++) { out.push([x, y]); }
    }
    return out;
  }
  function attach(map, overview, id) {
    var cfg = JSON.parse(document.getElementById(id).textContent);
    var note = document.getElementById(cfg.note), detail = null, seq = 0, timer = null, cache = {};
    function say(state, text, n) {
      if (!note) { return; }
      note.setAttribute('data-state', state);
      note.setAttribute('data-count', n === undefined ? '' : String(n));
      note.textContent = text;
    }
    function fmt(t, n, limit) {
      return t.replace('{n}', Number(n).toLocaleString()).replace('{limit}', Number(limit).toLocaleString());
    }
    function styles(data) {  // class "band:radius" -> circle style (the page holds no style per village)
      var st = cfg.villages.styles;
      for (var i = 0; i < data.features.length; i++) {
        var c = data.features[i].properties.c;
        if (st[c]) { continue; }
        var p = String(c).split(':'), b = parseInt(p[0], 10);
        st[c] = {radius: parseFloat(p[1]), color: '#333', weight: 0.6, fillOpacity: 0.85,
                 fillColor: b < cfg.colours.length ? cfg.colours[b] : '#999999'};
      }
    }
    function overviewOn() {
      if (detail) { map.removeLayer(detail); detail = null; }
      if (!map.hasLayer(overview)) { map.addLayer(overview); }
    }
    function tile(z, x, y) {  // the villages of one vector tile of the coverage collection (cached)
      var key = z + '/' + y + '/' + x;
      if (!cache[key]) {
        var url = cfg.url.replace('{z}', z).replace('{y}', y).replace('{x}', x);
        cache[key] = fetch(url, {credentials: 'same-origin', headers: {'Accept': 'application/vnd.mapbox-vector-tile'}})
          .then(function (r) {
            if (r.status === 204) { return []; }
            if (!r.ok) { delete cache[key]; throw new Error('HTTP ' + r.status); }
            return r.arrayBuffer().then(function (buf) {
              var l = gsMvt.decode(buf)[cfg.layer];
              return (l ? l.features : []).filter(function (f) { return f.x >= 0 && f.x < 1 && f.y >= 0 && f.y < 1; })
                .map(function (f) { return feature(cfg, z, x, y, f); });
            });
          });
      }
      return cache[key];
    }
    function update() {
      if (!cfg.url) { say('standalone', cfg.text.standalone); return; }
      if (map.getZoom() < cfg.zoom) { seq++; overviewOn(); say('overview', cfg.text.zoom_in); return; }
      var my = ++seq, z = Math.min(cfg.maxzoom, Math.floor(map.getZoom())), b = map.getBounds();
      say('loading', cfg.text.loading);
      Promise.all(tilesInView(map, z).map(function (t) { return tile(z, t[0], t[1]); }))
        .then(function (parts) {
          if (my !== seq) { return; }
          var feats = [].concat.apply([], parts).filter(function (f) {
            var c = f.geometry.coordinates;
            return b.contains([c[1], c[0]]);
          });
          if (feats.length > cfg.limit) { overviewOn(); say('too-many', fmt(cfg.text.too_many, feats.length, cfg.limit), feats.length); return; }
          var d = {type: 'FeatureCollection', features: feats};
          styles(d);
          var next = gs.layer(d, cfg.villages);
          if (detail) { map.removeLayer(detail); }
          detail = next.addTo(map);
          if (map.hasLayer(overview)) { map.removeLayer(overview); }
          say('detail', fmt(cfg.text.shown, feats.length, cfg.limit), feats.length);
        })
        .catch(function () { if (my === seq) { overviewOn(); say('failed', cfg.text.failed); } });
    }
    map.on('moveend', function () { clearTimeout(timer); timer = setTimeout(update, 150); });
    update();
  }
  return {attach: attach};
})();
"""


__all__ = ["DETAIL_LIMIT", "DETAIL_ZOOM", "LARGE_VILLAGES", "MAX_DETAIL_LIMIT", "TILE_URL", "DetailLoader", "add_overview",
           "aggregate_villages", "hex_index", "hex_polygons", "hex_size_m"]
