"""Optimisation jobs (OGC API - Processes style): submit, poll, cancel, results, diff."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from starlette.responses import Response

from geo_service.core.glossary import job_failure_text, job_message_text, job_status_text, result_labels
from geo_service.core.store import JobRecord, NotFound, Store
from solvers.pipeline import diff_results

from .. import results as res
from ..auth import Principal, planner, viewer
from ..cache import DatasetCache
from ..deps import check_previous_job, check_road_mode, DATASET_ID_PATTERN, dataset_entry, get_cache, get_jobs, get_store, public_url
from ..encoding import FastJSONResponse, GeoJSONResponse
from ..jobs import JobManager
from ..ledger_access import implementation_tables
from ..problems import ProblemError
from ..schemas import JobList, JobOut, OptimisationRequest, ProblemDetail

log = logging.getLogger("geo_service.api.jobs")
router = APIRouter(tags=["optimisation jobs"])
_ERR = {k: {"model": ProblemDetail} for k in (400, 401, 403, 404, 409, 422, 503)}
JobId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="job id")]


Lang = Annotated[Literal["zh", "en"], Query(description="language of status_text and message_text")]


def job_out(request: Request, job: JobRecord, lang: str = "zh") -> dict[str, Any]:
    base = public_url(request, f"/v1/jobs/{job.id}")  # never from the Host header
    links = [{"href": base, "rel": "self", "type": "application/json"}]
    if job.status == "successful" and job.kind == "roster":  # the roster's own files
        links += [{"href": f"{base}/roster?format={f}", "rel": "results", "type": t, "title": f}
                  for f, t in ROSTER_FORMATS]
    elif job.status == "successful" and job.kind == "review":  # the yearly review's scores and workbook
        links += [{"href": f"{base}/review?format={f}", "rel": "results", "type": t, "title": f}
                  for f, t in (("json", "application/json"), ("xlsx", XLSX))]
    elif job.status == "successful":
        links += [{"href": f"{base}/results?format={f}", "rel": "results", "type": t, "title": f}
                  for f, t in (("json", "application/json"), ("csv", "application/zip"),
                               ("xlsx", XLSX), ("geojson", "application/geo+json"))]
    d = job.to_dict()
    res = d.pop("result", None) or {}
    # the run's outcome in words (optimal / feasible / infeasible / nothing_to_do + first diagnosis)
    d["outcome"] = res.get("outcome") or (res.get("optimisation") or {}).get("outcome") if isinstance(res, dict) \
        else None
    # status and message in words for people (glossary); ``status``/``message`` stay machine-readable
    d["status_text"] = job_status_text(job.status, lang)
    d["message_text"] = (job_failure_text(job.error, lang) if job.status == "failed" else None) or \
        job_message_text(job.message, job.status, d["outcome"], lang)
    # OGC API - Processes status info members (the job's process is its kind, with '-')
    d.update(jobID=job.id, type="process", processID=job.kind.replace("_", "-"))
    return {**d, "links": links}


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: a roster job's files (``GET /v1/jobs/{id}/roster?format=``)
ROSTER_FORMATS = (("json", "application/json"), ("xlsx", XLSX), ("csv", "text/csv"),
                  ("ics", "text/calendar"), ("geojson", "application/geo+json"))


def _job(store: Store, job_id: str) -> JobRecord:
    try:
        return store.get_job(job_id)
    except NotFound:
        raise ProblemError(404, f"no job '{job_id}'", code="job-not-found", job_id=job_id) from None


@router.post("/v1/datasets/{dataset_id}/optimisations", status_code=202, response_model=JobOut,
             summary="Start an optimisation run (planner): 202 with the job", responses=_ERR)
def start_optimisation(request: Request, entry=Depends(dataset_entry),
                       body: Annotated[OptimisationRequest | None, Body()] = None,
                       store: Store = Depends(get_store), jobs: JobManager = Depends(get_jobs),
                       _: Principal = Depends(planner)):
    """Queue a run over the dataset's current version; poll ``Location`` for status and progress."""
    params = (body or OptimisationRequest()).model_dump(mode="json", exclude_unset=True)
    prev_id = params.get("previous_job_id")
    if params.get("minimal_change") and not prev_id:
        raise ProblemError(422, "minimal_change needs previous_job_id (the run to stay close to)",
                           code="invalid-parameters",
                           errors=[{"in": "body", "field": "previous_job_id", "message": "required with "
                                    "minimal_change", "code": "missing"}])
    if prev_id:
        check_previous_job(store, prev_id, entry.info.id, "optimisation")
    check_road_mode(entry, params)
    params["dataset_version"] = entry.info.version
    job = jobs.submit(entry.info.id, "optimisation", params)  # QueueFull: 503 (api.problems.ERROR_TABLE)
    body_out = job_out(request, job)
    return FastJSONResponse(body_out, status_code=202, headers={"Location": body_out["links"][0]["href"]})


@router.get("/v1/jobs", response_model=JobList, summary="Recent jobs, newest first", responses=_ERR)
def list_jobs(request: Request, store: Store = Depends(get_store), _: Principal = Depends(viewer),
              dataset: Annotated[str | None, Query(pattern=DATASET_ID_PATTERN, max_length=64)] = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100, lang: Lang = "zh"):
    return FastJSONResponse({"jobs": [job_out(request, j, lang) for j in store.list_jobs(dataset, limit=limit)]})


@router.get("/v1/jobs/{job_id}", name="get_job", response_model=JobOut, summary="Job status and progress",
            responses=_ERR)
def get_job(request: Request, job_id: JobId, store: Store = Depends(get_store), _: Principal = Depends(viewer),
            lang: Lang = "zh"):
    job = _job(store, job_id)
    headers = {"Retry-After": "2"} if job.status in ("accepted", "running") else None
    return FastJSONResponse(job_out(request, job, lang), headers=headers)


@router.delete("/v1/jobs/{job_id}", response_model=JobOut, summary="Cancel a job (planner): dismissed",
               responses=_ERR)
def cancel_job(request: Request, job_id: JobId, store: Store = Depends(get_store),
               jobs: JobManager = Depends(get_jobs), _: Principal = Depends(planner)):
    _job(store, job_id)
    return FastJSONResponse(job_out(request, jobs.cancel(job_id)))


def _finished(store: Store, job_id: str) -> JobRecord:
    job = _job(store, job_id)
    if job.status != "successful" or job.result is None:
        raise ProblemError(409, f"job '{job_id}' has no result: it is {job.status}"
                           + (f" ({job.message})" if job.message else ""), code="result-not-ready",
                           job_id=job_id, job_status=job.status)
    return job


@router.get("/v1/jobs/{job_id}/results", summary="Results as JSON, CSV, XLSX or GeoJSON (planner)",
            responses={**_ERR, 200: {"content": {"application/json": {}, "text/csv": {}, "application/zip": {},
                                                 XLSX: {}, "application/geo+json": {}}}})
def job_results(job_id: JobId, store: Store = Depends(get_store), cache: DatasetCache = Depends(get_cache),
                who: Principal = Depends(planner),
                format: Annotated[Literal["json", "csv", "xlsx", "geojson"], Query()] = "json",
                table: Annotated[str | None, Query(max_length=64, description="one table (json, csv, geojson): "
                                                   "responsibility (界别责任区一览表), members, groups, "
                                                   "committees, stations, constituents, uncovered, summary")] = None,
                lang: Annotated[Literal["zh", "en"] | None, Query(description="column headers (default: zh for "
                                                                  "csv/xlsx, en for json/geojson)")] = None,
                ledger_period: Annotated[str | None, Query(max_length=40, description="xlsx: add the 落实情况 "
                                                           "sheets of this period (2027, 2027-Q1, 2027-03), the "
                                                           "ledger against this run's links")] = None):
    """``json``: the full result (or one table's rows with ``table=``); ``csv``: a zip of tables (or one
    table); ``xlsx``: a workbook with a sheet per table; ``geojson``: one table's rows placed on the map
    (default table: responsibility). Tables are built on the job's dataset; when it changed since the
    run, ``X-Dataset-Changed: true`` says so."""
    job = _finished(store, job_id)
    if format == "json" and table is None:  # machine keys stay English; ``labels`` gives the words in lang
        body = {"job_id": job.id, "dataset_id": job.dataset_id, "result": job.result}
        if job.kind == "optimisation" and isinstance(job.result, dict):
            body["labels"] = result_labels(job.result, lang or "zh")
        return FastJSONResponse(body)
    try:
        entry = cache.get(job.dataset_id)
    except (NotFound, ValueError):
        raise ProblemError(409, f"dataset '{job.dataset_id}' of this job no longer exists, so its tables "
                                "cannot be built; format=json still gives the raw result",
                           code="dataset-not-found", dataset_id=job.dataset_id) from None
    lang = lang or ("zh" if format in ("csv", "xlsx") else "en")
    tables = res.result_tables(job.kind, job.result, entry.ds, lang=lang)
    if not who.sees_personal:  # pragma: no cover - results need planner today; kept as a guard
        tables = res.strip_personal(tables)
    if table is not None and table not in tables:
        raise ProblemError(404, f"no table '{table}' (tables: {', '.join(tables)})", code="table-not-found",
                           field="table")
    changed = job.result.get("dataset_fingerprint") not in (None, "", entry.info.fingerprint)
    headers = {"X-Dataset-Changed": "true" if changed else "false"}
    fname = f"job-{job.id[:8]}"
    if format == "json":
        return FastJSONResponse({"job_id": job.id, "table": table, "dataset_changed": changed,
                                 "rows": res.records(tables[table])}, headers=headers)
    if format == "csv":
        if table is not None:
            headers["Content-Disposition"] = f'attachment; filename="{fname}-{table}.csv"'
            return Response(res.to_csv(tables[table]), media_type="text/csv; charset=utf-8", headers=headers)
        headers["Content-Disposition"] = f'attachment; filename="{fname}-csv.zip"'
        return Response(res.to_csv_zip(tables), media_type="application/zip", headers=headers)
    if format == "xlsx":
        headers["Content-Disposition"] = f'attachment; filename="{fname}.xlsx"'
        if ledger_period and job.kind == "optimisation":  # the 一览表 with what happened (落实情况)
            tables = {**tables, **implementation_tables(store, entry.ds, job.dataset_id, job.result, ledger_period)}
        return Response(res.to_xlsx(tables, lang=lang, notes=res.notes(job.kind, job.result, entry.ds, lang)), media_type=XLSX, headers=headers)
    name = table or ("responsibility" if "responsibility" in tables else next(iter(tables), None))
    if name is None:
        return GeoJSONResponse({"type": "FeatureCollection", "features": []}, headers=headers)
    return GeoJSONResponse(res.to_geojson(entry.ds, tables[name], name), headers=headers)


@router.get("/v1/jobs/{job_id}/diff", summary="What changed between two runs (planner)", responses=_ERR)
def job_diff(job_id: JobId, against: Annotated[str, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$",
                                                          description="the earlier job id")],
             store: Store = Depends(get_store), _: Principal = Depends(planner)):
    """Rows whose assignment changed from ``against`` to this job: tier, id, previous, new, reason;
    with counts per tier and reason."""
    new = _finished(store, job_id)
    old = _finished(store, against)
    if new.kind != "optimisation" or old.kind != "optimisation":
        raise ProblemError(422, "diff compares two optimisation jobs", code="invalid-parameters")
    d = diff_results(old.result, new.result)
    counts: dict[str, dict[str, int]] = {}
    for tier, reason in zip(d["tier"], d["reason"]):
        counts.setdefault(tier, {}).setdefault(reason, 0)
        counts[tier][reason] += 1
    return FastJSONResponse({"job_id": job_id, "against": against, "changed": len(d), "counts": counts,
                             "rows": res.records(d)})
