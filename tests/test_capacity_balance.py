"""Capacity balance in a real extract (Melton borough, three branches: 500 h/week in Melton
Mowbray, 300 in Bottesford, 1,200 in Leicester city ~25 km away) through the whole run and
its outputs: refused with numbers when it cannot balance, allocated and shown where it can."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from optimiser.checks import allocations_within_capacity, zones_covered
from tests.conftest import write_scenario
from zoning.errors import SolveError
from zoning.pipeline import plan_zones
from zoning.publish.writers import write_outputs
from zoning.scenario import load_scenario


def test_capacity_that_cannot_balance_is_refused_with_the_nearest_settings(melton_copy: Path) -> None:
    # 2,000 h/week of capacity for 2,759.5 h/week of demand: no margin of 1 is possible
    path = write_scenario(melton_copy, extra="")
    path.write_text(path.read_text(encoding="utf-8") + '\n[capacity]\nrule = "flow"\n', encoding="utf-8")
    with pytest.raises(SolveError) as err:
        plan_zones(load_scenario(path))
    text = str(err.value)
    assert "(a) total branch capacity 2,000.0 h/week is below 1 x demand 2,759.5" in text
    assert "the largest margin that passes at 20 min is 0.28" in text
    assert "Per area: Melton: demand 2,759.5 h/week, capacity within 20 min of it 800.0" in text


def test_allocation_is_checked_and_shown_in_every_output(melton_copy: Path, tmp_path: Path) -> None:
    path = write_scenario(melton_copy)
    path.write_text(path.read_text(encoding="utf-8") + '\n[capacity]\nrule = "flow"\nmargin = 0.5\nreach_min = 40\n',
                    encoding="utf-8")
    plan = plan_zones(load_scenario(path))
    assert plan.allocation is not None
    names = {c.name: c for c in plan.checks}
    assert names["allocations_within_capacity"].passed and names["zones_covered_at_margin"].passed
    alloc = plan.allocation
    # the invariants, recomputed from the published allocation
    assert allocations_within_capacity(alloc.hours, alloc.capacity).passed
    assert zones_covered(alloc.hours, 0.5 * plan.zones["hours_per_week"].to_numpy()).passed
    assert np.allclose(alloc.demand, plan.zones["hours_per_week"])
    paths = write_outputs(plan, tmp_path / "out")
    summary = json.loads(paths["summary"].read_text(encoding="utf-8"))
    table = summary["constraints"]["capacity_allocation"]
    assert [z["zone"] for z in table["zones"]] == list(plan.zones["zone"])
    for z in table["zones"]:
        assert z["allocated_hours_per_week"] >= 0.5 * z["demand_hours_per_week"] - 1e-6
        assert sum(z["from_branches"].values()) == pytest.approx(z["allocated_hours_per_week"], abs=0.2)
    given = {b["provider_id"]: b for b in table["branches"]}
    assert all(b["allocated_hours_per_week"] <= b["capacity_hours_per_week"] + 1e-6 for b in given.values())
    assert set(given) == {"P1", "P2", "P3"}
    report = paths["report"].read_text(encoding="utf-8")
    assert "Provider capacity allocated to each zone" in report and "From branches, largest first (h/week)" in report
    assert "P1" in report.split("Provider capacity allocated to each zone", 1)[1]  # the branches named
    html = paths["report_html"].read_text(encoding="utf-8")
    assert "Allocated h/week" in html and "Demand ÷ allocated" in html
    page = paths["map"].read_text(encoding="utf-8")
    assert "Allocated capacity" in page and "Capacity shortfall" in page
    assert "Serves (hours/week)" in page


def test_the_shipped_default_balances_capacity_and_other_scenarios_keep_their_meaning(melton_copy: Path) -> None:
    cap = load_scenario().capacity
    assert (cap.rule, cap.margin, cap.reach_min) == ("flow", 1.0, 20.0)
    assert load_scenario(write_scenario(melton_copy)).capacity.rule == "none"  # says nothing: reported only
