"""Distances from approximate locations are marked in the result tables: a real county with most
village coordinates removed (members and constituents given only by their village) gets a
``distance_basis`` column beside each distance whose counts are worked out here from the import's
own rules (the village's source, as ``test_villages_real`` derives it from the CSV files); a dataset
located everywhere by coordinates keeps its columns exactly."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from geo_service.core.io import read_dataset
from geo_service.core.locations import distance_basis
from solvers.pipeline import run_optimisation
from solvers.tables import result_tables
from shared_data import require_shared
from test_villages_real import REAL, county_files

SURE_FIRST = {"given": 0, "placed": 0, "township_seat": 1, "township_centre": 2, "unknown": 3}
BASIS = {0: "coordinates", 1: "township_seat", 2: "township_centre", 3: "unknown"}


def _worst(*sources: str | None) -> str:
    """The least sure of ``sources``, written out independently of the service's helper."""
    return BASIS[max(SURE_FIRST.get(s or "unknown", 3) for s in sources)]


def test_distance_basis_is_the_least_sure_end():
    assert distance_basis("given", "placed") == "coordinates"
    assert distance_basis("given", "township_seat") == "township_seat"
    assert distance_basis("township_centre", "township_seat") == "township_centre"
    assert distance_basis("given", None) == distance_basis("unknown") == distance_basis() == "unknown"


def test_a_sparse_real_county_marks_its_approximate_distances(tmp_path):
    county = "chongyang"
    require_shared(REAL / county / "villages.csv", "the real county list")
    info = county_files(tmp_path, county, 0.9, seed=2201)
    ds = read_dataset(tmp_path, datum="gcj02", name=county)
    src = dict(zip((r["代码"] for r in info["villages"]), info["expect"]))  # the rules, from the CSV files
    assert {"given", "township_seat"} <= set(src.values())
    home = {f"M{k + 1}": src[v] for k, v in enumerate(info["homes"])}
    where = {f"P{i + 1:03d}": src[v] for i, v in enumerate(info["picks"])}
    res = run_optimisation(ds, {"time_limit_s": 20, "seed": 0})
    t = result_tables(res, ds, "en")

    cons = t["constituents"]
    cols = list(cons.columns)
    assert cols[cols.index("distance_m") + 1] == "distance_basis"
    want = Counter(_worst(where[c], home.get(m) if isinstance(m, str) else None)
                   for c, m in zip(cons["constituent_id"], cons["member_id"]))
    assert Counter(cons["distance_basis"]) == want and len(cons) == 90
    assert want["coordinates"] < len(cons)  # most ends are approximate here: the column says so
    assert pd.api.types.is_numeric_dtype(cons["distance_m"])  # distances stay numbers

    mem = t["members"]
    per = cons.groupby("member_id")["constituent_id"].apply(list).to_dict()
    want_m = Counter(_worst(home[m], *[where[c] for c in per.get(m, [])]) for m in mem["member_id"])
    assert Counter(mem["distance_basis"]) == want_m
    mcols = list(mem.columns)
    assert mcols[mcols.index("max_m") + 1] == "distance_basis"

    groups = t["groups"]  # tier 2's zones: measured from the group's contact villages
    gcols = list(groups.columns)
    assert gcols[gcols.index("zone_max_m") + 1] == "distance_basis"
    want_g = [_worst(*[src[v] for v in ids.split(";")]) if ids else "unknown" for ids in groups["village_ids"]]
    assert groups["distance_basis"].tolist() == want_g

    zh = result_tables(res, ds, "zh")
    assert "距离依据" in zh["constituents"].columns and "距离依据" in zh["members"].columns
    words = {"coordinates": "坐标", "township_seat": "按乡镇驻地近似", "township_centre": "按乡镇中心近似",
             "unknown": "未定位"}
    assert Counter(zh["constituents"]["距离依据"]) == Counter({words[k]: n for k, n in want.items()})


def test_a_dataset_located_by_coordinates_keeps_its_columns(tiny):
    assert set(tiny.villages["location_source"]) == {"given"}
    t = result_tables(run_optimisation(tiny, {"time_limit_s": 10, "seed": 0}), tiny, "en")
    assert all("distance_basis" not in df.columns for df in t.values())
    assert list(t["constituents"].columns) == ["constituent_id", "sector", "village_id", "village_name",
                                               "member_id", "member_name", "cost_m", "distance_m", "reason"]
    assert list(t["members"].columns)[-3:] == ["total_m", "mean_m", "max_m"]
