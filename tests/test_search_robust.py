"""Issue 12 (robust search): the group cache, shared branch capacity in group problems, the
capacity-aware polish, and the search's plans under them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import optimiser.reoptimise as reoptimise
from optimiser.budget import Budget
from optimiser.capacity_flow import max_cover
from optimiser.capacity_polish import polish_within_capacity, shortfall
from optimiser.construct import construct_start, meets_constraints
from optimiser.districting import best_centres, plan_objective, polish, weighted_kmedoids
from optimiser.families import move_centres
from optimiser.problem import BranchCapacity, DistrictingProblem
from optimiser.reoptimise import (
    GroupCache,
    adjacent_pairs,
    adjacent_triples,
    reoptimise_pairs,
    residual_capacity,
)
from tests.conftest import grid_problem


def with_branches(seed: int) -> DistrictingProblem:
    """A 6x6 grid, 4 zones (+/-20%), and 5 branches at random points whose capacity (1.1 x the
    demand in all) reaches units within 2.5 of them: capacity binds."""
    rng = np.random.default_rng(seed)
    problem = grid_problem(6, 6, n_zones=4, tolerance=0.2, demand=rng.gamma(2.0, 3.0, 36))
    xy = np.array([(r, c) for r in range(6) for c in range(6)], dtype=float)
    at = rng.uniform(0, 5, (5, 2))
    minutes = np.hypot(at[:, None, 0] - xy[None, :, 0], at[:, None, 1] - xy[None, :, 1])
    capacity = rng.dirichlet(np.ones(5)) * problem.demand.sum() * 1.1
    return replace(problem, branches=BranchCapacity(capacity, minutes, reach_min=2.5, margin=1.0))


def first_plan(problem: DistrictingProblem) -> tuple[np.ndarray, tuple[int, ...], float]:
    start = construct_start(problem, move_centres(problem, weighted_kmedoids(problem, seed=0)), polish=False)
    assert start.feasible
    return start.labels, start.centres, start.objective


def test_pairs_with_shared_capacity_stay_covered_where_pairs_without_it_do_not() -> None:
    problem = with_branches(2)
    labels, centres, objective = first_plan(problem)
    blind = reoptimise_pairs(problem, labels, centres, solver="highs", budget=Budget(30))
    assert not meets_constraints(problem, *blind)  # the pairs alone ignore branch capacity...
    assert np.any(shortfall(problem, *blind) > 0)
    shared = reoptimise_pairs(problem, labels, centres, solver="highs", budget=Budget(30), share_capacity=True)
    assert meets_constraints(problem, *shared)  # ...given what the other zones leave, they keep it
    assert plan_objective(problem, *shared) < objective - 1e-9


def test_residual_capacity_covers_the_other_zones_first() -> None:
    problem = with_branches(2)
    labels, centres, _ = first_plan(problem)
    assert problem.branches is not None
    left = residual_capacity(problem, labels, centres, (0, 1))
    assert left is not None
    assert np.all(left >= -1e-9) and np.all(left <= problem.branches.capacity + 1e-9)
    # the zones outside the group are covered by what the group does not get
    br = problem.branches
    need = br.margin * np.bincount(labels, weights=problem.demand, minlength=4)[[2, 3]]
    flow = max_cover(br.capacity - left, br.in_reach()[:, [centres[2], centres[3]]], need)
    np.testing.assert_allclose(flow.sum(axis=0), need, rtol=1e-7)


def test_capacity_aware_polish_keeps_an_improvement_the_plain_polish_loses() -> None:
    problem = with_branches(2)
    labels, centres, objective = first_plan(problem)
    plain = polish(problem, labels, centres, time_limit_s=5)
    assert plain is not None and plain.objective < objective
    assert not meets_constraints(problem, plain.labels, plain.centres)  # the plain polish breaks capacity
    res = polish_within_capacity(problem, labels, centres, time_limit_s=5)
    assert res is not None
    assert meets_constraints(problem, res.labels, res.centres)
    assert res.objective < objective - 1e-9


@pytest.mark.parametrize("seed", range(6))
def test_capacity_aware_polish_never_returns_a_plan_failing_the_checks(seed: int) -> None:
    problem = with_branches(seed)
    try:
        labels, centres, objective = first_plan(problem)
    except AssertionError:
        pytest.skip("no feasible constructive start for this grid")
    res = polish_within_capacity(problem, labels, centres, time_limit_s=5)
    if res is not None:
        assert meets_constraints(problem, res.labels, res.centres)
        assert plan_objective(problem, res.labels, res.centres) <= objective + 1e-9


def _two_disjoint_pairs(problem: DistrictingProblem, labels: np.ndarray) -> tuple[tuple[int, int], tuple[int, int]]:
    pairs = adjacent_pairs(problem, labels)
    for p in pairs:
        for q in pairs:
            if not set(p) & set(q):
                return p, q
    raise AssertionError(f"no two disjoint adjacent pairs among {pairs}")


def _move_one_unit(problem: DistrictingProblem, labels: np.ndarray, a: int, b: int) -> np.ndarray:
    """``labels`` with one unit on the border of zones ``a`` and ``b`` moved across it, keeping
    every constraint (the test problem's tolerance is wide)."""
    for i, j in problem.edges.tolist():
        for u, v in ((i, j), (j, i)):
            if {labels[u], labels[v]} == {a, b}:
                trial = labels.copy()
                trial[u] = labels[v]

                if meets_constraints(problem, trial, best_centres(problem, trial)):
                    return trial
    raise AssertionError("no unit can move")


def test_the_cache_skips_unchanged_pairs_and_resolves_changed_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    problem = grid_problem(6, 7, n_zones=4, tolerance=0.3, demand=rng.gamma(2.0, 3.0, 42))
    start = construct_start(problem, weighted_kmedoids(problem, seed=3), polish=False)
    cache = GroupCache()
    labels, centres = reoptimise_pairs(problem, start.labels, start.centres, solver="highs", budget=Budget(30),
                                       cache=cache)
    solved: list[frozenset[int]] = []
    real = reoptimise.improve_group

    def counted(sub: DistrictingProblem, *args: object, **kwargs: object) -> object:
        solved.append(frozenset(sub.unit_ids))
        return real(sub, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(reoptimise, "improve_group", counted)
    again = reoptimise_pairs(problem, labels, centres, solver="highs", budget=Budget(30), cache=cache)
    assert solved == []  # a converged plan: every pair is answered from the cache
    np.testing.assert_array_equal(again[0], labels)
    (a, b), (c, d) = _two_disjoint_pairs(problem, labels)
    moved = _move_one_unit(problem, labels, a, b)
    medoids = best_centres(problem, moved)
    moved_centres = tuple(medoids[z] if z in (a, b) else centres[z] for z in range(4))
    assert meets_constraints(problem, moved, moved_centres)
    hits = cache.hits
    reoptimise.reoptimise_groups(problem, moved, moved_centres, solver="highs", budget=Budget(30),
                                 groups=lambda _p, _l: [(c, d), (a, b)], passes=1, cache=cache)
    ab = frozenset(problem.label(int(u)) for u in np.flatnonzero(np.isin(moved, (a, b))))
    assert solved == [ab]  # the changed pair is solved again; the untouched one comes from the cache
    assert cache.hits == hits + 1


def test_triples_are_connected_groups_of_three() -> None:
    problem = grid_problem(1, 6, n_zones=3, tolerance=0.0)
    labels = np.array([0, 0, 1, 1, 2, 2])
    assert adjacent_pairs(problem, labels) == [(0, 1), (1, 2)]
    assert adjacent_triples(problem, labels) == [(0, 1, 2)]


def test_screening_goes_on_from_a_plan_no_worse_than_any_screened_round() -> None:
    import optimiser.search as search
    from optimiser.budget import FAST
    from optimiser.construct import ranked_starts
    from optimiser.screening import PAIRED, screen, screen_starts

    rng = np.random.default_rng(4)
    problem = grid_problem(7, 8, n_zones=4, tolerance=0.1, demand=rng.gamma(2.0, 3.0, 56))
    assert screen_starts(problem, FAST) == FAST.screen
    s = search.Search(problem, FAST, Budget(60), "highs", 0, 1, 1e-4, lambda _m: None, [])
    ranked, _ = ranked_starts(problem, [weighted_kmedoids(problem, seed=7919 * j) for j in range(8)], polish=True,
                              time_limit_s=30)
    feasible = [st for st in ranked if st.feasible]
    assert len(feasible) >= PAIRED
    first = feasible[0]
    s.best = search.Found(first.labels, first.centres, first.objective,
                          search.heuristic_report(problem, first.objective, "constructive start"), source="start")
    s.alternatives = tuple(feasible[1:])
    kept = screen(s)
    assert kept.best is not None
    assert meets_constraints(problem, kept.best.labels, kept.best.centres)
    screened = feasible[: FAST.screen]
    assert kept.best.objective <= min(st.objective for st in screened) + 1e-9  # rounds and pairs never worsen
    assert kept.best.objective == pytest.approx(plan_objective(problem, kept.best.labels, kept.best.centres))
