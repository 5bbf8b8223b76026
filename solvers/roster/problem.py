"""Duty roster (一月一轮值), reception days (委员接待日) and quarterly consultations (一季一协商).

Entry point for the CLI and the API::

    result = plan_roster(ds, RosterParams(start="2027-01", months=12), progress=None, should_stop=None)
    result.to_dict()        # {"status", "objective", "bound", "gap", "duties", "consultations", ...}

or in two steps: ``RosterProblem.from_dataset(ds, start="2027-01", months=12, ...)`` (or
:meth:`RosterProblem.from_arrays`), then ``problem.solve(time_limit_s=30, seed=0)``.

Rules (each a field of :class:`RosterParams`): every platform has ``per_platform_min`` to
``per_platform_max`` members on duty each month; every member serves ``member_min`` to ``member_max``
months, busiest minus idlest at most ``fairness_spread`` (relaxed, with a warning, only when that is
infeasible); at most one duty a month, none in an unavailable month, not at the same platform two
months running unless ``allow_consecutive``; each platform sees ``sectors_min`` sectors over the
period; duties farther than ``max_distance_m`` (straight metres) from home are not allowed; locks are
kept; with ``replan_from`` and a previous roster the months before are frozen and the changes after
are as few as possible (``churn_weight_m`` per duty removed or added), then travel is minimised
(straight metres in the dataset's local transverse Mercator, or road seconds through
:class:`geo_service.core.network.RoadNetwork` with ``mode="road"``).

An infeasible roster has status ``"infeasible"``: the diagnostics name the rule, month and platform
and the smallest relaxation, and the duties are those of the closest relaxed roster.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from geo_service.core.network import RoadNetwork

from ..pipeline import run_optimisation
from .calendar import (
    load_holidays,
    month_range,
    quarter_of,
    reception_date,
)

from .types import (  # re-exported: the public roster API
    _diag_msg,
    Cancelled,
    FEASIBLE,
    INFEASIBLE,
    NOTHING,
    OPTIMAL,
    Progress,
    RosterLock,
    RosterParams,
    RosterResult,
    StopCheck,
    Unavailability,
    UNKNOWN,
    WEEKDAYS_ZH,
)
from ..model import Model
from .solve import solve_problem


# ------------------------------------------------------------------------------------------------
@dataclass
class RosterProblem(Model):
    """A roster on plain arrays: N members, P platforms, T months (see :meth:`from_arrays`).

    The roster family of :class:`solvers.model.Model`: :meth:`from_dataset` / :meth:`from_arrays`,
    then :meth:`solve` answering a :class:`RosterResult`.
    """

    family: ClassVar[str] = "roster"

    params: RosterParams
    months: list[str]
    member_ids: list[str]
    member_names: list[str]
    member_sectors: list[str]
    member_lonlat: np.ndarray          # (N, 2) degrees, may be NaN
    platform_ids: list[str]
    platform_names: list[str]
    platform_townships: list[str | None]
    platform_lonlat: np.ndarray        # (P, 2) degrees
    cost: np.ndarray                   # (N, P) metres or seconds
    dist_m: np.ndarray                 # (N, P) straight metres (the cap applies to these)
    avail: np.ndarray                  # (N, T) bool
    dates: list[list[dt.date]]         # [P][T] reception dates
    weekdays: list[int]
    unit: str = "m"
    blocked: set[tuple[int, int, int]] = field(default_factory=set)   # date-range unavailability
    locks: list[tuple[int, int, int]] = field(default_factory=list)
    frozen_upto: int = 0
    frozen: list[tuple[int, int, int]] = field(default_factory=list)  # m = -1: a member who left
    frozen_member_ids: dict[tuple[int, int, int], str] = field(default_factory=dict)
    frozen_sector: dict[tuple[int, int, int], str] = field(default_factory=dict)
    previous: set[tuple[int, int, int]] = field(default_factory=set)
    member_min: np.ndarray | None = None
    fair_members: set[int] = field(default_factory=set)
    diagnostics: list[dict[str, Any]] = field(default_factory=list)
    holidays: Any = None
    consult_input: dict[str, Any] = field(default_factory=dict)

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def from_arrays(cls, cost: Any, *, months: Sequence[str] | None = None, member_ids: Sequence[str] | None = None,
                    member_sectors: Sequence[str] | None = None, platform_ids: Sequence[str] | None = None,
                    dist_m: Any = None, available: Any = None, member_names: Sequence[str] | None = None,
                    platform_names: Sequence[str] | None = None, params: RosterParams | Mapping | None = None,
                    previous: RosterResult | Mapping | None = None, unit: str = "m", **kw: Any) -> RosterProblem:
        """A problem from a cost matrix ``cost`` (N members x P platforms, metres or seconds).

        ``dist_m`` (N x P straight metres, default ``cost``) is what ``max_distance_m`` caps;
        ``available`` (N x T bool, default all) marks months a member can serve; ``member_sectors``
        (default one sector per member) feed ``sectors_min``. ``kw`` are :class:`RosterParams` fields.
        """
        prm = _params(params, kw)
        cost = np.asarray(cost, dtype=float)
        if cost.ndim != 2 or not np.all(np.isfinite(cost)) or (cost < 0).any():
            raise ValueError("cost must be an N x P matrix of finite non-negative numbers")
        n, P = cost.shape
        months = list(months) if months is not None else month_range(prm.start, prm.months)
        if months != month_range(months[0], len(months)) if months else False:
            raise ValueError("months must be consecutive YYYY-MM months")
        if months:
            prm = prm.model_copy(update={"start": months[0], "months": len(months)})
        mids = [str(x) for x in (member_ids if member_ids is not None else [f"M{i + 1}" for i in range(n)])]
        pids = [str(x) for x in (platform_ids if platform_ids is not None else [f"P{j + 1}" for j in range(P)])]
        if len(mids) != n or len(pids) != P:
            raise ValueError(f"member_ids ({len(mids)}) / platform_ids ({len(pids)}) do not match cost {cost.shape}")
        secs = [str(s) for s in (member_sectors if member_sectors is not None else mids)]
        if len(secs) != n:
            raise ValueError(f"member_sectors has {len(secs)} entries, expected {n}")
        dm = cost if dist_m is None else np.asarray(dist_m, dtype=float)
        if dm.shape != cost.shape:
            raise ValueError(f"dist_m shape {dm.shape} differs from cost {cost.shape}")
        T = len(months)
        av = np.ones((n, T), bool) if available is None else np.asarray(available, dtype=bool)
        if av.shape != (n, T):
            raise ValueError(f"available must be N x T = {(n, T)}, got {av.shape}")
        return cls._assemble(prm, months, mids, list(member_names or mids), secs, np.full((n, 2), np.nan),
                             pids, list(platform_names or pids), [None] * P, np.full((P, 2), np.nan),
                             cost, dm, av, unit, previous, {})

    @classmethod
    def from_dataset(cls, ds: Any, params: RosterParams | Mapping | None = None, *, network: Any = None,
                     previous: RosterResult | Mapping | None = None, **kw: Any) -> RosterProblem:
        """A problem from a :class:`~geo_service.core.dataset.Dataset`; ``kw`` are :class:`RosterParams` fields.

        Platforms: stations of ``platform_kinds`` (default comprehensive), or one per township.
        Costs: straight metres in ``ds.metric_crs``, or road seconds (``mode="road"``; ``network``
        defaults to ``RoadNetwork.from_dataset(ds)``).
        """
        prm = _params(params, kw)
        months = month_range(prm.start, prm.months)
        diags: list[dict[str, Any]] = []
        pids, pnames, ptown, plon = _platforms(ds, prm)
        mem = ds.members
        mids = [str(x) for x in mem["id"]]
        mlon = np.column_stack([mem.geometry.x.to_numpy(), mem.geometry.y.to_numpy()]) if len(mem) \
            else np.zeros((0, 2))
        cost, dm, unit = _member_costs(ds, prm, mids, mlon, pids, plon, network, diags)
        pb = cls._assemble(prm, months, mids, [str(x) for x in mem["name"]], [str(x) for x in mem["sector"]],
                           mlon, pids, pnames, ptown, plon, cost, dm, np.ones((len(mids), len(months)), bool),
                           unit, previous, _consultation_input(ds, prm))
        pb.diagnostics = diags + pb.diagnostics
        return pb

    @classmethod
    def _assemble(cls, prm: RosterParams, months: list[str], mids: list[str], mnames: list[str], msecs: list[str],
                  mlon: np.ndarray, pids: list[str], pnames: list[str], ptown: list[str | None],
                  plon: np.ndarray, cost: np.ndarray, dm: np.ndarray, av: np.ndarray, unit: str,
                  previous: Any, consult: dict[str, Any]) -> RosterProblem:
        years = {int(m[:4]) for m in months}
        hol = load_holidays(years, prm.holidays)
        diags = _holiday_diagnostics(hol)
        weekdays = [int(prm.platform_weekdays.get(p, prm.reception_weekday)) for p in pids]
        unknown_wd = sorted(set(prm.platform_weekdays) - set(pids))
        if unknown_wd:
            raise ValueError(f"platform_weekdays: unknown platform id(s) {', '.join(unknown_wd[:5])}")
        dates = [[reception_date(m, weekdays[j], prm.reception_week, hol) for m in months] for j in range(len(pids))]
        mi = {m: i for i, m in enumerate(mids)}
        pj = {p: j for j, p in enumerate(pids)}
        ti = {m: t for t, m in enumerate(months)}
        av, blocked = _leave(prm, mi, ti, dates, av)
        locks = _locks(prm, mi, pj, ti, av, blocked, mnames, diags)
        t0, frozen, fmid, fsec, prev = _previous_duties(previous, prm, mi, pj, ti, months, consult, diags)
        mmin, fair = _member_minimums(prm, mids, mnames, av, t0, frozen, diags)
        return cls(prm, months, mids, mnames, msecs, mlon, pids, pnames, ptown, plon, cost, dm, av, dates,
                   weekdays, unit, blocked, locks, t0, frozen, fmid, fsec, prev, mmin, fair, diags, hol, consult)

    # -- solving --------------------------------------------------------------------------------
    def solve(self, time_limit_s: float | None = None, seed: int | None = None, progress: Progress = None,
              should_stop: StopCheck = None, num_workers: int | None = None) -> RosterResult:
        """Solve (see module docstring); ``time_limit_s``/``seed``/``num_workers`` override the params."""
        return solve_problem(self, self.params.time_limit_s if time_limit_s is None else time_limit_s,
                             self.params.seed if seed is None else seed,
                             self.params.num_workers if num_workers is None else num_workers,
                             progress, should_stop)


def _platforms(ds: Any, prm: RosterParams) -> tuple[list[str], list[str], list[str | None], np.ndarray]:
    """Platform ids, names, townships and lon/lat: stations of ``platform_kinds`` (or ``platform_ids``),
    or one per township (its comprehensive station, else its seat, else a point inside it)."""
    st = ds.stations
    if prm.platforms == "stations":
        sel = st[st["kind"].isin(prm.platform_kinds)]
        if prm.platform_ids:
            unknown = sorted(set(prm.platform_ids) - set(st["id"]))
            if unknown:
                raise ValueError(f"platform_ids: unknown station id(s) {', '.join(unknown[:5])}")
            sel = st[st["id"].isin(prm.platform_ids)]
        pids = [str(x) for x in sel["id"]]
        pnames = [str(x) for x in sel["name"]]
        ptown = [None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
                 for v in sel["township_id"]]
        plon = np.column_stack([sel.geometry.x.to_numpy(), sel.geometry.y.to_numpy()]) if len(sel) \
            else np.zeros((0, 2))
        return pids, pnames, ptown, plon
    pids, pnames, ptown, pts = [], [], [], []
    comp = st[st["kind"] == "station_comprehensive"]
    vil = ds.villages
    for _, t in ds.townships.iterrows():
        here = comp[comp["township_id"] == t["id"]]
        if len(here):
            g = here.geometry.iloc[0]
            pids.append(str(here["id"].iloc[0]))
        else:
            seat = vil[(vil["township_id"] == t["id"]) & (vil["is_seat"] == True)]  # noqa: E712
            g = seat.geometry.iloc[0] if len(seat) else t.geometry.representative_point()
            pids.append(str(t["id"]))
        pnames.append(str(t["name"]))
        ptown.append(str(t["id"]))
        pts.append((g.x, g.y))
    return pids, pnames, ptown, np.asarray(pts, float).reshape(-1, 2)


def _member_costs(ds: Any, prm: RosterParams, mids: list[str], mlon: np.ndarray, pids: list[str], plon: np.ndarray,
                  network: Any, diags: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray, str]:
    """Member x platform cost (metres, or road seconds), straight metres and the cost unit.

    Road pairs without a path cost the straight distance at 5 km/h; members of unknown location
    cost the median (both said in ``diags``).
    """
    from pyproj import Transformer

    tr = Transformer.from_crs("EPSG:4326", ds.metric_crs, always_xy=True)
    mx, my = tr.transform(mlon[:, 0], mlon[:, 1]) if len(mlon) else (np.zeros(0), np.zeros(0))
    px, py = tr.transform(plon[:, 0], plon[:, 1]) if len(plon) else (np.zeros(0), np.zeros(0))
    dm = np.hypot(np.asarray(mx)[:, None] - np.asarray(px)[None, :], np.asarray(my)[:, None] - np.asarray(py)[None, :])
    unit = "m"
    cost = dm
    if prm.mode == "road" and len(mids) and len(pids):
        if network is None:
            network = RoadNetwork.from_dataset(ds)
        cost = np.asarray(network.travel_time_matrix(mlon, plon), float)
        bad = ~np.isfinite(cost)
        if bad.any():
            diags.append(_diag_msg("road_unreachable", "roster_road_unreachable", {"n": int(bad.sum())}, "warning"))
            cost = np.where(bad, dm / (5 / 3.6), cost)
        unit = "s"
    unknown = ~np.isfinite(dm).all(axis=1) if dm.size else np.zeros(len(mids), dtype=bool)
    if unknown.any():  # members of unknown location: on duty by sector and load (距离未知)
        known = cost[np.isfinite(cost)]
        cost = np.where(np.isfinite(cost), cost, float(np.median(known)) if len(known) else 0.0)
        dm = np.where(np.isfinite(dm), dm, 0.0)
        ids = [m for m, u in zip(mids, unknown) if u]
        diags.append(_diag_msg("distance_unknown", "roster_distance_unknown",
                               {"n": len(ids), "ids_zh": "、".join(ids[:10]), "ids": ", ".join(ids[:10])}, "warning"))
    return cost, dm, unit


def _consultation_input(ds: Any, prm: RosterParams) -> dict[str, Any]:
    """Townships' needs (sectors by constituents), stations' sectors and committees, for consultations."""
    need: dict[str, list[str]] = {}
    c = ds.constituents
    if len(c):
        vt = dict(zip(ds.villages["id"], ds.villages["township_id"]))
        cnt: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for vid, sec in zip(c["village_id"], c["sector"]):
            tid = vt.get(vid)
            if tid is not None and sec:
                cnt[str(tid)][str(sec)] += 1
        need = {t: [s for s, _ in sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))] for t, d in cnt.items()}
    st, mem = ds.stations, ds.members
    station_secs = {str(i): list(s or []) for i, s in zip(st["id"], st["sectors"])}
    committees, source = _committee_plan(ds, prm)
    return {"need": need, "station_sectors": station_secs, "committees": committees,
            "committee_source": source,
            "member_committee": {str(i): (None if k is None or k != k else str(k))
                                 for i, k in zip(mem["id"], mem["committee_id"])},
            "committee_names": dict(zip(ds.committees["id"].astype(str), ds.committees["name"].astype(str))),
            "township_names": dict(zip(ds.townships["id"].astype(str), ds.townships["name"].astype(str)))}


def _holiday_diagnostics(hol: Any) -> list[dict[str, Any]]:
    """Warnings for years without a holiday list or with statutory days only."""
    diags = []
    for y in hol.missing_years:
        diags.append(_diag_msg("holidays_missing", "roster_holidays_missing", {"year": y}, "warning", year=y))
    for y in hol.incomplete_years:
        diags.append(_diag_msg("holidays_incomplete", "roster_holidays_incomplete", {"year": y}, "warning", year=y))
    return diags


def _leave(prm: RosterParams, mi: dict[str, int], ti: dict[str, int], dates: list[list[Any]], av: np.ndarray
           ) -> tuple[np.ndarray, set[tuple[int, int, int]]]:
    """Availability with the members' leave months removed, and the (member, platform, month) duties whose
    reception date falls in a leave span."""
    av = av.copy()
    blocked: set[tuple[int, int, int]] = set()
    for k, u in enumerate(prm.availability):
        if u.member_id not in mi:
            raise ValueError(f"availability[{k}].member_id: unknown member {u.member_id!r}")
        i = mi[u.member_id]
        for mo in u.months:
            if mo in ti:
                av[i, ti[mo]] = False
        if u.start is not None:
            for j in range(len(dates)):
                for t in range(len(ti)):
                    if u.start <= dates[j][t] <= u.end:
                        blocked.add((i, j, t))
    return av, blocked


def _locks(prm: RosterParams, mi: dict[str, int], pj: dict[str, int], ti: dict[str, int], av: np.ndarray,
           blocked: set, mnames: list[str], diags: list[dict[str, Any]]) -> list[tuple[int, int, int]]:
    """The locked duties as (member, platform, month); a lock while unavailable is kept and said."""
    locks = []
    for k, lk in enumerate(prm.locks):
        if lk.member_id not in mi:
            raise ValueError(f"locks[{k}].member_id: unknown member {lk.member_id!r}")
        if lk.station_id not in pj:
            raise ValueError(f"locks[{k}].station_id: {lk.station_id!r} is not a platform")
        key = (mi[lk.member_id], pj[lk.station_id], ti[lk.month])
        locks.append(key)
        if not av[key[0], key[2]] or key in blocked:
            diags.append(_diag_msg("lock_unavailable", "roster_lock_unavailable",
                                   {"name": mnames[key[0]], "id": lk.member_id, "mo": lk.month}, "warning"))
    return locks


def _previous_duties(previous: Any, prm: RosterParams, mi: dict[str, int], pj: dict[str, int], ti: dict[str, int],
                     months: list[str], consult: dict[str, Any], diags: list[dict[str, Any]]) -> tuple:
    """The previous roster: first month to plan, frozen duties (with the ids and sectors of members
    who left), the duties to weigh churn against; consultations before the re-plan month are kept."""
    t0 = 0
    frozen: list[tuple[int, int, int]] = []
    fmid: dict[tuple[int, int, int], str] = {}
    fsec: dict[tuple[int, int, int], str] = {}
    prev: set[tuple[int, int, int]] = set()
    if previous is None:
        if prm.replan_from:
            raise ValueError("replan_from needs the previous roster (previous=...)")
        return t0, frozen, fmid, fsec, prev
    pr = previous if isinstance(previous, RosterResult) else RosterResult.from_dict(previous)
    t0 = ti[prm.replan_from] if prm.replan_from else 0
    psec = {r["id"]: r.get("sector") for r in pr.members}
    dropped_platform = 0
    for r in pr.duties:
        if r["month"] not in ti or r["station_id"] not in pj:
            dropped_platform += 1
            continue
        t, j = ti[r["month"]], pj[r["station_id"]]
        i = mi.get(r["member_id"], -1)
        if t < t0:
            key = (i, j, t) if i >= 0 else (-1 - len(frozen), j, t)
            frozen.append(key)
            fmid[key] = r["member_id"]
            if i < 0:
                fsec[key] = psec.get(r["member_id"]) or ""
        else:
            prev.add((i, j, t) if i >= 0 else (-1 - len(prev), j, t))
    if t0 > 0:  # consultations held before the re-plan month stay as they were
        consult["kept"] = [dict(c) for c in pr.consultations if c.get("date", "")[:7] < months[t0]]
    if dropped_platform:
        diags.append(_diag_msg("previous_outside", "roster_previous_outside", {"n": dropped_platform}, "warning"))
    return t0, frozen, fmid, fsec, prev


def _member_minimums(prm: RosterParams, mids: list[str], mnames: list[str], av: np.ndarray, t0: int,
                     frozen: list[tuple[int, int, int]], diags: list[dict[str, Any]]) -> tuple[np.ndarray, set[int]]:
    """``member_min`` per member and the members held to fairness: members who cannot serve at all are
    left out of both."""
    mmin = np.full(len(mids), prm.member_min, int)
    fair = set()
    for i in range(len(mids)):
        free = int(av[i, t0:].sum())
        done = sum(1 for (m, _j, _t) in frozen if m == i)
        if free == 0 and done < prm.member_min:
            mmin[i] = done
            diags.append(_diag_msg("member_unavailable", "roster_member_unavailable", {"name": mnames[i], "id": mids[i]},
                                   "warning", member_id=mids[i]))
        else:
            fair.add(i)
    return mmin, fair


def _params(params: RosterParams | Mapping | None, kw: Mapping[str, Any]) -> RosterParams:
    if isinstance(params, RosterParams):
        return params.model_copy(update=dict(kw)) if kw else params
    return RosterParams(**{**dict(params or {}), **kw})


def _committee_plan(ds: Any, prm: RosterParams) -> tuple[dict[str, str], str | None]:
    """township id -> committee id the consultations follow, and where it came from.

    The one committee plan: the parameters' (the latest optimisation run's tier 3, passed by the
    API and the CLI), else the dataset's ``committee_id`` of townships, else the townships ->
    committees tier computed here with its default rules, exactly as the 责任区 workbook of the
    same data assigns them. Townships that plan leaves without a committee stay without one.
    """
    if prm.township_committees:
        return dict(prm.township_committees), "params"
    if "committee_id" in ds.townships.columns:
        found = {str(t): str(k) for t, k in zip(ds.townships["id"], ds.townships["committee_id"])
                 if k is not None and k == k}
        if found:
            return found, "dataset"
    if not len(ds.committees) or not len(ds.townships):
        return {}, None
    res = run_optimisation(ds, {"tiers": ["townships"]})
    found = township_committees_from(res)
    return found, ("plan" if found else None)


def township_committees_from(optimisation: Any) -> dict[str, str]:
    """township id -> committee id from an optimisation result's tier 3 (``townships``), for
    ``RosterParams.township_committees``; accepts the result object or its ``to_dict()``."""
    d = optimisation.to_dict() if hasattr(optimisation, "to_dict") else dict(optimisation or {})
    tier = (d.get("tiers") or {}).get("townships") or {}
    return {str(t): str(k) for t, k in (tier.get("assignment") or {}).items() if k is not None}


def plan_roster(ds: Any, params: RosterParams | Mapping | None = None, progress: Progress = None,
                should_stop: StopCheck = None, *, previous: RosterResult | Mapping | None = None,
                network: Any = None) -> RosterResult:
    """Plan a roster for dataset ``ds`` (the one entry point for the CLI and the API job).

    ``params``: :class:`RosterParams` or a dict of its fields (``ValueError`` naming a bad one);
    ``previous``: the roster to re-plan (with ``params.replan_from``); ``progress(fraction, text)``;
    ``should_stop()`` -> True cancels (raises :class:`Cancelled`).
    """
    t = time.perf_counter()
    pb = RosterProblem.from_dataset(ds, params, network=network, previous=previous)
    res = pb.solve(progress=progress, should_stop=should_stop)
    res.time_s = time.perf_counter() - t
    return res


__all__ = ["WEEKDAYS_ZH", "Cancelled", "INFEASIBLE", "FEASIBLE", "NOTHING", "OPTIMAL", "UNKNOWN", "RosterLock", "RosterParams",
           "RosterProblem", "RosterResult", "Unavailability", "plan_roster", "quarter_of",
           "township_committees_from"]
