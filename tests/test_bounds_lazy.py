"""The lazy evaluation of the bound's knapsacks (optimiser.knapsack.LazyKnapsacks): its estimates
never exceed the exact values, and it picks the same K smallest values as solving every candidate."""

from __future__ import annotations

import numpy as np
import pytest

from optimiser.bounds import FlowRelaxation, knapsack_values, lagrangian_bound
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


@pytest.mark.parametrize(("seed", "margin", "m"), [(0, 0.0, 40), (1, 0.0, 25), (2, 1.3, 40), (3, 0.7, 30)])
def test_lazy_choice_is_the_full_choice_along_a_walk(seed: int, margin: float, m: int) -> None:
    demand, block, candidates, lower, upper = instance(seed, m=m)
    k = 4
    rng = np.random.default_rng(seed)
    lazy = LazyKnapsacks(demand, np.ascontiguousarray(block.T), candidates, n_zones=k, lower=lower, upper=upper,
                         margin=margin, rows=None)
    lam = demand * np.median(block, axis=1)
    price = np.zeros(m)
    for step in range(60):
        full, x_full = knapsack_values(demand, block + margin * price[None, :], lam, candidates, lower=lower,
                                       upper=upper)
        if step:  # the estimates bound every value from below, before any solve at these multipliers
            for estimate in (lazy.estimates(lam, price), lazy.carried(lam, price)):
                assert np.all(estimate <= full), (step, np.max(estimate - full))
        pick, values, x = lazy.evaluate(lam, price)
        assert np.all(lazy.estimate <= full + 1e-10 * (np.abs(full) + 1))  # what it keeps for the next step
        assert np.all(np.isinf(full[:2]))  # U_j < L: never a zone
        assert values.sum() == pytest.approx(np.sort(full)[:k].sum(), rel=1e-12)
        np.testing.assert_array_equal(values, full[pick])
        np.testing.assert_allclose(x, x_full[:, pick], atol=1e-12)
        # just solved: the estimates of the solved candidates are tight (rho_j is the window's multiplier)
        np.testing.assert_allclose(lazy.estimates(lam, price)[pick], values, rtol=1e-6)
        scale = 0.5 if step % 10 == 9 else 0.02  # small subgradient-like moves, and now and then a jump
        lam = lam + scale * rng.normal(0, 1, lam.size) * np.abs(lam).mean()
        price = np.maximum(price + scale * rng.normal(0, 1, m) * 5.0, 0.0) if margin else price
    assert lazy.solved < 60 * m  # and it did not solve everything every time


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
