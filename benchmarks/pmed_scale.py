"""p-median at scale: time, bound and gap against a peer on uniform and clustered instances.

Instances (every point a demand of weight 1 and a candidate site, Euclidean costs):

* ``uniform``: ``n`` points uniform in a 1000 x 1000 square, seed 0;
* ``clustered``: seed 1; ``clip(n // 20, 50, 400)`` cluster centres uniform in the square
  (several hundred at the larger sizes), cluster sizes proportional to log-normal draws
  (sigma 1), each cluster a round normal cloud whose spread is log-uniform in 2-40.

For each geography and (n, p) of ``--grid`` ``p_median`` runs with the goal gap (``--goal``: 1 %
up to 5,000 points, 2 % at 10,000; it stops once proven within it) and/or to optimality
(``--full``) under ``--time-limit``. On the (n, p) of ``--spopt-grid`` and ``--highs-grid`` the
same instances go to the peers in the same process with the same limit (and ours runs to
optimality too, rel_gap 0, for a like-for-like ratio): ``spopt`` (PySAL's ``PMedian`` with PuLP
+ CBC, one thread; building its 1M-variable model at 1,000 points takes minutes, so it stops at
500) and ``highs`` (the full x_ij <= y_j MIP, HiGHS, one thread). Prints time,
objective, bound, gap, status, method and ``os.getloadavg()`` before each run, the time ratios
peer / ours, then the growth exponent b of time ~ n^b between consecutive sizes (p grows with n,
so the exponent is for the grid's diagonal).

    flock /tmp/geo-bench.lock env PYTHONPATH=. .venv/bin/python benchmarks/pmed_scale.py --goal
    nice -n 10 .venv/bin/python benchmarks/pmed_scale.py --grid 1000:20 --spopt-grid 200:5 --highs-grid ""
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GRID = "1000:20,2000:40,5000:100,10000:200"
PEER_GRIDS = {"spopt": "200:5,500:10", "highs": "200:5,500:10,1000:20"}
SEEDS = {"uniform": 0, "clustered": 1}


def goal_gap(n: int) -> float:
    """The target gap: 1 % up to 5,000 points, 2 % beyond."""
    return 0.01 if n <= 5000 else 0.02


def points(n: int, geography: str) -> np.ndarray:
    """``n`` points in a 1000 x 1000 square, uniform or clustered (module docstring)."""
    rng = np.random.default_rng(SEEDS[geography])
    if geography == "uniform":
        return rng.random((n, 2)) * 1000
    k = int(np.clip(n // 20, 50, 400))
    centres = rng.random((k, 2)) * 1000
    spread = np.exp(rng.uniform(np.log(2.0), np.log(40.0), k))
    share = rng.lognormal(0.0, 1.0, k)
    label = rng.choice(k, n, p=share / share.sum())
    return centres[label] + rng.normal(size=(n, 2)) * spread[label, None]


def cost_matrix(pts: np.ndarray) -> np.ndarray:
    """(n, n) Euclidean costs, in row blocks (no (n, n, 2) temporary)."""
    n = len(pts)
    out = np.empty((n, n))
    for lo in range(0, n, 1000):
        d = pts[lo:lo + 1000, None, :] - pts[None, :, :]
        out[lo:lo + 1000] = np.hypot(d[..., 0], d[..., 1])
    return out


def run_highs(cost: np.ndarray, p: int, limit: float) -> dict:
    """The classical p-median MIP (x_ij <= y_j, sum_j x_ij = 1, sum_j y_j = p), HiGHS, 1 thread."""
    import highspy

    n, m = cost.shape
    t = time.perf_counter()
    nx = n * m
    h = highspy.Highs()
    h.silent()
    h.setOptionValue("threads", 1)
    h.setOptionValue("time_limit", float(limit))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = nx + m, n + nx + 1
    lp.col_cost_ = np.concatenate([cost.ravel(), np.zeros(m)])
    lp.col_lower_, lp.col_upper_ = np.zeros(nx + m), np.ones(nx + m)
    inf = highspy.kHighsInf
    lp.row_lower_ = np.concatenate([np.ones(n), np.full(nx, -inf), [p]])
    lp.row_upper_ = np.concatenate([np.ones(n), np.zeros(nx), [p]])
    # column x_ij: row i (assignment) and row n + ij (x_ij - y_j <= 0); column y_j: the rows
    # n + i*m + j of every i, and the last row (sum y = p)
    xi = np.arange(nx)
    y_rows = n + np.arange(n)[:, None] * m + np.arange(m)[None, :]
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.concatenate([2 * xi, 2 * nx + np.arange(m + 1) * (n + 1)]).astype(np.int32)
    idx_x = np.column_stack([xi // m, n + xi]).ravel()
    idx_y = np.column_stack([y_rows.T, np.full(m, n + nx)]).ravel()
    lp.a_matrix_.index_ = np.concatenate([idx_x, idx_y]).astype(np.int32)
    lp.a_matrix_.value_ = np.concatenate([np.ones(2 * nx), np.tile(np.r_[-np.ones(n), 1.0], m)])
    lp.integrality_ = [highspy.HighsVarType.kContinuous] * nx + [highspy.HighsVarType.kInteger] * m
    h.passModel(lp)
    h.run()
    info = h.getInfo()
    ok = info.primal_solution_status == 2
    st = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    obj = float(info.objective_function_value) if ok else float("nan")
    bound = float(info.mip_dual_bound)
    return {"time": time.perf_counter() - t, "objective": obj, "bound": bound,
            "status": "optimal" if st else ("feasible" if ok else "none")}


def run_spopt(cost: np.ndarray, p: int, limit: float) -> dict:
    """spopt ``PMedian.from_cost_matrix`` with CBC (benchmarks/pmed.py), 1 thread."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from pmed import run_spopt as _spopt

    t = time.perf_counter()
    try:
        obj, dt, status = _spopt(cost, p, limit)
    except RuntimeError:  # spopt raises when CBC stops at the limit without a solution status
        obj, dt, status = None, time.perf_counter() - t, "not solved"
    return {"time": dt, "objective": float("nan") if obj is None else obj, "bound": float("nan"),
            "status": status}


def run_ours(cost: np.ndarray, p: int, limit: float, gap: float) -> dict:
    from solvers.location import p_median

    t = time.perf_counter()
    r = p_median(cost, p, time_limit=limit, rel_gap=gap)
    return {"time": time.perf_counter() - t, "objective": r.objective, "bound": r.bound,
            "status": r.status, "method": r.stats.get("method", ""),
            "at_cap": r.stats.get("multipliers_at_cap", "")}


def _line(geo, n, p, who, goal, res) -> str:
    gap = (res["objective"] - res["bound"]) / res["objective"] if res["objective"] > 0 else float("nan")
    return (f"{geo:>9} {n:>6} {p:>4} {who:>6} {100 * goal:>5.1f} {res['time']:>8.2f} "
            f"{res['objective']:>12.1f} {res['bound']:>12.1f} {100 * gap:>7.3f} {res['status']:>14} "
            f"{res.get('method', ''):>22} {str(res.get('at_cap', '')):>6} {res['load']:>5.2f}")


def _growth(rows: list) -> None:
    for geo in SEEDS:
        for mode in ("goal", "full"):
            sub = [r for r in rows if r[0] == geo and r[3] == "ours" and (r[4] > 0) == (mode == "goal")]
            for a, b in zip(sub, sub[1:]):
                ta, tb = a[5]["time"], b[5]["time"]
                if ta > 0 and tb > 0 and b[1] != a[1]:
                    e = math.log(tb / ta) / math.log(b[1] / a[1])
                    print(f"growth {geo} ({mode}): n {a[1]} -> {b[1]} (p {a[2]} -> {b[2]}): "
                          f"time x{tb / ta:.2f}, time ~ n^{e:.2f}", flush=True)


def _run_instance(geo: str, n: int, p: int, args, peer_grids: dict, rows: list) -> None:
    """Ours (goal and/or full) and the peers listed for ``(n, p)`` on one instance."""
    cost = cost_matrix(points(n, geo))
    peers = {"spopt": run_spopt, "highs": run_highs}
    full = args.full or any((n, p) in g for g in peer_grids.values())
    goals = ([goal_gap(n)] if args.goal else []) + ([0.0] if full else [])
    runs = [("ours", g, lambda g=g: run_ours(cost, p, args.time_limit, g)) for g in goals]
    runs += [(k, 0.0, lambda k=k: peers[k](cost, p, args.time_limit))
             for k in PEER_GRIDS if (n, p) in peer_grids[k]]
    for who, g, fn in runs:
        load = os.getloadavg()[0]
        res = fn()
        res["load"] = load
        rows.append((geo, n, p, who, g, res))
        print(_line(geo, n, p, who, g, res), flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--grid", default=GRID, help="comma-separated n:p pairs")
    for k, v in PEER_GRIDS.items():
        ap.add_argument(f"--{k}-grid", default=v, help=f"n:p pairs {k} also runs ('' none)")
    ap.add_argument("--geographies", default="uniform,clustered")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--goal", action="store_true", help="run with the goal gap (1 %% / 2 %%)")
    ap.add_argument("--full", action="store_true", help="run to optimality (rel_gap 0)")
    args = ap.parse_args(argv)
    if not (args.goal or args.full):
        args.goal = True
    sys.path.insert(0, str(ROOT))
    from solvers.location import p_median

    p_median(cost_matrix(points(1500, "uniform")), 30, time_limit=30)  # compile outside the timings
    grid = [tuple(int(t) for t in s.split(":")) for s in args.grid.split(",") if s]
    peer_grids = {k: {tuple(int(t) for t in s.split(":")) for s in getattr(args, f"{k}_grid").split(",") if s}
                  for k in PEER_GRIDS}
    peer_grid = set().union(*peer_grids.values())
    print(f"{'geography':>9} {'n':>6} {'p':>4} {'who':>6} {'goal%':>5} {'time_s':>8} {'objective':>12} "
          f"{'bound':>12} {'gap%':>7} {'status':>14} {'method':>22} {'at_cap':>6} {'load1':>5}", flush=True)
    rows: list = []
    for geo in args.geographies.split(","):
        for n, p in sorted(set(grid) | peer_grid):
            _run_instance(geo, n, p, args, peer_grids, rows)
    for geo, n, p, who, _, res in rows:
        if who == "ours":
            continue
        for r in rows:
            if r[:3] == (geo, n, p) and r[3] == "ours":
                goal = f"goal {100 * r[4]:.0f} %" if r[4] > 0 else "to optimality"
                print(f"ratio {geo} {n}/{p}: {who} / ours ({goal}) = {res['time'] / r[5]['time']:.1f}x "
                      f"({who} {res['status']}, ours {r[5]['status']})", flush=True)
    _growth(rows)
    print(f"loadavg at the end: {os.getloadavg()}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
