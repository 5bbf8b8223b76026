"""A real county's village list as an office has it: most villages without coordinates.

:func:`sparse_real_county` imports a county of ``../shared/real`` (GCJ-02) with a comprehensive
station at every third township seat, then gives back every village the import could not locate:
at its township's seat (``location_source`` ``township_seat``, as the import places them), or
without a point (``unknown``) every ``unknown_every``-th one. The villages layer keeps every row of
the list, as the import does.
"""

from __future__ import annotations

import csv
import dataclasses
import shutil
import tempfile
from pathlib import Path

import numpy as np
from geo_service.core.io import read_dataset

from shared_data import require_shared, shared_path

REAL = shared_path("real")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def sparse_real_county(county: str, *, unknown_every: int = 0, station_every: int = 3):
    """The county's dataset with approximate (and, every ``unknown_every``-th, unlocated) villages
    (the test fails under CI, skips elsewhere, when the shared data is absent)."""
    src = REAL / county
    require_shared(src / "villages.csv", f"the real county {county}")
    tmp = Path(tempfile.mkdtemp(prefix="gs-real-"))
    try:
        shutil.copy(src / "villages.csv", tmp / "villages.csv")
        shutil.copy(src / "townships.csv", tmp / "townships.csv")
        if (src / "county_boundary_gcj02.json").exists():
            shutil.copy(src / "county_boundary_gcj02.json", tmp / "counties.geojson")
        towns = _rows(src / "townships.csv")
        seats = [t for t in towns if t["经度"].strip() and t["纬度"].strip()]
        with (tmp / "stations.csv").open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["名称", "类型", "乡镇", "经度", "纬度"])
            for t in seats[::station_every]:
                w.writerow([f"{t['名称']}综合型委员工作站", "综合型", t["名称"], t["经度"], t["纬度"]])
        ds = read_dataset(tmp, datum="gcj02", name=county)  # keeps every village, placed at its seat
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not unknown_every:
        return ds
    v = ds.villages.copy()
    approx = np.flatnonzero(v["location_source"].ne("given").to_numpy())
    drop = approx[::unknown_every]
    v.loc[v.index[drop], "location_source"] = "unknown"
    v = v.set_geometry(v.geometry.where(~np.isin(np.arange(len(v)), drop), None))
    return dataclasses.replace(ds, layers={**ds.layers, "villages": v})


__all__ = ["REAL", "sparse_real_county"]
