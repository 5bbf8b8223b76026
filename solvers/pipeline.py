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

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from geo_service.jsonsafe import to_jsonable

from . import assignment as A

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


_json = to_jsonable  # NaN/inf -> None, numpy -> Python (the one conversion)


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
        from .tables import result_tables

        ds = ds if ds is not None else self.dataset
        if ds is None:
            raise ValueError("tables() needs the dataset the result was computed on")
        return result_tables(self, ds, lang=lang)

    def layers(self, ds: Any = None) -> dict[str, Any]:
        """GeoDataFrames (WGS-84) of members, villages and stations with their assignments."""
        from .tables import result_layers

        ds = ds if ds is not None else self.dataset
        if ds is None:
            raise ValueError("layers() needs the dataset the result was computed on")
        return result_layers(self, ds)

    def write_xlsx(self, path: str | Path, lang: str = "zh", ds: Any = None) -> Path:
        """Write every table to one sheet of an .xlsx workbook (``lang`` headers)."""
        from .tables import write_xlsx

        return write_xlsx(self.tables(ds, lang=lang), path, lang=lang)


# ------------------------------------------------------------------------------------------------
def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("optimisation cancelled")


def _gap_villages(ds: Any, params: OptimisationParams, network: Any) -> tuple[list[str], str]:
    """Ids of villages that no station reaches, from geo_service.coverage.find_gaps (fallback: own)."""
    try:
        from geo_service.coverage import find_gaps
    except ImportError:  # pragma: no cover - coverage is part of the project now
        find_gaps = None
    if find_gaps is not None:
        gaps = find_gaps(ds, threshold_m=params.gap_threshold_m, threshold_s=params.gap_threshold_s,
                         mode=params.mode, network=network)
        return [str(v) for v in gaps["village_id"]], "geo_service.coverage.find_gaps"
    vxy, sxy = ds.xy_m("villages"), ds.xy_m("stations")  # pragma: no cover
    if not len(sxy):  # pragma: no cover
        return list(ds.villages["id"]), "no stations"
    from scipy.spatial import cKDTree  # pragma: no cover

    d, _ = cKDTree(sxy).query(vxy)  # pragma: no cover
    return list(ds.villages["id"][d > params.gap_threshold_m]), "straight-line fallback"  # pragma: no cover


class _Costs:
    """Cost matrices between point sets: straight-line metres, or road seconds via the network."""

    def __init__(self, ds: Any, mode: str, network: Any):
        self.ds, self.mode = ds, mode
        self.network = network
        if mode == "road" and network is None:
            from geo_service.network import RoadNetwork

            self.network = RoadNetwork.from_dataset(ds)
        self.tf = None

    def xy(self, lonlat: np.ndarray) -> np.ndarray:
        from pyproj import Transformer

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
    churn = p.penalty(p.effective_churn()) if prev is not None else 0.0
    say = progress or (lambda pct, msg: None)
    stop = cancel.is_set if cancel is not None else None
    _check_cancel(cancel)
    say(0.0, "preparing costs")
    costs = _Costs(ds, p.mode, network)
    tiers: dict[str, TierResult] = {}
    deadline = t0 + p.time_limit_s
    members, groups, stations = ds.members, ds.groups, ds.stations
    m_ids = [str(x) for x in members["id"]]
    m_idx = _index_map(m_ids)
    m_ll = _lonlat(members.geometry)
    diagnostics: list[dict[str, Any]] = []

    # gap villages (needed by tiers 2 and 3)
    gap_ids: list[str] = []
    if "villages" in p.tiers or "townships" in p.tiers:
        gap_ids, source = _gap_villages(ds, p, costs.network)
        diagnostics.append({"tier": "gaps", "severity": "info", "source": source,
                            "message": f"{len(gap_ids)} gap villages ({source})"})
    _check_cancel(cancel)

    # --- tier 1: constituents -> members ---------------------------------------------------
    if "constituents" in p.tiers:
        say(5.0, "assigning constituents to members")
        c = ds.constituents
        c_ids = [str(x) for x in c["id"]]
        pts = ds.constituent_points()
        located = ~(pts.isna() | pts.is_empty).to_numpy()
        if (~located).any():
            bad = [c_ids[i] for i in np.flatnonzero(~located)]
            diagnostics.append({"tier": "constituents", "severity": "warning", "quota": "location",
                                "message": f"{len(bad)} constituents have neither a point nor a village: "
                                           f"{', '.join(bad[:10])}{'...' if len(bad) > 10 else ''}"})
        rows = [c_ids[i] for i in np.flatnonzero(located)]
        r_idx = _index_map(rows)
        c_ll = _lonlat(pts[located])
        csec = c["sector"].astype(str).to_numpy()[located]
        msec = members["sector"].astype(str).to_numpy()
        locks = _lock_array(p.locks.constituents, r_idx, m_idx, "constituents", "member")
        prev_a, gone = _previous(prev, "constituents", rows, m_idx)
        if p.mode == "straight":
            cxy, mxy = costs.xy(c_ll), costs.xy(m_ll)

            def cost_of(ri: np.ndarray, cj: np.ndarray) -> np.ndarray:
                return np.hypot(*(cxy[ri] - mxy[cj]).T)

            def solve(cross: bool) -> A.AssignmentResult:
                return A.assign_constituents_geo(
                    cxy, mxy, p.constituents_min, p.constituents_max, constituent_sector=csec,
                    member_sector=msec, cross_penalty=p.penalty(p.cross_sector_penalty) if cross else None,
                    time_limit=max(1.0, deadline - time.monotonic()), seed=p.seed, locks=locks,
                    previous=prev_a, churn_weight=churn, target_load=p.constituents_target,
                    over_target_penalty=p.penalty(p.target_penalty), should_stop=stop)
        else:
            cost = costs.matrix(c_ll, m_ll)

            def cost_of(ri: np.ndarray, cj: np.ndarray) -> np.ndarray:
                return cost[ri, cj]

            def solve(cross: bool) -> A.AssignmentResult:
                return A.assign_constituents(
                    cost, p.constituents_min, p.constituents_max, allowed=csec[:, None] == msec[None, :],
                    time_limit=max(1.0, deadline - time.monotonic()), seed=p.seed, locks=locks,
                    previous=prev_a, churn_weight=churn,
                    cross_penalty=p.penalty(p.cross_sector_penalty) if cross else None,
                    member_labels=list(msec), target_load=p.constituents_target,
                    over_target_penalty=p.penalty(p.target_penalty), should_stop=stop)

        res = solve(p.allow_cross_sector)
        fallback_info: dict[str, Any] = {}
        if (res.status == A.INFEASIBLE and not p.allow_cross_sector
                and any(d["quota"] in ("max_load", "no_member") for d in res.diagnostics) and len(m_ids)):
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
        tiers["constituents"] = _tier_result("constituents", res, rows, m_ids, gone,
                                             {"target": p.constituents_target, **fallback_info}, cost_of)
        _check_cancel(cancel)

    # --- tier 4: groups -> stations (before tier 2: a group's base is its station) --------------
    g_ids = [str(x) for x in groups["id"]]
    g_idx = _index_map(g_ids)
    s_ids = [str(x) for x in stations["id"]]
    s_idx = _index_map(s_ids)
    s_ll = _lonlat(stations.geometry)
    g_members = [np.flatnonzero(members["group_id"].astype(str).to_numpy() == g) for g in g_ids]
    group_station: dict[str, str | None] = {g: (None if pd.isna(s) or s is None else str(s))
                                            for g, s in zip(g_ids, groups["station_id"], strict=True)}
    pins_village, pins_station = _member_pins(members, p.use_member_pins, diagnostics)
    if "stations" in p.tiers and len(g_ids):
        say(40.0, "assigning groups to stations")
        ms = costs.matrix(m_ll, s_ll)  # members x stations
        cost = np.array([ms[ix].sum(axis=0) if len(ix) else np.zeros(len(s_ids)) for ix in g_members])
        cost = cost.reshape(len(g_ids), len(s_ids))
        travel = cost.copy()  # members' travel only, before preference penalties
        kinds = stations["kind"].astype(str).to_numpy()
        allowed = np.repeat(np.isin(kinds, p.host_kinds)[None, :], len(g_ids), axis=0)
        for gi, gsec in enumerate(groups["sectors"]):
            gs = set(gsec or [])
            for si, ssec in enumerate(stations["sectors"]):
                if kinds[si] == "station_sector" and not gs & set(ssec or []):
                    cost[gi, si] += p.penalty(p.sector_mismatch_penalty) * max(1, len(g_members[gi]))
        capv = pd.to_numeric(stations["capacity"], errors="coerce").to_numpy(float)
        cap = np.where(np.isfinite(capv), capv, p.station_capacity_default).astype(np.int64)
        locks = _lock_array({**pins_station, **p.locks.groups}, g_idx, s_idx, "groups", "station")
        prev_a, gone = _previous(prev, "stations", g_ids, s_idx)
        res = A.assign_groups_to_stations(cost, cap, allowed=allowed, locks=locks, previous=prev_a,
                                          churn_weight=churn, station_labels=s_ids, group_labels=g_ids)
        tiers["stations"] = _tier_result("stations", res, g_ids, s_ids, gone,
                                         cost_of=lambda r, c: travel[r, c])
        group_station.update(tiers["stations"].assignment)
        _check_cancel(cancel)

    # --- tier 2: villages -> groups -------------------------------------------------------------
    if "villages" in p.tiers and len(g_ids):
        say(60.0, "assigning villages to groups")
        v = ds.villages
        all_v = [str(x) for x in v["id"]]
        if p.villages == "gaps":
            chosen = set(gap_ids)
        elif p.villages == "all":
            chosen = set(all_v)
        else:
            unknown = [x for x in p.village_ids if x not in set(all_v)]
            if unknown:
                raise ValueError(f"village_ids: unknown village id '{unknown[0]}'")
            chosen = set(p.village_ids)
        village_locks = {**pins_village, **p.locks.villages}
        chosen |= set(village_locks)
        rows = [x for x in all_v if x in chosen]
        vi = np.array([all_v.index(x) for x in rows], dtype=np.int64) if rows else np.zeros(0, np.int64)
        v_ll = _lonlat(v.geometry)[vi] if len(vi) else np.zeros((0, 2))
        base = np.zeros((len(g_ids), 2))
        centre = np.array(ds.centre)
        for gi, g in enumerate(g_ids):
            st = group_station.get(g)
            if st is not None and st in s_idx:
                base[gi] = s_ll[s_idx[st]]
            elif len(g_members[gi]):
                base[gi] = m_ll[g_members[gi]].mean(axis=0)
            else:
                base[gi] = centre
        cost = costs.matrix(v_ll, base)
        pop = pd.to_numeric(v["population"], errors="coerce").fillna(0).to_numpy()[vi]
        locks = _lock_array(village_locks, _index_map(rows), g_idx, "villages", "group")
        prev_a, gone = _previous(prev, "villages", rows, g_idx)
        res = A.assign_villages_to_groups(cost, pop, p.villages_min, p.villages_max,
                                          compactness=p.compactness,
                                          time_limit=max(1.0, deadline - time.monotonic()), seed=p.seed,
                                          num_workers=p.num_workers, locks=locks, previous=prev_a,
                                          churn_weight=churn, group_labels=g_ids, target_load=p.villages_target,
                                          target_penalty=p.penalty(p.target_penalty))
        tiers["villages"] = _tier_result("villages", res, rows, g_ids, gone, {"target": p.villages_target},
                                         lambda r, c: cost[r, c])
        _check_cancel(cancel)

    # --- tier 3: townships -> committees --------------------------------------------------------
    k_ids = [str(x) for x in ds.committees["id"]]
    if "townships" in p.tiers and len(k_ids) and len(ds.townships):
        say(85.0, "assigning townships to committees")
        t_ids = [str(x) for x in ds.townships["id"]]
        v = ds.villages
        vpop = pd.to_numeric(v["population"], errors="coerce").fillna(0)
        gapset = set(gap_ids)
        is_gap = v["id"].astype(str).isin(gapset).to_numpy()
        tid = v["township_id"].astype(str).to_numpy()
        up = np.array([vpop[(tid == t) & is_gap].sum() for t in t_ids], float)
        tpop = np.array([vpop[tid == t].sum() for t in t_ids], float)
        t_ll = _lonlat(ds.to_metric("townships").geometry.representative_point().to_crs("EPSG:4326"))
        kc = np.zeros((len(k_ids), 2))
        mcom = members["committee_id"].astype(str).to_numpy()
        for ki, k in enumerate(k_ids):
            ix = np.flatnonzero(mcom == k)
            kc[ki] = m_ll[ix].mean(axis=0) if len(ix) else np.array(ds.centre)
        cost = costs.matrix(t_ll, kc)
        locks = _lock_array(p.locks.townships, _index_map(t_ids), _index_map(k_ids), "townships", "committee")
        prev_a, gone = _previous(prev, "townships", t_ids, _index_map(k_ids))
        res = A.assign_townships_to_committees(cost, up, p.townships_per_committee,
                                               all_townships=p.all_townships, population=tpop, locks=locks,
                                               previous=prev_a, churn_weight=churn, committee_labels=k_ids)
        tiers["townships"] = _tier_result("townships", res, t_ids, k_ids, gone,
                                          {"uncovered_population": {t: float(x) for t, x in zip(t_ids, up)}},
                                          lambda r, c: cost[r, c])
    say(100.0, "done")
    out = OptimisationResult(tiers=tiers, params=p.model_dump(mode="json"),
                             unit="m" if p.mode == "straight" else "s", gap_villages=gap_ids,
                             diagnostics=diagnostics, time_s=round(time.monotonic() - t0, 4),
                             dataset_fingerprint=ds.fingerprint(), dataset=ds)
    return out


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
