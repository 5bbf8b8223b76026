"""码上议事: who is responsible here, people's messages, their routing and follow-up.

- ``GET /v1/datasets/{id}/responsible?lon=&lat=`` (or ``village_id=``, ``station_id=``; anyone):
  village, township, groups and contact point, committee, nearest stations, members by sector, this
  month's duty and the next reception date. Callers below planner get public fields only (names, roles,
  places, times); planners also the members' homes and the village's constituents.
- ``POST /v1/datasets/{id}/messages`` (anyone): leave a message (``station_id`` or ``lon``/``lat``,
  ``topic``, ``sector``, ``text``, ``phone``); 201 with a ``ticket``. Rate limits per address and per
  station (429), size limits (413/422), a cap on open messages per station and day (429).
- ``GET /v1/messages/{ticket}`` (anyone holding the ticket): status, times, answer; nothing personal.
- ``GET /v1/datasets/{id}/messages`` (viewer; a member: their own queue): open/overdue filters; the
  sender's phone only for staff and the assigned member.
- ``POST /v1/datasets/{id}/messages/{message_id}`` (the assigned member, the convener of an escalated
  one, staff): move it along 已收到 → 已分派 → 处理中 → 已答复 → 已办结, answer it, reassign it (staff).
- ``GET /v1/datasets/{id}/messages/summary`` (viewer): open and overdue by township, sector and member,
  time to answer; ``messages.geojson`` (viewer) where messages come from; ``messages.xlsx?month=``
  (planner) the monthly workbook; ``messages/handoff.csv`` (planner) the escalated ones for 12345.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from geo_service.core.glossary import message
from geo_service.core.responsible import lookup as responsible_lookup
from geo_service.core.store import NotFound, check_dataset_id
from geo_service.core.store.messages import (
    NEXT_STATUS,
    OPEN_STATUSES,
    STATUSES,
    MessageRecord,
)
from maps.messages import messages_map
from maps.render import tile_hosts
from solvers.messages import candidates, overdue, route

from .. import messaging as M
from ..auth import Principal, client_address, planner, principal, viewer
from ..cache import DatasetEntry
from ..deps import dataset_entry, read_body_limited
from ..encoding import FastJSONResponse, GeoJSONResponse, loads
from ..html import content_security_policy, html_response
from ..messages_tables import handoff_csv, monthly_workbook, summary
from ..problems import ProblemError, parameter_item

router = APIRouter(tags=["messages"])
MAX_MESSAGE_BODY = 16_384
PHONE_RE = re.compile(r"^[0-9+\-() ]{5,20}$")
Lang = Annotated[Literal["zh", "en"], Query()]


def _bad(where: str, field: str, message: str, code: str, status: int = 422, **ctx: Any) -> ProblemError:
    """A wrong field: ``code`` (and ``ctx``) are what the glossary words its reason from."""
    return ProblemError(status, f"invalid request: {where}:{field}: {message}", code="invalid-parameters",
                        errors=[parameter_item(where, field, message, code, ctx)])


async def _entry(request: Request, dataset_id: str) -> DatasetEntry:
    check_dataset_id(dataset_id)
    cache = request.app.state.cache
    entry = cache.peek(dataset_id)
    if entry is None:
        try:
            entry = await run_in_threadpool(cache.get, dataset_id)
        except NotFound:
            raise ProblemError(404, f"no dataset '{dataset_id}'", code="dataset-not-found",
                               dataset_id=dataset_id) from None
    return entry


def _float(q, name: str, lo: float, hi: float) -> float | None:
    raw = q.get(name)
    if raw is None or raw == "":
        return None
    try:
        v = float(raw)
    except ValueError:
        raise _bad("query", name, f"'{raw[:40]}' is not a number", "float_parsing") from None
    if not (lo <= v <= hi):
        raise _bad("query", name, f"must be between {lo} and {hi}", "between", lo=lo, hi=hi)
    return v


@router.get("/v1/datasets/{dataset_id}/responsible", summary="Who is responsible here (anyone; public fields "
                                                             "below planner)")
async def responsible(request: Request, dataset_id: str):
    """The village at ``lon``/``lat`` (or ``village_id``, ``station_id``), its township, committee, groups
    and contact point, members by sector, the ``k`` (default 3) nearest stations with distance (m), this
    month's duty members and the next reception date."""
    who = await principal(request)
    entry = await _entry(request, dataset_id)
    q = request.query_params
    lon, lat = _float(q, "lon", -180, 180), _float(q, "lat", -90, 90)
    vid, sid = q.get("village_id") or None, q.get("station_id") or None
    for name, v in (("village_id", vid), ("station_id", sid)):
        if v is not None and len(v) > 64:
            raise _bad("query", name, "at most 64 characters", "string_too_long", max_length=64)
    try:
        k = int(q.get("k", 3))
    except ValueError:
        raise _bad("query", "k", "not an integer", "int_parsing") from None
    ctx = M.fresh_context(request, entry) or await run_in_threadpool(M.context, request, entry)
    ans = responsible_lookup(ctx.index, lon=lon, lat=lat, village_id=vid, station_id=sid, k=k, duty=ctx.duty,
                             today=M.clock(request).date(), township_committees=ctx.committees,
                             personal=who.sees_personal)  # InvalidParameter naming the field: 422
    return FastJSONResponse({"dataset_id": entry.info.id, "dataset_version": entry.info.version,
                             "roster_job_id": ctx.roster_job, **ans}, headers={"Cache-Control": "no-store"})


def _sender(request: Request) -> str:
    key = getattr(request.app.state, "etag_key", b"geo-service")
    return hmac.new(key, b"msg-sender|" + client_address(request).encode(), hashlib.sha256).hexdigest()[:20]


def _text(body: dict, name: str, limit: int, *, required: bool = False) -> str | None:
    v = body.get(name)
    if v is None or (isinstance(v, str) and not v.strip()):
        if required:
            raise _bad("body", name, "field required", "missing")
        return None
    if not isinstance(v, str):
        raise _bad("body", name, "must be text", "string_type")
    v = v.strip()
    if len(v) > limit:
        raise _bad("body", name, f"at most {limit} characters (got {len(v)})", "string_too_long",
                   413 if name == "text" else 422, max_length=limit)
    if any(ord(c) < 32 and c not in "\n\t" for c in v):
        raise _bad("body", name, "control characters are not allowed", "control_chars")
    return v


def _parse_message(body: Any, max_chars: int) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _bad("body", "body", "must be a JSON object", "dict_type")
    out = {"station_id": _text(body, "station_id", 64), "topic": _text(body, "topic", 50) or "",
           "sector": _text(body, "sector", 50), "text": _text(body, "text", max_chars, required=True),
           "phone": _text(body, "phone", 20)}
    if out["phone"] is not None and not PHONE_RE.fullmatch(out["phone"]):
        raise _bad("body", "phone", "digits, spaces, + - ( ) only, 5-20 characters", "bad_phone")
    for name, lo, hi in (("lon", -180, 180), ("lat", -90, 90)):
        v = body.get(name)
        if v is None:
            out[name] = None
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (lo <= float(v) <= hi):
            raise _bad("body", name, f"must be a number between {lo} and {hi}", "between", lo=lo, hi=hi)
        out[name] = float(v)
    if out["station_id"] is None and (out["lon"] is None or out["lat"] is None):
        raise _bad("body", "station_id", "give station_id, or lon and lat", "station_or_lonlat")
    return out


def _limited(wait: int | None, code: str, key: str) -> None:
    if wait is not None:
        raise ProblemError(429, message(key, "en", wait=wait), code=code, detail_zh=message(key, "zh", wait=wait),
                           headers={"Retry-After": str(wait)}, retry_after_s=wait)


@router.post("/v1/datasets/{dataset_id}/messages", status_code=201, summary="Leave a message (anyone): 201 "
                                                                            "with a ticket")
async def leave_message(request: Request, dataset_id: str):
    """Store and route one message; the answer holds the ``ticket`` to follow it by."""
    entry = await _entry(request, dataset_id)
    settings = request.app.state.settings
    sender = _sender(request)
    by_address, by_station = M.limiters(request)
    _limited(by_address.hit(sender), "too-many-messages", "msg_rate_address")  # before any work
    raw = await read_body_limited(request, MAX_MESSAGE_BODY)
    try:
        body = loads(raw)
    except ValueError:
        raise ProblemError(400, "body is not valid JSON", code="invalid-json") from None
    m = _parse_message(body, settings.message_max_chars)
    now = M.clock(request)

    def work() -> MessageRecord:
        ctx = M.context(request, entry)
        ix = ctx.index
        if m["station_id"] is not None:
            if m["station_id"] not in ix.s_pos:
                raise _bad("body", "station_id", f"no station '{m['station_id']}' in dataset '{dataset_id}'",
                           "not_in_dataset")
            pt = ix.station_lonlat(m["station_id"])
        else:
            pt = (m["lon"], m["lat"])
        row, _ = ix.village_at(*pt) if pt is not None else (None, None)
        village = ix.village(row) if row is not None else None
        place = m["station_id"] or (village or {}).get("id") or "-"
        _limited(by_station.hit(f"{dataset_id}|{place}"), "too-many-messages-here", "msg_rate_station")
        ms = M.messages_store(request)
        cands = candidates(ix, station_id=m["station_id"], village_row=row, sector=m["sector"], duty=ctx.duty,
                           today=now.date())
        routed = route([cands], ms.open_counts(dataset_id), load_m=settings.message_load_m).routed[0]
        stamp = now.astimezone(dt.UTC).isoformat(timespec="seconds")
        hist = [{"status": "received", "at": stamp}]
        rec = MessageRecord(dataset_id=dataset_id, text=m["text"], topic=m["topic"], sector=m["sector"],
                            station_id=m["station_id"], village_id=(village or {}).get("id"),
                            township_id=(village or {}).get("township_id"), lon=m["lon"], lat=m["lat"],
                            phone=m["phone"], sender=sender, created_at=stamp, day=stamp[:10], reason=routed.reason)
        if routed.member_id is not None:
            rec.status, rec.member_id, rec.group_id, rec.assigned_at = "assigned", routed.member_id, routed.group_id, stamp
            hist.append({"status": "assigned", "at": stamp, "member_id": routed.member_id, "by": "routing"})
        rec.history = hist
        caps = (settings.messages_open_per_station_day, settings.messages_open_per_dataset_day)
        if ms.add_capped(rec, *caps) is None:
            raise ProblemError(429, message("msg_station_full"), code="station-full", headers={"Retry-After": "3600"},
                               retry_after_s=3600)
        return rec

    rec = await run_in_threadpool(work)
    view = M.ticket_view(rec)
    return FastJSONResponse({**view, "links": [{"rel": "status", "href": f"/v1/messages/{rec.ticket}"}]},
                            status_code=201, headers={"Location": f"/v1/messages/{rec.ticket}"})


@router.get("/v1/messages/{ticket}", summary="A message's status by its ticket (anyone holding it)")
def message_status(request: Request, ticket: str, lang: Lang = "zh"):
    """Status, step times, escalation and the answer; never the text's sender, phone or member's home."""
    if not re.fullmatch(r"[A-Z0-9]{6,16}", ticket.upper()):
        raise _bad("path", "ticket", "6-16 letters or digits", "bad_ticket")
    try:
        rec = M.messages_store(request).by_ticket(ticket.upper())
    except NotFound:
        raise ProblemError(404, "no message with this ticket", code="message-not-found") from None
    return FastJSONResponse(M.ticket_view(rec, lang), headers={"Cache-Control": "no-store"})


def _listed(request: Request, entry: DatasetEntry, who: Principal, *, statuses=None, member=None, month=None,
            limit: int = 1000) -> tuple[list[MessageRecord], dt.datetime, Any]:
    now = M.clock(request)
    ix = M.responsibility_index(entry)
    ms = M.messages_store(request)
    M.apply_escalations(ms, entry.info.id, ix, now, request.app.state.settings.message_escalate_days)
    since = until = None
    if month:
        y, mo = int(month[:4]), int(month[5:7])
        since = f"{y:04d}-{mo:02d}-01"
        until = f"{y + (mo == 12):04d}-{mo % 12 + 1:02d}-01"
    recs = ms.list(entry.info.id, statuses=statuses, member_id=member, since=since, until=until, limit=limit)
    if who.role == "member":
        conv = M.conveners_of(ix)
        recs = [r for r in recs if M.may_handle(who, r, conv)]
    return recs, now, ix


Month = Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")]


@router.get("/v1/datasets/{dataset_id}/messages", summary="Messages (viewer; a member: their own queue)")
def list_messages(request: Request, entry: DatasetEntry = Depends(dataset_entry), who: Principal = Depends(viewer),
                  status: Annotated[list[Literal[STATUSES]] | None, Query()] = None,  # type: ignore[valid-type]
                  open: Annotated[bool, Query(description="only open messages")] = False,
                  only_overdue: Annotated[bool, Query(alias="overdue", description="only overdue ones")] = False,
                  member: Annotated[str | None, Query(max_length=64)] = None, month: Month = None,
                  limit: Annotated[int, Query(ge=1, le=5000)] = 500, lang: Lang = "zh"):
    statuses = list(status or []) or (list(OPEN_STATUSES) if open else None)
    recs, now, ix = _listed(request, entry, who, statuses=statuses, member=member, month=month, limit=limit)
    days = request.app.state.settings.message_escalate_days
    rows = [M.message_view(r, who, ix, now, days, lang) for r in recs]
    if only_overdue:
        rows = [r for r in rows if r["overdue"]]
    return FastJSONResponse({"dataset_id": entry.info.id, "count": len(rows), "messages": rows},
                            headers={"Cache-Control": "no-store"})


@router.post("/v1/datasets/{dataset_id}/messages/{message_id}", summary="Move a message along, answer it, "
                                                                        "reassign it")
async def update_message(request: Request, message_id: str, entry: DatasetEntry = Depends(dataset_entry),
                         who: Principal = Depends(viewer)):
    """Body: ``status`` (the next step), ``answer`` (needed for 已答复), ``member_id`` (staff: reassign)."""
    raw = await read_body_limited(request, MAX_MESSAGE_BODY)
    try:
        body = loads(raw)
    except ValueError:
        raise ProblemError(400, "body is not valid JSON", code="invalid-json") from None
    if not isinstance(body, dict):
        raise _bad("body", "body", "must be a JSON object", "dict_type")
    settings = request.app.state.settings
    status = body.get("status")
    answer = _text(body, "answer", settings.message_max_chars)
    member = _text(body, "member_id", 64)

    def work() -> dict[str, Any]:
        ms = M.messages_store(request)
        try:
            rec = ms.get(message_id)
        except NotFound:
            raise ProblemError(404, f"no message '{message_id}'", code="message-not-found") from None
        if rec.dataset_id != entry.info.id:
            raise ProblemError(404, f"no message '{message_id}'", code="message-not-found")
        ix = M.responsibility_index(entry)
        if not M.may_handle(who, rec, M.conveners_of(ix)):
            raise ProblemError(403, "only the assigned member, the group's convener (escalated) or staff may handle "
                                    "this message", code="forbidden")
        fields = _step(rec, status, answer, member, who, ix, M.clock(request))
        rec = ms.update(rec.id, **fields)
        return M.message_view(rec, who, ix, M.clock(request), settings.message_escalate_days)

    return FastJSONResponse(await run_in_threadpool(work))


def _step(rec: MessageRecord, status: Any, answer: str | None, member: str | None, who: Principal, ix,
          now: dt.datetime) -> dict[str, Any]:
    stamp = now.astimezone(dt.UTC).isoformat(timespec="seconds")
    if status is None:
        status = "assigned" if member else ("answered" if answer else None)
    if status not in STATUSES:
        raise _bad("body", "status", f"one of {', '.join(STATUSES)}", "literal_error", expected=", ".join(STATUSES))
    if status not in NEXT_STATUS[rec.status]:
        raise ProblemError(409, f"a message that is {rec.status} cannot become {status}", code="invalid-transition",
                           status_now=rec.status)
    step: dict[str, Any] = {"status": status, "at": stamp, "by": who.member_id or who.role}
    fields: dict[str, Any] = {"status": status}
    if status == "assigned":
        if not who.sees_personal:
            raise ProblemError(403, "only staff may reassign a message", code="forbidden")
        if member is None or ix.member_row(member) is None:
            raise _bad("body", "member_id", f"no member '{member}'", "unknown_member")
        g = ix.member_public(ix.member_row(member))["group_id"]
        fields |= {"member_id": member, "group_id": g, "assigned_at": stamp, "escalation": 0,
                   "reason": {"basis": "staff", "by": who.role}}
        step["member_id"] = member
    elif status == "in_progress":
        fields["started_at"] = stamp
    elif status == "answered":
        if not answer:
            raise _bad("body", "answer", "an answer is needed to mark a message answered", "answer_needed")
        fields |= {"answered_at": stamp, "answer": answer}
    elif status == "closed":
        fields["closed_at"] = stamp
        if answer:
            fields["answer"] = answer
    fields["history"] = [*rec.history, step]
    return fields


@router.get("/v1/datasets/{dataset_id}/messages/summary", summary="Open and overdue messages by township, "
                                                                  "sector and member (viewer)")
def messages_summary(request: Request, entry: DatasetEntry = Depends(dataset_entry), who: Principal = Depends(viewer),
                     month: Month = None, lang: Lang = "zh"):
    recs, now, ix = _listed(request, entry, who, month=month, limit=100_000)
    return FastJSONResponse({"dataset_id": entry.info.id, "month": month,
                             **summary(recs, ix, now, request.app.state.settings.message_escalate_days, lang)})


@router.get("/v1/datasets/{dataset_id}/messages.geojson", summary="Where messages come from (viewer): points, "
                                                                  "open and overdue flags, no text")
def messages_geojson(request: Request, entry: DatasetEntry = Depends(dataset_entry), who: Principal = Depends(viewer),
                     month: Month = None):
    recs, now, ix = _listed(request, entry, who, month=month, limit=100_000)
    days = request.app.state.settings.message_escalate_days
    feats = []
    for r in recs:
        pt = _point(r, ix)
        if pt is None:
            continue
        feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": list(pt)},
                      "properties": {"id": r.id, "status": r.status, "open": r.is_open,
                                     "overdue": overdue(r, now, days),
                                     "sector": r.sector, "township_id": r.township_id, "station_id": r.station_id,
                                     "created_at": r.created_at}})
    return GeoJSONResponse({"type": "FeatureCollection", "features": feats})


def _point(r: MessageRecord, ix) -> tuple[float, float] | None:
    if r.lon is not None and r.lat is not None:  # about 100 m: where the sender stood may be their home
        return (round(r.lon, 3), round(r.lat, 3))
    if r.station_id and r.station_id in ix.s_pos:
        return ix.station_lonlat(r.station_id)
    vr = ix.v_pos.get(r.village_id or "")
    if vr is not None:
        v = ix.village(vr)
        return None if v["lon"] is None else (v["lon"], v["lat"])
    return None


@router.get("/v1/datasets/{dataset_id}/maps/messages", summary="The map of where messages come from and what is "
                                                            "unanswered (viewer)",
            responses={200: {"content": {"text/html": {}}}})
def messages_map_page(request: Request, entry: DatasetEntry = Depends(dataset_entry),
                      who: Principal = Depends(viewer), month: Month = None, lang: Lang = "zh",
                      tiles: Annotated[Literal["osm", "gaode", "gaode_satellite", "none"], Query()] = "osm"):
    recs, now, ix = _listed(request, entry, who, month=month, limit=100_000)
    days = request.app.state.settings.message_escalate_days
    points = []
    for r in recs:
        pt = _point(r, ix)
        if pt is None:
            continue
        state = "overdue" if overdue(r, now, days) else ("open" if r.is_open else "done")
        points.append({"lon": pt[0], "lat": pt[1], "state": state, "status": r.status, "sector": r.sector,
                       "township": ix.townships.get(r.township_id or ""), "created_at": r.created_at})
    fm = messages_map(entry.ds, points, lang=lang, tiles=tiles)
    html = fm.get_root().render()
    return html_response(html, csp=content_security_policy(html, img_hosts=tile_hosts(fm)))


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/v1/datasets/{dataset_id}/messages.xlsx", summary="The monthly workbook of messages (planner)")
def messages_xlsx(request: Request, entry: DatasetEntry = Depends(dataset_entry), who: Principal = Depends(planner),
                  month: Month = None, lang: Lang = "zh"):
    now = M.clock(request)
    month = month or f"{now.year:04d}-{now.month:02d}"
    recs, now, ix = _listed(request, entry, who, month=month, limit=100_000)
    data = monthly_workbook(recs, ix, now, request.app.state.settings.message_escalate_days, lang,
                            title=f"{entry.info.id} {month}")
    return Response(data, media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="messages-{entry.info.id}-{month}.xlsx"'})


@router.get("/v1/datasets/{dataset_id}/messages/handoff.csv", summary="Escalated messages to hand to 12345 "
                                                                      "(planner)")
def messages_handoff(request: Request, entry: DatasetEntry = Depends(dataset_entry), who: Principal = Depends(planner),
                     level: Annotated[int, Query(ge=0, le=2, description="least escalation level")] = 2,
                     lang: Lang = "zh"):
    recs, now, ix = _listed(request, entry, who, statuses=list(OPEN_STATUSES), limit=100_000)
    data = handoff_csv([r for r in recs if r.escalation >= level], ix, now,
                       request.app.state.settings.message_escalate_days, lang)
    return Response(data, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="12345-{entry.info.id}.csv"'})
