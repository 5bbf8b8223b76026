"""How the maps draw what a village list knows of its locations.

A village's point is ``given`` (from the file) or ``placed`` (by a planner): drawn as itself. It is
approximate (``township_seat``, ``township_centre``): the villages sharing that point are drawn once,
as a hollow ring with their count, and every distance measured from it is marked ``≈``. It is
``unknown``: never drawn at a made-up place, but listed as 未定位 in the map's box. Every legend
starts with the one-line statement of :func:`geo_service.core.coverage.location_line`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_service.core.coverage import location_line
from geo_service.core.glossary import word

from .render import esc

#: Where a village's point comes from, most trustworthy first (column ``location_source``; the contract
#: of the villages layer).
LOCATION_SOURCES = ("given", "placed", "township_seat", "township_centre", "unknown")
APPROXIMATE_SOURCES = ("township_seat", "township_centre")


def location_sources(villages: pd.DataFrame) -> pd.Series:
    """Each village's ``location_source`` (see :data:`LOCATION_SOURCES`), aligned with ``villages``.

    A list without the column (or a blank cell) counts a village with a point as ``given`` and one
    without as ``unknown``; a village without a point is always ``unknown``, whatever the column says.

    Parameters
    ----------
    villages : pandas.DataFrame
        The villages layer (a GeoDataFrame, or a frame without geometry: every row then ``unknown``
        unless the column says otherwise).

    Returns
    -------
    pandas.Series of str
    """
    n = len(villages)
    if isinstance(villages, gpd.GeoDataFrame) and villages.geometry.name in villages.columns:
        g = villages.geometry
        has_point = ~(g.isna() | g.is_empty).to_numpy()
    else:
        has_point = np.zeros(n, dtype=bool)
    if "location_source" in villages.columns:
        col = villages["location_source"].astype(object).where(villages["location_source"].notna(), None)
        src = np.array([s if s in LOCATION_SOURCES else None for s in col], dtype=object)
    else:
        src = np.full(n, None, dtype=object)
    src = np.where(pd.isna(src), np.where(has_point, "given", "unknown"), src)
    src = np.where(has_point, src, "unknown")
    return pd.Series(src, index=villages.index, name="location_source", dtype=object)


#: At most this many unlocated villages are named in a map's box (the rest are counted).
UNLOCATED_NAMED = 40


@dataclass(frozen=True)
class VillageLocations:
    """Per village of ``ds.villages`` (same order): ``source``, and the masks ``exact`` (given or
    placed), ``approx`` (township seat/centre) and ``unknown`` (no point)."""

    source: np.ndarray
    exact: np.ndarray
    approx: np.ndarray
    unknown: np.ndarray

    @property
    def located(self) -> np.ndarray:
        return ~self.unknown


def village_locations(villages: pd.DataFrame) -> VillageLocations:
    """The :class:`VillageLocations` of a villages layer."""
    src = location_sources(villages).to_numpy(dtype=object)
    approx = np.isin(src, APPROXIMATE_SOURCES)
    unknown = src == "unknown"
    return VillageLocations(src, ~approx & ~unknown, approx, unknown)


def located_dataset(ds):
    """``ds`` with only the villages that have a point (itself when all have one): what distances
    can be measured on. Not validated again (a subset of a valid layer)."""
    loc = village_locations(ds.villages)
    if not loc.unknown.any():
        return ds
    layers = dict(ds.layers)
    layers["villages"] = ds.villages[loc.located].reset_index(drop=True)
    return dataclasses.replace(ds, layers=layers)


def approx_mark(text: str | None, approx: bool) -> str | None:
    """``"12.3 公里"`` -> ``"≈ 12.3 公里"`` when the distance starts from an approximate point."""
    if text is None or not approx:
        return text
    return f"≈ {text}"


def approx_groups(villages: pd.DataFrame, loc: VillageLocations) -> list[np.ndarray]:
    """The approximate villages grouped by the point they share (rounded to about 1 m), as arrays of
    row positions, largest group first."""
    idx = np.flatnonzero(loc.approx)
    if not len(idx):
        return []
    g = villages.geometry.iloc[idx]
    key = pd.Series(list(zip(np.round(g.x.to_numpy(), 5), np.round(g.y.to_numpy(), 5))), index=idx)
    groups = [np.asarray(v, dtype=int) for v in key.groupby(key).groups.values()]
    return sorted(groups, key=lambda a: (-len(a), int(a[0])))


def where_word(sources: Sequence[str], lang: str) -> str:
    """乡镇驻地 or 乡镇中心 (the seat wins when a group mixes both)."""
    return word("map_seat_word" if "township_seat" in set(sources) else "map_centre_word", lang)


def location_statement_html(villages: pd.DataFrame, lang: str) -> str:
    """The legend's first line: what the list knows of its villages' locations (escaped HTML)."""
    return f'<div class="gs-note gs-loc">{esc(location_line(villages, lang))}</div>'


def unlocated_html(villages: pd.DataFrame, loc: VillageLocations, township_names: dict[Any, Any],
                   lang: str) -> str:
    """The box section listing the villages without any location (escaped HTML; '' when none)."""
    idx = np.flatnonzero(loc.unknown)
    if not len(idx):
        return ""
    items = []
    for i in idx[:UNLOCATED_NAMED]:
        tw = township_names.get(villages["township_id"].iloc[i], "")
        items.append(f"<li>{esc(villages['name'].iloc[i])}{'（' + esc(tw) + '）' if tw else ''}</li>")
    if len(idx) > UNLOCATED_NAMED:
        rest = len(idx) - UNLOCATED_NAMED
        items.append(f"<li>… +{rest}</li>")
    title = word("map_unlocated_list", lang).format(n=len(idx))
    return (f'<div class="gs-title gs-mt gs-unlocated-title">{esc(title)}</div>'
            f'<ul class="gs-unlocated">{"".join(items)}</ul>')


__all__ = ["APPROXIMATE_SOURCES", "LOCATION_SOURCES", "UNLOCATED_NAMED", "VillageLocations", "approx_groups", "approx_mark", "located_dataset",
           "location_sources", "location_statement_html", "unlocated_html", "village_locations", "where_word"]
