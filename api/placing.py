"""Placing a village: a feature edit's coordinates in the basemap's datum, and the ``placed`` source.

A planner clicks a village's place on Gaode tiles (GCJ-02) or on OpenStreetMap/Tianditu (WGS-84);
the edit's geometry is converted to the stored WGS-84 and the village's ``location_source``
becomes ``placed`` (a point set by hand), unless the edit names a source itself (an undo).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import shapely

from geo_service.core.crs import DATUMS, to_wgs84


def _convert(coords: Any, datum: str) -> Any:
    """GeoJSON coordinates (nested lists) converted from ``datum`` to WGS-84."""
    if isinstance(coords, (list, tuple)) and coords and isinstance(coords[0], (int, float)):
        if len(coords) < 2 or not all(np.isfinite(float(c)) for c in coords[:2]):
            return coords  # left for the validation to name
        lon, lat = to_wgs84(np.array([float(coords[0])]), np.array([float(coords[1])]), datum)
        return [float(lon[0]), float(lat[0]), *coords[2:]]
    if isinstance(coords, (list, tuple)):
        return [_convert(c, datum) for c in coords]
    return coords


def to_wgs84_body(body: Any, datum: str) -> Any:
    """A GeoJSON Feature body with its geometry's coordinates converted from ``datum`` to WGS-84.

    Parameters
    ----------
    body : object
        The request body (anything: a bad body is left for the feature decoder to name).
    datum : {"wgs84", "gcj02", "bd09"}

    Returns
    -------
    object
        A converted copy (the body itself for WGS-84 or when there is no geometry).
    """
    if datum not in DATUMS:
        raise ValueError(f"datum must be one of {', '.join(DATUMS)}, got {datum!r}")
    if datum == "wgs84" or not isinstance(body, dict) or not isinstance(body.get("geometry"), dict):
        return body
    out = copy.deepcopy(body)
    try:
        out["geometry"]["coordinates"] = _convert(out["geometry"].get("coordinates"), datum)
    except (TypeError, ValueError):
        return body  # malformed coordinates: the decoder names the field
    return out


def placed_row(layer: str, body: Any, row: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
    """``row`` with ``location_source="placed"`` when a village's point changes and the body names no source.

    Parameters
    ----------
    layer : str
        The edited layer (only ``villages`` is touched).
    body : object
        The request body.
    row : dict
        The decoded row (fields and ``geometry``).
    current : dict or None
        The stored row before the edit (None when the feature is new).

    Returns
    -------
    dict
    """
    if layer != "villages":
        return row
    props = body.get("properties") if isinstance(body, dict) else None
    if isinstance(props, dict) and props.get("location_source") is not None:
        return row
    new, old = row.get("geometry"), None if current is None else current.get("geometry")
    same = (new is None and old is None) or (new is not None and old is not None and shapely.equals(new, old))
    if not same and new is not None:
        return {**row, "location_source": "placed"}
    if new is None:
        return {**row, "location_source": "unknown"}
    return row


__all__ = ["placed_row", "to_wgs84_body"]
