"""close_gaps on the tiny county (numbers checkable by hand) and a road-mode smoke check."""

from __future__ import annotations

import json

import numpy as np
import pytest

from solvers.gaps import close_gaps, gap_cost_matrix


def test_lscp_fixes_stations_and_covers_every_village(tiny):
    r = close_gaps(tiny, threshold_m=3000, model="lscp")
    assert r.status == "optimal"
    # the three stations are always open and counted; only new points are proposed
    assert len(r.solution.selected) == len(tiny.stations) + len(r.proposed)
    assert set(range(len(tiny.stations))) <= set(r.solution.selected.tolist())
    assert (r.proposed["kind"] == "contact_point").all()
    assert set(r.proposed["village"]) <= set(tiny.villages["id"])
    row = r.coverage.set_index("threshold").loc[3000.0]
    assert row["covered_after"] == row["population"] == tiny.villages["population"].sum()
    assert row["villages_uncovered_after"] == 0 and len(r.uncovered) == 0
    assert row["covered_before"] < row["covered_after"]


def test_before_figures_match_straight_distances(tiny):
    r = close_gaps(tiny, threshold_m=3000, model="lscp")
    d = gap_cost_matrix(tiny, tiny.stations, "straight").min(axis=1)
    pop = tiny.villages["population"].to_numpy()
    row = r.coverage.set_index("threshold").loc[3000.0]
    assert row["covered_before"] == pop[d <= 3000].sum()
    assert row["villages_uncovered_before"] == int((d > 3000).sum())


def test_mclp_k_points_and_reasons_for_the_rest(tiny):
    r = close_gaps(tiny, threshold_m=3000, k=1, model="mclp")
    assert r.status == "optimal" and len(r.proposed) == 1
    assert len(r.uncovered) > 0
    assert set(r.uncovered["reason"]) <= {"not_selected"}
    # the chosen point gains the most population among all single candidates
    gained = r.proposed["population_gained"].iloc[0]
    best = max(close_gaps(tiny, threshold_m=3000, model="mclp", k=1, candidates=[v])
               .proposed["population_gained"].iloc[0] for v in tiny.villages["id"])
    assert gained == best


def test_unreachable_village_is_explained_in_km(tiny):
    # only two far candidates, tiny threshold: most villages cannot be reached at all
    r = close_gaps(tiny, threshold_m=500, model="lscp", candidates=["V1", "V7"])
    assert r.status == "infeasible"
    msgs = r.uncovered.set_index("id")["message"]
    assert "no candidate within the threshold (0.5 km): the nearest candidate is" in msgs["V4"]
    assert msgs["V4"].endswith("km away")
    assert (r.uncovered["reason"] == "no_candidate").all()
    assert "not every village can be reached" in r.solution.message


def test_forbidden_and_seats(tiny):
    r = close_gaps(tiny, threshold_m=3000, model="lscp", candidates="seats")
    assert set(r.proposed["village"]) <= {"V2", "V5"}
    r2 = close_gaps(tiny, threshold_m=3000, model="lscp", forbidden=["V4"])
    assert "V4" not in set(r2.proposed["village"])
    with pytest.raises(ValueError, match="not in the villages layer"):
        close_gaps(tiny, candidates=["NOPE"])
    with pytest.raises(ValueError, match="needs k"):
        close_gaps(tiny, model="mclp")


def test_pmedian_and_determinism(tiny):
    a = close_gaps(tiny, threshold_m=3000, k=2, model="pmedian", seed=3)
    b = close_gaps(tiny, threshold_m=3000, k=2, model="pmedian", seed=3)
    assert a.status == "optimal" and len(a.proposed) == 2
    assert a.proposed["village"].tolist() == b.proposed["village"].tolist()
    assert a.to_dict()["coverage"] == b.to_dict()["coverage"]


def test_fixed_kinds_limits_existing_coverage(tiny):
    all_ = close_gaps(tiny, threshold_m=3000, model="lscp")
    only = close_gaps(tiny, threshold_m=3000, model="lscp", fixed_kinds=["station_comprehensive"])
    assert only.params["existing_sites"] == 1
    assert only.coverage["covered_before"].iloc[1] <= all_.coverage["covered_before"].iloc[1]


def test_to_dict_json_and_tables(tiny):
    r = close_gaps(tiny, threshold_m=3000, k=1, model="mclp")
    d = json.loads(json.dumps(r.to_dict(), ensure_ascii=False, allow_nan=False))
    assert d["status"] == "optimal" and len(d["proposed"]) == 1 and "lon" in d["proposed"][0]
    t = r.tables()
    assert set(t) == {"proposed", "coverage", "uncovered"}
    gj = r.to_geojson()
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == 1


def test_road_mode_uses_travel_time(tiny):
    r = close_gaps(tiny, mode="road", threshold_s=600, model="lscp")
    assert r.params["unit"] == "s" and r.status in ("optimal", "infeasible")
    row = r.coverage.set_index("threshold").loc[600.0]
    assert row["covered_after"] >= row["covered_before"]
    cost = gap_cost_matrix(tiny, tiny.stations, "road")
    assert cost.shape == (8, 3) and np.all(cost >= 0)


def test_cli_close_gaps_writes_geojson(tiny, tmp_path):
    from typer.testing import CliRunner

    from geo_service.cli import app
    from geo_service.core.io.gpkg import write_gpkg

    src = tmp_path / "tiny.gpkg"
    write_gpkg(tiny, src)
    out = tmp_path / "points.geojson"
    res = CliRunner().invoke(app, ["close-gaps", str(src), "--model", "mclp", "--k", "1",
                                   "--threshold-m", "3000", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["status"] == "optimal" and len(d["proposed"]) == 1
    assert len(json.loads(out.read_text())["features"]) == 1
    bad = CliRunner().invoke(app, ["close-gaps", str(src), "--model", "mclp"])
    assert bad.exit_code == 2 and "needs k" in bad.output
