"""Today -> proposed: which proposed zone continues which current zone, and what moves.

Zone ids differ between the plans (``Z01``.. vs the council's names), so each proposed zone is
matched one-to-one to the current zone it shares the most demand hours with (Hungarian
assignment, ties broken by shared postcodes). A postcode *changes zone* when its current zone
is not the one its proposed zone continues; an LSOA changes when its majority current zone is
not. With more proposed than current zones, the extra proposed zones continue none.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlanChange:
    continues: dict[str, str | None]  # proposed zone -> current zone it continues (or None)
    postcode_changed: pd.Series  # bool per in-area postcode (index as the postcode table)
    zone_figures: pd.DataFrame  # per proposed zone: continues, hours_kept, hours_in, clients_kept, clients_in
    hours_moved: float
    clients_moved: int
    postcodes_moved: int
    zones_changed: int  # proposed zones that gain or lose any postcode against the zone they continue


def match_zones(postcodes: pd.DataFrame) -> dict[str, str | None]:
    """Proposed -> current zone by largest shared hours (one-to-one)."""
    weight = postcodes["hours_per_week"].astype(float) + 1e-6  # postcodes break ties
    overlap = weight.groupby([postcodes["proposed_zone"], postcodes["current_zone"]]).sum().unstack(fill_value=0.0)
    rows, cols = linear_sum_assignment(-overlap.to_numpy())
    matched: dict[str, str | None] = {str(z): None for z in overlap.index}
    for r, c in zip(rows, cols, strict=True):
        matched[str(overlap.index[r])] = str(overlap.columns[c])
    return matched


def plan_change(
    postcodes: pd.DataFrame, demand: pd.DataFrame, *, continues: dict[str, str | None] | None = None
) -> PlanChange:
    """Compare the proposed and current zone of every postcode (and of every demand row).

    ``continues`` gives the pairing when the plan has one by construction (continuity: proposed
    zone k grew from today's zone k); otherwise zones are matched by :func:`match_zones`.
    """
    continues = dict(continues) if continues is not None else match_zones(postcodes)
    target = postcodes["proposed_zone"].map(continues)
    changed = (postcodes["current_zone"] != target) | target.isna()
    rows = demand[["postcode", "hours_per_week"]].merge(
        pd.DataFrame({"postcode": postcodes["postcode"].to_numpy(), "zone": postcodes["proposed_zone"].to_numpy(),
                      "changed": changed.to_numpy()}),
        on="postcode", how="left", validate="many_to_one",
    )
    rows["kind"] = np.where(rows["changed"], "in", "kept")
    hours = rows.pivot_table(index="zone", columns="kind", values="hours_per_week", aggfunc="sum", fill_value=0.0)
    clients = rows.pivot_table(index="zone", columns="kind", values="hours_per_week", aggfunc="size", fill_value=0)
    zones = sorted(continues)
    table = pd.DataFrame(index=pd.Index(zones, name="zone"))
    table["continues"] = [continues[z] for z in zones]
    for kind in ("kept", "in"):
        table[f"hours_{kind}"] = hours.get(kind, pd.Series(dtype=float)).reindex(zones).fillna(0.0)
        table[f"clients_{kind}"] = clients.get(kind, pd.Series(dtype=float)).reindex(zones).fillna(0).astype(int)
    moved_pc = postcodes.loc[changed, "proposed_zone"]
    lost = {continues[z] for z in moved_pc} | set(postcodes.loc[changed, "current_zone"])
    zones_changed = sum(1 for z in zones if z in set(moved_pc) or continues[z] in lost)
    result = PlanChange(
        continues=continues,
        postcode_changed=changed.rename("changed"),
        zone_figures=table.reset_index(),
        hours_moved=float(rows.loc[rows["changed"], "hours_per_week"].sum()),
        clients_moved=int(rows["changed"].sum()),
        postcodes_moved=int(changed.sum()),
        zones_changed=int(zones_changed),
    )
    log.info("change vs today: %d postcodes, %d demand rows, %.0f hours/week change zone; %d zones changed",
             result.postcodes_moved, result.clients_moved, result.hours_moved, result.zones_changed)
    return result


def change_flows(postcodes: pd.DataFrame, demand: pd.DataFrame, change: PlanChange) -> pd.DataFrame:
    """What changes zone: one row per (today's zone, proposed zone) pair whose care moves,
    with hours, demand rows (clients when demand is client by client) and postcodes."""
    pc = pd.DataFrame({
        "postcode": postcodes["postcode"].to_numpy(), "from_current_zone": postcodes["current_zone"].to_numpy(),
        "to_proposed_zone": postcodes["proposed_zone"].to_numpy(), "changed": change.postcode_changed.to_numpy(),
    })
    rows = demand[["postcode", "hours_per_week"]].merge(pc, on="postcode", how="left", validate="many_to_one")
    table = rows[rows["changed"]].groupby(["from_current_zone", "to_proposed_zone"]).agg(
        hours_per_week=("hours_per_week", "sum"), demand_rows=("hours_per_week", "size"),
        postcodes=("postcode", "nunique"),
    ).reset_index()
    table["to_matches_current"] = table["to_proposed_zone"].map(change.continues).fillna("")
    return table.sort_values(["hours_per_week", "from_current_zone"], ascending=[False, True]).reset_index(drop=True)
