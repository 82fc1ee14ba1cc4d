"""Extra map layers: difference, price bands, demand density, town labels, clustered providers.

Presentation only. Every input-derived string is escaped with :func:`maps.escape.escape_text`
and every number formatted here before it reaches folium; only those display strings and the
geometry are embedded in the page.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import folium
import geopandas as gpd
import numpy as np

from maps.escape import escape_frame, escape_text, format_number
from maps.offline import InlineMarkerCluster

__all__ = [
    "BAND_COLOURS",
    "DENSITY_COLOURS",
    "DIFFERENCE_COLOUR",
    "LAYER_BANDS",
    "LAYER_DENSITY",
    "LAYER_DIFFERENCE",
    "LAYER_TOWNS",
    "LABEL_PANE",
    "SUPPRESSED_COLOUR",
    "add_bands",
    "add_density",
    "add_difference",
    "add_providers_clustered",
    "add_towns",
    "density_breaks",
    "fmt",
]

LAYER_DIFFERENCE = "Areas that change zone (today → proposed)"
LAYER_BANDS = "Price bands"
LAYER_DENSITY = "Demand density (hours/week per km²)"
LAYER_TOWNS = "Town labels"
#: a pane above the markers (600) and below the tooltips (650) for zone and town labels
LABEL_PANE = "cz-labels"

DIFFERENCE_COLOUR = "#d7301f"
SUPPRESSED_COLOUR = "#bdbdbd"
#: urban -> isolated (PuOr, colour-blind safe)
BAND_COLOURS: dict[str, str] = {"urban": "#5e3c99", "fringe": "#b2abd2", "rural": "#fdb863", "isolated": "#e66101"}
DENSITY_COLOURS: tuple[str, ...] = ("#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704")


def finite_or_none(value: object) -> float | None:
    """``value`` as a finite float, or None."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def fmt(value: object, spec: str, *, suffix: str = "", missing: str = "n/a") -> str:
    """Format a number with ``spec``; ``missing`` for None/NaN/inf."""
    number = finite_or_none(value)
    return missing if number is None else f"{format_number(number, spec)}{suffix}"


def geojson_tooltip(fields: tuple[tuple[str, str], ...]) -> folium.GeoJsonTooltip:
    """A GeoJSON tooltip over already-escaped ``(field, alias)`` pairs (aliases escaped here)."""
    return folium.GeoJsonTooltip(
        fields=[f for f, _ in fields],
        aliases=[escape_text(a) for _, a in fields],
        labels=True,
        sticky=True,
        localize=False,
    )


def _display(gdf: gpd.GeoDataFrame, rows: dict[str, list[str]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry=list(gdf.geometry), crs="EPSG:4326")


def add_difference(m: folium.Map, difference: gpd.GeoDataFrame, *, show: bool,
                   units_label: str = "LSOAs") -> folium.FeatureGroup:
    """Areas whose zone changes. Columns: ``from_zone``, ``to_zone``, ``n_units``."""
    text = escape_frame(difference, ["from_zone", "to_zone"])
    display = _display(difference, {
        "move": [f"{a} → {b}" for a, b in zip(text["from_zone"], text["to_zone"], strict=True)],
        "units": [fmt(v, ",.0f") for v in difference["n_units"]],
    })
    group = folium.FeatureGroup(name=escape_text(LAYER_DIFFERENCE), show=show)
    if not display.empty:
        folium.GeoJson(
            display,
            style_function=lambda f: {"color": DIFFERENCE_COLOUR, "weight": 2, "fillColor": DIFFERENCE_COLOUR,
                                      "fillOpacity": 0.15, "dashArray": "4 3"},
            tooltip=geojson_tooltip((("move", "Changes zone (today → proposed)"), ("units", escape_text(units_label)))),
        ).add_to(group)
    group.add_to(m)
    return group


def add_bands(m: folium.Map, bands: gpd.GeoDataFrame, *, rates: Mapping[str, float],
              show: bool) -> folium.FeatureGroup:
    """Price-band areas. Columns: ``band`` (one of :data:`BAND_COLOURS`), ``n_postcodes``."""
    text = escape_frame(bands, ["band"])
    display = _display(bands, {
        "band_key": [str(b) if str(b) in BAND_COLOURS else "" for b in bands["band"]],
        "band": list(text["band"]),
        "rate": [fmt(rates.get(str(b)), ",.2f", missing="n/a") for b in bands["band"]],
        "postcodes": [fmt(v, ",.0f") for v in bands["n_postcodes"]],
    })
    group = folium.FeatureGroup(name=escape_text(LAYER_BANDS), show=show)
    style: Callable[[dict[str, Any]], dict[str, Any]] = lambda f: {  # noqa: E731
        "color": "#555555", "weight": 0.4,
        "fillColor": BAND_COLOURS.get(f["properties"]["band_key"], SUPPRESSED_COLOUR), "fillOpacity": 0.6,
    }
    folium.GeoJson(
        display, style_function=style,
        tooltip=geojson_tooltip((("band", "Price band (majority of postcodes)"), ("rate", "Hourly rate (£, illustrative)"),
                          ("postcodes", "Postcodes"))),
    ).add_to(group)
    group.add_to(m)
    return group


def density_breaks(values: np.ndarray, *, classes: int = len(DENSITY_COLOURS)) -> list[float]:
    """Upper bounds of ``classes`` quantile classes over the finite values (last is +inf)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return [math.inf]
    qs = np.quantile(finite, np.linspace(0, 1, classes + 1)[1:-1])
    return [*sorted(set(float(q) for q in qs)), math.inf]


def add_density(m: folium.Map, density: gpd.GeoDataFrame, *, note: str, show: bool) -> tuple[folium.FeatureGroup, list[float]]:
    """Demand density. Columns: ``area_name``, ``hours_per_km2`` (NaN where suppressed),
    ``clients`` (NaN where suppressed or not client-level), ``suppressed``."""
    values = density["hours_per_km2"].astype(float).to_numpy()
    breaks = density_breaks(values)
    colours = [
        SUPPRESSED_COLOUR if not np.isfinite(v) else DENSITY_COLOURS[min(int(np.searchsorted(breaks, v)), len(DENSITY_COLOURS) - 1)]
        for v in values
    ]
    text = escape_frame(density, ["area_name"])
    display = _display(density, {
        "colour": colours,
        "area": list(text["area_name"]),
        "density": [escape_text(note) if bool(s) else fmt(v, ",.1f")
                    for v, s in zip(values, density["suppressed"], strict=True)],
        "clients": [fmt(v, ",.0f", missing="suppressed" if bool(s) else "n/a")
                    for v, s in zip(density["clients"], density["suppressed"], strict=True)],
    })
    group = folium.FeatureGroup(name=escape_text(LAYER_DENSITY), show=show)
    folium.GeoJson(
        display,
        style_function=lambda f: {"color": "#666666", "weight": 0.4, "fillColor": f["properties"]["colour"],
                                  "fillOpacity": 0.75},
        tooltip=geojson_tooltip((("area", "Area"), ("density", "Demand (hours/week per km²)"), ("clients", "Clients"))),
    ).add_to(group)
    group.add_to(m)
    return group, breaks


def add_towns(m: folium.Map, towns: gpd.GeoDataFrame) -> folium.FeatureGroup:
    """Town names as plain text labels (no tiles needed), largest first. Column: ``name``.
    Drawn in :data:`LABEL_PANE` (above the provider markers); needs that pane on the map."""
    text = escape_frame(towns, ["name"])
    group = folium.FeatureGroup(name=escape_text(LAYER_TOWNS), show=True)
    for rank, (name, point) in enumerate(zip(text["name"], towns.geometry, strict=True)):
        folium.Marker(  # rank: larger towns first; the page hides labels that would collide
            location=(point.y, point.x),
            icon=folium.DivIcon(html=f'<div class="cz-town-label" data-rank="{rank}">{name}</div>',
                                icon_size=(120, 14), icon_anchor=(60, -4), class_name="cz-town-label-icon"),
            pane=LABEL_PANE,
            interactive=False,
            keyboard=False,
        ).add_to(group)
    group.add_to(m)
    return group


_CLUSTER_ICON = """
function (cluster) {
    var cap = 0;
    cluster.getAllChildMarkers().forEach(function (mk) { cap += mk.options.capacity || 0; });
    var size = Math.round(26 + 3 * Math.sqrt(cap / 100));
    return L.divIcon({
        html: '<div class="cz-cluster" style="width:' + size + 'px;height:' + size + 'px;line-height:' +
              size + 'px">' + cluster.getChildCount() + '</div>',
        className: 'cz-cluster-icon', iconSize: L.point(size, size)
    });
}
"""


def add_providers_clustered(m: folium.Map, providers: gpd.GeoDataFrame, *, name: str,
                            colour: str) -> InlineMarkerCluster:
    """Provider branches as markers sized by capacity, clustered (cluster size by total capacity).

    Columns: ``provider_id``, ``name``, ``capacity_hours_per_week``, ``zone_id``; optional
    ``serves_zones`` (the zones the branch's capacity is allocated to).
    """
    cluster = InlineMarkerCluster(
        name=escape_text(name), show=True, icon_create_function=_CLUSTER_ICON,
        options={"showCoverageOnHover": False, "maxClusterRadius": 40, "spiderfyOnMaxZoom": True},
    )
    serves = "serves_zones" in providers.columns
    text = escape_frame(providers, ["name", "provider_id", "zone_id"] + (["serves_zones"] if serves else []))
    caps = [finite_or_none(c) or 0.0 for c in providers["capacity_hours_per_week"]]
    max_cap = max([c for c in caps if c > 0], default=1.0)
    for row, cap, point in zip(text.itertuples(index=False), caps, providers.geometry, strict=True):
        size = int(round(8 + 20 * math.sqrt(max(cap, 0.0) / max_cap)))
        tip = (
            f"<b>{row.name}</b><br>"
            f"Provider {row.provider_id}<br>"
            f"Capacity: {fmt(row.capacity_hours_per_week, ',.0f')} hours/week<br>"
            f"Proposed zone: {row.zone_id}"
            + (f"<br>Serves (hours/week): {row.serves_zones or 'none'}" if serves else "")
        )
        folium.Marker(
            location=(point.y, point.x),
            icon=folium.DivIcon(
                html=f'<div class="cz-provider" style="width:{size}px;height:{size}px;border-color:{colour}"></div>',
                icon_size=(size, size), icon_anchor=(size // 2, size // 2), class_name="cz-provider-icon",
            ),
            tooltip=folium.Tooltip(tip),
            capacity=round(cap, 1),
        ).add_to(cluster)
    cluster.add_to(m)
    return cluster
