"""Write a :class:`ZonePlan` to ``out/<scenario>/``: map, reports, GIS files, lookups, summary.

Every file is written atomically. Text cells that a spreadsheet would run as a formula are
neutralised; every output that rests on synthetic or approximate inputs says so. When demand
is client by client, the shareable outputs carry aggregates only, with small counts
suppressed (:mod:`zoning.publish.privacy`); the lookup then carries no hours per postcode.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from maps.report import render_report_md
from maps.report_html import render_report_html
from maps.zone_map import MapView, render_zone_map
from zoning import __version__, atomic
from zoning.bands import band_rates
from zoning.baseline import published_since, since_baseline
from zoning.plan import ZonePlan
from zoning.publish.layers import PlanLayers, plan_layers
from zoning.publish.shareable import (
    demand_rows_shown,
    published_moves,
    travel_distribution,
    write_geopackage,
    zone_records,
)

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


def _band_rule(plan: ZonePlan) -> str:
    b = plan.scenario.bands
    if b.path is not None:
        return f"Bands supplied by the council ({b.path.name}, keyed by {b.key})."
    return (f"Band by residential postcodes within {b.radius_m:g} m (OS Code-Point Open): urban >= {b.urban_min}, "
            f"fringe >= {b.fringe_min}, rural >= {b.rural_min}, isolated below. Rates are illustrative.")


def build_summary(plan: ZonePlan, *, run_at: dt.datetime, layers: PlanLayers | None = None) -> dict[str, object]:
    s, r = plan.scenario, plan.result
    rep = r.report
    layers = layers or plan_layers(plan)
    private = layers.client_level
    zones, current = zone_records(plan, layers)
    change = layers.change
    costs = plan.cost_summary()
    excluded_rows = demand_rows_shown(plan.excluded.rows, plan, client_level=private)
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
            "rows": demand_rows_shown(len(plan.demand), plan, client_level=private),
            "hours_per_week": float(plan.demand["hours_per_week"].sum()),
            "postcodes_with_demand": int(plan.demand.loc[plan.demand["hours_per_week"] > 0, "postcode"].nunique()),
            "excluded_rows": excluded_rows,
            "excluded_hours_per_week": plan.excluded.hours if excluded_rows is not None else None,
            "excluded_examples": [] if private else list(plan.excluded.examples),
        },
        "privacy": {"client_level": private, "rule": layers.privacy_note or "demand is not client by client: "
                    "no suppression applied"},
        "providers": {"branches": len(plan.providers),
                      "capacity_hours_per_week": float(plan.providers["capacity_hours_per_week"].sum()),
                      "assignment": "a branch counts towards the zone containing it; branches outside the "
                                    "area (e.g. Leicester city) count towards the nearest zone"},
        "solver": {
            "name": rep.solver, "status": rep.status.value, "solver_status": rep.solver_status,
            "objective_hour_minutes": _clean(rep.objective), "best_bound_hour_minutes": _clean(rep.best_bound),
            "objective_units": costs["objective_units"],
            "certified_lower_bound": _clean(plan.bound.value) if plan.bound else None,
            "gap_to_certified_bound": _clean(r.objective / plan.bound.value - 1) if plan.bound and plan.bound.value > 0
            else None,
            "certified_bound_method": f"{plan.bound.method}, {plan.bound.iterations} iterations, "
            f"{plan.bound.seconds:.1f} s" if plan.bound else None,
            "certified_bound_scope": plan.bound.scope if plan.bound else None,
            "plan_objective": _clean(r.objective),
            "local_search_moves": r.local_search_moves,
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
        "costs": _clean(costs),
        "moves": _records(published_moves(plan, client_level=private)),
        "zones": _records(zones),
        "current_zones": _records(current),
        "change": {
            "zones_changed": change.zones_changed,
            "hours_moved": change.hours_moved,
            "clients_moved": demand_rows_shown(change.clients_moved, plan, client_level=private),
            "postcodes_moved": change.postcodes_moved,
            "continues": change.continues,
            "rule": "each proposed zone continues the current zone it shares most demand hours with (one-to-one); "
                    "a postcode moves when its current zone is not the one its proposed zone continues",
        },
        "bands": {
            "rule": _band_rule(plan),
            "rates": band_rates(s.bands),
            "table": _records(layers.band_hours),
        },
        "travel_distribution": travel_distribution(plan, client_level=private),
        "density_level": layers.density_level,
        "since_baseline": _since_baseline(plan, client_level=private),
        "timings_s": plan.timings,
    }


def _since_baseline(plan: ZonePlan, *, client_level: bool) -> dict[str, object] | None:
    """What changed since the baseline run (a re-opening), or None."""
    since = since_baseline(plan)
    if since is None:
        return None
    zones = published_since(since, client_level=client_level, min_count=plan.scenario.privacy.min_count)
    return {
        "run": str(since.run), "hours_moved": since.hours_moved, "postcodes_moved": since.postcodes_moved,
        "zones": _records(zones), "providers": _records(since.providers),
        "rule": "a postcode moves when its baseline zone is not the one its proposed zone continues; capacity "
                "before is the baseline run's, after is today's branches in the proposed zone",
    }


def zone_polygons(plan: ZonePlan, *, zones: pd.DataFrame | None = None,
                  current_zones: pd.DataFrame | None = None) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Proposed and (approximate, LSOA-majority) current zone polygons in EPSG:27700, with the
    zone tables given (as published) or the plan's own."""
    polys = plan.units.polygons[["lsoa11cd", "geometry"]].copy()
    polys["proposed_zone"] = plan.zones["zone"].to_numpy()[plan.unit_zone]
    polys["current_zone"] = plan.unit_current_zone.to_numpy()
    proposed = polys.dissolve(by="proposed_zone", as_index=False)[["proposed_zone", "geometry"]]
    proposed = proposed.rename(columns={"proposed_zone": "zone"}).merge(plan.zones if zones is None else zones, on="zone")
    current = polys.dissolve(by="current_zone", as_index=False)[["current_zone", "geometry"]]
    current = current.rename(columns={"current_zone": "zone"}).merge(plan.current if current_zones is None else current_zones,
                                                                     on="zone")
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


def postcode_lookup(plan: ZonePlan, *, client_level: bool) -> pd.DataFrame:
    """The brokerage lookup, one row per in-area postcode, text cells neutralised.

    Hours per postcode are left out when demand is client by client (personal data)."""
    pcs = plan.postcodes.reset_index(drop=True)
    names = dict(zip(plan.zones["zone"], plan.zones["zone_name"], strict=True))
    table = pd.DataFrame(
        {
            "postcode": pcs["postcode"],
            "proposed_zone": pcs["proposed_zone"],
            "proposed_zone_name": pcs["proposed_zone"].map(names),
            "current_zone": pcs["current_zone"],
            "band": pcs["band"],
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
    if client_level:
        table = table.drop(columns="hours_per_week")
    for col in ("proposed_zone_name", "current_zone", "district_name", "ward_name", "band"):
        table[col] = table[col].map(safe_cell)
    return table


def write_postcode_lookup(table: pd.DataFrame, path: Path) -> None:
    atomic.write_text(path, table.to_csv(index=False))


#: the brokerage columns (the CSV has every column; openpyxl writes ~40k cells/s here)
XLSX_COLUMNS = ("postcode", "proposed_zone", "proposed_zone_name", "current_zone", "band", "district_name")


def write_postcode_xlsx(table: pd.DataFrame, path: Path, *, notes: list[str]) -> None:
    """The lookup as XLSX (openpyxl, write-only): text cells stay text, never a formula (formula-like
    text is already prefixed by :func:`safe_cell`; anything still starting with ``=`` is typed as text)."""
    table = table[[c for c in XLSX_COLUMNS if c in table.columns]]
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("postcode_zones")
    ws.freeze_panes = "A2"

    def cell(value: object) -> object:
        if hasattr(value, "item"):
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, str) and value.startswith("="):
            typed = WriteOnlyCell(ws, value=value)
            typed.data_type = "s"  # openpyxl would otherwise store "=..." as a formula
            return typed
        return value

    ws.append([cell(str(c)) for c in table.columns])
    for row in table.itertuples(index=False):
        ws.append([cell(v) for v in row])
    about = wb.create_sheet("about")
    for line in ["carezones postcode -> zone lookup", *notes]:
        about.append([cell(safe_cell(line))])
    atomic.write_with(path, lambda tmp: wb.save(tmp))


def map_view(plan: ZonePlan, proposed: gpd.GeoDataFrame, current: gpd.GeoDataFrame, *, run_at: dt.datetime,
             outline: gpd.GeoDataFrame | None, layers: PlanLayers | None = None) -> MapView:
    s, rep = plan.scenario, plan.result.report
    gap = "n/a" if rep.gap is None else f"{100 * rep.gap:.2f}%"
    header = (
        f"Scenario: {s.name} — run {run_at:%Y-%m-%d %H:%M} UTC — carezones {__version__}",
        f"Data: {s.data.vintage}",
        f"Travel: {plan.travel.describe()}",
        f"Solver: {rep.solver} {rep.status.value} ({rep.solver_status}), gap {gap} for the {plan.result.bound_scope}",
        f"Mean travel {plan.metrics.mean_travel_min:.1f} min proposed vs {plan.current_metrics.mean_travel_min:.1f} min current",
        *provenance_notes(plan),
        *([layers.privacy_note] if layers is not None and layers.privacy_note else []),
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
    view = MapView(title=s.title, header_lines=header, proposed=prop, current=cur, providers=providers,
                   outline=outline.to_crs(4326) if outline is not None else None, centres=centres)
    if layers is None:
        return view
    extras = layers.zone_extras.set_index("zone")
    prop["band_mix"] = prop["zone_id"].map(extras["band_mix"])
    prop["change"] = prop["zone_id"].map(extras["change"])
    search = plan.postcodes[["postcode", "proposed_zone", "current_zone"]].rename(columns={"proposed_zone": "zone_id"})
    density_note = "suppressed (fewer than " f"{s.privacy.min_count} clients)" if layers.client_level else "no demand"
    return replace(
        view, proposed=prop,
        difference=_web(layers.difference), bands=_web(layers.bands), band_rates=band_rates(s.bands),
        density=_web(layers.density), density_note=density_note, towns=layers.towns.to_crs(4326),
        search=search.reset_index(drop=True),
    )


def _web(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """EPSG:4326, coordinates rounded to 5 decimals (about 1 m) to keep the page small."""
    out = frame.to_crs(4326)
    out["geometry"] = shapely.set_precision(out.geometry.to_numpy(), 1e-5)
    return out[~out.geometry.is_empty]


def write_outputs(plan: ZonePlan, out_dir: Path, *, run_at: dt.datetime | None = None) -> dict[str, Path]:
    """Write every output; returns their paths by name."""
    run_at = run_at or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    out_dir.mkdir(parents=True, exist_ok=True)
    notes = provenance_notes(plan)
    layers = plan_layers(plan)
    if layers.privacy_note:
        notes = [*notes, layers.privacy_note]
    zones_table, current_table = zone_records(plan, layers)
    proposed, current = zone_polygons(plan, zones=zones_table, current_zones=current_table)
    paths = {
        "zones": out_dir / "zones.geojson",
        "gpkg": out_dir / "zones.gpkg",
        "postcodes": out_dir / "postcode_zones.csv",
        "postcodes_xlsx": out_dir / "postcode_zones.xlsx",
        "summary": out_dir / "summary.json",
        "report": out_dir / "report.md",
        "report_html": out_dir / "report.html",
        "map": out_dir / "map.html",
    }
    write_zones_geojson(proposed, paths["zones"], notes=notes)
    write_geopackage(paths["gpkg"], plan, layers, zones=proposed, current=current,
                     notes=" ".join(notes) if notes else "real inputs")
    lookup = postcode_lookup(plan, client_level=layers.client_level)
    write_postcode_lookup(lookup, paths["postcodes"])
    write_postcode_xlsx(lookup, paths["postcodes_xlsx"], notes=notes)
    summary = build_summary(plan, run_at=run_at, layers=layers)
    atomic.write_text(paths["summary"], json.dumps(summary, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    atomic.write_text(paths["report"], render_report_md(summary))
    atomic.write_text(paths["report_html"], render_report_html(summary))
    outline = None
    if plan.scenario.data.outline is not None and plan.scenario.data.outline.is_file():
        outline = gpd.read_file(plan.scenario.data.outline)
    view = map_view(plan, proposed, current, run_at=run_at, outline=outline, layers=layers)
    atomic.write_text(paths["map"], render_zone_map(view))
    log.info("wrote %d outputs to %s", len(paths), out_dir)
    return paths
