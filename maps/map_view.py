"""What the zone map shows (:class:`MapView`) and the checks on it (:func:`validate_view`).

Every frame is in EPSG:4326 with the columns named in :data:`FRAME_SCHEMA`; one ``ValueError``
lists every problem in every frame, as expected / received / how to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd

__all__ = ["FRAME_SCHEMA", "MapView", "validate_view"]

_POLYGONS = ("Polygon", "MultiPolygon")
_POINTS = ("Point",)

#: frame name -> (required columns, allowed geometry types)
FRAME_SCHEMA: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
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
    ``change`` text columns for its tooltips. ``headline``: the three headline figures shown
    in the header while it is collapsed.
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
    headline: tuple[str, ...] = ()  # the three figures shown in the collapsed header
    current_approximate: bool = True
    caveats: tuple[str, ...] = ()  # SYNTHETIC / APPROXIMATE / privacy sentences (also among header_lines)
    units_label: str = "LSOAs"  # what the planning units are called in tooltips ("postcode cells")


# --------------------------------------------------------------------------- validation


def _frame_problems(name: str, gdf: object) -> list[str]:
    """Every problem with one frame, as expected / received / fix sentences."""
    required, geom_types = FRAME_SCHEMA[name]
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
