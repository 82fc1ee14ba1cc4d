"""Per-zone tables and plan-level metrics, computed the same way for any plan.

Everything is recomputed from the postcode table (postcode -> zone, hours, travel minutes),
so the report's figures can be checked against ``postcode_zones.csv`` and the demand file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from zoning.inputs import COHORTS


@dataclass(frozen=True)
class PlanMetrics:
    zones: int
    total_hours: float
    mean_zone_hours: float
    max_zone_hours: float
    min_zone_hours: float
    max_min_ratio: float
    tolerance: float
    zones_outside_tolerance: int
    mean_travel_min: float  # demand-weighted, postcode to zone centre
    contiguous: bool
    contiguity_detail: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def zone_table(
    postcodes: pd.DataFrame,
    demand: pd.DataFrame,
    providers: pd.DataFrame,
    *,
    zone_column: str,
    travel_column: str,
    providers_zone_column: str,
) -> pd.DataFrame:
    """One row per zone: hours (total and by cohort), postcodes, capacity, travel."""
    pc = postcodes[["postcode", zone_column, travel_column]].reset_index(drop=True)
    rows = demand.merge(pc, on="postcode", how="left", validate="many_to_one")
    if rows[zone_column].isna().any():
        raise AssertionError("demand postcodes missing from the postcode table")  # validated earlier
    rows["weighted"] = rows["hours_per_week"] * rows[travel_column]
    grouped = rows.groupby(zone_column)
    table = pd.DataFrame(
        {
            "hours_per_week": grouped["hours_per_week"].sum(),
            "demand_rows": grouped.size(),
            "weighted": grouped["weighted"].sum(),
        }
    )
    for cohort in COHORTS:
        table[f"hours_{cohort}"] = rows[rows["cohort"] == cohort].groupby(zone_column)["hours_per_week"].sum()
    all_zones = pd.Index(sorted(postcodes[zone_column].unique()), name=zone_column)
    table = table.reindex(all_zones).fillna(0.0)
    table["n_postcodes"] = postcodes.groupby(zone_column).size().reindex(all_zones).fillna(0).astype(int)
    table["mean_travel_min"] = np.where(
        table["hours_per_week"] > 0, table["weighted"] / table["hours_per_week"].where(table["hours_per_week"] > 0, 1), np.nan
    )
    table["capacity_hours_per_week"] = (
        providers.groupby(providers_zone_column)["capacity_hours_per_week"].sum().reindex(all_zones).fillna(0.0)
    )
    table["n_branches"] = providers.groupby(providers_zone_column).size().reindex(all_zones).fillna(0).astype(int)
    table["demand_capacity_ratio"] = table["hours_per_week"] / table["capacity_hours_per_week"].where(
        table["capacity_hours_per_week"] > 0
    )
    mean = table["hours_per_week"].sum() / len(table)
    table["load_vs_mean_pct"] = 100.0 * (table["hours_per_week"] / mean - 1.0)
    table["demand_rows"] = table["demand_rows"].astype(int)
    return table.drop(columns="weighted").reset_index().rename(columns={zone_column: "zone"})


def plan_metrics(table: pd.DataFrame, *, tolerance: float, contiguous: bool, contiguity_detail: str) -> PlanMetrics:
    hours = table["hours_per_week"].to_numpy()
    mean = hours.mean()
    outside = int(np.sum((hours < (1 - tolerance) * mean - 1e-6) | (hours > (1 + tolerance) * mean + 1e-6)))
    total = float(hours.sum())
    weighted = float(np.nansum(table["mean_travel_min"].to_numpy() * hours))
    return PlanMetrics(
        zones=len(table),
        total_hours=total,
        mean_zone_hours=float(mean),
        max_zone_hours=float(hours.max()),
        min_zone_hours=float(hours.min()),
        max_min_ratio=float(hours.max() / hours.min()) if hours.min() > 0 else float("inf"),
        tolerance=tolerance,
        zones_outside_tolerance=outside,
        mean_travel_min=weighted / total if total > 0 else float("nan"),
        contiguous=contiguous,
        contiguity_detail=contiguity_detail,
    )

