"""Import a :class:`~geo_service.dataset.Dataset` from the files users actually have.

Accepted inputs (see :func:`read_dataset`): a GeoPackage with layers named by layer; a folder of
files named by layer (GeoJSON, Shapefile, GeoPackage, CSV, XLSX; English or Chinese names); one
.xlsx workbook with a sheet per layer; a .zip of any of these; or an explicit mapping
``{layer: file}`` (:func:`read_layers_from_files`). Tables carry points as lon/lat columns (or
WKT); headers may be Chinese or English.

Then, in order: coordinates in GCJ-02/BD-09 are converted to WGS-84; rows without coordinates
are dropped on request; references written as names (a village's ``乡镇 = 天城镇``) are resolved
to ids; townships given as seat points become Voronoi polygons; and
:meth:`Dataset.from_layers` validates everything. Every problem, from parsing or validation,
names its file, layer, 1-based data row, feature id and column header, and all of them are
raised together as one :class:`~geo_service.dataset.DatasetValidationError`.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from ..crs import DATUMS, to_wgs84, transform_geometry
from ..dataset import Dataset, DatasetValidationError, Problem
from ..domain import LAYERS, REQUIRED_LAYERS, WGS84
from .headers import canonical_layer
from .limits import NO_LIMITS, InputTooLarge, ReadLimits, UnpackBudget, copy_member, measure_zip
from .roads import geofabrik_roads, is_geofabrik, read_osm_pbf
from .tables import (
    TABLE_EXTS,
    VECTOR_EXTS,
    RawLayer,
    blank,
    clean_id,
    list_vector_layers,
    read_csv_file,
    read_excel_sheets,
    read_vector,
    table_to_layer,
    vector_to_layer,
)
from .townships import far_from_seat, townships_from_points

#: Layers an import must contain. Stations may be absent: a county planning its first stations
#: imports villages and townships, then proposes sites (see ``solvers.gaps``).
IMPORT_REQUIRED: tuple[str, ...] = REQUIRED_LAYERS
MISSING_POINTS = ("error", "drop")
_SIDECARS = {".dbf", ".shx", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".xml", ".md", ".txt", ".pdf"}


class _Collector:
    """Raw layers read so far plus every problem met, keyed by layer."""

    def __init__(self, crs: Any = None, limits: ReadLimits = NO_LIMITS, tmp_dir: Path | None = None) -> None:
        self.crs = crs  # CRS of tables' x/y columns and of vector files that declare none
        self.limits = limits
        self.tmp_dir = tmp_dir  # where zips are extracted (None: the system temp directory)
        self.measured: set[Path] = set()  # workbooks whose real unpacked size was checked
        self.layers: dict[str, RawLayer] = {}
        self.problems: list[Problem] = []
        self.dropped: dict[str, set[str]] = {}  # ids dropped for lack of coordinates, per layer
        self.wgs84_layers: set[str] = set()  # OpenStreetMap layers: WGS-84 whatever the datum option
        self.pending_osm: list[tuple[str, Path, str]] = []  # .osm.pbf read once the area is known

    def add(self, raw: RawLayer) -> None:
        prev = self.layers.get(raw.layer)
        if prev is not None:
            self.problems.append(Problem(raw.layer, f"layer given twice: in {prev.source} and in {raw.source}",
                                         "duplicate_layer", source=raw.source))
            return
        self.layers[raw.layer] = raw

    def fail(self, layer: str, message: str, code: str, source: str, severity: str = "error") -> None:
        self.problems.append(Problem(layer, message, code, severity=severity, source=source))

    def sheets(self, path: Path, source: str) -> dict[str, pd.DataFrame]:
        """A workbook's sheets under the limits (its unpacked size measured once per file)."""
        self.measure(path, source)
        return read_excel_sheets(path, dataclasses.replace(self.limits, max_unpacked_bytes=None), source)

    def measure(self, path: Path, source: str) -> None:
        """Decompress a workbook's parts once, counting real bytes (InputTooLarge past the cap)."""
        if self.limits.max_unpacked_bytes is not None and path not in self.measured:
            try:
                measure_zip(path, self.limits.max_unpacked_bytes, source)
            except zipfile.BadZipFile:
                pass  # not a zip: openpyxl says so next, as a problem of this file
            self.measured.add(path)


# --- reading one file ---------------------------------------------------------------------------
def _scrub(e: Exception, path: Path) -> str:
    """An exception's message without the (possibly temporary) folder of ``path``, shortened."""
    return str(e).replace(str(path), path.name).replace(str(path.parent) + os.sep, "")[:200]


def _read_file_as_layer(col: _Collector, layer: str, path: Path, source: str) -> None:
    """Read ``path`` as layer ``layer`` (any supported format) into ``col``."""
    ext = path.suffix.lower()
    if ext in (".pbf", ".osm"):  # OpenStreetMap extract: read after the others, clipped to their area
        if layer != "roads":
            col.fail(layer, f"an OpenStreetMap file gives the roads layer, not {layer}", "unsupported_file", source)
        else:
            col.pending_osm.append((layer, path, source))
        return
    try:
        if ext in (".csv", ".txt"):
            col.add(table_to_layer(layer, read_csv_file(path, col.limits, source), source, col.problems))
        elif ext in (".xlsx", ".xlsm"):
            sheets = col.sheets(path, source)
            pick = next((s for s in sheets if canonical_layer(s) == layer), next(iter(sheets), None))
            if pick is None:
                col.fail(layer, "workbook has no sheets", "unreadable_file", source)
                return
            col.add(table_to_layer(layer, sheets[pick], f"{source}[{pick}]", col.problems))
        elif ext in VECTOR_EXTS:
            lname = None
            if ext == ".gpkg":
                names = list_vector_layers(path)
                lname = next((n for n in names if canonical_layer(n) == layer), names[0] if names else None)
                source = f"{source}:{lname}"
            gdf = read_vector(path, lname, col.limits.max_rows, source)
            if layer == "roads" and isinstance(gdf, gpd.GeoDataFrame) and is_geofabrik(gdf):
                gdf = geofabrik_roads(gdf)  # osm_id as id, fclass as class, maxspeed 0 = unknown
                col.wgs84_layers.add(layer)
            col.add(vector_to_layer(layer, gdf, source, col.problems, assume_wgs84=ext in (".geojson", ".json"),
                                    kind="shapefile" if ext == ".shp" else "vector", default_crs=col.crs))
        else:
            col.fail(layer, f"unsupported file type '{ext}' (use .gpkg, .geojson, .shp, .csv or .xlsx)",
                     "unsupported_file", source)
    except (DatasetValidationError, InputTooLarge):
        raise
    except Exception as e:  # unreadable or malformed file: a problem, not a crash
        col.fail(layer, f"cannot read file: {type(e).__name__}: {_scrub(e, path)}", "unreadable_file", source)


def _read_gpkg(col: _Collector, path: Path, source: str) -> None:
    try:
        names = list_vector_layers(path)
    except Exception as e:
        col.fail("dataset", f"cannot read GeoPackage: {_scrub(e, path)}", "unreadable_file", source)
        return
    for lname in names:
        layer = canonical_layer(lname)
        if layer is None:
            col.fail(lname, f"layer '{lname}' is not a known layer; ignored", "ignored_layer", source, "warning")
            continue
        try:
            gdf = read_vector(path, lname, col.limits.max_rows, f"{source}:{lname}")
        except InputTooLarge:
            raise
        except Exception as e:
            col.fail(layer, f"cannot read layer: {_scrub(e, path)}", "unreadable_file", f"{source}:{lname}")
            continue
        col.add(vector_to_layer(layer, gdf, f"{source}:{lname}", col.problems, assume_wgs84=False,
                                default_crs=col.crs))


def _read_workbook(col: _Collector, path: Path, source: str) -> None:
    try:
        sheets = col.sheets(path, source)
    except InputTooLarge:
        raise
    except Exception as e:
        col.fail("dataset", f"cannot read workbook: {type(e).__name__}: {_scrub(e, path)}", "unreadable_file",
                 source)
        return
    for sheet, df in sheets.items():
        layer = canonical_layer(sheet)
        if layer is None and str(sheet).strip().lower() in _NOTES_NAMES:
            continue  # the template's notes sheet
        if layer is None:
            col.fail(sheet, f"sheet '{sheet}' is not a known layer; ignored", "ignored_layer", source, "warning")
            continue
        col.add(table_to_layer(layer, df, f"{source}[{sheet}]", col.problems))


#: Notes sheets/files of the import template (geo_service.io.template), skipped without a word.
_NOTES_NAMES = ("说明", "notes", "readme")


def _read_folder(col: _Collector, folder: Path, label: str) -> None:
    found = False
    files = [p for p in sorted(folder.iterdir()) if not p.name.startswith(".") and p.is_file()
             and p.suffix.lower() not in _SIDECARS and p.suffix.lower() in TABLE_EXTS + VECTOR_EXTS]
    by_layer: dict[str, list[Path]] = {}
    for p in files:
        if canonical_layer(p.stem) is not None:
            by_layer.setdefault(canonical_layer(p.stem), []).append(p)
    for layer, ps in by_layer.items():
        if len(ps) > 1:
            found = True
            col.fail(layer, f"layer given by several files ({', '.join(p.name for p in ps)}); keep one",
                     "duplicate_layer", f"{label}/{ps[0].name}" if label else ps[0].name)
    for p in files:
        ext = p.suffix.lower()
        layer = canonical_layer(p.stem)
        if layer is not None and len(by_layer[layer]) > 1:
            continue
        src = f"{label}/{p.name}" if label else p.name
        if layer is None and p.stem.strip().lower() in _NOTES_NAMES:
            continue  # the template's notes file
        if layer is None:
            if ext in (".gpkg", ".xlsx") and not any(canonical_layer(q.stem) for q in folder.iterdir()):
                found = True
                (_read_gpkg if ext == ".gpkg" else _read_workbook)(col, p, src)
            else:
                col.fail(p.stem, f"file '{p.name}' is not named after a layer; ignored", "ignored_file", src,
                         "warning")
            continue
        found = True
        _read_file_as_layer(col, layer, p, src)
    if not found:
        col.fail("dataset", "no layer files found (expected names such as stations.geojson, villages.csv, "
                            "村社区.xlsx)", "missing_layer", label or str(folder))


def _safe_extract(zf: zipfile.ZipFile, dest: Path, budget: UnpackBudget | None = None) -> None:
    """Extract ``zf`` under ``dest``: no entry outside it; with ``budget``, real bytes counted as
    they are decompressed and extraction stopped at the cap (declared sizes are not trusted)."""
    root = dest.resolve()
    for info in zf.infolist():
        name = info.filename
        # zips made on Chinese Windows store names in GBK without the UTF-8 flag
        if not info.flag_bits & 0x800:
            try:
                name = name.encode("cp437").decode("gb18030")
            except (UnicodeEncodeError, UnicodeDecodeError):
                pass
        target = (dest / name).resolve()
        if root not in target.parents and target != root:
            raise ValueError(f"unsafe path in zip: {info.filename!r}")
        if info.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        if "__MACOSX" in Path(name).parts:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as dst:
            if budget is None:
                with zf.open(info) as src:
                    shutil.copyfileobj(src, dst)
            else:
                copy_member(zf, info, dst, budget)


def _holds_many_layers(col: _Collector, path: Path, label: str) -> bool:
    """Whether a GeoPackage/workbook is a whole dataset (layers/sheets named by layer) rather than
    one layer in a file named after it (``stations.xlsx`` with a sheet ``Sheet1``)."""
    if path.suffix.lower() != ".gpkg":
        col.measure(path, label)  # before openpyxl opens it
    try:
        if path.suffix.lower() == ".gpkg":
            names = list_vector_layers(path)
        else:
            from openpyxl import load_workbook

            wb = load_workbook(path, read_only=True)
            names = list(wb.sheetnames)
            wb.close()
    except Exception:
        return canonical_layer(path.stem) is None  # unreadable: the reader will say so
    known = {canonical_layer(n) for n in names} - {None}
    return len(known) >= 2 or canonical_layer(path.stem) is None


def _read_path(col: _Collector, path: Path, label: str) -> None:
    """Dispatch on what ``path`` is: folder, .gpkg, .xlsx, .zip or a single layer file."""
    ext = path.suffix.lower()
    if path.is_dir():
        _read_folder(col, path, label)
    elif ext == ".zip":
        if col.tmp_dir is not None:
            col.tmp_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="geo_service_zip_", dir=col.tmp_dir) as tmp:
            budget = None if col.limits.max_unpacked_bytes is None else \
                UnpackBudget(col.limits.max_unpacked_bytes, label)
            try:
                with zipfile.ZipFile(path) as zf:
                    _safe_extract(zf, Path(tmp), budget)
            except (zipfile.BadZipFile, ValueError, OSError) as e:
                col.fail("dataset", f"cannot open zip: {e}", "unreadable_file", label)
                return
            root = Path(tmp)
            while True:
                entries = [e for e in root.iterdir() if not e.name.startswith((".", "__MACOSX"))]
                if len(entries) == 1 and entries[0].is_dir():
                    root = entries[0]
                    continue
                break
            files = [e for e in entries if e.is_file() and e.suffix.lower() not in _SIDECARS]
            if len(files) == 1 and files[0].suffix.lower() in (".gpkg", ".xlsx") \
                    and canonical_layer(files[0].stem) is None:
                _read_path(col, files[0], f"{label}/{files[0].name}")
            else:
                _read_folder(col, root, label)
            # every reader is eager, so the frames outlive the temporary folder
    elif ext in (".gpkg", ".xlsx", ".xlsm") and _holds_many_layers(col, path, label):
        (_read_gpkg if ext == ".gpkg" else _read_workbook)(col, path, label)
    elif canonical_layer(path.stem) is not None:
        _read_file_as_layer(col, canonical_layer(path.stem), path, label)
    elif ext == ".gpkg":
        _read_gpkg(col, path, label)
    else:
        col.fail("dataset", f"cannot tell which layer '{path.name}' holds: name it after a layer "
                            "(stations, villages, 村社区 ...) or pass a mapping layer -> file",
                 "unknown_layer", label)


# --- after reading: datum, missing points, names, townships -------------------------------------
def _convert_datum(col: _Collector, datum: str) -> None:
    if datum == "wgs84":
        return
    for raw in col.layers.values():
        df = raw.frame
        if raw.layer in col.wgs84_layers:
            continue  # OpenStreetMap data is WGS-84
        if isinstance(df, gpd.GeoDataFrame) and len(df):
            geoms = df.geometry.to_numpy()
            ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
            b = shapely.bounds(geoms)
            with np.errstate(invalid="ignore"):
                ok &= np.isfinite(b).all(axis=1) & (np.abs(b[:, [0, 2]]) <= 180).all(axis=1) \
                    & (np.abs(b[:, [1, 3]]) <= 90).all(axis=1)
            new = geoms.copy()
            new[ok] = transform_geometry(geoms[ok], lambda x, y: to_wgs84(x, y, datum))
            raw.frame = df.set_geometry(gpd.GeoSeries(new, crs=WGS84, index=df.index))


def _normalise_shapefile_shapes(col: _Collector) -> None:
    """Undo what the Shapefile format does to shapes, so a shapefile reads like the other formats.

    Shapefile stores outer rings clockwise and has no single-part/multi-part distinction: rings
    are oriented counter-clockwise outside (RFC 7946, and shapely's default) and single-part
    Multi* geometries become their part. Other formats keep shapes exactly as written.
    """
    for raw in col.layers.values():
        df = raw.frame
        if raw.kind != "shapefile" or not isinstance(df, gpd.GeoDataFrame) or not len(df):
            continue
        geoms = df.geometry.to_numpy().copy()
        types = shapely.get_type_id(geoms)
        multi = np.isin(types, (5, 6)) & (shapely.get_num_geometries(geoms) == 1)
        if multi.any():
            geoms[multi] = shapely.get_geometry(geoms[multi], 0)
        poly = np.isin(shapely.get_type_id(geoms), (3, 6))
        if poly.any():
            geoms[poly] = shapely.orient_polygons(geoms[poly], exterior_cw=False)
        if multi.any() or poly.any():
            raw.frame = df.set_geometry(gpd.GeoSeries(geoms, crs=WGS84, index=df.index))


def _handle_missing_points(col: _Collector, missing_points: str) -> None:
    """Drop (with a warning each) point rows without coordinates when ``missing_points='drop'``."""
    if missing_points != "drop":
        return
    bad_rows = {(p.layer, p.row) for p in col.problems if p.row is not None}
    for raw in col.layers.values():
        spec = LAYERS[raw.layer]
        df = raw.frame
        if spec.geometry != "Point" or not spec.geometry_required or not isinstance(df, gpd.GeoDataFrame):
            continue
        geoms = df.geometry.to_numpy()
        missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
        missing &= np.array([(raw.layer, int(r)) not in bad_rows for r in raw.rows], dtype=bool)
        if not missing.any():
            continue
        for i in np.flatnonzero(missing):
            fid = clean_id(df["id"].iloc[i]) if "id" in df.columns else None
            name = df["name"].iloc[i] if "name" in df.columns else None
            what = f"'{name}' " if not blank(name) else ""
            col.problems.append(Problem(raw.layer, f"{what}has no coordinates; dropped", "dropped_no_coordinates",
                                        int(raw.rows[i]), fid, None, "warning", raw.source))
        if "id" in df.columns:
            col.dropped.setdefault(raw.layer, set()).update(
                i for i in (clean_id(v) for v in df["id"].to_numpy()[missing]) if i is not None)
        keep = ~missing
        raw.frame = df.loc[keep].reset_index(drop=True)
        raw.rows = raw.rows[keep]


def _resolve_names(col: _Collector) -> None:
    """Replace references written as names by ids, when the name is unambiguous.

    A value that is already an id of the target layer stays. A value equal to exactly one target
    name becomes that row's id; a name shared by several targets is an ``ambiguous_reference``
    error naming the candidates. Anything else is left for validation (``unknown_reference``).
    """
    for raw in col.layers.values():
        spec = LAYERS[raw.layer]
        for f in spec.fields:
            if not f.ref or f.name not in raw.frame.columns or f.ref not in col.layers:
                continue
            target = col.layers[f.ref].frame
            if "id" not in target.columns:
                continue
            ids = {clean_id(v) for v in target["id"]}
            by_name: dict[str, list[str]] = {}
            if "name" in target.columns:
                for tid, tname in zip(target["id"], target["name"]):
                    if not blank(tname) and clean_id(tid) is not None:
                        by_name.setdefault(str(tname).strip(), []).append(clean_id(tid))
            out = []
            for i, v in enumerate(raw.frame[f.name]):
                cv = clean_id(v)
                if cv is None or cv in ids or cv not in by_name:
                    out.append(cv)
                    continue
                cands = by_name[cv]
                if len(cands) == 1:
                    out.append(cands[0])
                else:
                    fid = clean_id(raw.frame["id"].iloc[i]) if "id" in raw.frame.columns else None
                    col.problems.append(Problem(
                        raw.layer, f"'{cv}' names {len(cands)} {f.ref} (ids {', '.join(cands)}); use the id",
                        "ambiguous_reference", int(raw.rows[i]), fid, raw.headers.get(f.name, f.name),
                        source=raw.source))
                    out.append(cv)
            raw.frame[f.name] = pd.Series(out, index=raw.frame.index, dtype=object)


def _fill_defaults(col: _Collector) -> None:
    """Fill what boundary files and statistics lists commonly lack, with a warning each.

    - counties without ``id``/``name`` (a bare outline): ids ``C1``, ``C2`` ... and the file name;
    - villages without any population column: population blank (unknown); coverage then counts
      villages (:func:`geo_service.coverage.village_weights`) until real figures are imported.
    """
    raw = col.layers.get("counties")
    if raw is not None and isinstance(raw.frame, gpd.GeoDataFrame):
        df = raw.frame
        for fld in ("id", "name"):
            if fld not in df.columns:
                stem = Path(raw.source.split(":")[0].split("[")[0]).stem
                df[fld] = [f"C{i + 1}" for i in range(len(df))] if fld == "id" else [stem] * len(df)
                col.fail("counties", f"no '{fld}' column; set to {df[fld].iloc[0] if len(df) else ''!r}",
                         "filled_default", raw.source, "warning")
    # a list without a code column (站点名称, 类型, 经度, 纬度): the names are the ids when unique,
    # else the row numbers; references by name still resolve (_resolve_names)
    for layer, raw in col.layers.items():
        df = raw.frame
        if layer == "counties" or "id" in df.columns or "name" not in df.columns or not len(df):
            continue
        names = [None if v is None or (isinstance(v, float) and v != v) else str(v).strip() for v in df["name"]]
        unique = all(names) and len(set(names)) == len(names)
        df["id"] = names if unique else [f"{layer[0].upper()}{i + 1}" for i in range(len(df))]
        col.fail(layer, "no id column (代码/编号); ids set to the " + ("names" if unique else "row numbers"),
                 "filled_default", raw.source, "warning")
    raw = col.layers.get("villages")
    if raw is not None and "population" not in raw.frame.columns:
        raw.frame["population"] = None
        col.fail("villages", "no population column (人口): population unknown; coverage counts villages "
                             "(每村计 1) until a 人口 column is imported",
                 "filled_default", raw.source, "warning")


def _warn_shared_points(col: _Collector, vraw: RawLayer, villages: gpd.GeoDataFrame) -> None:
    """Warn about villages that share exact coordinates (often a geocoder matching one name)."""
    geoms = villages.geometry.to_numpy()
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms)) & (shapely.get_type_id(geoms) == 0)
    seen: dict[tuple[float, float], int] = {}
    for i in np.flatnonzero(ok):
        key = (float(shapely.get_x(geoms[i])), float(shapely.get_y(geoms[i])))
        if key in seen:
            j = seen[key]
            nm = villages["name"] if "name" in villages.columns else pd.Series([""] * len(villages))
            col.problems.append(Problem(
                "villages", f"'{nm.iloc[i]}' has the same coordinates as row {int(vraw.rows[j])} "
                            f"'{nm.iloc[j]}': probably a geocoding mistake", "shared_coordinates",
                int(vraw.rows[i]), clean_id(villages["id"].iloc[i]) if "id" in villages.columns else None,
                "/".join(vraw.headers.get(c, c) for c in ("lon", "lat")), "warning", vraw.source))
        else:
            seen[key] = int(i)


def _derive_townships(col: _Collector, missing_points: str) -> None:
    """Townships given as points: derive polygons (Voronoi of villages) and mark seat villages.

    A township with neither a seat point nor a village with coordinates gets no polygon: with
    ``missing_points="drop"`` it is dropped (warning), else it is an error naming the row.
    """
    traw, vraw = col.layers.get("townships"), col.layers.get("villages")
    if traw is None or not isinstance(traw.frame, gpd.GeoDataFrame) or not len(traw.frame):
        return
    geoms = traw.frame.geometry.to_numpy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not present.any() or not (shapely.get_type_id(geoms[present]) == 0).all():
        return
    villages = vraw.frame if vraw is not None and isinstance(vraw.frame, gpd.GeoDataFrame) else None
    if villages is None or "township_id" not in villages.columns or "id" not in traw.frame.columns:
        villages = gpd.GeoDataFrame({"township_id": []}, geometry=gpd.GeoSeries([], crs=WGS84), crs=WGS84)
    boundary = None
    craw = col.layers.get("counties")
    if craw is not None and isinstance(craw.frame, gpd.GeoDataFrame) and len(craw.frame):
        cg = craw.frame.geometry.to_numpy()
        cg = cg[~(shapely.is_missing(cg) | shapely.is_empty(cg))]
        polys = [g for g in cg if g.geom_type in ("Polygon", "MultiPolygon")]
        if polys:
            boundary = shapely.make_valid(shapely.union_all(polys))
    tw = traw.frame.copy()
    tw["id"] = [clean_id(v) for v in tw["id"]]
    new, seat = townships_from_points(tw, villages, boundary)
    empty = (shapely.is_missing(new.geometry.to_numpy()) | shapely.is_empty(new.geometry.to_numpy())) & ~present
    for i in np.flatnonzero(empty):
        drop = missing_points == "drop"
        label = f"'{new['name'].iloc[i]}' " if "name" in new.columns and not blank(new["name"].iloc[i]) else ""
        col.problems.append(Problem(
            "townships", f"{label}has no seat coordinates and no village with coordinates, so no polygon"
                         + ("; dropped" if drop else " can be derived"),
            "dropped_no_coordinates" if drop else "missing_geometry", int(traw.rows[i]), new["id"].iloc[i],
            None if drop else traw.headers.get("lon", "lon"), "warning" if drop else "error", traw.source))
    if missing_points == "drop" and empty.any():
        col.dropped.setdefault("townships", set()).update(new["id"][empty].dropna().astype(str))
        new = new.loc[~empty].reset_index(drop=True)
        traw.rows = traw.rows[~empty]
    traw.frame = new
    col.fail("townships", "townships given as points (seats): polygons derived as the union of the Voronoi "
                          "cells of their villages" + (", clipped to the county boundary" if boundary else ""),
             "derived_polygons", traw.source, "warning")
    if vraw is not None and len(villages):
        names = dict(zip(tw["id"], tw["name"])) if "name" in tw.columns else {}
        for _, r in far_from_seat(tw, villages).iterrows():
            i = int(r["position"])
            vname = villages["name"].iloc[i] if "name" in villages.columns else ""
            col.problems.append(Problem(
                "villages", f"'{vname}' lies {r['own_m'] / 1000:.1f} km from the seat of its township "
                            f"'{names.get(str(villages['township_id'].iloc[i]), '')}' but "
                            f"{r['nearest_m'] / 1000:.1f} km from that of '{names.get(r['nearest_township'], '')}': "
                            "check its coordinates or township", "far_from_seat", int(vraw.rows[i]),
                clean_id(villages["id"].iloc[i]) if "id" in villages.columns else None,
                vraw.headers.get("township_id", "township_id"), "warning", vraw.source))
    if vraw is not None and len(villages):
        _warn_shared_points(col, vraw, villages)
    if vraw is not None and len(villages) and ("is_seat" not in vraw.frame.columns
                                               or all(blank(v) for v in vraw.frame["is_seat"])):
        vraw.frame["is_seat"] = seat.to_numpy()


# --- validation with file context ---------------------------------------------------------------
def _locate(p: Problem, col: _Collector) -> Problem:
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
        if p.code == "missing_geometry" and LAYERS[p.layer].geometry == "Point":
            msg = (f"no coordinates ({fld} blank); fill them in, or drop such rows "
                   "(missing_points='drop', CLI --missing-points drop)")
    return dataclasses.replace(p, row=row, field=fld, source=raw.source, message=msg)


def _validate(col: _Collector, *, name: str, meta: Mapping[str, Any], required: Iterable[str]) -> Dataset:
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
        raise ValueError(f"missing_points must be 'error' or 'drop', got {missing_points!r}")


def _apply_table_crs(col: _Collector) -> None:
    """Reproject the x/y columns of CSV/XLSX tables from the user's ``crs`` to EPSG:4326."""
    if col.crs is None:
        return
    for raw in col.layers.values():
        if raw.kind == "table" and isinstance(raw.frame, gpd.GeoDataFrame) and len(raw.frame):
            raw.frame = raw.frame.set_crs(col.crs, allow_override=True).to_crs(WGS84)


#: Margin (degrees, about 10 km) around the dataset's area within which OpenStreetMap ways are kept.
OSM_CLIP_MARGIN_DEG = 0.1


def _read_pending_osm(col: _Collector) -> None:
    """Read ``.osm.pbf`` roads clipped to the bounding box of the other layers (plus a margin)."""
    for layer, path, source in col.pending_osm:
        bounds = [raw.frame.total_bounds for raw in col.layers.values()
                  if isinstance(raw.frame, gpd.GeoDataFrame) and len(raw.frame) and raw.layer != "roads"]
        b = np.array([x for x in bounds if np.isfinite(x).all()])
        if not len(b):
            col.fail(layer, "an OpenStreetMap extract is clipped to the dataset's area: give villages and "
                            "townships with coordinates too", "missing_layer", source)
            continue
        m = OSM_CLIP_MARGIN_DEG
        bbox = (b[:, 0].min() - m, b[:, 1].min() - m, b[:, 2].max() + m, b[:, 3].max() + m)
        try:
            gdf = read_osm_pbf(path, bbox)
        except (ValueError, OSError) as e:
            col.fail(layer, f"cannot read file: {_scrub(e, path)}", "unreadable_file", source)
            continue
        col.wgs84_layers.add(layer)
        col.add(vector_to_layer(layer, gdf, source, col.problems, assume_wgs84=True))


def _build(col: _Collector, *, datum: str, name: str, missing_points: str, required: Iterable[str],
           meta: Mapping[str, Any]) -> Dataset:
    _apply_table_crs(col)
    _convert_datum(col, datum)
    _handle_missing_points(col, missing_points)
    _read_pending_osm(col)
    _fill_defaults(col)
    _resolve_names(col)
    try:
        _derive_townships(col, missing_points)
    except Exception as e:  # degenerate input (e.g. all villages at one spot): say so, do not crash
        col.fail("townships", f"cannot derive township polygons from points: {e}", "derive_failed",
                 col.layers["townships"].source)
    _normalise_shapefile_shapes(col)
    return _validate(col, name=name, meta={"datum": datum, **meta}, required=required)


# --- public API ---------------------------------------------------------------------------------
def read_dataset(path: str | os.PathLike, *, datum: str = "wgs84", name: str = "",
                 missing_points: str = "error", required: Iterable[str] = IMPORT_REQUIRED,
                 crs: Any = None, limits: ReadLimits | None = None,
                 tmp_dir: str | os.PathLike | None = None) -> Dataset:
    """Read, convert and validate a dataset from ``path``.

    Parameters
    ----------
    path : a GeoPackage (layers named by layer, English or Chinese: ``stations``/``站点``), a
        folder of files named by layer (``stations.geojson``, ``村社区.csv``, ``roads.shp`` ...),
        one ``.xlsx`` workbook with a sheet per layer, a ``.zip`` of any of these, or a single file
        named after a layer.
    datum : ``"wgs84"`` (default), ``"gcj02"`` (Gaode/AMap, Tencent) or ``"bd09"`` (Baidu): the datum
        of the input coordinates; every geometry is converted to WGS-84. Files with a declared CRS
        are first reprojected to EPSG:4326; GeoJSON without a CRS is WGS-84 (RFC 7946).
    name : dataset name.
    missing_points : ``"error"`` (default): a point row without coordinates is an error;
        ``"drop"``: such rows are dropped, each listed in ``Dataset.warnings``.
    required : layers that must be present (default townships and villages).
    crs : CRS of the x/y columns of CSV/XLSX tables and of vector files that declare none, e.g.
        ``"EPSG:4547"`` (CGCS2000 / 3-degree Gauss-Kruger zone 38, as surveyors deliver); reprojected
        to EPSG:4326. Default: tables hold WGS-84 lon/lat. Files that declare a CRS keep theirs.
    limits : :class:`~geo_service.io.limits.ReadLimits` for untrusted input (the API's uploads): real
        unpacked bytes of a zip or workbook, data rows per CSV file, XLSX sheet or vector layer.
        Default: no caps.
    tmp_dir : folder for the zip's extracted files (default: the system temp directory).

    What official lists commonly lack is filled, each with a warning in ``Dataset.warnings``:
    townships given as seat points get Voronoi polygons (:func:`townships_from_points`) and
    their seat village ``is_seat``; villages without a population column get a blank (unknown) population;
    a bare county outline gets id ``C1`` and its file name. Villages sharing coordinates or
    lying far from their township's seat are warned about, never moved.

    Raises
    ------
    DatasetValidationError
        listing every problem (file, layer, 1-based data row, feature id, column header).
    InputTooLarge
        when the input goes over one of ``limits`` (naming the file or sheet and the cap).
    ValueError
        for a bad ``datum`` or ``missing_points`` option. A missing ``path`` is FileNotFoundError.
    """
    _check_options(datum, missing_points)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    col = _Collector(_check_crs(crs), limits or NO_LIMITS, None if tmp_dir is None else Path(tmp_dir))
    _read_path(col, path, path.name)
    return _build(col, datum=datum, name=name or path.stem, missing_points=missing_points, required=required,
                  meta={"source": str(path)})


def read_layers_from_files(files: Mapping[str, str | os.PathLike], *, base: str | os.PathLike | None = None,
                           datum: str = "wgs84", name: str = "", missing_points: str = "error",
                           required: Iterable[str] = IMPORT_REQUIRED, crs: Any = None) -> Dataset:
    """Read a dataset from an explicit mapping ``{layer: file}`` (for files not named by layer).

    ``layer`` may be English or Chinese (``villages``, ``村社区``); a relative file is taken from the
    current directory, else from ``base`` (a folder; if ``base`` is a file, its folder). A GeoPackage or workbook contributes the
    layer/sheet named like the layer, else its first one. Example for the statistics bureau's
    lists in GCJ-02::

        read_layers_from_files({"villages": "villages.csv", "townships": "townships.csv",
                                "counties": "county_boundary_gcj02.json"},
                               base=folder, datum="gcj02", missing_points="drop")

    Other options and errors as :func:`read_dataset`.
    """
    _check_options(datum, missing_points)
    root = None if base is None else Path(base)
    if root is not None and root.is_file():
        root = root.parent
    col = _Collector(_check_crs(crs))
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
        _read_file_as_layer(col, layer, p, p.name)
    return _build(col, datum=datum, name=name, missing_points=missing_points, required=required,
                  meta={"source": {k: str(v) for k, v in files.items()}})


__all__ = ["IMPORT_REQUIRED", "InputTooLarge", "ReadLimits", "read_dataset", "read_layers_from_files",
           "townships_from_points"]
