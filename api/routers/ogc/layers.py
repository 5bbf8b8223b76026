"""The collections of a dataset: its own layers and the layers of its latest results.

A collection is a table of features with an ``id`` column, property columns and a WGS-84 geometry
column (None where a feature has none). Dataset layers come from the cached dataset version;
result layers from the latest successful run of their kind:

- ``coverage``: every village with its nearest station and the distance to it (metres), overall
  and per station kind (:func:`geo_service.core.coverage.last_mile`);
- ``zones``: each sector group's responsibility zone of the latest optimisation (polygons);
- ``contact_points``: the villages that run made sector contact points, with their group;
- ``proposals``: the new contact points the latest gap closing proposes;
- ``duty``: this month's duty of the latest roster, one point per platform, with the members' names.

Access follows the routes of the same data: every collection needs ``viewer``; ``constituents``
needs a role that may see personal data (they are personal), and below that role members carry
no geometry (their homes are personal) and personal fields are dropped. A collection a caller may
not read is not listed for them and answers 404 like an unknown one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_service.core.coverage import last_mile
from geo_service.core.domain import LAYER_ORDER, LAYERS
from geo_service.core.glossary import word
from geo_service.core.store import JobRecord, Store
from maps.assignment import run_state, zone_figures, group_bases, zone_shapes
from maps.roster import duty_month
from solvers.roster.outputs import duty_geojson

from ... import geojson as gj
from ... import rosters as R
from ...auth import Principal
from ...cache import DatasetEntry
from ...deps import latest_successful

GEOMETRY_TYPES = {"point": "Point", "polygon": "MultiPolygon", "line": "MultiLineString", None: None}
RESULT_LAYERS = ("coverage", "zones", "contact_points", "proposals", "duty")
CLOSE_GAPS_KIND = "close_gaps"


@dataclass(frozen=True)
class Layer:
    """One collection's features: ``frame`` (``id``, properties, ``geometry`` in WGS-84), the
    property columns in order, the geometry type name (None: no geometry), and ``tag``, a string
    that changes whenever the features may (dataset version and result job)."""

    name: str
    frame: gpd.GeoDataFrame
    properties: tuple[str, ...]
    geometry_type: str | None
    tag: str
    source: str  # "dataset" or the job id of the result

    @property
    def bounds(self) -> list[float] | None:
        """[minlon, minlat, maxlon, maxlat] of the features, or None without geometry."""
        return gj.bbox_of(self.frame)

    def title(self, lang: str) -> str:
        return word(f"ogc_{self.name}", lang)


def _geo(df: pd.DataFrame, geoms: Any) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(df.reset_index(drop=True), geometry=list(geoms), crs="EPSG:4326")


def _dataset_layer(entry: DatasetEntry, name: str, personal: bool) -> Layer:
    df = entry.ds[name]
    spec = LAYERS[name]
    cols = gj.visible_fields(name, personal)
    out = pd.DataFrame({c: df[c].to_numpy() for c in cols})
    has_geom = spec.geometry is not None and "geometry" in df.columns
    geoms = df.geometry.to_numpy() if has_geom else np.full(len(df), None, dtype=object)
    if name == "members" and not personal:  # a member's point is their home: personal
        geoms = np.full(len(df), None, dtype=object)
        has_geom = False
    geoms = np.array([None if g is None or g.is_empty else g for g in geoms], dtype=object)
    gtype = GEOMETRY_TYPES.get(spec.geometry) if has_geom else None
    if name in ("townships", "counties"):
        gtype = "MultiPolygon"
    return Layer(name, _geo(out, geoms), tuple(c for c in cols if c != "id"), gtype,
                 f"v{entry.info.version}", "dataset")


def _coverage_layer(entry: DatasetEntry) -> Layer:
    lm = last_mile(entry.ds, index=entry.station_index)
    v = entry.ds.villages
    cols = {"id": lm["village_id"], "name": lm["village_name"], "township_id": lm["township_id"],
            "population": lm["population"]}
    for c in lm.columns:
        if c.endswith("_id") and c not in ("village_id", "township_id") or c.endswith("_m"):
            vals = lm[c].to_numpy()
            if c.endswith("_m"):
                vals = np.where(np.isfinite(vals.astype(float)), np.round(vals.astype(float), 1), np.nan)
            cols[c.replace("nearest_id", "nearest_station_id")] = vals
    out = pd.DataFrame({k: np.asarray(val, dtype=object) if k != "nearest_m" and not k.endswith("_m")
                        else np.asarray(val, dtype=float) for k, val in cols.items()})
    # names beside the ids, so a map or a GIS label needs no join
    st = entry.ds.stations.set_index(entry.ds.stations["id"].astype(str))
    tw = entry.ds.townships.set_index(entry.ds.townships["id"].astype(str))["name"].to_dict()
    near = out["nearest_station_id"].map(lambda s: s if isinstance(s, str) else None)
    extra = {"township_name": out["township_id"].map(lambda t: tw.get(str(t))),
             "nearest_station_name": near.map(lambda s: st["name"].get(s) if s else None),
             "nearest_station_kind": near.map(lambda s: st["kind"].get(s) if s else None),
             "is_seat": v["is_seat"].fillna(False).astype(bool).to_numpy() if "is_seat" in v else False}
    for k, val in extra.items():
        out.insert(out.columns.get_loc("population"), k, np.asarray(val, dtype=object) if k != "is_seat" else val)
    return Layer("coverage", _geo(out, v.geometry.to_numpy()), tuple(c for c in out.columns if c != "id"),
                 "Point", f"v{entry.info.version}", "dataset")


def _zones_layer(entry: DatasetEntry, job: JobRecord) -> Layer:
    ds = entry.ds
    state = run_state(ds, job.result)
    shapes = zone_shapes(ds, state["zone"])
    figures = state["zones"] or zone_figures(ds, state["zone"], group_bases(ds, state["group_station"]))
    names = dict(zip(ds.groups["id"].astype(str), ds.groups["name"]))
    rows, geoms = [], []
    for g in sorted(shapes):
        f = figures.get(g) or {}
        rows.append({"id": g, "name": names.get(g), "station_id": state["group_station"].get(g),
                     "villages": f.get("villages"), "population": f.get("population"),
                     "constituents": f.get("constituents"), "mean_km": f.get("mean_km"),
                     "max_km": f.get("max_km"), "job_id": job.id})
        geoms.append(shapely.multipolygons([shapes[g]]) if shapes[g].geom_type == "Polygon" else shapes[g])
    df = pd.DataFrame(rows, columns=["id", "name", "station_id", "villages", "population", "constituents",
                                     "mean_km", "max_km", "job_id"])
    return Layer("zones", _geo(df, geoms), tuple(df.columns[1:]), "MultiPolygon",
                 f"v{entry.info.version}-{job.id}", job.id)


def _contact_points_layer(entry: DatasetEntry, job: JobRecord) -> Layer:
    ds = entry.ds
    contacts = run_state(ds, job.result)["contacts"]
    v = ds.villages
    pos = {str(x): i for i, x in enumerate(v["id"])}
    names = dict(zip(ds.groups["id"].astype(str), ds.groups["name"]))
    keep = [(vid, g) for vid, g in sorted(contacts.items()) if vid in pos]
    idx = [pos[vid] for vid, _ in keep]
    df = pd.DataFrame({"id": [vid for vid, _ in keep], "name": v["name"].to_numpy()[idx] if idx else [],
                       "township_id": v["township_id"].to_numpy()[idx] if idx else [],
                       "group_id": [g for _, g in keep], "group_name": [names.get(g) for _, g in keep],
                       "job_id": job.id})
    return Layer("contact_points", _geo(df, v.geometry.to_numpy()[idx] if idx else []), tuple(df.columns[1:]),
                 "Point", f"v{entry.info.version}-{job.id}", job.id)


def _proposals_layer(entry: DatasetEntry, job: JobRecord) -> Layer:
    rows = list(job.result.get("proposed") or [])
    df = pd.DataFrame(rows)
    if not len(df):
        df = pd.DataFrame(columns=["id", "name", "lon", "lat"])
    geoms = shapely.points(df["lon"].astype(float), df["lat"].astype(float)) if len(df) else []
    df = df.drop(columns=[c for c in ("lon", "lat") if c in df.columns]).assign(job_id=job.id)
    return Layer("proposals", _geo(df, geoms), tuple(c for c in df.columns if c != "id"), "Point",
                 f"v{entry.info.version}-{job.id}", job.id)


def _duty_layer(entry: DatasetEntry, job: JobRecord) -> Layer:
    month = duty_month(job.result, None, R.this_month())
    fc = duty_geojson(job.result, month) if month else {"features": []}
    feats = [f for f in fc["features"] if f["properties"].get("layer") == "platform"]
    df = pd.DataFrame([{"id": f["properties"]["station_id"], "name": f["properties"]["name"],
                        "month": f["properties"]["month"], "date": f["properties"]["date"],
                        "member_ids": f["properties"]["member_ids"],
                        "member_names": f["properties"]["member_names"], "job_id": job.id} for f in feats],
                      columns=["id", "name", "month", "date", "member_ids", "member_names", "job_id"])
    geoms = [shapely.geometry.shape(f["geometry"]) for f in feats]
    return Layer("duty", _geo(df, geoms), tuple(df.columns[1:]), "Point",
                 f"v{entry.info.version}-{job.id}-{month}", job.id)


def _latest(store: Store, dataset_id: str, kind: str) -> JobRecord | None:
    if kind == "optimisation":
        return latest_successful(store, dataset_id)
    if kind == R.KIND:
        return R.latest_roster(store, dataset_id)
    for j in store.list_jobs(dataset_id, limit=50):
        if j.kind == kind and j.status == "successful" and j.result:
            return j
    return None


_RESULT_SOURCES: dict[str, tuple[str, Callable[[DatasetEntry, JobRecord], Layer]]] = {
    "zones": ("optimisation", _zones_layer), "contact_points": ("optimisation", _contact_points_layer),
    "proposals": (CLOSE_GAPS_KIND, _proposals_layer), "duty": (R.KIND, _duty_layer)}


def may_read(name: str, who: Principal) -> bool:
    """Whether ``who`` may read collection ``name`` at all (constituents are personal)."""
    if name == "constituents":
        return who.sees_personal
    return who.allows("viewer")


def available(entry: DatasetEntry, store: Store, who: Principal) -> list[str]:
    """Names of the collections ``who`` may read, dataset layers first, then the results that exist."""
    names = [n for n in LAYER_ORDER if may_read(n, who)]
    names.append("coverage")
    jobs = {kind: _latest(store, entry.info.id, kind) for kind in {k for k, _ in _RESULT_SOURCES.values()}}
    names += [n for n, (kind, _) in _RESULT_SOURCES.items() if jobs.get(kind) is not None]
    return [n for n in names if may_read(n, who)]


def is_known(name: str) -> bool:
    return name in LAYERS or name in RESULT_LAYERS


def layer(entry: DatasetEntry, store: Store, name: str, who: Principal) -> Layer | None:
    """Collection ``name`` as ``who`` may see it, built once per dataset version (and result job);
    None when it does not exist or ``who`` may not read it."""
    if not is_known(name) or not may_read(name, who):
        return None
    personal = who.sees_personal
    if name in LAYERS:
        return entry.memo(f"ogc:{name}:{personal}", lambda ds: _dataset_layer(entry, name, personal), max_items=48)
    if name == "coverage":
        return entry.memo("ogc:coverage", lambda ds: _coverage_layer(entry), max_items=48)
    kind, build = _RESULT_SOURCES[name]
    job = _latest(store, entry.info.id, kind)
    if job is None:
        return None
    suffix = R.this_month() if name == "duty" else ""
    return entry.memo(f"ogc:{name}:{job.id}:{suffix}", lambda ds: build(entry, job), max_items=48)


def version_tag(entry: DatasetEntry, store: Store, names: list[str]) -> str:
    """A short digest of the tags of ``names`` (for ETags of collection lists and tiles)."""
    parts = [f"v{entry.info.version}"]
    for kind in sorted({k for n, (k, _) in _RESULT_SOURCES.items() if n in names}):
        job = _latest(store, entry.info.id, kind)
        parts.append(job.id if job else "-")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


__all__ = ["CLOSE_GAPS_KIND", "Layer", "RESULT_LAYERS", "available", "is_known", "layer", "may_read",
           "version_tag"]
