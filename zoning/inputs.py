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
from zoning.headers import detect_encoding, normalise_header, normalise_headers
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
    """A CSV or XLSX as text cells (nothing coerced), with column names from
    :func:`zoning.headers.normalise_header`; the encoding used is in ``frame.attrs["encoding"]``."""
    if not path.is_file():
        raise InputError(path, ["file not found"], hint="check the path in the scenario file")
    suffix = path.suffix.lower()
    encoding = "xlsx"
    try:
        if suffix in (".xlsx", ".xlsm"):
            frame = pd.read_excel(path, dtype=str, keep_default_na=False)
        elif suffix in (".csv", ".txt"):
            encoding = detect_encoding(path)
            if encoding != "utf-8-sig":
                log.warning("%s is not UTF-8; reading it as %s", path, "Windows-1252" if encoding == "cp1252" else encoding)
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)
        else:
            raise InputError(path, [f"unsupported file type {suffix!r}"], hint="save it as .csv or .xlsx")
    except InputError:
        raise
    except OSError as exc:
        raise InputError(path, [f"could not be opened: {exc.strerror or exc}"], hint="check the file's permissions") from exc
    except Exception as exc:  # pandas/openpyxl parse errors: report them as input problems
        raise InputError(path, [f"could not be read: {exc}"], hint="save it as UTF-8 CSV or .xlsx") from exc
    raw = [str(c) for c in frame.columns]
    frame.columns = normalise_headers(list(frame.columns))
    # pandas renames a repeated header "x" to "x.1": a repeat as well
    mangled = [normalise_header(m.group(1)) for r in raw if (m := re.fullmatch(r"(.+)\.\d+", r)) and m.group(1) in raw]
    dups = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1} | set(mangled))
    if dups:
        raise InputError(path, [f"column names repeat after ignoring case, spaces and punctuation: {dups} "
                                f"(header: {raw})"], hint="give every column a distinct name")
    frame.attrs["encoding"] = encoding
    return frame


def read_header(path: Path) -> list[str]:
    """The normalised column names of a table, read exactly as :func:`read_table` reads them."""
    return list(read_table(path).columns)


def _require(path: Path, frame: pd.DataFrame, required: Sequence[str]) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(
            path,
            [f"missing column(s) {missing}; found {list(frame.columns)}"],
            hint=f"the first row must name the columns {list(required)}",
        )


def parse_number(value: object, *, limit: float = MAX_HOURS) -> tuple[float | None, str]:
    """``(number, "")`` for text such as ``12.5`` or ``1,234``; ``(None, why)`` otherwise."""
    text = str(value).strip()
    if not _NUMBER.match(text):
        return None, "is not a number (expected e.g. 7.5)"
    number = float(text.replace(",", ""))
    if not math.isfinite(number):
        return None, "is not a finite number"
    if abs(number) > limit:
        return None, f"is larger than the limit of {limit:,.0f} per cell"
    return number, ""


def parse_hours(value: str) -> float | None:
    """Parse a number such as ``12.5`` or ``1,234``; ``None`` if it is not one (see :func:`parse_number`)."""
    return parse_number(value)[0]


def _row(i: int) -> str:
    return f"row {i + 2}"  # as a spreadsheet shows it: header is row 1


def _unmatched_reason(pc: str, reference: pd.DataFrame) -> str:
    if pc in reference.index:
        return f"is outside the area (a live postcode in {reference.at[pc, 'district_name']})"
    return ("is not in the postcode data, which holds the area and its neighbours only: a postcode "
            "elsewhere in the country, or not a live (Code-Point Open) postcode")


def _cohort(raw: object) -> str | None:
    text = str(raw).strip().lower()
    text = _COHORT_ALIASES.get(text, text)
    if text == "":
        return "adults"
    return text if text in COHORTS else None


def _client_count(raw: object) -> float | None:
    number, _ = parse_number(raw, limit=1e6)
    return number if number is not None and number >= 0 and number == int(number) else None


def read_demand(path: Path, reference: pd.DataFrame, *, on_unmatched: str = "error") -> tuple[pd.DataFrame, Excluded]:
    """Demand rows: ``postcode, hours_per_week[, cohort][, clients]`` -> validated frame.

    Returns the rows kept (columns ``row, postcode, hours_per_week, cohort`` and ``clients`` when
    the file gives a client count per row) and what was excluded. Every problem, unknown or
    out-of-area postcodes included, is reported in one error; with ``on_unmatched="exclude"``
    those postcodes are left out instead (counted in every output). Numbers written with
    thousands separators (``1,234``) are read and counted in a warning.
    """
    frame = read_table(path)
    _require(path, frame, ["postcode", "hours_per_week"])
    if frame.empty:
        raise InputError(path, ["holds a header but no demand rows"],
                         hint="add one row per client (or per postcode) with its weekly hours")
    problems: list[str] = []
    unmatched: list[tuple[int, str, float]] = []
    rows = []
    separators = 0
    n = len(frame)
    cohorts = frame["cohort"] if "cohort" in frame.columns else pd.Series([""] * n)
    clients = frame["clients"] if "clients" in frame.columns else None
    for i, (raw_pc, raw_h, raw_c) in enumerate(zip(frame["postcode"], frame["hours_per_week"], cohorts, strict=True)):
        hours, why = parse_number(raw_h)
        if hours is None or hours < 0:
            problems.append(f"{_row(i)}: hours_per_week {raw_h!r} {why or 'is negative'}")
        separators += "," in str(raw_h)
        cohort = _cohort(raw_c)
        if cohort is None:
            problems.append(f"{_row(i)}: cohort {raw_c!r} is not one of {list(COHORTS)}")
        count = 1.0 if clients is None else _client_count(clients.iloc[i])
        if count is None:
            problems.append(f"{_row(i)}: clients {clients.iloc[i]!r} is not a whole number >= 0")  # type: ignore[union-attr]
        pc = normalise_postcode(raw_pc)
        if pc is None:
            problems.append(f"{_row(i)}: postcode {raw_pc!r} is not a valid UK postcode")
            continue
        if pc not in reference.index or not bool(reference.at[pc, "in_area"]):
            unmatched.append((i, f"{pc} {_unmatched_reason(pc, reference)}", hours or 0.0))
            continue
        if hours is not None and hours >= 0 and cohort is not None and count is not None:
            rows.append((i + 2, pc, hours, cohort, count))
    lines = [f"{_row(i)}: postcode {what} ({h:g} hours/week)" for i, what, h in unmatched]
    stopping = lines if on_unmatched == "error" else []
    if problems or stopping:
        hint = "fix these cells; hours are weekly numbers such as 7.5"
        if stopping:
            total = sum(h for _, _, h in unmatched)
            hint += (f". {len(unmatched)} row(s) with {total:g} hours/week do not match a postcode in the area: "
                     "correct them, or set demand.on_unmatched = \"exclude\" in the scenario to run without them "
                     "(they are then counted in every output)")
        ordered = sorted([*problems, *stopping], key=lambda t: int(t.split(":", 1)[0].split()[1]))
        raise InputError(path, ordered, hint=hint)
    if unmatched:
        log.warning("%d demand row(s) excluded: %s", len(unmatched), "; ".join(lines[:5]))
    if separators:
        log.warning("%s: %d hours_per_week value(s) written with thousands separators (e.g. 1,234) were read "
                    "as whole numbers; check they are not decimal commas", path.name, separators)
    kept = pd.DataFrame(rows, columns=["row", "postcode", "hours_per_week", "cohort", "clients"])
    if clients is None:
        kept = kept.drop(columns="clients")
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
    for i, (raw_id, raw_name, raw_pc, cap_raw) in enumerate(zip(
            frame["provider_id"], frame["name"], frame["postcode"], frame["capacity_hours_per_week"], strict=True)):
        pid = str(raw_id).strip()
        if not pid:
            problems.append(f"{_row(i)}: provider_id is empty")
        elif pid in seen:
            problems.append(f"{_row(i)}: provider_id {pid!r} repeats {_row(seen[pid])}")
        seen.setdefault(pid, i)
        cap, why = parse_number(cap_raw)
        if cap is None or cap < 0:
            problems.append(f"{_row(i)}: capacity_hours_per_week {cap_raw!r} "
                            f"{why if cap is None else 'is negative'} (expected a number >= 0)")
        pc = normalise_postcode(raw_pc)
        if pc is None:
            problems.append(f"{_row(i)}: postcode {raw_pc!r} is not a valid UK postcode")
        elif pc not in reference.index:
            problems.append(f"{_row(i)}: postcode {pc} {_unmatched_reason(pc, reference)}")
        elif cap is not None and cap >= 0:
            ref = reference.loc[pc]
            rows.append((pid, str(raw_name).strip(), pc, cap, int(ref["easting"]),
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
        zone_column = normalise_header(zone_column)
        _require(path, frame, [key, zone_column])
        keys = frame[key].map(normalise_postcode) if key == "postcode" else frame[key].str.strip().str.upper()
        bad = [f"{_row(i)}: {key} {raw!r} is not valid" for i, (raw, k) in enumerate(zip(frame[key], keys, strict=True))
               if pd.isna(k) or k == ""]
        if bad:
            raise InputError(path, bad, hint=f"every row needs a {key}")
        dup = keys[keys.duplicated()]
        if len(dup):
            raise InputError(path, [f"{key} {v!r} is listed more than once" for v in dup.unique()],
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
            lines = [f"postcode {p} has no zone" for p in gaps.index]
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


def read_inputs(
    reference: pd.DataFrame, *, demand: Path, on_unmatched: str, providers: Path, current_zones: Path | None,
    current_key: str, zone_column: str, layer: str | None = None, boundaries: gpd.GeoDataFrame | None = None,
) -> tuple[pd.DataFrame, Excluded, pd.DataFrame, pd.Series]:
    """Read demand, providers and current zones; the problems of all three files come in one
    :class:`InputError` (each line prefixed with its file's name), not one file per run. Without
    ``current_zones`` (optional) every postcode's current zone is missing (NaN)."""
    errors: list[InputError] = []
    kept: pd.DataFrame | None = None
    excluded = Excluded(rows=0, hours=0.0, examples=())
    branches: pd.DataFrame | None = None
    zones: pd.Series | None = None
    try:
        kept, excluded = read_demand(demand, reference, on_unmatched=on_unmatched)
    except InputError as exc:
        errors.append(exc)
    try:
        branches = read_providers(providers, reference)
    except InputError as exc:
        errors.append(exc)
    try:
        zones = read_current_zones(current_zones, reference, key=current_key, zone_column=zone_column, layer=layer,
                                   boundaries=boundaries) \
            if current_zones is not None else pd.Series(np.nan, index=reference.index, dtype=object)
    except InputError as exc:
        errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise InputError(
            " and ".join(e.path for e in errors),
            [f"{Path(e.path).name}: {p}" for e in errors for p in e.problems],
            hint="; ".join(f"{Path(e.path).name}: {e.hint}" for e in errors if e.hint),
        )
    assert kept is not None and branches is not None and zones is not None
    return kept, excluded, branches, zones
