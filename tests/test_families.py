"""The registry of constraint families drives checks, diagnosis, relaxation and polishing."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from optimiser.assignment import build_assignment_model
from optimiser.families import (
    FAMILIES,
    FAMILY_LIST,
    plan_checks,
    polish_compatible,
    present_families,
    relaxed,
)
from optimiser.problem import DistrictingProblem, ZoneRow
from tests.conftest import grid_problem


@pytest.fixture
def base() -> DistrictingProblem:
    return grid_problem(1, 4, n_zones=2, tolerance=0.5)


def test_each_family_is_one_entry_with_a_hint() -> None:
    assert len(FAMILIES) == len(FAMILY_LIST)
    assert all(f.hint and f.local_search in ("kept", "checked", "not kept") for f in FAMILY_LIST)


def test_a_bare_problem_carries_contiguity_and_balance_only(base: DistrictingProblem) -> None:
    assert [f.name for f in present_families(base)] == ["contiguity", "balance"]
    names = [c.name for c in plan_checks(base, np.array([0, 0, 1, 1]), (0, 3))]
    assert names == ["all_assigned", "is_contiguous", "within_bounds"]


def test_checks_follow_the_families_present(base: DistrictingProblem) -> None:
    row = ZoneRow("cohort_children", np.ones(4), np.full(2, 3.0), np.full(2, np.inf), "children hours")
    p = replace(base, rows=(row,), pinned=np.array([0, -1, -1, -1]), together=(np.array([1, 2]),))
    checks = {c.name: c for c in plan_checks(p, np.array([1, 0, 0, 1]), (1, 3))}
    assert set(checks) == {"all_assigned", "is_contiguous", "within_bounds", "cohort_children_within_bounds",
                           "locks_respected", "kept_whole"}
    assert not checks["locks_respected"].passed and not checks["cohort_children_within_bounds"].passed
    assert not checks["is_contiguous"].passed and checks["kept_whole"].passed


def test_failed_checks_name_the_zones_they_are_given(base: DistrictingProblem) -> None:
    # zone 1 is {0, 3}: cut in two; each zone holds 2 children's hours against a minimum of 3
    row = ZoneRow("cohort_children", np.ones(4), np.full(2, 3.0), np.full(2, np.inf), "children hours")
    p = replace(base, rows=(row,))
    labels, centres = np.array([1, 0, 0, 1]), (1, 3)
    named = {c.name: c.detail for c in plan_checks(p, labels, centres, zone_names=("North", "South <b>"))}
    plain = {c.name: c.detail for c in plan_checks(p, labels, centres)}
    assert "South <b>" in named["is_contiguous"] and "South <b>" not in plain["is_contiguous"]
    assert named["cohort_children_within_bounds"].startswith("North: ")
    assert "; South <b>: " in named["cohort_children_within_bounds"]
    assert plain["cohort_children_within_bounds"][0].isdigit()  # without names: the zone index
    # names that do not match the zones are not used (rather than a wrong name)
    assert {c.name: c.detail for c in plan_checks(p, labels, centres, zone_names=("only one",))} == plain


def test_polish_runs_only_when_every_present_family_allows_it(base: DistrictingProblem) -> None:
    row = ZoneRow("cohort_children", np.ones(4), np.ones(2), np.full(2, np.inf))
    assert polish_compatible(replace(base, rows=(row,)))
    assert not polish_compatible(replace(base, reach=base.cost.copy(), reach_limit=2.0))
    assert not polish_compatible(base, fixed_centres=True)


def test_relaxing_removes_the_familys_rows(base: DistrictingProblem) -> None:
    p = replace(base, together=(np.array([1, 2]),))
    model, _ = build_assignment_model(p, (0, 3))
    assert any(name.startswith("together_") for name in (c.name for c in model.constraints()))
    loose, _ = build_assignment_model(p, (0, 3), relax=frozenset({"together"}))
    assert not any(name.startswith("together_") for name in (c.name for c in loose.constraints()))
    assert relaxed(p, frozenset({"together"})).together == ()
    with pytest.raises(ValueError, match="unknown constraint families"):
        relaxed(p, frozenset({"nonsense"}))
