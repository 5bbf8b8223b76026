"""The liaison ledger (联系台账): what members actually did, as validated activity records.

An activity is one row of the ledger, tied to a dataset:

- ``contact``: a member reached a constituent, a village or a group (``constituent_id`` /
  ``village_id`` / ``group_id``, at least one) on ``date`` by ``way`` (走访, 座谈, 接待日, 电话,
  微信, 调研视察), with ``topic``, ``outcome``, ``follow_up``, the person's ``satisfaction``
  (1-5, when asked) and ``people`` (人次, default 1);
- ``duty``: a duty month at ``station_id`` ``held``, ``missed`` or ``swapped`` (``swapped_with``);
- ``reception``: a reception day held at ``station_id`` with ``visitors``;
- ``consultation``: a quarterly consultation held (``township_id``, ``attendees``, ``topic``,
  ``outcome`` = 成果);
- ``opinion``: a 社情民意 item submitted (``topic``) and its fate in ``status``
  (``submitted``, ``forwarded``, ``adopted``, ``answered``, ``rejected``).

:func:`validate_activities` checks a whole table at once (vectorised: a million rows in seconds)
and names every bad field by row; :class:`ActivityError` carries the problems. Words users see
come from the glossary (kinds, ways and statuses accept their Chinese words on input). Pure data
and functions, no IO beyond reading a table the caller hands over.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from . import glossary as G
from .errors import InvalidParameter
from .io.sheets import unguard

KINDS: tuple[str, ...] = ("contact", "duty", "reception", "consultation", "opinion")
WAYS: tuple[str, ...] = ("visit", "forum", "reception_day", "phone", "wechat", "inspection")
DUTY_STATUSES: tuple[str, ...] = ("held", "missed", "swapped")
OPINION_STATUSES: tuple[str, ...] = ("submitted", "forwarded", "adopted", "answered", "rejected")
STATUSES: dict[str, tuple[str, ...]] = {"duty": DUTY_STATUSES, "opinion": OPINION_STATUSES}
#: satisfaction words accepted on import -> score 1..5
SATISFACTION_WORDS: dict[str, int] = {"很满意": 5, "满意": 4, "基本满意": 3, "不满意": 2, "很不满意": 1}
TEXT_MAX = 1000
ID_MAX = 64
DATE_MIN, DATE_MAX = "2000-01-01", "2100-12-31"

#: the columns of an activity record, in order (``id``/``revision`` and the record metadata are
#: the store's: they are never read from input)
TEXT_FIELDS: tuple[str, ...] = ("member_id", "constituent_id", "village_id", "group_id", "station_id",
                                "township_id", "swapped_with", "topic", "outcome", "follow_up")
INT_FIELDS: tuple[str, ...] = ("satisfaction", "people", "visitors", "attendees")
FIELDS: tuple[str, ...] = ("kind", "member_id", "constituent_id", "village_id", "group_id", "station_id",
                           "township_id", "date", "way", "topic", "outcome", "follow_up", "satisfaction",
                           "status", "swapped_with", "people", "visitors", "attendees")
META_FIELDS: tuple[str, ...] = ("id", "revision", "deleted", "recorded_by", "recorded_at")
#: references to dataset layers checked by :func:`validate_activities` when given the dataset
REFS: dict[str, str] = {"member_id": "members", "constituent_id": "constituents", "village_id": "villages",
                        "group_id": "groups", "station_id": "stations", "township_id": "townships",
                        "swapped_with": "members"}
#: what each kind requires beyond ``kind`` and ``date``
REQUIRED: dict[str, tuple[str, ...]] = {"contact": ("member_id", "way"), "duty": ("member_id", "status"),
                                        "reception": ("member_id",), "consultation": (),
                                        "opinion": ("member_id", "topic")}
INT_RANGES: dict[str, tuple[int, int]] = {"satisfaction": (1, 5), "people": (1, 100_000),
                                          "visitors": (0, 100_000), "attendees": (0, 100_000)}
#: the table columns an activity field is shown under (``kind``/``status`` have vocabularies of
#: their own, apart from the station kinds and solver outcomes of the same names)
SHEET_NAMES: dict[str, str] = {"kind": "activity_kind", "status": "activity_status", "way": "activity_way",
                              "outcome": "activity_outcome", "id": "activity_id"}


class ActivityError(ValueError):
    """Activities that failed validation: ``problems`` is a list of ``{"row", "field", "code",
    "value", "message"}`` (``row`` is 1-based over the data rows; the sheet row is ``row + 1``)."""

    def __init__(self, problems: list[dict[str, Any]]):
        self.problems = problems
        first = problems[0]["message"] if problems else ""
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{len(problems)} invalid activity field(s): {first}{more}")


def _vocab(enum: str, values: Sequence[str]) -> dict[str, str]:
    """Accepted spellings (key, zh, en, lower-case en) -> key of a ledger vocabulary."""
    out: dict[str, str] = {}
    for v in values:
        zh, en = G.ENUMS[enum][v]
        for s in (v, zh, en, en.lower()):
            out[s] = v
    return out


_KIND_IN = _vocab("activity_kind", KINDS)
_WAY_IN = {**_vocab("activity_way", WAYS), "接待": "reception_day", "调研": "inspection", "视察": "inspection"}
_STATUS_IN = _vocab("activity_status", DUTY_STATUSES + OPINION_STATUSES)


def template_frame(lang: str = "zh") -> pd.DataFrame:
    """The 台账 import template: every column with an example row per kind (glossary headers in zh)."""
    rows = [
        {"kind": "contact", "member_id": "M001", "constituent_id": "C001", "village_id": "V001",
         "date": "2027-03-05", "way": "visit", "topic": "农资价格", "outcome": "已反映", "follow_up": "下月回访",
         "satisfaction": 4, "people": 1},
        {"kind": "duty", "member_id": "M001", "station_id": "S001", "date": "2027-03-01", "status": "held"},
        {"kind": "reception", "member_id": "M001", "station_id": "S001", "date": "2027-03-15", "visitors": 6},
        {"kind": "consultation", "member_id": "M001", "township_id": "T001", "date": "2027-03-28",
         "attendees": 12, "topic": "农村养老", "outcome": "形成协商意见 3 条"},
        {"kind": "opinion", "member_id": "M001", "date": "2027-04-02", "topic": "村道维修", "status": "adopted"},
    ]
    df = pd.DataFrame(rows, columns=list(FIELDS))
    for f in INT_FIELDS:
        df[f] = df[f].astype("Int64")
    if lang == "zh":
        for f, enum in (("kind", "activity_kind"), ("way", "activity_way"), ("status", "activity_status")):
            df[f] = df[f].map(lambda v, e=enum: G.value_label(e, v, "zh") if isinstance(v, str) else v)
    return df.rename(columns=lambda c: G.header(SHEET_NAMES.get(str(c), str(c)), lang))  # names of FIELDS


def header_aliases() -> dict[str, str]:
    """Accepted column headers (field name, zh/en glossary names, older spellings) -> field."""
    out: dict[str, str] = {}
    for f in FIELDS:
        g = SHEET_NAMES.get(f, f)
        for name in (f, g, G.label(g, "zh"), G.label(g, "en"), G.header(g, "zh"), G.header(g, "en"),
                     *G.zh_aliases(g)):
            out[str(name).strip()] = f
            out[str(name).strip().lower()] = f
    return out


def read_activity_table(data: bytes | str | os.PathLike, filename: str = "") -> pd.DataFrame:
    """An office's 台账 (XLSX or CSV) as a frame of text cells with field names as columns.

    Parameters
    ----------
    data : bytes or path
        The file's content, or its path.
    filename : str
        Its name (``.csv`` reads CSV; anything else XLSX), when ``data`` is bytes.

    Returns
    -------
    pandas.DataFrame
        One column per recognised field (unknown columns dropped), every cell text or None.
    """
    name = filename or (str(data) if not isinstance(data, bytes) else "")
    src = io.BytesIO(data) if isinstance(data, bytes) else data
    if name.lower().endswith(".csv"):
        df = pd.read_csv(src, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    else:
        sheets = pd.read_excel(src, sheet_name=None, dtype=str, keep_default_na=False)
        df = _activity_sheet(sheets)
    aliases = header_aliases()
    cols = {c: aliases.get(str(c).strip(), aliases.get(str(c).strip().lower())) for c in df.columns}
    df = df[[c for c, f in cols.items() if f]].rename(columns=cols)
    df = df.loc[:, ~df.columns.duplicated()]
    return df.map(lambda v: unguard(v) if isinstance(v, str) else v)


def _activity_sheet(sheets: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The sheet of a workbook that holds the activities: the first with a 活动类型/kind column."""
    aliases = header_aliases()
    for df in sheets.values():
        if any(aliases.get(str(c).strip()) == "kind" for c in df.columns):
            return df
    names = ", ".join(map(str, sheets))
    raise ActivityError([{"row": 0, "field": "kind", "code": "missing_column", "value": names,
                          "message": G.message("ledger_no_sheet", "zh", sheets=names)}])


def _text(col: pd.Series) -> pd.Series:
    """Cells as stripped text; blanks (None, NaN, '') as None; whole floats as integers (an Excel
    id 1001.0 reads 1001). Numeric columns are converted at once, text cell by cell (a plain
    strip per cell is faster than pandas' string methods)."""
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        a = col.to_numpy(dtype=float, na_value=np.nan)
        res = np.full(len(a), None, dtype=object)
        ok = np.isfinite(a)
        whole = ok & (a == np.floor(np.where(ok, a, 0)))
        fits = whole & (np.abs(np.where(ok, a, 0)) < 2.0**63)  # beyond int64: Python integers
        res[fits] = a[fits].astype(np.int64).astype(str)
        res[whole & ~fits] = [str(int(x)) for x in a[whole & ~fits]]
        res[ok & ~whole] = a[ok & ~whole].astype(str)
        return pd.Series(res, index=col.index, dtype=object)

    def one(v: Any) -> str | None:
        if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
            return None
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v).strip() or None

    return pd.Series([(v.strip() or None) if v.__class__ is str else None if v is None else one(v)
                      for v in col.tolist()],
                     index=col.index, dtype=object)


def _lookup(s: pd.Series, vocab: Mapping[str, str]) -> pd.Series:
    """Canonical keys of text cells through ``vocab`` (as written, else lower-case); None if unknown."""
    out = s.map(vocab)
    miss = out.isna() & s.notna()
    if miss.any():
        out[miss] = s[miss].str.lower().map(vocab)
    return out.astype(object).where(out.notna(), None)


def _problem(rows: np.ndarray, field: str, code: str, values: pd.Series, lang: str = "zh",
             **params: Any) -> list[dict[str, Any]]:
    out = []
    for r, v in zip(rows.tolist(), values.tolist(), strict=True):
        out.append({"row": int(r) + 1, "field": field, "code": code, "value": None if v is None else str(v)[:100],
                    "message": G.message(code, lang, row=int(r) + 1, field=G.label(SHEET_NAMES.get(field, field),
                                                                                    lang),
                                         value="" if v is None else str(v)[:100], **params)})
    return out


def _parse_dates(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``(ISO date text or None, bad mask)`` of date cells (2027-03-05, 2027/3/5, 20270305, Excel
    timestamps)."""
    txt = s.map(lambda v: v.split(" ")[0].split("T")[0].replace("/", "-").replace(".", "-") if v else v)
    parsed = pd.to_datetime(txt, format="mixed", errors="coerce", yearfirst=True)
    iso = parsed.dt.strftime("%Y-%m-%d").where(parsed.notna(), None)
    bad = s.notna() & (iso.isna() | (iso < DATE_MIN) | (iso > DATE_MAX))
    return iso.where(~bad, None), bad


def _parse_ints(s: pd.Series, field: str) -> tuple[pd.Series, pd.Series]:
    words = s.map(SATISFACTION_WORDS.get) if field == "satisfaction" else pd.Series(None, index=s.index)
    num = pd.to_numeric(s.where(words.isna(), None), errors="coerce")
    num = num.where(words.isna(), words.astype(float))
    lo, hi = INT_RANGES[field]
    bad = s.notna() & (num.isna() | (num % 1 != 0) | (num < lo) | (num > hi))
    return num.where(~bad), bad


def validate_activities(table: pd.DataFrame | Iterable[Mapping[str, Any]], ds: Any = None, *,
                        lang: str = "zh", raise_errors: bool = True) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Check activities and return them in canonical form.

    Parameters
    ----------
    table : DataFrame or iterable of mappings
        One activity per row, columns named by field (see :data:`FIELDS`); kinds, ways, statuses
        and satisfaction may be Chinese words; dates any common form.
    ds : Dataset, optional
        When given, ids must exist in its layers (:data:`REFS`).
    lang : str
        Language of the problem messages.
    raise_errors : bool
        Raise :class:`ActivityError` when any problem is found (else return them).

    Returns
    -------
    (DataFrame, list of dict)
        The canonical activities (columns :data:`FIELDS`; integers as nullable ``Int64``) and the
        problems (empty when valid).
    """
    df = table if isinstance(table, pd.DataFrame) else pd.DataFrame(list(table))
    df = df.reset_index(drop=True)
    n = len(df)
    out = pd.DataFrame(index=df.index)
    probs: list[dict[str, Any]] = []
    col = {f: _text(df[f]) if f in df.columns else pd.Series([None] * n, index=df.index, dtype=object)
           for f in FIELDS}
    kind = _lookup(col["kind"], _KIND_IN)
    bad = col["kind"].notna() & kind.isna()
    probs += _problem(np.flatnonzero(bad), "kind", "ledger_bad_choice", col["kind"][bad], lang,
                      choices="、".join(G.value_label("activity_kind", k, lang) for k in KINDS))
    miss = col["kind"].isna()
    probs += _problem(np.flatnonzero(miss), "kind", "ledger_required", col["kind"][miss], lang)
    out["kind"] = kind
    for f in TEXT_FIELDS:
        s = col[f]
        limit = TEXT_MAX if f in ("topic", "outcome", "follow_up") else ID_MAX
        long = s.notna() & (s.str.len() > limit)
        probs += _problem(np.flatnonzero(long), f, "ledger_too_long", s[long], lang, max=limit)
        out[f] = s.where(~long, None)
    out["date"], bad = _parse_dates(col["date"])
    probs += _problem(np.flatnonzero(bad), "date", "ledger_bad_date", col["date"][bad], lang)
    probs += _problem(np.flatnonzero(col["date"].isna()), "date", "ledger_required", col["date"][col["date"].isna()],
                      lang)
    way = _lookup(col["way"], _WAY_IN)
    bad = col["way"].notna() & way.isna()
    probs += _problem(np.flatnonzero(bad), "way", "ledger_bad_choice", col["way"][bad], lang,
                      choices="、".join(G.value_label("activity_way", w, lang) for w in WAYS))
    out["way"] = way
    status = _lookup(col["status"], _STATUS_IN)
    fits = status.isna()
    for k, allowed in STATUSES.items():
        fits |= (kind == k) & status.isin(allowed)
    bad = col["status"].notna() & (status.isna() | ~fits)
    for which in ("duty", "opinion", None):
        sel = bad & ((kind == which) if which else ~kind.isin(["duty", "opinion"]))
        choices = STATUSES.get(which, ()) if which else ()
        probs += _problem(np.flatnonzero(sel), "status", "ledger_bad_choice" if choices else "ledger_not_for_kind",
                          col["status"][sel], lang,
                          choices="、".join(G.value_label("activity_status", s, lang) for s in choices),
                          kind=G.value_label("activity_kind", which, lang) if which else "")
    out["status"] = status.where(~bad, None)
    for f in INT_FIELDS:
        out[f], bad = _parse_ints(col[f], f)
        lo, hi = INT_RANGES[f]
        probs += _problem(np.flatnonzero(bad), f, "ledger_bad_number", col[f][bad], lang, min=lo, max=hi)
        out[f] = out[f].astype("Int64")
    out["people"] = out["people"].fillna(1).astype("Int64")
    probs += _required_by_kind(out, lang)
    if ds is not None:
        probs += _check_refs(out, ds, lang)
    probs.sort(key=lambda p: (p["row"], FIELDS.index(p["field"]) if p["field"] in FIELDS else 99))
    if probs and raise_errors:
        raise ActivityError(probs)
    return out[list(FIELDS)], probs


def _required_by_kind(out: pd.DataFrame, lang: str) -> list[dict[str, Any]]:
    probs: list[dict[str, Any]] = []
    for k, fields in REQUIRED.items():
        is_k = out["kind"] == k
        for f in fields:
            sel = is_k & out[f].isna()
            probs += _problem(np.flatnonzero(sel), f, "ledger_required", out[f][sel], lang)
    is_c = out["kind"] == "contact"
    no_target = is_c & out["constituent_id"].isna() & out["village_id"].isna() & out["group_id"].isna()
    probs += _problem(np.flatnonzero(no_target), "constituent_id", "ledger_needs_target",
                      out["constituent_id"][no_target], lang)
    return probs


def _check_refs(out: pd.DataFrame, ds: Any, lang: str) -> list[dict[str, Any]]:
    probs: list[dict[str, Any]] = []
    for f, layer in REFS.items():
        lay = ds.layers.get(layer)
        ids = set(lay["id"].astype(str)) if lay is not None and "id" in lay.columns else set()
        s = out[f]
        sel = s.notna() & ~s.isin(ids)
        probs += _problem(np.flatnonzero(sel), f, "ledger_unknown_ref", s[sel], lang,
                          layer=G.value_label("layer", layer, lang))
    return probs


def period_bounds(period: str) -> tuple[str, str]:
    """First and last day (ISO) of ``period``: ``2027``, ``2027-Q2``, ``2027-03``, or
    ``2027-01-01~2027-06-30``.

    Raises
    ------
    InvalidParameter
        (a ``ValueError``) naming ``period`` when it is none of those (``bad_period``) or ends
        before it starts (``period_reversed``).
    """
    p = str(period).strip()
    try:
        if "~" in p:
            a, b = (x.strip() for x in p.split("~", 1))
            start, end = pd.Timestamp(a), pd.Timestamp(b)
        elif len(p) == 4 and p.isdigit():
            start, end = pd.Timestamp(f"{p}-01-01"), pd.Timestamp(f"{p}-12-31")
        elif len(p) == 7 and p[4:6].upper() == "-Q" and p[6] in "1234":
            start = pd.Timestamp(f"{p[:4]}-{3 * int(p[6]) - 2:02d}-01")
            end = start + pd.offsets.QuarterEnd(0)
        elif len(p) == 7 and p[4] == "-":
            start = pd.Timestamp(f"{p}-01")
            end = start + pd.offsets.MonthEnd(0)
        else:
            raise ValueError(p)
    except (ValueError, TypeError):
        raise InvalidParameter("period", f"period {period!r} is not a year (2027), quarter (2027-Q2), month "
                               "(2027-03) or range (2027-01-01~2027-06-30)", "bad_period") from None
    if end < start:
        raise InvalidParameter("period", f"period {period!r} ends before it starts", "period_reversed")
    return start.strftime("%Y-%m-%d"), end.strftime("%Y-%m-%d")


def sheet_frame(activities: pd.DataFrame) -> pd.DataFrame:
    """Activities ready for the table writer: ``kind``/``status``/``way`` under their sheet names
    (活动类型, 办理情况, 联系方式) so their words come from their own vocabularies."""
    return activities.rename(columns=SHEET_NAMES)


__all__ = ["DUTY_STATUSES", "FIELDS", "INT_FIELDS", "KINDS", "META_FIELDS", "OPINION_STATUSES", "REFS",
           "REQUIRED", "SATISFACTION_WORDS", "SHEET_NAMES", "STATUSES", "TEXT_FIELDS", "WAYS", "ActivityError",
           "header_aliases", "period_bounds", "read_activity_table", "sheet_frame", "template_frame",
           "validate_activities"]
