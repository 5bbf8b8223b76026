"""Synthetic people: members by sector and home, activity groups with conveners, committees, and
constituents in villages (stages 4 and 6 of :func:`geo_service.app.synthetic.generate_network`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from .common import (
    _DEFAULT_URBAN_PULL,
    _FAMILY_OF,
    _URBAN_PULL,
    COMMITTEES,
    SECTOR_SHARES,
    NetworkSizes,
    _largest_remainder,
)


def _member_sectors(sz: NetworkSizes, rng: np.random.Generator) -> tuple[tuple[str, ...], NDArray]:
    """The sectors in play and each member's sector (shuffled), in proportion to ``sector_shares``.

    Groups hold 1-3 sectors, so with few groups only the largest 2 x groups sectors are kept,
    which guarantees that :func:`_make_groups` reaches the target number of groups.
    """
    order = list(sz.sector_shares)
    ranked = sorted((p, s) for s, p in sz.sector_shares.items() if p > 0)[::-1][: 2 * sz.groups]
    sectors, shares = zip(*[(s, p) for p, s in sorted(ranked, key=lambda x: order.index(x[1]))])
    counts = _largest_remainder(np.asarray(shares, float), sz.members)
    mem_sector = np.repeat(np.asarray(sectors, dtype=object), counts)
    return sectors, mem_sector[rng.permutation(len(mem_sector))]


def _member_homes(mem_sector: NDArray, sectors: tuple[str, ...], towns: pd.DataFrame, vil: pd.DataFrame,
                  vxy: NDArray, rng: np.random.Generator) -> tuple[NDArray, NDArray]:
    """Each member's home village (mostly towns, by sector) and point (metres, a few hundred metres
    from the village centre, inside its township)."""
    pop = vil["population"].to_numpy(float)
    town_like = (vil["community"] | vil["is_seat"]).to_numpy()
    urban = vil["urban"].to_numpy()
    mem_vil = np.empty(len(mem_sector), int)
    for s in sectors:
        wv = pop * np.where(town_like, _URBAN_PULL.get(s, _DEFAULT_URBAN_PULL), 1.0) * np.where(urban, 1.5, 1.0)
        sel = np.flatnonzero(mem_sector == s)
        mem_vil[sel] = rng.choice(len(vil), size=len(sel), p=wv / wv.sum())
    jitter = rng.normal(0, 1, (len(mem_vil), 2)) * np.where(urban[mem_vil], 400, 150)[:, None]
    mxy = vxy[mem_vil] + jitter
    cells = towns["geometry"].to_numpy()[vil["t_idx"].to_numpy()[mem_vil]]
    outside = ~np.array([shapely.contains_xy(c, *p) for c, p in zip(cells, mxy)], dtype=bool)
    mxy[outside] = vxy[mem_vil[outside]]
    return mem_vil, mxy


def _constituent_villages(mem_sector: NDArray, mem_vil: NDArray, sectors: tuple[str, ...],
                          vil: pd.DataFrame, per_member: float, rng: np.random.Generator) -> tuple[NDArray, NDArray]:
    """About ``per_member`` constituents per member, of the member's sector: 70 % in the member's
    county, the rest anywhere, villages weighted by residents (towns a little more)."""
    n_con = np.clip(np.round(rng.normal(per_member, 1.5, len(mem_sector))), 1, None).astype(int)
    con_sector = np.repeat(mem_sector, n_con)
    vc = vil["c_idx"].to_numpy()
    con_county = np.repeat(vc[mem_vil], n_con)
    con_vil = np.empty(len(con_sector), int)
    pop = vil["population"].to_numpy(float)
    town_like = (vil["community"] | vil["is_seat"]).to_numpy()
    for s in sectors:
        base = pop * np.where(town_like, _URBAN_PULL.get(s, _DEFAULT_URBAN_PULL) ** 0.5, 1.0)
        sel = np.flatnonzero(con_sector == s)
        if not len(sel):
            continue
        own = rng.random(len(sel)) < 0.7
        con_vil[sel[~own]] = rng.choice(len(vil), size=int((~own).sum()), p=base / base.sum())
        for c in np.unique(con_county[sel[own]]):
            cs = sel[own][con_county[sel[own]] == c]
            wc = base * (vc == c)
            con_vil[cs] = rng.choice(len(vil), size=len(cs), p=wc / wc.sum())
    return con_sector, con_vil


def _zh_number(n: int) -> str:
    """Chinese numeral for 1 <= n <= 99 (一, 十二, 二十三); larger numbers in digits."""
    digits = "零一二三四五六七八九"
    if not 1 <= n <= 99:
        return str(n)
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else digits[tens] + "十")
    return head + (digits[ones] if ones else "")


def _make_groups(mem_sector: NDArray, mxy: NDArray, target: int) -> tuple[list[dict], NDArray]:
    """Partition members into ``target`` activity groups of 1-3 related sectors.

    Start with one group per sector; merge the two smallest related groups while there are too
    many; split the largest one by geography (west/east) while there are too few.
    """
    present = list(dict.fromkeys(s for s in SECTOR_SHARES if (mem_sector == s).any()))
    present += [s for s in dict.fromkeys(mem_sector) if s not in present]
    groups = [{"sectors": [s], "members": np.flatnonzero(mem_sector == s)} for s in present]
    while len(groups) > target:
        best = None
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                a, b = groups[i], groups[j]
                fa = {_FAMILY_OF.get(s, -1 - k) for k, s in enumerate(a["sectors"])}
                fb = {_FAMILY_OF.get(s, -100 - k) for k, s in enumerate(b["sectors"])}
                if len(a["sectors"]) + len(b["sectors"]) > 3 or not fa & fb or "part" in a or "part" in b:
                    continue
                size = len(a["members"]) + len(b["members"])
                if best is None or size < best[0]:
                    best = (size, i, j)
        if best is None:  # no related pair left: merge the two smallest groups of up to 3 sectors
            order = np.argsort([len(g["members"]) for g in groups], kind="stable")
            pairs = [(int(a), int(b)) for a in order for b in order if a < b
                     and len(groups[a]["sectors"]) + len(groups[b]["sectors"]) <= 3
                     and "part" not in groups[a] and "part" not in groups[b]]
            if not pairs:
                break
            best = (0, *min(pairs, key=lambda p: len(groups[p[0]]["members"]) + len(groups[p[1]]["members"])))
        _, i, j = best
        groups[i] = {"sectors": groups[i]["sectors"] + groups[j]["sectors"],
                     "members": np.sort(np.concatenate([groups[i]["members"], groups[j]["members"]]))}
        del groups[j]
    while len(groups) < target:
        i = int(np.argmax([len(g["members"]) for g in groups]))
        g = groups[i]
        if len(g["members"]) < 8:
            break
        order = g["members"][np.argsort(mxy[g["members"], 0], kind="stable")]
        half = len(order) // 2
        part = g.get("part", 0)
        groups[i] = {"sectors": g["sectors"], "members": np.sort(order[:half]), "part": part + 1}
        groups.insert(i + 1, {"sectors": g["sectors"], "members": np.sort(order[half:]), "part": part + 1})
    # name them; numbered when a sector set has several groups
    labels = ["、".join(g["sectors"]) for g in groups]
    seen: dict[str, int] = {}
    out = []
    mem_group = np.empty(len(mem_sector), int)
    for k, (g, lab) in enumerate(zip(groups, labels)):
        seen[lab] = seen.get(lab, 0) + 1
        suffix = f"第{_zh_number(seen[lab])}" if labels.count(lab) > 1 else ""
        out.append({"id": f"G{k + 1:02d}", "name": f"{lab}界别{suffix}活动组", "sectors": list(g["sectors"])})
        mem_group[g["members"]] = k
    return out, mem_group


def _pick_conveners(mem_group: NDArray, n_groups: int, total: int,
                    rng: np.random.Generator) -> tuple[list[str | None], list[int]]:
    """A convener and 2-4 deputies per group, about ``total`` in all; returns roles and conveners."""
    sizes = np.bincount(mem_group, minlength=n_groups)
    deputies = np.minimum(np.full(n_groups, 2), np.maximum(sizes - 1, 0))
    extra = total - n_groups - int(deputies.sum())
    for g in np.argsort(-sizes, kind="stable"):
        if extra <= 0:
            break
        add = min(2, extra, max(0, sizes[g] - 1 - deputies[g]))
        deputies[g] += add
        extra -= add
    roles: list[str | None] = [None] * len(mem_group)
    conveners = []
    for g in range(n_groups):
        m = rng.permutation(np.flatnonzero(mem_group == g))
        conveners.append(int(m[0]))
        roles[m[0]] = "convener"
        for d in m[1:1 + deputies[g]]:
            roles[d] = "deputy_convener"
    return roles, conveners


def _assign_committees(mem_sector: NDArray, committees: tuple[str, ...],
                       rng: np.random.Generator) -> NDArray:
    """Committee index per member: usually one matching the sector, else the emptiest one."""
    n = len(committees)
    load = np.zeros(n, int)
    out = np.empty(len(mem_sector), int)
    affinity = {c: i for i, c in enumerate(committees)}
    for m in rng.permutation(len(mem_sector)):
        match = [affinity[c] for c, secs in COMMITTEES.items() if c in affinity and mem_sector[m] in secs]
        cap = 1.6 * len(mem_sector) / n
        match = [k for k in match if load[k] < cap]
        k = int(rng.choice(match)) if match and rng.random() < 0.75 else int(np.argmin(load + rng.random(n)))
        out[m] = k
        load[k] += 1
    return out
