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

from geo_service.dataset import Dataset
from geo_service.domain import PERSONAL_FIELDS
from solvers.pipeline import OptimisationResult
from solvers.tables import SHEETS_ZH as SHEET_TITLES  # Chinese sheet titles (Excel allows 31 characters)

from .geojson import plain

#: id column -> dataset layer that places a row on the map, in order of preference
LOCATORS = (("constituent_id", "constituents"), ("member_id", "members"), ("village_id", "villages"),
            ("station_id", "stations"), ("township_id", "townships"))
_PERSONAL_COLS = {f"constituent_{f}" for f in PERSONAL_FIELDS["constituents"]} | {"phone"}


def result_tables(kind: str, result: dict[str, Any], ds: Dataset, lang: str = "en") -> dict[str, pd.DataFrame]:
    """The named tables of a job result (see module docstring); ``lang="zh"`` for Chinese headers."""
    if isinstance(result.get("tables"), dict):
        return {str(k): pd.DataFrame(v) for k, v in result["tables"].items()}
    if kind == "optimisation":
        return dict(OptimisationResult.from_dict(result).tables(ds, lang=lang))
    return {}


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
    """JSON-ready row dicts (NaN -> None, numpy scalars -> Python)."""
    cols = list(df.columns)
    return [dict(zip(cols, (plain(v) for v in row))) for row in df.itertuples(index=False, name=None)]


def _cell(v: Any) -> Any:
    if isinstance(v, (list, tuple, np.ndarray)):
        return ";".join(str(x) for x in v)
    if isinstance(v, dict):
        return str(v)
    return v


def _flat(df: pd.DataFrame) -> pd.DataFrame:
    return df.apply(lambda s: s.map(_cell)) if len(df) else df


def to_csv(df: pd.DataFrame) -> bytes:
    """One table as UTF-8 CSV with a BOM (so Excel shows Chinese correctly)."""
    return _flat(df).to_csv(index=False).encode("utf-8-sig")


def to_csv_zip(tables: dict[str, pd.DataFrame]) -> bytes:
    """All tables as ``<name>.csv`` members of a zip archive."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, df in tables.items():
            zf.writestr(f"{_safe(name)}.csv", to_csv(df))
    return buf.getvalue()


def to_xlsx(tables: dict[str, pd.DataFrame], lang: str = "zh") -> bytes:
    """All tables in one workbook, a sheet per table; with ``lang="zh"`` Chinese sheet titles (the
    responsibility table titled 界别责任区一览表)."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        if not tables:
            pd.DataFrame().to_excel(xw, sheet_name="empty", index=False)
        used: set[str] = set()
        for name, df in tables.items():
            title = (SHEET_TITLES.get(name) if lang == "zh" else None) or re.sub(r"[\[\]:*?/\\]", "_", name)
            title = title[:31] or "table"
            while title in used:
                title = title[:28] + f"_{len(used)}"
            used.add(title)
            _flat(df).to_excel(xw, sheet_name=title, index=False)
            xw.sheets[title].freeze_panes = "A2"
    return buf.getvalue()


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
