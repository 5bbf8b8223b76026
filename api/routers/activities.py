"""The liaison ledger (联系台账) over HTTP: record, list, edit, import and export activities.

- ``POST /v1/datasets/{id}/activities``: one activity (a JSON object) or many (``{"activities":
  [...]}``); 201 with the new ids; every bad field named (422, problem+json ``errors`` by row);
- ``GET /v1/datasets/{id}/activities``: list (``kind``, ``member_id``, ``period`` or
  ``start``/``end``, ``limit``/``offset``), ``format=json|csv|xlsx`` through the one table writer;
- ``GET/PATCH/DELETE /v1/datasets/{id}/activities/{aid}`` and ``.../history``: an edit makes a new
  revision (``If-Match: <revision>``; 412 on a stale one), history kept;
- ``POST /v1/datasets/{id}/activities/import``: an office's 台账 workbook (XLSX or CSV body); all rows
  or none, every bad row named with its sheet row; ``GET /v1/templates/ledger.xlsx``: the template.

Roles: a ``member`` reads and records only their own rows (the member id is filled in); planners
and above all rows; viewers none (they get the aggregates of :mod:`api.routers.review`).
"""

from __future__ import annotations

import io
import zipfile
from typing import Annotated, Any, Literal

import orjson
import pandas as pd
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response

from geo_service.core import glossary as G
from geo_service.core.io.sheets import csv_bytes, xlsx_bytes
from geo_service.core.ledger import (
    ActivityError,
    read_activity_table,
    sheet_frame,
    template_frame,
)
from geo_service.core.store import Conflict, NotFound, Store
from geo_service.core.store.ledger import records

from ..auth import Principal, principal, viewer
from ..cache import DatasetEntry
from ..deps import dataset_entry, get_settings, get_store, read_body_limited
from ..encoding import FastJSONResponse
from ..ledger_access import (
    activity_problem,
    actor,
    check_own_rows,
    period_or_422,
    scope_member,
    store_rows,
)
from ..problems import ProblemError
from ..schemas import ProblemDetail
from ..settings import Settings

router = APIRouter(tags=["ledger"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_ERR = {k: {"model": ProblemDetail} for k in (400, 401, 403, 404, 409, 412, 413, 422)}
Kind = Annotated[Literal["contact", "duty", "reception", "consultation", "opinion"] | None, Query()]
MemberQ = Annotated[str | None, Query(max_length=64, description="one member's rows")]
Period = Annotated[str | None, Query(max_length=40, description="2027, 2027-Q2, 2027-03 or 2027-01-01~2027-06-30")]
DateQ = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")]


@router.post("/v1/datasets/{dataset_id}/activities", status_code=201, responses=_ERR,
             summary="Record activities (member: their own; planner: anyone's)")
async def post_activities(request: Request, entry: DatasetEntry = Depends(dataset_entry),
                          store: Store = Depends(get_store), who: Principal = Depends(principal),
                          settings: Settings = Depends(get_settings)):
    """One activity object, or ``{"activities": [...]}``; fields ``kind``, ``member_id``,
    ``constituent_id``/``village_id``/``group_id``, ``date``, ``way``, ``topic``, ``outcome``,
    ``follow_up``, ``satisfaction``, ``status``, ``station_id``, ``township_id``, ``people``,
    ``visitors``, ``attendees``, ``swapped_with``. All stored, or none (422 naming each bad field)."""
    body = await read_body_limited(request, settings.max_body_bytes)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise ProblemError(400, f"the body is not JSON: {e}", code="invalid-json") from None
    rows = data.get("activities") if isinstance(data, dict) and "activities" in data else [data]
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows) or not rows:
        raise ProblemError(422, G.message("activities_expected_rows", "en"), code="invalid-activities",
                           detail_zh=G.message("activities_expected_rows", "zh"))
    if len(rows) > settings.max_table_rows:
        raise ProblemError(413, f"{len(rows)} activities exceed the limit of {settings.max_table_rows}",
                           code="too-many-rows", limit_rows=settings.max_table_rows)
    ids = store_rows(store, entry.info.id, pd.DataFrame(rows), who, entry.ds)
    return FastJSONResponse({"dataset_id": entry.info.id, "ids": ids, "count": len(ids)}, status_code=201)


def _listing(store: Store, dataset_id: str, who: Principal, kind: str | None, member_id: str | None,
             period: str | None, start: str | None, end: str | None, limit: int | None, offset: int) -> pd.DataFrame:
    member = scope_member(who, member_id)
    start, end = period_or_422(period, start, end)
    return store.ledger().frame(dataset_id, start=start, end=end, member_id=member, kind=kind, limit=limit,
                                offset=offset)


@router.get("/v1/datasets/{dataset_id}/activities", responses={**_ERR, 200: {"content": {XLSX: {}, "text/csv": {}}}},
            summary="List activities (member: own; planner: all), as JSON, CSV or the 联系台账 workbook")
def list_activities(entry: DatasetEntry = Depends(dataset_entry), store: Store = Depends(get_store),
                    who: Principal = Depends(principal), kind: Kind = None, member_id: MemberQ = None,
                    period: Period = None, start: DateQ = None, end: DateQ = None,
                    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
                    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
                    format: Annotated[Literal["json", "csv", "xlsx"], Query()] = "json",
                    lang: Annotated[Literal["zh", "en"], Query()] = "zh",
                    settings: Settings = Depends(get_settings)):
    """Current revisions, not deleted, ordered by id; ``limit`` applies to JSON pages (exports hold
    every matching row, at most ``max_table_rows``: 413 beyond)."""
    cap = settings.max_table_rows  # an export holds every matching row: at most this many (checked first)
    df = _listing(store, entry.info.id, who, kind, member_id, period, start, end,
                  limit if format == "json" else cap + 1, offset if format == "json" else 0)
    if format != "json" and len(df) > cap:
        raise ProblemError(413, f"more than {cap} activities match: narrow the period, kind or member",
                           code="too-many-rows", limit_rows=cap)
    name = f"ledger-{entry.info.id}"
    if format == "csv":
        return Response(csv_bytes(sheet_frame(df), lang), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    if format == "xlsx":
        data = xlsx_bytes({"ledger": sheet_frame(df)}, lang, title=entry.info.id,
                          notes={"dataset": entry.info.id, "version": entry.info.version,
                                 "ledger_period": period or f"{start or ''}~{end or ''}"})
        return Response(data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
    return FastJSONResponse({"dataset_id": entry.info.id, "count": len(df), "offset": offset,
                             "activities": records(df)})


def _one(store: Store, dataset_id: str, aid: int, who: Principal) -> dict[str, Any]:
    try:
        rec = store.ledger().get(dataset_id, aid)
    except NotFound as e:
        raise ProblemError(404, str(e), code="activity-not-found", activity_id=aid) from None
    scope_member(who, rec["member_id"] if who.role == "member" else None)
    return rec


def _etag(rec: dict[str, Any]) -> dict[str, str]:
    return {"ETag": f'"{rec["revision"]}"'}


@router.get("/v1/datasets/{dataset_id}/activities/{activity_id}", responses=_ERR, summary="One activity")
def get_activity(activity_id: int, entry: DatasetEntry = Depends(dataset_entry), store: Store = Depends(get_store),
                 who: Principal = Depends(principal)):
    """The current revision; ``ETag`` is its revision number (send it back in ``If-Match`` to edit)."""
    rec = _one(store, entry.info.id, activity_id, who)
    return FastJSONResponse(rec, headers=_etag(rec))


@router.get("/v1/datasets/{dataset_id}/activities/{activity_id}/history", responses=_ERR,
            summary="Every revision of one activity")
def activity_history(activity_id: int, entry: DatasetEntry = Depends(dataset_entry),
                     store: Store = Depends(get_store), who: Principal = Depends(principal)):
    _one(store, entry.info.id, activity_id, who)
    return FastJSONResponse({"activity_id": activity_id,
                             "revisions": store.ledger().history(entry.info.id, activity_id)})


def _revision(if_match: str | None) -> int:
    if not if_match:
        raise ProblemError(428, "send If-Match with the activity's revision (its ETag) to change it",
                           code="precondition-required")
    try:
        return int(if_match.strip().strip('W/').strip('"'))
    except ValueError:
        raise ProblemError(400, f"If-Match {if_match!r} is not a revision number", code="bad-if-match") from None


async def _change(request: Request, dataset_id: str, aid: int, who: Principal, store: Store, ds: Any,
                  if_match: str | None, delete: bool, settings: Settings) -> dict[str, Any]:
    rec = _one(store, dataset_id, aid, who)
    if who.role != "member" and not who.allows("planner"):
        raise ProblemError(403, "changing activities needs role 'member' or 'planner'", code="forbidden")
    rev = _revision(if_match)
    changes: dict[str, Any] = {}
    if not delete:
        try:
            changes = orjson.loads(await read_body_limited(request, settings.max_body_bytes))
        except orjson.JSONDecodeError as e:
            raise ProblemError(400, f"the body is not JSON: {e}", code="invalid-json") from None
        if not isinstance(changes, dict):
            raise ProblemError(422, G.message("activities_expected_changes", "en"), code="invalid-activities",
                               detail_zh=G.message("activities_expected_changes", "zh"))
        if who.role == "member" and changes.get("member_id", rec["member_id"]) != who.member_id:
            raise ProblemError(403, "a member cannot hand an activity to another member", code="forbidden")
    try:
        return store.ledger().edit(dataset_id, aid, changes, expected_revision=rev, recorded_by=actor(who),
                                   ds=ds, delete=delete)
    except Conflict as e:
        raise ProblemError(412, str(e), code="stale-revision", activity_id=aid) from None
    except ActivityError as e:
        raise activity_problem(e) from None
    except ValueError as e:
        raise ProblemError(422, str(e), code="invalid-activities") from None


@router.patch("/v1/datasets/{dataset_id}/activities/{activity_id}", responses=_ERR,
              summary="Edit an activity (a new revision; If-Match required)")
async def patch_activity(request: Request, activity_id: int, entry: DatasetEntry = Depends(dataset_entry),
                         store: Store = Depends(get_store), who: Principal = Depends(principal),
                         settings: Settings = Depends(get_settings),
                         if_match: Annotated[str | None, Header()] = None):
    rec = await _change(request, entry.info.id, activity_id, who, store, entry.ds, if_match, False, settings)
    return FastJSONResponse(rec, headers=_etag(rec))


@router.delete("/v1/datasets/{dataset_id}/activities/{activity_id}", responses=_ERR,
               summary="Delete an activity (a last revision marked deleted; the history stays)")
async def delete_activity(request: Request, activity_id: int, entry: DatasetEntry = Depends(dataset_entry),
                          store: Store = Depends(get_store), who: Principal = Depends(principal),
                          settings: Settings = Depends(get_settings),
                          if_match: Annotated[str | None, Header()] = None):
    rec = await _change(request, entry.info.id, activity_id, who, store, entry.ds, if_match, True, settings)
    return FastJSONResponse(rec, headers=_etag(rec))


def _unpacked_size(data: bytes) -> int:
    """Bytes an XLSX (a zip) unpacks to, from its directory (read before anything is unpacked)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return sum(i.file_size for i in z.infolist())
    except zipfile.BadZipFile:
        raise ProblemError(422, "the file is neither an XLSX workbook nor CSV", code="invalid-file") from None


@router.post("/v1/datasets/{dataset_id}/activities/import", status_code=201, responses=_ERR,
             summary="Import a 台账 workbook (XLSX or CSV body): all rows or none, every bad row named")
async def import_activities(request: Request, entry: DatasetEntry = Depends(dataset_entry),
                            store: Store = Depends(get_store), who: Principal = Depends(principal),
                            settings: Settings = Depends(get_settings),
                            filename: Annotated[str, Query(max_length=200)] = "ledger.xlsx"):
    """The body is the file (``Content-Type`` text/csv or the XLSX type, or ``filename`` ending in
    .csv/.xlsx); headers as in the template (Chinese or English); rows numbered as in the sheet."""
    check_own_rows(who, pd.DataFrame(columns=["member_id"]))  # a role that may write, before the body is read
    data = await read_body_limited(request, settings.max_upload_bytes)
    is_csv = "csv" in request.headers.get("content-type", "") or filename.lower().endswith(".csv")
    if not is_csv and _unpacked_size(data) > settings.max_unpacked_bytes:
        raise ProblemError(413, f"the workbook unpacks to more than {settings.max_unpacked_bytes} bytes",
                           code="body-too-large", limit_bytes=settings.max_unpacked_bytes)
    try:
        frame = read_activity_table(data, "x.csv" if is_csv else "x.xlsx")
    except ActivityError as e:
        raise activity_problem(e) from None
    except (ValueError, OSError, KeyError) as e:
        raise ProblemError(422, f"the file could not be read as a 台账: {e}", code="invalid-file") from None
    if len(frame) > settings.max_table_rows:
        raise ProblemError(413, f"{len(frame)} rows exceed the limit of {settings.max_table_rows}",
                           code="too-many-rows", limit_rows=settings.max_table_rows)
    ids = store_rows(store, entry.info.id, frame, who, entry.ds, sheet_rows=True)
    return FastJSONResponse({"dataset_id": entry.info.id, "imported": len(ids), "ids": ids}, status_code=201)


@router.get("/v1/templates/ledger.xlsx", summary="The 台账 import template (one example row per kind)",
            responses={200: {"content": {XLSX: {}}}})
def ledger_template(lang: Annotated[Literal["zh", "en"], Query()] = "zh", _: Principal = Depends(viewer)):
    df = template_frame(lang)
    data = xlsx_bytes({"ledger_template": df}, lang, notes=None)
    return Response(data, media_type=XLSX, headers={"Content-Disposition": 'attachment; filename="ledger-template.xlsx"'})
