"""The village and gap layers of the coverage map, drawn as what each location is.

Villages with their own point (given or placed by a planner) are filled dots coloured by the
distance band; approximate villages (at their township seat or centre) are grouped at that point
as one hollow ring with their count, their distances marked ``≈``; villages without a location are
not drawn (the map's box lists them as 未定位). Only the worst gaps are ringed and numbered: the
first ``top_gaps`` by population, or by distance when the list has no population; every other
village shows its band colour only, so the rings stay few however thin the network is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from geo_service.core.coverage import VillageWeights
from geo_service.core.glossary import LANGS, map_words, word

from .locations import VillageLocations, approx_groups, approx_mark, where_word
from .names import disambiguate
from .render import DataLayer, feature_collection

T = {lang: map_words(lang) for lang in LANGS}
NO_STATION_COLOUR = "#999999"
GAP_COLOUR = "#b10026"


@dataclass
class VillageFacts:
    """What the coverage map knows per village (aligned with ``villages``): ``measure`` (metres or
    seconds; NaN where not located), ``band``, ``values`` (popup values, aligned with ``fields``),
    ``labels`` (names disambiguated by township), ``towns`` (township names)."""

    measure: np.ndarray
    band: np.ndarray
    values: list[list[Any]]
    fields: list[str]
    labels: list[str]
    towns: list[str]


def village_facts(v, loc: VillageLocations, measure: np.ndarray, band: np.ndarray, *, near: Sequence[str],
                  tnames: dict, weights: VillageWeights, fmt_measure: Callable[[float], str | None],
                  measure_label: str, lang: str) -> VillageFacts:
    """Popup fields and values per village: township, population (only when the list has it),
    nearest station, distance (``≈`` from an approximate point), seat, and the location when it
    is approximate."""
    t = T[lang]
    by_pop = weights.basis == "population"
    towns = [tnames.get(tw) or "" for tw in v["township_id"]]
    pop = np.nan_to_num(np.asarray(weights.weights, float)).round().astype(np.int64)
    seat = v["is_seat"].fillna(False).astype(bool).to_numpy() if "is_seat" in v else np.zeros(len(v), bool)
    fields = [t["township"]] + ([t["population"]] if by_pop else []) + [t["nearest"], measure_label, t["seat"],
                                                                         t["location"]]
    values = []
    for i in range(len(v)):
        where = (word("map_approx_group", lang).format(n=1, where=where_word([loc.source[i]], lang))
                 if loc.approx[i] else None)
        values.append([towns[i]] + ([int(pop[i])] if by_pop else [])
                      + [near[i], approx_mark(fmt_measure(measure[i]), bool(loc.approx[i])),
                         t["yes"] if seat[i] else None, where])
    labels = disambiguate(v["name"].tolist(), towns)
    return VillageFacts(measure, band, values, fields, labels, towns)


def exact_village_layer(v, loc: VillageLocations, facts: VillageFacts, *, band_colours: Sequence[str],
                        n_bands: int, weights: VillageWeights, name: str, datum: str) -> DataLayer:
    """Villages with their own point, filled and coloured by band; sized by population when known."""
    idx = np.flatnonzero(loc.exact)
    if weights.basis == "population":
        pop = np.nan_to_num(np.asarray(weights.weights, float))
        radius = np.clip(4 + np.sqrt(pop / 400.0), 4, 12).round(1)
    else:
        radius = np.full(len(v), 5.0)
    classes = [f"{facts.band[i]}:{radius[i]}" for i in idx]
    styles = {}
    for c in set(classes):
        b, r = c.split(":")
        col = band_colours[min(int(b), len(band_colours) - 1)] if int(b) < n_bands else NO_STATION_COLOUR
        styles[c] = {"radius": float(r), "color": "#333", "weight": 0.6, "fillColor": col, "fillOpacity": 0.85}
    fc = feature_collection(v.geometry.to_numpy()[idx] if len(idx) else [], [facts.labels[i] for i in idx],
                            classes=classes, values=[facts.values[i] for i in idx],
                            search=[f"{v['name'].iloc[i]} · {facts.towns[i]}" for i in idx], datum=datum)
    return DataLayer(fc, {"styles": styles, "fields": facts.fields}, name=name)


def approx_village_layer(v, loc: VillageLocations, facts: VillageFacts, *, band_colours: Sequence[str],
                         n_bands: int, lang: str, datum: str) -> DataLayer | None:
    """Approximate villages: one hollow ring per shared point with the number of villages there,
    ringed in the colour of their (approximate) distance band; None when there are none."""
    groups = approx_groups(v, loc)
    if not groups:
        return None
    t = T[lang]
    geoms, names, classes, values, counts, search = [], [], [], [], [], []
    for g in groups:
        i = int(g[0])
        geoms.append(v.geometry.iloc[i])
        where = where_word([loc.source[j] for j in g], lang)
        names.append(f"{word('map_approx_group', lang).format(n=len(g), where=where)}"
                     f"{'（' + facts.towns[i] + '）' if facts.towns[i] else ''}")
        classes.append(int(facts.band[i]))
        counts.append(len(g))
        members = "、".join(str(v["name"].iloc[j]) for j in g[:30]) + ("…" if len(g) > 30 else "")
        values.append([facts.towns[i], facts.values[i][-4], facts.values[i][-3], members])
        search.append(" ".join(f"{v['name'].iloc[j]} · {facts.towns[j]}" for j in g[:30]))
    styles = {}
    for b in set(classes):
        col = band_colours[min(b, len(band_colours) - 1)] if b < n_bands else NO_STATION_COLOUR
        styles[b] = {"ring": True, "color": col, "size": 24}
    fc = feature_collection(geoms, names, classes=classes, values=values, counts=counts, search=search,
                            datum=datum)
    return DataLayer(fc, {"styles": {str(k): s for k, s in styles.items()},
                          "fields": [t["township"], t["nearest"], facts.fields[-3], t["villages_word"]]},
                     name=word("map_approx", lang))


def ranked_gaps(measure: np.ndarray, loc: VillageLocations, weights: VillageWeights, gap_t: float) -> list[int]:
    """Located villages beyond ``gap_t``, worst first: by weight then distance when the list has a
    population, by distance alone when it counts villages."""
    m = np.nan_to_num(np.asarray(measure, float), nan=-1.0, posinf=1e18)
    gap = loc.located & ~(np.asarray(measure, float) <= gap_t)
    if weights.basis == "population":
        order = np.lexsort((-m, -np.asarray(weights.weights, float)))
    else:
        order = np.argsort(-m, kind="stable")
    return [int(i) for i in order if gap[i]]


def gap_layer(v, facts: VillageFacts, ranked: list[int], *, top: int, name: str, rank_label: str,
              datum: str) -> DataLayer:
    """The worst ``top`` gap villages, each ringed in red with its rank beside it (nothing else)."""
    gi = ranked[:top]
    fc = feature_collection([v.geometry.iloc[i] for i in gi], [facts.labels[i] for i in gi],
                            classes=[r + 1 for r in range(len(gi))],
                            values=[[r + 1] + facts.values[i][:-2] for r, i in enumerate(gi)], datum=datum)
    return DataLayer(fc, {"styles": {"_": {"label": True, "ring_color": GAP_COLOUR}},
                          "fields": [rank_label] + facts.fields[:-2]}, name=name)


__all__ = ["VillageFacts", "approx_village_layer", "exact_village_layer", "gap_layer", "ranked_gaps",
           "village_facts"]
