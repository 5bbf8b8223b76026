"""The assignment solvers of two checkouts on the same instances: objective and time, in one run.

Usage: ``python benchmarks/assign_revisions.py --repo BEFORE --repo . [--members 2000] [--runs 3]``.
Each checkout runs in its own process, in its own folder (its code first on ``sys.path``); the instances come from
:func:`benchmarks.assignment.instance` (m members, 10 m constituents, 10 sectors, loads 8..12):
``assign_constituents_geo`` per sector, with a cross-sector penalty, and ``assign_min_cost_flow`` on
the dense matrix of m / 4 members. Objectives must agree to the last digit; times are medians.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, statistics, sys, time
import numpy as np
from scipy.spatial.distance import cdist
sys.path.insert(0, "benchmarks")
from assignment import instance
from solvers.assignment import assign_constituents_geo, assign_min_cost_flow
m, runs = int(sys.argv[1]), int(sys.argv[2])
cxy, mxy, cs, ms = instance(m, 0)
dx, dm, dcs, dms = instance(m // 4, 1)
cases = {
    "geo, per sector": lambda: assign_constituents_geo(cxy, mxy, 8, 12, constituent_sector=cs, member_sector=ms),
    "geo, cross-sector 20 km": lambda: assign_constituents_geo(cxy, mxy, 8, 12, constituent_sector=cs,
                                                               member_sector=ms, cross_penalty=20000.0),
    "dense flow": lambda: assign_min_cost_flow(cdist(dx, dm), 8, 12, allowed=dcs[:, None] == dms[None, :]),
}
out = {}
for name, f in cases.items():
    times, obj = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        r = f()
        times.append(time.perf_counter() - t0)
        obj = (r.status, round(float(r.objective), 3))
    out[name] = {"status": obj[0], "objective": obj[1], "time_s": statistics.median(times)}
print(json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", action="append", required=True)
    ap.add_argument("--members", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    results = {}
    for repo in a.repo:
        repo = os.path.abspath(repo)
        env = {**os.environ, "PYTHONPATH": repo}
        r = subprocess.run([sys.executable, "-c", CHILD, str(a.members), str(a.runs)], cwd=repo, env=env,
                           capture_output=True, text=True, check=True)
        results[repo] = json.loads(r.stdout.strip().splitlines()[-1])
    names = list(next(iter(results.values())))
    print(f"| case | {' | '.join(os.path.basename(r) for r in results)} |")
    print(f"|---|{'---|' * len(results)}")
    for n in names:
        cells = [f"{v[n]['status']} {v[n]['objective']:,.3f} m, {v[n]['time_s']:.2f} s" for v in results.values()]
        print(f"| {n} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
