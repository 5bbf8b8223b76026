"""Coverage on the tiny county, against numbers worked out by hand below (not by the code under test).

The tiny county (tests/conftest.py) sits at lon0 = 130.30, lat0 = 46.80. Near latitude 46.85 one
degree is 111,168 m north-south and 76,245 m east-west, so a point (dx, dy) degrees away lies
hypot(dx * 76,245, dy * 111,168) metres away (flat-earth, good to ~0.1 % over 15 km).

Stations (offsets in degrees): S1 (.05,.05) comprehensive, sectors 经济/农业/医药卫生;
S2 (.12,.02) sector station, 农业; S3 (.19,.01) studio, 医药卫生.

Villages (offset, population, township) and distances to the stations:
  V1 (.02,.02) 1000 T1: S1 (.03,.03) = hypot(2,287, 3,335) = 4,044
  V2 (.05,.05)  500 T1: S1 0
  V3 (.08,.08)  800 T1: S1 (.03,.03) = 4,044
  V4 (.02,.08)  200 T1: S1 (.03,.03) = 4,044
  V5 (.12,.02) 1500 T2: S2 0;  S3 (.07,.01) = hypot(5,337, 1,112) = 5,452;  S1 (.07,.03) = 6,293
  V6 (.15,.05)  300 T2: S2 (.03,.03) = 4,044;  S3 (.04,.04) = hypot(3,050, 4,447) = 5,392;  S1 (.10,0) = 7,625
  V7 (.18,.08)  700 T2: S3 (.01,.07) = hypot(762, 7,782) = 7,819;  S2 (.06,.06) = 8,089;  S1 (.13,.03) = 10,458
  V8 (.19,.01) 2500 T2: S3 0;  S2 (.07,.01) = 5,452;  S1 (.14,.04) = hypot(10,674, 4,447) = 11,563
Population: T1 2,500, T2 5,000, county 7,500.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from geo_service.core.coverage import coverage_summary, find_gaps, last_mile, service_areas, summary_frames
from geo_service.core.index import InvalidQuery
from geo_service.core.network import RoadNetwork

# nearest station (any kind) per village, metres, from the table above
HAND_NEAREST_M = {"V1": 4044, "V2": 0, "V3": 4044, "V4": 4044, "V5": 0, "V6": 4044, "V7": 7819, "V8": 0}


def _by(rows, key, value):
    return {r["threshold"]: r for r in rows if r[key] == value}


def test_last_mile_distances_equal_hand_computed(tiny):
    lm = last_mile(tiny).set_index("village_id")
    for vid, d in HAND_NEAREST_M.items():
        assert lm.at[vid, "nearest_m"] == pytest.approx(d, rel=2e-3, abs=0.5)
    assert lm["nearest_id"].to_dict() == {"V1": "S1", "V2": "S1", "V3": "S1", "V4": "S1", "V5": "S2",
                                          "V6": "S2", "V7": "S3", "V8": "S3"}
    # per kind: V5's nearest comprehensive station is S1 at 6,293 m; there are no contact points
    assert lm.at["V5", "station_comprehensive_id"] == "S1"
    assert lm.at["V5", "station_comprehensive_m"] == pytest.approx(6293, rel=2e-3)
    assert lm.at["V8", "studio_m"] == 0 and lm.at["V7", "station_sector_m"] == pytest.approx(8089, rel=2e-3)
    assert lm["contact_point_id"].isna().all() and np.isinf(lm["contact_point_m"]).all()


def test_coverage_by_distance_equals_hand_computed(tiny):
    s = coverage_summary(tiny, thresholds_m=(5000, 10000, 20000))
    json.dumps(s, allow_nan=False)  # JSON-ready
    assert s["mode"] == "straight" and s["unit"] == "m" and s["thresholds"] == [5000, 10000, 20000]
    # 5 km: only V7 (7,819 m, 700 people) is out -> 6,800 of 7,500; 10 km: everyone
    total = _by(s["total"], "threshold", 5000)[5000]
    assert (total["population"], total["covered_population"], total["villages"], total["covered_villages"]) \
        == (7500, 6800, 8, 7)
    assert total["share"] == pytest.approx(6800 / 7500)
    assert _by(s["total"], "threshold", 10000)[10000]["covered_population"] == 7500
    county = _by(s["county"], "county_id", "C1")
    assert county[5000]["county_name"] == "小县" and county[5000]["covered_population"] == 6800
    # townships: T1 all four within 4,044 m; T2 loses V7 at 5 km -> 5,000 - 700 = 4,300
    t1, t2 = _by(s["township"], "township_id", "T1"), _by(s["township"], "township_id", "T2")
    assert [t1[t]["covered_population"] for t in (5000, 10000, 20000)] == [2500, 2500, 2500]
    assert [t2[t]["covered_population"] for t in (5000, 10000, 20000)] == [4300, 5000, 5000]
    assert t2[5000]["share"] == pytest.approx(0.86) and t2[5000]["township_name"] == "东镇"
    # sectors, from the per-station distances in the module docstring:
    # 经济 (S1 only): 5 km T1 = 2,500; 10 km + V5 (6,293) + V6 (7,625) = 4,300; 20 km all 7,500
    # 农业 (S1, S2): 5 km loses V7 (8,089) and V8 (5,452) -> 7,500 - 700 - 2,500 = 4,300; 10 km all
    # 医药卫生 (S1, S3): 5 km T1 2,500 + V8 2,500 = 5,000 (V5 5,452, V6 5,392, V7 7,819 out); 10 km all
    expect = {"经济": [2500, 4300, 7500], "农业": [4300, 7500, 7500], "医药卫生": [5000, 7500, 7500]}
    assert [r["sector"] for r in s["sector"][::3]] == ["经济", "农业", "医药卫生"]
    for sec, pops in expect.items():
        rows = _by(s["sector"], "sector", sec)
        assert [rows[t]["covered_population"] for t in (5000, 10000, 20000)] == pops, sec
    assert _by(s["sector"], "sector", "农业")[5000]["stations"] == 2
    frames = summary_frames(s)
    assert set(frames) == {"total", "county", "township", "sector"} and len(frames["township"]) == 6


def test_coverage_by_kind_filter(tiny):
    # studios only (S3): V8 0 m, V5 5,452, V6 5,392, V7 7,819 within 10 km; T1 villages are
    # 11.4-15.1 km away (V2 (.14,.04) = 11,563 ...), so 10 km covers T2 only = 5,000
    s = coverage_summary(tiny, thresholds_m=(10000,), kinds="studio")
    assert s["kinds"] == ["studio"]
    assert s["total"][0]["covered_population"] == 5000


def test_coverage_by_road_time_equals_hand_computed(tiny):
    # Roads: trunk along lat0+.05 at 60 km/h, north-south roads at 30 km/h through every village
    # but V8. 0.03 deg north-south = 3,335 m = 400.2 s; 0.03 deg along the trunk = 2,287 m = 137.2 s.
    # V1, V3, V4 -> S1 and V6 -> S2: one of each = 537 s. V2, V5 sit on S1, S2. V8 shares S3's spot.
    # V7: 400.2 s down to the trunk + 0.13 deg west (9,912 m, 594.7 s) to S1 = 995 s; via S2 1,075 s;
    # down to S3's road end and a 762 m walk = 1,483 s. So at 900 s V7 (700) is out, at 1,800 s in.
    s = coverage_summary(tiny, thresholds_s=(900, 1800), mode="road")
    json.dumps(s, allow_nan=False)
    assert s["unit"] == "s"
    assert [r["covered_population"] for r in s["total"]] == [6800, 7500]
    t2 = _by(s["township"], "township_id", "T2")
    assert t2[900.0]["covered_population"] == 4300 and t2[1800.0]["covered_population"] == 5000
    lm = last_mile(tiny, RoadNetwork.from_dataset(tiny)).set_index("village_id")
    assert lm.at["V7", "nearest_id"] == "S3" and lm.at["V7", "nearest_road_id"] == "S1"
    assert lm.at["V7", "nearest_s"] == pytest.approx(995, rel=5e-3)
    assert lm.at["V1", "nearest_s"] == pytest.approx(537.4, rel=5e-3)
    assert lm.at["V1", "nearest_road_m"] == pytest.approx(3335 + 2287, rel=5e-3)
    assert not lm["far_from_road"].any()


def test_gaps_ranked_by_population(tiny):
    # comprehensive stations (S1) beyond 10 km: V8 (11,563 m, 2,500 people), V7 (10,458 m, 700)
    g = find_gaps(tiny, threshold_m=10000, kinds="station_comprehensive")
    assert g["village_id"].tolist() == ["V8", "V7"] and g["rank"].tolist() == [1, 2]
    assert g["beyond_m"].tolist() == pytest.approx([1563, 458], rel=1e-2)
    assert g["station_id"].tolist() == ["S1", "S1"] and g.crs.to_epsg() == 4326
    # 经济 beyond 5 km: V8 2,500, V5 1,500, V7 700, V6 300
    g = find_gaps(tiny, threshold_m=5000, sector="经济")
    assert g["village_id"].tolist() == ["V8", "V5", "V7", "V6"]
    # everything within 20 km: no gaps
    assert find_gaps(tiny, threshold_m=20000).empty
    # by road at 900 s: only V7, 95 s over
    g = find_gaps(tiny, threshold_s=900, mode="road")
    assert g["village_id"].tolist() == ["V7"] and g["beyond_s"].iloc[0] == pytest.approx(95, abs=5)


def test_service_areas_from_dataset(tiny):
    sa = service_areas(tiny, thresholds_s=(600,), sector="农业")
    assert sorted(sa["station_id"]) == ["S1", "S2"] and (sa["threshold_s"] == 600).all()
    assert (sa["area_km2"] > 0).all() and sa.crs.to_epsg() == 4326


@pytest.mark.parametrize("call, field", [
    (lambda ds: coverage_summary(ds, mode="bike"), "mode"),
    (lambda ds: coverage_summary(ds, thresholds_m=(5000, 0)), "thresholds_m"),
    (lambda ds: coverage_summary(ds, thresholds_m=()), "thresholds_m"),
    (lambda ds: coverage_summary(ds, kinds="花园"), "kinds"),
    (lambda ds: find_gaps(ds, threshold_s=-5, mode="road"), "threshold_s"),
    (lambda ds: find_gaps(ds, sector="天文"), "sector"),
    (lambda ds: coverage_summary(ds.with_layers(roads=ds.roads.iloc[:0]), mode="road"), "mode"),
])
def test_bad_arguments_name_the_field(tiny, call, field):
    with pytest.raises(InvalidQuery) as e:
        call(tiny)
    assert e.value.field == field


def test_demo_tables_add_up(demo):
    s = coverage_summary(demo, thresholds_m=(10000,))
    total = s["total"][0]
    assert total["population"] == int(demo.villages["population"].sum())
    for level in ("county", "township"):
        assert sum(r["covered_population"] for r in s[level]) == total["covered_population"]
        assert sum(r["villages"] for r in s[level]) == len(demo.villages)
    gaps = find_gaps(demo, threshold_m=10000)
    assert len(gaps) == total["villages"] - total["covered_villages"]
    assert gaps["population"].is_monotonic_decreasing and (gaps["beyond_m"] > 0).all()
    assert gaps["population"].sum() == total["population"] - total["covered_population"]
