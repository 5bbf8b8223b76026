"""Import templates (导入模板): the files a county office fills in, one example row each.

:func:`template_tables` gives one table per layer with the headers the importer reads (Chinese or
English) and one example row, plus a notes table (说明) saying for each column whether it is
required, its unit and its datum. :func:`write_template` writes them as a folder of CSV files
(plus ``说明.csv``/``notes.csv`` and a README) or as one workbook with a sheet per layer and the
notes sheet. The examples are a tiny valid county: the written template imports as it is.
"""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import pandas as pd
from shapely.geometry import LineString, Point

from ..dataset import Dataset
from ..domain import LAYERS
from . import sheets
from .headers import LAT, LON, WKT, ZH_HEADERS, output_headers
from .writers import _write_xlsx, layer_table
from ..glossary import message, word

#: Layers in a template, in the order a county office fills them (counties: a boundary file, not a table).
TEMPLATE_LAYERS = ("townships", "villages", "stations", "members", "groups", "committees", "constituents",
                   "roads")

#: columns with a unit on the notes sheet (glossary ``template_unit_<column>``)
_UNITS = ("population", "capacity", "speed_kmh", LON, LAT)
#: the notes sheet's columns (glossary ``template_col_<column>``)
_NOTE_COLUMNS = ("table", "column", "required", "unit", "datum", "notes")
#: columns with a note on the notes sheet (glossary ``template_note_<column>``; blank in a language without one)
_NOTED = ("id", "name", "township_id", "village_id", "population", "is_seat", "kind", "sectors", "sector", "capacity",
          "group_id", "committee_id", "station_id", "role", "convener_id", "phone", "county_id", "class", "speed_kmh",
          LON, LAT, WKT)


_SEATS = ((0.0, 0.0), (-0.16, -0.17))  # township seats, degrees from (114.04, 29.55)


def example_dataset() -> Dataset:
    """The tiny valid county of the templates' example rows (two townships near 崇阳县)."""
    lon0, lat0 = 114.04, 29.55
    pt = lambda dx, dy: Point(round(lon0 + dx, 6), round(lat0 + dy, 6))  # noqa: E731
    crs = "EPSG:4326"
    layers = {
        "townships": gpd.GeoDataFrame({"id": ["T01", "T02"], "name": ["天城镇", "沙坪镇"]},
                                      geometry=[pt(*s).buffer(0.08, 4) for s in _SEATS], crs=crs),
        "villages": gpd.GeoDataFrame({"id": ["V001", "V002"], "name": ["七星村", "沙坪村"],
                                      "township_id": ["T01", "T02"], "population": [1200, None],
                                      "is_seat": [True, False]}, geometry=[pt(0.01, 0.01), pt(-0.16, -0.16)],
                                     crs=crs),
        "stations": gpd.GeoDataFrame({"id": ["S01"], "name": ["天城镇综合型委员工作站"],
                                      "kind": ["station_comprehensive"], "sectors": [["经济", "农业"]],
                                      "capacity": [3], "township_id": ["T01"]}, geometry=[pt(0.005, 0.005)],
                                     crs=crs),
        "members": gpd.GeoDataFrame({"id": ["M001"], "name": ["张伟"], "sector": ["经济"], "group_id": ["G01"],
                                     "committee_id": ["K01"], "station_id": [None], "village_id": [None],
                                     "role": ["convener"]}, geometry=[pt(0.02, 0.0)], crs=crs),
        "groups": pd.DataFrame({"id": ["G01"], "name": ["经济界别活动组"], "sectors": [["经济"]],
                                "convener_id": ["M001"], "station_id": [None]}),
        "committees": pd.DataFrame({"id": ["K01"], "name": ["经济委员会"]}),
        "constituents": gpd.GeoDataFrame({"id": ["P0001"], "sector": ["经济"], "village_id": ["V001"],
                                          "name": [None], "phone": [None]}, geometry=[None], crs=crs),
        "roads": gpd.GeoDataFrame({"id": ["R1"], "class": ["secondary"], "speed_kmh": [None]},
                                  geometry=[LineString([(lon0, lat0), (lon0 - 0.16, lat0 - 0.17)])], crs=crs),
    }
    return Dataset.from_layers(layers)


def _notes(lang: str) -> pd.DataFrame:
    rows = []
    for layer in TEMPLATE_LAYERS:
        spec = LAYERS[layer]
        cols = [(f.name, f.required) for f in spec.fields if not (layer == "townships" and f.name == "county_id")]
        if spec.geometry == "Point" or layer == "townships":
            req = spec.geometry_required
            cols += [(LON, req), (LAT, req)]
        elif spec.geometry == "LineString":
            cols += [(WKT, True)]
        for name, required in cols:
            head = output_headers([name], lang).get(name, name)
            note = word(f"template_note_{name}", lang) if name in _NOTED else ""
            if layer == "townships" and name in (LON, LAT):
                note += word("io_template_seat_or_give", lang)
            if layer == "villages" and name in (LON, LAT):
                note += (word("io_template_may_be_blank", lang))
            datum = word("template_datum", lang) if name in (LON, LAT, WKT) else ""
            cells = (message("template_table", lang, layer=layer, label=spec.labels.get("zh", layer)), head,
                     word("template_required" if required else "template_optional", lang),
                     word(f"template_unit_{name}", lang) if name in _UNITS else "", datum, note)
            rows.append({word(f"template_col_{c}", lang): v for c, v in zip(_NOTE_COLUMNS, cells)})
    return pd.DataFrame(rows)


def template_tables(lang: str = "zh") -> dict[str, pd.DataFrame]:
    """One table per layer of :data:`TEMPLATE_LAYERS` (headers in ``lang``, one example row) and
    ``notes`` (说明: column, required, unit, datum). Raises ``ValueError`` for a bad ``lang``."""
    output_headers([], lang)  # checks lang
    ds = example_dataset()
    out: dict[str, pd.DataFrame] = {}
    for layer in TEMPLATE_LAYERS:
        if layer == "townships":  # seats as points: the importer derives the township areas
            t = ds.townships
            seats = pd.DataFrame({"id": t["id"], "name": t["name"],
                                  LON: [round(114.04 + dx, 6) for dx, _ in _SEATS],
                                  LAT: [round(29.55 + dy, 6) for _, dy in _SEATS]})
            out[layer] = seats.rename(columns=output_headers(seats.columns, lang))
        else:
            out[layer] = layer_table(ds, layer, lang=lang)
    out["notes"] = _notes(lang)
    return out


def write_template(out: str | os.PathLike, fmt: str = "csv", lang: str = "zh") -> list[Path]:
    """Write the templates to ``out``: a folder of CSV files (``fmt="csv"``) or a workbook
    (``fmt="xlsx"``; ``out`` a folder gets ``导入模板.xlsx``/``template.xlsx`` inside). Returns the
    files written. Raises ``ValueError`` for a bad ``fmt`` or ``lang``."""
    if fmt not in ("csv", "xlsx"):
        raise ValueError(f"fmt must be 'csv' or 'xlsx', got {fmt!r}")
    tables = template_tables(lang)
    notes_name = word("io_template_notes", lang)
    path = Path(out)
    if fmt == "xlsx":
        if path.suffix.lower() != ".xlsx":
            path = path / (word("io_template_file", lang))
        path.parent.mkdir(parents=True, exist_ok=True)
        # sheet tabs as the exports name them (乡镇街道, 村社区 ...); the importer maps them back
        tabs = {k: (notes_name if k == "notes" else LAYERS[k].labels.get("zh", k) if lang == "zh" else k)
                for k in tables}
        _write_xlsx({tabs[k]: v for k, v in tables.items()}, path)
        return [path]
    path.mkdir(parents=True, exist_ok=True)
    written = []
    for key, table in tables.items():
        target = path / f"{notes_name if key == 'notes' else key}.csv"
        sheets.write_csv(table, target)
        written.append(target)
    return written


__all__ = ["TEMPLATE_LAYERS", "example_dataset", "template_tables", "write_template", "ZH_HEADERS"]
