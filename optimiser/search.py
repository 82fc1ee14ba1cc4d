"""The design loop of :func:`optimiser.districting.design_zones` (strategies in :mod:`optimiser.budget`).

Method (the ``"fast"`` strategy)
--------------------------------
1. **Starts.** Balanced contiguous plans without a solver (:mod:`optimiser.construct`), from 48
   k-medoid seedings; those that meet every constraint are ranked by objective.
1b. **Centres from the relaxation** (:mod:`optimiser.seeding`, small and mid-size problems,
   :func:`optimiser.seeding.competing_per_zone`). On mid-size problems (the default's class) its
   round 1 (at :data:`optimiser.relaxation_start.SEEDED_GAP`) comes first; when its polished plan beats the constructive
   start, the search goes on from it and neither the start's round 1 nor the screening runs: the
   seeding does not depend on the seed, so neither does the basin the search ends in. On small
   problems it competes after the start's round 1, as before.
2. **Fast round.** The fixed-centre MILP (:mod:`optimiser.assignment`) for the best start's
   centres, the plan offered as a MIP start, solved to a 1% gap; the result is polished by local
   search (which also re-centres). Where the problem has shared branch capacity, the polish
   that leaves a zone short is redone with that zone's demand capped
   (:func:`optimiser.capacity_polish.polish_within_capacity`), so the improvement is not thrown away.
2b. **Screening.** The next best starts (5 more up to ~400 units, fewer on larger problems,
   :func:`optimiser.screening.screen_starts`) get the same fast round and polish; the two best then go through the
   pairs (step 3) and the search goes on from the better. Which start leads to the best plan is
   not the cheapest start: the round and the pairs decide.
3. **Pairs.** Each pair of adjacent zones is re-optimised exactly as a two-zone problem
   (:mod:`optimiser.reoptimise`), with the branch capacity the other zones leave, and the
   results are cached by the pair's unit sets, centres and capacity, so a later pass solves only
   pairs that changed; then the plan is polished once more.
4. **Exact rounds.** The whole-area MILP at the caller's gap (default 0.01%) from the best plan;
   steps 3-4 repeat (at most 3 cycles) while they improve. Small problems improve several
   starts in full.
4b. **Kicks** (county scale): a random triple of zones re-split from random centres, then the
   pairs and the polish; kept when better (iterated local search, :mod:`optimiser.kicks`).
4c. **Joint centre moves** (county scale, :mod:`optimiser.centre_swap`): vertex substitution
   priced by the LP of the fixed-centre assignment without contiguity (warm-started, milliseconds
   per move); the whole-area MILP at the centres reached, then the pairs, while it improves.
5. **Small problems** (up to :data:`optimiser.exact.MAX_UNITS` units, zones interchangeable) are
   then solved exactly over every contiguous plan with any centres (:mod:`optimiser.exact`),
   from the best plan as a MIP start: the result is the proven optimum.

Every step is a fixed amount of work (starts, screened starts, rounds, pair passes, cycles), so
the plan does not depend on the machine's speed unless the clock runs out first, which the
budget records. At county scale every whole-area MILP keeps its MIP start
(:func:`optimiser.assignment.start_order`); ``"fast-plain-start"`` is this method without that.
``"fast-seeded"`` is this method before step 4c; ``"fast-kicks"`` before step 1b led on mid-size problems;
``"fast-screened"`` before step 4b; ``"fast-previous"`` before
steps 2b and the capacity-aware polish and pairs (8 starts); ``"classic"`` the method before issue 12.

When the first solve finds nothing, other seedings are tried; when none gives a plan, the
whole-problem feasibility model (:mod:`optimiser.feasibility`) either finds one, proves that
none exists (the only case reported as "no plan is possible"), or the run says that no plan
was found in the time given, with what was tried. Every solve runs in a child process that is
stopped if the solver overruns (:mod:`optimiser.isolated`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from optimiser.assignment import AssignmentOutcome
from optimiser.budget import Budget, Strategy
from optimiser.capacity_polish import polish_within_capacity
from optimiser.construct import Start, meets_constraints, ranked_starts
from optimiser.districting import (
    RoundLog,
    best_centres,
    matched_seeding,
    plan_objective,
    polish,
    weighted_kmedoids,
)
from optimiser.errors import InfeasibleProblemError, NoPlanFoundError
from optimiser.exact import exact_applicable, solve_exact
from optimiser.families import move_centres, plan_checks, polish_compatible
from optimiser.feasibility import explain_with_feasibility, find_any_plan
from optimiser.isolated import solve_assignment_stoppable
from optimiser.problem import DistrictingProblem
from optimiser.relaxation_start import compete, seed_from_relaxation
from optimiser.reoptimise import GroupCache, adjacent_triples, reoptimise_groups
from optimiser.screening import screen_starts
from optimiser.solve import SolverReport, SolveStatus

log = logging.getLogger(__name__)

#: seeding attempts for round 1 when a seeding gives the solver no plan
ATTEMPTS = 4

#: the whole-area MILP orders its contiguity rows to keep its MIP start (``Strategy.keep_start``)
#: on problems of at least this many units (county scale). Measured on the default (396 units):
#: the same plan, its three whole-area solves 2.3 s slower (9.6 -> 11.9 s); HiGHS finds plans from
#: scratch quickly there. On Kent at 25 zones, where it finds none in 20 s, the kept start gave
#: 936,210.0 against 938,514.9 (README, issue 12, seventh part).
KEEP_START_MIN_UNITS = 600

#: the whole-problem feasibility model is built only up to this many (unit, zone) pairs: beyond,
#: building it alone would take a large part of a county run's budget
FEASIBILITY_MAX_CELLS = 4000


@dataclass(frozen=True)
class Found:
    """The best plan of a search and how it was reached."""

    labels: NDArray[np.int64]
    centres: tuple[int, ...]
    objective: float
    report: SolverReport  # the solver's verdict on the fixed-centre model that gave (or checked) the plan
    milp_objective: float | None = None  # the MILP plan's objective when local search then improved it
    moves: int = 0
    source: str = "milp"  # "milp", "start" (constructive) or "feasibility"


@dataclass
class Search:
    """One design run's state (see the module docstring)."""

    problem: DistrictingProblem
    strategy: Strategy
    budget: Budget
    solver: str
    seed: int
    threads: int
    mip_rel_gap: float
    say: Callable[[str], None]
    rounds: list[RoundLog]
    best: Found | None = None
    alternatives: tuple[Start, ...] = ()  # further feasible constructive starts, next best first
    seeded_won: bool = False  # on a mid-size problem, round 1 from the relaxation's centres beat the start
    cache: GroupCache = field(default_factory=GroupCache)  # group re-optimisation results by key

    def solve(self, centres: tuple[int, ...], *, gap: float, cap_s: float | None, stage: str,
              start: NDArray[np.int64] | None = None) -> AssignmentOutcome:
        limit = self.budget.cap(cap_s)
        out = solve_assignment_stoppable(
            self.problem, centres, solver=self.solver, time_limit_s=limit, seed=self.seed, threads=self.threads,
            mip_rel_gap=gap, start_labels=start,
            keep_start=self.strategy.keep_start and self.problem.n_units >= KEEP_START_MIN_UNITS,
        )
        rep = out.report
        self.rounds.append(RoundLog(len(self.rounds) + 1, out.centres, rep.status.value, rep.objective, rep.gap,
                                    rep.seconds))
        if rep.status in (SolveStatus.FEASIBLE, SolveStatus.NO_SOLUTION) and rep.seconds >= 0.95 * limit:
            self.budget.bind(stage if cap_s is None or limit < cap_s else f"{stage} (per-round cap {cap_s:.0f} s)")
        return out

    def offer(self, labels: NDArray[np.int64], centres: tuple[int, ...], report: SolverReport, source: str) -> bool:
        """Polish a plan (when allowed) and keep it if it beats the best; True if it did."""
        if not meets_constraints(self.problem, labels, centres):  # a safety net: never keep a broken plan
            failed = [f"{c.name}: {c.detail}" for c in plan_checks(self.problem, labels, centres) if not c.passed]
            log.warning("a %s plan failed the constraints and was dropped: %s", source, "; ".join(failed) or
                        "a centre outside its zone, or a unit outside the zones it may join")
            return False
        obj = plan_objective(self.problem, labels, centres)
        milp_obj, moves = None, 0
        if self.strategy.local_search and polish_compatible(self.problem) and self.budget.remaining() > 0.2:
            limit = max(0.2, min(30.0, self.budget.remaining()))
            res = (polish_within_capacity(self.problem, labels, centres, time_limit_s=limit)
                   if self.strategy.capacity_polish else polish(self.problem, labels, centres, time_limit_s=limit))
            if (res is not None and res.objective < obj - 1e-9 * abs(obj)
                    and meets_constraints(self.problem, res.labels, res.centres)):
                milp_obj, moves = obj, res.moves + res.swaps
                labels, centres, obj = res.labels, res.centres, plan_objective(self.problem, res.labels, res.centres)
        tol = 1e-9 * abs(obj)
        if (self.best is None or obj < self.best.objective - tol
                or (obj <= self.best.objective + tol and source == "milp" and self.best.source != "milp")):
            self.best = Found(labels, centres, obj, report, milp_obj, moves, source)
            return True
        return False


def starts_for(problem: DistrictingProblem, strategy: Strategy) -> int:
    """Constructive starts to try: more on small problems, where each costs milliseconds."""
    return 0 if strategy.n_starts <= 0 else max(strategy.n_starts, min(64, 2000 // max(problem.n_units, 1)))


def heuristic_report(problem: DistrictingProblem, objective: float, what: str) -> SolverReport:
    """A report for a plan no solver has certified yet (status feasible, no bound)."""
    return SolverReport(solver=what, status=SolveStatus.FEASIBLE, solver_status=f"{what}: no solver bound",
                        objective=objective, best_bound=None, gap=None, seconds=0.0, time_limit_s=0.0,
                        n_variables=0, n_constraints=0)


def run_design(
    problem: DistrictingProblem, *, strategy: Strategy, budget: Budget, solver: str, seed: int, max_rounds: int,
    threads: int, mip_rel_gap: float, given: Mapping[int, int], anchors: Mapping[int, int], fix_centres: bool,
    say: Callable[[str], None],
) -> tuple[Found, list[RoundLog]]:
    """Steps 1-4 of the module docstring; returns the best plan and the solver rounds. ``given``:
    starting centres by zone (the ``anchors`` of zones with locked units, and today's)."""
    s = Search(problem, strategy, budget, solver, seed, threads, mip_rel_gap, say, [])
    _first_plan(s, given=given, anchors=anchors, fix_centres=fix_centres)
    assert s.best is not None
    if fix_centres:
        return s.best, s.rounds
    if strategy.start == "kmedoids":  # the method before issue 12: exact rounds until no improvement
        _rounds(s, "exact", mip_rel_gap, max_rounds - 1)
        return s.best, s.rounds
    if s.seeded_won:
        s.say("the relaxation's centres gave the better first plan: the search goes on from it")
    elif screen_starts(problem, strategy) > 1 and improve_starts(problem) == 1:
        from optimiser.screening import screen  # it builds on this module's Search

        s = screen(s)
    _improve(s)
    assert s.best is not None
    for alt in s.alternatives[: improve_starts(problem) - 1]:  # small problems: improve several starts
        if budget.remaining() < 2.0:
            budget.bind("further starts")
            break
        other = Search(problem, strategy, budget, solver, seed, threads, mip_rel_gap, say, s.rounds)
        other.best = Found(alt.labels, alt.centres, alt.objective,
                           heuristic_report(problem, alt.objective, "constructive start"), source="start")
        _improve(other)
        assert other.best is not None
        if other.best.objective < s.best.objective - 1e-9 * abs(s.best.objective):
            s.best = other.best
    from optimiser import centre_swap, kicks  # steps 4b and 4c; they build on this module's Search

    swaps = centre_swap.swaps_for(problem, strategy)
    kicks.kick_search(s, reserve_s=kicks.RESERVE_S + (centre_swap.RESERVE_S if swaps else 0.0), final_round=not swaps)
    centre_swap.swap_search(s)  # starting centres are a start: the swap LP keeps pins and continuity itself
    if strategy.exact_small and exact_applicable(problem) and budget.remaining() > 1.0:
        say(f"small problem ({problem.n_units} units): solving the whole problem exactly")
        out = solve_exact(problem, solver=solver, time_limit_s=budget.cap(20.0), start=(s.best.labels, s.best.centres))
        if out.report.status == SolveStatus.FEASIBLE:
            budget.bind("exact model")
        if out.labels is not None and out.centres is not None and meets_constraints(problem, out.labels, out.centres):
            obj = plan_objective(problem, out.labels, out.centres)
            if obj <= s.best.objective + 1e-9 * abs(obj):
                s.best = Found(out.labels, out.centres, obj, out.report, source="exact")
    return s.best, s.rounds


def improve_starts(problem: DistrictingProblem) -> int:
    """How many constructive starts are improved in full: one at county scale (and when the exact
    model settles the problem), up to 8 on small problems."""
    return 1 if exact_applicable(problem) else max(1, min(8, 300 // max(problem.n_units, 1)))


def _improve(s: Search) -> None:
    """Steps 2-4 from ``s.best``."""
    mip_rel_gap, strategy = s.mip_rel_gap, s.strategy
    fast_gap = max(strategy.fast_gap or mip_rel_gap, mip_rel_gap)
    _rounds(s, "fast", fast_gap, strategy.fast_rounds)
    for _ in range(strategy.exact_rounds):
        assert s.best is not None
        before = s.best.objective
        _pairs(s)
        _rounds(s, "exact", mip_rel_gap, 1)
        if s.best.objective >= before - 1e-9 * abs(before):
            break
        if s.budget.remaining() < 2.0:
            s.budget.bind("exact cycles")
            break


def _rounds(s: Search, phase: str, gap: float, limit: int) -> None:
    """Re-centre and solve the whole-area MILP until the plan stops improving (at most ``limit``)."""
    seen: set[tuple[int, ...]] = set()
    cap = s.strategy.round_cap_s if s.strategy.round_cap_s is not None else max(5.0, s.budget.total_s / 2)
    for _ in range(limit):
        assert s.best is not None
        centres = move_centres(s.problem, best_centres(s.problem, s.best.labels, previous=s.best.centres))
        if tuple(sorted(centres)) in seen:
            break
        if s.budget.remaining() < 1.0:
            s.budget.bind(f"{phase} rounds")
            break
        seen.add(tuple(sorted(centres)))
        s.say(f"{phase} round: solving the assignment to {len(centres)} centres (best so far {s.best.objective:,.0f})")
        out = s.solve(centres, gap=gap, cap_s=cap, stage=f"{phase} rounds", start=s.best.labels)
        if out.labels is None or not s.offer(out.labels, out.centres, out.report, "milp"):
            break


def _pairs(s: Search) -> None:
    """Step 4: exact re-optimisation of adjacent pairs of zones, then local search."""
    if not (s.strategy.reoptimise and polish_compatible(s.problem)):
        return
    if s.budget.remaining() < 2.0:
        s.budget.bind("pair re-optimisation")
        return
    assert s.best is not None
    s.say("re-optimising pairs of adjacent zones exactly")
    accept = lambda lab, cen: meets_constraints(s.problem, lab, cen)  # noqa: E731
    labels, centres = reoptimise_groups(s.problem, s.best.labels, s.best.centres, solver=s.solver, budget=s.budget,
                                        seed=s.seed, share_capacity=s.strategy.share_capacity, cache=s.cache,
                                        seedings=s.strategy.pair_seedings, accept=accept)
    s.offer(labels, centres, s.best.report, s.best.source)
    if s.strategy.triples:
        s.say("re-optimising triples of adjacent zones exactly")
        labels, centres = reoptimise_groups(s.problem, s.best.labels, s.best.centres, solver=s.solver,
                                            budget=s.budget, groups=adjacent_triples, seed=s.seed, passes=2,
                                            share_capacity=s.strategy.share_capacity, cache=s.cache,
                                            seedings=s.strategy.pair_seedings, accept=accept)
        s.offer(labels, centres, s.best.report, s.best.source)


def _first_plan(s: Search, *, given: Mapping[int, int], anchors: Mapping[int, int], fix_centres: bool) -> None:
    """Step 1 and round 1: a constructive start and a first solved plan, reseeding when a
    seeding gives nothing; raises when no plan is found (proved or not)."""
    problem, strategy = s.problem, s.strategy
    hint: NDArray[np.int64] | None = None
    centre_sets: list[tuple[int, ...]]
    if fix_centres:
        centre_sets = [tuple(int(given[z]) for z in range(problem.n_zones))]
    else:
        n = max(starts_for(problem, strategy), ATTEMPTS)
        centre_sets = [move_centres(problem, weighted_kmedoids(problem, seed=s.seed + 7919 * j, fixed=given),
                                    fixed=frozenset(given)) for j in range(n)]
        if any(z not in anchors for z in given):  # starting centres (today's), not anchors: free seedings too
            free = [move_centres(problem, matched_seeding(problem, seed=s.seed + 7919 * j + 1, given=given,
                                                          anchors=anchors), fixed=frozenset(anchors))
                    for j in range(n)]
            centre_sets = [c for pair in zip(centre_sets, free, strict=True) for c in pair][:n]
    tried: list[str] = []
    if strategy.start == "constructive" and not fix_centres:
        n_starts = starts_for(problem, strategy)
        s.say(f"building a balanced contiguous start (best of {n_starts} seedings)")
        ranked, built = ranked_starts(problem, centre_sets[:n_starts], polish=polish_compatible(problem),
                                      time_limit_s=0.3 * max(s.budget.remaining(), 1.0))
        start = ranked[0] if ranked else None
        if built < len(centre_sets[:n_starts]):
            s.budget.bind("constructive starts")
        s.alternatives = tuple(st for st in ranked[1:] if st.feasible)
        if start is not None:
            tried.append(f"{n_starts} constructive starts ({'one met' if start.feasible else 'none met'} "
                         "every constraint)")
            hint = start.labels
            centre_sets.insert(0, start.centres)
            if start.feasible:
                s.best = Found(start.labels, start.centres, start.objective,
                               heuristic_report(problem, start.objective, "constructive start"), source="start")
    seeded: tuple[int, ...] | None = None
    if strategy.start == "constructive" and not fix_centres and not given:
        seeded = seed_from_relaxation(s, centre_sets, tried)
        if s.seeded_won:
            return  # better than the constructive start: its round 1 and the screening are not needed
    first_cap = strategy.round_cap_s if s.best is not None else None
    for attempt, centres in enumerate(centre_sets[:ATTEMPTS]):
        if attempt and s.budget.remaining() < 1.0:
            break
        s.say(f"round 1: solving the assignment to {'the given' if fix_centres else 'seeded'} centres")
        cap = first_cap if first_cap is not None else max(5.0, s.budget.remaining() / (2 if attempt == 0 else 3))
        gap = s.mip_rel_gap if (fix_centres or strategy.fast_gap is None) else max(strategy.fast_gap, s.mip_rel_gap)
        out = s.solve(centres, gap=gap, cap_s=cap, stage="round 1",
                      start=hint if attempt == 0 else None)
        tried.append(f"centre set {attempt + 1}: {out.report.status.value} ({out.report.solver_status}, "
                     f"{out.report.seconds:.1f} s)")
        if out.labels is not None:
            s.offer(out.labels, out.centres, out.report, "milp")
            compete(s, seeded, gap=gap, cap=cap)
            return
        if fix_centres and out.report.status == SolveStatus.INFEASIBLE:
            _raise_fixed_infeasible(s, centres)
        if s.best is not None:  # the constructive plan stands; the rounds go on from it
            compete(s, seeded, gap=gap, cap=cap)
            return
        log.warning("centre set %d gave the solver no plan (%s); reseeding", attempt + 1, out.report.status.value)
    _no_plan(s, tried)


def _raise_fixed_infeasible(s: Search, centres: tuple[int, ...]) -> None:
    """With every centre fixed by the scenario, the fixed-centre model *is* the problem."""
    from optimiser.diagnosis import explain_infeasible

    why = explain_infeasible(s.problem, centres, solver=s.solver, time_limit_s=max(2.0, s.budget.remaining() / 2),
                             seed=s.seed)
    raise InfeasibleProblemError([
        f"the fixed centres admit no plan that meets every constraint (±{100 * s.problem.tolerance:.4g}% "
        "balance, contiguity and the scenario's options): the solver proved it", *why,
    ])


def _no_plan(s: Search, tried: list[str]) -> None:
    """No seeding gave a plan: settle it on the whole problem, or say what was tried."""
    problem = s.problem
    if problem.n_units * problem.n_zones > FEASIBILITY_MAX_CELLS or s.budget.remaining() < 1.0:
        tried.append("the whole-problem feasibility model was not tried (too large for the time left)")
        s.budget.bind("first plan")
        raise NoPlanFoundError(
            f"no plan found in the time given ({s.budget.total_s:.0f} s); not proved impossible. Tried: "
            + "; ".join(tried) + ". Raise the time limit, or widen the tolerance"
        )
    s.say("no plan from the seeded centres: asking the solver whether any plan exists")
    out = find_any_plan(problem, solver=s.solver, time_limit_s=s.budget.cap(None, floor_s=1.0))
    if out.labels is not None and out.centres is not None:
        centres = best_centres(problem, out.labels)
        if not meets_constraints(problem, out.labels, centres):
            centres = out.centres  # the roots keep the constraints tied to centres
        if meets_constraints(problem, out.labels, centres):
            s.offer(out.labels, centres, heuristic_report(problem, plan_objective(problem, out.labels, centres),
                                                          "feasibility model"), "feasibility")
            return
        tried.append("the whole-problem feasibility model found a plan that failed the plan checks")
    elif out.report.status == SolveStatus.INFEASIBLE:
        why = explain_with_feasibility(problem, solver=s.solver, time_limit_s=max(2.0, s.budget.remaining()))
        raise InfeasibleProblemError([
            f"no plan meets every constraint (±{100 * problem.tolerance:.4g}% balance, contiguity and the "
            "scenario's options): the solver proved it on the whole problem", *why,
        ])
    else:
        tried.append(f"the whole-problem feasibility model: {out.report.status.value} ({out.report.solver_status})")
    s.budget.bind("first plan")
    raise NoPlanFoundError(
        f"no plan found in the time given ({s.budget.total_s:.0f} s); not proved impossible. Tried: "
        + "; ".join(tried) + ". Raise the time limit, or widen the tolerance"
    )
