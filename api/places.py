"""What the planners' page needs to place villages on a map.

The page lists the villages whose location is unknown or approximate (at their township seat or
centre); a planner picks one, clicks its place on a small map and the page saves the point through
the feature edit route (``PATCH /v1/datasets/{id}/villages/{vid}?datum=...``) with the datum of
the tiles clicked on (Gaode: GCJ-02, OpenStreetMap: WGS-84), then can undo it the same way.

:func:`place_payload` gives, once per page, the villages to place (id, name, township, source,
point in WGS-84 and in GCJ-02), the located villages as context dots, and the county's bounds in
both datums, all as plain values for a JSON data block (:func:`json_for_script`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geo_service.core.coverage import location_line
from geo_service.core.crs import wgs84_to_gcj02
from geo_service.core.glossary import word
from maps.locations import location_sources
from maps.render import js_json

#: At most this many villages are offered for placing, and drawn as context, on one page.
PLACE_LIMIT = 2000
CONTEXT_LIMIT = 5000
#: The tile origins of the placing map (for the page's Content-Security-Policy).
TILE_ORIGINS = ("https://tile.openstreetmap.org", "https://webrd01.is.autonavi.com",
                "https://webrd02.is.autonavi.com", "https://webrd03.is.autonavi.com",
                "https://webrd04.is.autonavi.com")
SOURCE_WORDS = {"unknown": "loc_word_unknown", "township_seat": "loc_word_township_seat",
                "township_centre": "loc_word_township_centre"}


def _pairs(lon: np.ndarray, lat: np.ndarray) -> tuple[list[list[float] | None], list[list[float] | None]]:
    """[lon, lat] per point in WGS-84 and GCJ-02, rounded to 6 decimals; None where not finite."""
    ok = np.isfinite(lon) & np.isfinite(lat)
    glon, glat = np.full(len(lon), np.nan), np.full(len(lat), np.nan)
    if ok.any():
        glon[ok], glat[ok] = wgs84_to_gcj02(lon[ok], lat[ok])
    w = [[round(float(x), 6), round(float(y), 6)] if k else None for x, y, k in zip(lon, lat, ok)]
    g = [[round(float(x), 6), round(float(y), 6)] if k else None for x, y, k in zip(glon, glat, ok)]
    return w, g


def _xy(geoms) -> tuple[np.ndarray, np.ndarray]:
    missing = (geoms.isna() | geoms.is_empty).to_numpy()
    x = np.where(missing, np.nan, geoms.x.where(~missing).to_numpy(dtype=float))
    y = np.where(missing, np.nan, geoms.y.where(~missing).to_numpy(dtype=float))
    return x, y


def place_payload(ds, *, lang: str = "zh") -> dict[str, Any]:
    """The placing list and map data of dataset ``ds`` (see the module docstring).

    Returns
    -------
    dict
        ``line`` (the one-line location statement), ``villages`` (to place: ``id``, ``name``,
        ``township``, ``source``, ``source_text``, ``wgs84``/``gcj02`` [lon, lat] or None),
        ``context`` (located villages: ``wgs84``/``gcj02`` lists of [lon, lat]), ``bounds``
        ({datum: [[south, west], [north, east]]}), ``more`` (villages to place beyond the limit).
    """
    v = ds.villages.reset_index(drop=True)
    src = location_sources(v).to_numpy(dtype=object)
    tnames = ds.townships.set_index("id")["name"].to_dict()
    x, y = _xy(v.geometry) if len(v) else (np.zeros(0), np.zeros(0))
    wgs, gcj = _pairs(x, y)
    todo = [i for i in range(len(v)) if src[i] in SOURCE_WORDS]
    villages = []
    for i in todo[:PLACE_LIMIT]:
        tw = tnames.get(v["township_id"].iloc[i]) or ""
        villages.append({"id": str(v["id"].iloc[i]), "name": str(v["name"].iloc[i]), "township": str(tw),
                         "source": str(src[i]), "source_text": word(SOURCE_WORDS[str(src[i])], lang),
                         "wgs84": wgs[i], "gcj02": gcj[i]})
    located = [i for i in range(len(v)) if src[i] in ("given", "placed") and wgs[i] is not None][:CONTEXT_LIMIT]
    bounds = {}
    fx, fy = x[np.isfinite(x)], y[np.isfinite(y)]
    if len(fx):
        lo, hi = (float(fx.min()), float(fy.min())), (float(fx.max()), float(fy.max()))
    else:
        b = ds.townships.geometry.total_bounds if len(ds.townships) else np.array([73.5, 18.0, 135.0, 53.5])
        lo, hi = (float(b[0]), float(b[1])), (float(b[2]), float(b[3]))
    gw, gg = _pairs(np.array([lo[0], hi[0]]), np.array([lo[1], hi[1]]))
    bounds["wgs84"] = [[gw[0][1], gw[0][0]], [gw[1][1], gw[1][0]]]
    bounds["gcj02"] = [[gg[0][1], gg[0][0]], [gg[1][1], gg[1][0]]]
    return {"line": location_line(v, lang), "villages": villages, "more": max(0, len(todo) - PLACE_LIMIT),
            "context": {"wgs84": [wgs[i] for i in located], "gcj02": [gcj[i] for i in located]},
            "bounds": bounds}


def json_for_script(payload: dict[str, Any]) -> str:
    """``payload`` as JSON safe inside ``<script type="application/json">`` (no ``</script>``)."""
    return js_json(payload)


__all__ = ["CONTEXT_LIMIT", "PLACE_LIMIT", "TILE_ORIGINS", "json_for_script", "place_payload"]
