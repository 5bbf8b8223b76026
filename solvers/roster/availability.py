"""The leave of a roster (when members are NOT available): the rows of a leave table checked into
:class:`Unavailability` rows.

The file is read by :func:`geo_service.core.io.availability.read_availability_records` (plain
records, one per sheet row); :func:`availability_from_records` checks each row's months (``2027-03``,
several separated by ``;`` ``,`` ``、`` or a range ``2027-03~2027-05``) or date range (start, end,
inclusive) and resolves its member (id or name). Every bad row is named in one :class:`ValueError`
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

from geo_service.core.glossary import message, word
from geo_service.core.io.availability import availability_head, blank

from .calendar import month_range, parse_month
from .types import Unavailability

_SPLIT = re.compile(r"[;,，；、\s]+")
_RANGE = re.compile(r"^(\d{4}-\d{1,2})\s*[~～至到]\s*(\d{4}-\d{1,2})$")
MAX_ERRORS = 20


def _month_text(v: Any) -> str:
    if isinstance(v, (dt.date, pd.Timestamp)):
        return f"{v.year:04d}-{v.month:02d}"
    s = str(v).strip().replace("/", "-").replace(".", "-").replace("年", "-").replace("月", "")
    return s


class _RowError(ValueError):
    """A bad cell: a glossary message code and its params (a list param is joined in the reader's
    words); ``str()`` is the English text."""

    def __init__(self, code: str, **params: Any):
        self.code, self.params = code, params
        super().__init__(self.text("en"))

    def text(self, lang: str) -> str:
        """The problem in ``lang``."""
        sep = word("sep_list", lang)
        return message(self.code, lang, **{k: sep.join(v) if isinstance(v, list) else v for k, v in self.params.items()})


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
        raise _RowError(f"roster_avail_bad_{field}", value=s) from None


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
                raise _RowError("roster_avail_range_backwards", value=text)
            n = (b[0] - a[0]) * 12 + b[1] - a[1] + 1
            out += month_range(f"{a[0]:04d}-{a[1]:02d}", n)
            continue
        try:
            y, mo = parse_month(_month_text(text), "months")
        except ValueError:
            raise _RowError("roster_avail_bad_month", value=text) from None
        out.append(f"{y:04d}-{mo:02d}")
    return out


def availability_from_records(records: Iterable[Mapping[str, Any]],
                              members: Iterable[Mapping[str, Any]] | pd.DataFrame, lang: str = "en",
                              source: str | Path = "") -> list[Unavailability]:
    """The leave of ``records`` (:func:`~geo_service.core.io.availability.read_availability_records`)
    as :class:`Unavailability` rows.

    Parameters
    ----------
    records : iterable of dict
        ``row`` (the sheet's row number) and the cells ``member`` and ``months`` or ``start`` and ``end``.
    members : the dataset's members (``id``, ``name``) to resolve names; a name shared by several
        members is an error naming the row (use the id).
    lang : ``"zh"`` or ``"en"``: the language of the error message.
    source : the file the records came from, named in the message.

    Raises
    ------
    ValueError
        naming the file, and each bad row (the header is row 1) with its problem.
    """
    head = availability_head(source, lang)
    ids, by_name = _member_lookup(members)
    out: list[Unavailability] = []
    errors: list[str] = []
    for row in records:
        where = message("roster_availability_row", lang, row=row['row'])
        try:
            out += _row_leave(row, _row_member(row, ids, by_name))
        except _RowError as e:
            errors.append(where + e.text(lang))
        except ValidationError as e:
            errors.append(where + "; ".join(str(x["msg"]).removeprefix("Value error, ") for x in e.errors()))
        except ValueError as e:
            errors.append(where + str(e))
        if len(errors) >= MAX_ERRORS:
            errors.append(word("roster_availability_stopped", lang))
            break
    if errors:
        raise ValueError(head + (word("sep_semicolon", lang)).join(errors))
    return out


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
    who = "" if blank(row.get("member")) else str(row["member"]).strip()
    if not who:
        raise _RowError("roster_avail_no_member")
    if who.endswith(".0") and who[:-2] in ids:  # an id read as a number from XLSX
        who = who[:-2]
    if who not in ids:
        cands = by_name.get(who, [])
        if not cands:
            raise _RowError("roster_avail_unknown_member", member=who)
        if len(cands) > 1:
            raise _RowError("roster_avail_shared_name", member=who, members=list(cands))
        who = cands[0]
    return who


def _row_leave(row: Mapping[str, Any], who: str) -> list[Unavailability]:
    """The leave of one row: its months, and its start..end span."""
    months = [] if blank(row.get("months")) else _months(row["months"])
    start = None if blank(row.get("start")) else _date(row["start"], "start")
    end = None if blank(row.get("end")) else _date(row["end"], "end")
    if not months and start is None and end is None:
        raise _RowError("roster_avail_no_period")
    if (start is None) != (end is None):
        raise _RowError("roster_avail_half_period")
    if start is not None and end is not None and end < start:
        raise _RowError("roster_avail_end_before_start", start=start, end=end)
    out = []
    if months:
        out.append(Unavailability(member_id=who, months=months))
    if start is not None:
        out.append(Unavailability(member_id=who, start=start, end=end))
    return out


__all__ = ["availability_from_records"]
