"""The context one optimisation run shares between its tiers: costs in the run's unit (metres or
road seconds), ids and index maps, locks and the previous run for minimal change, members' pins, the
groups' bases, and turning an assignment into a :class:`~solvers.results.TierResult`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pyproj import Transformer

from geo_service.core.coverage import find_gaps
from geo_service.core.network import RoadNetwork

from . import assignment as A
from .results import (
    OptimisationParams,
    OptimisationResult,
    TierResult,
    _json,
)

Progress = Callable[[float, str], None]
Cancelled = A.Cancelled  # raised when the ``cancel`` event is set (checked between tiers and flow solves)

# ------------------------------------------------------------------------------------------------
def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("optimisation cancelled")


def _gap_villages(ds: Any, params: OptimisationParams, network: Any) -> tuple[list[str], str]:
    """Ids of villages that no station reaches (:func:`geo_service.core.coverage.find_gaps`) and that source."""
    gaps = find_gaps(ds, threshold_m=params.gap_threshold_m, threshold_s=params.gap_threshold_s,
                     mode=params.mode, network=network)
    return [str(v) for v in gaps["village_id"]], "geo_service.core.coverage.find_gaps"


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
        """Costs a x b; a pair with a point of unknown location (NaN) costs :func:`unknown_cost`
        of the known pairs, the same whoever it goes to (assigned by sector and load)."""
        if len(a_lonlat) == 0 or len(b_lonlat) == 0:
            return np.zeros((len(a_lonlat), len(b_lonlat)))
        a_ok, b_ok = np.isfinite(a_lonlat).all(axis=1), np.isfinite(b_lonlat).all(axis=1)
        out = np.full((len(a_lonlat), len(b_lonlat)), np.nan)
        if a_ok.any() and b_ok.any():
            if self.mode == "road":
                known = np.asarray(self.network.travel_time_matrix(a_lonlat[a_ok], b_lonlat[b_ok]), float)
            else:
                a, b = self.xy(a_lonlat[a_ok]), self.xy(b_lonlat[b_ok])
                known = np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])
            out[np.ix_(a_ok, b_ok)] = known
        if not (a_ok.all() and b_ok.all()):
            out[np.isnan(out)] = unknown_cost(out)
        return out


def unknown_cost(cost: np.ndarray) -> float:
    """The cost given to a pair whose distance is unknown (距离未知): the median of the known finite
    costs, 0 when none is known, so no member is favoured for such a person."""
    known = cost[np.isfinite(cost)]
    return float(np.median(known)) if len(known) else 0.0


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
            diagnostics.append({"tier": "stations", "severity": "warning", "quota": "pins", "code": "pins_conflict",
                                "params": {"group": g, "stations": "、".join(sorted(sts))},
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
