"""The one table writer: CSV (UTF-8 with BOM) and print-ready XLSX, with the formula guard.

Every CSV and XLSX the service or the CLI writes goes through here, so user text is always data:

- text cells lose the control characters XML cannot hold, and a text cell starting with ``=``,
  ``+``, ``-``, ``@``, tab or CR is inert: in CSV it is prefixed with ``'`` (OWASP's advice; the
  readers strip that prefix again), in XLSX it is a string cell with ``quotePrefix`` set, never a
  formula;
- ``lang="zh"`` gives glossary headers with units (``总距离(公里)``), Chinese enum values
  (``召集人``) and numbers converted and rounded for reading (km with 1 decimal, persons as
  integers); ``lang="en"`` keeps the schema's names and the stored values (machine-readable);
- XLSX sheets have widths fitted to their content (CJK counted double), a bold frozen header row,
  an autofilter, landscape A4 fitted to one page wide, the header row repeated on every printed
  page, a page header with the title and date, and an optional 说明 (notes) sheet.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import math
import os
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from .. import glossary as G
from ..glossary import word

#: First characters that make a spreadsheet treat text as a formula (OWASP CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: Excel's limit on the characters in one cell.
XLSX_CELL_MAX = 32767
LIST_SEP = ";"
_WIDTH_ROWS = 2000  # rows sampled to fit a column's width
_MAX_WIDTH = 60
#: Names of the notes sheet (说明) in both languages; readers skip it.
NOTES_SHEETS = frozenset({"notes", *G.TABLES["notes"]})
_FIELD_BY_HEADER = {G.header(f, lang): f for f in G.FIELDS for lang in G.LANGS}


def clean_text(v: Any) -> Any:
    """Text without the control characters XML (hence XLSX) cannot hold; other values unchanged."""
    return ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v


def is_dangerous(v: Any) -> bool:
    """True for text a spreadsheet would run as a formula (starts with = + - @ tab CR)."""
    return isinstance(v, str) and v.startswith(FORMULA_START)


def guard(v: Any) -> Any:
    """A CSV cell value that is inert: control characters stripped, a formula start prefixed ``'``."""
    v = clean_text(v)
    return "'" + v if is_dangerous(v) else v


def unguard(v: Any) -> Any:
    """Undo :func:`guard` when reading a CSV this module wrote (``'=1+1`` -> ``=1+1``)."""
    if isinstance(v, str) and len(v) > 1 and v[0] == "'" and v[1] in "=+-@\t\r":
        return v[1:]
    return v


def _cell(v: Any) -> Any:
    """One value as a spreadsheet cell: lists joined ``a;b``, NaN/NA -> empty, numpy unwrapped."""
    if v is None:
        return None
    if isinstance(v, (list, tuple)) and v and all(isinstance(x, Mapping) for x in v):
        return G.diagnostics_text(list(v), "en")  # solver diagnostics: their messages
    if isinstance(v, (list, tuple, set, np.ndarray)):
        return LIST_SEP.join(str(x) for x in v)
    if isinstance(v, dict):
        return str(v)
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    if hasattr(v, "wkt") and hasattr(v, "geom_type"):  # a stray shapely geometry: one WKT cell
        return v.wkt
    return v


def localise(df: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """``df`` as people read it in ``lang``.

    ``"zh"``: glossary headers with units, enum values in Chinese, numbers converted and rounded to
    their display unit. ``"en"``: unchanged (schema names, stored values). Idempotent: columns that
    already carry a Chinese header are left alone.
    """
    G.check_lang(lang)
    if lang == "en":
        return df
    out = pd.DataFrame(index=df.index)
    for c in df.columns:
        s = df[c]
        f = G.FIELDS.get(c) if isinstance(c, str) else None
        if f is not None:
            if f.enum == "diagnostics":
                s = s.map(lambda v: G.diagnostics_text(v, lang))
            elif f.enum is not None:
                s = s.map(lambda v, e=f.enum: G.value_label(e, v, lang))
            elif f.unit is not None or f.decimals is not None:
                s = s.map(lambda v, c=c: G.display_value(c, v))
        out[G.header(c, lang) if isinstance(c, str) else c] = s.to_numpy() if len(s) else s
    return out


def _flat(df: pd.DataFrame) -> pd.DataFrame:
    """A plain frame: a GeoDataFrame's geometry dropped (callers add lon/lat or WKT first)."""
    if "geometry" in df.columns and hasattr(df, "geometry"):
        df = pd.DataFrame(df.drop(columns="geometry"))
    return df


def csv_bytes(df: pd.DataFrame, lang: str = "en") -> bytes:
    """``df`` as UTF-8 CSV with a BOM (Excel shows Chinese), every text cell guarded."""
    table = localise(_flat(df), lang)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([guard(str(c)) for c in table.columns])
    for row in table.itertuples(index=False, name=None):
        w.writerow(["" if (v := _cell(x)) is None else guard(v) for x in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def save_bytes(data: bytes, target: str | os.PathLike | IO[bytes]) -> Path | None:
    """Write ``data`` to a path (returned; its folders created) or to a binary buffer (None)."""
    if isinstance(target, (str, os.PathLike)):
        p = Path(target)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        return p
    target.write(data)
    return None


def write_csv(df: pd.DataFrame, target: str | os.PathLike | IO[bytes], lang: str = "en") -> Path | None:
    """Write :func:`csv_bytes` to a path (returned; folders created) or a binary buffer."""
    data = csv_bytes(df, lang)
    return save_bytes(data, target)


def text_width(v: Any) -> int:
    """Display width of a cell: CJK and other wide characters count double."""
    s = "" if v is None else (f"{v:.1f}" if isinstance(v, float) else str(v))
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s.split("\n")[0][:200])


def sheet_title(name: str, used: set[str]) -> str:
    """A valid, unique Excel sheet name (no ``[]:*?/\\``, at most 31 characters)."""
    t = re.sub(r"[\[\]:*?/\\]", "_", clean_text(str(name))).strip("'") or "table"
    t = t[:31]
    k = 2
    while t.lower() in {u.lower() for u in used}:
        t = f"{t[:28]}_{k}"
        k += 1
    used.add(t)
    return t


def _number_format(field: Any) -> str | None:
    if isinstance(field, str) and field not in G.FIELDS:
        field = _FIELD_BY_HEADER.get(field, field)  # a frame localised before it got here
    d = G.decimals(field) if isinstance(field, str) else None
    if d is None:
        return None
    return "0" if d == 0 else "0." + "0" * d


def _put(ws: Any, row: int, col: int, v: Any) -> Any:
    """Write one cell; text is always a string cell, never a formula."""
    v = _cell(v)
    if isinstance(v, str):
        v = clean_text(v)[:XLSX_CELL_MAX]
    cell = ws.cell(row=row, column=col)
    cell.value = v
    if isinstance(v, str):
        cell.data_type = "s"  # openpyxl would make "=..." a formula
        if is_dangerous(v):
            cell.quotePrefix = True
    return cell


def _fill_sheet(ws: Any, table: pd.DataFrame, fields: list[Any], title: str, date: str, lang: str) -> None:
    bold = Font(bold=True)
    widths = []
    for j, h in enumerate(table.columns, start=1):
        c = _put(ws, 1, j, str(h))
        c.font = bold
        c.alignment = Alignment(vertical="center", wrap_text=False)
        widths.append(text_width(h))
    fmts = [_number_format(f) for f in fields]
    for i, row in enumerate(table.itertuples(index=False, name=None), start=2):
        for j, v in enumerate(row, start=1):
            c = _put(ws, i, j, v)
            if fmts[j - 1] and isinstance(c.value, (int, float)) and not isinstance(c.value, bool):
                c.number_format = fmts[j - 1]
            if i - 2 < _WIDTH_ROWS:
                widths[j - 1] = max(widths[j - 1], text_width(c.value))
    for j, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = min(_MAX_WIDTH, max(6, w + 2))
    ncol = max(1, len(table.columns))
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(ncol)}{max(1, len(table) + 1)}"
    _print_setup(ws, title, date, lang)


def _print_setup(ws: Any, title: str, date: str, lang: str) -> None:
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:1"
    ws.oddHeader.center.text = title.replace("&", "&&")
    ws.oddHeader.right.text = date
    ws.oddFooter.center.text = G.word("page", lang)


def service_version() -> str:
    """The installed geo-service version (for 说明 sheets), ``"dev"`` from a bare checkout."""
    try:
        from importlib.metadata import version

        return version("geo-service")
    except Exception:  # noqa: BLE001 - not installed: a source checkout
        return "dev"


def notes_table(notes: Mapping[str, Any], lang: str = "zh") -> pd.DataFrame:
    """The 说明 sheet: one row per item (dataset, version, date, parameters, outcome ...)."""
    rows = []
    for k, v in notes.items():
        name = G.word(k, lang) if k in G.WORDS else str(k)
        if isinstance(v, Mapping):  # one row per parameter: readable when printed
            sep = word("sep_colon", lang)
            rows += [{G.word("item", lang): f"{name}{sep}{a}", G.word("value", lang): _cell(b)} for a, b in v.items()]
            continue
        rows.append({G.word("item", lang): name, G.word("value", lang): _cell(v)})
    return pd.DataFrame(rows, columns=[G.word("item", lang), G.word("value", lang)])


def xlsx_bytes(tables: Mapping[str, pd.DataFrame], lang: str = "zh", *, title: str = "",
               notes: Mapping[str, Any] | None = None, date: str | None = None) -> bytes:
    """A print-ready workbook, a sheet per table in the order given (see module docstring).

    Parameters
    ----------
    tables : sheet key -> frame; known result-table keys (``responsibility`` ...) get glossary
        titles (界别责任区一览表), other keys are used as the sheet name.
    lang : ``"zh"`` or ``"en"``: headers, values and titles (see :func:`localise`).
    title : the page-header title (default: each sheet's name).
    notes : items of a last 说明 sheet (``dataset``, ``version``, ``date``, ``parameters``, ``outcome``).
    date : the date in the page header (default: today, ISO).
    """
    G.check_lang(lang)
    date = date or _dt.date.today().isoformat()
    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    items = list(tables.items())
    if notes:
        items.append(("notes", notes_table(notes, lang)))
    if not items:
        items = [("empty", pd.DataFrame())]
    for key, df in items:
        name = sheet_title(G.table_title(key, lang) if lang == "zh" else key, used)
        ws = wb.create_sheet(name)
        plain = _flat(df)
        fields = list(plain.columns)
        table = localise(plain, lang) if key != "notes" else plain
        sheet_name = f"{title} · {name}" if title else name
        _fill_sheet(ws, table, fields, clean_text(sheet_name), date, lang)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def write_xlsx(tables: Mapping[str, pd.DataFrame], target: str | os.PathLike | IO[bytes], lang: str = "zh",
               **kw: Any) -> Path | None:
    """Write :func:`xlsx_bytes` to a path (returned; folders created) or a binary buffer."""
    data = xlsx_bytes(tables, lang, **kw)
    return save_bytes(data, target)


__all__ = ["FORMULA_START", "NOTES_SHEETS", "XLSX_CELL_MAX", "clean_text", "csv_bytes", "guard", "is_dangerous", "localise",
           "notes_table", "save_bytes", "sheet_title", "text_width", "unguard", "write_csv", "write_xlsx",
           "xlsx_bytes"]
