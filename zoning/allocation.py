"""Provider capacity allocated to the proposed zones (``[capacity] rule = "flow"``).

The optimiser's :func:`optimiser.capacity_flow.allocate` gives the allocation of each branch's
capacity to the zones of the final plan (nearest capacity first, each branch counted once).
This module puts it in the zone ids of the outputs and adds it where people look: per zone
(allocated capacity, demand ÷ allocated, shortfall flag, the branches it comes from) and per
branch (the zones it serves and its split), and the summary's ``capacity_allocation``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimiser.capacity_flow import allocate
from optimiser.problem import DistrictingProblem


@dataclass(frozen=True)
class CapacityAllocation:
    """Branch -> zone hours/week for the proposed zones, in output zone order."""

    zone_ids: list[str]
    branch_ids: list[str]
    hours: np.ndarray  # (branches, zones)
    capacity: np.ndarray  # (branches,)
    demand: np.ndarray  # (zones,)
    margin: float
    reach_min: float

    @property
    def allocated(self) -> np.ndarray:
        return np.asarray(self.hours.sum(axis=0))

    @property
    def need(self) -> np.ndarray:
        return self.margin * self.demand

    @property
    def shortfall(self) -> np.ndarray:
        """(zones,) hours/week short of margin x demand (0 when covered)."""
        return np.maximum(self.need - self.allocated, 0.0) * (self.need - self.allocated > 1e-6 * np.maximum(self.need, 1))

    def split(self, row: np.ndarray, names: list[str]) -> dict[str, float]:
        return {names[j]: round(float(v), 1) for j, v in enumerate(row) if v > 0.05}


def capacity_allocation(
    problem: DistrictingProblem, labels: np.ndarray, centres: tuple[int, ...], *, order: np.ndarray, zone_ids: list[str]
) -> CapacityAllocation | None:
    """The allocation for a plan (optimiser zone ``order[k]`` is output zone ``zone_ids[k]``);
    None without the flow family. A plan no flow covers gets an all-zero allocation (its
    shortfall shows, and the named check has failed)."""
    br = problem.branches
    if br is None:
        return None
    alloc = allocate(problem, labels, centres)
    hours = np.zeros((br.capacity.size, problem.n_zones)) if alloc is None else alloc.hours
    demand = np.bincount(np.asarray(labels), weights=problem.demand, minlength=problem.n_zones)
    return CapacityAllocation(
        zone_ids=list(zone_ids), branch_ids=list(br.ids) or [str(b) for b in range(br.capacity.size)],
        hours=hours[:, order], capacity=br.capacity, demand=demand[order], margin=br.margin, reach_min=br.reach_min,
    )


def add_allocation_columns(alloc: CapacityAllocation, zones: pd.DataFrame, providers: pd.DataFrame) -> None:
    """Per zone: ``allocated_capacity_hours_per_week``, ``demand_allocated_ratio``,
    ``capacity_shortfall_hours_per_week``, ``capacity_from``; per branch:
    ``allocated_hours_per_week`` and ``serves_zones`` ("Z01 120.0; Z03 40.5")."""
    allocated = alloc.allocated
    zones["allocated_capacity_hours_per_week"] = allocated
    zones["demand_allocated_ratio"] = np.where(allocated > 0, alloc.demand / np.where(allocated > 0, allocated, 1), np.nan)
    zones["capacity_shortfall_hours_per_week"] = alloc.shortfall
    zones["capacity_from"] = ["; ".join(f"{b} {h:,.1f}" for b, h in alloc.split(alloc.hours[:, z], alloc.branch_ids).items())
                              for z in range(len(alloc.zone_ids))]
    index = {b: i for i, b in enumerate(alloc.branch_ids)}
    rows = [index.get(str(p)) for p in providers["provider_id"].astype(str)]
    providers["allocated_hours_per_week"] = [float(alloc.hours[r].sum()) if r is not None else 0.0 for r in rows]
    providers["serves_zones"] = [
        "; ".join(f"{z} {h:,.1f}" for z, h in alloc.split(alloc.hours[r], alloc.zone_ids).items()) if r is not None else ""
        for r in rows
    ]


def allocation_summary(alloc: CapacityAllocation) -> dict[str, object]:
    """The allocation for summary.json: per zone and per branch, hours/week."""
    return {
        "rule": "flow", "margin": alloc.margin, "reach_min": alloc.reach_min,
        "measured_from": "the zone centre, by the scenario's travel model",
        "zones": [
            {"zone": z, "demand_hours_per_week": float(alloc.demand[k]), "need_hours_per_week": float(alloc.need[k]),
             "allocated_hours_per_week": float(alloc.allocated[k]),
             "demand_allocated_ratio": float(alloc.demand[k] / alloc.allocated[k]) if alloc.allocated[k] > 0 else None,
             "shortfall_hours_per_week": float(alloc.shortfall[k]),
             "from_branches": alloc.split(alloc.hours[:, k], alloc.branch_ids)}
            for k, z in enumerate(alloc.zone_ids)
        ],
        "branches": [
            {"provider_id": b, "capacity_hours_per_week": float(alloc.capacity[i]),
             "allocated_hours_per_week": float(alloc.hours[i].sum()), "split": alloc.split(alloc.hours[i], alloc.zone_ids)}
            for i, b in enumerate(alloc.branch_ids)
        ],
    }
