"""Parameters and results of an optimisation run (:class:`OptimisationParams` in,
:class:`OptimisationResult` out).

Both are pure JSON (pydantic model / ``to_dict``/``from_dict``), so a result can be stored in a job
record and passed back as ``previous`` for a minimal-change re-run; :func:`diff_results` lists what
changed between two runs. :mod:`solvers.pipeline` produces them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from geo_service.core.errors import validator_error
from geo_service.core.glossary import LANGS, message, word
from geo_service.core.jsonsafe import to_jsonable
from geo_service.core.numbers import seed_field, whole

from . import assignment as A
from .model import ModelResult
from .relaxations import RELAXED
from .tables import result_layers, result_tables

TIERS = ("constituents", "villages", "townships", "stations")
#: keys of :data:`TIER_LABELS`, each the glossary word ``tier_label_<key>``
_TIER_KEYS = ("constituents", "villages", "townships", "stations")
TIER_LABELS = {k: {lang: word(f"tier_label_{k}", lang) for lang in LANGS} for k in _TIER_KEYS}


class Locks(BaseModel):
    """Pinned assignments by id; locked rows are kept exactly."""

    model_config = ConfigDict(extra="forbid")
    constituents: dict[str, str] = Field(default_factory=dict, description="constituent id -> member id")
    villages: dict[str, str] = Field(default_factory=dict, description="village id -> group id")
    townships: dict[str, str] = Field(default_factory=dict, description="township id -> committee id")
    groups: dict[str, str] = Field(default_factory=dict, description="group id -> station id")


class OptimisationParams(BaseModel):
    """Parameters of one run (JSON-safe). Distances and penalties in metres; times in seconds.

    In road mode costs are travel times (s); penalties and churn, always given in metres, are turned
    into seconds at ``penalty_speed_kmh``.
    """

    model_config = ConfigDict(extra="forbid")
    tiers: list[Literal["constituents", "villages", "townships", "stations"]] = Field(
        default_factory=lambda: list(TIERS), description="which assignments to run")
    constituents_min: int = whole(8, ge=0, le=1_000_000, description="constituents per member, min")
    constituents_target: int = whole(10, ge=0, le=1_000_000, description="constituents per member, target")
    constituents_max: int = whole(12, ge=1, le=1_000_000, description="constituents per member, max")
    villages_min: int = whole(2, ge=0, le=100_000, description="villages per group, min")
    villages_target: int = whole(3, ge=0, le=100_000, description="villages per group, target")
    target_penalty: float = Field(1000.0, ge=0, description="extra cost (m) per constituent (tier 1) or "
                                                            "village (tier 2) above the target; 0 = ignore targets")
    villages_max: int = whole(4, ge=1, le=100_000, description="villages per group, max")
    townships_per_committee: int = whole(2, ge=1, le=100_000)
    all_townships: bool = Field(False, description="assign every township, not only the under-served")
    gap_threshold_m: float = Field(10000.0, gt=0, description="straight mode: a village farther than "
                                                              "this from every station is a gap (m)")
    gap_threshold_s: float = Field(1800.0, gt=0, description="road mode: gap threshold (s)")
    mode: Literal["straight", "road"] = "straight"
    villages: Literal["gaps", "all", "list"] = Field("gaps", description="which villages tier 2 covers")
    village_ids: list[str] = Field(default_factory=list, description="villages when villages='list'")
    locks: Locks = Field(default_factory=Locks)
    minimal_change: bool = Field(False, description="re-run against `previous` moving as few as it must")
    churn_weight: float | None = Field(None, ge=0, description="cost (m) per moved row; default with "
                                                                "minimal_change: 1e6 (moves only if forced)")
    time_limit_s: float = Field(60.0, gt=0)
    seed: int = seed_field()
    num_workers: int = whole(1, ge=1, le=16, description="CP-SAT workers (fixed for reproducibility)")
    use_member_pins: bool = Field(True, description="members' pinned village_id / station_id lock their group "
                                                    "to that village / station (params.locks win)")
    allow_cross_sector: bool = False
    on_infeasible: Literal["relax_max", "cross_sector"] = Field(
        "relax_max", description="tier 1 answer when a sector's quotas cannot be met: the optimum with that "
                                 "sector's max raised just enough, or the cross-sector fallback (both are "
                                 "computed and reported; status stays 'infeasible')")
    cross_sector_penalty: float = Field(20000.0, ge=0, description="extra cost (m) per constituent "
                                                                   "placed with another sector's member")
    compactness: float = Field(0.0, ge=0, description="weight (per metre/second) of each group's largest "
                               "base-to-village cost; > 0 switches tier 2 from exact min-cost flow to CP-SAT "
                               "(bound and gap reported; on large tiers expect a gap)")
    tier2_model: Literal["covering", "priority"] = Field(
        "covering", description="tier 2: 'covering' chooses the contact villages that bring the most gap "
                                "population within the gap threshold (exact HiGHS MIP, travel as tie-break); "
                                "'priority' (the old rule) takes the gap villages with the largest own population; "
                                "villages='all'/'list' always give every named village a group (priority)")
    contact_travel_weight: float = Field(0.01, ge=0, description="tier 2 covering: persons (or villages, "
                                         "without population) one km of group-to-contact-point travel is worth")
    long_distance_m: float = Field(50000.0, gt=0, description="a member-constituent distance above this (m, "
                                   "straight line) is listed per sector and township as a long distance")
    max_distance_m: float | None = Field(None, gt=0, description="tier 1: leave constituents farther than this "
                                         "(m, straight line) from every member of their sector unassigned, with a "
                                         "diagnosis of where members are missing")
    station_capacity_default: int = whole(2, ge=0, le=100_000, description="groups per station when capacity is blank")
    host_kinds: list[str] = Field(default_factory=lambda: ["station_comprehensive", "station_sector"])
    sector_mismatch_penalty: float = Field(5000.0, ge=0, description="extra cost (m) per member when "
                                                                     "a sector station hosts another sector")

    @field_validator("constituents_max")
    @classmethod
    def _max_ge_min(cls, v: int, info: Any) -> int:
        lo = info.data.get("constituents_min", 0)
        if v < lo:
            raise validator_error("below_other", f"constituents_max {v} < constituents_min {lo}",
                                  other="constituents_min", lo=lo)
        return v

    @field_validator("villages_max")
    @classmethod
    def _vmax_ge_min(cls, v: int, info: Any) -> int:
        lo = info.data.get("villages_min", 0)
        if v < lo:
            raise validator_error("below_other", f"villages_max {v} < villages_min {lo}", other="villages_min", lo=lo)
        return v

    penalty_speed_kmh: float = Field(40.0, gt=0, description="road mode: penalties and churn (given in "
                                                             "metres) become seconds at this speed")

    def penalty(self, metres: float) -> float:
        """A penalty given in metres in the run's cost unit (metres, or seconds in road mode)."""
        return float(metres) if self.mode == "straight" else float(metres) / (self.penalty_speed_kmh / 3.6)

    def effective_churn(self) -> float:
        if self.churn_weight is not None:
            return float(self.churn_weight)
        return 1e6 if self.minimal_change else 0.0


@dataclass
class TierResult(ModelResult):
    """One tier's answer by ids (JSON-safe)."""

    name: str
    status: str
    objective: float | None
    bound: float | None
    gap: float | None
    time_s: float
    solver: str
    assignment: dict[str, str | None]
    diagnostics: list[dict[str, Any]] = field(default_factory=list)
    moved: dict[str, int] | None = None
    move_reasons: dict[str, str] = field(default_factory=dict)
    cost: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    row_cost: dict[str, float] = field(default_factory=dict)  # cost (m or s) of each assigned row
    # rules lowered or raised to reach the answer (solvers.relaxations): rule, scope, asked, given, reason
    relaxations: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: _json(getattr(self, k)) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TierResult:
        return cls(**{k: d.get(k) for k in cls.__dataclass_fields__ if k in d and d.get(k) is not None})


_json = to_jsonable  # NaN/inf -> None, numpy -> Python (the one conversion)


#: Status of a tier (and of a run) that had nothing to decide: no rows, or a layer it needs is empty.
NOTHING_TO_DO = "nothing_to_do"
#: a run's outcomes in words, from the glossary's ``outcome_text_<outcome>``
_OUTCOMES = (A.OPTIMAL, RELAXED, A.FEASIBLE, A.INFEASIBLE, NOTHING_TO_DO)
OUTCOME_ZH = {o: word(f"outcome_text_{o}", "zh") for o in _OUTCOMES}
OUTCOME_EN = {o: word(f"outcome_text_{o}", "en") for o in _OUTCOMES}
#: what each tier needs, and the file that brings it (said when the layer is empty)
TIER_NEEDS = {
    "constituents": (("constituents", "界别群众.csv（编号、界别、村或经度/纬度）"),
                     ("members", "委员.csv（编号、姓名、界别、经度、纬度）")),
    "stations": (("groups", "界别活动组.csv（编号、名称、界别）"), ("stations", "站点.csv（名称、类型、经度、纬度）")),
    "villages": (("groups", "界别活动组.csv（编号、名称、界别）"),),
    "townships": (("committees", "专委会.csv（编号、名称）"),),
}


def outcome_of(status: str, tiers: Any, diagnostics: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Outcome of a run in words (see :attr:`OptimisationResult.outcome`); works on dicts too."""
    tiers = [t.to_dict() if hasattr(t, "to_dict") else t for t in tiers]
    gaps = [t.get("gap") for t in tiers if t.get("status") == A.FEASIBLE and t.get("gap") is not None]
    gap = max(gaps) if gaps else None
    diags = [d for t in tiers for d in (t.get("diagnostics") or [])] + list(diagnostics or [])
    # the binding constraint first: errors, then capacity and quotas, then distances and notes
    rank = {"capacity": 0, "max_load": 0, "min_load": 0, "no_member": 0, "locks": 1, "reachability": 1}
    diags.sort(key=lambda d: (d.get("severity") != "error", rank.get(str(d.get("quota")), 2)))
    first = next((d for d in diags if d.get("severity") in ("error", "warning")), None)
    if first is None and status in (A.INFEASIBLE, NOTHING_TO_DO):
        first = next(iter(diags), None)
    text, text_en = OUTCOME_ZH.get(status, status), OUTCOME_EN.get(status, status)
    if status == A.FEASIBLE and gap is not None:
        text, text_en = (message("outcome_feasible_within", lang, gap=gap) for lang in ("zh", "en"))
    relaxations = [{"tier": t.get("name"), **r} for t in tiers for r in (t.get("relaxations") or [])]
    return {"outcome": status, "gap": gap, "text": text, "text_en": text_en, "relaxations": relaxations,
            "diagnosis": None if first is None else first.get("message"),
            # code + params of the diagnosis: zh outputs show its glossary text (geo_service.core.glossary.MESSAGES)
            "diagnosis_code": None if first is None else first.get("code"),
            "diagnosis_params": None if first is None else first.get("params")}


@dataclass
class OptimisationResult(ModelResult):
    """All tiers of one run. ``unit`` is "m" (straight) or "s" (road) for objectives and costs."""

    tiers: dict[str, TierResult]
    params: dict[str, Any]
    unit: str = "m"
    gap_villages: list[str] = field(default_factory=list)
    diagnostics: list[dict[str, Any]] = field(default_factory=list)
    time_s: float = 0.0
    dataset_fingerprint: str = ""
    dataset: Any = field(default=None, repr=False, compare=False)  # not serialised

    @property
    def status(self) -> str:
        """Worst status over the tiers (infeasible > feasible > relaxed > optimal > nothing_to_do);
        ``nothing_to_do`` when no tier had anything to decide."""
        order = {NOTHING_TO_DO: -1, A.OPTIMAL: 0, RELAXED: 0.5, A.FEASIBLE: 1, A.INFEASIBLE: 2}
        return max((t.status for t in self.tiers.values()), key=lambda s: order.get(s, 2), default=NOTHING_TO_DO)

    @property
    def outcome(self) -> dict[str, Any]:
        """The run in words: ``outcome`` (optimal / feasible / infeasible / nothing_to_do), ``gap``
        (largest relative gap of a feasible tier), ``text`` (Chinese) and ``diagnosis`` (the
        first warning or error in words, else the first note; None when there is none)."""
        return outcome_of(self.status, self.tiers.values(), self.diagnostics)

    @property
    def objective(self) -> float | None:
        """Sum of the tiers' objectives (``unit``); None when a tier has none."""
        return _tier_sum(self.tiers, "objective")

    @property
    def bound(self) -> float | None:
        """Sum of the tiers' bounds (each a proven lower bound, so the sum is one too)."""
        return _tier_sum(self.tiers, "bound")

    @property
    def gap(self) -> float | None:
        """Largest gap over the tiers (0 when every tier is optimal; None when one has no gap)."""
        gaps = [t.gap for t in self.tiers.values() if t.status != NOTHING_TO_DO]
        return None if any(g is None for g in gaps) else max(gaps, default=0.0)

    def diagnostic_codes(self) -> list[dict[str, Any]]:
        """The run's own diagnostics, then each tier's (as code, params, severity)."""
        return ModelResult.diagnostic_codes(self) + [c for t in self.tiers.values() for c in t.diagnostic_codes()]

    def to_dict(self) -> dict[str, Any]:
        return _json({"status": self.status, "outcome": self.outcome, "unit": self.unit, "params": self.params,
                      "gap_villages": self.gap_villages, "diagnostics": self.diagnostics,
                      "time_s": self.time_s, "dataset_fingerprint": self.dataset_fingerprint,
                      "tiers": {k: t.to_dict() for k, t in self.tiers.items()}})

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OptimisationResult:
        return cls(tiers={k: TierResult.from_dict(v) for k, v in d.get("tiers", {}).items()},
                   params=d.get("params", {}), unit=d.get("unit", "m"),
                   gap_villages=list(d.get("gap_villages", [])), diagnostics=list(d.get("diagnostics", [])),
                   time_s=float(d.get("time_s", 0.0)), dataset_fingerprint=d.get("dataset_fingerprint", ""))

    def tables(self, ds: Any = None, lang: str = "en") -> dict[str, pd.DataFrame]:
        """Result tables (see :func:`result_tables`); ``ds`` defaults to the dataset of the run."""
        ds = ds if ds is not None else self.dataset
        if ds is None:
            raise ValueError("tables() needs the dataset the result was computed on")
        return result_tables(self, ds, lang=lang)

    def layers(self, ds: Any = None) -> dict[str, Any]:
        """GeoDataFrames (WGS-84) of members, villages and stations with their assignments."""
        ds = ds if ds is not None else self.dataset
        if ds is None:
            raise ValueError("layers() needs the dataset the result was computed on")
        return result_layers(self, ds)


def _tier_sum(tiers: dict[str, TierResult], what: str) -> float | None:
    vals = [getattr(t, what) for t in tiers.values() if t.status != NOTHING_TO_DO]
    return None if any(v is None for v in vals) else float(sum(vals))


def diff_results(prev: OptimisationResult | dict[str, Any], new: OptimisationResult | dict[str, Any]
                 ) -> pd.DataFrame:
    """Rows whose assignment changed between two runs: tier, id, previous, new, reason.

    ``reason`` is the one the new run gave (member_left / capacity / improvement / not_allowed /
    target_removed), else "added" (no previous assignment), "removed" (row gone) or "changed".
    """
    a = OptimisationResult.from_dict(prev) if isinstance(prev, dict) else prev
    b = OptimisationResult.from_dict(new) if isinstance(new, dict) else new
    rows = []
    for tier in TIERS:
        if tier not in a.tiers and tier not in b.tiers:
            continue
        pa = a.tiers[tier].assignment if tier in a.tiers else {}
        pb = b.tiers[tier].assignment if tier in b.tiers else {}
        reasons = b.tiers[tier].move_reasons if tier in b.tiers else {}
        for key in list(pa) + [k for k in pb if k not in pa]:
            old, now = pa.get(key), pb.get(key)
            if key in pb and old == now:
                continue
            if key not in pb:
                why = "removed"
            elif old is None:
                why = reasons.get(key) or "added"
            else:
                why = reasons.get(key) or "changed"
            rows.append({"tier": tier, "id": key, "previous": old, "new": now, "reason": why})
    return pd.DataFrame(rows, columns=["tier", "id", "previous", "new", "reason"])


__all__ = ["TIERS", "TIER_LABELS", "Locks", "OptimisationParams", "OptimisationResult", "TierResult", "diff_results"]
