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
import numpy as np
import pandas as pd
import shapely
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter
from pyproj import Transformer

from maps.headline import headline
from maps.summary_types import Summary
from maps.zone_map import MapView, render_zone_map
from zoning import __version__, atomic
from zoning.bands import band_rates
from zoning.changes import plan_change
from zoning.plan import ZonePlan
from zoning.publish.gis import write_geopackage, write_zones_geojson
from zoning.publish.layers import PlanLayers, plan_layers
from zoning.publish.manifest import build_manifest, write_manifest
from zoning.publish.outputset import OutputSet, new_stamp
from zoning.publish.report_files import write_report_files
from zoning.publish.shareable import zone_records
from zoning.publish.stamp import OUTPUT_FILES, stamp_metadata
from zoning.publish.summary import build_summary, capacity_shortfall, gap_to_bound, provenance_notes

__all__ = ["build_summary", "capacity_shortfall", "gap_to_bound", "map_view", "postcode_lookup", "provenance_notes",
           "safe_cell", "write_outputs", "zone_polygons"]

log = logging.getLogger(__name__)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_TO_WGS84 = Transformer.from_crs(27700, 4326, always_xy=True)


def safe_cell(value: object) -> object:
    """Prefix text that a spreadsheet would treat as a formula with an apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


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


def postcode_lookup(plan: ZonePlan, *, client_level: bool) -> pd.DataFrame:
    """The brokerage lookup, one row per in-area postcode, text cells neutralised: zones today and
    proposed, whether the postcode changes zone, band, GSS codes, British National Grid and WGS84
    coordinates. Hours per postcode are left out when demand is client by client (personal data)."""
    pcs = plan.postcodes.reset_index(drop=True)
    names = dict(zip(plan.zones["zone"], plan.zones["zone_name"], strict=True))
    change = plan.change if plan.change is not None else plan_change(plan.postcodes, plan.demand, continues=plan.matched)
    lon, lat = _TO_WGS84.transform(pcs["easting"].astype(float).to_numpy(), pcs["northing"].astype(float).to_numpy())
    table = pd.DataFrame(
        {
            "postcode": pcs["postcode"],
            "proposed_zone": pcs["proposed_zone"],
            "proposed_zone_name": pcs["proposed_zone"].map(names),
            "current_zone": pcs["current_zone"],
            "changes_zone": change.postcode_changed.reindex(plan.postcodes.index).to_numpy(dtype=bool),
            "band": pcs["band"],
            "lsoa11cd": pcs["lsoa11cd"],
            "ward_code": pcs["ward_code"],
            "ward_name": pcs["ward_name"],
            "district_code": pcs["district_code"],
            "district_name": pcs["district_name"],
            "easting": pcs["easting"].astype(float).round().astype("int64"),
            "northing": pcs["northing"].astype(float).round().astype("int64"),
            "latitude": np.round(lat, 6),
            "longitude": np.round(lon, 6),
            "large_user": pcs["large_user"].astype(int),
            "hours_per_week": pcs["hours_per_week"].round(4),
            "travel_min_proposed": pcs["travel_min_proposed"].round(4),
            "travel_min_current": pcs["travel_min_current"].round(4),
        }
    ).sort_values("postcode")
    if client_level:
        table = table.drop(columns="hours_per_week")
    if not plan.has_current:
        table = table.drop(columns=["current_zone", "changes_zone", "travel_min_current"])
    for col in ("proposed_zone_name", "current_zone", "district_name", "ward_name", "band"):
        if col in table.columns:
            table[col] = table[col].map(safe_cell)
    return table


def write_postcode_lookup(table: pd.DataFrame, path: Path) -> None:
    atomic.write_text(path, table.to_csv(index=False))


#: the brokerage columns (the CSV has every column; openpyxl writes ~40k cells/s here), with widths
XLSX_COLUMNS: dict[str, float] = {
    "postcode": 10, "proposed_zone": 9, "proposed_zone_name": 28, "current_zone": 24, "changes_zone": 9,
    "band": 9, "ward_name": 24, "district_name": 20, "lsoa11cd": 11, "latitude": 10, "longitude": 10,
}


def write_postcode_xlsx(table: pd.DataFrame, path: Path, *, notes: list[str]) -> None:
    """The lookup as XLSX (openpyxl, write-only) with a frozen header, an autofilter and column
    widths: text cells stay text, never a formula (formula-like text is already prefixed by
    :func:`safe_cell`; anything still starting with ``=`` is typed as text)."""
    table = table[[c for c in XLSX_COLUMNS if c in table.columns]]
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("postcode_zones")
    ws.freeze_panes = "A2"
    for i, col in enumerate(table.columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = XLSX_COLUMNS[col]
    ws.auto_filter.ref = f"A1:{get_column_letter(len(table.columns))}{len(table) + 1}"

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
        f"Mean travel {plan.metrics.mean_travel_min:.1f} min proposed vs {plan.current_metrics.mean_travel_min:.1f} min current"
        if plan.has_current else f"Mean travel {plan.metrics.mean_travel_min:.1f} min (no current zones given)",
        *provenance_notes(plan),
        *([layers.privacy_note] if layers is not None and layers.privacy_note else []),
    )
    prop = proposed.rename(columns={"zone": "zone_id"}).to_crs(4326)
    cur = current.rename(columns={"zone": "zone_name"}).to_crs(4326)
    if not plan.has_current:
        cur = cur.iloc[0:0]
    prov = plan.providers
    served = ["serves_zones"] if "serves_zones" in prov.columns else []
    if "allocated_capacity_hours_per_week" in prop.columns:  # capacity rule "flow": shown in the zone tooltip
        prop["allocated"] = [f"{v:,.0f}" for v in prop["allocated_capacity_hours_per_week"]]
        prop["allocated_ratio"] = [f"{v:.2f}" if v == v else "n/a" for v in prop["demand_allocated_ratio"]]
        prop["shortfall"] = [f"⚠ SHORT by {v:,.0f} h/week" if v > 1e-6 else "none" for v in
                             prop["capacity_shortfall_hours_per_week"]]
    providers = gpd.GeoDataFrame(
        prov[["provider_id", "name", "capacity_hours_per_week", *served]].assign(zone_id=prov["proposed_zone"]),
        geometry=gpd.points_from_xy(prov["easting"], prov["northing"]), crs=27700,
    ).to_crs(4326)
    centres = gpd.GeoDataFrame(
        plan.zones[["zone", "zone_name"]].rename(columns={"zone": "zone_id"}),
        geometry=gpd.points_from_xy(plan.zones["centre_easting"], plan.zones["centre_northing"]), crs=27700,
    ).to_crs(4326)
    view = MapView(title=s.title, header_lines=header, proposed=prop, current=cur, providers=providers,
                   outline=outline.to_crs(4326) if outline is not None else None, centres=centres,
                   units_label="postcode cells" if plan.units_level == "postcode" else "LSOAs")
    if layers is None:
        return view
    extras = layers.zone_extras.set_index("zone")
    prop["band_mix"] = prop["zone_id"].map(extras["band_mix"])
    if plan.has_current:  # no current zones: no "change vs today" anywhere
        prop["change"] = prop["zone_id"].map(extras["change"])
    search = plan.postcodes[["postcode", "proposed_zone", "current_zone"]].rename(columns={"proposed_zone": "zone_id"})
    if not plan.has_current:
        search = search.assign(current_zone="")
    density_note = "suppressed (fewer than " f"{s.privacy.min_count} clients)" if layers.client_level else "no demand"
    return replace(
        view, proposed=prop,
        difference=_web(layers.difference) if plan.has_current else None, bands=_web(layers.bands), band_rates=band_rates(s.bands),
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


def read_outline(plan: ZonePlan) -> gpd.GeoDataFrame | None:
    """The scenario's district outlines (drawn on the map and the report), when it has them."""
    path = plan.scenario.data.outline
    return gpd.read_file(path) if path is not None and path.is_file() else None


def full_map_view(plan: ZonePlan, proposed: gpd.GeoDataFrame, current: gpd.GeoDataFrame, *, run_at: dt.datetime,
                  outline: gpd.GeoDataFrame | None, layers: PlanLayers, summary: Summary,
                  notes: list[str]) -> MapView:
    """The map of ``map.html`` (and of the notebook API): layers, headline figures and caveats."""
    return replace(map_view(plan, proposed, current, run_at=run_at, outline=outline, layers=layers),
                   headline=headline(summary).figures(),
                   current_approximate=bool(plan.scenario.current_zones and plan.scenario.current_zones.approximate),
                   caveats=tuple(notes))


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
    summary = build_summary(plan, run_at=run_at, layers=layers,
                            run={"run_id": stamp.run_id, "scenario_sha256": stamp.scenario_sha256},
                            records=(zones_table, current_table))
    atomic.write_text(paths["summary"], json.dumps(summary, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    outset.written("summary")
    outline = read_outline(plan)
    paths.update(write_report_files(summary, paths["report"].parent, proposed=proposed, current=current,
                                    outline=outline, stamp=stamp))
    for name in ("report", "report_html"):
        outset.written(name)
    view = full_map_view(plan, proposed, current, run_at=run_at, outline=outline, layers=layers, summary=summary,
                         notes=notes)
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
