"""The named invariants every plan must pass, after every solve and in the tests alike.

:func:`plan_checks` reads the problem's constraint families and returns one named
:class:`~optimiser.checks.Check` per family; :func:`objective_check` compares the optimiser's
objective with the postcode-level recomputation of the published figures.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from optimiser.checks import (
    Check,
    all_assigned,
    is_contiguous,
    kept_whole,
    pins_respected,
    within_travel_limit,
    zone_loads,
    zones_within_bounds,
)
from optimiser.problem import DistrictingProblem


def plan_checks(problem: DistrictingProblem, labels: np.ndarray, centres: tuple[int, ...], *,
                zone_names: Sequence[str] = ()) -> list[Check]:
    """Every named invariant of a plan for ``problem`` (the tests reuse this); ``zone_names``
    (one per zone index) label the details of failed checks."""
    k = problem.n_zones
    lower, upper = problem.zone_bounds()
    names = list(zone_names)
    checks = [
        all_assigned(labels, n_units=problem.n_units, n_zones=k),
        is_contiguous(labels, problem.edges, zone_names=names),
        zones_within_bounds(zone_loads(labels, problem.demand, k), lower=lower, upper=upper, zone_names=names),
    ]
    for row in problem.rows:
        checks.append(zones_within_bounds(
            row.totals(labels, k), lower=row.lower, upper=row.upper, name=f"{row.name}_within_bounds",
            what=row.description or row.name, zone_names=names,
        ))
    if problem.pinned is not None:
        checks.append(pins_respected(labels, problem.pinned))
    if problem.together:
        checks.append(kept_whole(labels, problem.together))
    if problem.reach is not None and problem.reach_limit is not None:
        checks.append(within_travel_limit(labels, centres, problem.reach, problem.reach_limit, problem.reach_exempt))
    if problem.centre_capacity is not None:
        checks.append(zones_within_bounds(
            zone_loads(labels, problem.demand, k), lower=np.full(k, -np.inf),
            upper=problem.centre_capacity[list(centres)], name="centre_capacity", what="load vs capacity in reach",
            zone_names=names,
        ))
    if problem.stay is not None and problem.max_moved is not None:
        moved = problem.moved(labels)
        ok = moved <= problem.max_moved * (1 + 1e-6) + 1e-6
        checks.append(Check("moved_within_cap", ok, f"{moved:,.1f} hours change zone (cap {problem.max_moved:,.1f})"))
    return checks


def objective_check(objective: float, recomputed: float) -> Check:
    """The optimiser's objective equals the recomputation from the published postcode figures."""
    return Check(
        "objective_matches_recomputation",
        abs(recomputed - objective) <= 1e-6 * max(1.0, abs(objective)),
        f"optimiser objective {objective:.3f} vs postcode-level recomputation {recomputed:.3f}",
    )
