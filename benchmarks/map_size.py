"""Coverage map of the demo county: HTML size, build time and first render in Chromium.

Compares ``maps.coverage_map`` (one compact ``L.geoJson`` per layer, canvas circle markers,
popups built in the browser from per-layer field labels) with the obvious Folium way: one
``folium.CircleMarker`` with an HTML ``Popup`` per village and one ``folium.Marker`` per station,
plus the same boundaries as ``folium.GeoJson``. Both pages load their assets from a loopback
server (vendored files), tiles are blocked, so the render time is the page's own work.

Run: ``.venv/bin/python benchmarks/map_size.py`` (``--no-browser`` to skip Chromium).

``--province N``: the same for a synthetic province of about N villages
(:func:`geo_service.app.province_merge.province_dataset`; 20000 -> 37 counties), our map only
(the naive page of 20,000 Folium objects would take minutes); ``--no-demo`` skips the demo county.
Over :data:`maps.aggregate.LARGE_VILLAGES` villages the first page holds hex-bin aggregates, and
villages load by bounding box from the service as the planner zooms in (also printed: the
size and time of one bbox answer for a 1280 x 800 view at the detail zoom).
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
from geo_service.core.coverage import last_mile
from geo_service.app.demo import generate_demo
from maps.assets import STATIC_DIR, localize
from maps.page import county_bounds

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
                samples, paints = [], []
                for i in range(repeat + 1):
                    page = ctx.new_page()
                    page.goto(f"{base}/{name}", wait_until="load")
                    ms = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
                    # Leaflet's canvas draws on the next animation frames: time until two have run
                    painted = page.evaluate("new Promise(r => requestAnimationFrame(() => "
                                            "requestAnimationFrame(() => r(performance.now()))))")
                    page.close()
                    if i:  # the first load warms the HTTP cache of the shared assets
                        samples.append(ms)
                        paints.append(painted)
                out[name] = statistics.median(samples)
                out[name + ":painted"] = statistics.median(paints)
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


def province(a) -> None:
    """Size and first render of the coverage map of a synthetic province of ``a.province`` villages."""
    from geo_service.app.province_merge import province_dataset

    t = time.perf_counter()
    ds = province_dataset(a.province, seed=a.seed)
    c = ds.counts()
    print(f"province: {c['villages']} villages, {c['stations']} stations, {c['townships']} townships, "
          f"{c['counties']} counties (generated in {time.perf_counter() - t:.1f} s)")
    page, t_page = timed_render(lambda: maps.coverage_map(ds, **_served(ds)), repeat=1)
    size = len(page.encode())
    print(f"maps.coverage_map (as served)  {size / 2**20:>8.2f} MB  {size / c['villages']:>6.0f} B/village"
          f"  build+render {t_page:.1f} s   (target: < 3 MB)")
    detail_answer(ds)
    if a.no_browser or not os.path.exists(CHROMIUM):
        print("first render: skipped (no browser)")
        return
    ms = first_render_ms({"province.html": page})
    print(f"first render in Chromium (median of 5, navigation start -> load end): "
          f"{ms['province.html']:.0f} ms, -> two frames painted: {ms['province.html:painted']:.0f} ms"
          f"   (target: < 2000 ms)")


def detail_answer(ds) -> None:
    """Bytes and time of the bbox endpoint's answer for a 1280 x 800 view at the detail zoom."""
    try:
        from maps.aggregate import DETAIL_LIMIT, DETAIL_ZOOM
        from maps.details import village_details
    except ImportError:
        return  # before the province-size maps
    import numpy as np

    t = time.perf_counter()
    det = village_details(ds)
    t_build = time.perf_counter() - t
    x, y = ds.villages.geometry.x.to_numpy(), ds.villages.geometry.y.to_numpy()
    cx, cy = float(np.median(x)), float(np.median(y))
    w = 1280 * 360 / (256 * 2**DETAIL_ZOOM)  # degrees of longitude in view (Web Mercator)
    h = 800 * 360 / (256 * 2**DETAIL_ZOOM) * np.cos(np.radians(cy))
    box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    times = []
    for _ in range(20):
        t = time.perf_counter()
        body = det.answer(box, DETAIL_LIMIT)
        times.append(time.perf_counter() - t)
    n = len(det.inside(box))
    print(f"bbox answer at zoom {DETAIL_ZOOM} (1280x800 view, centre): {n} villages, {len(body) / 1024:.0f} KB, "
          f"{statistics.median(times) * 1000:.1f} ms (details built once per dataset version: {t_build:.1f} s)")


def _served(ds) -> dict:
    """coverage_map's keywords as the service calls it (village details from the bbox endpoint)."""
    import inspect

    if "detail_url" in inspect.signature(maps.coverage_map).parameters:
        return {"detail_url": "coverage/villages"}
    return {}  # before the province-size maps: every village on the page


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--province", type=int, default=0, metavar="N",
                    help="also measure a synthetic province of about N villages (e.g. 20000)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the synthetic province")
    ap.add_argument("--no-demo", action="store_true", help="skip the demo county")
    a = ap.parse_args()
    if not a.no_demo:
        demo(a)
    if a.province:
        province(a)


def demo(a) -> None:
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
          f"ratio {ms['naive.html'] / ms['ours.html']:.1f}x   (target: ours < 2000 ms); two frames painted: "
          f"ours {ms['ours.html:painted']:.0f} ms, naive {ms['naive.html:painted']:.0f} ms")


if __name__ == "__main__":
    main()
