"""Solving a :class:`~solvers.roster.RosterProblem`: precheck, strict model, relaxed model, result.

Order: a counting precheck (necessary conditions, each with the smallest relaxation in words); the
strict CP-SAT model when the precheck passes; the relaxed (slack) model when either fails, whose
non-zero slacks name the rule, month and platform. Then reception dates and consultations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import math
import time
from collections import defaultdict
from typing import Any

import numpy as np

from .types import (
    FEASIBLE,
    INFEASIBLE,
    NOTHING,
    OPTIMAL,
    UNKNOWN,
    Cancelled,
    RosterResult,
    _diag_msg,
    _kmn,
    _part,
)
from .consult import plan_consultations
from .decomp import relaxed_decomposition, warm_start
from .model import RosterModel, candidate_arcs, evaluate, greedy, lp_bound, solve_model

if TYPE_CHECKING:  # the problem type only: roster.py imports this module
    from .problem import RosterProblem


#: "optimal" means proven within this relative gap (the MILP's tolerance; CP-SAT costs are rounded
#: to whole metres or seconds)
OPTIMAL_GAP = 1e-6


def precheck(pb: RosterProblem) -> list[dict[str, Any]]:
    """Necessary conditions by counting; every failure with the smallest relaxation that passes it."""
    cap = math.inf if pb.params.max_distance_m is None else float(pb.params.max_distance_m)
    out = _platforms_short(pb, cap) + _members_short(pb, cap) + _totals_short(pb)
    # the binding constraint first: totals (slots, capacity) before platforms, sectors and members
    order = {"total_over": 0, "total_short": 0, "platform_short": 1, "sectors_short": 2, "member_short": 3}
    out.sort(key=lambda d: order.get(d["code"], 4))
    if pb.params.sectors_min > 0:
        out += _sectors_short(pb, cap)
    return out


def _cap_part(cap: float, msg: str = "roster_cap_within") -> Any:
    """The distance cap as a part of a sentence ("" without a cap)."""
    return _part(msg, km=_kmn(cap)) if math.isfinite(cap) else ""


def _platforms_short(pb: RosterProblem, cap: float) -> list[dict[str, Any]]:
    """Each platform and month: enough available members within the cap."""
    prm = pb.params
    n, P = pb.cost.shape
    T = len(pb.months)
    t0 = pb.frozen_upto
    cap_txt = _cap_part(cap)
    out: list[dict[str, Any]] = []
    locked_pt: dict[tuple[int, int], int] = defaultdict(int)
    for (m, p, t) in pb.locks:
        locked_pt[(p, t)] += 1
    for p in range(P):
        for t in range(t0, T):
            ok_av = np.array([pb.avail[m, t] and (m, p, t) not in pb.blocked for m in range(n)], bool)
            within = ok_av & (pb.dist_m[:, p] <= cap)
            k = int(within.sum()) + locked_pt[(p, t)]
            need = prm.per_platform_min
            if k >= need:
                continue
            d_av = np.sort(pb.dist_m[ok_av, p])
            raise_to = float(d_av[need - 1]) if len(d_av) >= need else None
            mo, name = pb.months[t], pb.platform_names[p]
            if raise_to is not None and math.isfinite(cap):
                fix = _part("roster_fix_platform_distance", km=_kmn(math.ceil(raise_to / 1000) * 1000))
            else:
                fix = _part("roster_fix_platform_availability")
            out.append(_diag_msg("platform_short", "roster_platform_short_pre",
                                 {"mo": mo, "name": name, "need": need, "k": k, "cap": cap_txt, "fix": fix,
                                  "members": _part("roster_word_members" if need > 1 else "roster_word_member"),
                                  "be": _part("roster_word_is" if k == 1 else "roster_word_are")},
                             rule="per_platform_min", month=mo, station_id=pb.platform_ids[p], needed=need,
                             available=k, relax={"max_distance_m": None if raise_to is None or not math.isfinite(cap)
                                                 else math.ceil(raise_to / 1000) * 1000}))
    return out


def _members_short(pb: RosterProblem, cap: float) -> list[dict[str, Any]]:
    """Each member can reach ``member_min`` months."""
    prm = pb.params
    P = pb.cost.shape[1]
    T = len(pb.months)
    t0 = pb.frozen_upto
    cap_en = _cap_part(cap)
    out: list[dict[str, Any]] = []
    for m in sorted(pb.fair_members):
        mn = int(pb.member_min[m])
        done = sum(1 for (i, _p, _t) in pb.frozen if i == m)
        plats = [p for p in range(P) if pb.dist_m[m, p] <= cap]
        months_ok = [t for t in range(t0, T) if pb.avail[m, t]
                     and any((m, p, t) not in pb.blocked for p in plats)]
        can = len(months_ok)
        if len(plats) == 1 and not prm.allow_consecutive:
            can = _alternating(months_ok)
        can = min(can, prm.member_max - done) + done
        if can >= mn:
            continue
        name = pb.member_names[m]
        near = float(pb.dist_m[m].min()) if P else math.inf
        if not plats and math.isfinite(near):
            fix = _part("roster_fix_member_distance", km=_kmn(math.ceil(near / 1000) * 1000), can=can)
        else:
            fix = _part("roster_fix_member_availability", can=can)
        out.append(_diag_msg("member_short", "roster_member_short_pre",
                             {"name": name, "id": pb.member_ids[m], "can": can, "mn": mn, "cap": cap_en, "fix": fix},
                             rule="member_min", member_id=pb.member_ids[m],
                         can=can, needed=mn))
    return out


def _totals_short(pb: RosterProblem) -> list[dict[str, Any]]:
    """Totals: member-months the platforms need against what members can give, and duty slots."""
    prm = pb.params
    n, P = pb.cost.shape
    T = len(pb.months)
    t0 = pb.frozen_upto
    out: list[dict[str, Any]] = []
    free = T - t0
    demand = prm.per_platform_min * P * free
    supply = sum(max(0, prm.member_max - sum(1 for (i, _p, _t) in pb.frozen if i == m)) for m in range(n))
    if demand > supply:
        out.append(_diag_msg("total_short", "roster_total_short", {"demand": demand, "supply": supply}, rule="member_max", needed=demand,
                         available=supply))
    mins = int(sum(pb.member_min[m] for m in pb.fair_members))
    room = prm.per_platform_max * P * free + len(pb.frozen)
    if mins > room:  # the duty slots bind: say it with the two fixes that pass it
        left = mins - len(pb.frozen)
        ppm = math.ceil(left / max(P * free, 1))
        more = max(math.ceil(left / max(prm.per_platform_max * free, 1)) - P, 1)
        out.append(_diag_msg("total_over", "roster_total_over",
                             {"platforms": P, "free": free, "ppmax": prm.per_platform_max, "room": room,
                              "nfair": len(pb.fair_members), "mmin": int(prm.member_min), "mins": mins, "ppm": ppm,
                              "more": more}, rule="per_platform_max",
                         needed=mins, available=room, relax={"per_platform_max": ppm, "platforms_more": more}))
    return out


def _sectors_short(pb: RosterProblem, cap: float) -> list[dict[str, Any]]:
    """Sectors within reach of each platform."""
    prm = pb.params
    n, P = pb.cost.shape
    t0 = pb.frozen_upto
    cap_txt = _cap_part(cap, "roster_cap_sectors")
    out: list[dict[str, Any]] = []
    for p in range(P):
        secs = {pb.member_sectors[m] for m in range(n) if pb.dist_m[m, p] <= cap and pb.avail[m, t0:].any()}
        secs |= {pb.member_sectors[m] if m >= 0 else pb.frozen_sector.get((m, q, t), "")
                 for (m, q, t) in pb.frozen if q == p}
        secs.discard("")
        if len(secs) >= prm.sectors_min:
            continue
        ds_ = sorted({(float(pb.dist_m[m, p]), pb.member_sectors[m]) for m in range(n)})
        seen: list[str] = []
        raise_to = None
        for d, s in ds_:
            if s not in seen:
                seen.append(s)
            if len(seen) >= prm.sectors_min:
                raise_to = d
                break
        fix = (_part("roster_fix_sectors_distance", km=_kmn(math.ceil(raise_to / 1000) * 1000), k=len(secs))
               if raise_to is not None and math.isfinite(cap) else _part("roster_fix_sectors", k=len(secs)))
        out.append(_diag_msg("sectors_short", "roster_sectors_short_pre",
                             {"name": pb.platform_names[p], "cap": cap_txt, "k": len(secs), "smin": prm.sectors_min,
                              "fix": fix}, rule="sectors_min",
                         station_id=pb.platform_ids[p], available=len(secs), needed=prm.sectors_min))
    return out


def _alternating(months: list[int]) -> int:
    """Most months one can pick from ``months`` with no two consecutive."""
    k, last = 0, -10
    for t in months:
        if t > last + 1:
            k += 1
            last = t
    return k


def _slack_diagnostics(pb: RosterProblem, slack: list[tuple[str, tuple, int]], have: set) -> tuple[list, dict]:
    out: list[dict[str, Any]] = []
    relax: dict[str, Any] = {}
    prm = pb.params
    over = [(pb.dist_m[k[0], k[1]], k) for kind, k, _v in slack if kind == "over_cap"]
    slots_short: list[int] = []
    for kind, key, v in slack:
        if kind == "platform_short":
            p, t = key
            if ("platform_short", pb.platform_ids[p], pb.months[t]) in have:
                continue
            mo, name = pb.months[t], pb.platform_names[p]
            out.append(_diag_msg("platform_short", "roster_platform_short",
                                 {"mo": mo, "name": name, "v": v, "why": _rules_set(pb)}, rule="per_platform_min",
                             month=mo, station_id=pb.platform_ids[p], short_by=v))
            relax.setdefault("platform_short", []).append({"month": mo, "station_id": pb.platform_ids[p], "by": v})
        elif kind == "member_short":
            m = key[0]
            if ("member_short", pb.member_ids[m]) in have:
                continue
            k = int(pb.member_min[m]) - v
            relax.setdefault("member_min", []).append({"member_id": pb.member_ids[m], "to": k})
            if ("total_over",) in have:  # a consequence of too few slots: one line below, not one each
                slots_short.append(m)
                continue
            out.append(_diag_msg("member_short", "roster_member_short",
                                 {"name": pb.member_names[m], "id": pb.member_ids[m], "k": k,
                                  "fix": _member_fix(pb, k)}, rule="member_min", member_id=pb.member_ids[m], short_by=v))
        elif kind == "member_over":
            m = key[0]
            out.append(_diag_msg("member_over", "roster_member_over",
                                 {"name": pb.member_names[m], "id": pb.member_ids[m], "n": prm.member_max + v},
                             rule="member_max", member_id=pb.member_ids[m], short_by=v))
            relax["member_max"] = max(relax.get("member_max", 0), prm.member_max + v)
        elif kind == "sectors_short":
            p = key[0]
            if ("sectors_short", pb.platform_ids[p]) in have:
                continue
            k = prm.sectors_min - v
            out.append(_diag_msg("sectors_short", "roster_sectors_short", {"name": pb.platform_names[p], "k": k},
                             rule="sectors_min", station_id=pb.platform_ids[p], short_by=v))
            relax.setdefault("sectors_min", []).append({"station_id": pb.platform_ids[p], "to": k})
        elif kind == "unavailable":
            m, p, t = key
            out.append(_diag_msg("availability", "roster_availability",
                                 {"mo": pb.months[t], "platform": pb.platform_names[p], "member": pb.member_names[m],
                                  "id": pb.member_ids[m]}, rule="availability",
                             month=pb.months[t], station_id=pb.platform_ids[p], member_id=pb.member_ids[m]))
            relax.setdefault("availability", []).append({"member_id": pb.member_ids[m], "month": pb.months[t]})
    if slots_short:
        names = "、".join(pb.member_names[m] for m in slots_short[:10])
        ids = ", ".join(pb.member_ids[m] for m in slots_short[:10])
        msg = "roster_members_without_duty_more" if len(slots_short) > 10 else "roster_members_without_duty"
        out.append(_diag_msg("members_without_duty", msg, {"n": len(slots_short), "names": names, "ids": ids},
                         rule="per_platform_max", members=[pb.member_ids[m] for m in slots_short]))
    if over:
        dmax, (m, p, t) = max(over)
        to = math.ceil(dmax / 1000) * 1000
        out.append(_diag_msg("max_distance", "roster_max_distance",
                             {"n": len(over), "cap": _kmn(prm.max_distance_m), "to": _kmn(to), "mo": pb.months[t],
                              "member": pb.member_names[m], "id": pb.member_ids[m], "platform": pb.platform_names[p]},
                         rule="max_distance_m", relax={"max_distance_m": to}))
        relax["max_distance_m"] = to
    return out, relax


def _rules_set(pb: RosterProblem) -> dict[str, Any]:
    """The rules that limit who can be on duty, naming distance and availability only when set."""
    names = ["roster_rules", "availability" if pb.params.availability else "",
             "distance" if pb.params.max_distance_m is not None else ""]
    return _part("_".join(x for x in names if x))


def _member_fix(pb: RosterProblem, k: int) -> dict[str, Any]:
    """What would let a member serve more months, naming only rules the planner set."""
    dist, avail = pb.params.max_distance_m is not None, bool(pb.params.availability)
    msg = ("roster_fix_member_distance_availability" if dist and avail else "roster_fix_member_distance_only"
           if dist else "roster_fix_member_availability_only" if avail else "roster_fix_member_slots")
    return _part(msg, k=k)


def solve_problem(pb: RosterProblem, time_limit_s: float, seed: int, workers: int, progress: Any,
                  should_stop: Any) -> RosterResult:
    t_start = time.perf_counter()
    prm = pb.params
    n, P = pb.cost.shape
    T = len(pb.months)
    diags = list(pb.diagnostics)
    base = _base_fields(pb)
    _check_stop(should_stop)
    if n == 0 or P == 0 or T - pb.frozen_upto <= 0:
        why = "no platforms" if P == 0 else "no members" if n == 0 else "no months left to plan"
        msg = {"no platforms": "roster_nothing_no_platforms", "no members": "roster_nothing_no_members",
               "no months left to plan": "roster_nothing_no_months"}[why]
        diags.append(_diag_msg("nothing_to_do", msg, {}, "info"))
        duties = _duty_rows(pb, set())
        return RosterResult(NOTHING, 0.0, 0.0, 0.0, duties=duties, diagnostics=diags, cost=0.0, **base)
    pre = precheck(pb)
    if progress:
        progress(0.05, f"precheck: {len(pre)} problem(s)")
    relaxed_used = False
    remaining = lambda: max(1.0, time_limit_s - (time.perf_counter() - t_start))  # noqa: E731
    status, out, first_s = (None, {}, None) if pre else _solve_strict(
        pb, time_limit_s, seed, workers, progress, should_stop, remaining, t_start)
    first_s = out.get("first_s", first_s)
    if status is None or status == INFEASIBLE:
        unknown = status is None and not pre
        rx = _solve_relaxed(pb, out, lambda: max(remaining(), 0.25 * time_limit_s), seed, workers, progress,
                            should_stop, t_start)
        relaxed_used = True
        if rx["status"] not in ("OPTIMAL", "FEASIBLE"):
            diags.append(_diag_msg("no_solution", "roster_no_solution", {}, "error"))
            return RosterResult(UNKNOWN, None, None, None, duties=_duty_rows(pb, set()), diagnostics=diags + pre,
                                time_to_first_s=None, **base)
        out = rx
        first_s = first_s or rx.get("first_s")
        status = _relaxed_status(rx, unknown, diags)
    relax = None
    if relaxed_used:
        relax = _add_slack_diagnostics(pb, pre, out, status, diags)
    if out.get("spread_excess"):
        sp = prm.fairness_spread + out["spread_excess"]
        diags.append(_diag_msg("fairness_relaxed", "roster_fairness_relaxed", {"spread": prm.fairness_spread, "sp": sp},
                               "warning", spread=sp, lo=out.get("lo"), hi=out.get("hi")))
    duties = set(out["duties"])
    rows = _duty_rows(pb, duties)
    churn = _churn(pb, duties) if pb.previous or pb.frozen or prm.replan_from else None
    obj = out["objective"]
    bound = out["bound"]
    if status == INFEASIBLE or status == UNKNOWN:
        # the relaxed model's figures include slack weights: report the travel cost of the relaxed roster
        bound = None
    gap = None if bound is None else max(0.0, (obj - bound) / max(abs(obj), 1e-9)) if obj > 1e-9 else 0.0
    cons, cdiag = [], []
    _check_stop(should_stop)
    t_roster = time.perf_counter() - t_start
    if prm.consultations and pb.consult_input is not None:
        cons, cdiag = plan_consultations(pb, duties, seed=seed, time_limit_s=prm.consultation_time_limit_s)
    if progress:
        progress(1.0, f"roster {status}")
    rank = {"error": 0, "warning": 1}  # what blocks the roster first, then what it had to give up, then notes
    diags = sorted(diags + cdiag, key=lambda d: rank.get(d.get("severity", ""), 2))
    return RosterResult(status, obj, bound, gap, duties=rows, consultations=cons, diagnostics=diags,
                        cost=float(sum(r["cost"] for r in rows)), churn=churn, relaxation=relax,
                        time_s=time.perf_counter() - t_start, time_to_first_s=first_s,
                        timings={"roster": t_roster, "consultations": time.perf_counter() - t_start - t_roster},
                        **base)


def _check_stop(should_stop: Any) -> None:
    if should_stop is not None and should_stop():
        raise Cancelled("roster cancelled")


def _base_fields(pb: RosterProblem) -> dict[str, Any]:
    """Fields every roster result carries: months, unit, params, platforms and members."""
    n, P = pb.cost.shape
    return dict(months=pb.months, unit=pb.unit, params=pb.params.model_dump(mode="json"),
                platforms=[{"id": pb.platform_ids[j], "name": pb.platform_names[j],
                            "township_id": pb.platform_townships[j],
                            "lon": _num(pb.platform_lonlat[j, 0]), "lat": _num(pb.platform_lonlat[j, 1]),
                            "weekday": pb.weekdays[j]} for j in range(P)],
                members=[{"id": pb.member_ids[i], "name": pb.member_names[i], "sector": pb.member_sectors[i],
                          "lon": _num(pb.member_lonlat[i, 0]), "lat": _num(pb.member_lonlat[i, 1])} for i in range(n)])


def _solve_strict(pb: RosterProblem, time_limit_s: float, seed: int, workers: int, progress: Any,
                  should_stop: Any, remaining: Any, t_start: float) -> tuple[str | None, dict[str, Any], float | None]:
    """Bound, warm start and the strict model: (status or None when undecided, solution, first-solution s)."""
    prm = pb.params
    status = None
    first_s = None
    out: dict[str, Any] = {}
    lb, counts = lp_bound(pb, want_solution=True)
    lb += _churn_floor(pb)
    if progress:
        progress(0.08, "LP bound")
    hint, b1 = (warm_start(pb, min(0.5 * time_limit_s, remaining()), seed, workers, lp_counts=counts)
                if prm.warm_start else (None, -math.inf))
    _check_stop(should_stop)
    if b1 == math.inf:  # the month-free relaxation is infeasible: so is the roster
        status = INFEASIBLE
        b1 = -math.inf
    bound = max(lb, b1)
    if hint is not None:
        ev = evaluate(pb, hint)
        first_s = time.perf_counter() - t_start
        gap = (ev["objective"] - bound) / max(ev["objective"], 1e-9)
        if progress:
            progress(0.5, f"warm start: objective {ev['objective']:.0f}, gap {max(gap, 0):.3%}")
        if gap <= prm.relative_gap:
            out = {"status": "WARM", "duties": hint, "objective": ev["objective"], "bound": min(bound, ev["objective"]),
                   "spread_excess": ev["excess"], "slack": [], "first_s": first_s}
            status = OPTIMAL if gap <= OPTIMAL_GAP else FEASIBLE
    if status is None:
        status, out = _solve_full_model(pb, hint, bound, first_s, remaining(), seed, workers, progress, should_stop)
    return status, out, first_s


def _solve_full_model(pb: RosterProblem, hint: Any, bound: float, first_s: float | None, time_limit_s: float,
                      seed: int, workers: int, progress: Any, should_stop: Any) -> tuple[str | None, dict[str, Any]]:
    """The strict CP-SAT model, hinted with the warm start; its status and solution (the warm start if better)."""
    prm = pb.params
    P = pb.cost.shape[1]
    T = len(pb.months)
    status = None
    rm = RosterModel(pb, relaxed=False)
    if hint is not None:
        rm.hint(hint)
    out = solve_model(rm, time_limit_s, seed, workers, progress, should_stop,
                      external_bound=bound, relative_gap=prm.relative_gap)
    if out["cancelled"]:
        raise Cancelled("roster cancelled")
    if out["status"] in ("OPTIMAL", "FEASIBLE"):
        out["objective"] = evaluate(pb, out["duties"])["objective"]  # float costs, not rounded
        if hint is not None and evaluate(pb, hint)["objective"] < out["objective"]:
            out.update(duties=hint, objective=evaluate(pb, hint)["objective"])
        full = _candidates_complete(pb)
        # CP-SAT works on costs rounded to whole units: each duty is off by <= 0.5
        err = float(np.abs(pb.cost - np.rint(pb.cost)).max()) if pb.cost.size else 0.0
        slack_r = err * prm.per_platform_max * P * (T - pb.frozen_upto)
        bound = max(bound, out["bound"] - slack_r) if full else bound
        bound = min(bound, out["objective"])
        out["bound"] = bound
        status = OPTIMAL if out["objective"] - bound <= OPTIMAL_GAP * max(1.0, out["objective"]) else FEASIBLE
        out["first_s"] = first_s if hint is not None else out.get("first_s")
    elif out["status"] == "INFEASIBLE":
        status = INFEASIBLE
    elif hint is not None:  # the full model found nothing better in time: keep the warm start
        ev = evaluate(pb, hint)
        out = {"status": "WARM", "duties": hint, "objective": ev["objective"],
               "bound": min(bound, ev["objective"]), "spread_excess": ev["excess"], "slack": [],
               "first_s": first_s}
        status = FEASIBLE
    return status, out


def _solve_relaxed(pb: RosterProblem, out: dict[str, Any], time_left: Any, seed: int, workers: int,
                   progress: Any, should_stop: Any, t_start: float) -> dict[str, Any]:
    """The relaxed (slack) roster: by decomposition, else the relaxed CP-SAT model hinted with ``out``
    (``time_left()``: seconds each may take)."""
    dec = relaxed_decomposition(pb, time_left(), seed, workers)
    if dec is not None:
        ev = evaluate(pb, dec[0])
        return {"status": "FEASIBLE", "duties": dec[0], "slack": dec[1], "objective": ev["objective"],
                "bound": None, "spread_excess": ev["excess"], "first_s": time.perf_counter() - t_start}
    rm = RosterModel(pb, relaxed=True)
    rm.hint(out.get("duties") or greedy(pb))
    rx = solve_model(rm, time_left(), seed, workers, progress, should_stop)
    if rx.get("cancelled"):
        raise Cancelled("roster cancelled")
    return rx


def _relaxed_status(rx: dict[str, Any], unknown: bool, diags: list[dict[str, Any]]) -> str:
    """Status of a relaxed roster: feasible/optimal when it needed no slack and nothing was proven, else
    unknown (not proven, said in ``diags``) or infeasible."""
    if unknown and not rx["slack"]:
        return FEASIBLE if rx["status"] != "OPTIMAL" else OPTIMAL
    if unknown:
        diags.append(_diag_msg("not_proven", "roster_not_proven", {}, "error"))
        return UNKNOWN
    return INFEASIBLE


def _add_slack_diagnostics(pb: RosterProblem, pre: list[dict[str, Any]], out: dict[str, Any], status: str,
                           diags: list[dict[str, Any]]) -> dict[str, Any]:
    """Append the precheck's and the slacks' diagnostics (each said once) to ``diags``; the relaxation."""
    have = {("platform_short", d["station_id"], d["month"]) for d in pre if d["code"] == "platform_short"}
    have |= {("member_short", d["member_id"]) for d in pre if d["code"] == "member_short"}
    have |= {("sectors_short", d["station_id"]) for d in pre if d["code"] == "sectors_short"}
    have |= {("total_over",) for d in pre if d["code"] == "total_over"}
    sd, relax = _slack_diagnostics(pb, out["slack"], have)
    diags += pre + sd
    if status == INFEASIBLE and not pre and not sd:
        diags.append(_diag_msg("infeasible", "roster_infeasible", {}))
    return relax


def _churn_floor(pb: RosterProblem) -> float:
    """Churn every re-plan must pay: previous duties that cannot stay (member left or unavailable,
    or beyond the cap), and the additions their platform-months then need (x churn weight)."""
    if not pb.previous:
        return 0.0
    prm = pb.params
    cap = math.inf if prm.max_distance_m is None else float(prm.max_distance_m)
    locks = set(pb.locks)
    forced = 0
    left: dict[tuple[int, int], int] = defaultdict(int)
    for (m, p, t) in pb.previous:
        if t < pb.frozen_upto:
            continue
        gone = m < 0 or ((not pb.avail[m, t] or (m, p, t) in pb.blocked or pb.dist_m[m, p] > cap)
                         and (m, p, t) not in locks)
        if gone:
            forced += 1
        else:
            left[(p, t)] += 1
    adds = 0
    for (m, p, t) in pb.previous:
        if t >= pb.frozen_upto and (m < 0 or not pb.avail[m, t]):
            adds = adds  # counted below per platform-month
    pts = {(p, t) for (_m, p, t) in pb.previous if t >= pb.frozen_upto}
    for key in pts:
        adds += max(0, prm.per_platform_min - left[key])
    cw = prm.churn_weight_m if pb.unit == "m" else prm.churn_weight_m / (prm.penalty_speed_kmh / 3.6)
    return float(int(round(cw)) * (forced + adds))


def _num(v: float) -> float | None:
    return None if v is None or not math.isfinite(float(v)) else float(v)


def _candidates_complete(pb: RosterProblem) -> bool:
    cap = math.inf if pb.params.max_distance_m is None else float(pb.params.max_distance_m)
    cand = candidate_arcs(pb, relaxed=False)
    n = pb.cost.shape[0]
    for m in range(n):
        allowed = set(np.flatnonzero(pb.dist_m[m] <= cap).tolist())
        if not allowed <= set(cand.get(m, [])):
            return False
    return True


def _duty_rows(pb: RosterProblem, duties: set[tuple[int, int, int]]) -> list[dict[str, Any]]:
    rows = []
    locks = set(pb.locks)
    for key in pb.frozen:
        m, p, t = key
        mid = pb.member_ids[m] if m >= 0 else pb.frozen_member_ids.get(key, "")
        rows.append({"month": pb.months[t], "station_id": pb.platform_ids[p], "member_id": mid,
                     "date": pb.dates[p][t].isoformat(), "cost": float(pb.cost[m, p]) if m >= 0 else 0.0,
                     "distance_m": float(pb.dist_m[m, p]) if m >= 0 else None, "frozen": True, "locked": False})
    for (m, p, t) in sorted(duties, key=lambda k: (k[2], k[1], k[0])):
        if t < pb.frozen_upto:
            continue
        rows.append({"month": pb.months[t], "station_id": pb.platform_ids[p], "member_id": pb.member_ids[m],
                     "date": pb.dates[p][t].isoformat(), "cost": float(pb.cost[m, p]),
                     "distance_m": float(pb.dist_m[m, p]), "frozen": False, "locked": (m, p, t) in locks})
    rows.sort(key=lambda r: (r["month"], r["station_id"], r["member_id"]))
    return rows


def _churn(pb: RosterProblem, duties: set[tuple[int, int, int]]) -> dict[str, Any]:
    t0 = pb.frozen_upto
    new = {(pb.member_ids[m], p, t) for (m, p, t) in duties if t >= t0}
    old = set()
    for k in pb.previous:
        m, p, t = k
        old.add((pb.member_ids[m] if m >= 0 else f"#{m}", p, t))
    removed, added = old - new, new - old
    return {"replan_from": pb.months[t0] if t0 < len(pb.months) else None, "kept": len(old & new),
            "removed": len(removed), "added": len(added), "changes": len(removed) + len(added),
            "members_affected": len({r[0] for r in removed | added})}
