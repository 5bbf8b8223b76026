"""Facility location models on a plain cost matrix: LSCP, MCLP, p-median and p-center.

Every function takes ``cost``, an ``(n_demand, n_sites)`` array (metres, seconds or any other
non-negative unit; ``inf`` marks a pair that cannot be served at all, e.g. no road), and returns a
:class:`LocationResult` with an honest ``status`` (``optimal`` / ``feasible`` / ``infeasible``),
``objective``, ``bound``, ``gap``, the opened sites, the assignment and per-demand diagnostics.
Conventions follow the literature and PySAL spopt: ``fixed`` are site indices that are always open,
``p`` counts every open site including the fixed ones, and a demand is covered when
``cost <= radius``.

Solvers: the MIPs are solved with HiGHS (``highspy``), single-threaded and seeded, so the same
input and ``seed`` give the same answer. The uncapacitated p-median uses the exact *radius*
formulation of Elloumi (2010, "A tighter formulation of the p-median problem", J. Comb. Optim.
19:69-83) in the form of García, Labbé & Marín (2011, "Solving large p-median problems with a
radius formulation", INFORMS J. Comput. 23:546-556): one continuous variable per demand and
*distinct* distance level, only for levels up to a per-demand cut that grows by row generation
(first on the LP relaxation, then on the MIP) until the cut-off model is provably exact. A fast
interchange heuristic (Teitz & Bart 1968, with Whitaker's 1983 fast swap evaluation) supplies the
starting incumbent. For small ``p`` (at most ``_LAGRANGIAN_MAX_P`` free sites) the LP gap is
largest and the radius model biggest, so the uncapacitated p-median is instead solved by a Lagrangian
branch-and-bound over site decisions (relaxing the assignment constraints, as in Beasley 1985,
"A note on solving large p-median problems", EJOR 21:270-273): subgradient ascent per node,
Lagrangian reduced-cost fixing of sites, depth-first branching on sites; every pruning bound is a
Lagrangian value and so a valid lower bound. The capacitated variants use a plain assignment MIP
(fine for county sizes).

Modules: ``_common`` (result, input checks, HiGHS helpers), ``covering`` (LSCP, MCLP),
``heuristics`` (greedy + interchange), ``pmedian`` (entry point and capacitated MIP),
``pmedian_radius`` (radius formulation), ``pmedian_lagrange`` (Lagrangian branch-and-bound),
``pcenter`` (p-center and the brute-force reference).
"""

from ._common import LocationResult
from .covering import max_coverage, set_cover
from .heuristics import greedy_interchange
from .pcenter import brute_force, p_center
from .pmedian import p_median
from .pmedian_lagrange import lagrangian_bound  # noqa: F401  (public helper, used by tests)

__all__ = [
    "LocationResult",
    "set_cover",
    "max_coverage",
    "p_median",
    "p_center",
    "greedy_interchange",
    "brute_force",
]
