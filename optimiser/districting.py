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
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from optimiser.assignment import AssignmentOutcome, solve_assignment
from optimiser.problem import DistrictingProblem
from optimiser.solve import SolverReport, SolveStatus

log = logging.getLogger(__name__)


class InfeasibleProblemError(ValueError):
    """The problem cannot be solved as posed; ``reasons`` say why, with numbers."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        super().__init__("; ".join(reasons))


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

    @property
    def status(self) -> SolveStatus:
        return self.report.status


def plan_objective(problem: DistrictingProblem, labels: NDArray[np.int64], centres: tuple[int, ...]) -> float:
    """Demand-weighted travel of a plan: the optimiser's objective, recomputed directly."""
    centre_of_unit = np.asarray(centres)[labels]
    return float(np.sum(problem.demand * problem.cost[np.arange(problem.n_units), centre_of_unit]))


def _medoid(problem: DistrictingProblem, members: NDArray[np.int64]) -> int:
    """The member unit minimising the members' demand-weighted travel to it."""
    totals = problem.demand[members] @ problem.cost[np.ix_(members, members)]
    return int(members[int(np.argmin(totals))])


def best_centres(problem: DistrictingProblem, labels: NDArray[np.int64]) -> tuple[int, ...]:
    """For each zone, the member unit minimising the zone's demand-weighted travel."""
    centres = []
    for z in range(int(labels.max()) + 1):
        members = np.flatnonzero(labels == z)
        if members.size == 0:
            raise ValueError(f"zone {z} has no units")
        centres.append(_medoid(problem, members))
    return tuple(centres)


def diagnose(problem: DistrictingProblem) -> list[str]:
    """Reasons, with numbers, why no plan can exist (empty when none is obvious)."""
    reasons = []
    lower, upper = problem.load_bounds
    biggest = int(np.argmax(problem.demand))
    if problem.demand[biggest] > upper:
        reasons.append(
            f"unit {problem.label(biggest)} alone has {problem.demand[biggest]:.1f} hours, more than "
            f"the zone maximum {upper:.1f} (mean {problem.total_demand / problem.n_zones:.1f} "
            f"+{100 * problem.tolerance:.0f}%): use fewer zones or a wider tolerance"
        )
    if problem.total_demand <= 0:
        reasons.append("total demand is zero: there is nothing to balance")
    components = problem.n_components()
    if components > 1:
        reasons.append(
            f"the adjacency graph has {components} separate pieces, so contiguous zones cannot "
            "cross between them: check the boundaries (islands, gaps) or add adjacency links"
        )
    if components > problem.n_zones:
        reasons.append(f"{components} pieces need at least {components} zones, got {problem.n_zones}")
    return reasons


def weighted_kmedoids(
    problem: DistrictingProblem, *, seed: int, restarts: int = 8, max_iter: int = 50
) -> tuple[int, ...]:
    """Demand-weighted k-medoids (alternating assignment / medoid update), best of restarts."""
    rng = np.random.default_rng(seed)
    n, k = problem.n_units, problem.n_zones
    weights = problem.demand + 1e-9
    best: tuple[float, tuple[int, ...]] | None = None
    for _ in range(restarts):
        centres = [int(rng.choice(n, p=weights / weights.sum()))]
        while len(centres) < k:  # k-means++ spread
            nearest = problem.cost[:, centres].min(axis=1)
            p = weights * nearest**2
            p[centres] = 0
            centres.append(int(rng.choice(n, p=p / p.sum())) if p.sum() > 0 else int(np.argmax(nearest)))
        for _ in range(max_iter):
            labels = problem.cost[:, centres].argmin(axis=1)
            new = []
            for z in range(k):
                members = np.flatnonzero(labels == z)
                new.append(_medoid(problem, members) if members.size else centres[z])
            if new == centres or len(set(new)) < k:
                break
            centres = new
        cost = float(np.sum(problem.demand * problem.cost[:, centres].min(axis=1)))
        if best is None or cost < best[0]:
            best = (cost, tuple(centres))
    assert best is not None
    return best[1]


def design_zones(
    problem: DistrictingProblem,
    *,
    solver: str,
    time_limit_s: float,
    seed: int = 0,
    max_rounds: int = 6,
    threads: int = 1,
    mip_rel_gap: float = 1e-4,
    progress: Callable[[str], None] | None = None,
) -> DistrictingResult:
    """Design ``problem.n_zones`` balanced contiguous zones (see the module docstring).

    Raises :class:`InfeasibleProblemError` when the problem is infeasible on its face or no
    seeding gives the solver a feasible plan, and ``TimeoutError`` if the time budget ends
    before any plan is found.
    """
    reasons = diagnose(problem)
    if reasons:
        raise InfeasibleProblemError(reasons)
    start = time.perf_counter()
    say = progress or (lambda _msg: None)
    rounds: list[RoundLog] = []
    best: AssignmentOutcome | None = None
    best_obj = np.inf
    per_round = max(5.0, time_limit_s / 2)

    def remaining() -> float:
        return time_limit_s - (time.perf_counter() - start)

    # Seeding: if a seed's centres admit no balanced contiguous plan, try another seed.
    outcome: AssignmentOutcome | None = None
    for attempt in range(4):
        centres = weighted_kmedoids(problem, seed=seed + attempt)
        say(f"round 1: solving assignment to {len(centres)} seeded centres")
        outcome = solve_assignment(
            problem, centres, solver=solver, time_limit_s=min(per_round, max(remaining(), 1.0)),
            seed=seed, threads=threads, mip_rel_gap=mip_rel_gap,
        )
        rounds.append(_log(len(rounds) + 1, outcome))
        if outcome.labels is not None or outcome.report.status != SolveStatus.INFEASIBLE:
            break
        log.warning("seeded centres (attempt %d) admit no balanced contiguous plan; reseeding", attempt + 1)
    assert outcome is not None
    if outcome.labels is None:
        if outcome.report.status == SolveStatus.INFEASIBLE:
            raise InfeasibleProblemError(
                [
                    f"{len(rounds)} different sets of centres admit no plan within ±{100 * problem.tolerance:.0f}% "
                    "that keeps zones contiguous: widen the tolerance or use fewer zones"
                ]
            )
        raise TimeoutError(
            f"the solver found no plan within the time limit ({time_limit_s:.0f} s; solver said "
            f"{outcome.report.solver_status!r}): raise the time limit"
        )
    best, best_obj = outcome, plan_objective(problem, outcome.labels, outcome.centres)
    seen = {outcome.centres}

    for r in range(2, max_rounds + 1):
        assert best.labels is not None
        centres = best_centres(problem, best.labels)
        if centres in seen:
            log.info("centres repeat after round %d: stopping", r - 1)
            break
        if remaining() < 5.0:
            log.info("time budget spent after round %d", r - 1)
            break
        seen.add(centres)
        say(f"round {r}: re-centred, solving again (best so far {best_obj:,.0f})")
        outcome = solve_assignment(
            problem, centres, solver=solver, time_limit_s=min(per_round, remaining()),
            seed=seed, threads=threads, mip_rel_gap=mip_rel_gap, start_labels=best.labels,
        )
        rounds.append(_log(r, outcome))
        if outcome.labels is None:
            continue
        obj = plan_objective(problem, outcome.labels, outcome.centres)
        if obj < best_obj - 1e-6 * abs(best_obj):
            best, best_obj = outcome, obj
        else:
            break
    assert best.labels is not None
    loads = np.bincount(best.labels, weights=problem.demand, minlength=problem.n_zones).astype(np.float64)
    seconds = time.perf_counter() - start
    log.info(
        "designed %d zones for %d units in %.1f s over %d rounds: objective %.6g, %s, gap %s",
        problem.n_zones, problem.n_units, seconds, len(rounds), best_obj, best.report.status.value,
        "n/a" if best.report.gap is None else f"{100 * best.report.gap:.3f}%",
    )
    return DistrictingResult(
        labels=best.labels,
        centres=best.centres,
        objective=best_obj,
        loads=loads,
        report=best.report,
        rounds=tuple(rounds),
        seconds=seconds,
    )


def _log(r: int, outcome: AssignmentOutcome) -> RoundLog:
    rep = outcome.report
    return RoundLog(r, outcome.centres, rep.status.value, rep.objective, rep.gap, rep.seconds)
