"""Validation of the layers of a :class:`~geo_service.core.dataset.Dataset`, row by row.

:func:`normalise_layer` coerces one layer to its declared types (:data:`geo_service.core.domain.LAYERS`),
canonicalises station kinds, sectors and roles and checks ranges and geometry; :func:`check_references`
checks the ids one layer gives of another. Both append :class:`Problem` records (layer, 1-based row,
feature id, field) to one list, so a user sees every problem of an input at once
(:class:`DatasetValidationError`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from dataclasses import field as _field  # "field" is also a Problem attribute
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from .domain import (
    LAYERS,
    MEMBER_ROLES,
    STATION_KINDS,
    WGS84,
    FieldSpec,
    LayerSpec,
    canonical_sector,
    canonical_station_kind,
)

# Largest whole number a field may hold: exact as a float and as JSON, and fits int64.
MAX_WHOLE_NUMBER = 2**53 - 1

_GEOM_OK = {
    "Point": {"Point"},
    "Polygon": {"Polygon", "MultiPolygon"},
    "LineString": {"LineString", "MultiLineString"},
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, precise enough for a user to find and fix it.

    ``row`` is the row in the source when known: for CSV/XLSX the spreadsheet's own row number
    (header = row 1), for vector files and frames the 1-based feature number;
    ``source`` names the file (and sheet/layer) the row came from, when the input was files.
    ``message_code`` and ``params``, where given, are the glossary message the detail is worded
    from in the user's language (``message`` is the English one).
    """

    layer: str
    message: str
    code: str
    row: int | None = None
    feature_id: str | None = None
    field: str | None = None
    severity: str = "error"
    source: str | None = None
    message_code: str | None = _field(default=None, compare=False)
    params: dict[str, Any] = _field(default_factory=dict, compare=False, hash=False)

    def __str__(self) -> str:
        where = [self.layer] if self.source is None else [f"{self.source}: {self.layer}"]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.feature_id is not None:
            where.append(f"id={self.feature_id}")
        if self.field is not None:
            where.append(f"field '{self.field}'")
        return f"{' '.join(where)}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class DatasetValidationError(ValueError):
    """Raised when input fails validation; ``problems`` lists every error found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        head = "; ".join(str(p) for p in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"{len(errors)} validation error(s): {head}{more}")


def text_params(params: dict[str, Any]) -> dict[str, Any]:
    """A problem's message values as JSON-safe plain values (a quoted cell's text as written)."""
    return {k: v if isinstance(v, (int, float, bool)) and not isinstance(v, np.generic) else str(v)
            for k, v in params.items()}


def _is_blank(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and np.isnan(v):
        return True
    if isinstance(v, str) and not v.strip():
        return True
    try:
        return bool(pd.isna(v)) if not isinstance(v, (list, tuple, np.ndarray)) else False
    except (TypeError, ValueError):
        return False


def split_list(v: Any) -> list[str]:
    """Parse a list field.

    Parameters
    ----------
    v : object
        A list/tuple/array, or a string separated by ``;``, ``,``, ``、``, ``，``, ``；`` or ``|``;
        blank (None, NaN, empty) gives an empty list.

    Returns
    -------
    list of str
        The items, stripped, empties dropped.
    """
    if _is_blank(v):
        return []
    if isinstance(v, (list, tuple, np.ndarray)):
        items = [str(x) for x in v]
    else:
        s = str(v)
        for sep in ("；", "，", "、", ",", "|"):
            s = s.replace(sep, ";")
        items = s.split(";")
    return [x.strip() for x in items if x and x.strip()]


def _clean_id(v: Any) -> str | None:
    if _is_blank(v):
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


class _Checker:
    """Collects problems for one layer; rows are reported 1-based."""

    def __init__(self, layer: str, ids: pd.Series, problems: list[Problem]):
        self.layer = layer
        self.ids = ids
        self.problems = problems

    def add(self, i: int | None, message: str, code: str, fld: str | None = None,
            severity: str = "error", words: tuple[str, dict[str, Any]] | None = None) -> None:
        fid = None
        if i is not None and i < len(self.ids):
            fid = self.ids.iloc[i]
        msg, params = words or (None, {})
        self.problems.append(Problem(self.layer, message, code, None if i is None else i + 1,
                                     fid, fld, severity, message_code=msg, params=text_params(params)))


_TRUE = ("1", "true", "yes", "y", "是", "t", "1.0")
_FALSE = ("0", "false", "no", "n", "否", "f", "0.0")


def _as_str(f: FieldSpec, i: int, v: Any, chk: _Checker) -> Any:
    return _clean_id(v) if (f.ref or f.name == "id") else str(v).strip()


def _as_int(f: FieldSpec, i: int, v: Any, chk: _Checker) -> Any:
    try:
        fv = float(v)
        if not np.isfinite(fv) or not fv.is_integer():
            raise ValueError
        if abs(fv) > MAX_WHOLE_NUMBER:  # stored as int64 (GeoPackage/PostGIS): 500 otherwise
            chk.add(i, f"'{v}' is too large (at most {MAX_WHOLE_NUMBER})", "out_of_range", f.name)
            return None
        return int(fv)
    except (TypeError, ValueError, OverflowError):
        chk.add(i, f"'{v}' is not a whole number", "bad_number", f.name, words=("problem_not_whole", {"value": v}))
        return None


def _as_float(f: FieldSpec, i: int, v: Any, chk: _Checker) -> Any:
    try:
        fv = float(v)
        if not np.isfinite(fv):
            raise ValueError
        return fv
    except (TypeError, ValueError):
        chk.add(i, f"'{v}' is not a number", "bad_number", f.name, words=("problem_not_number", {"value": v}))
        return None


def _as_bool(f: FieldSpec, i: int, v: Any, chk: _Checker) -> Any:
    s = str(v).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    chk.add(i, f"'{v}' is not true/false", "bad_bool", f.name)
    return None


def _as_list(f: FieldSpec, i: int, v: Any, chk: _Checker) -> Any:
    items = split_list(v)
    if f.required and not items:
        chk.add(i, "at least one value is required", "missing_value", f.name)
    return items


_COERCE: dict[str, Callable[[FieldSpec, int, Any, _Checker], Any]] = {
    "str": _as_str, "int": _as_int, "float": _as_float, "bool": _as_bool, "list": _as_list}


def _coerce_field(f: FieldSpec, df: pd.DataFrame, chk: _Checker) -> None:
    """Column ``f`` of ``df`` (in place) in its declared type; a missing column becomes blanks."""
    if f.name not in df.columns:
        if f.required:
            chk.add(None, f"required column '{f.name}' is missing", "missing_column", f.name)
        # an absent optional column is simply absent: blank values ([] for lists)
        df[f.name] = pd.Series([[] if f.dtype == "list" else None for _ in range(len(df))],
                               index=df.index, dtype=object)
        return
    coerce = _COERCE.get(f.dtype)
    if coerce is None:  # pragma: no cover - schema error
        raise AssertionError(f.dtype)
    out: list[Any] = []
    for i, v in enumerate(df[f.name]):
        if f.dtype != "list" and _is_blank(v):
            if f.required:
                chk.add(i, "value is required", "missing_value", f.name)
            out.append(None)
            continue
        out.append(coerce(f, i, v, chk))
    df[f.name] = pd.Series(out, index=df.index, dtype=object)


def _check_unique_ids(df: pd.DataFrame, chk: _Checker) -> None:
    """ids: present (checked with the fields) and unique."""
    if "id" in df.columns and len(df):
        dup = df["id"].notna() & df["id"].duplicated(keep=False)
        for i in np.flatnonzero(dup.to_numpy()):
            chk.add(int(i), f"duplicate id '{df['id'].iloc[i]}'", "duplicate_id", "id")


def _canonical_kinds(df: pd.DataFrame, chk: _Checker) -> None:
    """Station kinds (in place) in their canonical spelling; an unknown kind is kept and reported."""
    kinds: list[Any] = []
    for i, v in enumerate(df["kind"]):
        if v is None:
            kinds.append(None)
            continue
        k = canonical_station_kind(v)
        if k is None:
            chk.add(i, f"unknown station kind '{v}' (expected one of {', '.join(STATION_KINDS)})",
                    "unknown_kind", "kind")
        kinds.append(k or v)
    df["kind"] = pd.Series(kinds, index=df.index, dtype=object)


def _canonical_sectors(f: FieldSpec, df: pd.DataFrame, chk: _Checker) -> None:
    """A sector field (one sector or a list, in place) in canonical names, duplicates dropped."""
    vals: list[Any] = []
    for i, v in enumerate(df[f.name]):
        if f.dtype == "list":
            canon = []
            for s in v:
                c = canonical_sector(s)
                if c is None:
                    chk.add(i, f"unknown sector '{s}'", "unknown_sector", f.name)
                canon.append(c or s)
            vals.append(list(dict.fromkeys(canon)))
        else:
            if v is None:
                vals.append(None)
                continue
            c = canonical_sector(v)
            if c is None:
                chk.add(i, f"unknown sector '{v}'", "unknown_sector", f.name)
            vals.append(c or v)
    df[f.name] = pd.Series(vals, index=df.index, dtype=object)


def _canonical_roles(df: pd.DataFrame, chk: _Checker) -> None:
    """Members' roles (in place) as convener/deputy_convener or None."""
    roles = []
    for i, v in enumerate(df["role"]):
        r = MEMBER_ROLES.get("" if v is None else str(v).strip().lower())
        if r is None:
            chk.add(i, f"unknown role '{v}' (expected convener/召集人, deputy_convener/副召集人 or empty)",
                    "unknown_role", "role")
        roles.append(r or None)
    df["role"] = pd.Series(roles, index=df.index, dtype=object)


def _check_ranges(spec: LayerSpec, df: pd.DataFrame, chk: _Checker) -> None:
    """Population and capacity not negative, road speeds positive."""
    for fld, lo in (("population", 0), ("capacity", 0)):
        if fld in spec.field_names:
            for i, v in enumerate(df[fld]):
                if v is not None and v < lo:
                    chk.add(i, f"{fld} must be >= {lo}, got {v}", "out_of_range", fld)
    if spec.name == "roads":
        for i, v in enumerate(df["speed_kmh"]):
            if v is not None and v <= 0:
                chk.add(i, f"speed_kmh must be > 0, got {v}", "out_of_range", "speed_kmh")


def _normalise_geometry(spec: LayerSpec, df: pd.DataFrame, chk: _Checker) -> gpd.GeoDataFrame:
    """The layer as a GeoDataFrame in WGS-84 with its geometry named ``geometry``, checked."""
    if not isinstance(df, gpd.GeoDataFrame) or df.geometry.name not in df.columns:
        if len(df) and spec.geometry_required:
            chk.add(None, f"layer has no geometry (expected {spec.geometry})", "missing_geometry")
        df = gpd.GeoDataFrame(df, geometry=gpd.GeoSeries([None] * len(df), crs=WGS84), crs=WGS84)
    elif df.crs is None:
        chk.add(None, "layer has no CRS; it must be EPSG:4326 (WGS-84 lon/lat)", "wrong_crs")
        df = df.set_crs(WGS84, allow_override=True)
    elif not CRS.from_user_input(df.crs).equals(CRS.from_user_input(WGS84)):
        chk.add(None, f"layer CRS is {df.crs.to_string()}; it must be EPSG:4326 (WGS-84 lon/lat)",
                "wrong_crs")
    if df.geometry.name != "geometry":
        df = df.rename_geometry("geometry")
    _check_geometry(spec, df, chk)
    return gpd.GeoDataFrame(df[spec.field_names + ["geometry"]
                               + [c for c in df.columns if c not in spec.field_names and c != "geometry"]],
                            geometry="geometry", crs=WGS84)


def normalise_layer(spec: LayerSpec, df: pd.DataFrame, problems: list[Problem]) -> pd.DataFrame:
    """Coerce types, canonicalise kinds/sectors and check per-row rules for one layer.

    Parameters
    ----------
    spec : LayerSpec
        The layer's declaration (:data:`geo_service.core.domain.LAYERS`).
    df : DataFrame or GeoDataFrame
        The layer as read; not changed.
    problems : list of Problem
        Every problem found is appended here (rows 1-based, in the order of the checks).

    Returns
    -------
    DataFrame or GeoDataFrame
        Declared columns first (in declared types), then any others; a layer with a geometry
        is a GeoDataFrame in WGS-84 with its geometry column named ``geometry``.
    """
    df = df.copy()
    if isinstance(df, gpd.GeoDataFrame) and spec.geometry is None:
        df = pd.DataFrame(df.drop(columns=df.geometry.name))
    if "id" in df.columns:
        df["id"] = [_clean_id(v) for v in df["id"]]
    ids = df["id"] if "id" in df.columns else pd.Series([None] * len(df))
    chk = _Checker(spec.name, ids.reset_index(drop=True), problems)
    df = df.reset_index(drop=True)
    for f in spec.fields:
        _coerce_field(f, df, chk)
    _check_unique_ids(df, chk)
    if spec.name == "stations":
        _canonical_kinds(df, chk)
    for f in spec.fields:
        if f.name in ("sector", "sectors"):
            _canonical_sectors(f, df, chk)
    if spec.name == "members":
        _canonical_roles(df, chk)
    _check_ranges(spec, df, chk)
    if spec.geometry is not None:
        return _normalise_geometry(spec, df, chk)
    return pd.DataFrame(df[spec.field_names + [c for c in df.columns if c not in spec.field_names]])


def _check_geometry(spec: LayerSpec, df: gpd.GeoDataFrame, chk: _Checker) -> None:
    geoms = df.geometry.to_numpy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    types = shapely.get_type_id(geoms)
    tnames = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint",
                       "MultiLineString", "MultiPolygon", "GeometryCollection"], dtype=object)
    ok_types = _GEOM_OK[str(spec.geometry)]  # called for layers with a geometry only
    bounds = shapely.bounds(geoms)
    for i in range(len(df)):
        if missing[i]:
            if spec.geometry_required:
                chk.add(i, f"missing geometry (expected {spec.geometry})", "missing_geometry", "geometry")
            continue
        t = tnames[types[i]] if types[i] >= 0 else "None"
        if t not in ok_types:
            chk.add(i, f"geometry is {t}, expected {spec.geometry}", "wrong_geometry_type", "geometry")
            continue
        minx, miny, maxx, maxy = bounds[i]
        if not np.all(np.isfinite(bounds[i])):
            chk.add(i, "coordinates are not finite numbers", "bad_coordinates", "geometry")
            continue
        if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
            if -90 <= minx <= 90 and -90 <= maxx <= 90 and -180 <= miny <= 180 and -180 <= maxy <= 180:
                chk.add(i, f"coordinates ({minx:.6g}, {miny:.6g}) look swapped: lon/lat expected, "
                           "lat/lon given", "swapped_coordinates", "geometry")
            elif max(abs(minx), abs(maxx), abs(miny), abs(maxy)) > 1000:
                chk.add(i, f"coordinates ({minx:.6g}, {miny:.6g}) look projected (metres), not "
                           "WGS-84 degrees: wrong CRS", "wrong_crs", "geometry")
            else:
                chk.add(i, f"coordinates ({minx:.6g}, {miny:.6g}) are out of range "
                           "(lon -180..180, lat -90..90)", "out_of_range", "geometry")
            continue
        # China-specific swap: latitude 73..135 cannot be, longitude 3..54 with it is a swap.
        if 3 <= minx and maxx <= 54 and 73 <= miny and maxy <= 90:
            chk.add(i, f"coordinates ({minx:.6g}, {miny:.6g}) look swapped (lat/lon given)",
                    "swapped_coordinates", "geometry")
            continue
        if not shapely.is_valid(geoms[i]):
            reason = shapely.is_valid_reason(geoms[i])
            chk.add(i, f"invalid geometry: {reason}", "invalid_geometry", "geometry")


def check_references(layers: dict[str, pd.DataFrame], problems: list[Problem]) -> None:
    """Check that every reference field names an existing id of its layer.

    Parameters
    ----------
    layers : dict of str to DataFrame
        Every layer of :data:`geo_service.core.domain.LAYERS`, normalised (:func:`normalise_layer`).
    problems : list of Problem
        An unknown reference is appended as an error; a group convener who belongs to another
        group as a warning (that field is often stale).
    """
    id_sets = {name: set(df["id"].dropna()) for name, df in layers.items()}
    for name, spec in LAYERS.items():
        df = layers[name]
        ids = df["id"].reset_index(drop=True)
        chk = _Checker(name, ids, problems)
        for f in spec.fields:
            if not f.ref:
                continue
            targets = id_sets[f.ref]
            for i, v in enumerate(df[f.name]):
                if v is not None and v not in targets:
                    chk.add(i, f"refers to {f.ref} id '{v}', which does not exist", "unknown_reference",
                            f.name)
    # a group's convener should belong to it (warning only: data in the field is often stale)
    groups, members = layers["groups"], layers["members"]
    if len(groups) and len(members):
        member_group = dict(zip(members["id"], members["group_id"]))
        chk = _Checker("groups", groups["id"].reset_index(drop=True), problems)
        for i, (gid, cid) in enumerate(zip(groups["id"], groups["convener_id"])):
            if cid is not None and cid in member_group and member_group[cid] != gid:
                chk.add(i, f"convener '{cid}' is a member of group '{member_group[cid]}'",
                        "convener_not_in_group", "convener_id", severity="warning")


__all__ = ["MAX_WHOLE_NUMBER", "DatasetValidationError", "Problem", "check_references", "normalise_layer",
           "split_list"]
