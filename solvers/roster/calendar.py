"""Calendar of the duty roster: months, quarters, public holidays and reception dates.

Holidays (放假调休) come from the ``chinese-calendar`` package, which carries the State Council's
official arrangements (days off and make-up working days). A file ``data/holidays/YYYY.csv``
overrides the package for its year, e.g. a year the installed package does not cover yet
(``date,type,name`` with ``type`` ``holiday`` (放假) or ``workday`` (调休上班, a weekend day that is
worked); lines starting with ``#`` are comments). A year with neither has no holidays (a diagnostic
says so). A reception date is the ``week``-th
``weekday`` of the month (Monday = 0), moved to the next working day when it falls on a holiday,
and back to the previous working day when no working day is left in that month.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import chinese_calendar
from chinese_calendar.constants import Holiday as _PackageHoliday

from geo_service.core.errors import InvalidParameter

HOLIDAYS_DIR = Path(__file__).resolve().parents[2] / "data" / "holidays"


#: Chinese names of the package's holidays (its own names are English)
HOLIDAY_NAMES_ZH = {
    "new_years_day": "元旦", "spring_festival": "春节", "tomb_sweeping_day": "清明节", "labour_day": "劳动节",
    "dragon_boat_festival": "端午节", "national_day": "国庆节", "mid_autumn_festival": "中秋节",
    "anti_fascist_70th_day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}


@cache
def _package_days() -> tuple[dict[int, dict[dt.date, str]], dict[int, dict[dt.date, str]]]:
    """Days off and make-up working days of ``chinese-calendar``, by year, with Chinese names."""
    zh = {h.value: HOLIDAY_NAMES_ZH.get(h.name, h.value) for h in _PackageHoliday}
    off: dict[int, dict[dt.date, str]] = {}
    work: dict[int, dict[dt.date, str]] = {}
    for d, name in chinese_calendar.holidays.items():  # arrangement days only, no plain weekends
        off.setdefault(d.year, {})[d] = zh.get(name, name or "")
    for d, name in chinese_calendar.workdays.items():
        work.setdefault(d.year, {})[d] = f"{zh.get(name, name or '')}调休上班"
    return off, work


def package_holiday_years() -> set[int]:
    """Years whose 放假调休 arrangement the installed ``chinese-calendar`` carries."""
    return set(_package_days()[0])


def parse_month(value: str, what: str = "month") -> tuple[int, int]:
    """``"2027-01"`` -> (2027, 1); :class:`InvalidParameter` (a ``ValueError``) naming ``what`` otherwise."""
    s = str(value).strip()
    try:
        y, m = s.split("-")[:2]
        yi, mi = int(y), int(m)
        if not (1900 <= yi <= 2200 and 1 <= mi <= 12) or len(s.split("-")) != 2:
            raise ValueError
    except ValueError:
        raise InvalidParameter(what, f"{what} must be a month like 2027-01, got {value!r}", "bad_month",
                               ctx={"value": s}) from None
    return yi, mi


def month_range(start: str, months: int) -> list[str]:
    """``months`` consecutive months from ``start`` (``"YYYY-MM"``)."""
    y, m = parse_month(start, "start")
    out = []
    for k in range(int(months)):
        mm = m - 1 + k
        out.append(f"{y + mm // 12:04d}-{mm % 12 + 1:02d}")
    return out


def quarter_of(month: str) -> str:
    """``"2027-05"`` -> ``"2027Q2"``."""
    y, m = parse_month(month)
    return f"{y}Q{(m - 1) // 3 + 1}"


@dataclass
class Holidays:
    """Days off and make-up working days by date; ``missing_years`` have no data file."""

    off: dict[dt.date, str] = field(default_factory=dict)
    workdays: dict[dt.date, str] = field(default_factory=dict)
    missing_years: list[int] = field(default_factory=list)
    incomplete_years: list[int] = field(default_factory=list)

    def is_working_day(self, d: dt.date) -> bool:
        if d in self.off:
            return False
        if d in self.workdays:
            return True
        return d.weekday() < 5


def read_holiday_rows(lines: Iterable[str], source: str = "holidays") -> list[dict[str, str]]:
    """Rows of a holiday CSV (comments skipped); :class:`InvalidParameter` (a ``ValueError``) naming
    ``source`` and the line on bad input."""
    body = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    rows = []
    for i, r in enumerate(csv.DictReader(body), start=2):
        try:
            d = dt.date.fromisoformat(str(r.get("date", "")).strip())
        except ValueError:
            raise InvalidParameter(source, f"{source} line {i}: date {r.get('date')!r} is not YYYY-MM-DD",
                                   "holiday_date", ctx={"line": i, "value": str(r.get("date", ""))}) from None
        t = str(r.get("type", "holiday") or "holiday").strip().lower()
        if t not in ("holiday", "workday", "放假", "上班"):
            raise InvalidParameter(source, f"{source} line {i}: type {t!r} must be holiday or workday",
                                   "holiday_type", ctx={"line": i, "value": t})
        rows.append({"date": d.isoformat(), "type": "holiday" if t in ("holiday", "放假") else "workday",
                     "name": str(r.get("name", "") or "")})
    return rows


def load_holidays(years: Iterable[int], rows: list[Mapping[str, str]] | None = None,
                  directory: Path | None = None) -> Holidays:
    """Holidays of ``years``: ``rows``, else a file in ``directory``, else ``chinese-calendar``.

    ``rows`` (dicts with ``date``, ``type``, ``name``) replace everything else for the years they
    cover; a ``YYYY.csv`` file in ``directory`` (default the bundled ``data/holidays``) overrides
    the package for its year. Years with none of them are listed in ``missing_years``.
    """
    directory = HOLIDAYS_DIR if directory is None else Path(directory)
    h = Holidays()
    given: dict[int, list[Mapping[str, str]]] = {}
    for r in rows or []:
        d = dt.date.fromisoformat(str(r["date"]))
        given.setdefault(d.year, []).append(r)
    for y in sorted(set(years)):
        if y in given:
            data = given[y]
        else:
            f = directory / f"{y}.csv"
            if not f.exists():
                off, work = _package_days()
                if y not in off:
                    h.missing_years.append(y)
                h.off.update(off.get(y, {}))
                h.workdays.update(work.get(y, {}))
                continue
            text = f.read_text(encoding="utf-8")
            if "INCOMPLETE" in text.upper().split("DATE,TYPE,NAME")[0]:
                h.incomplete_years.append(y)
            data = read_holiday_rows(text.splitlines(), source=f.name)
        for r in data:
            d = dt.date.fromisoformat(str(r["date"]))
            (h.workdays if str(r.get("type", "holiday")) == "workday" else h.off)[d] = str(r.get("name", ""))
    return h


def reception_date(month: str, weekday: int, week: int, holidays: Holidays) -> dt.date:
    """The ``week``-th ``weekday`` (0 = Monday) of ``month``, moved off holidays (see module doc)."""
    y, m = parse_month(month)
    first = dt.date(y, m, 1)
    d = first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (week - 1))
    while d.month != m:  # a 5th week that does not exist: the last such weekday
        d -= dt.timedelta(days=7)
    k = d
    while k.month == m and not holidays.is_working_day(k):
        k += dt.timedelta(days=1)
    if k.month == m:
        return k
    k = d
    while k.month == m and not holidays.is_working_day(k):
        k -= dt.timedelta(days=1)
    return k if k.month == m else d


def iso_week(d: dt.date) -> tuple[int, int]:
    c = d.isocalendar()
    return (c[0], c[1])
