"""The postcode-level stage of a run (``[units] level = "postcode"``).

After the LSOA design (:func:`zoning.pipeline.design`), :func:`refine_to_postcodes`

1. builds postcode units (:mod:`zoning.postcode_units`) and the scenario's constraint arrays
   over them (:func:`zoning.commissioning_arrays.problem_options`: balance, per-zone bounds,
   cohorts, capacity flow with each branch's minutes to every postcode point; locks and
   kept-whole areas carried from the LSOA problem, cell by cell, :func:`_locks_on_cells`);
2. projects the LSOA plan onto the cells (each cell takes its postcodes' LSOA's zone) and
   refines it with :func:`optimiser.refine.refine_plan`, costs computed on demand
   (:class:`PointCost`: no (n, n) matrix), every family's constraints kept;
3. bounds it from below (:func:`postcode_bound`) over the units with demand and candidate
   centres, with the scope stated.

It returns a :class:`~zoning.prepare.Prepared` over the postcode units, so that
:func:`zoning.measure.measure_plan` and the publishers draw every output from the cells.
A constraint family the refinement does not keep is refused before any work (:func:`refuse_unrefined`).

The postcode-level :class:`~optimiser.problem.DistrictingProblem` carries every family's data
(demand, rows, branches, edges) for the named checks, but its ``cost`` is a zero-stride
placeholder of shape (n, n) (no memory): nothing designs on it; the objective and the bound
read travel through :class:`PointCost`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from optimiser.bounds import BoundResult, FlowRelaxation, lagrangian_bound
from optimiser.construct import movable_units, resource_bounds
from optimiser.districting import DistrictingResult
from optimiser.families import not_refined
from optimiser.problem import DistrictingProblem
from optimiser.refine import RefineResult, refine_plan
from optimiser.resources import Continuity
from optimiser.solve import SolverReport, SolveStatus
from zoning.cell_options import PointCost, declared_only_edges
from zoning.commissioning_arrays import problem_options
from zoning.errors import ScenarioError, SolveError
from zoning.pieces import own_zone_specs, piece_of_units, unit_hours_of
from zoning.postcode_units import build_postcode_units
from zoning.prepare import Prepared, Progress, current_centres
from zoning.scenario import Scenario
from zoning.units import Units

log = logging.getLogger(__name__)


def refuse_unrefined(problem: DistrictingProblem, *, where: str) -> None:
    """Raise :class:`ScenarioError` (exit 2) naming every constraint family of ``problem`` that
    the postcode refinement does not keep (the registry's ``refine``, :mod:`optimiser.families`):
    run on the LSOA problem before the design, and on the cells' before the refinement."""
    missing = not_refined(problem)
    if missing:
        raise ScenarioError(
            f"{where}: [units] level = \"postcode\" cannot keep the constraint famil(ies) {', '.join(missing)} yet. "
            "How to fix: remove the options behind them, or set [units] level = \"lsoa\""
        )


def postcode_prepared(prep: Prepared, *, progress: Progress) -> tuple[Prepared, int]:
    """The postcode-level :class:`Prepared` (see the module docstring) and the links added."""
    scenario, travel = prep.scenario, prep.travel
    progress("building postcode units (Voronoi cells) and their adjacency")
    t0 = time.perf_counter()
    built = build_postcode_units(prep.area, prep.units.polygons, outline_path=scenario.data.outline)
    area = prep.area.copy()
    area["lsoa_unit"] = area["unit"]
    area["unit"] = built.unit_of_postcode.to_numpy()
    lsoa_of_unit = lsoa_of_cells(area, built.units.n)
    cells, relinked = built.units, 0
    if scenario.pieces.join == "declared":  # pieces meet only through the declared links (carried next)
        piece = piece_of_units(prep.pieces, prep.units.ids)[lsoa_of_unit]
        edges, relinked = declared_only_edges(cells.points, cells.edges, piece)
        cells = replace(cells, edges=edges)
    units, crossings = _with_crossings(cells, prep, lsoa_of_unit)
    demand_of_unit = unit_hours_of(area, units.n)
    xy = area[["easting", "northing"]].to_numpy(float)
    current_centre = (current_centres(area, prep.current_names,
                                      lambda rows, cand: travel.minutes(xy[rows], units.points[cand]))
                      if scenario.current_zones is not None else {})
    own = scenario.model_copy(update={"zone": (*scenario.zone, *own_zone_specs(prep.pieces))}) if prep.pieces else scenario
    options = problem_options(
        _without_locks(own), units=units, area=area, demand=prep.demand, providers=prep.providers, travel=travel,
        unit_demand=demand_of_unit, current_names=prep.current_names, current_centres=current_centre, cells=True,
    )
    notes = [*options.notes, f"postcode units: {units.n:,} Voronoi cells for {len(area):,} in-area postcodes "
             f"({built.links_added} cut-off cell(s) linked to their nearest unit, {crossings} crossing(s) of the "
             f"LSOA level carried to their nearest cells, {built.outside_outline} point(s) outside the outline "
             "given a cell of their own)" + (f"; [pieces] join = \"declared\": cells of different pieces adjacent only "
                                            f"through the declared links ({relinked} cell(s) relinked within their "
                                            "piece)" if scenario.pieces.join == "declared" else "")]
    pinned, together = _locks_on_cells(prep, lsoa_of_unit)
    # the continuity charge in the objective's units, as the LSOA problem has it (GBP under objective "cost")
    options = replace(options, notes=notes, arrays=replace(options.arrays, pinned=pinned, together=together,
                                                           moved_penalty=prep.problem.moved_penalty))
    a, b = units.edges[:, 0], units.edges[:, 1]
    edge_km = np.maximum(np.hypot(*(units.points[a] - units.points[b]).T) / 1000.0, 1e-6)
    placeholder = np.broadcast_to(np.zeros(1), (units.n, units.n))  # no memory: see the module docstring
    try:
        problem = options.problem(demand=demand_of_unit, cost=placeholder, edges=units.edges,
                                  n_zones=scenario.model.zones, tolerance=scenario.model.tolerance,
                                  edge_length=edge_km, unit_ids=units.ids)
    except ValueError as exc:
        raise SolveError(f"the postcode units do not make a valid zoning problem: {exc}") from exc
    timings = dict(prep.timings)
    timings["postcode_units_s"] = time.perf_counter() - t0
    dem = area[area["hours_per_week"] > 0]
    pc = replace(prep, units=units, area=area, dem=dem, dem_t=np.zeros((len(dem), 0)), problem=problem,
                 options=options, current_centre=current_centre, timings=timings, pieces=None)
    return pc, built.links_added


def lsoa_of_cells(area: pd.DataFrame, n: int) -> NDArray[np.int64]:
    """(n,) the LSOA unit of each postcode cell (its postcodes' LSOA; ``area`` has both columns)."""
    return area.groupby("unit")["lsoa_unit"].first().reindex(range(n)).to_numpy()


def _with_crossings(units: Units, prep: Prepared, lsoa_of_unit: NDArray[np.int64]) -> tuple[Units, int]:
    """``units`` with each link of the LSOA level (a declared ``[[link]]`` or a join across the
    water, :mod:`zoning.pieces`) carried to the cells: the nearest pair of cells of its two LSOAs
    becomes adjacent. Returns the units and how many links were carried."""
    if prep.pieces is None or not prep.pieces.links:
        return units, 0
    index = prep.units.index()
    extra = []
    for link in prep.pieces.links:
        a = np.flatnonzero(lsoa_of_unit == index[link.a])
        b = np.flatnonzero(lsoa_of_unit == index[link.b])
        if a.size == 0 or b.size == 0:
            continue
        gap = np.hypot(*(units.points[a][:, None, :] - units.points[b][None, :, :]).transpose(2, 0, 1))
        i, j = np.unravel_index(int(np.argmin(gap)), gap.shape)
        extra.append(sorted((int(a[i]), int(b[j]))))
    if not extra:
        return units, 0
    edges = np.unique(np.vstack([units.edges, np.asarray(extra, dtype=np.int64)]), axis=0)
    return replace(units, edges=edges), len(extra)


def _without_locks(scenario: Scenario) -> Scenario:
    """The scenario with its locks and kept-whole areas left out: they name LSOAs and wards of the
    LSOA problem, and :func:`_locks_on_cells` carries them onto the cells instead."""
    zones = tuple(z.model_copy(update={"lock_postcodes": (), "lock_lsoas": (), "lock_wards": ()})
                  for z in scenario.zone)
    return scenario.model_copy(update={"zone": zones, "keep_whole": ()})


def _locks_on_cells(prep: Prepared, lsoa_of_unit: NDArray[np.int64]
                    ) -> tuple[NDArray[np.int64] | None, tuple[NDArray[np.int64], ...]]:
    """The LSOA problem's locks and kept-whole groups over the postcode cells: a cell is locked
    (kept with the others) as its postcodes' LSOA is, so the LSOA plan, which keeps them, still
    does once projected, and the refinement leaves those cells where they are."""
    lsoa = prep.problem
    pinned = None if lsoa.pinned is None else np.asarray(lsoa.pinned, dtype=np.int64)[lsoa_of_unit]
    together = tuple(np.flatnonzero(np.isin(lsoa_of_unit, np.asarray(g))) for g in lsoa.together)
    return pinned, tuple(g for g in together if g.size)


def centre_rule(prep: Prepared) -> NDArray[np.bool_] | None:
    """(n, K) the cells that may centre each zone (``[capacity] centres = "hubs"``: the cells
    holding a branch; fixed ``hubs``: zone ``z``'s hub cell only), or None: any cell."""
    problem, options = prep.problem, prep.options
    if problem.centre_candidates is None:
        return None
    n, k = problem.n_units, problem.n_zones
    if options is not None and options.fix_centres:
        ok = np.zeros((n, k), dtype=bool)
        for z, u in options.initial_centres.items():
            ok[u, z] = True
        return ok
    return np.repeat(np.asarray(problem.centre_candidates, dtype=bool)[:, None], k, axis=1)


def unit_weights(prep: Prepared) -> NDArray[np.float64]:
    """The objective's weight of each unit: hours, or hours x GBP per minute (objective "cost")."""
    area, n = prep.area, prep.units.n
    if prep.scenario.model.objective == "cost":
        w = area["hours_per_week"].to_numpy(float) * area["travel_price_per_min"].to_numpy(float)
        return np.bincount(area["unit"].to_numpy(), weights=w, minlength=n).astype(np.float64)
    return unit_hours_of(area, n)


def postcode_bound(prep: Prepared, refined: RefineResult, *, weights: NDArray[np.float64],
                   warm: BoundResult | None, lsoa_demand: NDArray[np.float64], time_limit_s: float) -> BoundResult:
    """A Lagrangian lower bound (:func:`optimiser.bounds.lagrangian_bound`) over the postcode
    units with demand plus the plan's centres as the candidate centres (with hub centres, the
    cells the hub rule allows: :func:`centre_rule`): it covers every balanced plan of the postcode
    units (contiguous or not; meeting the capacity balance when the scenario has one) whose
    centres lie among those candidates. Warm-started from the LSOA bound's
    multipliers shared out per hour."""
    problem = prep.problem
    demand = problem.demand
    rule = centre_rule(prep)
    # hub centres: every plan's centres lie among the cells the rule allows, so only they are candidates
    allowed = None if rule is None else np.flatnonzero(rule.any(axis=1))
    centres = np.asarray(refined.centres, dtype=np.int64) if allowed is None else allowed
    rows = np.union1d(np.flatnonzero(demand > 0), centres)
    # the candidates' positions among the rows (None: every row is a candidate, the block is square)
    cand = None if allowed is None else np.searchsorted(rows, allowed)
    factor = np.divide(weights[rows], demand[rows], out=np.ones(rows.size), where=demand[rows] > 0)
    block = factor[:, None] * prep.travel.minutes(prep.units.points[rows],
                                                  prep.units.points[rows if cand is None else rows[cand]])
    lam0 = None
    if warm is not None and warm.multipliers.shape == lsoa_demand.shape:
        per_hour = np.divide(warm.multipliers, lsoa_demand, out=np.zeros_like(lsoa_demand), where=lsoa_demand > 0)
        lsoa_of = lsoa_of_cells(prep.area, problem.n_units)[rows]
        lam0 = demand[rows] * per_hour[lsoa_of]
    lo, hi = problem.zone_bounds()
    br = problem.branches
    flow = None if br is None else FlowRelaxation(capacity=np.asarray(br.capacity, dtype=np.float64),
                                                  reaches=br.in_reach()[:, rows if cand is None else rows[cand]],
                                                  margin=float(br.margin))
    bound = lagrangian_bound(demand[rows], block, n_zones=problem.n_zones, lower=float(lo.min()),
                             upper=float(hi.max()), candidates=cand, target=refined.objective, max_iter=5000,
                             time_limit_s=time_limit_s, initial_multipliers=lam0,
                             initial_step=0.25 if lam0 is not None else 2.0, flow=flow,
                             initial_capacity_multipliers=None if warm is None else warm.capacity_multipliers)
    meets = "meeting the capacity balance" if flow is not None else "capacity not imposed"
    if problem.travel_limit() is not None:
        meets += ", the travel limit not imposed"
    if problem.max_moved is not None or problem.moved_penalty:
        meets += ", continuity's cap and charge left out"
    among = ("the units with demand and the plan's centres" if allowed is None else
             "the hubs' cells" if prep.options is not None and prep.options.fix_centres else "the cells holding a branch")
    scope = (f"balanced plans of the {problem.n_units:,} postcode units (contiguous or not, {meets}) "
             f"whose centres lie among {rows.size if cand is None else cand.size:,} candidates: {among}")
    if refined.objective < bound.value <= refined.objective * (1 + 1e-7) + 1e-9:
        bound = replace(bound, value=refined.objective)
    log.info("postcode-level lower bound %.6g (%d iterations, %.1f s): plan %.2f%% above it; covers %s",
             bound.value, bound.iterations, bound.seconds,
             100 * (refined.objective / bound.value - 1) if bound.value > 0 else 0.0, scope)
    return replace(bound, scope=scope)


def refine_to_postcodes(prep: Prepared, result: DistrictingResult, *, warm: BoundResult | None,
                        progress: Progress, deadline: float | None = None,
                        ) -> tuple[Prepared, DistrictingResult, BoundResult | None]:
    """Steps 1-3 of the module docstring: the postcode-level inputs, plan and bound. The
    refinement and the bound take at most ``[units] refine_s`` and ``bound_s``, and end by
    ``deadline`` (a ``time.perf_counter()`` value: the run's limit less the outputs' share)."""
    opts = prep.scenario.units

    def seconds_left(most: float) -> float:
        return most if deadline is None else max(min(most, deadline - time.perf_counter()), 1.0)

    pc, _links = postcode_prepared(prep, progress=progress)
    problem, units = pc.problem, pc.units
    refuse_unrefined(problem, where="the postcode units")
    lsoa_of_unit = lsoa_of_cells(pc.area, units.n)
    start = result.labels[lsoa_of_unit]
    centre_ok = centre_rule(pc)
    hubs = pc.options.initial_centres if pc.options is not None and pc.options.fix_centres else {}
    start[list(hubs.values())] = list(hubs.keys())  # fixed hubs: each zone holds its hub's cell
    # each zone's start centre: its hub, else its (allowed) postcode unit nearest the LSOA plan's centre point
    centres = []
    for z, c in enumerate(result.centres):
        members = np.flatnonzero(start == z)
        if centre_ok is not None and centre_ok[members, z].any():
            members = members[centre_ok[members, z]]
        d = np.hypot(*(units.points[members] - prep.units.points[c]).T)
        centres.append(hubs.get(z, int(members[int(np.argmin(d))]) if members.size else -1))
    weights = unit_weights(pc)
    progress(f"refining the plan over {units.n:,} postcode units")
    cost = PointCost(units.points, pc.travel)
    refine_s = seconds_left(opts.refine_s)
    try:
        refined = refine_plan(start, weights=weights, cost=cost,
                              edges=units.edges, bounds=resource_bounds(problem),
                              centres=tuple(centres), branches=problem.branches, time_limit_s=refine_s,
                              seed=pc.scenario.seed, movable=movable_units(problem), limit=problem.travel_limit(),
                              centre_ok=centre_ok, centre_capacity=problem.centre_capacity,
                              continuity=None if problem.stay is None else Continuity(
                                  problem.stay, problem.max_moved, problem.moved_penalty))
    except ValueError as exc:
        raise SolveError(f"the LSOA plan could not be refined at postcode level keeping every constraint: {exc}. "
                         "How to fix: run at [units] level = \"lsoa\", or loosen the capacity balance, the travel limit or the continuity cap") from exc
    pc.timings["refine_s"] = refined.seconds
    report = result.report
    seconds = result.seconds + refined.seconds
    objective = refined.objective
    pc_result = DistrictingResult(
        labels=refined.labels, centres=refined.centres, objective=objective,
        loads=np.bincount(refined.labels, weights=problem.demand, minlength=problem.n_zones).astype(np.float64),
        report=SolverReport(
            solver=report.solver, status=SolveStatus.FEASIBLE,
            solver_status=f"postcode-level local search from the LSOA plan (LSOA model: {report.solver_status})",
            objective=objective, best_bound=None, gap=None, seconds=seconds, time_limit_s=report.time_limit_s,
            n_variables=report.n_variables, n_constraints=report.n_constraints),
        rounds=result.rounds, seconds=seconds,
        method=f"{result.method}; then refined over postcode units by contiguity-preserving local search "
               "(optimiser.refine)",
        bound_scope="local-search refinement at postcode level, which has no solver gap (see the lower bound)",
        milp_objective=None, local_search_moves=refined.moves + refined.swaps,
        time_limited=result.time_limited + (("postcode refinement",) if refined.seconds >= refine_s else ()),
    )
    bound = None
    if opts.bound_s > 0:
        progress("computing a lower bound over postcode units")
        bound = postcode_bound(pc, refined, weights=weights, warm=warm, lsoa_demand=prep.problem.demand,
                               time_limit_s=seconds_left(opts.bound_s))
        pc.timings["bound_s"] = bound.seconds
    log.info("postcode refinement: %d units mended, %d rebalanced; LSOA plan %.6g, projected %.6g, refined %.6g",
             refined.mended_units, refined.rebalanced_units, result.objective, refined.start_objective, objective)
    return pc, pc_result, bound

