"""The leave table of a roster (when members are NOT available), read from CSV or XLSX into plain records.

One row per member and period: the member (id or name), then months (``2027-03``, several
separated by ``;`` ``,`` ``、`` or a range ``2027-03~2027-05``) or a date range (start, end,
inclusive). Chinese or English headers (:data:`HEADERS`). :func:`read_availability_records` reads
the file and finds the columns; the cells are checked, and members resolved, by
:func:`solvers.roster.availability.availability_from_records`. A missing, unknown or broken file and
a table without the needed columns are one :class:`ValueError` in one line, never a traceback.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
from ..glossary import message, word

#: accepted headers (lower case, spaces removed) -> column
HEADERS: dict[str, str] = {
    **{h: "member" for h in ("member", "member_id", "memberid", "id", "name", "委员", "委员编号", "编号", "姓名",
                             "委员姓名")},
    **{h: "months" for h in ("months", "month", "月份", "不可值班月份", "不可用月份", "请假月份")},
    **{h: "start" for h in ("start", "from", "start_date", "开始", "开始日期", "起始日期", "起始")},
    **{h: "end" for h in ("end", "to", "end_date", "结束", "结束日期", "截止日期", "截止")},
}


def availability_head(path: str | Path, lang: str = "en") -> str:
    """The words every message about leave file ``path`` starts with (``请假表 a.csv：``)."""
    name = Path(path).name
    return message("io_availability_head", lang, name=name)


def blank(v: Any) -> bool:
    """True for an empty cell (None, NaN or only spaces)."""
    return v is None or (isinstance(v, float) and v != v) or str(v).strip() == ""


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


def _read_frame(path: Path, lang: str, head: str) -> pd.DataFrame:
    """The file as a frame; a missing, unknown or broken file is a ValueError in one line."""
    if not path.exists():
        raise ValueError(message("io_availability_no_such_file", lang, path=path))
    try:
        return _frame(path)
    except ValueError as e:
        raise ValueError(head + message("io_availability_bad_suffix", lang, detail=str(e).split(": ", 1)[-1])) from None
    except Exception as e:  # noqa: BLE001 - a broken file is bad input, said in one line
        raise ValueError(head + word("io_availability_unreadable", lang) + f" ({type(e).__name__}: {e})") from None


def _known_columns(df: pd.DataFrame, lang: str, head: str) -> pd.DataFrame:
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
        raise ValueError(head + message("io_availability_columns", lang, cols_text=cols_text))
    return df.rename(columns=cols)[list(dict.fromkeys(cols.values()))]


def read_availability_records(path: str | Path, lang: str = "en") -> list[dict[str, Any]]:
    """The rows of leave file ``path`` as plain records.

    Parameters
    ----------
    path : str or Path
        CSV (UTF-8 or GB18030) or XLSX with a member column and months, or start and end.
    lang : {"zh", "en"}
        Language of the error message.

    Returns
    -------
    list of dict
        One per non-blank row: ``row`` (its number in the sheet, the header is row 1) and the cells
        of the columns found (``member``, ``months``, ``start``, ``end``) as read.

    Raises
    ------
    ValueError
        Naming the file: missing, not CSV/XLSX, unreadable, or without the needed columns.
    """
    path = Path(path)
    head = availability_head(path, lang)
    df = _known_columns(_read_frame(path, lang, head), lang, head)
    return [{"row": k, **row} for k, row in enumerate(df.to_dict("records"), start=2)
            if not all(blank(v) for v in row.values())]


__all__ = ["HEADERS", "availability_head", "blank", "read_availability_records"]
