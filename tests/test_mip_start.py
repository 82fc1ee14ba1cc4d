"""A MIP start that is contiguous but not star-shaped is kept by the fixed-centre model
(optimiser.assignment.start_order).

Constraint (5) lets a unit join a zone only with a member neighbour strictly closer to the
centre. The constructive starts and the local search make plans that are contiguous but need not
be star-shaped, and HiGHS rejects a start that breaks one row: on Kent at 25 zones every round
then ran its 20 s cap from nothing. Under ``start_order`` the start meets every row.
"""

from __future__ import annotations

import numpy as np
import pulp
import pytest

from optimiser.assignment import (
    build_assignment_model,
    shortest_path_lengths,
    solve_assignment,
    star_zones,
)
from optimiser.checks import is_contiguous
from optimiser.districting import plan_objective
from tests.conftest import grid_problem

# 3 x 3 grid, units row-major. Zone 0 (centre 0) is the U 0-1-2-5-8-7; zone 1 (centre 3) is 3, 4, 6.
# Unit 7 is 3 steps from unit 0 but its only neighbour in zone 0 (unit 8) is 4 steps away.
U_PLAN = np.array([0, 0, 0, 1, 1, 0, 1, 0, 0])
U_CENTRES = (0, 3)


def broken_rows(model: pulp.LpProblem) -> list[str]:
    out = []
    for row in model.constraints():
        name, value = row.name, row.value()
        if value is None:
            continue
        if ((row.sense == pulp.LpConstraintLE and value > 1e-9) or (row.sense == pulp.LpConstraintGE and value < -1e-9)
                or (row.sense == pulp.LpConstraintEQ and abs(value) > 1e-9)):
            out.append(name)
    return out


def offer(model: pulp.LpProblem, x: dict[tuple[int, int], pulp.LpVariable], labels: np.ndarray) -> list[int]:
    """Set the start on ``x``; returns the units whose own variable the model lacks."""
    for (i, z), var in x.items():
        var.setInitialValue(1.0 if labels[i] == z else 0.0)
    return [i for i in range(labels.size) if (i, int(labels[i])) not in x]


def test_a_contiguous_start_that_is_not_star_shaped_breaks_the_plain_model() -> None:
    problem = grid_problem(3, 3, n_zones=2, tolerance=0.5)
    g = shortest_path_lengths(problem, U_CENTRES)
    assert star_zones(problem, U_CENTRES, U_PLAN, g).tolist() == [False, True]
    model, x = build_assignment_model(problem, U_CENTRES)
    assert offer(model, x, U_PLAN) or any(n.startswith("contig_") for n in broken_rows(model))


def test_the_start_meets_every_row_of_the_model_built_for_it() -> None:
    problem = grid_problem(3, 3, n_zones=2, tolerance=0.5)
    model, x = build_assignment_model(problem, U_CENTRES, start_labels=U_PLAN)
    assert offer(model, x, U_PLAN) == []
    assert broken_rows(model) == []


@pytest.mark.parametrize("seed", range(6))
def test_every_plan_of_the_start_model_is_contiguous_and_no_worse_than_the_start(seed: int) -> None:
    """Random contiguous starts on a grid, grown like snakes from random centres so that some zone
    is not star-shaped: the model built for each accepts it and its optimum is a contiguous plan
    no dearer."""
    rng = np.random.default_rng(seed)
    problem = grid_problem(5, 6, n_zones=3, tolerance=0.6, demand=rng.gamma(2.0, 2.0, 30))
    neighbours = problem.neighbours()
    lo, hi = problem.zone_bounds()
    for _ in range(500):  # snake-like growth from random centres until a start is in balance and not star-shaped
        centres = tuple(int(c) for c in rng.choice(30, size=3, replace=False))
        labels = np.full(30, -1)
        labels[list(centres)] = [0, 1, 2]
        last = list(centres)
        while (labels < 0).any():  # contiguous zones of any shape, mostly grown from their newest unit
            z = int(rng.integers(3))
            tips = [i for i in neighbours[last[z]] if labels[i] < 0] if rng.random() < 0.8 else []
            if not tips:
                tips = [i for i in np.flatnonzero(labels < 0) if any(labels[j] == z for j in neighbours[i])]
            if tips:
                last[z] = int(tips[int(rng.integers(len(tips)))])
                labels[last[z]] = z
        loads = np.bincount(labels, weights=problem.demand, minlength=3)
        g = shortest_path_lengths(problem, centres)
        if ((loads >= lo - 1e-9) & (loads <= hi + 1e-9)).all() and not star_zones(problem, centres, labels, g).all():
            break
    else:
        pytest.fail("no balanced start that is not star-shaped in 500 tries")
    model, x = build_assignment_model(problem, centres, start_labels=labels)
    assert offer(model, x, labels) == [] and broken_rows(model) == []
    out = solve_assignment(problem, centres, solver="highs", time_limit_s=20, start_labels=labels)
    assert out.labels is not None
    assert is_contiguous(out.labels, problem.edges).passed
    assert plan_objective(problem, out.labels, centres) <= plan_objective(problem, labels, centres) + 1e-9


def test_the_model_is_unchanged_when_the_start_is_star_shaped() -> None:
    problem = grid_problem(3, 3, n_zones=2, tolerance=0.5)
    star = np.array([0, 0, 0, 1, 0, 0, 1, 1, 1])  # rows: zone 0 holds the top two rows but unit 3
    plain, _ = build_assignment_model(problem, (0, 6))
    started, _ = build_assignment_model(problem, (0, 6), start_labels=star)
    assert star_zones(problem, (0, 6), star, shortest_path_lengths(problem, (0, 6))).all()
    assert sorted(c.name for c in plain.constraints()) == sorted(c.name for c in started.constraints())
    assert {v.name for v in plain.variables()} == {v.name for v in started.variables()}


def test_a_start_without_every_value_is_passed_as_partial(monkeypatch: pytest.MonkeyPatch) -> None:
    """Variables with no start value are left to HiGHS (they were passed as zeros, which made the
    exact model's start, which gives only the assignment, infeasible)."""
    import optimiser.solve as solve

    seen: list[list[float | None]] = []
    real = solve._start_values

    def spy(lp: pulp.LpProblem) -> list[float | None]:
        seen.append(real(lp))
        return seen[-1]

    monkeypatch.setattr(solve, "_start_values", spy)
    model = pulp.LpProblem("partial", pulp.LpMinimize)
    x = [model.add_variable(f"x{i}", cat=pulp.LpBinary) for i in range(3)]
    y = model.add_variable("y", cat=pulp.LpBinary)
    model += pulp.lpSum(x) + 5 * y
    model += pulp.lpSum(x) >= 2, "two"
    for i, v in enumerate(x):
        model += v <= y, f"open_{i}"
        v.setInitialValue(1.0 if i < 2 else 0.0)
    report = solve.run_solver(model, solver="highs", time_limit_s=10, use_start=True)
    assert report.status.value == "optimal" and report.objective == pytest.approx(7.0)
    assert len(seen) == 1 and seen[0].count(None) == 1  # y: no value given, none invented
    assert sorted(v for v in seen[0] if v is not None) == [0.0, 1.0, 1.0]
