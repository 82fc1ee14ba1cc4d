"""The Python API, for analysts in notebooks and scripts.

::

    from zoning import api as cz

    scenario = cz.load_scenario()                   # the shipped Leicestershire default, or a path
    scenario = cz.scenario_from_frames(base=scenario, name="growth", demand=demand_df, zones=12)
    plan = cz.plan(scenario)                        # -> Plan
    plan.zones()                                    # GeoDataFrame of proposed zones (EPSG:27700)
    plan.units(), plan.postcode_lookup()            # GeoDataFrames of LSOAs and postcodes
    plan.write("out/growth")                        # every output file, as `carezones run` writes
    plan.map()                                      # folium map; shows offline in Jupyter

Everything goes through the same validation, pipeline and named checks as the command line;
errors are the same :class:`~zoning.errors.CarezonesError` subclasses (with exit codes).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import folium
import geopandas as gpd
import pandas as pd

from optimiser.checks import Check
from zoning.errors import ScenarioError
from zoning.metrics import PlanMetrics
from zoning.pipeline import plan_zones
from zoning.plan import ZonePlan
from zoning.publish.views import plan_map, postcode_frame, unit_frame, zone_frames
from zoning.publish.writers import write_outputs
from zoning.scenario import Scenario
from zoning.scenario import load_scenario as _load_scenario

__all__ = ["Plan", "load_scenario", "plan", "scenario_from_frames"]


def load_scenario(path: str | Path | None = None, **model_changes: object) -> Scenario:
    """Read and validate a scenario file (the Leicestershire default when ``path`` is None);
    keyword arguments replace ``[model]`` options (``zones=12``, ``tolerance=0.05``, ...)."""
    scenario = _load_scenario(path)
    return scenario.with_overrides(**model_changes) if model_changes else scenario


def scenario_from_frames(
    *,
    base: Scenario,
    name: str,
    demand: pd.DataFrame | None = None,
    providers: pd.DataFrame | None = None,
    current_zones: pd.DataFrame | None = None,
    current_zones_key: str = "postcode",
    current_zones_column: str = "zone",
    folder: str | Path | None = None,
    **model_changes: object,
) -> Scenario:
    """A scenario like ``base`` with inputs taken from DataFrames instead of files.

    ``demand``: columns ``postcode, hours_per_week[, cohort][, client_ref]``; ``providers``:
    ``provider_id, name, postcode, capacity_hours_per_week``; ``current_zones``: a key column
    (``current_zones_key``: ``postcode``, ``lsoa11cd`` or ``ward_code``) and a zone column. Frames
    not given keep ``base``'s inputs. The frames are written as CSV to ``folder`` (default: a new
    temporary folder, kept so the scenario stays runnable) and then read and validated exactly
    as files are, so every problem is reported with its row. Keyword arguments replace
    ``[model]`` options.
    """
    where = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="carezones-"))
    where.mkdir(parents=True, exist_ok=True)
    raw = base.model_dump()

    def saved(frame: pd.DataFrame, stem: str) -> Path:
        if not isinstance(frame, pd.DataFrame):
            raise ScenarioError(f"{stem}: expected a pandas DataFrame, got {type(frame).__name__}")
        path = (where / f"{name}_{stem}.csv").resolve()
        frame.to_csv(path, index=False)
        return path

    if demand is not None:
        raw["demand"] = {**raw["demand"], "path": saved(demand, "demand"), "synthetic": False,
                         "description": f"demand given as a DataFrame ({len(demand):,} rows)"}
    if providers is not None:
        raw["providers"] = {**raw["providers"], "path": saved(providers, "providers"), "synthetic": False,
                            "description": f"provider branches given as a DataFrame ({len(providers):,} rows)"}
    if current_zones is not None:
        raw["current_zones"] = {
            "path": saved(current_zones, "current_zones"), "key": current_zones_key,
            "zone_column": current_zones_column, "approximate": False,
            "description": f"current zones given as a DataFrame ({len(current_zones):,} rows)",
        }
    raw["name"] = name
    try:
        scenario = Scenario.model_validate(raw)
    except ValueError as exc:
        raise ScenarioError(f"scenario {name!r} from DataFrames: {exc}") from exc
    return scenario.with_overrides(**model_changes) if model_changes else scenario


@dataclass(frozen=True)
class Plan:
    """A designed plan with its published views. ``zone_plan`` holds every figure and table."""

    zone_plan: ZonePlan

    @property
    def scenario(self) -> Scenario:
        return self.zone_plan.scenario

    @property
    def metrics(self) -> PlanMetrics:
        """Headline figures of the proposed zones (mean travel, largest/smallest zone, ...)."""
        return self.zone_plan.metrics

    @property
    def current_metrics(self) -> PlanMetrics:
        return self.zone_plan.current_metrics

    @property
    def checks(self) -> tuple[Check, ...]:
        """Every named check of the plan (all passed: a failing plan raises CheckError)."""
        return self.zone_plan.checks

    def zones(self) -> gpd.GeoDataFrame:
        """Proposed zones, one polygon each with its figures, EPSG:27700 (as in zones.gpkg)."""
        return zone_frames(self.zone_plan)[0]

    def current_zones(self) -> gpd.GeoDataFrame:
        """Today's zones (LSOAs drawn in their majority zone) with their figures, EPSG:27700."""
        return zone_frames(self.zone_plan)[1]

    def units(self) -> gpd.GeoDataFrame:
        """One row per LSOA: proposed and current zone, hours, clients (small counts suppressed)."""
        return unit_frame(self.zone_plan)

    def postcode_lookup(self) -> gpd.GeoDataFrame:
        """Every in-area postcode with its proposed and current zone, as points (EPSG:27700)."""
        return postcode_frame(self.zone_plan)

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Write every output (map, reports, GIS files, lookups, summary) to ``out_dir``."""
        return write_outputs(self.zone_plan, Path(out_dir))

    def map(self) -> folium.Map:
        """The folium map of map.html (self-contained: it renders offline, also in Jupyter)."""
        return plan_map(self.zone_plan)


def plan(scenario: Scenario, *, progress: Callable[[str], None] | None = None) -> Plan:
    """Design zones for ``scenario`` (validation, solve, certified bound, named checks)."""
    return Plan(plan_zones(scenario, progress=progress))
