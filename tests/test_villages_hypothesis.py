"""Property tests for the village-list loader: random lists with holes keep every row, honestly.

A list is a townships table (seat points given or not) and a villages table whose rows have
coordinates or not, written as the statistics bureau's CSV (代码, 名称, 乡镇, 经度, 纬度). Whatever the
holes, the import keeps every village and township; each village's ``location_source`` follows the
rules (own point, else its township's seat, else the centre of its township's derived polygon,
else unknown with no point); the import report counts add up; ``drop`` keeps exactly the located
ones and names the others; an export re-imports with the same sources.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo_service.core.io import read_dataset, write_dataset
from geo_service.core.locations import location_line, source_counts

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
coord = st.integers(0, 10**5).map(lambda k: k / 10**5)


@st.composite
def village_lists(draw):
    lon0, lat0 = draw(st.sampled_from([(114.0, 29.3), (116.3, 39.9), (87.5, 28.6)]))
    n_t = draw(st.integers(1, 4))
    towns = [{"代码": f"T{t}", "名称": f"乡镇{t}",
              "xy": (round(lon0 + draw(coord) * 0.3, 6), round(lat0 + draw(coord) * 0.3, 6))
              if draw(st.booleans()) else None} for t in range(n_t)]
    n_v = draw(st.integers(1, 12))
    vills = []
    for i in range(n_v):
        t = draw(st.integers(0, n_t - 1))
        xy = (round(lon0 + draw(coord) * 0.3, 6), round(lat0 + draw(coord) * 0.3, 6)) if draw(st.booleans()) else None
        vills.append({"代码": f"V{i:03d}", "名称": f"村{i}", "乡镇": towns[t]["名称"], "xy": xy})
    return towns, vills


def _write(folder: Path, towns, vills) -> None:
    with (folder / "townships.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["代码", "名称", "经度", "纬度"])
        for t in towns:
            w.writerow([t["代码"], t["名称"], *(t["xy"] or ("", ""))])
    with (folder / "villages.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["代码", "名称", "乡镇", "经度", "纬度"])
        for v in vills:
            w.writerow([v["代码"], v["名称"], v["乡镇"], *(v["xy"] or ("", ""))])


def _expected(towns, vills) -> list[str]:
    seat = {t["名称"] for t in towns if t["xy"]}
    has_given = {v["乡镇"] for v in vills if v["xy"]}
    anything = bool(seat or has_given)  # nothing located at all: no polygon can be derived
    return ["given" if v["xy"] else "township_seat" if v["乡镇"] in seat
            else "township_centre" if anything and v["乡镇"] in has_given else "unknown" for v in vills]


@FAST
@given(data=village_lists())
def test_every_village_kept_with_its_source(data):
    towns, vills = data
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write(folder, towns, vills)
        ds = read_dataset(folder, datum="gcj02")
        assert len(ds.villages) == len(vills) and len(ds.townships) == len(towns)
        got = dict(zip(ds.villages["id"], ds.villages["location_source"]))
        want = _expected(towns, vills)
        assert [got[v["代码"]] for v in vills] == want
        # geometry missing exactly where unknown; a seat village lies at its township's seat
        geom = dict(zip(ds.villages["id"], ds.villages.geometry))
        seat = dict(zip(ds.townships["name"], [None] * len(ds.townships)))
        for t in towns:
            seat[t["名称"]] = t["xy"]
        for v, s in zip(vills, want):
            assert (geom[v["代码"]] is None) == (s == "unknown")
        seats_in = [geom[v["代码"]] for v, s in zip(vills, want) if s == "township_seat"]
        assert all(p.geom_type == "Point" for p in seats_in)
        rep = ds.meta["import_report"]
        counts = source_counts(ds.villages)
        assert sum(counts.values()) == len(vills) == rep["given"] + rep["approximate"] + rep["unknown"]
        assert location_line(ds.villages).startswith(f"{len(vills)} 个村社区：{want.count('given')} 个有坐标")
        # townships without seat and without a located village: kept, no polygon
        b = dict(zip(ds.townships["name"], ds.townships["boundary_source"]))
        for t in towns:  # (a township whose points all coincide with another's may get no cell)
            lonely = not t["xy"] and not any(v["xy"] and v["乡镇"] == t["名称"] for v in vills)
            assert b[t["名称"]] in (("none",) if lonely else ("derived", "none"))
        # an export re-imports with the same sources and points
        back = read_dataset(write_dataset(ds, folder / "out", fmt="csv", lang="zh"))
        assert list(back.villages["location_source"]) == list(ds.villages["location_source"])
        assert all(shapely.equals_exact(a, b, 1e-7) if a is not None else b is None
                   for a, b in zip(ds.villages.geometry, back.villages.geometry))


@FAST
@given(data=village_lists())
def test_drop_is_explicit_and_reported(data):
    towns, vills = data
    if not any(v["xy"] for v in vills):
        return  # nothing would be left: the import refuses an empty list (another test)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write(folder, towns, vills)
        ds = read_dataset(folder, datum="gcj02", missing_points="drop")
        kept = [v["代码"] for v in vills if v["xy"]]
        assert list(ds.villages["id"]) == kept
        rep = ds.meta["import_report"]
        assert rep["dropped"].get("villages", []) == sorted(v["代码"] for v in vills if not v["xy"])
        assert rep["dropped_count"] >= len(vills) - len(kept)
