"""p-median at scale: time, bound and gap on random uniform instances.

Instances: ``n`` points uniform in a 1000 x 1000 square (seed 0), every point a demand (weight
1) and a candidate site, Euclidean costs. For each (n, p) of the grid ``p_median`` runs once with
the goal gap (``--goal``: stop as soon as proven within it) and once to optimality
(``--full``: rel_gap 0) under ``--time-limit``. Prints time, objective, bound, gap, method and
the machine load (``os.getloadavg``), then the growth exponent b of time ~ n^b between
consecutive sizes (p grows with n, so the exponent is for the grid's diagonal).

    nice -n 10 .venv/bin/python benchmarks/pmed_scale.py --goal --full
    nice -n 10 .venv/bin/python benchmarks/pmed_scale.py --grid 1000:20,2000:40 --goal
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
GRID = "1000:20,2000:40,5000:100"
GOALS = {1000: 0.01, 2000: 0.01, 5000: 0.02}  # targets: 1 % at 2000/40, 2 % at 5000/100


def instance(n: int, seed: int = 0) -> np.ndarray:
    """(n, n) Euclidean costs between n uniform points in a 1000 x 1000 square."""
    rng = np.random.default_rng(seed)
    pts = rng.random((n, 2)) * 1000
    out = np.empty((n, n))
    for lo in range(0, n, 1000):  # blocks: no (n, n, 2) temporary
        d = pts[lo:lo + 1000, None, :] - pts[None, :, :]
        out[lo:lo + 1000] = np.hypot(d[..., 0], d[..., 1])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--grid", default=GRID, help="comma-separated n:p pairs")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--goal", action="store_true", help="run with the goal gap (1 %% / 2 %%)")
    ap.add_argument("--full", action="store_true", help="run to optimality (rel_gap 0)")
    args = ap.parse_args(argv)
    if not (args.goal or args.full):
        args.goal = True
    sys.path.insert(0, str(ROOT))
    from solvers.location import p_median

    grid = [tuple(int(t) for t in s.split(":")) for s in args.grid.split(",")]
    print(f"{'n':>6} {'p':>4} {'target%':>7} {'time_s':>7} {'objective':>12} {'bound':>12} "
          f"{'gap%':>6} {'status':>8} {'method':>24} {'fixed_to':>8} {'load1':>5}", flush=True)
    rows = []
    for n, p in grid:
        cost = instance(n)
        runs = ([GOALS.get(n, 0.01)] if args.goal else []) + ([0.0] if args.full else [])
        for g in runs:
            load = os.getloadavg()[0]
            t = time.perf_counter()
            r = p_median(cost, p, time_limit=args.time_limit, rel_gap=g)
            dt = time.perf_counter() - t
            rows.append((n, p, g, dt, r))
            print(f"{n:>6} {p:>4} {100 * g:>7.1f} {dt:>7.2f} {r.objective:>12.1f} {r.bound:>12.1f} "
                  f"{100 * r.gap:>6.3f} {r.status:>8} {r.stats.get('method', ''):>24} "
                  f"{r.stats.get('sites_after_fixing', n):>8} {load:>5.1f}", flush=True)
        del cost
    for mode in ("goal", "full"):
        sub = [r for r in rows if (r[2] > 0) == (mode == "goal")]
        for a, b in zip(sub, sub[1:]):
            if a[3] > 0 and b[3] > 0 and b[0] != a[0]:
                e = math.log(b[3] / a[3]) / math.log(b[0] / a[0])
                print(f"growth ({mode}): n {a[0]} -> {b[0]} (p {a[1]} -> {b[1]}): "
                      f"time x{b[3] / a[3]:.2f}, time ~ n^{e:.2f} (~ (n m)^{e / 2:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
