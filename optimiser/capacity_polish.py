"""Polish within shared branch capacity: local search whose result keeps the capacity_flow family.

**Polish within branch capacity.** The local search (:mod:`optimiser.local_search`) keeps
balance, rows, locks and contiguity but not the shared branch capacity of the
``capacity_flow`` family, which is checked afterwards. When the polished plan leaves a zone
short of capacity, :func:`polish_within_capacity` polishes again from the same plan with that
zone's demand capped (at its polished load less its shortfall / margin, never below its load in
the starting plan), up to ``tries`` times: a fixed amount of work that ends with a plan meeting
every check, or with none.
"""

from __future__ import annotations

import logging

import numpy as np
from numpy.typing import NDArray

from optimiser.capacity_flow import uncovered
from optimiser.construct import meets_constraints, movable_units, resource_bounds
from optimiser.local_search import LocalSearchResult, ResourceBounds, local_search
from optimiser.problem import DistrictingProblem

log = logging.getLogger(__name__)


def shortfall(problem: DistrictingProblem, labels: NDArray[np.int64], centres: tuple[int, ...]) -> NDArray[np.float64]:
    """(K,) hours/week of each zone's margin x demand that no allocation of branch capacity in
    reach of its centre covers (zeros without branches)."""
    k = problem.n_zones
    if problem.branches is None:
        return np.zeros(k)
    return uncovered(problem.branches, centres,
                     np.bincount(labels, weights=problem.demand, minlength=k).astype(np.float64))


def polish_within_capacity(
    problem: DistrictingProblem, labels: NDArray[np.int64], centres: tuple[int, ...], *, time_limit_s: float,
    tries: int = 4,
) -> LocalSearchResult | None:
    """Local search from a feasible plan whose result meets every check (module docstring), or None."""
    bounds = resource_bounds(problem)
    movable = movable_units(problem)
    k = problem.n_zones
    start_load = np.bincount(labels, weights=problem.demand, minlength=k)
    upper = bounds.upper.copy()
    margin = problem.branches.margin if problem.branches is not None else 1.0
    for attempt in range(tries):
        try:
            res = local_search(labels, weights=problem.demand, cost=problem.cost, edges=problem.edges,
                               bounds=ResourceBounds(bounds.amounts, bounds.lower, upper), centres=centres,
                               movable=movable, time_limit_s=time_limit_s)
        except ValueError as exc:  # e.g. a plan at a bound's rounding edge
            log.debug("capacity-aware polish skipped: %s", exc)
            return None
        if meets_constraints(problem, res.labels, res.centres):
            if attempt:
                log.info("polish within branch capacity: %d tightening(s), %.6g -> %.6g", attempt,
                         res.initial_objective, res.objective)
            return res
        short = shortfall(problem, res.labels, res.centres)
        if not np.any(short > 1e-6):
            return None  # another check failed: nothing to tighten
        load = np.bincount(res.labels, weights=problem.demand, minlength=k)
        cap = np.maximum(load - short / margin, start_load)
        upper[0] = np.where(short > 1e-6, np.minimum(upper[0], cap), upper[0])
    return None
