"""The maps' small runtime, served inline in every map page (its SHA-256 goes into the CSP):
CSS classes for boxes and legend colours (no inline ``style`` attributes anywhere), and the script
that draws the JSON data blocks and builds tooltips, popups and search with ``textContent``, so user
text never becomes markup or code."""

RUNTIME_CSS = """
.gs-bottomright{bottom:28px;right:10px}.gs-bottomleft{bottom:52px;left:10px}
.gs-topright{top:10px;right:60px}.gs-topleft{top:90px;left:60px}.gs-mt{margin-top:6px}
.gs-box{position:fixed;z-index:1000;background:rgba(255,255,255,.93);padding:6px 9px;border-radius:5px;
 box-shadow:0 1px 4px rgba(0,0,0,.35);font:12px/1.4 "Helvetica Neue",Arial,"PingFang SC","Microsoft YaHei",sans-serif;
 max-height:45vh;overflow:auto;max-width:300px}
.gs-title{font-weight:bold;margin:2px 0 4px}
details.gs-box>summary{cursor:pointer;list-style-position:inside}
details.gs-box:not([open]){padding:3px 8px}details.gs-box:not([open])>summary{margin:0}
@media (max-width:640px),(max-height:480px){.gs-box{max-width:calc(100vw - 70px);max-height:40vh;font-size:11px}
 .gs-topleft{left:50px}}
.gs-row{display:flex;align-items:center;gap:6px;margin:2px 0}
.gs-sw{display:inline-block;width:14px;height:14px;flex:none}
.gs-sw-circle{background:var(--c);border-radius:50%}
.gs-sw-square{background:var(--c);opacity:.55;border:1px solid var(--c)}
.gs-sw-line{height:0;border-top:3px solid var(--c);margin-top:6px}
.gs-symsw{display:inline-block;width:14px;text-align:center;font-size:15px;flex:none;text-shadow:0 0 2px #fff;
 color:var(--c)}
.gs-box table{border-collapse:collapse}.gs-box td,.gs-box th{padding:1px 5px;text-align:right}
.gs-box td:first-child,.gs-box th:first-child{text-align:left}
.gs-popup-title{font-weight:bold;font-size:13px;margin-bottom:3px}
.gs-popup th{text-align:left;padding-right:8px;color:#555;font-weight:normal;vertical-align:top}
.gs-icon{background:none;border:none}
.leaflet-control-search .search-input{width:150px}
.gs-sym{line-height:1;text-align:center;font-weight:bold;text-shadow:-1px -1px 0 #fff,1px -1px 0 #fff,-1px 1px 0 #fff,1px 1px 0 #fff}
.gs-ring{box-sizing:border-box;border:3px solid #555;border-radius:50%;background:rgba(255,255,255,.35);
 position:relative}
.gs-ring-n{position:absolute;left:70%;bottom:70%;background:#fff;border:1px solid #555;border-radius:8px;
 padding:0 3px;font:bold 10px/13px Arial,sans-serif;color:#222;white-space:nowrap}
.gs-unlocated{columns:2;column-gap:12px;margin:2px 0 0;padding:0;list-style:none}
.gs-loc{font-weight:bold;color:#333}
.gs-gapmark{position:relative;width:22px;height:22px}
.gs-gap-ring{box-sizing:border-box;width:22px;height:22px;border:2.5px solid #b10026;border-radius:50%}
.gs-gap-n{position:absolute;left:17px;top:-7px}
.gs-badge{background:#b10026;color:#fff;border-radius:9px;border:1px solid #fff;font:bold 10px/16px Arial;
 text-align:center;min-width:16px;padding:0 2px;box-sizing:border-box}
"""

RUNTIME_JS = r"""
var gs = (function () {
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function popup(f, cfg) {
    var p = f.properties, d = el('div', 'gs-popup');
    d.appendChild(el('div', 'gs-popup-title', p.n));
    var t = el('table'), vals = p.v || [], fields = cfg.fields || [];
    for (var i = 0; i < fields.length; i++) {
      if (vals[i] === null || vals[i] === undefined || vals[i] === '') { continue; }
      var tr = t.insertRow();
      tr.appendChild(el('th', null, fields[i]));
      tr.appendChild(el('td', null, vals[i]));
    }
    d.appendChild(t);
    return d;
  }
  function styleOf(f, cfg) {
    var st = cfg.styles || {};
    var s = st[f.properties.c];
    return s || st._ || {};
  }
  function layer(data, cfg) {
    return L.geoJson(data, {
      pointToLayer: function (f, ll) {
        var s = styleOf(f, cfg);
        if (s.symbol) {
          var h = el('div', 'gs-sym', s.symbol);
          h.style.color = s.color; h.style.fontSize = s.size + 'px';
          return L.marker(ll, {icon: L.divIcon({html: h, className: 'gs-icon', iconSize: [s.size, s.size],
                                                iconAnchor: [s.size / 2, s.size / 2]}), riseOnHover: true});
        }
        if (s.ring) {  // approximate villages grouped at one point: a hollow ring, their count beside it
          var r = el('div', 'gs-ring'), d = s.size || 22;
          r.style.borderColor = s.color; r.style.width = d + 'px'; r.style.height = d + 'px';
          r.appendChild(el('span', 'gs-ring-n', f.properties.k));
          return L.marker(ll, {icon: L.divIcon({html: r, className: 'gs-icon', iconSize: [d, d],
                                                iconAnchor: [d / 2, d / 2]}), zIndexOffset: -500});
        }
        if (s.label && s.ring_color) {  // a worst gap: a red ring round the village, its rank beside it
          var g = el('div', 'gs-gapmark'), rg = el('div', 'gs-gap-ring');
          rg.style.borderColor = s.ring_color;
          g.appendChild(rg); g.appendChild(el('div', 'gs-badge gs-gap-n', f.properties.c));
          return L.marker(ll, {icon: L.divIcon({html: g, className: 'gs-icon', iconSize: [22, 22],
                                                iconAnchor: [11, 11]}), zIndexOffset: 500});
        }
        if (s.label) {
          var b = el('div', 'gs-badge', f.properties.c);
          return L.marker(ll, {icon: L.divIcon({html: b, className: 'gs-icon', iconSize: [18, 16],
                                                iconAnchor: [-4, 8]}), zIndexOffset: 500});
        }
        return L.circleMarker(ll, s);
      },
      style: function (f) { return styleOf(f, cfg); },
      onEachFeature: function (f, l) {
        if (cfg.tooltip !== false && f.properties.n !== null && f.properties.n !== undefined) {
          l.bindTooltip(el('span', null, f.properties.n), {sticky: !!cfg.sticky, permanent: !!cfg.permanent,
                                                           direction: cfg.permanent ? 'center' : 'auto',
                                                           className: cfg.tooltipClass || ''});
        }
        if (cfg.fields) { l.bindPopup(function () { return popup(f, cfg); }); }
      }
    });
  }
  function layerFrom(id) {
    var b = JSON.parse(document.getElementById(id).textContent), l = layer(b.data, b.config);
    if (b.config.cluster && L.markerClusterGroup) {  // many stations: grouped until zoomed in
      var g = L.markerClusterGroup({disableClusteringAtZoom: b.config.cluster, maxClusterRadius: 45,
                                    showCoverageOnHover: false, spiderfyOnMaxZoom: false});
      g.addLayer(l);
      return g;
    }
    return l;
  }
  function scale(map) {  // metres and kilometres only
    L.control.scale({imperial: false, metric: true, maxWidth: 120, position: 'bottomleft'}).addTo(map);
  }
  function paint() {  // legend colours: data-c -> CSS variable (CSSOM: allowed by a strict CSP)
    var list = document.querySelectorAll('[data-c]');
    for (var i = 0; i < list.length; i++) { list[i].style.setProperty('--c', list[i].getAttribute('data-c')); }
  }
  function small() { return window.innerWidth < 700 || window.innerHeight < 500; }
  function fitPadded(map, bounds) {  // boxes out of the way: room for them when wide, folded when small
    if (!map.options.maxZoom) { map.options.maxZoom = 19; }  // clusters need one, even without tiles
    var boxes = document.querySelectorAll('details.gs-collapsible'), i;
    if (small()) { for (i = 0; i < boxes.length; i++) { boxes[i].open = false; } }
    var w = map.getSize().x, left = 0, right = 0;
    var bl = document.querySelector('.gs-box.gs-bottomleft'), br = document.querySelector('.gs-box.gs-bottomright');
    if (bl) { left = bl.offsetWidth + 20; }
    if (br) { right = br.offsetWidth + 20; }
    if (small() || left + right > 0.62 * w) { left = 10; right = 10; }  // folded boxes sit at the bottom
    map.fitBounds(bounds, {paddingTopLeft: [left, 10], paddingBottomRight: [right, 10]});
  }
  function foldControl(map, ctrl) {  // re-added folded: Leaflet wires the toggle button on add
    if (!small() || ctrl.options.collapsed) { return; }
    ctrl.remove(); ctrl.options.collapsed = true; ctrl.addTo(map);
  }
  if (document.readyState === 'loading') { document.addEventListener('DOMContentLoaded', paint); } else { paint(); }
  return {el: el, layer: layer, layerFrom: layerFrom, fitPadded: fitPadded, foldControl: foldControl, scale: scale};
})();
"""
