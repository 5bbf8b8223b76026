"""OGC API - Processes Part 1 over the job runner: optimisation, roster, close-gaps and batches.

- ``GET /v1/processes``, ``GET /v1/processes/{id}``: the processes, their inputs (JSON Schema of
  the parameters the existing routes take, plus ``dataset``) and outputs;
- ``POST /v1/processes/{id}/execution`` (``{"inputs": {...}}``): runs asynchronously whatever
  ``Prefer`` says (``Preference-Applied: respond-async`` when asked), 201 with ``Location`` at the
  job, ``/v1/jobs/{id}`` (its status info: ``jobID``, ``processID``, ``type``, ``status``, links),
  and the results at ``/v1/jobs/{id}/results``. Batches are followed at ``/v1/batches/{id}``.

The same checks and roles apply as on the routes they stand for (planner starts runs, admin batches).
``close-gaps`` is a job kind of its own (:data:`CLOSE_GAPS_KIND`): :func:`solvers.gaps.close_gaps`
in a child process, its result the proposal with solver status, objective, bound and gap.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from geo_service.app.jobs import register_kind, solver_params
from geo_service.core.errors import validation_items
from geo_service.core.glossary import word
from geo_service.core.store import NotFound, Store
from solvers.gaps import close_gaps

from ...auth import Principal, viewer
from ...cache import DatasetCache
from ...deps import get_cache, get_jobs, get_store, public_url
from ...encoding import FastJSONResponse
from ...jobs import JobManager
from ...problems import ProblemError
from ...schemas import MAX_TIME_LIMIT_S, OptimisationRequest, ProblemDetail, RosterRequest
from .. import batches, jobs, rosters
from .layers import CLOSE_GAPS_KIND

router = APIRouter(prefix="/v1", tags=["OGC API - Processes"])
_ERR = {k: {"model": ProblemDetail} for k in (400, 401, 403, 404, 409, 422, 503)}
OGC = "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/"
PROCESS_CONFORMANCE = [f"{OGC}core", f"{OGC}json"]
ProcessId = Annotated[str, Path(pattern=r"^[a-z-]{1,32}$", description="process id")]


class CloseGapsParams(BaseModel):
    """Parameters of a gap closing (:func:`solvers.gaps.close_gaps`): metres, seconds."""

    model_config = ConfigDict(extra="forbid")
    threshold_m: float = Field(10000.0, gt=0, le=200_000, description="service distance in metres")
    k: int | None = Field(None, ge=1, le=10_000, description="new points (mclp, pmedian)")
    model: Literal["lscp", "mclp", "pmedian"] = "lscp"
    candidates: Literal["villages", "seats"] = "villages"
    time_limit_s: float = Field(60.0, ge=1, le=MAX_TIME_LIMIT_S, description="solver seconds")
    seed: int = Field(0, ge=0, le=2**31 - 1)


def run_close_gaps_job(ds, params: dict[str, Any], previous, progress: Callable[..., None],
                       cancel: threading.Event, network: Any = None) -> dict[str, Any]:
    """Runner of kind ``close_gaps``: the proposal with the solver's status, objective, bound and gap."""
    p = CloseGapsParams.model_validate(solver_params(params))
    progress(5.0, "running")
    res = close_gaps(ds, threshold_m=p.threshold_m, k=p.k, model=p.model, candidates=p.candidates,
                     time_limit=p.time_limit_s, seed=p.seed)
    out = res.to_dict()
    out["outcome"] = {"status": out["status"], "objective": out["objective"], "bound": out["bound"],
                      "gap": out["gap"]}
    return out


register_kind(CLOSE_GAPS_KIND, run_close_gaps_job, CloseGapsParams)


class BatchInputs(batches.BatchRequest):
    """``datasets`` (ids or globs) and ``params`` (``{coverage, optimisation, roster}``)."""


#: process id -> (job kind, title word, inputs model, needs a dataset)
PROCESSES: dict[str, tuple[str, str, type[BaseModel], bool]] = {
    "optimisation": ("optimisation", "ogc_optimisation", OptimisationRequest, True),
    "roster": (rosters.R.KIND, "ogc_roster", RosterRequest, True),
    "close-gaps": (CLOSE_GAPS_KIND, "ogc_close_gaps", CloseGapsParams, True),
    "batch": ("batch", "ogc_batch", BatchInputs, False)}
PROCESS_OF_KIND = {kind: pid for pid, (kind, *_rest) in PROCESSES.items()}
_DATASET_INPUT = {"title": "dataset", "description": "id of the dataset to run on",
                  "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"},
                  "minOccurs": 1, "maxOccurs": 1}


def _summary(request: Request, pid: str, lang: str) -> dict[str, Any]:
    base = public_url(request, f"/v1/processes/{pid}")
    return {"id": pid, "title": word(PROCESSES[pid][1], lang), "version": "1.0.0",
            "jobControlOptions": ["async-execute"], "outputTransmission": ["value"],
            "links": [{"href": base, "rel": "self", "type": "application/json"},
                      {"href": f"{base}/execution", "rel": "http://www.opengis.net/def/rel/ogc/1.0/execute",
                       "type": "application/json"}]}


def _description(request: Request, pid: str, lang: str) -> dict[str, Any]:
    _kind, _title, model, needs_dataset = PROCESSES[pid]
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    inputs = {}
    if needs_dataset:
        inputs["dataset"] = _DATASET_INPUT
    for name, prop in (schema.get("properties") or {}).items():
        inputs[name] = {"title": prop.get("title", name), "description": prop.get("description", ""),
                        "schema": {**prop, **({"$defs": defs} if defs else {})},
                        "minOccurs": 1 if name in schema.get("required", []) else 0, "maxOccurs": 1}
    return {**_summary(request, pid, lang), "inputs": inputs,
            "outputs": {"result": {"title": "result", "schema": {"type": "object", "contentMediaType":
                                                                 "application/json"}}}}


@router.get("/processes", summary="The processes this service runs (OGC API - Processes)", responses=_ERR)
def list_processes(request: Request, _: Principal = Depends(viewer), lang: Literal["zh", "en"] = "zh"):
    return FastJSONResponse({"processes": [_summary(request, p, lang) for p in PROCESSES],
                             "links": [{"href": public_url(request, "/v1/processes"), "rel": "self",
                                        "type": "application/json"}]})


@router.get("/processes/{process_id}", summary="One process: its inputs and outputs", responses=_ERR)
def describe_process(request: Request, process_id: ProcessId, _: Principal = Depends(viewer),
                     lang: Literal["zh", "en"] = "zh"):
    if process_id not in PROCESSES:
        raise ProblemError(404, f"no process '{process_id}' (processes: {', '.join(PROCESSES)})",
                           code="no-such-process", process_id=process_id)
    return FastJSONResponse(_description(request, process_id, lang))


def _inputs(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("inputs", {}), dict):
        raise ProblemError(400, "the body must be an execute request: {\"inputs\": {...}}", code="invalid-parameters",
                           errors=[{"in": "body", "field": "inputs", "message": "an object", "code": "bad_type"}])
    return dict(body.get("inputs") or {})


def _model(model: type[BaseModel], inputs: dict[str, Any]) -> BaseModel:
    try:
        return model.model_validate(inputs)
    except ValidationError as e:
        errors = [{"in": "body", **item} for item in validation_items(e, "inputs")]
        raise ProblemError(422, "invalid inputs: " + "; ".join(f"{x['field']}: {x['message']}" for x in errors),
                           code="invalid-parameters", errors=errors) from None


def status_info(request: Request, job: Any) -> dict[str, Any]:
    """The OGC status info of a job record (also what ``GET /v1/jobs/{id}`` adds to its answer)."""
    base = public_url(request, f"/v1/jobs/{job.id}")
    links = [{"href": base, "rel": "self", "type": "application/json"},
             {"href": base, "rel": "monitor", "type": "application/json"}]
    if job.status == "successful":
        links.append({"href": f"{base}/results", "rel": "http://www.opengis.net/def/rel/ogc/1.0/results",
                      "type": "application/json"})
    return {"jobID": job.id, "processID": PROCESS_OF_KIND.get(job.kind, job.kind), "type": "process",
            "status": job.status, "progress": int(round(job.progress or 0)), "message": job.message,
            "created": job.created_at, "started": job.started_at, "finished": job.finished_at, "links": links}


@router.post("/processes/{process_id}/execution", status_code=201, responses=_ERR,
             summary="Run a process asynchronously: 201 with the job (planner; batch: admin)")
def execute(request: Request, process_id: ProcessId, body: Annotated[Any, Body()] = None,
            store: Store = Depends(get_store), cache: DatasetCache = Depends(get_cache),
            manager: JobManager = Depends(get_jobs), who: Principal = Depends(viewer)):
    if process_id not in PROCESSES:
        raise ProblemError(404, f"no process '{process_id}' (processes: {', '.join(PROCESSES)})",
                           code="no-such-process", process_id=process_id)
    kind, _title, model, needs_dataset = PROCESSES[process_id]
    inputs = _inputs(body)
    prefer = request.headers.get("prefer", "")
    applied = {"Preference-Applied": "respond-async"} if "respond-async" in prefer else {}
    if not needs_dataset:
        who_admin = _require(who, "admin")
        started = batches.start_batch(request, _model(model, inputs), store, who_admin)
        href = started.headers["location"]
        info = {"jobID": href.rsplit("/", 1)[-1], "processID": process_id, "type": "process", "status": "accepted",
                "links": [{"href": href, "rel": "monitor", "type": "application/json"}]}
        return FastJSONResponse(info, status_code=201, headers={"Location": href, **applied})
    dataset_id = inputs.pop("dataset", None)
    if not isinstance(dataset_id, str) or not dataset_id:
        raise ProblemError(422, "inputs.dataset (the dataset id) is required", code="invalid-parameters",
                           errors=[{"in": "body", "field": "inputs.dataset", "message": "required", "code": "missing"}])
    planner_who = _require(who, "planner")
    try:
        entry = cache.get(dataset_id)
    except (NotFound, ValueError):
        raise ProblemError(404, f"no dataset '{dataset_id}'", code="dataset-not-found", dataset_id=dataset_id) from None
    params = _model(model, inputs)
    if kind == "optimisation":
        started = jobs.start_optimisation(request, entry, params, store, manager, planner_who)
    elif kind == rosters.R.KIND:
        started = rosters.start_roster(request, entry, params, store, manager, planner_who)
    else:
        started = _start_close_gaps(request, entry, params, manager)
    job = store.get_job(started.headers["location"].rsplit("/", 1)[-1])
    info = status_info(request, job)
    return FastJSONResponse(info, status_code=201, headers={"Location": info["links"][0]["href"], **applied})


def _start_close_gaps(request: Request, entry, params: CloseGapsParams, manager: JobManager):
    p = {**params.model_dump(mode="json", exclude_unset=True), "dataset_version": entry.info.version}
    job = manager.submit(entry.info.id, CLOSE_GAPS_KIND, p)  # a full queue is answered by the error table
    return FastJSONResponse({}, status_code=202, headers={"Location": public_url(request, f"/v1/jobs/{job.id}")})


def _require(who: Principal, role: str) -> Principal:
    if who.allows(role):
        return who
    raise ProblemError(403, f"role '{who.role}' may not start this process; role '{role}' or higher is required",
                       code="forbidden", required_role=role, role=who.role)


__all__ = ["PROCESSES", "PROCESS_CONFORMANCE", "router", "run_close_gaps_job", "status_info"]


def _landing(request: Request, _: Principal = Depends(viewer)):
    """The service's OGC API landing page: processes, conformance, datasets (each a Features landing page)."""
    return FastJSONResponse({"title": "geo-service", "links": [
        {"href": public_url(request, "/v1/"), "rel": "self", "type": "application/json"},
        {"href": public_url(request, "/v1/api"), "rel": "service-desc",
         "type": "application/vnd.oai.openapi+json;version=3.0"},
        {"href": public_url(request, "/v1/conformance"), "rel": "conformance", "type": "application/json"},
        {"href": public_url(request, "/v1/processes"), "rel": "http://www.opengis.net/def/rel/ogc/1.0/processes",
         "type": "application/json"},
        {"href": public_url(request, "/v1/jobs"), "rel": "http://www.opengis.net/def/rel/ogc/1.0/job-list",
         "type": "application/json"},
        {"href": public_url(request, "/v1/datasets"), "rel": "data", "type": "application/json"}]})


for _path in ("", "/"):
    router.add_api_route(_path, _landing, methods=["GET"], summary="OGC API landing page of the service",
                         responses=_ERR, name=f"ogc_landing{_path and '_slash'}")


@router.get("/conformance", summary="OGC API - Processes conformance classes claimed", responses=_ERR)
def processes_conformance(_: Principal = Depends(viewer)):
    return FastJSONResponse({"conformsTo": PROCESS_CONFORMANCE})
