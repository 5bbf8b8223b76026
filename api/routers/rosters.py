"""Duty roster jobs: start one, this month's duty, the roster's files, the duty map.

- ``POST /v1/datasets/{id}/rosters`` (planner): 202 with the job; poll ``GET /v1/jobs/{job}``,
  cancel with ``DELETE /v1/jobs/{job}`` like the optimisation runs;
- ``GET /v1/jobs/{job}/roster?format=json|xlsx|csv|ics|geojson`` (planner): the roster's files;
- ``GET /v1/datasets/{id}/rosters/current`` (viewer): this month's duty of the latest roster;
- ``GET /v1/datasets/{id}/maps/roster`` (viewer): the map "本月值班"; members' homes and the lines
  to them only for planner and above (personal data).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from geo_service.app.outputs import roster_csv_bytes, roster_ics_bytes, roster_xlsx_bytes
from geo_service.core.store import NotFound, Store
from maps.render import tile_hosts
from maps.roster import roster_map
from solvers.roster.outputs import duty_geojson, roster_summary

from .. import rosters as R
from ..auth import Principal, planner, viewer
from ..cache import DatasetEntry
from ..deps import check_previous_job, check_road_mode, dataset_entry, get_jobs, get_settings, get_store
from ..encoding import FastJSONResponse, GeoJSONResponse
from ..html import content_security_policy, html_response
from ..jobs import JobManager
from ..problems import ProblemError
from ..schemas import JobOut, ProblemDetail, RosterRequest
from ..settings import Settings
from .jobs import ROSTER_FORMATS, XLSX, JobId, job_out

router = APIRouter(tags=["duty rosters"])
_ERR = {k: {"model": ProblemDetail} for k in (400, 401, 403, 404, 409, 422, 503)}
Month = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM (default: this month "
                                                                          "if the roster covers it, else its first)")]


@router.post("/v1/datasets/{dataset_id}/rosters", status_code=202, response_model=JobOut,
             summary="Start a duty roster (planner): 202 with the job", responses=_ERR)
def start_roster(request: Request, entry=Depends(dataset_entry),
                 body: Annotated[RosterRequest | None, Body()] = None,
                 store: Store = Depends(get_store), jobs: JobManager = Depends(get_jobs),
                 _: Principal = Depends(planner)):
    """Queue a roster over the dataset's current version (一月一轮值, 委员接待日, 一季一协商). Without
    ``township_committees`` the townships' committees come from the latest optimisation run."""
    params = (body or RosterRequest()).model_dump(mode="json", exclude_unset=True)
    params.setdefault("start", (body or RosterRequest()).start)  # fixed when queued, not when run
    prev_id = params.get("previous_job_id")
    if prev_id:
        check_previous_job(store, prev_id, entry.info.id, R.KIND)
    if not params.get("township_committees"):
        found, _src = R.committees_from_latest(store, entry.info.id)
        if found:
            params["township_committees"] = found
    check_road_mode(entry, params)
    params["dataset_version"] = entry.info.version
    job = jobs.submit(entry.info.id, R.KIND, params)  # QueueFull: 503 (api.problems.ERROR_TABLE)
    out = job_out(request, job)
    return FastJSONResponse(out, status_code=202, headers={"Location": out["links"][0]["href"]})


def _roster_job(store: Store, job_id: str) -> Any:
    try:
        job = store.get_job(job_id)
    except NotFound:
        raise ProblemError(404, f"no job '{job_id}'", code="job-not-found", job_id=job_id) from None
    if job.kind != R.KIND:
        raise ProblemError(404, f"job '{job_id}' is a {job.kind} job, not a roster", code="job-not-found",
                           job_id=job_id)
    if job.status != "successful" or not job.result:
        raise ProblemError(409, f"job '{job_id}' has no roster: it is {job.status}"
                           + (f" ({job.message})" if job.message else ""), code="result-not-ready",
                           job_id=job_id, job_status=job.status)
    return job


@router.get("/v1/jobs/{job_id}/roster", summary="A roster's files: JSON, XLSX 轮值表, CSV, iCalendar, GeoJSON "
                                                "(planner)",
            responses={**_ERR, 200: {"content": {t: {} for _, t in ROSTER_FORMATS}}})
def roster_results(job_id: JobId, store: Store = Depends(get_store), who: Principal = Depends(planner),
                   format: Annotated[Literal["json", "xlsx", "csv", "ics", "geojson"], Query()] = "json",
                   month: Month = None,
                   member: Annotated[str | None, Query(max_length=64, description="ics: this member's "
                                                       "calendar only")] = None,
                   lang: Annotated[Literal["zh", "en"], Query()] = "zh"):
    """``json``: the roster (status, outcome, objective, bound, gap, duties, consultations,
    diagnostics); ``xlsx``: the 轮值表 workbook; ``csv``: one row per duty; ``ics``: a calendar (all
    duties and consultations, or ``member``'s); ``geojson``: ``month``'s duty (platforms, homes, lines)."""
    job = _roster_job(store, job_id)
    result = job.result if who.sees_personal else R.public_result(job.result)
    fname = f"roster-{job.id[:8]}"
    # a month or member not in the roster: InvalidParameter naming it, 422 (api.problems)
    if format == "json":
        return FastJSONResponse({"job_id": job.id, "dataset_id": job.dataset_id, **roster_summary(result, lang),
                                 "months": result.get("months"), "time_s": result.get("time_s")})
    if format == "xlsx":
        return Response(roster_xlsx_bytes(result, lang), media_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="{fname}.xlsx"'})
    if format == "csv":
        return Response(roster_csv_bytes(result, lang), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{fname}.csv"'})
    if format == "ics":
        return Response(roster_ics_bytes(result, member), media_type="text/calendar; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{fname}.ics"'})
    m = R.current_duty(result, month)["month"]
    fc = duty_geojson(result, m) if m else {"type": "FeatureCollection", "features": []}
    return GeoJSONResponse(fc if who.sees_personal else R.public_geojson(fc))


@router.get("/v1/datasets/{dataset_id}/rosters/current", summary="This month's duty of the latest roster (viewer)",
            responses=_ERR)
def current_roster(entry: DatasetEntry = Depends(dataset_entry), store: Store = Depends(get_store),
                   who: Principal = Depends(viewer), month: Month = None):
    """Platforms, members on duty and reception date in ``month`` of the latest successful roster;
    members' homes only for planner and above. 404 when the dataset has no roster yet."""
    job = R.latest_roster(store, entry.info.id)
    if job is None:
        raise ProblemError(404, f"dataset '{entry.info.id}' has no finished roster yet", code="no-result",
                           dataset_id=entry.info.id)
    duty = R.current_duty(job.result, month, homes=who.sees_personal)  # InvalidParameter naming month: 422
    return FastJSONResponse({"job_id": job.id, "dataset_id": entry.info.id, **duty})


@router.get("/v1/datasets/{dataset_id}/maps/roster", response_class=HTMLResponse,
            summary="The map 本月值班: this month's duty of a roster (viewer; homes for planner)",
            responses={**_ERR, 200: {"content": {"text/html": {}}}})
def roster_map_page(entry: DatasetEntry = Depends(dataset_entry), store: Store = Depends(get_store),
                    who: Principal = Depends(viewer), settings: Settings = Depends(get_settings),
                    month: Month = None,
                    job: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$",
                                                     description="the roster job (default: latest)")] = None,
                    lang: Annotated[Literal["zh", "en"], Query()] = "zh",
                    tiles: Annotated[Literal["osm", "gaode", "gaode_satellite", "tianditu", "none"], Query()] = "osm"):
    """A Leaflet page (assets from ``/static``, strict CSP): platforms with members and reception
    date; homes and lines home -> platform as layers of their own for planner and above."""
    did = entry.info.id
    tk = settings.tianditu_key or None
    if tiles == "tianditu" and not tk:
        raise ProblemError(422, "Tianditu tiles need a Tianditu key: set GEO_SERVICE_TIANDITU_KEY",
                           code="invalid-parameters")
    if job:
        rec = _roster_job(store, job)
        if rec.dataset_id != did:
            raise ProblemError(409, f"job '{job}' is a roster of dataset '{rec.dataset_id}', not '{did}'",
                               code="result-not-ready", job_id=job)
    else:
        rec = R.latest_roster(store, did)
        if rec is None:
            raise ProblemError(404, f"dataset '{did}' has no finished roster yet", code="no-result", dataset_id=did)
    homes = who.sees_personal
    result = rec.result if homes else R.public_result(rec.result)
    m = R.current_duty(result, month)["month"]  # InvalidParameter naming month: 422 (api.problems)

    def page(ds) -> tuple[str, str]:
        fm = roster_map(ds, result, month=m, homes=homes, lang=lang, tiles=tiles, tianditu_key=tk)
        html = fm.get_root().render()
        return html, content_security_policy(html, img_hosts=tile_hosts(fm))

    html, csp = entry.memo(f"web:map:roster:{rec.id}:{m}:{homes}:{lang}:{tiles}:{'tk' if tk else '-'}", page,
                           max_items=16)
    return html_response(html, csp=csp)
