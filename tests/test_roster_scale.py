"""Rosters past the demo: the warm start over candidate pairs keeps an honest bound."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog
from scipy.sparse import lil_matrix

from solvers.roster import RosterParams, RosterProblem
from solvers.roster import decomp


def month_lp(cost: np.ndarray, T: int, pmin: int, pmax: int, mmin: int, mmax: int) -> float:
    """The LP relaxation over x[m, p, t] (every rule but fairness and sectors), written apart."""
    n, P = cost.shape
    nv = n * P * T
    idx = lambda m, p, t: (m * P + p) * T + t  # noqa: E731
    rows = []
    A = lil_matrix((2 * P * T + 2 * n + n * T + n * P * (T - 1), nv))
    b = []
    r = 0
    for p in range(P):
        for t in range(T):
            for m in range(n):
                A[r, idx(m, p, t)] = 1
                A[r + 1, idx(m, p, t)] = -1
            b += [pmax, -pmin]
            r += 2
    for m in range(n):
        for p in range(P):
            for t in range(T):
                A[r, idx(m, p, t)] = 1
                A[r + 1, idx(m, p, t)] = -1
        b += [mmax, -mmin]
        r += 2
    for m in range(n):
        for t in range(T):
            for p in range(P):
                A[r, idx(m, p, t)] = 1
            b.append(1)
            r += 1
    for m in range(n):
        for p in range(P):
            for t in range(T - 1):
                A[r, idx(m, p, t)] = 1
                A[r, idx(m, p, t + 1)] = 1
                b.append(1)
                r += 1
    c = np.repeat(cost.reshape(-1), T)
    res = linprog(c, A_ub=A.tocsr()[:r], b_ub=b, bounds=(0, 1), method="highs")
    assert res.status == 0
    del rows
    return float(res.fun)


@pytest.mark.parametrize("restricted", [False, True])
def test_bound_is_below_an_independent_relaxation(monkeypatch, restricted):
    rng = np.random.default_rng(3)
    n, P, T = 40, 5, 6
    homes = np.vstack([rng.normal(c, 4000, (n // 4, 2)) for c in rng.uniform(0, 40000, (4, 2))])
    plats = rng.uniform(0, 40000, (P, 2))
    cost = np.hypot(*(homes[:, None, :] - plats[None, :, :]).transpose(2, 0, 1))
    if restricted:  # the large-roster path: stage 1 over candidate pairs, the bound from the LP
        monkeypatch.setattr(decomp, "FULL_PAIRS_MAX", 0)
    prm = RosterParams(start="2027-01", months=T, sectors_min=0, consultations=False, time_limit_s=20,
                       candidates_per_member=2)
    pb = RosterProblem.from_arrays(cost, params=prm)
    res = pb.solve()
    assert res.status in ("optimal", "feasible")
    ref = month_lp(cost, T, 1, 2, 1, 2)
    assert res.bound <= ref * (1 + 1e-7) + 1e-6
    assert res.objective >= ref * (1 - 1e-7)
    assert res.gap == pytest.approx((res.objective - res.bound) / res.objective, abs=1e-9)
    if res.status == "optimal":
        assert res.objective - res.bound <= 1e-6 * res.objective
