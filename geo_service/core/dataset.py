"""The validated :class:`Dataset` every other module passes around.

A dataset is a set of layers (see :data:`geo_service.core.domain.LAYERS`), each a GeoDataFrame in
WGS-84 (EPSG:4326) or a plain DataFrame for tables without geometry (groups, committees). Every
layer is always present (possibly empty) and carries every declared column, so downstream code
never checks for existence. Validation happens once, in :meth:`Dataset.from_layers`, and reports
every problem at once with its layer, row, feature id and field (the rules: :mod:`geo_service.core.validation`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
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
    REQUIRED_LAYERS,
    SECTORS,
    STATION_KINDS,
    WGS84,
)
from .validation import (
    MAX_WHOLE_NUMBER,
    DatasetValidationError,
    Problem,
    check_references,
    normalise_layer,
    split_list,
)


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
            out[lname] = empty_layer(lname) if df is None else normalise_layer(LAYERS[lname], df, problems)
        out, found = fill_sources(out)
        problems += [Problem(*p) for p in found]
        check_references(out, problems)
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


__all__ = ["MAX_WHOLE_NUMBER", "Dataset", "DatasetValidationError", "Problem", "SECTORS", "empty_layer",
           "split_list"]
