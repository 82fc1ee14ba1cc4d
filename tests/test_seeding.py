"""Centres from the relaxation (optimiser/seeding.py): where capacity can serve the zones."""

from __future__ import annotations

import numpy as np
import pytest

from optimiser import search
from optimiser.bounds import problem_bound
from optimiser.capacity_flow import possible_centres
from optimiser.construct import meets_constraints
from optimiser.districting import design_zones
from optimiser.problem import BranchCapacity, DistrictingProblem
from optimiser.seeding import relaxation_centres
from tests.conftest import grid_problem

POS = np.array([0.0, 1.0, 3.0, 4.0])
FAR = 100.0


def row_with_capacity() -> DistrictingProblem:
    """Four units at 0, 1, 3, 4, demand 1 each, 2 zones with loads in [1, 3]; branch A (3 h)
    reaches only the western centres, B (1 h) only the eastern: the east zone holds one unit,
    and the best plan is {0,1,2} + {3} with centres 1 and 3, cost 3."""
    br = BranchCapacity(np.array([3.0, 1.0]), np.array([[5, 5, FAR, FAR], [FAR, FAR, 5, 5]]), reach_min=10.0,
                        margin=1.0)
    return DistrictingProblem(demand=np.ones(4), cost=np.abs(np.subtract.outer(POS, POS)),
                              edges=np.array([(0, 1), (1, 2), (2, 3)]), n_zones=2, tolerance=0.5,
                              edge_length=np.ones(3), branches=br)


def test_the_relaxation_puts_a_centre_where_each_branch_reaches() -> None:
    seeding = relaxation_centres(row_with_capacity())
    assert seeding is not None
    assert sorted(seeding.centres) == [1, 3]
    assert seeding.objective == pytest.approx(3.0)


@pytest.mark.parametrize("seed", range(4))
def test_seeded_centres_are_distinct_allowed_and_never_below_the_bound(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = grid_problem(6, 6, n_zones=4, tolerance=0.1, demand=rng.gamma(2.0, 1.0, 36))
    minutes = rng.uniform(0, 12, (5, 36))
    p = DistrictingProblem(demand=p.demand, cost=p.cost, edges=p.edges, n_zones=4, tolerance=0.1,
                           branches=BranchCapacity(np.full(5, 1.3 * p.demand.sum() / 5), minutes, reach_min=8.0,
                                                   margin=1.0))
    seeding = relaxation_centres(p)
    assert seeding is not None
    assert len(set(seeding.centres)) == 4
    assert possible_centres(p)[list(seeding.centres)].all()
    # a restriction of the model the bound relaxes: its plan never costs less than the bound
    assert seeding.objective is not None
    assert seeding.objective >= problem_bound(p, time_limit_s=10.0).value * (1 - 1e-9)


def test_when_no_constructive_start_meets_the_capacity_the_relaxation_seeds_round_one(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    p = row_with_capacity()
    monkeypatch.setattr(search, "ranked_starts", lambda *a, **k: ([], 0))  # no constructive start at all
    with caplog.at_level("INFO", logger="optimiser.seeding"):
        res = design_zones(p, solver="highs", time_limit_s=20)
    assert "relaxation seeding" in caplog.text
    assert meets_constraints(p, res.labels, res.centres)
    assert res.objective == pytest.approx(3.0)


def test_the_centre_model_relaxed_is_the_bounds_lp() -> None:
    """With every unit a candidate and nothing binary, the seeding's model is the LP relaxation
    the certified bound approaches (tests/test_bounds.py builds it independently)."""
    import highspy

    from optimiser.seeding import centre_model
    from tests.test_bounds import lp_bound

    rng = np.random.default_rng(11)
    p = grid_problem(3, 4, n_zones=3, tolerance=0.1, demand=rng.gamma(2.0, 1.0, 12))
    lo, hi = p.zone_bounds()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(centre_model(p, np.arange(12), binary="none"))
    h.run()
    assert h.getInfo().objective_function_value == pytest.approx(
        lp_bound(p.demand, p.cost, 3, float(lo.min()), float(hi.max())), rel=1e-7)


def test_the_relaxation_competes_by_size_small_mid_and_not_at_county_scale() -> None:
    from optimiser.seeding import competing_per_zone

    small = grid_problem(10, 10, n_zones=4, tolerance=0.1)  # 100 x 16 = 1,600 cells
    mid = grid_problem(20, 20, n_zones=14, tolerance=0.1)  # 400 x 28 = 11,200 (the default's class)
    large = grid_problem(30, 30, n_zones=12, tolerance=0.1)  # 900 x 24 = 21,600 (Kent at 12 zones)
    assert competing_per_zone(small, mid=True) == 4 == competing_per_zone(small, mid=False)
    assert competing_per_zone(mid, mid=True) == 2
    assert competing_per_zone(mid, mid=False) is None
    assert competing_per_zone(large, mid=True) is None


def mid_sized(seed: int) -> DistrictingProblem:
    """A 7 x 7 grid (49 units: above the exact model's size), 4 zones, +/-10%, gamma demand."""
    return grid_problem(7, 7, n_zones=4, tolerance=0.1, demand=np.random.default_rng(seed).gamma(2.0, 3.0, 49))


@pytest.mark.parametrize(("instance", "relaxation_wins"), [(0, True), (1, False)])
def test_on_mid_size_problems_the_relaxation_rivals_the_start_and_the_better_leads(
    monkeypatch: pytest.MonkeyPatch, instance: int, relaxation_wins: bool
) -> None:
    import optimiser.seeding as seeding
    from optimiser.budget import FAST, FAST_KICKS

    monkeypatch.setattr(seeding, "COMPETE_CELLS", 0)  # this small grid stands for a mid-size problem
    monkeypatch.setattr(seeding, "MID_CELLS", 10**6)
    problem = mid_sized(instance)
    objectives = set()
    for seed in (0, 1, 2):
        words: list[str] = []
        res = design_zones(problem, solver="highs", time_limit_s=60, seed=seed, progress=words.append, strategy=FAST)
        assert meets_constraints(problem, res.labels, tuple(res.centres))
        objectives.add(round(res.objective, 6))
        assert "round 1 from the relaxation's centres" in words
        won = any("gave the better first plan" in w for w in words)
        assert won is relaxation_wins
        if won:  # neither the constructive start's round 1 nor the screening of further starts
            assert not any(w.startswith(("round 1: solving", "screening")) for w in words)
        else:  # the constructive start leads: its round 1 runs as before
            assert any(w.startswith("round 1: solving") for w in words)
    assert len(objectives) == 1, objectives  # one plan for every seed
    before: list[str] = []
    design_zones(problem, solver="highs", time_limit_s=60, seed=0, progress=before.append, strategy=FAST_KICKS)
    assert "round 1 from the relaxation's centres" not in before  # the previous method seeds without it
