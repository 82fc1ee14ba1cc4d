"""Commissioning constraints on tiny cases whose answer is worked out by hand.

The base case is a path of four units at positions 0, 1, 3, 4 (cost = distance), demand 1
each, two zones with loads in [1, 3] (tolerance 0.5). Unconstrained, the best plan is
{0,1} + {2,3} with travel 2; every alternative below is checked against that.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from optimiser.diagnosis import diagnose, explain_infeasible
from optimiser.districting import design_zones, plan_travel
from optimiser.errors import InfeasibleProblemError
from optimiser.problem import DistrictingProblem, ZoneRow
from zoning.pipeline import plan_checks

POS = np.array([0.0, 1.0, 3.0, 4.0])
INF = np.inf


@pytest.fixture
def base() -> DistrictingProblem:
    return DistrictingProblem(
        demand=np.ones(4), cost=np.abs(np.subtract.outer(POS, POS)), edges=np.array([(0, 1), (1, 2), (2, 3)]),
        n_zones=2, tolerance=0.5, edge_length=np.ones(3),
    )


def groups(labels: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(np.flatnonzero(labels == z).tolist()) for z in np.unique(labels)}


def solve(problem: DistrictingProblem, **kw: object):  # noqa: ANN201
    res = design_zones(problem, solver="highs", time_limit_s=20, **kw)  # type: ignore[arg-type]
    failed = [c for c in plan_checks(problem, res.labels, res.centres) if not c.passed]
    assert not failed, failed  # the same checks the pipeline runs
    return res


def test_unconstrained_reference(base: DistrictingProblem) -> None:
    res = solve(base)
    assert groups(res.labels) == {(0, 1), (2, 3)}
    assert res.objective == pytest.approx(2.0)


def test_capacity_inside_zone_forces_a_costlier_plan(base: DistrictingProblem) -> None:
    # branch capacity 1 at unit 0 and 3 at unit 2: the zone holding unit 0 (without unit 2)
    # can serve only 1 hour, so the plan must be {0} + {1,2,3} (travel 0 + 2 + 0 + 1 = 3)
    capacity = np.array([1.0, 0.0, 3.0, 0.0])
    row = ZoneRow("capacity", capacity - 1.0 * base.demand, np.zeros(2), np.full(2, INF), "capacity - demand")
    res = solve(replace(base, rows=(row,)))
    assert groups(res.labels) == {(0,), (1, 2, 3)}
    assert res.objective == pytest.approx(3.0)


def test_capacity_shortfall_is_diagnosed_before_solving(base: DistrictingProblem) -> None:
    row = ZoneRow("capacity", np.array([1.0, 0, 1.0, 0]) - 1.1 * base.demand, np.zeros(2), np.full(2, INF),
                  "provider capacity minus 1.1 x demand")
    reasons = diagnose(replace(base, rows=(row,)))
    assert any("provider capacity minus 1.1 x demand" in r and "-2.4" in r for r in reasons), reasons
    with pytest.raises(InfeasibleProblemError):
        design_zones(replace(base, rows=(row,)), solver="highs", time_limit_s=10)


def test_cohort_floor_in_every_zone(base: DistrictingProblem) -> None:
    # children's hours sit in units 0 and 1; each zone needs at least 1 -> {0} + {1,2,3}
    row = ZoneRow("cohort_children", np.array([1.0, 1.0, 0, 0]), np.ones(2), np.full(2, INF), "children hours")
    res = solve(replace(base, rows=(row,)))
    assert groups(res.labels) == {(0,), (1, 2, 3)}
    # and a cohort floor that no split can meet is named with its numbers
    too_much = ZoneRow("cohort_children", np.array([1.0, 1.0, 0, 0]), np.full(2, 1.5), np.full(2, INF), "children hours")
    assert any("children hours" in r and "3.0" in r for r in diagnose(replace(base, rows=(too_much,))))


def test_unequal_per_zone_bounds_with_a_named_zone(base: DistrictingProblem) -> None:
    # zone 0 is locked to unit 3 and must hold exactly 1 hour; zone 1 exactly 3
    p = replace(base, pinned=np.array([-1, -1, -1, 0]), zone_lower=np.array([1.0, 3.0]),
                zone_upper=np.array([1.0, 3.0]))
    res = solve(p)
    assert res.labels[3] == 0
    assert groups(res.labels) == {(0, 1, 2), (3,)}
    assert res.loads.tolist() == [1.0, 3.0]


def test_minimum_viable_size_sum_is_diagnosed(base: DistrictingProblem) -> None:
    reasons = diagnose(replace(base, zone_lower=np.array([2.5, 2.5]), zone_upper=np.array([4.0, 4.0])))
    assert any("5.0" in r and "4.0" in r for r in reasons), reasons


def test_locks_pull_units_into_their_zone(base: DistrictingProblem) -> None:
    res = solve(replace(base, pinned=np.array([0, -1, 0, -1])))
    assert res.labels[0] == res.labels[2] == 0
    assert groups(res.labels) == {(0, 1, 2), (3,)}


def test_a_lock_cut_off_by_another_zone_is_named(base: DistrictingProblem) -> None:
    reasons = diagnose(replace(base, pinned=np.array([0, 1, 0, -1])))
    assert any("cut off" in r and "zone 0" in r for r in reasons), reasons


def test_kept_whole_group(base: DistrictingProblem) -> None:
    res = solve(replace(base, together=(np.array([1, 2]),)))
    assert res.labels[1] == res.labels[2]
    assert plan_travel(base, res.labels, res.centres) == pytest.approx(3.0)  # best plan keeping 1 and 2 together


def test_travel_limit_is_respected_and_explained(base: DistrictingProblem) -> None:
    reach = base.cost.copy()
    # limit 1.5: {0,1} + {2,3} (max 1 from each centre) is allowed; {0,1,2} is not
    res = solve(replace(base, reach=reach, reach_limit=1.5, together=()))
    assert groups(res.labels) == {(0, 1), (2, 3)}
    # with unit 1 and 2 kept together, a 1.5 limit leaves no plan; the diagnosis names the limit
    tight = replace(base, reach=reach, reach_limit=1.5, together=(np.array([1, 2]),))
    why = explain_infeasible(tight, (0, 3), solver="highs", time_limit_s=10)
    assert any("travel limit" in w for w in why), why
    assert any("together" in w for w in why), why
    with pytest.raises(InfeasibleProblemError) as err:
        design_zones(tight, solver="highs", time_limit_s=20)
    assert any("travel limit" in r for r in err.value.reasons)


def test_exempt_units_ignore_the_travel_limit(base: DistrictingProblem) -> None:
    reach = base.cost.copy()
    p = replace(base, reach=reach, reach_limit=0.5, reach_exempt=np.array([True, True, True, True]))
    res = solve(p)
    assert groups(res.labels) == {(0, 1), (2, 3)}


def test_continuity_cap_and_penalty(base: DistrictingProblem) -> None:
    # today: {0,1,2} + {3}. Moving unit 2 saves 1 minute of travel (3 -> 2).
    stay = np.zeros((4, 2))
    stay[[0, 1, 2], 0] = 1.0
    stay[3, 1] = 1.0
    today = {0: 1, 1: 3}  # zone identity: today's centres
    frozen = solve(replace(base, stay=stay, max_moved=0.0), initial_centres=today)
    assert groups(frozen.labels) == {(0, 1, 2), (3,)}
    cheap = solve(replace(base, stay=stay, moved_penalty=0.1), initial_centres=today)
    assert groups(cheap.labels) == {(0, 1), (2, 3)}
    assert cheap.objective == pytest.approx(2.0 + 0.1)  # travel + penalty x 1 hour moved
    dear = solve(replace(base, stay=stay, moved_penalty=5.0), initial_centres=today)
    assert groups(dear.labels) == {(0, 1, 2), (3,)}


def test_fixed_hub_centres_do_not_move(base: DistrictingProblem) -> None:
    res = solve(base, initial_centres={0: 0, 1: 3}, fix_centres=True)
    assert res.centres == (0, 3)
    assert len(res.rounds) == 1
    assert groups(res.labels) == {(0, 1), (2, 3)}


def test_centres_only_at_candidate_units(base: DistrictingProblem) -> None:
    cand = np.array([True, False, False, True])
    res = solve(replace(base, centre_candidates=cand))
    assert set(res.centres) == {0, 3}


def test_capacity_within_reach_of_the_centre(base: DistrictingProblem) -> None:
    # a centre at unit 3 reaches capacity for 1 hour only -> its zone is {3}
    res = solve(replace(base, centre_capacity=np.array([3.0, 3.0, 3.0, 1.0]), centre_candidates=np.array([1, 1, 0, 1], bool)))
    assert groups(res.labels) == {(0, 1, 2), (3,)}


# --- the same options from a scenario file, end to end on the real Melton extract -------------

from pathlib import Path  # noqa: E402

from tests.conftest import write_scenario  # noqa: E402
from zoning.commissioning_arrays import provider_units  # noqa: E402
from zoning.errors import ScenarioError, SolveError  # noqa: E402
from zoning.pipeline import ZonePlan, plan_zones  # noqa: E402
from zoning.scenario import load_scenario  # noqa: E402


def run_with(folder: Path, tables: str, **kw: object) -> ZonePlan:
    path = write_scenario(folder, **kw)  # type: ignore[arg-type]
    path.write_text(path.read_text(encoding="utf-8") + tables, encoding="utf-8")
    return plan_zones(load_scenario(path))


def test_scenario_locks_keep_whole_and_cohort_floor(melton_copy: Path) -> None:
    plan = run_with(melton_copy, '''
[cohorts.children]
min_hours = 2

[[zone]]
name = "Egerton & co <b>"
lock_wards = ["Melton Egerton"]

[[keep_whole]]
name = "Vale villages"
wards = ["Bottesford", "Long Clawson and Stathern"]
''')
    pcs = plan.postcodes
    named = plan.zones.loc[plan.zones["zone_name"] == "Egerton & co <b>", "zone"]
    assert len(named) == 1
    assert set(pcs.loc[pcs["ward_name"] == "Melton Egerton", "proposed_zone"]) == {named.iloc[0]}
    vale = pcs[pcs["ward_name"].isin(["Bottesford", "Long Clawson and Stathern"])]
    assert vale["proposed_zone"].nunique() == 1
    assert (plan.zones["hours_children"] >= 2 - 1e-9).all()
    names = {c.name for c in plan.checks}
    assert {"locks_respected", "kept_whole", "cohort_children_within_bounds"} <= names


def test_scenario_continuity_cap_limits_hours_moved(melton_copy: Path) -> None:
    free = run_with(melton_copy, "", zones=2, tolerance=0.3)
    capped = run_with(melton_copy, "\n[continuity]\nmax_moved_hours = 60\n", zones=2, tolerance=0.3)
    assert capped.hours_moved <= 60 + 1e-6
    assert capped.hours_moved <= free.hours_moved + 1e-6
    # what moved, zone by zone, adds up to the headline figure
    assert capped.moves is not None
    assert capped.moves["hours_per_week"].sum() == pytest.approx(capped.hours_moved)
    assert capped.matched is not None and set(capped.matched.values()) == {"Melton town", "=Melton rural"}
    assert any(c.name == "moved_within_cap" and c.passed for c in capped.checks)


def test_scenario_continuity_needs_as_many_zones_as_today(melton_copy: Path) -> None:
    with pytest.raises(ScenarioError, match="today's 2 zones"):
        run_with(melton_copy, "\n[continuity]\nmoved_penalty_min = 1\n", zones=3)


def test_scenario_travel_limit(melton_copy: Path) -> None:
    plan = run_with(melton_copy, "")  # reference
    limit = 0.97 * float(plan.postcodes["travel_min_proposed"].max())
    path = write_scenario(melton_copy)
    text = path.read_text(encoding="utf-8").replace("time_limit_s = 60", f"time_limit_s = 60\nmax_travel_min = {limit}")
    path.write_text(text, encoding="utf-8")
    capped = plan_zones(load_scenario(path))
    assert capped.options is not None and capped.options.isolated.empty
    assert capped.postcodes["travel_min_proposed"].max() <= limit + 1e-9
    assert plan.postcodes["travel_min_proposed"].max() > limit  # the limit was binding
    assert any(c.name == "within_travel_limit" and c.passed for c in capped.checks)


def test_scenario_hub_centres(melton_copy: Path) -> None:
    plan = run_with(melton_copy, '\n[capacity]\ncentres = "hubs"\n')
    prov_lsoas = {plan.units.ids[u] for u in provider_units(plan.providers, plan.units)}
    assert set(plan.zones["centre_lsoa"]) <= prov_lsoas


def test_scenario_capacity_shortfall_is_explained(melton_copy: Path) -> None:
    with pytest.raises(SolveError, match="provider capacity minus 3 x demand"):
        run_with(melton_copy, '\n[capacity]\nrule = "inside"\nmargin = 3\n')


def test_scenario_unknown_ward_is_named(melton_copy: Path) -> None:
    with pytest.raises(ScenarioError, match="Nowhere-on-the-Wold"):
        run_with(melton_copy, '\n[[zone]]\nname = "A"\nlock_wards = ["Nowhere-on-the-Wold"]\n')


def test_isolated_postcodes_are_reported_and_exempt() -> None:
    # two units 10 km apart; postcode C is 30 km from both: isolated under a 20-minute limit
    from types import SimpleNamespace

    import pandas as pd

    from zoning.commissioning_arrays import _Context, _travel_limit
    from zoning.travel import StraightLineTravel

    units = SimpleNamespace(n=2, points=np.array([[0.0, 0.0], [10_000.0, 0.0]]))
    area = pd.DataFrame(
        {"easting": [0.0, 10_000.0, 5_000.0], "northing": [0.0, 0.0, 30_000.0], "unit": [0, 1, 0],
         "hours_per_week": [5.0, 6.0, 7.0]}, index=pd.Index(["A", "B", "C"], name="postcode"),
    )
    scenario = SimpleNamespace(model=SimpleNamespace(max_travel_min=20.0, zones=2))
    ctx = _Context(scenario, units, area, pd.DataFrame(), pd.DataFrame(), StraightLineTravel(10.0, 1.0),  # type: ignore[arg-type]
                   np.array([12.0, 6.0]))
    isolated = _travel_limit(ctx)
    assert isolated["postcode"].tolist() == ["C"]
    assert isolated["nearest_centre_min"].iloc[0] == pytest.approx(10.0 + np.hypot(5, 30))
    # the reach matrix ignores C: unit 0 reaches unit 1's point in 10 + 10 minutes
    assert ctx.arrays.reach is not None
    assert ctx.arrays.reach.tolist() == [[10.0, 20.0], [20.0, 10.0]]
    assert any("1 postcode(s) (7 hours/week)" in n for n in ctx.notes)


def test_cost_objective_at_one_pound_a_minute_is_the_travel_objective(melton_copy: Path) -> None:
    # travel paid at GBP 60/hour = GBP 1/minute: the cost objective is the travel objective
    travel = run_with(melton_copy, "")
    path = write_scenario(melton_copy)
    text = path.read_text(encoding="utf-8").replace(
        "time_limit_s = 60", 'time_limit_s = 60\nobjective = "cost"\ntravel_rate_per_hour = 60')
    path.write_text(text, encoding="utf-8")
    cost = plan_zones(load_scenario(path))
    assert np.array_equal(cost.unit_zone, travel.unit_zone)
    assert cost.result.objective == pytest.approx(travel.result.objective, rel=1e-9)
    summary = cost.cost_summary()
    assert summary["objective_units"] == "GBP per week of paid travel"
    assert summary["travel_gbp_per_week_proposed"] == pytest.approx(cost.result.objective, rel=1e-9)
    assert any(c.name == "objective_matches_recomputation" and c.passed for c in cost.checks)


def test_cost_objective_weights_travel_by_band_rate(melton_copy: Path) -> None:
    path = write_scenario(melton_copy)
    text = path.read_text(encoding="utf-8").replace("time_limit_s = 60", 'time_limit_s = 60\nobjective = "cost"')
    path.write_text(text, encoding="utf-8")
    plan = plan_zones(load_scenario(path))
    pcs = plan.postcodes
    rates = pcs["band"].map({"urban": 21.5, "fringe": 22.5, "rural": 24.0, "isolated": 26.0})
    expected = float((pcs["hours_per_week"] * rates / 60 * pcs["travel_min_proposed"]).sum())
    assert plan.result.objective == pytest.approx(expected, rel=1e-9)
    assert plan.cost_summary()["care_gbp_per_week"] == pytest.approx(float((pcs["hours_per_week"] * rates).sum()))
    assert plan.zones["travel_cost_gbp_per_week"].sum() == pytest.approx(expected, rel=1e-9)
