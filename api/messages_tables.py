"""Messages as tables: the staff summary, the monthly workbook and the 12345 hand-off file.

Every table goes through the one table writer (:mod:`geo_service.core.io.sheets`): glossary headers,
Chinese values, text that looks like a formula kept inert. Time to answer is in hours, from the message
coming in to its answer.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import pandas as pd

from geo_service.core.glossary import value_label
from geo_service.core.io.sheets import csv_bytes, xlsx_bytes
from geo_service.core.responsible import ResponsibilityIndex
from geo_service.core.store.messages import MessageRecord
from solvers.messages import overdue

COLUMNS = ["ticket", "created_at", "township_name", "village_name", "station_name", "sector", "topic", "text",
           "phone", "message_status", "member_name", "escalation", "assigned_at", "answered_at", "closed_at",
           "hours_to_answer", "overdue", "answer"]


def hours_to_answer(r: MessageRecord) -> float | None:
    """Hours from the message coming in to its answer (None while unanswered)."""
    if not r.answered_at:
        return None
    a, b = dt.datetime.fromisoformat(r.created_at), dt.datetime.fromisoformat(r.answered_at)
    return round((b - a).total_seconds() / 3600.0, 2)


def _names(r: MessageRecord, ix: ResponsibilityIndex) -> dict[str, Any]:
    i = ix.member_row(r.member_id or "")
    vr = ix.v_pos.get(r.village_id or "")
    sr = ix.s_pos.get(r.station_id or "")
    return {"member_name": ix.member_public(i)["name"] if i is not None else None,
            "village_name": ix.village(vr)["name"] if vr is not None else None,
            "township_name": ix.townships.get(r.township_id or ""),
            "station_name": ix._station(sr)["name"] if sr is not None else None}


def summary(recs: Sequence[MessageRecord], ix: ResponsibilityIndex, now: dt.datetime, days: float,
            lang: str = "zh") -> dict[str, Any]:
    """Counts by status; open, overdue and answered by township, sector and member; time to answer
    (hours: median, mean, answered count)."""
    by: dict[str, dict[str, dict[str, int]]] = {k: defaultdict(lambda: {"messages": 0, "open": 0, "overdue": 0,
                                                                         "answered": 0})
                                                for k in ("township", "sector", "member")}
    status: dict[str, int] = defaultdict(int)
    hours = []
    for r in recs:
        status[r.status] += 1
        n = _names(r, ix)
        keys = {"township": (r.township_id, n["township_name"]), "sector": (r.sector, r.sector),
                "member": (r.member_id, n["member_name"])}
        late = overdue(r, now, days)
        h = hours_to_answer(r)
        if h is not None:
            hours.append(h)
        for k, (key, _name) in keys.items():
            row = by[k][key or "-"]
            row["messages"] += 1
            row["open"] += int(r.is_open)
            row["overdue"] += int(late)
            row["answered"] += int(h is not None)
    names = {"township": ix.townships, "member": {m: ix.member_public(ix.member_row(m))["name"]
                                                   for m in by["member"] if ix.member_row(m) is not None}}
    out = {k: [{"id": key, "name": names.get(k, {}).get(key, key), **v} for key, v in
               sorted(rows.items(), key=lambda kv: (-kv[1]["open"], str(kv[0])))] for k, rows in by.items()}
    return {"count": len(recs), "by_status": [{"status": s, "status_text": value_label("message_status", s, lang),
                                               "count": status.get(s, 0)} for s in
                                              ("received", "assigned", "in_progress", "answered", "closed")],
            "open": sum(int(r.is_open) for r in recs), "overdue": sum(int(overdue(r, now, days)) for r in recs),
            "time_to_answer_h": {"answered": len(hours), "median": statistics.median(hours) if hours else None,
                                 "mean": round(statistics.fmean(hours), 2) if hours else None},
            "by_township": out["township"], "by_sector": out["sector"], "by_member": out["member"]}


def messages_table(recs: Sequence[MessageRecord], ix: ResponsibilityIndex, now: dt.datetime, days: float,
                   *, phones: bool = True) -> pd.DataFrame:
    rows = []
    for r in recs:
        d = {"ticket": r.ticket, "created_at": r.created_at, "sector": r.sector, "topic": r.topic, "text": r.text,
             "phone": r.phone if phones else None, "message_status": r.status, "escalation": r.escalation,
             "assigned_at": r.assigned_at, "answered_at": r.answered_at, "closed_at": r.closed_at,
             "hours_to_answer": hours_to_answer(r), "overdue": overdue(r, now, days), "answer": r.answer,
             **_names(r, ix)}
        rows.append(d)
    return pd.DataFrame(rows, columns=COLUMNS)


def _count_table(rows: list[dict[str, Any]], name_field: str) -> pd.DataFrame:
    return pd.DataFrame([{name_field: r["name"], "messages": r["messages"], "open_messages": r["open"],
                          "answered": r["answered"], "overdue": r["overdue"]} for r in rows],
                        columns=[name_field, "messages", "open_messages", "answered", "overdue"])


def monthly_workbook(recs: Sequence[MessageRecord], ix: ResponsibilityIndex, now: dt.datetime, days: float,
                     lang: str = "zh", *, title: str = "") -> bytes:
    """The month's workbook: every message, then counts by township, sector and member."""
    s = summary(recs, ix, now, days, lang)
    tables = {"messages": messages_table(recs, ix, now, days),
              "messages_by_township": _count_table(s["by_township"], "township_name"),
              "messages_by_sector": _count_table(s["by_sector"], "sector"),
              "messages_by_member": _count_table(s["by_member"], "member_name")}
    return xlsx_bytes(tables, lang, title=title)


def handoff_csv(recs: Sequence[MessageRecord], ix: ResponsibilityIndex, now: dt.datetime, days: float,
                lang: str = "zh") -> bytes:
    """The escalated messages as one CSV for the 12345 hotline (with the sender's phone)."""
    return csv_bytes(messages_table(recs, ix, now, days), lang)


__all__ = ["COLUMNS", "handoff_csv", "hours_to_answer", "messages_table", "monthly_workbook", "summary"]
