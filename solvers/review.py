"""The yearly review (一年一考评): a score per member from rules that are data, traceable to the ledger.

:class:`ReviewRules` says how many points each kind of ledger row earns (``points``), the most a
rule may add or take away (``caps``), the ``base`` every member starts from, the ``bonus`` for
meeting every quota (:class:`geo_service.core.ledger_coverage.Quotas`) and the score below which
a talk is due (``talk_below``). Satisfaction counts where it was recorded: a contact rated 4-5
earns ``satisfaction`` points, one rated 1-2 costs ``dissatisfied`` points.

:func:`review` scores every member for one year in a few vectorised passes (a million ledger rows
in about a second): each item of a member's score names its rule, the rows behind it (``activity_ids``),
their count, the points each and whether the cap cut it. :func:`review_tables` gives the
print-ready workbook's sheets (ranking, items, rules).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Annotated, Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, field_validator

from geo_service.core import glossary as G
from geo_service.core.errors import validator_error
from geo_service.core.ledger_coverage import Quotas, member_progress

from .model import Model, ModelResult, Progress, StopCheck, as_fraction_progress, check_stop
from geo_service.core.glossary import message

#: the rules, in the order items are listed; each picks ledger rows (see :func:`rule_masks`)
RULES: tuple[str, ...] = ("contact", "satisfaction", "dissatisfied", "duty", "duty_missed", "reception",
                          "consultation", "opinion", "opinion_adopted")


class ReviewRules(BaseModel):
    """The scoring rules of the yearly review (defaults after 佳木斯's 量化积分 practice)."""

    base: float = Field(60.0, description="points every member starts from")
    points: dict[str, float] = Field(default_factory=lambda: {
        "contact": 1.0, "satisfaction": 0.5, "dissatisfied": -1.0, "duty": 3.0, "duty_missed": -5.0,
        "reception": 2.0, "consultation": 3.0, "opinion": 2.0, "opinion_adopted": 3.0},
        description="points per ledger row of each rule")
    caps: dict[str, float] = Field(default_factory=lambda: {
        "contact": 20.0, "satisfaction": 5.0, "dissatisfied": 10.0, "duty": 12.0, "duty_missed": 15.0,
        "reception": 12.0, "consultation": 12.0, "opinion": 10.0, "opinion_adopted": 9.0},
        description="most points a rule may add (or, for a negative rule, take away)")
    bonus: float = Field(5.0, description="points added when every quota is met")
    talk_below: float = Field(60.0, description="a score below this calls for a talk (约谈)")
    quotas: dict[str, Annotated[int, Field(ge=0, le=1_000_000)]] = Field(default_factory=dict, description="Quotas fields overriding the defaults")

    @field_validator("points", "caps")
    @classmethod
    def _known_rules(cls, v: dict[str, float]) -> dict[str, float]:
        bad = set(v) - set(RULES)
        if bad:
            raise validator_error("unknown_keys", f"unknown rule(s) {sorted(bad)}; rules are {', '.join(RULES)}",
                                  keys=", ".join(sorted(bad)), expected=", ".join(RULES))
        for k, x in v.items():
            if not np.isfinite(x):
                raise validator_error("finite_number", f"{k}: {x!r} is not a finite number", field=k)
        return v

    @field_validator("caps")
    @classmethod
    def _caps_positive(cls, v: dict[str, float]) -> dict[str, float]:
        for k, x in v.items():
            if x < 0:
                raise validator_error("greater_than_equal", f"caps.{k} must be >= 0, got {x}", field=k, ge=0)
        return v

    @field_validator("quotas")
    @classmethod
    def _known_quotas(cls, v: dict[str, int]) -> dict[str, int]:
        names = [f.name for f in fields(Quotas)]
        bad = sorted(set(v) - set(names))
        if bad:
            raise validator_error("unknown_keys", f"unknown quota(s) {bad}; quotas are {', '.join(names)}",
                                  keys=", ".join(bad), expected=", ".join(names))
        return v

    def quota_set(self) -> Quotas:
        """The quotas of the review (``ValueError`` naming a bad field)."""
        try:
            return Quotas(**self.quotas)
        except TypeError as e:
            raise ValueError(f"quotas: {e}") from None


def rule_masks(a: pd.DataFrame) -> dict[str, np.ndarray]:
    """Which ledger rows each rule counts (boolean arrays over ``a``'s rows)."""
    kind = a["kind"].to_numpy(dtype=object)
    status = a["status"].to_numpy(dtype=object)
    sat = pd.to_numeric(a["satisfaction"], errors="coerce").to_numpy(dtype=float)
    contact = kind == "contact"
    return {"contact": contact, "satisfaction": contact & (sat >= 4), "dissatisfied": contact & (sat <= 2),
            "duty": (kind == "duty") & np.isin(status, ["held", "swapped"]),
            "duty_missed": (kind == "duty") & (status == "missed"), "reception": kind == "reception",
            "consultation": kind == "consultation", "opinion": kind == "opinion",
            "opinion_adopted": (kind == "opinion") & (status == "adopted")}


class ReviewParams(BaseModel):
    """Parameters of a review job: the ``year`` and the ``rules``."""

    year: int = Field(..., ge=1900, le=2200, description="the review year")
    rules: ReviewRules = Field(default_factory=ReviewRules, description="the scoring rules")


#: ledger columns a review reads (besides ``id``)
REVIEW_COLUMNS: tuple[str, ...] = ("kind", "member_id", "date", "status", "satisfaction", "people",
                                   "constituent_id")


@dataclass
class ReviewResult(ModelResult):
    """Scores of one year: ``members`` in rank order, each with its items; ``rules`` as used.

    The review is an exact evaluation, not a search: ``status`` is ``optimal`` (``nothing_to_do``
    without members), ``objective`` the members' total score (points), ``bound`` equal to it and
    ``gap`` 0. ``diagnostics`` name each member whose score calls for a talk (``review_talk``).
    """

    year: int
    rules: dict[str, Any]
    members: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "optimal" if self.members else "nothing_to_do"

    @property
    def objective(self) -> float:
        """Total score of the members (points)."""
        return float(sum(m["score"] for m in self.members))

    @property
    def bound(self) -> float:
        return self.objective

    @property
    def gap(self) -> float:
        return 0.0

    @property
    def diagnostics(self) -> list[dict[str, Any]]:
        threshold = self.rules.get("talk_below")
        return [{"code": "review_talk", "severity": "warning",
                 "params": {"member_id": m["member_id"], "score": m["score"], "threshold": threshold}}
                for m in self.members if m["talk"]]

    def to_dict(self) -> dict[str, Any]:
        """``year``, ``members`` and ``rules`` (the job's and the CLI's JSON)."""
        return {"year": self.year, "members": self.members, "rules": self.rules}


def _member_codes(a: pd.DataFrame, member_ids: list[str] | None) -> tuple[list[str], np.ndarray]:
    seen = a["member_id"].dropna().astype(str)
    ids = list(dict.fromkeys([*(member_ids or []), *sorted(seen.unique())]))
    code = pd.Categorical(a["member_id"].astype(object), categories=ids).codes.astype(np.int64)
    return ids, code


def review(activities: pd.DataFrame, year: int, *, member_ids: list[str] | None = None,
           rules: ReviewRules | None = None, names: dict[str, str] | None = None) -> ReviewResult:
    """Score every member for ``year`` (see module docstring).

    Parameters
    ----------
    activities : DataFrame
        Ledger records with at least ``id``, ``kind``, ``member_id``, ``date``, ``status``,
        ``satisfaction``, ``people``, ``constituent_id``; other years are ignored.
    year : int
        The review year.
    member_ids : list of str, optional
        Members to score even without a ledger row (the dataset's members); members found only
        in the ledger are scored too.
    rules : ReviewRules, optional
        Default :class:`ReviewRules`.
    names : dict, optional
        member id -> name, for the tables.

    Returns
    -------
    ReviewResult
    """
    if not isinstance(year, int) or not 1900 <= year <= 2200:
        raise ValueError(f"year must be a year like 2027, got {year!r}")
    rules = rules or ReviewRules()
    start, end = f"{year}-01-01", f"{year}-12-31"
    a = activities[(activities["date"] >= start) & (activities["date"] <= end)]
    ids, code = _member_codes(a, member_ids)
    M, R = len(ids), len(RULES)
    masks = rule_masks(a)
    act_id = a["id"].to_numpy(dtype=np.int64)
    keys = [code[m] * R + r for r, m in ((r, masks[k]) for r, k in enumerate(RULES))]
    rows = [act_id[masks[k]] for k in RULES]
    key = np.concatenate(keys) if keys else np.zeros(0, np.int64)
    rid = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    ok = key >= 0
    key, rid = key[ok], rid[ok]
    counts = np.bincount(key, minlength=M * R).reshape(M, R)
    order = np.lexsort((rid, key))
    rid_sorted = rid[order].tolist()  # one conversion; items slice the list
    bounds = np.concatenate([[0], np.cumsum(counts.ravel())]).tolist()
    each = np.array([rules.points.get(k, 0.0) for k in RULES])
    cap = np.array([rules.caps.get(k, np.inf) for k in RULES])
    raw = counts * each
    pts = np.clip(raw, -cap, cap)
    progress = member_progress(a, ids, start, end, rules.quota_set())
    sat = pd.to_numeric(a["satisfaction"], errors="coerce").to_numpy(dtype=float)
    asked = (a["kind"].to_numpy(dtype=object) == "contact") & np.isfinite(sat)
    ok_code = asked & (code >= 0)
    n_asked = np.bincount(code[ok_code], minlength=M).tolist()
    sum_sat = np.bincount(code[ok_code], weights=sat[ok_code], minlength=M).tolist()
    met = np.array([p["all_met"] for p in progress], dtype=bool)
    score = rules.base + pts.sum(axis=1) + np.where(met, rules.bonus, 0.0)
    rank_order = np.lexsort((np.arange(M), -score))
    counts_l, pts_l, raw_l, score_l = counts.tolist(), pts.tolist(), raw.tolist(), score.tolist()
    each_l, cap_l = each.tolist(), cap.tolist()
    members = []
    for rank, m in enumerate(rank_order.tolist(), start=1):
        items = [{"rule": "base", "n": None, "each": None, "points": rules.base, "cap": None, "capped": False,
                  "activity_ids": []}]
        for r, k in enumerate(RULES):
            n = counts_l[m][r]
            if n == 0:
                continue
            lo = bounds[m * R + r]
            items.append({"rule": k, "n": n, "each": each_l[r], "points": pts_l[m][r],
                          "cap": None if cap_l[r] == np.inf else cap_l[r], "capped": abs(raw_l[m][r]) > cap_l[r],
                          "activity_ids": rid_sorted[lo:lo + n]})
        if met[m] and rules.bonus:
            items.append({"rule": "quota_bonus", "n": None, "each": None, "points": rules.bonus, "cap": None,
                          "capped": False, "activity_ids": []})
        s = round(score_l[m], 6)
        members.append({"member_id": ids[m], "name": (names or {}).get(ids[m]), "score": s, "rank": rank,
                        "talk": bool(s < rules.talk_below), "items": items,
                        "satisfaction": {"asked": n_asked[m],
                                         "mean": round(sum_sat[m] / n_asked[m], 3) if n_asked[m] else None},
                        "quotas": {k: v for k, v in progress[m].items() if k != "member_id"}})
    return ReviewResult(year, rules.model_dump(mode="json"), members)


class ReviewModel(Model):
    """The yearly review as a model: ledger records and :class:`ReviewParams` in, :class:`ReviewResult` out.

    Built :meth:`from_records` (ledger rows: a DataFrame or a list of dicts with the
    :data:`REVIEW_COLUMNS` and ``id``) or :meth:`from_dataset` (the dataset's members, with their
    names, are scored even without a ledger row). :meth:`solve` runs :func:`review`: an exact,
    vectorised evaluation, so ``time_limit_s`` and ``seed`` change nothing.
    """

    family: ClassVar[str] = "review"

    def __init__(self, activities: pd.DataFrame, params: ReviewParams, member_ids: list[str] | None = None,
                 names: dict[str, str] | None = None):
        self.activities, self.params, self.member_ids, self.names = activities, params, member_ids, names

    @classmethod
    def from_records(cls, activities: pd.DataFrame | list[dict[str, Any]], params: ReviewParams | dict | None = None,
                     *, member_ids: list[str] | None = None, names: dict[str, str] | None = None) -> ReviewModel:
        """The review of ledger ``activities`` with ``params`` (``{"year": 2027, "rules": {...}}``)."""
        if params is None:
            raise ValueError("params: the review needs a year, e.g. {'year': 2027}")
        prm = params if isinstance(params, ReviewParams) else ReviewParams.model_validate(params)
        frame = activities if isinstance(activities, pd.DataFrame) else pd.DataFrame(
            list(activities), columns=["id", *REVIEW_COLUMNS])
        missing = sorted({"id", *REVIEW_COLUMNS} - set(frame.columns))
        if missing:
            raise ValueError(f"activities: missing column(s) {', '.join(missing)}")
        return cls(frame, prm, member_ids, names)

    @classmethod
    def from_dataset(cls, ds: Any, params: ReviewParams | dict | None = None, *,
                     activities: pd.DataFrame | list[dict[str, Any]] | None = None) -> ReviewModel:
        """The review of every member of ``ds`` from ledger ``activities`` (default: none recorded)."""
        members = ds.layers.get("members")
        ids = members["id"].astype(str).tolist() if members is not None else []
        names = dict(zip(ids, members["name"].astype(str), strict=True)) if ids else {}
        return cls.from_records([] if activities is None else activities, params, member_ids=ids, names=names)

    def solve(self, time_limit_s: float | None = None, seed: int | None = None,
              should_stop: StopCheck = None, progress: Progress | None = None) -> ReviewResult:
        """Score every member (see :func:`review`); ``should_stop`` is checked before and after
        scoring, so a review stopped while it scored never answers."""
        say = as_fraction_progress(progress)
        check_stop(should_stop, "review")
        say(0.0, "scoring")
        res = review(self.activities, self.params.year, member_ids=self.member_ids, rules=self.params.rules,
                     names=self.names)
        check_stop(should_stop, "review")
        say(1.0, "done")
        return res


def review_tables(result: ReviewResult | dict[str, Any]) -> dict[str, pd.DataFrame]:
    """Sheets of the review workbook: ``ranking``, ``review_items`` (one row per member and rule,
    with the ledger ids behind it) and ``review_rules``."""
    d = result.to_dict() if isinstance(result, ReviewResult) else result
    rank = pd.DataFrame([{"rank": m["rank"], "member_id": m["member_id"], "member_name": m.get("name"),
                          "score": m["score"], "talk": m["talk"],
                          "mean_satisfaction": (m.get("satisfaction") or {}).get("mean")} for m in d["members"]],
                        columns=["rank", "member_id", "member_name", "score", "talk", "mean_satisfaction"])
    items = pd.DataFrame([{"member_id": m["member_id"], "rule": it["rule"], "activity_count": it["n"],
                           "points": it["points"], "activity_ids": ";".join(map(str, it["activity_ids"]))}
                          for m in d["members"] for it in m["items"]],
                         columns=["member_id", "rule", "activity_count", "points", "activity_ids"])
    r = d["rules"]
    rules = pd.DataFrame([{"rule": "base", "points": r["base"], "quota_target": None}]
                         + [{"rule": k, "points": r["points"].get(k, 0.0), "quota_target": r["caps"].get(k)}
                            for k in RULES]
                         + [{"rule": "quota_bonus", "points": r["bonus"], "quota_target": None}],
                         columns=["rule", "points", "quota_target"]).rename(columns={"quota_target": "cap"})
    return {"ranking": rank, "review_items": items, "review_rules": rules}


def review_notes(result: ReviewResult | dict[str, Any], dataset_id: str = "", lang: str = "zh") -> dict[str, Any]:
    """Items of the workbook's 说明 sheet: dataset, year, every rule in words (points each, cap),
    the bonus and the talk threshold."""
    d = result.to_dict() if isinstance(result, ReviewResult) else result
    r = d["rules"]
    each, cap = G.word("review_each", lang), G.word("review_cap", lang)
    rules = {G.value_label("review_rule", "base", lang): r["base"]}
    for k in RULES:
        rules[G.value_label("review_rule", k, lang)] = message("review_rule_cap", lang, each=each, points=r['points'].get(k, 0.0), cap=cap, cap_points=r['caps'].get(k, '-'))
    rules[G.value_label("review_rule", "quota_bonus", lang)] = r["bonus"]
    rules[G.word("review_talk_below", lang)] = r["talk_below"]
    return {"dataset": dataset_id, "review_year": d["year"], "review_rules_note": rules}


__all__ = ["REVIEW_COLUMNS", "RULES", "ReviewModel", "ReviewParams", "ReviewResult", "ReviewRules", "review", "review_notes", "review_tables", "rule_masks"]
