"""The location models (LSCP, MCLP, p-median, p-center) in the shape of :class:`solvers.model.Model`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.spatial.distance import cdist

from geo_service.core.coverage import village_weights

from ..model import Model, Progress, StopCheck, as_fraction_progress, check_stop
from ._common import LocationResult
from .covering import max_coverage, set_cover
from .pcenter import p_center
from .pmedian import p_median

__all__ = ["LocationModel"]

#: model name -> (function, parameters it takes besides cost, time_limit and seed)
_MODELS = {
    "lscp": (set_cover, ("radius", "weights", "fixed", "rel_gap")),
    "mclp": (max_coverage, ("radius", "p", "weights", "fixed", "capacity", "rel_gap")),
    "pmedian": (p_median, ("p", "weights", "fixed", "capacity", "rel_gap")),
    "pcenter": (p_center, ("p", "fixed")),
}


class LocationModel(Model):
    """One location model on a cost matrix (demands x sites).

    Parameters
    ----------
    model : str
        ``"lscp"``, ``"mclp"``, ``"pmedian"`` or ``"pcenter"``.
    cost : array or scipy.sparse matrix
        ``(n_demand, n_sites)`` non-negative costs (metres or seconds; ``inf`` = cannot serve).
    **params
        The model's own parameters (``radius`` in the cost unit, ``p`` sites counting the fixed
        ones, ``weights`` per demand, ``fixed`` site indices, ``capacity``, ``rel_gap``).
    """

    family = "location"

    def __init__(self, model: str, cost: Any, **params: Any):
        if model not in _MODELS:
            raise ValueError(f"model must be one of {sorted(_MODELS)}, got {model!r}")
        allowed = _MODELS[model][1]
        extra = sorted(set(params) - set(allowed))
        if extra:
            raise ValueError(f"{model} does not take {', '.join(extra)} (it takes {', '.join(allowed)})")
        self.model, self.cost, self.params = model, cost, params

    @classmethod
    def from_arrays(cls, cost: Any, model: str = "pmedian", **params: Any) -> LocationModel:
        """The model ``model`` on the cost matrix ``cost`` (see the class parameters)."""
        return cls(model, cost, **params)

    @classmethod
    def from_dataset(cls, ds: Any, params: Mapping[str, Any] | None = None, **kw: Any) -> LocationModel:
        """Villages as demands (population, or 1 per village where unknown), the stations (fixed,
        always open) and then every located village as sites; straight-line metres in ``ds.metric_crs``.

        ``params``: ``model`` (default ``"pmedian"``) and the model's parameters; ``p`` counts the
        stations too, and ``fixed`` defaults to the stations.
        """
        prm = {**dict(params or {}), **kw}
        model = prm.pop("model", "pmedian")
        v_xy, s_xy = ds.xy_m("villages"), ds.xy_m("stations")
        located = np.isfinite(v_xy).all(axis=1)
        v_xy = v_xy[located]
        cost = cdist(v_xy, np.vstack([s_xy.reshape(-1, 2), v_xy]))
        if "weights" in _MODELS.get(model, (None, ()))[1]:
            prm.setdefault("weights", village_weights(ds.villages).weights[located])
        prm.setdefault("fixed", np.arange(len(s_xy)))
        return cls(model, cost, **prm)

    def solve(self, time_limit_s: float | None = None, seed: int | None = None,
              should_stop: StopCheck = None, progress: Progress | None = None) -> LocationResult:
        """Solve with HiGHS (or the exact bisection for p-center) within ``time_limit_s`` seconds.

        ``should_stop`` is checked before the solve starts (one MIP solve is not interrupted; the
        time limit bounds it).
        """
        say = as_fraction_progress(progress)
        check_stop(should_stop, self.model)
        say(0.0, f"solving {self.model}")
        fn = _MODELS[self.model][0]
        res = fn(self.cost, **self.params, time_limit=time_limit_s, seed=0 if seed is None else int(seed))
        say(1.0, res.status)
        return res
