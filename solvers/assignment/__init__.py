"""The four assignment tiers on plain arrays (no dataset, no IO).

1. :func:`assign_constituents_geo` (coordinates) / :func:`assign_min_cost_flow` (a cost matrix):
   constituents -> members, exact min-cost flow (OR-Tools ``SimpleMinCostFlow``) with per-member
   min/max loads, locks, minimal-change churn and infeasibility diagnosis with the closest feasible
   relaxation.
2. :func:`choose_contact_points`: the groups' contact villages as a covering decision (most gap
   population brought within reach, exact HiGHS MIP; :mod:`.contact_points`), or the older
   :func:`assign_villages_to_groups` (min/max villages per group, largest own population first,
   optional compactness by CP-SAT).
3. :func:`assign_townships_to_committees`: townships -> committees (most under-served first, or all).
4. :func:`assign_groups_to_stations`: whole groups -> stations within capacity (整建制入站).

Modules: :mod:`.flow` (min-cost flow core: scaling, pricing, results), :mod:`.transport` (the
generic solver :func:`assign_min_cost_flow`), :mod:`.constituents` (tier 1 on coordinates),
:mod:`.tiers` (tiers 2-4).
"""

from __future__ import annotations

from .constituents import assign_constituents_geo
from .contact_points import choose_contact_points, cover_pairs_matrix, cover_pairs_xy
from .distances import members_needed, nearest_same_sector
from .flow import (
    FEASIBLE,
    INFEASIBLE,
    OPTIMAL,
    AssignmentResult,
    Cancelled,
    SolverError,
    StopCheck,
)
from .tiers import assign_groups_to_stations, assign_townships_to_committees, assign_villages_to_groups
from .transport import DENSE_ARC_LIMIT, assign_min_cost_flow

__all__ = [
    "DENSE_ARC_LIMIT", "FEASIBLE", "INFEASIBLE", "OPTIMAL", "AssignmentResult", "Cancelled", "SolverError",
    "StopCheck", "assign_constituents_geo", "assign_groups_to_stations", "assign_min_cost_flow",
    "assign_townships_to_committees", "assign_villages_to_groups", "choose_contact_points",
    "cover_pairs_matrix", "cover_pairs_xy", "members_needed", "nearest_same_sector",
]
