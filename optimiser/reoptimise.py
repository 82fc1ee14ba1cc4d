"""Exact re-optimisation of groups of adjacent zones (pairs, triples): small MILPs that move centres.

The whole-area MILP is exact only for the centres it is given; local search moves centres one
unit at a time. For a group of adjacent zones (a pair ``(a, b)``, or a triple) this takes their
units as a problem of its own (same bounds, rows, locks and kept-whole groups, restricted to
the group) and solves its fixed-centre MILP from new centres: demand-weighted k-medoid
seedings of the group (every centre pair when a pair has at most 12 units), then re-centring
until the group stops improving. A group's new plan replaces the old one only when it lowers
the group's travel; the other zones are untouched.

**Shared branch capacity** (the ``capacity_flow`` family): the group problem carries the
capacity the other zones leave free. The other zones' needs are allocated first by a linear
programme that draws on branches out of the group's reach where it can
(:func:`residual_capacity`); what remains of each branch is the group's. A group plan that is
covered from that remainder keeps the whole plan covered, so improvements are not thrown away
by the whole-plan check (which still vets every change, ``accept``).

**Cache.** A group problem is fixed by its zones' unit sets, their centres and the remaining
capacity; its result is memoised under that key (:class:`GroupCache`), so a pass re-solves only
groups that changed since they were last solved. The cache changes no result, only the time.

Groups are visited in a fixed order and each pass is a fixed amount of work (seedings and
rounds per group), so the plan does not depend on machine speed unless the budget runs out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linprog

from optimiser.assignment import solve_assignment
from optimiser.budget import Budget
from optimiser.problem import BranchCapacity, DistrictingProblem, ZoneRow

log = logging.getLogger(__name__)

#: pairs with at most this many centre pairs are searched exhaustively (a fixed amount of work)
EXHAUSTIVE_PAIRS = 66

Plan = tuple[NDArray[np.int64], tuple[int, ...]]
Found = tuple[NDArray[np.int64], tuple[int, ...], float] | None


@dataclass
class GroupCache:
    """Results of group problems by key (module docstring); ``hits``/``solved`` count lookups."""

    results: dict[bytes, Found] = field(default_factory=dict)
    hits: int = 0
    solved: int = 0


def residual_capacity(problem: DistrictingProblem, labels: NDArray[np.int64], centres: Sequence[int],
                      zones: Sequence[int]) -> NDArray[np.float64] | None:
    """(B,) branch capacity left for ``zones`` once every other zone is covered at its margin,
    drawing first on branches that reach none of the group's units (None: no branches, or the
    other zones cannot be covered)."""
    br = problem.branches
    if br is None:
        return None
    k = problem.n_zones
    others = [z for z in range(k) if z not in set(zones)]
    need = br.margin * np.bincount(labels, weights=problem.demand, minlength=k)[others]
    reach = br.in_reach()[:, [centres[z] for z in others]] & (br.capacity[:, None] > 0)
    pairs = np.argwhere(reach)
    if not others or pairs.size == 0:
        return br.capacity.astype(np.float64).copy() if not np.any(need > 0) else None
    group_units = np.flatnonzero(np.isin(labels, list(zones)))
    near_group = np.asarray(br.in_reach()[:, group_units].any(axis=1), dtype=np.float64)
    n_var, n_b = len(pairs), br.capacity.size
    a_ub = np.zeros((n_b + len(others), n_var))
    a_ub[pairs[:, 0], np.arange(n_var)] = 1.0
    a_ub[n_b + pairs[:, 1], np.arange(n_var)] = -1.0
    cost = near_group[pairs[:, 0]] + 1e-3
    res = linprog(cost, A_ub=a_ub, b_ub=np.r_[br.capacity, -need], bounds=(0, None), method="highs")
    if res.status != 0:
        return None
    used = np.bincount(pairs[:, 0], weights=np.maximum(res.x, 0.0), minlength=n_b)
    return np.asarray(np.maximum(br.capacity - used, 0.0), dtype=np.float64)


def group_problem(problem: DistrictingProblem, labels: NDArray[np.int64], zones: Sequence[int], *,
                  capacity: NDArray[np.float64] | None = None) -> tuple[DistrictingProblem, NDArray[np.int64]]:
    """``zones`` as a problem of their own (local zone ``k`` = ``zones[k]``) and its units'
    indices; ``capacity`` (B,) is the branch capacity the group may use (default: none, the
    group problem then ignores branch capacity and the caller vets the whole plan)."""
    zl = list(zones)
    units = np.flatnonzero(np.isin(labels, zl))
    local = np.full(problem.n_units, -1)
    local[units] = np.arange(units.size)
    e = problem.edges
    keep = (local[e[:, 0]] >= 0) & (local[e[:, 1]] >= 0)
    lower, upper = problem.zone_bounds()
    rows = tuple(ZoneRow(r.name, r.amount[units], r.lower[zl], r.upper[zl], r.description) for r in problem.rows)
    pinned = None
    if problem.pinned is not None:
        pins = np.asarray(problem.pinned)[units]
        pinned = np.full(units.size, -1, dtype=np.int64)
        for k, z in enumerate(zl):
            pinned[pins == z] = k
    together = tuple(local[np.asarray(g)] for g in problem.together if np.all(local[np.asarray(g)] >= 0))
    branches: BranchCapacity | None = None
    if capacity is not None and problem.branches is not None:
        br = problem.branches
        branches = replace(br, capacity=capacity, minutes=br.minutes[:, units],
                           groups=tuple(br.groups[int(u)] for u in units) if br.groups else ())
    sub = DistrictingProblem(
        demand=problem.demand[units], cost=problem.cost[np.ix_(units, units)], edges=local[e[keep]],
        n_zones=len(zl), tolerance=problem.tolerance, edge_length=problem.lengths()[keep],
        unit_ids=tuple(problem.label(int(u)) for u in units), zone_lower=lower[zl], zone_upper=upper[zl],
        rows=rows, pinned=pinned, together=together, branches=branches,
    )
    return sub, units


def pair_problem(problem: DistrictingProblem, labels: NDArray[np.int64], a: int, b: int) -> tuple[
        DistrictingProblem, NDArray[np.int64]]:
    """Zones ``a`` and ``b`` as a two-zone problem (zone 0 = a, 1 = b) and its units' indices."""
    return group_problem(problem, labels, (a, b))


def improve_group(
    sub: DistrictingProblem, labels: NDArray[np.int64], centres: tuple[int, ...], *, solver: str,
    time_limit_s: float, seed: int, seedings: int = 4, max_rounds: int = 3,
) -> Found:
    """A better plan for the group problem ``sub`` (labels, centres, travel), or None."""
    from optimiser.districting import best_centres, plan_travel, weighted_kmedoids
    from optimiser.families import move_centres

    best_obj = plan_travel(sub, labels, centres)
    best: Found = None
    tried = {tuple(sorted(centres))}
    starts = [weighted_kmedoids(sub, seed=seed + s, restarts=2) for s in range(seedings)]
    if sub.n_zones == 2 and sub.n_units * (sub.n_units - 1) // 2 <= EXHAUSTIVE_PAIRS:  # every centre pair
        starts += [(i, j) for i in range(sub.n_units) for j in range(i + 1, sub.n_units)]
    pins = None if sub.pinned is None else np.asarray(sub.pinned)
    for cand in starts:
        for _ in range(max_rounds):
            if sub.branches is not None:
                cand = move_centres(sub, cand)
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


def improve_pair(
    sub: DistrictingProblem, labels: NDArray[np.int64], centres: tuple[int, int], *, solver: str,
    time_limit_s: float, seed: int, seedings: int = 4, max_rounds: int = 3,
) -> Found:
    """:func:`improve_group` for a pair."""
    return improve_group(sub, labels, centres, solver=solver, time_limit_s=time_limit_s, seed=seed,
                         seedings=seedings, max_rounds=max_rounds)


def adjacent_pairs(problem: DistrictingProblem, labels: NDArray[np.int64]) -> list[tuple[int, int]]:
    """Pairs of zones sharing a border, sorted."""
    e = problem.edges
    za, zb = labels[e[:, 0]], labels[e[:, 1]]
    return sorted({(int(min(p, q)), int(max(p, q))) for p, q in zip(za, zb, strict=True) if p != q})


def adjacent_triples(problem: DistrictingProblem, labels: NDArray[np.int64]) -> list[tuple[int, int, int]]:
    """Triples of zones whose union is connected (a zone bordering both others, or a chain), sorted."""
    pairs = adjacent_pairs(problem, labels)
    nbrs: dict[int, set[int]] = {}
    for a, b in pairs:
        nbrs.setdefault(a, set()).add(b)
        nbrs.setdefault(b, set()).add(a)
    out = set()
    for mid, around in nbrs.items():
        ring = sorted(around)
        for i, p in enumerate(ring):
            for q in ring[i + 1:]:
                out.add(tuple(sorted((mid, p, q))))
    return sorted(out)  # type: ignore[arg-type]


def reoptimise_groups(
    problem: DistrictingProblem, labels: NDArray[np.int64], centres: tuple[int, ...], *, solver: str,
    budget: Budget, groups: Callable[[DistrictingProblem, NDArray[np.int64]], Sequence[Sequence[int]]] = adjacent_pairs,
    seed: int = 0, passes: int = 4, per_solve_s: float = 5.0, share_capacity: bool = False, seedings: int = 4,
    cache: GroupCache | None = None, accept: Callable[[NDArray[np.int64], tuple[int, ...]], bool] | None = None,
) -> Plan:
    """Visit every group of zones (module docstring) for up to ``passes`` passes; returns the
    improved plan. ``share_capacity``: give each group the branch capacity the other zones
    leave (else the group ignores branch capacity); ``seedings``: k-medoid seedings per group;
    ``cache``: memoised group results (a fresh
    one per call by default); ``accept`` vets each changed whole plan (a rejected change is undone)."""
    labels = np.asarray(labels, dtype=np.int64).copy()
    centres_l = list(centres)
    cache = GroupCache() if cache is None else cache
    improved = 0
    for _ in range(passes):
        changed = 0
        for zones in groups(problem, labels):
            if budget.remaining() < 1.0:
                budget.bind("pair re-optimisation")
                log.info("group re-optimisation stopped by the time limit (%d groups improved)", improved)
                return labels, tuple(centres_l)
            zl = [int(z) for z in zones]
            if not np.all(np.isin(zl, labels)):
                continue
            capacity = residual_capacity(problem, labels, centres_l, zl) if share_capacity else None
            sub, units = group_problem(problem, labels, zl, capacity=capacity)
            sub_labels = np.searchsorted(zl, labels[units]) if zl == sorted(zl) else np.array(
                [zl.index(int(z)) for z in labels[units]], dtype=np.int64)
            local = {int(u): k for k, u in enumerate(units.tolist())}
            sub_centres = tuple(local[centres_l[z]] for z in zl)
            key = b"|".join([bytes([seedings]), units.tobytes(), sub_labels.astype(np.int64).tobytes(), np.asarray(sub_centres).tobytes(),
                             b"" if capacity is None else np.round(capacity, 6).tobytes()])
            if key in cache.results:
                cache.hits += 1
                found = cache.results[key]
            else:
                try:
                    found = improve_group(sub, sub_labels.astype(np.int64), sub_centres, solver=solver,
                                          time_limit_s=min(per_solve_s, budget.cap(None)), seed=seed,
                                          seedings=seedings)
                except ValueError as exc:  # e.g. a group too small to seed
                    log.debug("zones %s skipped: %s", zl, exc)
                    found = None
                cache.results[key] = found
                cache.solved += 1
            if found is None:
                continue
            new_labels, new_centres, _ = found
            trial, trial_centres = labels.copy(), list(centres_l)
            trial[units] = np.asarray(zl)[new_labels]
            for k, z in enumerate(zl):
                trial_centres[z] = int(units[new_centres[k]])
            if accept is not None and not accept(trial, tuple(trial_centres)):
                continue
            labels, centres_l = trial, trial_centres
            changed += 1
        improved += changed
        if not changed:
            break
    log.info("group re-optimisation: %d group(s) improved (%d solved, %d from the cache)", improved, cache.solved,
             cache.hits)
    return labels, tuple(centres_l)


def reoptimise_pairs(
    problem: DistrictingProblem, labels: NDArray[np.int64], centres: tuple[int, ...], *, solver: str,
    budget: Budget, seed: int = 0, passes: int = 4, per_solve_s: float = 5.0, share_capacity: bool = False,
    cache: GroupCache | None = None, accept: Callable[[NDArray[np.int64], tuple[int, ...]], bool] | None = None,
) -> Plan:
    """:func:`reoptimise_groups` over every adjacent pair of zones."""
    return reoptimise_groups(problem, labels, centres, solver=solver, budget=budget, groups=adjacent_pairs, seed=seed,
                             passes=passes, per_solve_s=per_solve_s, share_capacity=share_capacity, cache=cache,
                             accept=accept)
