"""Coverage that happened, members' progress, a member's own view and the yearly review over HTTP.

- ``GET /v1/datasets/{id}/ledger/coverage?period=2027-Q1`` (viewer: counts and villages' last
  contact; planner: also who was not reached and every planned link; member: their own links),
  ``format=xlsx`` the 落实情况 workbook (planner);
- ``GET /v1/datasets/{id}/ledger/progress?period=2027`` against the quotas (query parameters
  override the defaults): planner all members, member their own, viewer how many met each quota;
- ``GET /v1/datasets/{id}/members/me``: a member's constituents with contact details, duties and
  consultations (planner: ``member_id=``);
- ``GET /v1/datasets/{id}/maps/ledger``: the map 联系落实情况 (viewer);
- ``POST /v1/datasets/{id}/reviews`` (planner): the yearly review as a job (202); ``GET
  /v1/jobs/{job}/review?format=json|xlsx``: scores with their ledger rows, the print-ready workbook.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from geo_service.core.errors import invalid_from_validation
from geo_service.core.io.sheets import xlsx_bytes
from geo_service.core.ledger_coverage import (
    Quotas,
    actual_coverage,
    coverage_tables,
    member_progress,
)
from geo_service.core.store import NotFound, Store
from maps.ledger import ledger_map
from maps.render import tile_hosts
from solvers.ledger_plan import ledger_plan
from solvers.pipeline import OptimisationParams
from solvers.review import ReviewParams, review_notes, review_tables

from ..auth import Principal, planner, principal, viewer
from ..cache import DatasetEntry
from ..deps import check_previous_job, dataset_entry, get_jobs, get_store
from ..encoding import FastJSONResponse
from ..html import content_security_policy, html_response
from ..jobs import JobManager
from ..ledger_access import LEDGER_COLUMNS, member_view, period_or_422, planned_links, scope_member
from ..problems import ProblemError
from ..schemas import ProblemDetail
from .jobs import XLSX, JobId, job_out

router = APIRouter(tags=["ledger"])
_ERR = {k: {"model": ProblemDetail} for k in (400, 401, 403, 404, 409, 422, 503)}
Period = Annotated[str, Query(max_length=40, description="2027, 2027-Q2, 2027-03 or 2027-01-01~2027-06-30")]
Lang = Annotated[Literal["zh", "en"], Query()]


def _period(period: str | None) -> tuple[str, str]:
    """First and last day of a required ``period`` (422 naming it when blank or bad)."""
    if period is None or not str(period).strip():
        raise ProblemError(422, "period is required: 2027, 2027-Q2, 2027-03 or 2027-01-01~2027-06-30",
                           code="invalid-parameters",
                           errors=[{"in": "query", "field": "period", "message": "required", "code": "missing"}])
    return period_or_422(period, None, None)


def _coverage(store: Store, entry: DatasetEntry, period: str) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    start, end = _period(period)
    acts = store.ledger().frame(entry.info.id, end=end, columns=LEDGER_COLUMNS)
    links = planned_links(store, entry.info.id)
    return actual_coverage(entry.ds, acts, start, end, links), acts, links


def _public(cov: dict[str, Any], who: Principal) -> dict[str, Any]:
    """What ``who`` may see of a coverage answer (lists of people only for planner; a member's links)."""
    if who.allows("planner"):
        return cov
    out = {**cov, "not_reached": {k: v for k, v in cov["not_reached"].items() if k != "constituents"}}
    links = {k: v for k, v in cov["links"].items() if k != "items"}
    if who.role == "member":
        links["items"] = [x for x in cov["links"]["items"] if x["member_id"] == who.member_id]
    out["links"] = links
    return out


@router.get("/v1/datasets/{dataset_id}/ledger/coverage", responses={**_ERR, 200: {"content": {XLSX: {}}}},
            summary="Coverage that happened in a period: planned links reached, who and where nobody reached")
def ledger_coverage(period: Period, entry: DatasetEntry = Depends(dataset_entry), store: Store = Depends(get_store),
                    who: Principal = Depends(viewer), format: Annotated[Literal["json", "xlsx"], Query()] = "json",
                    lang: Lang = "zh"):
    """Links with/without a contact, constituents/villages/contact points/townships/sectors not
    reached, days since each village's last contact; ``xlsx``: the 落实情况 workbook (planner)."""
    cov, acts, _ = _coverage(store, entry, period)
    if format == "xlsx":
        if not who.allows("planner"):
            raise ProblemError(403, "the 落实情况 workbook lists people: role 'planner' is required",
                               code="forbidden", required_role="planner", role=who.role)
        members = entry.ds.layers.get("members")
        ids = members["id"].astype(str).tolist() if members is not None else []
        prog = member_progress(acts, ids, cov["period"]["start"], cov["period"]["end"])
        data = xlsx_bytes(coverage_tables(cov, prog), lang, title=entry.info.id,
                          notes={"dataset": entry.info.id, "version": entry.info.version,
                                 "ledger_period": f"{cov['period']['start']}~{cov['period']['end']}"})
        return Response(data, media_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="implementation-{entry.info.id}.xlsx"'})
    return FastJSONResponse({"dataset_id": entry.info.id, **_public(cov, who)})


def _quotas(constituents: int | None, people_per_year: int | None, receptions_per_month: int | None,
            consultations_per_quarter: int | None, opinions_per_year: int | None) -> Quotas:
    given = {k: v for k, v in {"constituents": constituents, "people_per_year": people_per_year,
                               "receptions_per_month": receptions_per_month,
                               "consultations_per_quarter": consultations_per_quarter,
                               "opinions_per_year": opinions_per_year}.items() if v is not None}
    return Quotas(**given)


QuotaQ = Annotated[int | None, Query(ge=0, le=100_000)]


@router.get("/v1/datasets/{dataset_id}/ledger/progress", responses=_ERR,
            summary="Each member's progress against the quotas (planner: all; member: own; viewer: totals)")
def ledger_progress(period: Period, entry: DatasetEntry = Depends(dataset_entry), store: Store = Depends(get_store),
                    who: Principal = Depends(viewer), constituents: QuotaQ = None, people_per_year: QuotaQ = None,
                    receptions_per_month: QuotaQ = None, consultations_per_quarter: QuotaQ = None,
                    opinions_per_year: QuotaQ = None):
    """Quotas default to the practice (10 constituents, 40 人次 a year, 每月接待 1 次, 一季一协商, one
    社情民意 a year), prorated to the period."""
    start, end = _period(period)
    q = _quotas(constituents, people_per_year, receptions_per_month, consultations_per_quarter, opinions_per_year)
    members = entry.ds.layers.get("members")
    ids = members["id"].astype(str).tolist() if members is not None else []
    if who.role == "member":
        ids = [who.member_id]
    acts = store.ledger().frame(entry.info.id, start=start, end=end, member_id=who.member_id,
                                columns=LEDGER_COLUMNS)
    prog = member_progress(acts, ids, start, end, q)
    body: dict[str, Any] = {"dataset_id": entry.info.id, "period": {"start": start, "end": end},
                            "quotas": q.targets(start, end)}
    body["met"] = {k: sum(1 for p in prog if p[k]["met"]) for k in body["quotas"]}
    body["members_total"] = len(prog)
    if who.allows("planner") or who.role == "member":
        body["members"] = prog
    return FastJSONResponse(body)


@router.get("/v1/datasets/{dataset_id}/members/me", responses=_ERR,
            summary="A member's constituents with contact details, duties and consultations")
def my_view(entry: DatasetEntry = Depends(dataset_entry), store: Store = Depends(get_store),
            who: Principal = Depends(principal),
            member_id: Annotated[str | None, Query(max_length=64, description="planner: whose view")] = None):
    member = scope_member(who, member_id)
    if member is None:
        raise ProblemError(422, "member_id is required for a planner", code="invalid-parameters",
                           errors=[{"in": "query", "field": "member_id", "message": "required", "code": "missing"}])
    return FastJSONResponse({"dataset_id": entry.info.id, **member_view(store, entry.ds, entry.info.id, member)})


@router.get("/v1/datasets/{dataset_id}/maps/ledger", response_class=HTMLResponse, responses=_ERR,
            summary="The map 联系落实情况: planned zones against villages by days since their last contact")
def ledger_map_page(period: Period, entry: DatasetEntry = Depends(dataset_entry), store: Store = Depends(get_store),
                    _: Principal = Depends(viewer), lang: Lang = "zh",
                    tiles: Annotated[Literal["osm", "gaode", "none"], Query()] = "osm"):
    cov, _acts, links = _coverage(store, entry, period)
    members = entry.ds.layers.get("members")
    names = dict(zip(members["id"].astype(str), members["name"].astype(str), strict=True)) \
        if members is not None and len(members) else {}
    fm = ledger_map(entry.ds, cov, links, names=names, lang=lang, tiles=tiles)
    html = fm.get_root().render()
    return html_response(html, csp=content_security_policy(html, img_hosts=tile_hosts(fm)))


@router.post("/v1/datasets/{dataset_id}/reviews", status_code=202, responses=_ERR,
             summary="Start the yearly review (一年一考评) of a year's ledger (planner): 202 with the job")
def start_review(request: Request, body: Annotated[ReviewParams, Body()], entry: DatasetEntry = Depends(dataset_entry),
                 jobs: JobManager = Depends(get_jobs), _: Principal = Depends(planner)):
    params = {**body.model_dump(mode="json"), "dataset_version": entry.info.version}
    job = jobs.submit(entry.info.id, "review", params)  # QueueFull: 503 with Retry-After (api.problems)
    out = job_out(request, job)
    return FastJSONResponse(out, status_code=202, headers={"Location": out["links"][0]["href"]})


class ReplanRequest(BaseModel):
    """A ledger-aware re-run of the assignment: ``previous_job_id`` (the plan), ``period`` (the
    ledger it is judged on) and optional optimisation ``params``."""

    model_config = ConfigDict(extra="forbid")
    previous_job_id: str = Field(..., max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    period: str = Field(..., max_length=40, description="2027, 2027-Q2, 2027-03 or a range")
    params: dict[str, Any] = Field(default_factory=dict, description="optimisation parameters (quotas, tiers, ...)")


@router.post("/v1/datasets/{dataset_id}/ledger/replan", status_code=202, responses=_ERR,
             summary="Re-run the assignment with the ledger (planner): keep links that work, move constituents "
                     "nobody reached")
def replan(request: Request, body: Annotated[ReplanRequest, Body()], entry: DatasetEntry = Depends(dataset_entry),
           store: Store = Depends(get_store), jobs: JobManager = Depends(get_jobs), _: Principal = Depends(planner)):
    """Links with a contact in ``period`` are locked to their member; links without one are locked
    to the nearest other member of the sector with room; the rest stays close to the previous run
    (minimal change). The job's minimal-change report says ``ledger_unreached`` for every move."""
    try:
        given = OptimisationParams.model_validate({k: v for k, v in body.params.items() if k != "locks"})
    except ValueError as e:  # pydantic's ValidationError: the field and its reason in the errors member
        raise invalid_from_validation(e, "params") from None
    prev = check_previous_job(store, body.previous_job_id, entry.info.id, "optimisation")
    start, end = _period(body.period)
    acts = store.ledger().frame(entry.info.id, start=start, end=end, kind="contact",
                                columns=("kind", "member_id", "constituent_id", "date"))
    plan = ledger_plan(entry.ds, prev.result or {}, acts, start, end, constituents_max=given.constituents_max)
    locks = dict(body.params.get("locks") or {})
    locks["constituents"] = {**plan["locks"], **(locks.get("constituents") or {})}  # the caller's locks win
    params = {**body.params, "locks": locks, "minimal_change": True, "previous_job_id": body.previous_job_id,
              "ledger_plan": {k: plan[k] for k in ("period", "kept", "moved", "stayed")},
              "dataset_version": entry.info.version}
    job = jobs.submit(entry.info.id, "optimisation", params)  # InvalidParameter: 422, QueueFull: 503 (api.problems)
    out = job_out(request, job)
    out["ledger"] = {"kept": len(plan["kept"]), "moved": len(plan["moved"]), "stayed": len(plan["stayed"])}
    return FastJSONResponse(out, status_code=202, headers={"Location": out["links"][0]["href"]})


@router.get("/v1/jobs/{job_id}/review", responses={**_ERR, 200: {"content": {XLSX: {}}}},
            summary="A review's scores (JSON, every item with its ledger rows) or its print-ready workbook")
def review_results(job_id: JobId, store: Store = Depends(get_store), _: Principal = Depends(planner),
                   format: Annotated[Literal["json", "xlsx"], Query()] = "json", lang: Lang = "zh"):
    try:
        job = store.get_job(job_id)
    except NotFound:
        raise ProblemError(404, f"no job '{job_id}'", code="job-not-found", job_id=job_id) from None
    if job.kind != "review":
        raise ProblemError(404, f"job '{job_id}' is a {job.kind} job, not a review", code="job-not-found",
                           job_id=job_id)
    if job.status != "successful" or not job.result:
        raise ProblemError(409, f"job '{job_id}' has no review: it is {job.status}", code="result-not-ready",
                           job_id=job_id, job_status=job.status)
    if format == "xlsx":
        data = xlsx_bytes(review_tables(job.result), lang, title=f"{job.dataset_id} {job.result['year']}",
                          notes=review_notes(job.result, job.dataset_id, lang))
        return Response(data, media_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="review-{job.result["year"]}.xlsx"'})
    return FastJSONResponse({"job_id": job.id, "dataset_id": job.dataset_id, **job.result})
