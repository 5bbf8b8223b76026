"""Pydantic request and response models of the HTTP API (they also make the OpenAPI document)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from solvers.pipeline import OptimisationParams
from solvers.roster import RosterParams

#: largest ``time_limit_s`` an API caller may ask for (seconds); beyond it a 422
MAX_TIME_LIMIT_S = 3600

JobStatus = Literal["accepted", "running", "successful", "failed", "dismissed"]


class Link(BaseModel):
    href: str
    rel: str
    type: str | None = None
    title: str | None = None


class ProblemDetail(BaseModel):
    """RFC 9457 problem details (``application/problem+json``)."""

    model_config = ConfigDict(extra="allow")
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = Field(
        None, description="each offending item: {layer,row,feature_id,field,message,code} for a dataset, "
                          "{in,field,message,code} for request parameters")


class DatasetOut(BaseModel):
    id: str
    version: int
    etag: str
    fingerprint: str
    counts: dict[str, int]
    created_at: str
    updated_at: str
    meta: dict[str, Any] = {}
    links: list[Link] = []


class DatasetList(BaseModel):
    datasets: list[DatasetOut]
    links: list[Link] = []


class Health(BaseModel):
    status: str
    checks: dict[str, Any] = {}


class NearestStation(BaseModel):
    rank: int = Field(description="1 = nearest")
    station_id: str
    name: str | None = None
    kind: str | None = None
    distance_m: float | None = Field(description="straight-line (mode=straight) or road distance, metres")
    duration_s: float | None = Field(None, description="road travel time in seconds (mode=road)")


class NearestResponse(BaseModel):
    dataset_id: str
    dataset_version: int
    mode: Literal["straight", "road"]
    lon: float
    lat: float
    outside_dataset: bool = Field(False, description="the point lies more than 50 km outside the dataset's "
                                                     "area (distances are geodesic all the same)")
    results: list[NearestStation]


class NearestBatchResponse(BaseModel):
    dataset_id: str
    dataset_version: int
    mode: Literal["straight", "road"]
    count: int = Field(description="number of query points")
    k: int
    columns: dict[str, list[Any]] = Field(
        description="one list per column with n*k entries, point-major (entry i*k+j is the (j+1)-th nearest "
                    "station of point i): station_id, distance_m, outside_dataset (straight mode), duration_s and "
                    "far_from_road (road mode); "
                    "null where fewer than k stations match")
    stations: dict[str, dict[str, Any]] = Field(description="name and kind of every station in the answer")


class OptimisationRequest(OptimisationParams):
    """Parameters of an optimisation run: :class:`solvers.pipeline.OptimisationParams` (tiers, quotas,
    gap threshold, locks, minimal change, time limit, seed, ...) plus ``previous_job_id``."""

    time_limit_s: float = Field(60.0, ge=1, le=MAX_TIME_LIMIT_S,
                                description=f"solver time limit in seconds (1..{MAX_TIME_LIMIT_S}); the job's "
                                            "process is stopped if it runs far past it")
    previous_job_id: str | None = Field(
        None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
        description="a successful earlier job of the same dataset: the run it is compared with and, with "
                    "minimal_change, re-run against (moving as few assignments as it must)")


class RosterRequest(RosterParams):
    """Parameters of a duty roster: :class:`solvers.roster.RosterParams` (start, months,
    rules, availability, locks, re-planning) plus ``previous_job_id`` (the roster to re-plan)."""

    time_limit_s: float = Field(30.0, ge=1, le=MAX_TIME_LIMIT_S,
                                description=f"solver time limit in seconds (1..{MAX_TIME_LIMIT_S})")
    consultation_time_limit_s: float = Field(3.0, gt=0, le=60, description="CP-SAT seconds for the "
                                             "consultations (on top of time_limit_s)")
    previous_job_id: str | None = Field(
        None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
        description="a successful earlier roster of the same dataset, re-planned from replan_from on")


class JobOut(BaseModel):
    id: str
    dataset_id: str
    kind: str
    status: JobStatus
    progress: float = Field(description="0-100")
    message: str = Field(description="the runner's message (English, machine-readable)")
    status_text: str | None = Field(None, description="the status in words, in the language asked for (lang)")
    message_text: str | None = Field(None, description="the message in words, in the language asked for (lang)")
    params: dict[str, Any]
    error: dict[str, Any] | None = None
    outcome: dict[str, Any] | None = Field(None, description="finished runs: outcome (optimal, feasible, "
                                           "infeasible or nothing_to_do), gap, text and the first diagnosis")
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    links: list[Link] = []


class JobList(BaseModel):
    jobs: list[JobOut]
