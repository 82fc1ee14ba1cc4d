"""Tables for the shareable outputs, with the privacy rule applied, and the GeoPackage.

The summary, the report, the GeoJSON, the GeoPackage and the map all take their per-zone
figures from :func:`zone_records`, so they agree; when demand is client by client, client
counts are rounded and cohort hours from small counts are hidden (see :mod:`zoning.publish.privacy`).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from zoning.inputs import COHORTS
from zoning.plan import ZonePlan
from zoning.publish.layers import PlanLayers
from zoning.publish.privacy import round_count, suppress_cells

log = logging.getLogger(__name__)

#: travel-time bins (minutes to the zone centre) for the report's histogram
TRAVEL_EDGES_MIN: tuple[float, ...] = (0.0, 12.0, 15.0, 18.0, 21.0, 25.0, 30.0, float("inf"))


def _private_table(table: pd.DataFrame, plan: ZonePlan, *, zone_column: str) -> pd.DataFrame:
    """Round ``demand_rows`` and hide cohort hours from small counts (zone x cohort cells,
    grouped by zone so a hidden cohort cannot be recovered from the zone total)."""
    out = table.copy()
    options = plan.scenario.privacy
    zones = out.set_index("zone")
    shown_zone = suppress_cells(zones["demand_rows"], options=options)
    rows = plan.demand.merge(plan.postcodes[["postcode", zone_column]].reset_index(drop=True), on="postcode",
                             how="left", validate="many_to_one")
    counts = pd.crosstab(rows[zone_column], rows["cohort"]).reindex(index=zones.index, columns=list(COHORTS)).fillna(0)
    cells = counts.stack().rename("clients").reset_index()
    cells.columns = ["zone", "cohort", "clients"]
    cells["hours"] = [zones.at[z, f"hours_{c}"] for z, c in zip(cells["zone"], cells["cohort"], strict=True)]
    shown = suppress_cells(cells["clients"], cells[["hours"]], groups=cells["zone"], options=options)
    for (zone, cohort), hours in zip(zip(cells["zone"], cells["cohort"], strict=True), shown["hours"], strict=True):
        zones.at[zone, f"hours_{cohort}"] = hours
    zones["demand_rows"] = shown_zone["clients"]
    return zones.reset_index()[list(table.columns)]


def zone_records(plan: ZonePlan, layers: PlanLayers) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Proposed and current zone tables as published (band mix and change vs today added)."""
    zones = plan.zones.copy()
    current = plan.current.copy()
    if layers.client_level:
        zones = _private_table(zones, plan, zone_column="proposed_zone")
        current = _private_table(current, plan, zone_column="current_zone")
    extras = layers.zone_extras.set_index("zone")
    zones["band_mix"] = zones["zone"].map(extras["band_mix"])
    zones["change"] = zones["zone"].map(extras["change"])
    zones["continues"] = zones["zone"].map(layers.change.continues)
    zones["hours_kept"] = zones["zone"].map(extras["hours_kept"])
    zones["hours_in"] = zones["zone"].map(extras["hours_in"])
    return zones, current


def travel_distribution(plan: ZonePlan, *, client_level: bool) -> dict[str, object]:
    """Share of demand hours per travel-time bin, proposed and current (suppressed bins: None)."""
    rows = plan.demand.merge(
        plan.postcodes[["postcode", "travel_min_proposed", "travel_min_current"]].reset_index(drop=True),
        on="postcode", how="left", validate="many_to_one",
    )
    total = float(rows["hours_per_week"].sum())
    out: dict[str, object] = {"edges_min": [None if not np.isfinite(x) else x for x in TRAVEL_EDGES_MIN]}
    for name in ("proposed", "current"):
        bins = pd.cut(rows[f"travel_min_{name}"], bins=list(TRAVEL_EDGES_MIN), right=False,
                      labels=False, include_lowest=True)
        hours = rows["hours_per_week"].groupby(bins).sum().reindex(range(len(TRAVEL_EDGES_MIN) - 1)).fillna(0.0)
        clients = rows.groupby(bins).size().reindex(hours.index).fillna(0)
        share = hours / total if total > 0 else hours * np.nan
        if client_level:
            share = suppress_cells(clients, share.to_frame("share"), options=plan.scenario.privacy)["share"]
        out[name] = [None if pd.isna(v) else round(float(v), 6) for v in share]
    return out


def demand_rows_shown(count: int, plan: ZonePlan, *, client_level: bool) -> int | None:
    """A count of clients as published: suppressed below ``min_count``, else rounded."""
    if not client_level:
        return count
    options = plan.scenario.privacy
    if 0 < count < options.min_count:
        return None
    return round_count(count, base=options.round_to)


def published_moves(plan: ZonePlan, *, client_level: bool) -> pd.DataFrame:
    """The today -> proposed flows of care as published: with client-level demand, client
    counts are rounded and flows with small counts hidden (hours too), grouped by today's zone
    and by proposed zone so that no hidden flow can be recovered from a zone's total."""
    moves = plan.moves if plan.moves is not None else pd.DataFrame(
        columns=["from_current_zone", "to_proposed_zone", "hours_per_week", "demand_rows", "postcodes"]
    )
    if not client_level or moves.empty:
        return moves
    shown = suppress_cells(
        moves["demand_rows"], moves[["hours_per_week"]],
        groups=[moves["from_current_zone"], moves["to_proposed_zone"]], options=plan.scenario.privacy,
    )
    out = moves.copy()
    out["demand_rows"] = shown["clients"]
    out["hours_per_week"] = shown["hours_per_week"]
    out["postcodes"] = out["postcodes"].where(~shown["suppressed"])
    return out
