"""Today's centres are a start, not a rule: when the capacity in reach cannot serve them, the
design seeds elsewhere too, keeping each zone's identity (scenarios/leicestershire-continuity.toml
failed with "no plan found" before)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import optimiser.search as search
from optimiser.construct import meets_constraints
from optimiser.districting import design_zones, matched_seeding
from optimiser.problem import BranchCapacity
from tests.conftest import grid_problem


def line_with_branches_in_the_middle():
    """Six units in a row, two zones of three; one branch at unit 2 and one at unit 3, each
    reaching only its own unit as a centre: only centres 2 and 3 can be served."""
    problem = grid_problem(1, 6, n_zones=2, tolerance=0.0)
    minutes = np.asarray(problem.cost)[[2, 3]]
    branches = BranchCapacity(np.array([3.0, 3.0]), minutes, reach_min=0.5, margin=1.0)
    today = np.array([0, 0, 0, 1, 1, 1])
    stay = np.zeros((6, 2))
    stay[np.arange(6), today] = 1.0
    return replace(problem, branches=branches, stay=stay, max_moved=0.0)


def test_a_free_seeding_keeps_each_zone_next_to_its_given_centre() -> None:
    problem = grid_problem(4, 4, n_zones=2, tolerance=0.2)
    for seed in range(5):
        centres = matched_seeding(problem, seed=seed, given={0: 15, 1: 0}, anchors={})
        assert problem.cost[15, centres[0]] <= problem.cost[15, centres[1]]
        assert problem.cost[0, centres[1]] <= problem.cost[0, centres[0]]


def test_the_design_leaves_todays_centres_when_capacity_cannot_serve_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "FEASIBILITY_MAX_CELLS", 0)  # no whole-problem fallback: the seedings must do it
    problem = line_with_branches_in_the_middle()
    res = design_zones(problem, solver="highs", time_limit_s=30, initial_centres={0: 0, 1: 5})
    assert sorted(res.centres) == [2, 3]
    assert res.centres == (2, 3)  # zone 0 continues today's zone 0 (units 0-2), with nothing moved
    assert res.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert meets_constraints(problem, res.labels, res.centres)
