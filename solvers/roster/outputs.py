"""Roster outputs as frames and records: the 轮值表 tables, the duties, the calendar's records and
GeoJSON "this month's duty".

Everything works from a :class:`~solvers.roster.RosterResult` alone (names and points travel in it),
so a stored job result can be exported without its dataset.

No file is written here: tables go through the one table writer :mod:`geo_service.core.io.sheets`
(formula guard, print setup, glossary headers; :func:`roster_frames` builds them with schema names,
``platform``, ``month`` ..., the writer localises them, ``值班平台``, ``月份``), calendars through
:mod:`geo_service.core.io.calendar` (:func:`calendar_records`); :mod:`geo_service.app.outputs`
composes the two.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import pandas as pd

from geo_service.core import glossary as G
from geo_service.core.errors import InvalidParameter
from geo_service.core.io import sheets

from .problem import WEEKDAYS_ZH, RosterResult
from geo_service.core.glossary import word

#: the roster parameters shown on the 说明 sheet
NOTE_PARAMS = ("start", "months", "per_platform_min", "per_platform_max", "member_min", "member_max",
               "fairness_spread", "allow_consecutive", "sectors_min", "max_distance_m", "mode", "replan_from",
               "time_limit_s")
#: a roster's outcomes, worded by the glossary's ``roster_status_<outcome>``
STATUSES = ("optimal", "feasible", "infeasible", "nothing_to_do", "unknown")
STATUS_ZH = {s: word(f"roster_status_{s}", "zh") for s in STATUSES}
STATUS_EN = {s: word(f"roster_status_{s}", "en") for s in STATUSES}
WEEKDAYS_EN = tuple(word(f"weekday_{i}", "en") for i in range(7))


def _as_result(result: RosterResult | Mapping) -> RosterResult:
    return result if isinstance(result, RosterResult) else RosterResult.from_dict(result)


def _names(res: RosterResult) -> tuple[dict[str, dict], dict[str, dict]]:
    return {m["id"]: m for m in res.members}, {p["id"]: p for p in res.platforms}


def outcome_text(result: RosterResult | Mapping, lang: str = "zh") -> str:
    """The roster's outcome in words (``最优``; ``不可行（已放宽规则）：<first diagnosis>``)."""
    res = _as_result(result)
    words = (STATUS_ZH if lang == "zh" else STATUS_EN).get(res.status, res.status)
    errs = [d for d in res.diagnostics if d.get("severity") == "error"]
    if errs:
        words += (word("sep_colon", lang)) + str(errs[0].get(f"message_{lang}", ""))
    return words


def roster_outcome(result: RosterResult | Mapping) -> dict[str, Any]:
    """The outcome a job record carries (as the optimisation's): ``outcome`` (status), ``gap``,
    ``text`` (words, zh) and ``diagnosis`` (the first error diagnostic, zh) or None."""
    res = _as_result(result)
    errs = [d for d in res.diagnostics if d.get("severity") == "error"]
    return {"outcome": res.status, "gap": res.gap, "text": STATUS_ZH.get(res.status, res.status),
            "diagnosis": errs[0].get("message_zh") if errs else None}


def roster_summary(result: RosterResult | Mapping, lang: str = "zh") -> dict[str, Any]:
    """The roster as the roster JSON: ``status``, ``outcome`` (words), ``objective``, ``bound``, ``gap``,
    ``duties`` (month, station_id, member_id, date), ``consultations`` (quarter, township_id,
    committee_id, date, member_ids) and ``diagnostics``; no home coordinates."""
    res = _as_result(result)
    return {"status": res.status, "outcome": outcome_text(res, lang), "objective": res.objective,
            "bound": res.bound, "gap": res.gap,
            "duties": [{"month": r["month"], "station_id": r["station_id"], "member_id": r["member_id"],
                        "date": r["date"]} for r in res.duties],
            "consultations": [{"quarter": c["quarter"], "township_id": c["township_id"],
                               "committee_id": c.get("committee_id"), "date": c["date"],
                               "member_ids": list(c["member_ids"]),
                               **({"note_code": c["note_code"], "note": c.get(f"note_{lang}")}
                                  if c.get("note_code") else {})} for c in res.consultations],
            "diagnostics": res.diagnostics}


def roster_frames(result: RosterResult | Mapping, lang: str = "zh") -> dict[str, pd.DataFrame]:
    """The roster's tables with schema column names (the writer localises them): ``roster`` (platforms
    x months, member names in cells), ``member_duties``, ``reception_days``, ``consultations``.
    ``lang`` only picks the list separator and weekday words inside cells."""
    res = _as_result(result)
    mem, plat = _names(res)
    zh = lang == "zh"
    sep = word("roster_outputs_sep", lang)
    name = (lambda i: mem.get(i, {}).get("name") or i)
    cells: dict[tuple[str, str], list[str]] = defaultdict(list)
    dates: dict[tuple[str, str], str] = {}
    for r in res.duties:
        cells[(r["station_id"], r["month"])].append(name(r["member_id"]))
        dates[(r["station_id"], r["month"])] = r["date"]
    grid = pd.DataFrame([{"platform": p["name"], **{mo: sep.join(cells.get((p["id"], mo), [])) for mo in res.months}}
                         for p in res.platforms], columns=["platform", *res.months])
    wd = WEEKDAYS_ZH if zh else WEEKDAYS_EN
    reception = pd.DataFrame([{"platform": p["name"], "weekday": wd[int(p.get("weekday", 2)) % 7],
                               **{mo: dates.get((p["id"], mo), "") for mo in res.months}} for p in res.platforms],
                             columns=["platform", "weekday", *res.months])
    by_m: dict[str, list[dict]] = defaultdict(list)
    for r in res.duties:
        by_m[r["member_id"]].append(r)
    rows = []
    for m in res.members:
        ds = sorted(by_m.get(m["id"], []), key=lambda r: r["month"])
        rows.append({"member_name": m["name"], "member_id": m["id"], "sector": m.get("sector"),
                     "duty_months": len(ds),
                     "duties": sep.join(f"{r['date']} {plat.get(r['station_id'], {}).get('name', r['station_id'])}"
                                        for r in ds),
                     "duty_distance_m": float(sum((r.get("distance_m") or 0) for r in ds))})
    per_member = pd.DataFrame(rows, columns=["member_name", "member_id", "sector", "duty_months", "duties",
                                             "duty_distance_m"])
    cons = pd.DataFrame([{"quarter": c["quarter"],
                          "platform": plat.get(c["station_id"], {}).get("name", c["station_id"]),
                          "township_id": c["township_id"], "committee_id": c.get("committee_id") or "",
                          "date": c["date"], "member_names": sep.join(name(i) for i in c["member_ids"]),
                          "sectors": sep.join(c.get("sectors") or []),
                          "note": c.get(f"note_{lang}") or ""} for c in res.consultations],
                        columns=["quarter", "platform", "township_id", "committee_id", "date", "member_names",
                                 "sectors", "note"])
    return {"roster": grid, "member_duties": per_member, "reception_days": reception, "consultations": cons}


def roster_notes(result: RosterResult | Mapping, lang: str = "zh") -> dict[str, Any]:
    """Items of the 说明 sheet: outcome in words, objective, bound, gap, travel, parameters, diagnostics."""
    res = _as_result(result)
    lab = (lambda f: G.label(f, lang))
    out: dict[str, Any] = {"version": sheets.service_version(), "date": dt.date.today().isoformat(),
                           "roster_status": outcome_text(res, lang),
                           lab("objective"): res.objective, lab("bound"): res.bound, lab("gap"): res.gap}
    if res.cost is not None:
        out[G.word("cost", lang) + ((word("roster_outputs_km_suffix", lang)) if res.unit == "m" else
                                    (word("roster_outputs_s_suffix", lang)))] = \
            round(res.cost / 1000, 1) if res.unit == "m" else round(res.cost, 1)
    # the roster's own label for its distance cap (the assignment's max_distance_m is another rule)
    prm = {("roster_" + k if k == "max_distance_m" else k): res.params.get(k) for k in NOTE_PARAMS if k in res.params}
    if prm:
        out["parameters"] = G.param_items(prm, lang)
    key = f"message_{lang}"
    for i, d in enumerate(res.diagnostics, start=1):
        out[f"{lab('diagnostics')} {i}"] = d.get(key) or d.get("code")
    return out


def roster_tables(result: RosterResult | Mapping, lang: str = "zh") -> dict[str, pd.DataFrame]:
    """The roster's tables as people read them, keyed by sheet title: 轮值表, 委员值班, 接待日,
    一季一协商, 说明 (what :func:`geo_service.app.outputs.roster_xlsx_bytes` writes)."""
    out = {G.table_title(k, lang): sheets.localise(df, lang) for k, df in roster_frames(result, lang).items()}
    out[G.table_title("notes", lang)] = sheets.notes_table(roster_notes(result, lang), lang)
    return out


def calendar_records(result: RosterResult | Mapping) -> dict[str, list[dict[str, Any]]]:
    """The plain records a calendar is made of (:func:`geo_service.core.io.calendar.duty_calendar`):
    ``duties``, ``consultations``, ``members`` and ``platforms``."""
    res = _as_result(result)
    return {"duties": list(res.duties), "consultations": list(res.consultations), "members": list(res.members),
            "platforms": list(res.platforms)}


def duties_frame(result: RosterResult | Mapping, lang: str = "en") -> pd.DataFrame:
    """One row per duty: month, date, platform (id and name), member (id and name), distance.
    ``lang="zh"``: glossary headers, distance in km."""
    res = _as_result(result)
    mem, plat = _names(res)
    df = pd.DataFrame([{"month": r["month"], "date": r["date"], "station_id": r["station_id"],
                        "platform": plat.get(r["station_id"], {}).get("name"), "member_id": r["member_id"],
                        "member_name": mem.get(r["member_id"], {}).get("name"),
                        "duty_distance_m": r.get("distance_m")} for r in res.duties],
                      columns=["month", "date", "station_id", "platform", "member_id", "member_name",
                               "duty_distance_m"])
    return sheets.localise(df, lang)


# -- GeoJSON -------------------------------------------------------------------------------------------
def duty_geojson(result: RosterResult | dict, month: str | None = None) -> dict[str, Any]:
    """"This month's duty" (default the first month): platform points with their members and date,
    the members' homes, and a line from each home to its platform (WGS-84 lon/lat)."""
    res = _as_result(result)
    mem, plat = _names(res)
    month = month or (res.months[0] if res.months else None)
    if month not in res.months:
        if not res.months:
            raise InvalidParameter("month", f"month: {month!r}: the roster has no months", "roster_empty")
        raise InvalidParameter("month", f"month: {month!r} is not in the roster ({res.months[0]}..{res.months[-1]})",
                               "not_in_roster", ctx={"first": res.months[0], "last": res.months[-1]})
    on: dict[str, list[dict]] = defaultdict(list)
    for r in res.duties:
        if r["month"] == month:
            on[r["station_id"]].append(r)
    feats = []
    for p in res.platforms:
        if p.get("lon") is None:
            continue
        rs = on.get(p["id"], [])
        feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [p["lon"], p["lat"]]},
                      "properties": {"layer": "platform", "station_id": p["id"], "name": p["name"], "month": month,
                                     "date": rs[0]["date"] if rs else None,
                                     "member_ids": [r["member_id"] for r in rs],
                                     "member_names": [mem.get(r["member_id"], {}).get("name") for r in rs]}})
        for r in rs:
            m = mem.get(r["member_id"])
            if not m or m.get("lon") is None:
                continue
            feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [m["lon"], m["lat"]]},
                          "properties": {"layer": "member", "member_id": m["id"], "name": m["name"],
                                         "sector": m.get("sector"), "station_id": p["id"], "month": month}})
            feats.append({"type": "Feature",
                          "geometry": {"type": "LineString", "coordinates": [[m["lon"], m["lat"]], [p["lon"], p["lat"]]]},
                          "properties": {"layer": "link", "member_id": m["id"], "station_id": p["id"],
                                         "distance_m": r.get("distance_m"), "month": month}})
    return {"type": "FeatureCollection", "features": feats}
