"""Maximal covering on held-out geography against PySAL spopt (PuLP + CBC), same process, same limits.

Instances, from the stated seeds (none of them used while the solver was written): ``n`` demands
over a square of side 400 km x sqrt(n / 20,000) (so the density is that of 20,000 over 400 km at
every size), every demand a candidate site, radius 10 km, ``p = n / 100``, weights lognormal
(median ~665). Shapes:

* ``tight``: 350 x n/20,000 clusters, spread 2 km (normal); cluster sizes Dirichlet(0.7);
* ``mid``: 250 x n/20,000 clusters, spread 5 km;
* ``wide``: 150 x n/20,000 clusters, spread 12 km;
* ``mixed``: 200 x n/20,000 clusters, each spread uniform in 1.5-15 km;
* ``uniform``: no clusters.

Both solvers get the same instance, goal gap (``--rel-gap``) and time limit; ours reads the pairs
within reach (``covering_matrix``), spopt the dense matrix (``MCLP.from_cost_matrix``, CBC with one
thread, the same ``gapRel`` and ``timeLimit``). Turns alternate per instance (ours, then CBC) so both
see the same load. Rows print covered weight, proven bound and gap, seconds, the load average, and
CBC's covered weight, status and seconds with the ratios CBC / ours; then the growth exponent b of
our time ~ n^b per shape between consecutive sizes.

    nice -n 19 .venv/bin/python benchmarks/mclp_heldout.py --sizes 2000 --peer-max 2000
    .venv/bin/python benchmarks/mclp_heldout.py --sizes 20000 --peer-max 0

spopt and pulp are bench-only dependencies (``pip install -e '.[bench]'``).
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
sys.path.insert(0, str(ROOT))

from solvers.location import covering_matrix, max_coverage  # noqa: E402

RADIUS = 10_000.0
SHAPES = {"tight": (350, 2000.0), "mid": (250, 5000.0), "wide": (150, 12000.0), "mixed": (200, None)}


def instance(n: int, shape: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(xy metres (n, 2), weights (n,))`` of one held-out instance."""
    rng = np.random.default_rng(seed)
    f = n / 20_000
    side = 400_000.0 * math.sqrt(f)
    if shape == "uniform":
        xy = rng.uniform(0, side, (n, 2))
    else:
        k, spread = SHAPES[shape]
        k = max(1, round(k * f))
        centres = rng.uniform(0, side, (k, 2))
        label = rng.choice(k, n, p=rng.dirichlet(np.full(k, 0.7)))
        s = rng.uniform(1500, 15000, k) if spread is None else np.full(k, spread)
        xy = np.clip(centres[label] + rng.normal(0, 1, (n, 2)) * s[label, None], 0, side)
    return xy, np.round(rng.lognormal(6.5, 0.8, n))


def cbc(xy: np.ndarray, w: np.ndarray, p: int, limit: float, rel_gap: float) -> tuple[float, str, float]:
    """spopt's MCLP with CBC on the dense matrix: ``(covered weight, status, seconds)``."""
    import pulp
    from spopt.locate import MCLP

    t = time.perf_counter()
    d = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    model = MCLP.from_cost_matrix(d, w, RADIUS, p_facilities=p)
    model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=limit, gapRel=rel_gap, threads=1), results=False)
    dt = time.perf_counter() - t
    sel = np.array([v.value() or 0 for v in model.fac_vars]) > 0.5
    covered = float(w[(d[:, sel] <= RADIUS).any(axis=1)].sum()) if sel.any() else float("nan")
    status = pulp.LpStatus[model.problem.status]
    return covered, ("optimal" if status == "Optimal" and dt < 0.98 * limit else f"{status}/limit"), dt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="2000,5000,20000")
    ap.add_argument("--shapes", default="tight,mid,wide,mixed,uniform")
    ap.add_argument("--seeds", default="2027", help="held-out seeds, comma-separated")
    ap.add_argument("--limit", type=float, default=60.0, help="seconds per solve, both solvers")
    ap.add_argument("--rel-gap", type=float, default=0.005)
    ap.add_argument("--peer-max", type=int, default=2000, help="largest n given to spopt/CBC")
    args = ap.parse_args(argv)
    print(f"limit {args.limit:.0f} s; goal gap {args.rel_gap:.2%}; radius {RADIUS / 1000:.0f} km; "
          f"p = n / 100; seeds {args.seeds}", flush=True)
    print("| instance | pairs | ours covered | bound | gap | ours s | CBC covered | CBC status | CBC s "
          "| CBC s / ours s | ours / CBC covered | load1 |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|")
    times: dict[tuple[str, int], list[float]] = {}
    for seed in (int(s) for s in args.seeds.split(",")):
        for shape in args.shapes.split(","):
            for n in (int(s) for s in args.sizes.split(",")):
                xy, w = instance(n, shape, seed)
                p = n // 100
                load = os.getloadavg()[0]
                t = time.perf_counter()
                S = covering_matrix(xy, xy, RADIUS)
                r = max_coverage(S, RADIUS, p, weights=w, time_limit=args.limit, rel_gap=args.rel_gap)
                ours_s = time.perf_counter() - t
                times.setdefault((shape, seed), []).append((n, ours_s))
                peer = cbc(xy, w, p, args.limit, args.rel_gap) if n <= args.peer_max else None
                c_cov, c_st, c_s = peer if peer else (float("nan"), "-", float("nan"))
                print(f"| {shape} n={n} p={p} seed {seed} | {S.nnz:,} | {r.objective:,.0f} ({r.status}) "
                      f"| {r.bound:,.0f} | {r.gap:.3%} | {ours_s:.2f} | {c_cov:,.0f} | {c_st} | {c_s:.2f} "
                      f"| {c_s / ours_s:.1f}x | {r.objective / c_cov:.4f} | {load:.1f} |", flush=True)
    for (shape, seed), rows in times.items():
        for (n0, t0), (n1, t1) in zip(rows, rows[1:]):
            print(f"growth {shape} seed {seed}: n {n0} -> {n1}: time x{t1 / t0:.2f}, "
                  f"time ~ n^{math.log(t1 / t0) / math.log(n1 / n0):.2f}")
    print(f"load at the end {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
