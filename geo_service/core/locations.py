"""Where each location comes from: villages, townships, members and constituents.

Every village of a list is kept, located or not. ``location_source`` says what its point stands
on (:data:`~geo_service.core.domain.LOCATION_SOURCES`): ``given`` in the file, ``township_seat`` /
``township_centre`` (approximate: its township's seat or polygon centre), ``placed`` by a planner,
``unknown`` (no point). Townships carry ``boundary_source`` (given, derived from village cells,
none). Members and constituents without a point of their own take their home village's point and
source. :func:`fill_sources` applies these rules to a dataset's layers; the counting helpers and
:func:`location_line` say it in one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .domain import APPROXIMATE_SOURCES, BOUNDARY_SOURCES, LOCATION_SOURCES
from .glossary import ENUMS, message, word

#: Sources whose point is a real location of the village (not its township's).
REAL_SOURCES: tuple[str, ...] = ("given", "placed")


def present(geoms: Any) -> np.ndarray:
    """Mask of geometries that exist (not None, not empty).

    Parameters
    ----------
    geoms : array-like of shapely geometries (or a GeoSeries)

    Returns
    -------
    ndarray of bool
    """
    g = np.asarray(getattr(geoms, "values", geoms), dtype=object)
    if not len(g):
        return np.zeros(0, dtype=bool)
    return ~(shapely.is_missing(g) | shapely.is_empty(g))


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v) or (isinstance(v, str) and not v.strip())


def _words(column: str, allowed: tuple[str, ...]) -> dict[str, str]:
    """Every spelling of a source (the code, its zh and en words, as exports write them) -> code."""
    out = {a: a for a in allowed}
    for code, (zh, en) in ENUMS.get(column, {}).items():
        out.setdefault(zh, code)
        out.setdefault(en.lower(), code)
    return out


def _check_values(df: pd.DataFrame, column: str, allowed: tuple[str, ...], layer: str, problems: list) -> list:
    """The column as clean codes (None when blank); an unknown word is an error naming the row."""
    words = _words(column, allowed)
    out = []
    for i, v in enumerate(df[column] if column in df.columns else [None] * len(df)):
        s = None if _blank(v) else str(v).strip()
        s = words.get(s, words.get(s.lower(), s)) if s is not None else None
        if s is not None and s not in allowed:
            fid = df["id"].iloc[i] if "id" in df.columns else None
            problems.append((layer, f"unknown {column} '{s}' (expected one of {', '.join(allowed)})",
                             "unknown_value", i + 1, fid, column))
        out.append(s)
    return out


def _villages(v: gpd.GeoDataFrame, problems: list) -> gpd.GeoDataFrame:
    src = _check_values(v, "location_source", LOCATION_SOURCES, "villages", problems)
    has = present(v.geometry)
    out = []
    for s, h in zip(src, has):
        if not h:
            out.append("unknown")
        elif s is None or s == "unknown":
            out.append("given")
        else:
            out.append(s)
    v = v.copy()
    v["location_source"] = pd.Series(out, index=v.index, dtype=object)
    return v


def _townships(t: gpd.GeoDataFrame, problems: list) -> gpd.GeoDataFrame:
    src = _check_values(t, "boundary_source", BOUNDARY_SOURCES, "townships", problems)
    has = present(t.geometry)
    t = t.copy()
    t["boundary_source"] = pd.Series(["none" if not h else (s if s not in (None, "none") else "given")
                                      for s, h in zip(src, has)], index=t.index, dtype=object)
    return t


def _people(df: gpd.GeoDataFrame, layer: str, villages: gpd.GeoDataFrame, problems: list,
            fill_point: bool) -> gpd.GeoDataFrame:
    """Members/constituents: own point ``given`` (or as written); else the home village's."""
    src = _check_values(df, "location_source", LOCATION_SOURCES, layer, problems)
    vpt = dict(zip(villages["id"], villages.geometry))
    vsrc = dict(zip(villages["id"], villages["location_source"]))
    has = present(df.geometry)
    geoms = list(df.geometry)
    out = []
    for i, (s, h, vid) in enumerate(zip(src, has, df["village_id"])):
        borrowed = s not in (None, "given", "placed", "unknown")
        if h and not borrowed:
            out.append(s if s in REAL_SOURCES else "given")
            continue
        if vid is not None and vid in vsrc:  # located by the home village (its current point)
            out.append(vsrc[vid])
            if fill_point:
                geoms[i] = vpt[vid]
            continue
        out.append(s if h else "unknown")
    df = df.copy()
    df["location_source"] = pd.Series(out, index=df.index, dtype=object)
    if fill_point:
        df = df.set_geometry(gpd.GeoSeries(geoms, crs=df.crs, index=df.index))
    return df


def fill_sources(layers: Mapping[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], list]:
    """Apply the location rules to normalised layers.

    Villages: no point -> ``unknown``; a point without a source -> ``given``. Townships: no polygon
    -> ``none``; a polygon without a source -> ``given``. Members without a point of their own
    take their home village's point and source (``unknown``, no point, when the village has none);
    constituents take the village's source (their point stays their own, see
    ``Dataset.constituent_points``).

    Parameters
    ----------
    layers : mapping of str to DataFrame
        Normalised layers by name (every layer present).

    Returns
    -------
    (dict, list)
        The layers with ``location_source``/``boundary_source`` filled, and the problems found
        (an unknown source word; a member with neither point nor village) as tuples
        ``(layer, message, code, row, feature_id, field)``, rows 1-based.
    """
    problems: list = []
    out = dict(layers)
    out["villages"] = _villages(out["villages"], problems)
    out["townships"] = _townships(out["townships"], problems)
    out["members"] = _people(out["members"], "members", out["villages"], problems, fill_point=True)
    out["constituents"] = _people(out["constituents"], "constituents", out["villages"], problems,
                                  fill_point=False)
    m = out["members"]
    for i in np.flatnonzero(~present(m.geometry) & m["village_id"].isna().to_numpy()):
        problems.append(("members", "no coordinates and no home village (村社区编号): give one of them",
                         "missing_geometry", int(i) + 1, m["id"].iloc[i], "geometry"))
    return out, problems


# --- counting and saying it --------------------------------------------------------------------------
def source_counts(villages: pd.DataFrame) -> dict[str, int]:
    """Villages per ``location_source``, every source present (summing to every village).

    Parameters
    ----------
    villages : pandas.DataFrame
        A villages layer.

    Returns
    -------
    dict of str to int
        ``{source: count}`` in :data:`LOCATION_SOURCES` order.
    """
    col = villages["location_source"] if "location_source" in villages.columns else \
        pd.Series(np.where(present(villages.geometry), "given", "unknown") if "geometry" in villages.columns
                  else ["unknown"] * len(villages))
    col = col.fillna("unknown")
    if "geometry" in villages.columns:  # no point: unknown, whatever the column says
        col = col.where(present(villages.geometry), "unknown")
    vc = col.value_counts()
    return {s: int(vc.get(s, 0)) for s in LOCATION_SOURCES}


def real_mask(villages: pd.DataFrame) -> np.ndarray:
    """Villages whose point is their own (``given`` or ``placed``)."""
    return villages["location_source"].isin(REAL_SOURCES).to_numpy() & present(villages.geometry)


def unlocated_ids(villages: pd.DataFrame) -> list[str]:
    """Ids of the villages of unknown location (no point), in list order."""
    return [str(x) for x in villages.loc[~present(villages.geometry), "id"]]


def location_line(villages: pd.DataFrame, lang: str = "zh") -> str:
    """One line saying what is known of the villages' locations.

    "164 个村社区：9 个有坐标，148 个按乡镇驻地近似，7 个未定位": only the sources present are named
    (placed villages count with those that have coordinates and are named as placed).

    Parameters
    ----------
    villages : pandas.DataFrame
        A villages layer (with ``location_source``).
    lang : {"zh", "en"}

    Returns
    -------
    str
    """
    c = source_counts(villages)
    parts = []
    for code, n in (("location_given", c["given"] + c["placed"]), ("location_placed", c["placed"]),
                    ("location_seat", c["township_seat"]), ("location_centre", c["township_centre"]),
                    ("location_unknown", c["unknown"])):
        if n or code == "location_given":
            parts.append(message(code, lang, n=n))
    sep = word("sep_comma", lang)
    return message("location_line", lang, n=len(villages), parts=sep.join(parts))


def report_line(report: Mapping[str, Any] | None, lang: str = "zh") -> str | None:
    """The import report (``Dataset.meta["import_report"]``) in one line, or None without one."""
    if not report:
        return None
    return message("import_report", lang, given=report.get("given", 0), approximate=report.get("approximate", 0),
                   unknown=report.get("unknown", 0), dropped=report.get("dropped_count", 0),
                   duplicates=len(report.get("duplicate_points") or []),
                   datum=DATUM_NAMES.get(str(report.get("datum", "wgs84")), report.get("datum")))


#: datums by their standard names (as on Chinese maps and in GIS software)
DATUM_NAMES = {"wgs84": "WGS-84", "gcj02": "GCJ-02", "bd09": "BD-09"}


def townships_line(townships: pd.DataFrame, lang: str = "zh") -> str:
    """Townships by boundary source in one line (derived boundaries are not official)."""
    vc = townships["boundary_source"].value_counts() if "boundary_source" in townships.columns else {}
    return message("import_townships", lang, n=len(townships), **{s: int(vc.get(s, 0)) for s in BOUNDARY_SOURCES})


def location_notes(ds: Any, lang: str = "zh") -> dict[str, Any]:
    """Items of a 说明 sheet saying what the figures stand on: the location line, the townships'
    boundaries, the villages not located and the import report (when the dataset has one).

    Parameters
    ----------
    ds : geo_service.core.dataset.Dataset
    lang : {"zh", "en"}

    Returns
    -------
    dict
        ``{word key: text}`` for :func:`geo_service.core.io.sheets.notes_table`.
    """
    out: dict[str, Any] = {"locations": location_line(ds.villages, lang),
                           "township_boundaries": townships_line(ds.townships, lang)}
    names = [str(n) for n in ds.villages.loc[~present(ds.villages.geometry), "name"]]
    if names:
        out["unlocated"] = "、".join(names[:50]) + (" …" if len(names) > 50 else "")
    line = report_line((getattr(ds, "meta", {}) or {}).get("import_report"), lang)
    if line:
        out["import_report"] = line
    return out


def approximate_count(counts: Mapping[str, int]) -> int:
    """Villages placed at their township (seat or centre) in ``counts`` from :func:`source_counts`."""
    return int(sum(counts.get(s, 0) for s in APPROXIMATE_SOURCES))


#: How a distance's ends were located, surest first (``distance_basis`` in the result tables): both by
#: coordinates (``given`` or ``placed``), one or both at a township's seat or polygon centre, or one
#: not located at all (the distance is unknown).
DISTANCE_BASES: tuple[str, ...] = ("coordinates", "township_seat", "township_centre", "unknown")
_BASIS_OF_SOURCE = {"given": "coordinates", "placed": "coordinates", "township_seat": "township_seat",
                    "township_centre": "township_centre"}


def sources_by_id(df: pd.DataFrame | None) -> dict[str, str]:
    """Row id -> ``location_source`` of a villages, members or constituents layer (``given`` where a
    layer without the column has a point, else ``unknown``; an empty dict for a missing layer)."""
    if df is None or not len(df):
        return {}
    if "location_source" in df.columns:
        src = df["location_source"].where(df["location_source"].notna(), "unknown").astype(str)
    else:
        src = pd.Series(np.where(present(df.geometry), "given", "unknown"), index=df.index)
    return dict(zip(df["id"].astype(str), src))


def distance_basis(*sources: str | None) -> str:
    """The :data:`DISTANCE_BASES` value of a distance between points of these ``location_source``
    values: the least sure of them (``unknown`` for a missing or unlisted source).

    >>> distance_basis("given", "township_seat")
    'township_seat'
    """
    rank = {b: i for i, b in enumerate(DISTANCE_BASES)}
    bases = [_BASIS_OF_SOURCE.get(str(s), "unknown") if s is not None else "unknown" for s in sources]
    return max(bases, key=rank.__getitem__) if bases else "unknown"


def has_approximate_locations(ds: Any) -> bool:
    """True when a village, member or constituent of ``ds`` is not located by coordinates of its own
    (``location_source`` other than ``given``/``placed``)."""
    layers = getattr(ds, "layers", {})
    return any(distance_basis(s) != "coordinates" for name in ("villages", "members", "constituents")
               for s in sources_by_id(layers.get(name)).values())


__all__ = ["DISTANCE_BASES", "REAL_SOURCES", "approximate_count", "distance_basis", "fill_sources",
           "has_approximate_locations", "location_line", "location_notes", "present", "real_mask", "report_line",
           "source_counts", "sources_by_id", "townships_line", "unlocated_ids"]
