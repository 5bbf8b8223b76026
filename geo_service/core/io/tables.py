"""Raw layer frames from files: CSV/XLSX tables and vector files, before validation.

Each reader returns plain frames with canonical column names (see :mod:`.headers`) and geometry
in EPSG:4326 where the file declares a CRS, plus the parse problems it met (bad numbers in
lon/lat, unreadable files, shapefiles without ``.prj``). Datum conversion, reference resolution
and validation happen later, in :mod:`.readers`.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from ..dataset import Problem
from ..validation import text_params
from ..domain import LAYERS, WGS84
from .headers import LAT, LON, WKT, canonical_headers, header_datum
from .limits import NO_LIMITS, ReadLimits, measure_zip, too_many_rows
from .sheets import unguard

TABLE_EXTS = (".csv", ".txt", ".xlsx", ".xlsm")
VECTOR_EXTS = (".geojson", ".json", ".shp", ".gpkg")
CSV_ENCODINGS = ("utf-8-sig", "gb18030")


@dataclass
class RawLayer:
    """One layer as read from one file, before validation.

    ``rows`` holds the row in the source of each frame row (they drift apart when rows are
    dropped): for CSV/XLSX the spreadsheet's own row number (header = row 1), for vector files the
    1-based feature number; ``headers`` maps canonical field names back to the file's own headers.
    """

    layer: str
    frame: pd.DataFrame
    source: str
    rows: np.ndarray
    headers: dict[str, str] = field(default_factory=dict)
    kind: str = "table"  # "table" (CSV/XLSX), "vector" or "shapefile"
    datum: str | None = None  # the datum its coordinate headers name (经度(GCJ-02)), over the import option


def blank(v: Any) -> bool:
    """True for None, NaN, NaT and whitespace-only strings."""
    if v is None:
        return True
    if isinstance(v, str):
        return not v.strip()
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def clean_id(v: Any) -> str | None:
    """An id or reference as text: ``12.0`` -> ``"12"`` (spreadsheets store numbers), blanks -> None."""
    if blank(v):
        return None
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        v = int(v)
    return str(v).strip()


# --- CSV / XLSX ---------------------------------------------------------------------------------
def decode_text(data: bytes) -> str:
    """Decode CSV bytes: UTF-8 (with or without BOM), else GB18030 (a superset of GBK/GB2312)."""
    for enc in CSV_ENCODINGS:
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise ValueError("text is neither UTF-8 nor GB18030/GBK encoded")


def read_csv_text(text: str, max_rows: int | None = None, source: str = "CSV") -> pd.DataFrame:
    """Parse CSV text into an all-text frame (blanks -> None); delimiter , ; or tab is sniffed.

    ``max_rows``: read at most that many data rows; one more raises
    :class:`~geo_service.core.io.limits.InputTooLarge` naming ``source``.
    """
    first = text.split("\n", 1)[0]
    sep = max((",", ";", "\t"), key=first.count) if first else ","
    df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                     skip_blank_lines=True, quoting=csv.QUOTE_MINIMAL,
                     nrows=None if max_rows is None else max_rows + 1)
    if max_rows is not None and len(df) > max_rows:
        raise too_many_rows(source, max_rows)
    return df.map(lambda v: None if blank(v) else unguard(v)).astype(object)  # undo the CSV formula guard


def read_csv_file(path: str | os.PathLike, limits: ReadLimits = NO_LIMITS,
                  source: str | None = None) -> pd.DataFrame:
    """Read a CSV file (UTF-8/UTF-8-BOM/GB18030) as an all-text frame, at most ``limits.max_rows``
    data rows (beyond: :class:`~geo_service.core.io.limits.InputTooLarge` naming ``source``)."""
    data = Path(path).read_bytes()
    return read_csv_text(decode_text(data), limits.max_rows, source or Path(path).name)


def read_excel_sheets(path: str | os.PathLike, limits: ReadLimits = NO_LIMITS,
                      source: str | None = None) -> dict[str, pd.DataFrame]:
    """All sheets of an .xlsx workbook, cells as Python values (blanks -> None).

    With ``limits``: the workbook's parts are first decompressed and measured (at most
    ``limits.max_unpacked_bytes``, never trusting declared sizes), then every sheet is read in
    openpyxl's read-only mode stopping one row past ``limits.max_rows``; going over either raises
    :class:`~geo_service.core.io.limits.InputTooLarge` naming the file (and sheet).
    """
    src = source or Path(path).name
    if limits.max_unpacked_bytes is not None:
        measure_zip(path, limits.max_unpacked_bytes, src)
    # keep_default_na=False: a village called "NA" or a person called "None" stays text;
    # pandas' openpyxl reader opens the book read-only and stops a sheet at nrows
    sheets = pd.read_excel(path, sheet_name=None, dtype=object, engine="openpyxl", keep_default_na=False,
                           na_values=[], nrows=None if limits.max_rows is None else limits.max_rows + 1)
    out = {}
    for name, df in sheets.items():
        if limits.max_rows is not None and len(df) > limits.max_rows:
            raise too_many_rows(f"{src}[{name}]", limits.max_rows)
        df = df.map(lambda v: None if blank(v) else v).astype(object)
        df = df.dropna(how="all")
        df = df.loc[:, [not (str(c).startswith("Unnamed:") and df[c].isna().all()) for c in df.columns]]
        out[str(name)] = df
    return out


def _number(v: Any) -> float:
    """Parse a coordinate cell: numbers, or text such as ``"114.05"`` / ``" 29,5 "`` (comma decimal)."""
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        return float(v)
    s = str(v).strip().replace("，", ".").replace("°", "")
    if s.count(",") == 1 and "." not in s:
        s = s.replace(",", ".")
    return float(s)


def table_to_layer(layer: str, df: pd.DataFrame, source: str, problems: list[Problem]) -> RawLayer:
    """Turn a CSV/XLSX table into a layer frame: canonical headers; geometry from lon/lat or WKT.

    Problems (with ``source`` and the spreadsheet's row numbers, header = row 1) are appended to ``problems``: a geometry layer
    without lon/lat (or WKT) columns, a coordinate that is not a number, one of lon/lat blank.
    Rows with both lon and lat blank get no geometry (the caller decides: error or drop).
    """
    spec = LAYERS[layer]
    rename = canonical_headers(layer, df.columns)
    headers = {v: str(k) for k, v in rename.items()}
    # blank spreadsheet rows were dropped: the index still holds each row's 0-based data row;
    # rows are numbered as the spreadsheet numbers them (the header is row 1)
    idx = df.index
    rows = (np.asarray(idx, dtype=int) + 2 if pd.api.types.is_integer_dtype(idx)
            else np.arange(2, len(df) + 2))
    df = df.rename(columns=rename).reset_index(drop=True)
    df.columns = [str(c) for c in df.columns]
    df = df.loc[:, ~pd.Index(df.columns).duplicated()]
    named = {header_datum(h) for f, h in headers.items() if f in (LON, LAT, WKT) or f.startswith(WKT + "_")} - {None}
    raw = RawLayer(layer, df, source, rows, headers, "table", datum=named.pop() if len(named) == 1 else None)
    if spec.geometry is None:
        raw.frame = df.drop(columns=[c for c in (LON, LAT, WKT) if c in df.columns])
        return raw

    def add(i: int | None, msg: str, code: str, fld: str | None,
            words: tuple[str, dict[str, Any]] | None = None) -> None:
        fid = clean_id(df["id"].iloc[i]) if (i is not None and "id" in df.columns) else None
        word, params = words or (None, {})
        problems.append(Problem(layer, msg, code, None if i is None else int(rows[i]), fid,
                                None if fld is None else headers.get(fld, fld), source=source,
                                message_code=word, params=text_params(params)))

    geoms: list[Any] = [None] * len(df)
    wkt_cols = [c for c in df.columns if c == WKT or c.startswith(WKT + "_")]
    if LON in df.columns and LAT in df.columns:
        for i, (x, y) in enumerate(zip(df[LON], df[LAT])):
            bx, by = blank(x), blank(y)
            if bx and by:
                continue
            if bx or by:
                missing, given = (LON, LAT) if bx else (LAT, LON)
                add(i, f"{headers.get(missing, missing)} is blank but {headers.get(given, given)} is given",
                    "missing_value", missing)
                continue
            vals = []
            for fld, v in ((LON, x), (LAT, y)):
                try:
                    fv = _number(v)
                    if not np.isfinite(fv):
                        raise ValueError
                    vals.append(fv)
                except (TypeError, ValueError):
                    add(i, f"{headers.get(fld, fld)} '{v}' is not a number", "bad_number", fld,
                        words=("problem_column_not_number", {"column": headers.get(fld, fld), "value": v}))
            if len(vals) == 2:
                geoms[i] = shapely.Point(vals)
    elif wkt_cols:
        wkt_cols.sort(key=lambda c: 0 if c == WKT else int(c.split("_")[-1]))
        for i in range(len(df)):
            parts = [df[c].iloc[i] for c in wkt_cols]
            text = "".join(str(p) for p in parts if not blank(p))
            if not text:
                continue
            try:
                geoms[i] = shapely.from_wkt(text)
            except (shapely.errors.GEOSException, ValueError, TypeError) as e:
                add(i, f"geometry text is not valid WKT ({str(e)[:80]})", "bad_geometry", WKT)
    elif len(df) and spec.geometry_required:
        want = "lon/lat (经度/纬度) columns" if spec.geometry == "Point" else "a WKT geometry column"
        add(None, f"table has no coordinates: expected {want}", "missing_column", LON if spec.geometry ==
            "Point" else WKT)
    frame = df.drop(columns=[c for c in [LON, LAT, *wkt_cols] if c in df.columns])
    raw.frame = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=WGS84), crs=WGS84)
    return raw


# --- vector files -------------------------------------------------------------------------------
def _looks_projected(gdf: gpd.GeoDataFrame) -> bool:
    b = shapely.bounds(gdf.geometry.to_numpy())
    b = b[np.isfinite(b).all(axis=1)]
    return bool(len(b)) and bool((np.abs(b[:, [0, 2]]) > 180).any() or (np.abs(b[:, [1, 3]]) > 90).any())


def vector_to_layer(layer: str, gdf: pd.DataFrame, source: str, problems: list[Problem], *,
                    assume_wgs84: bool, kind: str = "vector", default_crs: Any = None) -> RawLayer:
    """Turn a frame read by pyogrio into a layer frame in EPSG:4326 with canonical headers.

    A declared CRS is reprojected to EPSG:4326. Without one, ``default_crs`` (the user's word for
    it) is used when given; else ``assume_wgs84`` (GeoJSON, RFC 7946) means WGS-84; otherwise (a
    shapefile without ``.prj``) coordinates that look projected are a ``wrong_crs`` error and
    lon/lat-looking ones are taken as WGS-84 with a warning.
    """
    spec = LAYERS[layer]
    if isinstance(gdf, gpd.GeoDataFrame):
        geom_name = gdf.geometry.name
        rename = canonical_headers(layer, [c for c in gdf.columns if c != geom_name])
    else:
        rename = canonical_headers(layer, gdf.columns)
    rename = {k: v for k, v in rename.items() if v not in (LON, LAT, WKT) or spec.geometry is None}
    headers = {v: str(k) for k, v in rename.items()}
    df = gdf.rename(columns=rename).reset_index(drop=True)
    rows = np.arange(1, len(df) + 1)
    if isinstance(df, gpd.GeoDataFrame) and spec.geometry is None:
        df = pd.DataFrame(df.drop(columns=df.geometry.name))
    elif isinstance(df, gpd.GeoDataFrame):
        if df.geometry.name != "geometry":
            df = df.rename_geometry("geometry")
        if df.crs is None and default_crs is not None:
            df = df.set_crs(default_crs)
        if df.crs is None:
            if assume_wgs84:
                df = df.set_crs(WGS84)
            elif _looks_projected(df):
                problems.append(Problem(layer, "file has no CRS (.prj) and its coordinates look projected "
                                               "(metres), not WGS-84 degrees: wrong CRS; add the .prj file "
                                               "or name the CRS (crs='EPSG:4547', CLI --crs)",
                                        "wrong_crs", source=source))
                df = df.set_geometry(gpd.GeoSeries([None] * len(df)), crs=WGS84)
            else:
                problems.append(Problem(layer, "file has no CRS (.prj); coordinates taken as WGS-84 lon/lat",
                                        "assumed_crs", severity="warning", source=source))
                df = df.set_crs(WGS84)
        elif not CRS.from_user_input(df.crs).equals(CRS.from_user_input(WGS84)):
            try:
                df = df.to_crs(WGS84)
            except Exception as e:  # pyproj errors for unusable CRSs
                problems.append(Problem(layer, f"cannot reproject from {df.crs} to EPSG:4326: {e}",
                                        "wrong_crs", source=source))
                df = df.set_geometry(gpd.GeoSeries([None] * len(df)), crs=WGS84)
    df = pd.DataFrame(df) if not isinstance(df, gpd.GeoDataFrame) else df
    for c in df.columns:
        if c != "geometry":
            df[c] = df[c].astype(object).map(lambda v: None if blank(v) else v)
    return RawLayer(layer, df, source, rows, headers, kind)


def read_vector(path: str | os.PathLike, layer_name: str | None = None, max_rows: int | None = None,
                source: str | None = None) -> pd.DataFrame:
    """Read one layer of a vector file with pyogrio (GeoJSON, Shapefile, GeoPackage); at most
    ``max_rows`` features (one more raises :class:`~geo_service.core.io.limits.InputTooLarge`)."""
    if max_rows is None:
        return pyogrio.read_dataframe(path, layer=layer_name)
    df = pyogrio.read_dataframe(path, layer=layer_name, max_features=max_rows + 1)
    if len(df) > max_rows:
        raise too_many_rows(source or (f"{Path(path).name}:{layer_name}" if layer_name else Path(path).name),
                            max_rows)
    return df


def list_vector_layers(path: str | os.PathLike) -> list[str]:
    """Layer names in a GeoPackage (or any multi-layer vector file)."""
    return [str(n) for n, _ in pyogrio.list_layers(path)]


__all__ = ["RawLayer", "blank", "clean_id", "decode_text", "list_vector_layers", "read_csv_file",
           "read_csv_text", "read_excel_sheets", "read_vector", "table_to_layer", "vector_to_layer"]
