"""The branch and bound over the centres (optimiser.centre_bound): every estimate it fixes with
is a true lower estimate, and the bound it gives stays between the Lagrangian and the optimum."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import pytest

from optimiser.bounds import problem_bound
from optimiser.capacity_flow import allocate
from optimiser.centre_bound import (
    MIN_GAP,
    fix_cells,
    reduced_bound,
    reduced_costs,
    strengthen_bound,
    worth_trying,
)
from optimiser.problem import DistrictingProblem
from tests.test_bounds_capacity import balanced_partitions, random_flow_problem


def scattered(seed: int, *, n: int = 8, k: int = 3, tolerance: float = 0.15) -> DistrictingProblem:
    """n units scattered on a 10 x 10 square (cost = distance), gamma demand, K zones."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 10, (n, 2))
    cost = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    return DistrictingProblem(demand=rng.gamma(2.0, 1.0, n), cost=cost, n_zones=k, tolerance=tolerance,
                              edges=np.array([(i, i + 1) for i in range(n - 1)]))


def every_plan(p: DistrictingProblem) -> Iterator[tuple[np.ndarray, tuple[int, ...], float]]:
    """Every partition into K zones within the load window, with every choice of one own unit per
    zone as its centre, that meets the capacity balance when there is one (contiguity ignored)."""
    for lab, members in balanced_partitions(p):
        for centres in itertools.product(*members):
            if p.branches is not None and allocate(p, lab, list(centres)) is None:
                continue
            yield lab, centres, sum(float(p.demand[m] @ p.cost[m, c]) for m, c in zip(members, centres, strict=True))


CASES = [("scattered", s) for s in range(3)] + [("flow", s) for s in range(3)]


def case(kind: str, seed: int) -> DistrictingProblem:
    if kind == "scattered":
        return scattered(seed, n=7)
    rng = np.random.default_rng(700 + seed)
    for _ in range(20):  # draws until one admits a plan meeting the capacity balance
        p = random_flow_problem(rng)
        if next(every_plan(p), None) is not None:
            return p
    raise AssertionError("no draw admitted a plan")


@pytest.mark.parametrize(("kind", "seed"), CASES)
def test_reduced_costs_never_overestimate_a_plan(kind: str, seed: int) -> None:
    # LR + delta_j + rc_ij bounds every plan that puts unit i in a zone centred at j
    p = case(kind, seed)
    bound = problem_bound(p, time_limit_s=10.0)
    lr, delta, rc = reduced_costs(p, bound)
    assert lr == pytest.approx(bound.value, rel=1e-6, abs=1e-9)
    worst = np.inf
    for lab, centres, cost in every_plan(p):
        c = np.asarray(centres)[lab]
        estimate = lr + delta[c] + rc[c, np.arange(p.n_units)]
        worst = min(worst, float(cost - estimate.max()))
    assert worst >= -1e-7, worst


@pytest.mark.parametrize(("kind", "seed"), CASES)
def test_fixing_against_the_optimum_keeps_every_optimal_plan(kind: str, seed: int) -> None:
    p = case(kind, seed)
    plans = list(every_plan(p))
    opt = min(cost for _, _, cost in plans)
    fixing = fix_cells(p, problem_bound(p, time_limit_s=10.0), upper=opt)
    kept = set(zip(fixing.centres[fixing.cell_centre].tolist(), fixing.cell_unit.tolist(), strict=True))
    for lab, centres, cost in plans:
        if cost <= opt * (1 + 1e-9):
            c = np.asarray(centres)[lab]
            assert all((int(c[i]), i) in kept for i in range(p.n_units))


@pytest.mark.parametrize("seed", range(6))
def test_reduced_bound_lies_between_the_lagrangian_and_the_optimum(seed: int) -> None:
    p = scattered(seed)
    opt = min(cost for _, _, cost in every_plan(p))
    lag = problem_bound(p, time_limit_s=10.0)
    for upper in (opt, 1.2 * opt):
        res = reduced_bound(p, lag, upper=upper, time_limit_s=20.0)
        assert lag.value - 1e-9 <= res.value <= opt * (1 + 1e-9), (lag.value, res.value, opt)


def test_where_centres_split_in_the_lp_the_branch_and_bound_closes_most_of_the_gap() -> None:
    # seed 10: brute force 15.105, Lagrangian (= LP) 13.79; binary centres give 14.94
    p = scattered(10)
    opt = min(cost for _, _, cost in every_plan(p))
    lag = problem_bound(p, time_limit_s=10.0)
    assert opt > lag.value * (1 + 0.05)
    assert worth_trying(p, lag, upper=opt)
    res = strengthen_bound(p, lag, upper=opt, time_limit_s=20.0)
    assert lag.value * (1 + 0.05) < res.value <= opt * (1 + 1e-9)
    assert "branch and bound over the centres" in res.method and res.scope == lag.scope


def test_a_plan_close_to_the_bound_is_not_worth_a_solve() -> None:
    p = scattered(10)
    lag = problem_bound(p, time_limit_s=10.0)
    near = lag.value * (1 + MIN_GAP / 2)
    assert not worth_trying(p, lag, upper=near)
    assert strengthen_bound(p, lag, upper=near) is lag
    assert not worth_trying(p, lag, upper=2 * lag.value, max_cells=10)  # too many cells left


def test_the_run_raises_its_bound_only_when_time_is_left() -> None:
    import time
    from types import SimpleNamespace

    from zoning.pipeline import certify

    p = scattered(10)
    opt = min(cost for _, _, cost in every_plan(p))
    prep = SimpleNamespace(problem=p, scenario=SimpleNamespace(model=SimpleNamespace(certify_s=5.0)), timings={})
    plan = SimpleNamespace(objective=opt)
    raised = certify(prep, plan)  # type: ignore[arg-type]
    assert raised is not None and "branch and bound over the centres" in raised.method
    assert "bound_mip_s" in prep.timings
    lagrangian = problem_bound(p, time_limit_s=5.0, target=opt)
    assert lagrangian.value * (1 + 0.05) < raised.value <= opt * (1 + 1e-9)
    prep.timings.clear()
    late = certify(prep, plan, until=time.perf_counter())  # type: ignore[arg-type]
    assert late is not None and "branch and bound" not in late.method and "bound_mip_s" not in prep.timings


def test_a_failing_branch_and_bound_leaves_the_lagrangian_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    import optimiser.centre_bound as cb

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("solver gone")

    p = scattered(10)
    opt = min(cost for _, _, cost in every_plan(p))
    lag = problem_bound(p, time_limit_s=10.0)
    monkeypatch.setattr(cb, "reduced_bound", broken)
    assert strengthen_bound(p, lag, upper=opt, time_limit_s=5.0) is lag
