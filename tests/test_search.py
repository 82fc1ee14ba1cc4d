"""Issue 12: the design's search (start, rounds, pairs), its verdicts, and its stoppable solves."""

from __future__ import annotations

import time
from functools import cache

import numpy as np
import pytest

import optimiser.isolated as isolated
import optimiser.search as search
from optimiser.assignment import AssignmentOutcome
from optimiser.budget import CLASSIC, FAST, Budget
from optimiser.checks import is_contiguous
from optimiser.construct import construct_start, meets_constraints
from optimiser.districting import (
    InfeasibleProblemError,
    NoPlanFoundError,
    design_zones,
    diagnose,
    plan_objective,
    weighted_kmedoids,
)
from optimiser.feasibility import FeasibilityOutcome, find_any_plan
from optimiser.problem import DistrictingProblem
from optimiser.reoptimise import reoptimise_pairs
from optimiser.solve import SolverReport, SolveStatus
from tests.conftest import grid_problem


def enumerate_optimum(problem: DistrictingProblem) -> float:
    """The best balanced contiguous plan by exhaustive enumeration (each zone at its best member
    centre): dynamic programming over bitmasks of units, for grids of up to ~16 units."""
    n, k = problem.n_units, problem.n_zones
    lower, upper = problem.load_bounds
    nbr = [0] * n
    for a, b in problem.edges.tolist():
        nbr[a] |= 1 << b
        nbr[b] |= 1 << a

    def connected(mask: int) -> bool:
        seen = frontier = mask & -mask
        while frontier:
            grow = 0
            m = frontier
            while m:
                low = m & -m
                grow |= nbr[low.bit_length() - 1]
                m ^= low
            frontier = grow & mask & ~seen
            seen |= frontier
        return seen == mask

    members = [np.array([i for i in range(n) if mask >> i & 1]) for mask in range(1 << n)]

    def zone_cost(mask: int) -> float:
        m = members[mask]
        load = float(problem.demand[m].sum())
        if load < lower - 1e-9 or load > upper + 1e-9 or not connected(mask):
            return np.inf
        return float(np.min(problem.demand[m] @ problem.cost[np.ix_(m, m)]))

    @cache
    def best(rest: int, zones: int) -> float:
        if zones == 1:
            return zone_cost(rest)
        low = rest & -rest
        out = np.inf
        sub = rest
        while sub:  # every submask of rest that holds its lowest unit
            if sub & low and sub != rest:
                c = zone_cost(sub)
                if np.isfinite(c):
                    out = min(out, c + best(rest ^ sub, zones - 1))
            sub = (sub - 1) & rest
        return out

    return best((1 << n) - 1, k)


CASES = [(3, 4, 2, 0.02, 0), (3, 4, 3, 0.05, 1), (3, 4, 3, 0.05, 3), (4, 4, 2, 0.02, 4), (3, 5, 3, 0.05, 5),
         (4, 4, 4, 0.10, 6), (4, 4, 3, 0.05, 7)]


@pytest.mark.parametrize(("rows", "cols", "k", "tol", "instance"), CASES)
def test_design_finds_the_enumerated_optimum(rows: int, cols: int, k: int, tol: float, instance: int) -> None:
    rng = np.random.default_rng(instance)
    problem = grid_problem(rows, cols, n_zones=k, tolerance=tol, demand=rng.integers(1, 6, rows * cols).astype(float))
    opt = enumerate_optimum(problem)
    if not np.isfinite(opt):
        pytest.skip("this random instance has no balanced contiguous plan")  # pragma: no cover - seeds chosen
    for seed in (0, 1, 2):
        res = design_zones(problem, solver="highs", time_limit_s=30, seed=seed)
        assert meets_constraints(problem, res.labels, res.centres)
        assert res.objective == pytest.approx(plan_objective(problem, res.labels, res.centres))
        assert res.objective >= opt - 1e-6  # the enumeration is exhaustive: nothing beats it
        assert res.objective == pytest.approx(opt, rel=1e-9), f"seed {seed}: {res.objective} vs optimum {opt}"


def test_constructive_start_is_balanced_and_contiguous() -> None:
    rng = np.random.default_rng(0)
    problem = grid_problem(8, 8, n_zones=5, tolerance=0.05, demand=rng.gamma(2.0, 3.0, 64))
    centres = weighted_kmedoids(problem, seed=0)
    start = construct_start(problem, centres)
    assert start.feasible
    assert is_contiguous(start.labels, problem.edges).passed
    lo, hi = problem.load_bounds
    loads = np.bincount(start.labels, weights=problem.demand, minlength=5)
    assert np.all(loads >= lo - 1e-9) and np.all(loads <= hi + 1e-9)
    assert start.objective == pytest.approx(plan_objective(problem, start.labels, start.centres))


def test_pair_reoptimisation_keeps_every_constraint_and_never_worsens() -> None:
    rng = np.random.default_rng(1)
    problem = grid_problem(6, 7, n_zones=4, tolerance=0.05, demand=rng.gamma(2.0, 3.0, 42))
    start = construct_start(problem, weighted_kmedoids(problem, seed=3), polish=False)
    assert start.feasible
    labels, centres = reoptimise_pairs(problem, start.labels, start.centres, solver="highs", budget=Budget(30))
    assert meets_constraints(problem, labels, centres)
    assert plan_objective(problem, labels, centres) <= start.objective + 1e-9


def test_classic_strategy_still_runs_for_comparison() -> None:
    problem = grid_problem(4, 4, n_zones=2, tolerance=0.0)
    fast = design_zones(problem, solver="highs", time_limit_s=20, strategy=FAST)
    classic = design_zones(problem, solver="highs", time_limit_s=20, strategy=CLASSIC)
    assert fast.objective <= classic.objective + 1e-9
    assert "k-medoids" in classic.method


def test_tolerance_is_printed_with_its_decimals() -> None:
    problem = grid_problem(1, 4, n_zones=2, tolerance=0.005, demand=np.array([1.0, 1.0, 10.0, 1.0]))
    assert any("+0.5%" in r for r in diagnose(problem)), diagnose(problem)


def test_feasibility_model_proves_or_finds() -> None:
    impossible = grid_problem(1, 4, n_zones=2, tolerance=0.0, demand=np.array([1.0, 1.0, 3.0, 1.0]))
    assert find_any_plan(impossible, solver="highs", time_limit_s=10).report.status is SolveStatus.INFEASIBLE
    possible = grid_problem(3, 3, n_zones=3, tolerance=0.0)
    out = find_any_plan(possible, solver="highs", time_limit_s=10)
    assert out.labels is not None and out.centres is not None
    assert meets_constraints(possible, out.labels, out.centres)


def _nothing(problem: DistrictingProblem, centres: tuple[int, ...], **_: object) -> AssignmentOutcome:
    report = SolverReport("highs", SolveStatus.NO_SOLUTION, "Time limit reached", None, None, None, 1.0, 1.0, 0, 0)
    return AssignmentOutcome(centres=tuple(centres), report=report, labels=None)


def test_no_plan_in_time_is_not_called_impossible(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = grid_problem(3, 3, n_zones=3, tolerance=0.0)
    monkeypatch.setattr(search, "ranked_starts", lambda *a, **k: ([], 0))
    monkeypatch.setattr(search, "solve_assignment_stoppable", _nothing)
    monkeypatch.setattr(search, "find_any_plan", lambda *a, **k: FeasibilityOutcome(
        report=_nothing(problem, (0, 1, 2)).report, labels=None))
    with pytest.raises(NoPlanFoundError, match="not proved impossible. Tried: (centres from the relaxation .*; )?centre set 1: no_solution") as err:
        design_zones(problem, solver="highs", time_limit_s=5)
    assert not isinstance(err.value, InfeasibleProblemError)


def test_first_round_without_a_plan_falls_back_to_the_whole_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = grid_problem(5, 6, n_zones=3, tolerance=0.0)  # above the exact model's size
    monkeypatch.setattr(search, "ranked_starts", lambda *a, **k: ([], 0))
    monkeypatch.setattr(search, "solve_assignment_stoppable", _nothing)
    res = design_zones(problem, solver="highs", time_limit_s=10)
    assert meets_constraints(problem, res.labels, res.centres)
    assert "feasibility model" in res.bound_scope  # the rounds' solves all came back empty
    assert "first plan" not in res.time_limited


def _slow_solve(*_: object, **__: object) -> None:
    time.sleep(30)


def _sleep(*, seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def test_a_solver_that_overruns_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(isolated, "solve_assignment", _slow_solve)  # the forked child inherits it
    problem = grid_problem(2, 2, n_zones=2, tolerance=0.0)
    t0 = time.perf_counter()
    out = isolated.solve_assignment_stoppable(problem, (0, 3), solver="highs", time_limit_s=0.5, grace_s=0.5)
    assert time.perf_counter() - t0 < 5.0
    assert out.labels is None and out.report.status is SolveStatus.NO_SOLUTION
    assert out.report.solver_status == isolated.STOPPED


def test_background_job_is_stopped_when_it_overruns() -> None:
    job = isolated.Background(_sleep, seconds=30)
    t0 = time.perf_counter()
    assert job.result(wait_s=0.3) is None
    assert time.perf_counter() - t0 < 5.0
    assert isolated.Background(_sleep, seconds=0.01).result(wait_s=10) == 0.01


def _fail(*, message: str) -> None:
    raise ValueError(message)


def test_background_errors_are_raised_by_result_and_silenced_by_stop() -> None:
    with pytest.raises(ValueError, match="boom"):
        isolated.Background(_fail, message="boom").result(wait_s=10)
    job = isolated.Background(_fail, message="boom")
    time.sleep(0.5)
    job.stop()  # the caller is already handling another error: nothing raised
