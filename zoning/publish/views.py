"""The published views of a plan as Python objects (for the notebook API, :mod:`zoning.api`):
the same frames and map that :func:`~zoning.publish.writers.write_outputs` writes to files,
with the same privacy rules applied."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd

from maps.offline import OfflineMap
from maps.zone_map import build_zone_map
from zoning.plan import ZonePlan
from zoning.publish.layers import plan_layers
from zoning.publish.shareable import zone_records
from zoning.publish.summary import build_summary, provenance_notes
from zoning.publish.writers import full_map_view, postcode_lookup, read_outline, zone_polygons


def zone_frames(plan: ZonePlan) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """(proposed, current) zone polygons in EPSG:27700 with their published figures."""
    layers = plan_layers(plan)
    zones_table, current_table = zone_records(plan, layers)
    return zone_polygons(plan, zones=zones_table, current_zones=current_table)


def unit_frame(plan: ZonePlan) -> gpd.GeoDataFrame:
    """One row per unit (LSOA) in EPSG:27700: proposed and current zone, hours, clients (suppressed
    as in ``zones.gpkg`` when demand is client by client)."""
    return plan_layers(plan).units


def postcode_frame(plan: ZonePlan) -> gpd.GeoDataFrame:
    """The brokerage lookup (as ``postcode_zones.csv``) as points in EPSG:27700."""
    layers = plan_layers(plan)
    table = postcode_lookup(plan, client_level=layers.client_level)
    xy = plan.postcodes.set_index("postcode")[["easting", "northing"]].reindex(table["postcode"])
    return gpd.GeoDataFrame(
        table.reset_index(drop=True),
        geometry=gpd.points_from_xy(xy["easting"].to_numpy(), xy["northing"].to_numpy()), crs=27700,
    )


def plan_map(plan: ZonePlan, *, run_at: dt.datetime | None = None) -> OfflineMap:
    """The folium map of ``map.html``; it renders offline, in a browser or in Jupyter."""
    run_at = run_at or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    layers = plan_layers(plan)
    zones_table, current_table = zone_records(plan, layers)
    proposed, current = zone_polygons(plan, zones=zones_table, current_zones=current_table)
    notes = [*provenance_notes(plan), *([layers.privacy_note] if layers.privacy_note else [])]
    return build_zone_map(full_map_view(plan, proposed, current, run_at=run_at, outline=read_outline(plan),
                                        layers=layers, summary=build_summary(plan, run_at=run_at, layers=layers,
                                                                    records=(zones_table, current_table)),
                                        notes=notes))
