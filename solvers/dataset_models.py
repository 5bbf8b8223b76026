"""The dataset-level models in the shape of :class:`solvers.model.Model`.

- :class:`OptimisationModel`: every assignment tier of one run (:func:`solvers.pipeline.run_optimisation`);
- :class:`TierModel`: one tier of that run, answering with its :class:`~solvers.results.TierResult`;
- :class:`GapClosingModel`: where new contact points go (:func:`solvers.gaps.close_gaps`).

The roster is built the same way by :class:`solvers.roster.RosterProblem`; the array-level models
are :class:`solvers.location.model.LocationModel` and :class:`solvers.assignment.model.AssignmentModel`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .gaps import GapClosingResult, close_gaps
from .model import Model, Progress, StopCheck, as_fraction_progress, check_stop
from .pipeline import run_optimisation
from .results import OptimisationParams, OptimisationResult, TierResult

__all__ = ["GapClosingModel", "OptimisationModel", "TierModel"]


class _StopEvent:
    """``should_stop`` seen through the ``is_set()`` the pipeline checks."""

    def __init__(self, should_stop: StopCheck):
        self._stop = should_stop

    def is_set(self) -> bool:
        return bool(self._stop is not None and self._stop())


class OptimisationModel(Model):
    """All requested tiers of one optimisation run on a dataset.

    Parameters
    ----------
    ds : geo_service.core.dataset.Dataset
        The county.
    params : OptimisationParams
        The run's parameters (``time_limit_s`` and ``seed`` are overridden by :meth:`solve`'s).
    previous : OptimisationResult or dict, optional
        The run to re-plan with minimal change.
    network : geo_service.core.network.RoadNetwork, optional
        Prebuilt road graph for ``mode="road"``.
    """

    family = "optimisation"

    def __init__(self, ds: Any, params: OptimisationParams, previous: Any = None, network: Any = None):
        self.ds, self.params, self.previous, self.network = ds, params, previous, network

    @classmethod
    def from_dataset(cls, ds: Any, params: OptimisationParams | Mapping[str, Any] | None = None, *,
                     previous: Any = None, network: Any = None, **kw: Any) -> OptimisationModel:
        """The run on ``ds``; ``params`` (or keyword fields) are :class:`OptimisationParams`."""
        p = params if isinstance(params, OptimisationParams) else OptimisationParams.model_validate(
            {**dict(params or {}), **kw})
        if kw and isinstance(params, OptimisationParams):
            p = p.model_copy(update=kw)
        return cls(ds, p, previous, network)

    def _params(self, time_limit_s: float | None, seed: int | None) -> OptimisationParams:
        update: dict[str, Any] = {}
        if time_limit_s is not None:
            if not time_limit_s > 0:
                raise ValueError(f"time_limit_s must be > 0, got {time_limit_s}")
            update["time_limit_s"] = float(time_limit_s)
        if seed is not None:
            update["seed"] = int(seed)
        return self.params.model_copy(update=update) if update else self.params

    def solve(self, time_limit_s: float | None = None, seed: int | None = None,
              should_stop: StopCheck = None, progress: Progress | None = None) -> OptimisationResult:
        """Run the tiers; ``should_stop`` is checked between tiers and before every flow solve."""
        say = as_fraction_progress(progress)
        check_stop(should_stop, "optimisation")
        return run_optimisation(self.ds, self._params(time_limit_s, seed), previous=self.previous,
                                progress=lambda pct, text: say(pct / 100.0, text),
                                cancel=_StopEvent(should_stop) if should_stop is not None else None,
                                network=self.network)


class TierModel(OptimisationModel):
    """One tier of the optimisation run on a dataset (``params["tier"]``); answers its TierResult.

    A tier that had nothing to decide answers ``nothing_to_do`` with the diagnostic saying which
    layer is missing.
    """

    family = "assignment"

    def __init__(self, ds: Any, params: OptimisationParams, previous: Any = None, network: Any = None,
                 tier: str = "constituents"):
        super().__init__(ds, params, previous, network)
        self.tier = tier

    @classmethod
    def from_dataset(cls, ds: Any, params: OptimisationParams | Mapping[str, Any] | None = None, *,
                     previous: Any = None, network: Any = None, **kw: Any) -> TierModel:
        """Tier ``params["tier"]`` (``constituents``, ``villages``, ``townships`` or ``stations``) of
        the run on ``ds``; the other entries are :class:`OptimisationParams` fields."""
        prm = {**dict(params.model_dump() if isinstance(params, OptimisationParams) else params or {}), **kw}
        tier = prm.pop("tier", "constituents")
        prm["tiers"] = [tier]
        run = OptimisationModel.from_dataset(ds, prm, previous=previous, network=network)
        return cls(ds, run.params, previous, network, tier=tier)

    def solve(self, time_limit_s: float | None = None, seed: int | None = None,
              should_stop: StopCheck = None, progress: Progress | None = None) -> TierResult:
        """Run the tier; see :meth:`OptimisationModel.solve`."""
        res = super().solve(time_limit_s, seed, should_stop, progress)
        if self.tier in res.tiers:
            return res.tiers[self.tier]
        return TierResult(name=self.tier, status="nothing_to_do", objective=None, bound=None, gap=None,
                          time_s=res.time_s, solver="none", assignment={},
                          diagnostics=[d for d in res.diagnostics if d.get("tier") == self.tier])


class GapClosingModel(Model):
    """New contact points for a dataset (:func:`solvers.gaps.close_gaps`; ``params`` are its keywords)."""

    family = "gaps"

    def __init__(self, ds: Any, params: Mapping[str, Any]):
        bad = {"time_limit", "seed"} & set(params)
        if bad:
            raise ValueError(f"pass {', '.join(sorted(bad))} to solve(), not to the gap-closing params")
        self.ds, self.params = ds, dict(params)

    @classmethod
    def from_dataset(cls, ds: Any, params: Mapping[str, Any] | None = None, **kw: Any) -> GapClosingModel:
        """Gap closing on ``ds`` with the keywords of :func:`~solvers.gaps.close_gaps` (``model``,
        ``threshold_m``, ``k``, ``mode``, ``candidates``...)."""
        return cls(ds, {**dict(params or {}), **kw})

    def solve(self, time_limit_s: float | None = None, seed: int | None = None,
              should_stop: StopCheck = None, progress: Progress | None = None) -> GapClosingResult:
        """Propose the points within ``time_limit_s`` seconds (default 60); ``should_stop`` is
        checked before the solve starts."""
        say = as_fraction_progress(progress)
        check_stop(should_stop, "gap closing")
        say(0.0, "closing gaps")
        res = close_gaps(self.ds, **self.params, time_limit=60.0 if time_limit_s is None else time_limit_s,
                         seed=0 if seed is None else int(seed))
        say(1.0, res.status)
        return res
