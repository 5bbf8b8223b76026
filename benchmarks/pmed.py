"""OR-Library p-median benchmark: ``solvers.location.p_median`` against the published optima.

Reads ``pmed1..pmed40`` (Beasley 1990) from ``../shared/benchmarks/orlib`` (or ``--dir``), builds the
shortest-path cost matrix (the LAST occurrence of a duplicated edge wins, as the format requires),
solves each instance and prints objective, published optimum, gap, time and status. ``--spopt``
also runs PySAL spopt's ``PMedian.from_cost_matrix`` (PuLP/CBC) on the same matrix with a per-instance
time cap and prints its objective and the time ratio. ``method`` is ``lagrangian_bnb`` (p <= 15)
or ``lagrangian_large`` (any larger p, ``+bnb``/``+radius`` when a finish on the sites left after
fixing was needed); ``nodes`` the branch-and-bound nodes or MIP rounds.

    nice -n 10 .venv/bin/python benchmarks/pmed.py --instances 1-40 --spopt --spopt-cap 60
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DIR = ROOT.parent / "shared" / "benchmarks" / "orlib"


def read_orlib_pmed(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Return ``(cost, p)`` for one OR-Library p-median file (cost = all-pairs shortest paths)."""
    with open(path) as f:
        n, _m, p = (int(t) for t in f.readline().split())
        edges: dict[tuple[int, int], float] = {}
        for line in f:
            t = line.split()
            if len(t) < 3:
                continue
            i, j, c = int(t[0]) - 1, int(t[1]) - 1, float(t[2])
            edges[(min(i, j), max(i, j))] = c  # the last occurrence wins
    r = np.fromiter((k[0] for k in edges), int, len(edges))
    s = np.fromiter((k[1] for k in edges), int, len(edges))
    g = csr_matrix((np.fromiter(edges.values(), float, len(edges)), (r, s)), shape=(n, n))
    return shortest_path(g, method="D", directed=False), p


def read_optima(directory: Path) -> dict[int, float]:
    out = {}
    for line in (directory / "pmedopt.txt").read_text().splitlines()[1:]:
        t = line.split()
        if len(t) == 2:
            out[int(t[0].removeprefix("pmed"))] = float(t[1])
    return out


def parse_range(s: str) -> list[int]:
    out: list[int] = []
    for part in s.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def run_spopt(cost: np.ndarray, p: int, cap_s: float) -> tuple[float | None, float, str]:
    """spopt PMedian (PuLP + CBC) with a time cap; returns (objective or None, seconds, status)."""
    import pulp
    from spopt.locate import PMedian

    t = time.perf_counter()
    model = PMedian.from_cost_matrix(cost, np.ones(cost.shape[0]), p_facilities=p)
    model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=cap_s, threads=1))
    dt = time.perf_counter() - t
    status = pulp.LpStatus[model.problem.status]
    obj = pulp.value(model.problem.objective)
    if dt >= cap_s * 0.98 or status != "Optimal":
        return (None if obj is None else float(obj)), dt, "did not finish"
    return float(obj), dt, "optimal"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--instances", default="1-40")
    ap.add_argument("--time-limit", type=float, default=60.0, help="seconds per instance (ours)")
    ap.add_argument("--spopt", action="store_true", help="also run spopt PMedian (PuLP/CBC)")
    ap.add_argument("--spopt-cap", type=float, default=60.0, help="seconds per instance (spopt)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from solvers.location import p_median

    opt = read_optima(args.dir)
    head = (f"{'inst':>7} {'n':>4} {'p':>4} {'objective':>10} {'bound':>10} {'optimum':>8} {'gap%':>6} "
            f"{'time_s':>7} {'status':>8} {'method':>14} {'nodes':>6}")
    if args.spopt:
        head += f" {'spopt_obj':>10} {'spopt_s':>8} {'ratio':>7}"
    print(head, flush=True)
    n_opt = 0
    todo = parse_range(args.instances)
    for k in todo:
        cost, p = read_orlib_pmed(args.dir / f"pmed{k}.txt")
        r = p_median(cost, p, time_limit=args.time_limit)
        gap = 100 * (r.objective - opt[k]) / opt[k]  # objective vs the published optimum
        ok = r.status == "optimal" and abs(r.objective - opt[k]) < 0.5
        n_opt += ok
        line = (f"{'pmed' + str(k):>7} {cost.shape[0]:>4} {p:>4} {r.objective:>10.0f} {r.bound:>10.1f} {opt[k]:>8.0f} "
                f"{gap:>6.2f} {r.time_s:>7.2f} {r.status:>8} {r.stats.get('method', 'radius'):>14} "
                f"{r.stats.get('bnb_nodes', r.stats.get('mip_iterations', 0)):>6}")
        if args.spopt:
            sobj, st, sstat = run_spopt(cost, p, args.spopt_cap)
            if sstat == "optimal":
                line += f" {sobj:>10.0f} {st:>8.2f} {st / r.time_s:>6.1f}x"
            else:
                line += f" {'DNF':>10} {'>' + format(args.spopt_cap, '.0f'):>8} {'>' + format(st / r.time_s, '.1f'):>6}x"
        print(line, flush=True)
    print(f"proven optimal at the published value: {n_opt}/{len(todo)}")
    return 0 if n_opt == len(todo) else 1


if __name__ == "__main__":
    raise SystemExit(main())
