"""Adapters from runs on disk to the planner's pages: zone polygons as simplified SVG rings.

Reads each run's own ``zones.gpkg`` (layer ``zones``, EPSG:27700), simplifies it for a small
map and hands plain shapes to :mod:`maps.appraisal_page` / :mod:`maps.plan_svg`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import shapely

from maps.appraisal_page import render_appraisal_page
from maps.compare_page import render_compare_page
from maps.plan_svg import Shape
from maps.zone_map import map_zone_colours
from zoning import atomic
from zoning.publish.summary import input_notes
from zoning.scenario import Scenario

if TYPE_CHECKING:
    from zoning.planner.compare import Comparison

log = logging.getLogger(__name__)

#: simplification for a ~220 px map of a county (metres)
SIMPLIFY_M = 250.0


def rings_of(geometry: shapely.Geometry) -> tuple[tuple[tuple[float, float], ...], ...]:
    """Exterior and interior rings of a (multi)polygon as coordinate tuples."""
    polys = getattr(geometry, "geoms", [geometry])
    out = []
    for poly in polys:
        if poly.is_empty or poly.geom_type != "Polygon":
            continue
        out.append(tuple((float(x), float(y)) for x, y in poly.exterior.coords))
        out.extend(tuple((float(x), float(y)) for x, y in ring.coords) for ring in poly.interiors)
    return tuple(out)


def zone_shapes(zones: gpd.GeoDataFrame, *, id_column: str = "zone_id", name_column: str | None = "zone_name",
                simplify_m: float = SIMPLIFY_M) -> list[Shape]:
    """One :class:`Shape` per zone, coloured as on the run's own map."""
    frame = zones.to_crs(27700)
    colours = map_zone_colours(frame.rename(columns={id_column: "zone_id"}))  # as on the run's own map
    shapes = []
    for row in frame.itertuples(index=False):
        zone = str(getattr(row, id_column))
        name = str(getattr(row, name_column)) if name_column and hasattr(row, name_column) else ""
        geom = shapely.simplify(row.geometry, simplify_m, preserve_topology=True)
        shapes.append(Shape(zone=zone, colour=colours[zone], rings=rings_of(geom),
                            title=f"{zone} {name}".strip()))
    return shapes


def run_zone_shapes(run_dir: Path) -> list[Shape] | None:
    """The proposed zones of a finished run, or ``None`` when it wrote none."""
    path = run_dir / "zones.gpkg"
    if not path.is_file():
        return None
    return zone_shapes(gpd.read_file(path, layer="zones"))


def write_appraisal_page(path: Path, rows: Sequence[dict[str, object]], *, out_dir: Path, scenario: Scenario,
                         keys: list[str], engine: str) -> Path:
    """``comparison.html``: table, trade-off charts and a small map of every variant's plan."""
    shapes = {}
    for row in rows:
        if row.get("status") != "ok":
            continue
        found = run_zone_shapes(out_dir / str(row["variant"]))
        if found is not None:
            shapes[str(row["variant"])] = found
    intro = (f"Options appraisal of scenario {scenario.name}: {len(rows)} variant(s) over {', '.join(keys) or 'none'}, "
             f"each a full carezones run in its own folder; run on {engine}. Hours moving zone are against "
             "today's zones; paid travel is at the band rates (illustrative unless set by the council).")
    html = render_appraisal_page(title=f"{scenario.title}: options appraisal", rows=rows, keys=keys, shapes=shapes,
                                 notes=input_notes(scenario, no_current_note=False), intro=intro)
    atomic.write_text(path, html)
    log.info("comparison page with %d plan map(s): %s", len(shapes), path)
    return path


def _fmt(value: object, spec: str) -> str:
    try:
        return format(float(value), spec)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "n/a"


def write_compare_page(path: Path, comparison: Comparison) -> Path:
    """``compare.html`` for :func:`zoning.planner.compare.compare_runs`."""
    a, b = comparison.a, comparison.b
    units_b = b.units.to_crs(27700).set_index("lsoa11cd")
    colours = map_zone_colours(b.zones.to_crs(27700))
    changed = set(comparison.changed_lsoas["lsoa11cd"])
    shapes = []
    for code, row in units_b.iterrows():
        zone = str(row["proposed_zone"])
        geom = shapely.simplify(row.geometry, 50.0, preserve_topology=True)
        moved = code in changed
        shapes.append(Shape(zone=zone, colour=colours.get(zone, "#888") if moved else "#e6e6e6", rings=rings_of(geom),
                            title=f"{code}: {zone}" + (" (changed)" if moved else ""), stroke="#bbb"))
    for outline in zone_shapes(b.zones):
        shapes.append(Shape(zone=outline.zone, colour="none", rings=outline.rings, title=outline.title, stroke="#222"))
    pa, pb = a.summary["plan"], b.summary["plan"]
    assert isinstance(pa, dict) and isinstance(pb, dict)
    headline = [
        ("zones", str(pa["zones"]), str(pb["zones"])),
        ("mean travel (min)", _fmt(pa["mean_travel_min"], ".2f"), _fmt(pb["mean_travel_min"], ".2f")),
        ("largest ÷ smallest zone", _fmt(pa["max_min_ratio"], ".2f"), _fmt(pb["max_min_ratio"], ".2f")),
    ]
    hours = "suppressed" if comparison.hours_changed is None else f"{comparison.hours_changed:,.0f}"
    intro = (f"A: {a.folder}. B: {b.folder}. {comparison.postcodes_changed:,} postcodes "
             f"({len(comparison.changed_lsoas)} LSOAs) and {hours} care hours/week have a different zone id in B.")
    notes = []
    for run in (a, b):
        prov = run.summary.get("provenance") or {}
        notes += [n for n in (prov.get("notes", []) if isinstance(prov, dict) else []) if n not in notes]
    if a.client_level or b.client_level:
        notes.append("Client-level demand: flows with few clients are suppressed (hours hidden).")
    html = render_compare_page(
        title="carezones: two plans compared", intro=intro, notes=notes,
        zones=comparison.zones.to_dict(orient="records"), flows=comparison.flows.to_dict(orient="records"),
        shapes=shapes, legend=colours, headline=headline,
    )
    atomic.write_text(path, html)
    return path
