"""The gap-closing proposal as a print-ready figure: service area now and with the proposed contact
points, villages covered now / newly covered / still uncovered (legend counts), the proposed
points numbered, existing stations by kind, and the population covered before and after."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from geo_service.core.coverage import location_line, village_weights
from geo_service.core.glossary import message, value_label, word

from .coverage import straight_service_areas
from .gaps import STATUS_COLOURS, T, _gain_in_villages, _get, _Shim, coverage_change, gap_threshold_m, proposed_sites
from .locations import located_dataset
from .names import county_name
from .render import check_lang, km, page_title
from .static_coverage import StaticMap, draw_stations, station_handles
from .static_render import (
    PageSize,
    boundaries,
    declutter,
    finish_frame,
    fit_extent,
    layout,
    legend_bottom,
    map_bounds,
    page_size,
    plot_polygons,
    point_handle,
    source_text,
    stack_legends,
    text_block,
)

PROPOSED_COLOUR = "#e6550d"


def gaps_figure(ds, gap_result: Any, *, threshold_m: float | None = None, lang: str = "zh",
                size: PageSize | None = None, source: str | None = None,
                label_sites: int = 20) -> StaticMap:
    """The gap-closing map of ``gap_result`` (a ``solvers.gaps`` result or its dict) over ``ds``.

    ``threshold_m``: straight-line reach in metres (default the result's, else 10 km);
    ``label_sites``: the proposed points with the largest gain get their rank as a label (at most
    this many). Other arguments as :func:`maps.static_coverage.coverage_figure`.
    """
    check_lang(lang)
    t = T[lang]
    thr = gap_threshold_m(gap_result, threshold_m)
    sites = proposed_sites(gap_result)
    size = size or page_size()
    title = page_title(county_name(ds), "gaps", lang)
    sub = (message("maps_static_gaps_subtitle", lang, n_sites=len(sites), km=km(thr, lang)))
    lay = layout(size, title, sub)
    ms = size.inches[1] / 8.27
    bounds = map_bounds(ds, extra=sites)  # every station, village and proposed site inside the frame
    fit_extent(lay.ax, bounds)
    all_villages = ds.villages
    ds = located_dataset(ds)  # distances need a point: the unlocated are counted in the location line
    _draw_service_areas(lay.ax, ds, sites, thr)
    town_labels = boundaries(lay.ax, ds, fs=lay.fs_small * 0.9)

    v = ds.villages.reset_index(drop=True)
    status, gain = coverage_change(ds, sites, thr)
    vw = village_weights(v)  # persons, or 1 per village where the population is unknown
    if vw.basis != "population":  # newly covered villages per site, not people
        gain = _gain_in_villages(ds, sites, status)
    vm = v.geometry.to_crs(ds.metric_crs)
    for k in ("b", "a", "u"):
        sel = status == k
        lay.ax.scatter(vm.x[sel], vm.y[sel], s=(3.2 * ms) ** 2, c=STATUS_COLOURS[k], edgecolors="#333",
                       linewidths=0.25, zorder=6)
    draw_stations(lay.ax, ds, ms_scale=ms * 0.85)
    pm = sites.geometry.to_crs(ds.metric_crs)
    order = np.argsort(-gain, kind="stable")
    labels = _draw_sites(lay, pm, order[:label_sites], ms)
    fit_extent(lay.ax, bounds)
    obstacles = np.vstack([ds.xy_m("stations").reshape(-1, 2), np.column_stack([pm.x, pm.y]).reshape(-1, 2)])
    declutter(lay.ax, labels + town_labels, obstacles=obstacles, obstacle_px=3.5 * ms * size.dpi / 72)

    counts = {k: int((status == k).sum()) for k in ("b", "a", "u")}
    sh, sl, st_counts = station_handles(ds, lang=lang, ms_scale=ms * 0.85)
    legends = stack_legends(lay.panel, _legend_blocks(counts, len(sites), thr, ms=ms, t=t, lang=lang)
                            + [(t["stations"], sh, sl)], fs=lay.fs * 0.85)
    y = legend_bottom(lay.panel, legends) - 0.02
    pop = vw.weights
    total = float(pop.sum())
    pb, pa = round(float(pop[status == "b"].sum())), round(float(pop[status != "u"].sum()))
    lines = _summary_lines(total, pb, pa, len(sites), thr, t=t, lang=lang) + [location_line(all_villages, lang)]
    if vw.note:
        lines.append(vw.note)
    st = _get(gap_result, "status")
    if isinstance(st, str):
        lines.append(f"{t['solver']}{word('sep_colon', lang)}{value_label('outcome', st, lang)}")
    y = text_block(lay.panel, y, lines, fs=lay.fs * 0.85)
    if len(sites):
        by_pop = vw.basis == "population"
        head = word("maps_static_gaps_head_population" if by_pop else "maps_static_gaps_head_villages", lang)
        rows = [head] + [f"{r}. {sites['name'].iloc[i]} +{int(gain[i]):,}"
                         for r, i in enumerate(order[:label_sites], start=1)]
        text_block(lay.panel, y, rows, fs=lay.fs_small)
    finish_frame(lay, ds, lang=lang, source=source or source_text(getattr(ds, "name", ""), lang=lang))
    return StaticMap(lay.fig, "gaps", title, {
        "status": counts, "proposed": len(sites), "stations": st_counts, "covered_before": int(pb),
        "covered_after": int(pa), "total_population": round(total), "threshold_m": thr})


def _draw_service_areas(ax, ds, sites, thr: float) -> None:
    """The service area within ``thr`` metres with the proposed ``sites`` (blue), then now (green) over it."""
    before = straight_service_areas(ds, [thr]).dropna(subset=["geometry"]).to_crs(ds.metric_crs)
    both = pd.concat([ds.stations[["id", "name", "kind", "geometry"]],
                      sites.assign(kind="contact_point")[["id", "name", "kind", "geometry"]]], ignore_index=True)
    after = straight_service_areas(_Shim(ds, both), [thr]).dropna(subset=["geometry"]).to_crs(ds.metric_crs)
    plot_polygons(ax, after.geometry, facecolor="#2b8cbe", edgecolor="#2b8cbe", linewidth=0.5, alpha=0.12, zorder=1)
    plot_polygons(ax, before.geometry, facecolor="#1a9850", edgecolor="#1a9850", linewidth=0.5, alpha=0.14, zorder=1)


def _draw_sites(lay, pm, labelled: np.ndarray, ms: float) -> list:
    """The proposed sites (metric points ``pm``) as crosses, the ``labelled`` ones (indices, by
    gain) numbered; returns the numbers."""
    import matplotlib.patheffects as pe

    lay.ax.plot(pm.x, pm.y, linestyle="none", marker="P", markersize=10 * ms, markerfacecolor=PROPOSED_COLOUR,
                markeredgecolor="white", markeredgewidth=0.8, zorder=11)
    labels = []
    for r, i in enumerate(labelled, start=1):
        labels.append(lay.ax.annotate(str(r), (pm.x.iloc[i], pm.y.iloc[i]), xytext=(5 * ms, 4 * ms),
                                      textcoords="offset points", fontsize=lay.fs_small, color=PROPOSED_COLOUR,
                                      zorder=12, path_effects=[pe.withStroke(linewidth=2.2, foreground="white")]))
    return labels


def _legend_blocks(counts: dict[str, int], n_sites: int, thr: float, *, ms: float, t: dict,
                   lang: str) -> list[tuple[str, list, list[str]]]:
    """Legend blocks of the proposal (sites, service area now and with them) and of the villages
    by status with their counts."""
    from matplotlib.patches import Patch

    unit = word("maps_count_unit", lang)
    names = {"b": t["covered_now"], "a": t["newly"], "u": t["still"]}
    vh = [point_handle("o", 6 * ms, STATUS_COLOURS[k], "#333", 0.3) for k in ("b", "a", "u")]
    vl = [f"{names[k]} ({counts[k]}{unit})" for k in ("b", "a", "u")]
    ph = [point_handle("P", 9 * ms, PROPOSED_COLOUR, "white"),
          Patch(facecolor="#1a9850", alpha=0.3, edgecolor="#1a9850"),
          Patch(facecolor="#2b8cbe", alpha=0.25, edgecolor="#2b8cbe")]
    pl = [f"{t['site']} ({n_sites}{unit})", f"{t['before']} {km(thr, lang)}", f"{t['after']} {km(thr, lang)}"]
    return [(t["proposed"], ph, pl), (t["villages"], vh, vl)]


def _summary_lines(total: float, pb: float, pa: float, n_sites: int, thr: float, *, t: dict, lang: str) -> list[str]:
    """The summary's first lines: the title, covered before and after with shares, the number of points."""
    def share(x: float) -> str:
        return f"{100.0 * x / total:.1f}%" if total else "–"

    sep = word("sep_colon", lang)
    return [f"{t['title']} ({km(thr, lang)})", f"{t['before_h']}{sep}{int(pb):,}（{share(pb)}）",
            f"{t['after_h']}{sep}{int(pa):,}（{share(pa)}）", f"{t['n']}{sep}{n_sites} {t['unit']}"]
