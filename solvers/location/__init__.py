"""Facility location models on a plain cost matrix: LSCP, MCLP, p-median and p-center.

Every function takes ``cost``, an ``(n_demand, n_sites)`` array (metres, seconds or any other
non-negative unit; ``inf`` marks a pair that cannot be served at all, e.g. no road), and returns a
:class:`LocationResult` with an honest ``status`` (``optimal`` / ``feasible`` / ``infeasible``),
``objective``, ``bound``, ``gap``, the opened sites, the assignment and per-demand diagnostics.
Conventions follow the literature and PySAL spopt: ``fixed`` are site indices that are always open,
``p`` counts every open site including the fixed ones, and a demand is covered when
``cost <= radius``.

Covering models (LSCP, MCLP) also take a ``scipy.sparse`` matrix whose stored entries are the
pairs within reach (:func:`covering_matrix` builds one from points with a KD-tree), merge demands
with identical covering sets and need memory linear in those pairs.

Solvers: the MIPs are solved with HiGHS (``highspy``), single-threaded and seeded, so the same
input and ``seed`` give the same answer. The uncapacitated p-median: for small ``p`` (at most
``pmedian._LAGRANGIAN_MAX_P`` free sites) a Lagrangian branch-and-bound over site decisions
(relaxing the assignment constraints, as in Beasley 1985, "A note on solving large p-median
problems", EJOR 21:270-273: subgradient ascent per node, Lagrangian reduced-cost fixing,
depth-first branching on sites). For any larger ``p``: the Lagrangian bound by subgradient ascent
(its maximum is the classical LP bound), an incumbent from locate-allocate, fast vertex
interchange (Teitz & Bart 1968; Whitaker 1983) and an iterated local search guided by the
Lagrangian costs, reduced-cost fixing of sites, then the same tree (or the *radius* formulation of
Elloumi 2010, "A tighter formulation of the p-median problem", J. Comb. Optim. 19:69-83, in the
form of García, Labbé & Marín 2011, INFORMS J. Comput. 23:546-556) on the sites left. Every bound
reported is a Lagrangian or MIP bound and so a valid lower bound, finite at any ``p``. From
``pmedian._LISTS_MIN_PAIRS`` demand-site pairs (thousands of sites) the any-p steps run on
candidate lists, the nearest sites of each demand, with each multiplier capped at its list's
largest cost so that the bound stays the full problem's. The
capacitated variants use a plain assignment MIP (fine for county sizes).

Modules: ``_common`` (result, input checks, HiGHS helpers), ``covering`` (LSCP, MCLP),
``reach`` (pairs within the radius: sparse input, KD-tree, merging of identical covering sets),
``heuristics`` (greedy + interchange), ``pmedian`` (entry point and capacitated MIP),
``pmedian_radius`` (radius formulation), ``pmedian_lagrange`` (Lagrangian branch-and-bound),
``pmedian_large`` (any p: Lagrangian bound, local search, fixing, finish),
``pmedian_sparse`` (the same on candidate lists, compiled),
``pcenter`` (p-center and the brute-force reference).
"""

from ._common import LocationResult
from .covering import max_coverage, set_cover
from .heuristics import greedy_interchange
from .pcenter import brute_force, p_center
from .pmedian import p_median
from .pmedian_lagrange import lagrangian_bound  # noqa: F401  (public helper, used by tests)
from .reach import covering_matrix, covering_matrix_lonlat

__all__ = [
    "LocationResult",
    "set_cover",
    "max_coverage",
    "p_median",
    "p_center",
    "greedy_interchange",
    "brute_force",
    "covering_matrix",
    "covering_matrix_lonlat",
]
