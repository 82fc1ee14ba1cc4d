"""A fast balanced contiguous start: region growing from seed centres, repair, local search.

Method
------
1. **Grow.** From one seed unit per zone, zones grow over the adjacency graph one unit at a
   time: the zone furthest below its target load (``clip(total / K, lower_z, upper_z)``) takes
   its cheapest unclaimed neighbour (travel to its seed). Units may only join zones they are
   allowed in (locks, travel limit); a kept-whole group joins as one. Units no zone reached
   (enclosed by full zones) join a neighbouring zone. Every zone is connected by construction.
2. **Repair.** :func:`optimiser.repair.repair_bounds` moves boundary units until every
   zone is within its resource bounds (demand and the per-zone rows), keeping zones connected.
3. **Improve.** :func:`optimiser.local_search.local_search` (moves, swaps, re-centring).

Several seedings (demand-weighted k-medoids with different random streams) are tried and the
cheapest plan that meets every constraint of the problem is kept. No solver is involved: the
start costs well under a second at county scale, and the exact rounds then begin next to a
good plan instead of from centres chosen without balance or contiguity.
"""

from __future__ import annotations

import heapq
import logging
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from optimiser.families import plan_checks
from optimiser.local_search import local_search
from optimiser.problem import DistrictingProblem
from optimiser.repair import repair_bounds
from optimiser.resources import ResourceBounds

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Start:
    """A plan built without a solver and whether it meets every constraint of the problem."""

    labels: NDArray[np.int64]
    centres: tuple[int, ...]
    objective: float
    feasible: bool
    seed: int
    seconds: float


def resource_bounds(problem: DistrictingProblem) -> ResourceBounds:
    """Demand and every per-zone row of ``problem`` as local-search resource bounds."""
    lower, upper = problem.zone_bounds()
    return ResourceBounds(
        np.vstack([problem.demand] + [r.amount for r in problem.rows]),
        np.vstack([lower] + [r.lower for r in problem.rows]),
        np.vstack([upper] + [r.upper for r in problem.rows]),
    )


def movable_units(problem: DistrictingProblem) -> NDArray[np.bool_]:
    """Units the heuristics may move: not locked to a zone, not in a kept-whole group."""
    movable = np.ones(problem.n_units, dtype=bool)
    if problem.pinned is not None:
        movable &= np.asarray(problem.pinned) < 0
    for group in problem.together:
        movable[np.asarray(group)] = False
    return movable


def meets_constraints(problem: DistrictingProblem, labels: NDArray[np.int64], centres: tuple[int, ...]) -> bool:
    """Whether a plan keeps every constraint of ``problem``: every family's named checks
    (:func:`optimiser.families.plan_checks`) and each centre inside its own zone."""
    k = problem.n_zones
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (problem.n_units,) or labels.min() < 0 or labels.max() >= k or np.unique(labels).size != k:
        return False
    if len(centres) != k or any(int(labels[c]) != z for z, c in enumerate(centres)):
        return False
    if not problem.allowed(centres)[np.arange(problem.n_units), labels].all():
        return False  # locks and the travel limit
    return all(c.passed for c in plan_checks(problem, labels, centres))


def grow_regions(problem: DistrictingProblem, centres: tuple[int, ...]) -> NDArray[np.int64]:
    """Step 1 of the module docstring: a contiguous labelling grown from ``centres``."""
    n, k = problem.n_units, problem.n_zones
    allowed = problem.allowed(centres)
    neighbours = problem.neighbours()
    group_of = np.full(n, -1)
    for gi, group in enumerate(problem.together):
        group_of[np.asarray(group)] = gi
    lower, upper = problem.zone_bounds()
    target = np.clip(problem.total_demand / k, lower, upper)
    target = np.where(target > 0, target, 1.0)
    labels = np.full(n, -1, dtype=np.int64)
    load = np.zeros(k)
    frontier: list[list[tuple[float, int]]] = [[] for _ in range(k)]
    cost = problem.cost

    def claim(i: int, z: int) -> None:
        members = [i] if group_of[i] < 0 else [int(u) for u in problem.together[group_of[i]]]
        for u in members:
            if labels[u] >= 0:
                continue
            labels[u] = z
            load[z] += problem.demand[u]
            for v in neighbours[u]:
                if labels[v] < 0 and allowed[v, z]:
                    heapq.heappush(frontier[z], (float(cost[v, centres[z]]), v))

    for z, c in enumerate(centres):
        claim(int(c), z)
    zones = [(load[z] / target[z], z) for z in range(k)]
    heapq.heapify(zones)
    while zones:
        _, z = heapq.heappop(zones)
        while frontier[z]:
            _, i = heapq.heappop(frontier[z])
            if labels[i] < 0 and (group_of[i] < 0 or allowed[np.asarray(problem.together[group_of[i]]), z].all()):
                claim(i, z)
                heapq.heappush(zones, (load[z] / target[z], z))
                break
    _fill_enclosed(labels, neighbours, cost, centres)
    return labels


def _fill_enclosed(labels: NDArray[np.int64], neighbours: list[list[int]], cost: NDArray[np.float64],
                   centres: tuple[int, ...]) -> None:
    """Units no zone could take (enclosed, or allowed nowhere reachable) join a neighbouring zone."""
    todo = np.flatnonzero(labels < 0).tolist()
    while todo:
        rest = []
        for i in todo:
            near = [int(labels[v]) for v in neighbours[i] if labels[v] >= 0]
            if near:
                labels[i] = min(near, key=lambda z: (cost[i, centres[z]], z))
            else:
                rest.append(i)
        if len(rest) == len(todo):
            labels[rest] = 0  # a piece with no seed: only possible on a disconnected graph
            break
        todo = rest


def construct_start(
    problem: DistrictingProblem,
    centres: tuple[int, ...],
    *,
    seed: int = 0,
    polish: bool = True,
    time_limit_s: float = 10.0,
) -> Start:
    """Grow, repair and (when ``polish``) improve a plan from ``centres`` (module docstring)."""
    start = time.perf_counter()
    labels = grow_regions(problem, centres)
    bounds = resource_bounds(problem)
    movable = movable_units(problem)
    allowed = problem.allowed(centres)
    out_centres = tuple(int(c) for c in centres)
    try:
        labels = repair_bounds(labels, weights=problem.demand, cost=problem.cost, edges=problem.edges,
                               bounds=bounds, centres=out_centres, movable=movable, allowed=allowed)
    except ValueError as exc:
        log.debug("constructive start (seed %d): repair failed: %s", seed, exc)
    feasible = meets_constraints(problem, labels, out_centres)
    if polish and feasible:
        try:
            res = local_search(labels, weights=problem.demand, cost=problem.cost, edges=problem.edges,
                               bounds=bounds, centres=out_centres, movable=movable,
                               allowed=allowed if problem.reach is None else None,
                               time_limit_s=time_limit_s)
            if meets_constraints(problem, res.labels, res.centres):
                labels, out_centres = res.labels, res.centres
        except ValueError as exc:
            log.debug("constructive start (seed %d): local search skipped: %s", seed, exc)
    from optimiser.districting import plan_objective  # districting's loop imports this module

    objective = plan_objective(problem, labels, out_centres)
    return Start(labels=labels, centres=out_centres, objective=objective, feasible=feasible, seed=seed,
                 seconds=time.perf_counter() - start)


def ranked_starts(
    problem: DistrictingProblem,
    centre_sets: list[tuple[int, ...]],
    *,
    polish: bool,
    time_limit_s: float,
) -> tuple[list[Start], int]:
    """Constructive starts from ``centre_sets``, feasible ones first, cheapest first, one per
    distinct objective, and how many were built: all of them unless ``time_limit_s`` (a safety
    net) ran out first (at least one is always built)."""
    t0 = time.perf_counter()
    out: list[Start] = []
    for s, centres in enumerate(centre_sets):
        if out and time.perf_counter() - t0 > time_limit_s:
            break
        out.append(construct_start(problem, centres, seed=s, polish=polish, time_limit_s=time_limit_s))
    out.sort(key=lambda st: (not st.feasible, st.objective, st.seed))
    distinct = [st for i, st in enumerate(out) if i == 0 or abs(st.objective - out[i - 1].objective) > 1e-9 * st.objective]
    if distinct:
        log.info("constructive start: best of %d seeding(s) %s, objective %.6g, in %.2f s", len(out),
                 "feasible" if distinct[0].feasible else "not feasible", distinct[0].objective, time.perf_counter() - t0)
    return distinct, len(out)
