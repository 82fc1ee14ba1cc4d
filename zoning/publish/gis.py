"""The GIS files: ``zones.gpkg`` (EPSG:27700) and ``zones.geojson`` (EPSG:4326, RFC 7946), coded,
rounded and styled for a GIS officer.

- Codes: units carry every GSS code the data holds — LSOA (``lsoa11cd``), ward (``ward_code``, the
  ward holding most of the unit's postcodes), district (``district_code``) — and the MSOA name
  (``msoa11nm``, from the LSOA name; the data has no MSOA code). Today's zones get an id
  (``zone_id``, ``C01``… by name) beside their name.
- Numbers: hours to 2 decimals, minutes to 2, shares and ratios to 3, percentages to 1, money to
  pennies, coordinates to the metre; counts are integers (null where suppressed).
- Provenance (SYNTHETIC / APPROXIMATE / privacy) once per file: GeoPackage metadata and the
  GeoJSON's ``description``, not a column repeated on every feature.
- Styles: QGIS styles in the GeoPackage's ``layer_styles`` table and ``zones.qml`` beside the
  GeoJSON (:mod:`zoning.publish.gis_styles`), coloured as on the web map.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from zoning import atomic
from zoning.plan import ZonePlan
from zoning.publish.gis_styles import (
    current_zones_qml,
    providers_qml,
    units_qml,
    write_layer_styles,
    zones_qml,
)
from zoning.publish.layers import PlanLayers
from zoning.publish.outputset import RunStamp
from zoning.publish.privacy import suppress_cells
from zoning.publish.report_files import zone_colours_for
from zoning.publish.stamp import stamp_geojson

__all__ = ["current_zone_ids", "round_columns", "write_geopackage", "write_zones_geojson"]

log = logging.getLogger(__name__)

_COUNTS = ("demand_rows", "clients", "postcodes", "n_postcodes", "n_units", "n_branches", "n_units_majority")


def _decimals(column: str) -> int | None:
    if column in ("centre_easting", "centre_northing", "easting", "northing"):
        return 0
    if column.endswith("_pct"):
        return 1
    if "ratio" in column or column.startswith("share") or column == "area_km2":
        return 3
    if column.startswith("hours") or column.endswith("_min") or "_gbp" in column or column.startswith("capacity"):
        return 2
    return None


def round_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Floats rounded to a sensible precision by column name; counts as nullable integers."""
    out = frame.copy()
    for col in out.columns:
        if col == getattr(out, "_geometry_column_name", None) or col == "geometry":
            continue
        if col in _COUNTS:
            out[col] = pd.to_numeric(out[col], errors="coerce").round().astype("Int64")
        elif pd.api.types.is_float_dtype(out[col]) and (places := _decimals(col)) is not None:
            out[col] = out[col].round(places)
            if places == 0 and out[col].notna().all():
                out[col] = out[col].astype("int64")
    return out


def current_zone_ids(names: pd.Series) -> dict[str, str]:
    """Today's zone name -> id ``C01``… in name order."""
    ordered = sorted(dict.fromkeys(str(n) for n in names))
    width = max(2, len(str(len(ordered))))
    return {name: f"C{i + 1:0{width}d}" for i, name in enumerate(ordered)}


def _unit_codes(plan: ZonePlan, units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    pcs = plan.postcodes
    ward = (pcs.groupby(["lsoa11cd", "ward_code", "ward_name"]).size().rename("n").reset_index()
            .sort_values(["lsoa11cd", "n", "ward_code"], ascending=[True, False, True]).groupby("lsoa11cd").first())
    district = plan.units.polygons.drop_duplicates("lsoa11cd").set_index("lsoa11cd")["district_code"]
    out = units.copy()
    out.insert(1, "msoa11nm", out["lsoa11nm"].astype(str).str[:-1])
    out.insert(2, "ward_code", out["lsoa11cd"].map(ward["ward_code"]))
    out.insert(3, "ward_name", out["lsoa11cd"].map(ward["ward_name"]))
    out.insert(4, "district_code", out["lsoa11cd"].map(district))
    return out


def _layers(plan: ZonePlan, layers: PlanLayers, *, zones: gpd.GeoDataFrame,
            current: gpd.GeoDataFrame) -> dict[str, gpd.GeoDataFrame]:
    zones_out = round_columns(zones.rename(columns={"zone": "zone_id"}))
    ids = current_zone_ids(current["zone"])
    current_out = current.rename(columns={"zone": "zone_name"})
    current_out.insert(0, "zone_id", current_out["zone_name"].astype(str).map(ids))
    current_out = round_columns(current_out)
    units = layers.units.copy()
    if not plan.has_current:  # no current zones given: nothing of "today" in the layers
        units["current_zone"] = ""
    if layers.client_level:
        shown = suppress_cells(units["clients"], units[["hours_per_week"]],
                               groups=[units["proposed_zone"], units["current_zone"]], options=plan.scenario.privacy)
        units["clients"] = shown["clients"]
        units["hours_per_week"] = shown["hours_per_week"]
        units["suppressed"] = shown["suppressed"]
    else:
        units["suppressed"] = False
    units = units.rename(columns={"n_postcodes": "postcodes", "band": "price_band_majority"})
    units["current_zone_id"] = units["current_zone"].astype(str).map(ids)
    units = round_columns(_unit_codes(plan, units))
    prov = plan.providers
    providers = gpd.GeoDataFrame(
        {"provider_id": prov["provider_id"].to_numpy(), "name": prov["name"].to_numpy(),
         "postcode": prov["postcode"].to_numpy(),
         "capacity_hours_per_week": prov["capacity_hours_per_week"].astype(float).round(2).to_numpy(),
         "in_area": prov["in_area"].astype(bool).to_numpy(),
         "proposed_zone": prov["proposed_zone"].to_numpy(),
         "current_zone": prov["current_zone"].astype(str).to_numpy() if plan.has_current else ""},
        geometry=gpd.points_from_xy(prov["easting"], prov["northing"]), crs=27700,
    )
    out = {"zones": zones_out, "current_zones": current_out, "units": units, "providers": providers}
    if not plan.has_current:  # no layer of today's zones, no change columns
        del out["current_zones"]
        out["units"] = units.drop(columns=[c for c in ("current_zone", "current_zone_id", "changes_zone")
                                           if c in units.columns])
        out["providers"] = providers.drop(columns="current_zone")
    return out


def write_geopackage(path: Path, plan: ZonePlan, layers: PlanLayers, *, zones: gpd.GeoDataFrame,
                     current: gpd.GeoDataFrame, notes: str, metadata: dict[str, str] | None = None) -> None:
    """``zones.gpkg`` in EPSG:27700: layers ``zones``, ``current_zones``, ``units``, ``providers``,
    each with its provenance in the layer metadata and a default QGIS style in ``layer_styles``;
    ``metadata`` (the run stamp) as a one-row attribute table ``run``."""
    frames = _layers(plan, layers, zones=zones, current=current)
    colours = zone_colours_for(zones.to_crs(27700), id_column="zone")
    names = dict(zip(zones["zone"].astype(str), zones["zone_name"].astype(str), strict=True))
    styles = {"zones": zones_qml(colours, names), "current_zones": current_zones_qml(), "units": units_qml(),
              "providers": providers_qml()}

    def write(tmp: Path) -> None:
        for name, frame in frames.items():
            frame.to_crs(27700).to_file(tmp, layer=name, driver="GPKG", engine="pyogrio",
                                        layer_metadata={"DESCRIPTION": notes})
        if metadata:  # a table, not GDAL dataset metadata (reading that makes GDAL write a .aux.xml beside it)
            pyogrio.write_dataframe(pd.DataFrame([metadata]), tmp, layer="run", driver="GPKG", append=True)
        write_layer_styles(tmp, styles)

    atomic.write_with(path, write)
    log.info("GeoPackage: %s, with QGIS styles", ", ".join(f"{len(f)} {n}" for n, f in frames.items()))


def write_zones_geojson(proposed: gpd.GeoDataFrame, path: Path, *, notes: list[str],
                        stamp: RunStamp | None = None) -> None:
    """``zones.geojson`` (EPSG:4326, RFC 7946), provenance once in its ``description``, and
    ``zones.qml`` beside it (QGIS loads it with the layer)."""
    out = round_columns(proposed.rename(columns={"zone": "zone_id"})).to_crs(4326)
    out["geometry"] = out.geometry.normalize().make_valid()
    description = " ".join(notes) if notes else "real inputs"
    atomic.write_with(
        path,
        lambda tmp: out.to_file(tmp, driver="GeoJSON", engine="pyogrio",
                                layer_options={"RFC7946": "YES", "WRITE_NAME": "NO", "DESCRIPTION": description}),
    )
    if stamp is not None:
        stamp_geojson(path, stamp)
    colours = zone_colours_for(proposed.to_crs(27700), id_column="zone")
    names = dict(zip(proposed["zone"].astype(str), proposed["zone_name"].astype(str), strict=True))
    atomic.write_text(path.with_suffix(".qml"), zones_qml(colours, names))

