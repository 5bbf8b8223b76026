"""Vocabulary and target sizes of a synthetic network, and the random helpers every stage uses."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import shapely
from numpy.typing import NDArray

from ...core.domain import canonical_sector


# --- vocabulary --------------------------------------------------------------------------------
#: Share of members per sector (界别) in a prefecture-level committee of about 400 members.
SECTOR_SHARES: dict[str, float] = {
    "中共": 0.10, "民革": 0.03, "民盟": 0.035, "民建": 0.035, "民进": 0.03, "农工党": 0.03,
    "九三学社": 0.025, "无党派": 0.03, "共青团": 0.015, "工会": 0.02, "妇联": 0.02, "青联": 0.015,
    "工商联": 0.07, "科协": 0.02, "科技": 0.035, "社会科学": 0.02, "经济": 0.08, "农业": 0.065,
    "教育": 0.05, "体育": 0.01, "文化艺术": 0.04, "新闻出版": 0.015, "医药卫生": 0.05,
    "对外友好": 0.01, "社会福利和社会保障": 0.02, "少数民族": 0.03, "宗教": 0.015, "特邀": 0.06,
    "环境资源": 0.015,
}

#: Related sectors that may share one activity group (at most 3 per group).
SECTOR_FAMILIES: tuple[tuple[str, ...], ...] = (
    ("中共",), ("民革", "民盟", "民建", "民进", "农工党", "致公党", "九三学社", "台盟"),
    ("无党派", "特邀"), ("共青团", "工会", "妇联", "青联"), ("工商联", "经济"),
    ("科协", "科技", "社会科学"), ("文化艺术", "新闻出版", "体育"), ("教育",), ("医药卫生",),
    ("农业", "环境资源"), ("对外友好", "台联", "侨联"), ("社会福利和社会保障",), ("少数民族", "宗教"),
)
_FAMILY_OF = {s: i for i, fam in enumerate(SECTOR_FAMILIES) for s in fam}

#: Special committees (专委会) and the sectors whose members usually sit on them.
COMMITTEES: dict[str, tuple[str, ...]] = {
    "提案委员会": ("中共", "无党派", "特邀"),
    "经济委员会": ("经济", "工商联", "民建"),
    "农业和农村委员会": ("农业", "环境资源"),
    "教科卫体委员会": ("教育", "科技", "科协", "医药卫生", "体育", "九三学社", "农工党", "民进"),
    "文化文史和学习委员会": ("文化艺术", "新闻出版", "社会科学", "民盟"),
    "社会和法制委员会": ("社会福利和社会保障", "工会", "妇联", "共青团", "青联"),
    "民族宗教委员会": ("少数民族", "宗教"),
    "港澳台侨和外事委员会": ("对外友好", "台联", "侨联", "民革", "致公党", "台盟"),
    "人口资源环境委员会": ("环境资源",),
}

#: Road classes (class, speed km/h) by tier.
ROAD_CLASSES: dict[str, tuple[str, float]] = {
    "county": ("国道", 80.0), "township": ("县道", 50.0), "seat_link": ("乡道", 40.0),
    "village": ("村道", 30.0), "urban": ("城市道路", 30.0),
}

#: How much more likely a member of a sector lives in a town (社区/seat) than in a village.
_URBAN_PULL = {"农业": 0.6, "宗教": 1.5, "少数民族": 1.5, "环境资源": 2.0}
_DEFAULT_URBAN_PULL = 6.0
_EDGE_MARGIN_M = 60.0  # villages keep this far inside their township (metres)


@dataclass(frozen=True)
class NetworkSizes:
    """Target sizes of a generated network (whole network, not per county).

    ``villages``: rural villages in total (None: one per ``km2_per_village`` of rural land).
    Township counts come from a ``townships`` column of the counties, else from area.
    """

    members: int = 400
    comprehensive: int = 23
    sector_stations: int = 34
    studios: int = 20
    contact_points: int = 3
    groups: int = 22
    conveners: int = 80
    committees: tuple[str, ...] = tuple(COMMITTEES)
    constituents_per_member: float = 10.0
    villages: int | None = None
    km2_per_village: float = 26.0
    km2_per_township: float = 380.0
    km2_per_street: float = 8.0
    townships_range: tuple[int, int] = (4, 14)
    urban_max_km2: float = 200.0
    sector_shares: dict[str, float] = field(default_factory=lambda: dict(SECTOR_SHARES))

    def __post_init__(self) -> None:
        ints = ("members", "comprehensive", "sector_stations", "studios", "contact_points", "groups",
                "conveners")
        for name in ints:
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"NetworkSizes.{name} must be an integer >= 0, got {v!r}")
        if self.members < 1 or not 1 <= self.groups <= self.members:
            raise ValueError(f"NetworkSizes needs members >= 1 and 1 <= groups <= members, "
                             f"got members={self.members}, groups={self.groups}")
        if self.conveners < self.groups:
            raise ValueError(f"NetworkSizes.conveners ({self.conveners}) must be at least one per "
                             f"group ({self.groups})")
        if not self.committees:
            raise ValueError("NetworkSizes.committees must name at least one committee")
        if self.constituents_per_member < 0:
            raise ValueError(f"NetworkSizes.constituents_per_member must be >= 0, "
                             f"got {self.constituents_per_member}")
        unknown = [k for k in self.sector_shares if canonical_sector(k) != k]
        if unknown or not any(v > 0 for v in self.sector_shares.values()):
            raise ValueError(f"NetworkSizes.sector_shares needs positive shares of canonical sectors "
                             f"(geo_service.core.domain.SECTORS); unknown: {', '.join(unknown) or 'none'}")

    def scaled(self, share: float) -> NetworkSizes:
        """Sizes for a part of the network holding ``share`` (0..1] of its people."""
        if not 0 < share <= 1:
            raise ValueError(f"share must be in (0, 1], got {share}")
        s = lambda n, lo: max(lo, int(round(n * share)))  # noqa: E731
        groups = s(self.groups, 2)
        return replace(self, members=s(self.members, 30), comprehensive=s(self.comprehensive, 1),
                       sector_stations=s(self.sector_stations, 1), studios=s(self.studios, 1),
                       contact_points=s(self.contact_points, 0), groups=groups,
                       conveners=max(3 * groups, s(self.conveners, 3)),
                       committees=self.committees[: max(3, min(len(self.committees),
                                                               s(self.members, 30) // 8))],
                       villages=None if self.villages is None else s(self.villages, 10))


# --- helpers -----------------------------------------------------------------------------------
def _rng(seq: np.random.SeedSequence) -> np.random.Generator:
    return np.random.default_rng(seq)


def _sample_in(geom, n: int, rng: np.random.Generator, weight=None, max_rounds: int = 60) -> NDArray:
    """``n`` random points (metres) inside ``geom``, accepted with probability ``weight(xy)`` (0..1)."""
    minx, miny, maxx, maxy = geom.bounds
    shapely.prepare(geom)
    out: list[NDArray] = []
    got = 0
    frac = max(geom.area / max((maxx - minx) * (maxy - miny), 1e-9), 0.02)
    for _ in range(max_rounds):
        k = int((n - got) / frac * 1.5) + 16
        xy = np.column_stack([rng.uniform(minx, maxx, k), rng.uniform(miny, maxy, k)])
        xy = xy[shapely.contains_xy(geom, xy[:, 0], xy[:, 1])]
        if weight is not None and len(xy):
            xy = xy[rng.random(len(xy)) < weight(xy)]
        out.append(xy)
        got += len(xy)
        if got >= n:
            break
    pts = np.concatenate(out) if out else np.zeros((0, 2))
    if len(pts) < n:  # a sliver: fall back to points on the surface
        extra = np.array([shapely.get_coordinates(shapely.point_on_surface(geom))[0]] * (n - len(pts)))
        pts = np.concatenate([pts, extra]) if len(pts) else extra
    return pts[:n]


def _poisson_pick(cand: NDArray, n: int, min_dist: float, fixed: NDArray | None = None) -> NDArray:
    """Keep candidates in order while they are at least ``min_dist`` metres from those kept."""
    kept: list[NDArray] = [] if fixed is None else list(fixed)
    n0 = len(kept)
    for p in cand:
        if len(kept) - n0 >= n:
            break
        if kept and np.min(np.hypot(*(np.asarray(kept) - p).T)) < min_dist:
            continue
        kept.append(p)
    return np.asarray(kept[n0:]).reshape(-1, 2)


def _largest_remainder(weights: NDArray, total: int) -> NDArray:
    """Integers proportional to ``weights`` summing to ``total`` (largest remainder method)."""
    q = weights / weights.sum() * total
    n = np.floor(q).astype(int)
    n[np.argsort(-(q - n), kind="stable")[: total - n.sum()]] += 1
    return n
