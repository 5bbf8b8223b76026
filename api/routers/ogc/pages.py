"""HTML views of the OGC API resources (``f=html``): plain pages, every value escaped.

Words come from the glossary (Chinese by default, ``lang=en``); values are shown as text, never
markup (``html.escape``), so a village named ``<script>`` is a name. No script runs on these pages.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from typing import Any

from geo_service.core.glossary import label, value_label, word

from ...html import html_response

_STYLE = ('body{font-family:"Helvetica Neue",Arial,"PingFang SC","Microsoft YaHei",sans-serif;margin:1rem;'
          "max-width:80rem}table{border-collapse:collapse}"
          ".scroll{overflow-x:auto;max-width:100%}.scroll td,.scroll th{white-space:nowrap}"
          "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}"
          "nav a{margin-right:1rem}")


def _e(v: Any, lang: str = "zh") -> str:
    if isinstance(v, bool):
        v = value_label("bool", str(v), lang)
    if isinstance(v, (list, dict)):
        v = json.dumps(v, ensure_ascii=False)
    return html.escape("" if v is None else str(v))


def page(title: str, body: str, lang: str):
    """A whole HTML page (``lang`` on the root element) as a response with its CSP."""
    doc = (f'<!doctype html><html lang="{word("html_lang", lang)}"><head><meta charset="utf-8">'
           f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{_e(title)}</title>'
           f"<style>{_STYLE}</style></head><body><h1>{_e(title)}</h1>{body}</body></html>")
    return html_response(doc)


def links_list(links: Iterable[Mapping[str, Any]]) -> str:
    items = "".join(f'<li><a href="{_e(link["href"])}">{_e(link.get("title") or link["rel"])}</a> '
                    f'({_e(link.get("type", ""))})</li>' for link in links)
    return f"<ul>{items}</ul>"


def landing_page(name: str, links: Iterable[Mapping[str, Any]], lang: str):
    """The dataset's landing page: its links (collections, conformance, API description, tiles)."""
    return page(word("ogc_landing", lang).format(name=name), links_list(links), lang)


def conformance_page(classes: Iterable[str], lang: str):
    items = "".join(f"<li>{_e(c)}</li>" for c in classes)
    return page("Conformance", f"<ul>{items}</ul>", lang)


def collection_page(doc: Mapping[str, Any], lang: str):
    """One collection: title, extent, CRSs offered (with their names) and its links."""
    rows = [("id", doc["id"]), ("extent", (doc.get("extent") or {}).get("spatial", {}).get("bbox"))]
    rows += [("crs", f"{uri} ({title})") for uri, title in doc.get("crsTitles", {}).items()]
    table = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return page(doc["title"], f"<table>{table}</table>{links_list(doc['links'])}", lang)


def collections_page(name: str, collections: list[dict[str, Any]], lang: str):
    rows = "".join(f'<tr><td><a href="{_e(next(lk["href"] for lk in c["links"] if lk["rel"] == "items" and lk["type"] == "text/html"))}">'
                   f'{_e(c["id"])}</a></td><td>{_e(c["title"])}</td></tr>' for c in collections)
    return page(f'{word("ogc_landing", lang).format(name=name)}: {word("ogc_collections", lang)}',
                f"<table>{rows}</table>", lang)


def _head(field: str, lang: str) -> str:
    """The field's name in ``lang`` (glossary), with the field itself for fields it does not know."""
    shown = label(field, lang)
    return _e(shown) if shown == field else f'<abbr title="{_e(field)}">{_e(shown)}</abbr>'


def items_page(title: str, fc: Mapping[str, Any], properties: Iterable[str], lang: str):
    """A page of features as a table: id, properties, geometry type; paging links below."""
    props = list(properties)
    head = "".join(f"<th>{_head(p, lang)}</th>" for p in ["id", *props, "geometry"])
    rows = []
    for f in fc["features"]:
        g = f.get("geometry")
        cells = [f.get("id"), *(f["properties"].get(p) for p in props), g["type"] if g else None]
        rows.append("<tr>" + "".join(f"<td>{_e(c, lang)}</td>" for c in cells) + "</tr>")
    count = word("ogc_matched", lang).format(matched=fc["numberMatched"], returned=fc["numberReturned"])
    nav = "".join(f'<a rel="{_e(lk["rel"])}" href="{_e(lk["href"])}">{_e(word("ogc_" + lk["rel"], lang))}</a>'
                  for lk in fc["links"] if lk["rel"] in ("next", "prev") and "html" in lk.get("type", ""))
    json_link = next((lk for lk in fc["links"] if lk["rel"] == "alternate"), None)
    if json_link:
        nav += f'<a href="{_e(json_link["href"])}">{_e(word("ogc_json", lang))}</a>'
    return page(f"{title}: {word('ogc_items', lang)}",
                f"<p>{_e(count)}</p><nav>{nav}</nav><div class=\"scroll\"><table><tr>{head}</tr>{''.join(rows)}</table></div>",
                lang)


def feature_page(title: str, feature: Mapping[str, Any], lang: str):
    rows = "".join(f"<tr><th>{_head(k, lang)}</th><td>{_e(v, lang)}</td></tr>" for k, v in feature["properties"].items())
    g = feature.get("geometry")
    rows += f"<tr><th>geometry</th><td>{_e(json.dumps(g) if g else '')}</td></tr>"
    return page(f"{title}: {feature['properties'].get('name') or feature.get('id')}", f"<table>{rows}</table>", lang)


__all__ = ["collection_page", "collections_page", "conformance_page", "feature_page", "items_page", "landing_page",
           "links_list", "page"]
