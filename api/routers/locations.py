"""Village locations over HTTP: place a village, and the 待补坐标 workbook out and back in.

- ``POST /v1/datasets/{id}/villages/{village_id}/place`` (planner, If-Match: the village's ETag):
  ``{"lon", "lat", "datum"}`` (a click on Gaode tiles is ``gcj02``) through the versioned feature
  edit; the village becomes ``placed``, the dataset version grows, coverage follows. The answer
  carries ``previous`` (the point and source before) so the page can undo with the same call
  (``location_source`` given; ``lon``/``lat`` null for unknown).
- ``GET /v1/datasets/{id}/fill-sheet.xlsx`` (planner): villages lacking a location of their own.
- ``POST /v1/datasets/{id}/fill-sheet`` (planner, the workbook as the request body):
  an update of locations only; every row it cannot use is named (spreadsheet row, id, column).
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from geo_service.core.crs import from_wgs84
from geo_service.core.dataset import DatasetValidationError
from geo_service.core.domain import LOCATION_SOURCES
from geo_service.core.io.fill_sheet import apply_fill_sheet, fill_sheet_bytes
from geo_service.core.locations import location_line
from geo_service.core.store import Conflict, NotFound, Store

from .. import geojson as gj
from ..auth import Principal, planner
from ..cache import DatasetCache
from ..deps import checked_dataset_id, get_cache, get_settings, get_store, read_body_limited
from ..encoding import FastJSONResponse
from ..problems import ProblemError, validation_errors
from ..schemas import ProblemDetail
from ..settings import Settings
from .datasets import _edit

router = APIRouter(prefix="/v1/datasets", tags=["village locations"])
_ERR = {k: {"model": ProblemDetail} for k in (400, 401, 403, 404, 409, 412, 413, 422, 428)}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class PlaceBody(BaseModel):
    """Where a village is: a point in ``datum`` degrees, or none (unknown) with ``location_source``."""

    model_config = ConfigDict(extra="forbid")
    lon: float | None = Field(None, ge=-180, le=180, description="longitude, degrees (in `datum`)")
    lat: float | None = Field(None, ge=-90, le=90, description="latitude, degrees (in `datum`)")
    datum: Literal["wgs84", "gcj02", "bd09"] = Field("wgs84", description="gcj02 for a click on Gaode tiles")
    location_source: Literal[LOCATION_SOURCES] | None = Field(  # type: ignore[valid-type]
        None, description="default placed; give the previous one to undo")


def _entry(cache: DatasetCache, dataset_id: str):
    try:
        entry = cache.get(dataset_id)
    except NotFound:
        raise ProblemError(404, f"no dataset '{dataset_id}'", code="dataset-not-found",
                           dataset_id=dataset_id) from None
    ds = dataclasses.replace(entry.ds, meta={**(entry.info.meta or {}), **dict(entry.ds.meta or {})})
    return entry, ds


def _previous(ds, village_id: str, datum: str) -> dict[str, Any]:
    i = gj.find_row(ds.villages, village_id)
    if i is None:
        raise ProblemError(404, f"no village '{village_id}'", code="feature-not-found", feature_id=village_id)
    g = ds.villages.geometry.iloc[i]
    src = ds.villages["location_source"].iloc[i]
    if g is None or g.is_empty:
        return {"lon": None, "lat": None, "datum": datum, "location_source": src}
    x, y = from_wgs84([g.x], [g.y], datum)
    return {"lon": float(x[0]), "lat": float(y[0]), "datum": datum, "location_source": src}


@router.post("/{dataset_id}/villages/{village_id}/place", summary="Place a village (planner; If-Match)",
             responses=_ERR)
async def place_village(request: Request, body: PlaceBody, village_id: str,
                        dataset_id: str = Depends(checked_dataset_id), store: Store = Depends(get_store),
                        cache: DatasetCache = Depends(get_cache), _: Principal = Depends(planner),
                        if_match: Annotated[str | None, Header(max_length=1000)] = None):
    """Move one village through the versioned feature edit (its ETag from ``GET .../villages/{id}``)."""
    if (body.lon is None) != (body.lat is None):
        raise ProblemError(422, "give both lon and lat, or neither (unknown location)", code="invalid-parameters",
                           errors=[{"in": "body", "field": "lon" if body.lon is None else "lat",
                                    "message": "both or neither", "code": "missing_value"}])
    _, ds = _entry(cache, dataset_id)
    previous = _previous(ds, village_id, body.datum)
    geometry = None if body.lon is None else {"type": "Point", "coordinates": [body.lon, body.lat]}
    feature: dict[str, Any] = {"type": "Feature", "geometry": geometry, "properties": {}}
    if body.location_source is not None:
        feature["properties"]["location_source"] = body.location_source
    s = request.app.state.settings
    status, feat, etag = await run_in_threadpool(_edit, store, cache, dataset_id, "villages", village_id, if_match,
                                                 None, feature, "patch", request.app.state.etag_key,
                                                 (s.max_name_chars, s.max_text_chars), body.datum)
    entry, new = _entry(cache, dataset_id)
    return FastJSONResponse({"feature": feat, "previous": previous, "dataset_version": entry.info.version,
                             "location_line": location_line(new.villages)},
                            status_code=status, headers={"ETag": etag})


@router.get("/{dataset_id}/fill-sheet.xlsx", summary="The 待补坐标 workbook (planner)",
            responses={**_ERR, 200: {"content": {XLSX: {}}}})
def get_fill_sheet(dataset_id: str = Depends(checked_dataset_id), cache: DatasetCache = Depends(get_cache),
                   _: Principal = Depends(planner),
                   lang: Annotated[Literal["zh", "en"], Query()] = "zh",
                   datum: Annotated[Literal["wgs84", "gcj02", "bd09"] | None, Query(
                       description="datum of the coordinates (default: the one the data came in)")] = None):
    entry, ds = _entry(cache, dataset_id)
    data = fill_sheet_bytes(ds, lang, datum)
    name = f"{dataset_id}-v{entry.info.version}-fill.xlsx"
    return Response(data, media_type=XLSX, headers={"ETag": entry.info.etag,
                                                    "Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/{dataset_id}/fill-sheet", summary="Read a filled 待补坐标 workbook back (planner)", responses=_ERR)
async def post_fill_sheet(request: Request, dataset_id: str = Depends(checked_dataset_id),
                          store: Store = Depends(get_store), cache: DatasetCache = Depends(get_cache),
                          settings: Settings = Depends(get_settings), _: Principal = Depends(planner),
                          datum: Annotated[Literal["wgs84", "gcj02", "bd09"] | None, Query(
                              description="datum of rows without a 坐标系 value")] = None):
    """The workbook as the request body (``application/vnd...sheet``); answers the report (updated,
    skipped rows with their spreadsheet row and reason, the new version and location line)."""
    raw = await read_body_limited(request, settings.max_upload_bytes)
    return await run_in_threadpool(_apply, store, cache, dataset_id, raw, datum)


def _apply(store: Store, cache: DatasetCache, dataset_id: str, raw: bytes, datum: str | None):
    for _attempt in range(3):
        entry, ds = _entry(cache, dataset_id)
        try:
            new, report = apply_fill_sheet(ds, raw, datum)
        except DatasetValidationError as e:
            errors = validation_errors(e)
            raise ProblemError(422, f"no row of the workbook can be used: {len(errors)} problem(s); nothing was "
                                    "stored", code="fill-sheet-unusable", errors=errors) from None
        except (ValueError, OSError, KeyError) as e:
            raise ProblemError(422, f"not a 待补坐标 workbook: {e}", code="unreadable-upload", field="file") from None
        except Exception as e:  # openpyxl/zipfile raise their own types for a file that is no workbook
            if type(e).__module__.split(".")[0] in ("openpyxl", "zipfile"):
                raise ProblemError(422, f"not a 待补坐标 workbook: {e}", code="unreadable-upload",
                                   field="file") from None
            raise
        info = entry.info
        if report["updated"]:
            try:
                info = store.put_dataset(dataset_id, new, expected_version=entry.info.version)
            except Conflict:
                continue
            cache.put(info, new)
        return FastJSONResponse({**report, "dataset_version": info.version}, headers={"ETag": info.etag})
    raise ProblemError(409, "the dataset kept changing; try again", code="edit-contention")


__all__ = ["router"]
