"""Issue 12 (county scale): kicks of the best plan (iterated local search, optimiser/kicks.py)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import optimiser.kicks as kicks
from optimiser.budget import FAST, FAST_SCREENED, Budget
from optimiser.construct import construct_start, meets_constraints
from optimiser.districting import plan_objective, polish, weighted_kmedoids
from optimiser.families import move_centres
from optimiser.problem import DistrictingProblem
from optimiser.reoptimise import reoptimise_pairs
from optimiser.search import Found, Search, heuristic_report
from tests.conftest import grid_problem
from tests.test_search import enumerate_optimum


def trap() -> DistrictingProblem:
    """A 4x4 grid, 4 zones (+/-10%), gamma demand: the pairs and the polish stop above the
    enumerated optimum from every k-medoid start (found by trying demand seeds 0-29)."""
    rng = np.random.default_rng(1)
    return grid_problem(4, 4, n_zones=4, tolerance=0.1, demand=rng.gamma(2.0, 3.0, 16))


def pair_optimum(problem: DistrictingProblem) -> tuple[np.ndarray, tuple[int, ...]]:
    """The old search's end: a constructive start, the pairs, the polish."""
    start = construct_start(problem, move_centres(problem, weighted_kmedoids(problem, seed=0)), polish=True)
    assert start.feasible
    labels, centres = reoptimise_pairs(problem, start.labels, start.centres, solver="highs", budget=Budget(30))
    res = polish(problem, labels, centres, time_limit_s=5)
    return (labels, centres) if res is None else (res.labels, res.centres)


def searched(problem: DistrictingProblem, labels: np.ndarray, centres: tuple[int, ...], *, n: int, seed: int = 0,
             budget_s: float = 60) -> Search:
    s = Search(problem, replace(FAST, kicks=n), Budget(budget_s), "highs", seed, 1, 1e-4, lambda _m: None, [])
    obj = plan_objective(problem, labels, centres)
    s.best = Found(labels, centres, obj, heuristic_report(problem, obj, "test"), source="milp")
    return s


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kicks_escape_a_local_optimum_the_pairs_stay_in(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    monkeypatch.setattr(kicks, "KICK_MIN_UNITS", 0)
    problem = trap()
    optimum = enumerate_optimum(problem)
    labels, centres = pair_optimum(problem)
    stuck = plan_objective(problem, labels, centres)
    assert stuck > optimum * 1.01  # the old search's plan is 2% above the optimum...
    again = reoptimise_pairs(problem, labels, centres, solver="highs", budget=Budget(30))
    assert plan_objective(problem, *again) == pytest.approx(stuck)  # ...and the pairs cannot leave it
    s = searched(problem, labels, centres, n=40, seed=seed)
    kicks.kick_search(s)
    assert s.best is not None
    assert s.best.objective == pytest.approx(optimum, rel=1e-9)  # the kicks find the enumerated optimum
    assert meets_constraints(problem, s.best.labels, s.best.centres)
    assert s.budget.binding == []


def test_kicks_depend_on_the_seed_not_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kicks, "KICK_MIN_UNITS", 0)
    problem = trap()
    labels, centres = pair_optimum(problem)
    plans = []
    for _ in range(2):
        s = searched(problem, labels, centres, n=6, seed=3)
        kicks.kick_search(s)
        assert s.best is not None
        plans.append(s.best.labels)
    assert np.array_equal(plans[0], plans[1])


def test_a_kicked_plan_keeps_every_constraint(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = trap()
    labels, centres = pair_optimum(problem)
    rng = np.random.default_rng(0)
    got = [kicks.kick(problem, labels, centres, g, solver="highs", rng=rng, seed=0)
           for g in kicks.kick_groups(problem, labels)]
    assert any(g is not None for g in got)
    for g in got:
        if g is not None:
            kicked, kicked_centres, zones = g
            assert len(zones) == 3 and meets_constraints(problem, kicked, kicked_centres)
            untouched = ~np.isin(labels, zones)
            assert np.array_equal(kicked[untouched], labels[untouched])  # only the triple is re-split


def test_the_clock_ends_the_kicks_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kicks, "KICK_MIN_UNITS", 0)
    problem = trap()
    labels, centres = pair_optimum(problem)
    s = searched(problem, labels, centres, n=50, budget_s=kicks.RESERVE_S - 0.5)
    kicks.kick_search(s)
    assert "kicks" in s.budget.binding
    assert s.best is not None and np.array_equal(s.best.labels, labels)


def test_kicks_run_at_county_scale_only_and_not_in_the_older_methods() -> None:
    problem = trap()
    assert kicks.kicks_for(problem, FAST) == 0  # 16 units: below KICK_MIN_UNITS
    big = grid_problem(25, 25, n_zones=12, tolerance=0.1)
    assert big.n_units >= kicks.KICK_MIN_UNITS
    assert kicks.kicks_for(big, FAST) == FAST.kicks > 0
    assert kicks.kicks_for(big, FAST_SCREENED) == 0
