"""Counties per minute of ``geo-service batch`` on Dask with 1 and 2 workers, vs a plain loop.

Builds a synthetic province (:func:`geo_service.province.generate_province`, ``--counties``
counties, each a tenth of the demo county: ~40 members, ~100 villages), stores it in an embedded
store in a temporary directory, then runs coverage + optimisation for every county:

- ``loop``: :func:`geo_service.batch.process_county` in this process, one county after another
  (the obvious alternative, no Dask, results not written);
- ``dask-N``: :func:`geo_service.batch.run_batch` on a ``LocalCluster`` of N worker processes
  (1 thread each), results written to the store as job records;
- ``no-op``: the same batch with a county function that does nothing, i.e. the batch's own
  overhead per county (job records in the store, sending the dataset, scheduling).

Throughput excludes cluster start-up (printed separately). On a shared 2-core machine the
2-worker figure is bounded by the cores other work leaves free.

    .venv/bin/python benchmarks/batch.py [--counties 40] [--workers 1 2] [--time-limit 30]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def no_work(ds, params):
    """A county function that does nothing: measures the batch's own overhead per county."""
    return {"dataset_id": ds.name, "status": "optimal", "time_s": 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counties", type=int, default=40)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--time-limit", type=float, default=30.0, help="solver time limit per county (s)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from geo_service.batch import check_params, process_county, run_batch, store_province
    from geo_service.province import generate_province
    from geo_service.store import SQLiteStore

    t = time.perf_counter()
    counties = generate_province(args.counties, seed=args.seed)
    print(f"generated {args.counties} counties in {time.perf_counter() - t:.1f} s "
          f"(mean {sum(len(d.villages) for d in counties) / len(counties):.0f} villages, "
          f"{sum(len(d.members) for d in counties) / len(counties):.0f} members, "
          f"{sum(len(d.constituents) for d in counties) / len(counties):.0f} constituents per county)")
    params = check_params({"optimisation": {"time_limit_s": args.time_limit}})

    rows = []
    t = time.perf_counter()
    statuses = [process_county(ds, params)["status"] for ds in counties]
    loop_s = time.perf_counter() - t
    rows.append(("loop (no Dask)", 1, loop_s, 0.0, len(counties), statuses.count("optimal")))

    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(tmp)
        ids = store_province(store, counties)
        for n in args.workers:
            rep = run_batch(store, ids, params, n_workers=n, threads_per_worker=1, processes=True, progress=False)
            rows.append((f"dask, {n} worker(s)", n, rep.elapsed_s, rep.startup_s, len(rep.succeeded),
                         sum(o.result_status == "optimal" for o in rep.succeeded)))
        rep = run_batch(store, ids, params, n_workers=max(args.workers), processes=True, progress=False,
                        func=no_work)
        overhead = ("dask, no-op county", max(args.workers), rep.elapsed_s, rep.startup_s, len(rep.succeeded), 0)

    print(f"\n{'run':<20}{'workers':>8}{'time s':>9}{'startup s':>11}{'ok':>5}{'optimal':>9}"
          f"{'counties/min':>14}{'vs loop':>9}")
    for name, n, secs, start, ok, opt in [*rows, overhead]:
        cpm = 60 * args.counties / secs
        print(f"{name:<20}{n:>8}{secs:>9.1f}{start:>11.1f}{ok:>5}{opt:>9}{cpm:>14.1f}{loop_s / secs:>8.2f}x")
    print(f"\nbatch overhead (job records, transfer, scheduling): {1000 * overhead[2] / args.counties:.0f} ms "
          f"per county, a ceiling of {60 * args.counties / overhead[2]:.0f} counties/min for this driver")
    print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} CPUs")
    dask = {n: secs for _name, n, secs, *_ in rows[1:]}
    if 1 in dask and 2 in dask:
        print(f"\nscaling 1 -> 2 workers: {dask[1] / dask[2]:.2f}x")


if __name__ == "__main__":
    main()
