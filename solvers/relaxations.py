"""Rules a tier relaxed to reach its answer, and the outcome that says so.

A tier whose solver proved its answer optimal, but only after lowering a minimum or raising a
maximum the planner asked for (too few townships for every committee's quota, a group without
enough candidate villages, locks beyond a group's maximum), is ``relaxed`` (最优（已放宽）), never
plain ``optimal``. Each relaxed rule is one record::

    {"rule": "townships_per_committee", "scope": "committees", "asked": 2, "given": 1,
     "reason": "too_few", "params": {...}}

``rule`` is an :class:`~solvers.results.OptimisationParams` field (or ``station_capacity``);
``reason`` is a message code of the glossary (``relax_<reason>``), so the CLI, the 求解概况 sheet
and the page word it the same in zh and en (:func:`geo_service.core.glossary.relaxation_text`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from . import assignment as A

#: Status of a tier solved to optimality under relaxed rules.
RELAXED = "relaxed"

#: tier -> (rule of a lowered minimum, rule of a raised maximum)
_RULES = {"constituents": ("constituents_min", "constituents_max"),
          "villages": ("villages_min", "villages_max"),
          "townships": ("townships_per_committee", "townships_per_committee"),
          "stations": ("station_capacity", "station_capacity")}

#: diagnostic code -> reason of the relaxation
_REASONS = {"min_load": "too_few", "max_load": "too_many", "locks_over_max": "locks",
            "contact_min_short": "too_few_candidates"}


def tier_relaxations(tier: str, diagnostics: Iterable[Mapping[str, Any]],
                     params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The relaxed rules of one tier, read from its diagnostics (``relaxed_min`` / ``relaxed_max``).

    Parameters
    ----------
    tier : str
        One of ``constituents``, ``villages``, ``townships``, ``stations``.
    diagnostics : iterable of dict
        The tier's diagnostics as the solvers write them.
    params : dict, optional
        The run's parameters: the asked value where a diagnostic does not carry it.

    Returns
    -------
    list of dict
        ``rule``, ``scope``, ``asked``, ``given``, ``reason`` and the ``params`` of its words.
    """
    if tier not in _RULES:
        raise ValueError(f"tier must be one of {', '.join(_RULES)}, got {tier!r}")
    params = params or {}
    out: list[dict[str, Any]] = []
    for d in diagnostics:
        lower = "relaxed_min" in d
        if not lower and "relaxed_max" not in d:
            continue
        rule = _RULES[tier][0 if lower else 1]
        asked = d.get("asked_min" if lower else "asked_max", params.get(rule))
        given = d["relaxed_min" if lower else "relaxed_max"]
        if asked is not None and given == asked:
            continue
        code = str(d.get("code") or d.get("quota") or "")
        p = dict(d.get("params") or {})
        out.append({"rule": rule, "scope": str(d.get("scope", "")), "asked": asked, "given": given,
                    "reason": _REASONS.get(code, "too_few" if lower else "too_many"),
                    "params": {"n": p.get("n", d.get("demand")), "cols": p.get("cols", d.get("members")),
                               "what": p.get("what", tier), "who": p.get("who", ""),
                               "cap": p.get("cap", d.get("capacity"))}})
    return out


def relaxed_status(status: str, relaxations: list[dict[str, Any]]) -> str:
    """``relaxed`` for an optimal answer that needed relaxed rules; any other status unchanged."""
    return RELAXED if status == A.OPTIMAL and relaxations else status


__all__ = ["RELAXED", "relaxed_status", "tier_relaxations"]
