"""Interactive map of proposed versus current home-care zones (folium).

Presentation only: this module draws frames it is given (:class:`maps.map_view.MapView`). It
never reads files and never solves. Every string that came from input data passes through
:func:`maps.escape.escape_text` before it reaches folium (folium 0.20 inserts text into HTML and
JS template literals raw), and every number is formatted here before it is escaped.

The map is readable with no network tiles: ``tiles=None``, a light background, district
outlines and town labels, and the OpenStreetMap layer offered only as a switched-off overlay.
Zones are coloured by adjacency (:mod:`maps.colours`: no two neighbours alike, checked under
simulated deuteranopia). The header opens on demand, the layer control is collapsed, labels
sit above the provider markers and do not collide, and the page prints on one A4 sheet with
its legend (:mod:`maps.map_header`). Optional layers (difference, price bands, demand density,
town labels, postcode search) are drawn when the view carries them (:mod:`maps.layers`,
:mod:`maps.search`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import folium
import geopandas as gpd

from maps.colours import FILL_OPACITY, MAP_BACKGROUND, PALETTE, colour_zones, zone_adjacency
from maps.escape import escape_frame, escape_text
from maps.layers import (
    BAND_COLOURS,
    DENSITY_COLOURS,
    DIFFERENCE_COLOUR,
    LABEL_PANE,
    LAYER_BANDS,
    LAYER_DENSITY,
    LAYER_DIFFERENCE,
    SUPPRESSED_COLOUR,
    add_bands,
    add_density,
    add_difference,
    add_providers_clustered,
    add_towns,
    finite_or_none,
    fmt,
    geojson_tooltip,
)
from maps.map_header import HeaderBox, header_html, legend_rows, print_html
from maps.map_view import MapView, validate_view
from maps.offline import OfflineMap
from maps.search import SearchBox, encode_lookup, example_postcode

__all__ = [
    "BACKGROUND",
    "LAYER_CURRENT",
    "LAYER_PROPOSED",
    "MapView",
    "PALETTE",
    "build_zone_map",
    "map_zone_colours",
    "render_zone_map",
    "validate_view",
]

logger = logging.getLogger(__name__)

BACKGROUND = MAP_BACKGROUND
CURRENT_COLOUR = "#222222"
OUTLINE_COLOUR = "#7a7a7a"
PROVIDER_COLOUR = "#1a1a1a"

LAYER_PROPOSED = "Proposed zones"
LAYER_CURRENT = "Current zones (approximate)"
LAYER_PROVIDERS = "Provider branches"
LAYER_CENTRES = "Zone centres"
LAYER_OUTLINE = "Area outline"
LAYER_TILES = "OpenStreetMap tiles (online only)"


def _fmt_count(value: object) -> str:
    number = finite_or_none(value)
    return "n/a" if number is None else f"{round(number):,d}"


def map_zone_colours(proposed: gpd.GeoDataFrame) -> dict[str, str]:
    """Zone id -> colour by adjacency of the proposed polygons (see :mod:`maps.colours`)."""
    return colour_zones(proposed["zone_id"].astype(str), zone_adjacency(proposed, id_column="zone_id"))


# Display columns for the GeoJSON tooltips: (property, label).
_PROPOSED_FIELDS: tuple[tuple[str, str], ...] = (
    ("zone", "Zone"),
    ("hours", "Demand"),
    ("capacity", "Capacity"),
    ("travel", "Mean travel"),
    ("size", "Size"),
)
_OPTIONAL_PROPOSED: tuple[tuple[str, str], ...] = (
    ("allocated", "Allocated capacity"),
    ("allocated_ratio", "Demand ÷ allocated"),
    ("shortfall", "Capacity shortfall"),
    ("band_mix", "Band mix"),
    ("change", "Change vs today"),
)
_CURRENT_FIELDS: tuple[tuple[str, str], ...] = (
    ("zone", "Current zone (approximate)"),
    ("hours", "Demand (hours/week)"),
    ("travel", "Mean travel (min)"),
)


def _proposed_display(proposed: gpd.GeoDataFrame, *, units_label: str = "LSOAs") -> gpd.GeoDataFrame:
    """Only escaped, pre-formatted strings and geometry: nothing else reaches the page."""
    text = escape_frame(proposed, ["zone_id", "zone_name"])
    allocated = "shortfall" in proposed.columns  # capacity rule "flow": the allocation decides shortfalls
    rows = {
        "zone_id": list(text["zone_id"]),
        "zone": [f"{z} — {n}" for z, n in zip(text["zone_id"], text["zone_name"], strict=True)],
        "hours": [f"{fmt(h, ',.0f')} h/week ({fmt(v, '+.1f', suffix='%')} vs mean)"
                  for h, v in zip(proposed["hours_per_week"], proposed["load_vs_mean_pct"], strict=True)],
        "capacity": [f"{fmt(c, ',.0f')} h/week{' inside' if allocated else ''}; demand ÷ capacity {fmt(r, '.2f')}"
                     + ("" if allocated else (" ⚠ shortfall" if (finite_or_none(r) or 0) > 1 else ""))
                     for c, r in zip(proposed["capacity_hours_per_week"], proposed["demand_capacity_ratio"],
                                     strict=True)],
        "travel": [fmt(v, ".1f", suffix=" min to the centre") for v in proposed["mean_travel_min"]],
        "size": [f"{_fmt_count(u)} {escape_text(units_label)}, {_fmt_count(p)} postcodes"
                 for u, p in zip(proposed["n_units"], proposed["n_postcodes"], strict=True)],
    }  # fmt: skip
    for col, _ in _OPTIONAL_PROPOSED:
        if col in proposed.columns:
            rows[col] = list(escape_frame(proposed, [col])[col])
    return gpd.GeoDataFrame(rows, geometry=list(proposed.geometry), crs="EPSG:4326")


def _current_display(current: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    rows = {
        "zone": list(escape_frame(current, ["zone_name"])["zone_name"]),
        "hours": [fmt(v, ",.0f") for v in current["hours_per_week"]],
        "travel": [fmt(v, ".1f") for v in current["mean_travel_min"]],
    }
    return gpd.GeoDataFrame(rows, geometry=list(current.geometry), crs="EPSG:4326")




def _current_layer(view: MapView) -> str:
    return LAYER_CURRENT if view.current_approximate else "Current zones"


def _extra_legend(view: MapView, density_breaks: list[float] | None) -> str:
    rows = []
    if view.difference is not None:
        rows.append(f'<tr><td><span class="cz-swatch" style="background:{DIFFERENCE_COLOUR}33;'
                    f'border:2px dashed {DIFFERENCE_COLOUR}"></span></td><td colspan=2>{escape_text(LAYER_DIFFERENCE)}</td></tr>')
    if view.bands is not None:
        rates = view.band_rates or {}
        for band, colour in BAND_COLOURS.items():
            rate = f" (£{rates[band]:.2f}/h, illustrative)" if band in rates else ""
            rows.append(f'<tr><td><span class="cz-swatch" style="background:{colour}"></span></td>'
                        f"<td colspan=2>{escape_text(LAYER_BANDS)}: {band}{escape_text(rate)}</td></tr>")
    if view.density is not None and density_breaks:
        low = 0.0
        for colour, high in zip(DENSITY_COLOURS, density_breaks, strict=False):
            label = f"{low:,.1f}+" if not math.isfinite(high) else f"{low:,.1f}–{high:,.1f}"
            rows.append(f'<tr><td><span class="cz-swatch" style="background:{colour}"></span></td>'
                        f"<td colspan=2>{escape_text(LAYER_DENSITY)}: {label}</td></tr>")
            low = high
        rows.append(f'<tr><td><span class="cz-swatch" style="background:{SUPPRESSED_COLOUR}"></span></td>'
                    f"<td colspan=2>{escape_text(view.density_note)}</td></tr>")
    return "".join(rows)


# --------------------------------------------------------------------------- layers


def _style(colour: str, *, weight: float, fill_opacity: float) -> dict[str, Any]:
    return {"color": "#333333", "weight": weight, "fillColor": colour, "fillOpacity": fill_opacity}


def _add_proposed(m: folium.Map, view: MapView, colours: Mapping[str, str]) -> folium.GeoJson:
    display = _proposed_display(view.proposed, units_label=view.units_label)
    group = folium.FeatureGroup(name=escape_text(LAYER_PROPOSED), show=True)
    style: Callable[[dict[str, Any]], dict[str, Any]] = lambda f: _style(  # noqa: E731
        colours[f["properties"]["zone_id"]], weight=1.2, fill_opacity=FILL_OPACITY
    )
    fields = _PROPOSED_FIELDS + tuple(f for f in _OPTIONAL_PROPOSED if f[0] in display.columns)
    layer = folium.GeoJson(
        display,
        style_function=style,
        highlight_function=lambda f: {"weight": 3, "fillOpacity": 0.8},
        tooltip=geojson_tooltip(fields),
    )
    layer.add_to(group)
    for zone_id, point in zip(display["zone_id"], display.geometry.representative_point(),
                              strict=True):  # fmt: skip
        folium.Marker(
            location=(point.y, point.x),
            icon=folium.DivIcon(
                html=f'<div class="cz-zone-label">{zone_id}</div>',
                icon_size=(40, 16),
                icon_anchor=(20, 8),
                class_name="cz-zone-label-icon",
            ),
            interactive=False,
            keyboard=False,
            pane=LABEL_PANE,
        ).add_to(group)
    group.add_to(m)
    return layer


def _add_current(m: folium.Map, view: MapView) -> None:
    group = folium.FeatureGroup(name=escape_text(_current_layer(view)), show=True)
    if not view.current.empty:
        folium.GeoJson(
            _current_display(view.current),
            style_function=lambda f: {
                "color": CURRENT_COLOUR,
                "weight": 2,
                "dashArray": "6 4",
                "fill": False,
            },
            tooltip=geojson_tooltip(_CURRENT_FIELDS),
        ).add_to(group)
    group.add_to(m)


def _add_providers(m: folium.Map, view: MapView) -> None:
    group = folium.FeatureGroup(name=escape_text(LAYER_PROVIDERS), show=True)
    serves = "serves_zones" in view.providers.columns
    providers = escape_frame(view.providers, ["name", "provider_id", "zone_id"] + (["serves_zones"] if serves else []))
    caps = [finite_or_none(c) or 0.0 for c in providers["capacity_hours_per_week"]]
    max_cap = max([c for c in caps if c > 0], default=1.0)
    for row, cap in zip(providers.itertuples(index=False), caps, strict=True):
        point = getattr(row, providers.geometry.name)
        radius = 3.0 + 11.0 * math.sqrt(max(cap, 0.0) / max_cap)
        text = (
            f"<b>{row.name}</b><br>"
            f"Provider {row.provider_id}<br>"
            f"Capacity: {fmt(row.capacity_hours_per_week, ',.0f')} hours/week<br>"
            f"Proposed zone: {row.zone_id}"
            + (f"<br>Serves (hours/week): {row.serves_zones or 'none'}" if serves else "")
        )
        folium.CircleMarker(
            location=(point.y, point.x),
            radius=radius,
            color=PROVIDER_COLOUR,
            weight=1.5,
            fill=True,
            fill_color="#ffffff",
            fill_opacity=0.85,
            tooltip=folium.Tooltip(text),
        ).add_to(group)
    group.add_to(m)


def _add_centres(m: folium.Map, centres: gpd.GeoDataFrame) -> None:
    group = folium.FeatureGroup(name=escape_text(LAYER_CENTRES), show=True)
    centres = escape_frame(centres, ["zone_id", "zone_name"])
    for row in centres.itertuples(index=False):
        point = getattr(row, centres.geometry.name)
        text = f"Centre of {row.zone_id} — {row.zone_name}"
        folium.CircleMarker(
            location=(point.y, point.x),
            radius=3,
            color="#000000",
            weight=1,
            fill=True,
            fill_color="#000000",
            fill_opacity=1.0,
            tooltip=folium.Tooltip(text),
        ).add_to(group)
    group.add_to(m)


def _add_outline(m: folium.Map, outline: gpd.GeoDataFrame) -> None:
    group = folium.FeatureGroup(name=escape_text(LAYER_OUTLINE), show=True)
    folium.GeoJson(
        outline[[outline.geometry.name]],  # geometry only: no input strings on the page
        style_function=lambda f: {"color": OUTLINE_COLOUR, "weight": 1, "fill": False},
        interactive=False,
    ).add_to(group)
    group.add_to(m)


# --------------------------------------------------------------------------- entry points


def build_zone_map(view: MapView) -> OfflineMap:
    """Build the proposed-vs-current zone map. Raises ``ValueError`` on bad frames."""
    validate_view(view)
    minx, miny, maxx, maxy = (float(v) for v in view.proposed.total_bounds)
    m = OfflineMap(location=((miny + maxy) / 2, (minx + maxx) / 2), zoom_start=9, tiles=None, control_scale=True)
    m.get_root().title = escape_text(view.title)  # type: ignore[attr-defined]
    m.options["maxZoom"] = 18  # no base tile layer sets one; markercluster needs it
    m.options["minZoom"] = 6
    m.options["zoomSnap"] = 0.25  # fit the area closely at any window or page size
    folium.TileLayer("OpenStreetMap", name=LAYER_TILES, overlay=True, show=False).add_to(m)
    folium.map.CustomPane(LABEL_PANE, z_index=640, pointer_events=False).add_to(m)

    text = escape_frame(view.proposed, ["zone_id", "zone_name"])
    colours = {escape_text(z): c for z, c in map_zone_colours(view.proposed).items()}
    names = dict(zip(text["zone_id"], text["zone_name"], strict=True))
    if view.outline is not None:
        _add_outline(m, view.outline)
    proposed_layer = _add_proposed(m, view, colours)
    _add_current(m, view)
    breaks = None
    if view.density is not None:  # drawn above the zones when switched on
        _, breaks = add_density(m, view.density, note=view.density_note, show=False)
    if view.bands is not None:
        add_bands(m, view.bands, rates=view.band_rates or {}, show=False)
    if view.difference is not None:
        add_difference(m, view.difference, show=False, units_label=view.units_label)
    if view.cluster_providers:
        add_providers_clustered(m, view.providers, name=LAYER_PROVIDERS, colour=PROVIDER_COLOUR)
    else:
        _add_providers(m, view)
    if view.centres is not None:
        _add_centres(m, view.centres)
    if view.towns is not None:
        add_towns(m, view.towns)
    folium.LayerControl(collapsed=True).add_to(m)

    legend = legend_rows(colours, names, current_label=_current_layer(view) if not view.current.empty else None,
                         provider_label=LAYER_PROVIDERS, has_centres=view.centres is not None,
                         has_outline=view.outline is not None)
    bounds = [[miny, minx], [maxy, maxx]]
    m.add_child(HeaderBox(
        box_html=header_html(title=view.title, headline=view.headline, lines=view.header_lines, legend=legend,
                             extra_legend=_extra_legend(view, breaks), search=view.search is not None,
                             search_example=example_postcode(view.search) if view.search is not None else ""),
        print_html=print_html(title=view.title, headline=view.headline, caveats=view.caveats, lines=view.header_lines,
                              legend=legend),
        map_name=m.get_name(), background=BACKGROUND, bounds=bounds,
    ))
    if view.search is not None:
        m.add_child(
            SearchBox(
                data=encode_lookup(view.search, zone_ids=list(view.proposed["zone_id"].astype(str))),
                zone_names=names,
                layer_name=proposed_layer.get_name(),
                map_name=m.get_name(),
            )
        )
    m.fit_bounds(bounds, padding_top_left=(0, 70))  # room for the collapsed header
    logger.info("zone map built: %d proposed zones, %d current zones, %d providers, %d centres",
                len(view.proposed), len(view.current), len(view.providers),
                0 if view.centres is None else len(view.centres))
    return m


def render_zone_map(view: MapView) -> str:
    """Full HTML page of the zone map (``folium.Map.get_root().render()``)."""
    html = build_zone_map(view).render_page()
    logger.info("zone map rendered: %d characters of HTML", len(html))
    return html
