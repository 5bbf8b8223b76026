"""Routing people's messages to members, and escalating the unanswered ones.

**Who may answer** (:func:`candidates`): a message left at a station goes to the station's duty
members of the month (the latest roster); without a roster duty there, to the members based at the
station (``members.station_id``); a message left at a place (or at a station nobody is on duty at) goes
along village → group → members of the asked sector: the ``max_candidates`` members of that sector
nearest to the village (without a sector: each sector's responsible member of the village, see
:mod:`geo_service.core.responsible`).

**Which one** (:func:`route`): a small assignment over a batch of messages (one message at a time
on the public form, a day's messages in the benchmark), minimising

    sum of distances (m)  +  load_m x sum over members of (open_j + 1) + ... + (open_j + n_j)

where ``open_j`` is member j's open messages before the batch and ``n_j`` the new ones given to them:
each further open message costs a member ``load_m`` metres more than the one before, so work spreads
over the nearby members. The marginal load cost is increasing, so a min-cost flow with one unit arc
per extra message is exact (``status`` optimal, ``gap`` 0, costs in whole metres). Each routed message
carries ``reason``: the basis, its distance, the member's open messages and the alternatives' costs
(why this member).

**Escalation** (:func:`escalations`): a message still open ``days`` after it was assigned goes to its
group's convener (level 1), after ``2 x days`` to the office (level 2). The clock is an argument.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from ortools.graph.python import min_cost_flow

from geo_service.core.errors import InvalidParameter
from geo_service.core.responsible import DutyIndex, ResponsibilityIndex

from .model import Model, ModelResult, Progress, StopCheck, as_fraction_progress, check_stop

LOAD_M = 2000.0  # metres one more open message weighs
MAX_CANDIDATES = 5
ESCALATE_DAYS = 3
BASES = ("station_duty", "station_members", "sector_place", "place")


@dataclass
class Candidate:
    """A member who may answer a message: ``distance_m`` from their home (or station) to the place."""

    member_id: str
    distance_m: float
    basis: str
    group_id: str | None = None


@dataclass
class Routed:
    """One routed message: the chosen member (None when nobody may answer), the reason."""

    member_id: str | None
    group_id: str | None
    reason: dict[str, Any]


@dataclass
class RouteResult(ModelResult):
    """A batch's routing: ``routed`` per message (input order), ``status``, ``objective`` (m),
    ``bound`` and ``gap`` (the flow is exact: bound = objective); ``unrouted`` the messages nobody
    may answer, each a ``msg_no_member`` diagnostic."""

    routed: list[Routed]
    status: str
    objective: float
    bound: float
    gap: float
    unrouted: list[int] = field(default_factory=list)

    @property
    def diagnostics(self) -> list[dict[str, Any]]:
        return [{"code": "msg_no_member", "severity": "warning", "params": {"message": i}} for i in self.unrouted]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the headline figures, ``routed`` (member, group, reason per message) and ``unrouted``."""
        return {**self.headline(), "unit": "m",
                "routed": [{"member_id": r.member_id, "group_id": r.group_id, "reason": r.reason} for r in self.routed],
                "unrouted": list(self.unrouted), "diagnostics": self.diagnostic_codes()}


class RoutingModel(Model):
    """Routing a batch of messages as a model: who may answer each message in, :class:`RouteResult` out.

    Built :meth:`from_dataset` (a dataset and its messages: each one's candidates as the public
    form finds them), :meth:`from_records` (per message, its :class:`Candidate` list, as
    :func:`candidates` gives it) or :meth:`from_arrays` (a messages x members distance matrix in
    metres, ``inf`` where a member may not answer). :meth:`solve` runs :func:`route`: one exact
    min-cost flow, so ``time_limit_s`` and ``seed`` change nothing.
    """

    family: ClassVar[str] = "messages"

    def __init__(self, cands: Sequence[Sequence[Candidate]], open_counts: Mapping[str, int] | None = None,
                 load_m: float = LOAD_M):
        if not load_m >= 0:
            raise ValueError(f"load_m must be >= 0, got {load_m}")
        self.cands, self.open_counts, self.load_m = [list(cs) for cs in cands], dict(open_counts or {}), load_m

    @classmethod
    def from_dataset(cls, ds: Any, params: Mapping[str, Any] | None = None, *,
                     index: ResponsibilityIndex | None = None) -> RoutingModel:
        """The messages of ``params["messages"]`` left in dataset ``ds``, each a mapping with
        ``station_id`` or ``lon``/``lat`` (WGS-84 degrees) and optionally ``sector``.

        Other ``params``: ``open_counts`` (member id -> open messages), ``load_m`` (metres one more
        open message weighs, default :data:`LOAD_M`), ``roster`` (a roster result: its duty members
        answer at their stations), ``today`` (``YYYY-MM-DD``, the month of duty; default today, UTC),
        ``max_candidates``. ``index``: a prebuilt :class:`ResponsibilityIndex` of ``ds``.

        Raises :class:`~geo_service.core.errors.InvalidParameter` naming ``messages[i].<field>`` for
        a message with neither a known station nor a point.
        """
        p = dict(params or {})
        ix = index if index is not None else ResponsibilityIndex.from_dataset(ds)
        duty = DutyIndex.from_result(p.get("roster"))
        try:
            today = dt.date.fromisoformat(str(p["today"])) if p.get("today") else dt.datetime.now(dt.UTC).date()
        except ValueError:
            raise InvalidParameter("today", f"today must be YYYY-MM-DD, got {p.get('today')!r}",
                                   "bad_date") from None
        cands = [_message_candidates(ix, duty, dict(m), i, today, int(p.get("max_candidates", MAX_CANDIDATES)))
                 for i, m in enumerate(p.get("messages") or [])]
        return cls(cands, p.get("open_counts"), float(p.get("load_m", LOAD_M)))

    @classmethod
    def from_records(cls, cands: Sequence[Sequence[Candidate | Mapping[str, Any]]],
                     open_counts: Mapping[str, int] | None = None, *, load_m: float = LOAD_M) -> RoutingModel:
        """Per message its candidates (:class:`Candidate` or dicts with ``member_id``, ``distance_m``,
        ``basis`` and optionally ``group_id``); ``open_counts``: member id -> open messages."""
        return cls([[c if isinstance(c, Candidate) else Candidate(**c) for c in cs] for cs in cands],
                   open_counts, load_m)

    @classmethod
    def from_arrays(cls, distance_m: Any, member_ids: Sequence[str] | None = None,
                    open_counts: Mapping[str, int] | None = None, *, load_m: float = LOAD_M,
                    basis: str = "place") -> RoutingModel:
        """Messages x members distances (metres; ``inf`` or NaN: may not answer)."""
        d = np.asarray(distance_m, float)
        if d.ndim != 2:
            raise ValueError(f"distance_m must be a (messages x members) matrix, got shape {d.shape}")
        if np.any(d < 0):
            raise ValueError("distance_m must be >= 0 metres")
        ids = [str(m) for m in member_ids] if member_ids is not None else [f"M{j}" for j in range(d.shape[1])]
        if len(ids) != d.shape[1]:
            raise ValueError(f"member_ids: {len(ids)} ids for {d.shape[1]} columns")
        return cls([[Candidate(ids[j], float(d[i, j]), basis) for j in np.flatnonzero(np.isfinite(d[i]))]
                    for i in range(d.shape[0])], open_counts, load_m)

    def solve(self, time_limit_s: float | None = None, seed: int | None = None,
              should_stop: StopCheck = None, progress: Progress | None = None) -> RouteResult:
        """Route the batch (see :func:`route`); ``should_stop`` is checked before the flow is solved."""
        say = as_fraction_progress(progress)
        check_stop(should_stop, "message routing")
        say(0.0, "routing")
        res = route(self.cands, self.open_counts, load_m=self.load_m)
        say(1.0, "done")
        return res


def _message_candidates(ix: ResponsibilityIndex, duty: DutyIndex, m: dict[str, Any], i: int, today: dt.date,
                        max_candidates: int) -> list[Candidate]:
    """The candidates of message ``i`` (``m``: ``station_id`` or ``lon``/``lat``, ``sector``)."""
    sid = m.get("station_id")
    if sid is not None:
        if str(sid) not in ix.s_pos:
            raise InvalidParameter(f"messages[{i}].station_id", f"messages[{i}]: no station '{sid}'",
                                   "not_in_dataset")
        pt = ix.station_lonlat(str(sid))
    else:
        lon, lat = m.get("lon"), m.get("lat")
        ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in (lon, lat))
        if not ok or not (-180 <= lon <= 180 and -90 <= lat <= 90):  # type: ignore[operator]
            raise InvalidParameter(f"messages[{i}].station_id", f"messages[{i}]: give station_id, or lon and lat",
                                   "station_or_lonlat")
        pt = (float(lon), float(lat))  # type: ignore[arg-type]
    row = ix.village_at(*pt)[0] if pt is not None else None
    return candidates(ix, station_id=None if sid is None else str(sid), village_row=row, sector=m.get("sector"),
                      duty=duty, today=today, max_candidates=max_candidates)


def _member_xy(index: ResponsibilityIndex) -> np.ndarray:
    xy = getattr(index, "_msg_member_xy", None)
    if xy is None:
        xy = index._member_xy()
        index._msg_member_xy = xy
    return xy


def _sector_rows(index: ResponsibilityIndex, sector: str) -> np.ndarray:
    cache = getattr(index, "_msg_sector_rows", None)
    if cache is None:
        cache = index._msg_sector_rows = {}
    rows = cache.get(sector)
    if rows is None:
        sec = index.members["sector"].astype(str).to_numpy() if len(index.members) else np.array([])
        rows = cache[sector] = np.flatnonzero(sec == sector)
    return rows


def candidates(index: ResponsibilityIndex, *, station_id: str | None = None, village_row: int | None = None,
               sector: str | None = None, duty: DutyIndex | None = None, today: dt.date | None = None,
               max_candidates: int = MAX_CANDIDATES) -> list[Candidate]:
    """The members who may answer a message at ``station_id`` or in village ``village_row`` (see
    module), nearest first; ``[]`` when nobody may."""
    today = today or dt.datetime.now(dt.UTC).date()
    xy_m = _member_xy(index)
    if station_id is not None:
        pt = index.station_lonlat(station_id)
        p = index.xy(*pt) if pt is not None else None
        at = duty.at(station_id, today) if duty is not None else None
        ids = list(at["member_ids"]) if at and at["member_ids"] else []
        basis = "station_duty"
        if not ids:
            ids = list(index.station_members.get(station_id, []))
            basis = "station_members"
        out = [_cand(index, xy_m, m, p, basis) for m in ids if index.member_row(m) is not None]
        if out:
            return sorted(out, key=lambda c: (c.distance_m, c.member_id))
    if village_row is None:
        return []
    vx = index._village_xy(village_row)
    if sector:
        rows = _sector_rows(index, sector)
        rows = rows[~np.isnan(xy_m[rows, 0])] if len(rows) else rows
        if len(rows) and vx is not None:
            d = np.hypot(*(xy_m[rows] - vx).T)
            order = np.argsort(d, kind="stable")[:max_candidates]
            return [Candidate(index.m_ids[rows[i]], float(d[i]), "sector_place", index.m_groups[rows[i]])
                    for i in order]
        if len(rows):
            return [Candidate(index.m_ids[r], 0.0, "sector_place", index.m_groups[r]) for r in rows[:max_candidates]]
    return [Candidate(index.m_ids[i], d, "place", index.m_groups[i])
            for i, d in sorted(index.responsible_members(village_row), key=lambda t: t[1])][:max_candidates]


def _cand(index, xy_m, member_id, p, basis) -> Candidate:
    i = index.member_row(member_id)
    d = float(np.hypot(*(xy_m[i] - p))) if p is not None and not np.isnan(xy_m[i, 0]) else 0.0
    return Candidate(member_id, d, basis, index.m_groups[i])


def _costs(cands: Sequence[Sequence[Candidate]]) -> list[list[int]]:
    return [[round(c.distance_m) for c in cs] for cs in cands]


def route(cands: Sequence[Sequence[Candidate]], open_counts: Mapping[str, int] | None = None, *,
          load_m: float = LOAD_M) -> RouteResult:
    """Assign each message (its list of candidates) to one candidate (see the module's objective).

    Parameters
    ----------
    cands : sequence of sequences of Candidate
        Per message, who may answer it (an empty list: the message stays unrouted).
    open_counts : mapping, optional
        member id -> open messages before this batch.
    load_m : float
        Metres one more open message weighs (>= 0).

    Returns
    -------
    RouteResult
    """
    if not load_m >= 0:
        raise ValueError(f"load_m must be >= 0, got {load_m}")
    open_counts = open_counts or {}
    load = round(load_m)
    members = sorted({c.member_id for cs in cands for c in cs})
    col = {m: j for j, m in enumerate(members)}
    n = len(cands)
    todo = [i for i, cs in enumerate(cands) if cs]
    costs = _costs(cands)
    f = min_cost_flow.SimpleMinCostFlow()
    src, sink = n + len(members), n + len(members) + 1
    arcs: list[tuple[int, int, int]] = []  # (arc, message, member column)
    for i in todo:
        f.add_arc_with_capacity_and_unit_cost(src, i, 1, 0)
        for c, cost in zip(cands[i], costs[i]):
            arcs.append((f.add_arc_with_capacity_and_unit_cost(i, n + col[c.member_id], 1, cost), i,
                         col[c.member_id]))
    reach: dict[int, int] = {}
    for i in todo:
        for c in {c.member_id for c in cands[i]}:
            reach[col[c]] = reach.get(col[c], 0) + 1
    for j, m in enumerate(members):
        base = int(open_counts.get(m, 0))
        for k in range(1, reach.get(j, 0) + 1):  # one unit arc per extra message: increasing marginal cost
            f.add_arc_with_capacity_and_unit_cost(n + j, sink, 1, load * (base + k))
    f.set_node_supply(src, len(todo))
    f.set_node_supply(sink, -len(todo))
    if todo:
        status = f.solve()
        if status != f.OPTIMAL:
            raise RuntimeError(f"message routing flow failed with status {status}")
        chosen = {i: members[j] for a, i, j in arcs if f.flow(a) > 0}
        objective = float(f.optimal_cost())
    else:
        chosen, objective = {}, 0.0
    given: dict[str, int] = {}
    routed = []
    for i in range(n):
        m = chosen.get(i)
        if m is None:
            routed.append(Routed(None, None, {"basis": None, "code": "msg_no_member"}))
            continue
        before = int(open_counts.get(m, 0)) + given.get(m, 0)
        given[m] = given.get(m, 0) + 1
        routed.append(Routed(m, next(c.group_id for c in cands[i] if c.member_id == m),
                             _reason(cands[i], m, open_counts, before, load)))
    return RouteResult(routed, "optimal", objective, objective, 0.0, [i for i in range(n) if not cands[i]])


def _reason(cs: Sequence[Candidate], m: str, open_counts: Mapping[str, int], before: int, load: int) -> dict:
    c = next(c for c in cs if c.member_id == m)
    alts = [{"member_id": a.member_id, "distance_m": round(a.distance_m, 1), "open": int(open_counts.get(a.member_id, 0)),
             "cost_m": round(a.distance_m + load * (int(open_counts.get(a.member_id, 0)) + 1), 1)}
            for a in cs if a.member_id != m][:4]
    return {"basis": c.basis, "code": f"msg_why_{c.basis}", "distance_m": round(c.distance_m, 1), "open": before,
            "cost_m": round(c.distance_m + load * (before + 1), 1), "load_m": load, "alternatives": alts}


def brute_force(cands: Sequence[Sequence[Candidate]], open_counts: Mapping[str, int] | None = None, *,
                load_m: float = LOAD_M) -> float:
    """The optimum of :func:`route`'s objective by trying every assignment (small cases, tests)."""
    open_counts = open_counts or {}
    load = round(load_m)
    costs = _costs(cands)
    todo = [i for i, cs in enumerate(cands) if cs]
    best = None
    for pick in itertools.product(*[range(len(cands[i])) for i in todo]):
        n_by: dict[str, int] = {}
        total = 0
        for i, p in zip(todo, pick):
            total += costs[i][p]
            m = cands[i][p].member_id
            n_by[m] = n_by.get(m, 0) + 1
        for m, k in n_by.items():
            total += load * sum(int(open_counts.get(m, 0)) + j for j in range(1, k + 1))
        best = total if best is None else min(best, total)
    return float(best or 0)


def _parse(ts: str) -> dt.datetime:
    t = dt.datetime.fromisoformat(ts)
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def due_level(assigned_at: str | None, created_at: str, now: dt.datetime, days: float = ESCALATE_DAYS) -> int:
    """0, 1 (convener) or 2 (office): how far an open message assigned (else received) at the given
    time should have gone by ``now``."""
    if not days > 0:
        raise ValueError(f"days must be > 0, got {days}")
    age = now - _parse(assigned_at or created_at)
    if age >= dt.timedelta(days=2 * days):
        return 2
    if age >= dt.timedelta(days=days):
        return 1
    return 0


def escalations(messages: Iterable[Any], now: dt.datetime, *, days: float = ESCALATE_DAYS,
                conveners: Mapping[str, str] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """``(message id, fields to set)`` for each open message whose escalation level should rise by
    ``now``; ``history`` gains a step naming the new level and, at level 1, the group's convener."""
    conveners = conveners or {}
    out = []
    stamp = now.astimezone(dt.UTC).isoformat(timespec="seconds")
    for m in messages:
        if not m.is_open:
            continue
        level = due_level(m.assigned_at, m.created_at, now, days)
        if level <= (m.escalation or 0):
            continue
        to = conveners.get(m.group_id or "") if level == 1 else None
        step = {"status": m.status, "at": stamp, "escalation": level, "to": "convener" if level == 1 else "office"}
        if to:
            step["member_id"] = to
        out.append((m.id, {"escalation": level, "escalated_at": stamp, "history": [*m.history, step]}))
    return out


def overdue(m: Any, now: dt.datetime, days: float = ESCALATE_DAYS) -> bool:
    """An open message older than ``days`` since it was assigned (else received)."""
    return bool(m.is_open and due_level(m.assigned_at, m.created_at, now, days) >= 1)


__all__ = ["BASES", "ESCALATE_DAYS", "LOAD_M", "MAX_CANDIDATES", "Candidate", "RouteResult", "Routed", "RoutingModel",
           "brute_force", "candidates", "due_level", "escalations", "overdue", "route"]
