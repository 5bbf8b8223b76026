"""The 待补坐标 workbook: villages lacking a location of their own, with columns for staff to fill.

:func:`fill_sheet_bytes` writes every village whose ``location_source`` is not ``given``/``placed``
(approximate or unknown) with its township, its present (approximate) point and two empty columns
补填经度/补填纬度, in the datum the county works in (GCJ-02 when it was imported so; the 坐标系
column says it). :func:`apply_fill_sheet` reads the filled workbook back as an update of locations
only: each filled row moves its village (``location_source="placed"``); a row it cannot use (unknown
id, a number that is not one, a point far outside the county, only one of the two filled) is named
with its spreadsheet row and skipped.
"""

from __future__ import annotations

import io
import os
from typing import IO, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import glossary as G
from ..crs import DATUMS, from_wgs84, geodesic_m, to_wgs84
from ..dataset import Dataset, DatasetValidationError, Problem
from ..locations import REAL_SOURCES, location_line, present
from . import sheets
from ..glossary import word

#: Columns of the sheet, in order (glossary names in the workbook).
COLUMNS = ("id", "name", "township_id", "township_name", "location_source", "lon", "lat", "datum",
           "new_lon", "new_lat")
#: A filled point farther than this from every located village and township (metres) is refused.
MAX_OUTSIDE_M = 100_000.0


def _datum_of(ds: Dataset, datum: str | None) -> str:
    d = datum or ((ds.meta or {}).get("import_report") or {}).get("datum") or (ds.meta or {}).get("datum") or "wgs84"
    if d not in DATUMS:
        raise ValueError(f"datum must be one of {', '.join(DATUMS)}, got {d!r}")
    return d


def fill_sheet_table(ds: Dataset, datum: str | None = None) -> pd.DataFrame:
    """The villages lacking a location of their own, with the columns to fill (canonical names).

    Parameters
    ----------
    ds : Dataset
    datum : {"wgs84", "gcj02", "bd09"}, optional
        Datum of the coordinates written (default: the datum the dataset was imported in).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`; ``lon``/``lat`` the present approximate point (blank when unknown).
    """
    d = _datum_of(ds, datum)
    v = ds.villages
    lack = ~v["location_source"].isin(REAL_SOURCES).to_numpy() | ~present(v.geometry)
    sel = v[lack]
    tname = dict(zip(ds.townships["id"], ds.townships["name"]))
    lon = np.full(len(sel), np.nan)
    lat = np.full(len(sel), np.nan)
    has = present(sel.geometry)
    if has.any():
        g = sel.geometry[has]
        x, y = from_wgs84(g.x.to_numpy(), g.y.to_numpy(), d)
        lon[has], lat[has] = np.round(x, 6), np.round(y, 6)
    return pd.DataFrame({"id": sel["id"].to_numpy(), "name": sel["name"].to_numpy(),
                         "township_id": sel["township_id"].to_numpy(),
                         "township_name": [tname.get(t) for t in sel["township_id"]],
                         "location_source": sel["location_source"].to_numpy(),
                         "lon": [None if np.isnan(a) else a for a in lon],
                         "lat": [None if np.isnan(a) else a for a in lat],
                         "datum": [d] * len(sel), "new_lon": [None] * len(sel), "new_lat": [None] * len(sel)})


def fill_sheet_bytes(ds: Dataset, lang: str = "zh", datum: str | None = None) -> bytes:
    """The 待补坐标 workbook (XLSX bytes, through the one table writer) with a 说明 sheet.

    Parameters
    ----------
    ds : Dataset
    lang : {"zh", "en"}
    datum : {"wgs84", "gcj02", "bd09"}, optional
        Datum of the coordinates (default: the dataset's import datum).

    Returns
    -------
    bytes
    """
    d = _datum_of(ds, datum)
    table = fill_sheet_table(ds, d)
    how = (word("io_fill_sheet_how", lang))
    notes = {"dataset": ds.name, "date": pd.Timestamp.now().date().isoformat(), "locations": location_line(ds.villages, lang),
             "coordinates_datum": d.upper().replace("GCJ02", "GCJ-02").replace("WGS84", "WGS-84").replace("BD09", "BD-09"),
             (word("io_fill_sheet_how_title", lang)): how}
    return sheets.xlsx_bytes({G.table_title("fill_locations", lang): table}, lang, notes=notes)


def _header_map() -> dict[str, str]:
    out = {}
    for c in COLUMNS:
        for lang in G.LANGS:
            out[G.header(c, lang).strip().lower()] = c
            out[G.label(c, lang).strip().lower()] = c
        out[c] = c
    return out


def _read_table(source: str | os.PathLike | bytes | IO[bytes]) -> pd.DataFrame:
    data = source if isinstance(source, (bytes, bytearray)) else None
    book = pd.read_excel(io.BytesIO(data) if data is not None else source, sheet_name=None, dtype=object)
    sheet = next((df for name, df in book.items() if str(name).strip().lower() not in sheets.NOTES_SHEETS), None)
    if sheet is None:
        raise ValueError("the workbook has no sheet of villages (only 说明)")
    hm = _header_map()
    sheet = sheet.rename(columns={c: hm.get(str(c).strip().lower(), str(c)) for c in sheet.columns})
    for need in ("id", "new_lon", "new_lat"):
        if need not in sheet.columns:
            raise ValueError(f"the sheet has no column '{G.header(need, 'zh')}' ({need}): use the 待补坐标 workbook")
    return sheet


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or (isinstance(v, str) and not v.strip())


def _number(v: Any) -> float:
    f = float(str(v).strip().replace("，", ".").replace("°", ""))
    if not np.isfinite(f):
        raise ValueError
    return f


def _near_county(ds: Dataset, lon: float, lat: float) -> bool:
    """Within :data:`MAX_OUTSIDE_M` of a located village or township (metres); True with none located."""
    pts = [g for g in list(ds.villages.geometry) + list(ds.townships.geometry) if g is not None and not g.is_empty]
    if not pts:
        return True
    c = shapely.get_coordinates(np.array([g.centroid for g in pts], dtype=object))
    return bool(np.min(geodesic_m(c[:, 0], c[:, 1], np.full(len(c), lon), np.full(len(c), lat))) <= MAX_OUTSIDE_M)


def _row_point(ds: Dataset, r: pd.Series, default: str) -> tuple[Any, str | None, str | None]:
    """(WGS-84 point, problem text, column) of one filled row; the point None when not filled."""
    x, y = r.get("new_lon"), r.get("new_lat")
    if _blank(x) and _blank(y):
        return None, None, None
    if _blank(x) or _blank(y):
        return None, "only one of the two coordinates is filled", "new_lon" if _blank(x) else "new_lat"
    try:
        lon, lat = _number(x), _number(y)
    except (TypeError, ValueError):
        return None, f"'{x}, {y}' is not a pair of numbers", "new_lon"
    d = r.get("datum")
    d = default if _blank(d) else str(d).strip().lower().replace("-", "")
    if d not in DATUMS:
        return None, f"unknown datum '{r.get('datum')}' (expected one of {', '.join(DATUMS)})", "datum"
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        return None, f"({lon}, {lat}) is out of range (lon -180..180, lat -90..90)", "new_lon"
    if 3 <= lon <= 54 and 73 <= lat <= 135:
        return None, f"({lon}, {lat}) looks swapped (lat/lon given)", "new_lon"
    wl, wt = (float(a[0]) for a in to_wgs84(np.array([lon]), np.array([lat]), d))
    if not _near_county(ds, wl, wt):
        return None, f"({lon}, {lat}) lies more than {MAX_OUTSIDE_M / 1000:.0f} km from the county", "new_lon"
    return shapely.Point(wl, wt), None, None


def apply_fill_sheet(ds: Dataset, source: str | os.PathLike | bytes | IO[bytes],
                     datum: str | None = None) -> tuple[Dataset, dict[str, Any]]:
    """Read a filled 待补坐标 workbook as an update of village locations only.

    Parameters
    ----------
    ds : Dataset
        The dataset the sheet was written from (its current version).
    source : path, bytes or binary file
        The filled workbook.
    datum : {"wgs84", "gcj02", "bd09"}, optional
        Datum of rows without a 坐标系 value (default: the dataset's import datum).

    Returns
    -------
    (Dataset, dict)
        The updated dataset (filled villages ``placed``, every other field untouched) and a report:
        ``updated`` (count), ``updated_ids``, ``not_filled`` (rows left blank), ``skipped`` (problem
        dicts: spreadsheet row, id, column, message), ``location_line``.

    Raises
    ------
    DatasetValidationError
        When some rows are unusable and none is usable (every problem listed).
    ValueError
        When the workbook is not a 待补坐标 sheet, or for an unknown ``datum``.
    """
    d = _datum_of(ds, datum)
    table = _read_table(source)
    v = ds.villages.copy()
    pos = {str(i): k for k, i in enumerate(v["id"])}
    geoms, src = list(v.geometry), list(v["location_source"])
    problems: list[Problem] = []
    updated, blank = [], 0
    for k, r in table.iterrows():
        row = int(k) + 2  # the spreadsheet's row: the header is row 1
        vid = None if _blank(r.get("id")) else str(r.get("id")).strip()
        if vid is not None and vid.endswith(".0") and vid[:-2].isdigit():
            vid = vid[:-2]
        pt, why, col = _row_point(ds, r, d)
        if pt is None and why is None:
            blank += 1
            continue
        if vid is None or vid not in pos:
            why, col = f"no village with id '{vid}' in the dataset", "id"
        if why is not None or vid is None:
            problems.append(Problem("villages", str(why), "fill_unusable", row, vid, G.header(str(col), "zh"),
                                    "warning"))
            continue
        geoms[pos[vid]], src[pos[vid]] = pt, "placed"
        updated.append(vid)
    if problems and not updated:
        raise DatasetValidationError([p.__class__(**{**p.to_dict(), "severity": "error"}) for p in problems])
    v = v.set_geometry(gpd.GeoSeries(geoms, crs=v.crs, index=v.index))
    v["location_source"] = pd.Series(src, index=v.index, dtype=object)
    new = ds.with_layers(villages=v) if updated else ds
    return new, {"updated": len(updated), "updated_ids": updated, "not_filled": blank, "datum": d,
                 "skipped": [p.to_dict() for p in problems], "location_line": location_line(new.villages)}


__all__ = ["COLUMNS", "MAX_OUTSIDE_M", "apply_fill_sheet", "fill_sheet_bytes", "fill_sheet_table"]
