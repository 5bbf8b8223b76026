"""Assignment benchmarks: the demo county end to end, constituents -> members at scale vs HiGHS, churn.

    .venv/bin/python benchmarks/assignment.py [--lp-members 500 1000] [--big-members 20000] [--seed 0]
                                              [--skip-demo] [--skip-big]

1. Demo county (geo_service.app.demo.generate_demo), all four tiers with default parameters: wall time,
   and per tier status / gap / solver; the same in road mode (road network built inside the run);
   and the opt-in compactness model (CP-SAT) for reference.
2. Constituents -> members, m members / 10 m constituents, 10 sectors, loads 8..12, straight-line
   metres. The same instance solved three ways in one run: ``assign_constituents_geo`` (k-nearest arcs
   + exact pricing), ``assign_min_cost_flow`` on the dense matrix (all same-sector arcs, one flow) and
   the transportation LP over all same-sector arcs with HiGHS (``scipy.optimize.linprog``). Objectives
   must agree (LP is integral here); ratios are printed. Then the 20,000 / 200,000 run of ours alone
   (the full LP would have 400 M variables).
3. Churn on the demo: remove the member with the most constituents, re-run with ``minimal_change``
   and from scratch; print moved counts against that member's constituents plus what capacity forces.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def instance(m: int, seed: int, sectors: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """m members in a 60 km square, 10 m constituents (half near members, half uniform), 10 per member
    in every sector so loads 8..12 are feasible."""
    rng = np.random.default_rng(seed)
    n = 10 * m
    mxy = rng.uniform(0, 60_000, (m, 2))
    near = mxy[rng.integers(0, m, n // 2)] + rng.normal(0, 2_000, (n // 2, 2))
    cxy = np.vstack([near, rng.uniform(0, 60_000, (n - n // 2, 2))])
    return cxy, mxy, np.arange(n) % sectors, np.arange(m) % sectors


def highs_lp(cxy, mxy, cs, ms, lo, hi):
    """Transportation LP over every same-sector arc with HiGHS; returns (objective, seconds, variables)."""
    import scipy.sparse as sp
    from scipy.optimize import linprog

    t = time.perf_counter()
    rows, cols = [], []
    for s in np.unique(ms):
        ci, mj = np.flatnonzero(cs == s), np.flatnonzero(ms == s)
        rows.append(np.repeat(ci, len(mj)))
        cols.append(np.tile(mj, len(ci)))
    r, c = np.concatenate(rows), np.concatenate(cols)
    cost = np.hypot(*(cxy[r] - mxy[c]).T)
    nv, n, m = len(r), len(cxy), len(mxy)
    a_eq = sp.csr_matrix((np.ones(nv), (r, np.arange(nv))), shape=(n, nv))
    a_m = sp.csr_matrix((np.ones(nv), (c, np.arange(nv))), shape=(m, nv))
    res = linprog(cost, A_ub=sp.vstack([a_m, -a_m]).tocsr(), b_ub=np.r_[np.full(m, hi), np.full(m, -lo)],
                  A_eq=a_eq, b_eq=np.ones(n), bounds=(0, 1), method="highs")
    assert res.status == 0, res.message
    return float(res.fun), time.perf_counter() - t, nv


def bench_demo(seed: int) -> None:
    from geo_service.app.demo import generate_demo
    from solvers.pipeline import run_optimisation

    ds = generate_demo()
    print(f"demo county: {len(ds.members)} members, {len(ds.constituents)} constituents, "
          f"{len(ds.villages)} villages, {len(ds.groups)} groups, {len(ds.committees)} committees, "
          f"{len(ds.stations)} stations")
    for label, params in (("default (all tiers)", {"seed": seed}),
                          ("road mode (travel time, s)", {"seed": seed, "mode": "road"}),
                          ("compactness=0.5, time_limit 5 s", {"seed": seed, "compactness": 0.5,
                                                               "time_limit_s": 5})):
        t = time.perf_counter()
        r = run_optimisation(ds, params)
        wall = time.perf_counter() - t
        print(f"  {label}: {wall:.2f} s wall, overall status {r.status}")
        for name, tr in r.tiers.items():
            print(f"    {name:13s} {tr.status:10s} gap {tr.gap:.2e}  {tr.time_s:6.3f} s  {tr.solver}"
                  f"  rows {len(tr.assignment)}")


def bench_lp(sizes: list[int], seed: int) -> None:
    from scipy.spatial.distance import cdist

    from solvers.assignment import assign_min_cost_flow, assign_constituents_geo

    print("constituents -> members, loads 8..12, 10 sectors (same instance, one run):")
    print(f"  {'members':>8} {'constit.':>9} {'LP vars':>10} {'HiGHS s':>8} {'dense MCF s':>11} "
          f"{'ours(geo) s':>11} {'HiGHS/ours':>10} {'obj rel. diff':>13}")
    for m in sizes:
        cxy, mxy, cs, ms = instance(m, seed)
        lp_obj, lp_s, nv = highs_lp(cxy, mxy, cs, ms, 8, 12)
        t = time.perf_counter()
        dense = assign_min_cost_flow(cdist(cxy, mxy), 8, 12, allowed=cs[:, None] == ms[None, :])
        dense_s = time.perf_counter() - t
        t = time.perf_counter()
        geo = assign_constituents_geo(cxy, mxy, 8, 12, constituent_sector=cs, member_sector=ms)
        geo_s = time.perf_counter() - t
        assert geo.status == dense.status == "optimal"
        diff = abs(geo.objective - lp_obj) / lp_obj
        print(f"  {m:>8} {len(cxy):>9} {nv:>10} {lp_s:>8.2f} {dense_s:>11.2f} {geo_s:>11.2f} "
              f"{lp_s / geo_s:>10.1f} {diff:>13.1e}   (geo: {geo.rounds} rounds, {geo.n_arcs} arcs, "
              f"gap {geo.gap:.1e})")


def bench_big(m: int, seed: int) -> None:
    from solvers.assignment import assign_constituents_geo

    cxy, mxy, cs, ms = instance(m, seed)
    t = time.perf_counter()
    r = assign_constituents_geo(cxy, mxy, 8, 12, constituent_sector=cs, member_sector=ms)
    wall = time.perf_counter() - t
    print(f"ours alone: {m} members / {len(cxy)} constituents: {wall:.1f} s, status {r.status}, "
          f"gap {r.gap:.1e} (rounding only), {r.rounds} pricing rounds, {r.n_arcs} arcs "
          f"(full same-sector bipartite: {len(cxy) * m // 10:,})")


def bench_churn(seed: int) -> None:
    from geo_service.app.demo import generate_demo
    from solvers.pipeline import diff_results, run_optimisation

    ds = generate_demo()
    params = {"tiers": ["constituents"], "seed": seed}
    first = run_optimisation(ds, params)
    a = first.tiers["constituents"].assignment
    ids, counts = np.unique([v for v in a.values() if v is not None], return_counts=True)
    gone = str(ids[np.argmax(counts)])
    orphans = int(counts.max())
    sector = ds.members.set_index("id").loc[gone, "sector"]
    smaller = ds.with_layers(members=ds.members[ds.members["id"] != gone])
    same = smaller.members["sector"] == sector
    room = int(12 * same.sum() - sum(1 for c, mm in a.items() if mm in set(smaller.members["id"][same])))
    forced = max(0, orphans - room)
    t = time.perf_counter()
    mc = run_optimisation(smaller, {**params, "minimal_change": True}, previous=first)
    mc_s = time.perf_counter() - t
    t = time.perf_counter()
    fs = run_optimisation(smaller, params, previous=first)
    fs_s = time.perf_counter() - t
    dm, df = diff_results(first, mc), diff_results(first, fs)
    tm, tf = mc.tiers["constituents"], fs.tiers["constituents"]
    print(f"churn: removed member {gone} ({sector}) with {orphans} constituents; sector spare room {room}, "
          f"capacity forces {forced} more moves")
    print(f"  minimal change: moved {len(dm)} (reasons {dm['reason'].value_counts().to_dict()}), "
          f"total distance {tm.cost:,.0f} m, {mc_s:.2f} s, status {tm.status}")
    print(f"  from scratch:   moved {len(df)} (reasons {df['reason'].value_counts().to_dict()}), "
          f"total distance {tf.cost:,.0f} m, {fs_s:.2f} s, status {tf.status}")
    assert len(dm) <= orphans + forced


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lp-members", type=int, nargs="*", default=[500, 1000])
    ap.add_argument("--big-members", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-demo", action="store_true")
    ap.add_argument("--skip-big", action="store_true")
    args = ap.parse_args()
    if not args.skip_demo:
        bench_demo(args.seed)
        bench_churn(args.seed)
    if args.lp_members:
        bench_lp(args.lp_members, args.seed)
    if not args.skip_big:
        bench_big(args.big_members, args.seed)


if __name__ == "__main__":
    main()
