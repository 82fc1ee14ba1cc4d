"""Write a :class:`ZonePlan` to ``out/<scenario>/``: map, GeoJSON, lookup CSV, summary, report.

Every file is written atomically. Text cells that a spreadsheet would run as a formula are
neutralised; every output that rests on synthetic or approximate inputs says so.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from pathlib import Path

import geopandas as gpd
import pandas as pd

from maps.report import render_report_md
from maps.zone_map import MapView, render_zone_map
from zoning import __version__, atomic
from zoning.pipeline import ZonePlan

log = logging.getLogger(__name__)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """Prefix text that a spreadsheet would treat as a formula with an apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def provenance_notes(plan: ZonePlan) -> list[str]:
    """Plain sentences saying what is synthetic or approximate (shown in every output)."""
    s = plan.scenario
    notes = []
    if s.demand.synthetic:
        notes.append(s.demand.description or "Demand is SYNTHETIC (not real client data).")
    if s.providers.synthetic:
        notes.append(s.providers.description or "Provider branches are SYNTHETIC.")
    if s.current_zones.approximate:
        notes.append(s.current_zones.description or "Current zones are an APPROXIMATE reconstruction.")
    if plan.excluded.rows:
        notes.append(
            f"{plan.excluded.rows} demand row(s) with {plan.excluded.hours:g} hours/week were EXCLUDED "
            "(postcode unknown or outside the area)."
        )
    return notes


def _clean(value: object) -> object:
    """JSON-safe value: numpy scalars unwrapped, NaN and infinities as null."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    return [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def build_summary(plan: ZonePlan, *, run_at: dt.datetime) -> dict[str, object]:
    s, r = plan.scenario, plan.result
    rep = r.report
    return {
        "carezones_version": __version__,
        "scenario": {"name": s.name, "title": s.title, "area_code": s.area_code, "area_name": s.area_name,
                     "file": str(s.source) if s.source else None, "seed": s.seed},
        "run_at": run_at.isoformat(timespec="seconds"),
        "provenance": {
            "demand_synthetic": s.demand.synthetic,
            "providers_synthetic": s.providers.synthetic,
            "current_zones_approximate": s.current_zones.approximate,
            "notes": provenance_notes(plan),
            "data_vintage": s.data.vintage,
        },
        "travel_model": plan.travel.describe(),
        "units": {"kind": "ONS LSOA 2011", "count": plan.units.n, "adjacencies": int(len(plan.units.edges))},
        "demand": {
            "rows": len(plan.demand),
            "hours_per_week": float(plan.demand["hours_per_week"].sum()),
            "postcodes_with_demand": int(plan.demand.loc[plan.demand["hours_per_week"] > 0, "postcode"].nunique()),
            "excluded_rows": plan.excluded.rows,
            "excluded_hours_per_week": plan.excluded.hours,
            "excluded_examples": list(plan.excluded.examples),
        },
        "providers": {"branches": len(plan.providers),
                      "capacity_hours_per_week": float(plan.providers["capacity_hours_per_week"].sum()),
                      "assignment": "a branch counts towards the zone containing it; branches outside the "
                                    "area (e.g. Leicester city) count towards the nearest zone"},
        "solver": {
            "name": rep.solver, "status": rep.status.value, "solver_status": rep.solver_status,
            "objective_hour_minutes": _clean(rep.objective), "best_bound_hour_minutes": _clean(rep.best_bound),
            "gap": _clean(rep.gap), "gap_scope": f"the gap certifies the {r.bound_scope}; it is not a bound over all centre choices",
            "method": r.method, "time_limit_s": s.model.time_limit_s, "seconds": r.seconds,
            "rounds": [{"round": x.round, "status": x.status, "objective": _clean(x.objective),
                        "gap": _clean(x.gap), "seconds": x.seconds} for x in r.rounds],
        },
        "model": s.model.model_dump(),
        "plan": _clean(plan.metrics.as_dict()),
        "current": _clean(plan.current_metrics.as_dict()),
        "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in plan.checks],
        "constraints": _clean(plan.constraints_summary()),
        "moves": _records(plan.moves) if plan.moves is not None else [],
        "zones": _records(plan.zones),
        "current_zones": _records(plan.current),
        "timings_s": plan.timings,
    }


def zone_polygons(plan: ZonePlan) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Proposed and (approximate, LSOA-majority) current zone polygons in EPSG:27700."""
    polys = plan.units.polygons[["lsoa11cd", "geometry"]].copy()
    polys["proposed_zone"] = plan.zones["zone"].to_numpy()[plan.unit_zone]
    polys["current_zone"] = plan.unit_current_zone.to_numpy()
    proposed = polys.dissolve(by="proposed_zone", as_index=False)[["proposed_zone", "geometry"]]
    proposed = proposed.rename(columns={"proposed_zone": "zone"}).merge(plan.zones, on="zone")
    current = polys.dissolve(by="current_zone", as_index=False)[["current_zone", "geometry"]]
    current = current.rename(columns={"current_zone": "zone"}).merge(plan.current, on="zone")
    return proposed, current


def write_zones_geojson(proposed: gpd.GeoDataFrame, path: Path, *, notes: list[str]) -> None:
    out = proposed.rename(columns={"zone": "zone_id"}).copy()
    out["provenance"] = " ".join(notes) if notes else "real inputs"
    out = out.to_crs(4326)
    out["geometry"] = out.geometry.normalize().make_valid()
    atomic.write_with(
        path,
        lambda tmp: out.to_file(tmp, driver="GeoJSON", engine="pyogrio", layer_options={"RFC7946": "YES",
                                                                                         "WRITE_NAME": "NO"}),
    )


def write_postcode_lookup(plan: ZonePlan, path: Path) -> None:
    pcs = plan.postcodes.reset_index(drop=True)
    names = dict(zip(plan.zones["zone"], plan.zones["zone_name"], strict=True))
    table = pd.DataFrame(
        {
            "postcode": pcs["postcode"],
            "proposed_zone": pcs["proposed_zone"],
            "proposed_zone_name": pcs["proposed_zone"].map(names),
            "current_zone": pcs["current_zone"],
            "lsoa11cd": pcs["lsoa11cd"],
            "district_name": pcs["district_name"],
            "ward_code": pcs["ward_code"],
            "ward_name": pcs["ward_name"],
            "large_user": pcs["large_user"].astype(int),
            "hours_per_week": pcs["hours_per_week"].round(4),
            "travel_min_proposed": pcs["travel_min_proposed"].round(4),
            "travel_min_current": pcs["travel_min_current"].round(4),
        }
    ).sort_values("postcode")
    for col in ("proposed_zone_name", "current_zone", "district_name", "ward_name"):
        table[col] = table[col].map(safe_cell)
    atomic.write_text(path, table.to_csv(index=False))


def map_view(plan: ZonePlan, proposed: gpd.GeoDataFrame, current: gpd.GeoDataFrame, *, run_at: dt.datetime,
             outline: gpd.GeoDataFrame | None) -> MapView:
    s, rep = plan.scenario, plan.result.report
    gap = "n/a" if rep.gap is None else f"{100 * rep.gap:.2f}%"
    header = (
        f"Scenario: {s.name} — run {run_at:%Y-%m-%d %H:%M} UTC — carezones {__version__}",
        f"Data: {s.data.vintage}",
        f"Travel: {plan.travel.describe()}",
        f"Solver: {rep.solver} {rep.status.value} ({rep.solver_status}), gap {gap} for the {plan.result.bound_scope}",
        f"Mean travel {plan.metrics.mean_travel_min:.1f} min proposed vs {plan.current_metrics.mean_travel_min:.1f} min current",
        *provenance_notes(plan),
    )
    prop = proposed.rename(columns={"zone": "zone_id"}).to_crs(4326)
    cur = current.rename(columns={"zone": "zone_name"}).to_crs(4326)
    prov = plan.providers
    providers = gpd.GeoDataFrame(
        prov[["provider_id", "name", "capacity_hours_per_week"]].assign(zone_id=prov["proposed_zone"]),
        geometry=gpd.points_from_xy(prov["easting"], prov["northing"]), crs=27700,
    ).to_crs(4326)
    centres = gpd.GeoDataFrame(
        plan.zones[["zone", "zone_name"]].rename(columns={"zone": "zone_id"}),
        geometry=gpd.points_from_xy(plan.zones["centre_easting"], plan.zones["centre_northing"]), crs=27700,
    ).to_crs(4326)
    return MapView(title=s.title, header_lines=header, proposed=prop, current=cur, providers=providers,
                   outline=outline.to_crs(4326) if outline is not None else None, centres=centres)


def write_outputs(plan: ZonePlan, out_dir: Path, *, run_at: dt.datetime | None = None) -> dict[str, Path]:
    """Write every output; returns their paths by name."""
    run_at = run_at or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    out_dir.mkdir(parents=True, exist_ok=True)
    notes = provenance_notes(plan)
    proposed, current = zone_polygons(plan)
    paths = {
        "zones": out_dir / "zones.geojson",
        "postcodes": out_dir / "postcode_zones.csv",
        "summary": out_dir / "summary.json",
        "report": out_dir / "report.md",
        "map": out_dir / "map.html",
    }
    write_zones_geojson(proposed, paths["zones"], notes=notes)
    write_postcode_lookup(plan, paths["postcodes"])
    summary = build_summary(plan, run_at=run_at)
    atomic.write_text(paths["summary"], json.dumps(summary, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    atomic.write_text(paths["report"], render_report_md(summary))
    outline = None
    if plan.scenario.data.outline is not None and plan.scenario.data.outline.is_file():
        outline = gpd.read_file(plan.scenario.data.outline)
    atomic.write_text(paths["map"], render_zone_map(map_view(plan, proposed, current, run_at=run_at, outline=outline)))
    log.info("wrote %d outputs to %s", len(paths), out_dir)
    return paths
