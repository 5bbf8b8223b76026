"""Duty roster jobs (issue 14): the job runner, the township -> committee link from the latest
optimisation, this month's duty for the page, and what a viewer may see of a roster.

The runner is ``runner(ds, params, previous, progress, cancel, network=None) -> dict`` like the
optimisation's (see :mod:`api.jobs`); it runs in a job process of its own, so a dismissal stops
the solver at once. The stored result is :meth:`solvers.roster.RosterResult.to_dict` plus
``outcome`` (``{"outcome", "text", "diagnosis"}``, as the optimisation jobs carry it).

Personal data: a roster result holds the members' homes (``members[].lon/lat``). Below the planner
role they are dropped (:func:`public_result`), and the duty GeoJSON loses its home points and lines.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping
from typing import Any

from geo_service.dataset import Dataset
from geo_service.store import Store
from maps.roster import duty_month, month_duty
from solvers.roster import RosterParams, plan_roster, township_committees_from
from solvers.roster_outputs import outcome_text

KIND = "roster"
#: keys the API adds to a roster job's params that are not roster parameters
API_KEYS = ("previous_job_id", "dataset_version", "committees_from_job")


def roster_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` without the API's own keys (what :class:`RosterParams` validates)."""
    return {k: v for k, v in params.items() if k not in API_KEYS}


def run_roster_job(ds: Dataset, params: dict[str, Any], previous: dict[str, Any] | None,
                   progress: Callable[..., None], cancel: threading.Event, network: Any = None) -> dict[str, Any]:
    """Runner for kind ``roster``: :func:`solvers.roster.plan_roster` on ``ds``; ``previous``: the
    roster of ``previous_job_id`` (re-planning from ``replan_from``)."""
    p = RosterParams.model_validate(roster_params(params))
    res = plan_roster(ds, p, progress=lambda f, msg="": progress(100.0 * float(f), msg),
                      should_stop=cancel.is_set, previous=previous, network=network)
    out = res.to_dict()
    errs = [d for d in res.diagnostics if d.get("severity") == "error"]
    out["outcome"] = {"outcome": res.status, "gap": res.gap, "text": outcome_text(res, "zh").split("：")[0],
                      "diagnosis": errs[0].get("message_zh") if errs else None}
    return out


run_roster_job.run_in_process = True  # type: ignore[attr-defined]


def committees_from_latest(store: Store, dataset_id: str) -> tuple[dict[str, str], str | None]:
    """township id -> committee id from the latest successful optimisation of ``dataset_id`` (its
    tier 3), and that job's id; ``({}, None)`` when there is none."""
    for j in store.list_jobs(dataset_id, limit=50):
        if j.kind == "optimisation" and j.status == "successful" and j.result:
            found = township_committees_from(j.result)
            if found:
                return found, j.id
    return {}, None


def latest_roster(store: Store, dataset_id: str) -> Any:
    """The latest successful roster job of ``dataset_id``, or None."""
    for j in store.list_jobs(dataset_id, limit=100):
        if j.kind == KIND and j.status == "successful" and j.result:
            return j
    return None


def this_month() -> str:
    d = dt.date.today()
    return f"{d.year:04d}-{d.month:02d}"


def current_duty(result: Mapping[str, Any], month: str | None = None, *, homes: bool = False) -> dict[str, Any]:
    """This month's duty of a roster (default the current month if covered, else its first):
    ``month``, ``status``, ``platforms`` (``name``, ``date``, ``members`` with names; homes only with
    ``homes``). ``ValueError`` naming ``month`` when it is outside the roster."""
    m = duty_month(result, month, this_month())
    return {"month": m, "months": list(result.get("months") or []), "status": result.get("status"),
            "outcome": (result.get("outcome") or {}).get("text"),
            "platforms": month_duty(result, m, homes=homes) if m else []}


def public_result(result: Mapping[str, Any]) -> dict[str, Any]:
    """A roster result without the members' home coordinates (for roles below planner)."""
    out = dict(result)
    out["members"] = [{k: v for k, v in m.items() if k not in ("lon", "lat")} for m in result.get("members") or []]
    return out


def public_geojson(fc: Mapping[str, Any]) -> dict[str, Any]:
    """A duty FeatureCollection without the members' homes and the lines to them."""
    return {**fc, "features": [f for f in fc.get("features", []) if f["properties"].get("layer") == "platform"]}


__all__ = ["API_KEYS", "KIND", "committees_from_latest", "current_duty", "latest_roster", "public_geojson",
           "public_result", "roster_params", "run_roster_job", "this_month"]
