"""Issue 12 (county scale): joint centre moves priced by the assignment's LP (optimiser/centre_swap.py)."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

import optimiser.centre_swap as centre_swap
from optimiser.assignment import solve_assignment
from optimiser.budget import FAST, FAST_SEEDED, Budget
from optimiser.centre_swap import lp_value, swap_centres, swap_search
from optimiser.construct import meets_constraints
from optimiser.districting import plan_objective
from optimiser.problem import BranchCapacity, DistrictingProblem, ZoneRow
from optimiser.search import Found, Search, heuristic_report
from optimiser.seeding import centre_model
from tests.conftest import grid_problem


def with_branches(problem: DistrictingProblem, *, seed: int) -> DistrictingProblem:
    """Two or three branches at random units of the grid, capacity 115% of demand in all."""
    rng = np.random.default_rng(seed)
    at = rng.choice(problem.n_units, size=3, replace=False)
    share = rng.dirichlet(np.ones(3)) * 1.15 * problem.demand.sum()
    minutes = np.asarray(problem.cost)[at]
    return replace(problem, branches=BranchCapacity(share, minutes, reach_min=2.5, margin=1.0))


def reference_lp(problem: DistrictingProblem, centres: tuple[int, ...]) -> float:
    """The same LP built independently: the seeding's centre model over exactly these centres
    (every y forced to 1 by its count row); valid as an oracle when zones share one load window."""
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(centre_model(problem, np.asarray(sorted(centres)), binary="none"))
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return float("inf")
    return float(h.getInfo().objective_function_value)


@pytest.mark.parametrize("seed", range(6))
def test_the_lp_matches_an_independent_model_and_bounds_the_plan(seed: int) -> None:
    rng = np.random.default_rng(seed)
    problem = grid_problem(4, 5, n_zones=3, tolerance=0.2, demand=rng.gamma(2.0, 3.0, 20))
    if seed % 2:
        problem = with_branches(problem, seed=seed)
    centres = tuple(int(c) for c in rng.choice(problem.n_units, size=3, replace=False))
    value = lp_value(problem, centres)
    assert value == pytest.approx(reference_lp(problem, centres), rel=1e-7, abs=1e-7)
    out = solve_assignment(problem, centres, solver="highs", time_limit_s=20)
    if out.labels is not None:  # every contiguous plan at these centres costs at least the LP
        assert plan_objective(problem, out.labels, centres) >= value * (1 - 1e-7)


@pytest.mark.parametrize("seed", range(4))
def test_moves_made_in_place_give_the_lp_of_the_centres_reached(seed: int) -> None:
    rng = np.random.default_rng(10 + seed)
    problem = with_branches(grid_problem(5, 5, n_zones=3, tolerance=0.15, demand=rng.gamma(2.0, 3.0, 25)), seed=seed)
    start = (0, 4, 24)
    res = swap_centres(problem, start, max_evaluations=200, time_limit_s=60, near=6)
    assert res.evaluations <= 200
    assert res.value <= res.start_value
    assert res.start_value == pytest.approx(lp_value(problem, start), rel=1e-9)
    assert res.value == pytest.approx(lp_value(problem, res.centres), rel=1e-7)  # the warm-started model is right
    assert len(set(res.centres)) == 3


def test_swaps_reach_the_best_centres_of_a_line() -> None:
    """Nine units in a row, unit demand, 3 zones of exactly 3: the LP's best centres are the
    middles 1, 4, 7 (each zone costs 2); from the corner centres the swaps walk there."""
    problem = grid_problem(1, 9, n_zones=3, tolerance=0.0)
    best = min(itertools.combinations(range(9), 3), key=lambda c: lp_value(problem, c))
    assert sorted(best) == [1, 4, 7]
    res = swap_centres(problem, (0, 3, 8), max_evaluations=500, time_limit_s=60, near=3)
    assert sorted(res.centres) == [1, 4, 7]
    assert res.value == pytest.approx(6.0)
    assert res.moves >= 2 and not res.time_limited


def test_the_work_limit_and_the_rules_on_centres_hold() -> None:
    problem = grid_problem(1, 9, n_zones=3, tolerance=0.0)
    capped = swap_centres(problem, (0, 3, 8), max_evaluations=2, time_limit_s=60, near=3)
    assert capped.evaluations == 2 and not capped.time_limited
    hubs = np.zeros(9, dtype=bool)
    hubs[[0, 2, 3, 5, 8]] = True  # centres may only stand at these units
    limited = replace(problem, centre_candidates=hubs)
    res = swap_centres(limited, (0, 3, 8), max_evaluations=500, time_limit_s=60, near=3)
    assert all(hubs[c] for c in res.centres)
    kept = swap_centres(problem, (0, 3, 8), max_evaluations=500, time_limit_s=60, near=3, fixed=frozenset({0}))
    assert kept.centres[0] == 0


def test_per_zone_rows_are_kept_by_the_lp() -> None:
    """A cohort row that only one centre set can meet: the LP is infeasible elsewhere."""
    problem = grid_problem(1, 6, n_zones=2, tolerance=0.0)
    cohort = np.array([1.0, 0, 0, 0, 0, 1.0])
    rowed = replace(problem, rows=(ZoneRow("cohort_children", cohort, np.array([1.0, 1.0]), np.array([1.0, 1.0])),))
    assert np.isfinite(lp_value(rowed, (1, 4)))
    assert lp_value(rowed, (1, 4)) == pytest.approx(lp_value(problem, (1, 4)))
    pinned = replace(problem, pinned=np.array([1, -1, -1, -1, -1, -1]))  # unit 0 must join zone 1
    assert lp_value(pinned, (1, 4)) > lp_value(problem, (1, 4))


def test_the_search_step_improves_a_plan_from_bad_centres_and_keeps_it_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(centre_swap, "MIN_UNITS", 0)
    rng = np.random.default_rng(3)
    problem = grid_problem(6, 6, n_zones=4, tolerance=0.1, demand=rng.gamma(2.0, 3.0, 36))
    centres = (0, 2, 12, 14)  # crowded in one corner
    out = solve_assignment(problem, centres, solver="highs", time_limit_s=30)
    assert out.labels is not None
    obj = plan_objective(problem, out.labels, centres)
    s = Search(problem, FAST, Budget(120), "highs", 0, 1, 1e-4, lambda _m: None, [])
    s.best = Found(out.labels, centres, obj, heuristic_report(problem, obj, "test"), source="milp")
    swap_search(s)
    assert s.best.objective < obj * 0.95
    assert meets_constraints(problem, s.best.labels, s.best.centres)
    off = Search(problem, FAST_SEEDED, Budget(120), "highs", 0, 1, 1e-4, lambda _m: None, [])
    off.best = Found(out.labels, centres, obj, heuristic_report(problem, obj, "test"), source="milp")
    swap_search(off)  # the method before the swaps does nothing here
    assert off.best.objective == obj


def test_the_swaps_run_at_county_scale_only() -> None:
    small = grid_problem(6, 6, n_zones=4, tolerance=0.1)
    assert not centre_swap.swaps_for(small, FAST)
    county = grid_problem(25, 25, n_zones=12, tolerance=0.1)
    assert centre_swap.swaps_for(county, FAST)
    assert not centre_swap.swaps_for(county, FAST_SEEDED)


def test_todays_centres_are_a_start_for_the_joint_moves(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under ``[continuity]`` today's centres seed the design; the joint moves must still be free
    to move them (the LP keeps the continuity cap and the pins). Before the mend the design passed
    every starting centre as fixed, so at county scale the moves did nothing."""
    from optimiser.districting import design_zones

    monkeypatch.setattr(centre_swap, "MIN_UNITS", 0)
    seen: list[frozenset[int]] = []
    real = centre_swap.swap_centres

    def spy(*args: object, **kwargs: object) -> centre_swap.SwapResult:
        seen.append(frozenset(kwargs.get("fixed", frozenset())))  # type: ignore[arg-type]
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(centre_swap, "swap_centres", spy)
    rng = np.random.default_rng(5)
    problem = grid_problem(6, 6, n_zones=4, tolerance=0.1, demand=rng.gamma(2.0, 3.0, 36))
    out = design_zones(problem, solver="highs", time_limit_s=60, initial_centres={0: 0, 1: 2, 2: 12, 3: 14})
    assert seen, "the joint moves did not run"
    assert all(not f for f in seen)
    assert meets_constraints(problem, out.labels, out.centres)
