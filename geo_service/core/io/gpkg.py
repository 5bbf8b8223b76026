"""GeoPackage codec: a whole :class:`~geo_service.core.dataset.Dataset` in one ``.gpkg`` file.

One layer per dataset layer (names as in :data:`geo_service.core.domain.LAYERS`), WGS-84, list fields
written as ``a;b;c`` strings. QGIS opens the file as is. Used by the embedded store and by
``geo-service export``; :func:`read_gpkg` is the exact inverse of :func:`write_gpkg`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio

from ..dataset import Dataset
from ..domain import LAYER_ORDER, LAYERS, WGS84

LIST_SEP = ";"


def layer_to_file_frame(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Copy of a dataset layer with list fields joined by ``;`` (files have no list type)."""
    out = df.copy()
    for f in LAYERS[name].fields:
        if f.name not in out.columns:
            continue
        col = out[f.name]
        if f.dtype == "list":
            out[f.name] = pd.array([LIST_SEP.join(v) if isinstance(v, (list, tuple)) else v for v in col],
                                   dtype="string")
        elif f.dtype == "bool":
            out[f.name] = pd.array([None if v is None else bool(v) for v in col], dtype="boolean")
        elif f.dtype == "int":
            out[f.name] = pd.array(col.tolist(), dtype="Int64")
        elif f.dtype == "float":
            out[f.name] = pd.array(col.tolist(), dtype="Float64")
        else:
            out[f.name] = pd.array([None if v is None else str(v) for v in col], dtype="string")
    return out


def write_gpkg(ds: Dataset, path: str | os.PathLike, *, layers: list[str] | None = None) -> Path:
    """Write every layer of ``ds`` (or ``layers``) to a new GeoPackage at ``path`` (overwritten)."""
    path = Path(path)
    if path.exists():
        path.unlink()
    for name in layers or LAYER_ORDER:
        spec = LAYERS[name]
        df = layer_to_file_frame(name, ds[name])
        for c in df.columns:  # extra user columns: keep them, as text when GDAL cannot type them
            if c != "geometry" and df[c].dtype == object:
                df[c] = df[c].astype("string")
        kw: dict[str, Any] = {}
        if spec.geometry is not None:
            kw["geometry_type"] = {"Point": "Point", "Polygon": "MultiPolygon" if _has_multi(df) else "Polygon",
                                   "LineString": "LineString"}[spec.geometry]
            if spec.geometry == "LineString" and _has_multi(df):
                kw["geometry_type"] = "MultiLineString"
            if spec.geometry == "Polygon":
                kw["promote_to_multi"] = kw["geometry_type"].startswith("Multi")
            if _has_multi(df) and not _all_multi(df):  # mixed single/multi: keep each as it is (lossless)
                kw = {"geometry_type": "Unknown", "promote_to_multi": False}
        pyogrio.write_dataframe(df, path, layer=name, driver="GPKG", **kw)
    return path


def _has_multi(df: pd.DataFrame) -> bool:
    if "geometry" not in df.columns or not len(df):
        return False
    return bool(df.geometry.geom_type.fillna("").str.startswith("Multi").any())


def _all_multi(df: pd.DataFrame) -> bool:
    types = df.geometry.geom_type.dropna()
    return bool(types.str.startswith("Multi").all())


def read_gpkg_layers(path: str | os.PathLike) -> dict[str, pd.DataFrame]:
    """Raw layers of a GeoPackage keyed by layer name (no validation)."""
    out: dict[str, pd.DataFrame] = {}
    for lname, _gtype in pyogrio.list_layers(path):
        df = pyogrio.read_dataframe(path, layer=lname)
        if isinstance(df, gpd.GeoDataFrame) and (LAYERS.get(lname) is None or LAYERS[lname].geometry is None):
            df = pd.DataFrame(df.drop(columns=df.geometry.name))
        elif isinstance(df, gpd.GeoDataFrame) and df.crs is None:
            df = df.set_crs(WGS84)
        out[lname] = df
    return out


def read_gpkg(path: str | os.PathLike, *, name: str = "") -> Dataset:
    """Read a GeoPackage written by :func:`write_gpkg` (or any with the same layer names)."""
    return Dataset.from_layers(read_gpkg_layers(path), name=name)
