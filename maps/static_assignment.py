"""The assignment of a run as a print-ready figure: townships filled by their committee, villages
coloured by their responsible group, members' homes by group, stations by kind; the legend gives
per group its members and villages and per committee its townships.

No member-to-constituent lines: at county scale they are an unreadable web on paper;
``result`` is read as in :func:`maps.assignment.tier_assignment` (ids only).
Without a result, the dataset's own members' groups are drawn and no village or township tier.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from .assignment import T, tier_assignment
from .names import county_name
from .render import check_lang, page_title, palette
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
    to_metric,
)
from geo_service.core.glossary import message, word


def assignment_figure(ds, result: Any = None, *, lang: str = "zh", size: PageSize | None = None,
                      source: str | None = None) -> StaticMap:
    """The assignment map of ``result`` (an OptimisationResult or its dict; None: the dataset's
    own member groups) over ``ds``. Other arguments as :func:`maps.static_coverage.coverage_figure`."""
    check_lang(lang)
    t = T[lang]
    size = size or page_size()
    title = page_title(county_name(ds), "assignment", lang)
    sub = (word("maps_static_assignment_subtitle", lang))
    lay = layout(size, title, sub)
    ms = size.inches[1] / 8.27
    bounds = map_bounds(ds)
    fit_extent(lay.ax, bounds)

    gids = ds.groups["id"].astype(str).tolist()
    gcol = dict(zip(gids, palette(len(gids))))
    kids = ds.committees["id"].astype(str).tolist()
    kcol = dict(zip(kids, palette(len(kids), pastel=True)))
    t_a = tier_assignment(result, "townships")
    tw = to_metric(ds.townships, ds.metric_crs)
    if len(tw) and t_a:
        fills = [kcol.get(t_a.get(str(i)), "none") for i in tw["id"]]
        plot_polygons(lay.ax, tw.geometry.simplify(30.0), facecolor=fills, edgecolor="none", alpha=0.55, zorder=1)
    town_labels = boundaries(lay.ax, ds, fs=lay.fs_small * 0.9)
    vg = _draw_villages(lay.ax, ds, tier_assignment(result, "villages"), gids, gcol, ms)
    mem = ds.members.reset_index(drop=True)
    mg = mem["group_id"].astype(object).where(mem["group_id"].notna(), None).tolist()
    _draw_members(lay.ax, ds, mem, mg, gids, gcol, ms)
    draw_stations(lay.ax, ds, ms_scale=ms * 0.8)
    fit_extent(lay.ax, bounds)
    declutter(lay.ax, town_labels, obstacles=ds.xy_m("stations") if len(ds.stations) else None,
              obstacle_px=3.5 * ms * size.dpi / 72)

    n_mem = Counter(g for g in mg if g)
    n_vil = Counter(g for g in vg if g)
    n_tw = Counter(k for k in t_a.values() if k)
    blocks = _legend_blocks(ds, gids, gcol, kids, kcol, n_mem, n_vil, n_tw, with_committees=bool(t_a), ms=ms,
                            lang=lang)
    sh, sl, st_counts = station_handles(ds, lang=lang, ms_scale=ms * 0.8)
    blocks.append((t["members"] + (word("maps_static_assignment_stations", lang)),
                   [point_handle("o", 5 * ms, "#555", "white")] + sh,
                   [(message("maps_static_assignment_member_homes", lang, n_mem=len(mem)))] + sl))
    n_rows = sum(len(b[1]) for b in blocks)
    legend_fs = lay.fs * (0.85 if n_rows <= 22 else max(0.45, 0.85 * 22 / n_rows))
    legends = stack_legends(lay.panel, blocks, fs=legend_fs, gap=0.02)
    legend_bottom(lay.panel, legends)
    finish_frame(lay, ds, lang=lang, source=source or source_text(getattr(ds, "name", ""), lang=lang))
    return StaticMap(lay.fig, "assignment", title, {
        "members_per_group": {g: n_mem.get(g, 0) for g in gids},
        "villages_per_group": {g: n_vil.get(g, 0) for g in gids},
        "townships_per_committee": {k: n_tw.get(k, 0) for k in kids}, "stations": st_counts,
        "constituents_assigned": sum(1 for x in tier_assignment(result, "constituents").values() if x)})


def _draw_villages(ax, ds, v_a: dict[str, str | None], gids: list[str], gcol: dict[str, str], ms: float) -> np.ndarray:
    """Villages without a group as small grey dots, the others as squares in their group's colour;
    returns the group per village (``ds.villages`` order, None: none)."""
    v = ds.villages.reset_index(drop=True)
    vm = v.geometry.to_crs(ds.metric_crs)
    vg = np.array([v_a.get(str(i)) for i in v["id"]], dtype=object)
    free = np.array([g is None for g in vg])
    ax.scatter(vm.x[free], vm.y[free], s=(1.6 * ms) ** 2, c="#bbbbbb", linewidths=0, zorder=5)
    for g in gids:
        sel = vg == g
        if sel.any():
            ax.scatter(vm.x[sel], vm.y[sel], s=(5 * ms) ** 2, c=gcol[g], edgecolors="#222", linewidths=0.5,
                       marker="s", zorder=7)
    return vg


def _draw_members(ax, ds, mem, mg: list, gids: list[str], gcol: dict[str, str], ms: float) -> None:
    """Members' homes in their group's colour (``mg``: group per member; grey without one)."""
    mm = mem.geometry.to_crs(ds.metric_crs)
    for g in gids + [None]:
        sel = np.array([x == g for x in mg])
        if sel.any():
            ax.scatter(mm.x[sel], mm.y[sel], s=(3.2 * ms) ** 2, c=gcol.get(g, "#555555") if g else "#555555",
                       edgecolors="white", linewidths=0.5, zorder=8)


def _legend_blocks(ds, gids: list[str], gcol: dict[str, str], kids: list[str], kcol: dict[str, str], n_mem: Counter,
                   n_vil: Counter, n_tw: Counter, *, with_committees: bool, ms: float, lang: str) -> list:
    """Legend blocks: groups with their members and villages, committees with their townships."""
    from matplotlib.patches import Patch

    gname = dict(zip(gids, ds.groups["name"]))
    kname = dict(zip(kids, ds.committees["name"]))
    glabel = [f"{gname[g]}  {n_mem.get(g, 0)} · {n_vil.get(g, 0)}" for g in gids]
    klabel = [f"{kname[k]}  {n_tw.get(k, 0)}" for k in kids]
    gh = [point_handle("s", 6 * ms, gcol[g], "#222", 0.4) for g in gids]
    blocks = [((word("maps_static_assignment_groups", lang)), gh, glabel)]
    if with_committees:
        blocks.append(((word("maps_static_assignment_committees", lang)),
                       [Patch(facecolor=kcol[k], alpha=0.7) for k in kids], klabel))
    return blocks
