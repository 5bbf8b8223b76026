"""Who may see and write which ledger rows, and the plan the ledger is held against.

- :func:`scope_member`: the member whose rows a caller may read (``member``: always their own;
  planner and above: any, or all; viewer and anonymous: none, 403: they see aggregates only);
- :func:`check_own_rows`: a member records only their own activities (a row naming another
  member is refused with its row number);
- :func:`planned_links`: the constituent -> member links of the latest successful assignment run;
- :func:`member_view`: a member's constituents with contact details, duties and consultations.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from geo_service.core import glossary as G
from geo_service.core.errors import InvalidParameter
from geo_service.core.ledger import ActivityError, period_bounds, validate_activities
from geo_service.core.ledger_coverage import actual_coverage, coverage_tables, member_progress
from geo_service.core.store import Store

from .auth import Principal
from .deps import latest_successful
from .problems import ProblemError
from .rosters import latest_roster


def scope_member(who: Principal, member_id: str | None) -> str | None:
    """The member filter in force for ``who`` asking for ``member_id`` (None: everyone's)."""
    if who.role == "member":
        if member_id is not None and member_id != who.member_id:
            raise ProblemError(403, f"a member sees only their own ledger ('{who.member_id}'), not '{member_id}'",
                               code="forbidden", role="member")
        return who.member_id
    if not who.allows("planner"):
        raise ProblemError(403, "ledger rows need role 'member' (your own) or 'planner'; viewers see the "
                                "aggregates (/ledger/coverage, /ledger/progress)", code="forbidden",
                           required_role="planner", role=who.role)
    return member_id


def check_own_rows(who: Principal, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a member's own id filled in where blank; 403 naming the rows of others."""
    if who.role != "member":
        if not who.allows("planner"):
            raise ProblemError(403, "recording activities needs role 'member' or 'planner'", code="forbidden",
                               required_role="member", role=who.role)
        return frame
    frame = frame.copy()
    if "member_id" not in frame.columns:
        frame["member_id"] = None
    blank = frame["member_id"].isna() | (frame["member_id"].astype(str).str.strip() == "")
    frame.loc[blank, "member_id"] = who.member_id
    other = frame["member_id"].astype(str).str.strip() != who.member_id
    if other.any():
        rows = [int(i) + 1 for i in frame.index[other][:50]]
        errors = [{"row": r, "field": "member_id", "code": "not_yours",
                   "message": G.message("ledger_not_yours", "zh", row=r, member=who.member_id)} for r in rows]
        raise ProblemError(403, errors[0]["message"], code="forbidden", errors=errors)
    return frame


def store_rows(store: Store, dataset_id: str, frame: pd.DataFrame, who: Principal, ds: Any,
                sheet_rows: bool = False) -> list[int]:
    """Check ``who`` may write ``frame``'s rows, validate them (422 naming each bad field) and store
    them all in one transaction; return the new ids."""
    frame = check_own_rows(who, frame)
    try:
        valid, _ = validate_activities(frame, ds)
    except ActivityError as e:
        raise activity_problem(e, sheet_rows=sheet_rows) from None
    return store.ledger().add(dataset_id, valid, recorded_by=actor(who), validated=True)


def actor(who: Principal) -> str:
    """What a record's ``recorded_by`` says of ``who``: ``member:<id>``, else the key id."""
    return f"member:{who.member_id}" if who.role == "member" else (who.key_id or who.via)


def activity_problem(e: ActivityError, *, sheet_rows: bool = False) -> ProblemError:
    """422 naming every bad row and field (``sheet_rows``: rows as numbered in the sheet, header = 1)."""
    errors = [{**p, "row": p["row"] + (1 if sheet_rows else 0)} for p in e.problems[:1000]]
    if sheet_rows:
        for p in errors:
            p["message"] = p["message"].replace(f"第 {p['row'] - 1} 行", f"第 {p['row']} 行", 1)
    detail = f"{len(e.problems)} 处错误：" + "；".join(p["message"] for p in errors[:5])
    return ProblemError(422, detail, code="invalid-activities", errors=errors, n_errors=len(e.problems))


def period_or_422(period: str | None, start: str | None, end: str | None) -> tuple[str | None, str | None]:
    """``(start, end)`` from ``period`` or the explicit dates (422 naming the bad parameter)."""
    field = "period"
    try:
        if period:
            return period_bounds(period)
        for field, v in (("start", start), ("end", end)):  # noqa: B007 - named in the except
            if v is not None:
                period_bounds(f"{v}~{v}")
        return start, end
    except InvalidParameter as e:
        raise InvalidParameter(field, e.message, e.code, where="query") from None


def planned_links(store: Store, dataset_id: str) -> pd.DataFrame:
    """``constituent_id``, ``member_id`` of the latest successful assignment run (empty before any)."""
    job = latest_successful(store, dataset_id)
    return links_of(job.result if job else None)


def links_of(result: dict[str, Any] | None) -> pd.DataFrame:
    """``constituent_id``, ``member_id`` of an optimisation result's constituents tier."""
    tier = ((result or {}).get("tiers") or {}).get("constituents")
    assign = (tier or {}).get("assignment") or {}
    return pd.DataFrame([{"constituent_id": str(c), "member_id": str(m)} for c, m in assign.items() if m],
                        columns=["constituent_id", "member_id"])


LEDGER_COLUMNS = ("kind", "member_id", "constituent_id", "village_id", "station_id", "date", "status", "people")


def implementation_tables(store: Store, ds: Any, dataset_id: str, result: dict[str, Any] | None,
                          period: str) -> dict[str, pd.DataFrame]:
    """The 落实情况 sheets of ``period``: the ledger against the links of ``result`` (an optimisation
    run), the entities nobody reached, villages' last contact, members against the quotas."""
    start, end = period_or_422(period, None, None)
    acts = store.ledger().frame(dataset_id, end=end, columns=LEDGER_COLUMNS)
    cov = actual_coverage(ds, acts, start, end, links_of(result))
    members = ds.layers.get("members")
    ids = members["id"].astype(str).tolist() if members is not None else []
    return coverage_tables(cov, member_progress(acts, ids, start, end))


def member_view(store: Store, ds: Any, dataset_id: str, member_id: str) -> dict[str, Any]:
    """A member's own page data: their constituents with names and phones, duties, consultations."""
    links = planned_links(store, dataset_id)
    mine = set(links.loc[links["member_id"] == member_id, "constituent_id"])
    cons = ds.layers.get("constituents")
    people = []
    if cons is not None and len(cons):
        sel = cons[cons["id"].astype(str).isin(mine)]
        for _, r in sel.iterrows():
            people.append({k: (None if pd.isna(r.get(k)) else str(r.get(k)))
                           for k in ("id", "name", "phone", "sector", "village_id") if k in sel.columns})
    duties, consultations = [], []
    roster = latest_roster(store, dataset_id)
    if roster is not None:
        res = roster.result or {}
        duties = [d for d in res.get("duties") or [] if str(d.get("member_id")) == member_id]
        consultations = [c for c in res.get("consultations") or []
                         if member_id in [str(x) for x in c.get("member_ids") or []]]
    members = ds.layers.get("members")
    name = None
    if members is not None and len(members):
        hit = members[members["id"].astype(str) == member_id]
        name = str(hit["name"].iloc[0]) if len(hit) else None
    return {"member_id": member_id, "name": name, "constituents": people, "duties": duties,
            "consultations": consultations}


__all__ = ["activity_problem", "actor", "check_own_rows", "member_view", "period_or_422", "planned_links", "scope_member", "store_rows"]
