"""Step 4b of :mod:`optimiser.search`: iterated local search by ReCom-style kicks.

The pairs (step 3) and the polish stop in a local optimum: no adjacent pair of zones can be
re-split better on its own, and no unit move or swap helps. A **kick** leaves that optimum on
purpose: a connected triple of zones (a pair when there are fewer than 4 zones) is merged and
re-split into as many balanced contiguous zones from random centres (demand-weighted draws
among the triple's units, then one re-centring), with the fixed-centre MILP on the triple alone
and the branch capacity the other zones leave (:func:`optimiser.reoptimise.residual_capacity`).
The triples are taken in a random order, each once, until one leads to a better plan (then the
order is drawn again). The kicked plan is usually worse; the pairs then re-optimise it (pairs
whose problem has not changed come from the shared cache) and the polish runs. The result
replaces the best plan only when it is better (the ``Search.offer`` rule); otherwise the next
kick starts from the best again.

Each kick is a fixed amount of work (one triple, two solves, at most two passes of the pairs
near the change, :data:`KICK_PAIR_SEEDINGS` seedings each), the triples and centres are drawn
from a generator seeded by the run's seed, and the number of kicks is a work limit
(:func:`kicks_for`), so the plan depends on the scenario and the seed, not on the machine,
unless the clock ends the kicks first, which the budget records ("kicks").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from optimiser.assignment import solve_assignment
from optimiser.budget import Strategy
from optimiser.construct import meets_constraints
from optimiser.districting import best_centres
from optimiser.families import move_centres, polish_compatible
from optimiser.problem import DistrictingProblem
from optimiser.reoptimise import (
    adjacent_pairs,
    adjacent_triples,
    group_problem,
    reoptimise_groups,
    residual_capacity,
)
from optimiser.solve import SolveStatus

if TYPE_CHECKING:
    from optimiser.search import Search

log = logging.getLogger(__name__)

#: seconds the kicks leave on the clock for what follows them (a final exact round, the outputs)
RESERVE_S = 3.0

#: safety cap (s) of one solve of a kicked group (a triple of county zones solves in about a second)
KICK_SOLVE_S = 5.0


#: kicks run on problems of at least this many units (county scale): below it, the screening and
#: the several starts improved in full already fill the budget (the default needs 30-60 s for them)
KICK_MIN_UNITS = 600


def kicks_for(problem: DistrictingProblem, strategy: Strategy) -> int:
    """Kicks to try: ``strategy.kicks`` (0 = none) at county scale (:data:`KICK_MIN_UNITS`), on
    problems the pairs can work on."""
    if (strategy.kicks <= 0 or problem.n_units < KICK_MIN_UNITS or problem.n_zones < 3
            or not (strategy.reoptimise and polish_compatible(problem))):
        return 0
    return strategy.kicks


def kick_groups(problem: DistrictingProblem, labels: NDArray[np.int64]) -> list[tuple[int, ...]]:
    """The groups a kick may re-split: connected triples of zones (pairs below 4 zones)."""
    return list(adjacent_triples(problem, labels) if problem.n_zones >= 4 else adjacent_pairs(problem, labels))


def kick(problem: DistrictingProblem, labels: NDArray[np.int64], centres: tuple[int, ...], zones: tuple[int, ...],
         *, solver: str, rng: np.random.Generator,
         seed: int) -> tuple[NDArray[np.int64], tuple[int, ...], tuple[int, ...]] | None:
    """One perturbation of ``zones`` (module docstring): the kicked plan, its centres and the
    zones re-split; None when the group cannot be re-split from the drawn centres (no plan, or
    one that fails the whole plan's constraints)."""
    zones = tuple(int(z) for z in zones)
    capacity = residual_capacity(problem, labels, centres, list(zones))
    if problem.branches is not None and capacity is None:
        return None
    sub, units = group_problem(problem, labels, list(zones), capacity=capacity)
    weights = sub.demand / sub.demand.sum() if sub.demand.sum() > 0 else None
    drawn = tuple(int(c) for c in rng.choice(sub.n_units, size=sub.n_zones, replace=False, p=weights))
    cand = move_centres(sub, drawn)
    out = None
    for _ in range(2):  # the drawn centres, then their zones' own medoids
        if len(set(cand)) < sub.n_zones:
            return None
        try:
            res = solve_assignment(sub, cand, solver=solver, time_limit_s=KICK_SOLVE_S, seed=seed, mip_rel_gap=1e-3)
        except ValueError:
            return None
        if res.labels is None or res.report.status != SolveStatus.OPTIMAL:
            break
        out = res
        cand = move_centres(sub, best_centres(sub, res.labels, previous=res.centres))
    if out is None or out.labels is None:
        return None
    trial, trial_centres = labels.copy(), list(centres)
    trial[units] = np.asarray(zones)[out.labels]
    for k, z in enumerate(zones):
        trial_centres[z] = int(units[out.centres[k]])
    if not meets_constraints(problem, trial, tuple(trial_centres)):
        return None
    return trial, tuple(trial_centres), zones


def pairs_near_changes(base: NDArray[np.int64]) -> Callable[[DistrictingProblem, NDArray[np.int64]],
                                                             list[tuple[int, int]]]:
    """Adjacent pairs with a zone whose units differ from ``base`` (the best plan, before the
    kick): the pairs elsewhere were re-optimised already and their zones have not changed (the
    set grows as the changes spread, pass by pass)."""

    def groups(problem: DistrictingProblem, labels: NDArray[np.int64]) -> list[tuple[int, int]]:
        moved = np.flatnonzero(labels != base)
        dirty = set(labels[moved].tolist()) | set(base[moved].tolist())
        return [(a, b) for a, b in adjacent_pairs(problem, labels) if a in dirty or b in dirty]

    return groups


#: k-medoid seedings per pair and passes of the pairs after a kick (the main pairs use 4 and 4):
#: on Kent at 12 zones the same plan as 4 and 4 from the same start, in 41 s instead of 50 s
KICK_PAIR_SEEDINGS = 2
KICK_PAIR_PASSES = 2


def kick_search(s: Search, *, reserve_s: float = RESERVE_S, final_round: bool = True) -> None:
    """Step 4b: :func:`kicks_for` kicks from the best plan, each followed by the pairs and the
    polish; a kick's plan is kept only when it beats the best. The kicks stop with ``reserve_s``
    left on the clock; ``final_round``: an exact round after a kept kick (off when the joint
    centre moves follow, which re-centre better)."""
    n = kicks_for(s.problem, s.strategy)
    if n == 0 or s.best is None:
        return
    rng = np.random.default_rng([s.seed, 4104])
    accept = lambda lab, cen: meets_constraints(s.problem, lab, cen)  # noqa: E731
    s.say(f"kicking the best plan ({n} kicks: re-split a triple of zones, then the pairs)")
    kept, order = 0, list[tuple[int, ...]]()
    start = s.best.objective
    for i in range(n):
        if s.budget.remaining() < reserve_s:
            s.budget.bind("kicks")
            log.info("kicks stopped by the time limit after %d of %d", i, n)
            break
        assert s.best is not None
        if not order:  # every group of the best plan, in a random order, before any is kicked twice
            drawn = kick_groups(s.problem, s.best.labels)
            order = [drawn[int(j)] for j in rng.permutation(len(drawn))]
            if not order:
                break
        got = kick(s.problem, s.best.labels, s.best.centres, order.pop(), solver=s.solver, rng=rng, seed=s.seed)
        if got is None:
            continue
        labels, centres, _zones = got
        labels, centres = reoptimise_groups(s.problem, labels, centres, solver=s.solver, budget=s.budget, seed=s.seed,
                                            groups=pairs_near_changes(s.best.labels), share_capacity=s.strategy.share_capacity, cache=s.cache,
                                            seedings=KICK_PAIR_SEEDINGS, passes=KICK_PAIR_PASSES, accept=accept)
        if s.offer(labels, centres, s.best.report, s.best.source):
            kept, order = kept + 1, list[tuple[int, ...]]()
            log.info("kick %d kept: %.6g", i + 1, s.best.objective)
    log.info("kicks: %d kept, %.6g -> %.6g", kept, start, s.best.objective)
    if final_round and kept and s.budget.remaining() >= RESERVE_S:  # the whole-area round for the kicked plan's centres
        from optimiser.search import _rounds

        _rounds(s, "exact", s.mip_rel_gap, 1)
