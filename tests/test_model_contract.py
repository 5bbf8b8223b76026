"""Every model family has one shape: built from a dataset or arrays, solved with one signature,
cancelled by ``should_stop``, answering a :class:`solvers.model.ModelResult`."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from geo_service.core.errors import InvalidParameter
from geo_service.core.glossary import MESSAGES
from solvers.assignment import Cancelled as AssignmentCancelled
from solvers.assignment.model import AssignmentModel
from solvers.dataset_models import GapClosingModel, OptimisationModel, TierModel
from solvers.location.model import LocationModel
from solvers.messages import Candidate, RoutingModel, brute_force
from solvers.model import Cancelled, Model, ModelResult
from solvers.roster import Cancelled as RosterCancelled
from solvers.review import ReviewModel
from solvers.roster import RosterProblem

STATUSES = {"optimal", "relaxed", "feasible", "infeasible", "nothing_to_do", "unknown"}
RNG = np.random.default_rng(7)
COST = RNG.uniform(100.0, 5000.0, size=(12, 5))
#: ledger rows of two members (ids 1..): contacts, a duty held and one missed, an adopted opinion
LEDGER = [{"id": i + 1, "kind": k, "member_id": m, "date": d, "status": st, "satisfaction": sat, "people": 1,
           "constituent_id": c}
          for i, (k, m, d, st, sat, c) in enumerate([
              ("contact", "M1", "2027-02-01", None, 5, "C1"), ("contact", "M1", "2027-03-01", None, 1, "C2"),
              ("duty", "M1", "2027-04-01", "held", None, None), ("duty", "M2", "2027-04-01", "missed", None, None),
              ("opinion", "M2", "2027-05-01", "adopted", None, None), ("contact", "M2", "2026-12-31", None, 4, "C3")])]
#: per message who may answer it: the second message has one candidate, the last none
CANDS = [[Candidate("M1", 800.0, "place"), Candidate("M2", 1500.0, "place")], [Candidate("M1", 300.0, "place")],
         [Candidate("M2", 2500.0, "sector_place", "G1"), Candidate("M1", 2400.0, "sector_place", "G1")], []]


def _array_models():
    return {
        "location-lscp": lambda: LocationModel.from_arrays(COST, "lscp", radius=2000.0),
        "location-mclp": lambda: LocationModel.from_arrays(COST, "mclp", radius=2000.0, p=2),
        "location-pmedian": lambda: LocationModel.from_arrays(COST, "pmedian", p=2),
        "location-pcenter": lambda: LocationModel.from_arrays(COST, "pcenter", p=2),
        "assign-constituents": lambda: AssignmentModel.from_arrays(COST, "constituents", min_load=1, max_load=4),
        "assign-villages": lambda: AssignmentModel.from_arrays(COST[:, :3], "villages", demand_weight=np.ones(12),
                                                              radius=1500.0, min_load=0, max_load=4),
        "assign-villages-priority": lambda: AssignmentModel.from_arrays(
            COST[:, :3], "villages_priority", population=np.arange(12.0), min_load=1, max_load=4),
        "assign-townships": lambda: AssignmentModel.from_arrays(COST[:6, :3], "townships",
                                                               uncovered_population=np.arange(6.0), per_committee=2),
        "assign-stations": lambda: AssignmentModel.from_arrays(COST[:6, :3], "stations", capacity=[2, 2, 2]),
        "roster-arrays": lambda: RosterProblem.from_arrays(COST[:6, :2], params={"start": "2027-01", "months": 3}),
        "review-records": lambda: ReviewModel.from_records(LEDGER, {"year": 2027}),
        "messages-records": lambda: RoutingModel.from_records(CANDS, {"M1": 2}),
        "messages-arrays": lambda: RoutingModel.from_arrays(np.where(COST[:6, :3] < 3000, COST[:6, :3], np.inf)),
    }


def _dataset_models(ds):
    return {
        "location-dataset": lambda: LocationModel.from_dataset(ds, {"model": "pmedian", "p": 4}),
        "gaps": lambda: GapClosingModel.from_dataset(ds, {"threshold_m": 4000, "model": "lscp"}),
        "optimisation": lambda: OptimisationModel.from_dataset(ds),
        **{f"tier-{t}": (lambda t=t: TierModel.from_dataset(ds, {"tier": t}))
           for t in ("constituents", "villages", "townships", "stations")},
        "roster-dataset": lambda: RosterProblem.from_dataset(ds, {"start": "2027-01", "months": 3}),
        "review-dataset": lambda: ReviewModel.from_dataset(ds, {"year": 2027}, activities=_tiny_ledger(ds)),
        "messages-dataset": lambda: RoutingModel.from_dataset(ds, {"messages": _tiny_messages(ds)}),
    }


def _tiny_messages(ds):
    """One message at each station of ``ds`` and one at each located village, by sector in turn."""
    sectors = sorted(set(ds.members["sector"].astype(str)))
    at_stations = [{"station_id": str(s)} for s in ds.stations["id"]]
    v = ds.villages[ds.villages.geometry.notna() & ~ds.villages.geometry.is_empty]
    at_villages = [{"lon": g.x, "lat": g.y, "sector": sectors[i % len(sectors)]} for i, g in enumerate(v.geometry)]
    return at_stations + at_villages


def _tiny_ledger(ds):
    """LEDGER with its members replaced by the first two members of ``ds``."""
    ids = [str(x) for x in ds.members["id"][:2]]
    return [{**r, "member_id": ids[int(r["member_id"][1:]) - 1]} for r in LEDGER]


ARRAY_NAMES = sorted(_array_models())
DATASET_NAMES = sorted(_dataset_models(None))


def _build(name, ds):
    return {**_array_models(), **_dataset_models(ds)}[name]()


def _check_shape(res: ModelResult) -> None:
    assert isinstance(res, ModelResult)
    assert res.status in STATUSES
    assert res.is_optimal == (res.status == "optimal")
    for v in (res.objective, res.bound, res.gap):
        assert v is None or isinstance(v, (int, float, np.floating))
    if res.is_optimal:
        assert res.gap is not None and float(res.gap) <= 1e-6
    head = res.headline()
    assert set(head) == {"status", "objective", "bound", "gap", "is_optimal"}
    json.dumps(head, allow_nan=False)
    json.dumps(res.to_dict(), allow_nan=False, ensure_ascii=False, default=str)
    for d in res.diagnostic_codes():
        assert isinstance(d["code"], str) and d["code"]
        assert isinstance(d["params"], dict)
        assert d["severity"] in {"info", "warning", "error"}


@pytest.mark.parametrize("name", ARRAY_NAMES + DATASET_NAMES)
def test_model_builds_solves_and_reports_one_result_shape(name, tiny):
    model = _build(name, tiny)
    assert isinstance(model, Model) and model.family
    seen: list[float] = []
    res = model.solve(time_limit_s=10, seed=0, progress=lambda f, text: seen.append(f))
    _check_shape(res)
    assert seen, "progress was never reported"
    assert all(0.0 <= f <= 1.0 for f in seen), seen


@pytest.mark.parametrize("name", ARRAY_NAMES + DATASET_NAMES)
def test_should_stop_cancels_every_model(name, tiny):
    model = _build(name, tiny)
    with pytest.raises(Cancelled):
        model.solve(time_limit_s=10, seed=0, should_stop=lambda: True)


def test_family_cancellations_are_one_exception():
    assert issubclass(AssignmentCancelled, Cancelled) and issubclass(RosterCancelled, Cancelled)


def test_same_seed_same_answer(tiny):
    a = OptimisationModel.from_dataset(tiny).solve(time_limit_s=10, seed=3).to_dict()
    b = OptimisationModel.from_dataset(tiny).solve(time_limit_s=10, seed=3).to_dict()
    for d in (a, b):
        d.pop("time_s")
        for t in d["tiers"].values():
            t.pop("time_s")
    assert a == b


def test_location_diagnostics_name_glossary_messages():
    cost = COST.copy()
    cost[0, :] = np.inf  # demand 0 cannot be served at all
    res = LocationModel.from_arrays(cost, "lscp", radius=2000.0).solve(time_limit_s=10)
    assert res.status == "infeasible" and not res.is_optimal
    codes = res.diagnostic_codes()
    assert codes and all(d["code"] in MESSAGES for d in codes)
    assert codes[0]["params"]["demand"] == 0


def test_optimisation_figures_are_the_tiers_figures(tiny):
    res = OptimisationModel.from_dataset(tiny).solve(time_limit_s=10)
    tiers = [t for t in res.tiers.values() if t.status != "nothing_to_do"]
    assert tiers
    assert res.objective == pytest.approx(sum(t.objective for t in tiers))
    assert res.bound <= res.objective + 1e-6
    assert res.gap == max(t.gap for t in tiers)


def test_gap_closing_result_carries_its_message_code(tiny):
    res = GapClosingModel.from_dataset(tiny, {"threshold_m": 4000, "model": "lscp"}).solve(time_limit_s=10)
    assert res.solution.message_code in MESSAGES
    first = res.diagnostic_codes()[0]
    assert first["code"] == res.solution.message_code
    assert math.isfinite(res.objective)


def test_time_limit_is_passed_through(tiny):
    with pytest.raises(ValueError, match="time_limit_s"):
        OptimisationModel.from_dataset(tiny).solve(time_limit_s=-1)
    with pytest.raises(ValueError, match="seed"):
        GapClosingModel.from_dataset(tiny, {"seed": 1})
    with pytest.raises(ValueError, match="model must be one of"):
        LocationModel.from_arrays(COST, "nope")


def test_should_stop_is_checked_during_the_run(tiny):
    reported: list[float] = []
    model = OptimisationModel.from_dataset(tiny)
    with pytest.raises(Cancelled):
        model.solve(time_limit_s=10, progress=lambda f, text: reported.append(f), should_stop=lambda: bool(reported))
    assert reported, "the run stopped before it started"


def test_review_figures_are_the_scores():
    """The review is an exact evaluation: objective = bound = the members' total score, recomputed by
    hand from the rules here; a member below the talk threshold is a ``review_talk`` diagnostic."""
    res = ReviewModel.from_records(LEDGER, {"year": 2027, "rules": {"talk_below": 62.0}}).solve(time_limit_s=1)
    # M1: base 60 + 2 contacts x 1 + 1 satisfied x 0.5 - 1 dissatisfied x 1 + 1 duty x 3 = 64.5
    # M2: base 60 - 1 missed duty x 5 + 1 opinion x 2 + 1 adopted x 3 = 60 (its 2026 contact does not count)
    assert {m["member_id"]: m["score"] for m in res.members} == {"M1": 64.5, "M2": 60.0}
    assert res.status == "optimal" and res.objective == res.bound == 124.5 and res.gap == 0.0
    assert res.diagnostic_codes() == [{"code": "review_talk", "severity": "warning",
                                       "params": {"member_id": "M2", "score": 60.0, "threshold": 62.0}}]
    assert set(res.to_dict()) == {"year", "members", "rules"}  # the job's and the CLI's JSON, unchanged
    empty = ReviewModel.from_records([], {"year": 2027}).solve()
    assert empty.status == "nothing_to_do" and not empty.is_optimal and empty.objective == 0.0


def test_review_needs_a_year_and_its_columns():
    with pytest.raises(ValueError, match="params"):
        ReviewModel.from_records(LEDGER)
    with pytest.raises(ValueError, match="activities: missing column"):
        ReviewModel.from_records(__import__("pandas").DataFrame({"id": [1]}), {"year": 2027})


def test_routing_bound_is_the_brute_force_optimum():
    """The flow is exact: its objective equals the optimum found by trying every assignment, and a
    message nobody may answer is a ``msg_no_member`` diagnostic."""
    res = RoutingModel.from_records(CANDS, {"M1": 2}).solve(time_limit_s=1)
    assert res.is_optimal and res.objective == res.bound == brute_force(CANDS, {"M1": 2})
    assert [r.member_id for r in res.routed] == ["M2", "M1", "M2", None]
    assert res.diagnostic_codes() == [{"code": "msg_no_member", "severity": "warning", "params": {"message": 3}}]
    d = res.to_dict()
    assert d["status"] == "optimal" and d["unrouted"] == [3] and d["routed"][1]["member_id"] == "M1"


def test_routing_from_dataset_routes_what_the_public_form_routes(tiny):
    """Built from a dataset, each message has the candidates the message form finds for it (the
    station's duty or station members, else the village's members of the sector), and the batch is
    routed exactly; a message at an unknown station or with no place is refused by its index."""
    from geo_service.core.responsible import ResponsibilityIndex
    from solvers.messages import candidates, route

    msgs = _tiny_messages(tiny)
    ix = ResponsibilityIndex.from_dataset(tiny)
    res = RoutingModel.from_dataset(tiny, {"messages": msgs, "open_counts": {"M1": 1}, "today": "2027-03-01"},
                                    index=ix).solve()
    by_hand = []
    for m in msgs:
        pt = ix.station_lonlat(m["station_id"]) if "station_id" in m else (m["lon"], m["lat"])
        by_hand.append(candidates(ix, station_id=m.get("station_id"), village_row=ix.village_at(*pt)[0],
                                  sector=m.get("sector"), today=__import__("datetime").date(2027, 3, 1)))
    want = route(by_hand, {"M1": 1})
    assert res.is_optimal and len(res.routed) == len(msgs) > 5
    assert res.objective == want.objective and [r.member_id for r in res.routed] == [r.member_id for r in want.routed]
    assert sum(r.member_id is not None for r in res.routed) > len(msgs) // 2  # most messages find a member
    for bad, field in (({"station_id": "NOPE"}, "messages[1].station_id"), ({"lon": 500, "lat": 1}, "messages[1].station_id"),
                       ({"sector": "x"}, "messages[1].station_id")):
        with pytest.raises(InvalidParameter) as info:
            RoutingModel.from_dataset(tiny, {"messages": [msgs[0], bad]}, index=ix)
        assert info.value.field == field
    with pytest.raises(InvalidParameter, match="today"):
        RoutingModel.from_dataset(tiny, {"messages": msgs, "today": "March"}, index=ix)


def test_routing_from_arrays_is_routing_the_same_candidates():
    d = np.array([[800.0, 1500.0], [300.0, np.inf], [2400.0, 2500.0], [np.inf, np.inf]])
    arr = RoutingModel.from_arrays(d, ["M1", "M2"], {"M1": 2}).solve()
    rec = RoutingModel.from_records([[Candidate(m, x, "place") for m, x in zip(("M1", "M2"), row) if np.isfinite(x)]
                                     for row in d], {"M1": 2}).solve()
    assert arr.objective == rec.objective and [r.member_id for r in arr.routed] == [r.member_id for r in rec.routed]
    with pytest.raises(ValueError, match="member_ids"):
        RoutingModel.from_arrays(d, ["M1"])
    with pytest.raises(ValueError, match="load_m"):
        RoutingModel.from_arrays(d, load_m=-1)
