"""Contiguity-preserving local search: known better neighbours and invariants."""

from __future__ import annotations

import numpy as np
import pytest

from optimiser.checks import all_assigned, is_contiguous, within_bounds, zone_loads
from optimiser.districting import design_zones, plan_objective
from optimiser.local_search import DenseCost, ResourceBounds, local_search
from tests.conftest import grid_problem


def path_cost(x: list[float]) -> np.ndarray:
    pos = np.asarray(x, dtype=float)
    return np.abs(pos[:, None] - pos[None, :])


def test_a_boundary_unit_moves_to_the_nearer_zone() -> None:
    # units at x = 0, 1, 5, 6 on a path; unit 1 starts in the far zone
    cost, demand, edges = path_cost([0, 1, 5, 6]), np.ones(4), np.array([(0, 1), (1, 2), (2, 3)])
    bounds = ResourceBounds.balance(demand, n_zones=2, tolerance=0.5)  # 1..3 units a zone
    res = local_search(np.array([0, 1, 1, 1]), weights=demand, cost=cost, edges=edges, bounds=bounds)
    assert res.initial_objective == pytest.approx(5.0)  # {1,2,3} centred at 2: 4 + 0 + 1
    assert res.labels.tolist() == [0, 0, 1, 1]
    assert res.objective == pytest.approx(2.0)
    assert res.moves == 1


def test_a_locked_unit_never_moves() -> None:
    cost, demand, edges = path_cost([0, 1, 5, 6]), np.ones(4), np.array([(0, 1), (1, 2), (2, 3)])
    bounds = ResourceBounds.balance(demand, n_zones=2, tolerance=0.5)
    movable = np.array([True, False, True, True])
    res = local_search(np.array([0, 1, 1, 1]), weights=demand, cost=cost, edges=edges, bounds=bounds, movable=movable)
    assert res.labels[1] == 1
    allowed = np.ones((4, 2), dtype=bool)
    allowed[1, 0] = False  # a travel limit forbids unit 1 in zone 0
    res = local_search(np.array([0, 1, 1, 1]), weights=demand, cost=cost, edges=edges, bounds=bounds, allowed=allowed)
    assert res.labels[1] == 1


def test_the_donor_zone_stays_connected() -> None:
    # unit 2 joins 1 and 3 (zone B, centre 3) and borders zone A = {0} (centre 0); moving it to A
    # would gain 9.5 minutes but cut B in two, so it must stay. Edges: 0-2, 1-2, 2-3.
    cost = np.full((4, 4), 10.0)
    np.fill_diagonal(cost, 0.0)
    cost[2, 0] = 0.5  # a fast road from unit 2 to zone A's centre
    cost[1, 3] = cost[1, 2] = cost[2, 3] = 1.0
    demand = np.ones(4)
    bounds = ResourceBounds(amounts=demand[None, :], lower=np.array([[1.0, 1.0]]), upper=np.array([[3.0, 3.0]]))
    start = np.array([0, 1, 1, 1])
    cut = np.array([(0, 2), (1, 2), (2, 3)])
    res = local_search(start, weights=demand, cost=cost, edges=cut, bounds=bounds, centres=(0, 3), swaps=False)
    assert res.moves == 0 and res.labels.tolist() == [0, 1, 1, 1]
    assert is_contiguous(res.labels, cut).passed
    # control: with a road 1-3 the same move keeps B connected, and it is made
    linked = np.array([(0, 2), (1, 2), (2, 3), (1, 3)])
    ctl = local_search(start, weights=demand, cost=cost, edges=linked, bounds=bounds, centres=(0, 3), swaps=False)
    assert ctl.moves >= 1 and ctl.labels[2] == 0
    assert is_contiguous(ctl.labels, linked).passed


def test_a_swap_unblocks_an_exactly_balanced_plan() -> None:
    # 2 x 3 grid   0 1 2 / 3 4 5 ; zones of exactly 3 units, so only swaps can improve
    edges = np.array([(0, 1), (1, 2), (3, 4), (4, 5), (0, 3), (1, 4), (2, 5)])
    xy = np.array([(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1)], dtype=float)
    cost = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    cost[4, 0], cost[4, 2], cost[1, 0], cost[1, 2] = 5.0, 1.0, 1.0, 5.0
    demand = np.ones(6)
    bounds = ResourceBounds.balance(demand, n_zones=2, tolerance=0.0)
    start = np.array([0, 1, 1, 0, 0, 1])  # A = {0, 3, 4}, B = {1, 2, 5}
    res = local_search(start, weights=demand, cost=cost, edges=edges, bounds=bounds, centres=(0, 2))
    assert res.swaps >= 1
    assert res.labels.tolist() == [0, 0, 1, 0, 1, 1]
    assert res.objective == pytest.approx(4.0)
    no_swaps = local_search(start, weights=demand, cost=cost, edges=edges, bounds=bounds, centres=(0, 2), swaps=False)
    assert no_swaps.objective > res.objective


def test_infeasible_starts_are_refused() -> None:
    cost, demand, edges = path_cost([0, 1, 2, 3]), np.ones(4), np.array([(0, 1), (1, 2), (2, 3)])
    bounds = ResourceBounds.balance(demand, n_zones=2, tolerance=0.0)
    with pytest.raises(ValueError, match="not contiguous"):
        local_search(np.array([0, 1, 1, 0]), weights=demand, cost=cost, edges=edges, bounds=bounds)
    with pytest.raises(ValueError, match="outside their bounds"):
        local_search(np.array([0, 1, 1, 1]), weights=demand, cost=cost, edges=edges, bounds=bounds)
    with pytest.raises(ValueError, match="own units"):
        local_search(np.array([0, 0, 1, 1]), weights=demand, cost=cost, edges=edges, bounds=bounds, centres=(2, 0))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_invariants_hold_with_cohort_bounds_locks_and_masks(seed: int) -> None:
    rng = np.random.default_rng(seed)
    problem = grid_problem(8, 8, n_zones=4, tolerance=0.15, demand=rng.gamma(2.0, 5.0, 64))
    start = design_zones(problem, solver="highs", time_limit_s=30, max_rounds=1)
    cohort = problem.demand * rng.uniform(0.0, 0.5, 64)  # e.g. children's hours
    amounts = np.vstack([problem.demand, cohort])
    loads0 = np.vstack([zone_loads(start.labels, row, 4) for row in amounts])
    lower, upper = problem.load_bounds
    bounds = ResourceBounds(
        amounts=amounts,
        lower=np.vstack([np.full(4, lower), loads0[1] * 0.9]),
        upper=np.vstack([np.full(4, upper), loads0[1] * 1.1]),
    )
    movable = rng.uniform(size=64) > 0.2
    allowed = np.ones((64, 4), dtype=bool)
    far = problem.cost[:, list(start.centres)] > 5.0
    allowed &= ~far
    allowed[np.arange(64), start.labels] = True  # the start is allowed
    runs = [
        local_search(start.labels, weights=problem.demand, cost=DenseCost(problem.cost), edges=problem.edges,
                     bounds=bounds, centres=start.centres, movable=movable, allowed=allowed)
        for _ in range(2)
    ]
    res = runs[0]
    assert np.array_equal(runs[0].labels, runs[1].labels)  # deterministic
    assert all_assigned(res.labels, n_units=64, n_zones=4).passed
    assert is_contiguous(res.labels, problem.edges).passed
    for r, row in enumerate(amounts):
        assert within_bounds(zone_loads(res.labels, row, 4), lower=bounds.lower[r].min(), upper=bounds.upper[r].max()).passed
        loads = zone_loads(res.labels, row, 4)
        assert np.all(loads >= bounds.lower[r] - 1e-9) and np.all(loads <= bounds.upper[r] + 1e-9)
    assert np.array_equal(res.labels[~movable], start.labels[~movable])
    assert allowed[np.arange(64), res.labels].all()
    assert res.objective == pytest.approx(plan_objective(problem, res.labels, res.centres))
    assert res.objective <= start.objective + 1e-9
    assert all(res.labels[c] == z for z, c in enumerate(res.centres))


def test_repair_bounds_brings_an_underloaded_zone_back_contiguously() -> None:
    from optimiser.repair import repair_bounds

    cost, demand, edges = path_cost([0, 1, 2, 3, 4, 5]), np.ones(6), np.array([(i, i + 1) for i in range(5)])
    bounds = ResourceBounds.balance(demand, n_zones=2, tolerance=0.0)  # exactly 3 units each
    labels = repair_bounds(np.array([0, 1, 1, 1, 1, 1]), weights=demand, cost=cost, edges=edges, bounds=bounds)
    assert labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert is_contiguous(labels, edges).passed
    with pytest.raises(ValueError, match="contiguous"):
        repair_bounds(np.array([0, 1, 0, 1, 1, 1]), weights=demand, cost=cost, edges=edges, bounds=bounds)
