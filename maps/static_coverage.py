"""The coverage map as a print-ready figure: stations by kind, villages coloured by the straight-line
distance to the nearest station, service areas, boundaries, the largest gap villages numbered, and
a legend whose entries carry their counts (stations per kind, villages per distance band)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from geo_service.core.coverage import last_mile, location_line, village_weights
from geo_service.core.domain import STATION_KINDS
from geo_service.core.glossary import message, value_label, word

from .coverage import BAND_COLOURS, T, _band, last_mile_table, straight_service_areas
from .coverage_layers import ranked_gaps
from .locations import approx_groups, approx_mark, located_dataset, village_locations
from .names import county_name
from .render import check_lang, km, page_title
from .static_render import (
    legend_bottom,
    PageSize,
    boundaries,
    declutter,
    figure_context,
    finish_frame,
    fit_extent,
    layout,
    map_bounds,
    page_size,
    plain,
    plot_polygons,
    point_handle,
    source_text,
    stack_legends,
    text_block,
    to_metric,
)

# Station kinds on paper: a distinct marker shape and colour each (same colours as the web map).
STATION_MARKERS: dict[str, dict[str, Any]] = {
    "station_comprehensive": {"marker": "*", "color": "#c00000", "size": 15},
    "station_sector": {"marker": "s", "color": "#1f4e9c", "size": 8},
    "studio": {"marker": "D", "color": "#7b2d8e", "size": 7},
    "contact_point": {"marker": "^", "color": "#1b7f3b", "size": 8},
}
AREA_COLOURS = ("#1a9850", "#66bd63", "#fdae61", "#f46d43")
NO_STATION = "#999999"


@dataclass
class StaticMap:
    """A drawn figure and the figures its legend states (for checks and reports)."""

    fig: Any
    kind: str
    title: str
    counts: dict[str, Any] = field(default_factory=dict)


def station_handles(ds, *, lang: str, ms_scale: float = 1.0) -> tuple[list, list[str], dict[str, int]]:
    """Legend handles/labels for the station kinds present, with counts ("综合型委员工作站 (3)")."""
    counts = ds.stations["kind"].value_counts().to_dict()
    handles, labels, out = [], [], {}
    for k in STATION_KINDS:
        n = int(counts.get(k, 0))
        if not n:
            continue
        st = STATION_MARKERS[k]
        handles.append(point_handle(st["marker"], st["size"] * ms_scale * 0.8, st["color"], "white", 0.6))
        labels.append(f"{value_label('station_kind', k, lang)} ({n})")
        out[k] = n
    return handles, labels, out


def draw_stations(ax, ds, *, ms_scale: float = 1.0, zorder: int = 10) -> None:
    """Stations as markers by kind (white edge so they read over any fill)."""
    st = to_metric(ds.stations, ds.metric_crs)
    for k in STATION_KINDS:
        sub = st[st["kind"] == k]
        if not len(sub):
            continue
        s = STATION_MARKERS[k]
        ax.plot(sub.geometry.x, sub.geometry.y, linestyle="none", marker=s["marker"], markersize=s["size"] * ms_scale,
                markerfacecolor=s["color"], markeredgecolor="white", markeredgewidth=0.7, zorder=zorder)


def band_counts(measure: np.ndarray, thresholds: Sequence[float]) -> list[int]:
    """Villages per band: within thresholds[0], (t0, t1], ..., beyond the last, no station."""
    band = _band(measure, thresholds)
    return [int((band == i).sum()) for i in range(len(thresholds) + 2)]


def coverage_figure(ds, *, coverage: pd.DataFrame | None = None, lang: str = "zh",
                    thresholds_m: Sequence[float] = (5000, 10000, 20000), gap_threshold: float | None = None,
                    top_gaps: int = 10, size: PageSize | None = None,
                    source: str | None = None) -> StaticMap:
    """The coverage map of ``ds`` as a matplotlib Figure (see module doc); straight-line distances.

    ``coverage``: a precomputed :func:`geo_service.core.coverage.last_mile` table (else computed).
    ``thresholds_m``: distance bands (metres, increasing); ``gap_threshold``: villages beyond it
    are gaps (default the middle threshold), the ``top_gaps`` most populous numbered and listed.
    ``size``: :func:`maps.static_render.page_size` (default A4 landscape, 300 dpi).
    ``source``: the source line (default :func:`maps.static_render.source_text` of the dataset).
    Must be called inside :func:`maps.static_render.figure_context` (:func:`maps.static_maps.render`
    does that).
    """
    check_lang(lang)
    thresholds = _checked_thresholds(thresholds_m, top_gaps)
    t = T[lang]
    size = size or page_size()
    title = page_title(county_name(ds), "coverage", lang)
    gap_t = float(gap_threshold) if gap_threshold is not None else thresholds[min(1, len(thresholds) - 1)]
    sub = (message("maps_static_coverage_subtitle", lang, km=km(gap_t, lang)))
    lay = layout(size, title, sub)
    ms = size.inches[1] / 8.27  # marker scale: 1 on A4 landscape
    bounds = map_bounds(ds)
    fit_extent(lay.ax, bounds)
    _draw_service_areas(lay.ax, ds, thresholds)
    town_labels = boundaries(lay.ax, ds, fs=lay.fs_small * 0.9)

    v = ds.villages.reset_index(drop=True)
    loc = village_locations(v)
    measure = _straight_measure(ds, v, loc, coverage)
    vw = village_weights(v)  # shares and gap ranking: persons, or 1 per village when unknown
    by_pop = vw.basis == "population"
    pop = pd.to_numeric(v["population"], errors="coerce").fillna(0).to_numpy(dtype=float)  # dot sizes
    vx, vy, labels = _draw_villages(lay, ds, v, loc, _band(measure, thresholds), len(thresholds) + 1, pop,
                                    by_pop=by_pop, ms=ms)
    # gaps: located villages beyond the gap threshold, worst first (people, or distance without population)
    ranked = ranked_gaps(measure, loc, vw, gap_t)
    labels = _draw_gaps(lay, vx, vy, ranked[:top_gaps], ms) + labels + town_labels
    draw_stations(lay.ax, ds, ms_scale=ms)
    fit_extent(lay.ax, bounds)
    st_xy = ds.xy_m("stations") if len(ds.stations) else None
    declutter(lay.ax, labels, obstacles=st_xy, obstacle_px=3.5 * ms * size.dpi / 72)

    # legend: stations (counts), villages per band (counts), gaps
    sh, sl, st_counts = station_handles(ds, lang=lang, ms_scale=ms)
    counts = band_counts(measure[loc.located], thresholds)  # the unlocated are listed, not counted as far
    vh, vl = _village_handles(counts, thresholds, min(top_gaps, len(ranked)), bool(loc.approx.any()), ms=ms,
                              t=t, lang=lang)
    notes = [location_line(v, lang)] + ([t["dot_size"]] if by_pop else []) \
        + ([t["approx_note"]] if loc.approx.any() else [])
    legends = stack_legends(lay.panel, [(t["legend_st"], sh, sl), (t["legend_v"], vh, vl)], fs=lay.fs * 0.85)

    # summary: population covered per threshold, then the top gaps
    y = legend_bottom(lay.panel, legends) - 0.01
    y = text_block(lay.panel, y, notes, fs=lay.fs_small, bold_first=False)
    wts = vw.weights if by_pop else np.ones(len(v))
    lines, covered = _summary_lines(wts, measure, thresholds, gap_t, len(ranked), vw, t=t, lang=lang)
    y = text_block(lay.panel, y, lines, fs=lay.fs * 0.85)
    _gap_list(lay, y, v, loc, measure, ranked[:top_gaps], pop, n_ranked=len(ranked), gap_t=gap_t, by_pop=by_pop,
              tnames=ds.townships.set_index("id")["name"].to_dict(), t=t, lang=lang)

    finish_frame(lay, ds, lang=lang, source=source or source_text(getattr(ds, "name", ""), lang=lang))
    return StaticMap(lay.fig, "coverage", title, {
        "stations": st_counts, "bands": counts, "gaps": len(ranked), "covered_population": covered,
        "total_population": round(float(wts.sum())), "weight_basis": vw.basis, "thresholds_m": thresholds,
        "gap_threshold_m": gap_t})


def _checked_thresholds(thresholds_m: Sequence[float], top_gaps: int) -> list[float]:
    """``thresholds_m`` as floats; ``ValueError`` naming them unless positive and increasing, or
    ``top_gaps`` unless a non-negative integer."""
    thresholds = [float(x) for x in thresholds_m]
    if not thresholds or any(not np.isfinite(x) or x <= 0 for x in thresholds) or thresholds != sorted(thresholds):
        raise ValueError(f"thresholds_m must be positive and increasing, got {thresholds}")
    if not isinstance(top_gaps, int) or top_gaps < 0:
        raise ValueError(f"top_gaps must be a non-negative integer, got {top_gaps!r}")
    return thresholds


def _draw_service_areas(ax, ds, thresholds: list[float]) -> None:
    """Straight-line service areas, largest first (underneath)."""
    sa = straight_service_areas(ds, thresholds)
    sa = sa.dropna(subset=["geometry"]).to_crs(ds.metric_crs)
    for thr in sorted(sa["threshold_m"].unique(), reverse=True):
        i = thresholds.index(float(thr))
        col = AREA_COLOURS[min(len(AREA_COLOURS) - 1, i)]
        plot_polygons(ax, sa[sa["threshold_m"] == thr].geometry, facecolor=col, edgecolor=col, linewidth=0.5,
                      alpha=0.10, zorder=1)


def _straight_measure(ds, v, loc, coverage: pd.DataFrame | None) -> np.ndarray:
    """Per village of ``v``: the straight-line metres to the nearest station (NaN where unlocated)."""
    lm = last_mile_table(ds, coverage if coverage is not None else last_mile(located_dataset(ds)))
    measure = lm.drop_duplicates("village_id").set_index("village_id").reindex(v["id"].astype(str))[
        "distance_m"].to_numpy(dtype=float)
    return np.where(loc.unknown, np.nan, measure)


def _draw_villages(lay, ds, v, loc, band: np.ndarray, n_bands: int, pop: np.ndarray, *, by_pop: bool,
                   ms: float) -> tuple[np.ndarray, np.ndarray, list]:
    """Exact villages as dots by distance band (sized by population), approximate ones as one ring
    per seat with their count. Returns the villages' metric x, y and the count labels."""
    import matplotlib.patheffects as pe

    ax = lay.ax
    vm = v.geometry.to_crs(ds.metric_crs)
    ok = vm.notna().to_numpy() & ~vm.is_empty.to_numpy()
    vx = np.where(ok, vm.x.where(ok), np.nan)
    vy = np.where(ok, vm.y.where(ok), np.nan)
    colours = np.array([BAND_COLOURS[min(int(b), len(BAND_COLOURS) - 1)] if b < n_bands else NO_STATION for b in band])
    msize = ((np.clip(2.0 + np.sqrt(pop / 400.0), 2.0, 8.0) if by_pop else np.full(len(v), 3.0)) * ms) ** 2
    ex = np.flatnonzero(loc.exact)
    ax.scatter(vx[ex], vy[ex], s=msize[ex], c=colours[ex], edgecolors="#333", linewidths=0.3, zorder=6)
    labels = []  # placed without collisions, most important first: gap numbers, counts, townships
    for g in approx_groups(v, loc):  # approximate villages: one hollow ring per seat, with their count
        i = int(g[0])
        ax.scatter([vx[i]], [vy[i]], s=(9 * ms) ** 2, facecolors="none", edgecolors=colours[i], linewidths=1.6,
                   zorder=6)
        labels.append(ax.annotate(str(len(g)), (vx[i], vy[i]), xytext=(6 * ms, 5 * ms), textcoords="offset points",
                                  fontsize=lay.fs_small * 0.9, color="#333", zorder=11,
                                  path_effects=[pe.withStroke(linewidth=2.0, foreground="white")]))
    return vx, vy, labels


def _draw_gaps(lay, vx: np.ndarray, vy: np.ndarray, top: list[int], ms: float) -> list:
    """The numbered gap villages (``top``, worst first) ringed and numbered; returns the numbers."""
    import matplotlib.patheffects as pe

    ax = lay.ax
    if top:  # only the numbered ones are ringed: 600 rings would hide the colours
        gi = np.array(top)
        ax.scatter(vx[gi], vy[gi], s=(10 * ms) ** 2, facecolors="none", edgecolors="#b10026", linewidths=1.0,
                   zorder=7)
    gap_labels = []
    for r, i in enumerate(top, start=1):
        if np.isfinite(vx[i]):
            gap_labels.append(ax.annotate(str(r), (vx[i], vy[i]), xytext=(5 * ms, 4 * ms), textcoords="offset points",
                                          fontsize=lay.fs_small, color="#b10026", zorder=12,
                                          path_effects=[pe.withStroke(linewidth=2.2, foreground="white")]))
    return gap_labels


def _village_handles(counts: list[int], thresholds: list[float], n_top: int, approx: bool, *, ms: float, t: dict,
                     lang: str) -> tuple[list, list[str]]:
    """Legend handles and labels of the villages: one per distance band with its count, no station,
    the numbered gaps and the approximate rings (the last three when present)."""
    unit = word("maps_count_unit", lang)
    vh, vl = [], []
    lo = 0.0
    for i, thr in enumerate(thresholds):
        label = f"≤ {km(thr, lang)}" if i == 0 else f"{km(lo, lang)} – {km(thr, lang)}"
        vh.append(point_handle("o", 6 * ms, BAND_COLOURS[i], "#333", 0.3))
        vl.append(f"{label} ({counts[i]}{unit})")
        lo = thr
    vh.append(point_handle("o", 6 * ms, BAND_COLOURS[min(len(thresholds), len(BAND_COLOURS) - 1)], "#333", 0.3))
    vl.append(f"> {km(thresholds[-1], lang)} ({counts[len(thresholds)]}{unit})")
    if counts[-1]:
        vh.append(point_handle("o", 6 * ms, NO_STATION, "#333", 0.3))
        vl.append(f"{t['no_station']} ({counts[-1]}{unit})")
    if n_top:
        vh.append(point_handle("o", 9 * ms, "none", "#b10026", 0.9))
        vl.append(message("maps_static_coverage_top_gap_villages", lang, n_top=n_top))
    if approx:
        vh.append(point_handle("o", 8 * ms, "none", "#555", 1.4))
        vl.append(word("map_approx_short", lang))
    return vh, vl


def _summary_lines(wts: np.ndarray, measure: np.ndarray, thresholds: list[float], gap_t: float, n_gaps: int, vw, *,
                   t: dict, lang: str) -> tuple[list[str], dict[float, int]]:
    """The summary: people (or villages) covered within each threshold with their share, the total,
    the number of gap villages and the weighting note; and the covered figure per threshold."""
    by_pop = vw.basis == "population"
    total = float(wts.sum())
    lines = [f"{t['summary'] if by_pop else t['covered_villages']}"]
    covered = {}
    for thr in thresholds:
        cov = float(wts[measure <= thr].sum())
        covered[thr] = round(cov)
        share = f"{100.0 * cov / total:.1f}%" if total else "–"
        lines.append(message("maps_static_coverage_within", lang, within=t['threshold'], km=km(thr, lang), covered=round(cov), share=share))
    total_label = t["total_pop"] if vw.basis == "population" else (word("maps_static_coverage_villages", lang))
    lines.append(message("maps_static_coverage_total", lang, total_label=total_label, total=round(total)))
    lines.append(message("maps_static_coverage_gap_villages", lang, km=km(gap_t, lang), n_gaps=n_gaps))
    if vw.note:  # said once, as on the web map: shares count villages or fill unknown populations
        lines.append(vw.note)
    return lines, covered


def _gap_list(lay, y: float, v, loc, measure: np.ndarray, top: list[int], pop: np.ndarray, *, n_ranked: int,
              gap_t: float, by_pop: bool, tnames: dict, t: dict, lang: str) -> None:
    """The numbered gap villages (``top``) listed from ``y`` down, then the unlocated villages by name."""
    if n_ranked:
        gl = [(t["gap_list"] if by_pop else t["gap_list_villages"]).format(n=len(top))]
        for r, i in enumerate(top, start=1):
            d = measure[i]
            dist = approx_mark(km(round(float(d) / 100.0) * 100.0, lang), bool(loc.approx[i])) if np.isfinite(d) else "–"
            who = f"{int(pop[i]):,} · " if by_pop else ""
            gl.append(f"{r}. {v['name'].iloc[i]}（{tnames.get(v['township_id'].iloc[i], '')}）{who}{dist}")
        y = text_block(lay.panel, y, gl, fs=lay.fs_small)
    else:
        y = text_block(lay.panel, y, [t["no_gaps"].format(t=km(gap_t, lang))], fs=lay.fs_small, bold_first=False)
    if loc.unknown.any():  # never drawn at a made-up place: named here
        names = [f"{v['name'].iloc[i]}（{tnames.get(v['township_id'].iloc[i], '')}）" for i in np.flatnonzero(loc.unknown)]
        text_block(lay.panel, y - 0.01, [word("map_unlocated_list", lang).format(n=len(names)),
                                         "、".join(names[:20]) + ("…" if len(names) > 20 else "")], fs=lay.fs_small)


__all__ = ["STATION_MARKERS", "StaticMap", "coverage_figure", "draw_stations", "station_handles", "plain",
           "figure_context"]
