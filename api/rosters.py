"""Duty roster jobs on the API side: the township -> committee link from the latest
optimisation, this month's duty for the page, and what a viewer may see of a roster.

The job kind ``roster`` itself (its runner, in a job process of its own so a dismissal stops the
solver at once) is registered in :mod:`geo_service.app.jobs`; its stored result is
:meth:`solvers.roster.RosterResult.to_dict` plus ``outcome`` (as the optimisation jobs carry it).

Personal data: a roster result holds the members' homes (``members[].lon/lat``). Below the planner
role they are dropped (:func:`public_result`), and the duty GeoJSON loses its home points and lines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from geo_service.core.store import Store
from maps.roster import duty_month, month_duty
from solvers.roster import township_committees_from

KIND = "roster"


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


__all__ = ["KIND", "committees_from_latest", "current_duty", "latest_roster", "public_geojson", "public_result",
           "this_month"]
