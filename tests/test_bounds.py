"""The Lagrangian lower bound: valid (never above an optimum) and close to the LP bound."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import linprog
from scipy.sparse import coo_matrix, vstack

from optimiser.bounds import knapsack_values, lagrangian_bound
from optimiser.districting import design_zones
from tests.conftest import grid_problem


def brute_force_optimum(demand: np.ndarray, cost: np.ndarray, k: int, lower: float, upper: float,
                        allowed: np.ndarray | None = None) -> float:
    """Best balanced partition into k zones, each at its best medoid, contiguity ignored
    (``allowed``: every zone centred at one of the allowed units it holds)."""
    n = demand.size
    ok = np.ones(n, dtype=bool) if allowed is None else allowed
    best = np.inf
    for labels in itertools.product(range(k), repeat=n):
        lab = np.array(labels)
        if np.unique(lab).size < k or lab[0] != 0:  # zone names are interchangeable
            continue
        loads = np.bincount(lab, weights=demand, minlength=k)
        if np.any(loads < lower - 1e-9) or np.any(loads > upper + 1e-9):
            continue
        total = 0.0
        for z in range(k):
            m = np.flatnonzero(lab == z)
            c = m[ok[m]]
            total += float(np.min(demand[m] @ cost[np.ix_(m, c)])) if c.size else np.inf
        best = min(best, total)
    return best


def lp_bound(demand: np.ndarray, cost: np.ndarray, k: int, lower: float, upper: float) -> float:
    """The LP relaxation of the balanced p-median (model of optimiser.bounds), by HiGHS."""
    n = demand.size
    nx = n * n
    idx = np.arange(nx).reshape(n, n)
    ii, jj = np.repeat(np.arange(n), n), np.tile(np.arange(n), n)
    ys = nx + np.arange(n)
    assign = coo_matrix((np.ones(nx), (ii, idx.ravel())), shape=(n, nx + n))
    link = coo_matrix((np.r_[np.ones(nx), -np.ones(nx)], (np.r_[np.arange(nx), np.arange(nx)], np.r_[idx.ravel(), nx + jj])), shape=(nx, nx + n))
    low = coo_matrix((np.r_[-demand[ii], lower * np.ones(n)], (np.r_[jj, np.arange(n)], np.r_[idx.ravel(), ys])), shape=(n, nx + n))
    high = coo_matrix((np.r_[demand[ii], -upper * np.ones(n)], (np.r_[jj, np.arange(n)], np.r_[idx.ravel(), ys])), shape=(n, nx + n))
    own = coo_matrix((np.r_[np.ones(n), -np.ones(n)], (np.r_[np.arange(n), np.arange(n)], np.r_[np.diag(idx), ys])), shape=(n, nx + n))
    count = coo_matrix((np.ones(n), (np.zeros(n, int), ys)), shape=(1, nx + n))
    res = linprog(
        np.r_[(demand[:, None] * cost).ravel(), np.zeros(n)],
        A_ub=vstack([link, low, high]).tocsr(), b_ub=np.zeros(nx + 2 * n),
        A_eq=vstack([assign, own, count]).tocsr(), b_eq=np.r_[np.ones(n), np.zeros(n), k],
        bounds=(0, 1), method="highs",
    )
    assert res.status == 0
    return float(res.fun)


def test_knapsack_values_match_an_lp_per_candidate() -> None:
    rng = np.random.default_rng(3)
    n = 9
    demand = rng.uniform(0.0, 3.0, n)
    demand[[2, 5]] = 0.0  # zero-demand units are free items
    cost = rng.uniform(0.0, 10.0, (n, n))
    lam = rng.normal(5.0, 8.0, n)
    lower, upper = 3.0, 6.0
    values, x = knapsack_values(demand, cost, lam, np.arange(n), lower=lower, upper=upper)
    for j in range(n):
        coef = demand * cost[:, j] - lam
        bounds = [(1.0, 1.0) if i == j else (0.0, 1.0) for i in range(n)]
        res = linprog(coef, A_ub=np.vstack([demand, -demand]), b_ub=[upper, -lower], bounds=bounds, method="highs")
        assert values[j] == pytest.approx(res.fun, abs=1e-9)
        assert float(coef @ x[:, j]) == pytest.approx(values[j], abs=1e-9)
        assert lower - 1e-9 <= demand @ x[:, j] <= upper + 1e-9
        assert x[j, j] == 1.0


def test_bound_never_exceeds_the_brute_force_optimum() -> None:
    rng = np.random.default_rng(11)
    for _ in range(4):
        n, k = 7, 2
        xy = rng.uniform(0, 10, (n, 2))
        cost = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) + 1.0
        demand = rng.uniform(0.5, 3.0, n)
        mean = demand.sum() / k
        lower, upper = 0.8 * mean, 1.2 * mean
        opt = brute_force_optimum(demand, cost, k, lower, upper)
        lp = lp_bound(demand, cost, k, lower, upper)
        res = lagrangian_bound(demand, cost, n_zones=k, lower=lower, upper=upper, target=opt, max_iter=2000)
        assert res.value <= lp + 1e-6 * lp  # weak duality: never above the LP bound
        assert lp <= opt + 1e-9
        assert res.value >= 0.99 * lp  # and close to it
        assert res.iterations >= 1 and res.seconds >= 0 and "Lagrangian" in res.method


def test_bound_is_close_to_the_lp_bound_on_a_grid() -> None:
    rng = np.random.default_rng(5)
    problem = grid_problem(6, 6, n_zones=4, tolerance=0.1, demand=rng.gamma(2.0, 5.0, 36))
    lower, upper = problem.load_bounds
    lp = lp_bound(problem.demand, problem.cost, 4, lower, upper)
    res = lagrangian_bound(problem.demand, problem.cost, n_zones=4, lower=lower, upper=upper, max_iter=3000)
    assert lp * 0.995 <= res.value <= lp * (1 + 1e-9)
    plan = design_zones(problem, solver="highs", time_limit_s=30)
    assert res.value <= plan.objective  # a bound for the contiguous problem as well


def test_restricted_candidates_say_what_they_cover() -> None:
    problem = grid_problem(3, 4, n_zones=2, tolerance=0.2)
    lower, upper = problem.load_bounds
    cand = np.array([1, 5, 6, 10])
    res = lagrangian_bound(problem.demand, problem.cost[:, cand], n_zones=2, lower=lower, upper=upper,
                           candidates=cand, max_iter=300)
    assert "4 candidate" in res.scope
    assert set(res.centres) <= set(cand.tolist())
    full = lagrangian_bound(problem.demand, problem.cost, n_zones=2, lower=lower, upper=upper, max_iter=300)
    assert "anywhere" in full.scope


def test_bad_inputs_are_refused() -> None:
    problem = grid_problem(2, 2, n_zones=2, tolerance=0.0)
    with pytest.raises(ValueError, match="candidate centres"):
        lagrangian_bound(problem.demand, problem.cost[:, :1], n_zones=2, lower=2, upper=2, candidates=np.array([0]))
    with pytest.raises(ValueError, match="exceeds"):
        lagrangian_bound(problem.demand, problem.cost, n_zones=2, lower=3, upper=2)


@pytest.mark.parametrize("instance", range(6))
@pytest.mark.parametrize("aim", ["plan", "none", "far"])
def test_bound_never_collapses_and_stays_near_the_lp(instance: int, aim: str) -> None:
    """Random small instances, the bound called as the pipeline calls it (no target, or a
    plan's objective as the target) and with a target far too high: within 1% of the LP."""
    rng = np.random.default_rng(100 + instance)
    n, k = int(rng.integers(8, 14)), int(rng.integers(2, 4))
    xy = rng.uniform(0, 10, (n, 2))
    cost = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) + rng.uniform(0.0, 1.0)
    demand = rng.gamma(2.0, 2.0, n)
    mean = demand.sum() / k
    lower, upper = 0.95 * mean, 1.05 * mean
    lp = lp_bound(demand, cost, k, lower, upper)
    target = {"plan": 1.1 * lp, "none": None, "far": 50.0 * lp}[aim]
    res = lagrangian_bound(demand, cost, n_zones=k, lower=lower, upper=upper, target=target, max_iter=3000)
    assert res.value <= lp * (1 + 1e-9)  # weak duality
    assert res.value >= 0.99 * lp, f"bound {res.value:.4f} vs LP {lp:.4f}"
    # the multipliers returned are the ones achieving the value
    values, _ = knapsack_values(demand, cost, res.multipliers, np.arange(n), lower=lower, upper=upper)
    assert float(res.multipliers.sum() + np.sort(values)[:k].sum()) == pytest.approx(res.value, rel=1e-9)


def test_partial_sort_gives_the_same_knapsacks() -> None:
    rng = np.random.default_rng(8)
    n = 60
    demand = rng.gamma(2.0, 2.0, n)
    demand[[3, 9]] = 0.0
    cost = rng.uniform(0.0, 10.0, (n, n))
    lam = rng.normal(10.0, 10.0, n)
    lower, upper = 0.9 * demand.sum() / 6, 1.1 * demand.sum() / 6
    full, x_full = knapsack_values(demand, cost, lam, np.arange(n), lower=lower, upper=upper)
    for rows in (5, 12, 30):
        part, x_part = knapsack_values(demand, cost, lam, np.arange(n), lower=lower, upper=upper, rows=rows)
        np.testing.assert_allclose(part, full, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(x_part, x_full, atol=1e-12)


def test_problem_bound_keeps_to_the_units_where_a_centre_may_stand() -> None:
    from dataclasses import replace

    from optimiser.bounds import problem_bound
    from optimiser.centre_bound import reduced_costs
    from optimiser.ladder import ladder_bound

    rng = np.random.default_rng(3)
    base = grid_problem(2, 4, n_zones=2, tolerance=0.2, demand=rng.uniform(0.5, 3.0, 8))
    allowed = np.zeros(8, dtype=bool)
    allowed[[0, 7]] = True  # hubs in two far corners: centres in the middle would be cheaper
    hubs = replace(base, centre_candidates=allowed)
    lower, upper = base.load_bounds
    opt = brute_force_optimum(base.demand, base.cost, 2, lower, upper, allowed)
    free = problem_bound(base, time_limit_s=10, max_iter=3000)
    kept = problem_bound(hubs, time_limit_s=10, max_iter=3000)
    assert kept.value <= opt * (1 + 1e-9)
    assert kept.value > free.value * 1.05  # the restriction raises the bound (measured here: 7.76 -> 11.46; optimum 12.73)
    assert set(kept.centres) <= {0, 7} and "centres at the 2 units where a centre may stand" in kept.scope
    lr, delta, _rc = reduced_costs(hubs, kept)
    assert np.all(np.isinf(delta[~allowed])) and lr <= opt * (1 + 1e-9)
    ladder = ladder_bound(hubs, kept, time_limit_s=5)
    assert kept.value <= ladder.bound.value <= opt * (1 + 1e-6)
