"""Stage 1 of a run: read and validate the inputs, build units, adjacency, travel times and
the optimiser's numeric problem (:func:`prepare_problem` -> :class:`Prepared`).

Nothing here solves; the benchmark and :mod:`zoning.planner` build problems with it too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from optimiser.problem import DistrictingProblem
from zoning.bands import band_rates, classify_bands
from zoning.commissioning_arrays import ProblemOptions, problem_options
from zoning.errors import ScenarioError, SolveError
from zoning.inputs import Excluded, read_inputs
from zoning.pieces import PieceJoin, join_for_scenario, unit_hours_of
from zoning.postcodes import load_reference_postcodes
from zoning.scenario import Scenario
from zoning.travel import TravelModel, scenario_travel_options, travel_model_from_options
from zoning.units import Units, build_units, read_boundaries

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


def travel_model_for(scenario: Scenario, *, in_area_lsoas: set[str] | None = None) -> TravelModel:
    """The scenario's travel model (straight line, road network, or the stated fallback); without
    coefficients in ``[travel]`` the area's own fit (see :func:`zoning.travel.scenario_travel_options`)."""
    return travel_model_from_options(scenario_travel_options(scenario, in_area_lsoas=in_area_lsoas))



def unit_cost_matrix(
    units: Units, demand_to_units: np.ndarray, demand_hours: np.ndarray, demand_unit: np.ndarray, travel: TravelModel,
    *, price: np.ndarray | None = None,
) -> np.ndarray:
    """(n, n) mean minutes from unit i's demand (postcode by postcode) to a centre at unit j.

    With these costs the optimiser's objective equals the demand-weighted travel of every
    postcode to its zone centre exactly, the figure the report shows. Units without demand
    use their residential centroid. ``demand_to_units`` is the (m, n) matrix of minutes from
    each demand postcode to each unit's point. With ``price`` (GBP per minute of travel, one
    per demand postcode) the entries are GBP per hour of care instead of minutes.
    """
    cost = travel.minutes(units.points, units.points)
    weighted = np.zeros((units.n, units.n))
    if price is not None:
        cost = cost * float(np.average(price, weights=demand_hours))
        demand_to_units = price[:, None] * demand_to_units
    np.add.at(weighted, demand_unit, demand_hours[:, None] * demand_to_units)
    totals = np.bincount(demand_unit, weights=demand_hours, minlength=units.n)
    has = totals > 0
    cost[has] = weighted[has] / totals[has, None]
    return cost



def current_centres(area: pd.DataFrame, names: list[str],
                    minutes: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> dict[str, int]:
    """Each of today's zones ``names``: the unit inside it serving its demand with least travel.
    ``minutes(rows, cand)``: minutes from the area's postcodes ``rows`` (a mask: the zone's
    postcodes with demand) to the candidate units ``cand``."""
    hours = area["hours_per_week"].to_numpy(float)
    zone, unit = area["current_zone"].to_numpy(), area["unit"].to_numpy()
    out: dict[str, int] = {}
    for name in names:
        inside = zone == name
        cand = np.unique(unit[inside])
        rows = inside & (hours > 0)
        if not rows.any():
            out[name] = int(cand[0])
            continue
        out[name] = int(cand[int(np.argmin(hours[rows] @ minutes(rows, cand)))])
    return out


@dataclass(frozen=True)
class Prepared:
    """Validated inputs and the numeric problem built from them, before any solving."""

    scenario: Scenario
    demand: pd.DataFrame
    excluded: Excluded
    providers: pd.DataFrame
    units: Units
    area: pd.DataFrame  # in-area postcodes: unit, current zone, band, rates, hours
    dem: pd.DataFrame  # the postcodes of ``area`` with demand
    dem_t: np.ndarray  # (demand postcodes, units) minutes
    travel: TravelModel
    problem: DistrictingProblem
    options: ProblemOptions
    current_names: list[str]
    current_centre: dict[str, int]
    timings: dict[str, float]
    pieces: PieceJoin | None = None  # separate pieces of the adjacency and the links that joined them


def prepare_problem(scenario: Scenario, *, progress: Progress | None = None) -> Prepared:
    """Read and validate the inputs, build units, travel times and the optimiser's problem."""
    say = progress or (lambda _m: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    say("reading postcode and boundary data")
    reference = load_reference_postcodes(scenario.data.postcodes)
    boundaries = read_boundaries(scenario.data.boundaries)
    say("validating demand, providers and current zones")
    cz = scenario.current_zones
    demand, excluded, providers, current_of_postcode = read_inputs(  # every file's problems in one error
        reference, demand=scenario.demand.path, on_unmatched=scenario.demand.on_unmatched,
        providers=scenario.providers.path, current_zones=cz.path if cz else None,
        current_key=cz.key if cz else "postcode", zone_column=cz.zone_column if cz else "zone",
        layer=cz.layer if cz else None, boundaries=boundaries,
    )
    timings["inputs_s"] = time.perf_counter() - t0

    say("building LSOA units, adjacency and travel times")
    units = build_units(reference, boundaries)
    index = units.index()
    area = reference[reference["in_area"]].copy()
    area["unit"] = area["lsoa11cd"].map(index).astype(int)
    area["current_zone"] = current_of_postcode.reindex(area.index)
    area["band"] = classify_bands(reference, options=scenario.bands).reindex(area.index)
    per_pc = demand.groupby("postcode")["hours_per_week"].sum()
    area["hours_per_week"] = per_pc.reindex(area.index).fillna(0.0)
    area["rate_per_hour"] = area["band"].map(band_rates(scenario.bands)).astype(float)
    travel_rate = scenario.model.travel_rate_per_hour
    area["travel_price_per_min"] = (area["rate_per_hour"] if travel_rate is None else travel_rate) / 60.0
    travel = travel_model_for(scenario, in_area_lsoas=set(units.ids))
    units, pieces, solve_scenario = join_for_scenario(scenario, units, area, travel)
    dem = area[area["hours_per_week"] > 0]
    dem_t = travel.minutes(dem[["easting", "northing"]].to_numpy(float), units.points)  # (demand postcodes, units)
    by_cost = scenario.model.objective == "cost"
    cost = unit_cost_matrix(units, dem_t, dem["hours_per_week"].to_numpy(), dem["unit"].to_numpy(), travel,
                            price=dem["travel_price_per_min"].to_numpy() if by_cost else None)
    unit_demand = unit_hours_of(area, units.n)
    a, b = units.edges[:, 0], units.edges[:, 1]
    edge_km = np.hypot(*(units.points[a] - units.points[b]).T) / 1000.0
    if scenario.model.zones > units.n:  # a scenario problem (exit 2), not a solver failure
        raise ScenarioError(
            f"asked for {scenario.model.zones} zones but the area has only {units.n} units (LSOAs): "
            f"use at most {units.n} zones"
        )
    if cz is None and scenario.continuity is not None:
        raise ScenarioError("[continuity] starts from today's zones, but the scenario has no [current_zones]: "
                            "add [current_zones] or drop [continuity]")
    current_names = sorted(area["current_zone"].unique()) if cz else []
    has_demand = (area["hours_per_week"] > 0).to_numpy()  # dem's rows, in the area's order
    current_centre = (current_centres(area, current_names, lambda rows, cand: dem_t[np.ix_(rows[has_demand], cand)])
                      if cz else {})
    options = problem_options(
        solve_scenario, units=units, area=area, demand=demand, providers=providers, travel=travel,
        unit_demand=unit_demand, current_names=current_names, current_centres=current_centre,
    )
    if by_cost and options.arrays.moved_penalty:  # minutes per hour moved -> GBP at the mean travel price
        price = float(np.average(dem["travel_price_per_min"], weights=dem["hours_per_week"]))
        options = replace(options, arrays=replace(options.arrays, moved_penalty=options.arrays.moved_penalty * price))
    try:
        problem = options.problem(
            demand=unit_demand, cost=cost, edges=units.edges, n_zones=scenario.model.zones,
            tolerance=scenario.model.tolerance, edge_length=edge_km, unit_ids=units.ids,
        )
    except ValueError as exc:
        raise SolveError(f"the inputs do not make a valid zoning problem: {exc}") from exc
    timings["units_travel_s"] = time.perf_counter() - t0 - timings["inputs_s"]
    return Prepared(
        scenario=scenario, demand=demand, excluded=excluded, providers=providers, units=units, area=area, dem=dem,
        dem_t=dem_t, travel=travel, problem=problem, options=options, current_names=current_names,
        current_centre=current_centre, timings=timings, pieces=pieces,
    )
