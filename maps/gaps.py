"""The gap-closing map: current stations vs proposed contact points, coverage before and after.

``gap_result`` is a ``solvers.gaps.GapClosingResult`` (or a dict) holding the proposed sites as
``proposed`` (or ``sites``): a GeoDataFrame of points (WGS-84) or records with ``lon``/``lat``,
optionally ``id``/``name``/``covered_population``. Coverage before and after is recomputed
here from the stations (straight line, metres in ``ds.metric_crs``) so the map shows exactly
what it draws.
"""

from __future__ import annotations

from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree
from shapely.geometry import Point

from geo_service.core.coverage import village_weights
from geo_service.core.glossary import LANGS, map_words, value_label, word

from .coverage import BAND_COLOURS, boundary_layers, straight_service_areas
from .locations import approx_groups, located_dataset, location_statement_html, unlocated_html, \
    village_locations, where_word
from .names import county_name, disambiguate
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
    simplify_m,
    tile_datum,
)
from .stations import add_stations, station_legend_rows

# Every word the map shows comes from the one glossary; the gaps map names its station layer
# "existing", its village layer "before/after" and its panel after the proposal.
T = {lang: {**map_words(lang), "stations": word("map_existing_stations", lang),
            "villages": word("map_villages_change", lang), "title": word("map_gap_title", lang)} for lang in LANGS}
#: village status colours: covered now, newly covered by the proposal, still uncovered
STATUS_COLOURS = {"b": BAND_COLOURS[0], "a": "#2b8cbe", "u": BAND_COLOURS[3]}


def _get(obj: Any, *names: str) -> Any:
    for n in names:
        v = obj.get(n) if isinstance(obj, dict) else getattr(obj, n, None)
        if v is not None:
            return v
    return None


def proposed_sites(gap_result: Any) -> gpd.GeoDataFrame:
    """The proposed sites of ``gap_result`` as a WGS-84 GeoDataFrame with ``id``, ``name``."""
    p = _get(gap_result, "proposed", "sites", "new_sites")
    if p is None:
        raise ValueError("gap_result has no proposed sites ('proposed' or 'sites')")
    if isinstance(p, gpd.GeoDataFrame):
        g = p.to_crs("EPSG:4326") if p.crs is not None else p.set_crs("EPSG:4326")
    else:
        df = pd.DataFrame(p)
        if "geometry" in df.columns:
            g = gpd.GeoDataFrame(df, geometry="geometry", crs="EPSG:4326")
        elif {"lon", "lat"} <= set(df.columns):
            g = gpd.GeoDataFrame(df, geometry=[Point(x, y) for x, y in zip(df["lon"], df["lat"])], crs="EPSG:4326")
        else:
            raise ValueError("proposed sites need a geometry or lon/lat columns")
    g = g.reset_index(drop=True)
    if "id" not in g.columns:
        g["id"] = [f"P{i + 1}" for i in range(len(g))]
    if "name" not in g.columns:
        g["name"] = g["id"].astype(str)
    return g


def gap_threshold_m(gap_result: Any, threshold_m: float | None = None) -> float:
    """The straight-line threshold (metres) to draw: ``threshold_m``, else the result's, else 10 km."""
    params = _get(gap_result, "params") or {}
    if threshold_m is None:
        threshold_m = _get(gap_result, "threshold_m") or params.get("threshold_m")
    if threshold_m is None and params.get("threshold") is not None:
        if params.get("unit", "m") != "m":
            raise ValueError("the gap result used road time (seconds); gaps_map draws straight-line "
                             "coverage: pass threshold_m (metres)")
        threshold_m = params["threshold"]
    return float(threshold_m if threshold_m is not None else 10000.0)


def coverage_change(ds, sites: gpd.GeoDataFrame, threshold_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Per village (``ds.villages`` order) its status with the proposed ``sites`` at
    ``threshold_m`` metres straight line: ``"b"`` covered now, ``"a"`` newly covered, ``"u"``
    still uncovered; and per site the population newly covered whose nearest site it is."""
    v = ds.villages.reset_index(drop=True)
    vxy = ds.xy_m("villages")
    vxy = np.where(np.isfinite(vxy), vxy, 1e12)  # a village of unknown location: beyond every threshold
    sxy = ds.xy_m("stations")
    sm = sites.geometry.to_crs(ds.metric_crs)
    pxy = np.column_stack([sm.x, sm.y]) if len(sites) else np.zeros((0, 2))
    d_before = cKDTree(sxy).query(vxy)[0] if len(sxy) and len(vxy) else np.full(len(vxy), np.inf)
    allxy = np.vstack([sxy, pxy])
    d_after = cKDTree(allxy).query(vxy)[0] if len(allxy) and len(vxy) else np.full(len(vxy), np.inf)
    status = np.where(d_before <= threshold_m, "b", np.where(d_after <= threshold_m, "a", "u"))
    pop = pd.to_numeric(v["population"]).fillna(0).astype(np.int64).to_numpy()
    gain = np.zeros(len(sites), dtype=np.int64)
    if len(sites) and len(vxy):
        near = cKDTree(pxy).query(vxy)[1]
        for i in np.flatnonzero(status == "a"):
            gain[near[i]] += pop[i]
    return status, gain


def gaps_map(ds, gap_result: Any, *, threshold_m: float | None = None, lang: str = "zh", tiles: str = "osm",
             tianditu_key: str | None = None, static_prefix: str = "/static") -> folium.Map:
    """Map of a gap-closing proposal: current stations, proposed contact points, the service
    area (``threshold_m`` metres, default the result's threshold or 10 km) before and after, and
    villages marked covered now / newly covered / still uncovered, with population totals."""
    check_lang(lang)
    t = T[lang]
    thr = gap_threshold_m(gap_result, threshold_m)
    datum = tile_datum(tiles)
    sites = proposed_sites(gap_result)
    m = open_map(ds, "gaps", tiles=tiles, lang=lang, tianditu_key=tianditu_key)
    for layer in boundary_layers(ds, lang=lang, datum=datum):
        layer.add_to(m)
    _add_service_areas(m, ds, sites, thr, t=t, lang=lang, datum=datum)

    full = ds.villages.reset_index(drop=True)
    loc_full = village_locations(full)
    lds = located_dataset(ds)  # distances need a point: the unlocated are listed, not drawn
    v = lds.villages.reset_index(drop=True)
    loc = village_locations(v)
    vw = village_weights(v)  # persons, or 1 per village where the population is unknown
    by_pop = vw.basis == "population"
    status, gain = coverage_change(lds, sites, thr)
    if not by_pop:  # newly covered villages per site, not people
        gain = _gain_in_villages(lds, sites, status)
    label = {"b": t["covered_now"], "a": t["newly"], "u": t["still"]}
    tnames = ds.townships.set_index("id")["name"].to_dict()
    villages, groups = _add_villages(m, v, loc, status, label, tnames=tnames, by_pop=by_pop, t=t, lang=lang,
                                     datum=datum)
    add_stations(m, ds, lang=lang, datum=datum)
    sfc = feature_collection(sites.geometry.to_numpy(), sites["name"].tolist(), classes=["p"] * len(sites),
                             values=[[int(g)] for g in gain], search=sites["name"].astype(str).tolist(), datum=datum)
    proposed = DataLayer(sfc, {"styles": {"p": {"symbol": "✚", "color": "#e6550d", "size": 22}},
                               "fields": [t["gain"] if by_pop else t["gain_villages"]]}, name=t["proposed"])
    proposed.add_to(m)
    NameSearch([villages, proposed], lang=lang).add_to(m)

    box = _summary(v, vw, loc_full, status, len(sites), _get(gap_result, "status"), t=t, lang=lang)
    summary_box(m, box + unlocated_html(full, loc_full, tnames, lang),
                f"{county_name(ds)} · {t['title']} ({km(thr, lang)})")
    legend_box(m, location_statement_html(full, lang) + legend_html(t["stations"], station_legend_rows(lang))
               + legend_html(t["villages"], [("circle", STATUS_COLOURS[k], label[k]) for k in "bau"]
                             + ([("◯", "#555555", t["approx_short"])] if groups else []))
               + legend_html(t["proposed"], [("✚", "#e6550d", t["site"])]), t["legend"])
    return finish(m, prefix=static_prefix)


def _add_service_areas(m: folium.Map, ds, sites: gpd.GeoDataFrame, thr: float, *, t: dict, lang: str,
                       datum: str) -> None:
    """The service area within ``thr`` metres (straight line) with the proposed sites, then without."""
    before = straight_service_areas(ds, [thr])
    both = pd.concat([ds.stations[["id", "name", "kind", "geometry"]],
                      sites.assign(kind="contact_point")[["id", "name", "kind", "geometry"]]], ignore_index=True)
    after = straight_service_areas(_Shim(ds, both), [thr])
    for gdf, name, col, show in ((after, t["after"], "#2b8cbe", True), (before, t["before"], "#1a9850", True)):
        areas = gdf.dropna(subset=["geometry"])
        fc = feature_collection(simplify_m(areas, 30.0, ds.metric_crs), [name] * len(areas), datum=datum)
        DataLayer(fc, {"styles": {"_": {"color": col, "weight": 1, "fillColor": col, "fillOpacity": 0.12,
                                        "interactive": False}}, "tooltip": False},
                  name=f"{name} {km(thr, lang)}", show=show).add_to(m)


def _add_villages(m: folium.Map, v, loc, status: np.ndarray, label: dict[str, str], *, tnames: dict,
                  by_pop: bool, t: dict, lang: str, datum: str) -> tuple[DataLayer, list]:
    """The located villages of ``v`` coloured by ``status`` (exact ones as dots, approximate ones as
    one hollow ring per shared point, coloured by the group's status); returns the dots' layer and
    the approximate groups."""
    pop = pd.to_numeric(v["population"]).fillna(0).astype(np.int64).to_numpy()
    towns = [tnames.get(tw) or "" for tw in v["township_id"]]
    vals = [[tw] + ([int(p)] if by_pop else []) + [label[s]] for tw, p, s in zip(towns, pop, status)]
    ex = np.flatnonzero(loc.exact)
    labels = disambiguate(v["name"].tolist(), towns)
    fc = feature_collection(v.geometry.to_numpy()[ex] if len(ex) else [], [labels[i] for i in ex],
                            classes=status[ex].tolist(), values=[vals[i] for i in ex],
                            search=[f"{v['name'].iloc[i]} · {towns[i]}" for i in ex], datum=datum)
    fields = [t["township"]] + ([t["population"]] if by_pop else []) + [t["status"]]
    villages = DataLayer(fc, {"styles": {k: {"radius": 5, "color": "#333", "weight": 0.6, "fillColor": c,
                                             "fillOpacity": 0.9} for k, c in STATUS_COLOURS.items()},
                              "fields": fields}, name=t["villages"])
    villages.add_to(m)
    groups = approx_groups(v, loc)
    if groups:
        afc = feature_collection([v.geometry.iloc[int(g[0])] for g in groups],
                                 [word("map_approx_group", lang).format(n=len(g), where=where_word(
                                     [loc.source[j] for j in g], lang)) + f"（{towns[int(g[0])]}）" for g in groups],
                                 classes=[str(status[int(g[0])]) for g in groups],
                                 values=[[towns[int(g[0])], label[status[int(g[0])]],
                                          "、".join(str(v["name"].iloc[j]) for j in g[:30])] for g in groups],
                                 counts=[len(g) for g in groups], datum=datum)
        DataLayer(afc, {"styles": {k: {"ring": True, "color": c, "size": 24} for k, c in STATUS_COLOURS.items()},
                        "fields": [t["township"], t["status"], t["villages_word"]]},
                  name=word("map_approx", lang)).add_to(m)
    return villages, groups


def _summary(v, vw, loc_full, status: np.ndarray, n_sites: int, solver_status: Any, *, t: dict,
             lang: str) -> str:
    """The summary box: people (or villages) covered before and after, the number of proposed
    points, the weighting note and the solver's outcome."""
    by_pop = vw.basis == "population"
    wts = vw.weights if by_pop else np.ones(len(v))
    total = int(round(wts.sum())) + (0 if by_pop else int(loc_full.unknown.sum()))

    def share(x: int) -> str:
        return f"{100.0 * x / total:.1f}%" if total else "–"

    sep = word("sep_colon", lang)
    pb, pa = int(round(wts[status == "b"].sum())), int(round(wts[status != "u"].sum()))
    box = (f'<table><tr><th></th><th>{esc(t["pop"] if by_pop else t["covered_villages"])}</th>'
           f'<th>{esc(t["share"])}</th></tr>'
           f'<tr><td>{esc(t["before_h"])}</td><td>{pb:,}</td><td>{share(pb)}</td></tr>'
           f'<tr><td>{esc(t["after_h"])}</td><td>{pa:,}</td><td>{share(pa)}</td></tr></table>'
           f'<div class="gs-note">{esc(t["n"])}{sep}{n_sites} {esc(t["unit"])}</div>')
    if vw.note:  # said once: the figures count villages (or fill unknown populations)
        box += f'<div class="gs-note">{esc(vw.note)}</div>'
    if isinstance(solver_status, str):
        box += f'<div class="gs-note">{esc(t["solver"])}{sep}{esc(value_label("outcome", solver_status, lang))}</div>'
    return box


def _gain_in_villages(ds, sites: gpd.GeoDataFrame, status: np.ndarray) -> np.ndarray:
    """Per proposed site: the villages newly covered whose nearest site it is."""
    gain = np.zeros(len(sites), dtype=np.int64)
    if not len(sites) or not len(ds.villages):
        return gain
    sm = sites.geometry.to_crs(ds.metric_crs)
    near = cKDTree(np.column_stack([sm.x, sm.y])).query(ds.xy_m("villages"))[1]
    for i in np.flatnonzero(status == "a"):
        gain[near[i]] += 1
    return gain


class _Shim:
    """Just enough of a Dataset for :func:`straight_service_areas` over another station set."""

    def __init__(self, ds, stations: gpd.GeoDataFrame):
        self.stations = gpd.GeoDataFrame(stations, geometry="geometry", crs="EPSG:4326")
        self.metric_crs = ds.metric_crs
