"""Close coverage gaps: where to open new contact points (界别联系点) given the stations we have.

:func:`close_gaps` turns a :class:`~geo_service.core.dataset.Dataset` into a location problem:
demands are the villages (weight = population, or 1 per village where it is unknown: see
:func:`geo_service.core.coverage.village_weights`), sites are the existing stations (always open,
*fixed*) followed by candidate sites (villages, township seats or a list of village ids), and the
cost is the straight-line distance in metres in ``ds.metric_crs`` or the door-to-door road travel
time in seconds from :class:`geo_service.core.network.RoadNetwork`. It then runs one of the models of
:mod:`solvers.location` (LSCP: fewest new points covering everyone; MCLP: ``k`` new points
covering the most people; p-median: ``k`` new points minimising population-weighted distance)
and reports the proposed points, the coverage before and after at several thresholds, and every
village still uncovered with the reason.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from geo_service.core.coverage import dataset_notes, village_weights
from geo_service.core.errors import InvalidParameter
from geo_service.core.glossary import message
from geo_service.core.jsonsafe import to_jsonable
from geo_service.core.locations import present
from geo_service.core.network import RoadNetwork

from .location import LocationResult, covering_matrix, max_coverage, p_median, set_cover
from .model import ModelResult

__all__ = ["GapClosingResult", "close_gaps", "gap_cost_matrix"]

MODELS = ("lscp", "mclp", "pmedian")
MODES = ("straight", "road")
#: villages x sites above which close_gaps builds only the pairs within the threshold (sparse)
SPARSE_ABOVE = 25_000_000


@dataclass
class GapClosingResult(ModelResult):
    """What :func:`close_gaps` proposes and what it changes.

    Attributes:
        proposed: GeoDataFrame (EPSG:4326) of new contact points: ``id``, ``name``, ``kind``
            (``contact_point``), ``village`` (candidate village id), ``township_id``,
            ``population_gained`` (population newly within the threshold thanks to this point, when
            it is the nearest open site), ``villages_served``.
        coverage: one row per threshold: ``threshold`` (metres or seconds, see ``unit``),
            ``population``, ``covered_before``, ``share_before``, ``covered_after``,
            ``share_after``, ``villages_uncovered_before``, ``villages_uncovered_after``.
        uncovered: villages (with population, and a location) still beyond ``threshold`` afterwards: ``id``,
            ``name``, ``township_id``, ``population``, ``nearest_site_id``, ``nearest_cost``,
            ``reason`` (``no_candidate`` / ``not_selected`` / ``capacity``), ``message`` (English) and
            ``code`` (its :data:`geo_service.core.glossary.MESSAGES` template; params: ``threshold`` from
            ``params``, ``nearest`` = ``nearest_cost``).
        solution: the raw :class:`~solvers.location.LocationResult`.
        params: the parameters used (JSON-safe).
    """

    proposed: gpd.GeoDataFrame
    coverage: pd.DataFrame
    uncovered: pd.DataFrame
    solution: LocationResult
    params: dict[str, Any] = field(default_factory=dict)
    time_s: float = 0.0

    @property
    def status(self) -> str:
        return self.solution.status

    @property
    def objective(self) -> float:
        """The location model's objective (sites, covered persons or weighted metres/seconds)."""
        return self.solution.objective

    @property
    def bound(self) -> float:
        return self.solution.bound

    @property
    def gap(self) -> float:
        return self.solution.gap

    @property
    def diagnostics(self) -> list[dict[str, Any]]:
        """The proposal's message, then one ``gap_*`` diagnostic per village still uncovered."""
        head = ([{"code": self.solution.message_code, "params": self.solution.message_params,
                  "severity": "error" if self.status == "infeasible" else "info"}]
                if self.solution.message_code else [])
        return head + [{"code": r["code"], "severity": "warning",
                        "params": {"id": r["id"], "threshold": self.params.get("threshold"),
                                   "nearest": r["nearest_cost"], "cost_unit": self.params.get("unit")}}
                       for r in self.uncovered.to_dict("records")]

    def tables(self) -> dict[str, pd.DataFrame]:
        """``proposed`` (with lon/lat columns, no geometry), ``coverage`` and ``uncovered``."""
        prop = pd.DataFrame(self.proposed.drop(columns="geometry"))
        prop["lon"] = self.proposed.geometry.x.to_numpy() if len(prop) else []
        prop["lat"] = self.proposed.geometry.y.to_numpy() if len(prop) else []
        return {"proposed": prop, "coverage": self.coverage.copy(), "uncovered": self.uncovered.copy()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary: parameters, solver status/objective/bound/gap and the three tables."""
        clean = to_jsonable
        sol = self.solution.to_dict()
        return {
            "params": self.params, "weight": self.params.get("weight", "population"),
            "weight_note": self.params.get("weight_note"),
            "status": sol["status"], "objective": sol["objective"], "bound": sol["bound"],
            "gap": sol["gap"], "message": sol["message"], "time_s": round(self.time_s, 3),
            "message_code": self.solution.message_code,
            "message_params": self.solution.message_params or None,
            "unconsidered": self.params.get("unconsidered", 0),
            "unconsidered_ids": self.params.get("unconsidered_ids", []),
            **{name: [{k: clean(v) for k, v in row.items()} for row in df.to_dict("records")]
               for name, df in self.tables().items()},
        }

    def to_geojson(self) -> dict[str, Any]:
        """The proposed points as a GeoJSON FeatureCollection (WGS-84)."""
        return json.loads(self.proposed.to_json(drop_id=True)) if len(self.proposed) else {
            "type": "FeatureCollection", "features": []}


def _candidates(ds, candidates: str | Sequence[str], forbidden: Iterable[str] | None
                ) -> gpd.GeoDataFrame:
    v = ds.villages[present(ds.villages.geometry)]  # a village of unknown location cannot host a point
    if isinstance(candidates, str):
        if candidates == "villages":
            cand = v
        elif candidates == "seats":
            seats = v["is_seat"].fillna(False).astype(bool) if "is_seat" in v else pd.Series(False, v.index)
            cand = v[seats.to_numpy()]
            if len(cand) == 0:
                raise ValueError("candidates='seats' but no village has is_seat = true")
        else:
            raise ValueError(f"candidates must be 'villages', 'seats' or a list of village ids, "
                             f"got {candidates!r}")
    else:
        ids = [str(x) for x in candidates]
        known = set(v["id"])
        missing = [x for x in ids if x not in known]
        if missing:
            raise ValueError(f"candidate village id(s) not in the villages layer: {missing[:5]}")
        cand = v[v["id"].isin(ids)]
    if forbidden is not None:
        bad = {str(x) for x in forbidden}
        cand = cand[~cand["id"].isin(bad)]
    if len(cand) == 0:
        raise ValueError("no candidate sites left (all forbidden or none given)")
    return cand.reset_index(drop=True)


def _xy(ds, frame: gpd.GeoDataFrame) -> np.ndarray:
    """Points of ``frame`` in ``ds.metric_crs`` (metres)."""
    if not len(frame):
        return np.zeros((0, 2))
    g = frame.geometry.to_crs(ds.metric_crs)
    return np.column_stack([g.x.to_numpy(), g.y.to_numpy()])


def gap_cost_matrix(ds, sites: gpd.GeoDataFrame, mode: str = "straight", network: Any = None,
                    villages: gpd.GeoDataFrame | None = None) -> np.ndarray:
    """Cost from every village (rows) to every site (columns).

    ``straight``: Euclidean metres in ``ds.metric_crs`` (<0.05 % error over a county).
    ``road``: door-to-door travel seconds from ``network`` (a
    :class:`geo_service.core.network.RoadNetwork`, built from ``ds`` when ``None``); ``inf`` where
    unreachable. ``villages``: the rows (default the located villages of ``ds``).
    """
    if villages is None:
        villages = ds.villages[present(ds.villages.geometry)]
    if mode == "straight":
        a = _xy(ds, villages)
        b = _xy(ds, sites)
        return np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])
    if mode == "road":
        if network is None:
            network = RoadNetwork.from_dataset(ds)
        return np.asarray(network.travel_time_matrix(villages.geometry, sites.geometry), float)
    raise ValueError(f"mode must be one of {MODES}, got {mode!r}")


def _nothing_located(model: str, mode: str, threshold: float, unconsidered: list[str], time_s: float
                     ) -> GapClosingResult:
    """The answer when no village has a location: nothing to decide, every village not considered."""
    why = (f"none of the {len(unconsidered)} villages has a location: place them first "
           "(the 待补坐标 workbook, or on the map)")
    sol = LocationResult(model, "nothing_to_do", float("nan"), float("nan"), float("nan"), np.zeros(0, int),
                         np.zeros(0, int), message=why)
    sol.message_code, sol.message_params = "gaps_unconsidered", {"n": len(unconsidered)}
    empty = gpd.GeoDataFrame({c: [] for c in ("id", "name", "kind", "village", "township_id", "location_source",
                                              "population_gained", "villages_served")},
                             geometry=gpd.GeoSeries([], crs="EPSG:4326"), crs="EPSG:4326")
    params = {"threshold": threshold, "unit": "m" if mode == "straight" else "s", "mode": mode, "model": model,
              "weight": "villages", "weight_note": None, "notes": [why], "unconsidered": len(unconsidered),
              "unconsidered_ids": unconsidered}
    return GapClosingResult(empty, pd.DataFrame(columns=["threshold", "unit", "weight", "population", "covered_before",
                                                         "share_before", "covered_after", "share_after",
                                                         "villages_uncovered_before", "villages_uncovered_after"]),
                            pd.DataFrame(columns=["id", "name", "township_id", "population", "location_source",
                                                  "nearest_site_id", "nearest_cost", "reason", "message", "code"]),
                            sol, params, time_s)


def close_gaps(ds, threshold_m: float = 10000, k: int | None = None, mode: str = "straight",
               candidates: str | Sequence[str] = "villages", forbidden: Iterable[str] | None = None,
               model: str = "lscp", time_limit: float | None = 60.0, seed: int = 0,
               network: Any = None, *, threshold_s: float = 1800.0,
               fixed_kinds: Iterable[str] | None = None,
               report_thresholds: Sequence[float] | None = None,
               capacity: float | None = None, sparse: bool | None = None) -> GapClosingResult:
    """Propose new contact points so more villages lie within the service threshold.

    Args:
        ds: the dataset (villages with population; stations are the existing, fixed sites).
        threshold_m: service distance in metres (``mode="straight"``).
        k: number of NEW points (required for ``mclp`` and ``pmedian``; ignored by ``lscp``,
            which finds the fewest).
        mode: ``"straight"`` (metres, ``ds.metric_crs``) or ``"road"`` (seconds by road; the
            threshold is then ``threshold_s``).
        candidates: ``"villages"`` (any village), ``"seats"`` (township seats, ``is_seat``) or a
            list of village ids.
        forbidden: village ids that must not host a new point.
        model: ``"lscp"``, ``"mclp"`` or ``"pmedian"``.
        time_limit: solver seconds; the best solution found so far is returned with its bound.
        seed: solver seed (same seed and data, same proposal).
        network: a prebuilt :class:`geo_service.core.network.RoadNetwork` for ``mode="road"``.
        threshold_s: service time in seconds for ``mode="road"`` (default 30 min).
        fixed_kinds: station kinds that count as existing coverage (default: all kinds).
        report_thresholds: thresholds for the before/after table (same unit as the mode);
            default half, 1x and 1.5x the threshold.
        capacity: optional population limit per new or existing point (MCLP and p-median).
        sparse: build only the village-site pairs within the threshold (KD-tree in
            ``ds.metric_crs``) instead of the dense matrix: memory linear in those pairs
            (``mode="straight"``, LSCP and MCLP). Default: when villages x sites exceeds
            ``SPARSE_ABOVE`` (a province).

    Raises:
        ValueError: unknown model/mode/candidates, ``k`` missing, or no candidates left.
    """
    t0 = time.perf_counter()
    threshold = _checked_threshold(model, mode, k, threshold_m, threshold_s)
    villages = ds.villages.reset_index(drop=True)
    if len(villages) == 0:
        raise InvalidParameter("dataset_id", "the dataset has no villages to cover", "no_villages", where="path")
    # villages of unknown location cannot be considered: counted and named in the result
    located = present(villages.geometry)
    unconsidered = [str(x) for x in villages.loc[~located, "id"]]
    villages = villages[located].reset_index(drop=True)
    if len(villages) == 0:
        return _nothing_located(model, mode, threshold, unconsidered, time.perf_counter() - t0)
    cand = _candidates(ds, candidates, forbidden)
    sites, nf = _sites(ds, cand, fixed_kinds, villages.crs)
    vw = village_weights(villages)  # persons, or 1 per village where the population is unknown
    pop = vw.weights
    fixed = np.arange(nf)
    if sparse is None:
        sparse = len(villages) * len(sites) > SPARSE_ABOVE
    sparse = bool(sparse) and mode == "straight" and model in ("lscp", "mclp")
    near = _Nearest.of(ds, villages, sites, mode, network, threshold, sparse)
    sol = _solve_model(model, near.cost, threshold, k, nf, pop, capacity=capacity, time_limit=time_limit, seed=seed)
    new = np.array([j for j in sol.selected if j >= nf], dtype=int)
    before, _ = near(fixed)
    after, nearest_after = near(np.concatenate([fixed, new]))
    proposed = _proposed_points(new, cand, nf, (before, after, nearest_after), threshold, pop)
    coverage = _coverage_table(before, after, vw, report_thresholds, threshold, mode)
    uncovered = _uncovered_villages(villages, sites, near, after, threshold, vw, sol,
                                    mode=mode, model=model, capacity=capacity)
    _label_solution(sol, model, mode, threshold, n_new=len(new), n_fixed=nf, n_candidates=len(cand),
                    n_uncovered=len(uncovered))
    params = {"threshold": threshold, "unit": "m" if mode == "straight" else "s", "k": k,
              "mode": mode, "candidates": candidates if isinstance(candidates, str) else list(candidates),
              "forbidden": sorted(str(x) for x in forbidden) if forbidden else [], "model": model,
              "time_limit": time_limit, "seed": seed, "existing_sites": nf,
              "candidate_sites": len(cand), "capacity": capacity,
              "fixed_kinds": sorted(fixed_kinds) if fixed_kinds is not None else None,
              "weight": vw.basis, "weight_note": vw.note,
              "notes": dataset_notes(ds),
              "sparse": sparse, "unconsidered": len(unconsidered), "unconsidered_ids": unconsidered}
    return GapClosingResult(proposed, coverage, uncovered, sol, params, time.perf_counter() - t0)


def _sites(ds, cand: gpd.GeoDataFrame, fixed_kinds: Iterable[str] | None, crs: Any
           ) -> tuple[gpd.GeoDataFrame, int]:
    """The existing stations (of ``fixed_kinds``, default all) followed by the candidates, and the
    number of stations."""
    stations = ds.stations.reset_index(drop=True)
    if fixed_kinds is not None:
        kinds = set(fixed_kinds)
        stations = stations[stations["kind"].isin(kinds)].reset_index(drop=True)
    sites = gpd.GeoDataFrame(
        {"id": list(stations["id"]) + list(cand["id"]),
         "name": list(stations["name"]) + list(cand["name"]),
         "existing": [True] * len(stations) + [False] * len(cand)},
        geometry=list(stations.geometry) + list(cand.geometry), crs=crs)
    return sites, len(stations)


def _checked_threshold(model: str, mode: str, k: int | None, threshold_m: float, threshold_s: float) -> float:
    """The service threshold of ``mode`` (metres or seconds); ValueError naming a bad argument."""
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if model in ("mclp", "pmedian") and (k is None or int(k) < 0):
        raise ValueError(f"model={model!r} needs k, the number of new points (an integer >= 0)")
    threshold = float(threshold_m if mode == "straight" else threshold_s)
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0, got {threshold}")
    return threshold


@dataclass
class _Nearest:
    """Village x site costs (dense, or sparse pairs within the threshold) and the nearest-site lookup."""

    cost: Any
    sparse: bool
    v_xy: np.ndarray | None = None
    s_xy: np.ndarray | None = None

    @classmethod
    def of(cls, ds, villages: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, mode: str, network: Any,
           threshold: float, sparse: bool) -> _Nearest:
        if sparse:
            v_xy = _xy(ds, villages)
            s_xy = _xy(ds, sites)
            return cls(covering_matrix(v_xy, s_xy, threshold), True, v_xy, s_xy)
        return cls(gap_cost_matrix(ds, sites, mode, network, villages), False)

    def __call__(self, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cost to and index of the nearest site among ``cols``, per village (inf, -1: none)."""
        n = self.cost.shape[0]
        cols = np.asarray(cols, int)
        if len(cols) == 0:
            return np.full(n, np.inf), np.full(n, -1)
        if not self.sparse:
            k = np.argmin(self.cost[:, cols], axis=1)
            return self.cost[np.arange(n), cols[k]], cols[k]
        d, k = cKDTree(self.s_xy[cols]).query(self.v_xy)
        return d, cols[k]


def _solve_model(model: str, cost: Any, threshold: float, k: int | None, nf: int, pop: np.ndarray, *,
                 capacity: float | None, time_limit: float | None, seed: int) -> LocationResult:
    """Run the location model with the first ``nf`` sites (the stations) fixed open."""
    fixed = np.arange(nf)
    if model == "lscp":
        return set_cover(cost, threshold, weights=pop, fixed=fixed, time_limit=time_limit, seed=seed)
    p = min(nf + int(k), cost.shape[1])
    if model == "mclp":
        return max_coverage(cost, threshold, p, weights=pop, fixed=fixed, capacity=capacity,
                            time_limit=time_limit, seed=seed)
    if nf == 0 and p == 0:
        raise ValueError("p-median with no stations needs k >= 1")
    return p_median(cost, p, weights=pop, fixed=fixed, capacity=capacity, time_limit=time_limit, seed=seed)


def _proposed_points(new: np.ndarray, cand: gpd.GeoDataFrame, nf: int,
                     reach: tuple[np.ndarray, np.ndarray, np.ndarray], threshold: float, pop: np.ndarray
                     ) -> gpd.GeoDataFrame:
    """The new contact points with the weight they bring within reach and the villages they serve.

    ``reach`` is (cost before, cost after, nearest site after) per village.
    """
    before, after, nearest_after = reach
    rows = []
    for n_i, j in enumerate(new):
        c = cand.iloc[j - nf]
        mine = (nearest_after == j) & (after <= threshold)
        gained = mine & ~(before <= threshold)
        rows.append({"id": f"NEW-CP-{n_i + 1:03d}", "name": f"{c['name']}界别联系点",
                     "kind": "contact_point", "village": c["id"], "township_id": c.get("township_id"),
                     "location_source": c.get("location_source"),  # approximate: the point is the seat's
                     "population_gained": int(pop[gained].sum()), "villages_served": int(mine.sum()),
                     "geometry": c.geometry})
    return gpd.GeoDataFrame(rows, columns=["id", "name", "kind", "village", "township_id", "location_source",
                                           "population_gained", "villages_served", "geometry"],
                            geometry="geometry", crs="EPSG:4326")


def _coverage_table(before: np.ndarray, after: np.ndarray, vw: Any, report_thresholds: Sequence[float] | None,
                    threshold: float, mode: str) -> pd.DataFrame:
    """Weight within reach before and after the proposal at each reported threshold."""
    pop = vw.weights
    ths = list(report_thresholds) if report_thresholds else [threshold * 0.5, threshold, threshold * 1.5]
    total = float(pop.sum())
    has_pop = pop > 0
    cov_rows = []
    for t in sorted(set(float(x) for x in ths)):
        cb, ca = before <= t, after <= t
        cov_rows.append({"threshold": t, "unit": "m" if mode == "straight" else "s",
                         "weight": vw.basis,
                         "population": int(total), "covered_before": int(pop[cb].sum()),
                         "share_before": float(pop[cb].sum() / total) if total else None,
                         "covered_after": int(pop[ca].sum()),
                         "share_after": float(pop[ca].sum() / total) if total else None,
                         "villages_uncovered_before": int((~cb & has_pop).sum()),
                         "villages_uncovered_after": int((~ca & has_pop).sum())})
    return pd.DataFrame(cov_rows)


def _uncovered_villages(villages: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, near: _Nearest, after: np.ndarray,
                        threshold: float, vw: Any, sol: LocationResult, *, mode: str, model: str,
                        capacity: float | None) -> pd.DataFrame:
    """Every village still beyond the threshold, with its nearest site and the reason."""
    pop = vw.weights
    unit = "m" if mode == "straight" else "s"
    near_c, near_j = near(np.arange(len(sites)))
    unc = []
    for i in np.flatnonzero((after > threshold) & (pop > 0)):
        mparams = {"threshold": float(threshold), "nearest": float(near_c[i]), "cost_unit": unit}
        if near_c[i] > threshold:
            reason = "no_candidate"
            code = "gap_no_candidate"
        else:
            reason = "not_selected"
            code = "gap_not_selected" if vw.basis == "population" else "gap_not_selected_villages"
            if capacity is not None and model != "lscp":
                reason = "capacity" if any(d["demand"] == i and d["reason"] == "capacity"
                                           for d in sol.uncovered) else reason
        msg = message(code, "en", **mparams)
        unc.append({"id": villages.at[i, "id"], "name": villages.at[i, "name"],
                    "township_id": villages.at[i, "township_id"], "population": int(pop[i]),
                    "location_source": villages.at[i, "location_source"],
                    "nearest_site_id": sites.at[int(near_j[i]), "id"],
                    "nearest_cost": float(near_c[i]), "reason": reason, "message": msg,
                    "code": code})
    return pd.DataFrame(unc, columns=["id", "name", "township_id", "population", "location_source",
                                      "nearest_site_id", "nearest_cost", "reason", "message", "code"])


def _label_solution(sol: LocationResult, model: str, mode: str, threshold: float, *, n_new: int, n_fixed: int,
                    n_candidates: int, n_uncovered: int) -> None:
    """Give the solution its message code and figures (the solver's English line stays in ``message``)."""
    unit = "m" if mode == "straight" else "s"
    sol.message_code = "gap_proposed"
    sol.message_params = {"n_new": n_new, "n_fixed": n_fixed, "n_candidates": n_candidates,
                          "threshold": float(threshold), "n_uncovered": n_uncovered, "cost_unit": unit}
    if sol.status == "infeasible" and model == "lscp":
        # code + params travel with the solution so zh outputs can show the zh text (glossary MESSAGES)
        sol.message_code = "gap_unreachable"
        sol.message_params = {"n_uncovered": n_uncovered, "threshold": float(threshold), "n_new": n_new,
                              "cost_unit": unit}
        sol.message = message(sol.message_code, "en", **sol.message_params)
