"""Compare two finished runs: per-zone measures side by side, what changes zone, where.

Reads only the runs' outputs (``summary.json``, ``postcode_zones.csv``, ``zones.gpkg``), so any
two runs of the same area can be compared: two sweep variants, a run and its re-opening, a run
and an evaluated hand-edited plan. Zones are paired by id (carezones keeps ids across
re-openings and evaluations); a postcode *changes zone* when its zone id differs.

Privacy: when either run's demand was client by client, hours per postcode are not in its
lookup; flows then take hours from the runs' LSOA layer and pass through
:func:`zoning.publish.privacy.suppress_cells` (clients per flow; small flows hidden, grouped
by zone in A and in B so that no hidden flow is recovered by subtraction).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from zoning import atomic
from zoning.errors import InputError
from zoning.publish.privacy import suppress_cells
from zoning.scenario import PrivacyOptions

log = logging.getLogger(__name__)

ZONE_MEASURES = ("zone_name", "hours_per_week", "capacity_hours_per_week", "demand_capacity_ratio",
                 "mean_travel_min", "n_postcodes", "n_units")


@dataclass(frozen=True)
class RunOutputs:
    folder: Path
    summary: dict[str, object]
    lookup: pd.DataFrame  # postcode_zones.csv
    units: gpd.GeoDataFrame  # zones.gpkg layer units (EPSG:27700)
    zones: gpd.GeoDataFrame  # zones.gpkg layer zones

    @property
    def client_level(self) -> bool:
        privacy = self.summary.get("privacy") or {}
        return bool(privacy.get("client_level")) if isinstance(privacy, dict) else False


def read_run(folder: Path) -> RunOutputs:
    missing = [f for f in ("summary.json", "postcode_zones.csv", "zones.gpkg") if not (folder / f).is_file()]
    if missing:
        raise InputError(folder, [f"missing {missing}"], hint="give the output folder of a carezones run (or sweep variant)")
    return RunOutputs(
        folder=folder, summary=json.loads((folder / "summary.json").read_text(encoding="utf-8")),
        lookup=pd.read_csv(folder / "postcode_zones.csv", dtype={"postcode": str, "proposed_zone": str}),
        units=gpd.read_file(folder / "zones.gpkg", layer="units"), zones=gpd.read_file(folder / "zones.gpkg", layer="zones"),
    )


@dataclass(frozen=True)
class Comparison:
    a: RunOutputs
    b: RunOutputs
    zones: pd.DataFrame  # per zone id: measures in A and B and the difference
    flows: pd.DataFrame  # zone in A -> zone in B: postcodes, hours (published)
    changed_lsoas: pd.DataFrame  # lsoa11cd, zone_a, zone_b for LSOAs whose zone differs
    postcodes_changed: int
    hours_changed: float | None  # None when hidden (client-level demand with a small total)


def _zone_side(run: RunOutputs, suffix: str) -> pd.DataFrame:
    table = pd.DataFrame(run.summary.get("zones", []))  # type: ignore[arg-type]
    keep = [c for c in ZONE_MEASURES if c in table.columns]
    return table.set_index("zone")[keep].add_suffix(suffix)


def _zones_side_by_side(a: RunOutputs, b: RunOutputs) -> pd.DataFrame:
    table = _zone_side(a, "_a").join(_zone_side(b, "_b"), how="outer")
    for m in ("hours_per_week", "capacity_hours_per_week", "mean_travel_min", "n_postcodes"):
        if f"{m}_a" in table and f"{m}_b" in table:
            table[f"{m}_change"] = table[f"{m}_b"] - table[f"{m}_a"]
    return table.reset_index().rename(columns={"index": "zone"})


def _flows(a: RunOutputs, b: RunOutputs, options: PrivacyOptions) -> tuple[pd.DataFrame, float | None]:
    pcs = a.lookup[["postcode", "proposed_zone"]].merge(b.lookup[["postcode", "proposed_zone"]], on="postcode",
                                                         suffixes=("_a", "_b"), validate="one_to_one")
    moved = pcs[pcs["proposed_zone_a"] != pcs["proposed_zone_b"]]
    counts = moved.groupby(["proposed_zone_a", "proposed_zone_b"]).size().rename("postcodes")
    private = a.client_level or b.client_level
    if not private and "hours_per_week" in a.lookup.columns:
        hours = moved.merge(a.lookup[["postcode", "hours_per_week"]], on="postcode")
        flow_hours = hours.groupby(["proposed_zone_a", "proposed_zone_b"])["hours_per_week"].sum()
        table = pd.concat([counts, flow_hours], axis=1).reset_index()
        table["suppressed"] = False
        return table, float(flow_hours.sum())
    units = a.units[["lsoa11cd", "proposed_zone", "clients", "hours_per_week"]].merge(
        b.units[["lsoa11cd", "proposed_zone"]], on="lsoa11cd", suffixes=("_a", "_b"))
    units = units[units["proposed_zone_a"] != units["proposed_zone_b"]]
    grouped = units.groupby(["proposed_zone_a", "proposed_zone_b"])
    # an LSOA whose count was hidden holds 1 to min_count - 1 clients: count it as the fewest (1)
    clients = grouped["clients"].apply(lambda c: float(c.fillna(1).sum()))
    hours = grouped["hours_per_week"].apply(lambda h: float(h.sum()) if h.notna().all() else np.nan)
    cells = pd.concat([clients.rename("clients"), hours.rename("hours_per_week")], axis=1)
    index = cells.index.to_frame(index=False)
    shown = suppress_cells(cells["clients"].reset_index(drop=True), cells[["hours_per_week"]].reset_index(drop=True),
                           groups=[index["proposed_zone_a"], index["proposed_zone_b"]], options=options)
    table = pd.concat([index, shown[["hours_per_week", "suppressed"]]], axis=1)
    table = table.merge(counts.reset_index(), on=["proposed_zone_a", "proposed_zone_b"], how="outer")
    table["suppressed"] = table["suppressed"].fillna(False).astype(bool)
    total = None if table["hours_per_week"].isna().any() else float(table["hours_per_week"].sum())
    return table, total


def compare_runs(run_a: Path, run_b: Path, *, privacy: PrivacyOptions | None = None) -> Comparison:
    """Compare two runs' outputs (see the module docstring)."""
    a, b = read_run(run_a), read_run(run_b)
    if set(a.lookup["postcode"]) != set(b.lookup["postcode"]):
        raise InputError(run_b, ["covers other postcodes than " + str(run_a)],
                         hint="compare two runs of the same area and postcode data")
    flows, hours = _flows(a, b, privacy or PrivacyOptions())
    flows = flows.rename(columns={"proposed_zone_a": "zone_a", "proposed_zone_b": "zone_b"})
    flows = flows.sort_values(["postcodes", "zone_a"], ascending=[False, True]).reset_index(drop=True)
    lsoa = a.units[["lsoa11cd", "proposed_zone"]].merge(b.units[["lsoa11cd", "proposed_zone"]], on="lsoa11cd",
                                                         suffixes=("_a", "_b"))
    changed = lsoa[lsoa["proposed_zone_a"] != lsoa["proposed_zone_b"]].rename(
        columns={"proposed_zone_a": "zone_a", "proposed_zone_b": "zone_b"})
    result = Comparison(a=a, b=b, zones=_zones_side_by_side(a, b), flows=flows, changed_lsoas=changed,
                        postcodes_changed=int(flows["postcodes"].fillna(0).sum()), hours_changed=hours)
    log.info("compared %s with %s: %d postcodes in %d LSOAs change zone", run_a, run_b, result.postcodes_changed,
             len(changed))
    return result


def write_comparison_outputs(comparison: Comparison, out_dir: Path) -> dict[str, Path]:
    """``compare_zones.csv``, ``compare_flows.csv`` and the self-contained ``compare.html``."""
    from zoning.publish.appraisal import write_compare_page
    from zoning.publish.writers import safe_cell

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"zones": out_dir / "compare_zones.csv", "flows": out_dir / "compare_flows.csv",
             "html": out_dir / "compare.html"}
    zones = comparison.zones.copy()
    for col in ("zone_name_a", "zone_name_b"):
        if col in zones:
            zones[col] = zones[col].map(safe_cell)
    atomic.write_text(paths["zones"], zones.to_csv(index=False))
    atomic.write_text(paths["flows"], comparison.flows.to_csv(index=False))
    write_compare_page(paths["html"], comparison)
    return paths
