"""Start-up cost of the command line: CPU seconds of a fresh process, median of several runs.

Usage: ``python benchmarks/startup.py [--repo DIR ...] [--runs 5]``. Each ``--repo`` is a checkout
whose code is put first on ``sys.path`` (compare two revisions in one run); default the current
directory. The reference is ``import geopandas`` in a fresh interpreter: the target is that light
commands cost at most 1.5x as much.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

CASES = {
    "import geopandas (reference)": ["-c", "import geopandas"],
    "geo-service --help": ["-m", "geo_service.cli", "--help"],
    "geo-service optimise --help": ["-m", "geo_service.cli", "optimise", "--help"],
    "geo-service template --out DIR/": ["-m", "geo_service.cli", "template", "--out", "{tmp}/tpl/"],
}


def cpu_of(args: list[str], repo: str) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one child ``python args`` with ``repo`` first on the path."""
    env = {**os.environ, "PYTHONPATH": repo}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=repo, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repo", action="append", help="checkout to measure (repeatable); default: .")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    repos = [os.path.abspath(r) for r in (a.repo or ["."])]
    print(f"| command | {' | '.join(os.path.basename(r) or r for r in repos)} |")
    print(f"|---|{'---|' * len(repos)}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, args in CASES.items():
            cells = []
            for repo in repos:
                args_r = [x.replace("{tmp}", tmp) for x in args]
                runs = [cpu_of(args_r, repo) for _ in range(a.runs)]
                cpu = statistics.median(r[0] for r in runs)
                wall = statistics.median(r[1] for r in runs)
                cells.append(f"{cpu:.2f} s CPU ({wall:.2f} s wall)")
            print(f"| {name} | {' | '.join(cells)} |", flush=True)


if __name__ == "__main__":
    main()
