"""The lazy evaluation of the bound's knapsacks (optimiser.knapsack.LazyKnapsacks): its estimates
never exceed the exact values, and it picks the same K smallest values as solving every candidate."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from optimiser.bounds import FlowRelaxation, knapsack_values, lagrangian_bound
from optimiser.capacity_prices import CapacityPrices
from optimiser.knapsack import LazyKnapsacks
from tests.test_bounds import brute_force_optimum, lp_bound


def instance(seed: int, *, n: int = 40, m: int = 40, zero: bool = True
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]:
    """Demand (some zero), (n, m) costs to m candidates, the candidates, L and per-candidate U_j
    (a few below L: those candidates can never hold a zone)."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 10, (n, 2))
    cost = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) + rng.uniform(0, 1, (n, n))
    demand = rng.gamma(2.0, 2.0, n)
    if zero:
        demand[rng.choice(n, 4, replace=False)] = 0.0
    candidates = np.sort(rng.choice(n, m, replace=False))
    lower = 0.8 * demand.sum() / 4
    upper = rng.uniform(0.9, 1.6, m) * demand.sum() / 4
    upper[:2] = 0.5 * lower
    return demand, cost[:, candidates], candidates, lower, upper


@pytest.mark.parametrize(("seed", "margin", "m", "per_branch"),
                         [(0, 0.0, 40, True), (1, 0.0, 25, True), (2, 1.3, 40, True), (3, 0.7, 30, True),
                          (4, 1.1, 30, False)])
def test_lazy_choice_is_the_full_choice_along_a_walk(seed: int, margin: float, m: int, per_branch: bool) -> None:
    demand, block, candidates, lower, upper = instance(seed, m=m)
    k = 4
    rng = np.random.default_rng(seed)
    prices = None
    if margin:  # five branches, each reaching some candidates; U_j as the bound narrows it
        reaches = rng.uniform(size=(5, m)) < 0.6
        reaches[0] = True
        capacity = rng.uniform(0.1, 0.4, 5) * demand.sum()
        prices = CapacityPrices(mu=np.zeros(5), capacity=capacity, reaches=reaches, margin=margin,
                                per_branch=per_branch)
        upper = np.minimum(upper, capacity @ reaches / margin)
    lazy = LazyKnapsacks(demand, np.ascontiguousarray(block.T), candidates, n_zones=k, lower=lower, upper=upper,
                         rows=None)
    lam = demand * np.median(block, axis=1)
    for step in range(60):
        full, x_full = knapsack_values(demand, block, lam, candidates, lower=lower, upper=upper, prices=prices)
        if step:  # the estimates bound every value from below, before any solve at these multipliers
            for estimate in (lazy.estimates(lam, prices), lazy.carried(lam, prices)):
                assert np.all(estimate <= full), (step, np.max(estimate - full))
        pick, values, x = lazy.evaluate(lam, prices)
        assert np.all(lazy.estimate <= full + 1e-10 * (np.abs(full) + 1))  # what it keeps for the next step
        assert np.all(np.isinf(full[:2]))  # U_j < L: never a zone
        assert values.sum() == pytest.approx(np.sort(full)[:k].sum(), rel=1e-12)
        np.testing.assert_array_equal(values, full[pick])
        np.testing.assert_allclose(x, x_full[:, pick], atol=1e-12)
        # just solved: the estimates of the solved candidates are tight (rho_j is the window's multiplier)
        np.testing.assert_allclose(lazy.estimates(lam, prices)[pick], values, rtol=1e-6)
        scale = 0.5 if step % 10 == 9 else 0.02  # small subgradient-like moves, and now and then a jump
        lam = lam + scale * rng.normal(0, 1, lam.size) * np.abs(lam).mean()
        if prices is not None:
            prices = replace(prices, mu=np.maximum(prices.mu + scale * rng.normal(0, 1, 5) * 5.0, 0.0))
    assert lazy.solved < 60 * m  # and it did not solve everything every time


def test_the_flat_price_is_the_cheapest_branch_for_every_hour() -> None:
    """``per_branch=False`` (the seeding's ranking): the knapsack with every hour of load priced at
    the cheapest branch in reach, i.e. the plain knapsack on costs raised by that price; never
    above the per-branch pricing."""
    demand, block, candidates, lower, upper = instance(7, m=20)
    rng = np.random.default_rng(7)
    reaches = rng.uniform(size=(4, 20)) < 0.7
    reaches[0] = True
    capacity = rng.uniform(0.1, 0.3, 4) * demand.sum()
    mu = rng.uniform(0.0, 2.0, 4)
    upper = np.minimum(upper, capacity @ reaches / 1.2)
    lam = demand * np.median(block, axis=1)
    flat = CapacityPrices(mu=mu, capacity=capacity, reaches=reaches, margin=1.2, per_branch=False)
    cheapest = np.where(reaches, mu[:, None], np.inf).min(axis=0)
    shifted, _ = knapsack_values(demand, block + 1.2 * cheapest[None, :], lam, candidates, lower=lower, upper=upper)
    values, _ = knapsack_values(demand, block, lam, candidates, lower=lower, upper=upper, prices=flat)
    np.testing.assert_allclose(values, shifted, rtol=1e-12)
    strong, _ = knapsack_values(demand, block, lam, candidates, lower=lower, upper=upper,
                                prices=replace(flat, per_branch=True))
    finite = np.isfinite(values)
    assert np.all(strong[finite] >= values[finite] - 1e-9 * np.abs(values[finite]))
    assert np.any(strong[finite] > values[finite] + 1e-6)  # a zone larger than its cheapest branch pays more


@pytest.mark.parametrize("seed", range(6))
def test_a_zone_pays_for_its_capacity_as_the_lp_does(seed: int) -> None:
    """Each knapsack with capacity prices is the LP of one zone: its units (fractional, the centre
    whole), its load window, and flows from the branches that reach it, each at most its capacity
    (HiGHS through scipy on the same numbers). Its dual at rho_j is the same value."""
    from scipy.optimize import linprog

    from optimiser.knapsack import knapsack_duals

    demand, block, candidates, lower, upper = instance(seed, m=12, zero=seed % 2 == 0)
    n, m = block.shape
    rng = np.random.default_rng(seed)
    b, margin = 6, 1.0 + 0.2 * seed
    reaches = rng.uniform(size=(b, m)) < 0.7
    capacity = rng.uniform(0.05, 0.2, b) * demand.sum()
    prices = CapacityPrices(mu=rng.uniform(0, 3, b) * (rng.uniform(size=b) < 0.8), capacity=capacity,
                            reaches=reaches, margin=margin)
    upper = np.minimum(upper, capacity @ reaches / margin)
    lam = demand * np.median(block, axis=1) * rng.uniform(0.5, 1.5, n)
    values, duals, _ = knapsack_duals(demand, np.ascontiguousarray(block.T), lam, candidates, lower=lower,
                                      upper=upper, prices=prices)
    for j in range(m):
        near = np.flatnonzero(reaches[:, j])
        c = np.concatenate([demand * block[:, j] - lam, prices.mu[near]])
        rows = [np.concatenate([-demand, np.zeros(near.size)]), np.concatenate([demand, np.zeros(near.size)]),
                np.concatenate([margin * demand, -np.ones(near.size)])]
        bounds = [(0.0, 1.0)] * n + [(0.0, float(capacity[r])) for r in near]
        bounds[candidates[j]] = (1.0, 1.0)
        res = linprog(c, A_ub=np.array(rows), b_ub=[-lower, upper[j], 0.0], bounds=bounds, method="highs")
        if not res.success:
            assert np.isinf(values[j]), (j, res.message, values[j])
            continue
        assert values[j] == pytest.approx(res.fun, rel=1e-9, abs=1e-7), j
        assert duals[j] == pytest.approx(res.fun, rel=1e-7, abs=1e-6), j


@pytest.mark.parametrize("seed", range(4))
def test_lazy_bound_follows_the_full_bound(seed: int) -> None:
    """Same multipliers every iteration, hence the same value, iterations and multipliers."""
    rng = np.random.default_rng(40 + seed)
    n, k = 36, 3
    demand, cost, _, _, _ = instance(seed, n=n, m=n, zero=seed % 2 == 0)
    lower, upper = 0.9 * demand.sum() / k, 1.1 * demand.sum() / k
    flow = None
    if seed >= 2:
        reaches = rng.uniform(size=(3, n)) < 0.6
        reaches[0] = True
        flow = FlowRelaxation(capacity=rng.uniform(0.3, 0.5, 3) * demand.sum(), reaches=reaches, margin=1.1)
    runs = [lagrangian_bound(demand, cost, n_zones=k, lower=lower, upper=upper, max_iter=400, flow=flow,
                             time_limit_s=60.0, lazy=lazy) for lazy in (True, False)]
    assert runs[0].iterations == runs[1].iterations
    assert runs[0].value == pytest.approx(runs[1].value, rel=1e-12)
    np.testing.assert_allclose(runs[0].multipliers, runs[1].multipliers, rtol=1e-9)
    assert runs[0].centres == runs[1].centres


@pytest.mark.parametrize("seed", range(3))
def test_lazy_bound_with_free_units_never_exceeds_the_optimum(seed: int) -> None:
    rng = np.random.default_rng(70 + seed)
    n, k = 7, 2
    xy = rng.uniform(0, 10, (n, 2))
    cost = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) + 1.0
    demand = rng.uniform(0.5, 3.0, n)
    demand[rng.choice(n, 2, replace=False)] = 0.0  # free units, possibly centres
    lower, upper = 0.8 * demand.sum() / k, 1.2 * demand.sum() / k
    opt = brute_force_optimum(demand, cost, k, lower, upper)
    lp = lp_bound(demand, cost, k, lower, upper)
    for target in (None, opt, 3 * opt):
        res = lagrangian_bound(demand, cost, n_zones=k, lower=lower, upper=upper, target=target, max_iter=2000)
        assert res.value <= lp * (1 + 1e-9) + 1e-9 and lp <= opt * (1 + 1e-9), (res.value, lp, opt)
        assert res.value >= 0.99 * lp
