"""Exact re-optimisation of pairs of adjacent zones: small MILPs that move the centres.

The whole-area MILP is exact only for the centres it is given; local search moves centres one
unit at a time. For a pair of adjacent zones ``(a, b)`` this takes their units as a two-zone
problem of its own (same bounds, rows, locks and kept-whole groups, restricted to the pair) and
solves its fixed-centre MILP from new centres: the two-medoid seedings of the pair (every
centre pair when the pair has at most 12 units), then re-centring until the pair stops improving. A pair's new plan replaces the old one only when
it lowers the pair's travel; the other zones are untouched, so the whole plan stays feasible.
Pairs are visited in a fixed order and each pass is a fixed amount of work (seedings and
rounds per pair), so the plan does not depend on machine speed unless the budget runs out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from optimiser.assignment import solve_assignment
from optimiser.budget import Budget
from optimiser.problem import DistrictingProblem, ZoneRow

log = logging.getLogger(__name__)

#: pairs with at most this many centre pairs are searched exhaustively (a fixed amount of work)
EXHAUSTIVE_PAIRS = 66


def pair_problem(problem: DistrictingProblem, labels: NDArray[np.int64], a: int, b: int) -> tuple[
        DistrictingProblem, NDArray[np.int64]]:
    """Zones ``a`` and ``b`` as a two-zone problem (zone 0 = a, 1 = b) and its units' indices."""
    units = np.flatnonzero((labels == a) | (labels == b))
    local = np.full(problem.n_units, -1)
    local[units] = np.arange(units.size)
    e = problem.edges
    keep = (local[e[:, 0]] >= 0) & (local[e[:, 1]] >= 0)
    lower, upper = problem.zone_bounds()
    rows = tuple(
        ZoneRow(r.name, r.amount[units], r.lower[[a, b]], r.upper[[a, b]], r.description) for r in problem.rows
    )
    pinned = None
    if problem.pinned is not None:
        pins = np.asarray(problem.pinned)[units]
        pinned = np.where(pins == a, 0, np.where(pins == b, 1, -1)).astype(np.int64)
    together = tuple(local[np.asarray(g)] for g in problem.together if np.all(local[np.asarray(g)] >= 0))
    sub = DistrictingProblem(
        demand=problem.demand[units], cost=problem.cost[np.ix_(units, units)], edges=local[e[keep]],
        n_zones=2, tolerance=problem.tolerance, edge_length=problem.lengths()[keep],
        unit_ids=tuple(problem.label(int(u)) for u in units), zone_lower=lower[[a, b]], zone_upper=upper[[a, b]],
        rows=rows, pinned=pinned, together=together,
    )
    return sub, units


def improve_pair(
    sub: DistrictingProblem, labels: NDArray[np.int64], centres: tuple[int, int], *, solver: str,
    time_limit_s: float, seed: int, seedings: int = 4, max_rounds: int = 3,
) -> tuple[NDArray[np.int64], tuple[int, ...], float] | None:
    """A better plan for the pair (labels, centres, travel), or None."""
    from optimiser.districting import best_centres, plan_travel, weighted_kmedoids

    best_obj = plan_travel(sub, labels, centres)
    best: tuple[NDArray[np.int64], tuple[int, ...], float] | None = None
    tried = {tuple(sorted(centres))}
    starts = [weighted_kmedoids(sub, seed=seed + s, restarts=2) for s in range(seedings)]
    if sub.n_units * (sub.n_units - 1) // 2 <= EXHAUSTIVE_PAIRS:  # a small pair: every centre pair
        starts += [(i, j) for i in range(sub.n_units) for j in range(i + 1, sub.n_units)]
    pins = None if sub.pinned is None else np.asarray(sub.pinned)
    for cand in starts:
        for _ in range(max_rounds):
            key = tuple(sorted(cand))
            if key in tried or (pins is not None and any(pins[c] not in (-1, z) for z, c in enumerate(cand))):
                break
            tried.add(key)
            out = solve_assignment(sub, cand, solver=solver, time_limit_s=time_limit_s, seed=seed, mip_rel_gap=1e-4)
            if out.labels is None:
                break
            obj = plan_travel(sub, out.labels, out.centres)
            if obj < best_obj - 1e-9 * abs(best_obj):
                best_obj, best = obj, (out.labels, out.centres, obj)
            nxt = best_centres(sub, out.labels, previous=out.centres)
            if nxt == tuple(out.centres):
                break
            cand = nxt
    return best


def reoptimise_pairs(
    problem: DistrictingProblem, labels: NDArray[np.int64], centres: tuple[int, ...], *, solver: str,
    budget: Budget, seed: int = 0, passes: int = 4, per_solve_s: float = 5.0,
    accept: Callable[[NDArray[np.int64], tuple[int, ...]], bool] | None = None,
) -> tuple[NDArray[np.int64], tuple[int, ...]]:
    """Visit every adjacent pair of zones (module docstring); returns the improved plan.

    ``accept`` (optional) vets each changed whole plan, for constraints a pair cannot see on its
    own (e.g. branch capacity shared across zones); a rejected change is undone."""
    labels = np.asarray(labels, dtype=np.int64).copy()
    centres_l = list(centres)
    improved = 0
    for _ in range(passes):
        e = problem.edges
        za, zb = labels[e[:, 0]], labels[e[:, 1]]
        pairs = sorted({(int(min(p, q)), int(max(p, q))) for p, q in zip(za, zb, strict=True) if p != q})
        changed = 0
        for a, b in pairs:
            if budget.remaining() < 1.0:
                budget.bind("pair re-optimisation")
                log.info("pair re-optimisation stopped by the time limit (%d pairs improved)", improved)
                return labels, tuple(centres_l)
            sub, units = pair_problem(problem, labels, a, b)
            local = {int(u): k for k, u in enumerate(units.tolist())}
            sub_labels = np.where(labels[units] == a, 0, 1).astype(np.int64)
            try:
                found = improve_pair(sub, sub_labels, (local[centres_l[a]], local[centres_l[b]]), solver=solver,
                                     time_limit_s=min(per_solve_s, budget.cap(None)), seed=seed)
            except ValueError as exc:  # e.g. a pair too small to seed
                log.debug("pair %d-%d skipped: %s", a, b, exc)
                continue
            if found is None:
                continue
            new_labels, new_centres, _ = found
            trial, trial_centres = labels.copy(), list(centres_l)
            trial[units] = np.where(new_labels == 0, a, b)
            trial_centres[a], trial_centres[b] = int(units[new_centres[0]]), int(units[new_centres[1]])
            if accept is not None and not accept(trial, tuple(trial_centres)):
                continue
            labels, centres_l = trial, trial_centres
            changed += 1
        improved += changed
        if not changed:
            break
    log.info("pair re-optimisation: %d pair(s) improved", improved)
    return labels, tuple(centres_l)
