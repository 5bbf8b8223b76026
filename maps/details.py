"""The villages of a province-size coverage map, served by bounding box.

:func:`village_details` prepares, once per dataset version, every village as the coverage map
would draw it (name, style class ``band:radius``, popup values; see :mod:`maps.coverage`) with
its coordinates in the page's datum; :meth:`VillageDetails.answer` then gives the GeoJSON of the
villages inside a bounding box, or says "zoom in" when there are more than the limit. Used by
``GET /v1/datasets/{id}/maps/coverage/villages`` (:mod:`api.routers.map_data`) and fetched by the
page's runtime (:mod:`maps.aggregate`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import orjson
import pandas as pd

from geo_service.core.coverage import last_mile
from geo_service.core.crs import wgs84_to_gcj02
from geo_service.core.domain import STATION_KIND_LABELS

from .coverage import T, _band, _fmt_measure, last_mile_table
from .locations import located_dataset
from .render import check_lang, feature_collection


@dataclass
class VillageDetails:
    """Every village of a dataset version, ready to answer bbox requests.

    ``x``, ``y``: coordinates in the page's datum (not rounded), ``ids``: village ids, ``features``:
    each village's GeoJSON Feature (compact properties as :func:`maps.render.feature_collection`
    plus ``i``: the village id), serialised once.
    """

    x: np.ndarray
    y: np.ndarray
    ids: np.ndarray
    features: list[bytes]

    def inside(self, bbox: Sequence[float]) -> np.ndarray:
        """Positions of the villages with ``minx <= x <= maxx`` and ``miny <= y <= maxy``."""
        minx, miny, maxx, maxy = (float(b) for b in bbox)
        return np.flatnonzero((self.x >= minx) & (self.x <= maxx) & (self.y >= miny) & (self.y <= maxy))

    def answer(self, bbox: Sequence[float], limit: int) -> bytes:
        """The GeoJSON answer for ``bbox``: a FeatureCollection with ``count`` (villages inside),
        ``limit``, ``complete`` (false and no features when ``count > limit``) and ``message``."""
        idx = self.inside(bbox)
        n = int(len(idx))
        head = {"type": "FeatureCollection", "count": n, "limit": int(limit), "complete": n <= limit,
                "bbox": [float(b) for b in bbox]}
        if n > limit:
            head["message"] = (f"{n} villages lie in this bounding box, more than the limit of {limit}: zoom in "
                               f"(a smaller bbox) to get them (本范围内有 {n} 个村，超过上限 {limit}，请放大地图)")
            feats = b""
        else:
            feats = b",".join(self.features[i] for i in idx)
        return orjson.dumps(head)[:-1] + b',"features":[' + feats + b"]}"


def village_details(ds, *, lang: str = "zh", datum: str = "wgs84", coverage: pd.DataFrame | None = None,
                    thresholds_m: Sequence[float] = (5000, 10000, 20000)) -> VillageDetails:
    """Per-village features of the coverage map (straight line to the nearest station), for the
    bbox endpoint: the same name, style class and popup values as :func:`maps.coverage.coverage_map`
    draws for small datasets (``thresholds_m``: its distance bands, metres)."""
    check_lang(lang)
    if datum not in ("wgs84", "gcj02"):
        raise ValueError(f"datum must be wgs84 or gcj02, got {datum!r}")
    t = T[lang]
    v = ds.villages.reset_index(drop=True)
    g = v.geometry
    ok = ~(g.isna() | g.is_empty).to_numpy()
    v = v[ok].reset_index(drop=True)
    if coverage is None:
        coverage = last_mile(located_dataset(ds))
    lm = last_mile_table(ds, coverage).set_index("village_id").reindex(v["id"].astype(str))
    measure = lm["distance_m"].to_numpy(dtype=float)
    band = _band(measure, thresholds_m)
    snames = ds.stations.set_index("id")["name"].to_dict()
    skinds = ds.stations.set_index("id")["kind"].to_dict()
    tnames = ds.townships.set_index("id")["name"].to_dict()
    pop = pd.to_numeric(v["population"]).fillna(0).astype(np.int64).to_numpy()
    seat = v["is_seat"].fillna(False).astype(bool).to_numpy() if "is_seat" in v else np.zeros(len(v), bool)
    values = []
    for tw, p, s, d, st in zip(v["township_id"], pop, lm["station_id"], measure, seat):
        nn = snames.get(s, t["no_station"]) if isinstance(s, str) else t["no_station"]
        nk = STATION_KIND_LABELS.get(skinds.get(s), {}).get(lang, "") if isinstance(s, str) else ""
        values.append([tnames.get(tw), int(p), f"{nn}（{nk}）" if nk else nn, _fmt_measure(d, "straight", lang),
                       t["yes"] if st else None])
    radius = np.clip(4 + np.sqrt(pop / 400.0), 4, 12).round(1)
    fc = feature_collection(v.geometry.to_numpy(), v["name"].tolist(),
                            classes=[f"{b}:{r}" for b, r in zip(band, radius)], values=values, datum=datum)
    ids = v["id"].astype(str).to_numpy()
    feats = []
    for f, vid in zip(fc["features"], ids):
        f["properties"]["i"] = vid
        feats.append(orjson.dumps(f))
    x, y = v.geometry.x.to_numpy(float), v.geometry.y.to_numpy(float)
    if datum == "gcj02":
        x, y = wgs84_to_gcj02(x, y)
    return VillageDetails(np.asarray(x, float), np.asarray(y, float), ids, feats)


__all__ = ["VillageDetails", "village_details"]
