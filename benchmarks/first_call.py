"""First call after install: compiled kernels cold (nothing cached) against after ``geo-service warm``.

    PYTHONPATH=. .venv/bin/python benchmarks/first_call.py

Each measurement is a fresh Python process with its own empty numba cache folder
(``NUMBA_CACHE_DIR``), so nothing compiled earlier on the machine helps: "cold" times a
p-median (Lagrangian, p = 5), a p-median with large p (local search, p = 20) and a 20,000-point
nearest lookup twice each in a process that compiles them (first call minus second = what
compiling costs); "after warm" runs ``warm()`` in one process and times the same calls in the
next. Import time is reported apart. Prints the load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

CALLS = r"""
import json, time
t = time.perf_counter()
import numpy as np
from solvers.location import p_median
from geo_service.app.warm import _warm_index
out = {"import_s": time.perf_counter() - t}
calls = {"pmedian": lambda: p_median(np.random.default_rng(1).uniform(100, 1e4, (200, 50)), 5, time_limit=20.0),
         "pmedian_large": lambda: p_median(np.random.default_rng(2).uniform(100, 1e4, (120, 60)), 20,
                                           time_limit=20.0),
         "nearest_20k": lambda: _warm_index(np.random.default_rng(3))}
for name, f in calls.items():
    for turn in ("first", "second"):
        t = time.perf_counter(); f()
        out[f"{name}_{turn}_s"] = time.perf_counter() - t
print(json.dumps(out))
"""

def run(code: str, cache: str) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    print(f"load average before: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})")
    with tempfile.TemporaryDirectory() as cold_dir, tempfile.TemporaryDirectory() as warm_dir:
        cold = run(CALLS, cold_dir)
        w = run("import json; from geo_service.app.warm import warm; print(json.dumps(warm()))", warm_dir)
        after = run(CALLS, warm_dir)
    for name, r in (("cold (nothing cached)", cold), ("after warm", after)):
        parts = [f"{k} first {r[k + '_first_s']:.2f} s (second {r[k + '_second_s']:.2f} s)"
                 for k in ("pmedian", "pmedian_large", "nearest_20k")]
        extra = sum(r[k + "_first_s"] - r[k + "_second_s"] for k in ("pmedian", "pmedian_large", "nearest_20k"))
        print(f"{name}: import {r['import_s']:.2f} s; " + "; ".join(parts)
              + f"; first-call overhead in all {extra:.2f} s")
    print(f"warm step itself: {w['time_s']:.2f} s {w['kernels']}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
