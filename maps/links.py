"""Links drawn on selection: the lines from a clicked zone, contact point, member, township or
platform to what it serves, sent to the page as one JSON block and drawn by a small script."""

from __future__ import annotations

from typing import Any

from branca.element import MacroElement
from folium.template import Template

from .render import DataLayer, json_block, prepare_geometries


class LinkSelection(MacroElement):
    """Draws the links of the clicked zone/contact point/member/township (or the URL's selection).

    The links travel in a JSON block; this script holds element names only (no data)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
          var map = {{ this._parent.get_name() }};
          var data = JSON.parse(document.getElementById({{ this.block_id|tojson }}).textContent);
          var drawn = L.layerGroup().addTo(map);
          function show(kind, key) {
            drawn.clearLayers();
            var sel = kind ? (data[kind] || {})[key] : null;
            document.body.setAttribute('data-gs-selected', sel ? kind + ':' + key : '');
            document.body.setAttribute('data-gs-links', sel ? String(sel.l.length) : '0');
            if (!sel) { return; }
            sel.l.forEach(function (x) {
              L.polyline(x[0], {color: sel.c, weight: x[1], opacity: 0.85, dashArray: x[2] ? '5 4' : null,
                                className: 'gs-link', interactive: false}).addTo(drawn);
            });
            (sel.n || []).forEach(function (x) {
              var mk = L.circleMarker(x[0], {radius: 8, color: '#fff', weight: 1, fillColor: sel.c,
                                             fillOpacity: 0.9, className: 'gs-count'});
              mk.bindTooltip(gs.el('span', null, x[1]), {permanent: true, direction: 'center',
                                                         className: 'gs-count-label'});
              mk.addTo(drawn);
            });
          }
          function bind(layer, kind, byIndex) {
            if (!layer) { return; }
            var i = 0;
            layer.eachLayer(function (l) {
              var key = byIndex ? String(i) : String(l.feature.properties.c);
              i += 1;
              l.on('click', function () { show(kind, key); });
            });
          }
          {% for var, kind, by_index in this.bindings %}
          bind({{ var }}, {{ kind|tojson }}, {{ 'true' if by_index else 'false' }});
          {% endfor %}
          if (data.select) {  // a selection in the URL: draw it and zoom to it
            show(data.select[0], data.select[1]);
            if (drawn.getLayers().length) { map.fitBounds(L.featureGroup(drawn.getLayers()).getBounds().pad(0.3)); }
          }
        })();
        {% endmacro %}
    """)

    def __init__(self, payload: dict[str, Any], bindings: list[tuple[DataLayer, str, bool]]):
        super().__init__()
        self._name = "LinkSelection"
        self.payload = payload
        self.block_id = f"{self.get_name()}_links"
        self._layers = bindings

    def render(self, **kwargs):
        self.bindings = [(layer.get_name(), kind, by_index) for layer, kind, by_index in self._layers]
        self.get_root().html.add_child(json_block(self.block_id, self.payload), name=self.block_id)
        super().render(**kwargs)


def lat_lon(geoms: list, datum: str) -> list:
    """[[lat, lon], ...] per point geometry, shifted for the tiles' datum and rounded."""
    out = []
    for g in prepare_geometries(geoms, datum=datum):
        out.append([round(g.y, 5), round(g.x, 5)])
    return out


__all__ = ["LinkSelection", "lat_lon"]
