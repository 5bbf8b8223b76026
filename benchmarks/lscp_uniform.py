"""Set cover (LSCP) on generated instances against PySAL spopt (PuLP + CBC), same process, same limit.

Instances: ``n`` demands, candidates = the demands, radius chosen for about ``n / 11`` sites; points
uniform in a 100 km square (``uniform``) or in 40 Gaussian clusters of 3 km over 400 km
(``clustered``), from the stated seed. Both solvers get the same dense cost matrix and time limit
(``--cbc-limit`` gives CBC a longer one, to measure its time to completion); the rows print sites
(ours, CBC), the LP relaxation (our LP bound: reduced problem plus essential sites), our proven
bound and gap, seconds and the ratio CBC / ours. Turns alternate (ours, CBC) so both see the same
machine load.

    nice -n 10 .venv/bin/python benchmarks/lscp_uniform.py [--sizes 1000,5000] [--limit 60] [--cbc-limit 600]

spopt and pulp are bench-only dependencies (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from solvers.location import covering_matrix, set_cover  # noqa: E402


def instance(n: int, geography: str, seed: int) -> tuple[np.ndarray, float]:
    """(n, 2) metric points and a radius (m) for about n / 11 covering sites."""
    rng = np.random.default_rng(seed)
    if geography == "uniform":
        xy = rng.uniform(0, 100_000, (n, 2))
        radius = 3000.0 * np.sqrt(5000 / n)
    else:
        centres = rng.uniform(0, 400_000, (40, 2))
        xy = centres[rng.integers(0, 40, n)] + rng.normal(0, 3000, (n, 2))
        radius = 1500.0 * np.sqrt(5000 / n)
    return xy, float(radius)


def cbc(cost: np.ndarray, radius: float, limit: float) -> tuple[float | None, float, str]:
    import pulp
    from spopt.locate import LSCP

    t = time.perf_counter()
    model = LSCP.from_cost_matrix(cost, radius)
    model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=limit, threads=1), results=False)
    dt = time.perf_counter() - t
    obj = pulp.value(model.problem.objective)
    status = "optimal" if pulp.LpStatus[model.problem.status] == "Optimal" and dt < 0.98 * limit else "limit"
    return (None if obj is None else float(obj)), dt, status


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,5000")
    ap.add_argument("--geography", default="uniform,clustered")
    ap.add_argument("--limit", type=float, default=60.0, help="seconds per solve, both solvers")
    ap.add_argument("--cbc-limit", type=float, default=None,
                    help="seconds for CBC (default --limit); a long cap measures CBC's time to completion")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    cbc_limit = args.limit if args.cbc_limit is None else args.cbc_limit
    print(f"load {os.getloadavg()}; limit {args.limit:.0f} s, CBC {cbc_limit:.0f} s; seed {args.seed}")
    print("| instance | ours | LP | bound | gap | ours s | CBC | CBC status | CBC s | CBC / ours |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for geo in args.geography.split(","):
        for n in (int(s) for s in args.sizes.split(",")):
            xy, radius = instance(n, geo, args.seed)
            S = covering_matrix(xy, xy, radius)
            t = time.perf_counter()
            ours = set_cover(S, radius, time_limit=args.limit)
            t_ours = time.perf_counter() - t
            d = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1)) if n <= 6000 else None
            c_obj, c_s, c_status = cbc(d, radius, cbc_limit) if d is not None else (None, float("nan"), "-")
            lp = ours.stats.get("lp_bound")
            print(f"| {geo} {n}, r {radius:.0f} m | {ours.objective:.0f} ({ours.status}) | {lp or '-'} | {ours.bound:.0f} "
                  f"| {ours.gap:.2%} | {t_ours:.2f} | {c_obj} | {c_status} | {c_s:.2f} | {c_s / t_ours:.1f}x |",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
