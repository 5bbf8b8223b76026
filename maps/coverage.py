"""The coverage map: stations by kind, villages coloured by last-mile distance, service areas,
boundaries, ranked gap villages and a summary of the population covered per threshold."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_service.core.coverage import last_mile
from geo_service.core.coverage import service_areas as road_service_areas
from geo_service.core.coverage import village_weights
from geo_service.core.glossary import LANGS, map_words, message, value_label, word
from geo_service.core.network import RoadNetwork

from .aggregate import LARGE_VILLAGES, add_overview
from .coverage_layers import approx_village_layer, exact_village_layer, gap_layer, ranked_gaps, village_facts
from .locations import approx_mark, located_dataset, location_statement_html, unlocated_html, village_locations
from .names import county_name
from .page import legend_box, open_map, summary_box
from .render import (
    DataLayer,
    NameSearch,
    check_lang,
    esc,
    feature_collection,
    finish,
    km,
    legend_html,
    minutes,
    simplify_m,
    tile_datum,
)
from .stations import add_stations, station_labels, station_legend_rows

# Last-mile colour scale: one colour per band (within threshold 1, 2, 3, beyond), ColorBrewer RdYlGn.
BAND_COLOURS = ("#1a9850", "#a6d96a", "#fdae61", "#d73027", "#7f0000")
AREA_COLOURS = ("#1a9850", "#66bd63", "#fdae61", "#f46d43")

# Every word the map shows comes from the one glossary (popup fields carry their FIELDS name).
T = {lang: {**map_words(lang), "legend_st": word("map_legend_stations", lang),
            "legend_v": word("map_legend_villages", lang)} for lang in LANGS}


def last_mile_table(ds, coverage: pd.DataFrame | None = None, *, network=None) -> pd.DataFrame:
    """Per village: ``village_id``, ``station_id`` (nearest), ``distance_m`` and, with a road
    network, ``time_s``. Uses :func:`geo_service.core.coverage.last_mile` unless ``coverage`` gives it
    (either that function's columns or these)."""
    if coverage is None:
        coverage = last_mile(ds, network)
    c = coverage
    if "nearest_m" in c.columns:
        out = pd.DataFrame({"village_id": c["village_id"].astype(str), "station_id": c["nearest_id"],
                            "distance_m": pd.to_numeric(c["nearest_m"])})
        if "nearest_s" in c.columns:
            out["time_s"] = pd.to_numeric(c["nearest_s"])
            out["station_id_road"] = c["nearest_road_id"]
        return out
    missing = {"village_id", "distance_m"} - set(c.columns)
    if missing:
        raise ValueError(f"coverage table lacks column(s) {sorted(missing)}; expected the columns of "
                         "geo_service.core.coverage.last_mile or village_id, station_id, distance_m[, time_s]")
    return c.assign(village_id=c["village_id"].astype(str))


def _band(values: np.ndarray, thresholds: Sequence[float]) -> np.ndarray:
    """Band index per value: 0 within thresholds[0], ..., len(thresholds) beyond the last, -1 unknown."""
    v = np.asarray(values, dtype=float)
    band = np.searchsorted(np.asarray(thresholds, dtype=float), v, side="left")
    return np.where(np.isfinite(v), band, len(thresholds) + 1)


def _fmt_measure(v: float, mode: str, lang: str) -> str | None:
    if v is None or not np.isfinite(v):
        return None
    if mode == "road":
        return minutes(round(float(v) / 60.0, 1) * 60.0, lang)
    return km(round(float(v) / 100.0) * 100.0, lang)


def boundary_layers(ds, *, lang: str, datum: str, tolerance_m: float = 30.0) -> list[DataLayer]:
    """County outline and township boundaries (simplified by ``tolerance_m`` metres), non-interactive fill."""
    t = T[lang]
    out = []
    tw = ds.townships
    if len(tw):
        geoms = simplify_m(tw, tolerance_m, ds.metric_crs)
        by_pop = village_weights(ds.villages).basis == "population"
        pop = pd.to_numeric(ds.villages["population"]).fillna(0).groupby(ds.villages["township_id"]).sum()
        nv = ds.villages.groupby("township_id").size()
        # a shape derived from village cells is never shown as an official boundary
        derived = (tw["boundary_source"] == "derived").to_numpy() if "boundary_source" in tw else np.zeros(len(tw), bool)
        vals = [([int(pop.get(i, 0))] if by_pop else []) + [int(nv.get(i, 0)), t["boundary_derived"] if d else None]
                for i, d in zip(tw["id"], derived)]
        fc = feature_collection(geoms, tw["name"].tolist(), values=vals, datum=datum,
                                classes=["derived" if d else "_" for d in derived])
        out.append(DataLayer(fc, {"styles": {"_": {"color": "#555", "weight": 1.5, "dashArray": "4 3",
                                                   "fillOpacity": 0.02, "fillColor": "#888"},
                                             "derived": {"color": "#8a8a8a", "weight": 1.2, "dashArray": "1 4",
                                                         "fillOpacity": 0.0}},
                                  "fields": ([t["population"]] if by_pop else []) + [t["n_villages"],
                                                                                     t["boundary_word"]],
                                  "sticky": True},
                             name=t["townships"] + (f"（{t['boundary_derived']}）" if derived.any() else "")))
    co = ds.counties
    if len(co):
        geoms = simplify_m(co, tolerance_m, ds.metric_crs)
        fc = feature_collection(geoms, co["name"].tolist(), datum=datum)
        out.append(DataLayer(fc, {"styles": {"_": {"color": "#222", "weight": 3, "fill": False,
                                                   "interactive": False}}, "tooltip": False},
                             name=t["county"]))
    return out


def straight_service_areas(ds, thresholds_m: Sequence[float], *, kinds: Sequence[str] | None = None
                           ) -> gpd.GeoDataFrame:
    """Straight-line service areas: the union of discs of each radius (metres) around the stations,
    one (Multi)Polygon per threshold, WGS-84, columns ``threshold_m``, ``geometry``."""
    st = ds.stations if kinds is None else ds.stations[ds.stations["kind"].isin(list(kinds))]
    pts = st.geometry.to_crs(ds.metric_crs)
    rows = []
    for r in thresholds_m:
        g = shapely.union_all(shapely.buffer(pts.to_numpy(), float(r), quad_segs=8)) if len(pts) else None
        rows.append({"threshold_m": float(r), "geometry": g})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=ds.metric_crs).to_crs("EPSG:4326")


def coverage_map(ds, *, coverage: pd.DataFrame | None = None, service_areas: gpd.GeoDataFrame | None = None,
                 lang: str = "zh", tiles: str = "osm", thresholds_m: Sequence[float] = (5000, 10000, 20000),
                 mode: str = "straight", network=None, thresholds_s: Sequence[float] = (900, 1800, 3600),
                 gap_threshold: float | None = None, top_gaps: int = 10, tianditu_key: str | None = None,
                 simplify_tolerance_m: float = 30.0, static_prefix: str = "/static",
                 village_limit: int = LARGE_VILLAGES, detail_url: str | None = None) -> folium.Map:
    """The coverage map of dataset ``ds``.

    Layers: stations by kind (distinct symbol + colour), villages coloured by the distance to
    the nearest station (``mode="straight"``: metres, bands by ``thresholds_m``; ``mode="road"``:
    door-to-door seconds over ``network``, bands by ``thresholds_s``), service areas per
    threshold (straight-line discs, or ``service_areas``: a GeoDataFrame with ``threshold_m`` or
    ``threshold_s`` and polygons), township and county boundaries, and the gap villages (beyond
    ``gap_threshold``, default the middle threshold) ranked by population: the first
    ``top_gaps`` with their rank on the map and listed in the summary box, the rest ringed in red.
    A legend states the colour scale; the summary box gives the population covered within each
    threshold. Labels in Chinese (``lang="zh"``) or English (``"en"``).

    ``coverage``: a precomputed :func:`geo_service.core.coverage.last_mile` table (else computed).
    ``tiles``: ``osm`` (default), ``gaode`` / ``gaode_satellite`` (GCJ-02: overlays are shifted
    to line up), ``tianditu`` (needs ``tianditu_key``) or ``none``.

    Over ``village_limit`` villages the map draws hex-bin aggregates instead of the villages
    (:mod:`maps.aggregate`) and, at close zoom, loads the villages in view from ``detail_url``
    (the service's bbox endpoint relative to the page, ``"coverage/villages"``; None: a standalone
    page with the aggregates only); only the numbered gap villages are drawn then.
    """
    check_lang(lang)
    thresholds, network = _checked_mode(ds, mode, network, coverage, thresholds_m, thresholds_s)
    t = T[lang]
    fmt = (lambda v: km(v, lang)) if mode == "straight" else (lambda v: minutes(v, lang))
    datum = tile_datum(tiles)
    m = open_map(ds, "coverage", tiles=tiles, lang=lang, tianditu_key=tianditu_key)

    # service areas (drawn first: underneath), largest first
    if service_areas is None:
        if mode == "straight":
            service_areas = straight_service_areas(ds, thresholds)
        else:
            service_areas = road_service_areas(ds, network, thresholds, dissolve=True)
    for layer in _area_layers(ds, service_areas, t=t, lang=lang, datum=datum, tolerance_m=simplify_tolerance_m):
        layer.add_to(m)
    for layer in boundary_layers(ds, lang=lang, datum=datum, tolerance_m=simplify_tolerance_m):
        layer.add_to(m)

    v = ds.villages.reset_index(drop=True)
    loc = village_locations(v)
    vw = village_weights(v)  # persons, or 1 per village where the population is unknown
    measure, near = _village_measure(ds, v, coverage, network, mode, t, lang)
    tnames = ds.townships.set_index("id")["name"].to_dict()
    facts = village_facts(v, loc, measure, _band(measure, thresholds), near=near, tnames=tnames, weights=vw,
                          fmt_measure=lambda d: _fmt_measure(d, mode, lang),
                          measure_label=t["distance"] if mode == "straight" else t["time"], lang=lang)
    gap_t = float(gap_threshold) if gap_threshold is not None else thresholds[min(1, len(thresholds) - 1)]
    villages, approx, agg_legend = _add_villages(
        m, ds, v, loc, measure, facts, thresholds, vw=vw, large=len(v) > village_limit, fmt=fmt, gap_t=gap_t,
        mode=mode, t=t, lang=lang, datum=datum, detail_url=detail_url)

    ranked = ranked_gaps(measure, loc, vw, gap_t)
    by_pop = vw.basis == "population"
    gaps_name = t["gaps"] if by_pop else t["gaps_villages"]
    gap_layer(v, facts, ranked, top=top_gaps, name=f"{gaps_name} > {fmt(gap_t)}", rank_label=t["rank"],
              datum=datum).add_to(m)

    stations = add_stations(m, ds, lang=lang, datum=datum)
    NameSearch([stations, villages] + ([approx] if approx is not None else []), lang=lang).add_to(m)

    legend_box(m, _legend(v, loc, thresholds, fmt, gap_t, top_gaps, len(ranked), mode, by_pop, t, lang)
               + agg_legend, t["legend"])
    summary_box(m, _summary(v, loc, vw, measure, thresholds, fmt, gap_t, top_gaps, ranked, facts, mode, tnames, t,
                            lang),
                f"{county_name(ds)} · {t['summary'] if by_pop else t['covered_villages']}")
    return finish(m, prefix=static_prefix, collapsed=True)  # nine layers: the button, not a third of the map


def _checked_mode(ds, mode: str, network, coverage, thresholds_m: Sequence[float],
                  thresholds_s: Sequence[float]) -> tuple[list[float], Any]:
    """The thresholds of ``mode`` (metres or seconds, checked positive and increasing) and the road
    network (built from ``ds`` in road mode when neither it nor ``coverage`` is given)."""
    if mode not in ("straight", "road"):
        raise ValueError(f"mode must be 'straight' or 'road', got {mode!r}")
    if mode == "road" and network is None and coverage is None:
        network = RoadNetwork.from_dataset(ds)
    thresholds = [float(x) for x in (thresholds_m if mode == "straight" else thresholds_s)]
    if not thresholds or any(not np.isfinite(x) or x <= 0 for x in thresholds) or thresholds != sorted(thresholds):
        raise ValueError(f"thresholds must be positive and increasing, got {thresholds}")
    return thresholds, network


def _add_villages(m: folium.Map, ds, v, loc, measure: np.ndarray, facts, thresholds: list[float], *, vw,
                  large: bool, fmt, gap_t: float, mode: str, t: dict, lang: str, datum: str,
                  detail_url: str | None) -> tuple[Any, DataLayer | None, str]:
    """The villages on ``m``: hex-bin aggregates when ``large`` (province size; villages by bbox on
    zoom), else approximate rings and exact dots. Returns (the searchable village layer, the
    approximate layer or None, the aggregates' legend HTML)."""
    n_bands = len(thresholds) + 1
    if large:
        villages, agg_legend = add_overview(
            m, located_dataset(ds), measure[loc.located], thresholds, fmt=fmt, fields=facts.fields,
            band_colours=BAND_COLOURS, lang=lang, datum=datum, colour_threshold=gap_t,
            detail_url=detail_url if mode == "straight" else None)
        return villages, None, agg_legend
    approx = approx_village_layer(v, loc, facts, band_colours=BAND_COLOURS, n_bands=n_bands, lang=lang, datum=datum)
    if approx is not None:
        approx.add_to(m)
    villages = exact_village_layer(v, loc, facts, band_colours=BAND_COLOURS, n_bands=n_bands, weights=vw,
                                   name=t["villages"] if mode == "straight" else t["villages_road"], datum=datum)
    villages.add_to(m)
    return villages, approx, ""


def _area_layers(ds, service_areas: gpd.GeoDataFrame, *, t: dict, lang: str, datum: str,
                 tolerance_m: float) -> list[DataLayer]:
    """One layer per threshold, largest first; only the smallest shown at first."""
    key = "threshold_m" if "threshold_m" in service_areas.columns else "threshold_s"
    sa = service_areas.dropna(subset=["geometry"])
    sa = sa.assign(_g=simplify_m(sa, tolerance_m, ds.metric_crs)) if len(sa) else sa
    levels = sorted(sa[key].unique()) if len(sa) else []
    out = []
    for i, (thr, grp) in enumerate(sorted(sa.groupby(key), key=lambda kv: -kv[0])):
        label = (km(thr, lang) if key == "threshold_m" else minutes(thr, lang))
        col = AREA_COLOURS[min(len(AREA_COLOURS) - 1, levels.index(thr))]
        fc = feature_collection(grp["_g"].to_numpy(), [f"{t['area']} {label}"] * len(grp), datum=datum)
        out.append(DataLayer(fc, {"styles": {"_": {"color": col, "weight": 1, "fillColor": col, "fillOpacity": 0.12,
                                                   "interactive": False}}, "tooltip": False},
                             name=f"{t['area']} {label}", show=(i == len(levels) - 1)))
    return out


def _village_measure(ds, v, coverage, network, mode: str, t: dict, lang: str) -> tuple[np.ndarray, list[str]]:
    """Per village of ``v``: the distance (m) or time (s) to the nearest station (NaN where the
    village has no location) and that station's name with its kind."""
    if coverage is None:
        coverage = last_mile(located_dataset(ds), network)
    lm = last_mile_table(ds, coverage, network=network).drop_duplicates("village_id")
    lm = lm.set_index("village_id").reindex(v["id"].astype(str))
    measure_col = "distance_m" if mode == "straight" else "time_s"
    if measure_col not in lm.columns:
        raise ValueError(f"mode={mode!r} needs column {measure_col!r} in the coverage table")
    measure = lm[measure_col].to_numpy(dtype=float)
    sid_col = "station_id" if mode == "straight" else "station_id_road"
    snames = dict(zip(ds.stations["id"], station_labels(ds)))
    skinds = ds.stations.set_index("id")["kind"].to_dict()
    near = []
    for s in lm[sid_col]:
        if not isinstance(s, str):
            near.append(t["no_station"])
            continue
        nk = value_label("station_kind", skinds.get(s), lang) or ""
        nn = snames.get(s, t["no_station"])
        near.append(f"{nn}（{nk}）" if nk else nn)
    return measure, near


def _legend(v, loc, thresholds, fmt, gap_t: float, top_gaps: int, n_gaps: int, mode: str, by_pop: bool,
            t: dict, lang: str) -> str:
    """The legend box: what is located, station symbols, the colour scale, approximate rings, gap rings."""
    rows = station_legend_rows(lang)
    scale = []
    lo = 0.0
    for i, thr in enumerate(thresholds):
        label = f"≤ {fmt(thr)}" if i == 0 else f"{fmt(lo)} – {fmt(thr)}"
        scale.append(("circle", BAND_COLOURS[i], label))
        lo = thr
    scale.append(("circle", BAND_COLOURS[min(len(thresholds), len(BAND_COLOURS) - 1)], f"> {fmt(thresholds[-1])}"))
    scale.append(("circle", "#999999", t["no_station"]))
    if loc.approx.any():
        scale.append(("◯", "#555555", t["approx_short"]))
    shown = min(top_gaps, n_gaps)
    if shown:
        scale.append(("◯", "#b10026", f"{t['gaps_short']} > {fmt(gap_t)}：{t['rank']} 1–{shown}"
                      + (message("maps_coverage_of_gaps", lang, n_gaps=n_gaps))))
    way = t["straight"] if mode == "straight" else t["road"]
    mode_note = message("maps_coverage_way", lang, way=way)
    notes = ([t["dot_size"]] if by_pop else []) + ([t["approx_note"]] if loc.approx.any() else [])
    return (location_statement_html(v, lang) + legend_html(t["legend_st"], rows)
            + legend_html(t["legend_v"] + mode_note, scale)
            + "".join(f'<div class="gs-note">{esc(n)}</div>' for n in notes))


def _summary(v, loc, vw, measure, thresholds, fmt, gap_t: float, top_gaps: int, ranked: list[int], facts,
             mode: str, tnames: dict, t: dict, lang: str) -> str:
    """The summary box: covered per threshold (people, or villages without population), the worst
    gaps, and the villages that could not be placed on the map."""
    by_pop = vw.basis == "population"
    wts = np.where(loc.located, vw.weights, 0.0) if by_pop else np.ones(len(v))
    total = int(round(wts.sum()))
    covered = t["covered"] if by_pop else t["covered_villages"]
    head = f'<table><tr><th>{esc(t["threshold"])}</th><th>{esc(covered)}</th><th>{esc(t["share"])}</th></tr>'
    body = []
    for thr in thresholds:
        cov = int(round(wts[measure <= thr].sum()))
        share = f"{100.0 * cov / total:.1f}%" if total else "–"
        body.append(f"<tr><td>{esc(fmt(thr))}</td><td>{cov:,}</td><td>{esc(share)}</td></tr>")
    total_label = t["total_pop"] if by_pop else t["total_villages"]
    body.append(f'<tr><td>{esc(total_label)}</td><td>{total:,}</td><td></td></tr></table>')
    if vw.note:  # said once: shares count villages (or fill unknown populations)
        body.append(f'<div class="gs-note">{esc(vw.note)}</div>')
    if not ranked:
        gl = [f'<div class="gs-note gs-mt">{esc(t["no_gaps"].format(t=fmt(gap_t)))}</div><ol>']
    else:
        title = (t["gap_list"] if by_pop else t["gap_list_villages"]).format(n=min(top_gaps, len(ranked)))
        gl = [f'<div class="gs-title gs-mt">{esc(title)} &gt; {esc(fmt(gap_t))}</div>', '<ol class="gs-gaps">']
    for i in ranked[:top_gaps]:
        dist = approx_mark(_fmt_measure(measure[i], mode, lang), bool(loc.approx[i])) or "–"
        who = f"{int(round(vw.weights[i])):,} · " if by_pop else ""
        gl.append(f"<li>{esc(v['name'].iloc[i])}（{esc(tnames.get(v['township_id'].iloc[i], ''))}）"
                  f" {who}{esc(dist)}</li>")
    gl.append("</ol>")
    return head + "".join(body) + "".join(gl) + unlocated_html(v, loc, tnames, lang)
