"""Every model family has one shape: built from a dataset or arrays, solved with one signature,
cancelled by ``should_stop``, answering a :class:`solvers.model.ModelResult`."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from geo_service.core.glossary import MESSAGES
from solvers.assignment import Cancelled as AssignmentCancelled
from solvers.assignment.model import AssignmentModel
from solvers.dataset_models import GapClosingModel, OptimisationModel, TierModel
from solvers.location.model import LocationModel
from solvers.model import Cancelled, Model, ModelResult
from solvers.roster import Cancelled as RosterCancelled
from solvers.roster import RosterProblem

STATUSES = {"optimal", "relaxed", "feasible", "infeasible", "nothing_to_do", "unknown"}
RNG = np.random.default_rng(7)
COST = RNG.uniform(100.0, 5000.0, size=(12, 5))


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
    }


def _dataset_models(ds):
    return {
        "location-dataset": lambda: LocationModel.from_dataset(ds, {"model": "pmedian", "p": 4}),
        "gaps": lambda: GapClosingModel.from_dataset(ds, {"threshold_m": 4000, "model": "lscp"}),
        "optimisation": lambda: OptimisationModel.from_dataset(ds),
        **{f"tier-{t}": (lambda t=t: TierModel.from_dataset(ds, {"tier": t}))
           for t in ("constituents", "villages", "townships", "stations")},
        "roster-dataset": lambda: RosterProblem.from_dataset(ds, {"start": "2027-01", "months": 3}),
    }


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
