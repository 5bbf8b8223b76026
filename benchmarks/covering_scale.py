"""Maximal covering at province size: dense matrix vs pairs within reach.

Instances ("province-like"): ``n`` villages in clusters around ``n/60`` township centres spread
uniformly over a square whose side grows with sqrt(n) (300 km at n = 20,000, so the density is the
same at every size), village spread 3 km (normal), population lognormal (median ~665), every
village a candidate site, radius 5 km, ``p = n / 100`` points, goal gap 0.5 %, time limit 60 s.
Each run is a separate process so its peak memory (``ru_maxrss``) is its own:

* ``dense``: the ``n x n`` distance matrix, then ``max_coverage(matrix)`` (what a caller had to do
  before; the solver reduces it to the pairs within reach itself);
* ``sparse``: ``covering_matrix`` (KD-tree, pairs within 5 km only), then ``max_coverage(sparse)``;
* ``baseline`` (with ``--baseline FILE``, e.g. the single-module ``solvers/location.py`` from before the sparse covering input, from
  ``git show``): that module's ``max_coverage`` on the dense matrix.

Prints time (build + solve, wall clock), the process's CPU seconds (how much of a core it got), objective, bound, gap, pairs, covering sets, peak memory and load,
then the growth exponent b of time ~ n^b between consecutive sizes.

    git show 8bf6631:solvers/location.py > /tmp/location_before.py
    nice -n 10 .venv/bin/python benchmarks/covering_scale.py --baseline /tmp/location_before.py
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def instance(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(xy metres (n, 2), population (n,))`` of the province-like instance."""
    rng = np.random.default_rng(seed)
    side = 300_000 * math.sqrt(n / 20_000)
    towns = rng.random((max(1, n // 60), 2)) * side
    xy = towns[rng.integers(0, len(towns), n)] + rng.normal(0, 3000, (n, 2))
    return xy, np.round(rng.lognormal(6.5, 0.8, n))


def one(n: int, mode: str, radius: float, time_limit: float, rel_gap: float,
        baseline: str | None) -> dict:
    sys.path.insert(0, str(ROOT))
    xy, w = instance(n)
    p = max(1, n // 100)
    from solvers.location import covering_matrix, max_coverage  # noqa: F811 (baseline may replace)

    if mode == "baseline":
        import importlib.util

        spec = importlib.util.spec_from_file_location("location_before", baseline)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod  # its dataclass needs the module registered
        spec.loader.exec_module(mod)
        max_coverage = mod.max_coverage
    t = time.perf_counter()  # imports done: time the matrix build and the solve only
    cpu = time.process_time()
    if mode == "sparse":
        cost = covering_matrix(xy, xy, radius)
    else:
        cost = np.empty((n, n))
        for lo in range(0, n, 1000):
            d = xy[lo:lo + 1000, None, :] - xy[None, :, :]
            cost[lo:lo + 1000] = np.hypot(d[..., 0], d[..., 1])
    build = time.perf_counter() - t
    kw = {"rel_gap": rel_gap} if mode != "baseline" else {}
    r = max_coverage(cost, radius, p, weights=w, time_limit=time_limit, **kw)
    total = time.perf_counter() - t
    cpu = time.process_time() - cpu
    return {"n": n, "p": p, "mode": mode, "build_s": build, "time_s": total, "cpu_s": cpu,
            "objective": r.objective, "bound": r.bound, "gap": r.gap, "status": r.status,
            "pairs": r.stats.get("pairs"), "sets": r.stats.get("covering_sets"),
            "share": r.objective / w.sum(),
            "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="2000,5000,10000,20000")
    ap.add_argument("--modes", default="sparse,dense")
    ap.add_argument("--dense-max", type=int, default=10000,
                    help="largest n for the dense matrix (n = 20,000 needs 3.2 GB)")
    ap.add_argument("--radius", type=float, default=5000.0)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--rel-gap", type=float, default=0.005)
    ap.add_argument("--baseline", default=None, help="module file with the old max_coverage")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        n, mode = args.one.split(":")
        print(json.dumps(one(int(n), mode, args.radius, args.time_limit, args.rel_gap,
                             args.baseline)))
        return 0
    modes = args.modes.split(",") + (["baseline"] if args.baseline else [])
    print(f"{'n':>6} {'p':>4} {'mode':>8} {'build_s':>7} {'time_s':>7} {'objective':>11} "
          f"{'cpu_s':>6} {'gap%':>6} {'status':>8} {'covered':>7} {'pairs':>9} {'sets':>6} {'peak_MB':>8} "
          f"{'load1':>5}", flush=True)
    res: dict[str, list] = {m: [] for m in modes}
    for n in (int(s) for s in args.sizes.split(",")):
        for mode in modes:
            if mode != "sparse" and n > args.dense_max:
                print(f"{n:>6} {n // 100:>4} {mode:>8}   skipped: the dense matrix alone is "
                      f"{n * n * 8 / 1e9:.1f} GB", flush=True)
                continue
            load = os.getloadavg()[0]
            cmd = [sys.executable, __file__, "--one", f"{n}:{mode}", "--radius", str(args.radius),
                   "--time-limit", str(args.time_limit), "--rel-gap", str(args.rel_gap)]
            if args.baseline:
                cmd += ["--baseline", args.baseline]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode != 0:
                print(f"{n:>6} {mode:>8} failed: {out.stderr.strip().splitlines()[-1:]}")
                continue
            d = json.loads(out.stdout.strip().splitlines()[-1])
            res[mode].append(d)
            print(f"{n:>6} {d['p']:>4} {mode:>8} {d['build_s']:>7.2f} {d['time_s']:>7.2f} "
                  f"{d['objective']:>11.0f} {d['cpu_s']:>6.1f} {100 * d['gap']:>6.3f} {d['status']:>8} "
                  f"{100 * d['share']:>6.1f}% {d['pairs'] or 0:>9} {d['sets'] or 0:>6} "
                  f"{d['maxrss_mb']:>8.0f} {load:>5.1f}", flush=True)
    for mode, rows in res.items():
        for a, b in zip(rows, rows[1:]):
            e = math.log(b["time_s"] / a["time_s"]) / math.log(b["n"] / a["n"])
            print(f"growth ({mode}): n {a['n']} -> {b['n']}: time x{b['time_s'] / a['time_s']:.2f}, "
                  f"time ~ n^{e:.2f}; peak memory x{b['maxrss_mb'] / a['maxrss_mb']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
