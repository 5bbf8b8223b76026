"""Duty roster benchmark: the demo's comprehensive stations, 400 members, 12 months.

    .venv/bin/python benchmarks/roster.py [--time-limit 30] [--workers 2] [--seeds 0 1 2] [--road]
                                          [--no-cold] [--scale 1 3 10]

For each seed: the default pipeline (counting precheck, aggregated LP bound, two-stage warm start,
CP-SAT on the full model only if the warm start is not proven within ``relative_gap``): time to the
first feasible roster, to the final gap, status, objective/bound/gap; then CP-SAT on the full model
without the warm start ("cold", same time limit) for comparison; then the greedy baseline (month by
month, each platform takes its nearest eligible members up to the minimum, then each member short
of member_min the cheapest platform-month with room) with its cost ratio and the rules it breaks.
Also a re-plan after one member leaves in July (churn, time), and the diagnosis of an infeasible
roster (a 30 km cap). Prints the machine load (the machine
is shared; figures vary with it).
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter

from geo_service.app.demo import generate_demo
from solvers.roster import RosterParams, RosterProblem, plan_roster
from solvers.roster.model import RosterModel, greedy, solve_model


def broken_rules(pb: RosterProblem, duties: set) -> Counter:
    """Rules a set of duties breaks (a quick count, for the greedy baseline)."""
    prm = pb.params
    c: Counter = Counter()
    n, P = pb.cost.shape
    T = len(pb.months)
    pt = Counter((p, t) for (_m, p, t) in duties)
    c["platform-months outside min..max"] = sum(not prm.per_platform_min <= pt[(p, t)] <= prm.per_platform_max
                                                for p in range(P) for t in range(T))
    tot = Counter(m for (m, _p, _t) in duties)
    c["members outside member_min..max"] = sum(not prm.member_min <= tot[m] <= prm.member_max for m in range(n))
    vals = [tot[m] for m in range(n)]
    c["fairness spread excess"] = max(0, max(vals) - min(vals) - prm.fairness_spread)
    secs = {p: {pb.member_sectors[m] for (m, q, _t) in duties if q == p} for p in range(P)}
    c["platforms short of sectors"] = sum(len(secs[p]) < prm.sectors_min for p in range(P))
    return +c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--road", action="store_true", help="road travel time instead of straight metres")
    ap.add_argument("--no-cold", action="store_true", help="skip the cold CP-SAT comparison")
    ap.add_argument("--scale", type=int, nargs="+", default=None,
                    help="instead: the demo scaled k times (generate_scaled_demo), time limit 30 s for k <= 3 "
                         "and 60 s above, per_platform_max 5 at k >= 10 (4,000 members need the room)")
    a = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})")
    if a.scale:
        scaled(a.scale, a.workers)
        return
    ds = generate_demo()
    mode = "road" if a.road else "straight"
    for seed in a.seeds:
        prm = RosterParams(start="2027-01", months=12, time_limit_s=a.time_limit, num_workers=a.workers,
                           seed=seed, mode=mode)
        t = time.perf_counter()
        pb = RosterProblem.from_dataset(ds, prm)
        build = time.perf_counter() - t
        res = pb.solve()
        print(f"seed {seed} [{mode}]: {len(pb.platform_ids)} platforms x {len(pb.member_ids)} members x "
              f"{len(pb.months)} months; build {build:.2f} s; first feasible {build + (res.time_to_first_s or 0):.2f} s; "
              f"roster final {build + res.timings['roster']:.2f} s, consultations {res.timings['consultations']:.2f} s "
              f"more; status {res.status}; objective {res.objective:.0f} "
              f"bound {res.bound:.0f} gap {res.gap:.4%}; load {os.getloadavg()[0]:.2f}")
        opt = res.objective
        if not a.no_cold:
            t = time.perf_counter()
            rm = RosterModel(pb, relaxed=False)
            cold = solve_model(rm, a.time_limit, seed, a.workers)
            ct = time.perf_counter() - t
            ftxt = "none" if cold["first_s"] is None else f"{cold['first_s']:.2f} s"
            otxt = (f"objective {cold['objective']:.0f} ({cold['objective'] / opt:.4f} x), CP-SAT bound "
                    f"{cold['bound']:.0f}" if "objective" in cold else "no roster")
            print(f"  cold CP-SAT on the full model (no precheck/LP/warm start): {cold['status']}, first feasible "
                  f"{ftxt}, {ct:.2f} s, {otxt}")
        t = time.perf_counter()
        g = greedy(pb)
        gt = time.perf_counter() - t
        gcost = sum(float(pb.cost[m, p]) for (m, p, _t) in g)
        print(f"  greedy baseline: {gt:.3f} s, cost {gcost:.0f} ({gcost / opt:.3f} x optimum), "
              f"rules broken: {dict(broken_rules(pb, g)) or 'none'}")
    # re-plan after one member leaves
    prm = RosterParams(start="2027-01", months=12, time_limit_s=a.time_limit, num_workers=a.workers, mode=mode)
    first = plan_roster(ds, prm)
    conveners = set(ds.groups["convener_id"].dropna())
    leaver = next(r["member_id"] for r in first.duties if r["month"] >= "2027-07" and r["member_id"] not in conveners)
    ds2 = ds.with_layers(members=ds.members[ds.members["id"] != leaver])
    t = time.perf_counter()
    re = plan_roster(ds2, prm.model_copy(update={"replan_from": "2027-07"}), previous=first)
    print(f"re-plan from 2027-07 after {leaver} leaves: {time.perf_counter() - t:.2f} s, status {re.status}, "
          f"gap {re.gap:.4%}, churn {re.churn}")
    # an infeasible roster explained: a 30 km cap leaves members without a platform in reach
    t = time.perf_counter()
    cap = plan_roster(ds, prm.model_copy(update={"max_distance_m": 30000, "consultations": False}))
    codes = Counter(d["code"] for d in cap.diagnostics if d["severity"] == "error")
    print(f"30 km cap: {time.perf_counter() - t:.2f} s, status {cap.status}, diagnostics {dict(codes)}, "
          f"relaxation max_distance_m {cap.relaxation and cap.relaxation.get('max_distance_m')}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


def scaled(factors: list[int], workers: int) -> None:
    """Rosters of the demo scaled k times, one after another in this process (seed 0)."""
    from geo_service.app.scaled import generate_scaled_demo

    for k in factors:
        ds = generate_scaled_demo(k)
        extra = {"per_platform_max": 5} if k >= 10 else {}
        prm = RosterParams(start="2027-01", months=12, time_limit_s=30.0 if k <= 3 else 60.0,
                           num_workers=workers, seed=0, consultations=False, **extra)
        t = time.perf_counter()
        pb = RosterProblem.from_dataset(ds, prm)
        res = pb.solve()
        wall = time.perf_counter() - t
        km = res.cost / max(1, len(res.duties)) / 1000
        print(f"x{k}: {len(pb.platform_ids)} platforms x {len(pb.member_ids)} members x 12 months, limit "
              f"{prm.time_limit_s:.0f} s: {res.status} in {wall:.1f} s, first roster "
              f"{res.time_to_first_s or 0:.1f} s, gap {res.gap if res.gap is None else f'{res.gap:.4%}'}, "
              f"{len(res.duties)} duties, {km:.1f} km per duty; load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
