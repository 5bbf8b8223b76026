"""One optimisation run over a dataset: all four assignment tiers, their tables and a diff.

``run_optimisation(ds, params)`` builds the cost matrices from a :class:`~geo_service.dataset.Dataset`
(straight-line metres in ``ds.metric_crs``, or road travel time in seconds from
:class:`geo_service.network.RoadNetwork`), calls the array solvers of :mod:`solvers.assignment` and
maps the answers back to ids. The :class:`OptimisationResult` is pure JSON (``to_dict``/``from_dict``),
so it can be stored in a job record and passed back as ``previous`` for a minimal-change re-run.

Tier order in a run: constituents -> members (1), groups -> stations (4, so a group's base is known),
villages -> groups (2), townships -> committees (3).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pyproj import Transformer

from geo_service.coverage import find_gaps
from geo_service.network import RoadNetwork

from . import assignment as A
from .tables import result_layers, result_tables, write_xlsx

TIERS = ("constituents", "villages", "townships", "stations")
TIER_LABELS = {"constituents": {"zh": "界别群众-委员", "en": "constituents -> members"},
               "villages": {"zh": "村社区-活动组", "en": "villages -> groups"},
               "townships": {"zh": "乡镇-专委会", "en": "townships -> committees"},
               "stations": {"zh": "活动组-工作站", "en": "groups -> stations"}}
Progress = Callable[[float, str], None]


Cancelled = A.Cancelled  # raised when the ``cancel`` event is set (checked between tiers and flow solves)


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
    constituents_min: int = Field(8, ge=0, description="constituents per member, min")
    constituents_target: int = Field(10, ge=0, description="constituents per member, target")
    constituents_max: int = Field(12, ge=1, description="constituents per member, max")
    villages_min: int = Field(2, ge=0, description="villages per group, min")
    villages_target: int = Field(3, ge=0, description="villages per group, target")
    target_penalty: float = Field(1000.0, ge=0, description="extra cost (m) per constituent (tier 1) or "
                                                            "village (tier 2) above the target; 0 = ignore targets")
    villages_max: int = Field(4, ge=1, description="villages per group, max")
    townships_per_committee: int = Field(2, ge=1)
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
    seed: int = 0
    num_workers: int = Field(1, ge=1, le=16, description="CP-SAT workers (fixed for reproducibility)")
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
    station_capacity_default: int = Field(2, ge=0, description="groups per station when capacity is blank")
    host_kinds: list[str] = Field(default_factory=lambda: ["station_comprehensive", "station_sector"])
    sector_mismatch_penalty: float = Field(5000.0, ge=0, description="extra cost (m) per member when "
                                                                     "a sector station hosts another sector")

    @field_validator("constituents_max")
    @classmethod
    def _max_ge_min(cls, v: int, info: Any) -> int:
        lo = info.data.get("constituents_min", 0)
        if v < lo:
            raise ValueError(f"constituents_max {v} < constituents_min {lo}")
        return v

    @field_validator("villages_max")
    @classmethod
    def _vmax_ge_min(cls, v: int, info: Any) -> int:
        lo = info.data.get("villages_min", 0)
        if v < lo:
            raise ValueError(f"villages_max {v} < villages_min {lo}")
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
class TierResult:
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

    def to_dict(self) -> dict[str, Any]:
        return {k: _json(getattr(self, k)) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TierResult:
        return cls(**{k: d.get(k) for k in cls.__dataclass_fields__ if k in d})


def _json(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json(x) for x in v]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if not math.isfinite(float(v)) else float(v)
    if isinstance(v, np.ndarray):
        return _json(v.tolist())
    return v


@dataclass
class OptimisationResult:
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
        """Worst status over the tiers (infeasible > feasible > optimal)."""
        order = {A.OPTIMAL: 0, A.FEASIBLE: 1, A.INFEASIBLE: 2}
        return max((t.status for t in self.tiers.values()), key=lambda s: order.get(s, 2), default=A.OPTIMAL)

    def to_dict(self) -> dict[str, Any]:
        return _json({"status": self.status, "unit": self.unit, "params": self.params,
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

    def write_xlsx(self, path: str | Path, lang: str = "zh", ds: Any = None) -> Path:
        """Write every table to one sheet of an .xlsx workbook (``lang`` headers)."""
        return write_xlsx(self.tables(ds, lang=lang), path, lang=lang)


# ------------------------------------------------------------------------------------------------
def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("optimisation cancelled")


def _gap_villages(ds: Any, params: OptimisationParams, network: Any) -> tuple[list[str], str]:
    """Ids of villages that no station reaches (:func:`geo_service.coverage.find_gaps`) and that source."""
    gaps = find_gaps(ds, threshold_m=params.gap_threshold_m, threshold_s=params.gap_threshold_s,
                     mode=params.mode, network=network)
    return [str(v) for v in gaps["village_id"]], "geo_service.coverage.find_gaps"


class _Costs:
    """Cost matrices between point sets: straight-line metres, or road seconds via the network."""

    def __init__(self, ds: Any, mode: str, network: Any):
        self.ds, self.mode = ds, mode
        self.network = network
        if mode == "road" and network is None:
            self.network = RoadNetwork.from_dataset(ds)
        self.tf = None

    def xy(self, lonlat: np.ndarray) -> np.ndarray:
        if self.tf is None:
            self.tf = Transformer.from_crs("EPSG:4326", self.ds.metric_crs, always_xy=True)
        x, y = self.tf.transform(lonlat[:, 0], lonlat[:, 1])
        return np.column_stack([x, y])

    def matrix(self, a_lonlat: np.ndarray, b_lonlat: np.ndarray) -> np.ndarray:
        if len(a_lonlat) == 0 or len(b_lonlat) == 0:
            return np.zeros((len(a_lonlat), len(b_lonlat)))
        if self.mode == "road":
            return self.network.travel_time_matrix(a_lonlat, b_lonlat)
        a, b = self.xy(a_lonlat), self.xy(b_lonlat)
        return np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])


def _lonlat(geoms: Any) -> np.ndarray:
    return np.column_stack([geoms.x.to_numpy(), geoms.y.to_numpy()]) if len(geoms) else np.zeros((0, 2))


def _index_map(ids: Any) -> dict[str, int]:
    return {str(v): i for i, v in enumerate(ids)}


def _lock_array(locks: dict[str, str], rows: dict[str, int], cols: dict[str, int], what: str,
                who: str) -> np.ndarray:
    out = np.full(len(rows), -1, np.int64)
    for r, c in locks.items():
        if str(r) not in rows:
            raise ValueError(f"locks.{what}: unknown {what[:-1]} id '{r}'")
        if str(c) not in cols:
            raise ValueError(f"locks.{what}: '{r}' is pinned to unknown {who} id '{c}'")
        out[rows[str(r)]] = cols[str(c)]
    return out


def _previous(prev: OptimisationResult | None, tier: str, rows: list[str], cols: dict[str, int]
              ) -> tuple[np.ndarray | None, dict[str, str]]:
    """Previous column index per row (-1 none) and reasons for rows whose previous column is gone."""
    if prev is None or tier not in prev.tiers:
        return None, {}
    old = prev.tiers[tier].assignment
    out = np.full(len(rows), -1, np.int64)
    gone: dict[str, str] = {}
    for i, r in enumerate(rows):
        c = old.get(r)
        if c is None:
            continue
        if c in cols:
            out[i] = cols[c]
        else:
            gone[r] = "member_left" if tier == "constituents" else "target_removed"
    return out, gone


def _member_pins(members: pd.DataFrame, use: bool, diagnostics: list[dict[str, Any]]
                 ) -> tuple[dict[str, str], dict[str, str]]:
    """Locks from members' pinned fields: village -> the member's group, group -> pinned station.

    A group whose members pin different stations gets no station lock (a warning says which).
    """
    if not use or not len(members):
        return {}, {}
    villages: dict[str, str] = {}
    stations: dict[str, set[str]] = {}
    for _, m in members.iterrows():
        g = m.get("group_id")
        if g is None or pd.isna(g):
            continue
        v, st = m.get("village_id"), m.get("station_id")
        if v is not None and not pd.isna(v):
            villages[str(v)] = str(g)
        if st is not None and not pd.isna(st):
            stations.setdefault(str(g), set()).add(str(st))
    out: dict[str, str] = {}
    for g, sts in stations.items():
        if len(sts) == 1:
            out[g] = next(iter(sts))
        else:
            diagnostics.append({"tier": "stations", "severity": "warning", "quota": "pins",
                                "message": f"group {g}: members pin different stations ({', '.join(sorted(sts))}); "
                                           f"no station lock applied"})
    return villages, out


def _tier_result(name: str, res: A.AssignmentResult, rows: list[str], cols: list[str],
                 gone: dict[str, str], extra: dict[str, Any] | None = None,
                 cost_of: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None) -> TierResult:
    """Map an array result back to ids; ``cost_of(rows, cols)`` gives each assigned row's pure cost."""
    assign = {r: (cols[j] if j >= 0 else None) for r, j in zip(rows, res.assignment.tolist())}
    row_cost: dict[str, float] = {}
    if cost_of is not None:
        ok = np.flatnonzero(res.assignment >= 0)
        if len(ok):
            vals = cost_of(ok, res.assignment[ok])
            row_cost = {rows[i]: round(float(c), 3) for i, c in zip(ok, vals)}
    reasons: dict[str, str] = {}
    if res.move_reasons is not None:
        reasons = {rows[i]: str(x) for i, x in enumerate(res.move_reasons) if x}
    for r, why in gone.items():
        reasons[r] = why
    moved = dict(res.moved) if res.moved is not None else None
    if moved is not None and gone:  # rows whose previous target is gone count as moved, not new
        placed = sum(1 for r in gone if assign.get(r) is not None)
        moved["new"] = moved.get("new", 0) - placed
        moved["moved"] = moved.get("moved", 0) + len(gone)
        moved[next(iter(gone.values()))] = len(gone)
    ex = _json({**res.extra, **(extra or {})})
    if "uncovered" in ex:  # indices -> ids
        ex["uncovered"] = [rows[i] for i in res.extra["uncovered"]]
    for key in ("unassigned", "underserved_unassigned"):
        if key in ex:
            ex[key] = [rows[i] for i in res.extra[key]]
    diags = []
    for d in res.diagnostics:
        d = dict(d)
        for key in ("uncovered", "unassigned"):
            if key in d:
                d[key] = [rows[i] for i in d[key]]
        d["tier"] = name
        diags.append(_json(d))
    return TierResult(name=name, status=res.status, objective=_json(res.objective), bound=_json(res.bound),
                      gap=_json(res.gap), time_s=round(res.time_s, 4), solver=res.solver, assignment=assign,
                      diagnostics=diags, moved=moved, move_reasons=reasons, cost=_json(res.cost), extra=ex,
                      row_cost=row_cost)


@dataclass
class _Run:
    """What every tier of one run shares: dataset, parameters, costs, members, progress and diagnostics."""

    ds: Any
    p: OptimisationParams
    prev: OptimisationResult | None
    churn: float
    say: Progress
    stop: Callable[[], bool] | None
    costs: _Costs
    deadline: float
    m_ids: list[str]
    m_idx: dict[str, int]
    m_ll: np.ndarray
    diagnostics: list[dict[str, Any]]
    gap_ids: list[str]

    def time_left(self) -> float:
        """Seconds of the run's time limit left for the next solve (at least 1)."""
        return max(1.0, self.deadline - time.monotonic())


@dataclass
class _Groups:
    """Groups and stations with their current bases (tier 4 fills ``group_station`` for tier 2)."""

    g_ids: list[str]
    g_idx: dict[str, int]
    s_ids: list[str]
    s_idx: dict[str, int]
    s_ll: np.ndarray
    g_members: list[np.ndarray]
    group_station: dict[str, str | None]
    pins_village: dict[str, str]
    pins_station: dict[str, str]

    @classmethod
    def of(cls, run: _Run) -> _Groups:
        members, groups, stations = run.ds.members, run.ds.groups, run.ds.stations
        g_ids = [str(x) for x in groups["id"]]
        s_ids = [str(x) for x in stations["id"]]
        g_members = [np.flatnonzero(members["group_id"].astype(str).to_numpy() == g) for g in g_ids]
        group_station: dict[str, str | None] = {g: (None if pd.isna(s) or s is None else str(s))
                                                for g, s in zip(g_ids, groups["station_id"], strict=True)}
        pins_village, pins_station = _member_pins(members, run.p.use_member_pins, run.diagnostics)
        return cls(g_ids, _index_map(g_ids), s_ids, _index_map(s_ids), _lonlat(stations.geometry), g_members,
                   group_station, pins_village, pins_station)


def _tier_constituents(run: _Run) -> TierResult:
    """Tier 1: constituents -> members of their sector (exact min-cost flow), with the cross-sector
    fallback when the sector quotas cannot be met."""
    ds, p, say = run.ds, run.p, run.say
    say(5.0, "assigning constituents to members")
    c = ds.constituents
    c_ids = [str(x) for x in c["id"]]
    pts = ds.constituent_points()
    located = ~(pts.isna() | pts.is_empty).to_numpy()
    if (~located).any():
        bad = [c_ids[i] for i in np.flatnonzero(~located)]
        run.diagnostics.append({"tier": "constituents", "severity": "warning", "quota": "location",
                                "message": f"{len(bad)} constituents have neither a point nor a village: "
                                           f"{', '.join(bad[:10])}{'...' if len(bad) > 10 else ''}"})
    rows = [c_ids[i] for i in np.flatnonzero(located)]
    r_idx = _index_map(rows)
    c_ll = _lonlat(pts[located])
    csec = c["sector"].astype(str).to_numpy()[located]
    msec = ds.members["sector"].astype(str).to_numpy()
    locks = _lock_array(p.locks.constituents, r_idx, run.m_idx, "constituents", "member")
    prev_a, gone = _previous(run.prev, "constituents", rows, run.m_idx)
    if p.mode == "straight":
        cxy, mxy = run.costs.xy(c_ll), run.costs.xy(run.m_ll)

        def cost_of(ri: np.ndarray, cj: np.ndarray) -> np.ndarray:
            return np.hypot(*(cxy[ri] - mxy[cj]).T)

        def solve(cross: bool) -> A.AssignmentResult:
            return A.assign_constituents_geo(
                cxy, mxy, p.constituents_min, p.constituents_max, constituent_sector=csec,
                member_sector=msec, cross_penalty=p.penalty(p.cross_sector_penalty) if cross else None,
                time_limit=run.time_left(), seed=p.seed, locks=locks,
                previous=prev_a, churn_weight=run.churn, target_load=p.constituents_target,
                over_target_penalty=p.penalty(p.target_penalty), should_stop=run.stop)
    else:
        cost = run.costs.matrix(c_ll, run.m_ll)

        def cost_of(ri: np.ndarray, cj: np.ndarray) -> np.ndarray:
            return cost[ri, cj]

        def solve(cross: bool) -> A.AssignmentResult:
            return A.assign_min_cost_flow(
                cost, p.constituents_min, p.constituents_max, allowed=csec[:, None] == msec[None, :],
                time_limit=run.time_left(), seed=p.seed, locks=locks,
                previous=prev_a, churn_weight=run.churn,
                cross_penalty=p.penalty(p.cross_sector_penalty) if cross else None,
                member_labels=list(msec), target_load=p.constituents_target,
                over_target_penalty=p.penalty(p.target_penalty), should_stop=run.stop)

    res = solve(p.allow_cross_sector)
    fallback_info: dict[str, Any] = {}
    if (res.status == A.INFEASIBLE and not p.allow_cross_sector
            and any(d["quota"] in ("max_load", "no_member") for d in res.diagnostics) and len(run.m_ids)):
        # the other relaxation: the surplus goes to members of other sectors at a penalty
        say(20.0, "trying the cross-sector fallback")
        fb = solve(True)
        ok = fb.assignment >= 0
        n_cross = int((csec[ok] != msec[fb.assignment[ok]]).sum())
        fallback_info = {"fallback": {"kind": "cross_sector", "status": fb.status,
                                      "cross_sector": n_cross, "penalty_m": p.cross_sector_penalty,
                                      "cost": _json(fb.cost), "used": p.on_infeasible == "cross_sector"},
                         }
        res.diagnostics.append({"quota": "fallback", "severity": "info",
                                "message": f"cross-sector fallback: {fb.status} with {n_cross} constituents "
                                           f"placed with members of other sectors (total {fb.cost:,.0f} "
                                           f"{'m' if p.mode == 'straight' else 's'})"
                                           + ("; used as the answer" if p.on_infeasible == "cross_sector"
                                              else "; set on_infeasible='cross_sector' to use it")})
        if p.on_infeasible == "cross_sector" and fb.status != A.INFEASIBLE:
            fb.diagnostics = res.diagnostics
            fb.status = A.INFEASIBLE  # the strict sector quotas are still not met
            res = fb
    return _tier_result("constituents", res, rows, run.m_ids, gone,
                        {"target": p.constituents_target, **fallback_info}, cost_of)


def _tier_stations(run: _Run, G: _Groups) -> TierResult:
    """Tier 4: whole groups -> stations within capacity (整建制入站), by the members' total travel."""
    ds, p = run.ds, run.p
    stations = ds.stations
    run.say(40.0, "assigning groups to stations")
    ms = run.costs.matrix(run.m_ll, G.s_ll)  # members x stations
    cost = np.array([ms[ix].sum(axis=0) if len(ix) else np.zeros(len(G.s_ids)) for ix in G.g_members])
    cost = cost.reshape(len(G.g_ids), len(G.s_ids))
    travel = cost.copy()  # members' travel only, before preference penalties
    kinds = stations["kind"].astype(str).to_numpy()
    allowed = np.repeat(np.isin(kinds, p.host_kinds)[None, :], len(G.g_ids), axis=0)
    for gi, gsec in enumerate(ds.groups["sectors"]):
        gs = set(gsec or [])
        for si, ssec in enumerate(stations["sectors"]):
            if kinds[si] == "station_sector" and not gs & set(ssec or []):
                cost[gi, si] += p.penalty(p.sector_mismatch_penalty) * max(1, len(G.g_members[gi]))
    capv = pd.to_numeric(stations["capacity"], errors="coerce").to_numpy(float)
    cap = np.where(np.isfinite(capv), capv, p.station_capacity_default).astype(np.int64)
    locks = _lock_array({**G.pins_station, **p.locks.groups}, G.g_idx, G.s_idx, "groups", "station")
    prev_a, gone = _previous(run.prev, "stations", G.g_ids, G.s_idx)
    res = A.assign_groups_to_stations(cost, cap, allowed=allowed, locks=locks, previous=prev_a,
                                      churn_weight=run.churn, station_labels=G.s_ids, group_labels=G.g_ids)
    return _tier_result("stations", res, G.g_ids, G.s_ids, gone, cost_of=lambda r, c: travel[r, c])


def _tier_villages(run: _Run, G: _Groups) -> TierResult:
    """Tier 2: villages (the gap villages by default) -> groups, by distance from each group's base
    (its station, else its members' centre)."""
    ds, p = run.ds, run.p
    run.say(60.0, "assigning villages to groups")
    v = ds.villages
    all_v = [str(x) for x in v["id"]]
    if p.villages == "gaps":
        chosen = set(run.gap_ids)
    elif p.villages == "all":
        chosen = set(all_v)
    else:
        unknown = [x for x in p.village_ids if x not in set(all_v)]
        if unknown:
            raise ValueError(f"village_ids: unknown village id '{unknown[0]}'")
        chosen = set(p.village_ids)
    village_locks = {**G.pins_village, **p.locks.villages}
    chosen |= set(village_locks)
    rows = [x for x in all_v if x in chosen]
    vi = np.array([all_v.index(x) for x in rows], dtype=np.int64) if rows else np.zeros(0, np.int64)
    v_ll = _lonlat(v.geometry)[vi] if len(vi) else np.zeros((0, 2))
    base = np.zeros((len(G.g_ids), 2))
    centre = np.array(ds.centre)
    for gi, g in enumerate(G.g_ids):
        st = G.group_station.get(g)
        if st is not None and st in G.s_idx:
            base[gi] = G.s_ll[G.s_idx[st]]
        elif len(G.g_members[gi]):
            base[gi] = run.m_ll[G.g_members[gi]].mean(axis=0)
        else:
            base[gi] = centre
    cost = run.costs.matrix(v_ll, base)
    pop = pd.to_numeric(v["population"], errors="coerce").fillna(0).to_numpy()[vi]
    locks = _lock_array(village_locks, _index_map(rows), G.g_idx, "villages", "group")
    prev_a, gone = _previous(run.prev, "villages", rows, G.g_idx)
    res = A.assign_villages_to_groups(cost, pop, p.villages_min, p.villages_max,
                                      compactness=p.compactness,
                                      time_limit=run.time_left(), seed=p.seed,
                                      num_workers=p.num_workers, locks=locks, previous=prev_a,
                                      churn_weight=run.churn, group_labels=G.g_ids, target_load=p.villages_target,
                                      target_penalty=p.penalty(p.target_penalty))
    return _tier_result("villages", res, rows, G.g_ids, gone, {"target": p.villages_target},
                        lambda r, c: cost[r, c])


def _tier_townships(run: _Run, k_ids: list[str]) -> TierResult:
    """Tier 3: townships -> committees, the most under-served (gap population) first."""
    ds, p = run.ds, run.p
    run.say(85.0, "assigning townships to committees")
    t_ids = [str(x) for x in ds.townships["id"]]
    v = ds.villages
    vpop = pd.to_numeric(v["population"], errors="coerce").fillna(0)
    gapset = set(run.gap_ids)
    is_gap = v["id"].astype(str).isin(gapset).to_numpy()
    tid = v["township_id"].astype(str).to_numpy()
    up = np.array([vpop[(tid == t) & is_gap].sum() for t in t_ids], float)
    tpop = np.array([vpop[tid == t].sum() for t in t_ids], float)
    t_ll = _lonlat(ds.to_metric("townships").geometry.representative_point().to_crs("EPSG:4326"))
    kc = np.zeros((len(k_ids), 2))
    mcom = ds.members["committee_id"].astype(str).to_numpy()
    for ki, k in enumerate(k_ids):
        ix = np.flatnonzero(mcom == k)
        kc[ki] = run.m_ll[ix].mean(axis=0) if len(ix) else np.array(ds.centre)
    cost = run.costs.matrix(t_ll, kc)
    locks = _lock_array(p.locks.townships, _index_map(t_ids), _index_map(k_ids), "townships", "committee")
    prev_a, gone = _previous(run.prev, "townships", t_ids, _index_map(k_ids))
    res = A.assign_townships_to_committees(cost, up, p.townships_per_committee,
                                           all_townships=p.all_townships, population=tpop, locks=locks,
                                           previous=prev_a, churn_weight=run.churn, committee_labels=k_ids)
    return _tier_result("townships", res, t_ids, k_ids, gone,
                        {"uncovered_population": {t: float(x) for t, x in zip(t_ids, up)}},
                        lambda r, c: cost[r, c])


def run_optimisation(ds: Any, params: OptimisationParams | dict[str, Any] | None = None,
                     previous: OptimisationResult | dict[str, Any] | None = None,
                     progress: Progress | None = None, cancel: threading.Event | None = None,
                     network: Any = None) -> OptimisationResult:
    """Run the requested tiers on dataset ``ds``.

    ``previous`` (a result or its ``to_dict()``) feeds the minimal-change re-run (``params.minimal_change``
    or ``params.churn_weight``); ``progress(pct, message)`` is called between steps; ``cancel`` (a
    ``threading.Event``) is checked between tiers and before every flow solve and raises
    :class:`Cancelled`; ``network`` is a
    prebuilt :class:`geo_service.network.RoadNetwork` for ``mode="road"``.
    """
    t0 = time.monotonic()
    p = params if isinstance(params, OptimisationParams) else OptimisationParams.model_validate(params or {})
    prev = OptimisationResult.from_dict(previous) if isinstance(previous, dict) else previous
    say = progress or (lambda pct, msg: None)
    _check_cancel(cancel)
    say(0.0, "preparing costs")
    costs = _Costs(ds, p.mode, network)
    m_ids = [str(x) for x in ds.members["id"]]
    run = _Run(ds, p, prev, churn=p.penalty(p.effective_churn()) if prev is not None else 0.0, say=say,
               stop=cancel.is_set if cancel is not None else None, costs=costs,
               deadline=t0 + p.time_limit_s, m_ids=m_ids, m_idx=_index_map(m_ids),
               m_ll=_lonlat(ds.members.geometry), diagnostics=[], gap_ids=[])
    if "villages" in p.tiers or "townships" in p.tiers:  # gap villages: needed by tiers 2 and 3
        run.gap_ids, source = _gap_villages(ds, p, costs.network)
        run.diagnostics.append({"tier": "gaps", "severity": "info", "source": source,
                                "message": f"{len(run.gap_ids)} gap villages ({source})"})
    _check_cancel(cancel)
    tiers: dict[str, TierResult] = {}
    if "constituents" in p.tiers:
        tiers["constituents"] = _tier_constituents(run)
        _check_cancel(cancel)
    G = _Groups.of(run)
    if "stations" in p.tiers and len(G.g_ids):  # before tier 2: a group's base is its station
        tiers["stations"] = _tier_stations(run, G)
        G.group_station.update(tiers["stations"].assignment)
        _check_cancel(cancel)
    if "villages" in p.tiers and len(G.g_ids):
        tiers["villages"] = _tier_villages(run, G)
        _check_cancel(cancel)
    k_ids = [str(x) for x in ds.committees["id"]]
    if "townships" in p.tiers and len(k_ids) and len(ds.townships):
        tiers["townships"] = _tier_townships(run, k_ids)
    say(100.0, "done")
    return OptimisationResult(tiers=tiers, params=p.model_dump(mode="json"),
                              unit="m" if p.mode == "straight" else "s", gap_villages=run.gap_ids,
                              diagnostics=run.diagnostics, time_s=round(time.monotonic() - t0, 4),
                              dataset_fingerprint=ds.fingerprint(), dataset=ds)


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


__all__ = [
    "TIERS",
    "Cancelled",
    "Locks",
    "OptimisationParams",
    "OptimisationResult",
    "TierResult",
    "diff_results",
    "run_optimisation",
]
