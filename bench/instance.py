"""The benchmark instance: the default scenario's DistrictingProblem, built exactly as
:func:`zoning.pipeline.plan_zones` builds it (copied here so the benchmark can build the
problem without running the design). ``tests``-free helper for the bench scripts only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimiser.problem import DistrictingProblem
from zoning.inputs import read_demand
from zoning.pipeline import travel_model_for, unit_cost_matrix
from zoning.postcodes import load_reference_postcodes
from zoning.scenario import Scenario
from zoning.travel import TravelModel
from zoning.units import Units, build_units, read_boundaries


@dataclass(frozen=True)
class Instance:
    problem: DistrictingProblem
    units: Units
    postcodes: pd.DataFrame  # in-area postcodes with `unit` and `hours_per_week`
    travel: TravelModel


def build_instance(scenario: Scenario) -> Instance:
    """The scenario's LSOA-level problem (same arrays as the pipeline hands to the optimiser)."""
    reference = load_reference_postcodes(scenario.data.postcodes)
    boundaries = read_boundaries(scenario.data.boundaries)
    demand, _ = read_demand(scenario.demand.path, reference, on_unmatched=scenario.demand.on_unmatched)
    units = build_units(reference, boundaries)
    index = units.index()
    area = reference[reference["in_area"]].copy()
    area["unit"] = area["lsoa11cd"].map(index).astype(int)
    per_pc = demand.groupby("postcode")["hours_per_week"].sum()
    area["hours_per_week"] = per_pc.reindex(area.index).fillna(0.0)
    dem = area[area["hours_per_week"] > 0]
    travel = travel_model_for(scenario)
    dem_t = travel.minutes(dem[["easting", "northing"]].to_numpy(float), units.points)
    cost = unit_cost_matrix(units, dem_t, dem["hours_per_week"].to_numpy(), dem["unit"].to_numpy(), travel)
    unit_demand = np.bincount(area["unit"], weights=area["hours_per_week"], minlength=units.n).astype(np.float64)
    a, b = units.edges[:, 0], units.edges[:, 1]
    edge_km = np.hypot(*(units.points[a] - units.points[b]).T) / 1000.0
    problem = DistrictingProblem(
        demand=unit_demand, cost=cost, edges=units.edges, n_zones=scenario.model.zones,
        tolerance=scenario.model.tolerance, edge_length=edge_km, unit_ids=units.ids,
    )
    return Instance(problem=problem, units=units, postcodes=area, travel=travel)
