"""码上议事 on the API side: per-version lookups, the latest roster's duty, rate limits, what each role sees.

- :func:`context` gives the dataset version's :class:`~geo_service.core.responsible.ResponsibilityIndex`
  (built once per version, memoised on the cache entry), the latest roster's
  :class:`~geo_service.core.responsible.DutyIndex` and the township -> committee links of the latest
  optimisation; the two job look-ups are re-read at most every ``JOB_RECHECK_S`` seconds, so the
  lookup route does no store round trip per request.
- :class:`WindowLimiter`: sliding-window counts per key (client address, station), in memory.
- :func:`message_view`: a message as a role may see it. The sender's phone and address fingerprint
  only for staff (planner and above) and the member the message is assigned to; the public ticket
  view (:func:`ticket_view`) holds status, times and the answer only.
- :func:`clock`: the service's clock (``app.state.clock``, a callable returning an aware datetime;
  tests replace it).
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from geo_service.core.glossary import message, value_label
from geo_service.core.responsible import DutyIndex, ResponsibilityIndex
from geo_service.core.store import Store
from geo_service.core.store.messages import (
    OPEN_STATUSES,
    MessageRecord,
    MessageStore,
    open_messages,
)
from solvers.messages import escalations, overdue

from .auth import Principal
from .cache import DatasetEntry
from .rosters import committees_from_latest, latest_roster

JOB_RECHECK_S = 5.0


def clock(request: Request) -> dt.datetime:
    """Now (aware, UTC) by the service's clock."""
    fn = getattr(request.app.state, "clock", None)
    return fn() if fn is not None else dt.datetime.now(dt.UTC)


def messages_store(request: Request) -> MessageStore:
    ms = getattr(request.app.state, "messages", None)
    if ms is None:
        ms = request.app.state.messages = open_messages(request.app.state.store)
    return ms


@dataclass
class Context:
    index: ResponsibilityIndex
    duty: DutyIndex
    roster_job: str | None
    committees: dict[str, str]


def responsibility_index(entry: DatasetEntry) -> ResponsibilityIndex:
    """The version's responsibility index (built on first use, then shared)."""
    return entry.memo("responsibility-index", lambda ds: ResponsibilityIndex(ds, entry.station_index))


class _JobLinks:
    """The latest roster (as a DutyIndex) and committee links per dataset, re-read every few seconds."""

    def __init__(self):
        self._data: dict[str, tuple[float, DutyIndex, str | None, dict[str, str]]] = {}
        self._lock = threading.Lock()

    def get(self, store: Store, dataset_id: str) -> tuple[DutyIndex, str | None, dict[str, str]]:
        now = time.monotonic()
        hit = self._data.get(dataset_id)
        if hit is not None and now - hit[0] < JOB_RECHECK_S:
            return hit[1], hit[2], hit[3]
        job = latest_roster(store, dataset_id)
        if hit is not None and job is not None and hit[2] == job.id:
            duty = hit[1]
        else:
            duty = DutyIndex.from_result(job.result if job is not None else None)
        committees, _ = committees_from_latest(store, dataset_id)
        with self._lock:
            self._data[dataset_id] = (now, duty, job.id if job else None, committees)
        return duty, (job.id if job else None), committees

    def fresh(self, dataset_id: str) -> tuple[DutyIndex, str | None, dict[str, str]] | None:
        """The links when read within :data:`JOB_RECHECK_S` (never touches the store), else None."""
        hit = self._data.get(dataset_id)
        if hit is not None and time.monotonic() - hit[0] < JOB_RECHECK_S:
            return hit[1], hit[2], hit[3]
        return None

    def forget(self, dataset_id: str) -> None:
        self._data.pop(dataset_id, None)


def job_links(request: Request) -> _JobLinks:
    links = getattr(request.app.state, "message_links", None)
    if links is None:
        links = request.app.state.message_links = _JobLinks()
    return links


def context(request: Request, entry: DatasetEntry) -> Context:
    """The lookups of ``entry`` (may read the store: run it off the event loop unless fresh)."""
    duty, job_id, committees = job_links(request).get(request.app.state.store, entry.info.id)
    return Context(responsibility_index(entry), duty, job_id, committees)


def fresh_context(request: Request, entry: DatasetEntry) -> Context | None:
    """Like :func:`context` when everything is already in memory, else None."""
    if not entry.has("responsibility-index"):
        return None
    links = job_links(request).fresh(entry.info.id)
    if links is None:
        return None
    return Context(responsibility_index(entry), links[0], links[1], links[2])


class WindowLimiter:
    """At most ``limit`` events per key within ``window_s`` seconds (``limit`` 0: none allowed);
    at most ``max_keys`` keys are tracked (the quietest forgotten first). Thread-safe."""

    def __init__(self, limit: int, window_s: float = 3600.0, max_keys: int = 50_000):
        self.limit, self.window_s, self.max_keys = limit, window_s, max_keys
        self._q: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str, now: float | None = None) -> int | None:
        """Count one event of ``key``; the seconds to wait when it is over the limit (not counted)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            q = self._q.get(key)
            if q is None:
                q = self._q[key] = deque()
                while len(self._q) > self.max_keys:
                    self._q.popitem(last=False)
            while q and q[0] <= now - self.window_s:
                q.popleft()
            if len(q) >= self.limit:
                return max(1, math.ceil((q[0] + self.window_s - now) if q else self.window_s))
            q.append(now)
            self._q.move_to_end(key)
            return None


def limiters(request: Request) -> tuple[WindowLimiter, WindowLimiter]:
    """(per address, per station) limiters of the app, made from its settings on first use."""
    st = request.app.state
    lim = getattr(st, "message_limiters", None)
    if lim is None:
        s = st.settings
        lim = st.message_limiters = (WindowLimiter(s.messages_per_address_per_hour),
                                     WindowLimiter(s.messages_per_station_per_hour))
    return lim


def sees_phone(who: Principal, rec: MessageRecord) -> bool:
    """Staff, and the member the message is assigned to, see the sender's phone."""
    return who.sees_personal or (who.role == "member" and who.member_id is not None
                                 and who.member_id == rec.member_id)


def may_handle(who: Principal, rec: MessageRecord, conveners: dict[str, str]) -> bool:
    """Staff handle every message; a member their own, and a convener the escalated ones of their group."""
    if who.sees_personal:
        return True
    if who.role != "member" or not who.member_id:
        return False
    return rec.member_id == who.member_id or (rec.escalation >= 1 and conveners.get(rec.group_id or "") == who.member_id)


def message_view(rec: MessageRecord, who: Principal, index: ResponsibilityIndex | None, now: dt.datetime,
                 days: float, lang: str = "zh") -> dict[str, Any]:
    """A message as ``who`` may see it (see module); names of the member, village and township added."""
    d = rec.to_dict()
    d.pop("sender", None)
    if not sees_phone(who, rec):
        d.pop("phone", None)
        if d.get("lon") is not None:  # where the sender stood may be their home: about 100 m only
            d["lon"], d["lat"] = round(d["lon"], 3), round(d["lat"], 3)
    if not who.allows("viewer"):
        d.pop("text", None)
    d["status_text"] = value_label("message_status", rec.status, lang)
    d["escalation_text"] = value_label("escalation", rec.escalation, lang)
    d["overdue"] = overdue(rec, now, days)
    if index is not None:
        i = index.member_row(rec.member_id or "")
        d["member_name"] = index.member_public(i)["name"] if i is not None else None
        vr = index.v_pos.get(rec.village_id or "")
        d["village_name"] = index.village(vr)["name"] if vr is not None else None
        d["township_name"] = index.townships.get(rec.township_id or "")
    if rec.reason and rec.reason.get("code"):
        d["reason_text"] = reason_text(rec.reason, d.get("member_name") or rec.member_id, rec.sector, lang)
    return d


def reason_text(reason: dict[str, Any], name: str | None, sector: str | None, lang: str = "zh") -> str:
    km = f"{(reason.get('distance_m') or 0) / 1000:.1f}"
    return message(reason["code"], lang, name=name or "", km=km, open=reason.get("open", 0), sector=sector or "")


def ticket_view(rec: MessageRecord, lang: str = "zh") -> dict[str, Any]:
    """What the sender sees by ticket: status, step times, the answer; nothing personal."""
    return {"ticket": rec.ticket, "status": rec.status, "status_text": value_label("message_status", rec.status, lang),
            "topic": rec.topic, "created_at": rec.created_at, "assigned_at": rec.assigned_at,
            "started_at": rec.started_at, "answered_at": rec.answered_at, "closed_at": rec.closed_at,
            "escalation": rec.escalation, "escalation_text": value_label("escalation", rec.escalation, lang),
            "answer": rec.answer,
            "steps": [{"status": h.get("status"), "at": h.get("at"),
                       "status_text": value_label("message_status", h.get("status"), lang)}
                      for h in rec.history if "escalation" not in h]}


def conveners_of(index: ResponsibilityIndex) -> dict[str, str]:
    """group id -> its convener's member id."""
    out = {}
    for gid, g in index.groups.items():
        c = g.get("convener_id")
        if c is not None and not (isinstance(c, float) and math.isnan(c)) and str(c).strip():
            out[gid] = str(c)
    return out


def apply_escalations(ms: MessageStore, dataset_id: str, index: ResponsibilityIndex, now: dt.datetime,
                      days: float) -> int:
    """Raise the escalation level of every open message of ``dataset_id`` that is due by ``now``."""
    todo = escalations(ms.list(dataset_id, statuses=OPEN_STATUSES, limit=100_000), now, days=days,
                       conveners=conveners_of(index))
    for mid, fields in todo:
        ms.update(mid, **fields)
    return len(todo)


__all__ = ["Context", "WindowLimiter", "apply_escalations", "clock", "context", "conveners_of", "fresh_context",
           "job_links", "limiters", "may_handle", "message_view", "messages_store", "reason_text",
           "responsibility_index", "sees_phone", "ticket_view"]
