"""Roster outputs: XLSX 轮值表, iCalendar (.ics), GeoJSON "this month's duty" and CSV.

Everything works from a :class:`~solvers.roster.RosterResult` alone (names and points travel in it),
so a stored job result can be exported without its dataset.

User text is data: XLSX cells holding text are explicit string cells (``quotePrefix`` when they start
like a formula), CSV cells starting with ``= + - @`` tab or CR get a leading ``'``. This is a local
writer until the shared table writer ``geo_service/io/sheets.py`` lands; :func:`roster_tables` gives
the DataFrames that writer takes.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd

from .roster import WEEKDAYS_ZH, RosterResult

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
UID_DOMAIN = "roster.geo-service"
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

STATUS_ZH = {"optimal": "最优", "feasible": "可行（未证明最优）", "infeasible": "不可行（已放宽规则）",
             "nothing_to_do": "无需安排", "unknown": "未找到"}


def _as_result(result: RosterResult | dict) -> RosterResult:
    return result if isinstance(result, RosterResult) else RosterResult.from_dict(result)


def _names(res: RosterResult) -> tuple[dict[str, dict], dict[str, dict]]:
    return {m["id"]: m for m in res.members}, {p["id"]: p for p in res.platforms}


def roster_tables(result: RosterResult | dict, lang: str = "zh") -> dict[str, pd.DataFrame]:
    """Tables of a roster: 轮值表 (platforms x months, names), 委员值班, 接待日, 一季一协商, 说明."""
    res = _as_result(result)
    mem, plat = _names(res)
    zh = lang == "zh"
    name = (lambda i: mem.get(i, {}).get("name") or i)
    cells: dict[tuple[str, str], list[str]] = defaultdict(list)
    dates: dict[tuple[str, str], str] = {}
    for r in res.duties:
        cells[(r["station_id"], r["month"])].append(name(r["member_id"]))
        dates[(r["station_id"], r["month"])] = r["date"]
    col_pl = "平台" if zh else "platform"
    rows = []
    for p in res.platforms:
        row = {col_pl: p["name"]}
        for mo in res.months:
            row[mo] = "、".join(cells.get((p["id"], mo), []))
        rows.append(row)
    grid = pd.DataFrame(rows, columns=[col_pl, *res.months])
    # reception dates (a date per platform and month, whether or not anyone is on duty)
    rec = []
    for p in res.platforms:
        row = {col_pl: p["name"], ("接待日" if zh else "weekday"): WEEKDAYS_ZH[p.get("weekday", 2)] if zh
               else p.get("weekday")}
        for mo in res.months:
            row[mo] = dates.get((p["id"], mo), "")
        rec.append(row)
    reception = pd.DataFrame(rec)
    # per member
    by_m: dict[str, list[dict]] = defaultdict(list)
    for r in res.duties:
        by_m[r["member_id"]].append(r)
    pm = []
    for m in res.members:
        ds = sorted(by_m.get(m["id"], []), key=lambda r: r["month"])
        pm.append({("委员" if zh else "member"): m["name"], ("编号" if zh else "member_id"): m["id"],
                   ("界别" if zh else "sector"): m.get("sector"),
                   ("值班月数" if zh else "months"): len(ds),
                   ("值班安排" if zh else "duties"): "；".join(
                       f"{r['date']} {plat.get(r['station_id'], {}).get('name', r['station_id'])}" for r in ds),
                   ("路程(公里)" if zh else "distance_km"): round(sum((r.get("distance_m") or 0) for r in ds) / 1000, 1)})
    per_member = pd.DataFrame(pm)
    cons = pd.DataFrame([{("季度" if zh else "quarter"): c["quarter"],
                          ("平台" if zh else "platform"): plat.get(c["station_id"], {}).get("name", c["station_id"]),
                          ("乡镇" if zh else "township_id"): c["township_id"],
                          ("专委会" if zh else "committee_id"): c.get("committee_id") or "",
                          ("日期" if zh else "date"): c["date"],
                          ("委员" if zh else "members"): "、".join(name(i) for i in c["member_ids"]),
                          ("界别" if zh else "sectors"): "、".join(c.get("sectors") or [])}
                         for c in res.consultations])
    notes = [{("项目" if zh else "item"): ("状态" if zh else "status"),
              ("内容" if zh else "value"): STATUS_ZH.get(res.status, res.status) if zh else res.status},
             {("项目" if zh else "item"): ("目标值" if zh else "objective"), ("内容" if zh else "value"): res.objective},
             {("项目" if zh else "item"): ("下界" if zh else "bound"), ("内容" if zh else "value"): res.bound},
             {("项目" if zh else "item"): ("差距" if zh else "gap"), ("内容" if zh else "value"): res.gap},
             {("项目" if zh else "item"): ("总路程(公里)" if zh and res.unit == "m" else "cost"),
              ("内容" if zh else "value"): None if res.cost is None else
              (round(res.cost / 1000, 1) if res.unit == "m" else res.cost)}]
    for d in res.diagnostics:
        notes.append({("项目" if zh else "item"): d["code"],
                      ("内容" if zh else "value"): d["message_zh" if zh else "message_en"]})
    out = {"轮值表" if zh else "roster": grid, "委员值班" if zh else "members": per_member,
           "接待日" if zh else "reception_days": reception, "一季一协商" if zh else "consultations": cons,
           "说明" if zh else "notes": pd.DataFrame(notes)}
    return out


def _put(ws: Any, row: int, col: int, v: Any) -> None:
    c = ws.cell(row=row, column=col)
    if v is None or (isinstance(v, float) and v != v):
        return
    if isinstance(v, str):
        v = _ILLEGAL.sub("", v)
        c.value = v
        c.data_type = "s"  # text, never a formula
        if v.startswith(FORMULA_START):
            c.quotePrefix = True
    else:
        c.value = v


def write_xlsx(result: RosterResult | dict, path: str | Path, lang: str = "zh") -> Path:
    """The 轮值表 workbook (see :func:`roster_tables`), text as explicit string cells."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    path = Path(path)
    wb = Workbook()
    wb.remove(wb.active)
    for title, df in roster_tables(result, lang).items():
        ws = wb.create_sheet(title[:31])
        for j, h in enumerate(df.columns, start=1):
            _put(ws, 1, j, str(h))
            ws.cell(row=1, column=j).font = Font(bold=True)
        for i, row in enumerate(df.itertuples(index=False), start=2):
            for j, v in enumerate(row, start=1):
                _put(ws, i, j, v)
                ws.cell(row=i, column=j).alignment = Alignment(wrap_text=True, vertical="top")
        for j, h in enumerate(df.columns, start=1):
            width = max([len(str(h))] + [len(str(v)) for v in df.iloc[:200, j - 1]]) if len(df) else len(str(h))
            ws.column_dimensions[ws.cell(row=1, column=j).column_letter].width = min(40, 2 * width + 2)
        ws.freeze_panes = "B2"
    wb.save(path)
    return path


def _guard_csv(v: Any) -> Any:
    if isinstance(v, str):
        v = _ILLEGAL.sub("", v)
        return "'" + v if v.startswith(FORMULA_START) else v
    return v


def duties_frame(result: RosterResult | dict, lang: str = "zh") -> pd.DataFrame:
    """One row per duty: month, date, platform, member (ids and names), distance (km)."""
    res = _as_result(result)
    mem, plat = _names(res)
    zh = lang == "zh"
    return pd.DataFrame([{("月份" if zh else "month"): r["month"], ("日期" if zh else "date"): r["date"],
                          ("平台编号" if zh else "station_id"): r["station_id"],
                          ("平台" if zh else "station"): plat.get(r["station_id"], {}).get("name"),
                          ("委员编号" if zh else "member_id"): r["member_id"],
                          ("委员" if zh else "member"): mem.get(r["member_id"], {}).get("name"),
                          ("距离(公里)" if zh else "distance_km"): None if r.get("distance_m") is None
                          else round(r["distance_m"] / 1000, 1)} for r in res.duties])


def write_csv(result: RosterResult | dict, path: str | Path, lang: str = "zh") -> Path:
    """Duties as UTF-8 CSV with BOM (Excel reads Chinese); text cells formula-guarded."""
    path = Path(path)
    df = duties_frame(result, lang)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(list(df.columns))
    for row in df.itertuples(index=False):
        w.writerow(["" if v is None or (isinstance(v, float) and v != v) else _guard_csv(v) for v in row])
    path.write_text(buf.getvalue(), encoding="utf-8-sig")
    return path


# -- iCalendar ---------------------------------------------------------------------------------------
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
    cal.add("x-wr-calname", title if member_id is None else f"{title}：{mem[member_id]['name']}")
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
        ev.add("summary", f"委员接待日：{p['name']}")
        ev.add("description", "值班委员：" + "、".join(mem.get(i, {}).get("name", i) for i in mids))
        ev.add("location", p["name"])
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
        ev.add("summary", f"一季一协商：{p['name']}")
        ev.add("description", f"{c['quarter']}；专委会：{c.get('committee_id') or '未定'}；委员："
               + "、".join(mem.get(i, {}).get("name", i) for i in c["member_ids"]))
        ev.add("location", p["name"])
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
