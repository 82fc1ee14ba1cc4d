"""Interactive map of proposed versus current home-care zones (folium).

Presentation only: this module draws frames it is given. It never reads files and never
solves. Every string that came from input data passes through :func:`maps.escape.escape_text`
before it reaches folium (folium 0.20 inserts text into HTML and JS template literals raw),
and every number is formatted here before it is escaped.

The map is readable with no network tiles: ``tiles=None``, a light background, district
outlines and town labels, and the OpenStreetMap layer offered only as a switched-off overlay.
Optional layers (difference, price bands, demand density, town labels, postcode search) are
drawn when the view carries them; see :mod:`maps.layers` and :mod:`maps.search`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import folium
import geopandas as gpd
import pandas as pd
from branca.element import MacroElement
from jinja2 import Template

from maps.escape import escape_frame, escape_text
from maps.layers import (
    BAND_COLOURS,
    DENSITY_COLOURS,
    DIFFERENCE_COLOUR,
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
from maps.offline import OfflineMap
from maps.search import SEARCH_HTML, SearchBox, encode_lookup

__all__ = [
    "MapView",
    "PALETTE",
    "build_zone_map",
    "render_zone_map",
    "validate_view",
    "zone_colours",
]

logger = logging.getLogger(__name__)

#: Qualitative palette (Kelly / Glasbey-style, 20 colours, white and black left out).
PALETTE: tuple[str, ...] = (
    "#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231",
    "#911eb4", "#46f0f0", "#f032e6", "#bcf60c", "#fabebe",
    "#008080", "#e6beff", "#9a6324", "#fffac8", "#800000",
    "#aaffc3", "#808000", "#ffd8b1", "#000075", "#808080",
)  # fmt: skip

BACKGROUND = "#eef1f4"
CURRENT_COLOUR = "#222222"
OUTLINE_COLOUR = "#7a7a7a"
PROVIDER_COLOUR = "#1a1a1a"

LAYER_PROPOSED = "Proposed zones"
LAYER_CURRENT = "Current zones (approximate)"
LAYER_PROVIDERS = "Provider branches"
LAYER_CENTRES = "Zone centres"
LAYER_OUTLINE = "Area outline"
LAYER_TILES = "OpenStreetMap tiles (online only)"

_POLYGONS = ("Polygon", "MultiPolygon")
_POINTS = ("Point",)

#: frame name -> (required columns, allowed geometry types)
_SCHEMA: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "proposed": (
        (
            "zone_id", "zone_name", "hours_per_week", "capacity_hours_per_week",
            "demand_capacity_ratio", "mean_travel_min", "n_postcodes", "n_units",
            "load_vs_mean_pct",
        ),
        _POLYGONS,
    ),
    "current": (("zone_name", "hours_per_week", "mean_travel_min"), _POLYGONS),
    "providers": (
        ("provider_id", "name", "capacity_hours_per_week", "zone_id"),
        _POINTS,
    ),
    "outline": ((), ("Polygon", "MultiPolygon", "LineString", "MultiLineString")),
    "centres": (("zone_id", "zone_name"), _POINTS),
    "difference": (("from_zone", "to_zone", "n_units"), _POLYGONS),
    "bands": (("band", "n_postcodes"), _POLYGONS),
    "density": (("area_name", "hours_per_km2", "clients", "suppressed"), _POLYGONS),
    "towns": (("name",), _POINTS),
}  # fmt: skip


@dataclass(frozen=True)
class MapView:
    """Everything the zone map shows, already computed. All frames in EPSG:4326.

    ``header_lines`` carry the scenario name, run date, data vintages, the SYNTHETIC /
    APPROXIMATE caveats and the solver status and gap, in the order they should appear.

    Optional: ``difference`` (areas that change zone), ``bands`` (price-band areas, with
    ``band_rates``), ``density`` (demand density, already suppressed where needed;
    ``density_note`` is shown for suppressed cells), ``towns`` (label points) and ``search``
    (``postcode, zone_id, current_zone``). ``proposed`` may carry ``band_mix`` and
    ``change`` text columns for its tooltips.
    """

    title: str
    header_lines: tuple[str, ...]
    proposed: gpd.GeoDataFrame
    current: gpd.GeoDataFrame
    providers: gpd.GeoDataFrame
    outline: gpd.GeoDataFrame | None = None
    centres: gpd.GeoDataFrame | None = None
    difference: gpd.GeoDataFrame | None = None
    bands: gpd.GeoDataFrame | None = None
    band_rates: Mapping[str, float] | None = None
    density: gpd.GeoDataFrame | None = None
    density_note: str = "suppressed (fewer than 10 clients)"
    towns: gpd.GeoDataFrame | None = None
    search: pd.DataFrame | None = None
    cluster_providers: bool = True


# --------------------------------------------------------------------------- validation


def _frame_problems(name: str, gdf: object) -> list[str]:
    """Every problem with one frame, as expected / received / fix sentences."""
    required, geom_types = _SCHEMA[name]
    if not isinstance(gdf, gpd.GeoDataFrame):
        return [
            f"{name}: expected a GeoDataFrame; received {type(gdf).__name__}. "
            "Fix: build it with geopandas.GeoDataFrame(..., crs='EPSG:4326')."
        ]
    if gdf.active_geometry_name is None:
        return [
            f"{name}: expected an active geometry column; received none "
            f"(columns {list(gdf.columns)}). Fix: gdf.set_geometry('geometry')."
        ]
    problems: list[str] = []
    if gdf.crs is None or gdf.crs.to_epsg() != 4326:
        received = "no CRS" if gdf.crs is None else str(gdf.crs.to_string())
        problems.append(
            f"{name}: expected CRS EPSG:4326 (lon/lat); received {received}. "
            "Fix: gdf.to_crs('EPSG:4326') (or set_crs if the coordinates already are lon/lat)."
        )
    missing = [c for c in required if c not in gdf.columns]
    if missing:
        problems.append(
            f"{name}: missing required column(s) {missing}; received columns "
            f"{[c for c in gdf.columns if c != gdf.geometry.name]}. "
            "Fix: add or rename these columns before building the map."
        )
    geoms = gdf.geometry
    bad_geom = int((geoms.isna() | geoms.is_empty).sum())
    if bad_geom:
        problems.append(
            f"{name}: expected every row to have a geometry; received {bad_geom} "
            "missing or empty geometries. Fix: drop or repair those rows."
        )
    wrong = sorted(set(geoms.dropna().geom_type) - set(geom_types))
    if wrong:
        problems.append(
            f"{name}: expected geometry types {list(geom_types)}; received {wrong}. "
            "Fix: pass the right layer (polygons for zones, points for providers/centres)."
        )
    return problems


def validate_view(view: MapView) -> None:
    """Raise one ``ValueError`` listing every problem in every frame of ``view``."""
    problems: list[str] = []
    frames: dict[str, object] = {
        "proposed": view.proposed,
        "current": view.current,
        "providers": view.providers,
    }
    if view.outline is not None:
        frames["outline"] = view.outline
    for name in ("centres", "difference", "bands", "density", "towns"):
        frame = getattr(view, name)
        if frame is not None:
            frames[name] = frame
    for name, gdf in frames.items():
        problems.extend(_frame_problems(name, gdf))
    proposed = view.proposed
    if isinstance(proposed, gpd.GeoDataFrame):
        if proposed.empty:
            problems.append(
                "proposed: expected at least one zone; received an empty frame. "
                "Fix: build the map from a solved plan."
            )
        elif "zone_id" in proposed.columns and proposed["zone_id"].duplicated().any():
            dupes = sorted(proposed.loc[proposed["zone_id"].duplicated(), "zone_id"].astype(str))
            problems.append(
                f"proposed: expected one row per zone; received duplicate zone_id {dupes}. "
                "Fix: dissolve units by zone_id first."
            )
    if problems:
        raise ValueError("Cannot build the zone map:\n- " + "\n- ".join(problems))


# --------------------------------------------------------------------------- formatting


def _fmt_count(value: object) -> str:
    number = finite_or_none(value)
    return "n/a" if number is None else f"{round(number):,d}"


def zone_colours(zone_ids: Sequence[str]) -> dict[str, str]:
    """Map each zone id (sorted) to a palette colour; warns if the palette must repeat."""
    ordered = sorted(dict.fromkeys(str(z) for z in zone_ids))
    if len(ordered) > len(PALETTE):
        logger.warning(
            "%d zones but only %d distinct colours: colours repeat", len(ordered), len(PALETTE)
        )
    return {z: PALETTE[i % len(PALETTE)] for i, z in enumerate(ordered)}


# Display columns for the GeoJSON tooltips: (property, label).
_PROPOSED_FIELDS: tuple[tuple[str, str], ...] = (
    ("zone", "Zone"),
    ("hours", "Demand (hours/week)"),
    ("capacity", "Capacity (hours/week)"),
    ("ratio", "Demand / capacity"),
    ("travel", "Mean travel (min)"),
    ("load", "Load vs mean"),
    ("postcodes", "Postcodes"),
    ("units", "Units"),
)
_OPTIONAL_PROPOSED: tuple[tuple[str, str], ...] = (
    ("band_mix", "Band mix (postcodes)"),
    ("change", "Change vs today"),
)
_CURRENT_FIELDS: tuple[tuple[str, str], ...] = (
    ("zone", "Current zone (approximate)"),
    ("hours", "Demand (hours/week)"),
    ("travel", "Mean travel (min)"),
)


def _proposed_display(proposed: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Only escaped, pre-formatted strings and geometry: nothing else reaches the page."""
    text = escape_frame(proposed, ["zone_id", "zone_name"])
    rows = {
        "zone_id": list(text["zone_id"]),
        "zone": [f"{z} — {n}" for z, n in zip(text["zone_id"], text["zone_name"], strict=True)],
        "hours": [fmt(v, ",.0f") for v in proposed["hours_per_week"]],
        "capacity": [fmt(v, ",.0f") for v in proposed["capacity_hours_per_week"]],
        "ratio": [fmt(v, ".2f") for v in proposed["demand_capacity_ratio"]],
        "travel": [fmt(v, ".1f") for v in proposed["mean_travel_min"]],
        "load": [fmt(v, "+.1f", suffix="%") for v in proposed["load_vs_mean_pct"]],
        "postcodes": [_fmt_count(v) for v in proposed["n_postcodes"]],
        "units": [_fmt_count(v) for v in proposed["n_units"]],
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


# --------------------------------------------------------------------------- header box


class _HeaderBox(MacroElement):
    """Title, header lines and legend in a fixed box; also styles the map background.

    ``box_html`` must already be escaped: it is inserted verbatim.
    """

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>
          #{{ this.map_name }} { background: {{ this.background }}; }
          .cz-box { position: absolute; top: 10px; left: 54px; z-index: 1000;
                    max-width: 380px; max-height: 85vh; overflow-y: auto;
                    background: rgba(255,255,255,0.95); border: 1px solid #999;
                    border-radius: 4px; padding: 6px 10px;
                    font: 12px/1.35 system-ui, sans-serif; color: #111; }
          .cz-box h1 { font-size: 14px; margin: 2px 0 4px 0; }
          .cz-box ul { margin: 0 0 4px 0; padding-left: 16px; }
          .cz-box table { border-collapse: collapse; }
          .cz-box td { padding: 1px 4px 1px 0; vertical-align: middle; }
          .cz-swatch { display: inline-block; width: 14px; height: 10px;
                       border: 1px solid #555; }
          .cz-zone-label { font: bold 11px system-ui, sans-serif; color: #111;
                           text-align: center; pointer-events: none;
                           text-shadow: 0 0 3px #fff, 0 0 3px #fff, 0 0 3px #fff; }
          .cz-town-label { font: italic 11px system-ui, sans-serif; color: #333;
                           text-align: center; white-space: nowrap; pointer-events: none;
                           text-shadow: 0 0 2px #fff, 0 0 2px #fff; }
          .cz-provider { box-sizing: border-box; border-radius: 50%; border: 2px solid #1a1a1a;
                         background: rgba(255,255,255,0.85); }
          .cz-cluster { border-radius: 50%; background: rgba(26,26,26,0.75); color: #fff;
                        text-align: center; font: bold 11px system-ui, sans-serif;
                        border: 2px solid #fff; }
          .cz-search { margin: 4px 0 6px 0; }
          .cz-search input { font-size: 12px; }
          .cz-search-result { margin-top: 3px; }
          .cz-miss { color: #a50f15; font-weight: bold; }
        </style>
        {% endmacro %}
        {% macro html(this, kwargs) %}
        {{ this.box_html }}
        {% endmacro %}
        """
    )

    def __init__(self, *, box_html: str, map_name: str, background: str) -> None:
        super().__init__()
        self._name = "HeaderBox"
        self.box_html = box_html
        self.map_name = map_name
        self.background = background


def _extra_legend(view: MapView, density_breaks: list[float] | None) -> str:
    rows = []
    if view.difference is not None:
        rows.append(f'<tr><td><span class="cz-swatch" style="background:{DIFFERENCE_COLOUR};opacity:0.6"></span></td>'
                    f"<td colspan=2>{escape_text(LAYER_DIFFERENCE)}</td></tr>")
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


def _header_html(view: MapView, colours: Mapping[str, str], names: Mapping[str, str],
                 extra_legend: str = "") -> str:
    """Escaped HTML for the header/legend box. ``colours``/``names`` keyed by escaped id."""
    lines = "".join(f"<li>{escape_text(line)}</li>" for line in view.header_lines)
    legend = "".join(
        f'<tr><td><span class="cz-swatch" style="background:{colour}"></span></td>'
        f"<td>{zone_id}</td><td>{names.get(zone_id, '')}</td></tr>"
        for zone_id, colour in colours.items()
    )
    current = (
        f'<tr><td><span class="cz-swatch" style="background:none;'
        f'border:2px dashed {CURRENT_COLOUR}"></span></td>'
        f"<td colspan=2>{escape_text(LAYER_CURRENT)}</td></tr>"
    )
    providers = (
        f'<tr><td><span class="cz-swatch" style="border-radius:50%;width:10px;'
        f'background:#fff;border:2px solid {PROVIDER_COLOUR}"></span></td>'
        f"<td colspan=2>{escape_text(LAYER_PROVIDERS)} (larger = more capacity)</td></tr>"
    )
    return (
        '<div class="cz-box"><details open>'
        f'<summary><h1 style="display:inline">{escape_text(view.title)}</h1></summary>'
        f"<ul>{lines}</ul>{SEARCH_HTML if view.search is not None else ''}"
        f"<table>{legend}{current}{providers}</table>"
        + (f'<details class="cz-more"><summary>Legend for the other layers</summary><table>{extra_legend}</table>'
           "</details>" if extra_legend else "")
        + ""
        "</details></div>"
    )


# --------------------------------------------------------------------------- layers


def _style(colour: str, *, weight: float, fill_opacity: float) -> dict[str, Any]:
    return {"color": "#333333", "weight": weight, "fillColor": colour, "fillOpacity": fill_opacity}


def _add_proposed(m: folium.Map, view: MapView, colours: Mapping[str, str]) -> folium.GeoJson:
    display = _proposed_display(view.proposed)
    group = folium.FeatureGroup(name=escape_text(LAYER_PROPOSED), show=True)
    style: Callable[[dict[str, Any]], dict[str, Any]] = lambda f: _style(  # noqa: E731
        colours[f["properties"]["zone_id"]], weight=1.2, fill_opacity=0.55
    )
    fields = _PROPOSED_FIELDS + tuple(f for f in _OPTIONAL_PROPOSED if f[0] in display.columns)
    layer = folium.GeoJson(
        display,
        style_function=style,
        highlight_function=lambda f: {"weight": 3, "fillOpacity": 0.75},
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
        ).add_to(group)
    group.add_to(m)
    return layer


def _add_current(m: folium.Map, view: MapView) -> None:
    group = folium.FeatureGroup(name=escape_text(LAYER_CURRENT), show=True)
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
    providers = escape_frame(view.providers, ["name", "provider_id", "zone_id"])
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
    m = OfflineMap(
        location=((miny + maxy) / 2, (minx + maxx) / 2),
        zoom_start=9,
        tiles=None,
        control_scale=True,
    )
    m.options["maxZoom"] = 18  # no base tile layer sets one; markercluster needs it
    m.options["minZoom"] = 6
    folium.TileLayer("OpenStreetMap", name=LAYER_TILES, overlay=True, show=False).add_to(m)

    text = escape_frame(view.proposed, ["zone_id", "zone_name"])
    colours = zone_colours(list(text["zone_id"]))
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
        add_difference(m, view.difference, show=False)
    if view.cluster_providers:
        add_providers_clustered(m, view.providers, name=LAYER_PROVIDERS, colour=PROVIDER_COLOUR)
    else:
        _add_providers(m, view)
    if view.centres is not None:
        _add_centres(m, view.centres)
    if view.towns is not None:
        add_towns(m, view.towns)
    folium.LayerControl(collapsed=False).add_to(m)

    m.add_child(
        _HeaderBox(
            box_html=_header_html(view, colours, names, _extra_legend(view, breaks)),
            map_name=m.get_name(),
            background=BACKGROUND,
        )
    )
    if view.search is not None:
        m.add_child(
            SearchBox(
                data=encode_lookup(view.search, zone_ids=list(view.proposed["zone_id"].astype(str))),
                zone_names=names,
                layer_name=proposed_layer.get_name(),
                map_name=m.get_name(),
            )
        )
    m.fit_bounds([[miny, minx], [maxy, maxx]], padding_top_left=(300, 0))  # room for the header box
    logger.info(
        "zone map built: %d proposed zones, %d current zones, %d providers, %d centres",
        len(view.proposed),
        len(view.current),
        len(view.providers),
        0 if view.centres is None else len(view.centres),
    )
    return m


def render_zone_map(view: MapView) -> str:
    """Full HTML page of the zone map (``folium.Map.get_root().render()``)."""
    html = build_zone_map(view).render_page()
    logger.info("zone map rendered: %d characters of HTML", len(html))
    return html
