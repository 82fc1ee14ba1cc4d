"""The shape of ``summary.json``: one typed structure read by the reports and written by
:mod:`zoning.publish.summary`, so a renamed key is a type error (mypy) on both sides.

The same shape is committed as a JSON Schema (``zoning/publish/summary.schema.json``,
``SCHEMA_VERSION`` below); a test checks that every TypedDict here names exactly the
properties of its schema object, and that a run's summary validates against the schema.

Conventions: counts are integers (``None`` where suppressed); hours are per week; money is
GBP; ``run_at`` is ISO 8601 with a time zone; paths are relative to the scenario file's folder.
The solver's objective is ``objective_value`` in ``objective_units`` (travel hour-minutes per
week for ``objective = "travel"``, GBP of paid travel per week for ``objective = "cost"``).
"""

from __future__ import annotations

from typing import TypedDict

__all__ = [
    "SCHEMA_VERSION", "Summary", "RunInfo", "ScenarioInfo", "Provenance", "UnitsInfo", "DemandInfo", "PrivacyInfo",
    "ProvidersInfo", "SolverRound", "SolverInfo", "PlanFigures", "Check", "CapacityInfo", "Isolated",
    "Constraints", "Pieces", "PieceInfo", "LinkInfo", "Costs", "Move", "ZoneRecord", "CurrentZoneRecord", "Change", "BandRow", "Bands",
    "TravelDistribution",
]

#: bump the major part when a key is renamed or removed, the minor part when one is added
SCHEMA_VERSION = "1.3"  # 1.1: since_baseline (re-openings); 1.2: constraints.pieces, capacity_allocation; 1.3: units.level


class RunInfo(TypedDict):
    run_id: str  # the same id is in every output of the run (CSV column, GeoJSON member, ...)
    scenario_sha256: str


class ScenarioInfo(TypedDict):
    name: str
    title: str
    area_code: str
    area_name: str | None
    file: str | None  # the scenario file's name (inputs are relative to its folder)
    inputs: dict[str, str | None]  # demand, providers, current_zones, postcodes, boundaries: relative paths
    seed: int


class Provenance(TypedDict):
    demand_synthetic: bool
    providers_synthetic: bool
    current_zones_approximate: bool
    current_zones_given: bool
    notes: list[str]
    data_vintage: str


class UnitsInfo(TypedDict):
    level: str
    kind: str
    count: int
    adjacencies: int


class DemandInfo(TypedDict):
    rows: int | None
    hours_per_week: float
    postcodes_with_demand: int
    excluded_rows: int | None
    excluded_hours_per_week: float | None
    excluded_examples: list[str]


class PrivacyInfo(TypedDict):
    client_level: bool
    reason: str  # why demand is (or is not) treated as personal data
    rule: str


class ProvidersInfo(TypedDict):
    branches: int
    capacity_hours_per_week: float
    assignment: str


class SolverRound(TypedDict):
    round: int
    status: str
    objective_value: float | None
    gap: float | None
    seconds: float


class SolverInfo(TypedDict):
    name: str
    status: str
    solver_status: str
    objective_value: float | None
    best_bound_value: float | None
    objective_units: str
    certified_lower_bound: float | None
    gap_to_certified_bound: float | None
    certified_bound_method: str | None
    certified_bound_scope: str | None
    plan_objective: float | None
    local_search_moves: int
    gap: float | None
    gap_scope: str
    method: str
    time_limit_s: float
    seconds: float
    rounds: list[SolverRound]


class PlanFigures(TypedDict):
    zones: int
    total_hours: float
    mean_zone_hours: float
    max_zone_hours: float
    min_zone_hours: float
    max_min_ratio: float | None  # None when the smallest zone has no demand
    tolerance: float
    zones_outside_tolerance: int
    mean_travel_min: float | None
    contiguous: bool
    contiguity_detail: str


class Check(TypedDict):
    name: str
    passed: bool
    detail: str


class CapacityInfo(TypedDict):
    rule: str
    margin: float
    radius_min: float | None
    reach_min: float | None  # rule "flow": branches within this many minutes of a zone centre serve it
    centres: str
    max_demand_capacity_ratio: float | None
    max_demand_allocated_ratio: float | None  # rule "flow"
    zones_short_of_margin: int | None  # rule "flow": zones whose allocation is below margin x demand


class AllocatedZone(TypedDict):
    zone: str
    demand_hours_per_week: float
    need_hours_per_week: float  # margin x demand
    allocated_hours_per_week: float
    demand_allocated_ratio: float | None
    shortfall_hours_per_week: float
    from_branches: dict[str, float]


class AllocatedBranch(TypedDict):
    provider_id: str
    capacity_hours_per_week: float
    allocated_hours_per_week: float
    split: dict[str, float]


class CapacityAllocation(TypedDict):
    """Rule "flow": each branch's capacity shared between the zones it reaches, counted once."""

    rule: str
    margin: float
    reach_min: float
    measured_from: str
    zones: list[AllocatedZone]
    branches: list[AllocatedBranch]


class Isolated(TypedDict):
    postcode: str
    nearest_centre_min: float


class PieceInfo(TypedDict):
    name: str
    units: list[str]
    hours_per_week: float
    road_reached: bool | None
    own_zone: bool


class LinkInfo(TypedDict):
    a: str
    b: str
    gap_km: float
    minutes: float
    how: str  # "declared", "nearest" or "road"
    note: str


class Pieces(TypedDict):
    """Separate pieces of the adjacency and the links that joined them (zoning.pieces)."""

    pieces_before_joining: int
    main_piece_units: int
    pieces: list[PieceInfo]
    links: list[LinkInfo]


class Constraints(TypedDict):
    min_zone_hours: float
    capacity: CapacityInfo
    capacity_allocation: CapacityAllocation | None
    cohorts: dict[str, dict[str, float | None]]
    named_zones: list[str]
    locked_units: int
    kept_whole: list[str]
    travel_limit_min: float | None
    isolated_postcodes: int
    isolated_hours_per_week: float
    isolated: list[Isolated]
    continuity: dict[str, float | None] | None
    hours_changing_zone: float | None  # None when no current zones were given
    share_changing_zone: float | None
    zone_matching: str
    notes: list[str]
    pieces: Pieces | None


class Costs(TypedDict):
    objective: str  # "travel" or "cost"
    objective_units: str
    rates_status: str  # "illustrative" or "council": where the band rates come from
    band_rates_gbp_per_hour: dict[str, float]
    travel_rate: str
    care_gbp_per_week: float
    travel_gbp_per_week_proposed: float
    travel_gbp_per_week_current: float | None


class Move(TypedDict):
    from_current_zone: str
    to_proposed_zone: str
    hours_per_week: float | None
    demand_rows: int | None
    postcodes: int | None
    to_matches_current: str


class _ZoneFigures(TypedDict):
    """What a proposed zone and a current zone both report."""

    zone: str
    hours_per_week: float
    demand_rows: int | None
    hours_adults: float | None
    hours_children: float | None
    hours_chc: float | None
    hours_live_in: float | None
    n_postcodes: int
    mean_travel_min: float | None
    capacity_hours_per_week: float
    n_branches: int
    demand_capacity_ratio: float | None
    load_vs_mean_pct: float
    centre_lsoa: str
    care_cost_gbp_per_week: float
    travel_cost_gbp_per_week: float


class ZoneRecord(_ZoneFigures):
    zone_name: str
    n_units: int
    centre_easting: float
    centre_northing: float
    band_mix: str
    change: str
    continues: str | None
    hours_kept: float | None
    hours_in: float | None


class CurrentZoneRecord(_ZoneFigures):
    n_units_majority: int


class Change(TypedDict):
    zones_changed: int
    hours_moved: float
    clients_moved: int | None
    postcodes_moved: int
    continues: dict[str, str | None]
    rule: str


class SinceZone(TypedDict):
    zone: str
    zone_name: str
    continues: str
    hours_before: float
    hours_after: float
    hours_in: float | None  # None: hidden (few clients)
    hours_out: float | None
    postcodes_in: int
    postcodes_out: int
    capacity_before: float
    capacity_after: float


class SinceProvider(TypedDict):
    provider_id: str
    name: str
    change: str  # joined / left / capacity changed
    zone: str
    capacity_before: float
    capacity_after: float


class SinceBaseline(TypedDict):
    run: str
    hours_moved: float
    postcodes_moved: int
    zones: list[SinceZone]
    providers: list[SinceProvider]
    rule: str


class BandRow(TypedDict):
    band: str
    postcodes: int
    clients: int | None
    hours_per_week: float | None


class Bands(TypedDict):
    rule: str
    rates: dict[str, float]
    table: list[BandRow]


class TravelDistribution(TypedDict):
    edges_min: list[float | None]  # bin edges, minutes; a last None is an open bin
    proposed: list[float | None]  # share of care hours per bin; None where suppressed
    current: list[float | None]


class Summary(TypedDict):
    run: RunInfo | None  # None when written outside an output set
    schema_version: str
    carezones_version: str
    scenario: ScenarioInfo
    run_at: str  # ISO 8601 with a time zone
    provenance: Provenance
    travel_model: str
    units: UnitsInfo
    demand: DemandInfo
    privacy: PrivacyInfo
    providers: ProvidersInfo
    solver: SolverInfo
    model: dict[str, object]
    plan: PlanFigures
    current: PlanFigures | None  # None when the scenario has no current zones
    checks: list[Check]
    constraints: Constraints
    costs: Costs
    moves: list[Move]
    zones: list[ZoneRecord]
    current_zones: list[CurrentZoneRecord]
    change: Change | None
    bands: Bands
    travel_distribution: TravelDistribution
    density_level: str
    since_baseline: SinceBaseline | None  # a re-opening: what changed since the baseline run
    timings_s: dict[str, float]
