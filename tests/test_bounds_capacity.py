"""The certified bound with the capacity balance (rows (6)-(7) of optimiser.bounds): valid
for every plan that meets the family, and stronger than the bound without it when capacity binds."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest

from optimiser.bounds import FlowRelaxation, lagrangian_bound, problem_bound
from optimiser.capacity_flow import allocate
from optimiser.problem import BranchCapacity, DistrictingProblem

POS = np.array([0.0, 1.0, 3.0, 4.0])
FAR = 100.0


def row_problem(branches: BranchCapacity | None) -> DistrictingProblem:
    """Four units at 0, 1, 3, 4 (cost = distance), demand 1 each, 2 zones with loads in [1, 3]."""
    return DistrictingProblem(demand=np.ones(4), cost=np.abs(np.subtract.outer(POS, POS)),
                              edges=np.array([(0, 1), (1, 2), (2, 3)]), n_zones=2, tolerance=0.5,
                              edge_length=np.ones(3), branches=branches)


def balanced_partitions(p: DistrictingProblem) -> Iterator[tuple[np.ndarray, list[np.ndarray]]]:
    """Every partition into K zones within the load window (zone names interchangeable:
    unit 0 is in zone 0), with each zone's members; contiguity ignored."""
    n, k = p.n_units, p.n_zones
    lo, hi = p.zone_bounds()
    for labels in itertools.product(range(k), repeat=n):
        lab = np.array(labels)
        if lab[0] != 0 or np.unique(lab).size < k:
            continue
        loads = np.bincount(lab, weights=p.demand, minlength=k)
        if np.any(loads < lo - 1e-9) or np.any(loads > hi + 1e-9):
            continue
        yield lab, [np.flatnonzero(lab == z) for z in range(k)]


def best_plan_meeting_flow(p: DistrictingProblem) -> float:
    """Every partition into K zones in the load window, each zone at any of its own units as
    centre, kept when a flow covers every zone (contiguity ignored: the bound ignores it too)."""
    best = np.inf
    for lab, members in balanced_partitions(p):
        combos = sorted(itertools.product(*members),
                        key=lambda cs: sum(float(p.demand[m] @ p.cost[m, c]) for m, c in zip(members, cs, strict=True)))
        for centres in combos:
            cost = sum(float(p.demand[m] @ p.cost[m, c]) for m, c in zip(members, centres, strict=True))
            if cost >= best:
                break
            if allocate(p, lab, list(centres)) is not None:
                best = cost
                break
    return best


def test_capacity_that_binds_raises_the_bound_to_the_optimum() -> None:
    # Branch A (3 h) reaches only the west centres, B (1 h) only the east: the east zone can hold
    # one unit, so the best plan is {0,1,2} + {3} at cost 3 (without capacity {0,1} + {2,3}: 2).
    br = BranchCapacity(np.array([3.0, 1.0]), np.array([[5, 5, FAR, FAR], [FAR, FAR, 5, 5]]), reach_min=10.0,
                        margin=1.0)
    with_flow, without = row_problem(br), row_problem(None)
    assert best_plan_meeting_flow(with_flow) == pytest.approx(3.0)
    plain = problem_bound(without, time_limit_s=10.0)
    capped = problem_bound(with_flow, time_limit_s=10.0)
    assert plain.value <= 2.0 + 1e-9
    assert 2.0 + 0.5 < capped.value <= 3.0 + 1e-9, capped.value
    assert "capacity balance" in capped.scope and "capacity balance" not in plain.scope


def random_flow_problem(rng: np.random.Generator) -> DistrictingProblem:
    n, k = 7, 2
    xy = rng.uniform(0, 10, (n, 2))
    cost = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    demand = rng.gamma(2.0, 1.0, n)
    n_branches = int(rng.integers(2, 4))
    minutes = rng.uniform(0, 20, (n_branches, n))
    capacity = rng.uniform(0.3, 0.9, n_branches) * demand.sum()
    br = BranchCapacity(capacity, minutes, reach_min=10.0, margin=1.0)
    return DistrictingProblem(demand=demand, cost=cost, edges=np.array([(i, i + 1) for i in range(n - 1)]),
                              n_zones=k, tolerance=0.4, branches=br)


@pytest.mark.parametrize("instance", range(6))
def test_bound_with_capacity_never_exceeds_the_best_plan(instance: int) -> None:
    rng = np.random.default_rng(500 + instance)
    for _ in range(20):  # draws until one admits a plan meeting the capacity balance
        p = random_flow_problem(rng)
        opt = best_plan_meeting_flow(p)
        if np.isfinite(opt):
            break
    assert np.isfinite(opt), "no draw admitted a plan"
    for target in (None, 1.05 * opt, 3.0 * opt):
        res = problem_bound(p, time_limit_s=10.0, target=target)
        assert res.value <= opt * (1 + 1e-9) + 1e-9, (res.value, opt, target)
    plain = problem_bound(replace(p, branches=None), time_limit_s=10.0)
    assert res.value >= plain.value - 0.01 * opt  # never meaningfully weaker than without capacity


def test_a_centre_no_branch_reaches_cannot_hold_a_zone() -> None:
    demand, cost = np.ones(4), np.abs(np.subtract.outer(POS, POS))
    flow = FlowRelaxation(capacity=np.array([10.0]), reaches=np.array([[True, False, False, False]]), margin=1.0)
    with pytest.raises(ValueError, match="provider capacity"):
        lagrangian_bound(demand, cost, n_zones=2, lower=1.0, upper=3.0, flow=flow, max_iter=5)
    np.testing.assert_allclose(flow.column_upper(3.0), [3.0, 0.0, 0.0, 0.0])


def test_a_bound_asked_to_stop_hands_over_its_best_so_far() -> None:
    """The pipeline's background bound: after ``wait_s`` it is asked to stop and answers with the
    best bound so far (not None, not after its own 60 s limit)."""
    import time

    from optimiser.ladder import start_certified_bound
    from tests.conftest import grid_problem

    p = grid_problem(20, 20, n_zones=8, tolerance=0.05)
    t0 = time.perf_counter()
    job = start_certified_bound(p, time_limit_s=60.0, ladder=False)
    res = job.result(wait_s=1.0, ask_s=10.0)
    assert res is not None and res.time_limited and res.iterations > 0
    assert time.perf_counter() - t0 < 10.0
    # the same iterations, stopped sooner: never above the bound of the longer run
    assert 0.0 < res.value <= problem_bound(p, time_limit_s=30.0, max_iter=10**7).value * (1 + 1e-12)


def test_both_multipliers_warm_start_the_bound() -> None:
    """Started from a bound's own multipliers (lambda and mu), one iteration gives its value back."""
    br = BranchCapacity(np.array([3.0, 1.0]), np.array([[5, 5, FAR, FAR], [FAR, FAR, 5, 5]]), reach_min=10.0,
                        margin=1.0)
    p = row_problem(br)
    res = problem_bound(p, time_limit_s=10.0)
    assert res.capacity_multipliers is not None and res.capacity_multipliers.max() > 0  # capacity is priced
    lo, hi = p.zone_bounds()
    flow = FlowRelaxation(capacity=br.capacity, reaches=br.in_reach(), margin=1.0)
    again = lagrangian_bound(p.demand, p.cost, n_zones=2, lower=float(lo.min()), upper=float(hi.max()), flow=flow,
                             max_iter=1, initial_multipliers=res.multipliers,
                             initial_capacity_multipliers=res.capacity_multipliers)
    assert again.value == pytest.approx(res.value, rel=1e-9)
    cold = lagrangian_bound(p.demand, p.cost, n_zones=2, lower=float(lo.min()), upper=float(hi.max()), flow=flow,
                            max_iter=1, initial_multipliers=res.multipliers)
    assert cold.value <= res.value + 1e-9  # without mu the same lambda prices capacity at nothing: never above


def scattered_capacity_problem(seed: int) -> DistrictingProblem:
    """30 units, 3 zones within +/-10%, and 6 branches with short reaches (4 minutes) holding about 1.3 times
    the demand between them: each zone can draw only on the few branches near its centre."""
    rng = np.random.default_rng(seed)
    n = 30
    xy = rng.uniform(0, 10, (n, 2))
    cost = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    demand = rng.gamma(2.0, 1.0, n)
    branch_xy = rng.uniform(0, 10, (6, 2))
    minutes = np.hypot(*(branch_xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    capacity = rng.uniform(0.5, 1.5, 6) * demand.sum() * 1.3 / 6
    return DistrictingProblem(demand=demand, cost=cost, edges=np.array([(i, i + 1) for i in range(n - 1)]),
                              n_zones=3, tolerance=0.1,
                              branches=BranchCapacity(capacity, minutes, reach_min=4.0, margin=1.0))


def lp_relaxation(p: DistrictingProblem) -> float | None:
    """HiGHS on the LP relaxation of the bounded model, rows (1)-(8) (optimiser.seeding.centre_model)."""
    import highspy

    from optimiser.seeding import centre_model

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    # one thread, as everywhere in carezones: HiGHS's thread pool is global to the process, and a
    # later solve asking for fewer threads than the pool was started with fails at once
    h.setOptionValue("threads", 1)
    h.passModel(centre_model(p, np.arange(p.n_units), binary="none"))
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return float(h.getInfo().objective_function_value)


@pytest.mark.parametrize("seed", range(6))
def test_the_bound_converges_to_the_lp_where_each_branch_holds_only_its_own(seed: int) -> None:
    """Each zone draws on each branch at most its capacity (row (8)): the Lagrangian reaches the
    LP with that row (within 0.1%) and never exceeds it. Pricing every hour of a zone at its
    cheapest branch, as before, stayed below it wherever capacity binds."""
    p = scattered_capacity_problem(seed)
    lp = lp_relaxation(p)
    if lp is None:
        pytest.skip("no fractional plan meets the capacity balance in this draw")
    res = problem_bound(p, time_limit_s=20.0, max_iter=20_000)
    assert res.value <= lp * (1 + 1e-7) + 1e-9, (res.value, lp)
    assert res.value >= 0.999 * lp, (res.value, lp)
