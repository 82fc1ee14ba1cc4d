"""The typed hand-off from a run to its outputs: :class:`ZonePlan`, everything a run produced."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from optimiser.bounds import BoundResult
from optimiser.checks import Check
from optimiser.districting import DistrictingResult
from zoning.allocation import CapacityAllocation, allocation_summary
from zoning.bands import band_rates
from zoning.changes import PlanChange
from zoning.commissioning_arrays import ProblemOptions
from zoning.inputs import Excluded
from zoning.metrics import PlanMetrics
from zoning.pieces import PieceJoin
from zoning.scenario import Scenario
from zoning.travel import TravelModel
from zoning.units import Units


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
    bound: BoundResult | None = None  # certified lower bound over all balanced plans (any centres; its scope says which)
    hours_moved: float = 0.0  # hours/week whose zone changes (proposed zones matched to today's)
    allocation: CapacityAllocation | None = None  # branch capacity -> zones (capacity rule "flow")
    pieces: PieceJoin | None = None  # separate pieces of the adjacency and the links that joined them

    @property
    def units_level(self) -> str:
        """``"postcode"`` when the units are postcode cells (:mod:`zoning.postcode_units`), else ``"lsoa"``."""
        return "postcode" if "unit_id" in self.units.polygons.columns else "lsoa"

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
                "reach_min": cap.reach_min if cap.rule == "flow" else None,
                "centres": "fixed at hubs " + ", ".join(cap.hubs) if cap.hubs else cap.centres,
                "max_demand_capacity_ratio": float(self.zones["demand_capacity_ratio"].max(skipna=True))
                if self.zones["demand_capacity_ratio"].notna().any() else None,
                "max_demand_allocated_ratio": float(self.zones["demand_allocated_ratio"].max(skipna=True))
                if "demand_allocated_ratio" in self.zones and self.zones["demand_allocated_ratio"].notna().any() else None,
                "zones_short_of_margin": int((self.zones["capacity_shortfall_hours_per_week"] > 0).sum())
                if "capacity_shortfall_hours_per_week" in self.zones else None,
            },
            "capacity_allocation": allocation_summary(self.allocation) if self.allocation is not None else None,
            "cohorts": {c: b.model_dump() for c, b in s.cohorts.items()},
            "named_zones": [z.name for z in s.zone],
            "locked_units": self.options.locked_units if self.options else 0,
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
