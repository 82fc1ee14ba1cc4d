"""Random small grids with random demand (hypothesis): whatever the optimiser returns is a plan
that passes every named check of its problem, or a refusal that says why.

The oracle is :func:`optimiser.families.plan_checks` (all assigned, contiguous, within bounds,
and any other family present), i.e. the checks the pipeline runs after every solve.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from optimiser.checks import all_assigned, is_contiguous, zone_loads, zones_within_bounds
from optimiser.districting import design_zones
from optimiser.errors import InfeasibleProblemError
from optimiser.families import plan_checks
from tests.conftest import grid_problem


@st.composite
def grids(draw: st.DrawFn) -> tuple[int, int, int, float, np.ndarray]:
    rows = draw(st.integers(1, 4))
    cols = draw(st.integers(2, 4))
    n_zones = draw(st.integers(1, min(4, rows * cols)))
    tolerance = draw(st.sampled_from([0.2, 0.5, 0.9]))
    demand = draw(st.lists(st.integers(0, 9), min_size=rows * cols, max_size=rows * cols))
    return rows, cols, n_zones, tolerance, np.asarray(demand, dtype=float) + 0.5


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(grids())
def test_every_plan_is_contiguous_within_bounds_and_complete(case: tuple[int, int, int, float, np.ndarray]) -> None:
    rows, cols, n_zones, tolerance, demand = case
    problem = grid_problem(rows, cols, n_zones=n_zones, tolerance=tolerance, demand=demand)
    try:
        res = design_zones(problem, solver="highs", time_limit_s=20, seed=1)
    except InfeasibleProblemError as exc:
        event("refused")
        assert exc.reasons and all(reason.strip() for reason in exc.reasons)  # a refusal names its reasons
        return
    event("planned")
    lower, upper = problem.zone_bounds()
    assert all_assigned(res.labels, n_units=rows * cols, n_zones=n_zones).passed
    assert is_contiguous(res.labels, problem.edges).passed
    assert zones_within_bounds(zone_loads(res.labels, problem.demand, n_zones), lower=lower, upper=upper).passed
    failed = [c for c in plan_checks(problem, res.labels, res.centres) if not c.passed]
    assert not failed, failed
    assert res.loads.sum() == np.float64(demand.sum())
