"""The solvers on the demo county: wall time of each and a fingerprint of every answer.

Run from the repository root (or from a copy of an older tree, to hold two versions against each
other in one run)::

    .venv/bin/python benchmarks/solvers_same.py

Times (median of ``--repeat`` runs) the whole optimisation (four tiers), its result tables and the
责任区 workbook, gap closing (LSCP and MCLP with 5 new points, 5 km), and a 12-month roster (one
CP-SAT worker, so the answer does not depend on thread timing; consultations off, their CP-SAT runs
two workers), and prints a SHA-1 of each answer's JSON without its timings: equal fingerprints
are the same answers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo_service.app.demo import generate_demo  # noqa: E402
from solvers.gaps import close_gaps  # noqa: E402
from solvers.pipeline import run_optimisation  # noqa: E402
from solvers.roster import RosterProblem  # noqa: E402
from solvers.tables import result_notes, result_tables  # noqa: E402

try:  # the workbook writer: the application floor's composition, or (older trees) the solvers' own
    from geo_service.app.outputs import write_result_xlsx
except ImportError:
    from solvers.tables import write_xlsx as write_result_xlsx

TIMING_KEYS = {"time_s", "time_to_first_s", "timings"}


def fingerprint(d: object) -> str:
    """SHA-1 of the JSON of ``d`` without timing keys (the first 12 hex digits)."""
    def strip(o: object) -> object:
        if isinstance(o, dict):
            return {k: strip(v) for k, v in o.items() if k not in TIMING_KEYS}
        if isinstance(o, list):
            return [strip(v) for v in o]
        return o
    return hashlib.sha1(json.dumps(strip(d), sort_keys=True, default=str).encode()).hexdigest()[:12]


def timed(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    a = ap.parse_args()
    import geo_service

    print(f"tree: {Path(geo_service.__file__).resolve().parents[1]}  load {os.getloadavg()}")
    ds = generate_demo()
    s, res = timed(lambda: run_optimisation(ds, {"time_limit_s": 60}), a.repeat)
    print(f"optimisation (4 tiers) : {s:6.2f} s  answer {fingerprint(res.to_dict())}")

    def workbook() -> int:
        with tempfile.TemporaryDirectory() as d:
            t = result_tables(res, ds, "zh")
            return write_result_xlsx(t, Path(d) / "r.xlsx", lang="zh", notes=result_notes(res, ds, "zh")).stat().st_size
    s, size = timed(workbook, a.repeat)
    tables = {k: v.to_csv(index=False) for k, v in result_tables(res, ds, "zh").items() if k != "summary"}
    print(f"tables + 责任区 workbook: {s:6.2f} s  ({size / 1024:.0f} KiB) tables {fingerprint(tables)}")
    for model, k in (("lscp", None), ("mclp", 5)):
        s, g = timed(lambda: close_gaps(ds, threshold_m=5000, k=k, model=model, time_limit=60), a.repeat)
        print(f"close gaps ({model:4s})      : {s:6.2f} s  answer {fingerprint(g.to_dict())}")
    prm = {"start": "2027-01", "months": 12, "num_workers": 1, "consultations": False}
    s, r = timed(lambda: RosterProblem.from_dataset(ds, prm).solve(time_limit_s=60, seed=0), a.repeat)
    print(f"roster (12 months)     : {s:6.2f} s  status {r.status}, answer {fingerprint(r.to_dict())}")
    print(f"load {os.getloadavg()}")


if __name__ == "__main__":
    main()
