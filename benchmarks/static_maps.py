"""Time to draw the print-ready static maps of the demo county (A4 landscape; PNG/PDF/SVG).

    PYTHONPATH=. python benchmarks/static_maps.py [--dpi 300] [--repeat 2]

Per map and format: seconds to draw and encode (best of ``--repeat``, one process, warm: the demo,
its last-mile table's inputs, the optimisation run and the gap proposal are made once before and
not counted), the size of the file, and for PNG its pixels. The HTML (Folium) map of the same kind
is timed alongside as the obvious alternative a planner has today.
"""

from __future__ import annotations

import argparse
import time
import warnings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dpi", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    warnings.simplefilter("ignore")

    import maps
    from geo_service.app.demo import generate_demo
    from maps.static_maps import render
    from maps.static_render import page_size
    from solvers.gaps import close_gaps
    from solvers.pipeline import run_optimisation

    ds = generate_demo()
    t = time.perf_counter()
    run = run_optimisation(ds).to_dict()
    t_run = time.perf_counter() - t
    t = time.perf_counter()
    gaps = close_gaps(ds, threshold_m=10000)
    t_gaps = time.perf_counter() - t
    size = page_size(dpi=args.dpi)
    print(f"demo: {ds.counts()}; optimisation {t_run:.1f} s, gap proposal {t_gaps:.1f} s (not counted below)")
    print(f"page A4 landscape at {args.dpi} dpi = {size.pixels[0]} x {size.pixels[1]} px")
    render("coverage", ds, fmt="png", size=page_size(dpi=50))  # warm-up: font, imports
    print(f"{'map':<11} {'format':<6} {'seconds':>8} {'size':>10}   HTML map (s)")
    html_s = {}
    for kind, build in (("coverage", lambda: maps.coverage_map(ds)),
                        ("gaps", lambda: maps.gaps_map(ds, gaps, threshold_m=10000)),
                        ("assignment", lambda: maps.assignment_map(ds, run))):
        t = time.perf_counter()
        build().get_root().render()
        html_s[kind] = time.perf_counter() - t
        for fmt in ("png", "pdf", "svg"):
            best, out = float("inf"), None
            for _ in range(args.repeat):
                out = render(kind, ds, fmt=fmt, size=size, result=run, gap_result=gaps, threshold_m=10000)
                best = min(best, out.seconds)
            print(f"{kind:<11} {fmt:<6} {best:>8.2f} {len(out.data) / 1e6:>8.2f} MB   {html_s[kind]:.2f}")


if __name__ == "__main__":
    main()
