"""Batches over many counties: start one, read its report, resume it.

A batch runs :func:`geo_service.app.batch.run_batch` in a background thread of this process, on the
Dask scheduler of ``settings.batch_scheduler`` or a LocalCluster of ``job_workers`` processes; one
batch at a time (409 while one runs). Its county job records (kind ``batch``) are the report's
source: ``GET /v1/batches/{id}`` works in any replica and after a restart.
"""

from __future__ import annotations

import threading
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from geo_service.app.batch import (
    ClusterLost,
    batch_jobs,
    batch_summary,
    check_params,
    resolve_dataset_ids,
    run_batch,
)
from geo_service.core.store import Store

from ..auth import Principal, admin
from ..deps import get_store, public_url
from ..encoding import FastJSONResponse
from ..problems import ProblemError
from ..schemas import MAX_TIME_LIMIT_S, ProblemDetail

router = APIRouter(tags=["batches"])
_ERR = {k: {"model": ProblemDetail} for k in (401, 403, 404, 409, 422)}
BatchId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="batch id")]


class BatchRequest(BaseModel):
    """``datasets``: dataset ids or globs (``county-*``); ``params``: ``{coverage, optimisation}``."""

    model_config = ConfigDict(extra="forbid")
    datasets: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(..., min_length=1, max_length=5000)
    params: dict[str, Any] | None = None


class _Runs:
    """The batch running in this process (at most one) and the reports of those it ran."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: str | None = None
        self.reports: dict[str, dict[str, Any]] = {}

    def start(self, request: Request, batch_id: str, ids: list[str] | None, params: dict[str, Any] | None,
              resume: bool) -> None:
        settings, store = request.app.state.settings, request.app.state.store
        with self.lock:
            if self.running is not None:
                raise ProblemError(409, f"batch '{self.running}' is running; one batch at a time",
                                   code="batch-running", batch_id=self.running)
            self.running = batch_id

        def work() -> None:
            try:
                report = run_batch(store, ids, params, scheduler=settings.batch_scheduler,
                                   n_workers=settings.job_workers, progress=False, batch_id=batch_id,
                                   resume=batch_id if resume else None)
                self.reports[batch_id] = {k: v for k, v in report.to_dict().items() if k != "outcomes"}
            except ClusterLost as e:  # nothing was recorded
                self.reports[batch_id] = {"batch_id": batch_id, "cluster_lost": str(e)}
            except Exception as e:  # noqa: BLE001 - the report says it; the records are failed by run_batch
                self.reports[batch_id] = {"batch_id": batch_id, "error": f"{type(e).__name__}: {e}"}
            finally:
                with self.lock:
                    self.running = None

        threading.Thread(target=work, name=f"geo-batch-{batch_id}", daemon=True).start()


def _runs(request: Request) -> _Runs:
    runs = getattr(request.app.state, "batches", None)
    if runs is None:
        runs = request.app.state.batches = _Runs()
    return runs


def _accepted(request: Request, batch_id: str, **extra: Any) -> FastJSONResponse:
    href = public_url(request, f"/v1/batches/{batch_id}")
    return FastJSONResponse({"batch_id": batch_id, "status": "accepted", **extra,
                             "links": [{"href": href, "rel": "monitor", "type": "application/json"}]},
                            status_code=202, headers={"Location": href})


def _check(params: dict[str, Any] | None) -> dict[str, Any]:
    p = check_params(params)  # InvalidParameter naming ``params``: 422 (api.problems)
    if p["optimisation"].get("time_limit_s", 0) > MAX_TIME_LIMIT_S:
        raise ProblemError(422, f"params.optimisation.time_limit_s is at most {MAX_TIME_LIMIT_S} s",
                           code="invalid-parameters", errors=[{"in": "body", "field": "params.optimisation."
                                                               "time_limit_s", "message": "too large",
                                                               "code": "too_large"}])
    return p


@router.post("/v1/batches", status_code=202, summary="Start a batch over many counties (admin): 202",
             responses=_ERR)
def start_batch(request: Request, body: Annotated[BatchRequest, Body()], store: Store = Depends(get_store),
                _: Principal = Depends(admin)):
    """Coverage + optimisation of every dataset named (ids or globs) on Dask; poll ``Location``."""
    params = _check(body.params)
    ids = resolve_dataset_ids(store, body.datasets)  # a glob matching nothing: 422 naming ``datasets``
    batch_id = uuid.uuid4().hex[:12]
    _runs(request).start(request, batch_id, ids, params, resume=False)
    return _accepted(request, batch_id, counties=len(ids))


@router.post("/v1/batches/{batch_id}/resume", status_code=202, responses=_ERR,
             summary="Run the counties of a batch that have no successful result yet (admin): 202")
def resume_batch(request: Request, batch_id: BatchId, store: Store = Depends(get_store),
                 _: Principal = Depends(admin)):
    """Same counties and parameters; counties already done for their dataset version are skipped."""
    if not batch_jobs(store, batch_id):
        raise ProblemError(404, f"no batch '{batch_id}'", code="batch-not-found", batch_id=batch_id)
    _runs(request).start(request, batch_id, None, None, resume=True)
    return _accepted(request, batch_id)


@router.get("/v1/batches/{batch_id}", summary="A batch's report: counties by status, lost, to resume (admin)",
            responses=_ERR)
def get_batch(request: Request, batch_id: BatchId, store: Store = Depends(get_store),
              _: Principal = Depends(admin)):
    """From the job records: per county its latest job; with the last run's report (workers lost,
    counties retried, whether the cluster was lost) while this process remembers it."""
    runs = _runs(request)
    try:
        out = batch_summary(store, batch_id)
    except ValueError:
        if runs.running != batch_id:
            raise ProblemError(404, f"no batch '{batch_id}'", code="batch-not-found", batch_id=batch_id) from None
        out = {"batch_id": batch_id, "counties": 0, "jobs": []}
    out["running"] = runs.running == batch_id
    out["last_run"] = runs.reports.get(batch_id)
    headers = {"Retry-After": "5"} if out["running"] else None
    return FastJSONResponse(out, headers=headers)
