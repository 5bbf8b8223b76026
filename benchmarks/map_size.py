"""Coverage map of the demo county: HTML size, build time and first render in Chromium.

Compares ``maps.coverage_map`` (one compact ``L.geoJson`` per layer, canvas circle markers,
popups built in the browser from per-layer field labels) with the obvious Folium way: one
``folium.CircleMarker`` with an HTML ``Popup`` per village and one ``folium.Marker`` per station,
plus the same boundaries as ``folium.GeoJson``. Both pages load their assets from a loopback
server (vendored files), tiles are blocked, so the render time is the page's own work.

Run: ``.venv/bin/python benchmarks/map_size.py`` (``--no-browser`` to skip Chromium).
"""

from __future__ import annotations

import argparse
import functools
import html
import http.server
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import folium

import maps
from geo_service.coverage import last_mile
from geo_service.app.demo import generate_demo
from maps.assets import STATIC_DIR, localize
from maps.coverage import county_bounds

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def naive_map(ds) -> folium.Map:
    """The obvious Folium page: a Marker/CircleMarker object with an HTML popup per feature."""
    lm = last_mile(ds).set_index("village_id")
    b = county_bounds(ds)
    m = folium.Map(tiles="OpenStreetMap")
    m.fit_bounds([[b[1], b[0]], [b[3], b[2]]])
    folium.GeoJson(ds.townships[["name", "geometry"]].to_json(), name="townships").add_to(m)
    fg = folium.FeatureGroup(name="villages").add_to(m)
    for vid, name, pop, g in zip(ds.villages["id"], ds.villages["name"], ds.villages["population"],
                                 ds.villages.geometry):
        d = float(lm.at[vid, "nearest_m"])
        colour = "#1a9850" if d <= 5000 else "#a6d96a" if d <= 10000 else "#fdae61" if d <= 20000 else "#d73027"
        folium.CircleMarker([g.y, g.x], radius=5, color=colour, fill=True,
                            popup=folium.Popup(f"<b>{html.escape(name)}</b><br>人口 {pop}<br>{d:.0f} m"),
                            tooltip=html.escape(name)).add_to(fg)
    sg = folium.FeatureGroup(name="stations").add_to(m)
    for name, kind, g in zip(ds.stations["name"], ds.stations["kind"], ds.stations.geometry):
        folium.Marker([g.y, g.x], popup=folium.Popup(html.escape(f"{name} {kind}")), tooltip=html.escape(name),
                      icon=folium.Icon(color="red", icon="star", prefix="fa")).add_to(sg)
    folium.LayerControl().add_to(m)
    return localize(m)


def timed_render(build, repeat: int = 3) -> tuple[str, float]:
    times, out = [], ""
    for _ in range(repeat):
        t = time.perf_counter()
        out = build().get_root().render()
        times.append(time.perf_counter() - t)
    return out, min(times)


def first_render_ms(files: dict[str, str], repeat: int = 5) -> dict[str, float]:
    """Median navigation-to-load-end (ms) of each page in Chromium, assets from a loopback server."""
    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp(prefix="gs-bench-"))
    try:
        shutil.copytree(STATIC_DIR, root / "static")
        for name, text in files.items():
            (root / name).write_text(text, encoding="utf-8")
        handler = functools.partial(_QuietHandler, directory=str(root))
        srv = _QuietServer(("127.0.0.1", 0), handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{srv.server_address[1]}"
        out = {}
        with sync_playwright() as pw, tempfile.TemporaryDirectory() as prof:
            ctx = pw.chromium.launch_persistent_context(prof, executable_path=CHROMIUM, headless=True, args=ARGS,
                                                        viewport={"width": 1280, "height": 800})
            ctx.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort())
            for name in files:
                samples = []
                for i in range(repeat + 1):
                    page = ctx.new_page()
                    page.goto(f"{base}/{name}", wait_until="load")
                    ms = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
                    page.close()
                    if i:  # the first load warms the HTTP cache of the shared assets
                        samples.append(ms)
                out[name] = statistics.median(samples)
            ctx.close()
        srv.shutdown()
        return out
    finally:
        shutil.rmtree(root, ignore_errors=True)


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):  # a page closed mid-download: not a failure
        pass


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-browser", action="store_true")
    a = ap.parse_args()
    ds = generate_demo()
    c = ds.counts()
    print(f"demo county: {c['villages']} villages, {c['stations']} stations, {c['townships']} townships, "
          f"{c['counties']} county polygons")
    ours, t_ours = timed_render(lambda: maps.coverage_map(ds))
    naive, t_naive = timed_render(lambda: naive_map(ds), repeat=1)
    s_ours, s_naive = len(ours.encode()), len(naive.encode())
    print(f"{'':28s}{'HTML size':>12s}{'build+render':>14s}")
    print(f"{'maps.coverage_map':28s}{s_ours / 2**20:>10.2f} MB{t_ours:>12.2f} s")
    print(f"{'naive Folium (per-feature)':28s}{s_naive / 2**20:>10.2f} MB{t_naive:>12.2f} s")
    print(f"size ratio naive/ours: {s_naive / s_ours:.1f}x   (target: ours < 3 MB)")
    if a.no_browser or not os.path.exists(CHROMIUM):
        print("first render: skipped (no browser)")
        return
    ms = first_render_ms({"ours.html": ours, "naive.html": naive})
    print(f"first render in Chromium (median of 5, navigation start -> load end): "
          f"ours {ms['ours.html']:.0f} ms, naive {ms['naive.html']:.0f} ms, "
          f"ratio {ms['naive.html'] / ms['ours.html']:.1f}x   (target: ours < 2000 ms)")


if __name__ == "__main__":
    main()
