"""The availability table of a roster (when members are NOT available), read from CSV or XLSX.

One row per member and period: the member (id or name), then months (``2027-03``, several
separated by ``;`` ``,`` ``、`` or a range ``2027-03~2027-05``) or a date range (start, end,
inclusive). Chinese or English headers. Every bad row is named in one :class:`ValueError`
(``请假表 availability.csv：第 4 行：未知委员 '张三'…``, or in English with ``lang="en"``), never a traceback.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from .calendar import month_range, parse_month
from .types import Unavailability

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


class _RowError(ValueError):
    """A bad cell, said in Chinese and English."""

    def __init__(self, zh: str, en: str):
        super().__init__(en)
        self.zh, self.en = zh, en


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
        raise _RowError(f"{'开始日期' if field == 'start' else '结束日期'} {s!r} 不是日期（应为 2027-03-01 这样）",
                        f"{field} {s!r} is not a date (YYYY-MM-DD)") from None


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
                raise _RowError(f"月份范围 {text!r} 的结束早于开始", f"months range {text!r} ends before it starts")
            n = (b[0] - a[0]) * 12 + b[1] - a[1] + 1
            out += month_range(f"{a[0]:04d}-{a[1]:02d}", n)
            continue
        try:
            y, mo = parse_month(_month_text(text), "months")
        except ValueError:
            raise _RowError(f"月份 {text!r} 不是 2027-01 这样的月份", f"months must be a month like 2027-01, "
                                                                      f"got {text!r}") from None
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


def read_availability(path: str | Path, members: Iterable[Mapping[str, Any]] | pd.DataFrame,
                      lang: str = "en") -> list[Unavailability]:
    """Read an availability file into :class:`Unavailability` rows.

    Parameters
    ----------
    path : CSV (UTF-8 or GB18030) or XLSX; columns member (id or name) and months, or start and end.
    members : the dataset's members (``id``, ``name``) to resolve names; a name shared by several
        members is an error naming the row (use the id).
    lang : ``"zh"`` or ``"en"``: the language of the error message.

    Raises
    ------
    ValueError
        naming the file, and each bad row (1-based, the header is row 1) with its problem.
    """
    path = Path(path)
    zh = lang == "zh"
    head = f"请假表 {path.name}：" if zh else f"availability file {path.name}: "
    df = _known_columns(_read_frame(path, zh, head), zh, head)
    ids, by_name = _member_lookup(members)
    out: list[Unavailability] = []
    errors: list[str] = []
    for k, row in enumerate(df.to_dict("records"), start=2):
        if all(_blank(v) for v in row.values()):
            continue
        where = f"第 {k} 行：" if zh else f"row {k}: "
        try:
            out += _row_leave(row, _row_member(row, ids, by_name))
        except _RowError as e:
            errors.append(where + (e.zh if zh else e.en))
        except ValidationError as e:
            errors.append(where + "; ".join(str(x["msg"]).removeprefix("Value error, ") for x in e.errors()))
        except ValueError as e:
            errors.append(where + str(e))
        if len(errors) >= MAX_ERRORS:
            errors.append("……（已列出前 20 个错误）" if zh else "... (stopped after 20 errors)")
            break
    if errors:
        raise ValueError(head + ("；" if zh else "; ").join(errors))
    return out


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v) or str(v).strip() == ""


def _read_frame(path: Path, zh: bool, head: str) -> pd.DataFrame:
    """The file as a frame; a missing, unknown or broken file is a ValueError in one line."""
    if not path.exists():
        raise ValueError(f"请假表 {path}：没有这个文件" if zh else f"availability file {path}: no such file")
    try:
        return _frame(path)
    except ValueError as e:
        raise ValueError(head + ("应为 .csv 或 .xlsx 文件" if zh else str(e).split(": ", 1)[-1])) from None
    except Exception as e:  # noqa: BLE001 - a broken file is bad input, said in one line
        raise ValueError(head + ("无法读取" if zh else "cannot be read") + f" ({type(e).__name__}: {e})") from None


def _known_columns(df: pd.DataFrame, zh: bool, head: str) -> pd.DataFrame:
    """The columns named in :data:`HEADERS` under their keys; ValueError without member and months (or
    start and end)."""
    cols: dict[str, str] = {}
    for c in df.columns:
        key = HEADERS.get(re.sub(r"\s+", "", str(c)).lower())
        if key and key not in cols.values():
            cols[str(c)] = key
    found = set(cols.values())
    if "member" not in found or not ("months" in found or {"start", "end"} <= found):
        cols_text = ", ".join(map(str, df.columns))
        raise ValueError(head + (f"需要委员列（委员/member）和月份列（月份/months）或开始日期、结束日期两列；现有列：{cols_text}"
                                 if zh else f"needs a member column (委员/member) and months (月份/months) or start "
                                            f"and end (开始日期/结束日期); found {cols_text}"))
    return df.rename(columns=cols)[list(dict.fromkeys(cols.values()))]


def _member_lookup(members: Iterable[Mapping[str, Any]] | pd.DataFrame) -> tuple[set[str], dict[str, list[str]]]:
    """Member ids, and ids by name."""
    mem = pd.DataFrame(members) if not isinstance(members, pd.DataFrame) else members
    ids = set(mem["id"].astype(str)) if len(mem) else set()
    by_name: dict[str, list[str]] = {}
    if len(mem) and "name" in mem.columns:
        for i, n in zip(mem["id"].astype(str), mem["name"].astype(str)):
            by_name.setdefault(n.strip(), []).append(i)
    return ids, by_name


def _row_member(row: Mapping[str, Any], ids: set[str], by_name: dict[str, list[str]]) -> str:
    """The member id of a row (given as an id or a unique name)."""
    who = "" if _blank(row.get("member")) else str(row["member"]).strip()
    if not who:
        raise _RowError("委员为空", "member is empty")
    if who.endswith(".0") and who[:-2] in ids:  # an id read as a number from XLSX
        who = who[:-2]
    if who not in ids:
        cands = by_name.get(who, [])
        if not cands:
            raise _RowError(f"未知委员 {who!r}（既不是委员编号也不是姓名）",
                            f"unknown member {who!r} (neither an id nor a name)")
        if len(cands) > 1:
            raise _RowError(f"姓名 {who!r} 有多位委员（{'、'.join(cands)}），请填委员编号",
                            f"name {who!r} is shared by members {', '.join(cands)}; give the id")
        who = cands[0]
    return who


def _row_leave(row: Mapping[str, Any], who: str) -> list[Unavailability]:
    """The leave of one row: its months, and its start..end span."""
    months = [] if _blank(row.get("months")) else _months(row["months"])
    start = None if _blank(row.get("start")) else _date(row["start"], "start")
    end = None if _blank(row.get("end")) else _date(row["end"], "end")
    if not months and start is None and end is None:
        raise _RowError("请填月份，或开始日期和结束日期", "give months or start and end")
    if (start is None) != (end is None):
        raise _RowError("开始日期和结束日期要一起填", "give both start and end")
    if start is not None and end is not None and end < start:
        raise _RowError(f"结束日期 {end} 早于开始日期 {start}", f"end {end} is before start {start}")
    out = []
    if months:
        out.append(Unavailability(member_id=who, months=months))
    if start is not None:
        out.append(Unavailability(member_id=who, start=start, end=end))
    return out


__all__ = ["HEADERS", "read_availability"]
