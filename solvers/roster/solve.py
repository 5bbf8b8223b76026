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
    _diag,
    _km,
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


def _cap_texts(cap: float) -> tuple[str, str]:
    """The distance cap as it reads inside a zh and an en sentence ("" without a cap)."""
    return (f"{_km(cap)} 内" if math.isfinite(cap) else "", f" within {_km(cap)}" if math.isfinite(cap) else "")


def _platforms_short(pb: RosterProblem, cap: float) -> list[dict[str, Any]]:
    """Each platform and month: enough available members within the cap."""
    prm = pb.params
    n, P = pb.cost.shape
    T = len(pb.months)
    t0 = pb.frozen_upto
    cap_txt, cap_en = _cap_texts(cap)
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
                fix_zh = f"将 max_distance_m 提高到 {_km(math.ceil(raise_to / 1000) * 1000)} 或增加可值班委员"
                fix_en = f"raise max_distance_m to {_km(math.ceil(raise_to / 1000) * 1000)} or add availability"
            else:
                fix_zh, fix_en = "增加该月可值班委员或降低 per_platform_min", "add availability or lower per_platform_min"
            out.append(_diag("platform_short",
                             f"{mo}：{name} 需要 {need} 名委员值班，{cap_txt}可值班的只有 {k} 名；{fix_zh}",
                             f"{mo}: {name} needs {need} member{'s' if need > 1 else ''}, only {k} "
                             f"{'is' if k == 1 else 'are'} available{cap_en}; {fix_en}",
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
    _cap_txt, cap_en = _cap_texts(cap)
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
            fix_zh = f"将 max_distance_m 提高到 {_km(math.ceil(near / 1000) * 1000)}，或将 member_min 降到 {can}"
            fix_en = f"raise max_distance_m to {_km(math.ceil(near / 1000) * 1000)} or lower member_min to {can}"
        else:
            fix_zh, fix_en = f"增加其可值班月份，或将 member_min 降到 {can}", f"add availability or lower member_min to {can}"
        out.append(_diag("member_short",
                         f"{name}（{pb.member_ids[m]}）最多能值班 {can} 个月，少于 member_min {mn}；{fix_zh}",
                         f"{name} ({pb.member_ids[m]}) can serve at most {can} month(s){cap_en}, "
                         f"member_min is {mn}; {fix_en}", rule="member_min", member_id=pb.member_ids[m],
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
        out.append(_diag("total_short", f"委员不够：各平台共需 {demand} 人次值班，委员最多能承担 {supply} 人次；"
                                        f"请提高 member_max 或降低 per_platform_min",
                         f"platforms need {demand} member-months, members can give at most {supply}; "
                         "raise member_max or lower per_platform_min", rule="member_max", needed=demand,
                         available=supply))
    mins = int(sum(pb.member_min[m] for m in pb.fair_members))
    room = prm.per_platform_max * P * free + len(pb.frozen)
    if mins > room:  # the duty slots bind: say it with the two fixes that pass it
        left = mins - len(pb.frozen)
        ppm = math.ceil(left / max(P * free, 1))
        more = max(math.ceil(left / max(prm.per_platform_max * free, 1)) - P, 1)
        out.append(_diag("total_over",
                         f"值班名额不够：{P} 个平台 × {free} 个月 × 每月最多 {prm.per_platform_max} 人 = {room} 人次，"
                         f"而 {len(pb.fair_members)} 位委员每人至少 {int(prm.member_min)} 个月共需 {mins} 人次；"
                         f"请将 per_platform_max 提高到 {ppm}，或再增加 {more} 个值班平台，或降低 member_min",
                         f"too few duty slots: {P} platforms x {free} months x at most {prm.per_platform_max} = "
                         f"{room} member-months, but {len(pb.fair_members)} members at least "
                         f"{int(prm.member_min)} month(s) each need {mins}; raise per_platform_max to {ppm}, "
                         f"add {more} platform(s) or lower member_min", rule="per_platform_max",
                         needed=mins, available=room, relax={"per_platform_max": ppm, "platforms_more": more}))
    return out


def _sectors_short(pb: RosterProblem, cap: float) -> list[dict[str, Any]]:
    """Sectors within reach of each platform."""
    prm = pb.params
    n, P = pb.cost.shape
    t0 = pb.frozen_upto
    cap_txt, cap_en = _cap_texts(cap)
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
        fix_en = (f"raise max_distance_m to {_km(math.ceil(raise_to / 1000) * 1000)} or lower sectors_min to {len(secs)}"
                  if raise_to is not None and math.isfinite(cap) else f"lower sectors_min to {len(secs)}")
        fix_zh = (f"将 max_distance_m 提高到 {_km(math.ceil(raise_to / 1000) * 1000)} 或将 sectors_min 降到 {len(secs)}"
                  if raise_to is not None and math.isfinite(cap) else f"将 sectors_min 降到 {len(secs)}")
        out.append(_diag("sectors_short", f"{pb.platform_names[p]}{cap_txt and '：' + cap_txt}只有 {len(secs)} 个界别的委员，"
                                          f"少于 sectors_min {prm.sectors_min}；{fix_zh}",
                         f"{pb.platform_names[p]}: members of only {len(secs)} sector(s){cap_en}, "
                         f"sectors_min is {prm.sectors_min}; {fix_en}", rule="sectors_min",
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
            why_zh, why_en = _rules_set(pb)
            out.append(_diag("platform_short", f"{mo}：{name} 缺 {v} 名值班委员（{why_zh}合起来不够）；"
                                               f"请降低 per_platform_min、提高 member_max 或增加可值班委员",
                             f"{mo}: {name} is short of {v} member(s) on duty ({why_en} together); lower "
                             "per_platform_min, raise member_max or add availability", rule="per_platform_min",
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
            fix_zh, fix_en = _member_fix(pb, k)
            out.append(_diag("member_short", f"{pb.member_names[m]}（{pb.member_ids[m]}）只能值班 {k} 个月，少于 member_min；"
                                             f"{fix_zh}",
                             f"{pb.member_names[m]} ({pb.member_ids[m]}) can serve only {k} month(s) with the "
                             f"other rules; {fix_en}", rule="member_min", member_id=pb.member_ids[m], short_by=v))
        elif kind == "member_over":
            m = key[0]
            out.append(_diag("member_over", f"{pb.member_names[m]}（{pb.member_ids[m]}）须值班 {prm.member_max + v} 个月"
                                            f"（锁定/已定），超过 member_max；请将 member_max 提高到 {prm.member_max + v}",
                             f"{pb.member_names[m]} ({pb.member_ids[m]}) must serve {prm.member_max + v} months "
                             f"(locks, frozen months); raise member_max to {prm.member_max + v}",
                             rule="member_max", member_id=pb.member_ids[m], short_by=v))
            relax["member_max"] = max(relax.get("member_max", 0), prm.member_max + v)
        elif kind == "sectors_short":
            p = key[0]
            if ("sectors_short", pb.platform_ids[p]) in have:
                continue
            k = prm.sectors_min - v
            out.append(_diag("sectors_short", f"{pb.platform_names[p]} 本期只能有 {k} 个界别的委员值班；请将 sectors_min 降到 {k}",
                             f"{pb.platform_names[p]} can see only {k} sector(s) this period; lower sectors_min to {k}",
                             rule="sectors_min", station_id=pb.platform_ids[p], short_by=v))
            relax.setdefault("sectors_min", []).append({"station_id": pb.platform_ids[p], "to": k})
        elif kind == "unavailable":
            m, p, t = key
            out.append(_diag("availability", f"{pb.months[t]}：{pb.platform_names[p]} 需要 {pb.member_names[m]} 在不可值班的月份值班；请增加其可值班时间",
                             f"{pb.months[t]}: {pb.platform_names[p]} needs {pb.member_names[m]} ({pb.member_ids[m]}) "
                             "in a month marked unavailable; add availability", rule="availability",
                             month=pb.months[t], station_id=pb.platform_ids[p], member_id=pb.member_ids[m]))
            relax.setdefault("availability", []).append({"member_id": pb.member_ids[m], "month": pb.months[t]})
    if slots_short:
        names = "、".join(pb.member_names[m] for m in slots_short[:10]) + ("等" if len(slots_short) > 10 else "")
        ids = ", ".join(pb.member_ids[m] for m in slots_short[:10]) + (", ..." if len(slots_short) > 10 else "")
        out.append(_diag("members_without_duty", f"因值班名额不够，{len(slots_short)} 位委员本期排不上值班（{names}）",
                         f"with too few duty slots, {len(slots_short)} members get no duty this period ({ids})",
                         rule="per_platform_max", members=[pb.member_ids[m] for m in slots_short]))
    if over:
        dmax, (m, p, t) = max(over)
        to = math.ceil(dmax / 1000) * 1000
        out.append(_diag("max_distance", f"有 {len(over)} 次值班超出 {_km(prm.max_distance_m)}；将 max_distance_m 提高到 {_km(to)} 可行"
                                         f"（最远：{pb.months[t]} {pb.member_names[m]} 到 {pb.platform_names[p]}）",
                         f"{len(over)} duties lie beyond {_km(prm.max_distance_m)}; raise max_distance_m to {_km(to)} "
                         f"(farthest: {pb.months[t]} {pb.member_ids[m]} to {pb.platform_names[p]})",
                         rule="max_distance_m", relax={"max_distance_m": to}))
        relax["max_distance_m"] = to
    return out, relax


def _rules_set(pb: RosterProblem) -> tuple[str, str]:
    """The rules that limit who can be on duty, naming distance and availability only when set."""
    zh, en = [], []
    if pb.params.availability:
        zh.append("可值班月份")
        en.append("availability")
    if pb.params.max_distance_m is not None:
        zh.append("距离")
        en.append("distance")
    zh += ["每人最多月数", "连续月份"]
    en += ["member_max", "consecutive-month rules"]
    return "、".join(zh), ", ".join(en)


def _member_fix(pb: RosterProblem, k: int) -> tuple[str, str]:
    """What would let a member serve more months, naming only rules the planner set."""
    zh, en = [f"请将 member_min 降到 {k}"], [f"lower member_min to {k}"]
    if pb.params.max_distance_m is not None:
        zh.append("放宽 max_distance_m")
        en.append("raise max_distance_m")
    if pb.params.availability:
        zh.append("增加可值班月份")
        en.append("add availability")
    if len(zh) == 1:
        zh.append("提高 per_platform_max")
        en.append("raise per_platform_max")
    return "或".join(zh), " or ".join(en)


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
        diags.append(_diag("nothing_to_do", {"no platforms": "没有平台（站点）", "no members": "没有委员",
                                              "no months left to plan": "没有需要安排的月份"}[why], why, "info"))
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
            diags.append(_diag("no_solution", "在时间限制内未找到轮值表，请延长 time_limit_s",
                               "no roster found within the time limit; raise time_limit_s", "error"))
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
        diags.append(_diag("fairness_relaxed", f"无法让每位委员值班月数相差不超过 {prm.fairness_spread}，已放宽到 {sp}",
                           f"members' duty months cannot differ by at most {prm.fairness_spread}; relaxed to {sp}",
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
        diags.append(_diag("not_proven", "在时间限制内未找到满足全部规则的轮值表（也未证明不可行）；下面是放宽规则后的方案",
                           "no roster meeting every rule was found within the time limit (nor proven "
                           "impossible); the roster shown relaxes some rules", "error"))
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
        diags.append(_diag("infeasible", "规则之间相互冲突（锁定、已定月份或连续月份规则）",
                           "the rules conflict (locks, frozen months or the consecutive-month rule)"))
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
