"""Static figures for the report (matplotlib, Agg canvas, no pyplot state): today's and the
proposed zones side by side, each zone's load against the ±tolerance band (today and
proposed), and the travel-time distribution. Each is written as PNG (for Word) and SVG.

Presentation only: frames and figures come in, bytes come out. Zone maps take polygons in a
projected CRS (EPSG:27700) with their colours already chosen (:mod:`maps.colours`).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import geopandas as gpd
import matplotlib
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from maps.colours import FILL_OPACITY
from maps.summary_types import CurrentZoneRecord, Summary, ZoneRecord

__all__ = ["FigureFiles", "load_figure", "render_figure", "travel_figure", "zone_maps_figure"]

PROPOSED_COLOUR = "#0072B2"
CURRENT_COLOUR = "#E69F00"
OUTSIDE_COLOUR = "#D55E00"
_HALO = [patheffects.withStroke(linewidth=2.2, foreground="white")]
_RC = {"svg.hashsalt": "carezones", "svg.fonttype": "none"}  # reproducible SVG, text kept as text


@dataclass(frozen=True)
class FigureFiles:
    """One figure as PNG and SVG bytes, with the file stem it is written under."""

    stem: str
    png: bytes
    svg: bytes
    alt: str


def render_figure(fig: Figure, *, stem: str, alt: str, dpi: int = 200) -> FigureFiles:
    """PNG (``dpi``) and SVG bytes of ``fig``; reproducible (no dates, fixed SVG ids)."""
    FigureCanvasAgg(fig)
    png, svg = io.BytesIO(), io.BytesIO()
    with matplotlib.rc_context(_RC):  # type: ignore[arg-type]
        fig.savefig(png, format="png", dpi=dpi, metadata={"Software": None})
        fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    return FigureFiles(stem=stem, png=png.getvalue(), svg=svg.getvalue(), alt=alt)


def _zone_panel(ax: Axes, zones: gpd.GeoDataFrame, *, label_column: str, colours: Mapping[str, str], title: str,
                outline: gpd.GeoDataFrame | None, dashed: bool, fontsize: float) -> None:
    keys = [str(z) for z in zones[label_column]]
    zones = zones.set_geometry(zones.geometry.buffer(1.0).buffer(-1.0))  # close slivers between dissolved units
    zones.plot(ax=ax, color=[colours.get(k, "#cccccc") for k in keys], alpha=FILL_OPACITY, edgecolor="none")
    zones.boundary.plot(ax=ax, color="#222222", linewidth=0.9 if dashed else 0.7,
                        linestyle=(0, (4, 2)) if dashed else "-")
    if outline is not None and not outline.empty:
        outline.boundary.plot(ax=ax, color="#555555", linewidth=0.5)
    for key, point in zip(keys, zones.geometry.representative_point(), strict=True):
        text = key if len(key) <= 14 else key.replace(" and ", " &\n", 1).replace(" ", "\n", 1)
        ax.annotate(text, (point.x, point.y), ha="center", va="center", fontsize=fontsize, fontweight="bold",
                    path_effects=_HALO)
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_axis_off()
    ax.set_aspect("equal")


def zone_maps_figure(*, current: gpd.GeoDataFrame | None, proposed: gpd.GeoDataFrame,
                     current_colours: Mapping[str, str], proposed_colours: Mapping[str, str],
                     current_title: str, proposed_title: str, outline: gpd.GeoDataFrame | None = None,
                     current_label: str = "zone", proposed_label: str = "zone") -> Figure:
    """Today's zones (dashed) and the proposed zones side by side on the same extent."""
    panels = 2 if current is not None and not current.empty else 1
    fig = Figure(figsize=(10.0 if panels == 2 else 6.0, 5.4), layout="constrained")
    axes = fig.subplots(1, panels, squeeze=False)[0]
    if panels == 2 and current is not None:
        _zone_panel(axes[0], current, label_column=current_label, colours=current_colours, title=current_title,
                    outline=outline, dashed=True, fontsize=5.5)
    _zone_panel(axes[-1], proposed, label_column=proposed_label, colours=proposed_colours, title=proposed_title,
                outline=outline, dashed=False, fontsize=7)
    minx, miny, maxx, maxy = proposed.total_bounds
    for ax in axes:
        ax.set_xlim(minx - 1000, maxx + 1000)
        ax.set_ylim(miny - 1000, maxy + 1000)
    axes[-1].annotate("Contains OS data © Crown copyright and database right 2025", (1, 0), xycoords="axes fraction",
                      ha="right", va="bottom", fontsize=5, color="#555555")
    return fig


def _load_panel(ax: Axes, names: Sequence[str], loads: Sequence[float], capacities: Sequence[float], *,
                mean: float, tolerance: float, colour: str, title: str, xmax: float) -> None:
    lo, hi = (1 - tolerance) * mean, (1 + tolerance) * mean
    ax.axvspan(lo, hi, color="#009E73", alpha=0.15, lw=0, label=f"mean ±{100 * tolerance:.0f}%")
    ax.axvline(mean, color="#009E73", lw=1, ls="--")
    ys = list(range(len(names)))[::-1]
    bar_colours = [colour if lo - 1e-6 <= v <= hi + 1e-6 else OUTSIDE_COLOUR for v in loads]
    ax.barh(ys, loads, color=bar_colours, height=0.7)
    caps = [(y, c) for y, c in zip(ys, capacities, strict=True) if math.isfinite(c) and c > 0]
    inside = [(y, c) for y, c in caps if c <= xmax]
    beyond = [(y, c) for y, c in caps if c > xmax]
    if inside:
        ax.scatter([c for _, c in inside], [y for y, _ in inside], marker="|", s=90, color="#111111",
                   linewidths=2, zorder=3)
    for y, c in beyond:  # capacity off the scale: an arrow at the edge with its value
        ax.annotate(f"{c:,.0f} ▸", (xmax, y), ha="right", va="center", fontsize=6, color="#111111")
    ax.set_yticks(ys, [n if len(n) <= 30 else n[:29] + "…" for n in names], fontsize=7)
    ax.set_xlim(0, xmax)
    ax.set_title(title, fontsize=9, loc="left")
    ax.set_xlabel("care hours per week")
    ax.grid(axis="x", color="#dddddd", lw=0.5)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def load_figure(summary: Summary) -> Figure:
    """Each zone's demand against the ±tolerance band around the mean: today and proposed,
    on one scale (bars outside the band in vermillion; black ticks: provider capacity)."""
    plan, tol = summary["plan"], summary["plan"]["tolerance"]
    zones: list[ZoneRecord] = summary["zones"]
    current: list[CurrentZoneRecord] = summary["current_zones"] if summary["current"] else []
    loads = [z["hours_per_week"] for z in zones] + [z["hours_per_week"] for z in current]
    xmax = max(loads) * 1.12
    rows = max(len(zones), len(current))
    fig = Figure(figsize=(10.0, 0.28 * rows + 1.6), layout="constrained")
    axes = fig.subplots(1, 2 if current else 1, squeeze=False, sharex=True)[0]
    if current and summary["current"]:
        _load_panel(axes[0], [z["zone"] for z in current], [z["hours_per_week"] for z in current],
                    [z["capacity_hours_per_week"] for z in current], mean=summary["current"]["mean_zone_hours"],
                    tolerance=tol, colour=CURRENT_COLOUR, title="Today", xmax=xmax)
    _load_panel(axes[-1], [f"{z['zone']} {z['zone_name']}" for z in zones], [z["hours_per_week"] for z in zones],
                [z["capacity_hours_per_week"] for z in zones], mean=plan["mean_zone_hours"], tolerance=tol,
                colour=PROPOSED_COLOUR, title="Proposed", xmax=xmax)
    handles = [Patch(color=CURRENT_COLOUR, label="today, within the band"),
               Patch(color=PROPOSED_COLOUR, label="proposed, within the band"),
               Patch(color=OUTSIDE_COLOUR, label="outside the band"),
               Patch(color="#009E73", alpha=0.3, label=f"mean ±{100 * tol:.0f}%")]
    fig.legend(handles=handles, loc="outside lower center", ncols=4, fontsize=7, frameon=False)
    return fig


def travel_figure(summary: Summary) -> Figure:
    """Share of care hours by travel time to the zone centre, today and proposed."""
    dist = summary["travel_distribution"]
    edges = [math.inf if e is None else float(e) for e in dist["edges_min"]]
    labels = [f"{lo:.0f}+" if not math.isfinite(hi) else f"{lo:.0f}–{hi:.0f}"
              for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    fig = Figure(figsize=(7.0, 2.8), layout="constrained")
    ax = fig.subplots()
    xs = list(range(len(labels)))
    series = [("proposed", "Proposed", PROPOSED_COLOUR, 0.2)]
    if summary["current"]:
        series.insert(0, ("current", "Today", CURRENT_COLOUR, -0.2))
    for key, name, colour, shift in series:
        shares = dist[key]  # type: ignore[literal-required]
        ax.bar([x + shift for x in xs], [100 * (s or 0.0) for s in shares], width=0.4, color=colour, label=name)
        for x, s in zip(xs, shares, strict=True):
            if s is None:
                ax.annotate("*", (x + shift, 0), ha="center", va="bottom", fontsize=9)
    ax.set_xticks(xs, labels)
    ax.set_xlabel("minutes to the zone centre (* suppressed: fewer than the privacy threshold)")
    ax.set_ylabel("% of care hours")
    ax.legend(frameon=False, fontsize=7)
    ax.grid(axis="y", color="#dddddd", lw=0.5)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig
