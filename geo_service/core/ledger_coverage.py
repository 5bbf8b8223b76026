"""Coverage that happened: the plan against the ledger for a period, and members' quotas.

:func:`actual_coverage` answers, for the period ``start``..``end`` (ISO dates, inclusive):

- which planned links (constituent -> member, from an assignment run) had a contact: a link is
  *reached* when that member recorded a contact with that constituent in the period;
- which constituents, villages, contact points, townships and sectors nobody reached: a
  constituent is reached by any contact naming it; a village by a contact naming it or one of
  its constituents; a township when one of its villages is; a sector when one of its
  constituents is; a contact point (站点) when a duty was held or a reception day was held
  there;
- each village's last contact up to ``end`` (any time before, not only in the period) and the
  days from it to ``end``.

:func:`member_progress` measures each member against :class:`Quotas` (defaults after the
practice: 10 constituents, 40 人次 a year, a reception day every month, a consultation every
quarter, one 社情民意 item a year), prorated to the period's length. Pure functions of frames.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

ENTITIES: tuple[str, ...] = ("constituents", "villages", "stations", "townships", "sectors")


@dataclass(frozen=True)
class Quotas:
    """What each member should do; yearly figures are prorated to a period's days / 365.

    Parameters
    ----------
    constituents : int
        Distinct constituents reached (佳木斯: 每名委员联系 10 名界别群众); not prorated.
    people_per_year : int
        人次 of contacts (白银: 全年联系界别群众不少于 40 人次).
    receptions_per_month : int
        Reception days held per month (每月接待 1 次).
    consultations_per_quarter : int
        Consultations taken part in per quarter (一季一协商).
    opinions_per_year : int
        社情民意 items submitted.
    """

    constituents: int = 10
    people_per_year: int = 40
    receptions_per_month: int = 1
    consultations_per_quarter: int = 1
    opinions_per_year: int = 1

    def __post_init__(self) -> None:
        for k, v in asdict(self).items():
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"{k} must be a whole number >= 0, got {v!r}")

    def targets(self, start: str, end: str) -> dict[str, int]:
        """The quota of each measure over ``start``..``end`` (rounded up)."""
        days = (pd.Timestamp(end) - pd.Timestamp(start)).days + 1
        months = _months(start, end)
        return {"constituents": self.constituents,
                "people": int(np.ceil(self.people_per_year * days / 365 - 1e-9)),
                "receptions": self.receptions_per_month * months,
                "consultations": int(np.ceil(self.consultations_per_quarter * months / 3 - 1e-9)),
                "opinions": int(np.ceil(self.opinions_per_year * days / 365 - 1e-9))}


def _months(start: str, end: str) -> int:
    a, b = pd.Timestamp(start), pd.Timestamp(end)
    return (b.year - a.year) * 12 + b.month - a.month + 1


def _in(activities: pd.DataFrame, start: str, end: str) -> pd.DataFrame:
    d = activities["date"]
    return activities[(d >= start) & (d <= end)]


def _ids(layer: Any) -> pd.Series:
    if layer is None or len(layer) == 0:
        return pd.Series([], dtype=object)
    return layer["id"].astype(str)


def _reached_villages(contacts: pd.DataFrame, constituents: pd.DataFrame) -> pd.DataFrame:
    """``(village_id, date)`` of every contact, through its village or its constituent's village."""
    direct = contacts[["village_id", "date"]].dropna()
    if len(constituents) and "village_id" in constituents.columns:
        cv = constituents[["id", "village_id"]].dropna().astype(str).rename(columns={"id": "constituent_id"})
        via = contacts[["constituent_id", "date"]].dropna().merge(cv, on="constituent_id")[["village_id", "date"]]
        direct = pd.concat([direct, via], ignore_index=True)
    return direct


def actual_coverage(ds: Any, activities: pd.DataFrame, start: str, end: str,
                    planned: pd.DataFrame | None = None) -> dict[str, Any]:
    """What happened in ``start``..``end`` against the plan (see module docstring).

    Parameters
    ----------
    ds : Dataset
        The dataset the ledger belongs to.
    activities : DataFrame
        Ledger records (columns of :data:`geo_service.core.ledger.FIELDS`), any period: the
        village's last contact looks back before ``start``.
    start, end : str
        ISO dates, inclusive.
    planned : DataFrame, optional
        Planned links, columns ``constituent_id`` and ``member_id``.

    Returns
    -------
    dict
        ``period``, ``links`` (planned/reached/unreached/share and per link), ``counts`` (total and
        not reached per entity), ``not_reached`` (ids per entity) and ``villages`` (last contact,
        days since, contacts in the period).
    """
    if start > end:
        raise ValueError(f"start {start!r} is after end {end!r}")
    acts = activities[activities["date"] <= end]
    contacts_all = acts[acts["kind"] == "contact"]
    contacts = _in(contacts_all, start, end)
    cons = ds.layers.get("constituents")
    cons = cons if cons is not None else pd.DataFrame(columns=["id", "sector", "village_id"])
    vill = ds.layers["villages"]
    reached_c = set(contacts["constituent_id"].dropna())
    vdates_all = _reached_villages(contacts_all, cons)
    vdates = vdates_all[vdates_all["date"] >= start]
    reached_v = set(vdates["village_id"])
    reached_t = set(vill.loc[vill["id"].astype(str).isin(reached_v), "township_id"].dropna().astype(str))
    sectors = cons["sector"].dropna().astype(str) if "sector" in cons.columns else pd.Series([], dtype=object)
    reached_s = set(cons.loc[cons["id"].astype(str).isin(reached_c), "sector"].dropna().astype(str)) \
        if "sector" in cons.columns else set()
    held = _in(acts, start, end)
    held = held[((held["kind"] == "duty") & (held["status"].isin(["held", "swapped"])))
                | (held["kind"] == "reception")]
    reached_st = set(held["station_id"].dropna())
    universe = {"constituents": _ids(cons), "villages": _ids(vill), "stations": _ids(ds.layers.get("stations")),
                "townships": _ids(ds.layers.get("townships")), "sectors": pd.Series(sorted(set(sectors)), dtype=object)}
    reached = {"constituents": reached_c, "villages": reached_v, "stations": reached_st, "townships": reached_t,
               "sectors": reached_s}
    not_reached = {k: [x for x in universe[k].tolist() if x not in reached[k]] for k in ENTITIES}
    counts = {k: {"total": len(universe[k]), "not_reached": len(not_reached[k])} for k in ENTITIES}
    return {"period": {"start": start, "end": end}, "links": _links(planned, contacts), "counts": counts,
            "not_reached": not_reached, "villages": _village_rows(vill, vdates_all, vdates, end)}


def _links(planned: pd.DataFrame | None, contacts: pd.DataFrame) -> dict[str, Any]:
    if planned is None or planned.empty:
        return {"planned": 0, "reached": 0, "unreached": 0, "share": None, "items": []}
    p = planned[["constituent_id", "member_id"]].dropna().astype(str).drop_duplicates()
    done = contacts[["constituent_id", "member_id"]].dropna().drop_duplicates()
    done = done.assign(_hit=True)
    m = p.merge(done, on=["constituent_id", "member_id"], how="left")
    hit = m["_hit"].fillna(False).astype(bool).to_numpy()
    items = [{"constituent_id": c, "member_id": mm, "reached": bool(h)}
             for c, mm, h in zip(m["constituent_id"], m["member_id"], hit, strict=True)]
    n, r = len(items), int(hit.sum())
    return {"planned": n, "reached": r, "unreached": n - r, "share": (r / n) if n else None, "items": items}


def _village_rows(vill: pd.DataFrame, vdates_all: pd.DataFrame, vdates: pd.DataFrame, end: str) -> list[dict]:
    last = vdates_all.groupby("village_id")["date"].max()
    n = vdates.groupby("village_id").size()
    end_ts = pd.Timestamp(end)
    out = []
    for vid in vill["id"].astype(str).tolist():
        d = last.get(vid)
        out.append({"village_id": vid, "last_contact": d,
                    "days_since_contact": None if d is None else int((end_ts - pd.Timestamp(d)).days),
                    "contacts": int(n.get(vid, 0))})
    return out


def member_progress(activities: pd.DataFrame, member_ids: list[str], start: str, end: str,
                    quotas: Quotas | None = None) -> list[dict[str, Any]]:
    """Each member's figures in ``start``..``end`` against ``quotas`` (default :class:`Quotas`).

    Returns
    -------
    list of dict
        Per member ``member_id`` and per measure (``constituents``, ``people``, ``receptions``,
        ``consultations``, ``opinions``) ``{"target", "done", "met"}``, plus ``all_met``.
    """
    q = quotas or Quotas()
    targets = q.targets(start, end)
    a = _in(activities, start, end)
    c = a[a["kind"] == "contact"]
    done = {"constituents": c.dropna(subset=["constituent_id"]).groupby("member_id")["constituent_id"].nunique(),
            "people": c.groupby("member_id")["people"].sum(),
            "receptions": a[a["kind"] == "reception"].groupby("member_id").size(),
            "consultations": a[a["kind"] == "consultation"].groupby("member_id").size(),
            "opinions": a[a["kind"] == "opinion"].groupby("member_id").size()}
    done_d = {k: v.to_dict() for k, v in done.items()}  # plain dicts: one lookup per member and measure
    out = []
    for m in member_ids:
        row: dict[str, Any] = {"member_id": m}
        for k, t in targets.items():
            d = int(done_d[k].get(m, 0))
            row[k] = {"target": t, "done": d, "met": d >= t}
        row["all_met"] = all(row[k]["met"] for k in targets)
        out.append(row)
    return out


def coverage_tables(cov: dict[str, Any], progress: list[dict[str, Any]] | None = None) -> dict[str, pd.DataFrame]:
    """Frames of the 落实情况 workbook: ``implementation`` (one row per entity and the links),
    ``not_reached``, ``village_contacts`` and ``progress`` (when given)."""
    impl = [{"ledger_entity": k, "total": v["total"], "not_reached": v["not_reached"]} for k, v in cov["counts"].items()]
    links = cov["links"]
    impl_df = pd.DataFrame(impl)
    impl_df["planned_links"] = links["planned"]
    impl_df["reached_links"] = links["reached"]
    impl_df["reached_share"] = links["share"]
    nr = pd.DataFrame([{"ledger_entity": k, "id": x} for k, ids in cov["not_reached"].items() for x in ids],
                      columns=["ledger_entity", "id"])
    out = {"implementation": impl_df, "not_reached": nr, "village_contacts": pd.DataFrame(cov["villages"])}
    if progress is not None:
        rows = []
        for p in progress:
            for k, v in p.items():
                if isinstance(v, dict):
                    rows.append({"member_id": p["member_id"], "quota": k, "quota_target": v["target"],
                                 "quota_done": v["done"], "quota_met": v["met"]})
        out["progress"] = pd.DataFrame(rows, columns=["member_id", "quota", "quota_target", "quota_done", "quota_met"])
    return out


__all__ = ["ENTITIES", "Quotas", "actual_coverage", "coverage_tables", "member_progress"]
