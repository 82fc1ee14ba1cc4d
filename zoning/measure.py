"""Stage 3 of a run: measure a plan (an assignment of units to zones with their centres) the
way every output shows it: postcode travel to the zone centre, today's zones measured the same
way, providers placed in zones, per-zone tables and costs, and the named checks.

:func:`measure_plan` takes any labelled plan, so a designed plan and a plan a person edited
are measured by the same code.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from optimiser.bounds import BoundResult
from optimiser.checks import is_contiguous
from optimiser.districting import DistrictingResult
from zoning.allocation import add_allocation_columns, capacity_allocation
from zoning.changes import PlanChange, change_flows, match_zones, plan_change
from zoning.commissioning_arrays import provider_units
from zoning.metrics import PlanMetrics, plan_metrics, zone_table
from zoning.places import name_zones
from zoning.plan import ZonePlan
from zoning.plan_checks import objective_check, plan_checks
from zoning.prepare import Prepared
from zoning.units import Units

log = logging.getLogger(__name__)


def zone_ids(n_zones: int) -> list[str]:
    """``Z01``..``Znn``, zero-padded so that text order is numeric order for any K."""
    width = max(2, len(str(n_zones)))
    return [f"Z{z + 1:0{width}d}" for z in range(n_zones)]



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



def _zone_order(units: Units, centres: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Zones ordered north to south (ties west to east), so ids are stable and readable: Z01 is
    the most northerly. Returns (order, relabel): new zone k is old zone ``order[k]``, and old
    zone j becomes ``relabel[j]``."""
    centre_xy = units.points[list(centres)]
    order = np.lexsort((centre_xy[:, 0], -centre_xy[:, 1]))
    relabel = np.empty_like(order)
    relabel[order] = np.arange(len(order))
    return order, relabel


@dataclass(frozen=True)
class ZoneIdentity:
    """Ids and names a plan's zones must keep (a given plan, or zones continuing a baseline's):
    ``ids[z]`` and ``names[z]`` belong to the result's zone index ``z``. Zones are then listed in
    id order instead of north to south."""

    ids: tuple[str, ...]
    names: tuple[str, ...]


def _identity_order(identity: ZoneIdentity) -> tuple[np.ndarray, np.ndarray]:
    order = np.array(sorted(range(len(identity.ids)), key=lambda z: identity.ids[z]), dtype=np.int64)
    relabel = np.empty_like(order)
    relabel[order] = np.arange(len(order))
    return order, relabel


def _majority_current(area: pd.DataFrame, units: Units) -> pd.Series:
    """Each unit's majority current zone (for drawing and for judging contiguity), indexed by unit id."""
    majority = (
        area.groupby(["unit", "current_zone"]).size().rename("n").reset_index()
        .sort_values(["unit", "n", "current_zone"], ascending=[True, False, True])
        .groupby("unit")["current_zone"].first().reindex(range(units.n))
    )
    return pd.Series(majority.to_numpy(), index=pd.Index(list(units.ids), name="lsoa11cd"), name="current_zone")


def _place_providers(prep: Prepared, unit_zone: np.ndarray, ids: list[str], xy: np.ndarray) -> pd.DataFrame:
    """Branch -> zone: inside the area its LSOA's zone; outside, the nearest in-area unit's (proposed)
    and the nearest in-area postcode's current zone."""
    area = prep.area
    prov = prep.providers.copy()
    prov_unit = provider_units(prov, prep.units)
    prov["proposed_zone"] = [ids[unit_zone[u]] for u in prov_unit]
    _, nearest_pc = cKDTree(xy).query(prov[["easting", "northing"]].to_numpy(float))
    prov["current_zone"] = [
        area.at[pc, "current_zone"] if inside and pc in area.index else area["current_zone"].iloc[k]
        for pc, inside, k in zip(prov["postcode"], prov["in_area"], nearest_pc, strict=True)
    ]
    return prov


def _add_costs(area: pd.DataFrame, zones: pd.DataFrame, current: pd.DataFrame) -> None:
    """Weekly care cost and paid travel cost at the band rates, per postcode and per zone."""
    travel_gbp = area["hours_per_week"] * area["travel_price_per_min"]
    area["travel_cost_proposed"] = travel_gbp * area["travel_min_proposed"]
    area["travel_cost_current"] = travel_gbp * area["travel_min_current"]
    area["care_cost"] = area["hours_per_week"] * area["rate_per_hour"]
    for table, column, cost_column in ((zones, "proposed_zone", "travel_cost_proposed"),
                                       (current, "current_zone", "travel_cost_current")):
        sums = area.groupby(column)[["care_cost", cost_column]].sum().reindex(table["zone"])
        table["care_cost_gbp_per_week"] = sums["care_cost"].to_numpy()
        table["travel_cost_gbp_per_week"] = sums[cost_column].to_numpy()


def _current_metrics(prep: Prepared, current: pd.DataFrame, filled: pd.Series) -> PlanMetrics:
    """Today's zones measured like the proposal; contiguity with each LSOA in its majority zone
    (``filled``: every LSOA's majority current zone, those without postcodes from a neighbour)."""
    cur_index = {z: k for k, z in enumerate(current["zone"])}
    cur_labels = np.array([cur_index[z] for z in filled], dtype=np.int64)
    contig = is_contiguous(cur_labels, prep.units.edges, zone_names=list(current["zone"]))
    return plan_metrics(current, tolerance=prep.scenario.model.tolerance, contiguous=contig.passed,
                        contiguity_detail=contig.detail + " (LSOAs drawn in their majority current zone)")


def measure_plan(prep: Prepared, result: DistrictingResult, *, bound: BoundResult | None = None,
                 identity: ZoneIdentity | None = None) -> ZonePlan:
    """Measure ``result``'s plan over ``prep``'s inputs and return the :class:`ZonePlan` the
    outputs are written from. Every named check is computed (failures are not raised here).
    With ``identity`` the zones keep the ids and names given; otherwise ``Z01``.. north to south."""
    scenario, units, problem, options, travel = prep.scenario, prep.units, prep.problem, prep.options, prep.travel
    area = prep.area
    checks = plan_checks(problem, result.labels, result.centres,
                         zone_names=list(identity.ids) if identity is not None else ())
    order, relabel = _zone_order(units, result.centres) if identity is None else _identity_order(identity)
    unit_zone = relabel[result.labels]
    centres = [result.centres[k] for k in order]
    area["proposed_index"] = unit_zone[area["unit"].to_numpy()]
    if identity is None:
        names = name_zones(area, zone_column="proposed_index", n_zones=problem.n_zones)
        names = [options.zone_names.get(int(old), name) for old, name in zip(order, names, strict=True)]
        ids = zone_ids(problem.n_zones)
    else:
        names = [identity.names[int(old)] for old in order]
        ids = [identity.ids[int(old)] for old in order]
    area["proposed_zone"] = [ids[z] for z in area["proposed_index"]]
    xy = area[["easting", "northing"]].to_numpy(float)
    centre_pts = units.points[centres]
    area["travel_min_proposed"] = travel.minutes(xy, centre_pts)[np.arange(len(area)), area["proposed_index"]]

    current_names, current_centre = prep.current_names, prep.current_centre
    if scenario.current_zones is None:  # none given: "today" mirrors the plan and no output compares with it
        area["current_zone"] = area["proposed_zone"]
        current_names, current_centre = list(ids), {z: int(c) for z, c in zip(ids, centres, strict=True)}
    # current zones: each served from its best central unit, measured the same way
    cur_pts = units.points[[current_centre[z] for z in current_names]]
    cur_idx = area["current_zone"].map({z: k for k, z in enumerate(current_names)}).to_numpy()
    area["travel_min_current"] = travel.minutes(xy, cur_pts)[np.arange(len(area)), cur_idx]
    unit_current = _majority_current(area, units)

    prov = _place_providers(prep, unit_zone, ids, xy)
    zones = zone_table(area, prep.demand, prov, zone_column="proposed_zone", travel_column="travel_min_proposed",
                       providers_zone_column="proposed_zone")
    if list(zones["zone"]) != ids:
        raise AssertionError("zone table out of order")  # zone_ids sort numerically by design
    zones.insert(1, "zone_name", names)
    zones["n_units"] = np.bincount(unit_zone, minlength=problem.n_zones)
    zones["centre_lsoa"] = [units.ids[c] for c in centres]
    zones["centre_easting"] = centre_pts[:, 0]
    zones["centre_northing"] = centre_pts[:, 1]
    current = zone_table(area, prep.demand, prov, zone_column="current_zone", travel_column="travel_min_current",
                         providers_zone_column="current_zone")
    current["centre_lsoa"] = [units.ids[current_centre[z]] for z in current["zone"]]
    current["n_units_majority"] = [int((unit_current == z).sum()) for z in current["zone"]]

    matched: dict[str, str | None]
    if scenario.continuity is not None:  # zone identity: proposed zone k grew from today's zone order[k]
        matched = {ids[k]: current_names[int(order[k])] for k in range(problem.n_zones)}
    else:
        matched = match_zones(area)
    change: PlanChange = plan_change(area, prep.demand, continues=matched)
    moves = change_flows(area, prep.demand, change)
    if options.centre_capacity_raw is not None:
        zones["capacity_within_radius"] = options.centre_capacity_raw[centres]
    allocation = capacity_allocation(problem, result.labels, result.centres, order=order, zone_ids=ids)
    if allocation is not None:
        add_allocation_columns(allocation, zones, prov)

    metrics = plan_metrics(zones, tolerance=scenario.model.tolerance, contiguous=checks[1].passed,
                           contiguity_detail=checks[1].detail)
    unit_current = fill_from_neighbours(unit_current, units)
    current_metrics = _current_metrics(prep, current, unit_current)
    _add_costs(area, zones, current)
    moved_charge = problem.moved_penalty * problem.moved(result.labels)
    if scenario.model.objective == "cost":
        recomputed = float(area["travel_cost_proposed"].sum()) + moved_charge
    else:
        recomputed = metrics.mean_travel_min * float(prep.demand["hours_per_week"].sum()) + moved_charge
    checks.append(objective_check(result.objective, recomputed))
    return ZonePlan(
        scenario=scenario, units=units, postcodes=area, demand=prep.demand, providers=prov, unit_zone=unit_zone,
        unit_current_zone=unit_current, zones=zones, current=current, result=result,
        checks=tuple(checks), metrics=metrics, current_metrics=current_metrics, excluded=prep.excluded,
        travel=travel, timings=dict(prep.timings), options=options, moves=moves, hours_moved=change.hours_moved,
        matched=matched, change=change, bound=bound, allocation=allocation, pieces=prep.pieces,
    )
