"""Export a :class:`~geo_service.core.dataset.Dataset` (and any result table) to the usual formats.

- ``gpkg``: one GeoPackage, a layer per dataset layer (QGIS opens it; see :mod:`.gpkg`);
- ``geojson`` / ``shp`` / ``csv``: a folder with one file per layer (``stations.geojson`` ...);
- ``xlsx``: one workbook, a sheet per layer.

Tables (CSV/XLSX) carry points as ``lon``/``lat`` columns (WGS-84 degrees) and other shapes as
WKT; list fields are written ``a;b``; CSV is UTF-8 with a byte-order mark so Excel shows Chinese
correctly. ``lang="zh"`` writes Chinese headers and sheet names, which :mod:`.readers` maps back.
Everything written here reads back to the same :meth:`Dataset.fingerprint`.
"""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import IO, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from ..crs import DATUMS, from_wgs84, transform_geometry
from ..dataset import Dataset
from ..domain import LAYER_ORDER, LAYERS, PERSONAL_FIELDS, WGS84
from ..locations import location_notes
from .gpkg import LIST_SEP, layer_to_file_frame, write_gpkg
from . import sheets
from .headers import LAT, LON, WKT, canonical_layer, datum_header, output_headers
from .readers import IMPORT_REQUIRED
from ..glossary import message, word

FORMATS = ("gpkg", "geojson", "shp", "csv", "xlsx")
_FORMAT_ALIASES = {"gpkg": "gpkg", "geopackage": "gpkg", "geojson": "geojson", "json": "geojson",
                   "shp": "shp", "shapefile": "shp", "csv": "csv", "xlsx": "xlsx", "excel": "xlsx"}
#: Excel's limit on the characters in one cell (longer WKT is simplified to fit, see :func:`_fit_wkt`)
XLSX_CELL_MAX = sheets.XLSX_CELL_MAX


def _format(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        f = _FORMAT_ALIASES.get(fmt.lower().lstrip("."))
        if f is None:
            raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
        return f
    ext = path.suffix.lower().lstrip(".")
    if ext in ("gpkg", "xlsx"):
        return ext
    if ext == "zip":
        return "geojson"
    if ext in ("geojson", "json", "csv", "shp"):
        raise ValueError(f"{path.name}: a dataset is written as a folder of {ext} files; give a folder path "
                         f"and fmt={_FORMAT_ALIASES[ext]!r}")
    if ext:
        raise ValueError(f"cannot tell the format from '{path.name}'; give fmt (one of {', '.join(FORMATS)})")
    return "geojson"


def without_personal(ds: Dataset) -> Dataset:
    """``ds`` with personal fields (constituents' names and phones) blanked."""
    layers = dict(ds.layers)
    for layer, fields in PERSONAL_FIELDS.items():
        if fields:
            df = layers[layer].copy()
            for f in fields:
                df[f] = pd.Series([None] * len(df), index=df.index, dtype=object)
            layers[layer] = df
    return dataclasses.replace(ds, layers=layers)


def geometry_columns(df: pd.DataFrame) -> pd.DataFrame:
    """A plain table for ``df``: points as ``lon``/``lat`` (degrees), other shapes as ``wkt``.

    Non-geometry frames are returned unchanged (copied). Coordinates keep full precision.
    """
    if not isinstance(df, gpd.GeoDataFrame) or df.geometry.name not in df.columns:
        return pd.DataFrame(df).copy()
    g = df.geometry
    if df.crs is not None and not g.crs.equals(WGS84):
        g = g.to_crs(WGS84)
    geoms = g.to_numpy()
    plain = pd.DataFrame(df.drop(columns=df.geometry.name))
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    types = shapely.get_type_id(geoms)
    if (types[present] == 0).all():
        x = np.full(len(df), np.nan)
        y = np.full(len(df), np.nan)
        if present.any():
            x[present] = shapely.get_x(geoms[present])
            y[present] = shapely.get_y(geoms[present])
        plain[LON] = pd.array([None if np.isnan(v) else float(v) for v in x], dtype="Float64")
        plain[LAT] = pd.array([None if np.isnan(v) else float(v) for v in y], dtype="Float64")
    else:
        plain[WKT] = [shapely.to_wkt(gm, rounding_precision=-1) if ok else None
                      for gm, ok in zip(geoms, present)]
    return plain


def _plain_cells(df: pd.DataFrame) -> pd.DataFrame:
    """Lists -> ``a;b``; everything else left for the writer."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object and out[c].map(lambda v: isinstance(v, (list, tuple))).any():
            out[c] = [LIST_SEP.join(map(str, v)) if isinstance(v, (list, tuple)) else v for v in out[c]]
    return out


def layer_table(ds: Dataset, layer: str, *, lang: str = "en", datum: str = "wgs84") -> pd.DataFrame:
    """Layer ``layer`` of ``ds`` as a plain table (lon/lat or WKT in ``datum``, named in their headers
    unless WGS-84; lists as ``a;b``; headers and enum values in ``lang``, see :func:`.sheets.localise`)."""
    return sheets.localise(_canonical_table(ds, layer, datum, lang), lang)


def export_datum(ds: Dataset, datum: str | None = None) -> str:
    """The datum exports write: ``datum``, else the one the data came in (import report), else WGS-84."""
    meta = getattr(ds, "meta", {}) or {}
    d = datum or (meta.get("import_report") or {}).get("datum") or meta.get("datum") or "wgs84"
    if d not in DATUMS:
        raise ValueError(f"datum must be one of {', '.join(DATUMS)}, got {d!r}")
    return d


def in_datum(table: pd.DataFrame, datum: str, lang: str) -> pd.DataFrame:
    """A table's lon/lat (or WKT) converted from WGS-84 to ``datum``, the datum named in the headers
    (``经度(GCJ-02)``; the reader converts such columns back whatever its datum option)."""
    if datum == "wgs84":
        return table
    out = table.copy()
    if LON in out.columns and LAT in out.columns:
        x = pd.to_numeric(out[LON], errors="coerce").to_numpy(dtype=float)
        y = pd.to_numeric(out[LAT], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.any():
            x[ok], y[ok] = from_wgs84(x[ok], y[ok], datum)
        out[LON] = pd.array([float(v) if np.isfinite(v) else None for v in x], dtype="Float64")
        out[LAT] = pd.array([float(v) if np.isfinite(v) else None for v in y], dtype="Float64")
    if WKT in out.columns:
        geoms = np.array([None if not isinstance(v, str) else shapely.from_wkt(v) for v in out[WKT]], dtype=object)
        has = np.array([g is not None for g in geoms], dtype=bool)
        if has.any():
            geoms[has] = transform_geometry(geoms[has], lambda a, b: from_wgs84(a, b, datum))
        out[WKT] = [None if g is None else shapely.to_wkt(g, rounding_precision=-1) for g in geoms]
    heads = output_headers([LON, LAT, WKT], lang)
    return out.rename(columns={c: datum_header(heads.get(c, c), datum) for c in (LON, LAT, WKT) if c in out.columns})


def _canonical_table(ds: Dataset, layer: str, datum: str = "wgs84", lang: str = "en") -> pd.DataFrame:
    return in_datum(_plain_cells(geometry_columns(layer_to_file_frame(layer, ds[layer]))), datum, lang)


def _fit_wkt(table: pd.DataFrame, col: str) -> tuple[pd.DataFrame, int]:
    """WKT longer than an Excel cell simplified until it fits one cell (never split over two).

    Returns the table and how many shapes were simplified (tolerance doubles from 1e-6 degrees,
    ~0.1 m, topology kept). The exact shapes are in the GeoPackage and GeoJSON exports.
    """
    if col not in table.columns:
        return table, 0
    vals, n = list(table[col]), 0
    for i, v in enumerate(vals):
        if not isinstance(v, str) or len(v) <= XLSX_CELL_MAX:
            continue
        g, tol = shapely.from_wkt(v), 1e-6
        while len(v) > XLSX_CELL_MAX:
            v = shapely.to_wkt(shapely.simplify(g, tol, preserve_topology=True), rounding_precision=7)
            tol *= 2
        vals[i], n = v, n + 1
    out = table.copy()
    out[col] = vals
    return out, n


def _write_xlsx(tables: dict[str, pd.DataFrame], target: str | os.PathLike | IO[bytes], lang: str = "en",
                notes: dict[str, Any] | None = None) -> None:
    """One sheet per table through the one table writer (:mod:`.sheets`: formula guard, print setup)."""
    fitted, simplified = {}, 0
    for sheet, table in tables.items():
        fitted[sheet], n = _fit_wkt(table, WKT)
        simplified += n
    if simplified:
        notes = {**(notes or {}), (word("io_writers_geometry", lang)):
                 (message("io_writers_simplified", lang, simplified=simplified))}
    sheets.write_xlsx(fitted, target, lang, notes=notes)


def _dataset_notes(ds: Dataset, lang: str) -> dict[str, Any]:
    """Items of the 说明 sheet of a dataset workbook."""
    meta = getattr(ds, "meta", {}) or {}
    counts = {(LAYERS[k].labels.get(lang, k) if lang == "zh" else k): v for k, v in ds.counts().items()}
    return {"dataset": meta.get("name") or meta.get("source") or "", "version": sheets.service_version(),
            "date": pd.Timestamp.now().date().isoformat(), "counts": counts, **location_notes(ds, lang)}


def _layers_to_write(ds: Dataset) -> list[str]:
    return [n for n in LAYER_ORDER if len(ds[n]) or n in IMPORT_REQUIRED]


def _vector_frame(layer: str, df: pd.DataFrame, shapefile: bool) -> gpd.GeoDataFrame | pd.DataFrame:
    out = layer_to_file_frame(layer, df)
    out = _plain_cells(out)
    for c in out.columns:
        if c == "geometry":
            continue
        if out[c].dtype == object:
            out[c] = out[c].astype("string")
        if shapefile and str(out[c].dtype) == "boolean":
            out[c] = pd.array([None if pd.isna(v) else ("true" if v else "false") for v in out[c]],
                              dtype="string")
    if shapefile:
        out = out.rename(columns={c: c[:10] for c in out.columns if c != "geometry" and len(c) > 10})
    return out


def write_dataset(ds: Dataset, path: str | os.PathLike, fmt: str | None = None, *, lang: str = "en",
                  include_personal: bool = True, datum: str | None = None) -> Path:
    """Write ``ds`` to ``path`` and return the path written.

    Parameters
    ----------
    path : a ``.gpkg`` or ``.xlsx`` file, a folder (created) for ``geojson``, ``shp`` or ``csv``,
        or a ``.zip`` holding any of these (what a browser downloads; :func:`read_dataset` reads it).
    fmt : ``gpkg``, ``xlsx``, ``geojson``, ``shp`` or ``csv``; default from the suffix of ``path``
        (a path without suffix, or a ``.zip``, holds GeoJSON).
    lang : ``"en"`` or ``"zh"``: headers of CSV/XLSX tables and XLSX sheet names. GeoPackage,
        GeoJSON and Shapefile attribute names stay English (the schema's names).
    include_personal : False blanks personal fields (constituents' names and phones).
    datum : ``wgs84``, ``gcj02`` or ``bd09``: the coordinates of CSV/XLSX tables (default: the
        datum the data came in, from the import report, else WGS-84), named in their headers
        (``经度(GCJ-02)``). GeoPackage, GeoJSON (RFC 7946) and Shapefile stay WGS-84.

    Folder formats write one file per layer that has rows (townships and villages always); a
    Shapefile folder writes the tables without geometry (groups, committees) as CSV, since a
    shapefile needs a geometry. Shapefile field names are cut to 10 characters (``township_i``);
    the reader maps them back. Existing files of the same names are overwritten.
    """
    path = Path(path)
    f = _format(path, fmt)
    output_headers([], lang)  # validates lang
    if not include_personal:
        ds = without_personal(ds)
    if path.suffix.lower() == ".zip":
        return _write_zip(ds, path, f, lang, datum)
    if f == "gpkg":
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_gpkg(ds, path)
    if f == "xlsx":
        path.parent.mkdir(parents=True, exist_ok=True)
        d = export_datum(ds, datum)
        tables = {(LAYERS[n].labels.get("zh", n) if lang == "zh" else n): _canonical_table(ds, n, d, lang)
                  for n in _layers_to_write(ds)}
        _write_xlsx(tables, path, lang, notes=_dataset_notes(ds, lang))
        return path
    path.mkdir(parents=True, exist_ok=True)
    for n in _layers_to_write(ds):
        spec = LAYERS[n]
        if f == "csv" or (f == "shp" and spec.geometry is None):
            target = path / f"{n}.csv"
            sheets.write_csv(_canonical_table(ds, n, export_datum(ds, datum) if f == "csv" else "wgs84", lang),
                             target, lang)
            continue
        frame = _vector_frame(n, ds[n], shapefile=f == "shp")
        target = path / f"{n}.{'shp' if f == 'shp' else 'geojson'}"
        for suffix in (".shp", ".shx", ".dbf", ".prj", ".cpg") if f == "shp" else (".geojson",):
            target.with_suffix(suffix).unlink(missing_ok=True)
        kw: dict[str, Any] = {}
        if f == "shp":
            kw["encoding"] = "UTF-8"
        if spec.geometry is not None:
            kw["geometry_type"] = {"Point": "Point", "Polygon": "MultiPolygon", "LineString": "MultiLineString"}[
                spec.geometry] if f == "shp" else "Unknown"
            if f == "shp" and spec.geometry != "Point":
                kw["promote_to_multi"] = True
        if f == "geojson":  # Python's shortest round-trip floats: exact and readable
            target.write_text(_geojson_text(frame), encoding="utf-8")
            continue
        pyogrio.write_dataframe(frame, target, driver="ESRI Shapefile" if f == "shp" else "GeoJSON", **kw)
    return path


def _geojson_text(df: pd.DataFrame) -> str:
    """RFC 7946 FeatureCollection text for ``df`` (null geometry for plain tables)."""
    gdf = df if isinstance(df, gpd.GeoDataFrame) else gpd.GeoDataFrame(
        df, geometry=gpd.GeoSeries([None] * len(df), index=df.index), crs=WGS84)
    if gdf.crs is not None and not gdf.crs.equals(WGS84):
        gdf = gdf.to_crs(WGS84)
    return gdf.to_json(drop_id=True, ensure_ascii=False, default=str)


def _write_zip(ds: Dataset, path: Path, fmt: str, lang: str, datum: str | None = None) -> Path:
    """Write ``ds`` in ``fmt`` into a temporary folder and zip it to ``path`` (atomically replaced)."""
    with tempfile.TemporaryDirectory(prefix="geo_service_export_") as tmp:
        # a whole-dataset file must not be named like a layer ("villages.gpkg" reads as one layer)
        stem = path.stem if canonical_layer(path.stem) is None else "dataset"
        inner = Path(tmp) / (f"{stem}.{fmt}" if fmt in ("gpkg", "xlsx") else stem)
        write_dataset(ds, inner, fmt, lang=lang, datum=datum)
        part = Path(tmp) / "out.zip"
        with zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in sorted([inner] if inner.is_file() else inner.rglob("*")):
                if p.is_file():
                    zf.write(p, p.relative_to(inner.parent if inner.is_file() else inner).as_posix())
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(part), path)
    return path


def write_table(df: pd.DataFrame, path_or_buffer: str | os.PathLike | IO | None = None, fmt: str | None = None,
                *, lang: str = "en", sheet_name: str = "data") -> bytes | Path | None:
    """Write any DataFrame/GeoDataFrame as CSV, XLSX or GeoJSON (result tables, exports).

    Parameters
    ----------
    df : a DataFrame, or a GeoDataFrame (points become ``lon``/``lat``, other shapes WKT, in CSV
        and XLSX; GeoJSON keeps the geometry, reprojected to EPSG:4326).
    path_or_buffer : a file path, a binary file-like object, or None to get the bytes back.
    fmt : ``csv`` (UTF-8 with BOM), ``xlsx`` or ``geojson``; default from the path's suffix.
    lang : ``"zh"`` renames known schema columns to Chinese headers.

    Lists in cells are written ``a;b``. Returns the bytes (``path_or_buffer=None``), the path, or
    None for a buffer.
    """
    if fmt is None:
        if path_or_buffer is None or not isinstance(path_or_buffer, (str, os.PathLike)):
            raise ValueError("give fmt ('csv', 'xlsx' or 'geojson') when writing to a buffer")
        fmt = Path(path_or_buffer).suffix.lstrip(".")
    fmt = {"json": "geojson", "excel": "xlsx"}.get(fmt.lower(), fmt.lower())
    if fmt not in ("csv", "xlsx", "geojson"):
        raise ValueError(f"unknown table format {fmt!r}; expected csv, xlsx or geojson")
    if fmt == "geojson":
        gdf = _plain_cells(df)
        gdf = gdf.rename(columns=output_headers([c for c in gdf.columns if c != "geometry"], lang))
        data = _geojson_text(gdf).encode("utf-8")
    else:
        table = _plain_cells(geometry_columns(df))
        if fmt == "csv":
            data = sheets.csv_bytes(table, lang)
        else:
            buf = io.BytesIO()
            _write_xlsx({sheet_name: table}, buf, lang)
            data = buf.getvalue()
    if path_or_buffer is None:
        return data
    return sheets.save_bytes(data, path_or_buffer)


__all__ = ["FORMATS", "XLSX_CELL_MAX", "geometry_columns", "layer_table", "without_personal", "write_dataset",
           "write_table"]
