"""FastAPI dependencies: settings, store, dataset cache, job manager, checked path ids, bodies.

Dependencies that do no IO are ``async def``: FastAPI runs plain ``def`` dependencies in its
thread pool, a hop that costs more than a nearest-station lookup itself.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from geo_service.core.store import JobRecord, NotFound, Store, check_dataset_id

from .auth import Principal, viewer
from .cache import DatasetCache, DatasetEntry
from .jobs import JobManager
from .problems import ProblemError
from .settings import Settings

DATASET_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_store(request: Request) -> Store:
    return request.app.state.store


async def get_cache(request: Request) -> DatasetCache:
    return request.app.state.cache


async def get_jobs(request: Request) -> JobManager:
    return request.app.state.jobs


DatasetId = Annotated[str, Path(description="dataset id: 1-64 letters, digits, '_' or '-'",
                                pattern=DATASET_ID_PATTERN, max_length=64)]


async def checked_dataset_id(dataset_id: DatasetId) -> str:
    """The path's dataset id, validated (no path tricks: ``..``, ``/``, ``%2e`` are refused)."""
    return check_dataset_id(dataset_id)  # InvalidDatasetId: 400 invalid-dataset-id (api.problems)


def dataset_entry(dataset_id: str = Depends(checked_dataset_id),
                  cache: DatasetCache = Depends(get_cache),
                  _caller: Principal = Depends(viewer)) -> DatasetEntry:
    """The cached current version of the path's dataset (404 problem when absent; may read the store,
    so it runs in the thread pool).

    The caller's key is checked first (``viewer`` or better): without a valid key an unknown and a
    known dataset answer the same 401, and no dataset is read for a caller that may not see it.
    Routes may ask for a higher role on top."""
    try:
        return cache.get(dataset_id)
    except NotFound:
        raise ProblemError(404, f"no dataset '{dataset_id}'", code="dataset-not-found",
                           dataset_id=dataset_id) from None


async def read_body_limited(request: Request, limit: int) -> bytes:
    """The request body, refusing with 413 beyond ``limit`` bytes (checked while streaming)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise ProblemError(413, f"request body of {int(declared)} bytes exceeds the limit of "
                                        f"{limit} bytes", code="body-too-large", limit_bytes=limit)
        except ValueError:
            raise ProblemError(400, "Content-Length is not a number", code="bad-content-length") from None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ProblemError(413, f"request body exceeds the limit of {limit} bytes",
                               code="body-too-large", limit_bytes=limit)
        chunks.append(chunk)
    return b"".join(chunks)


def public_url(request: Request, path: str, query: str = "") -> str:
    """The URL of ``path`` on this service for links and ``Location``: under ``public_base_url`` when
    that is set, else relative (``/v1/...`` under the ASGI root path). Never built from the request's
    ``Host`` header, which a client chooses."""
    base = request.app.state.settings.public_base_url
    prefix = base if base else request.scope.get("root_path", "").rstrip("/")
    return f"{prefix}{path}" + (f"?{query}" if query else "")


def latest_successful(store: Store, dataset_id: str) -> JobRecord | None:
    """The newest successful optimisation job of ``dataset_id`` with a result, or None."""
    for j in store.list_jobs(dataset_id, limit=50):
        if j.kind == "optimisation" and j.status == "successful" and j.result:
            return j
    return None


def finished_run(store: Store, dataset_id: str, job: str | None) -> JobRecord | None:
    """The optimisation run a map shows: job ``job`` (404 when unknown, 409 when it is not a finished
    run of ``dataset_id``) or, without ``job``, the latest successful one (None before any run)."""
    if not job:
        return latest_successful(store, dataset_id)
    try:
        rec = store.get_job(job)
    except NotFound:
        raise ProblemError(404, f"no job '{job}'", code="job-not-found", job_id=job) from None
    if rec.dataset_id != dataset_id or rec.status != "successful" or not rec.result:
        raise ProblemError(409, f"job '{job}' is not a finished run of dataset '{dataset_id}' ({rec.status})",
                           code="result-not-ready", job_id=job, job_status=rec.status)
    return rec


def check_previous_job(store: Store, job_id: str, dataset_id: str, kind: str) -> JobRecord:
    """The job a re-run starts from (``previous_job_id``): a successful ``kind`` job of
    ``dataset_id``, else 422 naming the field."""
    try:
        prev = store.get_job(job_id)
    except NotFound:
        raise ProblemError(422, f"previous_job_id '{job_id}' names no job", code="invalid-parameters",
                           errors=[{"in": "body", "field": "previous_job_id", "message": "no such job",
                                    "code": "not_found"}]) from None
    if prev.kind != kind or prev.status != "successful" or prev.dataset_id != dataset_id:
        raise ProblemError(422, f"previous job '{job_id}' must be a successful {kind} job of dataset "
                                f"'{dataset_id}' (it is a {prev.kind} job of dataset '{prev.dataset_id}', "
                                f"{prev.status})",
                           code="invalid-parameters",
                           errors=[{"in": "body", "field": "previous_job_id", "message": "not usable",
                                    "code": "bad_previous"}])
    return prev


def check_road_mode(entry: DatasetEntry, params: dict) -> None:
    """422 naming the missing layer when ``params`` ask for road mode on a dataset without roads
    (checked when a job is submitted, so the job never starts only to fail)."""
    if params.get("mode") == "road" and len(entry.ds.roads) == 0:
        msg = (f"mode=road needs the roads layer, and dataset '{entry.info.id}' has none: upload roads "
               "(roads.shp, roads.geojson or a roads sheet) or use mode=straight")
        raise ProblemError(422, msg, code="missing-layer", layer="roads",
                           errors=[{"in": "body", "field": "mode", "layer": "roads", "message": msg,
                                    "code": "missing_layer"}])
