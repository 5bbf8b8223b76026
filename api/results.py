"""Job results as downloadable tables: JSON, CSV (one file or a zip), XLSX (a sheet per table), GeoJSON.

The tables come from ``solvers.pipeline.OptimisationResult.from_dict(result).tables()`` (a dict
of DataFrames, among them ``responsibility``, the 界别责任区一览表); a result dict that already
holds ``tables`` (``{name: [records]}``) is used as it is. GeoJSON places each row at the
feature its id columns name (constituent, member, village, station or township).
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

import numpy as np
import pandas as pd
from shapely.geometry import mapping

from geo_service.core import glossary as G
from geo_service.core.dataset import Dataset
from geo_service.core.domain import PERSONAL_FIELDS
from geo_service.core.io import sheets
from geo_service.core.jsonsafe import to_jsonable
from solvers.pipeline import OptimisationResult
from solvers.roster.outputs import roster_frames, roster_notes
from solvers.tables import result_notes

#: id column -> dataset layer that places a row on the map, in order of preference
LOCATORS = (("constituent_id", "constituents"), ("member_id", "members"), ("village_id", "villages"),
            ("station_id", "stations"), ("township_id", "townships"))
_PERSONAL_COLS = {f"constituent_{f}" for f in PERSONAL_FIELDS["constituents"]} | {"phone"}


def result_tables(kind: str, result: dict[str, Any], ds: Dataset, lang: str = "en") -> dict[str, pd.DataFrame]:
    """The named tables of a job result (see module docstring); ``lang="zh"`` for Chinese headers."""
    if isinstance(result.get("tables"), dict):
        return {str(k): sheets.localise(pd.DataFrame(v), lang) for k, v in result["tables"].items()}
    if kind == "optimisation":
        return dict(OptimisationResult.from_dict(result).tables(ds, lang=lang))
    if kind == "roster":  # 轮值表, 委员值班, 接待日, 一季一协商
        return {k: sheets.localise(v, lang) for k, v in roster_frames(result, lang).items()}
    return {}


def notes(kind: str, result: dict[str, Any], ds: Dataset, lang: str = "zh") -> dict[str, Any]:
    """Items of the 说明 sheet (dataset, version, date, parameters, outcome) of a job's workbook."""
    if kind == "optimisation":
        return result_notes(OptimisationResult.from_dict(result), ds, lang)
    if kind == "roster":
        return roster_notes(result, lang)
    return {"dataset": getattr(ds, "name", ""), "version": sheets.service_version(),
            "parameters": result.get("params", {}), "outcome": result.get("status", "")}


def strip_personal(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Tables without constituents' personal columns (for roles that may not see them)."""
    out = {}
    for name, df in tables.items():
        drop = [c for c in df.columns if c in _PERSONAL_COLS
                or (c in PERSONAL_FIELDS["constituents"] and "constituent_id" in df.columns
                    and not any(k in df.columns for k in ("member_id", "station_id", "group_id")))]
        out[name] = df.drop(columns=drop)
    return out


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready row dicts (NaN -> None, numpy scalars -> Python; see :mod:`geo_service.core.jsonsafe`)."""
    cols = list(df.columns)
    return [dict(zip(cols, (to_jsonable(v) for v in row))) for row in df.itertuples(index=False, name=None)]


def to_csv(df: pd.DataFrame) -> bytes:
    """One table as UTF-8 CSV with a BOM (so Excel shows Chinese correctly), formula-guarded."""
    return sheets.csv_bytes(df)


def to_csv_zip(tables: dict[str, pd.DataFrame]) -> bytes:
    """All tables as ``<name>.csv`` members of a zip archive."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, df in tables.items():
            zf.writestr(f"{_safe(name)}.csv", to_csv(df))
    return buf.getvalue()


def to_xlsx(tables: dict[str, pd.DataFrame], lang: str = "zh", notes: dict[str, Any] | None = None) -> bytes:
    """All tables in one print-ready workbook (:mod:`geo_service.core.io.sheets`), a sheet per table, the
    responsibility table (界别责任区一览表) first; ``notes`` adds a 说明 sheet."""
    ordered = dict(sorted(tables.items(), key=lambda kv: kv[0] != "responsibility"))
    return sheets.xlsx_bytes(ordered, lang, title=G.table_title("responsibility", lang), notes=notes)


def to_geojson(ds: Dataset, df: pd.DataFrame, name: str) -> dict[str, Any]:
    """A FeatureCollection of the rows of ``df``, each at the feature its id columns name;
    rows that cannot be placed get ``geometry: null``."""
    geoms = np.full(len(df), None, dtype=object)
    for col, layer in LOCATORS:
        if col not in df.columns:
            continue
        src = ds.constituent_points() if layer == "constituents" else ds[layer].geometry
        lookup = pd.Series(src.to_numpy(), index=ds[layer]["id"].to_numpy())
        lookup = lookup[~lookup.index.duplicated()]
        found = df[col].map(lookup).to_numpy()
        empty = np.array([g is None for g in geoms])
        geoms[empty] = found[empty]
    feats = []
    for props, g in zip(records(df), geoms):
        gj = None if g is None or (isinstance(g, float)) or getattr(g, "is_empty", True) else mapping(g)
        feats.append({"type": "Feature", "geometry": gj, "properties": props})
    return {"type": "FeatureCollection", "name": name, "features": feats}


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]", "_", name) or "table"


__all__ = ["result_tables", "strip_personal", "records", "to_csv", "to_csv_zip", "to_xlsx", "to_geojson"]
