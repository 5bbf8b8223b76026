"""Back into planning: a re-run of the constituent assignment that takes the ledger into account.

:func:`ledger_plan` reads the previous run's constituent -> member links against the ledger of a
period: a link whose member recorded a contact with that constituent *works* and is kept (a lock
on the same member); a link nobody reached is *moved*: locked to the nearest other member of the
constituent's sector (straight line, metres, in the dataset's metric CRS) who still has room under
``constituents_max`` counting the locks already placed. Everyone else is left to the solver,
which stays close to the previous run (minimal change). :func:`annotate_result` writes the reason
into the run's minimal-change report (``move_reasons``: ``ledger_unreached``; ``extra["ledger"]``:
kept, moved and stayed counts, and the period).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

REASON_MOVED = "ledger_unreached"


def ledger_plan(ds: Any, previous: dict[str, Any], activities: pd.DataFrame, start: str, end: str, *,
                constituents_max: int = 12) -> dict[str, Any]:
    """Locks for a ledger-aware re-run (see module docstring).

    Parameters
    ----------
    ds : Dataset
        The dataset of the re-run.
    previous : dict
        The previous optimisation result (``tiers.constituents.assignment``).
    activities : DataFrame
        Ledger rows (``kind``, ``member_id``, ``constituent_id``, ``date``).
    start, end : str
        The period (ISO dates, inclusive) the links are judged on.
    constituents_max : int
        Most constituents a member may hold (the run's ``constituents_max``).

    Returns
    -------
    dict
        ``locks`` (constituent -> member), ``kept`` and ``moved`` (constituent -> ``[old, new]``)
        lists, ``stayed`` (unreached, no other member of the sector with room), ``period``.
    """
    if constituents_max < 1:
        raise ValueError(f"constituents_max must be >= 1, got {constituents_max}")
    assign = {str(c): str(m) for c, m in (((previous.get("tiers") or {}).get("constituents") or {})
                                          .get("assignment") or {}).items() if m}
    a = activities[(activities["kind"] == "contact") & (activities["date"] >= start) & (activities["date"] <= end)]
    pairs = set(zip(a["constituent_id"].dropna().astype(str), a.loc[a["constituent_id"].notna(), "member_id"]
                    .astype(str), strict=True))
    kept = {c: m for c, m in assign.items() if (c, m) in pairs}
    unreached = [c for c, m in assign.items() if (c, m) not in pairs]
    load = pd.Series(list(kept.values()), dtype=object).value_counts().to_dict()
    moved, stayed = _move(ds, assign, unreached, load, constituents_max)
    locks = {**kept, **{c: new for c, (_old, new) in moved.items()}}
    return {"period": {"start": start, "end": end}, "locks": locks, "kept": sorted(kept),
            "moved": moved, "stayed": stayed}


def _move(ds: Any, assign: dict[str, str], unreached: list[str], load: dict[str, int],
          cap: int) -> tuple[dict[str, list[str]], list[str]]:
    members = ds.members
    if not unreached or members is None or not len(members):
        return {}, list(unreached)
    crs = ds.metric_crs
    mxy = np.column_stack([members.to_crs(crs).geometry.x, members.to_crs(crs).geometry.y])
    mid = members["id"].astype(str).to_numpy()
    msec = members["sector"].astype(str).to_numpy()
    cons = ds.constituents.assign(id=ds.constituents["id"].astype(str)).set_index("id")
    pts = ds.constituent_points()
    pts.index = cons.index
    cxy = pts.to_crs(crs)
    moved: dict[str, list[str]] = {}
    stayed: list[str] = []
    for c in unreached:
        if c not in cons.index or pts[c] is None or pts[c].is_empty:
            stayed.append(c)
            continue
        d = np.hypot(mxy[:, 0] - cxy[c].x, mxy[:, 1] - cxy[c].y)
        ok = (msec == str(cons.at[c, "sector"])) & (mid != assign[c])
        ok &= np.array([load.get(m, 0) < cap for m in mid])
        if not ok.any():
            stayed.append(c)
            continue
        j = int(np.flatnonzero(ok)[np.argmin(d[ok])])
        moved[c] = [assign[c], str(mid[j])]
        load[str(mid[j])] = load.get(str(mid[j]), 0) + 1
    return moved, stayed


def annotate_result(result: dict[str, Any], plan: dict[str, Any]) -> dict[str, Any]:
    """``result`` (an optimisation result dict) with the ledger's reasons in the constituents tier's
    minimal-change report: each moved constituent now with another member gets ``ledger_unreached``."""
    tier = (result.get("tiers") or {}).get("constituents")
    if not tier:
        return result
    reasons = dict(tier.get("move_reasons") or {})
    n = 0
    for c, (old, _new) in (plan.get("moved") or {}).items():
        now = (tier.get("assignment") or {}).get(c)
        if now is not None and now != old:
            reasons[c] = REASON_MOVED
            n += 1
    tier["move_reasons"] = reasons
    tier.setdefault("extra", {})["ledger"] = {"period": plan.get("period"), "kept": len(plan.get("kept") or []),
                                              "moved": n, "stayed": len(plan.get("stayed") or [])}
    return result


__all__ = ["REASON_MOVED", "annotate_result", "ledger_plan"]
