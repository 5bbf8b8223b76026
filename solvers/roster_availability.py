"""The availability table of a roster (when members are NOT available), read from CSV or XLSX.

One row per member and period: the member (id or name), then months (``2027-03``, several
separated by ``;`` ``,`` ``、`` or a range ``2027-03~2027-05``) or a date range (start, end,
inclusive). Chinese or English headers. Every bad row is named in one :class:`ValueError`
(``availability.csv row 4: unknown member '张三'``), never a traceback.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from .roster_calendar import month_range, parse_month
from .roster_types import Unavailability

#: accepted headers (lower case, spaces removed) -> column
HEADERS: dict[str, str] = {
    **{h: "member" for h in ("member", "member_id", "memberid", "id", "name", "委员", "委员编号", "编号", "姓名",
                             "委员姓名")},
    **{h: "months" for h in ("months", "month", "月份", "不可值班月份", "不可用月份", "请假月份")},
    **{h: "start" for h in ("start", "from", "start_date", "开始", "开始日期", "起始日期", "起始")},
    **{h: "end" for h in ("end", "to", "end_date", "结束", "结束日期", "截止日期", "截止")},
}
_SPLIT = re.compile(r"[;,，；、\s]+")
_RANGE = re.compile(r"^(\d{4}-\d{1,2})\s*[~～至到]\s*(\d{4}-\d{1,2})$")
MAX_ERRORS = 20


def _month_text(v: Any) -> str:
    if isinstance(v, (dt.date, pd.Timestamp)):
        return f"{v.year:04d}-{v.month:02d}"
    s = str(v).strip().replace("/", "-").replace(".", "-").replace("年", "-").replace("月", "")
    return s


def _date(v: Any, field: str) -> dt.date:
    if isinstance(v, pd.Timestamp):
        return v.date()
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    s = str(v).strip().replace("/", "-").replace(".", "-")
    try:
        return dt.date.fromisoformat(s)
    except ValueError:
        raise ValueError(f"{field} {s!r} is not a date (YYYY-MM-DD)") from None


def _months(v: Any) -> list[str]:
    out: list[str] = []
    for part in _SPLIT.split(str(v).strip()) if not isinstance(v, (dt.date, pd.Timestamp)) else [v]:
        if part == "" or part is None:
            continue
        text = _month_text(part) if not isinstance(part, str) else part.strip()
        m = _RANGE.match(text)
        if m:
            a, b = (_month_text(x) for x in m.groups())
            a, b = parse_month(a, "months"), parse_month(b, "months")
            if (b[0], b[1]) < (a[0], a[1]):
                raise ValueError(f"months range {text!r} ends before it starts")
            n = (b[0] - a[0]) * 12 + b[1] - a[1] + 1
            out += month_range(f"{a[0]:04d}-{a[1]:02d}", n)
            continue
        y, mo = parse_month(_month_text(text), "months")
        out.append(f"{y:04d}-{mo:02d}")
    return out


def _frame(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return pd.read_excel(path, dtype=object)
    if suffix in (".csv", ".txt", ""):
        for enc in ("utf-8-sig", "gb18030"):
            try:
                return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=enc)
            except UnicodeDecodeError:
                continue
    raise ValueError(f"availability file {path.name}: expected .csv or .xlsx, got {suffix or 'no suffix'}")


def read_availability(path: str | Path, members: Iterable[Mapping[str, Any]] | pd.DataFrame) -> list[Unavailability]:
    """Read an availability file into :class:`Unavailability` rows.

    Parameters
    ----------
    path : CSV (UTF-8 or GB18030) or XLSX; columns member (id or name) and months, or start and end.
    members : the dataset's members (``id``, ``name``) to resolve names; a name shared by several
        members is an error naming the row (use the id).

    Raises
    ------
    ValueError
        naming the file, and each bad row (1-based, the header is row 1) with its problem.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"availability file {path}: no such file")
    try:
        df = _frame(path)
    except ValueError:
        raise
    except Exception as e:  # noqa: BLE001 - a broken file is bad input, said in one line
        raise ValueError(f"availability file {path.name}: cannot be read ({type(e).__name__}: {e})") from None
    cols: dict[str, str] = {}
    for c in df.columns:
        key = HEADERS.get(re.sub(r"\s+", "", str(c)).lower())
        if key and key not in cols.values():
            cols[str(c)] = key
    found = set(cols.values())
    if "member" not in found or not ("months" in found or {"start", "end"} <= found):
        raise ValueError(f"availability file {path.name}: needs a member column (委员/member) and months "
                         f"(月份/months) or start and end (开始日期/结束日期); found {', '.join(map(str, df.columns))}")
    df = df.rename(columns=cols)[list(dict.fromkeys(cols.values()))]
    mem = pd.DataFrame(members) if not isinstance(members, pd.DataFrame) else members
    ids = set(mem["id"].astype(str)) if len(mem) else set()
    by_name: dict[str, list[str]] = {}
    if len(mem) and "name" in mem.columns:
        for i, n in zip(mem["id"].astype(str), mem["name"].astype(str)):
            by_name.setdefault(n.strip(), []).append(i)
    out: list[Unavailability] = []
    errors: list[str] = []
    for k, row in enumerate(df.to_dict("records"), start=2):
        def blank(v: Any) -> bool:
            return v is None or (isinstance(v, float) and v != v) or str(v).strip() == ""

        if all(blank(v) for v in row.values()):
            continue
        try:
            who = "" if blank(row.get("member")) else str(row["member"]).strip()
            if not who:
                raise ValueError("member is empty")
            if who.endswith(".0") and who[:-2] in ids:  # an id read as a number from XLSX
                who = who[:-2]
            if who not in ids:
                cands = by_name.get(who, [])
                if not cands:
                    raise ValueError(f"unknown member {who!r} (neither an id nor a name)")
                if len(cands) > 1:
                    raise ValueError(f"name {who!r} is shared by members {', '.join(cands)}; give the id")
                who = cands[0]
            months = [] if blank(row.get("months")) else _months(row["months"])
            start = None if blank(row.get("start")) else _date(row["start"], "start")
            end = None if blank(row.get("end")) else _date(row["end"], "end")
            if not months and start is None and end is None:
                raise ValueError("give months or start and end")
            if months:
                out.append(Unavailability(member_id=who, months=months))
            if start is not None or end is not None:
                out.append(Unavailability(member_id=who, start=start, end=end))
        except ValidationError as e:
            errors.append(f"row {k}: " + "; ".join(str(x["msg"]).removeprefix("Value error, ") for x in e.errors()))
        except ValueError as e:
            errors.append(f"row {k}: {e}")
        if len(errors) >= MAX_ERRORS:
            errors.append("... (stopped after 20 errors)")
            break
    if errors:
        raise ValueError(f"availability file {path.name}: " + "; ".join(errors))
    return out


__all__ = ["HEADERS", "read_availability"]
