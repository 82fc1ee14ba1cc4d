"""Zone design: choose centres, solve the balanced contiguous assignment exactly, re-centre.

Method
------
1. Seed ``K`` centres with a demand-weighted k-medoids heuristic (several seeded restarts,
   k-means++ style spread), ignoring balance and contiguity.
2. Solve the fixed-centre MILP of :mod:`optimiser.assignment` (balance + shortest-path
   contiguity) with the named solver.
3. Move each zone's centre to the member unit that minimises the zone's demand-weighted
   travel, and solve again with the previous plan offered as a MIP start. Stop when the centres
   repeat, the objective stops improving, or the time budget is spent.

The best plan is returned with the solver's verdict on *its* fixed-centre model: the gap
certifies the assignment for those centres, not the choice of centres (a global bound is a
separate computation). Every number is read from the solver, never assumed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from optimiser.budget import FAST, Budget, Strategy
from optimiser.diagnosis import diagnose
from optimiser.errors import InfeasibleProblemError, NoPlanFoundError  # noqa: F401 - re-exported
from optimiser.families import centre_mask
from optimiser.local_search import LocalSearchResult, ResourceBounds, local_search
from optimiser.problem import DistrictingProblem
from optimiser.solve import SolverReport, SolveStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoundLog:
    round: int
    centres: tuple[int, ...]
    status: str
    objective: float | None
    gap: float | None
    seconds: float


@dataclass(frozen=True)
class DistrictingResult:
    """The best plan found and how it was certified."""

    labels: NDArray[np.int64]  # (n,) zone index of each unit
    centres: tuple[int, ...]  # unit index of each zone's centre
    objective: float  # sum_i d_i * cost[i, centre(zone(i))]
    loads: NDArray[np.float64]  # (K,) demand per zone
    report: SolverReport  # the solver's verdict on the best plan's fixed-centre model
    rounds: tuple[RoundLog, ...]
    seconds: float
    method: str = "k-medoids seeding + exact fixed-centre balanced contiguous MILP + re-centring"
    bound_scope: str = "assignment to the reported centres"
    milp_objective: float | None = None  # the MILP plan's objective when local search then improved it
    local_search_moves: int = 0
    time_limited: tuple[str, ...] = ()  # stages the clock (not a work limit) cut short: the plan may depend on speed

    @property
    def status(self) -> SolveStatus:
        return self.report.status


def plan_travel(problem: DistrictingProblem, labels: NDArray[np.int64], centres: tuple[int, ...]) -> float:
    """Demand-weighted travel of a plan to its zone centres."""
    centre_of_unit = np.asarray(centres)[labels]
    return float(np.sum(problem.demand * problem.cost[np.arange(problem.n_units), centre_of_unit]))


def plan_objective(problem: DistrictingProblem, labels: NDArray[np.int64], centres: tuple[int, ...]) -> float:
    """The optimiser's objective recomputed directly: travel plus any continuity charge."""
    return plan_travel(problem, labels, centres) + problem.moved_penalty * problem.moved(labels)


def _eligible(problem: DistrictingProblem, members: NDArray[np.int64], zone: int | None) -> NDArray[np.int64]:
    """Members that may be zone ``zone``'s centre: candidates, not pinned to another zone."""
    ok = np.ones(members.size, dtype=bool)
    if problem.centre_candidates is not None:
        ok &= np.asarray(problem.centre_candidates, dtype=bool)[members]
    mask = centre_mask(problem)
    if mask is not None:
        ok &= mask[members]
    if problem.pinned is not None and zone is not None:
        pins = np.asarray(problem.pinned)[members]
        ok &= (pins == -1) | (pins == zone)
    return members[ok]


def _medoid(
    problem: DistrictingProblem, members: NDArray[np.int64], *, among: NDArray[np.int64] | None = None,
    cost: NDArray[np.float64] | None = None,
) -> int:
    """The unit (of ``among``, default the members) minimising the members' demand-weighted
    travel to it (or ``cost`` instead of travel)."""
    among = members if among is None else among
    cost = problem.cost if cost is None else cost
    totals = problem.demand[members] @ cost[np.ix_(members, among)]
    return int(among[int(np.argmin(totals))])


def best_centres(
    problem: DistrictingProblem, labels: NDArray[np.int64], previous: tuple[int, ...] | None = None
) -> tuple[int, ...]:
    """For each zone, the eligible member unit minimising the zone's demand-weighted travel
    (the previous centre is kept when no member is eligible)."""
    centres = []
    for z in range(problem.n_zones):
        members = np.flatnonzero(labels == z)
        if members.size == 0:
            raise ValueError(f"zone {z} has no units")
        eligible = _eligible(problem, members, z)
        if eligible.size == 0:
            if previous is None:
                raise ValueError(f"zone {z} has no unit that may be its centre")
            centres.append(int(previous[z]))
            continue
        centres.append(_medoid(problem, members, among=eligible))
    return tuple(centres)


def weighted_kmedoids(
    problem: DistrictingProblem,
    *,
    seed: int,
    restarts: int = 8,
    max_iter: int = 50,
    fixed: Mapping[int, int] | None = None,
) -> tuple[int, ...]:
    """Demand-weighted k-medoids (alternating assignment / medoid update), best of restarts.

    ``fixed`` maps zone index -> centre unit for zones whose centre is given (anchored zones);
    the other centres are chosen among ``problem.centre_candidates`` (all units by default).
    """
    rng = np.random.default_rng(seed)
    n, k = problem.n_units, problem.n_zones
    fixed = dict(fixed or {})
    free_zones = [z for z in range(k) if z not in fixed]
    cand = (
        np.ones(n, dtype=bool) if problem.centre_candidates is None
        else np.asarray(problem.centre_candidates, dtype=bool).copy()
    )
    if problem.pinned is not None:
        cand &= np.asarray(problem.pinned) == -1  # a free zone's centre must not be locked elsewhere
    mask = centre_mask(problem)
    if mask is not None:
        cand &= mask  # e.g. enough branch capacity in reach to cover a zone
    cand[list(fixed.values())] = False
    if cand.sum() < len(free_zones):
        raise InfeasibleProblemError(
            [f"only {int(cand.sum())} units may be centres of the {len(free_zones)} free zones: allow more centres"]
        )
    weights = problem.demand + 1e-9
    cost = problem.cost
    if problem.reach is not None and problem.reach_limit is not None:
        # seeding aware of the travel limit: a unit beyond the limit of a centre is charged heavily
        beyond = problem.reach > problem.reach_limit + 1e-9
        if problem.reach_exempt is not None:
            beyond[np.asarray(problem.reach_exempt, dtype=bool)] = False
        cost = cost + beyond * (10.0 * float(cost.max()) + 1.0)
    best: tuple[float, tuple[int, ...]] | None = None
    for _ in range(restarts):
        centres = [fixed.get(z, -1) for z in range(k)]
        for z in free_zones:
            chosen = [c for c in centres if c >= 0]
            p = weights * cand
            if chosen:  # k-means++ spread
                p = p * cost[:, chosen].min(axis=1) ** 2
            p[chosen] = 0
            centres[z] = int(rng.choice(n, p=p / p.sum())) if p.sum() > 0 else int(np.flatnonzero(cand)[0])
        for _ in range(max_iter):
            labels = cost[:, centres].argmin(axis=1)
            new = list(centres)
            for z in free_zones:
                members = np.flatnonzero(labels == z)
                among = members[cand[members]]
                if among.size:
                    new[z] = _medoid(problem, members, among=among, cost=cost)
            if new == centres or len(set(new)) < k:
                break
            centres = new
        total = float(np.sum(weights * cost[:, centres].min(axis=1)))
        if best is None or total < best[0]:
            best = (total, tuple(centres))
    assert best is not None
    return best[1]


def matched_seeding(problem: DistrictingProblem, *, seed: int, given: Mapping[int, int],
                    anchors: Mapping[int, int]) -> tuple[int, ...]:
    """k-medoids centres that do not start from the ``given`` centres (e.g. today's, which the
    capacity in reach may not be able to serve), only from the ``anchors``, with each zone of
    ``given`` taking the new centre nearest its given one (a minimum-cost matching), so that a zone
    keeps its identity (continuity: zone ``z`` continues today's zone ``z``)."""
    from scipy.optimize import linear_sum_assignment

    centres = list(weighted_kmedoids(problem, seed=seed, fixed=anchors))
    free = [z for z in range(problem.n_zones) if z not in anchors]
    rows = [z for z in free if z in given]
    if not rows:
        return tuple(centres)
    pool = [centres[z] for z in free]
    cost = np.asarray(problem.cost)[np.ix_([given[z] for z in rows], pool)]
    r, c = linear_sum_assignment(cost)
    taken = {int(j) for j in c}
    out = dict(zip((rows[i] for i in r), (pool[j] for j in c), strict=True))
    rest = iter(pool[j] for j in range(len(pool)) if j not in taken)
    for z in free:
        if z not in out:
            out[z] = next(rest)
    return tuple(out.get(z, centres[z]) for z in range(problem.n_zones))


def anchor_centres(problem: DistrictingProblem) -> dict[int, int]:
    """A starting centre for every zone that has locked units: the medoid of its locked units
    (among those that may be centres, else the eligible unit nearest to them)."""
    if problem.pinned is None:
        return {}
    pinned = np.asarray(problem.pinned)
    out: dict[int, int] = {}
    for z in sorted(set(pinned[pinned >= 0].tolist())):
        mine = np.flatnonzero(pinned == z)
        eligible = _eligible(problem, mine, z)
        if eligible.size == 0:
            everyone = _eligible(problem, np.arange(problem.n_units), z)
            eligible = everyone[~np.isin(everyone, list(out.values()))]
        out[z] = _medoid(problem, mine, among=eligible)
    return out


def design_zones(
    problem: DistrictingProblem,
    *,
    solver: str,
    time_limit_s: float,
    seed: int = 0,
    max_rounds: int = 6,
    threads: int = 1,
    mip_rel_gap: float = 1e-4,
    initial_centres: Mapping[int, int] | None = None,
    fix_centres: bool = False,
    progress: Callable[[str], None] | None = None,
    strategy: Strategy = FAST,
) -> DistrictingResult:
    """Design ``problem.n_zones`` balanced contiguous zones (see :mod:`optimiser.search`).

    ``initial_centres`` gives starting centres for some zones (zone index -> unit; e.g. today's
    zone centres or provider hubs); zones with locked units start at their locked units. With
    ``fix_centres`` every centre must be given and none moves (one exact solve).

    Raises :class:`InfeasibleProblemError` only when no plan can exist (the diagnosis, or a
    solver's proof on the whole problem), and :class:`NoPlanFoundError` when none was found in
    the time given. ``result.time_limited`` names the stages the clock cut short.
    """
    from optimiser.search import run_design  # the loop imports this module's helpers

    reasons = diagnose(problem)
    if reasons:
        raise InfeasibleProblemError(reasons)
    budget = Budget(time_limit_s)
    anchors = anchor_centres(problem)
    given = {**anchors, **dict(initial_centres or {})}
    if fix_centres and sorted(given) != list(range(problem.n_zones)):
        raise InfeasibleProblemError(
            [f"fixed centres need one centre per zone: got {len(given)} for {problem.n_zones} zones"]
        )
    found, rounds = run_design(
        problem, strategy=strategy, budget=budget, solver=solver, seed=seed, max_rounds=max_rounds, threads=threads,
        mip_rel_gap=mip_rel_gap, given=given, anchors=anchors, fix_centres=fix_centres,
        say=progress or (lambda _msg: None),
    )
    labels, centres_out, best_obj, milp_obj = found.labels, found.centres, found.objective, found.milp_objective
    loads = np.bincount(labels, weights=problem.demand, minlength=problem.n_zones).astype(np.float64)
    seconds = budget.elapsed()
    log.info(
        "designed %d zones for %d units in %.1f s over %d solver rounds: objective %.6g, %s, gap %s%s",
        problem.n_zones, problem.n_units, seconds, len(rounds), best_obj, found.report.status.value,
        "n/a" if found.report.gap is None else f"{100 * found.report.gap:.3f}%",
        f"; the time limit cut short: {', '.join(budget.binding)}" if budget.binding else "",
    )
    method = (
        "exact balanced contiguous MILP for the given fixed centres" if fix_centres else strategy.name
        + (" (best plan polished by contiguity-preserving local search)" if milp_obj is not None else "")
    )
    scope = {
        "milp": "assignment to the reported centres" if milp_obj is None else
        f"MILP plan before local search (objective {milp_obj:,.1f}) for its centres",
        "start": "nothing: the plan is the constructive start, which no solver round improved",
        "feasibility": "nothing: the plan comes from the whole-problem feasibility model",
        "exact": "every balanced contiguous plan with any centres (the exact free-centre model)",
    }[found.source]
    return DistrictingResult(
        labels=labels, centres=centres_out, objective=best_obj, loads=loads, report=found.report,
        rounds=tuple(rounds), seconds=seconds, method=method, bound_scope=scope, milp_objective=milp_obj,
        local_search_moves=found.moves, time_limited=tuple(budget.binding),
    )


def polish(
    problem: DistrictingProblem, labels: NDArray[np.int64], centres: tuple[int, ...], *, time_limit_s: float
) -> LocalSearchResult | None:
    """Contiguity-preserving local search from a feasible plan (None if it cannot start)."""
    lower, upper = problem.zone_bounds()
    amounts = [problem.demand] + [r.amount for r in problem.rows]
    lows = [lower] + [r.lower for r in problem.rows]
    highs = [upper] + [r.upper for r in problem.rows]
    movable = np.ones(problem.n_units, dtype=bool)
    if problem.pinned is not None:
        movable &= np.asarray(problem.pinned) < 0
    for group in problem.together:
        movable[np.asarray(group)] = False
    try:
        result = local_search(
            labels, weights=problem.demand, cost=problem.cost, edges=problem.edges,
            bounds=ResourceBounds(np.vstack(amounts), np.vstack(lows), np.vstack(highs)),
            centres=centres, movable=movable, time_limit_s=time_limit_s,
        )
    except ValueError as exc:  # e.g. a plan at a bound's rounding edge
        log.warning("local search skipped: %s", exc)
        return None
    log.info("local search: %.6g -> %.6g (%d moves, %d swaps)", result.initial_objective, result.objective,
             result.moves, result.swaps)
    return result
