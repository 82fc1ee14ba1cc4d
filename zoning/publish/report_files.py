"""The report's files: ``report.md``, ``report.html`` and their figures (PNG + SVG) next to them.

Both reports come from one template (:mod:`maps.report`) over the typed summary; the figures
(:mod:`maps.report_figures`) are drawn here from the published zone polygons, coloured by
adjacency (:mod:`maps.colours`) exactly as the web map and the GIS styles colour them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd

from maps.colours import colour_zones, zone_adjacency
from maps.report import FigureRef, HtmlFormat, MarkdownFormat, render_report
from maps.report_figures import (
    FigureFiles,
    load_figure,
    render_figure,
    travel_figure,
    zone_maps_figure,
)
from maps.summary_types import Summary
from zoning import atomic
from zoning.publish.outputset import RunStamp
from zoning.publish.stamp import stamp_html

__all__ = ["REPORT_FIGURES", "write_report_files", "zone_colours_for"]

log = logging.getLogger(__name__)

#: figure role -> file stem (each written as <stem>.png and <stem>.svg)
REPORT_FIGURES = {"maps": "report_map_zones", "load": "report_chart_load", "travel": "report_chart_travel"}


def zone_colours_for(zones: gpd.GeoDataFrame, *, id_column: str) -> dict[str, str]:
    """Adjacency colouring of a zone layer (the same for map, report and GIS styles)."""
    return colour_zones(zones[id_column].astype(str), zone_adjacency(zones, id_column=id_column))


def _figures(summary: Summary, *, proposed: gpd.GeoDataFrame, current: gpd.GeoDataFrame | None,
             outline: gpd.GeoDataFrame | None) -> list[tuple[str, FigureFiles]]:
    proposed = proposed.to_crs(27700)
    approx = " (approximate)" if summary["provenance"]["current_zones_approximate"] else ""
    maps_fig = zone_maps_figure(
        current=current.to_crs(27700) if current is not None and summary["current"] else None,
        proposed=proposed,
        current_colours=zone_colours_for(current, id_column="zone") if current is not None and not current.empty
        else {},
        proposed_colours=zone_colours_for(proposed, id_column="zone"),
        current_title=f"Today: {len(current) if current is not None else 0} zones{approx}",
        proposed_title=f"Proposed: {len(proposed)} zones",
        outline=outline.to_crs(27700) if outline is not None else None,
    )
    return [
        ("maps", render_figure(maps_fig, stem=REPORT_FIGURES["maps"],
                               alt="Map of today's zones and the proposed zones side by side")),
        ("load", render_figure(load_figure(summary), stem=REPORT_FIGURES["load"],
                               alt="Care hours per zone against the balance band, today and proposed")),
        ("travel", render_figure(travel_figure(summary), stem=REPORT_FIGURES["travel"],
                                 alt="Share of care hours by travel time to the zone centre")),
    ]


def write_report_files(summary: Summary, out_dir: Path, *, proposed: gpd.GeoDataFrame,
                       current: gpd.GeoDataFrame | None, outline: gpd.GeoDataFrame | None,
                       stamp: RunStamp | None = None) -> dict[str, Path]:
    """Write the figures and both reports (with the run stamp at the end); returns their paths by name.

    ``proposed`` / ``current``: zone polygons with a ``zone`` column (any CRS; drawn in EPSG:27700).
    """
    paths: dict[str, Path] = {}
    refs: dict[str, FigureRef] = {}
    for role, fig in _figures(summary, proposed=proposed, current=current, outline=outline):
        png, svg = out_dir / f"{fig.stem}.png", out_dir / f"{fig.stem}.svg"
        atomic.write_with(png, lambda tmp, data=fig.png: tmp.write_bytes(data))  # type: ignore[misc]
        atomic.write_with(svg, lambda tmp, data=fig.svg: tmp.write_bytes(data))  # type: ignore[misc]
        paths[f"figure_{role}_png"], paths[f"figure_{role}_svg"] = png, svg
        refs[role] = FigureRef(stem=fig.stem, alt=fig.alt, png=fig.png)
    paths["report"], paths["report_html"] = out_dir / "report.md", out_dir / "report.html"
    md = render_report(summary, fmt=MarkdownFormat(), figures=refs)
    html = render_report(summary, fmt=HtmlFormat(), figures=refs)
    if stamp is not None:
        md, html = md + f"\n---\n\n{stamp.line()}\n", stamp_html(html, stamp)
    atomic.write_text(paths["report"], md)
    atomic.write_text(paths["report_html"], html)
    log.info("report: %d figures (PNG + SVG), report.md and report.html", len(refs))
    return paths
