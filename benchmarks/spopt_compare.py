"""Our location models against PySAL spopt (PuLP + CBC) on spopt's own test data and the demo county.

Same cost matrix and parameters for both; prints objective (ours, spopt), whether they agree,
seconds and the time ratio spopt/ours. spopt is a bench-only dependency (``pip install spopt``).

    nice -n 10 .venv/bin/python benchmarks/spopt_compare.py [--no-demo] [--cap 60]

Data: ``spopt/tests/test_locate/data/SF_network_distance_candidateStore_16_censusTract_205_new.csv``
(205 San Francisco census tracts x 16 candidate stores, network metres, POP2000 weights), the
instance spopt's own tests use (service distance 5000 m, p = 4). The demo county: 1287 villages x
(80 existing stations, fixed + 1287 candidate villages), straight-line metres, population weights.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def sf_instance() -> tuple[np.ndarray, np.ndarray]:
    """spopt's San Francisco test instance: (cost 205 x 16 metres, POP2000 weights)."""
    import spopt

    data = Path(spopt.__file__).parent / "tests" / "test_locate" / "data"
    dist = pd.read_csv(data / "SF_network_distance_candidateStore_16_censusTract_205_new.csv")
    piv = dist.pivot_table(values="distance", index="DestinationName", columns="name")
    demand = pd.read_csv(data / "SF_demand_205_centroid_uniform_weight.csv").sort_values("NAME")
    return piv.to_numpy(), demand["POP2000"].to_numpy(dtype=float)


def demo_instance() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The demo county: (cost villages x [stations + villages] metres, population, fixed)."""
    sys.path.insert(0, str(ROOT))
    from geo_service.app.demo import generate_demo
    from solvers.gaps import gap_cost_matrix
    import geopandas as gpd

    ds = generate_demo()
    sites = gpd.GeoDataFrame(geometry=list(ds.stations.geometry) + list(ds.villages.geometry),
                             crs="EPSG:4326")
    cost = gap_cost_matrix(ds, sites, "straight")
    return cost, ds.villages["population"].to_numpy(dtype=float), np.arange(len(ds.stations))


def run_spopt(kind: str, cost, w, radius, p, fixed, cap):
    import pulp
    from spopt.locate import LSCP, MCLP, PCenter, PMedian

    pre = None
    if fixed is not None and len(fixed):
        pre = np.zeros(cost.shape[1], dtype=int)
        pre[fixed] = 1
    t = time.perf_counter()
    if kind == "lscp":
        m = LSCP.from_cost_matrix(cost, radius, predefined_facilities_arr=pre)
    elif kind == "mclp":
        m = MCLP.from_cost_matrix(cost, w, radius, p_facilities=p, predefined_facilities_arr=pre)
    elif kind == "pmedian":
        m = PMedian.from_cost_matrix(cost, w, p, predefined_facilities_arr=pre)
    else:
        m = PCenter.from_cost_matrix(cost, p, predefined_facilities_arr=pre)
    m.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=cap, threads=1), results=False)
    dt = time.perf_counter() - t
    status = pulp.LpStatus[m.problem.status]
    obj = pulp.value(m.problem.objective)
    ok = status == "Optimal" and dt < cap * 0.98
    return (float(obj) if obj is not None else None), dt, ("optimal" if ok else "did not finish")


def run_ours(kind: str, cost, w, radius, p, fixed):
    from solvers.location import max_coverage, p_center, p_median, set_cover

    if kind == "lscp":
        r = set_cover(cost, radius, fixed=fixed)
    elif kind == "mclp":
        r = max_coverage(cost, radius, p, weights=w, fixed=fixed)
    elif kind == "pmedian":
        r = p_median(cost, p, weights=w, fixed=fixed)
    else:
        r = p_center(cost, p, fixed=fixed)
    return r.objective, r.time_s, r.status


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cap", type=float, default=60.0, help="seconds per spopt solve")
    ap.add_argument("--no-demo", action="store_true", help="skip the demo-county cases")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    cases = []
    sf_cost, sf_w = sf_instance()
    for kind in ("lscp", "mclp", "pmedian", "pcenter"):
        cases.append(("SF 205x16", kind, sf_cost, sf_w, 5000.0, 4, None))
    if not args.no_demo:
        d_cost, d_w, d_fixed = demo_instance()
        nf = len(d_fixed)
        cases.append(("demo 1287x1367", "lscp", d_cost, d_w, 10000.0, None, d_fixed))
        cases.append(("demo 1287x1367", "mclp", d_cost, d_w, 10000.0, nf + 10, d_fixed))
    print(f"{'instance':<15} {'model':<8} {'ours':>12} {'spopt':>12} {'same':>5} {'ours_s':>7} "
          f"{'spopt_s':>8} {'ratio':>7}", flush=True)
    for name, kind, cost, w, radius, p, fixed in cases:
        ours, ot, ost = run_ours(kind, cost, w, radius, p, fixed)
        sobj, st, sst = run_spopt(kind, cost, w, radius, p, fixed, args.cap)
        same = sobj is not None and sst == "optimal" and abs(ours - sobj) <= 1e-6 * max(1.0, abs(sobj))
        stxt = f"{sobj:>12.6g}" if sst == "optimal" else f"{'DNF':>12}"
        ratio = f"{st / ot:>6.1f}x" if sst == "optimal" else f">{st / ot:>5.1f}x"
        print(f"{name:<15} {kind:<8} {ours:>12.6g} {stxt} {str(same):>5} {ot:>7.2f} {st:>8.2f} {ratio}",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
