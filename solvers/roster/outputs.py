"""Roster outputs: XLSX 轮值表, iCalendar (.ics), GeoJSON "this month's duty" and CSV.

Everything works from a :class:`~solvers.roster.RosterResult` alone (names and points travel in it),
so a stored job result can be exported without its dataset.

Tables go through the one table writer :mod:`geo_service.core.io.sheets` (formula guard, print setup,
glossary headers): :func:`roster_frames` builds them with schema names (``platform``, ``month`` ...),
the writer localises them (``值班平台``, ``月份``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from geo_service.core import glossary as G
from geo_service.core.io import sheets

from .problem import WEEKDAYS_ZH, RosterResult

UID_DOMAIN = "roster.geo-service"
#: the roster parameters shown on the 说明 sheet
NOTE_PARAMS = ("start", "months", "per_platform_min", "per_platform_max", "member_min", "member_max",
               "fairness_spread", "allow_consecutive", "sectors_min", "max_distance_m", "mode", "replan_from",
               "time_limit_s")
STATUS_ZH = {"optimal": "最优", "feasible": "可行（未证明最优）", "infeasible": "不可行（已放宽规则）",
             "nothing_to_do": "无需安排", "unknown": "未找到"}
STATUS_EN = {"optimal": "optimal", "feasible": "feasible (not proven optimal)",
             "infeasible": "infeasible (rules relaxed)", "nothing_to_do": "nothing to do",
             "unknown": "no roster found"}
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


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
        words += ("：" if lang == "zh" else ": ") + str(errs[0].get("message_zh" if lang == "zh" else "message_en", ""))
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
                               **({"note_code": c["note_code"], "note": c.get("note_zh" if lang == "zh" else "note_en")}
                                  if c.get("note_code") else {})} for c in res.consultations],
            "diagnostics": res.diagnostics}


def roster_frames(result: RosterResult | Mapping, lang: str = "zh") -> dict[str, pd.DataFrame]:
    """The roster's tables with schema column names (the writer localises them): ``roster`` (platforms
    x months, member names in cells), ``member_duties``, ``reception_days``, ``consultations``.
    ``lang`` only picks the list separator and weekday words inside cells."""
    res = _as_result(result)
    mem, plat = _names(res)
    zh = lang == "zh"
    sep = "、" if zh else "; "
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
                          "note": c.get("note_zh" if lang == "zh" else "note_en") or ""} for c in res.consultations],
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
        out[G.word("cost", lang) + (("(公里)" if lang == "zh" else " (km)") if res.unit == "m" else
                                    ("(秒)" if lang == "zh" else " (s)"))] = \
            round(res.cost / 1000, 1) if res.unit == "m" else round(res.cost, 1)
    # the roster's own label for its distance cap (the assignment's max_distance_m is another rule)
    prm = {("roster_" + k if k == "max_distance_m" else k): res.params.get(k) for k in NOTE_PARAMS if k in res.params}
    if prm:
        out["parameters"] = G.param_items(prm, lang)
    key = "message_zh" if lang == "zh" else "message_en"
    for i, d in enumerate(res.diagnostics, start=1):
        out[f"{lab('diagnostics')} {i}"] = d.get(key) or d.get("code")
    return out


def roster_tables(result: RosterResult | Mapping, lang: str = "zh") -> dict[str, pd.DataFrame]:
    """The roster's tables as people read them, keyed by sheet title: 轮值表, 委员值班, 接待日,
    一季一协商, 说明 (what :func:`write_xlsx` writes)."""
    out = {G.table_title(k, lang): sheets.localise(df, lang) for k, df in roster_frames(result, lang).items()}
    out[G.table_title("notes", lang)] = sheets.notes_table(roster_notes(result, lang), lang)
    return out


def xlsx_bytes(result: RosterResult | Mapping, lang: str = "zh") -> bytes:
    """The 轮值表 workbook as bytes (one table writer: formula guard, print setup, 说明 sheet)."""
    return sheets.xlsx_bytes(roster_frames(result, lang), lang, title=G.table_title("roster", lang),
                             notes=roster_notes(result, lang))


def write_xlsx(result: RosterResult | Mapping, path: str | Path, lang: str = "zh") -> Path:
    """Write the 轮值表 workbook (see :func:`roster_frames`) to ``path`` (folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(xlsx_bytes(result, lang))
    return path


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


def csv_bytes(result: RosterResult | Mapping, lang: str = "zh") -> bytes:
    """Duties as UTF-8 CSV with BOM (Excel reads Chinese); text cells formula-guarded."""
    return sheets.csv_bytes(duties_frame(result, "en"), lang)


def write_csv(result: RosterResult | Mapping, path: str | Path, lang: str = "zh") -> Path:
    """Write :func:`csv_bytes` to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(csv_bytes(result, lang))
    return path


# -- iCalendar ---------------------------------------------------------------------------------------
#: longest text (characters) of one calendar field; lines are folded at 75 octets by icalendar
ICS_TEXT_MAX = 500


def ics_text(value: object) -> str:
    """``value`` as the text of one iCalendar property: line breaks (CR, LF, CRLF, and the Unicode
    line and paragraph separators) become a space, other control characters are dropped, and the
    text is cut at :data:`ICS_TEXT_MAX` characters. icalendar then escapes ``, ; \\`` and folds
    long lines, so a name can never start a property or an event of its own."""
    text = str(value if value is not None else "")
    for br in ("\r\n", "\r", "\n", "\u2028", "\u2029", "\x85", "\x0b", "\x0c"):
        text = text.replace(br, " ")
    text = "".join(ch for ch in text if ch >= " " and ch != "\x7f")
    return text[:ICS_TEXT_MAX]


def _uid(*parts: str) -> str:
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:24] + "@" + UID_DOMAIN


def ics_calendar(result: RosterResult | dict, member_id: str | None = None, *, title: str = "政协委员值班"):
    """An :class:`icalendar.Calendar`: one all-day event per duty day (per platform and date, listing
    the members; or, with ``member_id``, that member's duties) and per consultation. UIDs are stable:
    the same duty slot keeps its UID across re-plans, so calendar apps update instead of duplicating.
    """
    from icalendar import Calendar, Event

    res = _as_result(result)
    mem, plat = _names(res)
    if member_id is not None and member_id not in mem:
        raise ValueError(f"member_id: unknown member {member_id!r}")
    cal = Calendar()
    cal.add("prodid", "-//geo-service//roster//ZH")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", ics_text(title if member_id is None else f"{title}：{mem[member_id]['name']}"))
    stamp = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)  # fixed: same roster, same file
    slots: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for r in res.duties:
        if member_id is None or r["member_id"] == member_id:
            slots[(r["month"], r["station_id"], r["date"])].append(r["member_id"])
    for (month, sid, date), mids in sorted(slots.items()):
        p = plat.get(sid, {"name": sid})
        ev = Event()
        ev.add("uid", _uid("duty", month, sid, *( [member_id] if member_id else [])))
        ev.add("dtstamp", stamp)
        ev.add("dtstart", dt.date.fromisoformat(date))
        ev.add("dtend", dt.date.fromisoformat(date) + dt.timedelta(days=1))
        ev.add("summary", ics_text(f"委员接待日：{p['name']}"))
        ev.add("description", ics_text("值班委员：" + "、".join(str(mem.get(i, {}).get("name", i)) for i in mids)))
        ev.add("location", ics_text(p["name"]))
        if p.get("lat") is not None and p.get("lon") is not None:
            ev.add("geo", (p["lat"], p["lon"]))
        cal.add_component(ev)
    for c in res.consultations:
        if member_id is not None and member_id not in c["member_ids"]:
            continue
        p = plat.get(c["station_id"], {"name": c["station_id"]})
        ev = Event()
        ev.add("uid", _uid("consultation", c["quarter"], c["township_id"], *([member_id] if member_id else [])))
        ev.add("dtstamp", stamp)
        ev.add("dtstart", dt.date.fromisoformat(c["date"]))
        ev.add("dtend", dt.date.fromisoformat(c["date"]) + dt.timedelta(days=1))
        ev.add("summary", ics_text(f"一季一协商：{p['name']}"))
        ev.add("description", ics_text(f"{c['quarter']}；专委会：{c.get('committee_id') or '未定'}；委员："
                                       + "、".join(str(mem.get(i, {}).get("name", i)) for i in c["member_ids"])))
        ev.add("location", ics_text(p["name"]))
        cal.add_component(ev)
    return cal


def write_ics(result: RosterResult | dict, path: str | Path, member_id: str | None = None) -> Path:
    path = Path(path)
    path.write_bytes(ics_calendar(result, member_id).to_ical())
    return path


def write_ics_dir(result: RosterResult | dict, folder: str | Path) -> list[Path]:
    """``all.ics`` plus one ``<member_id>.ics`` per member with a duty or consultation."""
    res = _as_result(result)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = [write_ics(res, folder / "all.ics")]
    ids = sorted({r["member_id"] for r in res.duties} | {i for c in res.consultations for i in c["member_ids"]})
    known = {m["id"] for m in res.members}
    for i in ids:
        if i in known:
            safe = re.sub(r"[^\w.-]", "_", i)[:80] or "member"
            out.append(write_ics(res, folder / f"{safe}.ics", member_id=i))
    return out


# -- GeoJSON -------------------------------------------------------------------------------------------
def duty_geojson(result: RosterResult | dict, month: str | None = None) -> dict[str, Any]:
    """"This month's duty" (default the first month): platform points with their members and date,
    the members' homes, and a line from each home to its platform (WGS-84 lon/lat)."""
    res = _as_result(result)
    mem, plat = _names(res)
    month = month or (res.months[0] if res.months else None)
    if month not in res.months:
        raise ValueError(f"month: {month!r} is not in the roster ({res.months[0]}..{res.months[-1]})")
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
