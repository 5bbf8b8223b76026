"""Shared pieces of the location models: the result type, input checks, diagnostics and the HiGHS helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np

from geo_service.core.jsonsafe import finite, to_jsonable

from ..highs import new_highs
from ..model import ModelResult

_EPS = 1e-9


# --------------------------------------------------------------------------------------------
# result
# --------------------------------------------------------------------------------------------
@dataclass
class LocationResult(ModelResult):
    """Outcome of one location model.

    Attributes:
        model: ``"lscp"``, ``"mclp"``, ``"pmedian"`` or ``"pcenter"``.
        status: ``"optimal"`` (proven), ``"feasible"`` (best found within the time limit; see
            ``bound``/``gap``) or ``"infeasible"`` (``message`` and ``uncovered`` say why).
        objective: value of ``selected`` (open sites for LSCP, covered weight for MCLP, total
            weighted cost for p-median, largest cost for p-center); ``nan`` when infeasible.
        bound: proven bound on the optimum (lower bound when minimising, upper when maximising).
        gap: ``|objective - bound| / max(|objective|, 1e-9)``; 0 when optimal.
        selected: sorted indices of every open site (fixed ones included).
        assignment: site index per demand, ``-1`` where the demand is not covered/served.
        uncovered: one dict per demand left uncovered: ``demand``, ``reason`` (``no_candidate``:
            no site within the radius at all; ``not_selected``: a site could cover it but the
            budget ``p`` went elsewhere; ``capacity``: covering sites are full), ``nearest_site``,
            ``nearest_cost`` and a readable ``message``.
        message: one-line human summary (why infeasible, what limited the search).
        time_s: wall-clock seconds spent.
        stats: solver details (iterations, rows, columns, heuristic value...).
        message_code, message_params: the glossary message (:data:`geo_service.core.glossary.MESSAGES`)
            that says ``message`` in either language, when the caller set one (gap closing does).
    """

    model: str
    status: str
    objective: float
    bound: float
    gap: float
    selected: np.ndarray
    assignment: np.ndarray
    uncovered: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""
    time_s: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)
    message_code: str | None = None
    message_params: dict[str, Any] = field(default_factory=dict)

    @property
    def diagnostics(self) -> list[dict[str, Any]]:
        """One diagnostic per uncovered demand (``location_<reason>``, with its figures)."""
        return [{"code": f"location_{d.get('reason', 'uncovered')}", "severity": "warning",
                 "params": {k: v for k, v in d.items() if k not in ("reason", "message")}}
                for d in self.uncovered]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (``nan``/``inf`` become ``None``)."""

        num = finite
        return {
            "model": self.model, "status": self.status, "objective": num(self.objective),
            "bound": num(self.bound), "gap": num(self.gap),
            "selected": [int(j) for j in self.selected],
            "assignment": [int(j) for j in self.assignment],
            "uncovered": [{k: (num(v) if isinstance(v, float) else v) for k, v in d.items()}
                          for d in self.uncovered],
            "message": self.message, "message_code": self.message_code,
            "message_params": to_jsonable(self.message_params), "time_s": round(float(self.time_s), 4),
            "stats": {k: (num(v) if isinstance(v, float) else v) for k, v in self.stats.items()},
        }


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------
def _check_cost(cost: Any) -> np.ndarray:
    c = np.asarray(cost, dtype=float)
    if c.ndim != 2:
        raise ValueError(f"cost must be a 2-D (n_demand x n_sites) array, got shape {c.shape}")
    if c.shape[1] == 0:
        raise ValueError("cost has no candidate sites (0 columns)")
    if np.isnan(c).any():
        i, j = np.argwhere(np.isnan(c))[0]
        raise ValueError(f"cost[{i}, {j}] is NaN; use inf for a pair that cannot be served")
    if (c < 0).any():
        i, j = np.argwhere(c < 0)[0]
        raise ValueError(f"cost[{i}, {j}] = {c[i, j]} is negative; costs must be >= 0")
    return c


def _check_weights(weights: Any, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=float).ravel()
    if w.shape[0] != n:
        raise ValueError(f"weights has {w.shape[0]} entries but cost has {n} demand rows")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"weights[{i}] = {w[i]} must be a finite number >= 0")
    return w


def _check_fixed(fixed: Any, m: int) -> np.ndarray:
    if fixed is None:
        return np.zeros(0, dtype=int)
    f = np.asarray(list(fixed), dtype=int).ravel()
    bad = (f < 0) | (f >= m)
    if bad.any():
        raise ValueError(f"fixed site index {int(f[bad][0])} is out of range 0..{m - 1}")
    return np.unique(f)


def _check_p(p: Any, m: int, n_fixed: int) -> int:
    if int(p) != p:
        raise ValueError(f"p must be an integer, got {p!r}")
    p = int(p)
    if p < max(1, n_fixed):
        raise ValueError(f"p = {p} is smaller than the {n_fixed} fixed sites (p counts fixed sites) or < 1")
    if p > m:
        raise ValueError(f"p = {p} exceeds the number of candidate sites ({m})")
    return p


def _check_capacity(capacity: Any, m: int) -> np.ndarray | None:
    if capacity is None:
        return None
    cap = np.broadcast_to(np.asarray(capacity, dtype=float), (m,)).copy()
    bad = np.isnan(cap) | (cap < 0)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise ValueError(f"capacity[{j}] = {cap[j]} must be >= 0 (inf for unlimited)")
    return cap


def _gap(obj: float, bound: float) -> float:
    if not (np.isfinite(obj) and np.isfinite(bound)):
        return float("inf")
    return abs(obj - bound) / max(abs(obj), 1e-9)


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _nearest(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    j = np.argmin(cost, axis=1)
    return j, cost[np.arange(cost.shape[0]), j]


def _uncovered_diag(cost: np.ndarray, radius: float | None, assignment: np.ndarray,
                    demands: np.ndarray | None = None, capacity_bound: bool = False) -> list[dict]:
    """Explain each demand with ``assignment == -1``."""
    out = []
    near_j, near_c = _nearest(cost)
    idx = np.flatnonzero(assignment < 0) if demands is None else demands
    for i in idx:
        nc = float(near_c[i])
        if not np.isfinite(nc):
            reason, msg = "no_candidate", "no candidate site can serve it at all (every cost is inf)"
        elif radius is not None and nc > radius + _EPS:
            reason = "no_candidate"
            msg = (f"no candidate within the threshold {_fmt(radius)}: "
                   f"the nearest candidate is {_fmt(nc)} away")
        elif capacity_bound:
            reason = "capacity"
            msg = "sites within the threshold are open but full (capacity)"
        else:
            reason = "not_selected"
            msg = (f"a candidate within the threshold exists (nearest {_fmt(nc)} away) "
                   "but the site budget p was spent on demands worth more")
        out.append({"demand": int(i), "reason": reason, "nearest_site": int(near_j[i]),
                    "nearest_cost": nc, "message": msg})
    return out


# --------------------------------------------------------------------------------------------
# generic HiGHS MIP helper
# --------------------------------------------------------------------------------------------
def _highs(time_limit: float | None, seed: int, mip: bool = True):
    h = new_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("random_seed", int(seed) % 2147483647)
    if time_limit is not None:
        h.setOptionValue("time_limit", max(float(time_limit), 0.01))
    if mip:
        h.setOptionValue("mip_rel_gap", 0.0)
        h.setOptionValue("mip_abs_gap", 1e-7)
    return h


def _solve_mip(c: np.ndarray, lo: np.ndarray, hi: np.ndarray, integer: np.ndarray,
               rows: list[tuple[np.ndarray, np.ndarray, float, float]] | None, *, sense: int = 1,
               offset: float = 0.0, time_limit: float | None, seed: int,
               start: tuple[np.ndarray, np.ndarray] | None = None, relax: bool = False,
               csr: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
               rel_gap: float = 0.0, presolve: bool = True) -> tuple[str, np.ndarray | None, float, float]:
    """Solve ``min/max c.x`` subject to ``rows`` (index, value, lower, upper) with HiGHS.

    ``csr`` = ``(starts, index, value, row_lower, row_upper)`` gives the rows in compressed
    form instead (no Python loop per row; ``rows`` is then ignored). ``rel_gap`` is HiGHS's
    relative MIP gap (0: prove optimality). ``presolve=False`` skips HiGHS's presolve, which does
    not look at the time limit (on a model of millions of nonzeros it alone can outlast the limit).

    Returns ``(status, x, objective, bound)``; ``status`` is ``optimal``, ``feasible``,
    ``infeasible`` or ``unknown`` (time limit before any solution). ``sense`` is 1 to minimise
    and -1 to maximise.
    """
    n = len(c)
    inf = highspy.kHighsInf
    starts, index, value, rlo, rhi = csr if csr is not None else _rows_to_csr(rows or [])
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = len(rlo)
    lp.col_cost_ = np.asarray(c, float)
    lp.col_lower_ = np.asarray(lo, float)
    lp.col_upper_ = np.asarray(hi, float)
    lp.offset_ = float(offset)
    lp.sense_ = highspy.ObjSense.kMinimize if sense > 0 else highspy.ObjSense.kMaximize
    lp.row_lower_ = np.where(np.isfinite(rlo), rlo, -inf).astype(float)
    lp.row_upper_ = np.where(np.isfinite(rhi), rhi, inf).astype(float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.asarray(starts, np.int32)
    lp.a_matrix_.index_ = np.asarray(index, np.int32)
    lp.a_matrix_.value_ = np.asarray(value, float)
    if not relax and np.any(integer):
        lp.integrality_ = [highspy.HighsVarType.kInteger if b else highspy.HighsVarType.kContinuous
                           for b in np.asarray(integer, bool)]
    h = _highs(time_limit, seed, mip=not relax)
    if rel_gap > 0 and not relax:
        h.setOptionValue("mip_rel_gap", float(rel_gap))
    if not presolve:
        h.setOptionValue("presolve", "off")
    h.passModel(lp)
    if start is not None and not relax:
        h.setSolution(len(start[0]), np.asarray(start[0], np.int32), np.asarray(start[1], float))
    h.run()
    return _read_outcome(h, relax=relax, rel_gap=rel_gap)


def _rows_to_csr(rows: list[tuple[np.ndarray, np.ndarray, float, float]]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows as (index, value, lower, upper) tuples in compressed row form."""
    rlo = np.array([r[2] for r in rows], float)
    rhi = np.array([r[3] for r in rows], float)
    starts = np.zeros(len(rows) + 1, dtype=np.int64)
    if not rows:
        return starts, np.zeros(0, np.int64), np.zeros(0), rlo, rhi
    starts[1:] = np.cumsum([len(r[0]) for r in rows])
    index = np.concatenate([np.asarray(r[0], np.int64) for r in rows])
    value = np.concatenate([np.asarray(r[1], float) for r in rows])
    return starts, index, value, rlo, rhi


def _read_outcome(h: highspy.Highs, *, relax: bool, rel_gap: float
                  ) -> tuple[str, np.ndarray | None, float, float]:
    """``(status, x, objective, bound)`` of a finished HiGHS run."""
    ms = h.getModelStatus()
    info = h.getInfo()
    M = highspy.HighsModelStatus
    has_sol = info.primal_solution_status == 2  # kSolutionStatusFeasible
    x = np.array(h.getSolution().col_value) if has_sol else None
    obj = float(info.objective_function_value) if has_sol else float("nan")
    if relax:
        bound = obj
    else:
        bound = float(info.mip_dual_bound)
    if ms == M.kOptimal:
        status = "optimal"
        if not relax:
            close = abs(bound - obj) <= 1e-6 * max(1.0, abs(obj))
            bound = obj if close else bound
            if rel_gap > 0 and not close:  # stopped within rel_gap: not proven optimal
                status = "feasible"
    elif ms == M.kInfeasible:
        status = "infeasible"
    elif has_sol:
        status = "feasible"
    else:
        status = "unknown"
    return status, x, obj, bound


def _assign_within(c: np.ndarray, sel: np.ndarray, radius: float | None) -> np.ndarray:
    n = c.shape[0]
    if len(sel) == 0:
        return np.full(n, -1)
    sub = c[:, sel]
    k = np.argmin(sub, axis=1)
    best = sub[np.arange(n), k]
    ok = np.isfinite(best) & ((best <= radius) if radius is not None else True)
    return np.where(ok, sel[k], -1)


def _finite_big(c: np.ndarray) -> np.ndarray:
    """``c`` with ``inf`` replaced by a cost larger than any finite total (for heuristics)."""
    if np.isfinite(c).all():
        return c
    fin = c[np.isfinite(c)]
    big = (float(fin.max()) + 1.0) * (c.shape[0] + 1) * 10 if fin.size else 1.0
    return np.where(np.isfinite(c), c, big)
