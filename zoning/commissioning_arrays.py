"""Turn a scenario's commissioning options into the optimiser's numeric constraints.

The optimiser sees arrays only (:class:`optimiser.problem.DistrictingProblem`). This module
reads the scenario's domain words (provider capacity, cohorts, continuity with today's zones,
named zones with locked areas, towns kept whole, a travel limit) and turns them into those
arrays, resolving postcodes, wards and provider ids to units with clear errors.

Zone identity: when a scenario names zones (``[[zone]]``), fixes hub centres, or asks for
continuity, zone index ``z`` means something. Named zones take indices ``0..m-1`` in file
order; with continuity, index ``z`` is today's zone ``z`` (sorted by name) and a ``[[zone]]``
entry must carry the name of one of today's zones; with fixed hubs, index ``z`` is hub ``z``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from optimiser.problem import BranchCapacity, DistrictingProblem, ZoneRow
from zoning.cell_options import PointCost, cell_travel_limit
from zoning.errors import ScenarioError
from zoning.inputs import COHORTS
from zoning.postcodes import normalise_postcode
from zoning.scenario import Scenario
from zoning.travel import TravelModel
from zoning.units import Units

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommissioningArrays:
    """The scenario's options as the optional arrays of :class:`DistrictingProblem` (same names,
    same meaning; None / empty when the option is not in force)."""

    zone_lower: NDArray[np.float64] | None = None
    zone_upper: NDArray[np.float64] | None = None
    rows: tuple[ZoneRow, ...] = ()
    pinned: NDArray[np.int64] | None = None
    together: tuple[NDArray[np.int64], ...] = ()
    reach: NDArray[np.float64] | None = None
    reach_limit: float | None = None
    reach_exempt: NDArray[np.bool_] | None = None
    reach_blocks: PointCost | None = None
    stay: NDArray[np.float64] | None = None
    max_moved: float | None = None
    moved_penalty: float = 0.0
    centre_candidates: NDArray[np.bool_] | None = None
    centre_capacity: NDArray[np.float64] | None = None
    branches: BranchCapacity | None = None


@dataclass(frozen=True)
class ProblemOptions:
    """What :func:`problem_options` produced: the problem's arrays and how to start the design."""

    arrays: CommissioningArrays  # the optional DistrictingProblem arrays
    initial_centres: dict[int, int]  # zone index -> unit index
    fix_centres: bool
    zone_names: dict[int, str]  # zone index -> name given in the scenario
    isolated: pd.DataFrame  # postcodes beyond the travel limit from every possible centre
    centre_capacity_raw: np.ndarray | None  # (n,) capacity within the radius of each unit (no margin)
    notes: list[str] = field(default_factory=list)

    @property
    def locked_units(self) -> int:
        """Units locked to a zone."""
        return 0 if self.arrays.pinned is None else int(np.sum(np.asarray(self.arrays.pinned) >= 0))

    def problem(self, **core: Any) -> DistrictingProblem:
        """The :class:`DistrictingProblem` of the core arrays (``core``: demand, cost, edges, ...)
        with these options."""
        a = self.arrays
        return DistrictingProblem(
            **core, zone_lower=a.zone_lower, zone_upper=a.zone_upper, rows=a.rows, pinned=a.pinned,
            together=a.together, reach=a.reach, reach_limit=a.reach_limit, reach_exempt=a.reach_exempt,
            reach_blocks=a.reach_blocks, stay=a.stay, max_moved=a.max_moved,
            moved_penalty=a.moved_penalty, centre_candidates=a.centre_candidates, centre_capacity=a.centre_capacity,
            branches=a.branches,
        )


def provider_units(providers: pd.DataFrame, units: Units) -> np.ndarray:
    """Unit index of each branch: its LSOA inside the area, else the nearest unit."""
    index = units.index()
    _, nearest = cKDTree(units.points).query(providers[["easting", "northing"]].to_numpy(float))
    own = providers["lsoa11cd"].map(index)
    inside = providers["in_area"].to_numpy(bool) & own.notna().to_numpy()
    return np.where(inside, own.fillna(-1).to_numpy(), nearest).astype(np.int64)


def _where(scenario: Scenario) -> str:
    return str(scenario.source) if scenario.source else "the scenario"


def _units_of(
    scenario: Scenario, area: pd.DataFrame, units: Units, *, what: str,
    postcodes: tuple[str, ...] = (), lsoas: tuple[str, ...] = (), wards: tuple[str, ...] = (),
) -> np.ndarray:
    """Unit indices named by postcodes, LSOA codes or ward codes/names (errors name the unknown)."""
    index = units.index()
    found: set[int] = set()
    unknown: list[str] = []
    for pc in postcodes:
        key = normalise_postcode(pc)
        if key in area.index:
            found.add(int(area.at[key, "unit"]))
        else:
            unknown.append(f"postcode {pc!r}")
    for code in lsoas:
        if code.strip() in index:
            found.add(index[code.strip()])
        else:
            unknown.append(f"LSOA {code!r}")
    for ward in wards:
        w = ward.strip()
        hit = area[(area["ward_code"] == w) | (area["ward_name"].str.casefold() == w.casefold())]
        if hit.empty:
            unknown.append(f"ward {ward!r}")
            continue
        # a ward's units: every LSOA holding any of the ward's postcodes
        found.update(int(u) for u in hit["unit"].unique())
    if unknown:
        raise ScenarioError(
            f"{_where(scenario)}: {what} names {len(unknown)} place(s) not in the area: {', '.join(unknown[:8])}"
            + (" …" if len(unknown) > 8 else "")
            + ". How to fix: use in-area postcodes, LSOA 2011 codes (E01...) or ward codes/names "
            "from data/postcodes."
        )
    if not found:
        raise ScenarioError(f"{_where(scenario)}: {what} names no places; list postcodes, LSOAs or wards")
    return np.array(sorted(found), dtype=np.int64)


@dataclass
class _Context:
    scenario: Scenario
    units: Units
    area: pd.DataFrame
    demand: pd.DataFrame
    providers: pd.DataFrame
    travel: TravelModel
    unit_demand: np.ndarray
    cells: bool = False  # the units are postcode cells (zoning.cell_options)
    arrays: CommissioningArrays = field(default_factory=CommissioningArrays)
    names: dict[int, str] = field(default_factory=dict)
    zone_index: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def set(self, **arrays: Any) -> None:
        """Record some of the problem's optional arrays (names as in :class:`CommissioningArrays`)."""
        self.arrays = replace(self.arrays, **arrays)

    @property
    def n(self) -> int:
        return self.units.n

    @property
    def k(self) -> int:
        return self.scenario.model.zones


def problem_options(
    scenario: Scenario,
    *,
    units: Units,
    area: pd.DataFrame,
    demand: pd.DataFrame,
    providers: pd.DataFrame,
    travel: TravelModel,
    unit_demand: np.ndarray,
    current_names: list[str],
    current_centres: dict[str, int],
    cells: bool = False,
) -> ProblemOptions:
    """The scenario's options as :class:`DistrictingProblem` arrays (see the module docstring).

    ``area`` is every in-area postcode (index postcode) with ``unit``, ``hours_per_week``,
    ``current_zone``, ``ward_code``, ``ward_name``, ``easting``, ``northing``. ``cells``: the
    units are postcode cells, the travel limit is read by blocks (:mod:`zoning.cell_options`).
    """
    ctx = _Context(scenario, units, area, demand, providers, travel, unit_demand, cells)
    initial = _zone_identity(ctx, current_names, current_centres)
    _bounds_and_locks(ctx)
    rows = _cohort_rows(ctx)
    cap_row, centre_capacity_raw, hubs = _capacity(ctx)
    rows += cap_row
    if rows:
        ctx.set(rows=tuple(rows))
    if hubs:
        initial = hubs
    if scenario.continuity is not None:
        _continuity(ctx, current_names)
    isolated = _travel_limit(ctx)
    return ProblemOptions(
        arrays=ctx.arrays, initial_centres=initial, fix_centres=bool(hubs), zone_names=ctx.names,
        isolated=isolated, centre_capacity_raw=centre_capacity_raw, notes=ctx.notes,
    )


def _zone_identity(ctx: _Context, current_names: list[str], current_centres: dict[str, int]) -> dict[int, int]:
    """Zone indices for named zones (and today's zones under continuity); starting centres."""
    scenario, initial = ctx.scenario, {}
    cont = scenario.continuity
    if cont is not None:
        if len(current_names) != ctx.k:
            raise ScenarioError(
                f"{_where(scenario)}: continuity compares with today's {len(current_names)} zones, but "
                f"model.zones is {ctx.k}: set zones = {len(current_names)} or drop [continuity]"
            )
        ctx.names.update(dict(enumerate(current_names)))
        initial = {z: current_centres[name] for z, name in enumerate(current_names)}
    for pos, spec in enumerate(scenario.zone):
        if cont is not None:
            if spec.name not in current_names:
                raise ScenarioError(
                    f"{_where(scenario)}: with [continuity], each [[zone]] name must be one of today's zones "
                    f"{current_names}; got {spec.name!r}"
                )
            ctx.zone_index[spec.name] = current_names.index(spec.name)
        else:
            ctx.zone_index[spec.name] = pos
        ctx.names[ctx.zone_index[spec.name]] = spec.name
    return initial


def _bounds_and_locks(ctx: _Context) -> None:
    """Per-zone bounds (tolerance band, minimum viable size, named zones), locks, kept-whole."""
    scenario, k = ctx.scenario, ctx.k
    own = [spec for spec in scenario.zone if spec.piece]  # zones that are exactly a separate piece
    own_hours = sum(float(spec.max_hours or 0.0) for spec in own)
    mean = (float(ctx.unit_demand.sum()) - own_hours) / max(k - len(own), 1)
    tol = scenario.model.tolerance
    lower = np.maximum(np.full(k, (1 - tol) * mean), scenario.model.min_zone_hours)
    upper = np.full(k, (1 + tol) * mean)
    for spec in scenario.zone:
        z = ctx.zone_index[spec.name]
        if spec.min_hours is not None:
            lower[z] = spec.min_hours
        if spec.max_hours is not None:
            upper[z] = spec.max_hours
    if scenario.model.min_zone_hours or scenario.zone:
        ctx.set(zone_lower=lower, zone_upper=upper)

    pinned = np.full(ctx.n, -1, dtype=np.int64)
    for spec in scenario.zone:
        if not (spec.lock_postcodes or spec.lock_lsoas or spec.lock_wards):
            continue
        z = ctx.zone_index[spec.name]
        members = _units_of(scenario, ctx.area, ctx.units, what=f"zone {spec.name!r} locks",
                            postcodes=spec.lock_postcodes, lsoas=spec.lock_lsoas, wards=spec.lock_wards)
        clash = members[(pinned[members] >= 0) & (pinned[members] != z)]
        if clash.size:
            other = int(pinned[clash[0]])
            raise ScenarioError(
                f"{_where(scenario)}: zone {spec.name!r} locks {ctx.units.ids[int(clash[0])]}, already locked to "
                f"zone {ctx.names.get(other, other)!r}: a unit can be locked to one zone"
            )
        pinned[members] = z
    if np.any(pinned >= 0):
        ctx.set(pinned=pinned)
    ctx.set(together=tuple(
        _units_of(scenario, ctx.area, ctx.units, what=f"keep_whole {w.name!r}", wards=w.wards, lsoas=w.lsoas)
        for w in scenario.keep_whole
    ))


def _cohort_rows(ctx: _Context) -> list[ZoneRow]:
    """One row per cohort with bounds: its hours in every zone."""
    rows: list[ZoneRow] = []
    k = ctx.k
    for cohort, bound in ctx.scenario.cohorts.items():
        hours = ctx.demand[ctx.demand["cohort"] == cohort].groupby("postcode")["hours_per_week"].sum()
        amount = np.bincount(ctx.area.loc[hours.index, "unit"].to_numpy(int), weights=hours.to_numpy(), minlength=ctx.n)
        c_mean = amount.sum() / k
        lo = np.full(k, -np.inf)
        hi = np.full(k, np.inf)
        if bound.tolerance is not None:
            lo[:] = (1 - bound.tolerance) * c_mean
            hi[:] = (1 + bound.tolerance) * c_mean
        if bound.min_hours is not None:
            lo = np.maximum(lo, bound.min_hours)
        if bound.max_hours is not None:
            hi = np.minimum(hi, bound.max_hours)
        rows.append(ZoneRow(f"cohort_{cohort}", amount.astype(np.float64), lo, hi, f"{cohort} hours per zone"))
    assert set(ctx.scenario.cohorts) <= set(COHORTS)
    return rows


def _capacity(ctx: _Context) -> tuple[list[ZoneRow], np.ndarray | None, dict[int, int]]:
    """Capacity coverage (a row, or capacity within reach of each possible centre) and hubs."""
    cap, n, k = ctx.scenario.capacity, ctx.n, ctx.k
    providers = ctx.providers
    prov_unit = provider_units(providers, ctx.units)
    capacity = providers["capacity_hours_per_week"].to_numpy(float)
    rows: list[ZoneRow] = []
    raw = None
    if cap.rule == "inside":
        unit_capacity = np.bincount(prov_unit, weights=capacity, minlength=n)
        rows.append(ZoneRow(
            "capacity", unit_capacity - cap.margin * ctx.unit_demand, np.zeros(k), np.full(k, np.inf),
            f"provider capacity minus {cap.margin:g} x demand",
        ))
    elif cap.rule == "flow":
        ctx.set(branches=_branch_capacity(ctx, capacity))
    elif cap.rule == "radius":
        in_reach = ctx.travel.minutes(providers[["easting", "northing"]].to_numpy(float), ctx.units.points) <= cap.radius_min
        raw = capacity @ in_reach
        ctx.set(centre_capacity=raw / cap.margin)
    hubs: dict[int, int] = {}
    if cap.centres == "hubs" or cap.hubs:
        cand = np.zeros(n, dtype=bool)
        cand[prov_unit] = True
        ctx.set(centre_candidates=cand)
        ctx.notes.append(f"zone centres restricted to the {int(cand.sum())} units holding a provider branch")
    if cap.hubs:
        ids = providers["provider_id"].astype(str).tolist()
        missing = [h for h in cap.hubs if h not in ids]
        if missing:
            raise ScenarioError(f"{_where(ctx.scenario)}: capacity.hubs names unknown provider_id(s) {missing}")
        hub_units = [int(prov_unit[ids.index(h)]) for h in cap.hubs]
        if len(set(hub_units)) != len(hub_units):
            noun = _unit_noun(ctx)
            shared: dict[int, list[str]] = {}
            for h, u in zip(cap.hubs, hub_units, strict=True):
                shared.setdefault(u, []).append(h)
            clash = "; ".join(f"{' and '.join(hs)} in {noun} {ctx.units.ids[u]}" for u, hs in shared.items() if len(hs) > 1)
            raise ScenarioError(
                f"{_where(ctx.scenario)}: capacity.hubs must lie in {len(hub_units)} different {noun}s (one zone "
                f"centre each), but {clash}; replace one of each group with a branch in another {noun}"
            )
        hubs = dict(enumerate(hub_units))
        ctx.names.update({z: f"hub {h}" for z, h in enumerate(cap.hubs) if z not in ctx.names})
    return rows, raw, hubs


def _unit_noun(ctx: _Context) -> str:
    """What one unit is called in messages: an LSOA, or a postcode unit at postcode level."""
    return "postcode unit" if "unit_id" in ctx.units.polygons else "LSOA"


def _branch_capacity(ctx: _Context, capacity: np.ndarray) -> BranchCapacity:
    """Each branch's capacity and its travel minutes to every unit (a possible zone centre),
    by the scenario's travel model; each unit's district names the areas in diagnoses."""
    cap = ctx.scenario.capacity
    xy = ctx.providers[["easting", "northing"]].to_numpy(float)
    minutes = ctx.travel.minutes(xy, ctx.units.points)  # (branches, units)
    district = ctx.units.polygons["district_name"].astype(str).tolist() if "district_name" in ctx.units.polygons else []
    far = int(np.sum(capacity @ (minutes <= cap.reach_min) <= 0))
    noun = _unit_noun(ctx)
    if far:
        ctx.notes.append(
            f"{far} {noun}(s) have no provider branch within {cap.reach_min:g} min; zones are covered from their "
            f"centre, so these {noun}s can only join a zone centred where branches reach"
        )
    return BranchCapacity(
        capacity=capacity.astype(np.float64), minutes=np.asarray(minutes, dtype=np.float64), reach_min=cap.reach_min,
        margin=cap.margin, ids=tuple(ctx.providers["provider_id"].astype(str)), groups=tuple(district),
    )


def _continuity(ctx: _Context, current_names: list[str]) -> None:
    """Hours of each unit in each of today's zones; the cap and the charge on moving."""
    cont = ctx.scenario.continuity
    assert cont is not None
    area = ctx.area
    cur_idx = area["current_zone"].map({z: i for i, z in enumerate(current_names)}).to_numpy(int)
    stay = np.zeros((ctx.n, ctx.k))
    np.add.at(stay, (area["unit"].to_numpy(int), cur_idx), area["hours_per_week"].to_numpy(float))
    ctx.set(stay=stay)
    total = float(ctx.unit_demand.sum())
    caps = [c for c in (cont.max_moved_hours, None if cont.max_moved_share is None else cont.max_moved_share * total)
            if c is not None]
    if caps:
        ctx.set(max_moved=float(min(caps)))
    ctx.set(moved_penalty=float(cont.moved_penalty_min))


def _travel_limit(ctx: _Context) -> pd.DataFrame:
    """The farthest postcode of each unit from each possible centre; isolated postcodes."""
    isolated = pd.DataFrame(columns=["postcode", "hours_per_week", "nearest_centre_min"])
    limit = ctx.scenario.model.max_travel_min
    if limit is None:
        return isolated
    area, n = ctx.area, ctx.n
    if ctx.cells:
        cell = cell_travel_limit(area, ctx.units.points, ctx.travel, limit=float(limit))
        isolated = cell.isolated
        ctx.set(reach_blocks=cell.reach, reach_exempt=cell.exempt, reach_limit=float(limit))
    else:
        t = ctx.travel.minutes(area[["easting", "northing"]].to_numpy(float), ctx.units.points)  # (postcodes, units)
        best = t.min(axis=1)
        far = best > limit
        isolated = pd.DataFrame({
            "postcode": area.index[far], "hours_per_week": area["hours_per_week"].to_numpy()[far],
            "nearest_centre_min": best[far],
        })
        reach = np.zeros((n, n))
        np.maximum.at(reach, area["unit"].to_numpy(int)[~far], t[~far])
        ctx.set(reach=reach, reach_limit=float(limit))
    if len(isolated):
        ctx.notes.append(
            f"{len(isolated)} postcode(s) ({isolated['hours_per_week'].sum():g} hours/week) are further than "
            f"{limit:g} min from every possible centre: reported as isolated and exempt from the travel limit"
        )
        log.warning(ctx.notes[-1])
    return isolated
