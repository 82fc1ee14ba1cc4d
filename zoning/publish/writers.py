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
from zoning.baseline import since_baseline_summary
from zoning.plan import ZonePlan
from zoning.publish.layers import PlanLayers, plan_layers
from zoning.publish.manifest import build_manifest, write_manifest
from zoning.publish.outputset import OutputSet, RunStamp, new_stamp
from zoning.publish.shareable import (
    demand_rows_shown,
    published_moves,
    travel_distribution,
    write_geopackage,
    zone_records,
)
from zoning.publish.stamp import OUTPUT_FILES, stamp_geojson, stamp_html, stamp_metadata

log = logging.getLogger(__name__)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """Prefix text that a spreadsheet would treat as a formula with an apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def capacity_shortfall(plan: ZonePlan) -> str | None:
    """A warning when provider capacity is short of demand, whatever the capacity rule."""
    capacity = float(plan.providers["capacity_hours_per_week"].sum())
    demand = float(plan.demand["hours_per_week"].sum())
    if demand <= 0 or capacity >= demand:
        return None
    rule = plan.scenario.capacity.rule
    return (f"WARNING: provider capacity ({capacity:,.0f} h/week) covers only {100 * capacity / demand:.0f}% of "
            f"demand ({demand:,.0f} h/week)" + (" and the zones do not take capacity into account ([capacity] "
                                                "rule = \"none\")" if rule == "none" else "") + ".")


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
    shortfall = capacity_shortfall(plan)
    if shortfall:
        notes.append(shortfall)
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


def gap_to_bound(objective: float, bound: float | None) -> float | None:
    """``objective / bound - 1``; 0 when both are 0; ``None`` without a bound or when it is 0
    under a positive objective (no finite relative gap)."""
    if bound is None or not math.isfinite(bound):
        return None
    if bound > 0:
        return _clean(objective / bound - 1)  # type: ignore[return-value]
    return 0.0 if abs(objective) <= 1e-9 else None


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
        "privacy": {"client_level": private, "reason": layers.privacy_reason,
                    "rule": layers.privacy_note or "demand is not personal data: no suppression applied"},
        "providers": {"branches": len(plan.providers),
                      "capacity_hours_per_week": float(plan.providers["capacity_hours_per_week"].sum()),
                      "assignment": "a branch counts towards the zone containing it; branches outside the "
                                    "area (e.g. Leicester city) count towards the nearest zone"},
        "solver": {
            "name": rep.solver, "status": rep.status.value, "solver_status": rep.solver_status,
            "objective_hour_minutes": _clean(rep.objective), "best_bound_hour_minutes": _clean(rep.best_bound),
            "objective_units": costs["objective_units"],
            "certified_lower_bound": _clean(plan.bound.value) if plan.bound else None,
            "gap_to_certified_bound": gap_to_bound(r.objective, plan.bound.value if plan.bound else None),
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
        "since_baseline": since_baseline_summary(plan, client_level=private),
        "timings_s": plan.timings,
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


def write_zones_geojson(proposed: gpd.GeoDataFrame, path: Path, *, notes: list[str],
                        stamp: RunStamp | None = None) -> None:
    out = proposed.rename(columns={"zone": "zone_id"}).copy()
    out["provenance"] = " ".join(notes) if notes else "real inputs"
    out = out.to_crs(4326)
    out["geometry"] = out.geometry.normalize().make_valid()
    atomic.write_with(
        path,
        lambda tmp: out.to_file(tmp, driver="GeoJSON", engine="pyogrio", layer_options={"RFC7946": "YES",
                                                                                         "WRITE_NAME": "NO"}),
    )
    if stamp is not None:
        stamp_geojson(path, stamp)


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


def write_outputs(plan: ZonePlan, out_dir: Path, *, run_at: dt.datetime | None = None,
                  output_set: OutputSet | None = None) -> dict[str, Path]:
    """Write every output and ``manifest.json`` as one set (:mod:`zoning.publish.outputset`):
    staged beside ``out_dir`` and swapped in whole. Pass ``output_set`` when the caller already
    holds the folder (the CLI takes it before solving). Returns the final paths by name."""
    if output_set is not None:
        return _write_set(plan, output_set)
    with OutputSet(out_dir, stamp=new_stamp(plan.scenario, run_at=run_at)) as outset:
        return _write_set(plan, outset)


def _write_set(plan: ZonePlan, outset: OutputSet) -> dict[str, Path]:
    stamp = outset.stamp
    run_at = stamp.run_at
    notes = provenance_notes(plan)
    layers = plan_layers(plan)
    if layers.privacy_note:
        notes = [*notes, layers.privacy_note]
    zones_table, current_table = zone_records(plan, layers)
    proposed, current = zone_polygons(plan, zones=zones_table, current_zones=current_table)
    paths = {name: outset.path(file) for name, file in OUTPUT_FILES.items()}
    write_zones_geojson(proposed, paths["zones"], notes=notes, stamp=stamp)
    outset.written("zones")
    write_geopackage(paths["gpkg"], plan, layers, zones=proposed, current=current,
                     notes=" ".join(notes) if notes else "real inputs", metadata=stamp_metadata(stamp))
    outset.written("gpkg")
    lookup = postcode_lookup(plan, client_level=layers.client_level)
    write_postcode_lookup(lookup.assign(run_id=stamp.run_id, scenario_sha256_12=stamp.scenario_short),
                          paths["postcodes"])
    outset.written("postcodes")
    write_postcode_xlsx(lookup, paths["postcodes_xlsx"], notes=[*notes, stamp.line()])
    outset.written("postcodes_xlsx")
    summary = {"run": {"run_id": stamp.run_id, "scenario_sha256": stamp.scenario_sha256},
               **build_summary(plan, run_at=run_at, layers=layers)}
    atomic.write_text(paths["summary"], json.dumps(summary, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    outset.written("summary")
    atomic.write_text(paths["report"], render_report_md(summary) + f"\n---\n\n{stamp.line()}\n")
    outset.written("report")
    atomic.write_text(paths["report_html"], stamp_html(render_report_html(summary), stamp))
    outset.written("report_html")
    outline = None
    if plan.scenario.data.outline is not None and plan.scenario.data.outline.is_file():
        outline = gpd.read_file(plan.scenario.data.outline)
    view = map_view(plan, proposed, current, run_at=run_at, outline=outline, layers=layers)
    view = replace(view, header_lines=(*view.header_lines, stamp.line()))
    atomic.write_text(paths["map"], render_zone_map(view))
    outset.written("map")
    write_manifest(outset.path("manifest.json"), build_manifest(plan, stamp, paths))
    outset.written("manifest")
    outset.commit()
    final = {name: outset.target / path.name for name, path in paths.items()}
    final["manifest"] = outset.target / "manifest.json"
    log.info("wrote %d outputs to %s (run %s)", len(final), outset.target, stamp.run_id)
    return final
