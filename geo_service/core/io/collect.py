"""Collect raw layers from the files users have: one file, a folder, a workbook, a zip, an OSM extract.

:class:`Collector` holds the raw layers read so far and every problem met; the ``read_*``
functions add to it. Nothing is converted or validated here (see :mod:`.prepare` and
:mod:`.readers`).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..dataset import DatasetValidationError, Problem
from ..validation import text_params
from .headers import canonical_layer
from .limits import NO_LIMITS, InputTooLarge, ReadLimits, UnpackBudget, copy_member, measure_zip, safe_zip_members
from .roads import geofabrik_roads, is_geofabrik, read_osm_pbf
from .tables import (
    TABLE_EXTS,
    VECTOR_EXTS,
    RawLayer,
    list_vector_layers,
    read_csv_file,
    read_excel_sheets,
    read_vector,
    table_to_layer,
    vector_to_layer,
)


_SIDECARS = {".dbf", ".shx", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".xml", ".md", ".txt", ".pdf"}


class Collector:
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
        self.datum = "wgs84"  # the datum the coordinates came in (kept in the import report)
        self.shared_points: list[dict[str, Any]] = []  # villages of different townships at one point

    def add(self, raw: RawLayer) -> None:
        prev = self.layers.get(raw.layer)
        if prev is not None:
            self.problems.append(Problem(raw.layer, f"layer given twice: in {prev.source} and in {raw.source}",
                                         "duplicate_layer", source=raw.source))
            return
        self.layers[raw.layer] = raw

    def fail(self, layer: str, message: str, code: str, source: str, severity: str = "error",
             words: tuple[str, dict[str, Any]] | None = None) -> None:
        """A problem of a whole layer; ``words`` the glossary message and values its detail reads from."""
        msg, params = words or (None, {})
        self.problems.append(Problem(layer, message, code, severity=severity, source=source, message_code=msg,
                                     params=text_params(params)))

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


def read_file_as_layer(col: Collector, layer: str, path: Path, source: str) -> None:
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


def _read_gpkg(col: Collector, path: Path, source: str) -> None:
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


def _read_workbook(col: Collector, path: Path, source: str) -> None:
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


#: Notes sheets/files of the import template (geo_service.core.io.template), skipped without a word.
_NOTES_NAMES = ("说明", "notes", "readme")


def _read_folder(col: Collector, folder: Path, label: str) -> None:
    found = False
    files = [p for p in sorted(folder.iterdir()) if not p.name.startswith(".") and p.is_file()
             and p.suffix.lower() not in _SIDECARS and p.suffix.lower() in TABLE_EXTS + VECTOR_EXTS]
    by_layer: dict[str, list[Path]] = {}
    for p in files:
        name = canonical_layer(p.stem)
        if name is not None:
            by_layer.setdefault(name, []).append(p)
    for layer, ps in by_layer.items():
        if len(ps) > 1:
            found = True
            col.fail(layer, f"layer given by several files ({', '.join(p.name for p in ps)}); keep one",
                     "duplicate_layer", f"{label}/{ps[0].name}" if label else ps[0].name)
    for p in files:
        ext = p.suffix.lower()
        of = canonical_layer(p.stem)
        if of is not None and len(by_layer[of]) > 1:
            continue
        src = f"{label}/{p.name}" if label else p.name
        if of is None and p.stem.strip().lower() in _NOTES_NAMES:
            continue  # the template's notes file
        if of is None:
            if ext in (".gpkg", ".xlsx") and not any(canonical_layer(q.stem) for q in folder.iterdir()):
                found = True
                (_read_gpkg if ext == ".gpkg" else _read_workbook)(col, p, src)
            else:
                col.fail(p.stem, f"file '{p.name}' is not named after a layer; ignored", "ignored_file", src,
                         "warning")
            continue
        found = True
        read_file_as_layer(col, of, p, src)
    if not found:
        col.fail("dataset", "no layer files found (expected names such as stations.geojson, villages.csv, "
                            "村社区.xlsx)", "missing_layer", label or str(folder))


def _safe_extract(zf: zipfile.ZipFile, dest: Path, budget: UnpackBudget | None = None) -> None:
    """Extract ``zf`` under ``dest``: no entry outside it; with ``budget``, real bytes counted as
    they are decompressed and extraction stopped at the cap (declared sizes are not trusted)."""
    for info, name in safe_zip_members(zf, str(dest.name), dest=dest):  # UnsafeZip (a ValueError)
        target = (dest / name).resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as dst:
            if budget is None:
                with zf.open(info) as src:
                    shutil.copyfileobj(src, dst)
            else:
                copy_member(zf, info, dst, budget)


def _holds_many_layers(col: Collector, path: Path, label: str) -> bool:
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


def read_path(col: Collector, path: Path, label: str) -> None:
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
                read_path(col, files[0], f"{label}/{files[0].name}")
            else:
                _read_folder(col, root, label)
            # every reader is eager, so the frames outlive the temporary folder
    elif ext in (".gpkg", ".xlsx", ".xlsm") and _holds_many_layers(col, path, label):
        (_read_gpkg if ext == ".gpkg" else _read_workbook)(col, path, label)
    elif (name := canonical_layer(path.stem)) is not None:
        read_file_as_layer(col, name, path, label)
    elif ext == ".gpkg":
        _read_gpkg(col, path, label)
    else:
        col.fail("dataset", f"cannot tell which layer '{path.name}' holds: name it after a layer "
                            "(stations, villages, 村社区 ...) or pass a mapping layer -> file",
                 "unknown_layer", label)


#: Margin (degrees, about 10 km) around the dataset's area within which OpenStreetMap ways are kept.
OSM_CLIP_MARGIN_DEG = 0.1


def read_pending_osm(col: Collector) -> None:
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


__all__ = ["Collector", "read_file_as_layer", "read_path", "read_pending_osm"]
