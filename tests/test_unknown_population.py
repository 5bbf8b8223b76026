"""Unknown population: one rule for every weighted figure, said once; nothing to decide is said."""

from __future__ import annotations

import numpy as np
import pytest

from geo_service.core.coverage import NO_STATIONS_NOTE, coverage_summary, find_gaps, village_weights
from solvers.gaps import close_gaps
from solvers.pipeline import run_optimisation


def _with_pop(tiny, pops):
    return tiny.with_layers(villages=tiny.villages.assign(population=pops))


def test_rule_population_villages_or_median(tiny):
    full = village_weights(tiny.villages)
    assert full.basis == "population" and full.note is None and full.weights.sum() == 7500
    none = village_weights(_with_pop(tiny, [None] * 8).villages)
    assert none.basis == "villages" and (none.weights == 1).all() and "没有人口数据" in none.note
    few = village_weights(_with_pop(tiny, [100, 200, 300] + [None] * 5).villages)  # 3 of 8 < 50 %
    assert few.basis == "villages" and "3/8" in few.note
    most = village_weights(_with_pop(tiny, [100, 200, 300, 400, 500, None, None, None]).villages)
    assert most.basis == "population" and list(most.weights[5:]) == [300, 300, 300] and "3/8" in most.note
    zero = village_weights(_with_pop(tiny, [0] * 8).villages)
    assert zero.basis == "villages"


def test_every_weighted_figure_counts_villages_without_population(tiny):
    ds = _with_pop(tiny, [None] * 8)
    s = coverage_summary(ds, thresholds_m=(3000, 10000))
    assert s["weight"] == "villages" and s["weight_note"]
    for row in s["total"]:
        assert row["share"] == pytest.approx(row["covered_villages"] / row["villages"])
    g = find_gaps(ds, threshold_m=3000)
    assert len(g) == 8 - s["total"][0]["covered_villages"]
    r = close_gaps(ds.with_layers(stations=ds.stations.iloc[:0]), threshold_m=3000, model="mclp", k=2,
                   time_limit=10)
    row = r.coverage[r.coverage["threshold"] == 3000].iloc[0]
    assert row["weight"] == "villages" and row["villages_uncovered_before"] == 8 and row["share_before"] == 0
    assert r.solution.objective > 0 and len(r.proposed) == 2  # not "cover weight 0 of 0"
    assert NO_STATIONS_NOTE in r.params["notes"] and r.to_dict()["weight"] == "villages"


def test_a_run_with_nothing_to_decide_says_so(tiny):
    empty = tiny.with_layers(members=tiny.members.iloc[:0], constituents=tiny.constituents.iloc[:0],
                             groups=tiny.groups.iloc[:0], committees=tiny.committees.iloc[:0])
    r = run_optimisation(empty, {"time_limit_s": 5})
    assert r.status == "nothing_to_do" and r.outcome["outcome"] == "nothing_to_do"
    assert "委员.csv" in r.outcome["diagnosis"] or "界别群众.csv" in r.outcome["diagnosis"]
    assert r.to_dict()["outcome"]["text"].startswith("无需求解")
    tables = r.tables(empty)
    assert all(len(df.columns) for df in tables.values())  # every sheet keeps its header row
    assert np.isfinite(r.time_s)
