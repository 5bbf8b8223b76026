"""Roster vocabulary shared by the model, the solver stages and the outputs: statuses, parameters
(:class:`RosterParams`, validated, naming the bad field), the result (:class:`RosterResult`, JSON round
trip) and diagnostics. No solving here, so every roster module can import it without a cycle."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from geo_service.core.errors import InvalidParameter, validator_error, validator_error_from
from geo_service.core.glossary import PARAMS, message, word
from geo_service.core.numbers import WholeNumber, seed_field, whole

from ..model import Cancelled as _ModelCancelled
from ..model import ModelResult
from .calendar import (
    month_range,
    parse_month,
    read_holiday_rows,
)

OPTIMAL, FEASIBLE, INFEASIBLE, NOTHING, UNKNOWN = "optimal", "feasible", "infeasible", "nothing_to_do", "unknown"
WEEKDAYS_ZH = tuple(word(f"weekday_{i}", "zh") for i in range(7))
Progress = Callable[[float, str], None] | None
StopCheck = Callable[[], bool] | None


class Cancelled(_ModelCancelled):
    """``should_stop()`` returned True."""


def _next_month() -> str:
    d = dt.date.today()
    return f"{d.year + d.month // 12:04d}-{d.month % 12 + 1:02d}"


class RosterLock(BaseModel):
    """A fixed duty: ``member_id`` on duty at ``station_id`` in ``month``."""

    model_config = ConfigDict(extra="forbid")
    month: str
    station_id: str
    member_id: str


class Unavailability(BaseModel):
    """A member is unavailable in ``months`` (``YYYY-MM``) or from ``start`` to ``end`` (dates, inclusive).

    A date range blocks a duty whose reception date falls inside it.
    """

    model_config = ConfigDict(extra="forbid")
    member_id: str
    months: list[str] = Field(default_factory=list)
    start: dt.date | None = None
    end: dt.date | None = None

    @model_validator(mode="after")
    def _check(self) -> Unavailability:
        for i, m in enumerate(self.months):
            try:
                parse_month(m, "availability.months")
            except InvalidParameter as e:
                raise validator_error_from(e, field=f"months.{i}") from None
        if (self.start is None) != (self.end is None):
            raise validator_error("start_end_pair", f"availability of {self.member_id}: give both start and end, "
                                  "or months", field="end" if self.end is None else "start",
                                  member=self.member_id)
        if self.start is not None and self.end is not None and self.end < self.start:
            raise validator_error("period_reversed", f"availability of {self.member_id}: end {self.end} is before "
                                  f"start {self.start}", field="end", member=self.member_id)
        if not self.months and self.start is None:
            raise validator_error("months_or_dates", f"availability of {self.member_id}: give months or start/end",
                                  field="months", member=self.member_id)
        return self


class RosterParams(BaseModel):
    """Parameters of one roster (JSON-safe). Distances in metres, times in seconds."""

    model_config = ConfigDict(extra="forbid")
    start: str = Field(default_factory=_next_month, description="first month, YYYY-MM")
    months: int = whole(12, ge=1, le=36, description="number of months")
    platforms: Literal["stations", "townships"] = Field(
        "stations", description="platforms: stations of `platform_kinds`, or one per township "
                                "(its comprehensive station, else the seat village / centroid)")
    platform_kinds: list[str] = Field(default_factory=lambda: ["station_comprehensive"])
    platform_ids: list[str] = Field(default_factory=list, description="only these platforms (ids)")
    per_platform_min: int = whole(1, ge=0, le=20, description="members on duty per platform and month, min")
    per_platform_max: int = whole(2, ge=1, le=20, description="members on duty per platform and month, max")
    member_min: int = whole(1, ge=0, le=36, description="duty months per member over the period, min")
    member_max: int = whole(2, ge=0, le=36, description="duty months per member over the period, max")
    fairness_spread: int = whole(1, ge=0, le=36, description="busiest minus idlest member, at most")
    allow_consecutive: bool = Field(False, description="allow the same platform two months running")
    sectors_min: int = whole(3, ge=0, le=40, description="different sectors per platform over the period")
    max_distance_m: float | None = Field(None, gt=0, description="no duty farther than this from home "
                                                                 "(straight metres); None: no cap")
    mode: Literal["straight", "road"] = Field("straight", description="travel cost: straight metres or "
                                                                      "road seconds")
    penalty_speed_kmh: float = Field(40.0, gt=0, description="road mode: churn weight (m) -> s")
    candidates_per_member: int = whole(8, ge=1, le=200, description="cheapest platforms per member "
                                                                    "in the model (the bound covers all)")
    locks: list[RosterLock] = Field(default_factory=list)
    availability: list[Unavailability] = Field(default_factory=list,
                                               description="when members are NOT available")
    replan_from: str | None = Field(None, description="re-plan from this month (YYYY-MM); earlier "
                                                      "months of `previous` are kept")
    churn_weight_m: float = Field(1e6, ge=0, description="cost (m) per duty removed or added vs previous")
    reception_weekday: int = whole(2, ge=0, le=4, description="reception day: 0 = Monday .. 4 = Friday")
    reception_week: int = whole(2, ge=1, le=5, description="reception day in this week of the month")
    platform_weekdays: dict[str, WholeNumber] = Field(default_factory=dict, description="station id -> weekday")
    consultations: bool = True
    consultation_month: int = whole(2, ge=1, le=3, description="month of the quarter for 一季一协商")
    consultation_sectors: int = whole(3, ge=0, le=10, description="sectors invited per consultation")
    consultation_time_limit_s: float = Field(3.0, gt=0, le=600, description="CP-SAT time for choosing "
                                             "consultation dates and members (on top of time_limit_s)")
    township_committees: dict[str, str] = Field(default_factory=dict, description="township id -> committee id")
    holidays: list[dict[str, str]] | None = Field(None, description="rows date,type,name replacing the "
                                                                    "bundled list for their years")
    time_limit_s: float = Field(30.0, gt=0, le=3600)
    warm_start: bool = Field(True, description="start from the two-stage decomposition (counts, then months)")
    relative_gap: float = Field(1e-4, ge=0, le=0.5, description="stop when proven within this gap")
    seed: int = seed_field()
    num_workers: int = whole(2, ge=1, le=16)

    @field_validator("start", "replan_from")
    @classmethod
    def _month(cls, v: str | None, info: Any) -> str | None:
        if v is not None:
            try:
                parse_month(v, info.field_name)
            except InvalidParameter as e:
                raise validator_error_from(e) from None
        return v

    @field_validator("holidays")
    @classmethod
    def _holidays(cls, v: list[dict[str, str]] | None) -> list[dict[str, str]] | None:
        if v is None:
            return v
        import csv as _csv
        import io as _io

        buf = _io.StringIO()
        w = _csv.DictWriter(buf, fieldnames=["date", "type", "name"], extrasaction="ignore")
        w.writeheader()
        for r in v:
            w.writerow({k: r.get(k, "") for k in ("date", "type", "name")})
        try:
            return read_holiday_rows(buf.getvalue().splitlines(), source="holidays")
        except InvalidParameter as e:
            item = int(e.ctx["line"]) - 1  # the CSV's line counts its header: the list's item, from 1
            raise validator_error(e.code, e.message, value=e.ctx["value"], line=item, field=str(item - 1)) from None

    @field_validator("platform_weekdays")
    @classmethod
    def _weekdays(cls, v: dict[str, int]) -> dict[str, int]:
        for k, d in v.items():
            if not 0 <= int(d) <= 6:
                raise validator_error("weekday", f"platform_weekdays[{k!r}] must be 0 (Monday) .. 6, got {d}",
                                      field=k)
        return v

    @model_validator(mode="after")
    def _ranges(self) -> RosterParams:
        for hi, lo in (("per_platform_max", "per_platform_min"), ("member_max", "member_min")):
            if getattr(self, hi) < getattr(self, lo):
                raise validator_error("below_other", f"{hi} {getattr(self, hi)} < {lo} {getattr(self, lo)}",
                                      field=hi, other=lo, lo=getattr(self, lo))
        months = month_range(self.start, self.months)
        if self.replan_from is not None and self.replan_from not in months:
            raise validator_error("not_in_roster", f"replan_from {self.replan_from} is not in the period "
                                  f"{months[0]}..{months[-1]}", field="replan_from", first=months[0], last=months[-1])
        for i, lk in enumerate(self.locks):
            try:
                parse_month(lk.month, f"locks[{i}].month")
            except InvalidParameter as e:
                raise validator_error_from(e, field=f"locks.{i}.month") from None
            if lk.month not in months:
                raise validator_error("not_in_roster", f"locks[{i}].month {lk.month} is not in the period "
                                      f"{months[0]}..{months[-1]}", field=f"locks.{i}.month", first=months[0],
                                      last=months[-1])
        return self


#: roster parameters as the Chinese text names them (the glossary's names, without their unit)
_RULE_KEYS = {"max_distance_m": "roster_max_distance_m"}


def rule_name(key: str, lang: str = "zh") -> str:
    """A roster parameter in the user's words (``member_min`` -> 每位委员值班月数下限)."""
    row = PARAMS.get(_RULE_KEYS.get(key, key))
    if row is None:
        return key
    name = row[0 if lang == "zh" else 1]
    return re.sub(r"[(（][^)）]*[)）]$", "", name) if lang == "zh" else name


def _diag_msg(code: str, msg: str, params: dict[str, Any], severity: str = "error", **kw: Any) -> dict[str, Any]:
    """Diagnostic ``code`` worded by glossary message ``msg`` filled from ``params`` (a param may be a
    nested ``{"code", "params"}`` part); its figures ``kw`` at the top level and in ``params``."""
    return {"code": code, "severity": severity, "message_zh": message(msg, "zh", **params),
            "message_en": message(msg, "en", **params), "message_code": msg, "params": {**kw, **params}, **kw}


def _part(msg: str, **params: Any) -> dict[str, Any]:
    """A part of a diagnostic's text: glossary message ``msg`` with ``params``."""
    return {"code": msg, "params": params}


def _kmn(m: float) -> str:
    """Metres as the kilometre figure the roster's texts show (whole at 10 km and over)."""
    return f"{m / 1000:.0f}" if m >= 10_000 else f"{m / 1000:.1f}"


# ------------------------------------------------------------------------------------------------
@dataclass
class RosterResult(ModelResult):
    """A roster and its calendar (pure JSON via :meth:`to_dict` / :meth:`from_dict`).

    ``status``: "optimal" (proven), "feasible" (time limit: see ``bound``/``gap``), "infeasible" (the
    rules cannot all hold: ``diagnostics`` say which and the smallest relaxation; ``duties`` are the
    relaxed roster), "nothing_to_do" (no platforms, members or months), or "unknown" (no roster found
    within the time limit). ``objective`` is the modelled cost (``unit``: "m" or "s"; includes churn
    and fairness penalties), ``cost`` the travel alone, ``bound`` a proven lower bound on the optimum.
    """

    status: str
    objective: float | None
    bound: float | None
    gap: float | None
    unit: str
    months: list[str]
    duties: list[dict[str, Any]]
    consultations: list[dict[str, Any]] = field(default_factory=list)
    diagnostics: list[dict[str, Any]] = field(default_factory=list)
    platforms: list[dict[str, Any]] = field(default_factory=list)
    members: list[dict[str, Any]] = field(default_factory=list)
    cost: float | None = None
    churn: dict[str, Any] | None = None
    relaxation: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    time_s: float = 0.0
    time_to_first_s: float | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    solver: str = "cp-sat"

    def to_dict(self) -> dict[str, Any]:
        return _json({k: getattr(self, k) for k in self.__dataclass_fields__})

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RosterResult:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    def duty_table(self) -> dict[tuple[str, str], list[str]]:
        """(month, station_id) -> member ids."""
        out: dict[tuple[str, str], list[str]] = defaultdict(list)
        for r in self.duties:
            out[(r["month"], r["station_id"])].append(r["member_id"])
        return dict(out)


def _json(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set)):
        return [_json(x) for x in v]
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if not math.isfinite(float(v)) else float(v)
    if isinstance(v, (dt.date,)):
        return v.isoformat()
    if isinstance(v, np.bool_):
        return bool(v)
    return v
