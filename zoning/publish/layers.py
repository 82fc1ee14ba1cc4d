"""Domain figures behind the map, report and GeoPackage: units, difference, bands, density, towns.

Everything here is computed from a :class:`~zoning.plan.ZonePlan` in EPSG:27700 (areas in
km² are measured there) and handed to :mod:`maps` or the exports. When demand is client by
client, every figure that rests on client counts below the suppression threshold is hidden
here (see :mod:`zoning.publish.privacy`), before anything is drawn or written.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from zoning.bands import BAND_NAMES
from zoning.changes import PlanChange, plan_change
from zoning.plan import ZonePlan
from zoning.publish.privacy import demand_privacy, rule_text, suppress_cells

log = logging.getLogger(__name__)

#: a town label needs at least this many urban postcodes
TOWN_MIN_URBAN_POSTCODES = 120


@dataclass(frozen=True)
class PlanLayers:
    """What the shareable outputs draw, privacy rules already applied. Frames in EPSG:27700."""

    client_level: bool
    privacy_note: str | None
    change: PlanChange
    units: gpd.GeoDataFrame  # one row per LSOA (see unit_table)
    difference: gpd.GeoDataFrame
    bands: gpd.GeoDataFrame
    density: gpd.GeoDataFrame
    density_level: str
    towns: gpd.GeoDataFrame
    zone_extras: pd.DataFrame  # zone, band_mix, change, hours_kept, hours_in, clients_kept, clients_in
    band_hours: pd.DataFrame  # band, postcodes, clients, hours_per_week (suppressed where needed)
    privacy_reason: str = ""  # why demand is (or is not) treated as personal data


def _counts_by(demand: pd.DataFrame, postcodes: pd.DataFrame, key: str) -> pd.DataFrame:
    """Clients (rows, or the ``clients`` column of an aggregated file) and hours per ``key``."""
    counted = demand.assign(clients=demand["clients"] if "clients" in demand.columns else 1.0)
    rows = counted[["postcode", "hours_per_week", "clients"]].merge(
        postcodes[["postcode", key]].reset_index(drop=True), on="postcode", how="left", validate="many_to_one"
    )
    return rows.groupby(key).agg(clients=("clients", "sum"), hours=("hours_per_week", "sum"))


def unit_table(plan: ZonePlan, change: PlanChange) -> gpd.GeoDataFrame:
    """One row per LSOA: GSS code and name, district, proposed/current zone, majority band,
    whether it changes zone, postcodes, clients and hours (not yet suppressed), area."""
    keep = ["unit_id"] if "unit_id" in plan.units.polygons else []  # postcode cells carry their own id
    polys = plan.units.polygons[[*keep, "lsoa11cd", "lsoa11nm", "district_name", "geometry"]].copy().reset_index(drop=True)
    polys["proposed_zone"] = plan.zones["zone"].to_numpy()[plan.unit_zone]
    polys["proposed_zone_name"] = plan.zones["zone_name"].to_numpy()[plan.unit_zone]
    polys["current_zone"] = plan.unit_current_zone.to_numpy()
    polys["changes_zone"] = [
        cur != change.continues.get(zone) for cur, zone in zip(polys["current_zone"], polys["proposed_zone"], strict=True)
    ]
    pcs = plan.postcodes  # counted by unit index: an LSOA, or a postcode cell (which also names its LSOA)
    band = (
        pcs.groupby(["unit", "band"]).size().rename("n").reset_index()
        .sort_values(["unit", "n", "band"], ascending=[True, False, True]).groupby("unit")["band"].first()
    )
    index = pd.RangeIndex(len(polys))
    polys["band"] = band.reindex(index).fillna("isolated").to_numpy()
    polys["n_postcodes"] = pcs.groupby("unit").size().reindex(index).fillna(0).astype(int).to_numpy()
    counts = _counts_by(plan.demand, pcs, "unit")
    polys["clients"] = counts["clients"].reindex(index).fillna(0).astype(int).to_numpy()
    polys["hours_per_week"] = counts["hours"].reindex(index).fillna(0.0).to_numpy()
    polys["area_km2"] = polys.geometry.area / 1e6
    return gpd.GeoDataFrame(polys, geometry="geometry", crs=plan.units.polygons.crs)


def difference_frame(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Changed LSOAs dissolved by (current zone, proposed zone)."""
    changed = units[units["changes_zone"]].copy()
    changed["to_zone"] = changed["proposed_zone"] + " " + changed["proposed_zone_name"]
    if changed.empty:
        return gpd.GeoDataFrame({"from_zone": [], "to_zone": [], "n_units": []}, geometry=[], crs=units.crs)
    out = changed.dissolve(by=["current_zone", "to_zone"], as_index=False, aggfunc={"lsoa11cd": "count"})
    return out.rename(columns={"current_zone": "from_zone", "lsoa11cd": "n_units"})[
        ["from_zone", "to_zone", "n_units", "geometry"]]


def bands_frame(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """LSOAs dissolved by majority band."""
    out = units.dissolve(by="band", as_index=False, aggfunc={"n_postcodes": "sum"})
    out["order"] = out["band"].map({b: i for i, b in enumerate(BAND_NAMES)})
    return out.sort_values("order")[["band", "n_postcodes", "geometry"]].reset_index(drop=True)


def density_frame(units: gpd.GeoDataFrame, *, client_level: bool, plan: ZonePlan) -> tuple[gpd.GeoDataFrame, str]:
    """Demand hours per km². Client-level demand is drawn per MSOA (LSOAs grouped by the MSOA
    part of their name, e.g. ``Melton 001``) and suppressed; otherwise per LSOA."""
    if client_level:
        frame = units.assign(area_name=units["lsoa11nm"].str.replace(r"[A-Z]$", "", regex=True).str.strip())
        frame = frame.dissolve(by="area_name", as_index=False,
                               aggfunc={"clients": "sum", "hours_per_week": "sum", "area_km2": "sum"})
        level = "MSOA (2011, grouped from LSOA names)"
        shown = suppress_cells(frame["clients"], frame[["hours_per_week"]], options=plan.scenario.privacy)
        frame["clients"] = shown["clients"].to_numpy()
        frame["suppressed"] = shown["suppressed"].to_numpy()
        frame["hours_per_week"] = shown["hours_per_week"].to_numpy()
    else:
        frame = units.assign(area_name=units["lsoa11nm"] + " (" + units["lsoa11cd"] + ")")
        frame["clients"] = np.nan
        frame["suppressed"] = False
        level = "LSOA (2011)"
    frame["hours_per_km2"] = frame["hours_per_week"] / frame["area_km2"]
    return gpd.GeoDataFrame(frame[["area_name", "hours_per_week", "hours_per_km2", "clients", "suppressed",
                                   "area_km2", "geometry"]], geometry="geometry", crs=units.crs), level


_SPLIT = re.compile(r"[\s,&-]+")


def town_names(wards: list[str]) -> dict[str, str]:
    """Ward -> town: wards sharing a first word take their common leading words
    (``Market Harborough-Logan`` and ``Market Harborough-Welland`` -> ``Market Harborough``);
    a ward alone keeps its own name."""
    groups: dict[str, list[str]] = {}
    for ward in sorted(set(wards)):
        groups.setdefault(_SPLIT.split(ward)[0], []).append(ward)
    out: dict[str, str] = {}
    for members in groups.values():
        if len(members) == 1:
            out[members[0]] = members[0]
            continue
        common: list[str] = []
        for parts in zip(*(_SPLIT.split(w) for w in members), strict=False):
            if len(set(parts)) != 1:
                break
            common.append(parts[0])
        for ward in members:
            out[ward] = " ".join(common)
    return out


def town_frame(postcodes: pd.DataFrame, *, crs: object) -> gpd.GeoDataFrame:
    """Town labels from ward names (see :func:`town_names`, per district): a town with at least
    :data:`TOWN_MIN_URBAN_POSTCODES` urban-band postcodes is labelled at their median point."""
    urban = postcodes[postcodes["band"] == "urban"]
    rows = []
    for _, district in urban.groupby("district_name"):
        towns = district["ward_name"].astype(str).map(town_names(list(district["ward_name"].astype(str))))
        for town, group in district.groupby(towns):
            if len(group) >= TOWN_MIN_URBAN_POSTCODES:
                rows.append((town, float(group["easting"].median()), float(group["northing"].median()), len(group)))
    rows.sort(key=lambda r: (-r[3], r[0]))
    frame = pd.DataFrame(rows, columns=["name", "x", "y", "urban_postcodes"])
    return gpd.GeoDataFrame(frame[["name", "urban_postcodes"]], geometry=gpd.points_from_xy(frame["x"], frame["y"]),
                            crs=crs)


def _band_mix(postcodes: pd.DataFrame) -> pd.Series:
    shares = pd.crosstab(postcodes["proposed_zone"], postcodes["band"], normalize="index")
    return pd.Series(
        {zone: ", ".join(f"{b} {100 * row.get(b, 0.0):.0f}%" for b in BAND_NAMES if row.get(b, 0.0) > 0)
         for zone, row in shares.iterrows()}
    )


def zone_extras(plan: ZonePlan, change: PlanChange, *, client_level: bool) -> pd.DataFrame:
    """Per proposed zone: band mix (share of postcodes) and the change vs today in words."""
    figures = change.zone_figures.set_index("zone")
    cells = pd.concat([
        pd.DataFrame({"zone": figures.index, "kind": "kept", "clients": figures["clients_kept"].to_numpy(),
                      "hours": figures["hours_kept"].to_numpy()}),
        pd.DataFrame({"zone": figures.index, "kind": "in", "clients": figures["clients_in"].to_numpy(),
                      "hours": figures["hours_in"].to_numpy()}),
    ], ignore_index=True)
    if client_level:
        shown = suppress_cells(cells["clients"], cells[["hours"]], groups=cells["zone"], options=plan.scenario.privacy)
        cells["hours"] = shown["hours"]
        cells["clients"] = shown["clients"]
    wide = cells.pivot(index="zone", columns="kind", values=["hours", "clients"])
    mix = _band_mix(plan.postcodes)
    out = []
    for zone in figures.index:
        cont = figures.at[zone, "continues"]
        kept, gained = wide.at[zone, ("hours", "kept")], wide.at[zone, ("hours", "in")]
        head = f"continues {cont}" if isinstance(cont, str) and cont else "a new zone (continues none of today's)"
        if pd.isna(kept) or pd.isna(gained):
            body = "hours moved suppressed (fewer than 10 clients)"
        else:
            total = kept + gained
            body = (f"{100 * kept / total:.0f}% of hours already in it; {gained:,.0f} h/week from other zones"
                    if total > 0 else "no demand")
        out.append({"zone": zone, "band_mix": mix.get(zone, ""), "change": f"{head}; {body}",
                    "hours_kept": kept, "hours_in": gained,
                    "clients_kept": wide.at[zone, ("clients", "kept")], "clients_in": wide.at[zone, ("clients", "in")]})
    return pd.DataFrame(out)


def band_hours(plan: ZonePlan, *, client_level: bool) -> pd.DataFrame:
    """Postcodes, clients and hours per band (the whole area)."""
    counts = _counts_by(plan.demand, plan.postcodes, "band").reindex(list(BAND_NAMES)).fillna(0)
    out = pd.DataFrame({"band": list(BAND_NAMES),
                        "postcodes": plan.postcodes["band"].value_counts().reindex(list(BAND_NAMES)).fillna(0).astype(int).to_numpy(),
                        "clients": counts["clients"].to_numpy(), "hours_per_week": counts["hours"].to_numpy()})
    if client_level:
        shown = suppress_cells(out["clients"], out[["hours_per_week"]], options=plan.scenario.privacy)
        out["clients"], out["hours_per_week"] = shown["clients"], shown["hours_per_week"]
    return out


def plan_layers(plan: ZonePlan) -> PlanLayers:
    """Everything above for one plan."""
    decision = demand_privacy(plan.scenario.demand.path, options=plan.scenario.privacy, demand=plan.demand)
    client_level = decision.client_level
    log.info("demand %s treated as personal: %s", "is" if client_level else "is not", decision.reason)
    change = plan.change if plan.change is not None else plan_change(plan.postcodes, plan.demand, continues=plan.matched)
    units = unit_table(plan, change)
    density, level = density_frame(units, client_level=client_level, plan=plan)
    layers = PlanLayers(
        client_level=client_level,
        privacy_note=f"{rule_text(plan.scenario.privacy)} Why: {decision.reason}." if client_level else None,
        privacy_reason=decision.reason,
        change=change,
        units=units,
        difference=difference_frame(units),
        bands=bands_frame(units),
        density=density,
        density_level=level,
        towns=town_frame(plan.postcodes, crs=units.crs),
        zone_extras=zone_extras(plan, change, client_level=client_level),
        band_hours=band_hours(plan, client_level=client_level),
    )
    log.info("map layers: %d units (%d change zone), %d density cells (%d suppressed), %d town labels",
             len(units), int(units["changes_zone"].sum()), len(density), int(density["suppressed"].sum()),
             len(layers.towns))
    return layers
