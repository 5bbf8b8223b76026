"""The generic solver: assign every row to one column at least total cost within column loads.

:func:`assign_min_cost_flow` is the capacitated transportation problem (rows -> columns, per-column
min/max loads, locks, minimal-change churn, soft targets) solved exactly by min-cost flow
(:mod:`.flow`), with infeasibility diagnosis and the closest feasible relaxation. Every tier calls it
under its own name (constituents -> members, villages -> groups, groups -> stations).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .flow import (
    AssignmentResult,
    INFEASIBLE,
    OPTIMAL,
    StopCheck,
    _Arcs,
    _TARGET_MAX_INT_COST,
    _bins_with_slack,
    _gap,
    _solve_priced,
)

DENSE_ARC_LIMIT = 4_000_000  # dense problems with more allowed arcs use candidate arcs + pricing


def _as_locks(locks: Any, n: int, m: int) -> np.ndarray:
    out = np.full(n, -1, np.int64)
    if locks is None:
        return out
    items = locks.items() if isinstance(locks, dict) else enumerate(np.asarray(locks).tolist())
    for i, j in items:
        if j is None or int(j) < 0:
            continue
        if not 0 <= int(i) < n:
            raise ValueError(f"lock: constituent index {i} out of range 0..{n - 1}")
        if not 0 <= int(j) < m:
            raise ValueError(f"lock: constituent {i} pinned to member index {j}, out of range 0..{m - 1}")
        out[int(i)] = int(j)
    return out


def _as_previous(previous: Any, n: int, m: int) -> np.ndarray | None:
    """(n,) previous column per row (-1 = none), checked."""
    if previous is None:
        return None
    prev = np.asarray(previous, np.int64).reshape(-1)
    if prev.shape != (n,):
        raise ValueError(f"previous must have shape ({n},), got {prev.shape}")
    bad = np.flatnonzero((prev >= m) | (prev < -1))
    if len(bad):
        raise ValueError(f"previous[{bad[0]}] = {prev[bad[0]]}: expected a column index 0..{m - 1} or -1")
    return prev


def _loads(v: Any, m: int, name: str) -> np.ndarray:
    a = np.broadcast_to(np.asarray(v, dtype=np.int64), (m,)).copy()
    if (a < 0).any():
        raise ValueError(f"{name}: negative value {int(a.min())} at member index {int(np.argmin(a))}")
    return a


def _component_label(names: Sequence[str] | None, members: np.ndarray, fallback: str) -> str:
    if names is not None and len(members):
        labels = sorted({str(names[j]) for j in members})
        return "/".join(labels)
    return fallback


def _diagnose(comp_rows: list[np.ndarray], comp_cols: list[np.ndarray],
              lo: np.ndarray, hi: np.ndarray, member_labels: Sequence[str] | None,
              what: str = "constituents", who: str = "members", block_labels: Sequence[str] | None = None,
              row_labels: Sequence[str] | None = None
              ) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray, np.ndarray]:
    """Capacity check per independent block (sector). Returns diagnostics, relaxed lo/hi, unplaceable rows."""
    diags: list[dict[str, Any]] = []
    lo2, hi2 = lo.copy(), hi.copy()
    unplaceable: list[np.ndarray] = []
    for q, (rws, cls) in enumerate(zip(comp_rows, comp_cols)):
        nn = len(rws)
        label = (str(block_labels[q]) if block_labels is not None
                 else _component_label(member_labels, cls, f"block of {nn} {what}"))
        if len(cls) == 0:
            if nn:
                if block_labels is None and row_labels is not None:
                    names = [str(row_labels[r]) for r in rws[:5]]
                    label = ", ".join(names) + (f" and {nn - 5} more" if nn > 5 else "")
                hint = (" (allow the cross-sector fallback to place them)" if what == "constituents" else "")
                diags.append({"quota": "no_member", "scope": label, "demand": nn, "capacity": 0,
                              "short_by": nn, "code": "no_member_fallback" if hint else "no_member",
                              "params": {"scope": label, "who": who, "n": nn, "what": what},
                              "message": f"{label}: no {who} can take these {nn} {what}; "
                                         f"they stay unassigned{hint}"})
                unplaceable.append(rws)
            continue
        cap_hi, cap_lo = int(hi[cls].sum()), int(lo[cls].sum())
        uni_hi = len(set(hi[cls].tolist())) == 1
        uni_lo = len(set(lo[cls].tolist())) == 1
        if nn > cap_hi:
            x = int(hi[cls].max())
            while int(np.maximum(hi[cls], x).sum()) < nn:
                x += 1
            hi2[cls] = np.maximum(hi[cls], x)
            cap_txt = (f"{len(cls)} {who} x max {int(hi[cls][0])} = {cap_hi}" if uni_hi
                       else f"{len(cls)} {who} with total max {cap_hi}")
            diags.append({"quota": "max_load", "scope": label, "members": len(cls), "demand": nn,
                          "capacity": cap_hi, "short_by": nn - cap_hi, "relaxed_max": x, "code": "max_load",
                          "asked_max": int(hi[cls].max()),
                          "params": {"scope": label, "cols": len(cls), "who": who, "cap": cap_hi, "n": nn,
                                     "what": what, "short": nn - cap_hi, "relaxed": x},
                          "message": f"{label}: {cap_txt} < {nn} {what}, short by {nn - cap_hi}; "
                                     f"closest feasible relaxation: max raised to {x}"})
        elif nn < cap_lo:
            y = int(lo[cls].min())
            while y > 0 and int(np.minimum(lo[cls], y).sum()) > nn:
                y -= 1
            lo2[cls] = np.minimum(lo[cls], y)
            cap_txt = (f"{len(cls)} {who} x min {int(lo[cls][0])} = {cap_lo}" if uni_lo
                       else f"{len(cls)} {who} with total min {cap_lo}")
            diags.append({"quota": "min_load", "scope": label, "members": len(cls), "demand": nn,
                          "capacity": cap_lo, "short_by": cap_lo - nn, "relaxed_min": y, "code": "min_load",
                          "asked_min": int(lo[cls].min()),
                          "params": {"scope": label, "cols": len(cls), "who": who, "cap": cap_lo, "n": nn,
                                     "what": what, "short": cap_lo - nn, "relaxed": y},
                          "message": f"{label}: {cap_txt} > {nn} {what}, short by {cap_lo - nn}; "
                                     f"closest feasible relaxation: min lowered to {y}"})
    un = np.concatenate(unplaceable) if unplaceable else np.zeros(0, np.int64)
    return diags, lo2, hi2, un


def _finish(n: int, m: int, sol: dict[str, Any], scale: float, lo_orig: np.ndarray, hi_orig: np.ndarray,
            lockv: np.ndarray, free: np.ndarray, locked_model: float,
            pure_cost_of: Callable[[np.ndarray, np.ndarray], float], prev: np.ndarray | None,
            allowed_of: Callable[[np.ndarray, np.ndarray], np.ndarray] | None,
            diags: list[dict[str, Any]], relaxed: bool, relaxation: dict[str, Any] | None,
            t0: float) -> AssignmentResult:
    arcs: _Arcs = sol["arcs"]
    assign = np.full(n, -1, np.int64)
    if sol["status"] != INFEASIBLE:
        assign[free] = sol["assign"]
    locked = lockv >= 0
    assign[locked] = lockv[locked]
    loads = np.bincount(assign[assign >= 0], minlength=m)
    if sol["status"] == INFEASIBLE:
        obj = bound = math.nan
        status = INFEASIBLE
    else:
        sub = sol["assign"]
        sel = arcs.cols == sub[arcs.rows]
        obj = float(arcs.fcost[sel].sum()) + locked_model + sol.get("load_pen", 0.0)
        # each arc cost was rounded by <= 0.5 unit, and so was the over-target penalty per unit
        slack = 0.5 * len(free) * (2 if sol.get("load_pen") is not None and sol.get("tpen") else 1)
        bound = (sol["dual"] - slack) / scale + locked_model
        bound = min(bound, obj)
        status = INFEASIBLE if relaxed else sol["status"]
    ok = assign >= 0
    cost = pure_cost_of(np.flatnonzero(ok), assign[ok]) if ok.any() else 0.0
    moved = reasons = None
    if prev is not None:
        reasons = np.full(n, "", dtype=object)
        had = prev >= 0
        mv = had & (assign != prev)
        for i in np.flatnonzero(mv):
            j = prev[i]
            if allowed_of is not None and not allowed_of(np.array([i]), np.array([j]))[0]:
                reasons[i] = "not_allowed"
            elif loads[j] >= hi_orig[j]:
                reasons[i] = "capacity"
            else:
                reasons[i] = "improvement"
        moved = {"moved": int(mv.sum()), "kept": int((had & ~mv).sum()),
                 "new": int((~had & ok).sum()),
                 **{r: int((reasons == r).sum()) for r in ("capacity", "improvement", "not_allowed")}}
    return AssignmentResult(status=status, objective=obj, bound=bound, gap=_gap(obj, bound),
                            assignment=assign, loads=loads, diagnostics=diags, relaxation=relaxation,
                            moved=moved, move_reasons=reasons, cost=cost,
                            time_s=time.monotonic() - t0, rounds=sol["rounds"], n_arcs=len(arcs.rows),
                            scale=scale)


def _prepare_locks(lockv: np.ndarray, lo: np.ndarray, hi: np.ndarray, m: int,
                   member_labels: Sequence[str] | None, what: str = "constituents"
                   ) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Loads left for the free rows after the locked ones; locks above a max are kept (max raised)."""
    nl = np.bincount(lockv[lockv >= 0], minlength=m)
    diags = []
    for j in np.flatnonzero(nl > hi):
        name = member_labels[j] if member_labels is not None else f"member {j}"
        diags.append({"quota": "locks", "scope": str(name), "member": int(j), "demand": int(nl[j]),
                      "capacity": int(hi[j]), "short_by": int(nl[j] - hi[j]), "relaxed_max": int(nl[j]),
                      "asked_max": int(hi[j]),
                      "code": "locks_over_max", "params": {"name": str(name), "n": int(nl[j]), "what": what,
                                                           "max": int(hi[j])},
                      "message": f"column {j} ({name}): {int(nl[j])} locked {what} > max "
                                 f"{int(hi[j])}; locks are kept, max raised to {int(nl[j])}"})
    hi_f = np.maximum(hi - nl, 0)
    lo_f = np.maximum(lo - nl, 0)
    return lo_f, hi_f, diags


def _free_targets(target_load: Any, penalty: float, lockv: np.ndarray, lo_f: np.ndarray, hi_f: np.ndarray,
                  m: int) -> np.ndarray | None:
    """Targets left for the free rows after locks (None when no target penalty applies)."""
    if target_load is None or not penalty:
        return None
    if penalty < 0:
        raise ValueError(f"over_target_penalty must be >= 0, got {penalty}")
    tg = _loads(target_load, m, "target_load")
    nl = np.bincount(lockv[lockv >= 0], minlength=m)
    return np.clip(tg - nl, lo_f, hi_f)


def _choose_scale(max_cost: float, nodes: int) -> float:
    """Units per cost unit: the largest arc becomes ~1e10, or less so that cost x nodes stays < 1e17."""
    return min(_TARGET_MAX_INT_COST, 1e17 / max(nodes + 2, 1)) / max(max_cost, 1e-9)


def assign_min_cost_flow(cost: np.ndarray, min_load: Any, max_load: Any, allowed: np.ndarray | None = None,
                        time_limit: float | None = None, seed: int = 0, *, locks: Any = None,
                        previous: np.ndarray | None = None, churn_weight: float = 0.0,
                        cross_penalty: float | None = None, member_labels: Sequence[str] | None = None,
                        k: int = 16, what: str = "constituents", who: str = "members",
                        target_load: Any = None, over_target_penalty: float = 0.0,
                        should_stop: StopCheck = None, row_labels: Sequence[str] | None = None
                        ) -> AssignmentResult:
    """Assign every constituent (row) to exactly one member (column) at least total cost.

    Parameters
    ----------
    cost : (n, m) array of non-negative costs (metres or seconds) from constituent i to member j.
    min_load, max_load : ints or (m,) arrays, constituents per member (e.g. 8 and 12).
    allowed : optional (n, m) bool mask (e.g. same sector). Without ``cross_penalty`` disallowed arcs
        are forbidden; with it they are allowed at ``cost + cross_penalty`` (soft cross-sector fallback).
    time_limit : seconds; checked between pricing rounds (one flow solve is never interrupted).
    seed : accepted for a uniform signature; the flow solver is deterministic.
    locks : {constituent index: member index} or (n,) array with -1 = free; locked rows are kept exactly.
    previous : (n,) member index per constituent from an earlier run (-1 = none); with ``churn_weight``
        (cost units per moved constituent) the re-run moves as few as it must; ``moved`` and
        ``move_reasons`` ("capacity", "improvement", "not_allowed") report the moves.
    member_labels : optional names per member (e.g. sector) used in diagnostics.
    k : candidate arcs per constituent when the dense problem exceeds ``DENSE_ARC_LIMIT`` arcs.
    what, who : nouns for rows and columns in diagnostics (the other tiers reuse this solver).
    row_labels : optional names per row, used where a diagnostic lists rows (e.g. group ids).
    target_load, over_target_penalty : int or (m,) target loads; each constituent above a member's
        target costs ``over_target_penalty`` (cost units), pulling loads toward the target (still exact:
        a second, dearer column->sink arc in the flow).
    should_stop : optional callable checked before every flow solve; True raises :class:`Cancelled`.

    Returns an :class:`AssignmentResult`; ``assignment[i]`` is the member index of constituent i.
    """
    t0 = time.monotonic()
    cost, lo, hi, allowed = _check_inputs(cost, min_load, max_load, allowed)
    n, m = cost.shape
    lockv = _as_locks(locks, n, m)
    prev = _as_previous(previous, n, m)
    deadline = None if time_limit is None else t0 + float(time_limit)
    model, hard = _modelled_cost(cost, allowed, cross_penalty, prev, churn_weight)

    lo_f, hi_f, diags = _prepare_locks(lockv, lo, hi, m, member_labels, what)
    tgt_f = _free_targets(target_load, over_target_penalty, lockv, lo_f, hi_f, m)
    tpen = float(over_target_penalty) if tgt_f is not None else 0.0
    locked = lockv >= 0
    free = np.flatnonzero(~locked)
    locked_model = float(model[locked, lockv[locked]].sum())
    sub_hard = hard[free]
    sub_model = model[free]
    nf = len(free)
    cdiag, lo_r, hi_r, unplaceable = _block_diagnosis(
        sub_hard, lo_f, hi_f, member_labels, what, who,
        None if row_labels is None else [row_labels[i] for i in free])
    diags += cdiag
    relaxed = bool(diags)
    relaxation = _relaxation(diags, unplaceable, allowed is not None and cross_penalty is None) if relaxed else None
    place = np.setdiff1d(np.arange(nf), unplaceable)
    max_c = (float(sub_model.max()) if sub_model.size else 1.0) + float(over_target_penalty or 0.0)
    scale = _choose_scale(max_c, n + m)
    pm = np.where(sub_hard[place], sub_model[place], np.inf)
    prev_place = None if prev is None else prev[free][place]
    sol = _solve_candidates(pm, np.nonzero(sub_hard[place]), lo_r, hi_r, scale, deadline, tgt_f, tpen,
                            should_stop, k, prev_place)
    if sol["status"] == INFEASIBLE:
        sol, diag = _closest_placement(pm, lo_r, hi_r, place, scale)
        diags.append(diag)
        relaxed = True
        relaxation = (relaxation or {}) | {"unplaceable": int(len(unplaceable) + diag["short_by"])}
    sol = _back_to_free_rows(sol, place, nf)

    def pure(ri: np.ndarray, cj: np.ndarray) -> float:
        return float(cost[ri, cj].sum())

    def allowed_of(ri: np.ndarray, cj: np.ndarray) -> np.ndarray:
        return np.ones(len(ri), bool) if allowed is None or cross_penalty is not None else allowed[ri, cj]

    return _finish(n, m, sol, scale, lo, hi, lockv, free, locked_model, pure, prev, allowed_of,
                   diags, relaxed, relaxation, t0)


def _back_to_free_rows(sol: dict[str, Any], place: np.ndarray, nf: int) -> dict[str, Any]:
    """The solution over the placeable rows mapped back onto all ``nf`` free rows (-1: not placed)."""
    full_sub = np.full(nf, -1, np.int64)
    if sol["status"] != INFEASIBLE:
        full_sub[place] = sol["assign"]
    arcs = sol["arcs"]
    return dict(sol, assign=full_sub, arcs=_Arcs(place[arcs.rows], arcs.cols, arcs.fcost))


def _check_inputs(cost: Any, min_load: Any, max_load: Any, allowed: Any
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """``cost`` (finite, >= 0), the loads per column and the ``allowed`` mask, checked."""
    cost = np.asarray(cost, dtype=float)
    if cost.ndim != 2:
        raise ValueError(f"cost must be a 2-d (constituents x members) array, got shape {cost.shape}")
    n, m = cost.shape
    if n and m and (not np.isfinite(cost).all() or (cost < 0).any()):
        bad = np.argwhere(~np.isfinite(cost) | (cost < 0))[0]
        raise ValueError(f"cost[{bad[0]}, {bad[1]}] = {cost[bad[0], bad[1]]}: costs must be finite and >= 0")
    lo, hi = _loads(min_load, m, "min_load"), _loads(max_load, m, "max_load")
    if (lo > hi).any():
        j = int(np.argmax(lo > hi))
        raise ValueError(f"member {j}: min_load {lo[j]} > max_load {hi[j]}")
    if allowed is not None:
        allowed = np.asarray(allowed, bool)
        if allowed.shape != cost.shape:
            raise ValueError(f"allowed has shape {allowed.shape}, expected {cost.shape}")
    return cost, lo, hi, allowed


def _modelled_cost(cost: np.ndarray, allowed: np.ndarray | None, cross_penalty: float | None,
                   prev: np.ndarray | None, churn_weight: float) -> tuple[np.ndarray, np.ndarray]:
    """Distance + cross-sector penalty + churn for leaving the previous column, and the hard mask."""
    model = cost.copy()
    hard = np.ones_like(cost, bool) if allowed is None else allowed.copy()
    if allowed is not None and cross_penalty is not None:
        model[~allowed] += float(cross_penalty)
        hard[:] = True
    if prev is not None and churn_weight:
        had = prev >= 0
        model[had] += float(churn_weight)
        model[np.flatnonzero(had), prev[had]] -= float(churn_weight)
    return model, hard


def _block_diagnosis(sub_hard: np.ndarray, lo_f: np.ndarray, hi_f: np.ndarray, member_labels: Any, what: str,
                     who: str, row_labels: list[str] | None) -> tuple[list[dict[str, Any]], np.ndarray,
                                                                       np.ndarray, np.ndarray]:
    """Diagnose each independent block (sector) of the allowed graph: see :func:`_diagnose`."""
    nf, m = sub_hard.shape
    r, c = np.nonzero(sub_hard)
    g = coo_matrix((np.ones(len(r)), (r, nf + c)), shape=(nf + m, nf + m))
    ncomp, lab = connected_components(g, directed=False)
    comp_rows = [np.flatnonzero(lab[:nf] == q) for q in range(ncomp)]
    comp_cols = [np.flatnonzero(lab[nf:] == q) for q in range(ncomp)]
    keep = [q for q in range(ncomp) if len(comp_rows[q]) or len(comp_cols[q])]
    # members with no allowed constituent still need their min met: they form their own blocks
    return _diagnose([comp_rows[q] for q in keep], [comp_cols[q] for q in keep], lo_f, hi_f, member_labels,
                     what, who, row_labels=row_labels)


def _relaxation(diags: list[dict[str, Any]], unplaceable: np.ndarray, hard_sectors: bool) -> dict[str, Any]:
    """The closest feasible relaxation the diagnostics describe (raised max, lowered min, unplaced)."""
    relaxation: dict[str, Any] = {
        "max_load": {str(d["scope"]): d["relaxed_max"] for d in diags if "relaxed_max" in d},
        "min_load": {str(d["scope"]): d["relaxed_min"] for d in diags if "relaxed_min" in d},
        "unplaceable": len(unplaceable)}
    if hard_sectors and any(d["quota"] in ("max_load", "no_member") for d in diags):
        relaxation["alternative"] = ("allow a cross-sector fallback (cross_penalty) to place the "
                                     "surplus with members of other sectors")
    return relaxation


def _solve_candidates(pm: np.ndarray, allowed_arcs: tuple[np.ndarray, np.ndarray], lo_r: np.ndarray,
                      hi_r: np.ndarray, scale: float, deadline: float | None, tgt_f: np.ndarray | None,
                      tpen: float, should_stop: StopCheck, k: int, prev_place: np.ndarray | None
                      ) -> dict[str, Any]:
    """Min-cost flow on ``pm`` (rows x columns, inf = not allowed): dense when small, else the
    ``k`` cheapest arcs per row (and the previous one) priced until none prices out, widening
    ``k`` while the candidate arcs cannot meet the loads."""
    n_rows, m = pm.shape
    rows_all, cols_all = allowed_arcs
    icm = np.rint(np.where(np.isfinite(pm), pm, 0) * scale).astype(np.int64)

    def oracle(u: np.ndarray, p: np.ndarray, keys: np.ndarray) -> _Arcs:
        """Every allowed arc with negative reduced cost, by blocks of rows."""
        rs, cs = [], []
        for s in range(0, n_rows, 2048):
            blk = icm[s:s + 2048] + p[None, :]
            bad = (blk < u[s:s + 2048, None]) & np.isfinite(pm[s:s + 2048])
            a_, b_ = np.nonzero(bad)
            rs.append(a_ + s)
            cs.append(b_)
        rr_, cc_ = np.concatenate(rs), np.concatenate(cs)
        kn = rr_.astype(np.int64) * m + cc_
        new = ~_in_sorted(kn, keys)
        return _Arcs(rr_[new], cc_[new], pm[rr_[new], cc_[new]])

    kk = min(k, m)
    while True:
        if len(rows_all) <= DENSE_ARC_LIMIT or kk >= m:
            arcs = _Arcs(rows_all, cols_all, pm[rows_all, cols_all])
            return _solve_priced(n_rows, m, arcs, lo_r, hi_r, scale, None, deadline, tgt_f, tpen, should_stop)
        # the kk cheapest allowed arcs per row (+ the previous arc), then pricing
        idx = np.argpartition(pm, kk - 1, axis=1)[:, :kk]
        rr = np.repeat(np.arange(n_rows), kk)
        cc = idx.ravel()
        fin = np.isfinite(pm[rr, cc])
        arcs = _Arcs(rr[fin], cc[fin], pm[rr[fin], cc[fin]])
        if prev_place is not None:
            pp = prev_place
            hv = (pp >= 0) & np.isfinite(pm[np.arange(n_rows), np.maximum(pp, 0)])
            ra = np.flatnonzero(hv)
            arcs = _dedup(_Arcs(np.r_[arcs.rows, ra], np.r_[arcs.cols, pp[hv]],
                                np.r_[arcs.fcost, pm[ra, pp[hv]]]), m)
        sol = _solve_priced(n_rows, m, arcs, lo_r, hi_r, scale, oracle, deadline, tgt_f, tpen, should_stop)
        if sol["status"] != INFEASIBLE:
            return sol
        kk = min(2 * kk, m)  # too few arcs to meet the loads: widen, ending with the full model


def _closest_placement(pm: np.ndarray, lo_r: np.ndarray, hi_r: np.ndarray, place: np.ndarray, scale: float
                       ) -> tuple[dict[str, Any], dict[str, Any]]:
    """A Hall-type shortage inside a block: the closest assignment with the fewest unplaced rows,
    and the diagnostic saying how many rows and member minimum places it leaves."""
    a_s, short = _bins_with_slack(pm, lo_r, hi_r)
    left = np.flatnonzero(a_s < 0)
    diag = {"quota": "reachability", "scope": "allowed pairs", "demand": len(place),
            "short_by": len(left), "code": "reachability",
            "params": {"n": len(left), "empty": int(short.sum())},
            "message": f"{len(left)} constituents cannot be placed within the max loads of "
                       f"the members they may go to (indices {place[left][:20].tolist()}"
                       f"{'...' if len(left) > 20 else ''}); "
                       f"{int(short.sum())} member min places stay empty"}
    ok = a_s >= 0
    rr = np.flatnonzero(ok)
    arcs = _Arcs(rr, a_s[ok], pm[rr, a_s[ok]])
    return {"status": OPTIMAL, "assign": a_s, "arcs": arcs, "rounds": 1,
            "dual": float(np.rint(arcs.fcost * scale).sum())}, diag


def _in_sorted(x: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    if not len(sorted_keys):
        return np.zeros(len(x), bool)
    pos = np.searchsorted(sorted_keys, x)
    pos = np.minimum(pos, len(sorted_keys) - 1)
    return sorted_keys[pos] == x


def _dedup(a: _Arcs, m: int) -> _Arcs:
    _, first = np.unique(a.rows.astype(np.int64) * m + a.cols, return_index=True)
    return _Arcs(a.rows[first], a.cols[first], a.fcost[first])
