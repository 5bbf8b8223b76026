"""Quarterly consultations (一季一协商): one per township platform and quarter.

Each consultation gets a date (the platform's weekday in a week of one of the quarter's months,
moved off holidays; the quarter's ``consultation_month`` preferred), the township's responsible
committee from the one committee plan (:func:`solvers.roster.problem._committee_plan`: the latest
run's or the dataset's, the same as the 责任区 workbook) and one member of each of the
``consultation_sectors`` sectors its villages need most (constituents per sector; else the
station's sectors). A small CP-SAT model picks dates and members: consultations spread over the
quarter (each extra one on a day already taken costs more than any member's detour), nearest
members first, no member in two consultations in the same ISO week (so never two on one day). A
consultation left without a committee or without members says why (``note_code``,
``note_zh``, ``note_en``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from collections import Counter, defaultdict
from typing import Any

from ortools.sat.python import cp_model

from geo_service.core.glossary import message

from .types import _diag_msg, _part
from .calendar import iso_week, quarter_of, reception_date

if TYPE_CHECKING:  # the problem type only: roster.py imports this module
    from .problem import RosterProblem

_CANDIDATES = 8  # nearest members per sector considered
_SAME_DAY = 5000  # objective units (100 m) per consultation beyond the first on one day


def plan_consultations(pb: RosterProblem, duties: set, seed: int = 0, time_limit_s: float = 5.0
                       ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    prm = pb.params
    ci = pb.consult_input or {}
    diags: list[dict[str, Any]] = []
    if prm.consultation_sectors == 0:
        return [], diags
    # one platform per township
    plat_of: dict[str, int] = {}
    for j, tid in enumerate(pb.platform_townships):
        if tid is not None and tid not in plat_of:
            plat_of[tid] = j
    if not plat_of:
        diags.append(_diag_msg("no_townships", "roster_no_townships", {}, "warning"))
        return [], diags
    kept = list(ci.get("kept") or [])
    cons, slots = _consultations_to_plan(pb, ci, plat_of, {(c["quarter"], c["township_id"]) for c in kept})
    md, w, y = _consultation_model(pb, cons, slots)
    sol = cp_model.CpSolver()
    sol.parameters.max_time_in_seconds = time_limit_s
    sol.parameters.random_seed = int(seed)
    sol.parameters.num_workers = 2
    sol.parameters.relative_gap_limit = 0.01  # distances in 100 m units: 1 % is plenty here
    st = sol.Solve(md)
    if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE) and cons:
        diags.append(_diag_msg("consultations_unsolved", "roster_consultations_unsolved", {}, "warning"))
        return kept, diags
    chosen: dict[int, list[int]] = defaultdict(list)
    missing = 0
    for si, (c, s, ms) in enumerate(slots):
        got = [i for i in ms if sol.Value(y[(si, i)])]
        chosen[c] += got
        missing += not got
    if missing:
        diags.append(_diag_msg("consultation_sector_missing", "roster_consultation_sector_missing", {"n": missing},
                               "warning"))
    committees = ci.get("committees") or {}
    out = kept
    notes: Counter = Counter()
    for c, cc in enumerate(cons):
        k = next(k for k in range(len(cc["dates"])) if sol.Value(w[(c, k)]))
        mids = [pb.member_ids[i] for i in chosen[c]]
        com = committees.get(cc["township_id"])
        row = {"quarter": cc["quarter"], "township_id": cc["township_id"], "station_id": cc["station_id"],
               "committee_id": com, "date": cc["dates"][k].isoformat(), "member_ids": mids,
               "sectors": cc["sectors"]}
        code = _note_code(com, mids, cc["sectors"], ci.get("committee_source"))
        if code:
            row.update({"note_code": code, "note_zh": _NOTES[code][0], "note_en": _NOTES[code][1]})
            notes[code] += 1
        out.append(row)
    for code, n in sorted(notes.items()):
        diags.append(_diag_msg(f"consultation_{code}", "roster_consultation_note",
                               {"n": n, "note": _part(f"roster_note_{code}")}, "warning", consultations=n))
    return out, diags


def _consultations_to_plan(pb: RosterProblem, ci: dict[str, Any], plat_of: dict[str, int], done: set
                           ) -> tuple[list[dict[str, Any]], list[tuple[int, str, list[int]]]]:
    """The consultations to plan (quarter, township, platform, candidate dates, sectors) and their sector
    seats (consultation, sector, nearest candidate members); ``done`` (quarter, township) are kept."""
    prm = pb.params
    quarters: dict[str, list[str]] = defaultdict(list)
    for mo in pb.months[pb.frozen_upto:]:
        quarters[quarter_of(mo)].append(mo)
    by_sector: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(pb.member_sectors):
        by_sector[s].append(i)
    need = ci.get("need", {})
    st_secs = ci.get("station_sectors", {})
    slots = []  # (c, sector, candidate members)
    cons = []   # dicts with quarter, township, platform, candidate dates
    for q, mos in sorted(quarters.items()):
        y, qn = int(q[:4]), int(q[-1])
        want = f"{y:04d}-{(qn - 1) * 3 + prm.consultation_month:02d}"
        mo = want if want in mos else mos[0]
        for tid, j in sorted(plat_of.items()):
            if (q, tid) in done:
                continue
            # every week of every month of the quarter; the consultation month's first
            dates = sorted({reception_date(m_, pb.weekdays[j], w, pb.holidays) for m_ in mos for w in (1, 2, 3, 4)},
                           key=lambda d, mo=mo: (d.strftime("%Y-%m") != mo, d))
            secs = [s for s in need.get(tid, []) if by_sector.get(s)]
            src = "constituents"
            if len(secs) < prm.consultation_sectors:
                secs += [s for s in st_secs.get(pb.platform_ids[j], []) if by_sector.get(s) and s not in secs]
                src = "station"
            secs = secs[:prm.consultation_sectors]
            c = len(cons)
            cons.append({"quarter": q, "township_id": tid, "station_id": pb.platform_ids[j], "month": mo,
                         "dates": dates, "sectors": secs, "sector_source": src, "j": j})
            for s in secs:
                ms = sorted(by_sector[s], key=lambda i: (pb.dist_m[i, j], i))[:_CANDIDATES]
                slots.append((c, s, ms))
    return cons, slots


def _consultation_model(pb: RosterProblem, cons: list[dict[str, Any]], slots: list[tuple[int, str, list[int]]]
                        ) -> tuple[cp_model.CpModel, dict[tuple[int, int], Any], dict[tuple[int, int], Any]]:
    """The CP-SAT model of the module docstring: date booleans ``w`` (consultation, date) and member
    booleans ``y`` (seat, member)."""
    md = cp_model.CpModel()
    w = {(c, k): md.NewBoolVar(f"w{c}_{k}") for c, cc in enumerate(cons) for k in range(len(cc["dates"]))}
    for c, cc in enumerate(cons):
        md.AddExactlyOne([w[(c, k)] for k in range(len(cc["dates"]))])
    y: dict[tuple[int, int], Any] = {}
    obj = []
    pen = []
    for si, (c, s, ms) in enumerate(slots):
        vs = []
        for i in ms:
            v = md.NewBoolVar(f"y{si}_{i}")
            y[(si, i)] = v
            vs.append(v)
            obj.append(int(pb.dist_m[i, cons[c]["j"]] // 100) * v)  # 100 m units
        miss = md.NewBoolVar(f"miss{si}")
        md.AddExactlyOne(vs + [miss])
        pen.append(10**7 * miss)
    by_day: dict[Any, list] = defaultdict(list)
    for c, cc in enumerate(cons):
        for k, d in enumerate(cc["dates"]):
            obj.append(k * 5 * w[(c, k)])  # prefer the consultation month, then the earliest week, a little
            by_day[d].append(w[(c, k)])
    for d, vs in by_day.items():  # spread over the quarter: a second consultation on one day costs
        if len(vs) > 1:
            extra = md.NewIntVar(0, len(vs), f"extra_{d.isoformat()}")
            md.Add(extra >= sum(vs) - 1)
            pen.append(_SAME_DAY * extra)
    _one_consultation_a_week(md, cons, slots, w, y)
    md.Minimize(sum(obj) + sum(pen))
    return md, w, y


def _one_consultation_a_week(md: cp_model.CpModel, cons: list[dict[str, Any]], slots: list, w: dict, y: dict
                             ) -> None:
    """No member in two consultations in the same ISO week."""
    zs: dict[tuple[int, tuple[int, int]], list] = defaultdict(list)
    mem_c: dict[tuple[int, int], list] = defaultdict(list)
    for (si, i), v in y.items():
        mem_c[(slots[si][0], i)].append(v)
    for (c, i), vs in mem_c.items():
        inc = md.NewBoolVar(f"in{c}_{i}")
        md.Add(sum(vs) == inc)
        for k, d in enumerate(cons[c]["dates"]):
            z = md.NewBoolVar(f"z{c}_{i}_{k}")
            md.AddBoolOr([inc.Not(), w[(c, k)].Not(), z])
            zs[(i, iso_week(d))].append(z)
    for vs in zs.values():
        if len(vs) > 1:
            md.AddAtMostOne(vs)


#: why a consultation has no committee or no members: code -> (zh, en), from the glossary
_NOTES = {c: (message(f"roster_note_{c}", "zh"), message(f"roster_note_{c}", "en"))
          for c in ("no_committees", "township_unassigned", "no_sectors", "no_members")}


def _note_code(committee: str | None, members: list[str], sectors: list[str], source: str | None) -> str | None:
    """The reason a consultation lacks a committee or members (committee first), or None."""
    if committee is None:
        return "no_committees" if source is None else "township_unassigned"
    if not members:
        return "no_sectors" if not sectors else "no_members"
    return None
