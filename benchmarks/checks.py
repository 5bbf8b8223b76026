"""Time of the static checks ``scripts/test.sh`` runs before the tests: ruff, import-linter, mypy.

Usage: ``python benchmarks/checks.py [--runs 3]`` from the repository root. Each check runs in a
fresh process (the tools of the interpreter's environment); mypy twice per round: cold (an empty
cache, as on a fresh clone in CI) and warm (the cache of the cold run, as on a second local run).
Prints the median CPU seconds (user + system of the child) and wall seconds of each, and the load
average, since the machine may be shared.
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
from pathlib import Path

BIN = Path(sys.executable).parent


def timed(cmd: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one child process ``cmd``, which must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="rounds; medians are printed")
    args = ap.parse_args()
    if args.runs < 1:
        raise ValueError(f"runs must be at least 1, got {args.runs}")
    print("load average before:", os.getloadavg())
    times: dict[str, list[tuple[float, float]]] = {}
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as cache:
            cases = {
                "ruff check": [str(BIN / "ruff"), "check", "geo_service", "api", "solvers", "maps", "tests",
                               "scripts", "benchmarks"],
                "lint-imports": [str(BIN / "lint-imports"), "--no-cache"],
                "mypy, cold cache": [str(BIN / "mypy"), "--cache-dir", cache],
                "mypy, warm cache": [str(BIN / "mypy"), "--cache-dir", cache],
            }
            for name, cmd in cases.items():
                times.setdefault(name, []).append(timed(cmd))
    print(f"{'check':<20} {'CPU s':>7} {'wall s':>7}   (median of {args.runs})")
    for name, ts in times.items():
        cpu, wall = statistics.median(t[0] for t in ts), statistics.median(t[1] for t in ts)
        print(f"{name:<20} {cpu:7.2f} {wall:7.2f}")
    print("load average after:", os.getloadavg())


if __name__ == "__main__":
    main()
