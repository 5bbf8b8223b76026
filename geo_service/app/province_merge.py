"""One dataset for a whole synthetic province: the counties of :func:`generate_province` merged.

Used to measure and test province-size maps: a coverage map of ~20,000 villages.
"""

from __future__ import annotations

import math

import pandas as pd

from ..core.dataset import Dataset
from .province import generate_province

#: villages per county (about, at ``km2_per_village=5``) on the ~2,800 km2 counties of :func:`generate_province`
_VILLAGES_PER_COUNTY = 560


def merge_counties(counties: list[Dataset], *, name: str = "province") -> Dataset:
    """One :class:`Dataset` holding the counties, townships, villages and stations of ``counties``.

    Station ids are prefixed with their county's id (each county numbers its stations from
    ``C01``); township and village ids already carry it. Members, groups, committees,
    constituents and roads are left out (a coverage map needs none of them).
    """
    if not counties:
        raise ValueError("counties must hold at least one county dataset")
    parts: dict[str, list[pd.DataFrame]] = {k: [] for k in ("counties", "townships", "villages", "stations")}
    for ds in counties:
        cid = str(ds.counties["id"].iloc[0]) if len(ds.counties) else ds.name
        for k in parts:
            df = ds.layers[k].copy()
            if k == "stations":
                df["id"] = cid + "-" + df["id"].astype(str)
            parts[k].append(df)
    layers = {k: pd.concat(v, ignore_index=True) for k, v in parts.items()}
    return Dataset.from_layers(layers, name=name)


def province_dataset(n_villages: int = 20_000, seed: int = 0) -> Dataset:
    """A synthetic province of about ``n_villages`` villages as one dataset (seeded, reproducible).

    Counties of ~560 villages each (:func:`generate_province` with ``km2_per_village=5``), so
    20,000 villages is 37 counties, ~250 townships and ~260 stations.
    """
    if isinstance(n_villages, bool) or not isinstance(n_villages, int) or n_villages < 1:
        raise ValueError(f"n_villages must be a whole number >= 1, got {n_villages!r}")
    n = max(1, math.ceil(n_villages / _VILLAGES_PER_COUNTY))
    ds = merge_counties(generate_province(n, seed=seed, km2_per_village=5.0), name=f"省级示例（{n} 县）")
    return ds


__all__ = ["merge_counties", "province_dataset"]
