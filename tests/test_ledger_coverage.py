"""Coverage that happened, on a real county (../shared/real/chongyang) with a generated network and a
generated year of ledger rows, checked against a plain-Python recomputation; quotas; the map."""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from geo_service.app.synthetic.ledger import generate_year_for
from geo_service.core.io import read_dataset
from geo_service.core.ledger import validate_activities
from geo_service.core.ledger_coverage import Quotas, actual_coverage, coverage_tables, member_progress
from maps.ledger import band_of, ledger_map, planned_zones
from shared_data import real_county, require_shared

SECTORS = ("经济", "农业", "教育")


@pytest.fixture(scope="module")
def county():
    """崇阳县 (real villages and township seats, GCJ-02) plus generated members, constituents, stations."""
    folder = require_shared(real_county("chongyang"), "the real county 崇阳县")
    ds = read_dataset(folder, datum="gcj02", missing_points="drop", name="chongyang")
    rng = np.random.default_rng(4)
    vil = ds.villages.reset_index(drop=True)
    n_m = 24
    mv = vil.iloc[rng.choice(len(vil), n_m, replace=False)]
    members = gpd.GeoDataFrame({"id": [f"M{i:02d}" for i in range(n_m)], "name": [f"委员{i}" for i in range(n_m)],
                                "sector": [SECTORS[i % 3] for i in range(n_m)]}, geometry=list(mv.geometry), crs=4326)
    n_c = n_m * 10
    cons = gpd.GeoDataFrame({"id": [f"C{i:03d}" for i in range(n_c)], "sector": [SECTORS[i % 3] for i in range(n_c)],
                             "village_id": vil["id"].iloc[rng.integers(0, len(vil), n_c)].astype(str).tolist(),
                             "name": [f"群众{i}" for i in range(n_c)], "phone": ["13800000000"] * n_c},
                            geometry=[None] * n_c, crs=4326)
    tw = ds.townships.reset_index(drop=True)
    st = gpd.GeoDataFrame({"id": [f"S{i}" for i in range(len(tw))], "name": [f"{n}工作站" for n in tw["name"]],
                           "kind": "station_comprehensive", "sectors": [list(SECTORS)] * len(tw),
                           "township_id": tw["id"].astype(str).tolist()},
                          geometry=list(tw.geometry.representative_point()), crs=4326)
    ds = ds.with_layers(members=members, constituents=cons, stations=st)
    links = pd.DataFrame({"constituent_id": cons["id"], "member_id": [f"M{i // 10:02d}" for i in range(n_c)]})
    acts = validate_activities(generate_year_for(ds, 2027, links=links, contacts_per_member=20, reach_share=0.7,
                                                 seed=9), ds)[0]
    return ds, links, acts


def _independent(ds, links, acts, start, end):
    rows = acts.to_dict("records")
    cv = dict(zip(ds.constituents["id"], ds.constituents["village_id"], strict=True))
    csec = dict(zip(ds.constituents["id"], ds.constituents["sector"], strict=True))
    vt = dict(zip(ds.villages["id"].astype(str), ds.villages["township_id"].astype(str), strict=True))
    pairs, cons, vills, stations = set(), set(), set(), set()
    last = {}
    for r in rows:
        d = r["date"]
        if r["kind"] == "contact" and d <= end:
            v = r["village_id"] or cv.get(r["constituent_id"])
            if v:
                last[v] = max(last.get(v, ""), d)
                if d >= start:
                    vills.add(v)
            if d >= start and r["constituent_id"]:
                cons.add(r["constituent_id"])
                pairs.add((r["constituent_id"], r["member_id"]))
        if start <= d <= end and (r["kind"] == "reception" or (r["kind"] == "duty" and r["status"] != "missed")):
            stations.add(r["station_id"])
    reached_links = sum(1 for c, m in zip(links["constituent_id"], links["member_id"], strict=True) if (c, m) in pairs)
    towns = {vt[v] for v in vills}
    sectors = {csec[c] for c in cons}
    days = {v: (date.fromisoformat(end) - date.fromisoformat(d)).days for v, d in last.items()}
    return reached_links, cons, vills, stations, towns, sectors, last, days


@pytest.mark.parametrize("period", [("2027-04-01", "2027-06-30"), ("2027-01-01", "2027-12-31"),
                                    ("2027-03-01", "2027-03-31")])
def test_actual_coverage_matches_an_independent_recomputation(county, period):
    ds, links, acts = county
    start, end = period
    cov = actual_coverage(ds, acts, start, end, links)
    reached_links, cons, vills, stations, towns, sectors, last, days = _independent(ds, links, acts, start, end)
    assert cov["links"]["planned"] == len(links)
    assert cov["links"]["reached"] == reached_links
    assert cov["links"]["unreached"] == len(links) - reached_links
    assert 0 < reached_links < len(links)  # the generated year leaves some links without a contact
    assert set(cov["not_reached"]["constituents"]) == set(ds.constituents["id"]) - cons
    assert set(cov["not_reached"]["villages"]) == set(ds.villages["id"].astype(str)) - vills
    assert set(cov["not_reached"]["stations"]) == set(ds.stations["id"]) - stations
    assert set(cov["not_reached"]["townships"]) == set(ds.townships["id"].astype(str)) - towns
    assert set(cov["not_reached"]["sectors"]) == set(SECTORS) - sectors
    by_v = {r["village_id"]: r for r in cov["villages"]}
    assert len(by_v) == len(ds.villages)
    for v, r in by_v.items():
        assert r["last_contact"] == last.get(v)
        assert r["days_since_contact"] == days.get(v)
    counts = cov["counts"]
    assert counts["villages"]["total"] == len(ds.villages)
    assert counts["villages"]["not_reached"] == len(ds.villages) - len(vills)


def test_member_progress_against_quotas(county):
    ds, _, acts = county
    ids = ds.members["id"].tolist()
    prog = member_progress(acts, ids, "2027-01-01", "2027-12-31", Quotas(constituents=5, people_per_year=30))
    assert [p["member_id"] for p in prog] == ids
    for p in prog:
        rows = acts[(acts["member_id"] == p["member_id"])]
        c = rows[rows["kind"] == "contact"]
        assert p["constituents"]["done"] == c["constituent_id"].dropna().nunique()
        assert p["people"]["done"] == int(c["people"].sum())
        assert p["receptions"]["target"] == 12 and p["consultations"]["target"] == 4
        assert p["people"]["met"] == (p["people"]["done"] >= 30)
    half = Quotas().targets("2027-01-01", "2027-06-30")
    assert half["people"] == 20 and half["receptions"] == 6 and half["consultations"] == 2
    with pytest.raises(ValueError, match="people_per_year"):
        Quotas(people_per_year=-1)


def test_implementation_tables_and_map(county, tmp_path):
    ds, links, acts = county
    cov = actual_coverage(ds, acts, "2027-04-01", "2027-06-30", links)
    tables = coverage_tables(cov, member_progress(acts, ds.members["id"].tolist(), "2027-04-01", "2027-06-30"))
    assert set(tables) == {"implementation", "not_reached", "village_contacts", "progress"}
    assert len(tables["not_reached"]) == sum(len(v) for v in cov["not_reached"].values())
    zones = planned_zones(ds, links)
    assert len(zones) == links["member_id"].nunique() and zones.crs.to_epsg() == 4326
    html = ledger_map(ds, cov, links, lang="zh").get_root().render()
    assert "联系落实情况" in html and "距最近联系天数" in html
    assert band_of(5, True) == "b0" and band_of(400, True) == "over" and band_of(5, False) == "never"
    assert band_of(None, True) == "never"


def test_contacts_before_the_period_count_for_days_not_reach(county):
    ds, links, _ = county
    v = str(ds.villages["id"].iloc[0])
    acts = validate_activities([{"kind": "contact", "member_id": "M00", "village_id": v, "date": "2027-01-10",
                                 "way": "phone"}], ds)[0]
    cov = actual_coverage(ds, acts, "2027-04-01", "2027-04-30", links)
    row = next(r for r in cov["villages"] if r["village_id"] == v)
    assert row["last_contact"] == "2027-01-10" and row["days_since_contact"] == 110
    assert v in cov["not_reached"]["villages"]
