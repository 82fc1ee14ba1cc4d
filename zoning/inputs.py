"""Read and validate the user's inputs: demand, providers, current zones.

Every problem in a file is collected and reported together (row number as a spreadsheet
shows it, column, value, why). Inputs are only ever read.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from zoning.errors import InputError
from zoning.postcodes import normalise_postcode

log = logging.getLogger(__name__)

COHORTS = ("adults", "children", "chc", "live_in")
_COHORT_ALIASES = {"adult": "adults", "child": "children", "live-in": "live_in", "livein": "live_in",
                   "live in": "live_in", "continuing health care": "chc"}
#: Larger weekly hours in one cell are taken as a data error (a whole county is ~10^5).
MAX_HOURS = 1e7
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+|\d{1,3}(,\d{3})+(\.\d*)?)$")


@dataclass(frozen=True)
class Excluded:
    """Rows left out of the run (only with ``on_unmatched = "exclude"``), for every output."""

    rows: int
    hours: float
    examples: tuple[str, ...]


def read_table(path: Path) -> pd.DataFrame:
    """A CSV or XLSX as text cells (nothing coerced), with normalised column names."""
    if not path.is_file():
        raise InputError(path, ["file not found"], hint="check the path in the scenario file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            frame = pd.read_excel(path, dtype=str, keep_default_na=False)
        elif suffix in (".csv", ".txt"):
            try:
                frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
            except UnicodeDecodeError:
                log.warning("%s is not UTF-8; reading it as Windows-1252", path)
                frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="cp1252")
        else:
            raise InputError(path, [f"unsupported file type {suffix!r}"], hint="save it as .csv or .xlsx")
    except InputError:
        raise
    except Exception as exc:  # pandas/openpyxl parse errors: report them as input problems
        raise InputError(path, [f"could not be read: {exc}"], hint="save it as UTF-8 CSV or .xlsx") from exc
    raw = [str(c) for c in frame.columns]
    frame.columns = [c.strip().lower().replace(" ", "_") for c in raw]
    mangled = [c for c in frame.columns if re.fullmatch(r".+\.\d+", c) and c.rsplit(".", 1)[0] in frame.columns]
    dups = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1} | set(mangled))
    if dups:
        raise InputError(path, [f"column names repeat after ignoring case and spaces: {dups} (header: {raw})"],
                         hint="give every column a distinct name")
    return frame


def _require(path: Path, frame: pd.DataFrame, required: Sequence[str]) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(
            path,
            [f"missing column(s) {missing}; found {list(frame.columns)}"],
            hint=f"the first row must name the columns {list(required)}",
        )


def parse_hours(value: str) -> float | None:
    """Parse a number such as ``12.5`` or ``1,234``; ``None`` if it is not one."""
    text = str(value).strip()
    if not _NUMBER.match(text):
        return None
    number = float(text.replace(",", ""))
    return number if math.isfinite(number) and abs(number) <= MAX_HOURS else None


def _row(i: int) -> str:
    return f"row {i + 2}"  # as a spreadsheet shows it: header is row 1


def read_demand(path: Path, reference: pd.DataFrame, *, on_unmatched: str = "error") -> tuple[pd.DataFrame, Excluded]:
    """Demand rows: ``postcode, hours_per_week[, cohort]`` -> validated frame.

    Returns the rows kept (columns ``row, postcode, hours_per_week, cohort``) and what was
    excluded. Unknown or out-of-area postcodes stop the run unless ``on_unmatched="exclude"``.
    """
    frame = read_table(path)
    _require(path, frame, ["postcode", "hours_per_week"])
    problems: list[str] = []
    unmatched: list[tuple[int, str, float]] = []
    rows = []
    has_cohort = "cohort" in frame.columns
    for i, rec in enumerate(frame.itertuples(index=False)):
        raw_pc = rec.postcode
        raw_h = rec.hours_per_week
        hours = parse_hours(raw_h)
        if hours is None:
            problems.append(f"{_row(i)}: hours_per_week {raw_h!r} is not a number")
        elif hours < 0:
            problems.append(f"{_row(i)}: hours_per_week {raw_h!r} is negative")
        cohort = "adults"
        if has_cohort:
            raw_c = str(rec.cohort).strip().lower()
            raw_c = _COHORT_ALIASES.get(raw_c, raw_c)
            if raw_c == "":
                cohort = "adults"
            elif raw_c not in COHORTS:
                problems.append(f"{_row(i)}: cohort {rec.cohort!r} is not one of {list(COHORTS)}")
            else:
                cohort = raw_c
        pc = normalise_postcode(raw_pc)
        if pc is None:
            problems.append(f"{_row(i)}: postcode {raw_pc!r} is not a valid UK postcode")
            continue
        if pc not in reference.index or not bool(reference.at[pc, "in_area"]):
            where = "unknown (not a live Code-Point Open postcode)" if pc not in reference.index else (
                f"outside the area (in {reference.at[pc, 'district_name']})"
            )
            unmatched.append((i, f"{pc} {where}", hours or 0.0))
            continue
        if hours is not None and hours >= 0:
            rows.append((i + 2, pc, hours, cohort))
    if problems:
        raise InputError(path, problems, hint="fix these cells; hours are weekly numbers such as 7.5")
    if unmatched:
        lines = [f"{_row(i)}: postcode {what} ({h:g} hours/week)" for i, what, h in unmatched]
        if on_unmatched == "error":
            total = sum(h for _, _, h in unmatched)
            raise InputError(
                path,
                lines,
                hint=f"{len(unmatched)} row(s) with {total:g} hours/week do not match a postcode in the area. "
                "Correct them, or set demand.on_unmatched = \"exclude\" in the scenario to run without them "
                "(they are then counted in every output)",
            )
        log.warning("%d demand row(s) excluded: %s", len(unmatched), "; ".join(lines[:5]))
    kept = pd.DataFrame(rows, columns=["row", "postcode", "hours_per_week", "cohort"])
    excluded = Excluded(
        rows=len(unmatched),
        hours=float(sum(h for _, _, h in unmatched)),
        examples=tuple(f"{_row(i)}: {w}" for i, w, _ in unmatched[:10]),
    )
    log.info("read %d demand rows, %.1f hours/week, from %s", len(kept), kept["hours_per_week"].sum(), path.name)
    return kept, excluded


def read_providers(path: Path, reference: pd.DataFrame) -> pd.DataFrame:
    """Providers: ``provider_id, name, postcode, capacity_hours_per_week`` -> validated frame
    with ``easting, northing, in_area, lsoa11cd``."""
    frame = read_table(path)
    _require(path, frame, ["provider_id", "name", "postcode", "capacity_hours_per_week"])
    problems: list[str] = []
    rows = []
    seen: dict[str, int] = {}
    for i, rec in enumerate(frame.itertuples(index=False)):
        pid = str(rec.provider_id).strip()
        if not pid:
            problems.append(f"{_row(i)}: provider_id is empty")
        elif pid in seen:
            problems.append(f"{_row(i)}: provider_id {pid!r} repeats {_row(seen[pid])}")
        seen.setdefault(pid, i)
        cap_raw = rec.capacity_hours_per_week
        cap = parse_hours(cap_raw)
        if cap is None or cap < 0:
            problems.append(f"{_row(i)}: capacity_hours_per_week {cap_raw!r} is not a number >= 0")
        raw_pc = rec.postcode
        pc = normalise_postcode(raw_pc)
        if pc is None:
            problems.append(f"{_row(i)}: postcode {raw_pc!r} is not a valid UK postcode")
        elif pc not in reference.index:
            problems.append(f"{_row(i)}: postcode {pc} is not in the postcode data (area and neighbours)")
        elif cap is not None and cap >= 0:
            ref = reference.loc[pc]
            rows.append((pid, str(rec.name).strip(), pc, cap, int(ref["easting"]),
                         int(ref["northing"]), bool(ref["in_area"]), ref["lsoa11cd"]))
    if problems:
        raise InputError(path, problems, hint="each branch needs a unique id, a live postcode and weekly capacity hours")
    out = pd.DataFrame(rows, columns=["provider_id", "name", "postcode", "capacity_hours_per_week",
                                      "easting", "northing", "in_area", "lsoa11cd"])
    log.info("read %d provider branches (%.0f hours/week capacity) from %s", len(out),
             out["capacity_hours_per_week"].sum(), path.name)
    return out


def read_current_zones(
    path: Path, reference: pd.DataFrame, *, key: str, zone_column: str = "zone", layer: str | None = None,
    boundaries: gpd.GeoDataFrame | None = None,
) -> pd.Series:
    """Today's zone of every in-area postcode (a Series indexed by postcode).

    ``key`` says how the file maps to postcodes: a ``ward_code``, ``postcode`` or ``lsoa11cd``
    column with a zone column, or ``polygon`` (GeoJSON/GeoPackage with a CRS and a zone column;
    ``layer`` names the GeoPackage layer). With ``boundaries`` (the LSOA polygons), an LSOA lying
    wholly inside one zone polygon gives all its postcodes that zone, so zones drawn from whole
    LSOAs (such as carezones' own ``zones.gpkg``) are read back losslessly even where a postcode's
    point lies just outside its LSOA's polygon.
    Every in-area postcode must get a zone; gaps are an error naming the wards/LSOAs/postcodes.
    """
    area = reference[reference["in_area"]]
    if key == "polygon":
        zones = _zones_from_polygons(path, area, zone_column, layer=layer, boundaries=boundaries)
    else:
        frame = read_table(path)
        _require(path, frame, [key, zone_column])
        keys = frame[key].map(normalise_postcode) if key == "postcode" else frame[key].str.strip().str.upper()
        bad = [f"{_row(i)}: {key} {raw!r} is not valid" for i, (raw, k) in enumerate(zip(frame[key], keys, strict=True))
               if pd.isna(k) or k == ""]
        if bad:
            raise InputError(path, bad, hint=f"every row needs a {key}")
        dup = keys[keys.duplicated()]
        if len(dup):
            raise InputError(path, [f"{key} {v!r} is listed more than once" for v in dup.unique()[:50]],
                             hint="give each key one zone")
        lookup = dict(zip(keys, frame[zone_column].str.strip(), strict=True))
        col = area["postcode"] if key == "postcode" else area[key]
        zones = col.map(lookup)
    gaps = zones[zones.isna() | (zones == "")]
    if len(gaps):
        if key in ("ward_code", "lsoa11cd"):
            missing = area.loc[gaps.index, key].unique()
            names = area.loc[gaps.index].groupby(key)["ward_name" if key == "ward_code" else "district_name"].first()
            lines = [f"{k} ({names[k]}) has no zone" for k in missing]
        else:
            lines = [f"postcode {p} has no zone" for p in gaps.index[:200]]
        raise InputError(path, lines, hint=f"every {key} in the area needs a value in column {zone_column!r}")
    log.info("current zones: %d zones over %d postcodes from %s", zones.nunique(), len(zones), path.name)
    return zones.rename("current_zone")


#: A postcode just outside every zone polygon (generalised or slightly offset boundaries)
#: takes the nearest zone within this distance, counted in a warning; farther is an error.
SNAP_TO_ZONE_M = 250.0


#: share of an LSOA's area inside one zone polygon for the whole LSOA to take that zone
WHOLE_LSOA_SHARE = 0.98


def _zones_of_whole_lsoas(area: pd.DataFrame, shapes: gpd.GeoDataFrame, zone_column: str,
                          boundaries: gpd.GeoDataFrame) -> pd.Series:
    """Zone of each postcode whose LSOA lies (at least :data:`WHOLE_LSOA_SHARE`) in one polygon."""
    lsoa = boundaries[boundaries["lsoa11cd"].isin(set(area["lsoa11cd"]))][["lsoa11cd", "geometry"]].to_crs(27700)
    inside = gpd.sjoin(gpd.GeoDataFrame(lsoa[["lsoa11cd"]], geometry=lsoa.geometry.representative_point(), crs=27700),
                       shapes, how="inner", predicate="within")
    inside = inside[~inside.index.duplicated(keep="first")]
    geoms = lsoa.geometry.loc[inside.index].to_numpy()
    zone_geoms = shapes.geometry.to_numpy()[inside["index_right"].to_numpy()]
    share = shapely.area(shapely.intersection(geoms, zone_geoms)) / np.maximum(shapely.area(geoms), 1e-9)
    whole = inside[share >= WHOLE_LSOA_SHARE]
    lookup = dict(zip(whole["lsoa11cd"], whole[zone_column].astype(str), strict=True))
    return area["lsoa11cd"].map(lookup).astype("string")


def read_layer(path: Path, layer: str | None) -> gpd.GeoDataFrame:
    """A polygon file's layer: the one named, else ``zones`` when a GeoPackage has it, else the first."""
    try:
        if layer is None and path.suffix.lower() == ".gpkg":
            names = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
            layer = "zones" if "zones" in names and len(names) > 1 else None
            if layer:
                log.info("%s: reading layer 'zones' (of %s)", path.name, names)
        elif layer is not None and path.suffix.lower() == ".gpkg":
            names = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
            if layer not in names:
                raise InputError(path, [f"has no layer {layer!r}; its layers are {names}"],
                                 hint="set layer = one of those")
        return gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(path, [f"could not be read as a polygon file: {exc}"]) from exc


def _zones_from_polygons(path: Path, area: pd.DataFrame, zone_column: str, *, layer: str | None = None,
                         boundaries: gpd.GeoDataFrame | None = None) -> pd.Series:
    polys = read_layer(path, layer)
    if polys.crs is None:
        raise InputError(path, ["has no CRS"], hint="save it with a CRS (EPSG:27700 or EPSG:4326)")
    if zone_column not in polys.columns:
        raise InputError(path, [f"no column {zone_column!r}; found {list(polys.columns)}"])
    points = gpd.GeoDataFrame(
        {"pc": area["postcode"].to_numpy()},
        geometry=gpd.points_from_xy(area["easting"], area["northing"]),
        index=pd.Index(area.index.to_numpy()),
        crs=27700,
    )
    shapes = polys[[zone_column, "geometry"]].to_crs(27700).reset_index(drop=True)
    joined = gpd.sjoin(points, shapes, how="left", predicate="within")
    joined = joined[~joined.index.duplicated(keep="first")]
    zones = joined[zone_column].astype("string").reindex(area.index)
    if boundaries is not None:
        whole = _zones_of_whole_lsoas(area, shapes, zone_column, boundaries)
        differs = int((whole.notna() & (whole != zones).fillna(True)).sum())
        zones = whole.fillna(zones)
        log.info("%s: %d postcode(s) in LSOAs wholly inside one zone take that zone (%d differ from their "
                 "point's polygon)", path.name, int(whole.notna().sum()), differs)
    outside = zones.index[zones.isna()]
    if len(outside):
        near = gpd.sjoin_nearest(points.loc[outside], shapes, how="left", max_distance=SNAP_TO_ZONE_M)
        near = near[~near.index.duplicated(keep="first")]
        zones.loc[near.index] = near[zone_column].astype("string")
        log.warning(
            "%d postcode(s) lie outside every zone polygon of %s; %d took the nearest zone within %.0f m",
            len(outside), path.name, int(near[zone_column].notna().sum()), SNAP_TO_ZONE_M,
        )
    return zones
