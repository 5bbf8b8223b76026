"""Map data by bounding box: the villages of a coverage map in view (province-size maps).

``GET /v1/datasets/{id}/maps/coverage/villages?bbox=minlon,minlat,maxlon,maxlat&limit=N`` answers
a GeoJSON FeatureCollection of the villages inside the box (edges included), with the same
compact properties the coverage map draws (``n`` name, ``c`` style class ``band:radius``, ``v``
popup values, ``i`` village id) plus ``count``, ``limit`` and ``complete``. When more than
``limit`` villages lie inside, the answer holds no features, ``complete: false`` and a message
asking to zoom in: the map page then keeps showing the aggregates. Viewer role, like the maps;
the map page calls it from the same origin.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from maps.aggregate import DETAIL_LIMIT, MAX_DETAIL_LIMIT
from maps.details import village_details

from ..auth import Principal, viewer
from ..cache import DatasetEntry
from ..deps import dataset_entry
from ..problems import ProblemError
from ..schemas import ProblemDetail

router = APIRouter(prefix="/v1/datasets", tags=["web page and maps"])
_ERR = {k: {"model": ProblemDetail} for k in (401, 403, 404, 422)}


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """``"minlon,minlat,maxlon,maxlat"`` (degrees) as four floats; 422 problem naming ``bbox`` otherwise."""
    parts = text.split(",")
    try:
        vals = tuple(float(p) for p in parts)
    except ValueError:
        vals = ()
    why = None
    if len(vals) != 4 or not all(math.isfinite(v) for v in vals):
        why = "four finite numbers separated by commas: minlon,minlat,maxlon,maxlat"
    elif not (-180 <= vals[0] <= vals[2] <= 180 and -90 <= vals[1] <= vals[3] <= 90):
        why = "minlon <= maxlon within [-180, 180] and minlat <= maxlat within [-90, 90]"
    if why:
        raise ProblemError(422, f"bbox must be {why}, got '{text[:100]}'", code="invalid-parameters",
                           errors=[{"in": "query", "field": "bbox", "message": why, "code": "bad_bbox"}])
    return vals  # type: ignore[return-value]


@router.get("/{dataset_id}/maps/coverage/villages", responses={**_ERR, 200: {"content": {"application/geo+json": {}}}},
            summary="The coverage map's villages inside a bounding box, as GeoJSON (viewer)")
def coverage_villages(bbox: Annotated[str, Query(max_length=200, description="minlon,minlat,maxlon,maxlat "
                                                 "(degrees, in the datum of `datum`)")],
                      entry: DatasetEntry = Depends(dataset_entry), _: Principal = Depends(viewer),
                      limit: Annotated[int, Query(ge=1, le=MAX_DETAIL_LIMIT,
                                                  description="most villages to return; more inside the box: "
                                                              "no features, complete=false (zoom in)")] = DETAIL_LIMIT,
                      lang: Annotated[Literal["zh", "en"], Query()] = "zh",
                      datum: Annotated[Literal["wgs84", "gcj02"],
                                       Query(description="coordinates of bbox and answer: gcj02 for Gaode tiles")]
                      = "wgs84"):
    """Villages of the coverage map inside ``bbox`` with their distance band and popup values."""
    box = parse_bbox(bbox)
    details = entry.memo(f"map:villages:{lang}:{datum}", lambda ds: village_details(ds, lang=lang, datum=datum),
                         max_items=16)
    return Response(details.answer(box, limit), media_type="application/geo+json",
                    headers={"Cache-Control": "no-cache"})
