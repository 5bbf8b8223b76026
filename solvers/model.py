"""One shape for every model family: a result type and a model protocol.

Every family (location models, each assignment tier, gap closing, the whole optimisation run, the
duty roster) answers with a result that derives from :class:`ModelResult` and is built and solved
through a class that derives from :class:`Model`::

    model = Family.from_dataset(ds, params)        # or Family.from_arrays(cost, ...)
    result = model.solve(time_limit_s=30, seed=0, should_stop=stop, progress=report)
    result.status, result.objective, result.bound, result.gap, result.is_optimal
    result.diagnostic_codes()                      # [{"code", "params", "severity"}, ...]
    result.to_dict()                               # JSON-safe

``progress(fraction, text)`` always receives a fraction of the work done, from 0.0 to 1.0;
``should_stop()`` returning True raises :class:`Cancelled` (a subclass of the family's own
``Cancelled`` where one exists, so older ``except`` clauses keep working).

Statuses are the honest ones of the solvers: ``optimal`` (proven), ``feasible`` (best found within
the time limit: ``bound`` and ``gap`` say how far it may be from optimal), ``infeasible`` (the
rules cannot all hold; the diagnostics say which), ``nothing_to_do`` and ``unknown``; ``relaxed`` where the
answer is optimal only for rules the run had to lower or raise (``relaxations`` say which). A result
from a relaxed rule is never ``optimal``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

__all__ = [
    "Cancelled", "Model", "ModelResult", "Progress", "StopCheck", "as_fraction_progress", "check_stop",
    "no_progress", "normalise_diagnostic",
]

#: ``progress(fraction, text)``: fraction of the work done in [0, 1] and a short English text.
Progress = Callable[[float, str], None]
#: ``should_stop()`` -> True asks the solver to stop (it raises :class:`Cancelled`).
StopCheck = Callable[[], bool] | None

OPTIMAL = "optimal"
_MESSAGE_KEYS = ("code", "severity", "params", "message", "message_zh", "message_en")


class Cancelled(Exception):
    """The caller's ``should_stop()`` returned True; every family's cancellation derives from it."""


def check_stop(should_stop: StopCheck, what: str = "model") -> None:
    """Raise :class:`Cancelled` when ``should_stop`` is given and returns True.

    Parameters
    ----------
    should_stop : callable or None
        Checked once; None never stops.
    what : str
        Named in the exception text (``"roster"``, ``"optimisation"``...).
    """
    if should_stop is not None and should_stop():
        raise Cancelled(f"{what} cancelled")


def no_progress(fraction: float, text: str) -> None:
    """A progress callback that does nothing."""


def as_fraction_progress(progress: Progress | None) -> Progress:
    """``progress`` with its fraction clipped to [0, 1] (or :func:`no_progress` for None)."""
    if progress is None:
        return no_progress

    def report(fraction: float, text: str) -> None:
        progress(min(1.0, max(0.0, float(fraction))), text)
    return report


def normalise_diagnostic(d: Mapping[str, Any]) -> dict[str, Any]:
    """One diagnostic as ``{"code", "params", "severity"}``.

    ``params`` is the diagnostic's own ``params`` when it has them, else every key that is not a
    code, severity or text (the roster's diagnostics carry their figures at the top level).
    """
    params = d.get("params")
    if params is None:
        params = {k: v for k, v in d.items() if k not in _MESSAGE_KEYS}
    return {"code": str(d.get("code") or d.get("quota") or "note"), "params": dict(params),
            "severity": str(d.get("severity") or "info")}


class ModelResult:
    """What every model returns (the base of each family's result class).

    Attributes every subclass provides (dataclass fields or properties)
    ------------------------------------------------------------------
    status : str
        ``optimal``, ``relaxed``, ``feasible``, ``infeasible``, ``nothing_to_do`` or ``unknown``.
    objective : float or None
        Modelled value of the answer in the family's unit (metres, seconds, persons, sites).
    bound : float or None
        Proven bound on the optimum (lower when minimising, upper when maximising).
    gap : float or None
        Relative distance between ``objective`` and ``bound``; 0 when optimal.
    diagnostics : list of dict
        What limited the answer, each with a ``code`` (see :data:`geo_service.core.glossary.MESSAGES`)
        and its figures.
    """

    @property
    def is_optimal(self) -> bool:
        """True only for a proven optimum (never for a relaxed rule or a time-limited answer)."""
        return getattr(self, "status", None) == OPTIMAL

    def diagnostic_codes(self) -> list[dict[str, Any]]:
        """The diagnostics as ``{"code", "params", "severity"}`` (texts come from the glossary)."""
        return [normalise_diagnostic(d) for d in (getattr(self, "diagnostics", None) or [])]

    def headline(self) -> dict[str, Any]:
        """``status``, ``objective``, ``bound``, ``gap``, ``is_optimal`` as JSON-safe values."""
        return {"status": self.status, "objective": _num(self.objective), "bound": _num(self.bound),
                "gap": _num(self.gap), "is_optimal": self.is_optimal}

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - every family overrides it
        """JSON-safe dict of the whole result."""
        raise NotImplementedError


class Model:
    """A model built from a dataset or from plain arrays and solved with one signature.

    Subclasses set :attr:`family` and implement :meth:`solve`, and at least one of
    :meth:`from_dataset` / :meth:`from_arrays`.
    """

    #: short name of the family (``location``, ``assignment``, ``gaps``, ``optimisation``, ``roster``)
    family: ClassVar[str] = ""

    @classmethod
    def from_dataset(cls, ds: Any, params: Any = None, **kw: Any) -> Model:
        """The model of dataset ``ds`` with ``params`` (a mapping or the family's parameter model)."""
        raise NotImplementedError(f"{cls.__name__} is not built from a dataset")

    @classmethod
    def from_arrays(cls, *arrays: Any, **params: Any) -> Model:
        """The model on plain arrays (a cost matrix, weights, loads; see the family)."""
        raise NotImplementedError(f"{cls.__name__} is not built from plain arrays")

    def solve(self, time_limit_s: float | None = None, seed: int | None = None,
              should_stop: StopCheck = None, progress: Progress | None = None) -> ModelResult:
        """Solve within ``time_limit_s`` seconds with ``seed``; see the module docstring."""
        raise NotImplementedError


def _num(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None
