"""GeoJSON (RFC 7946) encoding of dataset layers and decoding of single-feature edits.

Features carry the row's ``id`` as the GeoJSON ``id`` and every declared field as a property;
layers without geometry (groups, committees) have ``"geometry": null``. Personal fields
(:data:`geo_service.core.domain.PERSONAL_FIELDS`) are dropped unless the caller may see them.
A feature's ETag is an HMAC (server secret) of its canonical JSON, so two editors of different features of one
dataset do not block each other, while a stale edit of the same feature is refused.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import mapping, shape

from geo_service.core.crs import gcj02_to_wgs84, to_wgs84, transform_geometry
from geo_service.core.domain import LAYERS, PERSONAL_FIELDS
from geo_service.core.jsonsafe import to_jsonable

from .encoding import dumps


plain = to_jsonable  # JSON-ready value: numpy unwrapped, NaN/inf and pandas NA -> None


def visible_fields(layer: str, personal: bool) -> list[str]:
    """Declared fields of ``layer`` the caller may see (personal ones only with ``personal``)."""
    hidden = () if personal else PERSONAL_FIELDS.get(layer, ())
    return [f for f in LAYERS[layer].field_names if f not in hidden]


def features(df: pd.DataFrame, layer: str, *, personal: bool) -> list[dict[str, Any]]:
    """Rows of ``df`` (a layer frame) as GeoJSON Feature dicts."""
    cols = visible_fields(layer, personal)
    props = [dict(zip(cols, (plain(v) for v in row))) for row in df[cols].itertuples(index=False, name=None)]
    if "geometry" in df.columns:
        geoms = [None if g is None or g.is_empty else mapping(g) for g in df.geometry.to_numpy()]
    else:
        geoms = [None] * len(df)
    return [{"type": "Feature", "id": p.get("id"), "geometry": g, "properties": p}
            for p, g in zip(props, geoms)]


def bbox_of(df: pd.DataFrame) -> list[float] | None:
    """[minx, miny, maxx, maxy] of the rows' geometry (degrees), or None when there is none."""
    if "geometry" not in df.columns or not len(df):
        return None
    b = shapely.total_bounds(df.geometry.to_numpy())
    return [float(x) for x in b] if np.all(np.isfinite(b)) else None


def filter_bbox(df: pd.DataFrame, bbox: tuple[float, float, float, float]) -> pd.DataFrame:
    """Rows whose geometry intersects ``bbox`` (lon/lat degrees); rows without geometry drop out."""
    if not isinstance(df, gpd.GeoDataFrame):
        return df.iloc[0:0]
    box = shapely.box(*bbox)
    hit = shapely.intersects(df.geometry.to_numpy(), box)
    return df[np.asarray(hit, dtype=bool)]


def feature_etag(feature: dict[str, Any], *, key: bytes, dataset_id: str, layer: str) -> str:
    """A strong ETag of a feature that reveals nothing of it: HMAC-SHA256 keyed with the server's
    secret ``key`` over the dataset id, layer, feature id and a digest of the canonical JSON (all
    fields, personal included). A plain hash could be matched by hashing guessed features (a
    constituent's phone number); without the key it cannot. The dataset version is left out on
    purpose: an edit of one feature must not invalidate the ETags of the others."""
    digest = hashlib.sha256(dumps(feature)).hexdigest()
    msg = "\x1f".join(("feature-etag-v1", dataset_id, layer, str(feature.get("id")), digest)).encode()
    return '"' + hmac.new(key, msg, hashlib.sha256).hexdigest()[:32] + '"'


def find_row(df: pd.DataFrame, feature_id: str) -> int | None:
    """Positional index of the row with ``id == feature_id``, or None."""
    hit = np.flatnonzero(df["id"].to_numpy(dtype=object) == feature_id)
    return int(hit[0]) if len(hit) else None


class FeatureInputError(ValueError):
    """A feature in a request body is malformed; ``errors`` lists ``{field, message, code}``."""

    def __init__(self, errors: list[dict[str, Any]]):
        self.errors = errors
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))


def geometry_to_wgs84(geometry: dict[str, Any], datum: str) -> Any:
    """A GeoJSON geometry given in ``datum`` (``gcj02``, ``bd09``) as WGS-84 GeoJSON; a body that
    is not a geometry is returned as it is (decoding names the problem)."""
    try:
        g = shape(geometry)
    except Exception:  # noqa: BLE001 - decode_feature reports the malformed geometry with its field
        return geometry
    if datum not in ("gcj02", "bd09"):
        raise ValueError(f"datum must be gcj02 or bd09, got {datum!r}")
    func = gcj02_to_wgs84 if datum == "gcj02" else (lambda x, y: to_wgs84(x, y, "bd09"))
    return mapping(transform_geometry(np.array([g], dtype=object), func)[0])


def decode_feature(layer: str, body: Any, feature_id: str, *, partial: bool,
                   current: dict[str, Any] | None = None) -> dict[str, Any]:
    """A row dict (declared fields + ``geometry``) from a GeoJSON Feature body.

    ``partial`` (PATCH, RFC 7396 merge): missing properties keep ``current`` values, ``null``
    clears one, a missing ``geometry`` keeps the current geometry.
    """
    spec = LAYERS[layer]
    errors: list[dict[str, Any]] = []
    if not isinstance(body, dict):
        raise FeatureInputError([{"field": "", "message": "body must be a GeoJSON Feature object",
                                  "code": "not_a_feature"}])
    if body.get("type", "Feature") != "Feature":
        errors.append({"field": "type", "message": "type must be 'Feature'", "code": "not_a_feature"})
    props = body.get("properties", {} if partial else None)
    if props is None:
        props = {}
    if not isinstance(props, dict):
        errors.append({"field": "properties", "message": "properties must be an object", "code": "bad_type"})
        props = {}
    unknown = sorted(set(props) - set(spec.field_names))
    for k in unknown:
        errors.append({"field": k, "message": f"'{k}' is not a field of layer {layer} "
                                               f"(fields: {', '.join(spec.field_names)})",
                       "code": "unknown_field"})
    body_id = props.get("id", body.get("id"))
    if body_id is not None and str(body_id) != feature_id:
        errors.append({"field": "id", "message": f"id '{body_id}' differs from the URL's '{feature_id}'",
                       "code": "id_mismatch"})
    row: dict[str, Any] = dict(current or {}) if partial else {}
    for f in spec.field_names:
        if f in props:
            row[f] = props[f]
        elif not partial:
            row[f] = None
    row["id"] = feature_id
    if spec.geometry is not None:
        if "geometry" in body:
            g = body["geometry"]
            if g is None:
                row["geometry"] = None
            else:
                try:
                    row["geometry"] = shape(g)
                except Exception as e:  # shapely raises several types for malformed GeoJSON
                    errors.append({"field": "geometry", "message": f"not a GeoJSON geometry: {e}",
                                   "code": "bad_geometry"})
        elif not partial:
            row["geometry"] = None
    elif body.get("geometry") is not None:
        errors.append({"field": "geometry", "message": f"layer {layer} has no geometry; send null",
                       "code": "unexpected_geometry"})
    if errors:
        raise FeatureInputError(errors)
    return row


def row_dict(df: pd.DataFrame, i: int) -> dict[str, Any]:
    """Row ``i`` of a layer frame as a dict (fields + geometry when the layer has one)."""
    return {k: df[k].iloc[i] for k in df.columns}


def replace_row(df: pd.DataFrame, i: int | None, row: dict[str, Any] | None) -> pd.DataFrame:
    """``df`` with row ``i`` replaced by ``row`` (appended when ``i`` is None, removed when
    ``row`` is None). Returns a new frame of the same kind and CRS."""
    is_geo = isinstance(df, gpd.GeoDataFrame)
    if row is None:
        out = df.drop(df.index[i]).reset_index(drop=True)
        return out
    cols = list(df.columns)
    new = pd.DataFrame([{c: row.get(c) for c in cols}], columns=cols, dtype=object)
    if i is None:
        parts = [df.astype(object), new] if len(df) else [new]
        out = pd.concat(parts, ignore_index=True)
    else:
        out = df.astype(object).copy()
        for c in cols:
            out.at[out.index[i], c] = new.at[0, c]
        out = out.reset_index(drop=True)
    if is_geo:
        out = gpd.GeoDataFrame(out, geometry="geometry", crs=df.crs)
    return out
