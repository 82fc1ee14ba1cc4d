"""The figures that make the case, derived from the summary once: the report's first page and
the map's header both read :func:`headline`, so they say the same thing as ``summary.json``.

Travel time counts one journey to the zone centre per hour of care (the model's own measure:
care hours × minutes, per week); paid travel is that time at the band rates, per year = 52 weeks.
"""

from __future__ import annotations

from dataclasses import dataclass

from maps.summary_types import Summary

__all__ = ["Headline", "Shortfall", "WEEKS_PER_YEAR", "headline"]

WEEKS_PER_YEAR = 52


@dataclass(frozen=True)
class Shortfall:
    zone: str
    zone_name: str
    demand_capacity_ratio: float | None  # None: no provider branch in the zone at all
    hours_per_week: float
    capacity_hours_per_week: float  # inside the zone, or allocated to it under the capacity rule "flow"


@dataclass(frozen=True)
class Headline:
    zones_proposed: int
    zones_today: int | None
    balance_proposed: float | None  # largest / smallest zone, care hours
    balance_today: float | None
    outside_proposed: int  # zones outside ±tolerance of the mean
    outside_today: int | None
    tolerance: float
    mean_travel_proposed_min: float | None
    mean_travel_today_min: float | None
    travel_change_pct: float | None  # negative = less travel
    travel_hours_proposed: float | None  # per week
    travel_hours_today: float | None
    paid_travel_proposed_gbp_year: float
    paid_travel_today_gbp_year: float | None
    paid_travel_saving_gbp_year: float | None
    rates_status: str  # "illustrative" or "council"
    total_hours: float
    hours_moved: float | None
    share_moved: float | None
    clients_moved: int | None
    postcodes_moved: int | None
    zones_changed: int | None
    gap_to_bound: float | None  # the plan's objective above the certified lower bound, fraction
    solver_status: str
    shortfalls: tuple[Shortfall, ...]
    shortfalls_today: int | None  # today's zones with less capacity than demand

    def figures(self) -> tuple[str, str, str]:
        """Three headline figures as short sentences (the map header's summary line)."""
        balance = (f"Balance {self.balance_today:.2f} → {self.balance_proposed:.2f} (largest ÷ smallest zone)"
                   if self.balance_today is not None and self.balance_proposed is not None
                   else f"Balance {self.balance_proposed or 0:.2f} (largest ÷ smallest zone)")
        travel = (f"Travel {self.travel_change_pct:+.1f}% ({self.mean_travel_today_min:.1f} → "
                  f"{self.mean_travel_proposed_min:.1f} min per hour of care)"
                  if self.travel_change_pct is not None and self.mean_travel_today_min is not None
                  and self.mean_travel_proposed_min is not None
                  else f"Travel {self.mean_travel_proposed_min or 0:.1f} min per hour of care")
        moved = (f"{100 * self.share_moved:.0f}% of care changes zone" if self.share_moved is not None
                 else f"{self.zones_proposed} zones")
        return balance, travel, moved


def headline(summary: Summary) -> Headline:
    plan, cur, costs, change = summary["plan"], summary["current"], summary["costs"], summary["change"]
    total = plan["total_hours"]
    mean_p, mean_c = plan["mean_travel_min"], cur["mean_travel_min"] if cur else None
    paid_p = costs["travel_gbp_per_week_proposed"] * WEEKS_PER_YEAR
    paid_c = costs["travel_gbp_per_week_current"] * WEEKS_PER_YEAR if cur and costs["travel_gbp_per_week_current"] \
        is not None else None
    alloc = summary["constraints"]["capacity_allocation"]
    if alloc is not None:  # rule "flow": a zone is short when its shared allocation is below margin x demand
        given = {a["zone"]: a for a in alloc["zones"]}
        shortfalls = tuple(
            Shortfall(zone=z["zone"], zone_name=z["zone_name"],
                      demand_capacity_ratio=given[z["zone"]]["demand_allocated_ratio"],
                      hours_per_week=z["hours_per_week"],
                      capacity_hours_per_week=given[z["zone"]]["allocated_hours_per_week"])
            for z in summary["zones"] if given[z["zone"]]["shortfall_hours_per_week"] > 1e-6
        )
    else:
        shortfalls = tuple(
            Shortfall(zone=z["zone"], zone_name=z["zone_name"], demand_capacity_ratio=z["demand_capacity_ratio"],
                      hours_per_week=z["hours_per_week"], capacity_hours_per_week=z["capacity_hours_per_week"])
            for z in summary["zones"]
            if z["hours_per_week"] > 0 and (z["demand_capacity_ratio"] is None or z["demand_capacity_ratio"] > 1.0)
        )
    return Headline(
        zones_proposed=plan["zones"], zones_today=cur["zones"] if cur else None,
        balance_proposed=plan["max_min_ratio"], balance_today=cur["max_min_ratio"] if cur else None,
        outside_proposed=plan["zones_outside_tolerance"], outside_today=cur["zones_outside_tolerance"] if cur else None,
        tolerance=plan["tolerance"],
        mean_travel_proposed_min=mean_p, mean_travel_today_min=mean_c,
        travel_change_pct=100 * (mean_p / mean_c - 1) if mean_p is not None and mean_c else None,
        travel_hours_proposed=mean_p * total / 60 if mean_p is not None else None,
        travel_hours_today=mean_c * total / 60 if mean_c is not None else None,
        paid_travel_proposed_gbp_year=paid_p, paid_travel_today_gbp_year=paid_c,
        paid_travel_saving_gbp_year=paid_c - paid_p if paid_c is not None else None,
        rates_status=costs["rates_status"], total_hours=total,
        hours_moved=change["hours_moved"] if change and cur else None,
        share_moved=change["hours_moved"] / total if change and cur and total else None,
        clients_moved=change["clients_moved"] if change and cur else None,
        postcodes_moved=change["postcodes_moved"] if change and cur else None,
        zones_changed=change["zones_changed"] if change and cur else None,
        gap_to_bound=summary["solver"]["gap_to_certified_bound"], solver_status=summary["solver"]["status"],
        shortfalls=shortfalls,
        shortfalls_today=sum(1 for z in summary["current_zones"] if z["hours_per_week"] > 0 and (
            z["demand_capacity_ratio"] is None or z["demand_capacity_ratio"] > 1.0)) if cur else None,
    )
