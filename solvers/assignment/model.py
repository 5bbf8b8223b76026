"""Each assignment tier in the shape of :class:`solvers.model.Model`.

On plain arrays (:meth:`AssignmentModel.from_arrays`) a tier is one of the array solvers of this
package; on a dataset (:meth:`AssignmentModel.from_dataset`) it is that tier of
:func:`solvers.pipeline.run_optimisation` (see :class:`solvers.pipeline_model.OptimisationModel`,
which builds the costs, locks and gap villages the tier needs).
"""

from __future__ import annotations

from typing import Any

from ..model import Model, Progress, StopCheck, as_fraction_progress, check_stop
from .contact_points import choose_contact_points, cover_pairs_matrix
from .flow import AssignmentResult
from .tiers import assign_groups_to_stations, assign_townships_to_committees, assign_villages_to_groups
from .transport import assign_min_cost_flow

__all__ = ["AssignmentModel", "TIER_SOLVERS"]

#: tier -> (array solver, takes a time limit and seed, takes should_stop)
TIER_SOLVERS = {
    "constituents": (assign_min_cost_flow, True, True),
    "villages": (choose_contact_points, True, False),
    "villages_priority": (assign_villages_to_groups, True, False),
    "townships": (assign_townships_to_committees, False, False),
    "stations": (assign_groups_to_stations, False, False),
}


class AssignmentModel(Model):
    """One assignment tier on a cost matrix (rows x columns, metres or seconds).

    Parameters
    ----------
    tier : str
        ``"constituents"`` (:func:`assign_min_cost_flow`: ``min_load``, ``max_load``...),
        ``"villages"`` (:func:`choose_contact_points`: ``demand_weight`` and ``radius`` or ``pairs``),
        ``"villages_priority"`` (:func:`assign_villages_to_groups`: ``population``),
        ``"townships"`` (:func:`assign_townships_to_committees`: ``uncovered_population``) or
        ``"stations"`` (:func:`assign_groups_to_stations`: ``capacity``).
    cost : numpy.ndarray
        Cost of each (row, column) pair.
    **params
        The tier solver's own keyword arguments.
    """

    family = "assignment"

    def __init__(self, tier: str, cost: Any, **params: Any):
        if tier not in TIER_SOLVERS:
            raise ValueError(f"tier must be one of {sorted(TIER_SOLVERS)}, got {tier!r}")
        if tier == "villages" and "pairs" not in params:
            if "radius" not in params:
                raise ValueError("tier 'villages' needs radius (cost unit) or pairs")
            params["pairs"] = cover_pairs_matrix(cost, float(params.pop("radius")))
        self.tier, self.cost, self.params = tier, cost, params

    @classmethod
    def from_arrays(cls, cost: Any, tier: str = "constituents", **params: Any) -> AssignmentModel:
        """Tier ``tier`` on the cost matrix ``cost`` (see the class parameters)."""
        return cls(tier, cost, **params)

    def solve(self, time_limit_s: float | None = None, seed: int | None = None,
              should_stop: StopCheck = None, progress: Progress | None = None) -> AssignmentResult:
        """Solve the tier; the flow tiers check ``should_stop`` before every flow solve, the others
        before they start (their single solve is bounded by ``time_limit_s`` where it takes one)."""
        fn, timed, stoppable = TIER_SOLVERS[self.tier]
        say = as_fraction_progress(progress)
        check_stop(should_stop, self.tier)
        say(0.0, f"assigning {self.tier}")
        kw = dict(self.params)
        if timed:
            kw["time_limit"] = time_limit_s
            kw["seed"] = 0 if seed is None else int(seed)
        if stoppable:
            kw["should_stop"] = should_stop
        args = (self.cost,) if self.tier != "constituents" else (self.cost, kw.pop("min_load", 0),
                                                                 kw.pop("max_load", self.cost.shape[0]))
        res = fn(*args, **kw)
        say(1.0, res.status)
        return res
