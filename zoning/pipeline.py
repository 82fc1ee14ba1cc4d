"""The end-to-end run, as four named stages over typed hand-offs:

1. :func:`~zoning.prepare.prepare_problem` — read and validate inputs; units, adjacency, travel
   times and the optimiser's problem (:class:`~zoning.prepare.Prepared`);
2. :func:`design` — the zone design (:func:`optimiser.districting.design_zones`);
3. :func:`certify` — a certified lower bound over every balanced plan (meeting the capacity balance);
4. :func:`~zoning.measure.measure_plan` — the figures every output shows and the named checks
   (:class:`~zoning.plan.ZonePlan`), then :func:`require_checks`.

Data flows one way: :func:`plan_zones` returns a :class:`ZonePlan`; :mod:`zoning.publish.writers`
writes it out. Every stage logs its counts.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from optimiser.bounds import BoundResult, problem_bound
from optimiser.budget import STRATEGIES
from optimiser.centre_bound import MIP_S, strengthen_bound, worth_fixing
from optimiser.districting import DistrictingResult, design_zones
from optimiser.errors import InfeasibleProblemError
from optimiser.isolated import Background
from optimiser.ladder import start_certified_bound
from zoning.baseline import baseline_identity
from zoning.errors import CheckError, SolveError
from zoning.measure import fill_from_neighbours, measure_plan, zone_ids
from zoning.plan import ZonePlan
from zoning.plan_checks import plan_checks
from zoning.postcode_plan import refine_to_postcodes, refuse_unrefined
from zoning.prepare import Prepared, Progress, prepare_problem, travel_model_for, unit_cost_matrix
from zoning.run_budget import RunBudget, split_budget
from zoning.scenario import Scenario

__all__ = [
    "Prepared", "Progress", "ZonePlan", "certify", "design", "fill_from_neighbours", "measure_plan",
    "plan_checks", "plan_zones", "prepare_problem", "require_checks", "start_certify", "travel_model_for",
    "unit_cost_matrix", "zone_ids",
]

log = logging.getLogger(__name__)


def _quiet(_message: str) -> None:
    return None


def design(prep: Prepared, *, progress: Progress = _quiet, time_limit_s: float | None = None) -> DistrictingResult:
    """Stage 2: design the zones for the prepared problem with the scenario's solver and limits
    (``time_limit_s``: the design's share of the run's limit, default the whole limit)."""
    problem, options, m = prep.problem, prep.options, prep.scenario.model
    progress(f"designing {problem.n_zones} zones over {problem.n_units} units ({m.solver})")
    t1 = time.perf_counter()
    try:
        result = design_zones(
            problem, solver=m.solver, time_limit_s=m.time_limit_s if time_limit_s is None else time_limit_s,
            seed=prep.scenario.seed, max_rounds=m.max_rounds, threads=m.threads, mip_rel_gap=m.mip_rel_gap,
            initial_centres=options.initial_centres, fix_centres=options.fix_centres, progress=progress,
            strategy=STRATEGIES[m.method],
        )
    except InfeasibleProblemError as exc:
        raise SolveError("no plan is possible: " + "; ".join(exc.reasons)) from exc
    except TimeoutError as exc:
        raise SolveError(str(exc)) from exc
    prep.timings["solve_s"] = time.perf_counter() - t1
    return result


def certify(
    prep: Prepared, result: DistrictingResult, *, progress: Progress = _quiet, job: Background | None = None,
    wait_s: float | None = None, until: float | None = None,
) -> BoundResult | None:
    """Stage 3: a certified lower bound over all balanced plans (any centres, meeting the capacity
    balance when the problem has one: :func:`optimiser.bounds.problem_bound`), time-boxed by
    ``[model] certify_s``; None when that is 0. With ``job`` (from :func:`start_certify`) the
    bound already running beside the design is collected, waiting at most ``wait_s`` (the
    Lagrangian, then the target ladder of :mod:`optimiser.ladder` for the time left). Where the
    plan stays more than 2% above it and the problem is small, a branch and bound over the centres
    raises it (:func:`optimiser.centre_bound.strengthen_bound`), for at most 30 s and never past
    ``until`` (a ``time.perf_counter()`` deadline)."""
    problem, m = prep.problem, prep.scenario.model
    if m.certify_s <= 0:
        return None
    t2 = time.perf_counter()
    if job is not None:
        progress("collecting the certified lower bound")
        bound = job.result(wait_s=m.certify_s if wait_s is None else wait_s, ask_s=2.0)
        if bound is None:
            log.warning("the certified lower bound did not finish within the time limit: no bound reported")
            return None
    else:
        progress("computing a certified lower bound")
        bound = problem_bound(problem, target=result.objective, time_limit_s=m.certify_s)
    left = MIP_S if until is None else min(MIP_S, until - time.perf_counter() - 1.0)
    fixing = worth_fixing(problem, bound, upper=result.objective) if left >= 1.0 else None
    if fixing is not None:
        progress(f"raising the certified bound: branch and bound over the centres (at most {left:.0f} s)")
        t3 = time.perf_counter()
        bound = strengthen_bound(problem, bound, upper=result.objective, time_limit_s=left, fixing=fixing)
        prep.timings["bound_mip_s"] = time.perf_counter() - t3
    prep.timings["bound_s"] = bound.seconds if job is not None else time.perf_counter() - t2
    if bound.ladder_s > 0:
        prep.timings["bound_ladder_s"] = bound.ladder_s
    if result.objective < bound.value <= result.objective * (1 + 1e-7) + 1e-9:  # rounding: the bound met the plan
        bound = replace(bound, value=result.objective)
    log.info("certified lower bound %.6g (%s, %d iterations): plan is %.2f%% above it", bound.value,
             bound.method, bound.iterations, 100 * (result.objective / bound.value - 1) if bound.value > 0 else 0)
    return bound


def start_certify(prep: Prepared, budget: RunBudget) -> Background | None:
    """Start stage 3 in a second process, beside the design (None when ``certify_s`` is 0): the
    Lagrangian bound, then the target ladder for as long as the design runs."""
    if prep.scenario.model.certify_s <= 0:
        return None
    return start_certified_bound(prep.problem, time_limit_s=budget.bound_limit_s)


def require_checks(plan: ZonePlan) -> None:
    """Raise :class:`CheckError` (exit 6) naming every failed check."""
    failed = [c for c in plan.checks if not c.passed]
    if failed:
        raise CheckError("the plan failed checks: " + "; ".join(f"{c.name}: {c.detail}" for c in failed))


def plan_zones(scenario: Scenario, *, progress: Progress | None = None) -> ZonePlan:
    """Run the whole design for ``scenario``: prepare, design, certify, measure, check."""
    say = progress or _quiet
    t0 = time.perf_counter()
    postcode = scenario.units.level == "postcode"
    prep = prepare_problem(scenario, progress=say)
    if postcode:
        refuse_unrefined(prep.problem, where=str(scenario.source or "the scenario"))
    model = scenario.model
    # at postcode level the refinement and its bound come out of the run's limit first
    later_s = scenario.units.refine_s + scenario.units.bound_s if postcode else 0.0
    budget = split_budget(max(model.time_limit_s - later_s, 1.0), elapsed_s=time.perf_counter() - t0,
                          n_units=prep.problem.n_units, certify_s=model.certify_s)
    job = start_certify(prep, budget)
    t1 = time.perf_counter()
    try:
        result = design(prep, progress=say, time_limit_s=budget.design_s)
    except BaseException:
        if job is not None:
            job.stop()  # the bound's process
        raise
    bound = certify(prep, result, progress=say, job=job, wait_s=max(budget.bound_s - (time.perf_counter() - t1), 0.0),
                    until=t0 if postcode else t0 + model.time_limit_s - budget.reserve_s)  # postcode: none
    if postcode:  # every output from the postcode cells (the LSOA bound only warm-starts theirs)
        prep, result, bound = refine_to_postcodes(prep, result, warm=bound, progress=say,
                                                  deadline=t0 + model.time_limit_s - budget.reserve_s)
    say("checking the plan and computing figures")
    plan = measure_plan(prep, result, bound=bound, identity=baseline_identity(prep, result))
    require_checks(plan)
    plan.timings["total_s"] = time.perf_counter() - t0
    m, c = plan.metrics, plan.current_metrics
    log.info(
        "plan: %d zones, mean travel %.2f min (current %.2f), loads %.0f-%.0f h/week (current %.0f-%.0f)",
        m.zones, m.mean_travel_min, c.mean_travel_min, m.min_zone_hours, m.max_zone_hours,
        c.min_zone_hours, c.max_zone_hours,
    )
    return plan
