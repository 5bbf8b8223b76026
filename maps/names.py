"""Names as a reader needs them on a map: the county's own name for titles, and names shared by
several features told apart by their township."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any


def county_name(ds) -> str:
    """The name a map is titled with: the county's own (its one county row), else the dataset's."""
    co = ds.counties
    placeholders = {"counties", "county", "区县", "县", str(getattr(ds, "name", "") or "")}
    name = co["name"].iloc[0].strip() if len(co) == 1 and isinstance(co["name"].iloc[0], str) else ""
    file_like = bool(re.fullmatch(r"[A-Za-z0-9_.\-]+", name)) and bool(re.search(r"[_\d.]", name))
    if name and name not in placeholders and name != co["id"].iloc[0] and not file_like:
        return name  # not a name the importer made up from the file ("county_boundary_gcj02") or the id
    meta_name = (getattr(ds, "meta", None) or {}).get("county_name")
    if isinstance(meta_name, str) and meta_name.strip():
        return meta_name.strip()
    return str(getattr(ds, "name", "") or "")


def disambiguate(names: Sequence[Any], qualifiers: Sequence[Any]) -> list[str]:
    """Names made distinct for a reader: a name shared by several rows gets its qualifier
    (the township's name) in brackets, ``聚宝镇综合型委员工作站（聚宝镇）``; unique names stay as they are.

    Rows whose name and qualifier are both shared keep a running number as well (``…（聚宝镇 2）``)."""
    names = ["" if n is None else str(n) for n in names]
    quals = ["" if q is None else str(q) for q in qualifiers]
    if len(names) != len(quals):
        raise ValueError(f"qualifiers must align with names ({len(quals)} vs {len(names)})")
    count: dict[str, int] = {}
    for n in names:
        count[n] = count.get(n, 0) + 1
    pair: dict[tuple[str, str], int] = {}
    for n, q in zip(names, quals):
        pair[(n, q)] = pair.get((n, q), 0) + 1
    seen: dict[tuple[str, str], int] = {}
    out = []
    for n, q in zip(names, quals):
        if count[n] < 2:
            out.append(n)
            continue
        seen[(n, q)] = seen.get((n, q), 0) + 1
        tag = q if pair[(n, q)] < 2 else f"{q} {seen[(n, q)]}".strip()
        out.append(f"{n}（{tag}）" if tag else n)
    return out


__all__ = ["county_name", "disambiguate"]
