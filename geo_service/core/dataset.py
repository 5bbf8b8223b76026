"""The validated :class:`Dataset` every other module passes around.

A dataset is a set of layers (see :data:`geo_service.core.domain.LAYERS`), each a GeoDataFrame in
WGS-84 (EPSG:4326) or a plain DataFrame for tables without geometry (groups, committees). Every
layer is always present (possibly empty) and carries every declared column, so downstream code
never checks for existence. Validation happens once, in :meth:`Dataset.from_layers`, and reports
every problem at once with its layer, row, feature id and field.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from .crs import metric_crs
from .locations import fill_sources
from .domain import (
    LAYER_ORDER,
    LAYERS,
    MEMBER_ROLES,
    REQUIRED_LAYERS,
    SECTORS,
    STATION_KINDS,
    WGS84,
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
    """

    layer: str
    message: str
    code: str
    row: int | None = None
    feature_id: str | None = None
    field: str | None = None
    severity: str = "error"
    source: str | None = None

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


def empty_layer(name: str) -> gpd.GeoDataFrame | pd.DataFrame:
    """An empty frame with the declared columns of a layer.

    Parameters
    ----------
    name : str
        A layer of :data:`geo_service.core.domain.LAYERS` (``"stations"``, ``"villages"`` ...).

    Returns
    -------
    geopandas.GeoDataFrame or pandas.DataFrame
        No rows; a GeoDataFrame in WGS-84 for layers with a geometry.

    Raises
    ------
    KeyError
        For a name that is not a layer.
    """
    spec = LAYERS[name]
    cols = {f.name: pd.Series([], dtype=object) for f in spec.fields}
    if spec.geometry is None:
        return pd.DataFrame(cols)
    return gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries([], crs=WGS84), crs=WGS84)


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
            severity: str = "error") -> None:
        fid = None
        if i is not None and i < len(self.ids):
            fid = self.ids.iloc[i]
        self.problems.append(Problem(self.layer, message, code, None if i is None else i + 1,
                                     fid, fld, severity))


def _normalise_layer(spec: LayerSpec, df: pd.DataFrame, problems: list[Problem]):
    """Coerce types, canonicalise kinds/sectors and check per-row rules for one layer."""
    name = spec.name
    df = df.copy()
    if isinstance(df, gpd.GeoDataFrame) and spec.geometry is None:
        df = pd.DataFrame(df.drop(columns=df.geometry.name))
    if "id" in df.columns:
        df["id"] = [_clean_id(v) for v in df["id"]]
    ids = df["id"] if "id" in df.columns else pd.Series([None] * len(df))
    chk = _Checker(name, ids.reset_index(drop=True), problems)
    df = df.reset_index(drop=True)

    for f in spec.fields:
        if f.name not in df.columns:
            if f.required:
                chk.add(None, f"required column '{f.name}' is missing", "missing_column", f.name)
            # an absent optional column is simply absent: blank values ([] for lists)
            df[f.name] = pd.Series([[] if f.dtype == "list" else None for _ in range(len(df))],
                                   index=df.index, dtype=object)
            continue
        col = df[f.name]
        out: list[Any] = []
        for i, v in enumerate(col):
            blank = _is_blank(v)
            if f.dtype != "list" and blank:
                if f.required:
                    chk.add(i, "value is required", "missing_value", f.name)
                out.append(None)
                continue
            if f.dtype == "str":
                out.append(_clean_id(v) if (f.ref or f.name == "id") else str(v).strip())
            elif f.dtype == "int":
                try:
                    fv = float(v)
                    if not np.isfinite(fv) or not fv.is_integer():
                        raise ValueError
                    if abs(fv) > MAX_WHOLE_NUMBER:  # stored as int64 (GeoPackage/PostGIS): 500 otherwise
                        chk.add(i, f"'{v}' is too large (at most {MAX_WHOLE_NUMBER})", "out_of_range", f.name)
                        out.append(None)
                        continue
                    out.append(int(fv))
                except (TypeError, ValueError, OverflowError):
                    chk.add(i, f"'{v}' is not a whole number", "bad_number", f.name)
                    out.append(None)
            elif f.dtype == "float":
                try:
                    fv = float(v)
                    if not np.isfinite(fv):
                        raise ValueError
                    out.append(fv)
                except (TypeError, ValueError):
                    chk.add(i, f"'{v}' is not a number", "bad_number", f.name)
                    out.append(None)
            elif f.dtype == "bool":
                s = str(v).strip().lower()
                if s in ("1", "true", "yes", "y", "是", "t", "1.0"):
                    out.append(True)
                elif s in ("0", "false", "no", "n", "否", "f", "0.0"):
                    out.append(False)
                else:
                    chk.add(i, f"'{v}' is not true/false", "bad_bool", f.name)
                    out.append(None)
            elif f.dtype == "list":
                items = split_list(v)
                if f.required and not items:
                    chk.add(i, "at least one value is required", "missing_value", f.name)
                out.append(items)
            else:  # pragma: no cover - schema error
                raise AssertionError(f.dtype)
        df[f.name] = pd.Series(out, index=df.index, dtype=object)

    # ids: present (checked above) and unique
    if "id" in df.columns and len(df):
        dup = df["id"].notna() & df["id"].duplicated(keep=False)
        for i in np.flatnonzero(dup.to_numpy()):
            chk.add(int(i), f"duplicate id '{df['id'].iloc[i]}'", "duplicate_id", "id")

    # vocabulary
    if name == "stations":
        kinds = []
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
    for f in spec.fields:
        if f.name == "sector" or (f.name == "sectors"):
            vals = []
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

    if name == "members":
        roles = []
        for i, v in enumerate(df["role"]):
            r = MEMBER_ROLES.get("" if v is None else str(v).strip().lower())
            if r is None:
                chk.add(i, f"unknown role '{v}' (expected convener/召集人, deputy_convener/副召集人 or empty)",
                        "unknown_role", "role")
            roles.append(r or None)
        df["role"] = pd.Series(roles, index=df.index, dtype=object)

    # ranges
    for fld, lo in (("population", 0), ("capacity", 0)):
        if fld in spec.field_names:
            for i, v in enumerate(df[fld]):
                if v is not None and v < lo:
                    chk.add(i, f"{fld} must be >= {lo}, got {v}", "out_of_range", fld)
    if name == "roads":
        for i, v in enumerate(df["speed_kmh"]):
            if v is not None and v <= 0:
                chk.add(i, f"speed_kmh must be > 0, got {v}", "out_of_range", "speed_kmh")

    # geometry
    if spec.geometry is not None:
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
        df = gpd.GeoDataFrame(df[spec.field_names + ["geometry"]
                                 + [c for c in df.columns if c not in spec.field_names and c != "geometry"]],
                              geometry="geometry", crs=WGS84)
    else:
        df = pd.DataFrame(df[spec.field_names + [c for c in df.columns if c not in spec.field_names]])
    return df


def _check_geometry(spec: LayerSpec, df: gpd.GeoDataFrame, chk: _Checker) -> None:
    geoms = df.geometry.to_numpy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    types = shapely.get_type_id(geoms)
    tnames = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint",
                       "MultiLineString", "MultiPolygon", "GeometryCollection"], dtype=object)
    ok_types = _GEOM_OK[spec.geometry]
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


def _check_references(layers: dict[str, pd.DataFrame], problems: list[Problem]) -> None:
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


@dataclass(frozen=True)
class Dataset:
    """A validated set of layers in WGS-84. Build with :meth:`from_layers`; treat as immutable."""

    layers: Mapping[str, gpd.GeoDataFrame | pd.DataFrame]
    name: str = ""
    warnings: tuple[Problem, ...] = field(default=(), compare=False)
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False)

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_layers(cls, layers: Mapping[str, pd.DataFrame | None], *, name: str = "",
                    meta: Mapping[str, Any] | None = None,
                    required: Iterable[str] = REQUIRED_LAYERS) -> Dataset:
        """Normalise and validate layers into a dataset.

        Unknown layer names are an error; absent optional layers become empty layers.

        Parameters
        ----------
        layers : mapping of str to DataFrame or None
            Frames by layer name; point and polygon layers as GeoDataFrames in WGS-84 degrees.
        name : str
            Dataset name.
        meta : mapping, optional
            Free metadata kept with the dataset (source, datum ...).
        required : iterable of str
            Layers that must be present and non-empty (default townships and villages).

        Returns
        -------
        Dataset

        Raises
        ------
        DatasetValidationError
            (a ValueError) listing every problem at once: layer, 1-based row, feature id, field.
        """
        problems: list[Problem] = []
        for lname in layers:
            if lname not in LAYERS:
                problems.append(Problem(lname, f"unknown layer '{lname}' (expected one of "
                                               f"{', '.join(LAYER_ORDER)})", "unknown_layer"))
        for lname in required:
            if layers.get(lname) is None:
                problems.append(Problem(lname, "required layer is missing", "missing_layer"))
        out: dict[str, pd.DataFrame] = {}
        for lname in LAYER_ORDER:
            df = layers.get(lname)
            out[lname] = empty_layer(lname) if df is None else _normalise_layer(LAYERS[lname], df, problems)
        out, found = fill_sources(out)
        problems += [Problem(*p) for p in found]
        _check_references(out, problems)
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            raise DatasetValidationError(problems)
        return cls(out, name=name, warnings=tuple(p for p in problems if p.severity != "error"),
                   meta=dict(meta or {}))

    def with_layers(self, **layers: pd.DataFrame) -> Dataset:
        """A new validated dataset with some layers replaced."""
        merged = {**dict(self.layers), **layers}
        return Dataset.from_layers(merged, name=self.name, meta=self.meta, required=())

    # -- layer access -------------------------------------------------------------------------
    def __getitem__(self, layer: str) -> gpd.GeoDataFrame | pd.DataFrame:
        return self.layers[layer]

    @property
    def counties(self) -> gpd.GeoDataFrame:
        return self.layers["counties"]

    @property
    def townships(self) -> gpd.GeoDataFrame:
        return self.layers["townships"]

    @property
    def villages(self) -> gpd.GeoDataFrame:
        return self.layers["villages"]

    @property
    def stations(self) -> gpd.GeoDataFrame:
        return self.layers["stations"]

    @property
    def members(self) -> gpd.GeoDataFrame:
        return self.layers["members"]

    @property
    def groups(self) -> pd.DataFrame:
        return self.layers["groups"]

    @property
    def committees(self) -> pd.DataFrame:
        return self.layers["committees"]

    @property
    def constituents(self) -> gpd.GeoDataFrame:
        return self.layers["constituents"]

    @property
    def roads(self) -> gpd.GeoDataFrame:
        return self.layers["roads"]

    # -- geometry helpers ---------------------------------------------------------------------
    @cached_property
    def centre(self) -> tuple[float, float]:
        """(lon, lat) in degrees: centre of the bounding box of villages and stations ((0, 0) when
        nothing is located)."""
        geoms = [g for g in (self.villages.geometry, self.stations.geometry, self.townships.geometry)
                 if len(g)]
        b = np.array([g.total_bounds for g in geoms]).reshape(-1, 4)
        b = b[np.isfinite(b).all(axis=1)]
        if not len(b):
            return (0.0, 0.0)
        return (float((b[:, 0].min() + b[:, 2].max()) / 2), float((b[:, 1].min() + b[:, 3].max()) / 2))

    @cached_property
    def metric_crs(self) -> CRS:
        """Transverse Mercator in metres centred on the dataset (see :func:`geo_service.core.crs.metric_crs`)."""
        return metric_crs(*self.centre)

    def to_metric(self, layer: str) -> gpd.GeoDataFrame:
        """A layer projected to :attr:`metric_crs`.

        Parameters
        ----------
        layer : str
            A layer with a geometry.

        Returns
        -------
        geopandas.GeoDataFrame
            The layer with coordinates in metres.
        """
        return self.layers[layer].to_crs(self.metric_crs)

    def xy_m(self, layer: str) -> np.ndarray:
        """Point coordinates of a layer in :attr:`metric_crs`.

        Parameters
        ----------
        layer : str
            A point layer (``"stations"``, ``"villages"``, ``"constituents"``).

        Returns
        -------
        ndarray
            (n, 2) coordinates, metres.
        """
        g = self.layers[layer].geometry.to_crs(self.metric_crs)
        return np.column_stack([g.x.to_numpy(), g.y.to_numpy()]) if len(g) else np.zeros((0, 2))

    def constituent_points(self) -> gpd.GeoSeries:
        """Each constituent's location: its own point, else its village's point (WGS-84)."""
        c = self.constituents
        vpt = self.villages.set_index("id").geometry
        own = c.geometry
        fallback = gpd.GeoSeries(c["village_id"].map(vpt), crs=WGS84, index=c.index)
        missing = own.isna() | own.is_empty
        return gpd.GeoSeries(np.where(missing, fallback, own), crs=WGS84, index=c.index)

    # -- summaries ----------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        return {name: int(len(df)) for name, df in self.layers.items()}

    def summary(self) -> dict[str, Any]:
        """Counts per layer, stations per kind, members per sector, population (persons)."""
        st = self.stations
        return {
            "name": self.name,
            "counts": self.counts(),
            "stations_by_kind": {k: int((st["kind"] == k).sum()) for k in STATION_KINDS},
            "members_by_sector": {s: int(n) for s, n in self.members["sector"].value_counts().items()},
            "population": int(pd.to_numeric(self.villages["population"]).fillna(0).sum()),
            "conveners": len(set(self.groups["convener_id"].dropna())
                             | set(self.members.loc[self.members["role"].isin(["convener", "deputy_convener"]),
                                                    "id"])),
            "warnings": [str(w) for w in self.warnings],
        }

    def fingerprint(self) -> str:
        """A content hash (sha256 hex) of all layers, stable across processes."""
        h = hashlib.sha256()
        for name in LAYER_ORDER:
            df = self.layers[name]
            h.update(name.encode())
            plain = pd.DataFrame(df.drop(columns="geometry")) if "geometry" in df.columns else df
            h.update(pd.util.hash_pandas_object(plain.astype(str), index=False).to_numpy().tobytes())
            if "geometry" in df.columns and len(df):
                wkb = shapely.to_wkb(df.geometry.to_numpy(), output_dimension=2)
                for w in wkb:
                    h.update(b"" if w is None else w)
        return h.hexdigest()

    def __repr__(self) -> str:  # pragma: no cover - cosmetic
        counts = ", ".join(f"{k}={v}" for k, v in self.counts().items() if v)
        return f"Dataset({self.name!r}: {counts})"


__all__ = ["Dataset", "DatasetValidationError", "Problem", "SECTORS", "empty_layer", "split_list"]
