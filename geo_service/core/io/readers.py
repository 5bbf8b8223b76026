"""Import a :class:`~geo_service.core.dataset.Dataset` from the files users actually have.

Accepted inputs (see :func:`read_dataset`): a GeoPackage with layers named by layer; a folder of
files named by layer (GeoJSON, Shapefile, GeoPackage, CSV, XLSX; English or Chinese names); one
.xlsx workbook with a sheet per layer; a .zip of any of these; or an explicit mapping
``{layer: file}`` (:func:`read_layers_from_files`). Tables carry points as lon/lat columns (or
WKT); headers may be Chinese or English.

Then, in order: coordinates in GCJ-02/BD-09 are converted to WGS-84; rows without coordinates
are kept (placed at their township's seat or centre, else without a point: ``location_source``), or
dropped or refused on request; references written as names (a village's ``乡镇 = 天城镇``) are resolved
to ids; townships given as seat points become Voronoi polygons; and
:meth:`Dataset.from_layers` validates everything. Every problem, from parsing or validation,
names its file, layer, row (the spreadsheet's own, header = row 1), feature id and column header, and all of them are
raised together as one :class:`~geo_service.core.dataset.DatasetValidationError`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pyproj import CRS

from ..crs import DATUMS
from ..dataset import Dataset, DatasetValidationError, Problem
from ..domain import LAYERS, REQUIRED_LAYERS
from .collect import Collector, read_file_as_layer, read_path
from .headers import canonical_layer
from .limits import NO_LIMITS, InputTooLarge, ReadLimits
from .locate import MISSING_POINTS, import_report
from .prepare import prepare
from .tables import clean_id
from .townships import townships_from_points


#: Layers an import must contain. Stations may be absent: a county planning its first stations
#: imports villages and townships, then proposes sites (see ``solvers.gaps``).
IMPORT_REQUIRED: tuple[str, ...] = REQUIRED_LAYERS


# --- validation with file context ---------------------------------------------------------------
def _locate(p: Problem, col: Collector) -> Problem:
    """Give a validation problem its file, original data row and the file's column header."""
    raw = col.layers.get(p.layer)
    if raw is None or p.source is not None:
        return p
    row = p.row
    if row is not None and 1 <= row <= len(raw.rows):
        row = int(raw.rows[row - 1])
    fld = raw.headers.get(p.field, p.field) if p.field else p.field
    msg = p.message
    if p.code == "unknown_reference":
        ref = LAYERS[p.layer].field(p.field).ref if p.field in LAYERS[p.layer].field_names else None
        vals = raw.frame[p.field] if p.field in raw.frame.columns else None
        if ref and vals is not None and p.row is not None \
                and clean_id(vals.iloc[p.row - 1]) in col.dropped.get(ref, ()):
            msg += " (it was dropped: it had no coordinates)"
    if p.code == "wrong_crs" and raw.kind == "table":
        msg += "; if the table holds projected x/y, name their CRS (crs='EPSG:4547', CLI --crs)"
    if p.field == "geometry" and raw.kind == "table":
        fld = "/".join(raw.headers.get(c, c) for c in ("lon", "lat")) if "lon" in raw.headers \
            else raw.headers.get("wkt", "wkt")
        if p.code == "missing_geometry" and p.layer == "stations":
            msg = f"no coordinates ({fld} blank): a station needs its point; fill them in"
    return dataclasses.replace(p, row=row, field=fld, source=raw.source, message=msg)


def _validate(col: Collector, *, name: str, meta: Mapping[str, Any], required: Iterable[str]) -> Dataset:
    frames = {layer: raw.frame for layer, raw in col.layers.items()}
    parse_errors = [p for p in col.problems if p.severity == "error"]
    geo_rows = {(p.layer, p.row) for p in parse_errors if p.field is not None}
    no_geom_layers = {p.layer for p in parse_errors if p.row is None and p.code in ("missing_column", "wrong_crs")}
    try:
        ds = Dataset.from_layers(frames, name=name, meta=meta, required=tuple(required))
        later: list[Problem] = list(ds.warnings)
    except DatasetValidationError as e:
        ds = None
        later = e.problems
    located = []
    for p in later:
        q = _locate(p, col)
        if q.code == "missing_geometry" and (q.layer in no_geom_layers or (q.layer, q.row) in geo_rows):
            continue  # already reported as a parse problem (no lon/lat columns, bad coordinate)
        located.append(q)
    problems = col.problems + located
    if ds is None or parse_errors:
        raise DatasetValidationError(problems)
    return dataclasses.replace(ds, warnings=tuple(p for p in problems if p.severity != "error"))


def _check_crs(crs: Any) -> CRS | None:
    if crs is None:
        return None
    try:
        return CRS.from_user_input(crs)
    except Exception as e:  # pyproj.exceptions.CRSError
        raise ValueError(f"unknown CRS {crs!r}: {e}") from None


def _check_options(datum: str, missing_points: str) -> None:
    if datum not in DATUMS:
        raise ValueError(f"unknown datum {datum!r}; expected one of {', '.join(DATUMS)}")
    if missing_points not in MISSING_POINTS:
        raise ValueError(f"missing_points must be one of {', '.join(MISSING_POINTS)}, got {missing_points!r}")


def _build(col: Collector, *, datum: str, name: str, missing_points: str, required: Iterable[str],
           meta: Mapping[str, Any]) -> Dataset:
    prepare(col, datum, missing_points)
    ds = _validate(col, name=name, meta={"datum": datum, **meta}, required=required)
    return dataclasses.replace(ds, meta={**ds.meta, "import_report": import_report(ds, col)})


# --- public API ---------------------------------------------------------------------------------
def read_dataset(path: str | os.PathLike, *, datum: str = "wgs84", name: str = "",
                 missing_points: str = "keep", required: Iterable[str] = IMPORT_REQUIRED,
                 crs: Any = None, limits: ReadLimits | None = None,
                 tmp_dir: str | os.PathLike | None = None) -> Dataset:
    """Read, convert and validate a dataset from ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        A GeoPackage (layers named by layer, English or Chinese: ``stations``/``站点``), a
        folder of files named by layer (``stations.geojson``, ``村社区.csv``, ``roads.shp`` ...),
        one ``.xlsx`` workbook with a sheet per layer, a ``.zip`` of any of these, or a single file
        named after a layer.
    datum : {"wgs84", "gcj02", "bd09"}
        The datum of the input coordinates: WGS-84 (default), GCJ-02 (Gaode/AMap, Tencent) or
        BD-09 (Baidu); every geometry is converted to WGS-84 degrees. Files with a declared CRS
        are first reprojected to EPSG:4326; GeoJSON without a CRS is WGS-84 (RFC 7946).
    name : str
        Dataset name (default: the file or folder name without suffix).
    missing_points : {"keep", "drop", "error"}
        ``"keep"`` (default): every village is kept; one without coordinates is placed at its
        township's seat or polygon centre (``location_source`` township_seat/township_centre),
        else it has no point (``unknown``); a member without a point takes its home village's.
        ``"drop"``: such rows are dropped, each listed in ``Dataset.warnings`` and in the import
        report. ``"error"``: each such village is an error naming its row.
    required : iterable of str
        Layers that must be present (default townships and villages).
    crs : str or pyproj.CRS, optional
        CRS of the x/y columns of CSV/XLSX tables and of vector files that declare none, e.g.
        ``"EPSG:4547"`` (CGCS2000 / 3-degree Gauss-Kruger zone 38, coordinates in metres, as
        surveyors deliver); reprojected to EPSG:4326. Default: tables hold WGS-84 lon/lat in
        degrees. Files that declare a CRS keep theirs.
    limits : ReadLimits, optional
        Caps for untrusted input (the API's uploads): real unpacked bytes of a zip or workbook,
        data rows per CSV file, XLSX sheet or vector layer. Default: no caps.
    tmp_dir : str or os.PathLike, optional
        Folder for the zip's extracted files (default: the system temp directory).

    Returns
    -------
    Dataset
        The validated dataset, geometries in WGS-84 degrees; ``meta["import_report"]`` says what
        the import knew (:func:`geo_service.core.io.locate.import_report`).

    Notes
    -----
    What official lists commonly lack is filled, each with a warning in ``Dataset.warnings``:
    townships given as seat points get Voronoi polygons (:func:`townships_from_points`) and
    their seat village ``is_seat``; villages without a population column get a blank (unknown) population;
    a bare county outline gets id ``C1`` and its file name. Villages sharing coordinates or
    lying far from their township's seat are warned about, never moved.

    Raises
    ------
    DatasetValidationError
        listing every problem (file, layer, spreadsheet row, feature id, column header).
    InputTooLarge
        when the input goes over one of ``limits`` (naming the file or sheet and the cap).
    ValueError
        For a ``datum`` not in wgs84/gcj02/bd09, a ``missing_points`` other than keep/drop/error, or an
        unknown ``crs``.
    FileNotFoundError
        When ``path`` does not exist.
    """
    _check_options(datum, missing_points)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    col = Collector(_check_crs(crs), limits or NO_LIMITS, None if tmp_dir is None else Path(tmp_dir))
    read_path(col, path, path.name)
    return _build(col, datum=datum, name=name or path.stem, missing_points=missing_points, required=required,
                  meta={"source": str(path)})


def read_layers_from_files(files: Mapping[str, str | os.PathLike], *, base: str | os.PathLike | None = None,
                           datum: str = "wgs84", name: str = "", missing_points: str = "keep",
                           required: Iterable[str] = IMPORT_REQUIRED, crs: Any = None) -> Dataset:
    """Read a dataset from an explicit mapping ``{layer: file}`` (for files not named by layer).

    ``layer`` may be English or Chinese (``villages``, ``村社区``); a relative file is taken from the
    current directory, else from ``base`` (a folder; if ``base`` is a file, its folder). A GeoPackage or workbook contributes the
    layer/sheet named like the layer, else its first one. Example for the statistics bureau's
    lists in GCJ-02::

        read_layers_from_files({"villages": "villages.csv", "townships": "townships.csv",
                                "counties": "county_boundary_gcj02.json"},
                               base=folder, datum="gcj02", missing_points="drop")

    Parameters
    ----------
    files : mapping of str to path
        ``{layer: file}``; layer names English or Chinese.
    base : str or os.PathLike, optional
        Folder (or a file in it) that relative paths not found in the current directory are
        taken from.
    datum, name, missing_points, required, crs
        As for :func:`read_dataset`.

    Returns
    -------
    Dataset
        The validated dataset, geometries in WGS-84 degrees.

    Raises
    ------
    DatasetValidationError
        Listing every problem, including unknown layer names and missing files.
    ValueError
        For a bad ``datum``, ``missing_points`` or ``crs``, as :func:`read_dataset`.
    """
    _check_options(datum, missing_points)
    root = None if base is None else Path(base)
    if root is not None and root.is_file():
        root = root.parent
    col = Collector(_check_crs(crs))
    for key, f in files.items():
        layer = canonical_layer(key)
        p = Path(f)
        # relative to the current directory first (as a shell user means it), else to ``base``
        if root is not None and not p.is_absolute() and not p.exists():
            p = root / p
        if layer is None:
            col.fail(str(key), f"unknown layer '{key}' (expected one of {', '.join(LAYERS)})", "unknown_layer",
                     p.name)
            continue
        if not p.exists():
            col.fail(layer, f"no such file: {p}", "missing_file", p.name)
            continue
        read_file_as_layer(col, layer, p, p.name)
    return _build(col, datum=datum, name=name, missing_points=missing_points, required=required,
                  meta={"source": {k: str(v) for k, v in files.items()}})


__all__ = ["IMPORT_REQUIRED", "InputTooLarge", "ReadLimits", "read_dataset", "read_layers_from_files",
           "townships_from_points"]
