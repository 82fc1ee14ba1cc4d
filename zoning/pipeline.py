"""The end-to-end run: inputs -> units + adjacency + travel -> optimiser -> checks -> tables.

Data flows one way. :func:`plan_zones` returns a :class:`ZonePlan`; :mod:`zoning.publish.writers`
writes it out. Every stage logs its counts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from optimiser.bounds import BoundResult, lagrangian_bound
from optimiser.checks import (
    Check,
    all_assigned,
    is_contiguous,
    kept_whole,
    pins_respected,
    within_travel_limit,
    zone_loads,
    zones_within_bounds,
)
from optimiser.districting import DistrictingResult, InfeasibleProblemError, design_zones
from optimiser.problem import DistrictingProblem
from zoning.bands import band_rates, classify_bands
from zoning.changes import PlanChange, change_flows, match_zones, plan_change
from zoning.commissioning_arrays import ProblemOptions, problem_options, provider_units
from zoning.errors import CheckError, ScenarioError, SolveError
from zoning.inputs import Excluded, read_current_zones, read_demand, read_providers
from zoning.metrics import PlanMetrics, plan_metrics, zone_table
from zoning.pieces import PieceJoin, join_for_scenario
from zoning.postcodes import load_reference_postcodes
from zoning.scenario import Scenario
from zoning.travel import TravelModel, area_travel_fit, travel_model_from_options
from zoning.units import Units, build_units, read_boundaries

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ZonePlan:
    """Everything a run produced, ready to export or draw."""

    scenario: Scenario
    units: Units
    postcodes: pd.DataFrame  # every in-area postcode with proposed/current zone, band and travel
    demand: pd.DataFrame  # validated demand rows (row, postcode, hours_per_week, cohort)
    providers: pd.DataFrame  # with proposed_zone and current_zone
    unit_zone: np.ndarray  # (n,) proposed zone index per unit
    unit_current_zone: pd.Series  # LSOA -> majority current zone (for drawing and contiguity)
    zones: pd.DataFrame  # proposed zones: one row each
    current: pd.DataFrame  # current zones: one row each
    result: DistrictingResult
    checks: tuple[Check, ...]
    metrics: PlanMetrics
    current_metrics: PlanMetrics
    excluded: Excluded
    travel: TravelModel
    timings: dict[str, float] = field(default_factory=dict)
    options: ProblemOptions | None = None  # the scenario's constraints as the optimiser saw them
    moves: pd.DataFrame | None = None  # care that changes zone: today's zone -> proposed zone
    matched: dict[str, str | None] | None = None  # proposed zone -> the current zone it continues
    change: PlanChange | None = None  # today -> proposed, postcode by postcode (computed once, here)
    bound: BoundResult | None = None  # certified lower bound over all balanced plans (any centres)
    hours_moved: float = 0.0  # hours/week whose zone changes (proposed zones matched to today's)
    pieces: PieceJoin | None = None  # separate pieces of the adjacency and the links that joined them

    @property
    def has_current(self) -> bool:
        """Whether today's zones were given; without them ``current`` mirrors the plan and no
        output compares with it."""
        return self.scenario.current_zones is not None

    def cost_summary(self) -> dict[str, object]:
        """Weekly cost at the band rates: care hours (fixed by demand) and paid travel time."""
        pcs = self.postcodes
        m = self.scenario.model
        return {
            "objective": m.objective,
            "objective_units": "GBP per week of paid travel" if m.objective == "cost" else "hour-minutes",
            "band_rates_gbp_per_hour": band_rates(self.scenario.bands),
            "travel_rate": "each postcode's band rate" if m.travel_rate_per_hour is None
            else f"GBP {m.travel_rate_per_hour:g} per hour",
            "care_gbp_per_week": float(pcs["care_cost"].sum()),
            "travel_gbp_per_week_proposed": float(pcs["travel_cost_proposed"].sum()),
            "travel_gbp_per_week_current": float(pcs["travel_cost_current"].sum()) if self.has_current else None,
        }

    def constraints_summary(self) -> dict[str, object]:
        """The commissioning options in force and how the plan meets them (for every output)."""
        s = self.scenario
        cap = s.capacity
        out: dict[str, object] = {
            "min_zone_hours": s.model.min_zone_hours,
            "capacity": {
                "rule": cap.rule, "margin": cap.margin,
                "radius_min": cap.radius_min if cap.rule == "radius" else None,
                "centres": "fixed at hubs " + ", ".join(cap.hubs) if cap.hubs else cap.centres,
                "max_demand_capacity_ratio": float(self.zones["demand_capacity_ratio"].max(skipna=True))
                if self.zones["demand_capacity_ratio"].notna().any() else None,
            },
            "cohorts": {c: b.model_dump() for c, b in s.cohorts.items()},
            "named_zones": [z.name for z in s.zone],
            "locked_units": int(np.sum(np.asarray(self.options.kwargs.get("pinned", [])) >= 0)) if self.options else 0,
            "kept_whole": [w.name for w in s.keep_whole],
            "travel_limit_min": s.model.max_travel_min,
            "isolated_postcodes": int(len(self.options.isolated)) if self.options else 0,
            "isolated_hours_per_week": float(self.options.isolated["hours_per_week"].sum()) if self.options else 0.0,
            # postcodes and distances only: per-postcode hours could identify a client
            "isolated": [
                {"postcode": str(r.postcode), "nearest_centre_min": round(float(r.nearest_centre_min), 1)}
                for r in self.options.isolated.itertuples()
            ] if self.options else [],
            "continuity": s.continuity.model_dump() if s.continuity else None,
            "hours_changing_zone": self.hours_moved if self.has_current else None,
            "share_changing_zone": self.hours_moved / max(self.metrics.total_hours, 1e-9) if self.has_current else None,
            "zone_matching": "no current zones given" if not self.has_current
            else "proposed zone k grew from today's zone k (continuity)" if s.continuity
            else "each proposed zone is paired with the current zone it overlaps most (Hungarian method)",
            "notes": list(self.options.notes) if self.options else [],
            "pieces": self.pieces.summary() if self.pieces else None,
        }
        return out


def zone_ids(n_zones: int) -> list[str]:
    """``Z01``..``Znn``, zero-padded so that text order is numeric order for any K."""
    width = max(2, len(str(n_zones)))
    return [f"Z{z + 1:0{width}d}" for z in range(n_zones)]


def travel_model_for(scenario: Scenario) -> TravelModel:
    """The scenario's travel model (straight line, road network, or the stated fallback).

    Without coefficients in ``[travel]`` the area's own fit is used (the data build's travel
    file beside the postcode data), never another area's."""
    options = scenario.travel
    if not {"intercept_min", "min_per_km"} & options.model_fields_set:
        fit = area_travel_fit(scenario.data.postcodes.parent.parent / "travel"
                              / f"{scenario.area_code}_lsoa_hospital_times.csv",
                              area=scenario.area_name or scenario.area_code)
        if fit is not None:
            options = options.model_copy(update={"intercept_min": fit[0], "min_per_km": fit[1],
                                                 "calibration": options.calibration or fit[2]})
        else:
            log.warning("no [travel] coefficients and no travel file for %s: default coefficients used",
                        scenario.area_code)
            options = options.model_copy(update={"calibration": options.calibration or (
                "default coefficients, not calibrated for this area (no [travel] coefficients and no travel file "
                "from `carezones data build`)")})
    elif not options.calibration:
        options = options.model_copy(update={"calibration": "coefficients given in the scenario"})
    return travel_model_from_options(options)


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


def _zone_names(postcodes: pd.DataFrame, centre_lsoas: list[str]) -> list[str]:
    """Name each zone after the ward at its centre (the centre LSOA's most common ward);
    the district is added when two zones would share a name."""
    wards = (
        postcodes.groupby(["lsoa11cd", "ward_name", "district_name"]).size().rename("n").reset_index()
        .sort_values(["lsoa11cd", "n", "ward_name"], ascending=[True, False, True])
        .groupby("lsoa11cd").first()
    )
    names = [str(wards.loc[c, "ward_name"]) if c in wards.index else c for c in centre_lsoas]
    counts = pd.Series(names).value_counts()
    return [
        f"{n} ({wards.loc[c, 'district_name']})" if counts[n] > 1 and c in wards.index else n
        for n, c in zip(names, centre_lsoas, strict=True)
    ]


def fill_from_neighbours(unit_zone: pd.Series, units: Units) -> pd.Series:
    """Give units without postcodes (hence no current zone) the zone of a neighbour, or of the
    nearest unit with one; these LSOAs hold no demand, so no figure changes."""
    filled = unit_zone.copy()
    graph = units.graph()
    known = filled.notna().to_numpy()
    if known.all():
        return filled
    tree = cKDTree(units.points[known])
    known_ids = np.asarray(units.ids)[known]
    for code in filled.index[filled.isna()]:
        near = [filled[n] for n in sorted(graph.neighbors(code)) if pd.notna(filled[n])]
        if near:
            filled[code] = pd.Series(near).mode().iloc[0]
        else:
            _, k = tree.query(units.points[units.index()[code]])
            filled[code] = filled[known_ids[int(k)]]
    log.info("%d LSOA(s) without postcodes drawn in a neighbouring current zone", int((~known).sum()))
    return filled


def _current_centres(area: pd.DataFrame, dem: pd.DataFrame, dem_t: np.ndarray) -> tuple[list[str], dict[str, int]]:
    """Today's zones (sorted) and, for each, the unit serving its demand with least travel."""
    current_names = sorted(area["current_zone"].unique())
    current_centre: dict[str, int] = {}
    for name in current_names:
        members = area.index[area["current_zone"] == name]
        cand = np.unique(area.loc[members, "unit"])
        rows = np.flatnonzero(dem["current_zone"].to_numpy() == name)
        if rows.size == 0:
            current_centre[name] = int(cand[0])
            continue
        totals = dem["hours_per_week"].to_numpy()[rows] @ dem_t[np.ix_(rows, cand)]
        current_centre[name] = int(cand[int(np.argmin(totals))])
    return current_names, current_centre


def plan_checks(problem: DistrictingProblem, labels: np.ndarray, centres: tuple[int, ...]) -> list[Check]:
    """Every named invariant of a plan for ``problem`` (the tests reuse this)."""
    k = problem.n_zones
    lower, upper = problem.zone_bounds()
    checks = [
        all_assigned(labels, n_units=problem.n_units, n_zones=k),
        is_contiguous(labels, problem.edges),
        zones_within_bounds(zone_loads(labels, problem.demand, k), lower=lower, upper=upper),
    ]
    for row in problem.rows:
        checks.append(zones_within_bounds(
            row.totals(labels, k), lower=row.lower, upper=row.upper, name=f"{row.name}_within_bounds",
            what=row.description or row.name,
        ))
    if problem.pinned is not None:
        checks.append(pins_respected(labels, problem.pinned))
    if problem.together:
        checks.append(kept_whole(labels, problem.together))
    if problem.reach is not None and problem.reach_limit is not None:
        checks.append(within_travel_limit(labels, centres, problem.reach, problem.reach_limit, problem.reach_exempt))
    if problem.centre_capacity is not None:
        checks.append(zones_within_bounds(
            zone_loads(labels, problem.demand, k), lower=np.full(k, -np.inf),
            upper=problem.centre_capacity[list(centres)], name="centre_capacity", what="load vs capacity in reach",
        ))
    if problem.stay is not None and problem.max_moved is not None:
        moved = problem.moved(labels)
        ok = moved <= problem.max_moved * (1 + 1e-6) + 1e-6
        checks.append(Check("moved_within_cap", ok, f"{moved:,.1f} hours change zone (cap {problem.max_moved:,.1f})"))
    return checks


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
    pieces: PieceJoin | None = None


def prepare_problem(scenario: Scenario, *, progress: Progress | None = None) -> Prepared:
    """Read and validate the inputs, build units, travel times and the optimiser's problem."""
    say = progress or (lambda _m: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    say("reading postcode and boundary data")
    reference = load_reference_postcodes(scenario.data.postcodes)
    boundaries = read_boundaries(scenario.data.boundaries)
    say("validating demand, providers and current zones")
    demand, excluded = read_demand(scenario.demand.path, reference, on_unmatched=scenario.demand.on_unmatched)
    providers = read_providers(scenario.providers.path, reference)
    cz = scenario.current_zones
    current_of_postcode = read_current_zones(cz.path, reference, key=cz.key, zone_column=cz.zone_column) if cz \
        else pd.Series(np.nan, index=reference.index, dtype=object)
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
    travel = travel_model_for(scenario)
    units, pieces, solve_scenario = join_for_scenario(scenario, units, area, travel)
    dem = area[area["hours_per_week"] > 0]
    dem_t = travel.minutes(dem[["easting", "northing"]].to_numpy(float), units.points)  # (demand postcodes, units)
    by_cost = scenario.model.objective == "cost"
    cost = unit_cost_matrix(units, dem_t, dem["hours_per_week"].to_numpy(), dem["unit"].to_numpy(), travel,
                            price=dem["travel_price_per_min"].to_numpy() if by_cost else None)
    unit_demand = np.bincount(area["unit"], weights=area["hours_per_week"], minlength=units.n).astype(np.float64)
    a, b = units.edges[:, 0], units.edges[:, 1]
    edge_km = np.hypot(*(units.points[a] - units.points[b]).T) / 1000.0
    if scenario.model.zones > units.n:
        raise SolveError(
            f"asked for {scenario.model.zones} zones but the area has only {units.n} units (LSOAs): "
            f"use at most {units.n} zones"
        )
    if cz is None and scenario.continuity is not None:
        raise ScenarioError("[continuity] starts from today's zones, but the scenario has no [current_zones]: "
                            "add [current_zones] or drop [continuity]")
    current_names, current_centre = _current_centres(area, dem, dem_t) if cz else ([], {})
    options = problem_options(
        solve_scenario, units=units, area=area, demand=demand, providers=providers, travel=travel,
        unit_demand=unit_demand, current_names=current_names, current_centres=current_centre,
    )
    if by_cost and "moved_penalty" in options.kwargs:  # minutes per hour moved -> GBP at the mean travel price
        options.kwargs["moved_penalty"] *= float(np.average(dem["travel_price_per_min"], weights=dem["hours_per_week"]))
    try:
        problem = DistrictingProblem(
            demand=unit_demand, cost=cost, edges=units.edges, n_zones=scenario.model.zones,
            tolerance=scenario.model.tolerance, edge_length=edge_km, unit_ids=units.ids, **options.kwargs,
        )
    except ValueError as exc:
        raise SolveError(f"the inputs do not make a valid zoning problem: {exc}") from exc
    timings["units_travel_s"] = time.perf_counter() - t0 - timings["inputs_s"]
    return Prepared(
        scenario=scenario, demand=demand, excluded=excluded, providers=providers, units=units, area=area, dem=dem,
        dem_t=dem_t, travel=travel, problem=problem, options=options, current_names=current_names,
        current_centre=current_centre, timings=timings, pieces=pieces,
    )


def plan_zones(scenario: Scenario, *, progress: Progress | None = None) -> ZonePlan:
    """Run the whole design for ``scenario`` (see the module docstring)."""
    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    prep = prepare_problem(scenario, progress=say)
    demand, excluded, providers, units, area = prep.demand, prep.excluded, prep.providers, prep.units, prep.area
    travel, problem, options, timings = prep.travel, prep.problem, prep.options, prep.timings
    current_names, current_centre = prep.current_names, prep.current_centre
    by_cost = scenario.model.objective == "cost"

    say(f"designing {problem.n_zones} zones over {problem.n_units} units ({scenario.model.solver})")
    m = scenario.model
    t1 = time.perf_counter()
    try:
        result = design_zones(
            problem, solver=m.solver, time_limit_s=m.time_limit_s, seed=scenario.seed,
            max_rounds=m.max_rounds, threads=m.threads, mip_rel_gap=m.mip_rel_gap,
            initial_centres=options.initial_centres, fix_centres=options.fix_centres, progress=say,
        )
    except InfeasibleProblemError as exc:
        raise SolveError("no plan is possible: " + "; ".join(exc.reasons)) from exc
    except TimeoutError as exc:
        raise SolveError(str(exc)) from exc
    timings["solve_s"] = time.perf_counter() - t1
    bound = None
    if m.certify_s > 0:
        say("computing a certified lower bound over all balanced plans")
        t2 = time.perf_counter()
        lo, hi = problem.zone_bounds()
        bound = lagrangian_bound(
            problem.demand, problem.cost, n_zones=problem.n_zones, lower=float(lo.min()), upper=float(hi.max()),
            target=result.objective, time_limit_s=m.certify_s,
        )
        timings["bound_s"] = time.perf_counter() - t2
        log.info("certified lower bound %.6g (%s, %d iterations): plan is %.2f%% above it", bound.value,
                 bound.method, bound.iterations, 100 * (result.objective / bound.value - 1) if bound.value > 0 else 0)

    say("checking the plan and computing figures")
    checks = plan_checks(problem, result.labels, result.centres)
    # order zones north to south so ids are stable and readable; Z01 is the most northerly
    centre_xy = units.points[list(result.centres)]
    order = np.lexsort((centre_xy[:, 0], -centre_xy[:, 1]))
    relabel = np.empty_like(order)
    relabel[order] = np.arange(len(order))
    unit_zone = relabel[result.labels]
    centres = [result.centres[k] for k in order]
    area["proposed_index"] = unit_zone[area["unit"].to_numpy()]
    names = _zone_names(area, [units.ids[c] for c in centres])
    names = [options.zone_names.get(int(old), name) for old, name in zip(order, names, strict=True)]
    ids = zone_ids(problem.n_zones)
    area["proposed_zone"] = [ids[z] for z in area["proposed_index"]]
    xy = area[["easting", "northing"]].to_numpy(float)
    centre_pts = units.points[centres]
    area["travel_min_proposed"] = travel.minutes(xy, centre_pts)[np.arange(len(area)), area["proposed_index"]]

    if scenario.current_zones is None:  # no current zones: "today" is the plan itself, never shown as a comparison
        area["current_zone"] = area["proposed_zone"]
        current_names = list(ids)
        current_centre = {z: int(c) for z, c in zip(ids, centres, strict=True)}
    # current zones: each served from its best central unit, measured the same way
    cur_pts = units.points[[current_centre[z] for z in current_names]]
    cur_idx = area["current_zone"].map({z: k for k, z in enumerate(current_names)}).to_numpy()
    area["travel_min_current"] = travel.minutes(xy, cur_pts)[np.arange(len(area)), cur_idx]
    unit_current = (
        area.groupby(["lsoa11cd", "current_zone"]).size().rename("n").reset_index()
        .sort_values(["lsoa11cd", "n", "current_zone"], ascending=[True, False, True])
        .groupby("lsoa11cd")["current_zone"].first().reindex(list(units.ids))
    )

    # providers: branch -> zone (inside the area: its LSOA; outside: the nearest in-area unit)
    prov = providers.copy()
    prov_unit = provider_units(prov, units)
    prov["proposed_zone"] = [ids[unit_zone[u]] for u in prov_unit]
    pc_tree = cKDTree(xy)
    _, nearest_pc = pc_tree.query(prov[["easting", "northing"]].to_numpy(float))
    prov["current_zone"] = [
        area.at[pc, "current_zone"] if inside and pc in area.index else area["current_zone"].iloc[k]
        for pc, inside, k in zip(prov["postcode"], prov["in_area"], nearest_pc, strict=True)
    ]

    zones = zone_table(area, demand, prov, zone_column="proposed_zone", travel_column="travel_min_proposed",
                       providers_zone_column="proposed_zone")
    if list(zones["zone"]) != ids:
        raise AssertionError("zone table out of order")  # zone_ids sort numerically by design
    zones.insert(1, "zone_name", names)
    zones["n_units"] = np.bincount(unit_zone, minlength=problem.n_zones)
    zones["centre_lsoa"] = [units.ids[c] for c in centres]
    zones["centre_easting"] = centre_pts[:, 0]
    zones["centre_northing"] = centre_pts[:, 1]
    current = zone_table(area, demand, prov, zone_column="current_zone", travel_column="travel_min_current",
                         providers_zone_column="current_zone")
    current["centre_lsoa"] = [units.ids[current_centre[z]] for z in current["zone"]]
    current["n_units_majority"] = [int((unit_current == z).sum()) for z in current["zone"]]

    matched: dict[str, str | None]
    if scenario.continuity is not None:  # zone identity: proposed zone k grew from today's zone order[k]
        matched = {ids[k]: current_names[int(order[k])] for k in range(problem.n_zones)}
    else:
        matched = match_zones(area)
    change = plan_change(area, demand, continues=matched)
    moves = change_flows(area, demand, change)
    if options.centre_capacity_raw is not None:
        zones["capacity_within_radius"] = options.centre_capacity_raw[centres]

    unit_current = fill_from_neighbours(unit_current, units)
    cur_index = {z: k for k, z in enumerate(current["zone"])}
    cur_labels = np.array([cur_index[z] for z in unit_current], dtype=np.int64)
    cur_contig = is_contiguous(cur_labels, units.edges, zone_names=list(current["zone"]))
    tol = scenario.model.tolerance
    metrics = plan_metrics(zones, tolerance=tol, contiguous=checks[1].passed, contiguity_detail=checks[1].detail)
    current_metrics = plan_metrics(
        current, tolerance=tol, contiguous=cur_contig.passed,
        contiguity_detail=cur_contig.detail + " (LSOAs drawn in their majority current zone)",
    )
    total = float(demand["hours_per_week"].sum())
    travel_gbp = area["hours_per_week"] * area["travel_price_per_min"]
    area["travel_cost_proposed"] = travel_gbp * area["travel_min_proposed"]
    area["travel_cost_current"] = travel_gbp * area["travel_min_current"]
    area["care_cost"] = area["hours_per_week"] * area["rate_per_hour"]
    for table, column, cost_column in ((zones, "proposed_zone", "travel_cost_proposed"),
                                       (current, "current_zone", "travel_cost_current")):
        sums = area.groupby(column)[["care_cost", cost_column]].sum().reindex(table["zone"])
        table["care_cost_gbp_per_week"] = sums["care_cost"].to_numpy()
        table["travel_cost_gbp_per_week"] = sums[cost_column].to_numpy()
    moved_charge = problem.moved_penalty * problem.moved(result.labels)
    if by_cost:
        recomputed = float(area["travel_cost_proposed"].sum()) + moved_charge
    else:
        recomputed = metrics.mean_travel_min * total + moved_charge
    checks.append(
        Check(
            "objective_matches_recomputation",
            abs(recomputed - result.objective) <= 1e-6 * max(1.0, abs(result.objective)),
            f"optimiser objective {result.objective:.3f} vs postcode-level recomputation {recomputed:.3f}",
        )
    )
    failed = [c for c in checks if not c.passed]
    if failed:
        raise CheckError("the plan failed checks: " + "; ".join(f"{c.name}: {c.detail}" for c in failed))
    timings["total_s"] = time.perf_counter() - t0
    log.info(
        "plan: %d zones, mean travel %.2f min (current %.2f), loads %.0f-%.0f h/week (current %.0f-%.0f)",
        metrics.zones, metrics.mean_travel_min, current_metrics.mean_travel_min, metrics.min_zone_hours,
        metrics.max_zone_hours, current_metrics.min_zone_hours, current_metrics.max_zone_hours,
    )
    return ZonePlan(
        scenario=scenario, units=units, postcodes=area, demand=demand, providers=prov, unit_zone=unit_zone,
        unit_current_zone=unit_current, zones=zones, current=current, result=result, checks=tuple(checks),
        metrics=metrics, current_metrics=current_metrics, excluded=excluded, travel=travel, timings=timings,
        options=options, moves=moves, hours_moved=change.hours_moved, matched=matched,
        change=change,
        bound=bound, pieces=prep.pieces,
    )
