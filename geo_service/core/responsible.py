"""Who is responsible here: the village, township, groups, contact point, members and duty of a place.

:class:`ResponsibilityIndex` is built once per dataset version and answers one place in a few
KD-tree queries:

- **village**: the nearest located village point (the village whose Voronoi cell holds the point);
  ``station_id=`` starts from the station's point, ``village_id=`` from the village itself;
- **township**: the village's township (its ``township_id``);
- **members by sector**: per sector, the member of that sector living in the village (``village_id``),
  else the one whose home (else whose station) is nearest to the village, with the distance in metres;
- **groups**: the groups (界别活动组) of those members, each with its convener and its contact point
  (the group's own ``station_id``, else the nearest contact point hosting one of its sectors, else the
  nearest contact point);
- **committee**: from ``township_committees`` (township id -> committee id, the optimisation's tier 3);
- **stations**: the ``k`` nearest stations with their straight-line distance (metres);
- **duty**: from a roster result (``duties``: month, station_id, member_id, date): this month's duty
  members at each listed station and the next reception date on or after ``today``.

Public answers hold names, roles, places and times only; ``personal=True`` adds members' homes and the
village's constituents (name, phone), which only staff may see.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pyproj import Transformer
from scipy.spatial import cKDTree

from .dataset import Dataset
from .domain import STATION_KIND_LABELS
from .errors import InvalidParameter

CONSTITUENTS_LISTED = 200  # most constituents listed in a personal answer
_BRIEF = ("id", "name", "sector", "role")  # a group's convener
_BRIEF_STATION = ("id", "name", "kind_text", "distance_m", "lon", "lat")  # a group's contact point


def _s(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    s = str(v).strip()
    return s or None


def _points(df: pd.DataFrame | None, to_m: Transformer) -> tuple[np.ndarray, np.ndarray]:
    """(index of rows with a point, (n, 2) metric xy) of a layer."""
    if df is None or not len(df) or "geometry" not in df:
        return np.zeros(0, dtype=int), np.zeros((0, 2))
    g = df.geometry
    ok = (~(g.isna() | g.is_empty)).to_numpy()
    idx = np.flatnonzero(ok)
    if not len(idx):
        return idx, np.zeros((0, 2))
    gg = g.iloc[idx]
    x, y = to_m.transform(gg.x.to_numpy(), gg.y.to_numpy())
    return idx, np.column_stack([x, y])


@dataclass
class DutyIndex:
    """A roster result as lookups: ``month -> station_id -> (date, [member ids])`` and the sorted
    reception dates per station."""

    by_month: dict[str, dict[str, tuple[str | None, list[str]]]] = field(default_factory=dict)
    dates: dict[str, list[str]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_result(cls, result: Mapping[str, Any] | None) -> DutyIndex:
        """Index a roster result dict (``duties``, ``members``); None gives an empty index."""
        out = cls()
        if not result:
            return out
        seen: dict[str, set[str]] = defaultdict(set)
        for r in result.get("duties") or []:
            m, sid, mid = str(r.get("month")), str(r.get("station_id")), str(r.get("member_id"))
            date, members = out.by_month.setdefault(m, {}).get(sid, (r.get("date"), []))
            members.append(mid)
            out.by_month[m][sid] = (date or r.get("date"), members)
            if r.get("date"):
                seen[sid].add(str(r["date"]))
        out.dates = {k: sorted(v) for k, v in seen.items()}
        out.names = {str(m["id"]): str(m.get("name") or m["id"]) for m in result.get("members") or []}
        return out

    def at(self, station_id: str, today: dt.date) -> dict[str, Any] | None:
        """Duty of ``station_id`` in ``today``'s month and its next reception date (on or after
        ``today``), or None when the roster does not name the station."""
        month = f"{today.year:04d}-{today.month:02d}"
        date, members = self.by_month.get(month, {}).get(station_id, (None, []))
        iso = today.isoformat()
        nxt = next((d for d in self.dates.get(station_id, []) if d >= iso), None)
        if not members and nxt is None and date is None:
            return None
        return {"month": month, "date": date, "member_ids": list(members), "next_reception": nxt}


class ResponsibilityIndex:
    """Lookups of who is responsible for a place, precomputed per dataset version (see module)."""

    def __init__(self, ds: Dataset, station_index: Any = None):
        self.ds = ds
        self.to_m = Transformer.from_crs("EPSG:4326", ds.metric_crs, always_xy=True)
        self.villages = ds.villages.reset_index(drop=True)
        self.v_rows, self.v_xy = _points(self.villages, self.to_m)
        self.v_tree = cKDTree(self.v_xy) if len(self.v_xy) else None
        self.v_pos = {str(v): i for i, v in enumerate(self.villages["id"].tolist())}
        self.stations = ds.stations.reset_index(drop=True)
        self.s_rows, self.s_xy = _points(self.stations, self.to_m)
        self.s_pos = {str(v): i for i, v in enumerate(self.stations["id"].tolist())}
        self.station_index = station_index
        self.townships = {str(r["id"]): _s(r.get("name")) for _, r in ds.townships.iterrows()}
        self.committees = {str(r["id"]): _s(r.get("name")) for _, r in ds.committees.iterrows()}
        self.groups = {str(r["id"]): r for _, r in ds.groups.iterrows()}
        self.members = ds.members.reset_index(drop=True)
        self.m_pos = {str(v): i for i, v in enumerate(self.members["id"].tolist())}
        self.m_ids = [str(v) for v in self.members["id"].tolist()]
        col = self.members.get("group_id")
        self.m_groups = [_s(v) for v in col.tolist()] if col is not None else [None] * len(self.members)
        self.station_members: dict[str, list[str]] = defaultdict(list)
        if "station_id" in self.members:
            for mid, sid in zip(self.m_ids, self.members["station_id"].tolist()):
                if _s(sid):
                    self.station_members[str(sid)].append(mid)
        self._build_members()
        self._people: dict[tuple[int, bool], tuple[list, list]] = {}
        self._station_dicts: dict[int, dict] = {}
        self._village_dicts: dict[int, dict] = {}

    @classmethod
    def from_dataset(cls, ds: Dataset, station_index: Any = None) -> ResponsibilityIndex:
        return cls(ds, station_index)

    # -- precomputation -----------------------------------------------------------------------
    def _member_xy(self) -> np.ndarray:
        """(n, 2) metric home of each member (else their station's point; NaN when neither)."""
        m = self.members
        xy = np.full((len(m), 2), np.nan)
        rows, pts = _points(m, self.to_m)
        xy[rows] = pts
        located = {int(r): k for k, r in enumerate(self.s_rows.tolist())}
        if "station_id" in m:
            for i, sid in enumerate(m["station_id"].tolist()):
                j = self.s_pos.get(str(sid)) if _s(sid) else None
                if np.isnan(xy[i, 0]) and j in located:
                    xy[i] = self.s_xy[located[j]]
        return xy

    def _build_members(self) -> None:
        """Per sector: the member nearest to each village (row of ``members``, distance in metres)."""
        m = self.members
        self.sectors = sorted({s for s in m["sector"].map(_s).tolist() if s}) if len(m) else []
        nv = len(self.villages)
        self.resp = np.full((nv, len(self.sectors)), -1, dtype=np.int64)
        self.resp_d = np.full((nv, len(self.sectors)), np.nan)
        if not len(m) or not nv:
            return
        xy = self._member_xy()
        vxy = np.full((nv, 2), np.nan)
        vxy[self.v_rows] = self.v_xy
        sec = m["sector"].map(_s).to_numpy(dtype=object)
        home_v = m["village_id"].map(_s).to_numpy(dtype=object) if "village_id" in m else np.full(len(m), None)
        for j, s in enumerate(self.sectors):
            rows = np.flatnonzero((sec == s) & ~np.isnan(xy[:, 0]))
            if len(rows):
                ok = ~np.isnan(vxy[:, 0])
                d, k = cKDTree(xy[rows]).query(vxy[ok])
                self.resp[ok, j], self.resp_d[ok, j] = rows[k], d
            for i in np.flatnonzero(sec == s):  # a member living in the village answers for it
                p = self.v_pos.get(str(home_v[i])) if home_v[i] else None
                if p is not None:
                    self.resp[p, j], self.resp_d[p, j] = i, 0.0

    # -- lookups ------------------------------------------------------------------------------
    def xy(self, lon: float, lat: float) -> np.ndarray:
        x, y = self.to_m.transform(lon, lat)
        return np.array([x, y])

    def village_at(self, lon: float, lat: float) -> tuple[int | None, float | None]:
        """Row of the nearest located village to (lon, lat) and its distance (m); (None, None) when no
        village has a point."""
        if self.v_tree is None:
            return None, None
        d, k = self.v_tree.query(self.xy(lon, lat))
        return int(self.v_rows[int(k)]), float(d)

    def station_lonlat(self, station_id: str) -> tuple[float, float] | None:
        i = self.s_pos.get(station_id)
        if i is None:
            raise KeyError(station_id)
        g = self.stations.geometry.iloc[i]
        return None if g is None or g.is_empty else (float(g.x), float(g.y))

    def nearest_stations(self, lon: float, lat: float, k: int = 3) -> list[dict[str, Any]]:
        """The ``k`` nearest stations: id, name, kind (and its Chinese name), distance_m, lon, lat."""
        if not len(self.s_xy):
            return []
        if self.station_index is not None:
            r = self.station_index.nearest(lon, lat, k=k)
            pairs = [(self.s_pos.get(str(r.stations["id"].iloc[i])), d)
                     for i, d in zip(r.station_index[0].tolist(), r.distance_m[0].tolist()) if i >= 0]
        else:
            d, idx = cKDTree(self.s_xy).query(self.xy(lon, lat), k=min(k, len(self.s_xy)))
            pairs = [(int(self.s_rows[i]), float(x)) for i, x in zip(np.atleast_1d(idx), np.atleast_1d(d))]
        return [self._station(i, dist) for i, dist in pairs if i is not None]

    def _station(self, i: int, distance_m: float | None = None) -> dict[str, Any]:
        base = self._station_dicts.get(i)
        if base is None:
            base = self._station_dicts[i] = self._station_dict(i)
        out = dict(base)
        if distance_m is not None:
            out["distance_m"] = round(float(distance_m), 1)
        return out

    def _station_dict(self, i: int) -> dict[str, Any]:
        r = self.stations.iloc[i]
        g = r.geometry
        kind = _s(r.get("kind"))
        out = {"id": str(r["id"]), "name": _s(r.get("name")) or str(r["id"]), "kind": kind,
               "kind_text": STATION_KIND_LABELS.get(kind or "", {}).get("zh", kind),
               "township_id": _s(r.get("township_id")),
               "lon": None if g is None or g.is_empty else round(float(g.x), 6),
               "lat": None if g is None or g.is_empty else round(float(g.y), 6)}
        return out

    def member_public(self, i: int, *, personal: bool = False) -> dict[str, Any]:
        """A member's public fields (id, name, sector, role, group, committee); home with ``personal``."""
        r = self.members.iloc[i]
        gid, kid = _s(r.get("group_id")), _s(r.get("committee_id"))
        g = self.groups.get(gid or "")
        out: dict[str, Any] = {
            "id": str(r["id"]), "name": _s(r.get("name")) or str(r["id"]), "sector": _s(r.get("sector")),
            "role": _s(r.get("role")), "group_id": gid, "group": _s(g.get("name")) if g is not None else None,
            "committee": self.committees.get(kid or "")}
        if personal:
            geom = r.geometry
            out["home"] = (None if geom is None or geom.is_empty
                           else {"lon": round(float(geom.x), 6), "lat": round(float(geom.y), 6)})
        return out

    def member_row(self, member_id: str) -> int | None:
        return self.m_pos.get(member_id)

    def responsible_members(self, village_row: int) -> list[tuple[int, float]]:
        """(member row, distance m) per sector for ``village_row`` (sectors without a member left out)."""
        return [(int(i), float(d)) for i, d in zip(self.resp[village_row], self.resp_d[village_row]) if i >= 0]

    def contact_point(self, group_id: str, village_row: int | None) -> dict[str, Any] | None:
        """The group's contact point (see module), with its distance to the village when known."""
        g = self.groups.get(group_id)
        if g is None:
            return None
        own = _s(g.get("station_id"))
        vx = self._village_xy(village_row)
        if own and own in self.s_pos:
            i = self.s_pos[own]
            return self._station(i, self._dist(vx, i))
        kinds = self.stations["kind"].to_numpy(dtype=object) if len(self.stations) else np.array([])
        secs = set(g.get("sectors") or [])
        best = None
        for pos, xy in zip(self.s_rows.tolist(), self.s_xy):
            if kinds[pos] != "contact_point":
                continue
            hosted = set(self.stations["sectors"].iloc[pos] or []) if "sectors" in self.stations else set()
            d = float(np.hypot(*(xy - vx))) if vx is not None else 0.0
            key = (0 if hosted & secs else 1, d)
            if best is None or key < best[0]:
                best = (key, pos, d)
        return None if best is None else self._station(best[1], best[2] if vx is not None else None)

    def _village_xy(self, row: int | None) -> np.ndarray | None:
        if row is None:
            return None
        k = np.searchsorted(self.v_rows, row)
        return self.v_xy[k] if k < len(self.v_rows) and self.v_rows[k] == row else None

    def _dist(self, vx: np.ndarray | None, station_row: int) -> float | None:
        k = np.searchsorted(self.s_rows, station_row)
        if vx is None or k >= len(self.s_rows) or self.s_rows[k] != station_row:
            return None
        return float(np.hypot(*(self.s_xy[k] - vx)))

    def people(self, row: int, personal: bool = False) -> tuple[list[dict], list[dict]]:
        """(members by sector, their groups with convener and contact point) of a village row,
        computed once per row (the answers share these objects: callers must not change them)."""
        key = (row, personal)
        hit = self._people.get(key)
        if hit is not None:
            return hit
        members, groups, seen = [], [], set()
        for i, d in self.responsible_members(row):
            m = self.member_public(i, personal=personal) | {"distance_m": round(d, 1)}
            members.append(m)
            gid = m["group_id"]
            if gid and gid not in seen and gid in self.groups:
                seen.add(gid)
                g = self.groups[gid]
                conv = self.member_row(_s(g.get("convener_id")) or "")
                cp = self.contact_point(gid, row)
                groups.append({"id": gid, "name": _s(g.get("name")) or gid, "sectors": list(g.get("sectors") or []),
                               "convener": ({k: v for k, v in self.member_public(conv).items() if k in _BRIEF}
                                            if conv is not None else None),
                               "contact_point": {k: v for k, v in cp.items() if k in _BRIEF_STATION} if cp else None})
        if len(self._people) > 100_000:
            self._people.clear()
        self._people[key] = (members, groups)
        return members, groups

    def village(self, row: int) -> dict[str, Any]:
        """Public fields of a village row (id, name, township_id, lon, lat, location_source)."""
        hit = self._village_dicts.get(row)
        if hit is None:
            hit = self._village_dicts[row] = self._village_dict(row)
        return dict(hit)

    def _village_dict(self, row: int) -> dict[str, Any]:
        r = self.villages.iloc[row]
        g = r.geometry
        tid = _s(r.get("township_id"))
        return {"id": str(r["id"]), "name": _s(r.get("name")) or str(r["id"]), "township_id": tid,
                "lon": None if g is None or g.is_empty else round(float(g.x), 6),
                "lat": None if g is None or g.is_empty else round(float(g.y), 6),
                "location_source": _s(r.get("location_source")) or ("given" if g is not None else "unknown")}

    def constituents_of(self, village_id: str) -> list[dict[str, Any]]:
        c = self.ds.constituents
        if not len(c) or "village_id" not in c:
            return []
        rows = c[c["village_id"].astype(str) == village_id].head(CONSTITUENTS_LISTED)
        return [{"id": str(r["id"]), "name": _s(r.get("name")), "phone": _s(r.get("phone")),
                 "sector": _s(r.get("sector"))} for _, r in rows.iterrows()]


def lookup(index: ResponsibilityIndex, *, lon: float | None = None, lat: float | None = None,
           village_id: str | None = None, station_id: str | None = None, k: int = 3,
           duty: DutyIndex | None = None, today: dt.date | None = None,
           township_committees: Mapping[str, str] | None = None, personal: bool = False) -> dict[str, Any]:
    """Who is responsible for one place (see the module for each part).

    Parameters
    ----------
    index : ResponsibilityIndex
        The dataset version's index.
    lon, lat : float, optional
        WGS-84 degrees of the place; or ``village_id``; or ``station_id`` (exactly one way).
    k : int
        Nearest stations listed (1-20).
    duty : DutyIndex, optional
        The latest roster; without it ``duty`` is empty and ``next_reception`` None.
    today : datetime.date, optional
        The day the duty month and next reception are counted from (default: today, UTC).
    township_committees : mapping, optional
        township id -> committee id.
    personal : bool
        Add members' homes and the village's constituents (staff only).

    Returns
    -------
    dict
        ``query``, ``village``, ``township``, ``committee``, ``groups``, ``members``, ``stations``,
        ``duty``, ``next_reception``, ``distance_to_village_m`` (metres).

    Raises
    ------
    InvalidParameter
        A ``ValueError`` naming the argument (``field``): none or several of the three ways (``lon``),
        an unknown id, ``k`` out of range.
    """
    ways = [lon is not None or lat is not None, village_id is not None, station_id is not None]
    if sum(ways) != 1:
        raise InvalidParameter("lon", "lon/lat, village_id, station_id: give exactly one way to name the place",
                               "one_place")
    if not 1 <= int(k) <= 20:
        raise InvalidParameter("k", f"k must be between 1 and 20, got {k}", "between", ctx={"lo": 1, "hi": 20})
    today = today or dt.datetime.now(dt.UTC).date()
    station = None
    dist_v = None
    if village_id is not None:
        row = index.v_pos.get(village_id)
        if row is None:
            raise InvalidParameter("village_id", f"village_id: no village '{village_id}'", "not_in_dataset")
        v = index.village(row)
        if v["lon"] is None:
            pt = None
        else:
            pt = (v["lon"], v["lat"])
        dist_v = 0.0
    else:
        if station_id is not None:
            if station_id not in index.s_pos:
                raise InvalidParameter("station_id", f"station_id: no station '{station_id}'", "not_in_dataset")
            pt = index.station_lonlat(station_id)
            station = index._station(index.s_pos[station_id], 0.0)
        else:
            if lon is None or lat is None or not (-180 <= lon <= 180) or not (-90 <= lat <= 90):
                raise InvalidParameter("lon", "lon/lat: both needed, lon in [-180, 180] and lat in [-90, 90]", "lonlat_pair")
            pt = (float(lon), float(lat))
        row, dist_v = index.village_at(*pt) if pt is not None else (None, None)
    return _answer(index, row, pt, station, dist_v, k=k, duty=duty, today=today,
                   township_committees=township_committees or {}, personal=personal)


def _answer(index: ResponsibilityIndex, row: int | None, pt: tuple[float, float] | None,
            station: dict[str, Any] | None, dist_v: float | None, *, k: int, duty: DutyIndex | None,
            today: dt.date, township_committees: Mapping[str, str], personal: bool) -> dict[str, Any]:
    village = index.village(row) if row is not None else None
    tid = village["township_id"] if village else (station or {}).get("township_id")
    kid = township_committees.get(tid or "")
    members, groups = index.people(row, personal) if row is not None else ([], [])
    stations = index.nearest_stations(pt[0], pt[1], k=k) if pt is not None else []
    if station is not None:
        stations = [station] + [s for s in stations if s["id"] != station["id"]][: k - 1]
    on_duty: list[dict[str, Any]] = []
    nxt = None
    for s in stations:
        at = duty.at(s["id"], today) if duty is not None else None
        s["duty"] = [] if at is None or duty is None else [_duty_member(index, duty, mid)
                                                           for mid in at["member_ids"]]
        s["duty_date"] = None if at is None else at["date"]
        s["next_reception"] = None if at is None else at["next_reception"]
        if s["duty"] and not on_duty:
            on_duty = [dict(m, station_id=s["id"], station=s["name"], date=s["duty_date"]) for m in s["duty"]]
        if s["next_reception"] and nxt is None:
            nxt = {"date": s["next_reception"], "station_id": s["id"], "station": s["name"]}
    out = {"village": village, "township": {"id": tid, "name": index.townships.get(tid or "")} if tid else None,
           "committee": {"id": kid, "name": index.committees.get(kid)} if kid else None,
           "groups": groups, "members": members, "stations": stations, "duty": on_duty,
           "next_reception": nxt, "month": f"{today.year:04d}-{today.month:02d}",
           "distance_to_village_m": None if dist_v is None else round(dist_v, 1)}
    if personal and village:
        out["constituents"] = index.constituents_of(village["id"])
    return out


def _duty_member(index: ResponsibilityIndex, duty: DutyIndex, member_id: str) -> dict[str, Any]:
    i = index.member_row(member_id)
    if i is None:
        return {"id": member_id, "name": duty.names.get(member_id, member_id)}
    m = index.member_public(i)
    return {k: m[k] for k in ("id", "name", "sector", "role", "group")}


__all__ = ["DutyIndex", "ResponsibilityIndex", "lookup"]
