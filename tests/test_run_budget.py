"""The run's time limit shared between stages (zoning/run_budget.py)."""

from __future__ import annotations

import pytest

from zoning.run_budget import reserve_for_outputs, split_budget


@pytest.mark.parametrize("total", [10.0, 30.0, 150.0, 600.0])
@pytest.mark.parametrize("units", [30, 396, 900])
def test_stages_fit_inside_the_limit(total: float, units: int) -> None:
    b = split_budget(total, elapsed_s=1.5, n_units=units, certify_s=20.0)
    assert b.reserve_s <= total / 2 + 1e-9
    assert b.reserve_s == pytest.approx(min(reserve_for_outputs(units), total / 2))
    assert 1.5 + b.design_s + b.reserve_s == pytest.approx(total) or b.design_s == 1.0
    assert b.bound_s <= min(20.0, b.design_s) + 1e-9  # the bound runs beside the design, never past it
    assert b.bound_limit_s == pytest.approx(b.design_s)  # and on for as long as the design runs


def test_no_bound_when_certify_is_zero() -> None:
    b = split_budget(60.0, elapsed_s=1.0, n_units=100, certify_s=0.0)
    assert b.bound_s == 0.0 and b.bound_limit_s == 0.0


def test_more_units_keep_more_for_the_outputs() -> None:
    assert reserve_for_outputs(900) > reserve_for_outputs(396) > reserve_for_outputs(30)
